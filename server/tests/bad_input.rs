//! Every kind of bad input over a real socket: the exact answer (an error
//! code, or a close code), the connection's state afterwards, nothing
//! broadcast, and a well-behaved client still chatting.

mod support;

use futures::SinkExt;
use protocol::{ErrorCode, ServerFrame, MESSAGE_MAX_CHARS};
use support::{Client, TestServer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::{Bytes, Message};

/// What a case sends.
enum Input {
    Text(String),
    Binary(Vec<u8>),
    /// A text frame whose payload is not UTF-8.
    RawText(Vec<u8>),
    /// A frame as it is, protocol violations included.
    Frame(Frame),
}

/// What must happen.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// An `error` frame with this code; the connection stays open.
    Error(ErrorCode),
    /// The server closes the connection with this code.
    Closed(CloseCode),
    /// Accepted and broadcast, with exactly this text.
    Posted(String),
}

fn text(s: impl Into<String>) -> Input {
    Input::Text(s.into())
}

fn send_frame(msg: &str) -> Input {
    text(serde_json::json!({"type": "send", "clientId": "m-1", "msg": msg}).to_string())
}

fn nested(levels: usize) -> String {
    format!("{}1{}", r#"{"a":"#.repeat(levels), "}".repeat(levels))
}

fn cases() -> Vec<(&'static str, Input, Outcome)> {
    use ErrorCode::*;
    use Outcome::{Closed, Error, Posted};
    let long_msg = "x".repeat(MESSAGE_MAX_CHARS + 1);
    let long_emoji = "🦀".repeat(MESSAGE_MAX_CHARS + 1);
    vec![
        // Not JSON at all.
        ("empty frame", text(""), Error(InvalidJson)),
        ("whitespace frame", text("   "), Error(InvalidJson)),
        ("plain words", text("hello there"), Error(InvalidJson)),
        (
            "unclosed object",
            text(r#"{"type":"send""#),
            Error(InvalidJson),
        ),
        (
            "trailing garbage",
            text(r#"{"type":"ping"} x"#),
            Error(InvalidJson),
        ),
        ("single quotes", text("{'type':'ping'}"), Error(InvalidJson)),
        ("NUL bytes", text("\0\0\0"), Error(InvalidJson)),
        (
            "number out of range",
            text(r#"{"type":"send","clientId":"c","msg":1e999}"#),
            Error(InvalidJson),
        ),
        (
            "200 levels of nesting",
            text(format!("{}{}", "[".repeat(200), "]".repeat(200))),
            Error(InvalidJson),
        ),
        // JSON, but not a frame.
        ("array", text("[]"), Error(InvalidFrame)),
        (
            "array shaped like a frame",
            text(r#"["send","c","hi"]"#),
            Error(InvalidFrame),
        ),
        ("number", text("42"), Error(InvalidFrame)),
        ("null", text("null"), Error(InvalidFrame)),
        ("string", text(r#""send""#), Error(InvalidFrame)),
        ("numeric type", text(r#"{"type":7}"#), Error(InvalidFrame)),
        ("null type", text(r#"{"type":null}"#), Error(InvalidFrame)),
        (
            "array type",
            text(r#"{"type":["send"]}"#),
            Error(InvalidFrame),
        ),
        ("empty object", text("{}"), Error(MissingType)),
        ("no type", text(r#"{"msg":"hi"}"#), Error(MissingType)),
        (
            "unknown type",
            text(r#"{"type":"shout","msg":"hi"}"#),
            Error(UnknownType),
        ),
        (
            "wrong case type",
            text(r#"{"type":"SEND","clientId":"c","msg":"hi"}"#),
            Error(UnknownType),
        ),
        ("empty type", text(r#"{"type":""}"#), Error(UnknownType)),
        (
            "server frame type",
            text(r#"{"type":"message","id":1,"user":"a","msg":"hi","dateTime":0,"clientId":"c"}"#),
            Error(UnknownType),
        ),
        // A known type with bad fields.
        (
            "send without fields",
            text(r#"{"type":"send"}"#),
            Error(InvalidFields),
        ),
        (
            "send without msg",
            text(r#"{"type":"send","clientId":"c"}"#),
            Error(InvalidFields),
        ),
        (
            "send without clientId",
            text(r#"{"type":"send","msg":"hi"}"#),
            Error(InvalidFields),
        ),
        (
            "numeric msg",
            text(r#"{"type":"send","clientId":"c","msg":5}"#),
            Error(InvalidFields),
        ),
        (
            "null msg",
            text(r#"{"type":"send","clientId":"c","msg":null}"#),
            Error(InvalidFields),
        ),
        (
            "array msg",
            text(r#"{"type":"send","clientId":"c","msg":["hi"]}"#),
            Error(InvalidFields),
        ),
        (
            "numeric clientId",
            text(r#"{"type":"send","clientId":1,"msg":"hi"}"#),
            Error(InvalidFields),
        ),
        (
            "10 levels of nesting in msg",
            text(format!(
                r#"{{"type":"send","clientId":"c","msg":{}}}"#,
                nested(10)
            )),
            Error(InvalidFields),
        ),
        (
            "string page bound",
            text(r#"{"type":"loadOlder","before":"5","limit":5}"#),
            Error(InvalidFields),
        ),
        (
            "negative page bound",
            text(r#"{"type":"loadOlder","before":-1,"limit":5}"#),
            Error(InvalidFields),
        ),
        (
            "huge page bound",
            text(r#"{"type":"loadOlder","before":123456789012345678901234567890,"limit":5}"#),
            Error(InvalidFields),
        ),
        (
            "zero page",
            text(r#"{"type":"loadOlder","before":5,"limit":0}"#),
            Error(InvalidLimit),
        ),
        (
            "oversized page",
            text(r#"{"type":"loadOlder","before":5,"limit":100000}"#),
            Error(InvalidLimit),
        ),
        // Content rules.
        ("empty message", send_frame(""), Error(EmptyMessage)),
        (
            "whitespace-only message",
            send_frame(" \n\t "),
            Error(EmptyMessage),
        ),
        ("NUL in message", send_frame("a\0b"), Error(InvalidMessage)),
        (
            "bell in message",
            send_frame("ding\u{7}"),
            Error(InvalidMessage),
        ),
        (
            "terminal escape in message",
            send_frame("\u{1b}[31mred"),
            Error(InvalidMessage),
        ),
        (
            "message one too long",
            send_frame(&long_msg),
            Error(MessageTooLong),
        ),
        (
            "emoji message one too long",
            send_frame(&long_emoji),
            Error(MessageTooLong),
        ),
        (
            "empty clientId",
            text(r#"{"type":"send","clientId":"","msg":"hi"}"#),
            Error(InvalidClientId),
        ),
        (
            "long clientId",
            text(format!(
                r#"{{"type":"send","clientId":"{}","msg":"hi"}}"#,
                "c".repeat(65)
            )),
            Error(InvalidClientId),
        ),
        (
            "control char in clientId",
            text(r#"{"type":"send","clientId":"c\n","msg":"hi"}"#),
            Error(InvalidClientId),
        ),
        // Binary frames.
        (
            "binary frame",
            Input::Binary(b"{\"type\":\"ping\"}".to_vec()),
            Error(BinaryFrame),
        ),
        (
            "invalid UTF-8 in a binary frame",
            Input::Binary(vec![0xff, 0xfe, 0xfd]),
            Error(BinaryFrame),
        ),
        // Allowed, and shown as the text it is.
        (
            "HTML payload",
            send_frame("<img src=x onerror=alert(1)>"),
            Posted("<img src=x onerror=alert(1)>".into()),
        ),
        (
            "script payload",
            send_frame("<script>alert(1)</script>"),
            Posted("<script>alert(1)</script>".into()),
        ),
        (
            "SQL payload",
            send_frame("'); DROP TABLE messages;--"),
            Posted("'); DROP TABLE messages;--".into()),
        ),
        ("emoji only", send_frame("🦀🦀🦀"), Posted("🦀🦀🦀".into())),
        ("joined emoji", send_frame("👩‍👩‍👧"), Posted("👩‍👩‍👧".into())),
        (
            "bidirectional override in a message",
            send_frame("\u{202E}txet"),
            Posted("\u{202E}txet".into()),
        ),
        (
            "surrounding whitespace",
            send_frame("  padded \n"),
            Posted("padded".into()),
        ),
        (
            "longest message",
            send_frame(&"y".repeat(MESSAGE_MAX_CHARS)),
            Posted("y".repeat(MESSAGE_MAX_CHARS)),
        ),
        (
            "forged user, id and time",
            text(
                r#"{"type":"send","clientId":"m-1","msg":"it was bob","user":"bob","id":1,"dateTime":0}"#,
            ),
            Posted("it was bob".into()),
        ),
        // Frames the connection does not survive.
        (
            "invalid UTF-8 in a text frame",
            Input::RawText(vec![b'{', 0xff, b'}']),
            Closed(CloseCode::Invalid),
        ),
        (
            "a frame over 16 KiB",
            text("z".repeat(17 * 1024)),
            Closed(CloseCode::Size),
        ),
        (
            "a 1 MiB frame",
            text("z".repeat(1024 * 1024)),
            Closed(CloseCode::Size),
        ),
        (
            "reserved bits set",
            Input::Frame(reserved_bits()),
            Closed(CloseCode::Protocol),
        ),
        (
            "an unknown opcode",
            Input::Frame(raw_frame(OpCode::Data(Data::Reserved(3)), true, b"{}")),
            Closed(CloseCode::Protocol),
        ),
        (
            "a fragmented ping",
            Input::Frame(raw_frame(OpCode::Control(Control::Ping), false, b"")),
            Closed(CloseCode::Protocol),
        ),
    ]
}

/// A frame with any header, valid or not.
fn raw_frame(opcode: OpCode, is_final: bool, payload: &'static [u8]) -> Frame {
    let header = FrameHeader {
        is_final,
        opcode,
        ..FrameHeader::default()
    };
    Frame::from_payload(header, Bytes::from_static(payload))
}

fn reserved_bits() -> Frame {
    let mut frame = raw_frame(OpCode::Data(Data::Text), true, br#"{"type":"ping"}"#);
    frame.header_mut().rsv1 = true;
    frame
}

async fn send(client: &mut Client, input: Input) {
    let message = match input {
        Input::Text(text) => Message::text(text),
        Input::Binary(bytes) => Message::binary(bytes),
        Input::RawText(bytes) => Message::Frame(Frame::message(
            Bytes::from(bytes),
            OpCode::Data(Data::Text),
            true,
        )),
        Input::Frame(frame) => Message::Frame(frame),
    };
    // A 1 MiB frame may be cut off by the server's close: that is the point.
    let _ = client.ws.send(message).await;
}

#[tokio::test]
async fn every_bad_input_gets_its_answer_and_nobody_else_notices() {
    let cases = cases();
    assert!(cases.len() >= 40, "the suite covers at least 40 cases");
    let server = TestServer::start().await;
    let mut bob = server.join("bob").await;
    for (i, (name, input, outcome)) in cases.into_iter().enumerate() {
        let mut mallory = server.join(&format!("mallory{i}")).await;
        send(&mut mallory, input).await;
        match &outcome {
            Outcome::Error(code) => {
                match mallory.recv().await {
                    ServerFrame::Error {
                        code: got, message, ..
                    } => {
                        assert_eq!(got, *code, "{name}: {message}");
                        assert!(!message.is_empty(), "{name}: a human explanation");
                    }
                    other => panic!("{name}: expected an error, got {other:?}"),
                }
                // Still open and working.
                mallory.send_text(r#"{"type":"ping"}"#).await;
                assert_eq!(
                    mallory.recv().await,
                    ServerFrame::Pong,
                    "{name}: still open"
                );
            }
            Outcome::Closed(code) => {
                let close = mallory
                    .recv_close()
                    .await
                    .expect("a close frame with a code");
                assert_eq!(close.code, *code, "{name}: {}", close.reason);
                assert!(!close.reason.is_empty(), "{name}: a reason");
            }
            Outcome::Posted(text) => {
                let posted = bob.recv_message().await;
                assert_eq!(posted.message.msg, *text, "{name}");
                assert_eq!(posted.message.user, format!("mallory{i}"), "{name}");
                assert_ne!(posted.message.date_time, 0, "{name}: the server's clock");
            }
        }
        // Bob is still chatting, and the first thing he sees is his own
        // marker: nothing of the bad input was broadcast.
        let marker = format!("marker after {name}");
        bob.say(&format!("b-{i}"), &marker).await;
        assert_eq!(bob.recv_message().await.message.msg, marker, "{name}");
    }
    server.stop().await;
}

/// Sends a WebSocket upgrade request by hand and returns the status code.
async fn upgrade_status(addr: std::net::SocketAddr, query: &str, key: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET /ws?{query} HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    let mut head = [0; 12];
    stream.read_exact(&mut head).await.expect("a status line");
    String::from_utf8_lossy(&head[9..12])
        .parse()
        .expect("a status code")
}

#[tokio::test]
async fn bad_upgrade_requests_get_400() {
    let server = TestServer::start().await;
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    for query in [
        "user=alice&after=abc",
        "user=alice&after=-5",
        "user=alice&user=bob",
    ] {
        assert_eq!(
            upgrade_status(server.addr, query, key).await,
            400,
            "{query}"
        );
    }
    for bad_key in [
        "not base64!",
        "c2hvcnQ=",
        "dGhlIHNhbXBsZSBub25jZQ=="[..20].to_owned().as_str(),
    ] {
        assert_eq!(
            upgrade_status(server.addr, "user=alice", bad_key).await,
            400,
            "{bad_key}"
        );
    }
    assert_eq!(upgrade_status(server.addr, "user=alice", key).await, 101);
    server.stop().await;
}

#[tokio::test]
async fn an_unmasked_frame_from_a_client_is_closed_with_1002() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let request = format!(
        "GET /ws?user=mallory HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.expect("request");
    // A ping, as a text frame without a mask.
    let payload = br#"{"type":"ping"}"#;
    let mut frame = vec![0x81, payload.len() as u8];
    frame.extend_from_slice(payload);
    stream.write_all(&frame).await.expect("unmasked frame");
    let mut received = Vec::new();
    let _ = tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut received)).await;
    // The last frame the server sent: a close (0x88) with code 1002.
    let close = received
        .windows(4)
        .rposition(|w| w[0] == 0x88 && w[2..4] == 1002u16.to_be_bytes())
        .is_some();
    assert!(
        close,
        "no 1002 close in {:?}",
        String::from_utf8_lossy(&received)
    );
}
