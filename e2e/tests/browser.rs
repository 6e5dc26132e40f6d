//! Two people in two headless Chromium sessions, chatting through the real
//! server and the release build of the client.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, Locator};
use support::*;

#[tokio::test]
async fn two_people_chat_and_the_name_survives_a_reload() {
    two_people_chat(Engine::Chromium).await;
}

#[tokio::test]
async fn two_people_chat_in_firefox() {
    two_people_chat(Engine::Firefox).await;
}

async fn two_people_chat(engine: Engine) {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    // A driver each: geckodriver runs one session at a time.
    let (alice_driver, bob_driver) = (
        start_driver_for(engine).await,
        start_driver_for(engine).await,
    );
    let alice = browser(&alice_driver).await;
    let bob = browser(&bob_driver).await;

    // Bob's name and message are markup that would run script if it were
    // rendered as HTML (an alert would also break every later command).
    let bob_name = "<svg onload=alert(1)>";
    log_in(&alice, &server.base, "alice").await;
    log_in(&bob, &server.base, bob_name).await;

    say(&alice, "hello from alice").await;
    let xss = "<img src=x onerror=alert(1)>";
    wait_for_messages(&bob, 1).await;
    say(&bob, xss).await;

    let expected_for_bob = vec![
        ("alice".to_owned(), "hello from alice".to_owned(), false),
        (bob_name.to_owned(), xss.to_owned(), true),
    ];
    assert_eq!(wait_for_messages(&bob, 2).await, expected_for_bob);
    let expected_for_alice = vec![
        ("alice".to_owned(), "hello from alice".to_owned(), true),
        (bob_name.to_owned(), xss.to_owned(), false),
    ];
    assert_eq!(wait_for_messages(&alice, 2).await, expected_for_alice);
    // Shown as text: no element was made of either.
    assert!(alice
        .find_all(Locator::Css("img, svg"))
        .await
        .expect("query")
        .is_empty());
    // Typed and sent in one burst, with no render between the keys and
    // Enter (a fast typist, a paste then Enter, an input method that
    // commits with Enter; geckodriver types this way): all of it goes.
    let burst = "typed and sent in one burst";
    find(&alice, "#message")
        .await
        .send_keys(&format!("{burst}{}", Key::Enter))
        .await
        .expect("type and send");
    assert_eq!(wait_for_messages(&bob, 3).await[2].1, burst);
    // A short room's messages sit at the bottom, by the composer. (The last
    // line may be bob's join, gathered for half a second and so in after
    // the burst: measured is whatever line is last.)
    let gap = alice
        .execute(
            "const list = document.querySelector('.messages').getBoundingClientRect();
             const last = document.querySelector('.message-items > li:last-child');
             return list.bottom - last.getBoundingClientRect().bottom;",
            vec![],
        )
        .await
        .expect("measure the list")
        .as_f64()
        .expect("a distance");
    assert!(
        gap < 40.0,
        "the newest message is {gap} px above the list's end"
    );
    assert_eq!(
        find(&alice, "#message")
            .await
            .prop("value")
            .await
            .expect("the box's text"),
        Some(String::new()),
        "the box empties once sent"
    );
    // Both are in alice's online list, and she saw bob join.
    find(&alice, ".people .menu-button")
        .await
        .click()
        .await
        .expect("open the list");
    // Joins reach the others within half a second (gathered): wait for bob's.
    find(&alice, ".people-list li:nth-child(2)").await;
    find(&alice, ".presence-notice").await;
    assert_eq!(
        texts(&alice, ".people-list li").await,
        [bob_name.to_owned(), "alice (you)".to_owned()]
    );
    assert_eq!(
        texts(&alice, ".presence-notice").await,
        [format!("{bob_name} joined")]
    );
    // The browser's token is 128 random bits (crypto.getRandomValues).
    let token = alice
        .execute("return localStorage.getItem('chat.token');", vec![])
        .await
        .expect("read the token");
    let token: String =
        serde_json::from_str(token.as_str().unwrap_or_default()).expect("stored as JSON");
    assert_eq!(token.len(), 32, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    // Escape closes the list again.
    find(&alice, ".people .menu-button")
        .await
        .send_keys(&Key::Escape.to_string())
        .await
        .expect("press Escape");
    until_visible(&alice, ".people-list", false).await;

    // The message box grows with its text (no `field-sizing` in Firefox).
    let height = |client: &Client| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "return document.querySelector('#message').getBoundingClientRect().height;",
                    vec![],
                )
                .await
                .expect("measure the box")
                .as_f64()
                .unwrap_or(f64::NAN)
        }
    };
    let one_line = height(&alice).await;
    let input = find(&alice, "#message").await;
    for line in ["one", "two", "three"] {
        input.send_keys(line).await.expect("type");
        input
            .send_keys(&format!("{}{}", Key::Shift, Key::Enter))
            .await
            .expect("a new line");
    }
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while height(&alice).await < one_line * 2.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the box did not grow"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A reload keeps the name and goes straight back into the room.
    alice.refresh().await.expect("reload");
    find(&alice, r#".status[data-state="online"]"#).await;
    assert_eq!(alice.current_url().await.expect("url").path(), "/");
    assert_eq!(
        find(&alice, ".me").await.text().await.expect("name"),
        "alice"
    );

    // What was being written is still there; emptied, the Send button
    // cannot send an empty message.
    assert!(composer_text(&alice).await.starts_with("one\ntwo\nthree"));
    let input = find(&alice, "#message").await;
    input
        .send_keys(&format!("{}a", Key::Control))
        .await
        .expect("select all");
    input
        .send_keys(&Key::Backspace.to_string())
        .await
        .expect("delete");
    until_composer(&alice, "").await;
    let send = find(&alice, ".composer button[type=submit]").await;
    assert!(!send.is_enabled().await.expect("enabled state"));

    // Leaving returns to the login page, and a reload stays there.
    find(&alice, ".account .menu-button")
        .await
        .click()
        .await
        .expect("open the name's menu");
    find(&alice, "button.leave")
        .await
        .click()
        .await
        .expect("click leave");
    wait_for_path(&alice, &server.base, "/login").await;
    // The page says so, in the tab's title too.
    until_title(&alice, "Signed out · Chat").await;
    until_text(&alice, "#login-notice", "You signed out.").await;
    // Nothing of alice is left for the next person at this browser: her
    // rooms' messages, her outbox, her browser token.
    let kept = alice
        .execute(
            "return Object.keys(localStorage).filter(k => k.startsWith('chat.'));",
            vec![],
        )
        .await
        .expect("read localStorage");
    assert_eq!(kept, serde_json::json!([]), "left behind: {kept}");
    alice.refresh().await.expect("reload");
    find(&alice, "#username").await;
    assert_eq!(alice.current_url().await.expect("url").path(), "/login");

    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_name_the_server_refuses_returns_to_login_with_the_reason() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let driver = start_driver().await;
    let client = browser(&driver).await;

    // A name stored by hand (the login page would not accept it).
    client
        .goto(&format!("{}/login", server.base))
        .await
        .expect("open");
    find(&client, "#username").await;
    client
        .execute(
            "localStorage.setItem('chat.username', JSON.stringify('x'.repeat(30)))",
            vec![],
        )
        .await
        .expect("store a name");
    client
        .goto(&format!("{}/", server.base))
        .await
        .expect("open the room");

    let notice = find(&client, "#login-notice").await;
    assert!(
        notice
            .text()
            .await
            .expect("text")
            .contains("at most 24 characters"),
        "the server's reason is shown"
    );
    assert_eq!(client.current_url().await.expect("url").path(), "/login");
    client.close().await;
}

