//! A database written by an earlier release opens in this one, whole.

mod support;

use std::path::{Path, PathBuf};

use protocol::{ClientFrame, ModAction, ServerFrame};
use support::{
    admin, api, join, json_of, refusal_to_start, session_cookie, sign_in, spawn_server,
    test_config, with_admin, ROOT_PASSWORD,
};

/// This release's schema version (`PRAGMA user_version`).
const LATEST_SCHEMA: i64 = 9;

/// The room's file as the release of 2026-11-28 left it: 40 messages from
/// five people (schema version 0, before versions existed).
fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat-2026-11-28.db")
}

/// The file the release with rooms (schema version 2) left: `lobby` with
/// six messages from alice, `rust` with four from alice and Bob, each
/// browser with its token. Made by `make-rooms-fixture.mjs` against that
/// release's server.
fn rooms_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat-2026-11-28-rooms.db")
}

fn schema_version(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .expect("user_version")
}

#[tokio::test]
async fn the_previous_release_s_database_opens_with_its_whole_history() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    // The SQLite file's own concern, whatever log the suite runs on.
    config.redis_url = None;
    std::fs::copy(fixture(), &config.db).expect("copy the fixture");
    assert_eq!(schema_version(&config.db), 0);

    let server = spawn_server(config.clone()).await;
    let (mut dave, history) = server.join_after("dave", None).await;
    let expected: Vec<u64> = (1..=40).collect();
    // Recent history is the newest 100: all of it, ids unchanged.
    assert_eq!(history.ids(), expected);
    let first = &history.messages[0].message;
    assert_eq!(first.user, "bob");
    assert_eq!(
        first.msg,
        "message 1 from bob: hello 🦀 <b>not bold</b>\nsecond line"
    );
    // A client of the old release resumes from an id it had.
    let (_erin, resumed) = server.join_after("erin", Some(30)).await;
    assert_eq!(resumed.ids(), (31..=40).collect::<Vec<_>>());
    assert!(!resumed.reset);
    // The sequence goes on.
    dave.say("d-1", "after the upgrade").await;
    assert_eq!(dave.recv_message().await.message.id, 41);
    // A resend of a message the old release stored (the same words: the
    // release kept no browser's key) is still that message.
    let mut bob = server.join("bob").await;
    bob.say(
        "c-1",
        "message 1 from bob: hello 🦀 <b>not bold</b>\nsecond line",
    )
    .await;
    let original = bob.recv_message().await;
    assert_eq!(
        (original.message.id, original.client_id.as_str()),
        (1, "c-1")
    );
    server.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA, "migrated");
    // Every message is an event of the default room, with its id as `seq`.
    let events: Vec<(String, i64, String)> = {
        let conn = rusqlite::Connection::open(&config.db).expect("open the database");
        let mut rows = conn
            .prepare(
                "SELECT rooms.name, events.seq, events.kind FROM events
                 JOIN rooms ON rooms.id = events.room ORDER BY events.seq",
            )
            .expect("a query");
        rows.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("rows")
            .collect::<Result<_, _>>()
            .expect("events")
    };
    assert_eq!(events.len(), 41);
    for (n, (room, seq, kind)) in (1..).zip(&events) {
        assert_eq!(
            (room.as_str(), *seq, kind.as_str()),
            ("lobby", n, "message")
        );
    }

    // Opening it again changes nothing.
    let again = spawn_server(config.clone()).await;
    let (_frank, history) = again.join_after("frank", None).await;
    assert_eq!(history.ids(), (1..=41).collect::<Vec<_>>());
    again.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA);
}

#[test]
fn a_database_from_a_newer_release_is_refused() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    std::fs::copy(fixture(), &db).expect("copy the fixture");
    rusqlite::Connection::open(&db)
        .and_then(|conn| conn.pragma_update(None, "user_version", 99))
        .expect("mark it newer");
    let stderr = refusal_to_start(&[
        "--bind".as_ref(),
        "127.0.0.1:0".as_ref(),
        "--db".as_ref(),
        db.as_os_str(),
    ]);
    assert!(stderr.contains("schema version 99"), "{stderr}");
}

