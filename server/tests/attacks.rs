//! Attacks by a client that read the protocol, each against a real
//! server (SQLite, or the shared Redis when the suite runs on it): the
//! attack fails, and everyone else is unhurt.

mod support;

use protocol::{Block, ClientFrame, ErrorCode, ServerFrame, FORMATTED_MAX_DEPTH};
use support::{join, Client, TestServer, DEFAULT_ROOM};

/// Posts `count` messages of `msg` and waits for each echo.
async fn post_many(client: &mut Client, prefix: &str, count: usize, msg: &str) -> Vec<u64> {
    let mut ids = Vec::new();
    for n in 0..count {
        client.say(&format!("{prefix}-{n}"), msg).await;
        ids.push(client.recv_message().await.message.id);
    }
    ids
}

/// The next text frame's size and the frame (presence and typing skipped).
async fn recv_sized(client: &mut Client) -> (usize, ServerFrame) {
    loop {
        let text = client.recv_text().await;
        let frame = ServerFrame::parse(&text).expect("server frames parse");
        if !matches!(
            frame,
            ServerFrame::Presence { .. } | ServerFrame::Typing { .. }
        ) {
            return (text.len(), frame);
        }
    }
}

/// A hundred posts of 2,000 emoji once made a room's greeting larger than
/// the write buffer: every newcomer was dropped. Now the greeting is paged
/// by bytes, and the rest is a `loadOlder` away, every message once.
#[tokio::test]
async fn a_room_of_huge_messages_still_greets_newcomers() {
    let server = TestServer::start().await;
    let mut attacker = server.join("mallory").await;
    let huge = "😀".repeat(protocol::MESSAGE_MAX_CHARS);
    let posted = post_many(&mut attacker, "big", 100, &huge).await;

    let mut newcomer = support::connect(server.addr, "newcomer", None).await;
    assert!(matches!(
        recv_sized(&mut newcomer).await.1,
        ServerFrame::Welcome { .. }
    ));
    let (bytes, frame) = recv_sized(&mut newcomer).await;
    let ServerFrame::History {
        messages,
        has_older,
        reset,
        ..
    } = frame
    else {
        panic!("a history frame");
    };
    assert!(bytes <= 300 * 1024, "the history frame is {bytes} bytes");
    assert!(reset && has_older, "a page of the newest, more before it");
    assert!(!messages.is_empty() && messages.len() < 100);
    let mut ids: Vec<u64> = messages.iter().map(|p| p.message.id).collect();
    assert_eq!(ids.last(), posted.last(), "the newest message is there");
    assert!(matches!(
        recv_sized(&mut newcomer).await.1,
        ServerFrame::Online { .. }
    ));
    // Older pages, each within the bound, bring back every message.
    let mut more = true;
    while more {
        newcomer
            .send_frame(ClientFrame::LoadOlder {
                before: ids[0],
                limit: protocol::HISTORY_PAGE_MAX,
                room: None,
            })
            .await;
        let (bytes, frame) = recv_sized(&mut newcomer).await;
        let ServerFrame::Older {
            messages,
            has_older,
            ..
        } = frame
        else {
            panic!("an older page");
        };
        assert!(bytes <= 300 * 1024, "an older page is {bytes} bytes");
        assert!(!messages.is_empty());
        let mut page: Vec<u64> = messages.iter().map(|p| p.message.id).collect();
        page.append(&mut ids);
        ids = page;
        more = has_older;
    }
    assert_eq!(ids, posted, "every message once, in order");

    // Resuming from the first message: too much to replay, so the room
    // starts over from its newest page (the client replaces what it had).
    let (_, history) = server.join_after("returning", Some(posted[0])).await;
    assert!(history.reset && history.has_older);
    assert_eq!(history.ids().last(), posted.last());
    // And the room still works for everyone.
    attacker.say("after", "still talking").await;
    assert_eq!(attacker.recv_message().await.message.msg, "still talking");
    server.stop().await;
}

