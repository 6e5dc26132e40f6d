//! What the browser tests share: the server, the browsers, and waiting
//! for what a page shows.

#![allow(dead_code)] // each test binary uses some of it

use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use server::Config;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use warp::Filter;

pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// The chat server serving `dist/`, with its database in a temporary
/// directory; stopped on drop.
pub(crate) struct ChatServer {
    pub(crate) base: String,
    pub(crate) addr: SocketAddr,
    pub(crate) stop: Option<oneshot::Sender<()>>,
    pub(crate) task: JoinHandle<Result<(), server::StartError>>,
}

impl ChatServer {
    /// Starts on `addr` (port 0 for any) with the database `db`.
    pub(crate) async fn start(db: &Path, addr: SocketAddr) -> Self {
        Self::start_with(db, addr, |_| {}).await
    }

    /// Like [`ChatServer::start`], with `adjust` applied to the settings.
    pub(crate) async fn start_with(
        db: &Path,
        addr: SocketAddr,
        adjust: impl FnOnce(&mut Config),
    ) -> Self {
        let dist = dist();
        assert!(
            dist.join("index.html").is_file(),
            "{} has no built client: run `cargo xtask test` (or `trunk build --release`) first",
            dist.display()
        );
        let listener = TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = Config::defaults();
        config.static_dir = Some(dist);
        config.db = db.to_path_buf();
        adjust(&mut config);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, config, async {
            let _ = stopped.await;
        }));
        ChatServer {
            base: format!("http://{addr}"),
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// Shuts down gracefully and waits until it has.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
            .expect("server ran");
    }
}

pub(crate) fn dist() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../dist")
}

/// Only the built client, no chat: what a browser gets from a CDN while the
/// chat server is down.
pub(crate) struct StaticServer {
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) task: JoinHandle<()>,
}

impl StaticServer {
    pub(crate) async fn start(addr: SocketAddr) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind");
        let files = warp::fs::dir(dist()).or(warp::fs::file(dist().join("index.html")));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = warp::serve(files).incoming(listener).graceful(async {
            let _ = stopped.await;
        });
        StaticServer {
            stop,
            task: tokio::spawn(server.run()),
        }
    }

    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("static server stops in time")
            .expect("static server task");
    }
}

pub(crate) async fn start_server(data: &tempfile::TempDir) -> ChatServer {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    ChatServer::start(&data.path().join("chat.db"), any_port).await
}

/// The browsers the tests drive: Debian's Chromium (every test) and
/// Firefox ESR (the end-to-end chat).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Engine {
    Chromium,
    Firefox,
}

/// A WebDriver server (chromedriver or geckodriver), killed on drop.
pub(crate) struct Driver {
    pub(crate) url: String,
    pub(crate) engine: Engine,
    pub(crate) _process: Child,
}

pub(crate) async fn start_driver() -> Driver {
    start_driver_for(Engine::Chromium).await
}

pub(crate) async fn start_driver_for(engine: Engine) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let mut command = match engine {
        Engine::Chromium => {
            let mut command = Command::new("chromedriver");
            command.arg(format!("--port={port}"));
            command
        }
        Engine::Firefox => {
            let mut command = Command::new("geckodriver");
            command.args(["--port", &port.to_string()]);
            command
        }
    };
    let process = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{engine:?}'s driver on PATH (cargo xtask test installs it): {e}")
        });
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{engine:?}'s driver never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver {
        url: format!("http://127.0.0.1:{port}"),
        engine,
        _process: process,
    }
}

/// A headless Chromium session with a profile (so a localStorage) of its own,
/// deleted when it is dropped.
pub(crate) struct Browser {
    pub(crate) client: Client,
    pub(crate) _profile: tempfile::TempDir,
}

impl std::ops::Deref for Browser {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Browser {
    pub(crate) async fn close(self) {
        self.client.close().await.expect("close the browser");
    }
}

/// A fresh headless Chromium, desktop-sized, in light mode.
pub(crate) async fn browser(driver: &Driver) -> Browser {
    browser_as(driver, Screen::DESKTOP, Scheme::Light).await
}

/// A window size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Screen {
    pub(crate) width: u32,
    pub(crate) height: u32,
}

