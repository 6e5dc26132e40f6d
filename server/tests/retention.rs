//! `--retain-days`: messages older than that go, with their edits and
//! reactions, from the log, the rooms in memory and the search index, as
//! securely as a deletion; the room then begins at the oldest message
//! kept. Time is the test's: a clock it sets.

mod support;

use std::time::Duration;

use protocol::{ClientFrame, ServerFrame};
use support::{join, until};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn act(client: &mut support::Client, frame: ClientFrame) {
    client.send_frame(frame).await;
    loop {
        match client.recv().await {
            ServerFrame::Message { .. }
            | ServerFrame::Edited { .. }
            | ServerFrame::Reaction { .. } => return,
            ServerFrame::Error { message, .. } => panic!("refused: {message}"),
            _ => {}
        }
    }
}

async fn hits(client: &mut support::Client, q: &str) -> Vec<u64> {
    client
        .send_frame(ClientFrame::Search {
            q: q.to_owned(),
            room: None,
            before: None,
        })
        .await;
    loop {
        if let ServerFrame::Results { hits, .. } = client.recv().await {
            return hits.into_iter().map(|hit| hit.id).collect();
        }
    }
}

#[tokio::test]
async fn messages_past_retention_go_with_their_edits_and_reactions() {
    let clock = server::Clock::manual(protocol_now());
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    config.retain_days = Some(30);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server::run_with_clock(
        listener,
        config.clone(),
        clock.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let (mut alice, _) = join(addr, "alice", None).await;
    let say = |id: &str, msg: &str, reply_to| ClientFrame::Send {
        client_id: id.to_owned(),
        msg: msg.to_owned(),
        room: None,
        reply_to,
    };
    act(&mut alice, say("a1", "an old plugh message", None)).await;
    act(
        &mut alice,
        ClientFrame::Edit {
            room: None,
            id: 1,
            msg: "an old message, edited to xyzzy".to_owned(),
        },
    )
    .await;
    act(&mut alice, say("a2", "another old one", None)).await;
    act(
        &mut alice,
        ClientFrame::React {
            room: None,
            id: 3,
            emoji: "👍".to_owned(),
            on: true,
        },
    )
    .await;
    // The messages from here on are newer than the cut.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cut = protocol_now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    act(&mut alice, say("a3", "a recent answer", Some(1))).await;
    act(&mut alice, say("a4", "a recent xyzzy too", None)).await;
    assert_eq!(hits(&mut alice, "xyzzy").await, vec![6, 1]);

    // Thirty days pass, to the millisecond of the cut.
    clock.set(cut + 30 * DAY_MS);
    until(
        "a newcomer's room begins at the first recent message",
        || async {
            let (_, history) = join(addr, "newcomer", None).await;
            history.ids() == vec![5, 6] && !history.has_older
        },
    )
    .await;
    let (mut bob, history) = join(addr, "bob", None).await;
    let reply = history.messages[0]
        .message
        .reply_to
        .clone()
        .expect("a reply");
    assert!(reply.deleted && reply.excerpt.is_empty(), "{reply:?}");
    assert_eq!(bob.load_older(5, 50).await, (vec![], false));
    // Search finds the words of what is left only.
    assert_eq!(hits(&mut bob, "xyzzy").await, vec![6]);
    assert_eq!(hits(&mut bob, "plugh").await, Vec::<u64>::new());
    // A client resuming from before the cut starts over, without them.
    let (_, resumed) = join(addr, "carol", Some(2)).await;
    assert!(resumed.reset, "{resumed:?}");
    assert_eq!(resumed.ids(), vec![5, 6]);
    // The room goes on.
    act(&mut bob, say("b1", "still here", None)).await;
    drop((alice, bob));
    let _ = stop.send(());
    running
        .await
        .expect("the server's task")
        .expect("the server ran");
    // The old words are nowhere in the store.
    let stored = stored_bytes(&config).await;
    for word in ["plugh", "another old one", "👍"] {
        assert!(
            !stored.windows(word.len()).any(|w| w == word.as_bytes()),
            "{word} is still stored"
        );
    }
    assert!(stored.windows(11).any(|w| w == b"a recent xy"));
    // After a restart, the room is read from the log as it is now.
    let server = support::spawn_server(config).await;
    let (_, history) = join(server.addr, "dave", None).await;
    assert_eq!(history.ids(), vec![5, 6, 7]);
    assert!(!history.has_older);
    server.stop().await;
}

/// Everything the store holds, as bytes: the SQLite files, or the room's
/// stream and messages in Redis.
async fn stored_bytes(config: &server::Config) -> Vec<u8> {
    let Some(url) = &config.redis_url else {
        let dir = config.db.parent().expect("the data directory");
        let mut bytes = Vec::new();
        for file in std::fs::read_dir(dir).expect("the data") {
            bytes.extend(std::fs::read(file.expect("a file").path()).expect("read"));
        }
        return bytes;
    };
    let client = redis::Client::open(url.as_str()).expect("a Redis URL");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let tag = format!("{{{}:lobby}}", config.redis_prefix);
    let log: redis::streams::StreamRangeReply =
        redis::AsyncCommands::xrange_all(&mut redis, format!("{tag}:log"))
            .await
            .expect("the stream");
    let messages: std::collections::HashMap<String, String> =
        redis::AsyncCommands::hgetall(&mut redis, format!("{tag}:messages"))
            .await
            .expect("the messages");
    let mut bytes = Vec::new();
    for entry in &log.ids {
        for value in entry.map.values() {
            let text: String = redis::from_redis_value(value.clone()).unwrap_or_default();
            bytes.extend(text.into_bytes());
        }
    }
    for state in messages.values() {
        bytes.extend(state.as_bytes());
    }
    bytes
}

fn protocol_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as i64)
        .unwrap_or_default()
}