#[tokio::test]
async fn messages_written_offline_survive_a_reload_and_are_delivered_once() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    let server = start_server(&data).await;
    let (base, addr) = (server.base.clone(), server.addr);
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    let bob = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    log_in(&bob, &base, "bob").await;

    server.stop().await;
    find(&alice, r#".status[data-state="offline"]"#).await;
    let send = find(&alice, ".composer button[type=submit]").await;
    assert_eq!(send.text().await.expect("label"), "Queue (offline)");
    say(&alice, "written offline 1").await;
    say(&alice, "written offline 2").await;
    find(&alice, ".messages li[data-status=pending]:nth-of-type(2)").await;

    // Unsent messages are kept across a reload. (The page itself comes from
    // a static server while the chat server is down, as from a CDN.)
    let static_only = StaticServer::start(addr).await;
    alice.refresh().await.expect("reload");
    find(&alice, ".messages li[data-status=pending]:nth-of-type(2)").await;
    let pending = texts(&alice, ".messages li[data-status=pending] .text").await;
    assert_eq!(pending, ["written offline 1", "written offline 2"]);

    // The chat server comes back on the same address and database.
    static_only.stop().await;
    let _server = ChatServer::start(&db, addr).await;
    find(&alice, ".messages li[data-status=sent]:nth-of-type(2)").await;
    let sent = texts(&alice, ".messages li.message .text").await;
    assert_eq!(sent, ["written offline 1", "written offline 2"]);
    assert!(alice
        .find_all(Locator::Css(
            ".messages li[data-status=pending], .messages li[data-status=failed]"
        ))
        .await
        .expect("query")
        .is_empty());

    let expected_for_bob = vec![
        ("alice".to_owned(), "written offline 1".to_owned(), false),
        ("alice".to_owned(), "written offline 2".to_owned(), false),
    ];
    assert_eq!(wait_for_messages(&bob, 2).await, expected_for_bob);
    // One person's consecutive messages are one group: the name shown once.
    let grouped = bob
        .find_all(Locator::Css(".messages li.message[data-continued]"))
        .await
        .expect("query");
    assert_eq!(grouped.len(), 1);

    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn scrolling_to_the_top_loads_older_messages() {
    let data = tempfile::tempdir().expect("tmp");
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = ChatServer::start_with(&data.path().join("chat.db"), any_port, |config| {
        config.history = 5;
        // Twelve messages typed by a machine are faster than any person.
        config.rate_limit = 100.0;
        config.rate_burst = 100;
    })
    .await;
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &server.base, "alice").await;
    for n in 1..=12 {
        say(&alice, &format!("note {n}")).await;
    }
    find(&alice, ".messages li[data-status=sent]:nth-of-type(12)").await;

    // Reloaded, alice's page starts from what it kept: all twelve.
    alice.refresh().await.expect("reload");
    until_text(
        &alice,
        ".messages li.message:nth-of-type(1) .text",
        "note 1",
    )
    .await;

    // A browser that kept nothing gets the 5 newest, and knows there is
    // more.
    let bob = browser(&driver).await;
    log_in(&bob, &server.base, "bob").await;
    find(&bob, ".messages .older button").await;
    let shown = texts(&bob, ".messages li.message .text").await;
    assert_eq!(
        shown,
        (8..=12).map(|n| format!("note {n}")).collect::<Vec<_>>()
    );

    scroll_list_to(&bob, 0).await;
    find(&bob, ".messages li.message:nth-of-type(12)").await;
    let shown = texts(&bob, ".messages li.message .text").await;
    assert_eq!(
        shown,
        (1..=12).map(|n| format!("note {n}")).collect::<Vec<_>>()
    );
    assert!(bob
        .find_all(Locator::Css(".messages .older"))
        .await
        .expect("query")
        .is_empty());
    alice.close().await;
    bob.close().await;
}

#[tokio::test]
async fn a_new_message_in_a_long_room_adds_one_item_and_touches_no_other() {
    const LONG: usize = 5_000;
    const SHORT: usize = 10;
    let driver = start_driver().await;
    let mut appends = Vec::new();
    // The same append, in a short room and in a long one, in one run.
    for shown in [SHORT, LONG] {
        let data = tempfile::tempdir().expect("tmp");
        let db = data.path().join("chat.db");
        seed(&db, shown);
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = ChatServer::start_with(&db, any_port, |config| {
            config.history = LONG;
            config.replay_limit = LONG;
            // Five thousand short messages in one page.
            config.history_page_bytes = 768 * 1024;
        })
        .await;
        let alice = browser(&driver).await;
        log_in(&alice, &server.base, "alice").await;
        find(
            &alice,
            &format!(".messages li.message:nth-of-type({shown})"),
        )
        .await;
        let (mut bob, _) = tokio_tungstenite::connect_async(format!(
            "ws://{}/ws?user=bob&token=bob-token",
            server.addr
        ))
        .await
        .expect("bob connects");
        // Bob's arrival is announced in the list: let that pass first.
        let notice = "//li[contains(@class, 'presence-notice') and contains(., 'bob joined')]";
        alice
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::XPath(notice))
            .await
            .expect("bob's arrival is shown");
        let append = watch_append(&alice, &mut bob, shown + 1).await;
        assert_eq!(
            (append.added, append.removed, append.touched),
            (1, 0, 0),
            "with {shown} messages shown, one message adds one item and changes nothing else"
        );
        eprintln!(
            "append with {shown} messages shown: in the list {:.0} ms after the server sent it",
            append.shown_after_ms
        );
        appends.push(append.shown_after_ms);
        // An edit of it, and a reaction to an older one: each changes its
        // own message's item and nothing else.
        let appended = u64::try_from(shown + 1).expect("an id");
        let edit = protocol::ClientFrame::Edit {
            room: None,
            id: appended,
            msg: "message, **edited**".into(),
        };
        let touched = watch_change(&alice, &mut bob, &edit, appended, "strong").await;
        assert_eq!(
            touched, 0,
            "an edit changes its message only ({shown} shown)"
        );
        let react = protocol::ClientFrame::React {
            room: None,
            id: 2,
            emoji: "🎉".into(),
            on: true,
        };
        let touched = watch_change(&alice, &mut bob, &react, 2, ".reaction").await;
        assert_eq!(
            touched, 0,
            "a reaction changes its message only ({shown} shown)"
        );
        alice.close().await;
        drop(bob);
        server.stop().await;
    }
    eprintln!(
        "append, {LONG} shown / {SHORT} shown: {:.2}",
        appends[1] / appends[0]
    );
}

