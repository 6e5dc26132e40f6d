//! One client's WebSocket, from welcome to close.

use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use protocol::{
    canonical_username, validate_client_id, validate_username, ClientFrame, ErrorCode, ServerFrame,
};
use serde::Deserialize;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};

use crate::budget::Budgets;
use crate::config::Config;
use crate::limits::RateLimiter;
use crate::message_log::OlderError;
use crate::room::{Broadcast, JoinError, PresenceGuard, Room};
use crate::transport::{Transport, TransportError};
use crate::upgrade::Socket;
use crate::wire;

/// Most queued broadcasts written at once: bounds the time a connection
/// spends writing before it looks at what its client sent.
const MAX_BATCH: usize = 256;
/// Most bytes gathered into one write. A batch of several frames is copied
/// into one buffer, freed once written.
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Most bytes waiting behind the write under way before the connection
/// stops taking broadcasts and reading its client's frames.
const MAX_QUEUED_BYTES: usize = 64 * 1024;
/// Answers to this connection's own requests waiting to be written.
const DIRECT_CAPACITY: usize = 64;
/// How long a goodbye may take to write before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The query string of `GET /ws`.
#[derive(Debug, Deserialize)]
pub struct JoinQuery {
    /// The name asked for. Missing counts as empty, so the client gets the
    /// same clear `empty_username` refusal as for `?user=`.
    #[serde(default)]
    pub user: String,
    /// A random token the browser keeps: connections presenting the same
    /// token may share a name (a second tab, a reconnect).
    pub token: Option<String>,
    /// The newest message id the client already has: resume after it.
    pub after: Option<u64>,
}

/// What a connection may do and how long it may take, from the config.
#[derive(Debug, Clone)]
pub struct SessionLimits {
    pub rate: f64,
    pub burst: u32,
    pub strikes: u32,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub send_timeout: Duration,
    pub max_frame_bytes: usize,
}

impl SessionLimits {
    pub fn from_config(config: &Config) -> Self {
        Self {
            rate: config.rate_limit,
            burst: config.rate_burst,
            strikes: config.rate_strikes.max(1),
            ping_interval: Duration::from_secs(config.ping_interval.max(1)),
            ping_timeout: Duration::from_secs(config.ping_timeout.max(1)),
            send_timeout: Duration::from_secs(config.send_timeout.max(1)),
            max_frame_bytes: config.max_frame_bytes,
        }
    }

    /// How often the room's clock ticks (see [`Broadcast::Tick`]): a ping
    /// or the silence limit is late by at most this much.
    pub fn clock_tick(&self) -> Duration {
        (self.ping_interval.min(self.ping_timeout) / 4).min(Duration::from_secs(1))
    }
}

/// Everything one connection needs besides its socket.
pub struct Context {
    pub room: Arc<Room>,
    pub limits: Arc<SessionLimits>,
    pub(crate) budgets: Arc<Budgets>,
    pub peer: Option<SocketAddr>,
}

/// Serves one connection.
///
/// A refused name (invalid, or held by someone else) gets an `error` frame
/// and a close (1008, policy violation) whose reason the login page shows;
/// when names cannot be checked (Redis is down), a close with 1013 (try
/// again later), after which the client reconnects; during shutdown, a close
/// with 1001 (going away). Otherwise the connection gets `welcome`,
/// `history` and `online`, then every message and presence change of the
/// room, until the client leaves or misbehaves, or the server shuts down.
///
/// Not an `async fn`: its arguments would live in the future as long as the
/// connection does, the socket (hundreds of bytes) among them, though
/// entering the room is done with them. Idle connections are most of a room,
/// so what each keeps matters.
pub fn serve(socket: Socket, query: JoinQuery, context: Context) -> impl Future<Output = ()> {
    // Entering runs once, and its future is large (the room's join, in a
    // cluster a claim in Redis): boxed, it is freed once the client is in.
    // The context goes in with it and comes back in `Entered`, so that this
    // future does not keep a second copy of it.
    let entering = Box::pin(enter(socket, query, context));
    async move {
        let Some(entered) = entering.await else {
            return;
        };
        let mut session = Session::start(entered);
        let ended = session.run().await;
        // Boxed: it runs once, at the end; the task need not carry its
        // timer all its life.
        Box::pin(session.finish(&ended)).await;
        let user = session.presence.user();
        tracing::info!(peer = ?session.peer, %user, reason = %ended, "disconnected");
    }
}

