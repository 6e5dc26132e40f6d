//! `server admin ...` against a running server: a forgotten password
//! reset (the old sessions end, the old password fails, the new one
//! signs in once), moderators granted and revoked (in the audit), and a
//! hostile line on the socket changing nothing.

mod support;

use std::path::PathBuf;
use tokio::process::Command;

use protocol::ServerFrame;
use support::{
    api, claim, json_of, session_cookie, sign_in, test_config, with_admin, ws_with_cookie,
    ROOT_PASSWORD,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// Runs `server admin ARGS` with the server's own settings; its exit
/// status and what it printed.
async fn admin(config: &server::Config, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    command.arg("--db").arg(&config.db);
    if let Some(url) = &config.redis_url {
        command
            .args(["--redis-url", url])
            .args(["--redis-prefix", &config.redis_prefix]);
    }
    let out = command
        .arg("admin")
        .args(args)
        .output()
        .await
        .expect("run server admin");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn socket(config: &server::Config) -> PathBuf {
    server::admin::socket_path(&config.db, None).expect("a socket beside the database")
}

#[tokio::test]
async fn a_forgotten_password_is_reset_and_every_session_of_the_name_ends() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    with_admin(&mut config);
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let cookie = claim(addr, "alice", "forgotten-long-ago").await;
    let mut connected = ws_with_cookie(addr, "", &cookie).await;
    assert!(matches!(
        connected.recv().await,
        ServerFrame::Welcome { claimed: true, .. }
    ));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(socket(&config))
            .expect("the socket")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only the server's user opens it");
    }

    let (ok, out, err) = admin(&config, &["reset-password", "Alice"]).await;
    assert!(ok, "{out}{err}");
    let password = out
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("alice's password is now "))
        .unwrap_or_else(|| panic!("the new password: {out}"))
        .to_owned();
    assert_eq!(password.len(), 19, "{password}");
    // Her connection is put out, her session is gone, her old password too.
    connected.recv_close().await;
    let session = api(addr, "GET", "/api/session", Some(&cookie), None).await;
    assert_eq!(session.status, 401, "{}", session.body);
    assert_eq!(
        sign_in(addr, "alice", Some("forgotten-long-ago"))
            .await
            .status,
        401
    );
    let cookie = session_cookie(&sign_in(addr, "alice", Some(&password)).await);
    // Once: it signs nobody in again.
    assert_eq!(sign_in(addr, "alice", Some(&password)).await.status, 401);
    // And she chooses her own, from the session it opened.
    let changed = api(
        addr,
        "POST",
        "/api/password",
        Some(&cookie),
        Some(serde_json::json!({ "current": password, "password": "her-own-again" })),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(sign_in(addr, "alice", Some(&password)).await.status, 401);
    assert_eq!(
        sign_in(addr, "alice", Some("her-own-again")).await.status,
        200
    );

    // A guest's name, or no name at all: nothing to reset.
    for name in ["nobody", ""] {
        let (ok, _, err) = admin(&config, &["reset-password", name]).await;
        assert!(!ok);
        assert!(err.contains("not a claimed name"), "{err}");
    }
    server.stop().await;
    assert!(!socket(&config).exists(), "the socket goes with the server");
    // With the server stopped, the command says so.
    let (ok, _, err) = admin(&config, &["reset-password", "alice"]).await;
    assert!(!ok);
    assert!(err.contains("no server answers"), "{err}");
}

#[tokio::test]
async fn moderators_are_granted_and_revoked_from_the_command_line_and_audited() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    with_admin(&mut config);
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let _ = claim(addr, "bob", "bobs-password").await;

    let (ok, out, err) = admin(&config, &["grant", "bob", "--room", "rust"]).await;
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), "bob moderates #rust");
    let (ok, out, _) = admin(&config, &["grant", "bob"]).await;
    assert!(ok);
    assert_eq!(out.trim(), "bob moderates every room");
    let (ok, out, _) = admin(&config, &["revoke", "bob"]).await;
    assert!(ok);
    assert_eq!(out.trim(), "bob no longer moderates every room");
    let (ok, _, err) = admin(&config, &["grant", "carol"]).await;
    assert!(!ok);
    assert!(err.contains("not a claimed name"), "{err}");
    let (ok, _, err) = admin(&config, &["grant", "bob", "--room", "no room!"]).await;
    assert!(!ok);
    assert!(err.contains("room"), "{err}");

    // In the audit, as the room heard them, by the admin, said to come
    // from here.
    let root = session_cookie(&sign_in(addr, "root", Some(ROOT_PASSWORD)).await);
    let audit = || async {
        let audit = api(addr, "GET", "/api/audit", Some(&root), None).await;
        assert_eq!(audit.status, 200, "{}", audit.body);
        json_of(&audit)
    };
    support::until("the audit lists the three", || async {
        audit()
            .await
            .as_array()
            .is_some_and(|entries| entries.len() == 3)
    })
    .await;
    let entries = audit().await;
    let actions: Vec<(&str, &str, bool)> = entries
        .as_array()
        .expect("a list")
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap_or_default(),
                entry["room"].as_str().unwrap_or_default(),
                entry["allRooms"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("revoke", "lobby", true),
            ("grant", "lobby", true),
            ("grant", "rust", false)
        ]
    );
    assert_eq!(entries[0]["by"], "root");
    assert_eq!(entries[0]["reason"], "server admin command");
    assert_eq!(entries[0]["target"], "bob");

    // Anything else on the socket is refused, and the server goes on.
    for hostile in [
        "{not json\n".to_owned(),
        "{\"command\":\"drop-everything\"}\n".to_owned(),
        "x".repeat(100_000),
    ] {
        let mut stream = tokio::net::UnixStream::connect(socket(&config))
            .await
            .expect("connect");
        let _ = stream.write_all(hostile.as_bytes()).await;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .await
            .expect("an answer");
        assert!(answer.contains("\"refused\""), "{answer}");
    }
    let (status, _) = server.get("/healthz").await;
    assert_eq!(status, 200);
    server.stop().await;
}
