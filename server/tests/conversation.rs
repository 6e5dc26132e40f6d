//! Edits, deletions, reactions, replies and mentions: events in the room's
//! log, over real sockets, on whichever log the suite runs on (SQLite, or
//! Redis with `CHAT_TEST_REDIS_URL`).

mod support;

use protocol::{ClientFrame, ErrorCode, Posted, ServerFrame};
use support::{test_config, Client, TestServer};

fn edit(id: u64, msg: &str) -> ClientFrame {
    ClientFrame::Edit {
        room: None,
        id,
        msg: msg.into(),
    }
}

fn delete(id: u64) -> ClientFrame {
    ClientFrame::Delete { room: None, id }
}

fn react(id: u64, emoji: &str, on: bool) -> ClientFrame {
    ClientFrame::React {
        room: None,
        id,
        emoji: emoji.into(),
        on,
    }
}

fn reply(client_id: &str, msg: &str, to: u64) -> ClientFrame {
    ClientFrame::Send {
        client_id: client_id.into(),
        msg: msg.into(),
        room: None,
        reply_to: Some(to),
    }
}

/// Posts `msg` and waits for its echo.
async fn post(client: &mut Client, client_id: &str, msg: &str) -> Posted {
    client.say(client_id, msg).await;
    client.recv_message().await
}

/// The next frame, which must be an error with `code`.
async fn refused(client: &mut Client, code: ErrorCode) {
    match client.recv().await {
        ServerFrame::Error {
            code: got, room, ..
        } => {
            assert_eq!(got, code);
            assert_eq!(room.as_deref(), Some("lobby"), "names the room");
        }
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn edits_deletions_and_reactions_reach_everyone_as_events_in_seq_order() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = server.join_after("bob", None).await;
    let first = post(&mut alice, "a-1", "hello @Bob and @carol!").await;
    assert_eq!(first.message.mentions, ["bob", "carol"]);
    assert_eq!(bob.recv_message().await, first);

    alice.send_frame(edit(1, "hello, edited")).await;
    for client in [&mut alice, &mut bob] {
        match client.recv().await {
            ServerFrame::Edited {
                room,
                seq,
                id,
                msg,
                mentions,
                ..
            } => {
                assert_eq!((room.as_str(), seq, id), ("lobby", 2, 1));
                assert_eq!(msg, "hello, edited");
                assert!(mentions.is_empty());
            }
            other => panic!("expected the edit, got {other:?}"),
        }
    }
    bob.send_frame(react(1, "👍", true)).await;
    // Reacting twice is one reaction: no second event.
    bob.send_frame(react(1, "👍", true)).await;
    bob.send_frame(react(1, "\u{2764}", true)).await;
    for client in [&mut alice, &mut bob] {
        for (seq, emoji) in [(3, "👍"), (4, "\u{2764}\u{FE0F}")] {
            match client.recv().await {
                ServerFrame::Reaction {
                    seq: got,
                    id,
                    emoji: got_emoji,
                    user,
                    on,
                    ..
                } => {
                    assert_eq!((got, id, got_emoji.as_str()), (seq, 1, emoji));
                    assert_eq!((user.as_str(), on), ("bob", true));
                }
                other => panic!("expected a reaction, got {other:?}"),
            }
        }
    }
    let second = post(&mut alice, "a-2", "second").await;
    assert_eq!(second.message.id, 5, "a message's id is its seq");
    bob.recv_message().await;
    alice.send_frame(delete(5)).await;
    alice.send_frame(delete(5)).await;
    for client in [&mut alice, &mut bob] {
        assert!(matches!(
            client.recv().await,
            ServerFrame::Deleted { seq: 6, id: 5, .. }
        ));
    }
    // Deleting twice was one deletion: the next event is the next seq.
    let third = post(&mut alice, "a-3", "third").await;
    assert_eq!(third.message.id, 7);

    // A newcomer sees every message as it is now.
    let (_carol, history) = server.join_after("carol", None).await;
    assert_eq!(history.ids(), [1, 5, 7]);
    assert_eq!(history.seq, Some(7));
    let first = &history.messages[0].message;
    assert_eq!(first.msg, "hello, edited");
    assert!(first.edited_at.is_some() && first.mentions.is_empty());
    let reactions: Vec<(&str, usize, &[String])> = first
        .reactions
        .iter()
        .map(|given| (given.emoji.as_str(), given.count, given.users.as_slice()))
        .collect();
    assert_eq!(
        reactions,
        [
            ("👍", 1, &["bob".to_owned()][..]),
            ("\u{2764}\u{FE0F}", 1, &["bob".to_owned()][..])
        ]
    );
    let tombstone = &history.messages[1].message;
    assert!(tombstone.deleted && tombstone.msg.is_empty());
    assert_eq!(tombstone.user, "alice");
    server.stop().await;
}

#[tokio::test]
async fn only_the_browser_that_posted_a_message_may_change_it() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    post(&mut alice, "a-1", "mine").await;
    let mut bob = server.join("bob").await;
    bob.send_frame(edit(1, "bob was here")).await;
    refused(&mut bob, ErrorCode::NotYours).await;
    bob.send_frame(delete(1)).await;
    refused(&mut bob, ErrorCode::NotYours).await;
    // Alice's second tab (her browser's token) may.
    let mut second_tab = server.join("alice").await;
    second_tab.send_frame(edit(1, "mine, edited")).await;
    assert!(matches!(
        second_tab.recv().await,
        ServerFrame::Edited { id: 1, .. }
    ));
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Edited { id: 1, .. }
    ));
    server.stop().await;
}