/// A client that is in the room, greeted.
struct Entered {
    transport: Transport,
    /// Where the client resumed from.
    after: Option<u64>,
    fanout: Receiver<Broadcast>,
    presence: PresenceGuard,
    context: Context,
}

/// What a connection keeps while its client is in the room: one task, which
/// writes the room's broadcasts and reads, checks and carries out what the
/// client sends.
struct Session {
    transport: Transport,
    fanout: Receiver<Broadcast>,
    /// Answers the room sends this connection alone, made on the first
    /// post: most connections never post.
    direct: Option<(mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>)>,
    /// What the client asked for, being carried out. One at a time: the
    /// client's next frame is read once it is done.
    action: Option<Action>,
    /// Keeps the user online until the connection ends; knows their name.
    presence: PresenceGuard,
    room: Arc<Room>,
    limits: Arc<SessionLimits>,
    /// What this connection's address and name may still spend.
    budgets: Arc<Budgets>,
    rate: RateLimiter,
    /// Frames refused in a row for the rate limit.
    strikes: u32,
    /// When the client was last heard from: any frame, or the pong to a
    /// ping, counts.
    last_heard: Instant,
    /// When the client is next owed a ping.
    next_ping: Instant,
    peer: Option<SocketAddr>,
}

/// A request of the client's in progress (posting, paging history), and the
/// answer it will get, if any. Boxed: its future is large, and exists only
/// while the request does.
type Action = Pin<Box<dyn Future<Output = Option<ServerFrame>> + Send>>;

/// Checks the name, joins the room and greets the client with `welcome`,
/// `history` and `online`. A refusal is sent with its close frame, and
/// gives `None`, as does a client that does not take the greeting in time.
async fn enter(mut socket: Socket, query: JoinQuery, context: Context) -> Option<Entered> {
    let Context {
        room, limits, peer, ..
    } = &context;
    let peer = *peer;
    let token = query
        .token
        .as_deref()
        .and_then(|token| validate_client_id(token).ok());
    // A refusal: the `error` frame to send first, if the client is owed
    // one, and the close.
    let name = validate_username(&query.user).and_then(canonical_username);
    let joined = match name.as_deref() {
        Err(error) => Err((Some(error.code()), error.to_string(), CloseCode::Policy)),
        Ok(user) => match room.join(user, token, query.after).await {
            Ok(joined) => Ok((user, joined)),
            Err(JoinError::Taken) => {
                let reason = format!("The name {user:?} is taken: pick another one.");
                Err((Some(ErrorCode::UsernameTaken), reason, CloseCode::Policy))
            }
            // Not the client's fault: it reconnects and tries again.
            Err(JoinError::Unavailable(error)) => {
                tracing::warn!(?peer, %error, "cannot check a name");
                let reason = "The room is unavailable right now; retrying.".to_owned();
                Err((
                    Some(ErrorCode::StorageUnavailable),
                    reason,
                    CloseCode::Again,
                ))
            }
            // As for a client that was in: the close alone.
            Err(JoinError::ShuttingDown) => {
                Err((None, Ended::ShuttingDown.to_string(), CloseCode::Away))
            }
        },
    };
    let (user, joined) = match joined {
        Ok(joined) => joined,
        Err((code, reason, close_code)) => {
            let requested = query.user.escape_debug();
            tracing::info!(?peer, user = %requested, %reason, "refused to join");
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
                if let Some(code) = code {
                    let frame = ServerFrame::error(code, reason.clone());
                    socket.send(Message::text(frame.to_json())).await?;
                }
                let goodbye = close_frame(close_code, &reason);
                socket.send(Message::Close(Some(goodbye))).await
            })
            .await;
            return None;
        }
    };
    let welcome = ServerFrame::Welcome {
        user: user.to_owned(),
    };
    let greeted = tokio::time::timeout(limits.send_timeout, async {
        socket.feed(Message::text(welcome.to_json())).await?;
        socket.feed(Message::text(joined.history.to_json())).await?;
        socket.send(Message::text(joined.online.to_json())).await
    });
    if !matches!(greeted.await, Ok(Ok(()))) {
        return None;
    }
    // From here on frames are written as encoded once for everyone (see
    // `Transport`). The greeting is flushed and nothing was read, so the
    // socket taken out of its wrapper loses nothing, and tungstenite's
    // write buffer, grown to the history frame, goes with the wrapper.
    let config = *socket.get_config();
    let transport = Transport::new(socket.into_inner(), config);
    Some(Entered {
        transport,
        after: query.after,
        fanout: joined.fanout,
        presence: joined.presence,
        context,
    })
}

