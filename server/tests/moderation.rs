//! Moderators keep a room civil: every action over real sockets, on the
//! SQLite file or the shared Redis, checked, carried out, and kept in the
//! room's log (replayed on resume, kept across a restart, listed for
//! admins).

mod support;

use std::net::{Ipv4Addr, SocketAddr};

use protocol::{ClientFrame, ErrorCode, ModAction, ServerFrame};
use support::{
    admin, api, json_of, refused, session_cookie, sign_in, welcomed, with_admin, ws_with_cookie,
    Client, ROOT_PASSWORD,
};

/// bob and carol are guests from addresses of their own, so that banning
/// an address bans theirs only.
const BOB_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const CAROL_ADDRESS: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

/// A claimed name's session cookie.
async fn claimed(addr: SocketAddr, user: &str) -> String {
    support::claim(addr, user, "long enough").await
}

/// A claimed name, connected and greeted.
async fn member(addr: SocketAddr, user: &str) -> (Client, String) {
    let cookie = claimed(addr, user).await;
    let mut client = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(welcomed(&mut client).await, (user.to_owned(), true));
    (client, cookie)
}

async fn guest_from(address: Ipv4Addr, addr: SocketAddr, user: &str) -> Client {
    let query = format!("user={user}&token={user}-browser");
    let mut client = support::try_connect_from(address, addr, &query)
        .await
        .expect("connects");
    assert_eq!(welcomed(&mut client).await, (user.to_owned(), false));
    client
}

fn moderate(action: ModAction, target: Option<&str>, id: Option<u64>) -> ClientFrame {
    ClientFrame::Moderate {
        room: None,
        action,
        target: target.map(str::to_owned),
        id,
        duration_s: None,
        reason: Some("be kind".into()),
        all_rooms: false,
    }
}

/// The `seq` of the next `moderated` event of `wanted` that `client`
/// gets (failing on a refusal).
async fn moderated(client: &mut Client, wanted: ModAction) -> u64 {
    loop {
        match client.recv().await {
            ServerFrame::Moderated {
                action, seq, by, ..
            } if action == wanted => {
                assert!(!by.is_empty());
                return seq;
            }
            ServerFrame::Error { code, message, .. } => panic!("refused: {code:?} {message}"),
            _ => {}
        }
    }
}

/// The next refusal `client` gets.
async fn refusal(client: &mut Client) -> (ErrorCode, Option<u64>) {
    loop {
        if let ServerFrame::Error {
            code,
            retry_after_ms,
            ..
        } = client.recv().await
        {
            return (code, retry_after_ms);
        }
    }
}

/// The next post `client` gets, its id.
async fn posted(client: &mut Client, text: &str) -> u64 {
    loop {
        if let ServerFrame::Message { posted, .. } = client.recv().await {
            if posted.message.msg == text {
                return posted.message.id;
            }
        }
    }
}

/// `moderator` kicks or bans `name`: the reason `connection` (one of the
/// name's) is closed with, checking the close code.
async fn put_out(
    moderator: &mut Client,
    action: ModAction,
    name: &str,
    connection: &mut Client,
) -> String {
    moderator
        .send_frame(moderate(action, Some(name), None))
        .await;
    let close = connection.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), protocol::CLOSE_PUT_OUT, "{close:?}");
    close.reason.to_string()
}

/// The admin root makes mod a moderator of the default room.
async fn staff(addr: SocketAddr) -> (Client, Client, String) {
    let mut root = admin(addr).await;
    let (mut moderator, cookie) = member(addr, "mod").await;
    // Not yet: a claimed name is no moderator until an admin says so.
    moderator
        .send_frame(moderate(ModAction::Lock, None, None))
        .await;
    assert_eq!(refusal(&mut moderator).await.0, ErrorCode::NotAllowed);
    root.send_frame(moderate(ModAction::Grant, Some("mod"), None))
        .await;
    moderated(&mut root, ModAction::Grant).await;
    (root, moderator, cookie)
}

/// The admin root makes `name` (claimed, connected) a moderator of every
/// room: kicks and bans are theirs.
async fn moderator_everywhere(addr: SocketAddr, root: &mut Client, name: &str) -> (Client, String) {
    let (client, cookie) = member(addr, name).await;
    let mut grant = moderate(ModAction::Grant, Some(name), None);
    if let ClientFrame::Moderate { all_rooms, .. } = &mut grant {
        *all_rooms = true;
    }
    root.send_frame(grant).await;
    moderated(root, ModAction::Grant).await;
    (client, cookie)
}

