//! `/metrics` on its own listener (`--metrics-bind`), scraped over a real
//! socket during a chat: the counters move with what happens; the public
//! listener does not serve it. (One test in this file: the recorder is
//! the process's.)

mod support;

use protocol::{ClientFrame, ServerFrame};

/// The value of the sample `name` (with its labels, as written) in the
/// text `metrics`, if there is one.
fn sample(metrics: &str, name: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let rest = line.strip_prefix(name)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Scrapes `addr` until `ready` holds of the text (an append is counted
/// by its sender's task once the log returns, a moment after the room
/// may have heard of it), for at most ten seconds; the last text.
async fn scrape_until(addr: std::net::SocketAddr, ready: impl Fn(&str) -> bool) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, text) = support::http_get(addr, "/metrics").await;
        assert_eq!(status, 200, "{text}");
        if ready(&text) || std::time::Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

const MESSAGES: &str = "chat_appends_total{outcome=\"message\"}";

#[tokio::test]
async fn scraped_during_a_chat_the_counters_move() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    // A free port for the metrics, found the usual way.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    config.metrics_bind = Some(metrics);
    let server = support::spawn_server(config).await;
    let (mut alice, _) = support::join(server.addr, "alice", None).await;
    let (mut bob, _) = support::join(server.addr, "bob", None).await;
    for n in 0..3 {
        alice
            .send_frame(ClientFrame::Send {
                client_id: format!("a-{n}"),
                msg: format!("hello {n}"),
                room: None,
                reply_to: None,
            })
            .await;
    }
    let mut seen = 0;
    while seen < 3 {
        if let ServerFrame::Message { .. } = bob.recv().await {
            seen += 1;
        }
    }
    // A refusal: a message too long.
    alice
        .send_frame(ClientFrame::Send {
            client_id: "long".into(),
            msg: "x".repeat(protocol::MESSAGE_MAX_CHARS + 1),
            room: None,
            reply_to: None,
        })
        .await;
    loop {
        if let ServerFrame::Error { .. } = alice.recv().await {
            break;
        }
    }

    let text = scrape_until(metrics, |text| {
        sample(text, MESSAGES).is_some_and(|n| n >= 3.0)
            && sample(text, "chat_deliveries_total").is_some_and(|n| n >= 6.0)
    })
    .await;
    let at_least = |name: &str, wanted: f64| {
        let value = sample(&text, name).unwrap_or_else(|| panic!("no {name} in:\n{text}"));
        assert!(
            value >= wanted,
            "{name} = {value}, wanted at least {wanted}"
        );
    };
    at_least("chat_appends_total{outcome=\"message\"}", 3.0);
    // Each post reached alice and bob.
    at_least("chat_deliveries_total", 6.0);
    at_least("chat_refusals_total{code=\"message_too_long\"}", 1.0);
    at_least("chat_storage_seconds_count", 3.0);
    at_least("chat_fanout_lag_seconds_count", 3.0);
    assert_eq!(sample(&text, "chat_connections"), Some(2.0), "{text}");
    assert!(sample(&text, "chat_rooms_in_memory").is_some_and(|rooms| rooms >= 1.0));

    // More posts, more counted.
    alice
        .send_frame(ClientFrame::Send {
            client_id: "a-more".into(),
            msg: "and more".into(),
            room: None,
            reply_to: None,
        })
        .await;
    loop {
        if let ServerFrame::Message { posted, .. } = bob.recv().await {
            if posted.client_id == "a-more" {
                break;
            }
        }
    }
    let before = sample(&text, MESSAGES);
    let later = scrape_until(metrics, |later| sample(later, MESSAGES) > before).await;
    assert!(sample(&later, MESSAGES) > before, "{later}");

    // Not on the public listener.
    let (public, body) = support::http_get(server.addr, "/metrics").await;
    assert_ne!(public, 200);
    assert!(!body.contains("chat_"), "{body}");
    server.stop().await;
}
