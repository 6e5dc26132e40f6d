//! The release binary (`cargo xtask release`) on its own: no dist/, no
//! database, no settings, nothing beside it; people open it in a browser
//! and chat.

mod support;

use std::path::PathBuf;
use std::process::Stdio;

use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// The binary `cargo xtask release` built; `cargo xtask test` builds it
/// first and names it here.
fn release_binary() -> PathBuf {
    let binary = std::env::var_os("CHAT_RELEASE_BINARY").map(PathBuf::from);
    match binary {
        Some(binary) if binary.is_file() => binary,
        _ => panic!(
            "set CHAT_RELEASE_BINARY to the binary `cargo xtask release` writes \
             (`cargo xtask test` does both)"
        ),
    }
}

#[tokio::test]
async fn the_release_binary_alone_serves_its_client_and_people_chat() {
    let alone = tempfile::tempdir().expect("an empty directory");
    let binary = alone.path().join("chat-server");
    std::fs::copy(release_binary(), &binary).expect("copy the binary");
    let mut server = Command::new(&binary)
        .args(["--bind", "127.0.0.1:0", "--retain-days", "30"])
        .env_clear()
        .current_dir(alone.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the release binary");
    let stdout = server.stdout.take().expect("its stdout");
    let mut first = String::new();
    tokio::time::timeout(PATIENCE, BufReader::new(stdout).read_line(&mut first))
        .await
        .expect("it says where it is in time")
        .expect("read its stdout");
    let base = first
        .trim()
        .strip_prefix("The chat is at ")
        .unwrap_or_else(|| panic!("the start line: {first:?}"))
        .to_owned();

    let (alice_driver, bob_driver) = (start_driver().await, start_driver().await);
    let alice = browser(&alice_driver).await;
    let bob = browser(&bob_driver).await;
    log_in(&alice, &base, "alice").await;
    log_in(&bob, &base, "bob").await;
    say(&alice, "one file is all it takes").await;
    let seen = wait_for_messages(&bob, 1).await;
    assert_eq!(seen[0].0, "alice");
    assert_eq!(seen[0].1, "one file is all it takes");
    // The room says where its history begins, and why.
    until_text(
        &bob,
        ".messages li.begins",
        "The room's history begins here: messages are kept for 30 days.",
    )
    .await;
    alice.close().await;
    bob.close().await;

    // Stopped as systemd stops it; the history is in the database it made
    // beside itself, and nothing else appeared.
    let pid = server.id().expect("its pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = tokio::time::timeout(PATIENCE, server.wait())
        .await
        .expect("it stops in time")
        .expect("its exit status");
    assert!(exit.success(), "{exit}");
    let mut beside: Vec<String> = std::fs::read_dir(alone.path())
        .expect("list")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    beside.sort();
    assert_eq!(beside[..2], ["chat-server", "chat.db"]);
    // SQLite's own files beside its database, at most.
    let others = &beside[2..];
    assert!(
        others.iter().all(|name| name.starts_with("chat.db-")),
        "{beside:?}"
    );
}
