//! The room over real sockets: a server on port 0, tungstenite clients.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use futures::future::join_all;
use futures::{SinkExt, StreamExt};
use protocol::{ErrorCode, ServerFrame};
use support::TestServer;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

fn now_millis() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    i64::try_from(since.as_millis()).expect("fits")
}

#[tokio::test]
async fn both_clients_receive_each_message_exactly_once() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;

    let before = now_millis();
    alice.say("a-1", "hello bob").await;
    let mut first_copies = Vec::new();
    for client in [&mut alice, &mut bob] {
        first_copies.push(client.recv_message().await);
    }
    let after = now_millis();
    for posted in &first_copies {
        assert_eq!(posted.message.id, 1);
        assert_eq!(posted.message.user, "alice");
        assert_eq!(posted.message.msg, "hello bob");
        assert_eq!(posted.client_id, "a-1");
        assert!((before..=after).contains(&posted.message.date_time));
    }
    assert_eq!(first_copies[0], first_copies[1]);

    // The next frame each sees is bob's reply: no duplicate of the first.
    bob.say("b-1", "hi alice").await;
    for client in [&mut alice, &mut bob] {
        let posted = client.recv_message().await;
        assert_eq!(
            (posted.message.id, posted.message.user.as_str()),
            (2, "bob")
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn what_the_client_says_about_user_id_and_time_is_ignored() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let before = now_millis();
    alice
        .send_text(r#"{"type":"send","clientId":"f","msg":"it was bob","user":"bob","id":999,"dateTime":0}"#)
        .await;
    let posted = alice.recv_message().await;
    assert_eq!(posted.message.user, "alice");
    assert_eq!(posted.message.id, 1);
    assert!(posted.message.date_time >= before);
    server.stop().await;
}

#[tokio::test]
async fn bad_frames_get_an_error_and_change_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;

    let cases = [
        ("not json", ErrorCode::InvalidJson),
        (r#"{"type":"shout","msg":"hi"}"#, ErrorCode::UnknownType),
        (
            r#"{"type":"send","clientId":"c"}"#,
            ErrorCode::InvalidFields,
        ),
        (
            r#"{"type":"send","clientId":"c","msg":"  "}"#,
            ErrorCode::EmptyMessage,
        ),
    ];
    for (text, code) in cases {
        alice.send_text(text).await;
        match alice.recv().await {
            ServerFrame::Error {
                code: got, message, ..
            } => {
                assert_eq!(got, code, "{text}");
                assert!(!message.is_empty());
            }
            other => panic!("{text}: expected an error, got {other:?}"),
        }
    }
    alice
        .ws
        .send(Message::binary(vec![0xff, 0x00]))
        .await
        .expect("send binary");
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Error {
            code: ErrorCode::BinaryFrame,
            ..
        }
    ));

    // The connection still works, and bob saw none of the above: the first
    // thing he receives is the first valid message, with id 1.
    alice.say("ok", "finally").await;
    assert_eq!(alice.recv_message().await.message.id, 1);
    let posted = bob.recv_message().await;
    assert_eq!(
        (posted.message.id, posted.message.msg.as_str()),
        (1, "finally")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_is_removed_and_the_others_keep_chatting() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    assert_eq!(server.connections().await, 2);

    bob.ws.close(None).await.expect("close");
    drop(bob);
    server.until_connections(1, "bob was never removed").await;

    alice.say("a", "anyone?").await;
    assert_eq!(alice.recv_message().await.message.msg, "anyone?");
    server.stop().await;
}

#[tokio::test]
async fn pings_and_a_close_from_the_client_are_answered_between_broadcasts() {
    // Pongs and the close reply are encoded by tungstenite and queued behind
    // the broadcasts being written: each must arrive whole, in order, and
    // never inside another frame.
    const PINGS: usize = 50;
    const MESSAGES: usize = 20;
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let chatting = async {
        for n in 0..MESSAGES {
            bob.say(&format!("b-{n}"), &format!("message {n}")).await;
        }
    };
    let pinging = async {
        for n in 0..PINGS {
            let payload = format!("ping {n}").into_bytes();
            alice
                .ws
                .send(Message::Ping(payload.into()))
                .await
                .expect("ping");
        }
    };
    futures::join!(chatting, pinging);
    let (mut pongs, mut messages) = (Vec::new(), Vec::new());
    while pongs.len() < PINGS || messages.len() < MESSAGES {
        let next = tokio::time::timeout(support::PATIENCE, alice.ws.next())
            .await
            .expect("a frame in time")
            .expect("connection open")
            .expect("no socket error");
        match next {
            Message::Pong(payload) => pongs.push(String::from_utf8_lossy(&payload).into_owned()),
            Message::Text(text) => match ServerFrame::parse(&text).expect("a whole frame") {
                ServerFrame::Message { posted, .. } => messages.push(posted.message.msg),
                ServerFrame::Presence { .. } | ServerFrame::Typing { .. } => {}
                other => panic!("unexpected {other:?}"),
            },
            other => panic!("unexpected {other:?}"),
        }
    }
    let expected_pongs: Vec<String> = (0..PINGS).map(|n| format!("ping {n}")).collect();
    assert_eq!(pongs, expected_pongs);
    let expected_messages: Vec<String> = (0..MESSAGES).map(|n| format!("message {n}")).collect();
    assert_eq!(messages, expected_messages);

    let goodbye = CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    };
    alice
        .ws
        .send(Message::Close(Some(goodbye)))
        .await
        .expect("close");
    let reply = alice
        .recv_close()
        .await
        .expect("the close echoed with its code");
    assert_eq!(reply.code, CloseCode::Normal);
    server.until_connections(1, "alice was never removed").await;
    server.stop().await;
}

