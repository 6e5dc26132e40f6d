//! Several instances sharing one room through a real redis-server of the
//! test's own: one order for everyone, resume on another instance, an
//! instance killed with `kill -9`, Redis killed and restarted mid-stream.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use protocol::{ClientFrame, ErrorCode, Posted, ServerFrame};
use support::{
    admin, join, join_with_token, on_redis, spawn_server, start_binary, try_connect, with_admin,
    Client, RedisServer,
};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn posts(client: &mut Client, count: usize) -> Vec<Posted> {
    let mut posts = Vec::with_capacity(count);
    for _ in 0..count {
        posts.push(client.recv_message().await);
    }
    posts
}

fn ids(posts: &[Posted]) -> Vec<u64> {
    posts.iter().map(|p| p.message.id).collect()
}

#[tokio::test]
async fn two_instances_show_everyone_one_order_and_resume_across_them() {
    const EACH: usize = 100;
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let one = spawn_server(on_redis(&redis, &data)).await;
    let two = spawn_server(on_redis(&redis, &data)).await;
    let (mut alice, _) = join(one.addr, "alice", None).await;
    let (mut dave, _) = join(one.addr, "dave", None).await;
    let (mut bob, _) = join(two.addr, "bob", None).await;
    let (mut carol, _) = join(two.addr, "carol", None).await;

    // Alice (on one) and Bob (on two) send at the same time.
    tokio::join!(
        async {
            for n in 0..EACH {
                alice.say(&format!("a-{n}"), "from one").await;
            }
        },
        async {
            for n in 0..EACH {
                bob.say(&format!("b-{n}"), "from two").await;
            }
        },
    );
    let seen = [
        posts(&mut alice, 2 * EACH).await,
        posts(&mut bob, 2 * EACH).await,
        posts(&mut carol, 2 * EACH).await,
    ];
    let everything: Vec<u64> = (1..=2 * EACH as u64).collect();
    for view in &seen {
        assert_eq!(ids(view), everything, "every id once, in order");
        assert_eq!(view, &seen[0], "the same messages for everyone");
    }
    let sent: BTreeSet<&str> = seen[0].iter().map(|p| p.client_id.as_str()).collect();
    assert_eq!(sent.len(), 2 * EACH, "each message stored once");

    // Dave read half on instance one, then moves to instance two.
    let first_half = posts(&mut dave, EACH).await;
    drop(dave);
    let (mut dave, history) = join(two.addr, "dave", Some(EACH as u64)).await;
    assert!(!history.reset, "a resume, not a fresh start");
    assert_eq!(history.messages, seen[0][EACH..], "exactly what he missed");
    assert_eq!(ids(&first_half), everything[..EACH]);
    alice.say("a-last", "after the move").await;
    assert_eq!(dave.recv_message().await.message.id, 2 * EACH as u64 + 1);

    // A resend through the other instance is recognised: Alice's second tab
    // (same browser) on instance two gets her original back, nobody else
    // sees anything, and the next message takes the next id.
    let (mut alice_too, _) = join(two.addr, "alice", None).await;
    let original = seen[0].iter().find(|p| p.client_id == "a-0");
    alice_too.say("a-0", "from one").await;
    assert_eq!(Some(&alice_too.recv_message().await), original);
    alice_too.say("a-new", "new").await;
    let next = alice_too.recv_message().await;
    assert_eq!(
        (next.message.id, next.client_id.as_str()),
        (2 * EACH as u64 + 2, "a-new")
    );
    assert_eq!(dave.recv_message().await, next, "no resend in between");

    one.stop().await;
    two.stop().await;
}

