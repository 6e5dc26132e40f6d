//! Search over real sockets, on the suite's log (an SQLite file, or Redis
//! with `CHAT_TEST_REDIS_URL`): what a connection finds in the rooms it
//! is in, in English, with accents and in Chinese; edits and deletions
//! seen at once; pages without overlap; bad queries refused with the
//! reason. And on a Redis of its own, whatever the suite's log: an
//! instance finds what was said before it followed the room.

mod support;

use protocol::{ClientFrame, ErrorCode, Hit, ServerFrame};
use support::Client;

fn search(q: &str, room: Option<&str>, before: Option<u64>) -> ClientFrame {
    ClientFrame::Search {
        q: q.into(),
        room: room.map(str::to_owned),
        before,
    }
}

/// The next `results` frame (failing on an error).
async fn results(client: &mut Client) -> (Vec<Hit>, Option<u64>) {
    loop {
        match client.recv().await {
            ServerFrame::Results { hits, next } => return (hits, next),
            ServerFrame::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
            _ => {}
        }
    }
}

/// What `client` finds for `q`: (room, id) newest first.
async fn found(client: &mut Client, q: &str, room: Option<&str>) -> Vec<(String, u64)> {
    client.send_frame(search(q, room, None)).await;
    let (hits, _) = results(client).await;
    hits.into_iter().map(|hit| (hit.room, hit.id)).collect()
}

/// Posts `msg` in `room`; its id.
async fn post(client: &mut Client, room: &str, client_id: &str, msg: &str) -> u64 {
    client
        .send_frame(ClientFrame::Send {
            client_id: client_id.into(),
            msg: msg.into(),
            room: Some(room.into()),
            reply_to: None,
        })
        .await;
    loop {
        if let ServerFrame::Message { posted, .. } = client.recv().await {
            if posted.client_id == client_id {
                return posted.message.id;
            }
        }
    }
}