#[tokio::test]
async fn a_database_of_schema_version_1_opens_with_its_history_in_the_default_room() {
    // The release of 2026-11-28 (step A) wrote the same tables as the fixture, marked
    // version 1; this release takes it to version 2 from there.
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    config.default_room = "general".into();
    std::fs::copy(fixture(), &config.db).expect("copy the fixture");
    rusqlite::Connection::open(&config.db)
        .and_then(|conn| conn.pragma_update(None, "user_version", 1))
        .expect("mark it version 1");
    let server = spawn_server(config.clone()).await;
    // The room the old messages went to is the configured default room.
    let mut carol = support::try_connect(server.addr, "user=carol&room=general&after=38", None)
        .await
        .expect("connects");
    assert!(matches!(
        carol.recv().await,
        protocol::ServerFrame::Welcome { .. }
    ));
    match carol.recv().await {
        protocol::ServerFrame::History {
            room,
            messages,
            reset,
            ..
        } => {
            assert_eq!(room, "general");
            assert!(!reset);
            let ids: Vec<u64> = messages.iter().map(|p| p.message.id).collect();
            assert_eq!(ids, [39, 40]);
        }
        other => panic!("expected history, got {other:?}"),
    }
    server.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA);
}

#[tokio::test]
async fn the_rooms_release_s_database_opens_and_its_messages_take_reactions_but_not_edits() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    std::fs::copy(rooms_fixture(), &config.db).expect("copy the fixture");
    assert_eq!(schema_version(&config.db), 2);
    let server = spawn_server(config.clone()).await;
    let mut rust = support::try_connect(server.addr, "user=dave&room=rust&after=2", None)
        .await
        .expect("connects");
    assert!(matches!(
        rust.recv().await,
        protocol::ServerFrame::Welcome { .. }
    ));
    match rust.recv().await {
        protocol::ServerFrame::History {
            messages,
            reset,
            seq,
            ..
        } => {
            assert!(!reset, "resumes from an id of the old release");
            let ids: Vec<u64> = messages.iter().map(|p| p.message.id).collect();
            assert_eq!(ids, [3, 4]);
            assert_eq!(messages[1].message.user, "Bob");
            assert_eq!(seq, Some(4));
        }
        other => panic!("expected history, got {other:?}"),
    }
    let (mut dave, history) = server.join_after("dave2", None).await;
    assert_eq!(history.ids(), (1..=6).collect::<Vec<_>>());
    // Messages from before events have no author key: nobody can prove
    // to have posted them, so nobody edits them; anyone may react.
    dave.send_frame(protocol::ClientFrame::React {
        room: None,
        id: 1,
        emoji: "👍".into(),
        on: true,
    })
    .await;
    match dave.recv().await {
        protocol::ServerFrame::Reaction { seq, id, user, .. } => {
            assert_eq!((seq, id, user.as_str()), (7, 1, "dave2"));
        }
        other => panic!("expected the reaction, got {other:?}"),
    }
    let (mut alice, _) = server.join_after("alice", None).await;
    alice
        .send_frame(protocol::ClientFrame::Edit {
            room: None,
            id: 1,
            msg: "rewritten".into(),
        })
        .await;
    match alice.recv().await {
        protocol::ServerFrame::Error { code, .. } => {
            assert_eq!(code, protocol::ErrorCode::NotYours);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    server.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA);
}

/// Written by the conversation release (schema 3) with
/// `make-conversation-fixture.mjs`: in `lobby`, 1 by alice (👍 by Bob),
/// 2 Bob's reply to 1, 3 alice's, edited (event 5), 4 alice's, deleted
/// (event 6), 7 the reaction.
fn conversation_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat-2026-11-28-conversation.db")
}

