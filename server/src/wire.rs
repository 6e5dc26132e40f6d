//! Server-to-client WebSocket frames, encoded once and written as they are.
//!
//! After the greeting, a connection's socket has one writer, the connection's
//! writer task, and it writes bytes, not messages: a broadcast is framed once
//! by the room and the same bytes go to every recipient, and no connection
//! keeps a write buffer of its own while idle (tungstenite keeps the capacity
//! of the largest batch it ever wrote, for the connection's life). The
//! encoding itself is tungstenite's.

use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Bytes;

/// A text frame carrying `payload` (UTF-8 JSON), unmasked, as a server sends it.
pub fn text(payload: &str) -> Bytes {
    let header = FrameHeader {
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    let length = payload.len() as u64;
    let mut frame = Vec::with_capacity(header.len(length) + payload.len());
    // Writing into a `Vec` cannot fail.
    let _ = header.format(length, &mut frame);
    frame.extend_from_slice(payload.as_bytes());
    Bytes::from(frame)
}

/// A ping with an empty payload.
pub fn ping() -> Bytes {
    encode(Frame::ping(Bytes::new()))
}

/// A close frame with `close`'s code and reason.
pub fn close(close: CloseFrame) -> Bytes {
    encode(Frame::close(Some(close)))
}

fn encode(frame: Frame) -> Bytes {
    let mut bytes = Vec::with_capacity(frame.len());
    // Writing into a `Vec` cannot fail.
    let _ = frame.format(&mut bytes);
    Bytes::from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};
    use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

    /// Reads back what was encoded, as a client: with tungstenite's reader,
    /// which also checks that the frame is unmasked and the text UTF-8.
    fn read_as_client(bytes: &[u8]) -> Message {
        let mut client =
            WebSocket::from_raw_socket(Cursor::new(bytes.to_vec()), Role::Client, None);
        client.read().expect("a valid frame")
    }

    #[test]
    fn text_frames_of_every_length_encoding_read_back() {
        // 7-bit, 16-bit and 64-bit payload lengths (RFC 6455, 5.2).
        for length in [0, 1, 125, 126, 65_535, 65_536] {
            let payload = "é".repeat(length / 2) + &"x".repeat(length % 2);
            let message = read_as_client(&text(&payload));
            assert_eq!(message, Message::text(payload), "length {length}");
        }
    }

    #[test]
    fn pings_and_close_frames_read_back() {
        assert_eq!(read_as_client(&ping()), Message::Ping(Bytes::new()));
        let goodbye = CloseFrame {
            code: CloseCode::Away,
            reason: Utf8Bytes::from_static("server shutting down"),
        };
        assert_eq!(
            read_as_client(&close(goodbye.clone())),
            Message::Close(Some(goodbye))
        );
    }
}