#[tokio::test]
async fn a_killed_instance_lets_its_users_go_and_its_clients_resume_elsewhere() {
    const TTL_SECS: u64 = 2;
    let redis = RedisServer::start().await;
    let url = redis.url();
    let ttl = TTL_SECS.to_string();
    let args = [
        "--redis-url",
        url.as_str(),
        "--redis-prefix",
        "room",
        "--presence-ttl",
        ttl.as_str(),
    ];
    let data = tempfile::tempdir().expect("tmp");
    let (mut one, one_addr) = start_binary(&data.path().join("one.db"), &args).await;
    let (_two, two_addr) = start_binary(&data.path().join("two.db"), &args).await;

    let mut bob = join_with_token(two_addr, "bob", "tb").await;
    let mut alice = join_with_token(one_addr, "alice", "ta").await;
    let _carol = join_with_token(one_addr, "carol", "tc").await;
    bob.until_online(&["alice", "bob", "carol"]).await;
    alice.until_online(&["alice", "bob", "carol"]).await;
    alice.client.say("a-1", "before the crash").await;
    let last = alice.client.recv_message().await.message.id;
    assert_eq!(bob.client.recv_message().await.message.id, last);

    one.kill().await.expect("kill -9 instance one");
    let killed = Instant::now();

    // Alice's browser reconnects to the other instance and resumes; her
    // token lets her take her name back before its old lease lapses.
    let query = format!("user=alice&token=ta&after={last}");
    let mut alice = try_connect(two_addr, &query, None).await.expect("connects");
    assert!(matches!(alice.recv().await, ServerFrame::Welcome { .. }));
    match alice.recv().await {
        ServerFrame::History {
            messages, reset, ..
        } => assert!(messages.is_empty() && !reset, "nothing missed"),
        other => panic!("expected history, got {other:?}"),
    }
    alice.say("a-2", "after the crash").await;
    assert_eq!(bob.client.recv_message().await.message.id, last + 1);

    // Carol did not come back: she leaves once her lease lapses and a live
    // instance sweeps (TTL + TTL/3), the list is read again and the change
    // announced (0.5 s each): the time the README states.
    bob.until_online(&["alice", "bob"]).await;
    let stated =
        Duration::from_millis(TTL_SECS * 1000 * 4 / 3 + 2 * protocol::PRESENCE_INTERVAL_MS);
    // For a loaded CI machine; the default TTL is 15 s, far above.
    let slack = Duration::from_secs(4);
    assert!(
        killed.elapsed() < stated + slack,
        "carol left after {:?}, stated {stated:?}",
        killed.elapsed()
    );
}

/// Sends `msg` under `client_id` until the server stores it (its frame comes
/// back), retrying after each `storage_unavailable`.
async fn send_until_stored(client: &mut Client, client_id: &str) -> (Posted, usize) {
    let mut refusals = 0;
    loop {
        client.say(client_id, "during the outage").await;
        match client.recv().await {
            ServerFrame::Message { posted, .. } if posted.client_id == client_id => {
                return (posted, refusals)
            }
            ServerFrame::Error {
                code: ErrorCode::StorageUnavailable,
                ..
            } => {
                refusals += 1;
                assert!(refusals < 100, "Redis never came back");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("expected the message or a storage error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn nothing_acknowledged_is_lost_when_redis_restarts_mid_stream() {
    const BEFORE: usize = 30;
    const AFTER: usize = 30;
    let mut redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let server = spawn_server(on_redis(&redis, &data)).await;
    let (mut alice, _) = join(server.addr, "alice", None).await;
    let (mut bob, _) = join(server.addr, "bob", None).await;
    for n in 0..BEFORE {
        alice.say(&format!("before-{n}"), "before").await;
    }
    let acked = posts(&mut alice, BEFORE).await;

    redis.kill().await;
    // While Redis is down: a send is refused (not acknowledged), a new
    // client is told to come back later, the connections stay open.
    alice.say("down", "while Redis is down").await;
    match alice.recv().await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::StorageUnavailable);
            assert_eq!(client_id.as_deref(), Some("down"));
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 503, "Redis is down: {body}");
    let mut dave = server.connect("dave").await;
    match dave.recv().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::StorageUnavailable),
        other => panic!("expected a storage error, got {other:?}"),
    }
    let close = dave.recv_close().await.expect("a close frame");
    assert_eq!(close.code, CloseCode::Again, "try again later");

    redis.restart().await;
    let (during, _) = send_until_stored(&mut alice, "down").await;
    for n in 0..AFTER {
        alice.say(&format!("after-{n}"), "after").await;
    }
    let after = posts(&mut alice, AFTER).await;

    // Bob, connected throughout, saw everything once, in order, no gap.
    let total = (BEFORE + 1 + AFTER) as u64;
    let bob_saw = posts(&mut bob, BEFORE + 1 + AFTER).await;
    assert_eq!(ids(&bob_saw), (1..=total).collect::<Vec<_>>());
    let mut expected = acked.clone();
    expected.push(during);
    expected.extend(after);
    assert_eq!(bob_saw, expected);

    // And the restarted Redis has all of it.
    let (_, history) = join(server.addr, "carol", None).await;
    assert_eq!(
        history.messages[history.messages.len() - total as usize..],
        expected
    );
    server.stop().await;
}