/// An id of 2^63 or more once failed SQLite's whole batch: a bystander's
/// posts in it were refused and `/healthz` said 503. Now it is no message,
/// refused before any log, and nobody else notices.
#[tokio::test]
async fn ids_out_of_range_fail_nobody_else() {
    let server = TestServer::start().await;
    let mut attacker = server.join("mallory").await;
    let mut bystander = server.join("bob").await;
    let target = post_many(&mut bystander, "first", 1, "hello").await[0];
    for (n, id) in [1u64 << 63, u64::MAX, (1 << 63) + 7]
        .into_iter()
        .cycle()
        .take(30)
        .enumerate()
    {
        let attack = match n % 5 {
            0 => ClientFrame::Edit {
                room: None,
                id,
                msg: "x".into(),
            },
            1 => ClientFrame::Delete { room: None, id },
            2 => ClientFrame::React {
                room: None,
                id,
                emoji: "👍".into(),
                on: true,
            },
            3 => ClientFrame::Send {
                client_id: format!("m-{n}"),
                msg: "reply".into(),
                room: None,
                reply_to: Some(id),
            },
            _ => ClientFrame::Moderate {
                room: None,
                action: protocol::ModAction::Delete,
                target: None,
                id: Some(id),
                duration_s: None,
                reason: None,
                all_rooms: false,
            },
        };
        attacker.send_frame(attack).await;
        bystander
            .say(&format!("b-{n}"), &format!("message {n}"))
            .await;
    }
    let mut acknowledged = 0;
    while acknowledged < 30 {
        match bystander.recv().await {
            ServerFrame::Message { posted, .. } if posted.message.user == "bob" => {
                acknowledged += 1;
            }
            ServerFrame::Message { .. } => {}
            other => panic!("the bystander is refused: {other:?}"),
        }
    }
    for _ in 0..30 {
        match attacker.recv().await {
            ServerFrame::Error { code, .. } => assert_eq!(code, ErrorCode::NotFound),
            ServerFrame::Message { .. } => {}
            other => panic!("expected not_found, got {other:?}"),
        }
    }
    let (status, body) = server.get("/healthz").await;
    assert_eq!(status, 200, "{body}");
    // The real message is untouched.
    let (_, history) = server.join_after("later", None).await;
    let first = &history.messages[0].message;
    assert_eq!((first.id, first.msg.as_str()), (target, "hello"));
    assert!(first.reactions.is_empty() && !first.deleted);
    server.stop().await;
}

/// A message nested 2,000 deep once made every page it was on unreadable
/// (the client's JSON decoder stops at depth 128): the room showed "No
/// messages yet". Its tree is now bounded, its words kept.
#[tokio::test]
async fn deeply_nested_markdown_never_hides_a_page() {
    let server = TestServer::start().await;
    let mut attacker = server.join("mallory").await;
    let deep = format!("{}bottom", ">".repeat(1_990));
    let lists: String = (0..40)
        .map(|level| format!("{}- x\n", "  ".repeat(level)))
        .collect();
    attacker.say("deep", &deep).await;
    attacker.recv_message().await;
    attacker.say("lists", &lists).await;
    attacker.recv_message().await;
    attacker.say("plain", "an ordinary message").await;
    attacker.recv_message().await;
    // `join` parses every frame with the client's own decoder.
    let (_, history) = server.join_after("reader", None).await;
    assert_eq!(history.messages.len(), 3, "the whole page reads");
    for posted in &history.messages {
        for block in posted.message.formatted.iter().flatten() {
            assert!(block.depth() <= FORMATTED_MAX_DEPTH);
        }
    }
    let Some(tree) = &history.messages[0].message.formatted else {
        panic!("the quote is formatted");
    };
    let mut json = serde_json::to_string(tree).expect("json");
    json.retain(|c| c != '"');
    assert!(json.contains("bottom"), "the words are kept: {json}");
    assert!(matches!(tree[0], Block::Quote(_)));
    server.stop().await;
}

