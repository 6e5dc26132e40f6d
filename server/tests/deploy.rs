//! The files of `deploy/`, checked against the real binary and a real
//! nginx: the systemd unit verifies (where the machine has
//! `systemd-analyze`) and its environment starts the server; the nginx
//! example's locations carry a WebSocket chat and keep `/metrics` out.

mod support;

use std::path::PathBuf;
use std::process::Command;

use protocol::{ClientFrame, ServerFrame};

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(deploy(file)).expect("a deploy file")
}

/// The unit, its binary this build's.
fn unit_for_this_build() -> String {
    read("chat.service").replace(
        "ExecStart=/usr/local/bin/chat-server",
        &format!("ExecStart={}", env!("CARGO_BIN_EXE_server")),
    )
}

#[test]
fn the_systemd_unit_verifies_without_a_warning() {
    let dir = tempfile::tempdir().expect("tmp");
    let unit = dir.path().join("chat.service");
    std::fs::write(&unit, unit_for_this_build()).expect("write the unit");
    let verified = match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
    {
        Ok(verified) => verified,
        Err(error) => {
            eprintln!("skipped: no systemd-analyze here ({error})");
            return;
        }
    };
    let said = String::from_utf8_lossy(&verified.stderr);
    assert!(verified.status.success(), "{said}");
    assert!(said.trim().is_empty(), "warnings: {said}");
}

#[test]
fn the_unit_s_environment_starts_the_server() {
    use std::io::{BufRead, BufReader};
    let data = tempfile::tempdir().expect("tmp");
    let unit = read("chat.service");
    let mut server = Command::new(env!("CARGO_BIN_EXE_server"));
    server.env_clear();
    for line in unit.lines() {
        let Some((name, value)) = line
            .strip_prefix("Environment=")
            .and_then(|pair| pair.split_once('='))
        else {
            continue;
        };
        // This machine's places and free ports instead of the unit's.
        let value = match name {
            "CHAT_BIND" | "CHAT_METRICS_BIND" => "127.0.0.1:0".to_owned(),
            "CHAT_DB" => data.path().join("chat.db").display().to_string(),
            _ => value.to_owned(),
        };
        server.env(name, value);
    }
    let mut server = server
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the server");
    let mut first = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("a line");
    // Its logs up to the metrics listener's, which comes once it serves.
    let mut logs = String::new();
    let mut stderr = BufReader::new(server.stderr.take().expect("stderr"));
    while !logs.contains("metrics at http://127.0.0.1:") {
        if stderr.read_line(&mut logs).expect("a log line") == 0 {
            break;
        }
    }
    let _ = Command::new("kill").arg(server.id().to_string()).status();
    assert!(server.wait().expect("it ends").success());
    // Its public origin, where people open it.
    assert_eq!(first.trim(), "The chat is at https://chat.example.com");
    assert!(logs.contains("metrics at http://127.0.0.1:"), "{logs}");
    for line in logs.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("the unit asks for JSON logs: {line:?}: {e}"));
    }
}

#[tokio::test]
async fn behind_the_nginx_example_people_chat_and_metrics_stay_out() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    config.behind_proxy = true;
    let server = support::spawn_server(config).await;
    // The example's locations, its upstream this test's server.
    let locations =
        read("nginx/chat-locations.conf").replace("127.0.0.1:8000", &server.addr.to_string());
    assert!(locations.contains(&server.addr.to_string()));
    let nginx = support::Nginx::start_with(&locations).await;
    let (mut alice, _) = support::join(nginx.addr, "alice", None).await;
    let (mut bob, _) = support::join(nginx.addr, "bob", None).await;
    alice
        .send_frame(ClientFrame::Send {
            client_id: "a-1".into(),
            msg: "through nginx".into(),
            room: None,
            reply_to: None,
        })
        .await;
    loop {
        if let ServerFrame::Message { posted, .. } = bob.recv().await {
            assert_eq!(posted.message.msg, "through nginx");
            break;
        }
    }
    let (status, _) = support::http_get(nginx.addr, "/metrics").await;
    assert_eq!(status, 404);
    let (status, _) = support::http_get(nginx.addr, "/healthz").await;
    assert_eq!(status, 200);
    server.stop().await;
}
