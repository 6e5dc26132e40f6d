//! A real server on port 0 and real WebSocket clients for the tests.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, Posted, ServerFrame};
use server::Config;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Long enough for a loaded CI machine, short enough to fail fast.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), server::store::StoreError>>,
    /// Holds the database file for as long as the server runs, unless the
    /// test owns it.
    _data: Option<tempfile::TempDir>,
}

/// Starts a server with exactly `config` (its database is the caller's).
pub async fn spawn_server(config: Config) -> TestServer {
    TestServer::spawn(config, None).await
}

/// Default settings, no built client, a fresh database in `data`.
pub fn test_config(data: &tempfile::TempDir) -> Config {
    let mut config = Config::defaults();
    config.static_dir = "/nonexistent/dist".into();
    config.db = data.path().join("chat.db");
    // Tests send fast; the rate limit has tests of its own.
    config.rate_limit = 10_000.0;
    config.rate_burst = 10_000;
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
}

/// The `history` frame, unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    pub messages: Vec<Posted>,
    pub reset: bool,
    pub has_older: bool,
}

impl History {
    pub fn ids(&self) -> Vec<u64> {
        self.messages.iter().map(|p| p.message.id).collect()
    }
}

/// Connects to the server at `addr` without reading anything.
pub async fn connect(addr: SocketAddr, user: &str, after: Option<u64>) -> Client {
    let mut url = format!("ws://{addr}/ws?user={}", urlencoding::encode(user));
    if let Some(after) = after {
        url.push_str(&format!("&after={after}"));
    }
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("websocket connects");
    Client { ws }
}

/// Connects and reads the welcome, history and online frames.
pub async fn join(addr: SocketAddr, user: &str, after: Option<u64>) -> (Client, History) {
    let mut client = connect(addr, user, after).await;
    match client.recv().await {
        ServerFrame::Welcome { user: bound } => assert_eq!(bound, user.trim()),
        other => panic!("expected a welcome, got {other:?}"),
    }
    let history = match client.recv().await {
        ServerFrame::History {
            messages,
            reset,
            has_older,
        } => History {
            messages,
            reset,
            has_older,
        },
        other => panic!("expected history, got {other:?}"),
    };
    match client.recv().await {
        ServerFrame::Online { users } => assert!(users.iter().any(|u| u == user.trim())),
        other => panic!("expected the online list, got {other:?}"),
    }
    (client, history)
}

/// A minimal HTTP/1.1 GET over a real socket, enough for status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
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
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
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
                ServerFrame::Joined { .. }
                | ServerFrame::Left { .. }
                | ServerFrame::Typing { .. } => {}
                frame => return frame,
            }
        }
    }

    /// The next frame the server sends, whatever it is.
    pub async fn recv_any(&mut self) -> ServerFrame {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("connection still open")
                .expect("no socket error");
            match message {
                Message::Text(text) => {
                    return ServerFrame::parse(&text).expect("server frames parse")
                }
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// The next frame, which must be a chat message.
    pub async fn recv_message(&mut self) -> Posted {
        match self.recv().await {
            ServerFrame::Message(posted) => posted,
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

    /// Posts `msg` with the given client id.
    pub async fn say(&mut self, client_id: &str, msg: &str) {
        let frame = ClientFrame::Send {
            client_id: client_id.into(),
            msg: msg.into(),
        };
        self.send_text(frame.to_json()).await;
    }
}