/// Joining a room the connection is in once resent its whole history
/// every time (2.3 KB of joins made 160 MB). Now it sends nothing.
#[tokio::test]
async fn joining_a_room_again_sends_nothing() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    post_many(&mut alice, "a", 20, &"words ".repeat(100)).await;
    alice
        .send_frame(ClientFrame::Join {
            room: "rust".into(),
            after: None,
        })
        .await;
    assert!(matches!(alice.recv().await, ServerFrame::History { .. }));
    assert!(matches!(alice.recv().await, ServerFrame::Online { .. }));
    for _ in 0..200 {
        for room in [DEFAULT_ROOM, "rust", "Rust"] {
            alice
                .send_frame(ClientFrame::Join {
                    room: room.into(),
                    after: None,
                })
                .await;
        }
    }
    alice.send_frame(ClientFrame::Ping).await;
    match alice.recv().await {
        ServerFrame::Pong => {}
        other => panic!("a join again answered {other:?}"),
    }
    server.stop().await;
}

/// A join's history is paid for from the address's history budget, as
/// older pages are: joining room after room of history runs out of it.
#[tokio::test]
async fn joins_pay_for_their_history() {
    let server = TestServer::start_with(|config| {
        config.history_rate_bytes = 1;
        config.history_burst_bytes = 60 * 1024;
    })
    .await;
    let mut writer = server.join("writer").await;
    for room in ["r1", "r2", "r3", "r4"] {
        writer
            .send_frame(ClientFrame::Join {
                room: room.into(),
                after: None,
            })
            .await;
        loop {
            if let ServerFrame::Online { .. } = writer.recv().await {
                break;
            }
        }
        for n in 0..30 {
            writer
                .send_frame(ClientFrame::Send {
                    client_id: format!("{room}-{n}"),
                    msg: "x".repeat(1_000),
                    room: Some(room.into()),
                    reply_to: None,
                })
                .await;
            loop {
                if let ServerFrame::Message { .. } = writer.recv().await {
                    break;
                }
            }
        }
    }
    let (mut reader, _) = join(server.addr, "reader", None).await;
    let mut refused = false;
    for room in ["r1", "r2", "r3", "r4"] {
        reader
            .send_frame(ClientFrame::Join {
                room: room.into(),
                after: None,
            })
            .await;
        match reader.recv().await {
            ServerFrame::History { .. } => {
                assert!(matches!(reader.recv().await, ServerFrame::Online { .. }));
            }
            ServerFrame::Error {
                code: ErrorCode::RateLimited,
                retry_after_ms,
                room: refused_room,
                ..
            } => {
                assert!(retry_after_ms.is_some_and(|ms| ms > 0));
                assert_eq!(refused_room.as_deref(), Some(room));
                refused = true;
                break;
            }
            other => panic!("expected a history or a refusal, got {other:?}"),
        }
    }
    assert!(
        refused,
        "four rooms of 30 KB each do not fit a 60 KB budget"
    );
    server.stop().await;
}

/// A guest `name` from the browser `token`, greeted.
async fn browser(server: &TestServer, name: &str, token: &str) -> Client {
    let query = format!("user={name}&token={token}");
    let mut client = support::try_connect(server.addr, &query, None)
        .await
        .expect("connects");
    support::welcomed(&mut client).await;
    client
}

/// The answer to `client`'s `send` of `msg` as `client_id`: the message
/// acknowledged, or the refusal's code.
async fn send_answer(client: &mut Client, client_id: &str, msg: &str) -> Result<String, ErrorCode> {
    client.say(client_id, msg).await;
    loop {
        match client.recv().await {
            ServerFrame::Message { posted, .. } if posted.client_id == client_id => {
                return Ok(posted.message.msg)
            }
            ServerFrame::Error {
                code,
                client_id: Some(refused),
                ..
            } if refused == client_id => return Err(code),
            _ => {}
        }
    }
}