async fn joined(client: &mut Client, room: &str) {
    client
        .send_frame(ClientFrame::Join {
            room: room.into(),
            after: None,
        })
        .await;
    loop {
        if let ServerFrame::History { room: greeted, .. } = client.recv().await {
            if greeted == room {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_connection_finds_words_in_its_rooms_in_any_language() {
    let data = tempfile::tempdir().expect("tmp");
    let config = support::test_config(&data);
    let server = support::spawn_server(config).await;
    let (mut alice, _) = support::join(server.addr, "alice", None).await;
    joined(&mut alice, "rust").await;
    let friday = post(&mut alice, "lobby", "a-1", "We deploy on Friday").await;
    let cafe = post(&mut alice, "lobby", "a-2", "Le café est fermé").await;
    let hello = post(&mut alice, "lobby", "a-3", "你好世界").await;
    let peace = post(&mut alice, "rust", "a-4", "世界和平 and deployment").await;
    let lobby = |id: u64| ("lobby".to_owned(), id);
    let rust = |id: u64| ("rust".to_owned(), id);

    assert_eq!(
        found(&mut alice, "DEPLOY friday", None).await,
        [lobby(friday)]
    );
    assert_eq!(
        found(&mut alice, "cafe", Some("lobby")).await,
        [lobby(cafe)]
    );
    assert_eq!(
        found(&mut alice, "世界", None).await,
        [rust(peace), lobby(hello)],
        "two characters, every room alice is in, newest first"
    );
    assert_eq!(found(&mut alice, "世界 in:rust", None).await, [rust(peace)]);
    assert_eq!(found(&mut alice, "界", Some("lobby")).await, [lobby(hello)]);
    assert_eq!(found(&mut alice, "deploy* from:Alice", None).await.len(), 2);

    // The hit as it reads now, its words marked.
    alice.send_frame(search("fermé", None, None)).await;
    let (hits, next) = results(&mut alice).await;
    assert_eq!(hits[0].msg, "Le café est fermé");
    assert_eq!(hits[0].user, "alice");
    assert_eq!(hits[0].marks, [[12, 17]]);
    assert_eq!(next, None);

    // Bob is in the lobby only: the rust room's messages are not his to find.
    let (mut bob, _) = support::join(server.addr, "bob", None).await;
    assert_eq!(found(&mut bob, "世界", None).await, [lobby(hello)]);
    bob.send_frame(search("世界", Some("rust"), None)).await;
    assert_eq!(refused(&mut bob).await.0, ErrorCode::NotInRoom);

    // An edit is found by its new words at once; a deletion, never.
    alice
        .send_frame(ClientFrame::Edit {
            room: Some("lobby".into()),
            id: friday,
            msg: "We ship on Monday".into(),
        })
        .await;
    alice
        .send_frame(ClientFrame::Delete {
            room: Some("lobby".into()),
            id: hello,
        })
        .await;
    // Published is searchable: once bob sees both, search does.
    let (mut edited, mut gone) = (false, false);
    while !(edited && gone) {
        match bob.recv().await {
            ServerFrame::Edited { id, .. } => edited |= id == friday,
            ServerFrame::Deleted { id, .. } => gone |= id == hello,
            _ => {}
        }
    }
    assert!(found(&mut bob, "friday", None).await.is_empty());
    assert_eq!(found(&mut bob, "monday", None).await, [lobby(friday)]);
    assert!(found(&mut bob, "你好", None).await.is_empty());
    server.stop().await;
}

/// The next refusal: its code and message.
async fn refused(client: &mut Client) -> (ErrorCode, String) {
    loop {
        if let ServerFrame::Error { code, message, .. } = client.recv().await {
            return (code, message);
        }
    }
}

#[tokio::test]
async fn results_come_a_page_at_a_time_and_bad_queries_say_why() {
    let data = tempfile::tempdir().expect("tmp");
    let config = support::test_config(&data);
    let server = support::spawn_server(config).await;
    let (mut alice, _) = support::join(server.addr, "alice", None).await;
    for n in 1..=45 {
        post(&mut alice, "lobby", &format!("n-{n}"), &format!("note {n}")).await;
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        alice.send_frame(search("note", None, before)).await;
        let (hits, next) = results(&mut alice).await;
        assert!(hits.len() <= 20);
        seen.extend(hits.iter().map(|hit| hit.id));
        match next {
            Some(cursor) => before = Some(cursor),
            None => break,
        }
    }
    let expected: Vec<u64> = (1..=45).rev().collect();
    assert_eq!(seen, expected, "every hit once, newest first");

    for (q, reason) in [
        ("", "say what to look for"),
        ("\"red alert", "quote is not closed"),
        ("*", "prefix needs"),
    ] {
        alice.send_frame(search(q, None, None)).await;
        let (code, message) = refused(&mut alice).await;
        assert_eq!(code, ErrorCode::InvalidQuery, "{q:?}");
        assert!(message.contains(reason), "{q:?}: {message}");
    }
    alice
        .send_text(r#"{"type":"search","q":"x","before":18446744073709551615}"#)
        .await;
    assert!(results(&mut alice).await.0.is_empty());
    // Searching never fails anyone else: the room goes on.
    post(&mut alice, "lobby", "after", "still here").await;
    server.stop().await;
}

/// A moderator's purge of a name's messages takes them out of search at
/// once, in every room searched; a moderator's deletion of one message
/// too; the others' messages are still found.
#[tokio::test]
async fn a_purge_or_a_moderators_deletion_takes_hits_away() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    support::with_admin(&mut config);
    let server = support::spawn_server(config).await;
    let mut root = support::admin(server.addr).await;
    let (mut spammer, _) = support::join(server.addr, "spammer", None).await;
    let (mut alice, _) = support::join(server.addr, "alice", None).await;
    for n in 0..5 {
        post(
            &mut spammer,
            "lobby",
            &format!("s-{n}"),
            "cheap watches here",
        )
        .await;
    }
    let kept = post(&mut alice, "lobby", "a-1", "are watches cheap here?").await;
    let deleted = post(&mut alice, "lobby", "a-2", "cheap talk").await;
    assert_eq!(found(&mut alice, "cheap", None).await.len(), 7);

    root.send_frame(ClientFrame::Moderate {
        room: None,
        action: protocol::ModAction::Purge,
        target: Some("spammer".into()),
        id: None,
        duration_s: None,
        reason: None,
        all_rooms: false,
    })
    .await;
    root.send_frame(ClientFrame::Moderate {
        room: None,
        action: protocol::ModAction::Delete,
        target: None,
        id: Some(deleted),
        duration_s: None,
        reason: None,
        all_rooms: false,
    })
    .await;
    let mut notices = 0;
    while notices < 2 {
        if let ServerFrame::Moderated { .. } = root.recv().await {
            notices += 1;
        }
    }
    assert_eq!(
        found(&mut alice, "cheap", None).await,
        [("lobby".to_owned(), kept)]
    );
    assert!(found(&mut alice, "from:spammer", None).await.is_empty());
    server.stop().await;
}

/// A connection that searches thousands of times in a row, at the
/// default rate, is refused for the rate and then put out for flooding;
/// meanwhile another person posts and a newcomer is greeted as ever.
#[tokio::test]
async fn thousands_of_searches_are_the_searchers_alone_to_pay() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    config.rate_limit = 5.0;
    config.rate_burst = 20;
    let server = support::spawn_server(config).await;
    let (mut alice, _) = support::join(server.addr, "alice", None).await;
    post(&mut alice, "lobby", "a-1", "a note to find").await;
    let (mut flooder, _) = support::join(server.addr, "flooder", None).await;
    for _ in 0..3000 {
        if flooder
            .try_send_frame(search("note", None, None))
            .await
            .is_err()
        {
            break;
        }
    }
    let close = flooder.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    post(&mut alice, "lobby", "a-2", "still here").await;
    let (mut newcomer, history) = support::join(server.addr, "newcomer", None).await;
    assert_eq!(history.messages.len(), 2);
    assert_eq!(found(&mut newcomer, "note", None).await.len(), 1);
    server.stop().await;
}

/// `q`'s hits for `client`, asked again until there are `expected` of
/// them (an instance indexes a room's past after it starts following it).
async fn found_eventually(client: &mut Client, q: &str, expected: usize) -> Vec<(String, u64)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let hits = found(client, q, None).await;
        if hits.len() == expected || std::time::Instant::now() > deadline {
            return hits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Two instances on one Redis: what was said on the first, before the
/// second followed the room (more than one page of its past, edited and
/// deleted), is found on the second, as it reads now; and what is said
/// after, at once.
#[tokio::test]
async fn on_redis_an_instance_finds_what_was_said_before_it_followed_the_room() {
    let redis = support::RedisServer::start().await;
    let (data_a, data_b) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let mut config = support::on_redis(&redis, &data_a);
    // More than Redis's XADD takes: the log keeps what it can.
    config.redis_max_len = u64::MAX;
    let first = support::spawn_server(config).await;
    let second = support::spawn_server(support::on_redis(&redis, &data_b)).await;
    let (mut alice, _) = support::join(first.addr, "alice", None).await;
    let mut ids = Vec::new();
    for n in 0..1_200 {
        let text = if n % 2 == 0 {
            format!("ledger {n} 账本")
        } else {
            format!("other {n}")
        };
        ids.push(post(&mut alice, "lobby", &format!("a-{n}"), &text).await);
    }
    alice
        .send_frame(ClientFrame::Edit {
            room: Some("lobby".into()),
            id: ids[0],
            msg: "renamed 改名".into(),
        })
        .await;
    alice
        .send_frame(ClientFrame::Delete {
            room: Some("lobby".into()),
            id: ids[2],
        })
        .await;
    let mut changes = 0;
    while changes < 2 {
        if let ServerFrame::Edited { .. } | ServerFrame::Deleted { .. } = alice.recv().await {
            changes += 1;
        }
    }

    // 600 said "ledger"; one of them was edited away and one deleted.
    let (mut bob, _) = support::join(second.addr, "bob", None).await;
    let mut seen = Vec::new();
    let mut before = None;
    assert_eq!(found_eventually(&mut bob, "账本", 20).await.len(), 20);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while seen.len() != 598 && std::time::Instant::now() < deadline {
        seen.clear();
        loop {
            bob.send_frame(search("ledger", None, before)).await;
            let (hits, next) = results(&mut bob).await;
            seen.extend(hits.into_iter().map(|hit| hit.id));
            match next {
                Some(cursor) => before = Some(cursor),
                None => break,
            }
        }
        before = None;
    }
    let expected: Vec<u64> = ids
        .iter()
        .enumerate()
        .rev()
        .filter(|(n, _)| n % 2 == 0 && *n != 0 && *n != 2)
        .map(|(_, id)| *id)
        .collect();
    assert_eq!(
        seen, expected,
        "every ledger but the edited and the deleted, newest first, once"
    );
    assert_eq!(
        found(&mut bob, "改名", None).await,
        [("lobby".to_owned(), ids[0])]
    );

    // Said on the first instance now: found on the second once published.
    let late = post(&mut alice, "lobby", "late", "a late ledger").await;
    loop {
        if let ServerFrame::Message { posted, .. } = bob.recv().await {
            if posted.message.id == late {
                break;
            }
        }
    }
    assert_eq!(
        found(&mut bob, "late", None).await,
        [("lobby".to_owned(), late)]
    );
    first.stop().await;
    second.stop().await;
}

/// Reading is what search may show: a room left is no longer searched
/// (named, it is refused; in every room, it is left out), and a muted
/// person, who may still read, still searches.
#[tokio::test]
async fn a_room_left_is_not_searched_and_a_muted_person_still_reads() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    support::with_admin(&mut config);
    let server = support::spawn_server(config).await;
    let mut root = support::admin(server.addr).await;
    let (mut alice, _) = support::join(server.addr, "alice", None).await;
    joined(&mut alice, "rust").await;
    let lobby = post(&mut alice, "lobby", "a-1", "borrow checker in the lobby").await;
    let rust = post(&mut alice, "rust", "a-2", "borrow checker in rust").await;
    assert_eq!(
        found(&mut alice, "borrow", None).await,
        [("rust".to_owned(), rust), ("lobby".to_owned(), lobby)]
    );

    alice
        .send_frame(ClientFrame::Leave {
            room: "rust".into(),
        })
        .await;
    // Left once the server answers what follows.
    alice.send_frame(ClientFrame::Ping).await;
    while !matches!(alice.recv().await, ServerFrame::Pong) {}
    assert_eq!(
        found(&mut alice, "borrow", None).await,
        [("lobby".to_owned(), lobby)]
    );
    alice.send_frame(search("borrow", Some("rust"), None)).await;
    assert_eq!(refused(&mut alice).await.0, ErrorCode::NotInRoom);
    alice.send_frame(search("borrow in:rust", None, None)).await;
    assert_eq!(refused(&mut alice).await.0, ErrorCode::NotInRoom);

    // Muted in the lobby: posting is refused, reading (and search) is not.
    root.send_frame(ClientFrame::Moderate {
        room: None,
        action: protocol::ModAction::Mute,
        target: Some("alice".into()),
        id: None,
        duration_s: None,
        reason: None,
        all_rooms: false,
    })
    .await;
    loop {
        if let ServerFrame::Moderated { .. } = alice.recv().await {
            break;
        }
    }
    assert_eq!(
        found(&mut alice, "borrow", None).await,
        [("lobby".to_owned(), lobby)]
    );
    server.stop().await;
}
