//! One client's WebSocket, from welcome to close.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use protocol::{validate_username, ClientFrame, ErrorCode, FrameError, ServerFrame};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::room::Room;
use crate::upgrade::Socket;

/// Most queued broadcasts written before one flush: bounds the time a
/// connection spends writing before it looks at what its client sent.
const MAX_BATCH: usize = 256;

/// Serves one connection whose client asked for the name `requested_user`.
///
/// An invalid name gets an `error` frame and a close (1008, policy
/// violation) whose reason the login page shows. Otherwise the connection
/// gets a `welcome`, then every message of the room, until the client leaves,
/// falls too far behind, or the server shuts down.
pub async fn serve(
    mut socket: Socket,
    requested_user: String,
    peer: Option<SocketAddr>,
    room: &Room,
    shutdown: CancellationToken,
) {
    let user = match validate_username(&requested_user) {
        Ok(user) => user.to_owned(),
        Err(error) => {
            tracing::info!(?peer, user = %requested_user.escape_debug(), %error, "refused username");
            let frame = ServerFrame::error(error.code(), error.to_string());
            let _ = socket.send(Message::text(frame.to_json())).await;
            let _ = close(&mut socket, CloseCode::Policy, &error.to_string()).await;
            return;
        }
    };
    // Subscribe before the welcome: nothing posted after it can be missed.
    let mut fanout = room.subscribe();
    let welcome = ServerFrame::Welcome { user: user.clone() };
    if socket.send(Message::text(welcome.to_json())).await.is_err() {
        return;
    }
    tracing::info!(?peer, %user, "connected");
    let reason = session(&mut socket, &user, room, &mut fanout, &shutdown).await;
    tracing::info!(?peer, %user, %reason, "disconnected");
}

/// Why a session ended, for the log.
enum Ended {
    ClientLeft,
    SocketError(tokio_tungstenite::tungstenite::Error),
    FellBehind(u64),
    ShuttingDown,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientLeft => f.write_str("client closed the connection"),
            Self::SocketError(error) => write!(f, "socket error: {error}"),
            Self::FellBehind(missed) => write!(f, "fell {missed} messages behind"),
            Self::ShuttingDown => f.write_str("server shutting down"),
        }
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Ended {
    fn from(error: tokio_tungstenite::tungstenite::Error) -> Self {
        Self::SocketError(error)
    }
}

/// The read/write loop of an accepted connection. One task owns the socket:
/// it reads the client's frames and writes the room's broadcasts, so there is
/// no lock and no second queue per connection.
async fn session(
    socket: &mut Socket,
    user: &str,
    room: &Room,
    fanout: &mut Receiver<Utf8Bytes>,
    shutdown: &CancellationToken,
) -> Ended {
    let ended = loop {
        let step = tokio::select! {
            () = shutdown.cancelled() => Err(Ended::ShuttingDown),
            incoming = socket.next() => match incoming {
                None => Err(Ended::ClientLeft),
                Some(Err(error)) => Err(error.into()),
                Some(Ok(message)) => handle_incoming(socket, user, room, message).await.map_err(Ended::from),
            },
            broadcast = fanout.recv() => match broadcast {
                Ok(frame) => write_batch(socket, frame, fanout).await,
                Err(RecvError::Lagged(missed)) => Err(Ended::FellBehind(missed)),
                // The room outlives every connection; its end means shutdown.
                Err(RecvError::Closed) => Err(Ended::ShuttingDown),
            },
        };
        if let Err(ended) = step {
            break ended;
        }
    };
    let goodbye = match ended {
        Ended::ShuttingDown => Some((CloseCode::Away, "server shutting down")),
        Ended::FellBehind(_) => Some((CloseCode::Again, "fell behind the room; reconnect")),
        Ended::ClientLeft | Ended::SocketError(_) => None,
    };
    if let Some((code, reason)) = goodbye {
        let _ = close(socket, code, reason).await;
    }
    ended
}

/// Acts on one frame from the client. Only socket errors end the session;
/// anything wrong with the frame itself is answered with an `error` frame.
async fn handle_incoming(
    socket: &mut Socket,
    user: &str,
    room: &Room,
    message: Message,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let refusal = match message {
        Message::Text(text) => match ClientFrame::parse(&text) {
            Ok(ClientFrame::Send { client_id, msg }) => {
                let id = room.post(user, msg, client_id);
                tracing::debug!(%user, id, "message");
                return Ok(());
            }
            Err(error) => refusal(&error),
        },
        Message::Binary(_) => ServerFrame::error(
            ErrorCode::BinaryFrame,
            "Frames are JSON text; binary frames are not accepted.",
        ),
        // tungstenite answers pings and close handshakes itself.
        Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
            return Ok(());
        }
    };
    if let ServerFrame::Error { code, message } = &refusal {
        tracing::info!(%user, code = code.as_str(), %message, "refused frame");
    }
    socket.send(Message::text(refusal.to_json())).await
}

fn refusal(error: &FrameError) -> ServerFrame {
    ServerFrame::error(error.code(), error.to_string())
}

/// Writes `first` and whatever else is already queued, then flushes once:
/// under load a connection sends many frames per system call.
async fn write_batch(
    socket: &mut Socket,
    first: Utf8Bytes,
    fanout: &mut Receiver<Utf8Bytes>,
) -> Result<(), Ended> {
    socket.feed(Message::Text(first)).await?;
    for _ in 1..MAX_BATCH {
        match fanout.try_recv() {
            Ok(frame) => socket.feed(Message::Text(frame)).await?,
            Err(TryRecvError::Lagged(missed)) => return Err(Ended::FellBehind(missed)),
            // `Closed` shows up again on the next `recv`, which handles it.
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    Ok(socket.flush().await?)
}

/// Starts the close handshake with `code` and a reason (cut to the 123 bytes
/// a close frame allows).
async fn close(
    socket: &mut Socket,
    code: CloseCode,
    reason: &str,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason[..end].to_owned()),
    };
    socket.close(Some(frame)).await
}
