//! `server backup FILE` (the real binary) while the server runs and
//! takes a stream of posts: the copy opens, and holds every message
//! acknowledged before the backup began; the posts go on unhurt. And what
//! it refuses: an existing file, a missing database, a Redis log.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{Arc, Mutex};

use protocol::{ClientFrame, ServerFrame};

/// Every message of the default room the server at `addr` holds, by
/// paging back from its greeting.
async fn every_id(addr: std::net::SocketAddr) -> BTreeSet<u64> {
    let (mut reader, history) = support::join(addr, "reader", None).await;
    let mut ids: BTreeSet<u64> = history.ids().into_iter().collect();
    let mut has_older = history.has_older;
    while has_older {
        let before = *ids.first().expect("a message");
        reader
            .send_frame(ClientFrame::LoadOlder {
                before,
                limit: protocol::HISTORY_PAGE_MAX,
                room: None,
            })
            .await;
        loop {
            if let ServerFrame::Older {
                messages,
                has_older: more,
                ..
            } = reader.recv().await
            {
                ids.extend(messages.iter().map(|posted| posted.message.id));
                has_older = more;
                break;
            }
        }
    }
    ids
}

fn server_binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_server"))
}

/// Runs `server --db DB backup TO`.
fn run_backup(db: &std::path::Path, to: &std::path::Path) -> std::process::Output {
    server_binary()
        .arg("--db")
        .arg(db)
        .arg("backup")
        .arg(to)
        .output()
        .expect("run server backup")
}

#[tokio::test]
async fn a_backup_made_while_posts_stream_in_holds_every_acknowledged_message() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    config.redis_url = None;
    let db = config.db.clone();
    let server = support::spawn_server(config).await;

    // One client posts without pause; every acknowledgement is recorded.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let poster = {
        let acknowledged = Arc::clone(&acknowledged);
        let addr = server.addr;
        tokio::spawn(async move {
            let (mut alice, _) = support::join(addr, "alice", None).await;
            let mut n = 0u64;
            loop {
                if stopped.try_recv().is_ok() {
                    return n;
                }
                n += 1;
                alice
                    .send_frame(ClientFrame::Send {
                        client_id: format!("c-{n}"),
                        msg: format!("message {n}"),
                        room: None,
                        reply_to: None,
                    })
                    .await;
                loop {
                    match alice.recv().await {
                        ServerFrame::Message { posted, .. }
                            if posted.client_id == format!("c-{n}") =>
                        {
                            acknowledged.lock().expect("ids").push(posted.message.id);
                            break;
                        }
                        ServerFrame::Error { message, .. } => panic!("refused: {message}"),
                        _ => {}
                    }
                }
            }
        })
    };
    support::until("two hundred posts acknowledged", || async {
        acknowledged.lock().expect("ids").len() >= 200
    })
    .await;

    let before: Vec<u64> = acknowledged.lock().expect("ids").clone();
    let copy = data.path().join("backup.db");
    let made = run_backup(&db, &copy);
    assert!(made.status.success(), "{made:?}");
    let said = String::from_utf8_lossy(&made.stdout);
    assert!(
        said.contains("backed up") && said.contains("messages"),
        "{said}"
    );
    let during = acknowledged.lock().expect("ids").len();

    // The posts went on while it was made, and after.
    support::until("posts acknowledged after the backup", || async {
        acknowledged.lock().expect("ids").len() >= during + 50
    })
    .await;
    let _ = stop.send(());
    let posted = poster.await.expect("the poster");
    assert!(posted as usize >= during + 50);
    server.stop().await;

    // The copy opens, as a server's database, and holds what was
    // acknowledged before the backup began.
    let copy_dir = tempfile::tempdir().expect("tmp");
    let mut restored = support::test_config(&copy_dir);
    restored.redis_url = None;
    restored.db = copy.clone();
    let restored = support::spawn_server(restored).await;
    let held = every_id(restored.addr).await;
    let missing: Vec<&u64> = before.iter().filter(|id| !held.contains(id)).collect();
    assert!(missing.is_empty(), "missing from the backup: {missing:?}");
    restored.stop().await;

    // Never over an existing file: the first backup stays as it was.
    let size = std::fs::metadata(&copy).expect("the copy").len();
    let again = run_backup(&db, &copy);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("exists"),
        "{again:?}"
    );
    assert_eq!(std::fs::metadata(&copy).expect("the copy").len(), size);
}

#[test]
fn a_backup_says_why_it_cannot_be_made() {
    let data = tempfile::tempdir().expect("tmp");
    let missing = run_backup(&data.path().join("none.db"), &data.path().join("copy.db"));
    assert!(!missing.status.success());
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no database"),
        "{missing:?}"
    );
    assert!(!data.path().join("none.db").exists(), "nothing created");
    assert!(!data.path().join("copy.db").exists());

    let on_redis = server_binary()
        .args(["--redis-url", "redis://127.0.0.1:1", "backup"])
        .arg(data.path().join("copy.db"))
        .output()
        .expect("run server backup");
    assert!(!on_redis.status.success());
    assert!(
        String::from_utf8_lossy(&on_redis.stderr).contains("Redis"),
        "{on_redis:?}"
    );
}
