//! Many rooms: on one connection and across connections, each with its own
//! sequence, history, presence and typing, over real sockets, on both logs.

mod support;

use protocol::{ClientFrame, ErrorCode, Posted, ServerFrame};
use support::{until, Client, TestServer, PATIENCE};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Connects with a raw query (`user=..&room=..`), reading nothing.
async fn connect_with(server: &TestServer, query: &str) -> Client {
    support::try_connect(server.addr, query, None)
        .await
        .expect("websocket connects")
}

/// Reads the greeting of a connection to `room`: welcome, history, online.
async fn greeted(client: &mut Client, room: &str) -> (Vec<Posted>, bool) {
    assert!(matches!(client.recv().await, ServerFrame::Welcome { .. }));
    let start = history_of(client, room).await;
    online_of(client, room).await;
    start
}

/// The next frame, which must be `room`'s history: its messages and `reset`.
async fn history_of(client: &mut Client, room: &str) -> (Vec<Posted>, bool) {
    match client.recv().await {
        ServerFrame::History {
            room: named,
            messages,
            reset,
            ..
        } if named == room => (messages, reset),
        other => panic!("expected {room}'s history, got {other:?}"),
    }
}

/// The next frame, which must be `room`'s online list.
async fn online_of(client: &mut Client, room: &str) -> Vec<String> {
    match client.recv().await {
        ServerFrame::Online {
            room: named, users, ..
        } if named == room => users,
        other => panic!("expected {room}'s online list, got {other:?}"),
    }
}

/// Joins `room` on the connection and reads its history and online list.
async fn join_room(client: &mut Client, room: &str, after: Option<u64>) -> (Vec<Posted>, bool) {
    let frame = ClientFrame::Join {
        room: room.into(),
        after,
    };
    client.send_text(frame.to_json()).await;
    let canonical = room.to_lowercase();
    let start = history_of(client, &canonical).await;
    online_of(client, &canonical).await;
    start
}

async fn say_in(client: &mut Client, room: &str, client_id: &str, msg: &str) {
    let frame = ClientFrame::Send {
        client_id: client_id.into(),
        msg: msg.into(),
        room: Some(room.into()),
        reply_to: None,
    };
    client.send_text(frame.to_json()).await;
}