#[tokio::test]
async fn a_name_back_on_another_browser_cannot_edit_what_it_posted_before() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    post(&mut alice, "a-1", "mine").await;
    drop(alice);
    server.until_connections(0, "alice left").await;
    let mut impostor = support::try_connect(server.addr, "user=alice&token=not-alices", None)
        .await
        .expect("connects");
    for _ in 0..3 {
        impostor.recv().await; // welcome, history, online
    }
    impostor.send_frame(edit(1, "impostor")).await;
    refused(&mut impostor, ErrorCode::NotYours).await;
    impostor.send_frame(delete(1)).await;
    refused(&mut impostor, ErrorCode::NotYours).await;
    // Once the name is free, the browser that posted it still can.
    drop(impostor);
    server.until_connections(0, "the impostor left").await;
    let mut alice = server.join("alice").await;
    alice.send_frame(edit(1, "still mine")).await;
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Edited { id: 1, seq: 2, .. }
    ));
    server.stop().await;
}

#[tokio::test]
async fn every_refusal_has_its_code_and_changes_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    post(&mut alice, "a-1", "one").await;
    post(&mut alice, "a-2", "two").await;

    alice.send_frame(edit(99, "x")).await;
    refused(&mut alice, ErrorCode::NotFound).await;
    alice.send_frame(react(99, "👍", true)).await;
    refused(&mut alice, ErrorCode::NotFound).await;
    alice.send_frame(reply("a-3", "to nothing", 99)).await;
    match alice.recv().await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::NotFound);
            assert_eq!(client_id.as_deref(), Some("a-3"), "names the send");
        }
        other => panic!("expected not_found, got {other:?}"),
    }
    // Two emoji pass the protocol's shape check; the server knows better.
    alice.send_frame(react(1, "👍👍", true)).await;
    refused(&mut alice, ErrorCode::InvalidEmoji).await;
    alice.send_frame(edit(1, "   ")).await;
    match alice.recv().await {
        ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::EmptyMessage),
        other => panic!("expected empty_message, got {other:?}"),
    }

    let emoji: Vec<String> = ('\u{1F600}'..)
        .take(protocol::REACTIONS_MAX + 1)
        .map(String::from)
        .collect();
    for (n, emoji) in emoji.iter().enumerate() {
        alice.send_frame(react(1, emoji, true)).await;
        if n < protocol::REACTIONS_MAX {
            assert!(matches!(alice.recv().await, ServerFrame::Reaction { .. }));
        }
    }
    refused(&mut alice, ErrorCode::TooManyReactions).await;

    alice.send_frame(delete(2)).await;
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Deleted { id: 2, .. }
    ));
    alice.send_frame(edit(2, "back from the dead")).await;
    refused(&mut alice, ErrorCode::MessageDeleted).await;
    alice.send_frame(react(2, "👍", true)).await;
    refused(&mut alice, ErrorCode::MessageDeleted).await;
    alice.send_frame(reply("a-4", "to the deleted", 2)).await;
    match alice.recv().await {
        ServerFrame::Error {
            code, client_id, ..
        } => {
            assert_eq!(code, ErrorCode::MessageDeleted);
            assert_eq!(client_id.as_deref(), Some("a-4"));
        }
        other => panic!("expected message_deleted, got {other:?}"),
    }
    // Nothing of it was stored: the next event has the next seq.
    let next = post(&mut alice, "a-5", "next").await;
    assert_eq!(next.message.id, 3 + protocol::REACTIONS_MAX as u64 + 1);
    server.stop().await;
}

