//! Limits and faults: rate limit, origin check, connection caps, heartbeats,
//! a client that stops reading, graceful shutdown of the binary.

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ErrorCode, ServerFrame};
use support::{join, refused_status, try_connect, TestServer, PATIENCE};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn the_rate_limit_answers_with_the_wait_then_closes_a_flood() {
    // The shipped defaults: 5 frames/s, bursts of 10, 20 refusals in a row.
    let server = TestServer::start_with(|config| {
        let defaults = server::Config::defaults();
        config.rate_limit = defaults.rate_limit;
        config.rate_burst = defaults.rate_burst;
        config.rate_strikes = defaults.rate_strikes;
    })
    .await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    for n in 0..10 {
        alice.say(&format!("a-{n}"), "burst").await;
    }
    alice.say("a-10", "one too many").await;
    // The refusal is answered at once, the echoes after storage: any order.
    let (mut echoes, mut wait) = (0, None);
    while echoes < 10 || wait.is_none() {
        match alice.recv().await {
            ServerFrame::Message { posted, .. } => {
                assert_eq!(posted.message.msg, "burst");
                echoes += 1;
            }
            ServerFrame::Error {
                code,
                client_id,
                retry_after_ms,
                ..
            } => {
                assert_eq!(code, ErrorCode::RateLimited);
                assert_eq!(client_id.as_deref(), Some("a-10"));
                wait = Some(retry_after_ms.expect("says how long to wait"));
            }
            other => panic!("expected messages and rate_limited, got {other:?}"),
        }
    }
    let wait = wait.unwrap_or_default();
    assert!((1..=200).contains(&wait), "{wait} ms");
    tokio::time::sleep(Duration::from_millis(wait)).await;
    alice.say("a-11", "after waiting").await;
    assert_eq!(alice.recv_message().await.message.msg, "after waiting");
    for _ in 0..11 {
        bob.recv_message().await;
    }

    // A client that keeps going is cut off.
    let mut mallory = server.join("mallory").await;
    for n in 0..40 {
        if mallory
            .ws
            .send(Message::text(format!(
                r#"{{"type":"send","clientId":"m{n}","msg":"spam"}}"#
            )))
            .await
            .is_err()
        {
            break;
        }
    }
    let close = mallory.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy);
    // Bob got mallory's burst and nothing more, and still chats.
    for _ in 0..10 {
        assert_eq!(bob.recv_message().await.message.msg, "spam");
    }
    bob.say("b", "still here").await;
    assert_eq!(bob.recv_message().await.message.msg, "still here");
    server.stop().await;
}

#[tokio::test]
async fn pages_from_other_sites_may_not_open_the_socket() {
    let server = TestServer::start_with(|config| {
        config.allowed_origins = vec!["http://127.0.0.1:8080".into()];
    })
    .await;
    let own = format!("http://{}", server.addr);
    let evil = try_connect(server.addr, "user=alice", Some("https://evil.example")).await;
    assert_eq!(refused_status(evil), 403);
    // DNS rebinding: the attacker's name resolves to us, so the page's
    // origin and the Host header agree; neither is one of ours.
    let rebound = {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/ws?user=alice", server.addr)
            .into_client_request()
            .expect("a request");
        let headers = request.headers_mut();
        headers.insert("host", "evil.example".parse().expect("header"));
        headers.insert("origin", "http://evil.example".parse().expect("header"));
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(ws, _)| support::Client { ws })
    };
    assert_eq!(refused_status(rebound), 403);
    // A name each: a closed connection's name may not be free yet.
    for (n, origin) in [Some(own.as_str()), Some("http://127.0.0.1:8080"), None]
        .into_iter()
        .enumerate()
    {
        let mut client = try_connect(server.addr, &format!("user=alice{n}"), origin)
            .await
            .unwrap_or_else(|e| panic!("{origin:?} is allowed: {e}"));
        assert!(matches!(client.recv().await, ServerFrame::Welcome { .. }));
    }
    server.stop().await;

    let strict = TestServer::start_with(|config| config.require_origin = true).await;
    let no_origin = try_connect(strict.addr, "user=alice", None).await;
    assert_eq!(refused_status(no_origin), 403);
    strict.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_caps_are_refused_with_503() {
    let server = TestServer::start_with(|config| config.max_connections_per_ip = 2).await;
    let _a = server.join("a").await;
    let _b = server.join("b").await;
    assert_eq!(
        refused_status(try_connect(server.addr, "user=c", None).await),
        503
    );
    drop(_a);
    // The place is freed when a connection ends.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match try_connect(server.addr, "user=c", None).await {
            Ok(_) => break,
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(error) => panic!("never admitted again: {error}"),
        }
    }
    server.stop().await;

    let server = TestServer::start_with(|config| config.max_connections = 1).await;
    let _a = server.join("a").await;
    assert_eq!(
        refused_status(try_connect(server.addr, "user=b", None).await),
        503
    );
    server.stop().await;
}

#[tokio::test]
async fn any_frame_from_the_client_counts_as_a_sign_of_life() {
    let server = TestServer::start_with(|config| {
        config.ping_interval = 1;
        config.ping_timeout = 2;
    })
    .await;
    // `talker` never reads, so it never answers a ping; it keeps talking.
    let mut talker = server.join("talker").await;
    let talking_until = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < talking_until {
        talker.send_text(r#"{"type":"typing"}"#).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            server.connections().await,
            1,
            "a client that keeps sending frames is alive"
        );
    }
    // Silent, it is dropped like any other.
    server
        .until_connections(0, "the client was never dropped once silent")
        .await;
    drop(talker);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_answering_pings_is_dropped() {
    let server = TestServer::start_with(|config| {
        config.ping_interval = 1;
        config.ping_timeout = 2;
    })
    .await;
    // `silent` never reads, so it never answers the server's pings.
    let silent = server.join("silent").await;
    let (mut alive, _) = join(server.addr, "alive", None).await;
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let reader = tokio::spawn(async move {
        // Reading is what lets tungstenite answer pings.
        loop {
            tokio::select! {
                _ = &mut stopped => return alive,
                message = alive.ws.next() => {
                    assert!(matches!(message, Some(Ok(_))), "the live client stays connected");
                }
            }
        }
    });
    server
        .until_connections(1, "the silent client was never dropped")
        .await;
    // Well past the timeout, the live client is still there.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.connections().await, 1);
    let _ = stop.send(());
    let mut alive = reader.await.expect("reader");
    alive.say("a", "still here").await;
    assert_eq!(alive.recv_message().await.message.msg, "still here");
    drop(silent);
    server.stop().await;
}