/// The next chat message, with its room.
async fn message(client: &mut Client) -> (String, Posted) {
    match client.recv().await {
        ServerFrame::Message { room, posted } => (room, posted),
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next refusal: its code and room.
async fn refusal(client: &mut Client) -> (ErrorCode, Option<String>, String) {
    match client.recv().await {
        ServerFrame::Error {
            code,
            room,
            message,
            ..
        } => (code, room, message),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn messages_stay_in_their_room_and_each_room_counts_its_own_ids() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    join_room(&mut alice, "rust", None).await;
    let mut bob = server.join("bob").await;
    let mut carol = connect_with(&server, "user=carol&room=Rust").await;
    greeted(&mut carol, "rust").await;

    say_in(&mut alice, "rust", "a-1", "in rust").await;
    for client in [&mut alice, &mut carol] {
        let (room, posted) = message(client).await;
        assert_eq!((room.as_str(), posted.message.id), ("rust", 1));
    }
    // Without `room`, the URL's room: the lobby for alice and bob.
    bob.say("b-1", "in the lobby").await;
    alice.say("a-2", "also in the lobby").await;
    for client in [&mut alice, &mut bob] {
        let ids: Vec<(String, u64)> = [message(client).await, message(client).await]
            .into_iter()
            .map(|(room, posted)| (room, posted.message.id))
            .collect();
        assert_eq!(ids, [("lobby".into(), 1), ("lobby".into(), 2)]);
    }
    // Carol, in rust only, saw nothing of the lobby: her next frame is
    // rust's next message.
    say_in(&mut carol, "RUST", "c-1", "back in rust").await;
    let (room, posted) = message(&mut carol).await;
    assert_eq!((room.as_str(), posted.message.id), ("rust", 2));
    let (room, _) = message(&mut alice).await;
    assert_eq!(room, "rust");
    // Bob, in the lobby only, saw nothing of rust.
    bob.say("b-2", "ping").await;
    let (room, posted) = message(&mut bob).await;
    assert_eq!((room.as_str(), posted.msg_id()), ("lobby", 3));
    server.stop().await;
}

/// The id of a posted message.
trait MsgId {
    fn msg_id(&self) -> u64;
}

impl MsgId for Posted {
    fn msg_id(&self) -> u64 {
        self.message.id
    }
}

#[tokio::test]
async fn each_room_resumes_after_its_own_id() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    join_room(&mut alice, "rust", None).await;
    for n in 1..=3 {
        say_in(&mut alice, "rust", &format!("r-{n}"), "rust").await;
        message(&mut alice).await;
    }
    alice.say("l-1", "lobby").await;
    message(&mut alice).await;
    alice.ws.close(None).await.expect("close");

    // A reconnect to rust after 1, then the lobby after 1: exactly what
    // each room had since.
    let mut again = connect_with(
        &server,
        "user=alice&token=browser-of-alice&room=rust&after=1",
    )
    .await;
    let (messages, reset) = greeted(&mut again, "rust").await;
    assert!(!reset);
    assert_eq!(ids(&messages), [2, 3]);
    let (messages, reset) = join_room(&mut again, "lobby", Some(1)).await;
    assert!(!reset && messages.is_empty(), "{messages:?}");
    // Older pages are per room too.
    again
        .send_text(
            ClientFrame::LoadOlder {
                before: 3,
                limit: 10,
                room: Some("rust".into()),
            }
            .to_json(),
        )
        .await;
    match again.recv().await {
        ServerFrame::Older { room, messages, .. } => {
            assert_eq!((room.as_str(), ids(&messages)), ("rust", vec![1, 2]));
        }
        other => panic!("expected older, got {other:?}"),
    }
    server.stop().await;
}

fn ids(messages: &[Posted]) -> Vec<u64> {
    messages.iter().map(|p| p.message.id).collect()
}

#[tokio::test]
async fn presence_and_typing_are_per_room() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    join_room(&mut alice, "rust", None).await;
    let mut bob = connect_with(&server, "user=bob&room=rust").await;
    greeted(&mut bob, "rust").await;
    // Bob came into rust, not into the lobby.
    let (came, left) = presence_in(&mut alice, "rust", "bob").await;
    assert!(
        came.contains(&"bob".to_owned()) && left.is_empty(),
        "{came:?} {left:?}"
    );
    bob.send_text(r#"{"type":"typing","room":"rust"}"#).await;
    // Presence frames come every half second, whatever else does.
    let next = loop {
        match alice.recv_any().await {
            ServerFrame::Presence { .. } => continue,
            other => break other,
        }
    };
    match next {
        ServerFrame::Typing { room, user } => {
            assert_eq!((room.as_str(), user.as_str()), ("rust", "bob"))
        }
        other => panic!("expected typing, got {other:?}"),
    }
    // Bob joins the lobby too, then leaves rust: alice hears both, each
    // in its room.
    join_room(&mut bob, "lobby", None).await;
    let (came, _) = presence_in(&mut alice, "lobby", "bob").await;
    assert_eq!(came, ["bob"]);
    bob.send_text(r#"{"type":"leave","room":"rust"}"#).await;
    assert_eq!(
        presence_in(&mut alice, "rust", "bob").await,
        (vec![], vec!["bob".into()])
    );
    // No more of rust for bob: a frame naming it is refused.
    say_in(&mut bob, "rust", "b-1", "hello?").await;
    let (code, room, _) = refusal(&mut bob).await;
    assert_eq!(
        (code, room.as_deref()),
        (ErrorCode::NotInRoom, Some("rust"))
    );
    server.stop().await;
}

/// Who came and who left in the next `presence` frame of `room` that
/// mentions `who`; fails if one of another room mentions them first.
async fn presence_in(client: &mut Client, room: &str, who: &str) -> (Vec<String>, Vec<String>) {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let ServerFrame::Presence {
                room: named,
                joined,
                left,
                ..
            } = client.recv_any().await
            {
                let mentioned = joined.iter().chain(&left).any(|name| name == who);
                if !mentioned {
                    continue;
                }
                assert_eq!(named, room, "{who} came or went in the wrong room");
                return (joined, left);
            }
        }
    })
    .await
    .expect("a presence frame in time")
}

