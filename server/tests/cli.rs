//! The binary's command line: `--help` prints the help and nothing else
//! (no log line before it), and names the commands.

use std::process::Command;

#[test]
fn help_is_the_help_alone() {
    let help = Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--help")
        .output()
        .expect("run server --help");
    assert!(help.status.success());
    assert!(
        help.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&help.stderr)
    );
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(text.starts_with("A real-time chat room"), "{text}");
    assert!(text.contains("backup"), "{text}");
}
