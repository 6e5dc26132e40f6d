//! A real server on port 0 and real WebSocket clients for the tests.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ErrorCode, Posted, ServerFrame};
use serde_json::{json, Value};
use server::Config;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The room of a connection that names none.
pub const DEFAULT_ROOM: &str = "lobby";

/// Long enough for a loaded CI machine, short enough to fail fast.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// How often [`until`] looks again.
const POLL: Duration = Duration::from_millis(20);

/// Waits until `condition` holds, looking again every few milliseconds;
/// fails with `why` after [`PATIENCE`]. What the tests wait for with real
/// time: a condition with a deadline, never a fixed sleep.
pub async fn until<F, Fut>(why: &str, condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    assert!(within_patience(condition).await, "{why}");
}

/// Whether `condition` comes to hold within [`PATIENCE`] (see [`until`]).
pub async fn within_patience<F, Fut>(mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
    true
}

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), server::StartError>>,
    /// Holds the database file for as long as the server runs, unless the
    /// test owns it.
    _data: Option<tempfile::TempDir>,
}

/// Starts a server with exactly `config` (its database is the caller's).
/// A server's configuration on `redis` (a redis-server of the test's
/// own), whatever backend the rest of the suite runs on.
pub fn on_redis(redis: &RedisServer, data: &tempfile::TempDir) -> Config {
    let mut config = test_config(data);
    config.redis_url = Some(redis.url());
    config.redis_prefix = "room".into();
    config
}

pub async fn spawn_server(config: Config) -> TestServer {
    TestServer::spawn(config, None).await
}

/// The Redis the behaviour suite runs on instead of SQLite, if set:
/// `cargo xtask test` runs the server's tests a second time with it.
pub fn shared_redis() -> Option<String> {
    std::env::var("CHAT_TEST_REDIS_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The room's keys in the shared Redis, one room per data directory: a
/// server restarted on the same directory finds its history again.
fn redis_prefix(data: &Path) -> String {
    format!("test:{}", data.display())
}

/// Default settings, no built client, a fresh room in `data` (an SQLite
/// file there, or keys named after it in the shared Redis).
pub fn test_config(data: &tempfile::TempDir) -> Config {
    let mut config = Config::defaults();
    config.static_dir = Some("/nonexistent/dist".into());
    config.db = data.path().join("chat.db");
    if let Some(url) = shared_redis() {
        config.redis_url = Some(url);
        config.redis_prefix = redis_prefix(data.path());
    }
    // Tests send fast, all from one address; the rate limits and budgets
    // have tests of their own.
    config.rate_limit = 10_000.0;
    config.rate_burst = 10_000;
    config.address_rate_limit = 10_000.0;
    config.address_rate_burst = 10_000;
    config.join_rate_limit = 10_000.0;
    config.join_rate_burst = 10_000;
    config.history_rate_bytes = 1 << 40;
    config.history_burst_bytes = u32::MAX;
    config
}

impl TestServer {
    /// A server with default settings, no built client and an empty database.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Like [`TestServer::start`], with `adjust` applied to the settings.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let data = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&data);
        adjust(&mut config);
        Self::spawn(config, Some(data)).await
    }

    async fn spawn(config: Config, data: Option<tempfile::TempDir>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server::run(listener, config, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            _data: data,
        }
    }

    /// Triggers shutdown and waits for `run` to return.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(PATIENCE, &mut self.task)
            .await
            .expect("server stops in time")
            .expect("server task does not panic")
            .expect("server ran without error");
    }

    /// Connects as `user`, reads the welcome and the history frame.
    pub async fn join(&self, user: &str) -> Client {
        self.join_after(user, None).await.0
    }

    /// Connects as `user` resuming after `after`; returns the history frame.
    pub async fn join_after(&self, user: &str, after: Option<u64>) -> (Client, History) {
        join(self.addr, user, after).await
    }

    /// Connects as `user` without reading anything.
    pub async fn connect(&self, user: &str) -> Client {
        connect(self.addr, user, None).await
    }

    /// `GET path`, returning the status code and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.addr, path).await
    }

    /// Open connections, as `/healthz` reports them.
    pub async fn connections(&self) -> u64 {
        let (status, body) = self.get("/healthz").await;
        assert_eq!(status, 200, "{body}");
        let health: serde_json::Value = serde_json::from_str(&body).expect("healthz is JSON");
        health["connections"]
            .as_u64()
            .expect("connections is a number")
    }

    /// Waits until `/healthz` reports `expected` open connections; fails
    /// with `why` after [`PATIENCE`].
    pub async fn until_connections(&self, expected: u64, why: &str) {
        until(why, || async { self.connections().await == expected }).await;
    }
}