/// A `clientId` seen before once made any new message under it an
/// acknowledged resend of the old one: the new text was lost. A resend is
/// now the same browser with the same words; anything else is refused.
#[tokio::test]
async fn a_reused_client_id_is_refused_never_taken_for_a_resend() {
    let server = TestServer::start().await;
    let mut watcher = server.join("watcher").await;
    let mut botty = browser(&server, "botty", "browser-one").await;
    assert_eq!(
        send_answer(&mut botty, "c1", "first text").await,
        Ok("first text".into())
    );
    assert_eq!(watcher.recv_message().await.message.msg, "first text");
    drop(botty);

    // Restarted with its counter at c1 again: other words, refused.
    let mut botty = browser(&server, "botty", "browser-one").await;
    assert_eq!(
        send_answer(&mut botty, "c1", "SECOND, different text").await,
        Err(ErrorCode::ClientIdReused)
    );
    // The same words from the same browser: a resend, answered with the
    // original, to the sender alone.
    assert_eq!(
        send_answer(&mut botty, "c1", "first text").await,
        Ok("first text".into())
    );
    drop(botty);
    // Another browser with the same name and words: not a resend.
    let mut other = browser(&server, "botty", "browser-two").await;
    assert_eq!(
        send_answer(&mut other, "c1", "first text").await,
        Err(ErrorCode::ClientIdReused)
    );
    // Once edited, the words posted are gone: the same browser's resend
    // is still recognised by the browser.
    assert_eq!(
        send_answer(&mut other, "c2", "to be edited").await,
        Ok("to be edited".into())
    );
    let id = watcher.recv_message().await.message.id;
    other
        .send_frame(ClientFrame::Edit {
            room: None,
            id,
            msg: "edited".into(),
        })
        .await;
    loop {
        if let ServerFrame::Edited { .. } = watcher.recv().await {
            break;
        }
    }
    assert_eq!(
        send_answer(&mut other, "c2", "to be edited").await,
        Ok("edited".into())
    );
    // The watcher saw two messages, and nothing of the refused sends.
    watcher.send_frame(ClientFrame::Ping).await;
    assert_eq!(watcher.recv().await, ServerFrame::Pong);
    let (_, history) = server.join_after("later", None).await;
    let texts: Vec<&str> = history
        .messages
        .iter()
        .map(|p| p.message.msg.as_str())
        .collect();
    assert_eq!(texts, ["first text", "edited"]);
    server.stop().await;
}

/// Once, a socket kept posting 45 s after its browser signed out. Signing
/// out now closes what the session let in, and nothing else.
#[tokio::test]
async fn signing_out_closes_the_session_s_connections() {
    use support::{api, session_cookie, sign_in, welcomed, ws_with_cookie};
    let server = TestServer::start().await;
    let addr = server.addr;
    let cookie = support::claim(addr, "member", "long enough").await;
    let phone = session_cookie(&sign_in(addr, "member", Some("long enough")).await);
    let mut laptop_socket = ws_with_cookie(addr, "", &cookie).await;
    welcomed(&mut laptop_socket).await;
    let mut phone_socket = ws_with_cookie(addr, "", &phone).await;
    welcomed(&mut phone_socket).await;
    // A guest signed in by a session of its own, too.
    let guest = session_cookie(&sign_in(addr, "visitor", None).await);
    let mut guest_socket = ws_with_cookie(addr, "", &guest).await;
    welcomed(&mut guest_socket).await;

    for (cookie, socket) in [(&cookie, &mut laptop_socket), (&guest, &mut guest_socket)] {
        let out = api(addr, "DELETE", "/api/session", Some(cookie), None).await;
        assert_eq!(out.status, 204, "{}", out.body);
        let close = socket.recv_close().await.expect("a close frame");
        assert_eq!(u16::from(close.code), 1008, "{close:?}");
    }
    // The phone's session is its own: still in, still posting.
    assert_eq!(
        send_answer(&mut phone_socket, "p-1", "still here").await,
        Ok("still here".into())
    );
    server.stop().await;
}

/// With several instances, a sign-out on one closes the session's
/// connections on the others.
#[tokio::test]
async fn a_sign_out_reaches_every_instance() {
    use support::{api, session_cookie, sign_in, welcomed, ws_with_cookie};
    let redis = support::RedisServer::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let config = support::on_redis(&redis, &data);
    let first = support::spawn_server(config.clone()).await;
    let second = support::spawn_server(config).await;
    let cookie = session_cookie(&sign_in(first.addr, "visitor", None).await);
    let mut socket = ws_with_cookie(second.addr, "room=elsewhere", &cookie).await;
    welcomed(&mut socket).await;
    let out = api(first.addr, "DELETE", "/api/session", Some(&cookie), None).await;
    assert_eq!(out.status, 204, "{}", out.body);
    let close = socket.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    first.stop().await;
    second.stop().await;
}

