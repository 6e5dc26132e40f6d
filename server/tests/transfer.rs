//! `server export` and `server import`: a room's history moved from SQLite
//! to a file, to Redis, to a file again, and back into SQLite, unchanged;
//! a client resuming from any `seq` after the move is owed what it was
//! owed before; deleted words are in no file; a bad file changes nothing.

mod support;

use std::net::SocketAddr;
use std::path::Path;

use protocol::{ClientFrame, ModAction, RoomEvent, ServerFrame};
use support::{admin, connect, with_admin, Client, RedisServer};

/// A store of the test's own: SQLite in `data`, or keys under `prefix` in
/// `redis`.
fn config(data: &tempfile::TempDir, redis: Option<(&RedisServer, &str)>) -> server::Config {
    let mut config = support::test_config(data);
    config.redis_url = None;
    if let Some((redis, prefix)) = redis {
        config.redis_url = Some(redis.url());
        config.redis_prefix = prefix.to_owned();
    }
    with_admin(&mut config);
    config
}

/// Sends `frame` and waits until `client` hears the room's event `seq`.
async fn act(client: &mut Client, frame: ClientFrame, seq: u64) {
    client.send_frame(frame).await;
    loop {
        let frame = client.recv().await;
        if let ServerFrame::Error { code, message, .. } = &frame {
            panic!("refused: {code:?} {message}");
        }
        if RoomEvent::of_frame(frame).is_some_and(|(_, event)| event.seq() == seq) {
            return;
        }
    }
}

fn say(room: &str, client_id: &str, msg: &str, reply_to: Option<u64>) -> ClientFrame {
    ClientFrame::Send {
        client_id: client_id.to_owned(),
        msg: msg.to_owned(),
        room: Some(room.to_owned()),
        reply_to,
    }
}

fn react(room: &str, id: u64, emoji: &str, on: bool) -> ClientFrame {
    ClientFrame::React {
        room: Some(room.to_owned()),
        id,
        emoji: emoji.to_owned(),
        on,
    }
}

fn moderate(action: ModAction, target: Option<&str>, id: Option<u64>) -> ClientFrame {
    ClientFrame::Moderate {
        room: None,
        action,
        target: target.map(str::to_owned),
        id,
        duration_s: Some(3600),
        reason: Some("export test".to_owned()),
        all_rooms: false,
    }
}

/// Joins `room` on `client`'s connection and reads up to its online list.
async fn enter(client: &mut Client, room: &str) {
    client
        .send_frame(ClientFrame::Join {
            room: room.to_owned(),
            after: None,
        })
        .await;
    while !matches!(client.recv().await, ServerFrame::Online { .. }) {}
}

/// Two rooms with every kind of event: posts, a reply, edits, a
/// deletion, reactions given and taken back, a moderator's mute and pin.
async fn play(addr: SocketAddr) {
    let mut alice = connect(addr, "alice", None).await;
    let mut bob = connect(addr, "bob", None).await;
    let mut root = admin(addr).await;
    for client in [&mut alice, &mut bob, &mut root] {
        enter(client, "lobby").await;
    }
    let lobby = "lobby";
    act(&mut alice, say(lobby, "a1", "first, **bold**", None), 1).await;
    act(&mut bob, say(lobby, "b1", "a reply to @alice", Some(1)), 2).await;
    act(
        &mut alice,
        say(lobby, "a2", "the secret word is xyzzy", None),
        3,
    )
    .await;
    let edit = |id, msg: &str| ClientFrame::Edit {
        room: Some(lobby.to_owned()),
        id,
        msg: msg.to_owned(),
    };
    act(&mut alice, edit(1, "first, edited once"), 4).await;
    act(&mut alice, edit(1, "first, edited twice"), 5).await;
    act(&mut bob, react(lobby, 1, "👍", true), 6).await;
    act(&mut alice, react(lobby, 1, "👍", true), 7).await;
    act(&mut bob, react(lobby, 2, "🎉", true), 8).await;
    act(&mut bob, react(lobby, 2, "🎉", false), 9).await;
    let delete = ClientFrame::Delete {
        room: Some(lobby.to_owned()),
        id: 3,
    };
    act(&mut alice, delete, 10).await;
    act(&mut root, moderate(ModAction::Mute, Some("bob"), None), 11).await;
    act(&mut root, moderate(ModAction::Pin, None, Some(1)), 12).await;
    act(&mut alice, say(lobby, "a3", "after the mute", None), 13).await;
    enter(&mut alice, "闲聊").await;
    act(&mut alice, say("闲聊", "z1", "你好，世界", None), 1).await;
    act(&mut alice, edit_in("闲聊", 1, "你好，世界！"), 2).await;
}