#[tokio::test]
async fn a_moderator_deletes_mutes_locks_and_purges() {
    let server = support::TestServer::start_with(with_admin).await;
    let addr = server.addr;
    let (_root, mut moderator, mod_cookie) = staff(addr).await;
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;

    // Nobody acts on an admin.
    moderator
        .send_frame(moderate(ModAction::Ban, Some("ROOT"), None))
        .await;
    assert_eq!(refusal(&mut moderator).await.0, ErrorCode::NotAllowed);
    // A guest is no moderator, and nor is anyone else the admin did not make one.
    bob.send_frame(moderate(ModAction::Lock, None, None)).await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::NotAllowed);
    bob.send_frame(moderate(ModAction::Grant, Some("bob"), None))
        .await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::NotAllowed);

    // Delete anyone's message: a tombstone, and a notice.
    bob.say("b-1", "spam spam").await;
    let spam = posted(&mut moderator, "spam spam").await;
    moderator
        .send_frame(moderate(ModAction::Delete, None, Some(spam)))
        .await;
    loop {
        match bob.recv().await {
            ServerFrame::Deleted { id, .. } => assert_eq!(id, spam),
            ServerFrame::Moderated { action, id, .. } => {
                assert_eq!((action, id), (ModAction::Delete, Some(spam)));
                break;
            }
            _ => {}
        }
    }

    // Muted: bob's sends are refused with the wait, the others' are not.
    let mut mute = moderate(ModAction::Mute, Some("bob"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut mute {
        *duration_s = Some(600);
    }
    moderator.send_frame(mute).await;
    moderated(&mut bob, ModAction::Mute).await;
    bob.say("b-2", "let me speak").await;
    let (code, wait) = refusal(&mut bob).await;
    assert_eq!(code, ErrorCode::Muted);
    assert!(
        wait.is_some_and(|wait| wait > 590_000 && wait <= 600_000),
        "{wait:?}"
    );
    moderator
        .send_frame(moderate(ModAction::Unmute, Some("bob"), None))
        .await;
    moderated(&mut bob, ModAction::Unmute).await;
    bob.say("b-3", "thank you").await;
    posted(&mut bob, "thank you").await;

    // Locked: only moderators post; a newcomer's history says so.
    moderator
        .send_frame(moderate(ModAction::Lock, None, None))
        .await;
    moderated(&mut bob, ModAction::Lock).await;
    bob.say("b-4", "hello?").await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::RoomLocked);
    moderator.say("m-1", "we are closed").await;
    posted(&mut bob, "we are closed").await;
    let mut carol = guest_from(CAROL_ADDRESS, addr, "carol").await;
    match carol.recv().await {
        ServerFrame::History { rules, .. } => assert!(rules.locked),
        other => panic!("expected history, got {other:?}"),
    }
    moderator
        .send_frame(moderate(ModAction::Unlock, None, None))
        .await;
    moderated(&mut bob, ModAction::Unlock).await;

    // Purge: every message of bob's in the room goes. Its question says
    // how many, counted by the rule the purge follows.
    bob.say("b-5", "more spam").await;
    posted(&mut moderator, "more spam").await;
    let count = |cookie: Option<String>, query: &'static str| async move {
        let path = format!("/api/moderation/messages?{query}");
        api(addr, "GET", &path, cookie.as_deref(), None).await
    };
    let bobs = count(Some(mod_cookie.clone()), "room=lobby&name=bob").await;
    assert_eq!(
        (bobs.status, json_of(&bobs)["count"].as_u64()),
        (200, Some(2)),
        "thank you, more spam (the spam is deleted already)"
    );
    let nobody = count(Some(mod_cookie.clone()), "room=lobby&name=nobody").await;
    assert_eq!(json_of(&nobody)["count"].as_u64(), Some(0));
    let guest = session_cookie(&sign_in(addr, "erin", None).await);
    assert_eq!(count(Some(guest), "room=lobby&name=bob").await.status, 403);
    assert_eq!(count(None, "room=lobby&name=bob").await.status, 401);
    let unnamed = count(Some(mod_cookie.clone()), "room=lobby").await;
    assert_eq!(
        (unnamed.status, json_of(&unnamed)["code"].as_str()),
        (400, Some("invalid_fields"))
    );
    moderator
        .send_frame(moderate(ModAction::Purge, Some("bob"), None))
        .await;
    let mut deleted = Vec::new();
    loop {
        match carol.recv().await {
            ServerFrame::Deleted { id, .. } => deleted.push(id),
            ServerFrame::Moderated {
                action: ModAction::Purge,
                ..
            } => break,
            _ => {}
        }
    }
    assert_eq!(deleted.len(), 2, "thank you, more spam: {deleted:?}");
    let (_dave, history) = server.join_after("dave", None).await;
    let bobs: Vec<bool> = history
        .messages
        .iter()
        .filter(|p| p.message.user == "bob")
        .map(|p| p.message.deleted)
        .collect();
    assert_eq!(bobs, [true, true, true]);
    let after = count(Some(mod_cookie.clone()), "room=lobby&name=bob").await;
    assert_eq!(json_of(&after)["count"].as_u64(), Some(0));

    // Each count reads the room's whole history. A name no one can have
    // is refused before any reading; a moderator asking over and over
    // (a script gone wrong, a stolen session) is held back, and nobody
    // else notices.
    let huge = format!("room=lobby&name={}", "x".repeat(10_000));
    let path = format!("/api/moderation/messages?{huge}");
    let refused = api(addr, "GET", &path, Some(&mod_cookie), None).await;
    assert_eq!(
        (refused.status, json_of(&refused)["code"].as_str()),
        (400, Some("username_too_long"))
    );
    let mut answered = 0;
    let mut held_back = None;
    for _ in 0..2_000 {
        let reply = count(Some(mod_cookie.clone()), "room=lobby&name=bob").await;
        match reply.status {
            200 => answered += 1,
            429 => {
                held_back = Some(reply);
                break;
            }
            other => panic!("counted with {other}: {}", reply.body),
        }
    }
    let held_back = held_back.expect("held back before 2,000 counts");
    assert!(answered <= 10, "{answered} counts in a row were answered");
    assert_eq!(json_of(&held_back)["code"].as_str(), Some("rate_limited"));
    assert!(held_back.header("retry-after").is_some());
    assert_eq!(server.get("/healthz").await.0, 200);
    let (_frank, history) = server.join_after("frank", None).await;
    assert!(!history.messages.is_empty(), "the room greets frank");
    server.stop().await;
}