/// Joins `room` on `client`'s connection: whether it was let in (else
/// refused with `room_limit_reached`).
async fn joined(client: &mut Client, room: &str) -> bool {
    client
        .send_frame(ClientFrame::Join {
            room: room.into(),
            after: None,
        })
        .await;
    loop {
        match client.recv().await {
            ServerFrame::History { room: r, .. } if r == room => {}
            ServerFrame::Online { room: r, .. } if r == room => return true,
            ServerFrame::Error {
                code: ErrorCode::RoomLimitReached,
                room: Some(r),
                ..
            } if r == room => return false,
            _ => {}
        }
    }
}

/// Once, fifty addresses filled `--max-rooms` with empty rooms in ten
/// seconds, and nobody could enter the rooms they talk in, the default
/// room included. New rooms still have a cap (and one per address), but
/// the default room and rooms with history are always let in.
#[tokio::test]
async fn empty_rooms_never_shut_anyone_out_of_rooms_with_history() {
    use std::net::Ipv4Addr;
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = support::test_config(&data);
    {
        let before = support::spawn_server(config.clone()).await;
        let (mut poster, _) = join(before.addr, "poster", None).await;
        assert!(joined(&mut poster, "old").await);
        poster
            .send_frame(ClientFrame::Send {
                client_id: "p-1".into(),
                msg: "history".into(),
                room: Some("old".into()),
                reply_to: None,
            })
            .await;
        poster.recv_message().await;
        before.stop().await;
    }
    config.max_rooms = 4;
    config.max_rooms_per_address = 2;
    let server = support::spawn_server(config).await;
    let addr = server.addr;
    // Attackers at two addresses, in a room of their own each (not the
    // default room), open new rooms until refused.
    let mut opened = 0;
    let mut attackers = Vec::new();
    for host in [2, 3] {
        let source = Ipv4Addr::new(127, 0, 0, host);
        let query = format!("user=m{host}&token=m{host}&room=m{host}-0");
        let mut attacker = support::ws_from(source, addr, &query, &[]).await;
        support::welcomed(&mut attacker).await;
        opened += 1;
        for n in 1..5 {
            if joined(&mut attacker, &format!("m{host}-{n}")).await {
                opened += 1;
            } else {
                break;
            }
        }
        attackers.push(attacker);
    }
    // Two each (their URL's room and one more): the address's cap.
    assert_eq!(opened, 4);
    // The server holds four rooms: a new one is refused to anyone ...
    let (mut carol, _) = join(addr, "carol", None).await;
    assert!(!joined(&mut carol, "brand-new").await);
    // ... but the default room (carol is in it) and rooms with history
    // are let in.
    assert!(joined(&mut carol, "old").await);
    server.stop().await;
}

