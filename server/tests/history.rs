//! Durable history: history on connect, resume without gap or duplicate,
//! older pages, idempotent resend, restart on the same database.

mod support;

use std::collections::BTreeSet;

use protocol::ServerFrame;
use support::{join, test_config, Client, TestServer};

/// Posts `count` messages as `client` and waits for each echo, so they are
/// stored when this returns.
async fn post_many(client: &mut Client, prefix: &str, count: usize) -> Vec<u64> {
    let mut ids = Vec::new();
    for n in 0..count {
        client
            .say(&format!("{prefix}-{n}"), &format!("{prefix} {n}"))
            .await;
        ids.push(client.recv_message().await.message.id);
    }
    ids
}

#[tokio::test]
async fn a_new_connection_gets_recent_history_first() {
    let server = TestServer::start_with(|config| config.history = 3).await;
    let (_, empty) = server.join_after("early", None).await;
    assert!(empty.messages.is_empty() && empty.reset && !empty.has_older);

    let mut alice = server.join("alice").await;
    post_many(&mut alice, "a", 5).await;
    let (_, history) = server.join_after("bob", None).await;
    assert_eq!(history.ids(), [3, 4, 5]);
    assert!(history.reset);
    assert!(history.has_older);
    assert_eq!(history.messages[0].message.user, "alice");
    assert_eq!(history.messages[0].client_id, "a-2");
    server.stop().await;
}

#[tokio::test]
async fn resuming_sends_exactly_what_was_missed_then_live() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    post_many(&mut alice, "a", 5).await;

    let (mut bob, history) = server.join_after("bob", Some(2)).await;
    assert_eq!(history.ids(), [3, 4, 5]);
    assert!(!history.reset);
    assert!(history.has_older);

    alice.say("a-live", "live").await;
    assert_eq!(bob.recv_message().await.message.id, 6);

    // Up to date already: nothing to replay.
    let (_, history) = server.join_after("carol", Some(6)).await;
    assert!(history.messages.is_empty() && !history.reset);
    server.stop().await;
}

#[tokio::test]
async fn missing_more_than_the_replay_limit_starts_over() {
    let server = TestServer::start_with(|config| {
        config.history = 3;
        config.replay_limit = 5;
    })
    .await;
    let mut alice = server.join("alice").await;
    post_many(&mut alice, "a", 10).await;

    // Missed 5 (6..=10): replayed.
    let (_, history) = server.join_after("bob", Some(5)).await;
    assert_eq!(history.ids(), [6, 7, 8, 9, 10]);
    assert!(!history.reset);

    // Missed 6: more than the replay limit.
    let (_, history) = server.join_after("bob", Some(4)).await;
    assert_eq!(history.ids(), [8, 9, 10]);
    assert!(history.reset);
    assert!(history.has_older);

    // An id this room never gave out (another database): start over.
    let (_, history) = server.join_after("bob", Some(99)).await;
    assert_eq!(history.ids(), [8, 9, 10]);
    assert!(history.reset);
    server.stop().await;
}

#[tokio::test]
async fn history_pages_are_exact_and_do_not_overlap() {
    let server = TestServer::start_with(|config| config.history = 10).await;
    let mut alice = server.join("alice").await;
    post_many(&mut alice, "a", 25).await;

    let (mut bob, history) = server.join_after("bob", None).await;
    assert_eq!(history.ids(), (16..=25).collect::<Vec<_>>());
    assert!(history.has_older);
    assert_eq!(bob.load_older(16, 10).await, ((6..=15).collect(), true));
    assert_eq!(bob.load_older(6, 10).await, ((1..=5).collect(), false));
    assert_eq!(bob.load_older(1, 10).await, (vec![], false));
    assert_eq!(bob.load_older(26, 25).await, ((1..=25).collect(), false));
    server.stop().await;
}

#[tokio::test]
async fn a_resend_with_the_same_client_id_is_stored_once() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.say("same", "once").await;
    let original = alice.recv_message().await;
    assert_eq!(bob.recv_message().await, original);

    // Reconnect (as after a dropped connection) and send it again.
    drop(alice);
    let (mut alice, history) = server.join_after("alice", Some(0)).await;
    assert_eq!(history.ids(), [1]);
    alice.say("same", "once").await;
    assert_eq!(alice.recv_message().await, original);

    // Nothing new was stored or broadcast: the next id is 2, and it is the
    // next thing bob sees.
    bob.say("b", "next").await;
    assert_eq!(bob.recv_message().await.message.id, 2);
    let (_, history) = server.join_after("carol", None).await;
    assert_eq!(history.ids(), [1, 2]);

    // Another user may use the same clientId: it is per user.
    let mut carol = server.join("carol").await;
    carol.say("same", "mine").await;
    assert_eq!(carol.recv_message().await.message.id, 3);
    server.stop().await;
}