#[tokio::test]
async fn the_conversation_release_s_database_opens_with_every_message_s_state() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    std::fs::copy(conversation_fixture(), &config.db).expect("copy the fixture");
    assert_eq!(schema_version(&config.db), 3);
    let server = spawn_server(config.clone()).await;
    let (_dave, history) = server.join_after("dave", None).await;
    let states: Vec<(u64, &str, bool, bool)> = history
        .messages
        .iter()
        .map(|p| {
            let m = &p.message;
            (m.id, m.msg.as_str(), m.deleted, m.edited_at.is_some())
        })
        .collect();
    assert_eq!(
        states,
        [
            (1, "first, from alice", false, false),
            (2, "a reply from **Bob**", false, false),
            (3, "edited by alice", false, true),
            (4, "", true, false),
        ]
    );
    let first = &history.messages[0].message;
    assert_eq!(first.reactions.len(), 1);
    assert_eq!(first.reactions[0].users, ["Bob"]);
    assert_eq!(
        history.messages[1].message.reply_to.as_ref().map(|q| q.id),
        Some(1)
    );
    assert!(history.messages.iter().all(|p| !p.message.claimed));
    assert_eq!(history.seq, Some(7));

    // The same browser may still edit its messages: author keys of the
    // release before look-alike keys still match.
    let mut alice = support::try_connect(server.addr, "user=alice&token=alice-browser-token", None)
        .await
        .expect("connects");
    alice
        .send_frame(protocol::ClientFrame::Edit {
            room: None,
            id: 3,
            msg: "edited again".into(),
        })
        .await;
    loop {
        match alice.recv().await {
            protocol::ServerFrame::Edited { seq, id, msg, .. } => {
                assert_eq!((seq, id, msg.as_str()), (8, 3, "edited again"));
                break;
            }
            protocol::ServerFrame::Error { code, message, .. } => {
                panic!("refused: {code:?} {message}")
            }
            _ => {}
        }
    }
    // And alice can now keep her name: the new tables are there.
    let guest = support::http_call(
        server.addr,
        "POST",
        "/api/session",
        &[],
        Some(r#"{"user":"Carol"}"#),
    )
    .await;
    assert_eq!(guest.status, 200, "{}", guest.body);
    server.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA);
}

/// The file the release of 2026-12-07 (schema 6, commit bcd83c1) left
/// after moderation: in `lobby`, bob muted for good, Carol muted for five
/// years, the room locked, and a message of bob's before. Written by
/// [`write_the_moderation_fixture`] on that release.
fn moderation_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat-2026-12-07-moderation.db")
}

/// Schema 6 kept a room's rules in a `locked` column and a `mutes`
/// table; they move into the room's rules (one JSON value) and stay in
/// force: the room locked, each mute with its end, and the next action
/// changes them from there.
#[tokio::test]
async fn the_moderation_of_schema_6_stays_in_force() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    with_admin(&mut config);
    std::fs::copy(moderation_fixture(), &config.db).expect("copy the fixture");
    assert_eq!(schema_version(&config.db), 6);
    let server = spawn_server(config.clone()).await;
    assert!(
        support::finds_locked(server.addr, "dave").await,
        "still locked"
    );
    let cookie = session_cookie(&sign_in(server.addr, "root", Some(ROOT_PASSWORD)).await);
    let mutes = || async {
        let view = api(
            server.addr,
            "GET",
            "/api/moderation?room=lobby",
            Some(&cookie),
            None,
        )
        .await;
        let mut mutes: Vec<(String, Option<i64>)> = json_of(&view)["mutes"]
            .as_array()
            .expect("mutes")
            .iter()
            .map(|mute| {
                (
                    mute["name"].as_str().unwrap_or_default().to_owned(),
                    mute["until"].as_i64(),
                )
            })
            .collect();
        mutes.sort();
        mutes
    };
    let before = mutes().await;
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(before[0].0, "Carol", "as the moderator typed it");
    let five_years_on = 1_796_659_000_000 + 5 * 365 * 24 * 3_600_000 - 3_600_000;
    assert!(
        before[0].1.is_some_and(|until| until > five_years_on),
        "{before:?}"
    );
    assert_eq!(before[1], ("bob".to_owned(), None), "for good");

    let mut root = admin(server.addr).await;
    support::unlock(&mut root).await;
    assert!(
        !support::finds_locked(server.addr, "erin").await,
        "unlocked"
    );
    assert_eq!(mutes().await, before, "the mutes untouched");
    server.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA);
}

/// Not a test: writes [`moderation_fixture`] with the release it runs on
/// (`cargo test -p server --test upgrade -- --ignored`), to be kept once.
#[tokio::test]
#[ignore = "writes a fixture of the release it runs on"]
async fn write_the_moderation_fixture() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    with_admin(&mut config);
    let server = spawn_server(config.clone()).await;
    let mut root = admin(server.addr).await;
    let (mut bob, _) = join(server.addr, "bob", None).await;
    bob.say("b-1", "before the lock").await;
    bob.recv_message().await;
    let moderate = |action, target: Option<&str>, duration_s| ClientFrame::Moderate {
        room: None,
        action,
        target: target.map(str::to_owned),
        id: None,
        duration_s,
        reason: None,
        all_rooms: false,
    };
    for frame in [
        moderate(ModAction::Mute, Some("bob"), None),
        moderate(ModAction::Mute, Some("Carol"), Some(5 * 365 * 24 * 3600)),
        moderate(ModAction::Lock, None, None),
    ] {
        root.send_frame(frame).await;
        while !matches!(root.recv().await, ServerFrame::Moderated { .. }) {}
    }
    server.stop().await;
    // One file: the write-ahead log folded into it.
    let conn = rusqlite::Connection::open(&config.db).expect("open the database");
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .expect("checkpoint");
    conn.pragma_update(None, "journal_mode", "DELETE")
        .expect("journal_mode");
    drop(conn);
    std::fs::copy(&config.db, moderation_fixture()).expect("write the fixture");
}