#[tokio::test]
async fn room_refusals_have_their_codes() {
    let server = TestServer::start_with(|config| {
        config.max_rooms_per_connection = 2;
        config.max_rooms = 3;
    })
    .await;
    let mut alice = server.join("alice").await;
    // The name breaks the rule: the rule is the message.
    alice
        .send_text(r#"{"type":"join","room":"no spaces"}"#)
        .await;
    let (code, room, message) = refusal(&mut alice).await;
    assert_eq!(
        (code, room.as_deref()),
        (ErrorCode::InvalidRoom, Some("no spaces"))
    );
    assert!(message.contains("letters, digits"), "{message}");
    // A room the connection is not in.
    say_in(&mut alice, "elsewhere", "a-1", "hi").await;
    match alice.recv().await {
        ServerFrame::Error {
            code,
            room,
            client_id,
            ..
        } => {
            assert_eq!(code, ErrorCode::NotInRoom);
            assert_eq!(room.as_deref(), Some("elsewhere"));
            assert_eq!(client_id.as_deref(), Some("a-1"), "names the refused send");
        }
        other => panic!("expected not_in_room, got {other:?}"),
    }
    alice
        .send_text(r#"{"type":"leave","room":"elsewhere"}"#)
        .await;
    assert_eq!(refusal(&mut alice).await.0, ErrorCode::NotInRoom);
    // Two rooms at once, no more.
    join_room(&mut alice, "two", None).await;
    alice.send_text(r#"{"type":"join","room":"three"}"#).await;
    let (code, room, _) = refusal(&mut alice).await;
    assert_eq!(
        (code, room.as_deref()),
        (ErrorCode::TooManyRooms, Some("three"))
    );
    // Joining a room it is in again is not one more, and sends nothing.
    alice.send_text(r#"{"type":"join","room":"TWO"}"#).await;
    alice.send_text(r#"{"type":"ping"}"#).await;
    assert_eq!(alice.recv().await, ServerFrame::Pong);
    // The server holds three rooms at most: lobby, two, and one more.
    let mut bob = connect_with(&server, "user=bob&room=three").await;
    greeted(&mut bob, "three").await;
    bob.send_text(r#"{"type":"join","room":"four"}"#).await;
    let (code, room, _) = refusal(&mut bob).await;
    assert_eq!(
        (code, room.as_deref()),
        (ErrorCode::RoomLimitReached, Some("four"))
    );
    // A connection to a fourth room is refused the same way, and closed.
    let mut carol = connect_with(&server, "user=carol&room=four").await;
    assert_eq!(refusal(&mut carol).await.0, ErrorCode::RoomLimitReached);
    let close = carol.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Again);
    // A URL room that breaks the rule: refused, closed with the rule.
    let mut dave = connect_with(&server, "user=dave&room=a%20b").await;
    assert_eq!(refusal(&mut dave).await.0, ErrorCode::InvalidRoom);
    let close = dave.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy);
    server.stop().await;
}

#[tokio::test]
async fn the_directory_lists_rooms_most_recently_active_first() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    join_room(&mut alice, "闲聊", None).await;
    say_in(&mut alice, "闲聊", "a-1", "你好").await;
    // Later: the lobby is the most recent (posted again until the server's
    // clock has moved on by a millisecond at least).
    let first = message(&mut alice).await.1.message.date_time;
    let mut n = 2;
    loop {
        alice.say(&format!("a-{n}"), "hello").await;
        if message(&mut alice).await.1.message.date_time > first {
            break;
        }
        n += 1;
    }
    join_room(&mut alice, "quiet", None).await;
    let (status, body) = server.get("/api/rooms").await;
    assert_eq!(status, 200, "{body}");
    let rooms: Vec<serde_json::Value> = serde_json::from_str(&body).expect("JSON");
    let listed: Vec<(&str, u64, bool)> = rooms
        .iter()
        .map(|room| {
            (
                room["room"].as_str().expect("a name"),
                room["online"].as_u64().expect("a count"),
                room["lastMessageAt"].is_i64(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [("lobby", 1, true), ("闲聊", 1, true), ("quiet", 1, false)]
    );
    assert!(rooms[0]["lastMessageAt"].as_i64() >= rooms[1]["lastMessageAt"].as_i64());
    server.stop().await;
}

#[tokio::test]
async fn a_room_nobody_is_in_leaves_memory_and_comes_back_from_its_log() {
    let server = TestServer::start_with(|config| config.room_idle = 0).await;
    let mut alice = server.join("alice").await;
    join_room(&mut alice, "brief", None).await;
    say_in(&mut alice, "brief", "a-1", "kept").await;
    message(&mut alice).await;
    assert_eq!(rooms_in_memory(&server).await, 2);
    alice.send_text(r#"{"type":"leave","room":"brief"}"#).await;
    until("the room stayed in memory", || async {
        rooms_in_memory(&server).await == 1
    })
    .await;
    let (messages, _) = join_room(&mut alice, "brief", None).await;
    assert_eq!(ids(&messages), [1]);
    say_in(&mut alice, "brief", "a-2", "and on").await;
    assert_eq!(message(&mut alice).await.1.message.id, 2);
    server.stop().await;
}

async fn rooms_in_memory(server: &TestServer) -> u64 {
    let (_, body) = server.get("/healthz").await;
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    health["rooms"].as_u64().expect("rooms")
}

#[tokio::test]
async fn joining_a_room_again_sends_nothing_and_keeps_its_messages_coming() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    join_room(&mut alice, "rust", None).await;
    let mut bob = connect_with(&server, "user=bob&room=rust").await;
    greeted(&mut bob, "rust").await;
    say_in(&mut bob, "rust", "b-1", "one").await;
    message(&mut bob).await;
    assert_eq!(message(&mut alice).await.1.message.id, 1);
    // Again: nothing resent, nothing missed, and still in it once.
    alice
        .send_text(r#"{"type":"join","room":"rust","after":0}"#)
        .await;
    say_in(&mut bob, "rust", "b-2", "two").await;
    message(&mut bob).await;
    let (room, posted) = message(&mut alice).await;
    assert_eq!((room.as_str(), posted.message.id), ("rust", 2));
    // The lobby still reaches her too.
    bob.send_text(r#"{"type":"join","room":"lobby"}"#).await;
    history_of(&mut bob, "lobby").await;
    online_of(&mut bob, "lobby").await;
    say_in(&mut bob, "lobby", "b-3", "three").await;
    let (room, _) = message(&mut alice).await;
    assert_eq!(room, "lobby");
    server.stop().await;
}
