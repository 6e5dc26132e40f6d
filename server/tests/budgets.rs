//! Budgets that outlive a connection: what a client gains by reconnecting,
//! or by opening many tabs under one name, is nothing.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use futures::SinkExt;
use protocol::{ClientFrame, ErrorCode, ServerFrame};
use server::Config;
use support::{refused_status, try_connect_from, Client, TestServer, PATIENCE};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// The shipped rate limits and budgets, whatever the test suite's defaults.
fn shipped_budgets(config: &mut Config) {
    let shipped = Config::defaults();
    config.rate_limit = shipped.rate_limit;
    config.rate_burst = shipped.rate_burst;
    config.rate_strikes = shipped.rate_strikes;
    config.address_rate_limit = shipped.address_rate_limit;
    config.address_rate_burst = shipped.address_rate_burst;
    config.join_rate_limit = shipped.join_rate_limit;
    config.join_rate_burst = shipped.join_rate_burst;
    config.history_rate_bytes = shipped.history_rate_bytes;
    config.history_burst_bytes = shipped.history_burst_bytes;
}

fn loopback(host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, host)
}

/// The number of messages the room holds, as a newcomer from an address of
/// its own sees them.
async fn stored_messages(server: &TestServer) -> usize {
    let mut watcher = try_connect_from(loopback(200), server.addr, "user=watcher")
        .await
        .expect("the watcher connects");
    assert!(matches!(watcher.recv().await, ServerFrame::Welcome { .. }));
    match watcher.recv().await {
        ServerFrame::History { messages, .. } => messages.len(),
        other => panic!("expected history, got {other:?}"),
    }
}