#[tokio::test]
async fn the_stream_is_trimmed_and_older_pages_end_where_it_does() {
    const SENT: u64 = 1_000;
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let mut config = on_redis(&redis, &data);
    config.redis_max_len = 10;
    let server = spawn_server(config).await;
    let (mut alice, _) = join(server.addr, "alice", None).await;
    for n in 0..SENT {
        alice.say(&format!("a-{n}"), "kept for a while").await;
    }
    let delivered = posts(&mut alice, SENT as usize).await;
    assert_eq!(ids(&delivered), (1..=SENT).collect::<Vec<_>>());

    // Walk back from the newest message until the pages say there is no
    // more. Redis trims whole nodes of the stream (100 entries each), so
    // somewhat more than 10 remain, far fewer than were sent.
    let mut kept: Vec<u64> = Vec::new();
    let mut before = SENT + 1;
    loop {
        let (page, more) = alice.load_older(before, 100).await;
        kept.splice(0..0, page);
        match kept.first() {
            Some(&oldest) if more => before = oldest,
            _ => break,
        }
    }
    assert!(
        (10..=SENT as usize / 2).contains(&kept.len()),
        "trimmed to about 10: {} kept",
        kept.len()
    );
    let newest: Vec<u64> = (SENT + 1 - kept.len() as u64..=SENT).collect();
    assert_eq!(kept, newest, "the newest, without a gap");
    server.stop().await;
}

#[tokio::test]
async fn the_keys_of_the_release_before_rooms_become_the_default_room() {
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let config = on_redis(&redis, &data);
    // The one room as the release of 2026-11-28 left it: a stream under
    // `prefix:log`, its counter, and the resend memory of one message.
    {
        let mut old = redis::Client::open(redis.url())
            .and_then(|client| client.get_connection())
            .expect("connect to Redis");
        for (id, user, client_id) in [(1, "bob", "c-1"), (2, "alice", "a-1"), (3, "bob", "c-2")] {
            redis::cmd("XADD")
                .arg("room:log")
                .arg(format!("{id}-0"))
                .arg(&[
                    "user",
                    user,
                    "msg",
                    &format!("old {id}"),
                    "clientId",
                    client_id,
                ])
                .arg(&["dateTime", "1764100000000"])
                .exec(&mut old)
                .expect("an old entry");
        }
        redis::cmd("SET")
            .arg(&["room:seq", "3"])
            .exec(&mut old)
            .expect("the old counter");
        redis::cmd("HSET")
            .arg("room:sent:3:bob:c-1")
            .arg(&["id", "1", "dateTime", "1764100000000", "msg", "old 1"])
            .exec(&mut old)
            .expect("the old resend memory");
    }
    let server = spawn_server(config.clone()).await;
    let (mut dave, history) = join(server.addr, "dave", None).await;
    assert_eq!(
        history.ids(),
        [1, 2, 3],
        "in the default room, ids unchanged"
    );
    assert_eq!(history.messages[0].message.msg, "old 1");
    // A resume from an old id, a resend of an old message, and the sequence
    // going on.
    let (_erin, resumed) = join(server.addr, "erin", Some(1)).await;
    assert_eq!((resumed.ids(), resumed.reset), (vec![2, 3], false));
    let (mut bob, _) = join(server.addr, "bob", None).await;
    bob.say("c-1", "old 1").await;
    assert_eq!(bob.recv_message().await.message.id, 1);
    dave.say("d-1", "new").await;
    assert_eq!(dave.recv_message().await.message.id, 4);
    server.stop().await;
    // Starting again finds it where it is now.
    let again = spawn_server(config).await;
    let (_frank, history) = join(again.addr, "frank", None).await;
    assert_eq!(history.ids(), [1, 2, 3, 4]);
    again.stop().await;
}

