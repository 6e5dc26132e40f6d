//! The UI in English and Simplified Chinese: chosen by the browser's
//! languages, switched from the name's menu and kept across reloads, with
//! `<html lang>` following; the server's refusals said from their codes;
//! both languages pass the accessibility audit.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use fantoccini::Client;
use support::*;

/// `<html lang>`.
async fn page_lang(client: &Client) -> String {
    client
        .execute("return document.documentElement.lang", vec![])
        .await
        .expect("read <html lang>")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The `attribute` of the element matching `css`.
async fn attribute(client: &Client, css: &str, attribute: &str) -> String {
    find(client, css)
        .await
        .attr(attribute)
        .await
        .expect("read the attribute")
        .unwrap_or_default()
}

/// An input method's Enter (choosing a candidate) never sends: typed
/// `first`, an Enter while composing (as Chromium and Firefox mark it, and
/// as Safari does, key code 229), then `more` and a real Enter: one message
/// goes out, and it is the whole text.
async fn enter_while_composing_does_not_send(client: &Client, first: &str, more: &str) {
    let field = find(client, "#message").await;
    field.send_keys(first).await.expect("type");
    client
        .execute(
            "const box = document.getElementById('message');
             for (const init of [{ isComposing: true }, { keyCode: 229 }]) {
               box.dispatchEvent(new KeyboardEvent('keydown',
                 { key: 'Enter', code: 'Enter', bubbles: true, cancelable: true, ...init }));
             }",
            vec![],
        )
        .await
        .expect("an input method's Enter");
    field.send_keys(more).await.expect("type");
    field
        .send_keys(&fantoccini::key::Key::Enter.to_string())
        .await
        .expect("press Enter");
    let whole = format!("{first}{more}");
    until_text(client, ".messages li[data-status=sent] .text", &whole).await;
    let sent = client
        .execute(
            "return document.querySelectorAll('.messages li[data-status=sent]').length",
            vec![],
        )
        .await
        .expect("count");
    assert_eq!(sent, serde_json::json!(1), "one message: {whole}");
}

#[tokio::test]
async fn a_chinese_browser_gets_chinese_everywhere_and_the_menu_switches_to_english() {
    let axe = axe_script();
    let data = tempfile::tempdir().expect("tmp");
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    // An admin: the moderation menu is on screen too, and a wrong
    // password gives a refusal.
    let server = ChatServer::start_with(&data.path().join("chat.db"), any_port, |config| {
        config.admins = vec!["boss".into()];
        config.admin_password = Some(server::AdminPassword("a long password".into()));
    })
    .await;
    let base = server.base.clone();
    let driver = start_driver().await;
    let zh = browser_in(&driver, "zh-CN,zh,en").await;

    zh.goto(&format!("{base}/login"))
        .await
        .expect("open the login page");
    find(&zh, "#username").await;
    assert_eq!(page_lang(&zh).await, "zh-CN");
    assert_eq!(zh.title().await.expect("the title"), "聊天");
    until_text(&zh, ".login-card label[for=username]", "你的名字").await;
    until_text(&zh, ".login-card button[type=submit]", "进入").await;
    until_text(&zh, ".login-card .lead", "选一个名字加入聊天室。").await;
    assert_eq!(
        attribute(&zh, "link[rel=manifest]", "href").await,
        "/manifest.zh-CN.webmanifest"
    );
    assert_eq!(
        axe_violations(&zh, &axe).await,
        Vec::<String>::new(),
        "login"
    );

    // The server refuses in English; the page says it from the code.
    sign_in_as(&zh, "boss", "not the password").await;
    until_text(&zh, "#login-notice", "这不是这个名字的密码。").await;
    sign_in_as(&zh, "boss", "a long password").await;
    find(&zh, r#".status[data-state="online"]"#).await;
    until_text(&zh, ".status", "已连接").await;
    until_text(&zh, ".sidebar h2", "聊天室").await;
    assert_eq!(attribute(&zh, "#message", "placeholder").await, "输入消息…");
    assert_eq!(
        attribute(&zh, ".messages", "aria-label").await,
        "消息",
        "what a screen reader says"
    );
    assert_eq!(
        axe_violations(&zh, &axe).await,
        Vec::<String>::new(),
        "room"
    );
    enter_while_composing_does_not_send(&zh, "你好", "世界").await;

    // Every menu, in Chinese, and audited open.
    for (opens, body, wanted) in [
        (".account .menu-button", "#account-menu", "退出登录"),
        (
            ".room-menu .menu-button",
            "#notify-menu",
            "在 #lobby 中通知我",
        ),
        (".moderation-menu .menu-button", "#mod-menu", "管理 #lobby"),
        (".people .menu-button", "#people-menu", "(你)"),
    ] {
        click(&zh, opens).await;
        find(&zh, ":popover-open").await;
        until_text(&zh, body, wanted).await;
        assert_eq!(
            axe_violations(&zh, &axe).await,
            Vec::<String>::new(),
            "{body}"
        );
        click(&zh, opens).await;
        wait_until_gone(&zh, ":popover-open").await;
    }
    until_text(&zh, ".people .menu-button", "1 人在线").await;

    // A desktop notification, in Chinese: a mention while in another room.
    zh.goto(&format!("{base}/r/rust")).await.expect("open rust");
    find(&zh, ".room-entry[aria-current='page']").await;
    zh.execute(
        "window.__notes = [];
         const Real = window.Notification;
         window.Notification = class extends Real {
           constructor(title, options) {
             super(title, options);
             window.__notes.push(title);
           }
         };",
        vec![],
    )
    .await
    .expect("watch notifications");
    let (mut bot, _) = tokio_tungstenite::connect_async(format!(
        "ws://{}/ws?user=bot&token=bot-token",
        server.addr
    ))
    .await
    .expect("the bot connects");
    post_as(&mut bot, "hello", "你好 @boss").await;
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let notes = loop {
        let notes = zh
            .execute("return window.__notes", vec![])
            .await
            .expect("read notifications");
        if notes.as_array().is_some_and(|notes| !notes.is_empty()) {
            break notes;
        }
        assert!(tokio::time::Instant::now() < deadline, "no notification");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(notes, serde_json::json!(["bot 在 #lobby"]));

    // English from the name's menu: the page starts again in it, and stays
    // so across a reload.
    click(&zh, ".account .menu-button").await;
    let english = find(&zh, ".account .languages button[lang=en]").await;
    assert_eq!(english.text().await.expect("its name"), "English");
    english.click().await.expect("pick English");
    until_text(&zh, ".status", "Connected").await;
    assert_eq!(page_lang(&zh).await, "en");
    zh.refresh().await.expect("reload");
    until_text(&zh, ".status", "Connected").await;
    assert_eq!(page_lang(&zh).await, "en");
    assert_eq!(
        attribute(&zh, "#message", "placeholder").await,
        "Write a message…"
    );
    zh.close().await;

    // An English browser gets English.
    let en = browser_in(&driver, "en-US,en").await;
    en.goto(&format!("{base}/login"))
        .await
        .expect("open the login page");
    until_text(&en, ".login-card label[for=username]", "Your name").await;
    assert_eq!(page_lang(&en).await, "en");
    sign_in_as(&en, "amy", "").await;
    until_text(&en, ".status", "Connected").await;
    enter_while_composing_does_not_send(&en, "hello", " world").await;
    en.close().await;
    server.stop().await;
}

#[tokio::test]
async fn firefox_in_chinese_gets_chinese_and_traditional_chinese_gets_english() {
    let data = tempfile::tempdir().expect("tmp");
    let server = start_server(&data).await;
    let driver = start_driver_for(Engine::Firefox).await;
    for (languages, lang, label) in [
        ("zh-CN,en", "zh-CN", "你的名字"),
        ("zh-TW,en", "en", "Your name"),
    ] {
        let client = browser_in(&driver, languages).await;
        client
            .goto(&format!("{}/login", server.base))
            .await
            .expect("open the login page");
        until_text(&client, ".login-card label[for=username]", label).await;
        assert_eq!(page_lang(&client).await, lang, "{languages}");
        client.close().await;
    }
    server.stop().await;
}
