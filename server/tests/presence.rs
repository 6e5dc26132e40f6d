//! Who is online, unique names, typing.

mod support;

use protocol::{ErrorCode, ServerFrame};
use support::{try_connect, Client, TestServer};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Joins as `user` with `token` and returns the online list it was given.
async fn join_with_token(server: &TestServer, user: &str, token: &str) -> (Client, Vec<String>) {
    let query = format!("user={user}&token={token}");
    let mut client = try_connect(server.addr, &query, None)
        .await
        .expect("connects");
    assert!(matches!(client.recv().await, ServerFrame::Welcome { .. }));
    assert!(matches!(client.recv().await, ServerFrame::History { .. }));
    match client.recv().await {
        ServerFrame::Online { users } => (client, users),
        other => panic!("expected the online list, got {other:?}"),
    }
}

async fn next_presence(client: &mut Client) -> ServerFrame {
    loop {
        let frame = client.recv_any().await;
        if matches!(frame, ServerFrame::Joined { .. } | ServerFrame::Left { .. }) {
            return frame;
        }
    }
}

#[tokio::test]
async fn joins_and_leaves_are_announced_and_the_list_is_sent_on_connect() {
    let server = TestServer::start().await;
    let (mut alice, online) = join_with_token(&server, "alice", "ta").await;
    assert_eq!(online, ["alice"]);
    let (bob, online) = join_with_token(&server, "bob", "tb").await;
    assert_eq!(online, ["alice", "bob"]);
    assert_eq!(
        next_presence(&mut alice).await,
        ServerFrame::Joined { user: "bob".into() }
    );
    drop(bob);
    assert_eq!(
        next_presence(&mut alice).await,
        ServerFrame::Left { user: "bob".into() }
    );
    server.stop().await;
}

#[tokio::test]
async fn a_name_is_unique_but_shared_by_the_same_browser() {
    let server = TestServer::start().await;
    let (mut alice, _) = join_with_token(&server, "alice", "browser-1").await;

    // Another browser, any spelling: refused with a reason.
    for (name, token) in [
        ("alice", "browser-2"),
        ("ALICE", "browser-2"),
        ("alice", ""),
    ] {
        let query = if token.is_empty() {
            format!("user={name}")
        } else {
            format!("user={name}&token={token}")
        };
        let mut intruder = try_connect(server.addr, &query, None)
            .await
            .expect("connects");
        match intruder.recv().await {
            ServerFrame::Error { code, message, .. } => {
                assert_eq!(code, ErrorCode::UsernameTaken, "{query}");
                assert!(message.contains("taken"), "{message}");
            }
            other => panic!("{query}: expected username_taken, got {other:?}"),
        }
        let close = intruder.recv_close().await.expect("a close frame");
        assert_eq!(close.code, CloseCode::Policy);
    }

    // The same browser in a second tab: welcome, and no second "joined".
    let (second_tab, online) = join_with_token(&server, "alice", "browser-1").await;
    assert_eq!(online, ["alice"]);
    let (bob, _) = join_with_token(&server, "bob", "browser-3").await;
    assert_eq!(
        next_presence(&mut alice).await,
        ServerFrame::Joined { user: "bob".into() }
    );
    // alice leaves only when her last tab closes.
    drop(second_tab);
    drop(bob);
    assert_eq!(
        next_presence(&mut alice).await,
        ServerFrame::Left { user: "bob".into() }
    );
    let (mut carol, online) = join_with_token(&server, "carol", "browser-4").await;
    assert_eq!(online, ["alice", "carol"]);
    drop(alice);
    assert_eq!(
        next_presence(&mut carol).await,
        ServerFrame::Left {
            user: "alice".into()
        }
    );
    // Free again, for anyone.
    let (_, online) = join_with_token(&server, "Alice", "browser-5").await;
    assert_eq!(online, ["Alice", "carol"]);
    server.stop().await;
}

#[tokio::test]
async fn typing_is_relayed_at_most_every_few_seconds() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    alice.send_text(r#"{"type":"typing"}"#).await;
    alice.send_text(r#"{"type":"typing"}"#).await;
    alice.say("a", "done typing").await;
    let mut typing = 0;
    loop {
        match bob.recv_any().await {
            ServerFrame::Typing { user } => {
                assert_eq!(user, "alice");
                typing += 1;
            }
            ServerFrame::Message(posted) => {
                assert_eq!(posted.message.msg, "done typing");
                break;
            }
            _ => {}
        }
    }
    assert_eq!(
        typing, 1,
        "the second typing frame within 3 s is not relayed"
    );
    server.stop().await;
}
