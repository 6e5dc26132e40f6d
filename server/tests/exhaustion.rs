//! Clients that try to use up the server rather than talk to it: requests
//! never finished, connections held open from many sockets, a process
//! short of file descriptors, HTTP/2 in the clear.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use support::{http_get, start_binary_with, TestServer, PATIENCE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// A connection to `server` from the loopback address `127.0.0.<host>`, so
/// one test can be many addresses.
async fn connect_from(host: u8, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    let source = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)), 0);
    socket.bind(source).expect("bind a loopback address");
    socket.connect(server).await.expect("connect")
}

/// A request whose headers never end: what a slow-loris client sends.
async fn half_sent_request(host: u8, server: SocketAddr) -> TcpStream {
    let mut stream = connect_from(host, server).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: chat\r\nX-Slow: ")
        .await
        .expect("write part of a request");
    stream
}

/// Reads until the server closes the connection (or the deadline passes)
/// and returns what it sent.
async fn read_until_closed(stream: &mut TcpStream, deadline: Instant) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    tokio::time::timeout_at(deadline, stream.read_to_end(&mut received))
        .await
        .ok()?
        .ok()?;
    Some(received)
}

/// `GET /healthz` from `127.0.0.<host>`: what came back before the close
/// (nothing if the deadline passed first).
async fn health_from(host: u8, server: SocketAddr, deadline: Instant) -> Vec<u8> {
    let mut stream = connect_from(host, server).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chat\r\nConnection: close\r\n\r\n")
        .await
        .expect("request");
    read_until_closed(&mut stream, deadline)
        .await
        .unwrap_or_default()
}

#[tokio::test]
async fn requests_whose_headers_never_end_are_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|config| {
        config.header_timeout = 1;
        config.max_connections_per_ip = 100;
    })
    .await;
    let mut slow = Vec::new();
    for n in 0..300 {
        slow.push(half_sent_request(2 + (n % 3) as u8, server.addr).await);
    }
    // The server still answers others while they hang.
    let (status, _) = http_get(server.addr, "/healthz").await;
    assert_eq!(status, 200);
    let started = Instant::now();
    let deadline = started + PATIENCE;
    for stream in &mut slow {
        assert!(
            read_until_closed(stream, deadline).await.is_some(),
            "a half-sent request is still open after {:?}",
            started.elapsed()
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_timeout() {
    let server = TestServer::start_with(|config| config.header_timeout = 1).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: chat\r\n\r\n")
        .await
        .expect("request");
    let mut first = [0; 12];
    stream.read_exact(&mut first).await.expect("a response");
    assert_eq!(&first, b"HTTP/1.1 200");
    // Kept alive, then closed for idling: the rest of the response and EOF.
    let opened = Instant::now();
    assert!(read_until_closed(&mut stream, opened + PATIENCE)
        .await
        .is_some());
    assert!(opened.elapsed() >= Duration::from_millis(500));
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_per_address_cap_get_503_at_accept() {
    let server = TestServer::start_with(|config| config.max_connections_per_ip = 3).await;
    // Plain TCP connections that never send a byte count, not only WebSockets.
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(2, server.addr).await);
    }
    let mut fourth = connect_from(2, server.addr).await;
    let refused = read_until_closed(&mut fourth, Instant::now() + PATIENCE)
        .await
        .expect("the server answers and closes");
    let refused = String::from_utf8_lossy(&refused);
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(refused.contains("Too many connections"), "{refused}");
    // Another address is served; a freed place is taken again.
    let answer = health_from(3, server.addr, Instant::now() + PATIENCE).await;
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    drop(held.pop());
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = health_from(2, server.addr, deadline).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed place is never given back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.stop().await;
}

#[tokio::test]
async fn http2_in_the_clear_is_not_spoken() {
    let server = TestServer::start().await;
    // The HTTP/2 connection preface, as an h2c client with prior knowledge
    // sends it: an HTTP/2 server would answer with a SETTINGS frame.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .expect("preface");
    let answer = read_until_closed(&mut stream, Instant::now() + PATIENCE)
        .await
        .unwrap_or_default();
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 "),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // Nor is an upgrade to it: the request is answered in HTTP/1.1.
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: chat\r\nConnection: Upgrade, HTTP2-Settings, close\r\n\
              Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        )
        .await
        .expect("request");
    let answer = read_until_closed(&mut stream, Instant::now() + PATIENCE)
        .await
        .expect("answered");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn the_server_raises_its_open_files_limit_to_the_hard_limit() {
    let data = tempfile::tempdir().expect("temp dir");
    let (mut child, addr, log) =
        start_binary_with(&data.path().join("chat.db"), &[], Some((256, 4096))).await;
    log.until_contains("open files limit limit=4096").await;
    // 400 connections: more than the soft limit it started with.
    let mut held = Vec::new();
    for n in 0..400 {
        held.push(connect_from(2 + (n % 10) as u8, addr).await);
    }
    let (status, _) = http_get(addr, "/healthz").await;
    assert_eq!(status, 200);
    child.kill().await.expect("kill");
}

#[tokio::test]
async fn a_low_hard_limit_lowers_the_connection_cap_instead_of_failing_accept() {
    let data = tempfile::tempdir().expect("temp dir");
    let (mut child, addr, log) = start_binary_with(
        &data.path().join("chat.db"),
        &["--header-timeout", "1"],
        Some((256, 256)),
    )
    .await;
    log.until_contains("lowered the cap").await;
    // More half-sent requests, from many addresses, than the process may
    // open files: those over the cap are refused, accept never fails, and
    // once the header timeout frees the places the server answers again.
    let mut slow = Vec::new();
    for n in 0..300 {
        slow.push(half_sent_request(2 + (n % 10) as u8, addr).await);
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let answer = health_from(100, addr, deadline).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the server never answers again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = log.text();
    assert!(!text.contains("cannot accept"), "{text}");
    assert!(!text.contains("Too many open files"), "{text}");
    child.kill().await.expect("kill");
}