#[tokio::test]
async fn the_newest_message_is_in_view_and_reading_older_ones_is_left_alone() {
    const ROOM: usize = 300;
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    seed(&db, ROOM);
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = ChatServer::start_with(&db, any_port, |config| config.history = ROOM).await;
    let driver = start_driver().await;
    let alice = browser(&driver).await;

    // Entering a room of 300 messages: the newest is wholly in view.
    log_in(&alice, &server.base, "alice").await;
    find(&alice, &format!(".messages li.message:nth-of-type({ROOM})")).await;
    until_newest_in_view(&alice, "entering: the newest message is not in view").await;

    // Another person's message while at the bottom: in view too.
    let (mut bob, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?user=bob", server.addr))
            .await
            .expect("bob connects");
    post_as(&mut bob, "b1", "from bob, while alice is at the bottom").await;
    // (By its text: "bob joined" is an item of the list too, before or
    // after his message as the presence tick falls.)
    until_text(
        &alice,
        ".messages",
        "from bob, while alice is at the bottom",
    )
    .await;
    until_newest_in_view(&alice, "a new message at the bottom is not in view").await;

    // Reading older messages: new ones do not move the view, and are counted.
    scroll_list_to(&alice, 200).await;
    for n in 2..=4 {
        post_as(&mut bob, &format!("b{n}"), &format!("from bob, number {n}")).await;
    }
    until_text(&alice, ".messages", "from bob, number 4").await;
    let jump = find(&alice, ".jump").await;
    assert_eq!(jump.text().await.expect("text"), "3 new ↓");
    let (in_view, scroll_top) = newest_in_view(&alice).await;
    assert!(!in_view, "the reader was pulled to the bottom");
    assert!((scroll_top - 200.0).abs() <= 1.0, "moved to {scroll_top}");

    // The button takes the reader down, and goes once they are there.
    jump.click().await.expect("click the button");
    until_newest_in_view(&alice, "the button did not reach the newest message").await;
    assert!(alice
        .find_all(Locator::Css(".jump"))
        .await
        .expect("query")
        .is_empty());

    // Sending always shows one's own message, even from up the list.
    scroll_list_to(&alice, 0).await;
    say(&alice, "alice writes from the top").await;
    find(&alice, ".messages li[data-status=sent]").await;
    until_newest_in_view(&alice, "one's own message is not in view").await;
    alice.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_login_page_and_the_room_pass_the_accessibility_audit() {
    let axe = axe_script();
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    seed(&db, 5);
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    // Each case's name is an admin: the moderation menu is on screen too.
    let names =
        |screen: Screen, scheme: Scheme| format!("a{}{}", screen.width, scheme == Scheme::Dark);
    let server = ChatServer::start_with(&db, any_port, |config| {
        config.admins = [Screen::DESKTOP, Screen::PHONE]
            .into_iter()
            .flat_map(|screen| [Scheme::Light, Scheme::Dark].map(|scheme| names(screen, scheme)))
            .collect();
        config.admin_password = Some(server::AdminPassword("a long password".into()));
    })
    .await;
    let driver = start_driver().await;
    for screen in [Screen::DESKTOP, Screen::PHONE] {
        for scheme in [Scheme::Light, Scheme::Dark] {
            let case = format!("{screen:?}, {scheme:?}");
            let user = browser_as(&driver, screen, scheme).await;
            user.goto(&format!("{}/login", server.base))
                .await
                .expect("open the login page");
            find(&user, "#username").await;
            // The auditor finds what it should: an image without a text.
            user.execute(
                "const probe = document.createElement('img');
                 probe.id = 'axe-probe';
                 document.body.append(probe);",
                vec![],
            )
            .await
            .expect("add a probe");
            let found = axe_violations(&user, &axe).await;
            assert!(
                found.iter().any(|v| v.starts_with("image-alt")),
                "{found:?}"
            );
            user.execute("document.getElementById('axe-probe').remove();", vec![])
                .await
                .expect("remove the probe");
            assert_eq!(
                axe_violations(&user, &axe).await,
                Vec::<String>::new(),
                "login, {case}"
            );
            let name = names(screen, scheme);
            sign_in_as(&user, &name, "a long password").await;
            find(&user, r#".status[data-state="online"]"#).await;
            find(&user, ".moderation-menu .menu-button").await;
            say(&user, "a message of my own").await;
            find(&user, ".messages li[data-status=sent]").await;
            // What a room holds in use: a wide code block, reactions.
            let (mut bot, _) = tokio_tungstenite::connect_async(format!(
                "ws://{}/ws?user=bot{}&token=bot-{name}",
                server.addr, name
            ))
            .await
            .expect("the bot connects");
            let wide = format!("```\n{}\n```", "let wide = 1; ".repeat(30));
            post_as(&mut bot, "code", &wide).await;
            let code = find(&user, ".messages pre").await;
            let id: u64 = user
                .execute("return Number(document.querySelector('.messages li.message:has(pre)').dataset.id);", vec![])
                .await
                .expect("the code's id")
                .as_u64()
                .expect("an id");
            drop(code);
            use futures::SinkExt;
            let react = protocol::ClientFrame::React {
                room: None,
                id,
                emoji: "👍".into(),
                on: true,
            };
            bot.send(tokio_tungstenite::tungstenite::Message::text(
                react.to_json(),
            ))
            .await
            .expect("react");
            find(&user, ".messages .reaction").await;
            assert_eq!(
                axe_violations(&user, &axe).await,
                Vec::<String>::new(),
                "room, {case}"
            );
            // Every menu open in turn: the name's, the room's, a
            // message's with its reaction picker, the online list.
            for (menu, opens) in [
                ("name menu", ".account .menu-button"),
                ("room menu", ".room-menu .menu-button"),
                ("moderation menu", ".moderation-menu .menu-button"),
                ("online list", ".people .menu-button"),
            ] {
                click(&user, opens).await;
                find(&user, ":popover-open").await;
                assert_eq!(
                    axe_violations(&user, &axe).await,
                    Vec::<String>::new(),
                    "{menu}, {case}"
                );
                click(&user, opens).await;
                wait_until_gone(&user, ":popover-open").await;
            }
            // The room switcher (Ctrl+K).
            user.execute("document.getElementById('switcher').showPopover();", vec![])
                .await
                .expect("open the switcher");
            find(&user, "#switcher:popover-open").await;
            assert_eq!(
                axe_violations(&user, &axe).await,
                Vec::<String>::new(),
                "room switcher, {case}"
            );
            user.execute("document.getElementById('switcher').hidePopover();", vec![])
                .await
                .expect("close the switcher");
            user.execute(
                "document.querySelector('.messages li.message:has(pre)').focus();",
                vec![],
            )
            .await
            .expect("focus the message");
            click(&user, ".messages li.message:has(pre) .actions .react").await;
            find(&user, "#emoji-picker:popover-open .emoji-tabs").await;
            assert_eq!(
                axe_violations(&user, &axe).await,
                Vec::<String>::new(),
                "message menu and picker, {case}"
            );
            user.close().await;
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn offline_the_status_counts_down_and_reconnect_now_does_not_wait() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    let server = start_server(&data).await;
    let addr = server.addr;
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &server.base, "alice").await;
    server.stop().await;

    // The waits grow: one of a few seconds shows, and counts down.
    let first = until_countdown(&alice, "no countdown of 3 s or more", |s| s >= 3).await;
    until_countdown(&alice, "the countdown stays put", |s| s < first).await;

    // With a long wait ahead, the server comes back: "Reconnect now" does
    // not wait for the countdown.
    let left = until_countdown(&alice, "no countdown of 4 s or more", |s| s >= 4).await;
    let _server = ChatServer::start(&db, addr).await;
    let clicked = tokio::time::Instant::now();
    find(&alice, ".status .reconnect")
        .await
        .click()
        .await
        .expect("click Reconnect now");
    find(&alice, r#".status[data-state="online"]"#).await;
    assert!(
        clicked.elapsed() < Duration::from_secs(u64::from(left - 1)),
        "online only after {:?}, with {left} s to go",
        clicked.elapsed()
    );
    alice.close().await;
}

#[tokio::test]
async fn rooms_keep_their_messages_and_unread_counts_show_in_the_sidebar_and_title() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    let bob = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    log_in(&bob, &base, "bob").await;
    // Both open rust by its address; alice goes back to the lobby.
    for client in [&alice, &bob] {
        client
            .goto(&format!("{base}/r/rust"))
            .await
            .expect("open rust");
        find(client, ".room-list a[href='/r/rust']").await;
        find(client, r#".status[data-state="online"]"#).await;
    }
    until_title(&alice, "#rust · Chat").await;
    open_room(&alice, &base, "lobby").await;
    until_title(&alice, "#lobby · Chat").await;

    // Bob speaks in rust: alice, in the lobby, sees its count rise, in
    // bold, and in the title; the lobby does not show it.
    say(&bob, "hello rust").await;
    say(&bob, "anyone?").await;
    let badge = find(&alice, ".room-entry[data-unread] .unread").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while badge.text().await.expect("count") != "2" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the count never reached 2"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_title(&alice, "(2) #lobby · Chat").await;
    assert!(
        texts(&alice, ".messages .message .text").await.is_empty(),
        "nothing in the lobby"
    );

    // Opening rust reads it: the count goes, the line marks the new part.
    open_room(&alice, &base, "rust").await;
    until_title(&alice, "#rust · Chat").await;
    wait_until_gone(&alice, ".room-entry[data-unread]").await;
    let first_new = find(&alice, ".message:has(.unread-line) .text").await;
    assert_eq!(first_new.text().await.expect("text"), "hello rust");
    assert_eq!(
        texts(&alice, ".messages .message .text").await,
        ["hello rust", "anyone?"]
    );
    // The browser's back and forward buttons go between the rooms opened.
    alice.back().await.expect("back");
    until_title(&alice, "#lobby · Chat").await;
    alice.forward().await.expect("forward");
    until_title(&alice, "#rust · Chat").await;
    find(&alice, ".messages .message[data-id]").await;
    assert_eq!(
        texts(&alice, ".messages .message .text").await,
        ["hello rust", "anyone?"]
    );

    // The room rule, as the server's: letters and digits of any script
    // (asked of the browser's Unicode tables), `-` and `_`.
    let field = find(&alice, "#join-room").await;
    field
        .send_keys("no spaces!")
        .await
        .expect("type a bad name");
    field
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("join");
    until_attr(&alice, "#join-room", "aria-invalid", "true").await;
    wait_for_path(&alice, &base, "/r/rust").await;
    field.clear().await.expect("clear the field");
    field
        .send_keys("Café-闲聊_2")
        .await
        .expect("type a room of two scripts");
    field
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("join");
    find(
        &alice,
        ".room-list a[href='/r/caf%C3%A9-%E9%97%B2%E8%81%8A_2']",
    )
    .await;
    until_title(&alice, "#café-闲聊_2 · Chat").await;
    find(&alice, r#".status[data-state="online"]"#).await;
    click(&alice, ".room-entry button[aria-label='Leave café-闲聊_2']").await;
    wait_for_path(&alice, &base, "/r/rust").await;
    // A room made from the field, and the list after a reload.
    field.send_keys("Games").await.expect("type a room");
    field
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("join");
    wait_for_path(&alice, &base, "/r/games").await;
    find(&alice, ".room-list a[href='/r/games']").await;
    alice.refresh().await.expect("reload");
    find(&alice, r#".status[data-state="online"]"#).await;
    find(&alice, ".room-list a[href='/r/games']").await;
    assert_eq!(sidebar_rooms(&alice).await, ["#lobby", "#rust", "#games"]);
    // Leaving the room on screen removes it and moves to its neighbour
    // (once, "Connecting…" stayed up for good under the old address).
    let leave = find(&alice, ".room-entry button[aria-label='Leave games']").await;
    leave.click().await.expect("leave");
    wait_until_gone(&alice, ".room-list a[href='/r/games']").await;
    wait_for_path(&alice, &base, "/r/rust").await;
    until_title(&alice, "#rust · Chat").await;
    find(&alice, r#".status[data-state="online"]"#).await;
    assert_eq!(
        texts(&alice, ".messages .message .text").await,
        ["hello rust", "anyone?"]
    );

    alice.close().await;
    bob.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_permalink_opens_the_room_at_its_message_highlighted_even_beyond_the_loaded_history() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    seed(&db, 300);
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    // The newest 20 come with the room: message 5 is pages further back.
    let server = ChatServer::start_with(&db, any_port, |config| config.history = 20).await;
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &server.base, "alice").await;
    alice
        .goto(&format!("{}/r/lobby/m/5", server.base))
        .await
        .expect("open the permalink");
    let target = find(&alice, ".message[data-id='5'][data-highlighted]").await;
    let text = target.text().await.expect("text");
    assert!(text.contains("old message 5"), "{text}");
    // In view: inside the list's visible area.
    let in_view = alice
        .execute(
            "const list = document.querySelector('.messages').getBoundingClientRect();
             const item = document.querySelector(\".message[data-id='5']\").getBoundingClientRect();
             return item.top >= list.top && item.bottom <= list.bottom;",
            vec![],
        )
        .await
        .expect("measure");
    assert_eq!(
        in_view,
        serde_json::Value::Bool(true),
        "the message is in view"
    );
    // Read, the address is the room's again (a reload opens the room),
    // and the highlight stays.
    wait_for_path(&alice, &server.base, "/r/lobby").await;
    find(&alice, ".message[data-id='5'][data-highlighted]").await;
    // Its time links to the permalink of the message itself.
    let link = find(&alice, ".message[data-id='7'] a.permalink").await;
    assert_eq!(
        link.attr("href").await.expect("href").as_deref(),
        Some("/r/lobby/m/7")
    );
    alice.close().await;
    server.stop().await;
}

/// The id of the menu open now, if one is.
async fn open_menu(client: &Client) -> Option<String> {
    let open = client
        .execute(
            "return document.querySelector(':popover-open')?.id ?? null;",
            vec![],
        )
        .await
        .expect("read the open menu");
    open.as_str().map(str::to_owned)
}

/// Waits until the open menu is `wanted` (`None`: none is).
async fn until_menu(client: &Client, wanted: Option<&str>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let open = open_menu(client).await;
        if open.as_deref() == wanted {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the open menu stayed {open:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn menus_open_one_at_a_time_and_close_as_people_expect() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    find(&alice, r#".status[data-state="online"]"#).await;
    let button = |css: &'static str| {
        let alice = alice.clone();
        async move { find(&alice, css).await.click().await.expect("click") }
    };
    // One at a time: opening another closes the first.
    button(".room-menu .menu-button").await;
    until_menu(&alice, Some("notify-menu")).await;
    button(".account .menu-button").await;
    until_menu(&alice, Some("account-menu")).await;
    // Escape from a field inside closes it, and focus is back on its button.
    find(&alice, "#new-password")
        .await
        .send_keys(&Key::Escape.to_string())
        .await
        .expect("press Escape");
    until_menu(&alice, None).await;
    let focused = alice
        .execute(
            "return document.activeElement.matches('.account .menu-button');",
            vec![],
        )
        .await
        .expect("read focus");
    assert_eq!(focused, serde_json::json!(true), "focus back on the button");
    // A click elsewhere closes it.
    button(".people .menu-button").await;
    until_menu(&alice, Some("people-menu")).await;
    button("#message").await;
    until_menu(&alice, None).await;
    // Another room closes it: a menu is about the room it opened in.
    button(".room-menu .menu-button").await;
    until_menu(&alice, Some("notify-menu")).await;
    alice
        .goto(&format!("{base}/r/rust"))
        .await
        .expect("open rust");
    find(&alice, r#".status[data-state="online"]"#).await;
    button(".room-menu .menu-button").await;
    until_menu(&alice, Some("notify-menu")).await;
    open_room(&alice, &base, "lobby").await;
    until_menu(&alice, None).await;
    alice.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_reaction_picker_opens_in_view_finds_by_name_and_remembers() {
    let data = tempfile::tempdir().expect("tmp");
    // A room whose messages fill the screen: the newest is at its bottom.
    seed(&data.path().join("chat.db"), 30);
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    wait_for_messages(&alice, 30).await;
    let newest = ".messages li.message:last-of-type";
    // The newest message sits at the bottom: the picker opens above its
    // button, wholly on screen, with the search focused.
    alice
        .execute(
            "document.querySelector(arguments[0]).focus();",
            vec![newest.into()],
        )
        .await
        .expect("focus the message");
    find(&alice, &format!("{newest} .actions .react"))
        .await
        .click()
        .await
        .expect("open the picker");
    until_menu(&alice, Some("emoji-picker")).await;
    find(&alice, "#emoji-picker .emoji-tabs").await;
    let placed = alice
        .execute(
            "const picker = document.getElementById('emoji-picker').getBoundingClientRect();
             const button = document.querySelector(arguments[0]).getBoundingClientRect();
             return [picker.top >= 0, picker.bottom <= innerHeight, picker.bottom <= button.top,
                     document.activeElement.matches('.emoji-search')];",
            vec![format!("{newest} .actions .react").into()],
        )
        .await
        .expect("measure the picker");
    assert_eq!(placed, serde_json::json!([true, true, true, true]));
    // A group's tab shows its emoji.
    click(
        &alice,
        "#emoji-picker .emoji-tabs button[aria-label='Animals & Nature']",
    )
    .await;
    find(&alice, "#emoji-picker .pick[data-emoji='🐶']").await;
    // Found by a shortcode's beginning; Enter takes the first.
    let search = find(&alice, "#emoji-picker .emoji-search").await;
    search.send_keys(":tada").await.expect("type");
    until_text(&alice, "#emoji-picker .emoji-grid", "🎉").await;
    search
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("Enter");
    until_text(&alice, &format!("{newest} .reaction"), "🎉").await;
    until_menu(&alice, None).await;
    // By name, any case, from another message; Escape closes, and focus
    // is back on the React button.
    let first = ".messages li.message:first-of-type";
    alice
        .execute(
            "document.querySelector(arguments[0]).focus();",
            vec![first.into()],
        )
        .await
        .expect("focus the message");
    find(&alice, &format!("{first} .actions .react"))
        .await
        .click()
        .await
        .expect("open the picker");
    until_menu(&alice, Some("emoji-picker")).await;
    // What was used comes first.
    until_text(&alice, "#emoji-picker .emoji-grid:first-child", "🎉").await;
    let search = find(&alice, "#emoji-picker .emoji-search").await;
    search.send_keys("Crab").await.expect("type");
    until_text(&alice, "#emoji-picker .emoji-grid", "🦀").await;
    search
        .send_keys(&Key::Escape.to_string())
        .await
        .expect("Escape");
    until_menu(&alice, None).await;
    let focused = alice
        .execute(
            "return document.activeElement.matches(arguments[0]);",
            vec![format!("{first} .actions .react").into()],
        )
        .await
        .expect("read focus");
    assert_eq!(focused, serde_json::json!(true), "focus back on React");
    assert!(texts(&alice, &format!("{first} .reaction"))
        .await
        .is_empty());
    alice.close().await;
    server.stop().await;
}

/// What has focus, as a CSS test: whether it `matches`.
async fn focused(client: &Client, matches: &str) -> bool {
    client
        .execute(
            "return document.activeElement.matches(arguments[0]);",
            vec![matches.into()],
        )
        .await
        .expect("read focus")
        == serde_json::json!(true)
}

/// The id of the message that has focus (0: none has).
async fn focused_message(client: &Client) -> u64 {
    client
        .execute(
            "return Number(document.activeElement.closest('li.message')?.dataset.id ?? 0);",
            vec![],
        )
        .await
        .expect("read focus")
        .as_u64()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_keyboard_reaches_messages_rooms_and_the_first_unread() {
    let data = tempfile::tempdir().expect("tmp");
    seed(&data.path().join("chat.db"), 30);
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    wait_for_messages(&alice, 30).await;
    // The list is one tab stop: nothing inside it is in the tab order.
    let stops = alice
        .execute(
            "return [...document.querySelectorAll('.messages a, .messages button, .messages [tabindex]')]
               .filter(e => e.tabIndex >= 0).length;",
            vec![],
        )
        .await
        .expect("count tab stops");
    assert_eq!(stops, serde_json::json!(0));
    // From the list, Up is the newest message, then the one before; Right
    // goes through its links and actions, Escape back to it.
    alice
        .execute("document.querySelector('.messages').focus();", vec![])
        .await
        .expect("focus the list");
    let keys = |keys: String| {
        let alice = alice.clone();
        async move {
            alice
                .active_element()
                .await
                .expect("focus")
                .send_keys(&keys)
                .await
                .expect("press keys");
        }
    };
    keys(Key::Up.to_string()).await;
    assert_eq!(focused_message(&alice).await, 30);
    keys(Key::Up.to_string()).await;
    assert_eq!(focused_message(&alice).await, 29);
    keys(Key::Home.to_string()).await;
    assert_eq!(focused_message(&alice).await, 1);
    keys(Key::End.to_string()).await;
    keys(Key::Right.to_string()).await;
    assert!(focused(&alice, "li.message[data-id='30'] a.permalink").await);
    keys(Key::Right.to_string()).await;
    assert!(focused(&alice, "li.message[data-id='30'] .actions .reply").await);
    keys(Key::Escape.to_string()).await;
    assert!(focused(&alice, "li.message[data-id='30']").await);

    // Ctrl+K: the switcher; a name typed goes there.
    alice
        .goto(&format!("{base}/r/rust"))
        .await
        .expect("open rust");
    find(&alice, r#".status[data-state="online"]"#).await;
    find(&alice, "#message")
        .await
        .click()
        .await
        .expect("focus the composer");
    keys(format!("{}k", Key::Control)).await;
    until_menu(&alice, Some("switcher")).await;
    assert!(focused(&alice, "#switcher input").await);
    assert_eq!(
        alice
            .execute(
                "return [...document.querySelectorAll('#switcher-rooms option')].map(o => o.value);",
                vec![]
            )
            .await
            .expect("read the suggestions"),
        serde_json::json!(["lobby", "rust"])
    );
    // The beginning of a joined room's name is enough.
    keys(format!("lob{}", Key::Enter)).await;
    wait_for_path(&alice, &base, "/r/lobby").await;
    until_menu(&alice, None).await;
    // Alt+Down and Alt+Up: the next and the previous room.
    find(&alice, "#message")
        .await
        .click()
        .await
        .expect("focus the composer");
    keys(format!("{}{}", Key::Alt, Key::Down)).await;
    wait_for_path(&alice, &base, "/r/rust").await;

    // Messages in lobby while alice reads rust: back there, "First
    // unread" takes her to the first of them, and Escape marks it read.
    let (mut bob, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?user=bob&token=bob-keys",
        server.addr
    ))
    .await
    .expect("bob connects");
    post_as(&mut bob, "b-1", "are you there?").await;
    post_as(&mut bob, "b-2", "hello?").await;
    until_text(&alice, ".room-list", "2").await;
    find(&alice, "#message")
        .await
        .click()
        .await
        .expect("focus the composer");
    keys(format!("{}{}", Key::Alt, Key::Up)).await;
    wait_for_path(&alice, &base, "/r/lobby").await;
    find(&alice, ".unread-line").await;
    click(&alice, ".first-unread").await;
    assert_eq!(focused_message(&alice).await, 31, "the first unread");
    keys(Key::Escape.to_string()).await;
    wait_until_gone(&alice, ".unread-line").await;
    wait_until_gone(&alice, ".first-unread").await;
    alice.close().await;
    server.stop().await;
}

#[tokio::test]
async fn on_a_phone_the_rooms_are_a_drawer() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser_as(&driver, Screen::PHONE, Scheme::Light).await;
    log_in(&alice, &base, "alice").await;
    alice
        .goto(&format!("{base}/r/rust"))
        .await
        .expect("open rust");
    find(&alice, r#".status[data-state="online"]"#).await;
    // Closed: the room has the screen.
    until_visible(&alice, ".sidebar", false).await;
    let toggle = find(&alice, ".drawer-toggle").await;
    assert_eq!(
        toggle.attr("aria-expanded").await.expect("attr").as_deref(),
        Some("false")
    );
    // Everything fits the 375 px: nothing scrolls sideways, every menu of
    // the bar is on screen, and what a thumb presses is 44 px at least.
    let fits = alice
        .execute(
            "const width = window.innerWidth;
             const bar = [...document.querySelectorAll('.topbar > *')]
               .map(e => e.getBoundingClientRect());
             const targets = [...document.querySelectorAll(
               '.topbar button')].map(e => e.getBoundingClientRect())
               .filter(r => r.width > 0);
             return [document.documentElement.scrollWidth <= width,
                     bar.every(r => r.right <= width + 0.5 && r.left >= -0.5),
                     targets.every(r => r.height >= 44 && r.width >= 44)];",
            vec![],
        )
        .await
        .expect("measure the page");
    assert_eq!(fits, serde_json::json!([true, true, true]), "at 375 px");
    // A menu is a sheet along the bottom, all of it on screen, its
    // controls 44 px too.
    click(&alice, ".account .menu-button").await;
    find(&alice, "#account-menu:popover-open").await;
    let sheet = alice
        .execute(
            "const r = document.getElementById('account-menu').getBoundingClientRect();
             const targets = [...document.querySelectorAll('#account-menu button, #account-menu input')]
               .map(e => e.getBoundingClientRect()).filter(r => r.width > 0);
             return [r.left >= 0, r.right <= innerWidth + 0.5, Math.abs(r.bottom - innerHeight) < 1,
                     r.top > 0, targets.length > 2 && targets.every(r => r.height >= 44)];",
            vec![],
        )
        .await
        .expect("measure the menu");
    assert_eq!(
        sheet,
        serde_json::json!([true, true, true, true, true]),
        "the name's menu"
    );
    click(&alice, ".account .menu-button").await;
    wait_until_gone(&alice, ":popover-open").await;
    // The drawer closes from Escape, from its backdrop (its close button),
    // and by choosing a room, the one on screen too.
    toggle.click().await.expect("open the drawer");
    until_visible(&alice, ".sidebar", true).await;
    find(&alice, "#join-room")
        .await
        .send_keys(&Key::Escape.to_string())
        .await
        .expect("press Escape");
    until_visible(&alice, ".sidebar", false).await;
    toggle.click().await.expect("open the drawer");
    until_visible(&alice, ".sidebar", true).await;
    click(&alice, "button.drawer-close").await;
    until_visible(&alice, ".sidebar", false).await;
    toggle.click().await.expect("open the drawer");
    until_visible(&alice, ".sidebar", true).await;
    click(&alice, ".room-list a[href='/r/rust']").await;
    until_visible(&alice, ".sidebar", false).await;
    toggle.click().await.expect("open the drawer");
    until_visible(&alice, ".sidebar", true).await;
    // Picking another room closes it.
    open_room(&alice, &base, "lobby").await;
    until_visible(&alice, ".sidebar", false).await;
    // On a desktop there is no drawer: the rooms are beside the room.
    let bob = browser(&driver).await;
    log_in(&bob, &base, "bob").await;
    until_visible(&bob, ".sidebar", true).await;
    assert!(!is_visible(&bob, ".drawer-toggle").await);
    alice.close().await;
    bob.close().await;
    server.stop().await;
}

#[tokio::test]
async fn people_edit_delete_react_reply_and_mention_and_text_is_formatted_safely() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    let bob = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    log_in(&bob, &base, "bob").await;

    // Formatting, and what must never become markup.
    say(
        &alice,
        "**bold** and `code` [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
    )
    .await;
    let first = ".message[data-id='1']";
    find(&bob, &format!("{first} .text strong")).await;
    find(&bob, &format!("{first} .text code")).await;
    until_text(
        &bob,
        &format!("{first} .text"),
        "<img src=x onerror=alert(1)>",
    )
    .await;
    let dangerous = bob
        .execute(
            "return document.querySelectorAll('.messages img, .messages a[href^=\"javascript\"]').length",
            vec![],
        )
        .await
        .expect("query");
    assert_eq!(dangerous, serde_json::json!(0), "no image, no script link");
    // A code block, from a client that can type newlines.
    let (mut carol, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?user=carol&token=carol-token",
        server.addr
    ))
    .await
    .expect("carol connects");
    post_as(
        &mut carol,
        "c-1",
        "```\nfn main() {\n    println!(\"hi\");\n}\n```",
    )
    .await;
    let code = find(&bob, ".message[data-id='2'] pre code").await;
    assert!(code
        .text()
        .await
        .expect("code")
        .contains("println!(\"hi\");"));

    // A long press (the `contextmenu` it fires) opens a message's menu,
    // in place of the browser's own.
    let opened = bob
        .execute(
            "const item = document.querySelector(\".message[data-id='1']\");
             const press = new MouseEvent('contextmenu', { bubbles: true, cancelable: true });
             item.querySelector('.text').dispatchEvent(press);
             const actions = item.querySelector('.actions');
             return [press.defaultPrevented, getComputedStyle(actions).clip];",
            vec![],
        )
        .await
        .expect("press the message");
    assert_eq!(
        opened,
        serde_json::json!([true, "auto"]),
        "the menu is shown (not clipped away)"
    );

    // Bob reacts to alice's message; both see it, only his is pressed.
    click(&bob, &format!("{first} .actions .react")).await;
    click(&bob, "#emoji-picker .pick[data-emoji='👍']").await;
    let reaction = format!("{first} .reaction");
    until_text(&alice, &reaction, "1").await;
    until_attr(&bob, &reaction, "aria-pressed", "true").await;
    until_attr(&alice, &reaction, "aria-pressed", "false").await;

    // Bob replies to it: the reply quotes it, and the quote leads back.
    click(&bob, &format!("{first} .actions .reply")).await;
    until_text(&bob, ".composer .draft-banner", "Replying to alice").await;
    // The "!" ends the name: the mention list is closed, Enter sends.
    say(&bob, "sure, @alice!").await;
    let reply = ".message[data-id='4']";
    until_text(&alice, &format!("{reply} .quote"), "alice").await;
    // It mentions alice: highlighted for her, not for bob.
    find(&alice, &format!("{reply}[data-mentions-me]")).await;
    assert!(bob
        .find(Locator::Css(&format!("{reply}[data-mentions-me]")))
        .await
        .is_err());
    click(&alice, &format!("{reply} .quote")).await;
    find(&alice, &format!("{first}[data-highlighted]")).await;
    // Once shown, the address is the room's again.
    wait_for_path(&alice, &base, "/r/lobby").await;

    // Alice edits her last message with the Up arrow.
    say(&alice, "a typo hre").await;
    let last = ".message[data-id='5']";
    find(&bob, last).await;
    let input = find(&alice, "#message").await;
    input
        .send_keys(&Key::Up.to_string())
        .await
        .expect("press Up");
    until_attr(&alice, ".composer", "data-draft", "edit").await;
    // The message being edited is marked in the list.
    find(&alice, &format!("{last}[data-editing]")).await;
    let draft = input.prop("value").await.expect("value");
    assert_eq!(draft.as_deref(), Some("a typo hre"));
    input.clear().await.expect("clear");
    say(&alice, "no typo here").await;
    until_text(&bob, &format!("{last} .text"), "no typo here").await;
    until_text(&bob, &format!("{last} .meta"), "(edited)").await;

    // Escape leaves an edit without changing anything.
    input
        .send_keys(&Key::Up.to_string())
        .await
        .expect("press Up");
    until_attr(&alice, ".composer", "data-draft", "edit").await;
    input
        .send_keys(&Key::Escape.to_string())
        .await
        .expect("press Escape");
    wait_until_gone(&alice, ".composer[data-draft]").await;
    wait_until_gone(&alice, "[data-editing]").await;

    // Alice deletes her first message: a tombstone for everyone, and the
    // reply's quote says the original is gone.
    click(&alice, &format!("{first} .actions .delete")).await;
    click(&alice, &format!("{first} .actions .delete-yes")).await;
    until_text(&bob, &format!("{first} .tombstone"), "message deleted").await;
    until_text(&bob, &format!("{reply} .quote"), "Original message deleted").await;
    assert!(bob
        .find(Locator::Css(&format!("{first} .reaction")))
        .await
        .is_err());
    // Bob's menu has no Edit or Delete on alice's messages.
    assert!(bob
        .find(Locator::Css(&format!("{last} .actions .edit")))
        .await
        .is_err());
    // A few emoji alone are shown large; emoji in words are not.
    say(&alice, "🎉 🦀").await;
    until_text(&bob, ".message .text[data-emoji-only]", "🎉 🦀").await;
    assert!(bob
        .find(Locator::Css(&format!("{last} .text[data-emoji-only]")))
        .await
        .is_err());

    alice.close().await;
    bob.close().await;
    server.stop().await;
}

#[tokio::test]
async fn a_mention_is_offered_as_you_type_and_notifies_the_person_in_another_room() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    let bob = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    log_in(&bob, &base, "bob").await;
    // Alice reads another room; the lobby is in her sidebar.
    alice
        .goto(&format!("{base}/r/rust"))
        .await
        .expect("open rust");
    find(&alice, ".room-entry[aria-current='page']").await;
    // What the page raises, seen from inside it (the permission is the
    // browser's: granted).
    alice
        .execute(
            "window.__notes = [];
             const Real = window.Notification;
             window.Notification = class extends Real {
               constructor(title, options) {
                 super(title, options);
                 window.__notes.push(title + ' | ' + (options && options.body));
               }
             };",
            vec![],
        )
        .await
        .expect("watch notifications");

    let input = find(&bob, "#message").await;
    input.send_keys("hi @al").await.expect("type");
    let offered = find(&bob, ".mention-list [role='option'][aria-selected='true']").await;
    assert_eq!(offered.text().await.expect("text"), "@alice");
    input
        .send_keys(&Key::Tab.to_string())
        .await
        .expect("press Tab");
    wait_until_gone(&bob, ".mention-list").await;
    assert_eq!(
        input.prop("value").await.expect("value").as_deref(),
        Some("hi @alice ")
    );
    input.send_keys("look").await.expect("type");
    input
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("press Enter");

    // For alice, in rust: the lobby counts a mention, and a notification
    // says who and what.
    until_text(&alice, ".room-entry .mentioned", "@1").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let notes = loop {
        let notes = alice
            .execute("return window.__notes", vec![])
            .await
            .expect("read notifications");
        if notes.as_array().is_some_and(|notes| !notes.is_empty()) {
            break notes;
        }
        assert!(tokio::time::Instant::now() < deadline, "no notification");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(notes, serde_json::json!(["bob in #lobby | hi @alice look"]));
    // In the lobby the message is marked as mentioning her.
    open_room(&alice, &base, "lobby").await;
    find(&alice, ".message[data-mentions-me]").await;
    wait_until_gone(&alice, ".room-entry .mentioned").await;

    alice.close().await;
    bob.close().await;
    server.stop().await;
}

#[tokio::test]
async fn the_installed_app_opens_without_the_network_with_what_it_kept() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    // Installable: a manifest with icons, and a service worker in charge.
    let manifest = alice
        .execute(
            "const link = document.querySelector('link[rel=manifest]');
             const manifest = await (await fetch(link.href)).json();
             return [manifest.display, manifest.icons.map(icon => icon.sizes)];",
            vec![],
        )
        .await
        .expect("read the manifest");
    assert_eq!(
        manifest,
        serde_json::json!(["standalone", ["192x192", "512x512"]])
    );
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let controlled = alice
            .execute(
                "await navigator.serviceWorker.ready;
                 return navigator.serviceWorker.controller !== null;",
                vec![],
            )
            .await
            .expect("ask the service worker");
        if controlled == serde_json::json!(true) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no service worker");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A message the server confirmed: the room's history.
    say(&alice, "said online").await;
    find(&alice, ".messages li[data-status='sent']").await;

    // The server goes away; a message written now waits in the outbox.
    server.stop().await;
    find(&alice, r#".status[data-state="offline"]"#).await;
    say(&alice, "written offline").await;
    find(&alice, ".messages li[data-status]").await;

    // Reloaded without a server: the shell comes from the service worker,
    // the app starts, and shows the room's history and the message waiting.
    alice.refresh().await.expect("reload");
    until_text(&alice, ".messages", "written offline").await;
    until_text(&alice, ".messages li[data-id]", "said online").await;
    find(&alice, "#message").await;
    alice.close().await;
}

#[tokio::test]
async fn a_name_kept_with_a_password_is_protected_on_every_browser() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let driver = start_driver().await;
    let laptop = browser(&driver).await;
    let phone = browser(&driver).await;
    let base = &server.base;

    // A guest keeps her name from her name's menu.
    log_in(&laptop, base, "alice").await;
    click(&laptop, ".account .menu-button").await;
    fill(&laptop, "#new-password", "correct horse").await;
    click(&laptop, ".account form button[type=submit]").await;
    // The page reloads, signed in as the claimed name: marked as a member.
    find(&laptop, ".account .menu-button .member").await;
    find(&laptop, r#".status[data-state="online"]"#).await;
    say(&laptop, "it is really me").await;
    find(&laptop, ".message .author .member").await;
    // She joins rust on the laptop: the room follows her name.
    laptop
        .goto(&format!("{base}/r/rust"))
        .await
        .expect("open rust");
    find(&laptop, r#".status[data-state="online"]"#).await;
    laptop
        .goto(&format!("{base}/"))
        .await
        .expect("back to the lobby");
    find(&laptop, r#".status[data-state="online"]"#).await;

    // Another browser cannot enter as alice, nor as a look-alike of her.
    for look_alike in ["alice", "ALICE", "\u{430}lice"] {
        phone
            .goto(&format!("{base}/login"))
            .await
            .expect("open the login page");
        sign_in_as(&phone, look_alike, "").await;
        until_text(&phone, "#login-notice", "protected").await;
    }
    // With the password, it is alice there too, and sees her message marked.
    sign_in_as(&phone, "alice", "correct horse").await;
    wait_for_path(&phone, base, "/").await;
    find(&phone, r#".status[data-state="online"]"#).await;
    find(&phone, ".account .menu-button .member").await;
    let shown = wait_for_messages(&phone, 1).await;
    assert_eq!(shown[0].1, "it is really me");
    find(&phone, ".message .author .member").await;
    // The rooms she joined on the laptop are in the phone's sidebar.
    until_text(&phone, ".room-list", "rust").await;

    // A new password on the phone signs the laptop out.
    click(&phone, ".account .menu-button").await;
    fill(&phone, "#current-password", "correct horse").await;
    fill(&phone, "#new-password", "battery staple").await;
    click(&phone, ".account form button[type=submit]").await;
    until_text(&phone, ".account [role=status]", "Password changed").await;
    laptop.refresh().await.expect("reload");
    wait_for_path(&laptop, base, "/login").await;
    until_text(&laptop, "#login-notice", "enter its password").await;

    // Guessing is cut short: within a minute, a few wrong passwords and
    // the form says to wait (the sign-ins above counted too).
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut attempts = 0;
    loop {
        let notice = match laptop.find(Locator::Css("#login-notice")).await {
            Ok(notice) => notice.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if notice.contains("Too many attempts") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never limited: {notice:?}"
        );
        let submit = find(&laptop, ".login-card button[type=submit]").await;
        if submit.is_enabled().await.unwrap_or(false) {
            attempts += 1;
            sign_in_as(&laptop, "alice", &format!("guess number {attempts}")).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Five wrong guesses at most, plus the right sign-ins above that
    // were given back; one more may have gone out while the refusal that
    // says to wait was on its way (the button is disabled only once the
    // page renders the request, which the loop can outrun).
    assert!(attempts <= 7, "{attempts} attempts before the limit");
    laptop.close().await;
    phone.close().await;
}

#[tokio::test]
async fn moderators_delete_mute_lock_and_kick_from_their_menus() {
    let data = tempfile::tempdir().expect("tmp");
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = ChatServer::start_with(&data.path().join("chat.db"), any_port, |config| {
        config.admins = vec!["root".into()];
        config.admin_password = Some(server::AdminPassword("a long password".into()));
    })
    .await;
    let base = &server.base;
    let driver = start_driver().await;
    let root = browser(&driver).await;
    let moderator = browser(&driver).await;
    let bob = browser(&driver).await;

    log_in_claimed(&moderator, base, "mod").await;
    // The admin name is the operator's, bound at start with its password.
    root.goto(&format!("{base}/")).await.expect("open the app");
    wait_for_path(&root, base, "/login").await;
    sign_in_as(&root, "root", "a long password").await;
    wait_for_path(&root, base, "/").await;
    find(&root, ".account .menu-button .member").await;
    // The admin makes mod a moderator of every room, from the room's
    // menu: kicks and bans reach beyond one room.
    moderate_from_menu(&root, "mod", 10, "", "").await;
    until_text(&moderator, ".messages", "root made mod a moderator").await;
    find(&moderator, ".moderation-menu .moderation").await;

    log_in(&bob, base, "bob").await;
    say(&bob, "buy my spam").await;
    // A moderator deletes anyone's message from its menu.
    let spam = ".messages li.message:not([data-status])";
    find(&moderator, spam).await;
    click(&moderator, &format!("{spam} .actions .delete")).await;
    click(&moderator, &format!("{spam} .actions .delete-yes")).await;
    until_text(&bob, ".messages", "message deleted").await;
    until_text(&bob, ".messages", "mod deleted a message").await;

    // Muted from the menu of bob's message (it opens the moderation menu
    // at the form, his name filled in, the action list on no action): bob
    // is told so; the others are not.
    say(&bob, "hello again").await;
    until_text(&moderator, ".messages", "hello again").await;
    // Pinned from the message's menu: everyone sees it above the
    // conversation; unpinned from there.
    click(&moderator, ".messages li.message .actions .pin").await;
    until_text(&bob, ".pinned", "bob: hello again").await;
    until_text(&bob, ".messages", "mod pinned a message").await;
    click(&moderator, ".pinned .unpin").await;
    until_text(&bob, ".messages", "mod unpinned a message").await;
    click(&moderator, ".messages li.message .actions .moderate").await;
    assert_eq!(moderation_target(&moderator).await, "bob");
    let chosen = moderator
        .execute(
            "const s = document.querySelector('#mod-action'); return [s.selectedIndex, s.value];",
            vec![],
        )
        .await
        .expect("read the action list");
    assert_eq!(
        chosen,
        serde_json::json!([0, ""]),
        "the list starts on no action"
    );
    apply_moderation(&moderator, 1, "10", "calm down").await;
    until_text(&bob, ".messages", "mod muted you here for now: calm down").await;
    // Where his composer was, he reads why and until when.
    until_text(&bob, ".composer-closed", "You are muted in #lobby until").await;
    until_text(
        &bob,
        ".composer-closed",
        "(10 min left): mod muted you (calm down).",
    )
    .await;
    wait_until_gone(&bob, "#message").await;
    assert!(!texts(&root, ".messages li")
        .await
        .iter()
        .any(|line| line.contains("muted")));
    // The moderation menu lists him, with when it ends, and the action;
    // lifted from there, he talks again.
    moderator
        .execute("document.getElementById('mod-menu').hidePopover();", vec![])
        .await
        .expect("close the menu");
    click(&moderator, ".moderation-menu .menu-button").await;
    until_text(&moderator, ".moderation-menu .sanctions", "bob").await;
    until_text(&moderator, ".moderation-menu .sanctions", "until").await;
    until_text(
        &moderator,
        ".moderation-menu .audit",
        "mod muted bob: calm down",
    )
    .await;
    // The moderation menu, open with its lists, passes the audit too.
    assert_eq!(
        axe_violations(&moderator, &axe_script()).await,
        Vec::<String>::new(),
        "the moderation menu"
    );
    click(&moderator, ".sanctions button[aria-label='Lift: bob']").await;
    until_text(&bob, ".messages", "mod let you post here again").await;
    wait_until_gone(&bob, ".composer-closed").await;
    say(&bob, "sorry").await;
    until_text(&root, ".messages", "sorry").await;

    // Locked: bob's composer gives way to the reason, the moderator's
    // stays with it; unlocked, both go.
    click(&moderator, ".moderation-menu .moderation .lock").await;
    until_text(&bob, ".composer-closed", "#lobby is locked").await;
    until_text(&moderator, ".locked", "This room is locked").await;
    find(&moderator, "#message").await;
    click(&moderator, ".moderation-menu .moderation .lock").await;
    wait_until_gone(&bob, ".composer-closed").await;
    wait_until_gone(&moderator, ".locked").await;

    // Kicked, from the online list's menu: bob is back at the login page,
    // told why.
    click(&moderator, ".people .menu-button").await;
    click(
        &moderator,
        r#".people-list button[aria-label="Moderate bob"]"#,
    )
    .await;
    assert_eq!(moderation_target(&moderator).await, "bob");
    apply_moderation(&moderator, 3, "", "enough").await;
    wait_for_path(&bob, base, "/login").await;
    until_text(
        &bob,
        "#login-notice",
        "mod removed you from the chat: enough",
    )
    .await;

    // Kicked, bob may come back; banned, not, and is told so at the door.
    sign_in_as(&bob, "bob", "").await;
    find(&bob, r#".status[data-state="online"]"#).await;
    // A ban asks first, saying what it does.
    moderate_from_menu(&moderator, "bob", 4, "", "for good").await;
    accept_dialog(&moderator, "Ban bob from every room for good?").await;
    wait_for_path(&bob, base, "/login").await;
    until_text(&bob, "#login-notice", "mod banned you for good: for good").await;
    sign_in_as(&bob, "bobby", "").await;
    until_text(&bob, "#login-notice", "banned you for good").await;

    // His messages go in one action (the question counts them: "hello
    // again" and "sorry"; the spam is gone already); everyone sees why.
    moderate_from_menu(&moderator, "bob", 6, "", "").await;
    accept_dialog(&moderator, "Remove all 2 messages of bob in #lobby?").await;
    until_text(&root, ".messages", "mod removed the messages of bob").await;
    until_no_message_says(&root, "sorry").await;
    // The ban is listed for mod (a moderator of every room); lifted from
    // there, he comes back.
    moderator
        .execute("document.getElementById('mod-menu').hidePopover();", vec![])
        .await
        .expect("close the menu");
    click(&moderator, ".moderation-menu .menu-button").await;
    until_text(&moderator, ".moderation-menu", "Banned").await;
    click(&moderator, ".sanctions button[aria-label='Lift: bob']").await;
    until_text(&root, ".messages", "mod lifted the ban of bob").await;
    sign_in_as(&bob, "bob", "").await;
    find(&bob, r#".status[data-state="online"]"#).await;
    // The admin takes mod's moderation back: the form goes from mod's menu.
    moderate_from_menu(&root, "mod", 11, "", "").await;
    until_text(&moderator, ".messages", "root took mod's moderation back").await;
    wait_until_gone(&moderator, ".moderation-menu").await;

    root.close().await;
    moderator.close().await;
    bob.close().await;
    server.stop().await;
}

/// A claimed name's API tokens, from its name's menu: one made with a
/// name is shown once (with a button to copy it) and works for a script;
/// the list names it and when it expires; revoking it closes the script's
/// connection and empties the list.
#[tokio::test]
async fn api_tokens_are_made_listed_and_revoked_from_the_name_s_menu() {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in_claimed(&alice, &server.base, "alice").await;
    click(&alice, ".account .menu-button").await;
    until_text(&alice, ".tokens", "No tokens.").await;
    fill(&alice, "#token-name", "deploy bot").await;
    click(&alice, ".tokens form button[type=submit]").await;
    let token = find(&alice, ".token-value")
        .await
        .text()
        .await
        .expect("the token's text");
    find(&alice, ".token-made button").await;
    until_text(&alice, ".token-list .token-name", "deploy bot").await;
    until_text(&alice, ".token-list li", "until").await;

    // A script connects with it, as alice.
    let mut request = format!("ws://{}/ws?user=alice", server.addr)
        .into_client_request()
        .expect("a request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("a header value"),
    );
    let (mut script, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the token lets the script in");
    let welcome = script
        .next()
        .await
        .expect("a frame")
        .expect("a frame")
        .into_text()
        .expect("text");
    assert!(welcome.contains(r#""type":"welcome""#), "{welcome}");
    assert!(welcome.contains(r#""claimed":true"#), "{welcome}");

    click(&alice, ".token-list li button").await;
    until_text(&alice, ".tokens", "No tokens.").await;
    // Its connection closes at once.
    let closed = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(frame)) = script.next().await {
            if frame.is_close() {
                break;
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the revoked token's connection stays open");
    alice.close().await;
}

/// A busy room: four people posting 16 messages a second in all, and the
/// reader's pointer resting over the list. The reader, who never scrolled,
/// stays at the newest message (once, "306 new" piled up), and the
/// message menu that shows under the pointer changes no message's height.
#[tokio::test]
async fn a_busy_room_keeps_the_reader_at_the_newest_message() {
    use fantoccini::actions::{InputSource, MouseActions, PointerAction};
    use futures::SinkExt;
    const SEEDED: usize = 60;
    const EACH: usize = 24;
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    seed(&db, SEEDED);
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = ChatServer::start_with(&db, any_port, |config| config.history = SEEDED).await;
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &server.base, "alice").await;
    find(
        &alice,
        &format!(".messages li.message:nth-of-type({SEEDED})"),
    )
    .await;
    until_newest_in_view(&alice, "entering: the newest message is not in view").await;

    // The menu shows over a message without changing its height.
    let message = find(&alice, ".messages li.message:nth-of-type(30)").await;
    let height = |client: &Client| {
        let client = client.clone();
        async move {
            client
                .execute(
                    "const m = document.querySelectorAll('.messages li.message')[29];
                     return [m.getBoundingClientRect().height,
                             getComputedStyle(m.querySelector('.actions')).clip];",
                    vec![],
                )
                .await
                .expect("measure the message")
        }
    };
    let before = height(&alice).await;
    let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
        element: message,
        duration: None,
        x: 0.0,
        y: 0.0,
    });
    alice
        .perform_actions(hover)
        .await
        .expect("hover the message");
    let after = height(&alice).await;
    assert_eq!(
        before[0], after[0],
        "the menu moved the message: {before} {after}"
    );
    assert_ne!(
        before[1], after[1],
        "the menu did not show under the pointer"
    );

    // Back at the bottom (moving to the message scrolled it into view),
    // the pointer rests over the middle of the list while the room is busy.
    let centre = alice
        .execute(
            "const list = document.querySelector('.messages');
             list.scrollTop = list.scrollHeight;
             const box = list.getBoundingClientRect();
             return [box.left + box.width / 2, box.top + box.height / 2];",
            vec![],
        )
        .await
        .expect("the list's middle");
    until_newest_in_view(&alice, "back at the bottom").await;
    let rest = MouseActions::new("mouse".into()).then(PointerAction::MoveTo {
        duration: None,
        x: centre[0].as_f64().unwrap_or(100.0),
        y: centre[1].as_f64().unwrap_or(100.0),
    });
    alice
        .perform_actions(rest)
        .await
        .expect("rest over the list");
    let mut posters = Vec::new();
    for n in 1..=4 {
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("ws://{}/ws?user=poster{n}", server.addr))
                .await
                .expect("a poster connects");
        posters.push(socket);
    }
    for round in 1..=EACH {
        for (n, poster) in posters.iter_mut().enumerate() {
            let frame = protocol::ClientFrame::Send {
                client_id: format!("p{n}-{round}"),
                msg: format!("poster {} says {round}", n + 1),
                room: None,
                reply_to: None,
            };
            poster
                .send(tokio_tungstenite::tungstenite::Message::text(
                    frame.to_json(),
                ))
                .await
                .expect("post");
            tokio::time::sleep(Duration::from_millis(62)).await;
        }
    }
    let last = format!("poster 4 says {EACH}");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while texts(&alice, ".messages li.message:last-of-type .text").await != [last.clone()] {
        assert!(tokio::time::Instant::now() < deadline, "{last} never shown");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    until_newest_in_view(&alice, "the reader fell behind a busy room").await;
    assert!(
        alice
            .find_all(Locator::Css(".jump"))
            .await
            .expect("query")
            .is_empty(),
        "the reader was left behind with a count of new messages"
    );
    alice.close().await;
    server.stop().await;
}

/// A half-written message, a reply or an edit once followed its writer
/// into the next room, where Enter posted it. Each room keeps its own
/// draft, across reloads too.
#[tokio::test]
async fn each_room_keeps_its_own_draft() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &base, "alice").await;
    find(&alice, "#message")
        .await
        .send_keys("half a thought in the lobby")
        .await
        .expect("type");
    alice
        .goto(&format!("{base}/r/rust"))
        .await
        .expect("open rust");
    find(&alice, r#".status[data-state="online"]"#).await;
    until_title(&alice, "#rust · Chat").await;
    let (mut bob, _) =
        tokio_tungstenite::connect_async(format!("ws://{}/ws?user=bob&room=rust", server.addr))
            .await
            .expect("bob connects");
    post_as(&mut bob, "b1", "anyone here?").await;
    // In rust: an empty box; a reply to bob, half written.
    until_composer(&alice, "").await;
    let message = ".messages li.message:not([data-status])";
    find(&alice, message).await;
    alice
        .execute(
            &format!("document.querySelector(\"{message}\").focus();"),
            vec![],
        )
        .await
        .expect("focus bob's message");
    click(&alice, &format!("{message} .actions .reply")).await;
    until_text(&alice, ".draft-banner", "Replying to bob").await;
    find(&alice, "#message")
        .await
        .send_keys("yes, me")
        .await
        .expect("type");

    // Back in the lobby: its own text, no reply; kept across a reload.
    open_room(&alice, &base, "lobby").await;
    until_composer(&alice, "half a thought in the lobby").await;
    assert!(alice
        .find_all(Locator::Css(".draft-banner"))
        .await
        .expect("query")
        .is_empty());
    alice.refresh().await.expect("reload");
    find(&alice, r#".status[data-state="online"]"#).await;
    until_composer(&alice, "half a thought in the lobby").await;

    // And rust's: the text and the reply it was for; Enter sends it there.
    open_room(&alice, &base, "rust").await;
    until_composer(&alice, "yes, me").await;
    until_text(&alice, ".draft-banner", "Replying to bob").await;
    find(&alice, "#message")
        .await
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("send");
    until_text(
        &alice,
        ".messages li[data-status=sent] .quote",
        "anyone here?",
    )
    .await;
    until_composer(&alice, "").await;
    open_room(&alice, &base, "lobby").await;
    until_composer(&alice, "half a thought in the lobby").await;
    assert!(
        !texts(&alice, ".messages .message .text")
            .await
            .iter()
            .any(|text| text == "yes, me"),
        "the reply went to the lobby"
    );
    alice.close().await;
    server.stop().await;
}

/// Search from the page: `Ctrl+Shift+F` focuses the field, a Chinese word
/// finds the messages that have it (marked), "Load more" pages further
/// back, and a hit beyond the loaded history opens at its message.
#[tokio::test]
async fn search_finds_chinese_words_pages_back_and_opens_the_message() {
    let data = tempfile::tempdir().expect("tmp");
    let db = data.path().join("chat.db");
    seed(&db, 300);
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let server = ChatServer::start_with(&db, any_port, |config| config.history = 20).await;
    let driver = start_driver().await;
    let alice = browser(&driver).await;
    log_in(&alice, &server.base, "alice").await;
    say(&alice, "你好世界").await;
    say(&alice, "世界和平").await;
    say(&alice, "世人的界限").await;
    until_text(&alice, ".messages", "世人的界限").await;

    // Ctrl+Shift+F focuses the search field, from the composer too.
    find(&alice, "#message")
        .await
        .send_keys(&format!("{}{}f", Key::Control, Key::Shift))
        .await
        .expect("press Ctrl+Shift+F");
    assert!(
        focused(&alice, "#search").await,
        "the shortcut focuses search"
    );
    let field = find(&alice, "#search").await;
    field.send_keys("世界").await.expect("type");
    field
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("search");
    until_text(&alice, ".search-results h2", "“世界” in #lobby").await;
    let hits = texts(&alice, ".search-results li").await;
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits[0].contains("世界和平") && hits[1].contains("你好世界"),
        "{hits:?}"
    );
    assert_eq!(
        texts(&alice, ".search-results li mark").await,
        ["世界", "世界"],
        "the word is marked where it is"
    );

    // The old messages: twenty to a page, "Load more" for the rest.
    let field = find(&alice, "#search").await;
    field.clear().await.expect("clear");
    field.send_keys("old message 1*").await.expect("type");
    field
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("search");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while texts(&alice, ".search-results li").await.len() != 20 {
        assert!(tokio::time::Instant::now() < deadline, "the first page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    click(&alice, ".search-results .more").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    // 1, 10..19, 100..199: 111 messages; a second page of twenty.
    while texts(&alice, ".search-results li").await.len() != 40 {
        assert!(tokio::time::Instant::now() < deadline, "the second page");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Newest first: 199 to 180, then 179 to 160; 170 is far beyond the
    // loaded twenty.
    let hit = find(&alice, ".search-results a[href='/r/lobby/m/170']").await;
    hit.click().await.expect("open the hit");
    wait_for_path(&alice, &server.base, "/r/lobby").await;
    let target = find(&alice, ".message[data-id='170'][data-highlighted]").await;
    assert!(target
        .text()
        .await
        .expect("text")
        .contains("old message 170"));
    assert!(
        !is_visible(&alice, ".search-results").await,
        "the panel closed for the message"
    );

    // A bad query says why, in the panel, and changes nothing else.
    let field = find(&alice, "#search").await;
    field.clear().await.expect("clear");
    field.send_keys("\"unclosed").await.expect("type");
    field
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("search");
    until_text(
        &alice,
        ".search-results [role=alert]",
        "quote is not closed",
    )
    .await;
    alice.close().await;
    server.stop().await;
}
