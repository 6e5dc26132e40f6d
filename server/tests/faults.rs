//! The server binary under faults: a client that stops reading, and SIGTERM.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ServerFrame};
use support::{http_get, join, start_binary, until, PATIENCE};
use tokio::process::Child;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

/// The binary's resident memory, from /proc.
fn rss_kib(server: &Child) -> u64 {
    let pid = server.id().expect("running");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS in KiB")
}

async fn connections(addr: SocketAddr) -> u64 {
    let (_, body) = http_get(addr, "/healthz").await;
    let health: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    health["connections"].as_u64().expect("a count")
}

/// Server memory must stay under this while a client refuses to read.
const RSS_BOUND_KIB: u64 = 128 * 1024;

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_without_hurting_the_others() {
    stalled_client_is_cut_off(false).await;
}

/// The same, when the stalled client is in a second room too: its rooms
/// push to its inbox instead of it reading their fan-outs.
#[tokio::test]
async fn a_client_in_several_rooms_that_stops_reading_is_cut_off_too() {
    stalled_client_is_cut_off(true).await;
}

/// One flood at a time: two in parallel on a small machine can starve a
/// reading client too.
static FLOODS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn stalled_client_is_cut_off(in_two_rooms: bool) {
    const MESSAGES: usize = 4_000;
    let _alone = FLOODS.lock().await;
    let data = tempfile::tempdir().expect("tmp");
    let (server, addr) = start_binary(&data.path().join("chat.db"), &["--send-timeout", "2"]).await;
    // Joins, then never reads again: its socket buffers fill up.
    let (mut stalled, _) = join(addr, "stalled", None).await;
    if in_two_rooms {
        stalled
            .send_text(r#"{"type":"join","room":"elsewhere"}"#)
            .await;
        while !matches!(stalled.recv_any().await, ServerFrame::Online { .. }) {}
    }
    let (alice, _) = join(addr, "alice", None).await;
    let (mut bob, _) = join(addr, "bob", None).await;
    assert_eq!(connections(addr).await, 3);

    let text = "w".repeat(1_900);
    let (mut sink, mut stream) = alice.ws.split();
    let sender = tokio::spawn(async move {
        for n in 0..MESSAGES {
            let frame = ClientFrame::Send {
                client_id: format!("a-{n}"),
                msg: text.clone(),
                room: None,
                reply_to: None,
            };
            sink.send(Message::text(frame.to_json()))
                .await
                .expect("send");
            if n % 20 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        sink
    });
    let alice_reader = tokio::spawn(async move {
        let mut ids = Vec::new();
        while ids.len() < MESSAGES {
            let frame = tokio::time::timeout(PATIENCE, stream.next())
                .await
                .expect("alice keeps receiving")
                .expect("open")
                .expect("no error");
            if let Message::Text(text) = frame {
                if let Ok(ServerFrame::Message { posted, .. }) = ServerFrame::parse(&text) {
                    ids.push(posted.message.id);
                }
            }
        }
        ids
    });
    let mut peak_rss = 0;
    let mut bob_ids = Vec::new();
    while bob_ids.len() < MESSAGES {
        bob_ids.push(bob.recv_message().await.message.id);
        if bob_ids.len() % 200 == 0 {
            peak_rss = peak_rss.max(rss_kib(&server));
        }
    }
    let _sink = sender.await.expect("sender");
    let alice_ids = alice_reader.await.expect("alice");
    let expected: Vec<u64> = (1..=MESSAGES as u64).collect();
    assert_eq!(alice_ids, expected, "alice lost nothing");
    assert_eq!(bob_ids, expected, "bob lost nothing");

    until("the stalled client was never cut off", || async {
        connections(addr).await == 2
    })
    .await;
    peak_rss = peak_rss.max(rss_kib(&server));
    assert!(
        peak_rss < RSS_BOUND_KIB,
        "server RSS peaked at {peak_rss} KiB (bound {RSS_BOUND_KIB} KiB)"
    );
    drop(stalled);
}

#[tokio::test]
async fn sigterm_says_goodbye_stores_everything_and_exits_zero() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    let (mut server, addr) = start_binary(&db, &[]).await;
    let (alice, _) = join(addr, "alice", None).await;
    let (mut sink, mut stream) = alice.ws.split();
    for n in 0..50 {
        let frame = ClientFrame::Send {
            client_id: format!("a-{n}"),
            msg: format!("message {n}"),
            room: None,
            reply_to: None,
        };
        sink.send(Message::text(frame.to_json()))
            .await
            .expect("send");
    }
    let pid = server.id().expect("running").to_string();
    let signalled = tokio::time::Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());

    let mut acked = BTreeSet::new();
    let close = loop {
        match tokio::time::timeout(PATIENCE, stream.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(text))) => {
                if let Ok(ServerFrame::Message { posted, .. }) = ServerFrame::parse(&text) {
                    acked.insert(posted.message.id);
                }
            }
            Some(Ok(Message::Close(frame))) => break frame.expect("a close code"),
            Some(Ok(_)) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.code, CloseCode::Away);
    let exit = tokio::time::timeout(Duration::from_secs(5), server.wait())
        .await
        .expect("exits within 5 s of SIGTERM")
        .expect("exit status");
    assert!(exit.success(), "{exit}");
    assert!(signalled.elapsed() < Duration::from_secs(5));

    // Everything acknowledged is stored.
    let (_server, addr) = start_binary(&db, &[]).await;
    let (_, history) = join(addr, "carol", None).await;
    let stored: BTreeSet<u64> = history.ids().into_iter().collect();
    assert!(
        acked.is_subset(&stored),
        "acked {acked:?}, stored {stored:?}"
    );
}