#[tokio::test]
async fn the_seam_between_history_and_live_has_no_gap_or_duplicate() {
    const TOTAL: usize = 300;
    let server = TestServer::start_with(|config| config.history = 5).await;
    let addr = server.addr;
    let mut alice = server.join("alice").await;
    let sender = tokio::spawn(async move {
        for n in 0..TOTAL {
            alice.say(&format!("a-{n}"), "steady").await;
            if n % 10 == 0 {
                tokio::task::yield_now().await;
            }
        }
        alice
    });
    // Joiners arrive while messages are being stored.
    let mut joiners = Vec::new();
    for i in 0..8 {
        joiners.push(tokio::spawn(async move {
            let (mut client, history) = join(addr, &format!("joiner{i}"), None).await;
            let mut ids = history.ids();
            while ids.last().copied().unwrap_or(0) < TOTAL as u64 {
                ids.push(client.recv_message().await.message.id);
            }
            ids
        }));
        tokio::task::yield_now().await;
    }
    let _alice = sender.await.expect("sender");
    for joiner in joiners {
        let ids = joiner.await.expect("joiner");
        let first = ids[0];
        let expected: Vec<u64> = (first..=TOTAL as u64).collect();
        assert_eq!(ids, expected, "contiguous from {first}");
    }
    server.stop().await;
}

#[tokio::test]
async fn history_and_the_sequence_survive_a_restart() {
    let data = tempfile::tempdir().expect("tmp");
    let config = test_config(&data);
    let first = support::spawn_server(config.clone()).await;
    let mut alice = first.join("alice").await;
    let before: BTreeSet<u64> = post_many(&mut alice, "a", 3).await.into_iter().collect();
    drop(alice);
    first.stop().await;

    let second = support::spawn_server(config).await;
    let (mut alice, history) = second.join_after("alice", None).await;
    assert_eq!(history.ids().into_iter().collect::<BTreeSet<_>>(), before);
    alice.say("a-3", "after restart").await;
    assert_eq!(alice.recv_message().await.message.id, 4);
    second.stop().await;
}

/// Breaks and repairs the room's storage behind the server's back, as a
/// full or broken disk, or a mistaken operator, would.
enum Saboteur {
    /// A trigger that makes every insert fail.
    Sqlite(rusqlite::Connection),
    /// The stream's key taken by a value of another type.
    Redis(redis::Connection, String),
}

impl Saboteur {
    fn new(config: &server::Config) -> Self {
        match &config.redis_url {
            None => {
                Self::Sqlite(rusqlite::Connection::open(&config.db).expect("open the database"))
            }
            Some(url) => {
                let redis = redis::Client::open(url.as_str())
                    .and_then(|client| client.get_connection())
                    .expect("connect to Redis");
                Self::Redis(redis, format!("{{{}:lobby}}:log", config.redis_prefix))
            }
        }
    }

    fn break_storage(&mut self) {
        match self {
            Self::Sqlite(db) => db
                .execute_batch(
                    "CREATE TRIGGER broken BEFORE INSERT ON events
                     BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;",
                )
                .expect("create trigger"),
            Self::Redis(redis, log) => redis::cmd("SET")
                .arg(&*log)
                .arg("not a stream")
                .exec(redis)
                .expect("take the stream's key"),
        }
    }

    fn repair(&mut self) {
        match self {
            Self::Sqlite(db) => db
                .execute_batch("DROP TRIGGER broken")
                .expect("drop trigger"),
            Self::Redis(redis, log) => redis::cmd("DEL")
                .arg(&*log)
                .exec(redis)
                .expect("free the stream's key"),
        }
    }
}

#[tokio::test]
async fn a_failed_write_is_refused_to_the_sender_and_nothing_is_broadcast() {
    let data = tempfile::tempdir().expect("tmp");
    let config = test_config(&data);
    let mut saboteur = Saboteur::new(&config);
    let server = support::spawn_server(config).await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;

    saboteur.break_storage();
    alice.say("lost", "will not be stored").await;
    match alice.recv().await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, protocol::ErrorCode::StorageUnavailable);
            assert_eq!(client_id.as_deref(), Some("lost"));
        }
        other => panic!("expected a storage error, got {other:?}"),
    }

    // The instance says it cannot store, so a load balancer can skip it.
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains(r#""storage":"failing""#), "{body}");

    // Repaired: the next message is the first one anybody sees, with id 1.
    saboteur.repair();
    alice.say("kept", "stored").await;
    let posted = bob.recv_message().await;
    assert_eq!((posted.message.id, posted.client_id.as_str()), (1, "kept"));
    assert_eq!(alice.recv_message().await, posted);
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""storage":"ok""#), "{body}");
    server.stop().await;
}

#[tokio::test]
async fn pages_of_history_are_read_beside_the_writer_not_behind_it() {
    // The embedded log's own concern: the SQLite file, whatever the suite's log.
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    let server = support::spawn_server(config.clone()).await;
    let mut alice = server.join("alice").await;
    for n in 0..20 {
        alice.say(&format!("a{n}"), "history").await;
        alice.recv_message().await;
    }
    // Another process holds the database's write lock: the next commit
    // waits for it (SQLite's busy timeout).
    let blocker = rusqlite::Connection::open(&config.db).expect("open the database");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("take the write lock");
    alice.say("stuck", "waits for the lock").await;
    // A page of older history is still answered, at once.
    let started = tokio::time::Instant::now();
    let (page, has_older) = alice.load_older(11, 5).await;
    assert_eq!(page, vec![6, 7, 8, 9, 10]);
    assert!(has_older);
    let waited = started.elapsed();
    // The post is answered once the lock is gone, and not before.
    blocker.execute_batch("ROLLBACK").expect("release the lock");
    let posted = alice.recv_message().await;
    assert_eq!(posted.client_id, "stuck");
    assert!(
        waited < std::time::Duration::from_secs(2),
        "the page waited {waited:?} behind the writer"
    );
    server.stop().await;
}