#[tokio::test]
async fn a_reply_quotes_the_first_line_and_says_when_the_original_is_gone() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    post(&mut alice, "a-1", "a question?\nwith details").await;
    bob.recv_message().await;
    bob.send_frame(reply("b-1", "an answer", 1)).await;
    let answer = bob.recv_message().await;
    let quote = answer.message.reply_to.clone().expect("a quote");
    assert_eq!(
        (
            quote.id,
            quote.user.as_str(),
            quote.excerpt.as_str(),
            quote.deleted
        ),
        (1, "alice", "a question?…", false)
    );
    assert_eq!(
        alice.recv_message().await,
        answer,
        "everyone sees the quote"
    );
    alice.send_frame(delete(1)).await;
    alice.recv().await;
    let (_carol, history) = server.join_after("carol", None).await;
    let quote = history.messages[1]
        .message
        .reply_to
        .clone()
        .expect("a quote");
    assert!(quote.deleted && quote.excerpt.is_empty(), "{quote:?}");
    // A resend of the reply is still its answer; a new reply to the
    // deleted message, or to none, is refused.
    bob.send_frame(reply("b-1", "an answer", 1)).await;
    let again = loop {
        match bob.recv().await {
            ServerFrame::Message { posted, .. } => break posted,
            ServerFrame::Deleted { .. } => {}
            other => panic!("expected the resend's answer, got {other:?}"),
        }
    };
    assert_eq!(
        (again.message.id, again.client_id.as_str()),
        (answer.message.id, "b-1")
    );
    for (to, code) in [(1, ErrorCode::MessageDeleted), (999, ErrorCode::NotFound)] {
        bob.send_frame(reply(&format!("b-to-{to}"), "late", to))
            .await;
        match bob.recv().await {
            ServerFrame::Error { code: got, .. } => assert_eq!(got, code, "a reply to {to}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn resuming_replays_every_kind_of_event_exactly_once() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    post(&mut alice, "a-1", "old one").await;
    post(&mut alice, "a-2", "old two").await;
    post(&mut alice, "a-3", "old three").await;
    let (carol, history) = server.join_after("carol", None).await;
    let after = history.seq.expect("the server says where it is");
    assert_eq!(after, 3);
    drop(carol);

    // While carol is away: changes to messages she has, a new message,
    // and changes to the new one.
    alice.send_frame(edit(1, "old one, edited")).await;
    alice.send_frame(react(2, "🎉", true)).await;
    alice.send_frame(delete(3)).await;
    for _ in 0..3 {
        alice.recv().await;
    }
    post(&mut alice, "a-4", "new").await;
    alice.send_frame(edit(7, "new, edited")).await;
    alice.send_frame(react(7, "👍", true)).await;
    alice.send_frame(react(2, "🎉", false)).await;
    for _ in 0..3 {
        alice.recv().await;
    }

    let (_carol, resumed) = server.join_after("carol", Some(after)).await;
    assert!(!resumed.reset);
    assert_eq!(resumed.seq, Some(10));
    // The new message, as it is now: its own changes are folded in.
    assert_eq!(resumed.ids(), [7]);
    let new = &resumed.messages[0].message;
    assert_eq!(new.msg, "new, edited");
    assert_eq!(new.reactions[0].emoji, "👍");
    // The changes to what she had, in order, once each.
    let replayed: Vec<(u64, u64)> = resumed
        .replay
        .iter()
        .map(|frame| match frame {
            ServerFrame::Edited { seq, id, .. }
            | ServerFrame::Deleted { seq, id, .. }
            | ServerFrame::Reaction { seq, id, .. } => (*seq, *id),
            other => panic!("not a change: {other:?}"),
        })
        .collect();
    assert_eq!(replayed, [(4, 1), (5, 2), (6, 3), (10, 2)]);
    assert!(matches!(
        &resumed.replay[3],
        ServerFrame::Reaction { on: false, .. }
    ));

    // Up to date: nothing to replay.
    let (_dave, current) = server.join_after("dave", Some(10)).await;
    assert!(current.messages.is_empty() && current.replay.is_empty() && !current.reset);
    server.stop().await;
}

#[tokio::test]
async fn older_pages_show_messages_as_they_are_now() {
    let server = TestServer::start_with(|config| config.history = 2).await;
    let mut alice = server.join("alice").await;
    for n in 1..=4 {
        post(&mut alice, &format!("a-{n}"), &format!("message {n}")).await;
    }
    alice.send_frame(edit(1, "message 1, edited")).await;
    alice.send_frame(delete(2)).await;
    alice.send_frame(react(1, "👍", true)).await;
    for _ in 0..3 {
        alice.recv().await;
    }
    alice
        .send_frame(ClientFrame::LoadOlder {
            before: 3,
            limit: 10,
            room: None,
        })
        .await;
    match alice.recv().await {
        ServerFrame::Older {
            messages,
            has_older,
            ..
        } => {
            assert!(!has_older);
            assert_eq!(messages[0].message.msg, "message 1, edited");
            assert_eq!(messages[0].message.reactions[0].count, 1);
            assert!(messages[1].message.deleted && messages[1].message.msg.is_empty());
        }
        other => panic!("expected older, got {other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn a_deleted_text_is_gone_from_storage() {
    let data = tempfile::tempdir().expect("tmp");
    let config = test_config(&data);
    let server = support::spawn_server(config.clone()).await;
    // Each with a word of its own: the search index holds words, and kept
    // a deleted message's until its segments merged.
    let secret = "the launch code is 5e1f-93ab-delete-me zanzibar";
    let edited = "the launch code was 77c0-dd21-delete-me quixotic";
    let mut alice = server.join("alice").await;
    post(&mut alice, "a-1", secret).await;
    post(&mut alice, "a-2", "kept text").await;
    alice.send_frame(edit(1, edited)).await;
    alice.recv().await;
    alice.send_frame(reply("a-3", "quoting it", 1)).await;
    alice.recv().await;
    assert!(
        stored_text(&config).await.contains(edited),
        "stored at first"
    );
    alice.send_frame(delete(1)).await;
    assert!(matches!(alice.recv().await, ServerFrame::Deleted { .. }));
    let stored = stored_text(&config).await;
    assert!(
        !stored.contains("delete-me"),
        "the text and its edit are gone"
    );
    for word in ["zanzibar", "quixotic"] {
        assert!(!stored.contains(word), "{word}: the words are gone");
    }
    assert!(stored.contains("kept text"));
    server.stop().await;
}

/// Everything the log holds, as text: the SQLite file and its WAL, or
/// every key of the room's prefix in Redis.
async fn stored_text(config: &server::Config) -> String {
    let Some(url) = &config.redis_url else {
        let mut text = String::new();
        for file in ["chat.db", "chat.db-wal"] {
            let path = config.db.with_file_name(file);
            if let Ok(bytes) = std::fs::read(path) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
        return text;
    };
    let client = redis::Client::open(url.as_str()).expect("a Redis URL");
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .expect("Redis answers");
    let pattern = format!("*{}*", config.redis_prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut redis)
        .await
        .expect("keys");
    let mut text = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut redis)
            .await
            .expect("type");
        let read = match kind.as_str() {
            "stream" => redis::cmd("XRANGE").arg(&key).arg("-").arg("+").clone(),
            "hash" => redis::cmd("HGETALL").arg(&key).clone(),
            "zset" => redis::cmd("ZRANGE").arg(&key).arg(0).arg(-1).clone(),
            "string" => redis::cmd("GET").arg(&key).clone(),
            _ => continue,
        };
        let value: redis::Value = read.query_async(&mut redis).await.expect("a read");
        text.push_str(&format!("{value:?}"));
    }
    text
}

#[tokio::test]
async fn formatted_text_comes_as_a_safe_tree_and_follows_edits() {
    use protocol::{Block, Inline};
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let posted = post(&mut alice, "a-1", "**bold** [x](javascript:alert(1))").await;
    assert_eq!(
        posted.message.formatted,
        Some(vec![Block::Paragraph(vec![
            Inline::Strong(vec![Inline::Text("bold".into())]),
            Inline::Text(" ".into()),
            Inline::Text("x".into()),
            Inline::Text(" (javascript:alert(1))".into()),
        ])])
    );
    let plain = post(&mut alice, "a-2", "just words").await;
    assert_eq!(plain.message.formatted, None, "plain text carries no tree");
    alice.send_frame(edit(2, "now `code`")).await;
    match alice.recv().await {
        ServerFrame::Edited { formatted, .. } => assert_eq!(
            formatted,
            Some(vec![Block::Paragraph(vec![
                Inline::Text("now ".into()),
                Inline::Code("code".into()),
            ])])
        ),
        other => panic!("expected the edit, got {other:?}"),
    }
    let (_bob, history) = server.join_after("bob", None).await;
    assert!(
        history.messages[1].message.formatted.is_some(),
        "pages carry it too"
    );
    server.stop().await;
}