/// Starts the server binary on port 0 and returns it with its address, read
/// from its log. Its room is the database `db`, or with the shared Redis,
/// keys named after `db`'s directory.
pub async fn start_binary(db: &Path, extra_args: &[&str]) -> (Child, SocketAddr) {
    let (child, addr, _) = start_binary_with(db, extra_args, None).await;
    (child, addr)
}

/// Runs the server binary with `args` (and no client to serve), which must
/// refuse to start: returns what it said, having checked that it failed
/// without a panic.
pub fn refusal_to_start(args: &[&std::ffi::OsStr]) -> String {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--static-dir", "/nonexistent"])
        .args(args)
        .output()
        .expect("run the server binary");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it started: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// What the server binary has logged so far.
#[derive(Clone, Default)]
pub struct ServerLog(Arc<Mutex<String>>);

impl ServerLog {
    pub fn text(&self) -> String {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits until the log contains `text`; fails after [`PATIENCE`].
    pub async fn until_contains(&self, text: &str) {
        let found = within_patience(|| async { self.text().contains(text) }).await;
        assert!(found, "no {text:?} in the log:\n{}", self.text());
    }

    fn push(&self, line: &str) {
        let mut text = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        text.push_str(line);
        text.push('\n');
    }
}

/// Like [`start_binary`], under `open_files` (soft and hard limit) when
/// given, and with the log kept for the test to read.
pub async fn start_binary_with(
    db: &Path,
    extra_args: &[&str],
    open_files: Option<(u64, u64)>,
) -> (Child, SocketAddr, ServerLog) {
    start_binary_logging(db, extra_args, open_files, "info").await
}

/// Like [`start_binary_with`], logging at `level` (`RUST_LOG`).
pub async fn start_binary_logging(
    db: &Path,
    extra_args: &[&str],
    open_files: Option<(u64, u64)>,
    level: &str,
) -> (Child, SocketAddr, ServerLog) {
    let server = env!("CARGO_BIN_EXE_server");
    let mut command = match open_files {
        None => Command::new(server),
        Some((soft, hard)) => {
            let mut shell = Command::new("sh");
            let script = format!("ulimit -Sn {soft} && ulimit -Hn {hard} && exec \"$0\" \"$@\"");
            shell.args(["-c", &script, server]);
            shell
        }
    };
    let own_redis = extra_args.contains(&"--redis-url");
    if let (Some(url), Some(data), false) = (shared_redis(), db.parent(), own_redis) {
        command.args(["--redis-url", &url, "--redis-prefix", &redis_prefix(data)]);
    }
    let mut child = command
        .args(["--bind", "127.0.0.1:0", "--static-dir", "/nonexistent"])
        // Tests send fast, and a fresh client's history holds a whole test.
        .args(["--history", "1000"])
        .args(["--rate-limit", "10000", "--rate-burst", "10000"])
        .args([
            "--address-rate-limit",
            "10000",
            "--address-rate-burst",
            "10000",
        ])
        .args(["--join-rate-limit", "10000", "--join-rate-burst", "10000"])
        .arg("--db")
        .arg(db)
        .args(extra_args)
        .env("NO_COLOR", "1")
        .env("RUST_LOG", level)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the server binary");
    let log = ServerLog::default();
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let addr = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.expect("read log") {
            log.push(&line);
            if let Some(rest) = line.split("chat room at http://").nth(1) {
                let addr: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                    .collect();
                return addr.parse::<SocketAddr>().expect("an address in the log");
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server starts in time");
    let kept = log.clone();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            kept.push(&line);
        }
    });
    (child, addr, log)
}

/// The `history` frame, unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub messages: Vec<Posted>,
    pub reset: bool,
    pub has_older: bool,
    /// The room's newest event.
    pub seq: Option<u64>,
    /// The edits, deletions and reactions replayed after it (resuming).
    pub replay: Vec<ServerFrame>,
}

impl History {
    pub fn ids(&self) -> Vec<u64> {
        self.messages.iter().map(|p| p.message.id).collect()
    }
}

