//! Who is online, unique names, typing.

mod support;

use protocol::{ErrorCode, ServerFrame};
use support::{join_with_token, try_connect, TestServer, Watcher};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

fn names(watcher: &Watcher) -> Vec<&str> {
    watcher.online.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn joins_and_leaves_are_announced_and_the_list_is_sent_on_connect() {
    let server = TestServer::start().await;
    let mut alice = join_with_token(server.addr, "alice", "ta").await;
    assert_eq!(names(&alice), ["alice"]);
    let bob = join_with_token(server.addr, "bob", "tb").await;
    assert_eq!(names(&bob), ["alice", "bob"]);
    alice.until_online(&["alice", "bob"]).await;
    drop(bob);
    alice.until_online(&["alice"]).await;
    server.stop().await;
}

#[tokio::test]
async fn a_name_is_unique_but_shared_by_the_same_browser() {
    let server = TestServer::start().await;
    let mut alice = join_with_token(server.addr, "alice", "browser-1").await;

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

    // The same browser in a second tab is welcome.
    let second_tab = join_with_token(server.addr, "alice", "browser-1").await;
    assert_eq!(names(&second_tab), ["alice"]);
    let bob = join_with_token(server.addr, "bob", "browser-3").await;
    alice.until_online(&["alice", "bob"]).await;
    // alice stays online while one of her tabs is open.
    drop(second_tab);
    drop(bob);
    alice.until_online(&["alice"]).await;
    let mut carol = join_with_token(server.addr, "carol", "browser-4").await;
    assert_eq!(names(&carol), ["alice", "carol"]);
    drop(alice);
    carol.until_online(&["carol"]).await;
    // The name is free again, for anyone.
    let other_alice = join_with_token(server.addr, "Alice", "browser-5").await;
    assert_eq!(names(&other_alice), ["Alice", "carol"]);
    carol.until_online(&["Alice", "carol"]).await;
    server.stop().await;
}

#[tokio::test]
async fn a_thousand_arrivals_cost_each_client_a_few_small_frames() {
    let server = TestServer::start_with(|config| config.max_connections_per_ip = 2_000).await;
    let mut watcher = join_with_token(server.addr, "watcher", "w").await;
    let mut crowd = Vec::new();
    for i in 0..1_000 {
        crowd.push(support::connect(server.addr, &format!("guest{i}"), None).await);
    }
    let (mut frames, mut names) = (0, 0);
    loop {
        if let ServerFrame::Presence { joined, count, .. } = watcher.client.recv_any().await {
            frames += 1;
            names += joined.len();
            assert!(joined.len() <= protocol::PRESENCE_NAMES_MAX);
            if count == 1_001 {
                break;
            }
        }
    }
    assert!(frames < 100, "{frames} presence frames for 1,000 arrivals");
    assert!(names <= 1_000);
    // A newcomer gets the count and a bounded list.
    let (_, history) = support::join(server.addr, "late", None).await;
    assert!(history.messages.is_empty());
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
            ServerFrame::Typing { user, .. } => {
                assert_eq!(user, "alice");
                typing += 1;
            }
            ServerFrame::Message { posted, .. } => {
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
    // A post ends the spell: typing the next message is relayed at once.
    alice.send_text(r#"{"type":"typing"}"#).await;
    loop {
        if let ServerFrame::Typing { user, .. } = bob.recv_any().await {
            assert_eq!(user, "alice");
            break;
        }
    }
    server.stop().await;
}

/// Connects as `name` from browser `token` and expects the refusal `code`.
async fn refused(server: &TestServer, name: &str, token: &str, code: ErrorCode) {
    let query = format!("user={}&token={token}", urlencoding::encode(name));
    let mut client = try_connect(server.addr, &query, None)
        .await
        .expect("connects");
    match client.recv().await {
        ServerFrame::Error { code: got, .. } => assert_eq!(got, code, "{name:?}"),
        other => panic!("{name:?}: expected {code:?}, got {other:?}"),
    }
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy, "{name:?}");
}

#[tokio::test]
async fn names_that_look_the_same_are_one_and_invisible_ones_are_refused() {
    let server = TestServer::start().await;
    let zoe = join_with_token(server.addr, "Zo\u{eb}", "browser-1").await;
    assert_eq!(names(&zoe), ["Zo\u{eb}"]);
    // The same name typed with a combining diaeresis (NFD) is hers.
    refused(&server, "Zoe\u{308}", "browser-2", ErrorCode::UsernameTaken).await;
    // Her own browser may use either spelling: it is one name.
    let same = join_with_token(server.addr, "Zoe\u{308}", "browser-1").await;
    assert_eq!(names(&same), ["Zo\u{eb}"]);

    let _bob = join_with_token(server.addr, "bob", "browser-3").await;
    for spoof in [
        "bo\u{ad}b",
        "bob\u{fe0f}",
        "bob\u{E0041}",
        "bo\u{34f}b",
        "bob\u{180e}",
        "bob\u{61c}",
        "\u{3164}",
        "\u{2800}",
        "\u{301}",
    ] {
        refused(&server, spoof, "browser-4", ErrorCode::InvalidUsername).await;
    }
    // A joiner inside an emoji is part of the name.
    let coder = join_with_token(server.addr, "\u{1F469}\u{200D}\u{1F4BB}", "browser-5").await;
    assert!(names(&coder).contains(&"\u{1F469}\u{200D}\u{1F4BB}"));
    server.stop().await;
}
