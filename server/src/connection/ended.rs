//! Why a session ended, and the close frame each ending deserves.

use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Utf8Bytes};

use std::sync::Arc;

use protocol::Expulsion;

use crate::events::Moderation;
use crate::rooms::Eviction;
use crate::transport::TransportError;

/// Why a session ended, for the log and the close frame.
pub(super) enum Ended {
    ClientLeft,
    SocketError(WsError),
    FellBehind(u64),
    TooSlow,
    Unresponsive,
    FrameTooLarge {
        max_bytes: usize,
    },
    InvalidUtf8,
    ProtocolViolation(ProtocolError),
    Flooding,
    ShuttingDown,
    /// A moderator kicked or banned the name, or its password changed.
    Evicted(Arc<Eviction>),
}

impl Ended {
    /// The close code for the client, if the socket can still take one,
    /// and the reason, for the client and the log alike.
    fn describe(&self) -> (Option<CloseCode>, String) {
        match self {
            Self::ClientLeft => (None, "client closed the connection".into()),
            Self::SocketError(error) => (None, format!("socket error: {error}")),
            Self::ShuttingDown => (Some(CloseCode::Away), "server shutting down".into()),
            Self::FellBehind(missed) => (
                Some(CloseCode::Again),
                format!("fell {missed} messages behind the room; reconnect"),
            ),
            Self::TooSlow => (Some(CloseCode::Policy), "not reading fast enough".into()),
            Self::Unresponsive => (Some(CloseCode::Policy), "no answer to pings".into()),
            Self::FrameTooLarge { max_bytes } => (
                Some(CloseCode::Size),
                format!("frames are limited to {max_bytes} bytes"),
            ),
            Self::InvalidUtf8 => (Some(CloseCode::Invalid), "text frames must be UTF-8".into()),
            Self::ProtocolViolation(error) => (
                Some(CloseCode::Protocol),
                format!("WebSocket protocol violation: {error}"),
            ),
            Self::Flooding => (Some(CloseCode::Policy), "too many frames; slow down".into()),
            Self::Evicted(eviction) => match &**eviction {
                Eviction::Moderated(moderation) => (
                    Some(CloseCode::from(protocol::CLOSE_PUT_OUT)),
                    evicted(moderation),
                ),
                // The client reconnects: with the new password's session
                // it comes back, with an old one it is asked to sign in.
                Eviction::SignedOut => (
                    Some(CloseCode::Policy),
                    "signed out: the name's password changed".into(),
                ),
            },
        }
    }

    /// The close frame this ending deserves, if the socket can still take one.
    pub(super) fn goodbye(&self) -> Option<CloseFrame> {
        let (code, reason) = self.describe();
        code.map(|code| close_frame(code, &reason))
    }

    /// From a transport failure, knowing the largest frame allowed (for
    /// the reason a too-large frame gets).
    pub(super) fn from_transport(error: TransportError, max_bytes: usize) -> Self {
        match error {
            TransportError::TooSlow => Self::TooSlow,
            TransportError::Ws(WsError::Capacity(_)) => Self::FrameTooLarge { max_bytes },
            TransportError::Ws(WsError::Utf8(_)) => Self::InvalidUtf8,
            // The client's close, answered, or the socket's end without one.
            TransportError::Ws(
                WsError::ConnectionClosed
                | WsError::AlreadyClosed
                | WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake),
            ) => Self::ClientLeft,
            // An unmasked frame, reserved bits, an unknown opcode: the
            // client is told why (1002) before the connection ends.
            TransportError::Ws(WsError::Protocol(error)) => Self::ProtocolViolation(error),
            TransportError::Ws(error) => Self::SocketError(error),
        }
    }
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe().1)
    }
}

/// Why a kicked or banned client was put out, for its login page.
fn evicted(moderation: &Moderation) -> String {
    let by = &moderation.by;
    let what = match moderation.action.expels() {
        Some(Expulsion::Ban) => banned_until(moderation.until, by),
        Some(Expulsion::BanAddress) => format!(
            "{by} removed you from the chat; guests from your address are refused for {}",
            minutes_left(moderation.until.unwrap_or(0))
        ),
        Some(Expulsion::Kick) | None => format!("{by} removed you from the chat"),
    };
    match &moderation.reason {
        Some(reason) => format!("{what}: {reason}"),
        None => format!("{what}."),
    }
}

/// "Banned by alice for 10 more minutes", or "for good".
pub(super) fn banned_until(until: Option<i64>, by: &str) -> String {
    let Some(until) = until else {
        return format!("{by} banned you for good");
    };
    format!("{by} banned you for {}", minutes_left(until))
}

/// "12 more minute(s)" until `until` (ms since the epoch).
fn minutes_left(until: i64) -> String {
    let now = super::voice::now_ms();
    let minutes = (until.saturating_sub(now) + 59_999) / 60_000;
    format!("{} more minute(s)", minutes.max(1))
}

/// A close frame with `code` and `reason`, cut to the 123 bytes a close
/// frame allows.
pub(super) fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: Utf8Bytes::from(reason[..end].to_owned()),
    }
}
