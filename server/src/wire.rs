//! Server-to-client WebSocket frames, encoded once and written as they are.
//!
//! A broadcast is framed once by the room and the same bytes go to every
//! recipient (see `transport`). The encoding itself is tungstenite's.

use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::FrameHeader;
use tokio_tungstenite::tungstenite::Bytes;

/// A text frame carrying `payload` (UTF-8 JSON), unmasked, as a server sends it.
pub(crate) fn text(payload: &str) -> Bytes {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};
    use tokio_tungstenite::tungstenite::Message;

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
}