#[tokio::test]
async fn invalid_usernames_are_refused_with_a_reason() {
    let server = TestServer::start().await;
    let cases = [
        ("", ErrorCode::EmptyUsername),
        ("   ", ErrorCode::EmptyUsername),
        ("abcdefghijklmnopqrstuvwxy", ErrorCode::UsernameTooLong),
        ("\u{202E}ecila", ErrorCode::InvalidUsername),
        ("bad\nname", ErrorCode::InvalidUsername),
    ];
    for (name, code) in cases {
        let mut client = server.connect(name).await;
        let message = match client.recv().await {
            ServerFrame::Error {
                code: got, message, ..
            } => {
                assert_eq!(got, code, "{name:?}");
                message
            }
            other => panic!("{name:?}: expected an error, got {other:?}"),
        };
        let close = client
            .recv_close()
            .await
            .expect("a close frame with a code");
        assert_eq!(close.code, CloseCode::Policy, "{name:?}");
        assert_eq!(close.reason.as_str(), message, "{name:?}");
    }
    // Nobody joined.
    assert_eq!(server.connections().await, 0);
    server.stop().await;
}

#[tokio::test]
async fn usernames_are_trimmed_before_binding() {
    let server = TestServer::start().await;
    let mut carol = server.join("  carol  ").await;
    carol.say("c", "hi").await;
    assert_eq!(carol.recv_message().await.message.user, "carol");
    server.stop().await;
}

#[tokio::test]
async fn ids_are_strictly_increasing_and_everyone_sees_one_order() {
    const SENDERS: usize = 5;
    const EACH: usize = 20;
    let server = TestServer::start().await;
    let mut watcher = server.join("watcher").await;
    let mut senders = Vec::new();
    for i in 0..SENDERS {
        senders.push(server.join(&format!("sender{i}")).await);
    }
    let sent = senders
        .iter_mut()
        .enumerate()
        .map(|(i, client)| async move {
            for n in 0..EACH {
                client
                    .say(&format!("{i}-{n}"), &format!("message {n} from {i}"))
                    .await;
            }
            let mut seen = Vec::new();
            for _ in 0..SENDERS * EACH {
                seen.push(client.recv_message().await.message.id);
            }
            seen
        });
    let views = join_all(sent).await;

    let mut watched = Vec::new();
    for _ in 0..SENDERS * EACH {
        watched.push(watcher.recv_message().await);
    }
    let ids: Vec<u64> = watched.iter().map(|p| p.message.id).collect();
    let expected: Vec<u64> = (1..=(SENDERS * EACH) as u64).collect();
    assert_eq!(ids, expected);
    for view in views {
        assert_eq!(view, expected);
    }
    // Each sender's own messages arrive in the order it sent them.
    for i in 0..SENDERS {
        let own: Vec<&str> = watched
            .iter()
            .filter(|p| p.message.user == format!("sender{i}"))
            .map(|p| p.client_id.as_str())
            .collect();
        let in_order: Vec<String> = (0..EACH).map(|n| format!("{i}-{n}")).collect();
        assert_eq!(own, in_order);
    }
    server.stop().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection_with_going_away() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let stopping = tokio::spawn(server.stop());
    for client in [&mut alice, &mut bob] {
        let close = client
            .recv_close()
            .await
            .expect("a close frame with a code");
        assert_eq!(close.code, CloseCode::Away);
    }
    stopping.await.expect("server stopped cleanly");
}

#[tokio::test]
async fn frames_sent_before_the_greeting_arrives_are_not_lost() {
    let server = TestServer::start().await;
    // A long history makes the greeting large: several writes, during which
    // the newcomer's frames are already waiting on the socket.
    let mut alice = server.join("alice").await;
    for n in 0..100 {
        alice
            .say(&format!("a-{n}"), &format!("{n}: {}", "words ".repeat(20)))
            .await;
        alice.recv_message().await;
    }
    let mut carol = server.connect("carol").await;
    carol.say("c-1", "sent at once").await;
    carol.say("c-2", "and again").await;
    assert!(matches!(carol.recv().await, ServerFrame::Welcome { .. }));
    match carol.recv().await {
        ServerFrame::History { messages, .. } => assert_eq!(messages.len(), 100),
        other => panic!("expected history, got {other:?}"),
    }
    assert!(matches!(carol.recv().await, ServerFrame::Online { .. }));
    let mine: Vec<String> = vec![
        carol.recv_message().await.client_id,
        carol.recv_message().await.client_id,
    ];
    assert_eq!(mine, ["c-1", "c-2"]);
    server.stop().await;
}