/// Where the room sends frames meant for one connection alone (answers to
/// its own requests).
///
/// A `futures` channel, not tokio's: tokio's allocates a block of 32 slots
/// and cache-padded counters up front, about 1.8 KiB per connection, for a
/// queue that is empty nearly always; this one allocates per queued item.
#[derive(Clone)]
pub struct DirectSender(mpsc::Sender<Bytes>);

impl DirectSender {
    /// Queues a frame (its JSON) for the connection. Drops it (returns
    /// false) when the connection is gone, or when its client has not read
    /// the last [`DIRECT_CAPACITY`] answers (plus one per request still
    /// pending: a `futures` channel keeps a slot for each sender): it will
    /// be cut off for that anyway.
    pub fn try_send(mut self, frame_json: &str) -> bool {
        self.0.try_send(wire::text(frame_json)).is_ok()
    }
}

/// Why a session ended, for the log and the close frame.
enum Ended {
    ClientLeft,
    SocketError(WsError),
    FellBehind(u64),
    TooSlow,
    Unresponsive,
    FrameTooLarge,
    InvalidUtf8,
    ProtocolViolation(ProtocolError),
    Flooding,
    ShuttingDown,
}

impl std::fmt::Display for Ended {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ClientLeft => f.write_str("client closed the connection"),
            Self::SocketError(error) => write!(f, "socket error: {error}"),
            Self::FellBehind(missed) => write!(f, "fell {missed} messages behind"),
            Self::TooSlow => f.write_str("client does not read"),
            Self::Unresponsive => f.write_str("client stopped answering pings"),
            Self::FrameTooLarge => f.write_str("frame too large"),
            Self::InvalidUtf8 => f.write_str("text frame with invalid UTF-8"),
            Self::ProtocolViolation(error) => write!(f, "WebSocket protocol violation: {error}"),
            Self::Flooding => f.write_str("kept sending over the rate limit"),
            Self::ShuttingDown => f.write_str("server shutting down"),
        }
    }
}

impl Ended {
    /// The close frame this ending deserves, if the socket can still take one.
    fn goodbye(&self, limits: &SessionLimits) -> Option<(CloseCode, String)> {
        let (code, reason) = match self {
            Self::ClientLeft | Self::SocketError(_) => return None,
            Self::ShuttingDown => (CloseCode::Away, "server shutting down".to_owned()),
            Self::FellBehind(_) => (
                CloseCode::Again,
                "fell behind the room; reconnect".to_owned(),
            ),
            Self::TooSlow => (CloseCode::Policy, "not reading fast enough".to_owned()),
            Self::Unresponsive => (CloseCode::Policy, "no answer to pings".to_owned()),
            Self::FrameTooLarge => (
                CloseCode::Size,
                format!("frames are limited to {} bytes", limits.max_frame_bytes),
            ),
            Self::InvalidUtf8 => (CloseCode::Invalid, "text frames must be UTF-8".to_owned()),
            Self::ProtocolViolation(error) => (CloseCode::Protocol, error.to_string()),
            Self::Flooding => (CloseCode::Policy, "too many frames; slow down".to_owned()),
        };
        Some((code, reason))
    }
}