/// The file the release of 2026-12-07 (schema 8, commit c11b23e) left
/// with its search index: in `lobby`, alice's "the quixotic plan", "你好，
/// 世界", "an edited plugh" edited to "now it says xyzzy", and "zanzibar
/// was deleted", deleted (its words still in that release's index
/// segments). Written by [`write_the_search_fixture`] on that release.
fn search_fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/chat-2026-12-07-search.db")
}

/// Not a test: writes [`search_fixture`] with the release it runs on
/// (`cargo test -p server --test upgrade -- --ignored`), to be kept once.
#[tokio::test]
#[ignore = "writes a fixture of the release it runs on"]
async fn write_the_search_fixture() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    let server = spawn_server(config.clone()).await;
    let (mut alice, _) = join(server.addr, "alice", None).await;
    for (id, text) in [
        ("a-1", "the quixotic plan"),
        ("a-2", "你好，世界"),
        ("a-3", "an edited plugh"),
        ("a-4", "zanzibar was deleted"),
    ] {
        alice.say(id, text).await;
        alice.recv_message().await;
    }
    alice
        .send_frame(ClientFrame::Edit {
            room: None,
            id: 3,
            msg: "now it says xyzzy".to_owned(),
        })
        .await;
    while !matches!(alice.recv().await, ServerFrame::Edited { .. }) {}
    alice
        .send_frame(ClientFrame::Delete { room: None, id: 4 })
        .await;
    while !matches!(alice.recv().await, ServerFrame::Deleted { .. }) {}
    drop(alice);
    server.stop().await;
    let conn = rusqlite::Connection::open(&config.db).expect("open the database");
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")
        .expect("checkpoint");
    conn.pragma_update(None, "journal_mode", "DELETE")
        .expect("journal_mode");
    drop(conn);
    std::fs::copy(&config.db, search_fixture()).expect("write the fixture");
}

/// Schema 8's index (FTS5 `contentless_delete`) kept a deleted or edited
/// message's words in its segments; schema 9 builds it anew from what the
/// messages say now, and the old words leave the file.
#[tokio::test]
async fn the_search_index_of_schema_8_is_built_anew_without_removed_words() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = test_config(&data);
    config.redis_url = None;
    std::fs::copy(search_fixture(), &config.db).expect("copy the fixture");
    assert_eq!(schema_version(&config.db), 8);
    let lingering = std::fs::read(&config.db).expect("read the fixture");
    for word in ["zanzibar", "plugh"] {
        assert!(
            lingering.windows(word.len()).any(|w| w == word.as_bytes()),
            "the fixture shows schema 8's leak: {word}"
        );
    }
    let server = spawn_server(config.clone()).await;
    let (mut bob, _) = join(server.addr, "bob", None).await;
    for (q, found) in [
        ("quixotic", vec![1]),
        ("世界", vec![2]),
        ("xyzzy", vec![3]),
        ("plugh", vec![]),
        ("zanzibar", vec![]),
    ] {
        bob.send_frame(ClientFrame::Search {
            q: q.to_owned(),
            room: None,
            before: None,
        })
        .await;
        let hits = loop {
            if let ServerFrame::Results { hits, .. } = bob.recv().await {
                break hits.into_iter().map(|hit| hit.id).collect::<Vec<u64>>();
            }
        };
        assert_eq!(hits, found, "{q}");
    }
    drop(bob);
    server.stop().await;
    assert_eq!(schema_version(&config.db), LATEST_SCHEMA);
    for file in ["chat.db", "chat.db-wal"] {
        let Ok(bytes) = std::fs::read(config.db.with_file_name(file)) else {
            continue;
        };
        for word in ["zanzibar", "plugh"] {
            assert!(
                !bytes.windows(word.len()).any(|w| w == word.as_bytes()),
                "{word} is still in {file}"
            );
        }
    }
}
