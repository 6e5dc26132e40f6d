//! Names people keep: claiming a name, signing in with its password,
//! sessions (cookies) and API tokens, look-alike names; over real sockets,
//! on the SQLite file or the shared Redis.

mod support;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use serde_json::json;
use std::net::SocketAddr;
use support::{
    api, http_call, json_of, refused, session_cookie, sign_in, welcomed, ws, ws_with_cookie,
    TestServer,
};

const PASSWORD: &str = "correct horse";

async fn guest(addr: SocketAddr, user: &str, token: &str) -> support::Client {
    support::try_connect(
        addr,
        &format!("user={}&token={token}", urlencoding::encode(user)),
        None,
    )
    .await
    .expect("websocket connects")
}

/// alice signs in as a guest and claims her name; returns her cookie.
async fn claimed_alice(addr: SocketAddr) -> String {
    let cookie = session_cookie(&sign_in(addr, "alice", None).await);
    claim_alice(addr, &cookie).await
}

/// The guest session `cookie` of alice claims her name with [`PASSWORD`]:
/// the session's new cookie (a claim rotates its secret).
async fn claim_alice(addr: SocketAddr, cookie: &str) -> String {
    let claimed = api(
        addr,
        "POST",
        "/api/claim",
        Some(cookie),
        Some(json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(claimed.status, 200, "{}", claimed.body);
    assert_eq!(json_of(&claimed), json!({"user": "alice", "claimed": true}));
    session_cookie(&claimed)
}

#[tokio::test]
async fn names_that_look_alike_are_one_name() {
    let server = TestServer::start().await;
    let _alice = server.join("alice").await;
    for look_alike in [
        "Alice",
        "\u{430}lice",
        "\u{FF41}\u{FF4C}\u{FF49}\u{FF43}\u{FF45}",
    ] {
        let mut client = guest(server.addr, look_alike, "another-browser").await;
        assert_eq!(
            refused(&mut client).await,
            ErrorCode::UsernameTaken,
            "{look_alike:?}"
        );
    }
    for blank in ["\u{3164}", "\u{2800}", "\u{3164}\u{2800}", "\u{115F}"] {
        let mut client = guest(server.addr, blank, "t").await;
        assert_eq!(
            refused(&mut client).await,
            ErrorCode::InvalidUsername,
            "{blank:?}"
        );
    }
    let refused_guest = sign_in(server.addr, "\u{430}lice", None).await;
    assert_eq!(refused_guest.status, 409, "{}", refused_guest.body);
    assert_eq!(json_of(&refused_guest)["code"], "username_taken");
    server.stop().await;
}

#[tokio::test]
async fn a_claimed_name_takes_its_password_on_any_device() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let guest_cookie = session_cookie(&sign_in(addr, "alice", None).await);
    let mut first = ws_with_cookie(addr, "", &guest_cookie).await;
    assert_eq!(welcomed(&mut first).await, ("alice".into(), false));
    let short = api(
        addr,
        "POST",
        "/api/claim",
        Some(&guest_cookie),
        Some(json!({"password": "short"})),
    )
    .await;
    assert_eq!(short.status, 400);
    assert_eq!(json_of(&short)["code"], "invalid_password");
    let claimed = api(
        addr,
        "POST",
        "/api/claim",
        Some(&guest_cookie),
        Some(json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(json_of(&claimed), json!({"user": "alice", "claimed": true}));
    // The session goes on under a new secret; the guest's is gone.
    let guest_cookie = session_cookie(&claimed);
    drop(first);

    // A guest cannot have it, online or not, nor anything like it.
    for look_alike in ["alice", "ALICE", "\u{430}lice", "\u{FF41}lice"] {
        let mut client = guest(addr, look_alike, "someone-else").await;
        assert_eq!(
            refused(&mut client).await,
            ErrorCode::NameClaimed,
            "{look_alike:?}"
        );
        let response = sign_in(addr, look_alike, None).await;
        assert_eq!(response.status, 409);
        assert_eq!(json_of(&response)["code"], "name_claimed");
        assert_eq!(
            json_of(&response)["message"],
            "This name is protected; enter its password."
        );
    }
    let wrong = sign_in(addr, "alice", Some("not the password")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(json_of(&wrong)["code"], "wrong_password");
    assert!(wrong.header("set-cookie").is_none());

    // A second browser signs in with the password: both are alice.
    let second_cookie = session_cookie(&sign_in(addr, "ALICE", Some(PASSWORD)).await);
    let who = api(addr, "GET", "/api/session", Some(&second_cookie), None).await;
    assert_eq!(json_of(&who), json!({"user": "alice", "claimed": true}));
    let mut laptop = ws_with_cookie(addr, "room=lobby", &guest_cookie).await;
    assert_eq!(welcomed(&mut laptop).await, ("alice".into(), true));
    let mut phone = ws_with_cookie(addr, "", &second_cookie).await;
    assert_eq!(welcomed(&mut phone).await, ("alice".into(), true));
    server.stop().await;
}

#[tokio::test]
async fn a_password_change_signs_out_every_other_session() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let first = claimed_alice(addr).await;
    let second = session_cookie(&sign_in(addr, "alice", Some(PASSWORD)).await);
    let token = api(addr, "POST", "/api/tokens", Some(&second), None).await;
    assert_eq!(token.status, 200, "{}", token.body);
    let token = json_of(&token)["token"]
        .as_str()
        .expect("a token")
        .to_owned();

    // A device of the name, connected while the password changes.
    let mut connected = ws_with_cookie(addr, "", &second).await;
    assert_eq!(welcomed(&mut connected).await, ("alice".into(), true));
    let wrong = api(
        addr,
        "POST",
        "/api/password",
        Some(&first),
        Some(json!({"current": "not it at all", "password": "a new password"})),
    )
    .await;
    assert_eq!(json_of(&wrong)["code"], "wrong_password");
    let changed = api(
        addr,
        "POST",
        "/api/password",
        Some(&first),
        Some(json!({"current": PASSWORD, "password": "a new password"})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let close = connected.recv_close().await.expect("signed out at once");
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.contains("password changed"), "{close:?}");

    let who = api(addr, "GET", "/api/session", Some(&second), None).await;
    assert_eq!(who.status, 401);
    assert_eq!(json_of(&who)["code"], "not_signed_in");
    let mut signed_out = ws_with_cookie(addr, "", &second).await;
    assert_eq!(refused(&mut signed_out).await, ErrorCode::NotSignedIn);
    let mut old_token = ws(addr, "", &[("authorization", format!("Bearer {token}"))]).await;
    assert_eq!(refused(&mut old_token).await, ErrorCode::NotSignedIn);
    // The session that changed it goes on, under a new secret (the copy
    // of the old one a thief may hold is worth nothing).
    let rotated = session_cookie(&changed);
    let mut still_in = ws_with_cookie(addr, "", &rotated).await;
    assert_eq!(welcomed(&mut still_in).await, ("alice".into(), true));
    let mut old_copy = ws_with_cookie(addr, "", &first).await;
    assert_eq!(refused(&mut old_copy).await, ErrorCode::NotSignedIn);
    assert_eq!(sign_in(addr, "alice", Some(PASSWORD)).await.status, 401);
    session_cookie(&sign_in(addr, "alice", Some("a new password")).await);
    server.stop().await;
}

#[tokio::test]
async fn an_api_token_lets_a_script_in_as_the_claimed_name() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let cookie = claimed_alice(addr).await;
    let token = api(addr, "POST", "/api/tokens", Some(&cookie), None).await;
    let token = json_of(&token)["token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let bearer = [("authorization", format!("Bearer {token}"))];
    let mut bot = ws(addr, "", &bearer).await;
    assert_eq!(welcomed(&mut bot).await, ("alice".into(), true));
    let mut named = ws(addr, "user=alice&room=rust", &bearer).await;
    assert_eq!(welcomed(&mut named).await, ("alice".into(), true));
    // A guest has no tokens to give.
    let guest_cookie = session_cookie(&sign_in(addr, "bob", None).await);
    let refused = api(addr, "POST", "/api/tokens", Some(&guest_cookie), None).await;
    assert_eq!(refused.status, 403);
    assert_eq!(json_of(&refused)["code"], "not_signed_in");
    // A token opens the WebSocket only: presented as the session cookie,
    // it neither mints tokens nor changes the password nor says who it is.
    for (method, path, body) in [
        ("POST", "/api/tokens", None),
        ("GET", "/api/session", None),
        (
            "POST",
            "/api/password",
            Some(json!({"current": PASSWORD, "password": "taken over now"})),
        ),
    ] {
        let answer = api(addr, method, path, Some(&token), body).await;
        assert_eq!(answer.status, 401, "{method} {path}: {}", answer.body);
    }
    assert_eq!(sign_in(addr, "alice", Some(PASSWORD)).await.status, 200);
    // Tokens are minted ten at once at most, then one every few minutes.
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(
            api(addr, "POST", "/api/tokens", Some(&cookie), None)
                .await
                .status,
        );
    }
    assert_eq!(answers[..9], [200; 9], "{answers:?}");
    assert_eq!(answers[9], 429, "{answers:?}");
    server.stop().await;
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let cookie = session_cookie(&sign_in(addr, "carol", None).await);
    let out = api(addr, "DELETE", "/api/session", Some(&cookie), None).await;
    assert_eq!(out.status, 204);
    let cleared = out.header("set-cookie").expect("the cookie cleared");
    assert!(cleared.starts_with("chat_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let who = api(addr, "GET", "/api/session", Some(&cookie), None).await;
    assert_eq!(who.status, 401);
    let mut client = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(refused(&mut client).await, ErrorCode::NotSignedIn);
    // `?user=` still lets a guest in, cookie or not.
    let mut client = ws_with_cookie(addr, "user=carol", &cookie).await;
    assert_eq!(welcomed(&mut client).await, ("carol".into(), false));
    server.stop().await;
}

/// A name `user` claimed with [`PASSWORD`].
async fn claimed_name(addr: SocketAddr, user: &str) {
    support::claim(addr, user, PASSWORD).await;
}

#[tokio::test]
async fn password_attempts_are_limited_per_name_and_per_address() {
    let server = TestServer::start_with(|config| config.address_sign_ins_per_minute = 8).await;
    let addr = server.addr;
    claimed_alice(addr).await;
    claimed_name(addr, "carol").await;
    let others = ["dave", "erin", "frank", "grace", "heidi", "ivan"];
    for user in others {
        claimed_name(addr, user).await;
    }
    // Once, five sign-ins as a name nobody claimed used up the address's
    // budget and shut its members out: only wrong guesses count.
    for n in 0..30 {
        let guest = sign_in(addr, &format!("guest{n}"), Some("any password")).await;
        assert_eq!(guest.status, 200, "{}", guest.body);
    }
    for _ in 0..3 {
        let right = sign_in(addr, "carol", Some(PASSWORD)).await;
        assert_eq!(right.status, 200, "{}", right.body);
    }
    for _ in 0..5 {
        let wrong = sign_in(addr, "alice", Some("guessing away")).await;
        assert_eq!(wrong.status, 401);
    }
    for (user, password) in [("alice", PASSWORD), ("Alice", "guessing away")] {
        let limited = sign_in(addr, user, Some(password)).await;
        assert_eq!(limited.status, 429, "{user}: {}", limited.body);
        let body = json_of(&limited);
        assert_eq!(body["code"], "rate_limited");
        let wait = body["retryAfterMs"].as_u64().expect("retryAfterMs");
        assert!((1..=12_000).contains(&wait), "{wait}");
        assert!(limited.header("retry-after").is_some());
    }
    // The address is not shut out by one name's guesses: carol still
    // signs in, and so does a guest.
    assert_eq!(sign_in(addr, "carol", Some(PASSWORD)).await.status, 200);
    assert_eq!(sign_in(addr, "bob", Some("x")).await.status, 200);
    // Guesses spread over names, once each, run into the address's own
    // limit (8 a minute here, 5 spent on alice; a token or so may have
    // come back since).
    let mut answers = Vec::new();
    for user in others {
        let answer = sign_in(addr, user, Some("guessing away")).await.status;
        answers.push(answer);
        if answer == 429 {
            break;
        }
    }
    assert_eq!(answers.last(), Some(&429), "{answers:?}");
    assert!(
        answers[..answers.len() - 1].iter().all(|&a| a == 401),
        "{answers:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn requests_that_change_state_must_come_from_the_chat_s_pages() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let cookie = claimed_alice(addr).await;
    let cookie_header = format!("chat_session={cookie}");
    let calls = [
        ("POST", "/api/session", r#"{"user":"mallory"}"#),
        ("DELETE", "/api/session", ""),
        ("POST", "/api/claim", r#"{"password":"12345678910"}"#),
        (
            "POST",
            "/api/password",
            r#"{"current":"correct horse","password":"pwned pwned"}"#,
        ),
        ("POST", "/api/tokens", ""),
    ];
    for (method, path, body) in calls {
        let response = http_call(
            addr,
            method,
            path,
            &[
                ("origin", "http://evil.example"),
                ("cookie", &cookie_header),
            ],
            Some(body),
        )
        .await;
        assert_eq!(response.status, 403, "{method} {path}: {}", response.body);
        assert_eq!(json_of(&response)["code"], "forbidden_origin");
    }
    // Nothing changed: the session and the password are as they were.
    let who = api(addr, "GET", "/api/session", Some(&cookie), None).await;
    assert_eq!(json_of(&who), json!({"user": "alice", "claimed": true}));
    session_cookie(&sign_in(addr, "alice", Some(PASSWORD)).await);
    // The chat's own page is let through.
    let own = format!("http://{addr}");
    let response = http_call(
        addr,
        "POST",
        "/api/session",
        &[("origin", &own)],
        Some(r#"{"user":"dave"}"#),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    server.stop().await;
}

#[tokio::test]
async fn the_cookie_is_secure_over_https() {
    let server = TestServer::start_with(|config| {
        config.public_origins = vec!["https://chat.example".into()];
    })
    .await;
    let response = sign_in(server.addr, "erin", None).await;
    let set = response.header("set-cookie").expect("a cookie");
    assert!(set.ends_with("; Secure"), "{set}");
    server.stop().await;

    let server = TestServer::start_with(|config| config.behind_proxy = true).await;
    let plain = sign_in(server.addr, "erin", None).await;
    let set = plain.header("set-cookie").expect("a cookie");
    assert!(!set.contains("Secure"), "{set}");
    let body = r#"{"user":"frank"}"#;
    let proxied = http_call(
        server.addr,
        "POST",
        "/api/session",
        &[("x-forwarded-proto", "https")],
        Some(body),
    )
    .await;
    let set = proxied.header("set-cookie").expect("a cookie");
    assert!(set.ends_with("; Secure"), "{set}");
    server.stop().await;
}

#[tokio::test]
async fn bad_bodies_get_a_clear_refusal() {
    let server = TestServer::start().await;
    let addr = server.addr;
    for body in ["", "{", r#"{"name":"alice"}"#, r#"{"user":7}"#] {
        let response = http_call(addr, "POST", "/api/session", &[], Some(body)).await;
        assert_eq!(response.status, 400, "{body:?}");
        assert_eq!(json_of(&response)["code"], "invalid_fields", "{body:?}");
    }
    let blank = sign_in(addr, "\u{2800}", None).await;
    assert_eq!(json_of(&blank)["code"], "invalid_username");
    let huge = json!({"user": "alice", "password": "x".repeat(10_000)}).to_string();
    let response = http_call(addr, "POST", "/api/session", &[], Some(&huge)).await;
    assert_eq!(response.status, 413, "{}", response.body);
    server.stop().await;
}

#[tokio::test]
async fn a_claim_survives_a_restart_and_holds_on_every_instance() {
    let data = tempfile::tempdir().expect("temp dir");
    let first = support::spawn_server(support::test_config(&data)).await;
    let cookie = claimed_alice(first.addr).await;
    if support::shared_redis().is_some() {
        // Another instance on the same Redis: the claim and the session
        // made through the first hold here at once.
        let second = support::spawn_server(support::test_config(&data)).await;
        let mut client = guest(second.addr, "alice", "elsewhere").await;
        assert_eq!(refused(&mut client).await, ErrorCode::NameClaimed);
        let mut client = ws_with_cookie(second.addr, "", &cookie).await;
        assert_eq!(welcomed(&mut client).await, ("alice".into(), true));
        session_cookie(&sign_in(second.addr, "alice", Some(PASSWORD)).await);
        second.stop().await;
    }
    first.stop().await;
    let again = support::spawn_server(support::test_config(&data)).await;
    let mut client = guest(again.addr, "alice", "after-restart").await;
    assert_eq!(refused(&mut client).await, ErrorCode::NameClaimed);
    let mut client = ws_with_cookie(again.addr, "", &cookie).await;
    assert_eq!(welcomed(&mut client).await, ("alice".into(), true));
    session_cookie(&sign_in(again.addr, "alice", Some(PASSWORD)).await);
    again.stop().await;
}

#[tokio::test]
async fn no_password_or_hash_reaches_the_log() {
    let data = tempfile::tempdir().expect("temp dir");
    let (_server, addr, log) =
        support::start_binary_logging(&data.path().join("chat.db"), &[], None, "debug").await;
    let cookie = claimed_alice(addr).await;
    sign_in(addr, "alice", Some("a wrong guess")).await;
    api(
        addr,
        "POST",
        "/api/password",
        Some(&cookie),
        Some(json!({"current": PASSWORD, "password": "the next secret"})),
    )
    .await;
    session_cookie(&sign_in(addr, "alice", Some("the next secret")).await);
    log.until_contains("changed a password").await;
    let text = log.text();
    assert!(text.contains("DEBUG"), "debug logging is on:\n{text}");
    for secret in [
        PASSWORD,
        "a wrong guess",
        "the next secret",
        "$argon2",
        &cookie,
    ] {
        assert!(!text.contains(secret), "{secret:?} in the log:\n{text}");
    }
}

#[tokio::test]
async fn claimed_names_are_marked_on_messages_and_in_the_online_list() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let cookie = claimed_alice(addr).await;
    let mut bob = server.join("bob").await;
    let mut alice = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(welcomed(&mut alice).await, ("alice".into(), true));
    // bob hears alice come in as a member.
    let presence = loop {
        if let ServerFrame::Presence {
            joined, members, ..
        } = bob.recv_any().await
        {
            if joined.contains(&"alice".to_owned()) {
                break members;
            }
        }
    };
    assert_eq!(presence, ["alice"]);
    alice.say("m-1", "it is really me").await;
    let from_alice = bob.recv_message().await;
    assert!(from_alice.message.claimed, "{from_alice:?}");
    bob.say("m-2", "and I am a guest").await;
    let from_bob = bob.recv_message().await;
    assert!(!from_bob.message.claimed);
    // A reply's quote marks her.
    bob.send_frame(ClientFrame::Send {
        client_id: "m-3".into(),
        msg: "welcome".into(),
        room: None,
        reply_to: Some(from_alice.message.id),
    })
    .await;
    let reply = bob.recv_message().await;
    assert_eq!(
        reply.message.reply_to.map(|quote| quote.claimed),
        Some(true)
    );
    // A newcomer's greeting marks her too, in the list and in history.
    let (mut carol, history) = server.join_after("carol", None).await;
    let claimed: Vec<bool> = history.messages.iter().map(|p| p.message.claimed).collect();
    assert_eq!(claimed, [true, false, false]);
    let quoted = history.messages[2].message.reply_to.as_ref();
    assert_eq!(quoted.map(|quote| quote.claimed), Some(true));
    drop(carol.ws.close(None).await);
    let mut dave = support::connect(addr, "dave", None).await;
    let online = loop {
        if let ServerFrame::Online { users, members, .. } = dave.recv_any().await {
            break (users, members);
        }
    };
    assert!(online.0.contains(&"alice".to_owned()), "{online:?}");
    assert_eq!(online.1, ["alice"]);
    server.stop().await;
}

#[tokio::test]
async fn password_attempts_are_counted_across_instances() {
    // Two instances on a redis-server of the test's own.
    let redis = support::RedisServer::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let config = support::on_redis(&redis, &data);
    let first = support::spawn_server(config.clone()).await;
    let second = support::spawn_server(config).await;
    claimed_alice(first.addr).await;
    // Attempts are counted by the minute: not across the turn of one.
    support::until("a minute with time left in it", || async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        now.as_millis() % 60_000 < 55_000
    })
    .await;
    // Three wrong guesses on each: each instance alone would allow five.
    let mut answers = Vec::new();
    for attempt in 0..6 {
        let addr = if attempt % 2 == 0 {
            first.addr
        } else {
            second.addr
        };
        answers.push(sign_in(addr, "alice", Some("guessing away")).await.status);
    }
    assert_eq!(answers[..5], [401; 5], "{answers:?}");
    assert_eq!(answers[5], 429, "{answers:?}");
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_password_change_signs_out_the_name_on_every_instance() {
    // Two instances on a redis-server of the test's own.
    let redis = support::RedisServer::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let config = support::on_redis(&redis, &data);
    let first = support::spawn_server(config.clone()).await;
    let second = support::spawn_server(config).await;
    let changing = claimed_alice(first.addr).await;
    // Another device, connected to the other instance (in a room of its
    // own, which the first does not follow) while the password changes.
    let other = session_cookie(&sign_in(second.addr, "alice", Some(PASSWORD)).await);
    let mut connected = ws_with_cookie(second.addr, "room=elsewhere", &other).await;
    assert_eq!(welcomed(&mut connected).await, ("alice".into(), true));
    let changed = api(
        first.addr,
        "POST",
        "/api/password",
        Some(&changing),
        Some(json!({"current": PASSWORD, "password": "a new password"})),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let close = connected
        .recv_close()
        .await
        .expect("signed out on the other instance");
    assert!(close.reason.contains("password changed"), "{close:?}");
    let mut again = ws_with_cookie(second.addr, "room=elsewhere", &other).await;
    assert_eq!(refused(&mut again).await, ErrorCode::NotSignedIn);
    first.stop().await;
    second.stop().await;
}

#[tokio::test]
async fn a_browser_that_claims_its_name_keeps_its_earlier_messages() {
    let server = TestServer::start().await;
    let addr = server.addr;
    /// The id of the next post `client` hears.
    async fn posted(client: &mut support::Client) -> u64 {
        loop {
            if let ServerFrame::Message { posted, .. } = client.recv_any().await {
                return posted.message.id;
            }
        }
    }
    // A guest's browser posts as the releases before sessions did (its
    // token alone), then with a guest session.
    let mut alice = guest(addr, "alice", "alice-browser").await;
    assert_eq!(welcomed(&mut alice).await, ("alice".into(), false));
    alice.say("m-0", "posted before sessions").await;
    let before_sessions = posted(&mut alice).await;
    drop(alice.ws.close(None).await);
    server
        .until_connections(0, "the browser's first connection gone")
        .await;
    let guest_session = session_cookie(&sign_in(addr, "alice", None).await);
    let browser = "user=alice&token=alice-browser";
    let mut alice = ws_with_cookie(addr, browser, &guest_session).await;
    assert_eq!(welcomed(&mut alice).await, ("alice".into(), false));
    alice.say("m-1", "posted as a guest").await;
    let as_guest = posted(&mut alice).await;
    drop(alice.ws.close(None).await);
    server
        .until_connections(0, "the guest session's connection gone")
        .await;
    let guest_session = claim_alice(addr, &guest_session).await;
    let edit = |id: u64, msg: &str| ClientFrame::Edit {
        room: None,
        id,
        msg: msg.into(),
    };
    // Claimed, on another browser: the guest's messages are not its to edit.
    let elsewhere = session_cookie(&sign_in(addr, "alice", Some(PASSWORD)).await);
    let mut other = ws_with_cookie(addr, "user=alice&token=another-browser", &elsewhere).await;
    assert_eq!(welcomed(&mut other).await, ("alice".into(), true));
    other.send_frame(edit(as_guest, "not from here")).await;
    let refusal = loop {
        if let ServerFrame::Error { code, .. } = other.recv_any().await {
            break code;
        }
    };
    assert_eq!(refusal, ErrorCode::NotYours);
    // The browser that posted them still may.
    let mut alice = ws_with_cookie(addr, browser, &guest_session).await;
    assert_eq!(welcomed(&mut alice).await, ("alice".into(), true));
    for id in [as_guest, before_sessions] {
        alice.send_frame(edit(id, "edited once claimed")).await;
        let edited = loop {
            match alice.recv_any().await {
                ServerFrame::Edited { id, .. } => break id,
                ServerFrame::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
                _ => {}
            }
        };
        assert_eq!(edited, id);
    }
    server.stop().await;
}

/// The rooms a welcome names (a claimed name's, from any device).
async fn rooms_welcomed(client: &mut support::Client) -> Vec<String> {
    match client.recv().await {
        ServerFrame::Welcome { rooms, .. } => rooms,
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// Joins `room` and waits until its history is in.
async fn join_room(client: &mut support::Client, room: &str) {
    client
        .send_frame(ClientFrame::Join {
            room: room.to_owned(),
            after: None,
        })
        .await;
    loop {
        match client.recv().await {
            ServerFrame::History { room: joined, .. } if joined == room => return,
            ServerFrame::Error { code, message, .. } => {
                panic!("joining {room} refused: {code:?} {message}")
            }
            _ => {}
        }
    }
}

#[tokio::test]
async fn a_claimed_name_s_rooms_follow_it_to_every_device() {
    let server = support::TestServer::start().await;
    let addr = server.addr;
    let cookie = support::claim(addr, "amy", "long enough").await;
    // On the laptop: the lobby, then rust and 闲聊.
    let mut laptop = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(rooms_welcomed(&mut laptop).await, ["lobby"]);
    join_room(&mut laptop, "rust").await;
    join_room(&mut laptop, "闲聊").await;
    // The phone is greeted with all three, in the order joined.
    let mut phone = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(rooms_welcomed(&mut phone).await, ["lobby", "rust", "闲聊"]);
    // Left on the laptop, gone from the next device's list.
    laptop
        .send_frame(ClientFrame::Leave {
            room: "rust".into(),
        })
        .await;
    support::until("rust is left on every device", || async {
        let mut tablet = ws_with_cookie(addr, "", &cookie).await;
        rooms_welcomed(&mut tablet).await == ["lobby", "闲聊"]
    })
    .await;
    // Left and joined again at once: the join is what stays (the leave
    // was once kept after it, and the room fell off the list).
    for _ in 0..20 {
        laptop
            .send_frame(ClientFrame::Leave {
                room: "闲聊".into(),
            })
            .await;
        join_room(&mut laptop, "闲聊").await;
    }
    let mut desktop = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(rooms_welcomed(&mut desktop).await, ["lobby", "闲聊"]);
    // A guest's rooms are its browser's: its welcome names none.
    let mut guest = support::connect(addr, "bob", None).await;
    assert!(rooms_welcomed(&mut guest).await.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_name_that_walks_through_many_rooms_keeps_only_the_newest() {
    // Three rooms at once per page, so three kept per name. Without the
    // cap, a name that opens page after page, each in new rooms, grew its
    // list (and every device's welcome) without bound.
    let server = support::TestServer::start_with(|config| {
        config.max_rooms_per_connection = 3;
        config.max_rooms_per_address = 1_000;
    })
    .await;
    let addr = server.addr;
    let walker = support::claim(addr, "walker", "long enough").await;
    let other = support::claim(addr, "other", "long enough").await;
    let mut beside = ws_with_cookie(addr, "", &other).await;
    assert_eq!(rooms_welcomed(&mut beside).await, ["lobby"]);
    join_room(&mut beside, "quiet").await;
    for page in 0..150 {
        let mut tab = ws_with_cookie(addr, "", &walker).await;
        let welcomed = rooms_welcomed(&mut tab).await;
        assert!(welcomed.len() <= 3, "page {page} welcomed {welcomed:?}");
        join_room(&mut tab, &format!("a{page}")).await;
        join_room(&mut tab, &format!("b{page}")).await;
        drop(tab.ws.close(None).await);
    }
    // The newest three (joined in one millisecond, their order is the
    // rooms' names').
    let mut tab = ws_with_cookie(addr, "", &walker).await;
    let mut kept = rooms_welcomed(&mut tab).await;
    kept.sort();
    assert_eq!(kept, ["a149", "b149", "lobby"]);
    // Another name's rooms are its own, untouched.
    let mut beside = ws_with_cookie(addr, "", &other).await;
    assert_eq!(rooms_welcomed(&mut beside).await, ["lobby", "quiet"]);
    server.stop().await;
}