impl Screen {
    pub(crate) const DESKTOP: Self = Self {
        width: 1000,
        height: 800,
    };
    pub(crate) const PHONE: Self = Self {
        width: 375,
        height: 740,
    };
}

/// The colour scheme the page is asked for (`prefers-color-scheme`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scheme {
    Light,
    Dark,
}

/// A fresh headless browser of the driver's kind with this window size and
/// colour scheme.
pub(crate) async fn browser_as(driver: &Driver, screen: Screen, scheme: Scheme) -> Browser {
    browser_with(driver, screen, scheme, None).await
}

/// A fresh headless browser whose user prefers `languages` (as in its
/// settings: `"zh-CN,en"`), which is what `navigator.languages` then says.
#[allow(dead_code)]
pub(crate) async fn browser_in(driver: &Driver, languages: &str) -> Browser {
    browser_with(driver, Screen::DESKTOP, Scheme::Light, Some(languages)).await
}

async fn browser_with(
    driver: &Driver,
    screen: Screen,
    scheme: Scheme,
    languages: Option<&str>,
) -> Browser {
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut capabilities = match driver.engine {
        Engine::Chromium => chromium_capabilities(profile.path(), screen, scheme),
        Engine::Firefox => firefox_capabilities(profile.path(), screen, scheme),
    };
    if let Some(languages) = languages {
        let (options, first) = match driver.engine {
            Engine::Chromium => ("goog:chromeOptions", languages.split(',').next()),
            Engine::Firefox => ("moz:firefoxOptions", None),
        };
        capabilities[options]["prefs"]["intl.accept_languages"] = languages.into();
        // Chromium takes its own language from the command line.
        if let (Some(first), Some(args)) = (first, capabilities[options]["args"].as_array_mut()) {
            args.push(format!("--lang={first}").into());
        }
    }
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object literal")
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("a {:?} session: {e}", driver.engine));
    Browser {
        client,
        _profile: profile,
    }
}

pub(crate) fn firefox_capabilities(
    profile: &Path,
    screen: Screen,
    scheme: Scheme,
) -> serde_json::Value {
    let dark = i32::from(scheme == Scheme::Dark);
    serde_json::json!({
        "moz:firefoxOptions": {
            "binary": "/usr/bin/firefox-esr",
            "args": [
                "-headless", "-profile", profile.display().to_string(),
                format!("--width={}", screen.width), format!("--height={}", screen.height),
            ],
            "prefs": {
                "ui.systemUsesDarkTheme": dark,
                // No updates, telemetry or other traffic on a closed network.
                "app.update.enabled": false,
                "browser.shell.checkDefaultBrowser": false,
                "datareporting.policy.dataSubmissionEnabled": false,
                "network.captive-portal-service.enabled": false,
                "network.connectivity-service.enabled": false,
            }
        }
    })
}

pub(crate) fn chromium_capabilities(
    profile: &Path,
    screen: Screen,
    scheme: Scheme,
) -> serde_json::Value {
    let preferred = match scheme {
        Scheme::Dark => 0,
        Scheme::Light => 1,
    };
    let args = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
    ]
    .map(String::from)
    .into_iter()
    .chain([
        format!("--user-data-dir={}", profile.display()),
        format!("--window-size={},{}", screen.width, screen.height),
        format!("--blink-settings=preferredColorScheme={preferred}"),
    ])
    .collect::<Vec<_>>();
    let mut options = serde_json::json!({
        "binary": "/usr/bin/chromium",
        "args": args,
        // Desktop notifications allowed, as a user who said yes would.
        "prefs": { "profile.default_content_setting_values.notifications": 1 }
    });
    // A phone is a touch screen (no hover, coarse pointer) at its size,
    // not only a narrow window.
    if screen == Screen::PHONE {
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": {
                "width": screen.width, "height": screen.height, "pixelRatio": 2.0, "touch": true
            }
        });
    }
    serde_json::json!({
        "goog:chromeOptions": options
    })
}