#[tokio::test]
async fn a_room_is_shared_by_the_instances_whose_clients_are_in_it() {
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let one = spawn_server(on_redis(&redis, &data)).await;
    let two = spawn_server(on_redis(&redis, &data)).await;
    let query = |user: &str| format!("user={user}&token=t-{user}&room=rust");
    let mut alice = try_connect(one.addr, &query("alice"), None)
        .await
        .expect("connects");
    let mut bob = try_connect(two.addr, &query("bob"), None)
        .await
        .expect("connects");
    for client in [&mut alice, &mut bob] {
        assert!(matches!(client.recv().await, ServerFrame::Welcome { .. }));
        assert!(matches!(client.recv().await, ServerFrame::History { room, .. } if room == "rust"));
        assert!(matches!(client.recv().await, ServerFrame::Online { room, .. } if room == "rust"));
    }
    // Each instance follows rust for its client; each sees the other's
    // user in it.
    let deadline = Instant::now() + support::PATIENCE;
    let mut seen_by_alice = BTreeSet::new();
    while !seen_by_alice.contains("bob") {
        assert!(Instant::now() < deadline, "alice never saw bob in rust");
        if let ServerFrame::Presence { room, joined, .. } = alice.recv_any().await {
            assert_eq!(room, "rust");
            seen_by_alice.extend(joined);
        }
    }
    let send = |n: u32| format!(r#"{{"type":"send","clientId":"c-{n}","msg":"hi","room":"rust"}}"#);
    alice.send_text(send(1)).await;
    bob.send_text(send(2)).await;
    for client in [&mut alice, &mut bob] {
        let mut got = Vec::new();
        while got.len() < 2 {
            if let ServerFrame::Message { room, posted } = client.recv().await {
                assert_eq!(room, "rust");
                got.push(posted.message.id);
            }
        }
        assert_eq!(got, [1, 2], "one order on both instances");
    }
    // The lobby, on neither instance's list of rooms, has nothing.
    let (_, lobby) = join(one.addr, "carol", None).await;
    assert!(lobby.messages.is_empty());
    one.stop().await;
    two.stop().await;
}

/// A change (and a reply) is decided in Rust on the message as read, then
/// appended only if the message is unchanged since: under a stream of
/// posts from both instances, replies to one message among them, every one
/// of many simultaneous reactions to it is still stored once, an edit
/// racing them too, and every reply once, quoting it as it was.
#[tokio::test]
async fn changes_racing_posts_on_two_instances_are_each_stored_once() {
    const REACTORS: usize = 12;
    const POSTS: usize = 60;
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let one = spawn_server(on_redis(&redis, &data)).await;
    let two = spawn_server(on_redis(&redis, &data)).await;
    let (mut alice, _) = join(one.addr, "alice", None).await;
    alice.say("first", "react to me").await;
    let first = alice.recv_message().await.message.id;
    let mut reactors = Vec::new();
    for n in 0..REACTORS {
        let addr = if n % 2 == 0 { one.addr } else { two.addr };
        reactors.push(join(addr, &format!("r{n}"), None).await.0);
    }
    let (mut bob, _) = join(one.addr, "bob", None).await;
    let (mut carol, _) = join(two.addr, "carol", None).await;

    let thumbs_up = ClientFrame::React {
        room: None,
        id: first,
        emoji: "👍".into(),
        on: true,
    };
    tokio::join!(
        async {
            for n in 0..POSTS {
                bob.say(&format!("b-{n}"), "busy").await;
            }
        },
        // Carol's are replies to the message everyone is changing: each
        // decided on its state as read, and stored once.
        async {
            for n in 0..POSTS {
                let reply = ClientFrame::Send {
                    client_id: format!("c-{n}"),
                    msg: "busy".into(),
                    room: None,
                    reply_to: Some(first),
                };
                carol.send_frame(reply).await;
            }
        },
        futures::future::join_all(
            reactors
                .iter_mut()
                .map(|client| client.send_frame(thumbs_up.clone()))
        ),
        alice.send_frame(ClientFrame::Edit {
            room: None,
            id: first,
            msg: "react to me, edited".into(),
        }),
    );

    // Everyone sees every post, every reaction and the edit once.
    let mut reactions = BTreeSet::new();
    let mut edits = 0;
    let mut posted = 0;
    while posted < 2 * POSTS || reactions.len() < REACTORS || edits < 1 {
        match alice.recv().await {
            ServerFrame::Message {
                posted: message, ..
            } => {
                if let Some(quote) = &message.message.reply_to {
                    assert_eq!(quote.id, first);
                    assert!(
                        ["react to me", "react to me, edited"].contains(&quote.excerpt.as_str()),
                        "{quote:?}"
                    );
                }
                posted += 1;
            }
            ServerFrame::Reaction { user, on: true, .. } => {
                assert!(reactions.insert(user), "each reaction once");
            }
            ServerFrame::Edited { .. } => edits += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    // What Redis now holds, read by a newcomer on a third instance.
    let three = spawn_server(on_redis(&redis, &data)).await;
    let (mut erin, _) = join(three.addr, "erin", None).await;
    erin.send_frame(ClientFrame::LoadOlder {
        room: None,
        before: first + 1,
        limit: 1,
    })
    .await;
    let ServerFrame::Older { messages, .. } = erin.recv().await else {
        panic!("expected the older page");
    };
    let stored = &messages[0].message;
    assert_eq!(stored.msg, "react to me, edited");
    assert_eq!(
        stored
            .reactions
            .iter()
            .map(|given| given.count)
            .collect::<Vec<_>>(),
        vec![REACTORS],
        "every reaction stored once"
    );
    one.stop().await;
    two.stop().await;
    three.stop().await;
}

/// Everyone on one instance reacts to one message at the same moment (an
/// announcement): every reaction is stored, none given up on. Each
/// change reads the message and appends only if it is unchanged; racing
/// each other, all but one of them would read again each round, and the
/// last would give up (`storage_unavailable`) after 64 rounds. Changes of
/// one message from one instance take turns instead.
#[tokio::test]
async fn a_storm_of_reactions_to_one_message_is_stored_whole() {
    const REACTORS: usize = 150;
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let mut config = on_redis(&redis, &data);
    config.max_connections_per_ip = REACTORS + 10;
    let one = spawn_server(config).await;
    let (mut alice, _) = join(one.addr, "alice", None).await;
    alice.say("news", "we ship today").await;
    let id = alice.recv_message().await.message.id;
    let mut reactors = Vec::new();
    for n in 0..REACTORS {
        reactors.push(join(one.addr, &format!("r{n}"), None).await.0);
    }
    let thumbs_up = ClientFrame::React {
        room: None,
        id,
        emoji: "👍".into(),
        on: true,
    };
    futures::future::join_all(
        reactors
            .iter_mut()
            .map(|client| client.send_frame(thumbs_up.clone())),
    )
    .await;
    let mut reactions = BTreeSet::new();
    while reactions.len() < REACTORS {
        match alice.recv().await {
            ServerFrame::Reaction { user, on: true, .. } => {
                assert!(reactions.insert(user), "each reaction once");
            }
            ServerFrame::Presence { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // None of them was told the server could not store it.
    for mut client in reactors {
        client.send_frame(ClientFrame::Ping).await;
        loop {
            match client.recv().await {
                ServerFrame::Pong => break,
                ServerFrame::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
                _ => {}
            }
        }
    }
    one.stop().await;
}

/// Releases up to 2026-12-07 kept a room's rules in a `locked` flag and a
/// `mutes` hash (a mute for good once written as Lua printed 2^53 - 1);
/// they stay in force, and the next moderation writes the rules whole,
/// as one JSON value, and takes the old keys away.
#[tokio::test]
async fn the_rules_kept_by_earlier_releases_stay_in_force() {
    let redis = RedisServer::start().await;
    let data = tempfile::tempdir().expect("tmp");
    let mut config = on_redis(&redis, &data);
    with_admin(&mut config);
    let mut old = redis::Client::open(redis.url())
        .and_then(|client| client.get_connection())
        .expect("connect to Redis");
    redis::cmd("SET")
        .arg(&["{room:lobby}:locked", "1"])
        .exec(&mut old)
        .expect("the old flag");
    redis::cmd("HSET")
        .arg("{room:lobby}:mutes")
        .arg(&["bob", "9223372036854775807", "carol", "9.007199254741e+15"])
        .exec(&mut old)
        .expect("the old mutes");
    let server = spawn_server(config).await;
    assert!(
        support::finds_locked(server.addr, "dave").await,
        "still locked"
    );
    let (mut bob, _) = join(server.addr, "bob", None).await;
    bob.say("b-1", "muted?").await;
    assert!(
        matches!(
            bob.recv().await,
            ServerFrame::Error {
                code: ErrorCode::Muted | ErrorCode::RoomLocked,
                ..
            }
        ),
        "bob may not speak"
    );

    let mut root = admin(server.addr).await;
    support::unlock(&mut root).await;
    assert!(
        !support::finds_locked(server.addr, "erin").await,
        "unlocked"
    );
    bob.say("b-2", "muted still").await;
    let answer = loop {
        match bob.recv().await {
            ServerFrame::Moderated { .. } => {}
            other => break other,
        }
    };
    assert!(
        matches!(
            answer,
            ServerFrame::Error {
                code: ErrorCode::Muted,
                ..
            }
        ),
        "bob is still muted: {answer:?}"
    );
    let rules: String = redis::cmd("GET")
        .arg("{room:lobby}:rules")
        .query(&mut old)
        .expect("the rules");
    let rules: serde_json::Value = serde_json::from_str(&rules).expect("JSON");
    assert_eq!(
        rules,
        serde_json::json!({"mutes": {"bob": i64::MAX, "carol": i64::MAX}})
    );
    let left: u32 = redis::cmd("EXISTS")
        .arg(&["{room:lobby}:locked", "{room:lobby}:mutes"])
        .query(&mut old)
        .expect("EXISTS");
    assert_eq!(left, 0, "the old keys are gone");
    server.stop().await;
}