impl From<TransportError> for Ended {
    fn from(error: TransportError) -> Self {
        match error {
            TransportError::TooSlow => Self::TooSlow,
            TransportError::Ws(WsError::Capacity(_)) => Self::FrameTooLarge,
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

impl Session {
    fn start(entered: Entered) -> Self {
        let Entered {
            transport,
            after,
            fanout,
            presence,
            context:
                Context {
                    room,
                    limits,
                    budgets,
                    peer,
                },
        } = entered;
        let user = presence.user();
        tracing::info!(?peer, %user, ?after, "connected");
        let now = Instant::now();
        Self {
            transport,
            fanout,
            direct: None,
            action: None,
            presence,
            room,
            budgets,
            rate: RateLimiter::new(limits.rate, limits.burst, now.into_std()),
            strikes: 0,
            last_heard: now,
            next_ping: now + limits.ping_interval,
            limits,
            peer,
        }
    }

    /// Runs the session until the client leaves or misbehaves, or the
    /// server shuts down, and says which.
    ///
    /// Broadcasts are taken while few enough bytes wait to be written, so
    /// that a client that does not read falls behind the room's bounded
    /// queue instead of filling the server's memory; the client's frames are
    /// read once the answer to the last one is queued, and also only while
    /// few enough bytes wait.
    async fn run(&mut self) -> Ended {
        let send_timeout = self.limits.send_timeout;
        loop {
            let writing = self.transport.is_writing();
            let room_to_queue = self.transport.queued_bytes() < MAX_QUEUED_BYTES;
            let reading = self.action.is_none() && room_to_queue;
            let transport = &mut self.transport;
            let step = tokio::select! {
                // The hottest first: what is queued is written before more
                // is taken.
                biased;
                event = poll_fn(|cx| transport.poll(cx, reading, send_timeout)), if writing || reading => {
                    match event {
                        Ok(Some(message)) => {
                            self.last_heard = Instant::now();
                            self.handle_incoming(message)
                        }
                        Ok(None) => Ok(()),
                        Err(error) => Err(error.into()),
                    }
                }
                broadcast = self.fanout.recv(), if room_to_queue => match broadcast {
                    Ok(Broadcast::Frame(frame)) => self.send_broadcasts(frame),
                    Ok(Broadcast::Tick) => self.on_tick(),
                    Err(RecvError::Lagged(missed)) => Err(Ended::FellBehind(missed)),
                    // The room outlives every connection; its end means shutdown.
                    Ok(Broadcast::ShuttingDown) | Err(RecvError::Closed) => {
                        Err(Ended::ShuttingDown)
                    }
                },
                Some(frame) = next_direct(&mut self.direct), if room_to_queue && self.direct.is_some() => {
                    self.transport.push(frame);
                    Ok(())
                }
                answer = poll_action(&mut self.action), if self.action.is_some() => {
                    self.action = None;
                    if let Some(answer) = answer {
                        let bytes = self.answer(&answer);
                        if let (ServerFrame::Older { .. }, Some(peer)) = (&answer, self.peer) {
                            let now = std::time::Instant::now();
                            self.budgets.read_history(peer.ip(), bytes, now);
                        }
                    }
                    Ok(())
                }
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// On each tick of the room's clock: pings the client when it is owed
    /// one, and ends the session when it has been silent too long.
    fn on_tick(&mut self) -> Result<(), Ended> {
        let now = Instant::now();
        if now >= self.last_heard + self.limits.ping_timeout {
            return Err(Ended::Unresponsive);
        }
        if now >= self.next_ping {
            self.transport.ping();
            self.next_ping = now + self.limits.ping_interval;
        }
        Ok(())
    }

    /// Queues `first` and whatever else the room has queued, as one write:
    /// under load a connection sends many frames per system call. A frame
    /// alone is written as it is, shared with every other recipient;
    /// several are copied into one buffer, freed once written.
    fn send_broadcasts(&mut self, first: Bytes) -> Result<(), Ended> {
        let mut batch = Vec::new();
        let mut ticked = false;
        let mut ended = Ok(());
        for _ in 1..MAX_BATCH {
            if batch.len() >= MAX_BATCH_BYTES {
                break;
            }
            match self.fanout.try_recv() {
                Ok(Broadcast::Frame(frame)) => {
                    if batch.is_empty() {
                        batch.extend_from_slice(&first);
                    }
                    batch.extend_from_slice(&frame);
                }
                Ok(Broadcast::Tick) => ticked = true,
                // What came before the notice is still written (`finish`).
                Ok(Broadcast::ShuttingDown) => {
                    ended = Err(Ended::ShuttingDown);
                    break;
                }
                Err(TryRecvError::Lagged(missed)) => return Err(Ended::FellBehind(missed)),
                // `Closed` shows up again on the next `recv`, which handles it.
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.transport.push(if batch.is_empty() {
            first
        } else {
            Bytes::from(batch)
        });
        if ticked {
            self.on_tick()?;
        }
        ended
    }

    /// Ends the session: writes what is queued and the close frame the
    /// ending deserves, then, after a close of ours, reads until the client
    /// answers it: closing a socket with unread data resets it, and the
    /// client would lose the close frame and its reason with it. Briefly.
    async fn finish(&mut self, ended: &Ended) {
        let goodbye = ended.goodbye(&self.limits);
        let says_goodbye = goodbye.is_some();
        if let Some((code, reason)) = goodbye {
            self.transport.close(close_frame(code, &reason));
        }
        let send_timeout = self.limits.send_timeout;
        let transport = &mut self.transport;
        let _ = tokio::time::timeout(
            CLOSE_TIMEOUT,
            poll_fn(|cx| loop {
                if !says_goodbye && !transport.is_writing() {
                    return Poll::Ready(());
                }
                match ready!(transport.poll(cx, says_goodbye, send_timeout)) {
                    // Written, or read and dropped: on to the client's close.
                    Ok(_) => {}
                    // The client's close, or a socket past use.
                    Err(_) => return Poll::Ready(()),
                }
            }),
        )
        .await;
    }

    /// Acts on one frame from the client. Anything wrong with the frame
    /// itself is answered with an `error` frame and changes nothing.
    fn handle_incoming(&mut self, message: Message) -> Result<(), Ended> {
        let text = match message {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
            // tungstenite answers pings itself, but they cost: counted like
            // frames, a ping flood ends in a close.
            Message::Ping(_) | Message::Pong(_) => {
                return match self.rate.try_take(std::time::Instant::now()) {
                    Ok(()) => Ok(()),
                    Err(_) => self.strike(),
                };
            }
            // tungstenite answers close handshakes itself.
            Message::Close(_) | Message::Frame(_) => return Ok(()),
        };
        let user = self.presence.user();
        let parsed = text.as_deref().map(ClientFrame::parse);
        if let Err(wait) = self.rate.try_take(std::time::Instant::now()) {
            let client_id = match &parsed {
                Some(Ok(ClientFrame::Send { client_id, .. })) => Some(client_id.clone()),
                _ => None,
            };
            return self.refuse_for_rate(wait, client_id);
        }
        let answer = match parsed {
            None => {
                tracing::info!(%user, "refused binary frame");
                ServerFrame::error(
                    ErrorCode::BinaryFrame,
                    "Frames are JSON text; binary frames are not accepted.",
                )
            }
            Some(Err(error)) => {
                tracing::info!(%user, code = error.code().as_str(), %error, "refused frame");
                error.to_frame()
            }
            Some(Ok(frame)) => return self.act(frame),
        };
        self.strikes = 0;
        self.answer(&answer);
        Ok(())
    }

    /// Counts a frame refused for a rate limit; too many in a row end the
    /// session.
    fn strike(&mut self) -> Result<(), Ended> {
        self.strikes += 1;
        if self.strikes >= self.limits.strikes {
            Err(Ended::Flooding)
        } else {
            Ok(())
        }
    }

    /// Refuses a frame over a rate limit with the wait, naming the message
    /// (`client_id`) when it was one.
    fn refuse_for_rate(&mut self, wait: Duration, client_id: Option<String>) -> Result<(), Ended> {
        self.strike()?;
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        self.answer(&ServerFrame::rate_limited(wait_ms, client_id));
        Ok(())
    }

    /// Carries out a valid frame: answers at once, or starts the action
    /// that will. A frame over its address's or name's budget is refused.
    fn act(&mut self, frame: ClientFrame) -> Result<(), Ended> {
        let room = Arc::clone(&self.room);
        let user = self.presence.user().to_owned();
        let address = self.peer.map(|peer| peer.ip());
        let now = std::time::Instant::now();
        let action: Action = match frame {
            ClientFrame::Send { client_id, msg } => {
                if let Err(wait) = self.budgets.post(&user, address, now) {
                    return self.refuse_for_rate(wait, Some(client_id));
                }
                let reply = self.direct_sender();
                Box::pin(async move {
                    match room.post(&user, msg, client_id.clone(), reply).await {
                        Ok(()) => None,
                        Err(_) => Some(ServerFrame::send_error(
                            ErrorCode::ShuttingDown,
                            "The server is shutting down; your message was not posted.",
                            client_id,
                        )),
                    }
                })
            }
            ClientFrame::LoadOlder { before, limit } => {
                if let Some(address) = address {
                    if let Err(wait) = self.budgets.may_read_history(address, now) {
                        return self.refuse_for_rate(wait, None);
                    }
                }
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                Box::pin(async move {
                    Some(match room.older(before, limit).await {
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
                    })
                })
            }
            ClientFrame::Typing => {
                // Once per interval per name, whichever tab types.
                if !self.budgets.typing(&user, now) {
                    return Ok(());
                }
                Box::pin(async move {
                    room.typing(&user).await;
                    None
                })
            }
            ClientFrame::Ping => {
                self.strikes = 0;
                self.answer(&ServerFrame::Pong);
                return Ok(());
            }
        };
        self.strikes = 0;
        self.action = Some(action);
        Ok(())
    }

    /// Where the room can answer this connection alone.
    fn direct_sender(&mut self) -> DirectSender {
        let (sender, _) = self
            .direct
            .get_or_insert_with(|| mpsc::channel(DIRECT_CAPACITY));
        DirectSender(sender.clone())
    }

    /// Queues an answer to the client; returns its size in bytes.
    fn answer(&mut self, frame: &ServerFrame) -> usize {
        let json = frame.to_json();
        self.transport.push(wire::text(&json));
        json.len()
    }
}

/// The next answer the room sent this connection alone.
fn next_direct(
    direct: &mut Option<(mpsc::Sender<Bytes>, mpsc::Receiver<Bytes>)>,
) -> impl Future<Output = Option<Bytes>> + '_ {
    poll_fn(move |cx| match direct {
        Some((_, queue)) => queue.poll_next_unpin(cx),
        None => Poll::Pending,
    })
}

/// The answer of the action in progress.
fn poll_action(action: &mut Option<Action>) -> impl Future<Output = Option<ServerFrame>> + '_ {
    poll_fn(move |cx| match action {
        Some(action) => action.as_mut().poll(cx),
        None => Poll::Pending,
    })
}

/// A close frame with `code` and `reason`, cut to the 123 bytes a close
/// frame allows.
fn close_frame(code: CloseCode, reason: &str) -> CloseFrame {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame {
        code,
        reason: Utf8Bytes::from(reason[..end].to_owned()),
    }
}
