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

/// Started, it says on stdout, in one line, where to open it; a SIGTERM
/// at once stops it gracefully; with `--log-format json` every log line
/// on stderr is a JSON object.
#[test]
fn it_says_where_to_open_it_and_logs_json_when_asked() {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().expect("tmp");
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"))
        .args([
            "--bind",
            "127.0.0.1:0",
            "--static-dir",
            "/nonexistent",
            "--log-format",
            "json",
        ])
        .arg("--db")
        .arg(data.path().join("chat.db"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the server");
    let stdout = server.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    // SIGTERM: it stops as a service manager stops it.
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    let ended = server.wait_with_output().expect("it ends");
    assert!(
        first.starts_with("The chat is at http://127.0.0.1:"),
        "{first}"
    );
    let logs = String::from_utf8_lossy(&ended.stderr);
    assert!(!logs.trim().is_empty(), "it logs");
    for line in logs.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
        assert!(value.get("level").is_some(), "{line}");
    }
}