/// Waits for an element matching `css`. A page that is navigating (a
/// reload the app does itself, as after a claim) answers the driver with
/// an error rather than "no such element": that waits too.
pub(crate) async fn find(client: &Client, css: &str) -> Element {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match client.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no element {css}: {error}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Waits until the browser is at `path` of the server.
pub(crate) async fn wait_for_path(client: &Client, base: &str, path: &str) {
    let url = format!("{base}{path}").parse().expect("a URL");
    client
        .wait()
        .at_most(PATIENCE)
        .for_url(&url)
        .await
        .unwrap_or_else(|e| panic!("never reached {path}: {e}"));
}

/// The messages the server confirmed (not those still pending), in order,
/// as (author, text, own), once there are `count`. Only our own messages
/// carry a delivery status. The author is read as a screen reader would:
/// a message that continues its author's group shows the name to them only.
pub(crate) async fn wait_for_messages(
    client: &Client,
    count: usize,
) -> Vec<(String, String, bool)> {
    find(
        client,
        &format!(".messages li:nth-child({count} of .message[data-id])"),
    )
    .await;
    let items = client
        .find_all(Locator::Css(".messages li.message[data-id]"))
        .await
        .expect("query messages");
    let mut shown = Vec::new();
    for item in items {
        let author = item.find(Locator::Css(".author")).await.expect("author");
        let text = item.find(Locator::Css(".text")).await.expect("text");
        let status = item.attr("data-status").await.expect("data-status");
        shown.push((
            author
                .prop("textContent")
                .await
                .expect("author text")
                .unwrap_or_default(),
            text.text().await.expect("message text"),
            status.is_some(),
        ));
    }
    shown
}

pub(crate) async fn log_in(client: &Client, base: &str, name: &str) {
    client
        .goto(&format!("{base}/"))
        .await
        .expect("open the app");
    wait_for_path(client, base, "/login").await;
    let input = find(client, "#username").await;
    input.send_keys(name).await.expect("type the name");
    input
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("press Enter");
    wait_for_path(client, base, "/").await;
    find(client, r#".status[data-state="online"]"#).await;
}

pub(crate) async fn say(client: &Client, text: &str) {
    let input = find(client, "#message").await;
    input.send_keys(text).await.expect("type the message");
    input
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("press Enter");
}

/// The texts of the items matching `css`, in order.
/// Scrolls the message list to `top` pixels, as a reader would.
pub(crate) async fn scroll_list_to(client: &Client, top: u32) {
    client
        .execute(
            "const list = document.querySelector('.messages');
             list.scrollTop = arguments[0];
             list.dispatchEvent(new Event('scroll'));",
            vec![top.into()],
        )
        .await
        .expect("scroll the list");
}

/// Waits until nothing matches `css`.
pub(crate) async fn wait_until_gone(client: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !client
        .find_all(Locator::Css(css))
        .await
        .expect("query")
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} is still there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn texts(client: &Client, css: &str) -> Vec<String> {
    let mut texts = Vec::new();
    for item in client.find_all(Locator::Css(css)).await.expect("query") {
        texts.push(item.text().await.expect("text"));
    }
    texts
}

/// Fills the database at `db` with `count` messages from "earlier".
pub(crate) fn seed(db: &Path, count: usize) {
    // Today, an hour ago: a room of today's messages.
    let at = now_ms() as i64 - 3_600_000;
    server::testing::seed_history(db, "lobby", "earlier", count, at).expect("seed the history");
}

/// What the page saw of one appended message: how the list changed, and
/// how long after the server sent it (the sender's own copy arrived) the
/// page had it in the list.
#[derive(Debug)]
pub(crate) struct Append {
    pub(crate) added: u64,
    pub(crate) removed: u64,
    /// Changes to anything inside the list other than the new item.
    pub(crate) touched: u64,
    pub(crate) shown_after_ms: f64,
}

pub(crate) fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
        * 1000.0
}

/// Watches the message list, has `sender` post one message, and reports
/// what changed in the list until it showed up as item `nth`.
pub(crate) async fn watch_append(
    client: &Client,
    sender: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    nth: usize,
) -> Append {
    client
        .execute(
            "const list = document.querySelector('.message-items');
             window.__append = { added: 0, removed: 0, touched: 0, shownAt: null };
             new MutationObserver(records => {
               for (const r of records) {
                 if (r.target === list && r.type === 'childList') {
                   __append.added += r.addedNodes.length;
                   __append.removed += r.removedNodes.length;
                   __append.shownAt = Date.now();
                 } else if (!r.target.closest || !r.target.closest('li.message:last-of-type')) {
                   __append.touched += 1;
                 }
               }
             }).observe(list, { childList: true, subtree: true, attributes: true, characterData: true });",
            vec![],
        )
        .await
        .expect("observe the list");
    post_as(sender, &format!("append-{nth}"), &format!("message {nth}")).await;
    let echoed_at = now_ms();
    find(
        client,
        &format!(".messages li:nth-child({nth} of .message)"),
    )
    .await;
    let seen = client
        .execute(
            "return new Promise(done => requestAnimationFrame(() => done(window.__append)));",
            vec![],
        )
        .await
        .expect("read the observations");
    let number = |key: &str| seen[key].as_f64().unwrap_or(f64::NAN);
    Append {
        added: number("added") as u64,
        removed: number("removed") as u64,
        touched: number("touched") as u64,
        shown_after_ms: number("shownAt") - echoed_at,
    }
}

/// Watches the message list while `sender` sends `frame` (a change to
/// message `id`), until `done` appears in that message's item; returns how
/// many changes the list saw outside that item.
pub(crate) async fn watch_change(
    client: &Client,
    sender: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    frame: &protocol::ClientFrame,
    id: u64,
    done: &str,
) -> u64 {
    use futures::SinkExt;
    client
        .execute(
            "const list = document.querySelector('.message-items');
             const item = `li.message[data-id='${arguments[0]}']`;
             window.__change = 0;
             if (window.__watching) { window.__watching.disconnect(); }
             window.__watching = new MutationObserver(records => {
               for (const r of records) {
                 const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
                 if (!node || !node.closest(item)) { window.__change += 1; }
               }
             });
             window.__watching.observe(list, { childList: true, subtree: true, attributes: true, characterData: true });",
            vec![id.into()],
        )
        .await
        .expect("observe the list");
    sender
        .send(tokio_tungstenite::tungstenite::Message::text(
            frame.to_json(),
        ))
        .await
        .expect("send the change");
    find(client, &format!("li.message[data-id='{id}'] {done}")).await;
    let touched = client
        .execute(
            "return new Promise(done => requestAnimationFrame(() => done(window.__change)));",
            vec![],
        )
        .await
        .expect("read the observations");
    touched.as_u64().unwrap_or(u64::MAX)
}

/// Where the newest message is: whether it is wholly inside the list's
/// visible area, and the list's scroll position.
pub(crate) async fn newest_in_view(client: &Client) -> (bool, f64) {
    let seen = client
        .execute(
            "const list = document.querySelector('.messages');
             const items = list.querySelectorAll('li.message');
             const last = items[items.length - 1].getBoundingClientRect();
             const view = list.getBoundingClientRect();
             return [last.top >= view.top - 1 && last.bottom <= view.bottom + 1, list.scrollTop];",
            vec![],
        )
        .await
        .expect("measure the list");
    (
        seen[0].as_bool().unwrap_or(false),
        seen[1].as_f64().unwrap_or(f64::NAN),
    )
}

/// Waits until the newest message is wholly in view; fails after a while.
pub(crate) async fn until_newest_in_view(client: &Client, why: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !newest_in_view(client).await.0 {
        assert!(tokio::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts `text` as `sender` (a plain WebSocket client) and waits for its copy.
pub(crate) async fn post_as(
    sender: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    client_id: &str,
    text: &str,
) {
    use futures::{SinkExt, StreamExt};
    let frame = protocol::ClientFrame::Send {
        client_id: client_id.to_owned(),
        msg: text.to_owned(),
        room: None,
        reply_to: None,
    };
    sender
        .send(tokio_tungstenite::tungstenite::Message::text(
            frame.to_json(),
        ))
        .await
        .expect("send");
    loop {
        let message = tokio::time::timeout(PATIENCE, sender.next())
            .await
            .expect("the sender's copy in time")
            .expect("connection open")
            .expect("no socket error");
        if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
            if let Ok(protocol::ServerFrame::Message { posted, .. }) =
                protocol::ServerFrame::parse(&text)
            {
                if posted.client_id == client_id {
                    return;
                }
            }
        }
    }
}

/// axe-core's browser script, installed from npm on first use into
/// target/axe (the accessibility auditor).
pub(crate) fn axe_script() -> String {
    let prefix = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/axe");
    let script = prefix.join("node_modules/axe-core/axe.min.js");
    if !script.is_file() {
        let status = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
            .arg(&prefix)
            .arg("axe-core@4")
            .status()
            .expect("npm on PATH (apt-get install npm)");
        assert!(status.success(), "npm install axe-core failed");
    }
    std::fs::read_to_string(&script).expect("read axe.min.js")
}

/// The accessibility violations axe-core finds on the page as it is.
pub(crate) async fn axe_violations(client: &Client, axe: &str) -> Vec<String> {
    client.execute(axe, vec![]).await.expect("inject axe-core");
    let found = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] }).then(result => done(
               result.violations.map(v => v.id + ': ' + v.help + ' at ' +
                 v.nodes.map(n => n.target.join(' ')).join(', '))));",
            vec![],
        )
        .await
        .expect("run axe-core");
    found
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The seconds the offline status counts down from, if it shows them.
pub(crate) async fn countdown(client: &Client) -> Option<u32> {
    let status = client
        .find(Locator::Css(".status [role=status]"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    status
        .strip_prefix("Offline, retrying in ")?
        .strip_suffix(" s")?
        .parse()
        .ok()
}

/// Waits until the offline countdown shows seconds that `wanted` accepts,
/// and returns them; fails with `why` after a while.
pub(crate) async fn until_countdown(
    client: &Client,
    why: &str,
    wanted: impl Fn(u32) -> bool,
) -> u32 {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(seconds) = countdown(client).await.filter(|&s| wanted(s)) {
            return seconds;
        }
        assert!(tokio::time::Instant::now() < deadline, "{why}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the tab's title is `wanted`.
pub(crate) async fn until_title(client: &Client, wanted: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let title = client.title().await.expect("the title");
        if title == wanted {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the title stayed {title:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The rooms in the sidebar, as listed.
pub(crate) async fn sidebar_rooms(client: &Client) -> Vec<String> {
    texts(client, ".room-list .room-entry a > span:first-child").await
}

/// Opens `room` from the sidebar, as a click does.
pub(crate) async fn open_room(client: &Client, base: &str, room: &str) {
    let link = find(client, &format!(".room-list a[href='/r/{room}']")).await;
    link.click().await.expect("open the room");
    wait_for_path(client, base, &format!("/r/{room}")).await;
}

/// Whether the element matching `css` is visible (rendered and not hidden).
pub(crate) async fn is_visible(client: &Client, css: &str) -> bool {
    let shown = client
        .execute(
            "const el = document.querySelector(arguments[0]);
             if (!el) return false;
             const style = getComputedStyle(el);
             const box = el.getBoundingClientRect();
             return style.visibility !== 'hidden' && box.right > 0 && box.width > 0;",
            vec![css.into()],
        )
        .await
        .expect("check visibility");
    shown == serde_json::Value::Bool(true)
}

pub(crate) async fn until_visible(client: &Client, css: &str, wanted: bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while is_visible(client, css).await != wanted {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never became {}",
            if wanted { "visible" } else { "hidden" }
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the element matching `css` as a script would: a message's menu
/// is on screen only while the pointer is over the message or focus is in
/// it, which a WebDriver click cannot always arrange.
pub(crate) async fn click(client: &Client, css: &str) {
    find(client, css).await;
    client
        .execute(
            "document.querySelector(arguments[0]).click();",
            vec![css.into()],
        )
        .await
        .unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Waits until the element matching `css` shows `wanted` in its text.
pub(crate) async fn until_text(client: &Client, css: &str, wanted: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never said {wanted:?} (it says {text:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the element matching `css` has `name` = `wanted`.
pub(crate) async fn until_attr(client: &Client, css: &str, name: &str, wanted: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let value = match client.find(Locator::Css(css)).await {
            Ok(element) => element.attr(name).await.ok().flatten(),
            Err(_) => None,
        };
        if value.as_deref() == Some(wanted) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never had {name}={wanted:?} (it has {value:?})"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Types `text` into the field `css`, replacing what it held.
pub(crate) async fn fill(client: &Client, css: &str, text: &str) {
    let field = find(client, css).await;
    field.clear().await.expect("clear the field");
    field.send_keys(text).await.expect("type");
}

/// Submits the login form with `name` and `password` (empty: a guest).
pub(crate) async fn sign_in_as(client: &Client, name: &str, password: &str) {
    fill(client, "#username", name).await;
    fill(client, "#password", password).await;
    click(client, ".login-card button[type=submit]").await;
}

/// Logs in as `name` and keeps the name with a password (the page
/// reloads, claimed).
pub(crate) async fn log_in_claimed(client: &Client, base: &str, name: &str) {
    log_in(client, base, name).await;
    click(client, ".account .menu-button").await;
    fill(client, "#new-password", "a long password").await;
    click(client, ".account form button[type=submit]").await;
    find(client, ".account .menu-button .member").await;
    find(client, r#".status[data-state="online"]"#).await;
}

/// Acts on `target` from the room menu's moderation form: the action at
/// `index` of its list, for `minutes`, with `reason`.
pub(crate) async fn moderate_from_menu(
    client: &Client,
    target: &str,
    index: u32,
    minutes: &str,
    reason: &str,
) {
    client
        .execute("document.getElementById('mod-menu').showPopover();", vec![])
        .await
        .expect("open the moderation menu");
    find(client, "#mod-target").await;
    client
        .execute(
            "document.querySelector('#mod-target').value = arguments[0];",
            vec![target.into()],
        )
        .await
        .expect("name the target");
    apply_moderation(client, index, minutes, reason).await;
}

/// Chooses the action (its index in the form's list), the minutes and the
/// reason in the room menu's moderation form, and applies them to the
/// name it holds.
/// Accepts the browser's confirmation dialog, which says `question`.
pub(crate) async fn accept_dialog(client: &Client, question: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let shown = loop {
        match client.get_alert_text().await {
            Ok(text) => break text,
            Err(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "no dialog asking {question:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert!(shown.contains(question), "{shown:?}");
    client.accept_alert().await.expect("accept the dialog");
}

/// Applies the form's action at `index` of its list (0: the "Choose an
/// action" it starts on).
pub(crate) async fn apply_moderation(client: &Client, index: u32, minutes: &str, reason: &str) {
    client
        .execute(
            "document.querySelector('#mod-action').selectedIndex = arguments[0];
             document.querySelector('#mod-minutes').value = arguments[1];
             document.querySelector('#mod-reason').value = arguments[2];",
            vec![index.into(), minutes.into(), reason.into()],
        )
        .await
        .expect("fill in the form");
    click(client, ".moderation button.apply").await;
}

/// Waits until no message of the list shows `text` any more.
pub(crate) async fn until_no_message_says(client: &Client, text: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while texts(client, ".messages li.message")
        .await
        .iter()
        .any(|line| line.contains(text))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{text:?} is still shown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The name a person's menu put in the moderation form, once the room's
/// menu is open at it.
pub(crate) async fn moderation_target(client: &Client) -> String {
    client
        .execute(
            "const menu = document.getElementById('mod-menu');
             return menu.matches(':popover-open') ? document.querySelector('#mod-target').value : '';",
            vec![],
        )
        .await
        .expect("read the form")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The composer's value, as the page holds it.
pub(crate) async fn composer_text(client: &Client) -> String {
    find(client, "#message")
        .await
        .prop("value")
        .await
        .expect("the box's text")
        .unwrap_or_default()
}

/// Waits until the composer holds `wanted`.
pub(crate) async fn until_composer(client: &Client, wanted: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let text = composer_text(client).await;
        if text == wanted {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the box says {text:?}, not {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