/// The next frame `client` gets that is not a presence frame or a
/// pong: a `typing` frame shows up here.
async fn next_heard(client: &mut Client) -> ServerFrame {
    loop {
        match client.recv_any().await {
            ServerFrame::Presence { .. } | ServerFrame::Pong => {}
            frame => return frame,
        }
    }
}

/// Waits until `client`'s frames so far are handled (its actions done).
async fn settled(client: &mut Client) {
    client.send_frame(ClientFrame::Ping).await;
    while client.recv().await != ServerFrame::Pong {}
}

/// A mute, or a lock, covers every frame that puts words before the room:
/// edits (once, a muted person edited old messages to new text),
/// reactions and typing, not only posts. Taking one's words back is
/// never refused.
#[tokio::test]
async fn a_mute_or_a_lock_covers_edits_reactions_and_typing() {
    let server = support::TestServer::start_with(with_admin).await;
    let addr = server.addr;
    let (mut root, mut moderator, _) = staff(addr).await;
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;
    let mut carol = guest_from(CAROL_ADDRESS, addr, "carol").await;
    bob.say("b-1", "first words").await;
    let first = posted(&mut bob, "first words").await;
    bob.say("b-2", "second words").await;
    let second = posted(&mut bob, "second words").await;
    posted(&mut carol, "second words").await;

    let edit = |id| ClientFrame::Edit {
        room: None,
        id,
        msg: "new words".into(),
    };
    let react = |id| ClientFrame::React {
        room: None,
        id,
        emoji: "👍".into(),
        on: true,
    };
    // Typing is relayed once per spell per name: one staff name types
    // each time.
    for (action, refused_with, staff_name) in [
        (ModAction::Mute, ErrorCode::Muted, "mod"),
        (ModAction::Lock, ErrorCode::RoomLocked, "root"),
    ] {
        let target = (action == ModAction::Mute).then_some("bob");
        moderator.send_frame(moderate(action, target, None)).await;
        moderated(&mut bob, action).await;
        moderated(&mut carol, action).await;
        bob.send_frame(edit(first)).await;
        assert_eq!(refusal(&mut bob).await.0, refused_with, "{action:?}: edit");
        bob.send_frame(react(first)).await;
        assert_eq!(refusal(&mut bob).await.0, refused_with, "{action:?}: react");
        bob.send_frame(ClientFrame::Typing { room: None }).await;
        settled(&mut bob).await;
        // Nobody hears bob type: the next thing carol hears is staff,
        // who may.
        let typist = if staff_name == "mod" {
            &mut moderator
        } else {
            &mut root
        };
        typist.send_frame(ClientFrame::Typing { room: None }).await;
        match next_heard(&mut carol).await {
            ServerFrame::Typing { user, .. } => assert_eq!(user, staff_name, "{action:?}"),
            other => panic!("{action:?}: expected {staff_name} typing, got {other:?}"),
        }
        let undo = match action {
            ModAction::Mute => ModAction::Unmute,
            _ => ModAction::Unlock,
        };
        moderator.send_frame(moderate(undo, target, None)).await;
        moderated(&mut carol, undo).await;
    }
    // Muted, bob still takes his own words back.
    let mut mute = moderate(ModAction::Mute, Some("bob"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut mute {
        *duration_s = Some(600);
    }
    moderator.send_frame(mute).await;
    moderated(&mut carol, ModAction::Mute).await;
    bob.send_frame(ClientFrame::Delete {
        room: None,
        id: second,
    })
    .await;
    loop {
        if let ServerFrame::Deleted { id, .. } = carol.recv().await {
            assert_eq!(id, second);
            break;
        }
    }
    // What carol sees of the first message is what bob first said.
    let (_dave, history) = server.join_after("dave", None).await;
    let shown = history
        .messages
        .iter()
        .find(|p| p.message.id == first)
        .expect("the first message");
    assert_eq!(shown.message.msg, "first words");
    assert!(shown.message.reactions.is_empty());
    server.stop().await;
}

/// A guest `user` from the browser `token`, greeted.
async fn guest_with(addr: SocketAddr, user: &str, token: &str) -> Client {
    let query = format!("user={user}&token={token}");
    let mut client = support::try_connect_from(CAROL_ADDRESS, addr, &query)
        .await
        .expect("connects");
    assert_eq!(welcomed(&mut client).await, (user.to_owned(), false));
    client
}

/// A guest once escaped a mute by taking another name. The mute holds on
/// the guest's browser, under any name, after a restart, in that room
/// only, until the name it was given to is unmuted; another browser is
/// not hurt.
#[tokio::test]
async fn a_muted_guest_stays_muted_under_another_name() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = support::test_config(&data);
    with_admin(&mut config);
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let (_root, mut moderator, _) = staff(addr).await;
    let mut bob = guest_with(addr, "bob", "bob-browser").await;
    let mut mute = moderate(ModAction::Mute, Some("bob"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut mute {
        *duration_s = Some(3600);
    }
    moderator.send_frame(mute).await;
    moderated(&mut bob, ModAction::Mute).await;
    drop(bob);

    let mut renamed = guest_with(addr, "robert", "bob-browser").await;
    renamed.say("r-1", "it is me again").await;
    let (code, wait) = refusal(&mut renamed).await;
    assert_eq!(code, ErrorCode::Muted);
    assert!(wait.is_some_and(|wait| wait > 3_000_000), "{wait:?}");
    // Another browser, and another room, are not muted.
    let mut carol = guest_with(addr, "carol", "carol-browser").await;
    carol.say("c-1", "I may speak").await;
    posted(&mut carol, "I may speak").await;
    renamed
        .send_frame(ClientFrame::Join {
            room: "elsewhere".into(),
            after: None,
        })
        .await;
    renamed
        .send_frame(ClientFrame::Send {
            room: Some("elsewhere".into()),
            client_id: "r-2".into(),
            msg: "over here".into(),
            reply_to: None,
        })
        .await;
    posted(&mut renamed, "over here").await;
    drop((renamed, carol, moderator));

    // Still muted after a restart, under a third name.
    server.stop().await;
    let server = support::spawn_server(config).await;
    let addr = server.addr;
    let mut third = guest_with(addr, "bobby", "bob-browser").await;
    third.say("t-1", "and now?").await;
    assert_eq!(refusal(&mut third).await.0, ErrorCode::Muted);

    // Unmuting the name it was given to lets the browser speak again.
    let moderator_cookie = session_cookie(&sign_in(addr, "mod", Some("long enough")).await);
    let mut moderator = ws_with_cookie(addr, "", &moderator_cookie).await;
    welcomed(&mut moderator).await;
    moderator
        .send_frame(moderate(ModAction::Unmute, Some("bob"), None))
        .await;
    moderated(&mut third, ModAction::Unmute).await;
    third.say("t-2", "thank you").await;
    posted(&mut third, "thank you").await;
    drop(third);
    // The same browser under a fourth name posts too, at once: its mute
    // was the name's, and the name's is lifted (the accounts may not have
    // heard yet: a stale word from them once muted it again for the hour).
    let mut fourth = guest_with(addr, "bobbie", "bob-browser").await;
    fourth.say("f-1", "still fine").await;
    posted(&mut fourth, "still fine").await;
    server.stop().await;
}

/// Whether a guest `user` with the browser `token` from `address` is
/// let in (else: refused as banned).
async fn guest_let_in(address: Ipv4Addr, addr: SocketAddr, user: &str, token: &str) -> bool {
    let query = format!("user={user}&token={token}");
    let mut client = support::try_connect_from(address, addr, &query)
        .await
        .expect("connects");
    support::let_in(&client.recv_any().await)
}

/// A claimed name signed in, connecting from `address`: let in?
async fn member_let_in(address: Ipv4Addr, addr: SocketAddr, cookie: &str) -> bool {
    let headers = [("cookie", format!("chat_session={cookie}"))];
    let mut client = support::ws_from(address, addr, "", &headers).await;
    support::let_in(&client.recv_any().await)
}

#[tokio::test]
async fn kicked_and_banned_people_are_put_out_and_told_why() {
    let server = support::TestServer::start_with(with_admin).await;
    let addr = server.addr;
    let (mut root, _, _) = staff(addr).await;
    let (mut moderator, _) = moderator_everywhere(addr, &mut root, "warden").await;
    let (_member, member_cookie) = member(addr, "member").await;
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;

    let reason = put_out(&mut moderator, ModAction::Kick, "bob", &mut bob).await;
    assert!(reason.contains("removed you"), "{reason}");
    assert!(reason.contains("be kind"), "{reason}");
    // Kicked, not banned: bob comes back.
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;

    moderator
        .send_frame(moderate(ModAction::Ban, Some("bob"), None))
        .await;
    // Once he hears of it, nothing he sends lands (once, posts landed
    // for up to a second after a ban).
    moderated(&mut bob, ModAction::Ban).await;
    bob.say("b-late", "one more spam").await;
    let close = bob.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), protocol::CLOSE_PUT_OUT, "{close:?}");
    let reason = close.reason.to_string();
    assert!(reason.contains("banned you for good"), "{reason}");
    // Neither the name nor, once it was put out, his browser under
    // another name come back.
    support::until("bob's browser is banned", || async {
        !guest_let_in(CAROL_ADDRESS, addr, "bobby", "bob-browser").await
    })
    .await;
    assert!(!guest_let_in(CAROL_ADDRESS, addr, "BOB", "t").await);
    // His address is not banned: the others behind it (a guest, a member)
    // come in, as does anyone elsewhere.
    assert!(guest_let_in(BOB_ADDRESS, addr, "erin", "erin-browser").await);
    assert!(member_let_in(BOB_ADDRESS, addr, &member_cookie).await);
    guest_from(CAROL_ADDRESS, addr, "carol").await;

    moderator
        .send_frame(moderate(ModAction::Unban, Some("bob"), None))
        .await;
    moderated(&mut moderator, ModAction::Unban).await;
    let (_, history) = server.join_after("witness", None).await;
    assert!(
        history
            .messages
            .iter()
            .all(|p| p.message.msg != "one more spam"),
        "a post after the ban was stored"
    );
    assert!(guest_let_in(BOB_ADDRESS, addr, "bobby", "bob-browser").await);
    guest_from(BOB_ADDRESS, addr, "bob").await;
    server.stop().await;
}

/// Banning an address is a choice of its own, always for a time, and
/// never refuses a claimed name: behind one address (an office, a
/// carrier, a proxy) are many people.
#[tokio::test]
async fn an_address_ban_is_timed_and_refuses_guests_only() {
    let server = support::TestServer::start_with(with_admin).await;
    let addr = server.addr;
    let (mut root, _, _) = staff(addr).await;
    let (mut moderator, _) = moderator_everywhere(addr, &mut root, "warden").await;
    let (_member, member_cookie) = member(addr, "member").await;
    let mut erin = guest_from(BOB_ADDRESS, addr, "erin").await;
    // Never for good.
    moderator
        .send_frame(moderate(ModAction::BanAddress, Some("erin"), None))
        .await;
    assert_eq!(refusal(&mut moderator).await.0, ErrorCode::InvalidFields);
    let mut ban = moderate(ModAction::BanAddress, Some("erin"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut ban {
        *duration_s = Some(600);
    }
    moderator.send_frame(ban).await;
    let close = erin.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), protocol::CLOSE_PUT_OUT);
    assert!(
        close.reason.contains("guests from your address"),
        "{close:?}"
    );
    support::until("erin's address refuses guests", || async {
        !guest_let_in(BOB_ADDRESS, addr, "frank", "frank-browser").await
    })
    .await;
    // A claimed name in good standing, and guests elsewhere, come in.
    assert!(member_let_in(BOB_ADDRESS, addr, &member_cookie).await);
    assert!(guest_let_in(CAROL_ADDRESS, addr, "erin", "erin-browser").await);
    moderator
        .send_frame(moderate(ModAction::Unban, Some("erin"), None))
        .await;
    moderated(&mut moderator, ModAction::Unban).await;
    assert!(guest_let_in(BOB_ADDRESS, addr, "frank", "frank-browser").await);
    server.stop().await;
}

/// An unbound admin name (or a look-alike of it) was once the first
/// visitor's to claim. The operator binds it with a password at start;
/// nobody claims it.
#[tokio::test]
async fn an_admin_name_is_the_operator_s_never_the_first_visitor_s() {
    // Unbound (no password): nobody may claim it, nor a look-alike.
    let server = support::TestServer::start_with(|config| {
        config.admins = vec!["root".into()];
    })
    .await;
    let addr = server.addr;
    for spelling in ["root", "ROOT", "rооt"] {
        let (_, claim) = support::try_claim(addr, spelling, "long enough").await;
        assert_eq!(claim.status, 403, "{spelling}: {}", claim.body);
        assert_eq!(json_of(&claim)["code"], "not_allowed");
    }
    server.stop().await;
    // Bound at start: the operator's password signs in as the admin.
    let server = support::TestServer::start_with(with_admin).await;
    let mut root = admin(server.addr).await;
    root.send_frame(moderate(ModAction::Lock, None, None)).await;
    moderated(&mut root, ModAction::Lock).await;
    let wrong = sign_in(server.addr, "root", Some("long enough")).await;
    assert_eq!(wrong.status, 401);
    server.stop().await;
}

/// A room's moderator acts in the room; kicks and bans, which reach
/// beyond it, are for moderators of every room; only an admin acts on a
/// moderator.
#[tokio::test]
async fn a_room_s_moderator_acts_in_the_room_only() {
    let server = support::TestServer::start_with(with_admin).await;
    let addr = server.addr;
    let (mut root, mut moderator, _) = staff(addr).await;
    let (mut warden, _) = moderator_everywhere(addr, &mut root, "warden").await;
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;
    for action in [ModAction::Kick, ModAction::Ban, ModAction::Unban] {
        moderator
            .send_frame(moderate(action, Some("bob"), None))
            .await;
        assert_eq!(
            refusal(&mut moderator).await.0,
            ErrorCode::NotAllowed,
            "{action:?}"
        );
    }
    let mut address = moderate(ModAction::BanAddress, Some("bob"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut address {
        *duration_s = Some(60);
    }
    moderator.send_frame(address).await;
    assert_eq!(refusal(&mut moderator).await.0, ErrorCode::NotAllowed);
    // In the room, it mutes.
    moderator
        .send_frame(moderate(ModAction::Mute, Some("bob"), None))
        .await;
    moderated(&mut bob, ModAction::Mute).await;
    // Moderators do not act on each other; the admin does.
    moderator
        .send_frame(moderate(ModAction::Mute, Some("warden"), None))
        .await;
    assert_eq!(refusal(&mut moderator).await.0, ErrorCode::NotAllowed);
    warden
        .send_frame(moderate(ModAction::Kick, Some("mod"), None))
        .await;
    assert_eq!(refusal(&mut warden).await.0, ErrorCode::NotAllowed);
    let reason = put_out(&mut root, ModAction::Kick, "mod", &mut moderator).await;
    assert!(reason.contains("removed you"), "{reason}");
    // The moderator of every room kicks.
    let reason = put_out(&mut warden, ModAction::Kick, "bob", &mut bob).await;
    assert!(reason.contains("removed you"), "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn actions_survive_a_restart_replay_on_resume_and_are_audited() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = support::test_config(&data);
    with_admin(&mut config);
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let (_root, mut moderator, _) = staff(addr).await;
    let (_watcher, before) = server.join_after("watcher", None).await;
    let after = before.seq.expect("a seq");
    moderator
        .send_frame(moderate(ModAction::Lock, None, None))
        .await;
    let lock_seq = moderated(&mut moderator, ModAction::Lock).await;
    let mut mute = moderate(ModAction::Mute, Some("erin"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut mute {
        *duration_s = Some(3600);
    }
    moderator.send_frame(mute).await;
    moderated(&mut moderator, ModAction::Mute).await;
    drop(moderator);
    server.stop().await;

    let server = support::spawn_server(config).await;
    let addr = server.addr;
    // A client resuming from before them gets both, in order.
    let (_resumed, history) = server.join_after("watcher2", Some(after)).await;
    let actions: Vec<(ModAction, u64)> = history
        .replay
        .iter()
        .filter_map(|frame| match frame {
            ServerFrame::Moderated { action, seq, .. } => Some((*action, *seq)),
            _ => None,
        })
        .collect();
    assert_eq!(
        actions,
        [(ModAction::Lock, lock_seq), (ModAction::Mute, lock_seq + 1)]
    );
    // Still locked, still muted, still a moderator.
    let mut erin = guest_from(BOB_ADDRESS, addr, "erin").await;
    erin.say("e-1", "hello").await;
    assert_eq!(refusal(&mut erin).await.0, ErrorCode::Muted);
    let mut frank = guest_from(CAROL_ADDRESS, addr, "frank").await;
    frank.say("f-1", "hello").await;
    assert_eq!(refusal(&mut frank).await.0, ErrorCode::RoomLocked);
    let moderator_cookie = session_cookie(&sign_in(addr, "mod", Some("long enough")).await);
    let mut moderator = ws_with_cookie(addr, "", &moderator_cookie).await;
    welcomed(&mut moderator).await;
    moderator
        .send_frame(moderate(ModAction::Unlock, None, None))
        .await;
    moderated(&mut moderator, ModAction::Unlock).await;

    // The audit: every action, newest first, for admins only. (With
    // Redis, an action is listed just after its room heard it.)
    let root = session_cookie(&sign_in(addr, "root", Some(ROOT_PASSWORD)).await);
    let audit = || async {
        let audit = api(addr, "GET", "/api/audit", Some(&root), None).await;
        assert_eq!(audit.status, 200, "{}", audit.body);
        json_of(&audit)
    };
    let actions = |entries: &serde_json::Value| -> Vec<String> {
        entries
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|entry| entry["action"].as_str().map(str::to_owned))
            .collect()
    };
    support::until("the audit lists the unlock", || async {
        actions(&audit().await).len() == 4
    })
    .await;
    let entries = audit().await;
    assert_eq!(actions(&entries), ["unlock", "mute", "lock", "grant"]);
    // Each as its room heard it: a `moderated` event.
    assert_eq!(entries[1]["type"], "moderated");
    assert!(entries[1]["room"].is_string(), "{entries}");
    assert!(entries[1]["seq"].as_u64().is_some(), "{entries}");
    assert_eq!(entries[1]["target"], "erin");
    assert_eq!(entries[1]["by"], "mod");
    assert_eq!(entries[1]["reason"], "be kind");
    assert!(entries[1]["until"].as_i64().is_some());
    let denied = api(addr, "GET", "/api/audit", Some(&moderator_cookie), None).await;
    assert_eq!(denied.status, 403);
    assert_eq!(json_of(&denied)["code"], "not_allowed");
    server.stop().await;
}

#[tokio::test]
async fn a_ban_through_one_instance_holds_on_every_other() {
    // Two instances on a redis-server of the test's own, whatever the
    // rest of the suite runs on.
    let redis = support::RedisServer::start().await;
    let data = tempfile::tempdir().expect("temp dir");
    let mut config = support::on_redis(&redis, &data);
    with_admin(&mut config);
    let first = support::spawn_server(config.clone()).await;
    let second = support::spawn_server(config).await;
    let (mut root, _, _) = staff(first.addr).await;
    let (mut moderator, _) = moderator_everywhere(first.addr, &mut root, "warden").await;
    // dave is only in a room of his own on the second instance, which so
    // does not follow the moderator's room (nobody there is in it yet):
    // kicked there, he goes all the same.
    let mut dave = support::ws(second.addr, "user=dave&token=d&room=elsewhere", &[]).await;
    assert_eq!(welcomed(&mut dave).await, ("dave".to_owned(), false));
    let reason = put_out(&mut moderator, ModAction::Kick, "dave", &mut dave).await;
    assert!(reason.contains("removed you"), "{reason}");
    // On an instance that follows the room too.
    let mut bob = guest_from(BOB_ADDRESS, second.addr, "bob").await;
    let reason = put_out(&mut moderator, ModAction::Ban, "bob", &mut bob).await;
    assert!(reason.contains("banned you"), "{reason}");
    let mut again = support::try_connect_from(CAROL_ADDRESS, second.addr, "user=bob&token=t")
        .await
        .expect("connects");
    assert_eq!(refused(&mut again).await, ErrorCode::Banned);
    first.stop().await;
    second.stop().await;
}

/// A room's moderation as its moderators see it (`GET
/// /api/moderation?room=`): who is muted and until when, the bans in
/// force for those who lift them, the room's actions newest first; and
/// nobody else sees it.
#[tokio::test]
async fn moderators_see_the_room_s_mutes_bans_and_actions() {
    let server = support::TestServer::start_with(with_admin).await;
    let addr = server.addr;
    let (mut root, mut moderator, mod_cookie) = staff(addr).await;
    let root_cookie = session_cookie(&sign_in(addr, "root", Some(ROOT_PASSWORD)).await);
    let mut bob = guest_from(BOB_ADDRESS, addr, "Bob").await;
    let mut carol = guest_from(CAROL_ADDRESS, addr, "carol").await;
    let mut mute = moderate(ModAction::Mute, Some("Bob"), None);
    if let ClientFrame::Moderate { duration_s, .. } = &mut mute {
        *duration_s = Some(600);
    }
    moderator.send_frame(mute).await;
    moderated(&mut bob, ModAction::Mute).await;
    put_out(&mut root, ModAction::Ban, "carol", &mut carol).await;
    let view = |cookie: Option<&str>, room: &'static str| {
        let cookie = cookie.map(str::to_owned);
        async move {
            let path = format!("/api/moderation?room={room}");
            api(addr, "GET", &path, cookie.as_deref(), None).await
        }
    };
    let until_listed = |cookie: &str| {
        let cookie = cookie.to_owned();
        async move {
            support::until("the ban is listed", || async {
                let answer = view(Some(&cookie), "lobby").await;
                json_of(&answer)["audit"]
                    .as_array()
                    .is_some_and(|audit| audit.len() >= 3)
            })
            .await;
            json_of(&view(Some(&cookie), "lobby").await)
        }
    };

    // An admin: mutes, bans, the room's actions newest first.
    let seen = until_listed(&root_cookie).await;
    assert_eq!(seen["room"], "lobby");
    assert_eq!(seen["mutes"].as_array().map(Vec::len), Some(1), "{seen}");
    assert_eq!(seen["mutes"][0]["name"], "Bob", "as the moderator typed it");
    let until = seen["mutes"][0]["until"].as_i64().expect("a timed mute");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as i64);
    assert!((now + 500_000..=now + 600_000).contains(&until), "{until}");
    let bans = seen["bans"].as_array().expect("bans, for an admin");
    assert_eq!(bans.len(), 1, "{seen}");
    assert_eq!(bans[0]["name"], "carol");
    assert_eq!(
        (bans[0]["named"].as_bool(), bans[0]["browser"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(bans[0]["until"].is_null(), "for good");
    let actions: Vec<&str> = seen["audit"]
        .as_array()
        .expect("the audit")
        .iter()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert_eq!(actions, ["ban", "mute", "grant"]);

    // The room's moderator: mutes and actions, not the bans it cannot lift.
    let seen = json_of(&view(Some(&mod_cookie), "lobby").await);
    assert_eq!(seen["mutes"][0]["name"], "Bob");
    assert!(seen.get("bans").is_none(), "{seen}");
    // Elsewhere, and for anyone else, nothing.
    let elsewhere = view(Some(&mod_cookie), "elsewhere").await;
    assert_eq!(
        (elsewhere.status, json_of(&elsewhere)["code"].as_str()),
        (403, Some("not_allowed"))
    );
    let dave = claimed(addr, "dave").await;
    assert_eq!(view(Some(&dave), "lobby").await.status, 403);
    let guest = session_cookie(&sign_in(addr, "erin", None).await);
    assert_eq!(view(Some(&guest), "lobby").await.status, 403);
    assert_eq!(view(None, "lobby").await.status, 401);
    let bad = view(Some(&root_cookie), "not%20a%20room").await;
    assert_eq!(
        (bad.status, json_of(&bad)["code"].as_str()),
        (400, Some("invalid_room"))
    );
    let missing = api(addr, "GET", "/api/moderation", Some(&root_cookie), None).await;
    assert_eq!(missing.status, 400);

    // Lifted, they leave the lists.
    moderator
        .send_frame(moderate(ModAction::Unmute, Some("bob"), None))
        .await;
    moderated(&mut bob, ModAction::Unmute).await;
    root.send_frame(moderate(ModAction::Unban, Some("carol"), None))
        .await;
    moderated(&mut root, ModAction::Unban).await;
    let seen = json_of(&view(Some(&root_cookie), "lobby").await);
    assert_eq!(seen["mutes"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["bans"], serde_json::json!([]), "{seen}");
    server.stop().await;
}

/// The pins a newcomer's greeting carries, from a fresh connection.
async fn pins_seen(addr: SocketAddr, user: &str) -> Vec<u64> {
    support::rules_seen(addr, user).await.pinned
}

/// A moderator pins messages for the room (a message the room has and
/// that still shows), newcomers' greetings carry them across a restart,
/// and unpinning takes one off; nobody else pins.
#[tokio::test]
async fn a_moderator_pins_and_unpins_messages_that_stay_pinned() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    with_admin(&mut config);
    let server = support::spawn_server(config.clone()).await;
    let addr = server.addr;
    let (_root, mut moderator, _) = staff(addr).await;
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;
    for n in 1..=3 {
        bob.say(&format!("b-{n}"), &format!("note {n}")).await;
    }
    let mut ids = Vec::new();
    while ids.len() < 3 {
        if let ServerFrame::Message { posted, .. } = bob.recv().await {
            ids.push(posted.message.id);
        }
    }
    bob.send_frame(ClientFrame::Delete {
        room: None,
        id: ids[2],
    })
    .await;

    // Nobody but a moderator pins.
    bob.send_frame(moderate(ModAction::Pin, None, Some(ids[0])))
        .await;
    assert_eq!(refusal(&mut bob).await.0, ErrorCode::NotAllowed);
    // A message the room has, not deleted: nothing else is pinned.
    for (id, code) in [
        (u64::MAX, ErrorCode::NotFound),
        (ids[2], ErrorCode::MessageDeleted),
    ] {
        moderator
            .send_frame(moderate(ModAction::Pin, None, Some(id)))
            .await;
        assert_eq!(refusal(&mut moderator).await.0, code, "pin {id}");
    }
    for id in [ids[1], ids[0]] {
        moderator
            .send_frame(moderate(ModAction::Pin, None, Some(id)))
            .await;
        moderated(&mut bob, ModAction::Pin).await;
    }
    assert_eq!(pins_seen(addr, "carol").await, [ids[1], ids[0]]);
    server.stop().await;

    let server = support::spawn_server(config).await;
    assert_eq!(
        pins_seen(server.addr, "dave").await,
        [ids[1], ids[0]],
        "kept by the log"
    );
    let signed_in = sign_in(server.addr, "mod", Some("long enough")).await;
    let mut moderator = ws_with_cookie(server.addr, "", &session_cookie(&signed_in)).await;
    assert_eq!(welcomed(&mut moderator).await, ("mod".to_owned(), true));
    moderator
        .send_frame(moderate(ModAction::Unpin, None, Some(ids[1])))
        .await;
    moderated(&mut moderator, ModAction::Unpin).await;
    assert_eq!(pins_seen(server.addr, "erin").await, [ids[0]]);
    server.stop().await;
}

/// A moderator who pins two thousand times in a row, as fast as the
/// socket takes it: the room keeps at most ten pins, of its own messages;
/// the flood is the moderator's alone to pay (refused for the rate, then
/// put out for flooding), and a member posts and a newcomer is greeted as
/// ever. Once the grant is revoked, that name pins nothing.
#[tokio::test]
async fn thousands_of_pins_hold_ten_and_a_revoked_moderator_pins_none() {
    let data = tempfile::tempdir().expect("tmp");
    let mut config = support::test_config(&data);
    with_admin(&mut config);
    // The default rate, with room for the setup's posts.
    config.rate_limit = 5.0;
    config.rate_burst = 20;
    let server = support::spawn_server(config).await;
    let addr = server.addr;
    let (mut root, mut moderator, cookie) = staff(addr).await;
    let mut bob = guest_from(BOB_ADDRESS, addr, "bob").await;
    let mut ids = Vec::new();
    for n in 0..12 {
        let text = format!("note {n}");
        bob.say(&format!("b-{n}"), &text).await;
        ids.push(posted(&mut bob, &text).await);
    }
    for n in 0..2000 {
        let id = ids[n % ids.len()];
        if moderator
            .try_send_frame(moderate(ModAction::Pin, None, Some(id)))
            .await
            .is_err()
        {
            break;
        }
    }
    // Put out for flooding, once its refusals for the rate pile up.
    let close = moderator.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    bob.say("after", "still here").await;
    posted(&mut bob, "still here").await;
    let pins = pins_seen(addr, "carol").await;
    assert!(
        !pins.is_empty() && pins.len() <= protocol::PINS_MAX,
        "{pins:?}"
    );
    assert!(pins.iter().all(|id| ids.contains(id)), "{pins:?}");

    root.send_frame(moderate(ModAction::Revoke, Some("mod"), None))
        .await;
    moderated(&mut root, ModAction::Revoke).await;
    let mut revoked = ws_with_cookie(addr, "", &cookie).await;
    assert_eq!(welcomed(&mut revoked).await, ("mod".to_owned(), true));
    revoked
        .send_frame(moderate(ModAction::Unpin, None, Some(pins[0])))
        .await;
    assert_eq!(refusal(&mut revoked).await.0, ErrorCode::NotAllowed);
    assert_eq!(pins_seen(addr, "dave").await, pins, "nothing changed");
    server.stop().await;
}