/// Connects to the server at `addr` without reading anything, with a token
/// of the user's own, as a browser would: a reconnect may take the name
/// back while its old connection is still counted as online.
pub async fn connect(addr: SocketAddr, user: &str, after: Option<u64>) -> Client {
    let mut url = format!(
        "ws://{addr}/ws?user={}&token=browser-of-{}",
        urlencoding::encode(user),
        urlencoding::encode(user.trim())
    );
    if let Some(after) = after {
        url.push_str(&format!("&after={after}"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    Client { ws }
}

/// Attempts a WebSocket connection with a raw query string from the
/// loopback address `source` (any of 127.0.0.0/8), so that one test can be
/// clients at many addresses.
pub async fn try_connect_from(
    source: std::net::Ipv4Addr,
    addr: SocketAddr,
    query: &str,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind a loopback address");
    let stream = socket.connect(addr).await.expect("tcp connect");
    let url = format!("ws://{addr}/ws?{query}");
    let (ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(stream)).await?;
    Ok(Client { ws })
}

/// Attempts a connection with a raw query string and, optionally, an
/// `Origin` header; returns the handshake's error (such as an HTTP 403).
pub async fn try_connect(
    addr: SocketAddr,
    query: &str,
    origin: Option<&str>,
) -> Result<Client, tokio_tungstenite::tungstenite::Error> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = format!("ws://{addr}/ws?{query}")
        .into_client_request()
        .expect("a valid request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("a valid header"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Client { ws })
}

/// The HTTP status a refused handshake got.
pub fn refused_status(result: Result<Client, tokio_tungstenite::tungstenite::Error>) -> u16 {
    match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("expected an HTTP refusal, got {other}"),
        Ok(_) => panic!("expected an HTTP refusal, got a connection"),
    }
}

/// Connects and reads the welcome, history and online frames.
pub async fn join(addr: SocketAddr, user: &str, after: Option<u64>) -> (Client, History) {
    let mut client = connect(addr, user, after).await;
    match client.recv().await {
        ServerFrame::Welcome { user: bound, .. } => assert_eq!(bound, user.trim()),
        other => panic!("expected a welcome, got {other:?}"),
    }
    // A connection that names no room is in the default room, and every
    // frame about it says so.
    let history = match client.recv().await {
        ServerFrame::History {
            room,
            messages,
            reset,
            has_older,
            seq,
            ..
        } if room == DEFAULT_ROOM => History {
            messages,
            reset,
            has_older,
            seq,
            replay: Vec::new(),
        },
        other => panic!("expected history, got {other:?}"),
    };
    let mut history = history;
    let online = loop {
        match client.recv().await {
            replayed @ (ServerFrame::Edited { .. }
            | ServerFrame::Deleted { .. }
            | ServerFrame::Reaction { .. }
            | ServerFrame::Moderated { .. }) => history.replay.push(replayed),
            other => break other,
        }
    };
    match online {
        ServerFrame::Online {
            users, count, room, ..
        } if room == DEFAULT_ROOM => {
            // A big room lists only the first names; a small one everyone.
            if count <= protocol::PRESENCE_NAMES_MAX {
                assert!(users.iter().any(|u| u == user.trim()), "{user} online");
            }
            assert!(users.len() <= protocol::PRESENCE_NAMES_MAX);
        }
        other => panic!("expected the online list, got {other:?}"),
    }
    (client, history)
}

/// An HTTP response as a test reads it.
pub struct HttpResponse {
    pub status: u16,
    /// Header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    /// The value of header `name` (lower case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A minimal HTTP/1.1 GET over a real socket, enough for status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let response = http_request(addr, path).await;
    (response.status, response.body)
}

/// A minimal HTTP/1.1 GET over a real socket, headers included.
pub async fn http_request(addr: SocketAddr, path: &str) -> HttpResponse {
    http_call(addr, "GET", path, &[], None).await
}

/// A minimal HTTP/1.1 request over a real socket: `method path` with
/// `headers` and a JSON `body`.
pub async fn http_call(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> HttpResponse {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method != "GET" {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write request");
    let mut response = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read response");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or((response.as_str(), ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    HttpResponse {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Client {
    /// The next frame the server sends, skipping presence and typing
    /// frames; fails the test on close or timeout.
    pub async fn recv(&mut self) -> ServerFrame {
        loop {
            match self.recv_any().await {
                ServerFrame::Presence { .. } | ServerFrame::Typing { .. } => {}
                frame => return frame,
            }
        }
    }

    /// The next frame the server sends, whatever it is.
    pub async fn recv_any(&mut self) -> ServerFrame {
        ServerFrame::parse(&self.recv_text().await).expect("server frames parse")
    }

    /// The next text frame the server sends, as it came.
    pub async fn recv_text(&mut self) -> String {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection still open")
                .expect("no socket error");
            match message {
                Message::Text(text) => return text.to_string(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame, which must be a chat message.
    pub async fn recv_message(&mut self) -> Posted {
        match self.recv().await {
            ServerFrame::Message { posted, .. } => posted,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Waits for the server's close frame, skipping text frames before it.
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a close in time")
                .expect("close frame before end of stream")
                .expect("no socket error");
            match message {
                Message::Close(frame) => return frame,
                Message::Text(_) | Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    pub async fn send_text(&mut self, text: impl Into<String>) {
        self.ws
            .send(Message::text(text.into()))
            .await
            .expect("send frame");
    }

    /// Asks for up to `limit` messages older than `before`; returns their
    /// ids and whether more remain.
    pub async fn load_older(&mut self, before: u64, limit: u32) -> (Vec<u64>, bool) {
        self.send_text(
            ClientFrame::LoadOlder {
                before,
                limit,
                room: None,
            }
            .to_json(),
        )
        .await;
        match self.recv().await {
            ServerFrame::Older {
                messages,
                has_older,
                room,
            } if room == DEFAULT_ROOM => {
                (messages.iter().map(|p| p.message.id).collect(), has_older)
            }
            other => panic!("expected older, got {other:?}"),
        }
    }

    /// Posts `msg` with the given client id.
    pub async fn say(&mut self, client_id: &str, msg: &str) {
        let frame = ClientFrame::Send {
            client_id: client_id.into(),
            msg: msg.into(),
            room: None,
            reply_to: None,
        };
        self.send_text(frame.to_json()).await;
    }

    /// Sends `frame`, or says why it could not (the server closed the
    /// connection: a flood put out).
    pub async fn try_send_frame(
        &mut self,
        frame: ClientFrame,
    ) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        self.ws.send(Message::text(frame.to_json())).await
    }

    /// Sends `frame`.
    pub async fn send_frame(&mut self, frame: ClientFrame) {
        self.send_text(frame.to_json()).await;
    }
}

/// A client and the online list as its frames describe it.
pub struct Watcher {
    pub client: Client,
    pub online: std::collections::BTreeSet<String>,
}

impl Watcher {
    /// Applies `presence` frames until the list is exactly `expected`.
    pub async fn until_online(&mut self, expected: &[&str]) {
        let expected: std::collections::BTreeSet<String> =
            expected.iter().map(|s| s.to_string()).collect();
        while self.online != expected {
            if let ServerFrame::Presence { joined, left, .. } = self.client.recv_any().await {
                for user in left {
                    self.online.remove(&user);
                }
                self.online.extend(joined);
            }
        }
    }
}

/// Joins the server at `addr` as `user` with `token`; returns it with the
/// online list it got.
pub async fn join_with_token(addr: SocketAddr, user: &str, token: &str) -> Watcher {
    let query = format!("user={user}&token={token}");
    let mut client = try_connect(addr, &query, None).await.expect("connects");
    assert!(matches!(client.recv().await, ServerFrame::Welcome { .. }));
    assert!(matches!(client.recv().await, ServerFrame::History { .. }));
    match client.recv().await {
        ServerFrame::Online { users, .. } => Watcher {
            client,
            online: users.into_iter().collect(),
        },
        other => panic!("expected the online list, got {other:?}"),
    }
}

/// A redis-server of the test's own, on a loopback port, with every write
/// fsynced before it is acknowledged, so the test can kill it and start it
/// again on the same data.
pub struct RedisServer {
    pub port: u16,
    process: Option<Child>,
    data: tempfile::TempDir,
}

impl RedisServer {
    pub async fn start() -> Self {
        let mut redis = Self {
            port: 0,
            process: None,
            data: tempfile::tempdir().expect("temp dir"),
        };
        // The free port is found by binding port 0 and letting go: another
        // test's server may take it before redis-server does. Then it
        // exits, and it is started again on another.
        for _ in 0..5 {
            redis.port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            if redis.launch().await.is_ok() {
                return redis;
            }
        }
        panic!("redis-server found no free port in five tries");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `kill -9`: whatever Redis acknowledged is in its append-only file.
    pub async fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill().await.expect("kill redis-server");
        }
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch()
            .await
            .expect("redis-server starts again on its port");
    }

    /// Starts redis-server and waits until it answers as itself (its pid:
    /// whatever else may listen on the port does not count); `Err` if it
    /// exited (the port was taken).
    async fn launch(&mut self) -> Result<(), std::process::ExitStatus> {
        let mut process = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.data.path())
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server on PATH (apt-get install redis-server)");
        let itself = format!("process_id:{}\r\n", process.id().expect("a pid"));
        let port = self.port;
        let started = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Ok(Some(status)) = process.try_wait() {
                    return Err(status);
                }
                if answers(port, &itself).await {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("redis-server starts in time");
        self.process = Some(process);
        started
    }
}

/// Whether the Redis on `port` says `itself` (its `process_id` line) in
/// `INFO server`.
async fn answers(port: u16, itself: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"INFO server\r\n").await.is_err() {
        return false;
    }
    let mut reply = Vec::new();
    let mut chunk = [0; 4096];
    let read = tokio::time::timeout(Duration::from_secs(1), async {
        while !String::from_utf8_lossy(&reply).contains("executable:") {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await;
    read.is_ok() && String::from_utf8_lossy(&reply).contains(itself)
}

// The HTTP API of names, and connections signed in through it.

/// `method path` with a JSON body from the chat's own page (no `Origin`:
/// as a script; the origin check has its own test), with `cookie`.
pub async fn api(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<Value>,
) -> HttpResponse {
    let cookie = cookie.map(|cookie| format!("chat_session={cookie}"));
    let headers: Vec<(&str, &str)> = cookie
        .as_deref()
        .map(|cookie| ("cookie", cookie))
        .into_iter()
        .collect();
    let body = body.map(|body| body.to_string());
    http_call(addr, method, path, &headers, body.as_deref()).await
}

pub fn json_of(response: &HttpResponse) -> Value {
    serde_json::from_str(&response.body)
        .unwrap_or_else(|_| panic!("a JSON body: {:?}", response.body))
}

/// The session cookie a response sets, checking its flags.
pub fn session_cookie(response: &HttpResponse) -> String {
    assert_eq!(response.status, 200, "{}", response.body);
    let set = response.header("set-cookie").expect("a session cookie");
    assert!(set.contains("; HttpOnly"), "{set}");
    assert!(set.contains("; SameSite=Strict"), "{set}");
    assert!(set.contains("; Path=/"), "{set}");
    let value = set
        .strip_prefix("chat_session=")
        .and_then(|rest| rest.split(';').next())
        .expect("the cookie's value");
    assert_eq!(value.len(), 43, "256 random bits: {set}");
    value.to_owned()
}

pub async fn sign_in(addr: SocketAddr, user: &str, password: Option<&str>) -> HttpResponse {
    let body = match password {
        Some(password) => json!({"user": user, "password": password}),
        None => json!({"user": user}),
    };
    api(addr, "POST", "/api/session", None, Some(body)).await
}

/// A guest session for `user` that then claims the name with `password`:
/// the session cookie, and the claim's answer.
pub async fn try_claim(addr: SocketAddr, user: &str, password: &str) -> (String, HttpResponse) {
    let cookie = session_cookie(&sign_in(addr, user, None).await);
    let claim = api(
        addr,
        "POST",
        "/api/claim",
        Some(&cookie),
        Some(json!({ "password": password })),
    )
    .await;
    (cookie, claim)
}

/// The session cookie of `user`, claimed with `password` (the claim gives
/// the session a new secret).
pub async fn claim(addr: SocketAddr, user: &str, password: &str) -> String {
    let (_, claim) = try_claim(addr, user, password).await;
    assert_eq!(claim.status, 200, "{}", claim.body);
    session_cookie(&claim)
}

/// A WebSocket with `headers` (a cookie, a bearer token) and `query`.
pub async fn ws(addr: SocketAddr, query: &str, headers: &[(&str, String)]) -> Client {
    ws_from(std::net::Ipv4Addr::LOCALHOST, addr, query, headers).await
}

/// [`ws`] from the loopback address `source` (any of 127.0.0.0/8): one
/// test can be clients at many addresses.
pub async fn ws_from(
    source: std::net::Ipv4Addr,
    addr: SocketAddr,
    query: &str,
    headers: &[(&str, String)],
) -> Client {
    let mut request = format!("ws://{addr}/ws?{query}")
        .into_client_request()
        .expect("a valid request");
    for (name, value) in headers {
        request.headers_mut().insert(
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                .expect("a header name"),
            value.parse().expect("a header value"),
        );
    }
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from((source, 0)))
        .expect("bind a loopback address");
    let stream = socket.connect(addr).await.expect("tcp connect");
    let (ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("websocket connects");
    Client { ws }
}

pub async fn ws_with_cookie(addr: SocketAddr, query: &str, cookie: &str) -> Client {
    ws(addr, query, &[("cookie", format!("chat_session={cookie}"))]).await
}

/// Whether a connection's first frame let it in (a welcome) rather than
/// turned it away as banned; anything else fails the test.
pub fn let_in(first: &ServerFrame) -> bool {
    match first {
        ServerFrame::Welcome { .. } => true,
        ServerFrame::Error {
            code: ErrorCode::Banned,
            ..
        } => false,
        other => panic!("expected a welcome or a ban, got {other:?}"),
    }
}

/// The welcome of a connection let in: its name and whether it is claimed.
pub async fn welcomed(client: &mut Client) -> (String, bool) {
    match client.recv().await {
        ServerFrame::Welcome { user, claimed, .. } => (user, claimed),
        other => panic!("expected a welcome, got {other:?}"),
    }
}

/// The refusal of a connection turned away: an error frame, then a close.
pub async fn refused(client: &mut Client) -> ErrorCode {
    let code = match client.recv_any().await {
        ServerFrame::Error { code, .. } => code,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008, "{close:?}");
    code
}

/// A real nginx (Debian's package) on a loopback port, proxying to a
/// server as the README's reverse-proxy setup does: WebSocket upgrades,
/// and the client's address in `X-Forwarded-For`.
pub struct Nginx {
    pub addr: SocketAddr,
    _process: Child,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// What nginx logged of the requests so far (a line each, when
    /// answered: a WebSocket's once it closes).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    pub async fn start(upstream: SocketAddr) -> Self {
        let locations = format!(
            r#"location / {{
            proxy_pass http://{upstream};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_read_timeout 3600s;
        }}"#
        );
        Self::start_with(&locations).await
    }

    /// nginx with `locations` inside its one `server` block (plain HTTP on
    /// a free port).
    pub async fn start_with(locations: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let root = dir.path().display();
        let conf = format!(
            r#"worker_processes 1;
error_log {root}/error.log;
pid {root}/nginx.pid;
events {{ worker_connections 512; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    server {{
        listen 127.0.0.1:{port};
        {locations}
    }}
}}
"#
        );
        let conf_path = dir.path().join("nginx.conf");
        std::fs::write(&conf_path, conf).expect("write nginx.conf");
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|path| Path::new(path).exists())
            .unwrap_or("nginx");
        let process = Command::new(binary)
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(dir.path())
            .args(["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("nginx installed (apt-get install nginx)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        until("nginx listens", || async {
            TcpStream::connect(addr).await.is_ok()
        })
        .await;
        Self {
            addr,
            _process: process,
            dir,
        }
    }
}

// The admin of the tests that need one.

/// The admin's password, which binds the name root at start.
pub const ROOT_PASSWORD: &str = "the operator's own";

/// Whether a newcomer named `user` finds the room locked (its greeting).
pub async fn finds_locked(addr: SocketAddr, user: &str) -> bool {
    rules_seen(addr, user).await.locked
}

/// The rules a newcomer named `user` finds in the room's greeting.
pub async fn rules_seen(addr: SocketAddr, user: &str) -> protocol::ShownRules {
    let mut client = connect(addr, user, None).await;
    loop {
        match client.recv().await {
            ServerFrame::History { rules, .. } => return rules,
            ServerFrame::Welcome { .. } => {}
            other => panic!("expected the history, got {other:?}"),
        }
    }
}

/// `moderator` unlocks its room, and the event is stored.
pub async fn unlock(moderator: &mut Client) {
    moderator
        .send_frame(ClientFrame::Moderate {
            room: None,
            action: protocol::ModAction::Unlock,
            target: None,
            id: None,
            duration_s: None,
            reason: None,
            all_rooms: false,
        })
        .await;
    while !matches!(moderator.recv().await, ServerFrame::Moderated { .. }) {}
}

/// `config` with root as its `--admin`, bound with [`ROOT_PASSWORD`].
pub fn with_admin(config: &mut Config) {
    config.admins = vec!["root".into()];
    config.admin_password = Some(server::AdminPassword(ROOT_PASSWORD.into()));
}

/// The admin root, signed in with the operator's password, connected.
pub async fn admin(addr: SocketAddr) -> Client {
    let signed_in = sign_in(addr, "root", Some(ROOT_PASSWORD)).await;
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    let mut client = ws_with_cookie(addr, "", &session_cookie(&signed_in)).await;
    assert_eq!(welcomed(&mut client).await, ("root".to_owned(), true));
    client
}