/// Sends `count` messages without waiting for anything.
async fn send_burst(client: &mut Client, prefix: &str, count: usize) {
    for n in 0..count {
        let frame = ClientFrame::Send {
            client_id: format!("{prefix}-{n}"),
            msg: "flood".into(),
            room: None,
            reply_to: None,
        };
        if client
            .ws
            .send(Message::text(frame.to_json()))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// At most the burst plus what the rate earns over `elapsed`, and one
/// token of slack for the edges.
fn budget(rate: f64, burst: u32, elapsed: Duration) -> usize {
    (f64::from(burst) + rate * elapsed.as_secs_f64()).ceil() as usize + 1
}

/// Reads until each of the `count` messages this client sent is answered:
/// stored (its own copy comes back) or refused for a rate limit. Returns
/// how many were stored.
async fn answers(client: &mut Client, prefix: &str, count: usize) -> usize {
    let own = format!("{prefix}-");
    let (mut stored, mut refused) = (0, 0);
    while stored + refused < count {
        match client.recv().await {
            ServerFrame::Error { code, .. } => {
                assert_eq!(code, ErrorCode::RateLimited);
                refused += 1;
            }
            // The sender's copy (another tab gets it too, so only this
            // tab's ids count).
            ServerFrame::Message { posted, .. } if posted.client_id.starts_with(&own) => {
                stored += 1;
            }
            _ => {}
        }
    }
    stored
}

#[tokio::test]
async fn reconnecting_does_not_refill_the_address_budget() {
    let server = TestServer::start_with(shipped_budgets).await;
    let shipped = Config::defaults();
    let started = Instant::now();
    let (mut connected, mut refused, mut posted) = (0, 0, 0);
    // Connect, send ten, close, as fast as it goes: a fresh name each
    // time, so only the address's budgets can hold it. For two seconds, and
    // on a slow machine until the upgrade budget has refused one.
    while started.elapsed() < Duration::from_secs(2) || refused == 0 {
        assert!(started.elapsed() < PATIENCE, "never refused an upgrade");
        let user = format!("flood{connected}x{refused}");
        match try_connect_from(loopback(2), server.addr, &format!("user={user}")).await {
            Ok(mut client) => {
                connected += 1;
                send_burst(&mut client, "f", 10).await;
                posted += answers(&mut client, "f", 10).await;
                let _ = client.ws.close(None).await;
            }
            Err(error) => {
                assert_eq!(refused_status(Err(error)), 429);
                refused += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    let joins = budget(shipped.join_rate_limit, shipped.join_rate_burst, elapsed);
    assert!(connected <= joins, "{connected} connections in {elapsed:?}");
    let allowed = budget(
        shipped.address_rate_limit,
        shipped.address_rate_burst,
        elapsed,
    );
    let stored = stored_messages(&server).await;
    assert_eq!(stored, posted);
    assert!(
        stored <= allowed,
        "{stored} messages stored in {elapsed:?}; the budget is {allowed}"
    );
    assert!(stored >= 10, "some got through: {stored}");
    server.stop().await;
}

#[tokio::test]
async fn fifty_tabs_of_one_name_share_its_budget() {
    let server = TestServer::start_with(shipped_budgets).await;
    let shipped = Config::defaults();
    let mut tabs = Vec::new();
    for n in 0..50 {
        // Tabs at many addresses, so that only the name's budget holds them.
        let tab = try_connect_from(
            loopback(10 + n),
            server.addr,
            "user=mallory&token=tab-token",
        )
        .await
        .expect("a tab connects");
        tabs.push(tab);
    }
    let started = Instant::now();
    for (n, tab) in tabs.iter_mut().enumerate() {
        send_burst(tab, &format!("t{n}"), 10).await;
    }
    // Every tab hears of each of its own messages: stored, or refused.
    let mut posted = 0;
    for (n, tab) in tabs.iter_mut().enumerate() {
        posted += answers(tab, &format!("t{n}"), 10).await;
    }
    let elapsed = started.elapsed();
    let allowed = budget(shipped.rate_limit, shipped.rate_burst, elapsed);
    let stored = stored_messages(&server).await;
    assert!(
        stored <= allowed,
        "{stored} messages stored in {elapsed:?}; the name's budget is {allowed}"
    );
    assert_eq!(stored, posted);
    server.stop().await;
}

#[tokio::test]
async fn a_ping_flood_ends_in_a_close() {
    let server = TestServer::start_with(shipped_budgets).await;
    let mut mallory = server.join("mallory").await;
    for _ in 0..200 {
        if mallory.ws.send(Message::Ping(Bytes::new())).await.is_err() {
            break;
        }
    }
    let close = mallory.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Policy);
    server.stop().await;
}

#[tokio::test]
async fn history_pages_are_paid_for_by_their_size() {
    let server = TestServer::start_with(|config| {
        config.history_rate_bytes = 10_000;
        config.history_burst_bytes = 20_000;
    })
    .await;
    let mut alice = server.join("alice").await;
    let long = "x".repeat(1000);
    for n in 0..50 {
        alice.say(&format!("a{n}"), &long).await;
        alice.recv_message().await;
    }
    // About 55 KB: more than the burst, so the page is answered and the
    // address is in debt for the rest.
    let (page, _) = alice.load_older(51, 50).await;
    assert_eq!(page.len(), 50);
    alice
        .send_text(
            ClientFrame::LoadOlder {
                before: 51,
                limit: 1,
                room: None,
            }
            .to_json(),
        )
        .await;
    let started = Instant::now();
    match alice.recv().await {
        ServerFrame::Error {
            code,
            retry_after_ms,
            ..
        } => {
            assert_eq!(code, ErrorCode::RateLimited);
            // About 35 KB of debt at 10 KB/s, less what was earned since.
            let wait = retry_after_ms.expect("the wait");
            assert!((1_000..=4_000).contains(&wait), "{wait} ms");
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    assert!(started.elapsed() < PATIENCE);
    // Posting is not paging: it still works.
    alice.say("after", "still chatting").await;
    assert_eq!(alice.recv_message().await.message.msg, "still chatting");
    server.stop().await;
}