/// API tokens were once unlimited, permanent and full power. Each now has
/// a name and a life, is listed and revoked one by one (its connections
/// close), and a name holds a bounded number.
#[tokio::test]
async fn tokens_are_named_listed_and_revoked_one_by_one() {
    use serde_json::json;
    use support::{api, json_of, welcomed, ws};
    let server = TestServer::start().await;
    let addr = server.addr;
    let cookie = support::claim(addr, "owner", "long enough").await;
    let made = api(
        addr,
        "POST",
        "/api/tokens",
        Some(&cookie),
        Some(json!({"name": "deploy bot", "expiresInDays": 30})),
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let made = json_of(&made);
    let (token, id) = (
        made["token"].as_str().expect("token"),
        made["id"].as_str().expect("id"),
    );
    assert_eq!(made["name"], "deploy bot");
    let expires = made["expiresAt"].as_i64().expect("expiresAt");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64;
    let day = 24 * 3600 * 1000;
    assert!(
        (29 * day..=30 * day).contains(&(expires - now)),
        "{expires}"
    );
    for bad in [
        json!({"expiresInDays": 0}),
        json!({"expiresInDays": 366}),
        json!({"name": "x".repeat(41)}),
        json!({"name": "bell\u{7}"}),
    ] {
        let refused = api(
            addr,
            "POST",
            "/api/tokens",
            Some(&cookie),
            Some(bad.clone()),
        )
        .await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
    }
    // Without a body: a year, no name.
    let plain = api(addr, "POST", "/api/tokens", Some(&cookie), None).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    let listed = json_of(&api(addr, "GET", "/api/tokens", Some(&cookie), None).await);
    let names: Vec<&str> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|token| token["name"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(names, ["deploy bot", "-"], "{listed}");
    assert!(
        listed.to_string().find(token).is_none(),
        "the token itself is never listed"
    );

    let bearer = [("authorization", format!("Bearer {token}"))];
    let mut bot = ws(addr, "", &bearer).await;
    assert_eq!(welcomed(&mut bot).await, ("owner".into(), true));
    // Nobody else revokes it: another name, or no session.
    let other = support::claim(addr, "other", "long enough").await;
    let path = format!("/api/tokens/{id}");
    assert_eq!(
        api(addr, "DELETE", &path, Some(&other), None).await.status,
        404
    );
    assert_eq!(api(addr, "DELETE", &path, None, None).await.status, 401);
    let revoked = api(addr, "DELETE", &path, Some(&cookie), None).await;
    assert_eq!(revoked.status, 204, "{}", revoked.body);
    let close = bot.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    let mut again = ws(addr, "", &bearer).await;
    assert_eq!(support::refused(&mut again).await, ErrorCode::NotSignedIn);
    assert_eq!(
        api(addr, "DELETE", &path, Some(&cookie), None).await.status,
        404
    );
    server.stop().await;
}

/// A name holds at most `TOKENS_MAX` tokens, however many instances mint
/// them (each instance's budget alone would allow ten at once).
#[tokio::test]
async fn a_name_holds_a_bounded_number_of_tokens() {
    use support::api;
    let redis = support::RedisServer::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let config = support::on_redis(&redis, &data);
    let first = support::spawn_server(config.clone()).await;
    let second = support::spawn_server(config.clone()).await;
    let third = support::spawn_server(config).await;
    let cookie = support::claim(first.addr, "owner", "long enough").await;
    let mut answers = Vec::new();
    // Ten from each of two instances, then one more from a third.
    for n in 0..=protocol::TOKENS_MAX {
        let addr = [first.addr, second.addr, third.addr][n / 10];
        answers.push(
            api(addr, "POST", "/api/tokens", Some(&cookie), None)
                .await
                .status,
        );
    }
    assert_eq!(
        answers[..protocol::TOKENS_MAX],
        [200; protocol::TOKENS_MAX],
        "{answers:?}"
    );
    assert_eq!(answers[protocol::TOKENS_MAX], 409, "{answers:?}");
    for server in [first, second, third] {
        server.stop().await;
    }
}

/// A claim and a password change once left the session's secret as it
/// was: a copy of the cookie taken before stayed good for 30 days. Both
/// now give the browser a new one, and the old one stops working; what
/// the browser posted as a guest before the claim stays its own.
#[tokio::test]
async fn a_claim_and_a_password_change_rotate_the_session() {
    use serde_json::json;
    use support::{api, session_cookie, sign_in, welcomed, ws_with_cookie};
    let server = TestServer::start().await;
    let addr = server.addr;
    let guest = session_cookie(&sign_in(addr, "keeper", None).await);
    let mut socket = ws_with_cookie(addr, "", &guest).await;
    welcomed(&mut socket).await;
    assert_eq!(
        send_answer(&mut socket, "g-1", "posted as a guest").await,
        Ok("posted as a guest".into())
    );
    drop(socket);
    let claim = api(
        addr,
        "POST",
        "/api/claim",
        Some(&guest),
        Some(json!({"password": "long enough"})),
    )
    .await;
    assert_eq!(claim.status, 200, "{}", claim.body);
    let claimed = session_cookie(&claim);
    assert_ne!(claimed, guest, "a new secret");
    let who = |cookie: String| async move {
        api(addr, "GET", "/api/session", Some(&cookie), None)
            .await
            .status
    };
    assert_eq!(who(guest.clone()).await, 401, "the old secret is gone");
    assert_eq!(who(claimed.clone()).await, 200);
    let changed = api(
        addr,
        "POST",
        "/api/password",
        Some(&claimed),
        Some(json!({"current": "long enough", "password": "longer than that"})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let rotated = session_cookie(&changed);
    assert_eq!(who(claimed).await, 401, "the old secret is gone");
    assert_eq!(who(rotated.clone()).await, 200);
    // The message posted as a guest is still this browser's to edit.
    let mut socket = ws_with_cookie(addr, "", &rotated).await;
    assert_eq!(welcomed(&mut socket).await, ("keeper".into(), true));
    socket
        .send_frame(ClientFrame::Edit {
            room: None,
            id: 1,
            msg: "edited once claimed".into(),
        })
        .await;
    loop {
        match socket.recv().await {
            ServerFrame::Edited { id, msg, .. } => {
                assert_eq!((id, msg.as_str()), (1, "edited once claimed"));
                break;
            }
            ServerFrame::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
            _ => {}
        }
    }
    server.stop().await;
}

/// Every edit's text was once kept for ever: a message edited a thousand
/// times held a thousand texts. The log keeps what the message says now
/// and its newest edit (all a resuming client needs), on both logs;
/// Redis keeps the post's own stream entry too (a stream entry cannot be
/// rewritten, and a client resuming from before the post reads it): two
/// texts at most, however often it is edited.
#[tokio::test]
async fn a_message_keeps_its_newest_text_only() {
    let data = tempfile::tempdir().expect("temp dir");
    let config = support::test_config(&data);
    let server = support::spawn_server(config.clone()).await;
    let (mut author, before) = server.join_after("author", None).await;
    author.say("c-1", "edit number 0.").await;
    let id = author.recv_message().await.message.id;
    for n in 1..=30 {
        author
            .send_frame(ClientFrame::Edit {
                room: None,
                id,
                msg: format!("edit number {n}."),
            })
            .await;
        loop {
            if let ServerFrame::Edited { msg, .. } = author.recv().await {
                assert_eq!(msg, format!("edit number {n}."));
                break;
            }
        }
    }
    // A client from before the edits hears the newest one only.
    let (_resumed, history) = server.join_after("reader", before.seq).await;
    let edits: Vec<&str> = history
        .replay
        .iter()
        .filter_map(|frame| match frame {
            ServerFrame::Edited { msg, .. } => Some(msg.as_str()),
            _ => None,
        })
        .collect();
    let shown: Vec<&str> = history
        .messages
        .iter()
        .map(|p| p.message.msg.as_str())
        .collect();
    assert!(
        edits == ["edit number 30."] || (edits.is_empty() && shown == ["edit number 30."]),
        "replayed {edits:?} over {shown:?}"
    );
    // What is stored holds no earlier text.
    let stored = match &config.redis_url {
        None => {
            let db = rusqlite::Connection::open(&config.db).expect("the database opens");
            let mut statement = db
                .prepare("SELECT coalesce(body, '') FROM events WHERE room IS NOT NULL")
                .expect("a query");
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .expect("rows");
            rows.map(|row| row.expect("a body"))
                .collect::<Vec<_>>()
                .join("\n")
        }
        Some(url) => {
            let client = redis::Client::open(url.as_str()).expect("a Redis URL");
            let mut redis = client
                .get_multiplexed_async_connection()
                .await
                .expect("Redis answers");
            let log = format!("{{{}:{}}}:log", config.redis_prefix, config.default_room);
            let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&log)
                .arg("-")
                .arg("+")
                .query_async(&mut redis)
                .await
                .expect("the log reads");
            format!("{entries:?}")
        }
    };
    assert!(stored.contains("edit number 30."), "{stored}");
    let first_kept = if config.redis_url.is_some() { 1 } else { 0 };
    for n in first_kept..30 {
        assert!(
            !stored.contains(&format!("edit number {n}.")),
            "{n}: {stored}"
        );
    }
    server.stop().await;
}