fn edit_in(room: &str, id: u64, msg: &str) -> ClientFrame {
    ClientFrame::Edit {
        room: Some(room.to_owned()),
        id,
        msg: msg.to_owned(),
    }
}

/// What a client resuming in `room` after `after` is sent, up to the
/// online list (the welcome left out).
async fn resumed(addr: SocketAddr, room: &str, after: u64) -> Vec<ServerFrame> {
    let query = format!(
        "user=carol&token=browser-of-carol&room={}&after={after}",
        urlencoding::encode(room)
    );
    let mut client = support::ws(addr, &query, &[]).await;
    let mut frames = Vec::new();
    loop {
        match client.recv().await {
            ServerFrame::Welcome { .. } => {}
            ServerFrame::Online { .. } => return frames,
            frame => frames.push(frame),
        }
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read the export")
}

#[tokio::test]
async fn history_moves_from_sqlite_to_redis_and_back_unchanged() {
    let data = tempfile::tempdir().expect("tmp");
    let files = tempfile::tempdir().expect("tmp");
    let redis = RedisServer::start().await;
    let from_sqlite = config(&data, None);
    let server = support::spawn_server(from_sqlite.clone()).await;
    play(server.addr).await;
    let mut before = Vec::new();
    for (room, last) in [("lobby", 13), ("闲聊", 2)] {
        for after in 0..=last {
            before.push(resumed(server.addr, room, after).await);
        }
    }
    server.stop().await;

    let first = files.path().join("first.jsonl");
    let report = server::export(&from_sqlite, None, &first)
        .await
        .expect("export from SQLite");
    assert_eq!((report.rooms, report.messages), (2, 5), "{report:?}");
    let text = read(&first);
    assert!(
        text.starts_with(r#"{"type":"chat-export","version":1}"#),
        "{text}"
    );
    assert!(!text.contains("xyzzy"), "a deleted message's words: {text}");
    assert!(
        !text.contains("edited once"),
        "an edit's earlier text: {text}"
    );
    assert!(!text.contains("browser-of"), "no token in an export");
    // The command says the same, to standard output.
    let command = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .arg("--db")
        .arg(&from_sqlite.db)
        .args(["export", "-"])
        .output()
        .expect("run server export");
    assert!(command.status.success(), "{command:?}");
    assert_eq!(String::from_utf8_lossy(&command.stdout), text);
    assert!(
        String::from_utf8_lossy(&command.stderr).contains("exported 2 rooms, 5 messages"),
        "{command:?}"
    );
    // Another export is refused the same name: nothing is overwritten.
    assert!(matches!(
        server::export(&from_sqlite, None, &first).await,
        Err(server::TransferError::Exists(_))
    ));

    // Into Redis, and out again: the same file.
    let on_redis = config(&data, Some((&redis, "moved")));
    let imported = server::import(&on_redis, &first)
        .await
        .expect("import into Redis");
    assert_eq!(imported, report);
    let second = files.path().join("second.jsonl");
    server::export(&on_redis, None, &second)
        .await
        .expect("export from Redis");
    assert_eq!(read(&second), text, "SQLite -> file -> Redis -> file");

    // Into a new SQLite file, and out again.
    let fresh = tempfile::tempdir().expect("tmp");
    let back = config(&fresh, None);
    server::import(&back, &second)
        .await
        .expect("import into SQLite");
    let third = files.path().join("third.jsonl");
    server::export(&back, None, &third).await.expect("export");
    assert_eq!(read(&third), text, "Redis -> file -> SQLite -> file");

    // A client resuming from any seq is owed the same on every store.
    for moved in [on_redis, back] {
        let server = support::spawn_server(moved).await;
        let mut after_move = Vec::new();
        for (room, last) in [("lobby", 13), ("闲聊", 2)] {
            for after in 0..=last {
                after_move.push(resumed(server.addr, room, after).await);
            }
        }
        assert_eq!(after_move, before);
        // A send from before the move, sent again (an outbox that was
        // offline), is answered with the message it stored, not a copy.
        let mut alice = connect(server.addr, "alice", None).await;
        enter(&mut alice, "lobby").await;
        alice
            .send_frame(say("lobby", "a2", "the secret word is xyzzy", None))
            .await;
        loop {
            match alice.recv().await {
                ServerFrame::Message { posted, .. } => {
                    assert_eq!(posted.message.id, 3, "{posted:?}");
                    assert!(posted.message.deleted);
                    break;
                }
                ServerFrame::Error { message, .. } => panic!("refused: {message}"),
                _ => {}
            }
        }
        // And the room goes on from its seq.
        act(&mut alice, say("lobby", "a4", "after the move", None), 14).await;
        act(
            &mut alice,
            edit_in("lobby", 13, "edited after the move"),
            15,
        )
        .await;
        drop(alice);
        server.stop().await;
    }

    // Only into an empty store.
    assert!(matches!(
        server::import(&config(&data, Some((&redis, "moved"))), &first).await,
        Err(server::TransferError::NotEmpty)
    ));
    // One room alone; an unknown room is an error, not an empty file.
    let one = files.path().join("one.jsonl");
    let report = server::export(&from_sqlite, Some("闲聊"), &one)
        .await
        .expect("one room");
    assert_eq!((report.rooms, report.messages, report.events), (1, 1, 1));
    assert!(matches!(
        server::export(
            &from_sqlite,
            Some("nowhere"),
            &files.path().join("none.jsonl")
        )
        .await,
        Err(server::TransferError::NoRoom(_))
    ));
    assert!(!files.path().join("none.jsonl").exists());
}

/// An import reads the whole file before it writes: any bad line, and the
/// store stays empty.
#[tokio::test]
async fn a_bad_export_is_refused_by_line_and_changes_nothing() {
    let files = tempfile::tempdir().expect("tmp");
    let redis = RedisServer::start().await;
    let header = r#"{"type":"chat-export","version":1}"#;
    let room = r#"{"type":"room","room":"lobby","seq":3,"lastEventAt":1}"#;
    let message = |id: u64, msg: &str| {
        format!(
            r#"{{"type":"message","room":"lobby","id":{id},"user":"a","msg":"{msg}","dateTime":1,"clientId":"c{id}"}}"#
        )
    };
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        ("no header", vec![room.to_owned()], "header"),
        (
            "not JSON",
            vec![header.into(), room.into(), "{".into()],
            "line 3",
        ),
        (
            "a frame of no history",
            vec![header.into(), room.into(), r#"{"type":"pong"}"#.into()],
            "line 3",
        ),
        (
            "a message before its room",
            vec![header.into(), message(1, "hi")],
            "line 2",
        ),
        (
            "seq beyond the room's",
            vec![header.into(), room.into(), message(4, "hi")],
            "line 3",
        ),
        (
            "the largest id",
            vec![header.into(), room.into(), message(u64::MAX, "hi")],
            "line 3",
        ),
        (
            "out of order",
            vec![header.into(), room.into(), message(2, "b"), message(1, "a")],
            "line 4",
        ),
        (
            "an edit of no message",
            vec![
                header.into(),
                room.into(),
                message(1, "a"),
                r#"{"type":"edited","room":"lobby","seq":2,"id":9,"msg":"x","editedAt":1}"#.into(),
            ],
            "line 4",
        ),
        (
            "an event without its time",
            vec![
                header.into(),
                room.into(),
                message(1, "a"),
                r#"{"type":"deleted","room":"lobby","seq":2,"id":1}"#.into(),
            ],
            "line 4",
        ),
        (
            "a room name this server would not write",
            vec![
                header.into(),
                r#"{"type":"room","room":"Lobby","seq":1,"lastEventAt":1}"#.into(),
            ],
            "line 2",
        ),
        (
            "an empty message",
            vec![header.into(), room.into(), message(1, " ")],
            "line 3",
        ),
    ];
    for (case, lines, names) in cases {
        let file = files.path().join("bad.jsonl");
        std::fs::write(&file, lines.join("\n") + "\n").expect("write");
        for store in ["sqlite", "redis"] {
            let data = tempfile::tempdir().expect("tmp");
            let config = match store {
                "redis" => config(&data, Some((&redis, case))),
                _ => config(&data, None),
            };
            let error = server::import(&config, &file)
                .await
                .expect_err(case)
                .to_string();
            assert!(error.contains(names), "{case} on {store}: {error}");
            // Nothing was written: a good export goes in after it.
            let good = files.path().join("good.jsonl");
            std::fs::write(&good, [header, room, &message(1, "ok")].join("\n")).expect("write");
            server::import(&config, &good)
                .await
                .unwrap_or_else(|error| panic!("{case} on {store}: {error}"));
        }
    }
}
