//! The HTTP side: health, the built client, deep links, a taken port.

mod support;

use std::process::Command;

use support::TestServer;

#[tokio::test]
async fn health_reports_ok_and_connections() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "ok");
    let _alice = server.join("alice").await;
    assert_eq!(server.connections().await, 1);
    server.stop().await;
}

#[tokio::test]
async fn without_a_built_client_the_root_explains_how_to_build_it() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/").await;
    assert_eq!(status, 503);
    assert!(body.contains("trunk build"), "{body}");
    // The room itself still works.
    let mut alice = server.join("alice").await;
    alice.say("a", "hi").await;
    assert_eq!(alice.recv_message().await.message.msg, "hi");
    server.stop().await;
}

#[tokio::test]
async fn a_plain_get_on_ws_is_told_to_upgrade() {
    let server = TestServer::start().await;
    let (status, body) = server.get("/ws?user=alice").await;
    assert_eq!(status, 426);
    assert!(body.contains("WebSocket"), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn the_built_client_is_served_with_deep_links_falling_back_to_index() {
    let dist = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>chat</title>",
    )
    .expect("write index");
    std::fs::write(dist.path().join("client-abc.js"), "console.log(1)").expect("write js");
    let server =
        TestServer::start_with(|config| config.static_dir = dist.path().to_path_buf()).await;

    for path in ["/", "/login", "/chat", "/index.html"] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 200, "{path}");
        assert!(body.contains("<title>chat</title>"), "{path}: {body}");
    }
    assert_eq!(
        server.get("/client-abc.js").await,
        (200, "console.log(1)".into())
    );
    assert_eq!(server.get("/missing.js").await.0, 404);
    assert_eq!(server.get("/healthz").await.0, 200);
    server.stop().await;
}

#[test]
fn a_taken_port_is_a_clear_error_not_a_panic() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr");
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--bind", &addr.to_string(), "--static-dir", "/nonexistent"])
        .output()
        .expect("run the server binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unopenable_database_is_a_clear_startup_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--bind", "127.0.0.1:0", "--static-dir", "/nonexistent"])
        .args(["--db", "/nonexistent/dir/chat.db"])
        .output()
        .expect("run the server binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot open the database /nonexistent/dir/chat.db"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Makes `file` unwritable, even for root (`chattr +i`; root ignores
/// permissions); undone on drop so the temporary directory can go.
struct ReadOnly<'a>(&'a std::path::Path);

impl<'a> ReadOnly<'a> {
    fn make(file: &'a std::path::Path) -> Self {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.trim_ascii() == b"0");
        if root {
            let status = Command::new("chattr").arg("+i").arg(file).status();
            assert!(status.is_ok_and(|s| s.success()), "chattr +i");
        } else {
            let mut permissions = std::fs::metadata(file).expect("stat").permissions();
            permissions.set_readonly(true);
            std::fs::set_permissions(file, permissions).expect("chmod");
        }
        Self(file)
    }
}

impl Drop for ReadOnly<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

#[test]
fn a_database_that_can_only_be_read_is_refused_at_start() {
    let data = tempfile::tempdir().expect("temp dir");
    let db = data.path().join("chat.db");
    // An empty file is an empty SQLite database.
    std::fs::write(&db, b"").expect("create the database file");
    let _read_only = ReadOnly::make(&db);
    let output = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--bind", "127.0.0.1:0", "--static-dir", "/nonexistent"])
        .arg("--db")
        .arg(&db)
        .output()
        .expect("run the server binary");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("can only be read"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
