//! One client's WebSocket, from welcome to close.

use std::net::SocketAddr;

use futures::{SinkExt, StreamExt};
use protocol::{validate_username, ClientFrame, ErrorCode, ServerFrame};
use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use crate::room::{OlderError, Room};
use crate::upgrade::Socket;

/// Most queued broadcasts written before one flush: bounds the time a
/// connection spends writing before it looks at what its client sent.
const MAX_BATCH: usize = 256;
/// Answers to this connection's own requests waiting to be written.
const DIRECT_CAPACITY: usize = 64;

/// The query string of `GET /ws`.
#[derive(Debug, Deserialize)]
pub struct JoinQuery {
    /// The name asked for. Missing counts as empty, so the client gets the
    /// same clear `empty_username` refusal as for `?user=`.
    #[serde(default)]
    pub user: String,
    /// The newest message id the client already has: resume after it.
    pub after: Option<u64>,
}

/// Serves one connection.
///
/// An invalid name gets an `error` frame and a close (1008, policy
/// violation) whose reason the login page shows. Otherwise the connection
/// gets `welcome`, then `history`, then every message of the room, until the
/// client leaves, falls too far behind, or the server shuts down.
pub async fn serve(
    mut socket: Socket,
    query: JoinQuery,
    peer: Option<SocketAddr>,
    room: &Room,
    shutdown: CancellationToken,
) {
    let user = match validate_username(&query.user) {
        Ok(user) => user.to_owned(),
        Err(error) => {
            let requested = query.user.escape_debug();
            tracing::info!(?peer, user = %requested, %error, "refused username");
            let frame = ServerFrame::error(error.code(), error.to_string());
            let _ = socket.send(Message::text(frame.to_json())).await;
            let _ = close(&mut socket, CloseCode::Policy, &error.to_string()).await;
            return;
        }
    };
    let (mut fanout, history) = room.join(query.after);
    let welcome = ServerFrame::Welcome { user: user.clone() };
    let greeted = async {
        socket.feed(Message::text(welcome.to_json())).await?;
        socket.send(Message::text(history.to_json())).await
    };
    if greeted.await.is_err() {
        return;
    }
    tracing::info!(?peer, %user, after = ?query.after, "connected");
    let mut session = Session {
        socket: &mut socket,
        user: &user,
        room,
        direct: mpsc::channel(DIRECT_CAPACITY),
    };
    let ended = session.run(&mut fanout, &shutdown).await;
    tracing::info!(?peer, %user, reason = %ended, "disconnected");
}

/// Why a session ended, for the log.
enum Ended {
    ClientLeft,
    SocketError(WsError),
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

impl From<WsError> for Ended {
    fn from(error: WsError) -> Self {
        Self::SocketError(error)
    }
}

/// An accepted connection. One task owns the socket: it reads the client's
/// frames and writes the room's broadcasts and its own answers, so there is
/// no lock on the socket.
struct Session<'a> {
    socket: &'a mut Socket,
    user: &'a str,
    room: &'a Room,
    /// Answers meant for this connection alone, from the room's writer.
    direct: (mpsc::Sender<Utf8Bytes>, mpsc::Receiver<Utf8Bytes>),
}

impl Session<'_> {
    async fn run(
        &mut self,
        fanout: &mut Receiver<Utf8Bytes>,
        shutdown: &CancellationToken,
    ) -> Ended {
        let ended = loop {
            let step = tokio::select! {
                () = shutdown.cancelled() => Err(Ended::ShuttingDown),
                incoming = self.socket.next() => match incoming {
                    None => Err(Ended::ClientLeft),
                    Some(Err(error)) => Err(error.into()),
                    Some(Ok(message)) => self.handle_incoming(message).await.map_err(Ended::from),
                },
                broadcast = fanout.recv() => match broadcast {
                    Ok(frame) => self.write_batch(frame, fanout).await,
                    Err(RecvError::Lagged(missed)) => Err(Ended::FellBehind(missed)),
                    // The room outlives every connection; its end means shutdown.
                    Err(RecvError::Closed) => Err(Ended::ShuttingDown),
                },
                Some(answer) = self.direct.1.recv() => {
                    self.socket.send(Message::Text(answer)).await.map_err(Ended::from)
                }
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
            let _ = close(self.socket, code, reason).await;
        }
        ended
    }

    /// Acts on one frame from the client. Only socket errors end the session;
    /// anything wrong with the frame itself is answered with an `error` frame.
    async fn handle_incoming(&mut self, message: Message) -> Result<(), WsError> {
        let answer = match message {
            Message::Text(text) => match ClientFrame::parse(&text) {
                Ok(ClientFrame::Send { client_id, msg }) => {
                    let reply = self.direct.0.clone();
                    match self
                        .room
                        .post(self.user, msg, client_id.clone(), reply)
                        .await
                    {
                        Ok(()) => return Ok(()),
                        Err(_) => ServerFrame::send_error(
                            ErrorCode::ShuttingDown,
                            "The server is shutting down; your message was not posted.",
                            client_id,
                        ),
                    }
                }
                Ok(ClientFrame::LoadOlder { before, limit }) => {
                    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                    match self.room.older(before, limit).await {
                        Ok((messages, has_older)) => ServerFrame::Older {
                            messages,
                            has_older,
                        },
                        Err(OlderError::Closed) => ServerFrame::error(
                            ErrorCode::ShuttingDown,
                            "The server is shutting down.",
                        ),
                        Err(OlderError::Store(error)) => {
                            tracing::error!(%error, "cannot read history");
                            ServerFrame::error(
                                ErrorCode::StorageUnavailable,
                                "The server could not read its history. Try again.",
                            )
                        }
                    }
                }
                Err(error) => {
                    tracing::info!(user = %self.user, code = error.code().as_str(), %error, "refused frame");
                    error.to_frame()
                }
            },
            Message::Binary(_) => {
                tracing::info!(user = %self.user, "refused binary frame");
                ServerFrame::error(
                    ErrorCode::BinaryFrame,
                    "Frames are JSON text; binary frames are not accepted.",
                )
            }
            // tungstenite answers pings and close handshakes itself.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return Ok(());
            }
        };
        self.socket.send(Message::text(answer.to_json())).await
    }

    /// Writes `first` and whatever else is already queued, then flushes once:
    /// under load a connection sends many frames per system call.
    async fn write_batch(
        &mut self,
        first: Utf8Bytes,
        fanout: &mut Receiver<Utf8Bytes>,
    ) -> Result<(), Ended> {
        self.socket.feed(Message::Text(first)).await?;
        for _ in 1..MAX_BATCH {
            match fanout.try_recv() {
                Ok(frame) => self.socket.feed(Message::Text(frame)).await?,
                Err(TryRecvError::Lagged(missed)) => return Err(Ended::FellBehind(missed)),
                // `Closed` shows up again on the next `recv`, which handles it.
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        Ok(self.socket.flush().await?)
    }
}

/// Starts the close handshake with `code` and a reason (cut to the 123 bytes
/// a close frame allows).
async fn close(socket: &mut Socket, code: CloseCode, reason: &str) -> Result<(), WsError> {
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
