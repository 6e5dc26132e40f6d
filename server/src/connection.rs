//! One client's WebSocket, from welcome to close.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Duration;

use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};
use protocol::{
    validate_client_id, validate_username, ClientFrame, ErrorCode, ServerFrame, TYPING_INTERVAL_MS,
};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf, ReadHalf, WriteHalf};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::config::Config;
use crate::limits::{RateLimiter, Ticket};
use crate::message_log::OlderError;
use crate::room::{Broadcast, JoinError, PresenceGuard, Room};
use crate::upgrade::{Io, Socket};
use crate::wire;

/// Most queued broadcasts written at once: bounds the time a connection
/// spends writing before it looks at what its client sent.
const MAX_BATCH: usize = 256;
/// Most bytes gathered into one write. A batch of several frames is copied
/// into one buffer, freed once written.
const MAX_BATCH_BYTES: usize = 64 * 1024;
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
}

/// Everything one connection needs besides its socket.
pub struct Context {
    pub room: Arc<Room>,
    pub limits: Arc<SessionLimits>,
    pub peer: Option<SocketAddr>,
    /// Its place under the connection caps, held until it ends.
    pub ticket: Ticket,
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
    let peer = context.peer;
    // Entering runs once, and its future is large (the room's join, in a
    // cluster a claim in Redis): boxed, it is freed once the client is in.
    // The context goes in with it and comes back in `Entered`, so that this
    // future does not keep a second copy of it.
    let entering = Box::pin(enter(socket, query, context));
    async move {
        // Started in the `match`, so that nothing of entering outlives it.
        let mut session = match entering.await {
            Some(entered) => Session::start(entered),
            None => return,
        };
        let ended = session
            .writer
            .run(&mut session.fanout, &mut session.queue)
            .await;
        // The reader goes on until the client answers the close (or, after
        // ending the session itself, drains what the client still sends):
        // closing a socket with unread data resets it, and the client would
        // lose the close frame and its reason with it. Briefly.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, &mut session.reading).await;
        session.reading.abort();
        let user = session.presence.user();
        tracing::info!(?peer, %user, reason = %ended, "disconnected");
    }
}

/// What a connection keeps while its client is in the room.
struct Session {
    writer: Writer,
    fanout: Receiver<Broadcast>,
    /// Answers, pings and news from the reader, for the writer.
    queue: mpsc::Receiver<ToWriter>,
    /// The reader's task, stopped when the writer ends.
    reading: JoinHandle<()>,
    /// Keeps the user online until the connection ends; knows their name.
    presence: PresenceGuard,
    /// The connection's place under the caps, held until it ends.
    _ticket: Ticket,
}

impl Session {
    /// Spawns the reader; the caller's task becomes the writer.
    fn start(entered: Entered) -> Self {
        let Entered {
            socket,
            stream,
            queue,
            user,
            after,
            fanout,
            presence,
            context:
                Context {
                    room,
                    limits,
                    peer,
                    ticket,
                },
        } = entered;
        tracing::info!(?peer, %user, ?after, "connected");
        let mut reader = Reader {
            stream,
            user,
            room,
            limits: Arc::clone(&limits),
            rate: RateLimiter::new(limits.rate, limits.burst, std::time::Instant::now()),
            strikes: 0,
            last_typing: None,
        };
        // The reader has a task of its own, and owns everything rare (pings,
        // the silence deadline): a broadcast wakes only the writer, which
        // then polls nothing but the broadcast and its own queue.
        let reading = tokio::spawn(async move {
            let ended = reader.run().await;
            let says_goodbye = ended.goodbye(&reader.limits).is_some();
            let _ = reader
                .writer_queue()
                .send(ToWriter::ReaderEnded(ended))
                .await;
            if says_goodbye {
                reader.drain().await;
            }
        });
        Self {
            writer: Writer { socket, limits },
            fanout,
            queue,
            reading,
            presence,
            _ticket: ticket,
        }
    }
}

/// A client that is in the room, greeted.
struct Entered {
    /// Where the writer writes: from here on it is the socket's only writer.
    socket: WriteHalf<Io>,
    /// The client's frames, for the reader.
    stream: WebSocketStream<ReaderIo>,
    queue: mpsc::Receiver<ToWriter>,
    user: String,
    /// Where the client resumed from.
    after: Option<u64>,
    fanout: Receiver<Broadcast>,
    presence: PresenceGuard,
    context: Context,
}

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
    let joined = match validate_username(&query.user) {
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
    let user = user.to_owned();
    let welcome = ServerFrame::Welcome { user: user.clone() };
    let greeted = tokio::time::timeout(limits.send_timeout, async {
        socket.feed(Message::text(welcome.to_json())).await?;
        socket.feed(Message::text(joined.history.to_json())).await?;
        socket.send(Message::text(joined.online.to_json())).await
    });
    if !matches!(greeted.await, Ok(Ok(()))) {
        return None;
    }
    // From here on the writer writes frames encoded once for everyone
    // (see `wire`), and tungstenite only reads. The greeting is flushed and
    // nothing was read, so the connection wrapped anew loses nothing, and
    // tungstenite's write buffer, grown to the history frame, goes with the
    // old wrapper.
    let config = *socket.get_config();
    let (read, socket) = tokio::io::split(socket.into_inner());
    let (to_writer, queue) = mpsc::channel(DIRECT_CAPACITY);
    let io = ReaderIo { read, to_writer };
    let stream = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
    Some(Entered {
        socket,
        stream,
        queue,
        user,
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
pub struct DirectSender(mpsc::Sender<ToWriter>);

impl DirectSender {
    /// Queues a frame (its JSON) for the connection. Drops it (returns false) when the
    /// connection is gone, or when its client has not read the last
    /// [`DIRECT_CAPACITY`] answers (plus one per request still pending: a
    /// `futures` channel keeps a slot for each sender): it will be cut off
    /// for that anyway.
    pub fn try_send(mut self, frame_json: &str) -> bool {
        self.0
            .try_send(ToWriter::Frame(wire::text(frame_json)))
            .is_ok()
    }
}

/// What the writer hears besides the broadcast, in one queue.
enum ToWriter {
    /// Frames, encoded, for this client alone: answers, pings, and what
    /// tungstenite sends by itself (a pong, the reply to a close).
    Frame(Bytes),
    /// The reader has stopped, for this reason.
    ReaderEnded(Ended),
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
            Self::Flooding => f.write_str("kept sending over the rate limit"),
            Self::ShuttingDown => f.write_str("server shutting down"),
        }
    }
}

impl From<std::io::Error> for Ended {
    fn from(error: std::io::Error) -> Self {
        Self::SocketError(WsError::Io(error))
    }
}

impl From<WsError> for Ended {
    fn from(error: WsError) -> Self {
        match error {
            WsError::Capacity(_) => Self::FrameTooLarge,
            WsError::Utf8(_) => Self::InvalidUtf8,
            WsError::ConnectionClosed | WsError::AlreadyClosed => Self::ClientLeft,
            error => Self::SocketError(error),
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
            Self::Flooding => (CloseCode::Policy, "too many frames; slow down".to_owned()),
        };
        Some((code, reason))
    }
}

/// The writing half of a connection: the room's broadcasts, the answers to
/// the client's own requests, pings, and the goodbye.
struct Writer {
    socket: WriteHalf<Io>,
    limits: Arc<SessionLimits>,
}

impl Writer {
    async fn run(
        &mut self,
        fanout: &mut Receiver<Broadcast>,
        queue: &mut mpsc::Receiver<ToWriter>,
    ) -> Ended {
        let ended = loop {
            // Biased, hottest first: when a broadcast is ready the queue is
            // not polled. `write_batch` drains the broadcast, so the queue
            // gets its turn as soon as the room is quiet.
            let step = tokio::select! {
                biased;
                broadcast = fanout.recv() => match broadcast {
                    Ok(Broadcast::Frame(frame)) => {
                        timed(&self.limits, pin!(write_batch(&mut self.socket, frame, fanout))).await
                    }
                    Err(RecvError::Lagged(missed)) => Err(Ended::FellBehind(missed)),
                    // The room outlives every connection; its end means shutdown.
                    Ok(Broadcast::ShuttingDown) | Err(RecvError::Closed) => {
                        Err(Ended::ShuttingDown)
                    }
                },
                item = queue.next() => match item {
                    Some(ToWriter::Frame(frame)) => {
                        timed(&self.limits, pin!(write(&mut self.socket, &frame))).await
                    }
                    Some(ToWriter::ReaderEnded(ended)) => Err(ended),
                    // The reader says why it ends before it lets go of its
                    // sender, so this is a reader that was cut short.
                    None => Err(Ended::ClientLeft),
                },
            };
            if let Err(ended) = step {
                break ended;
            }
        };
        if let Some((code, reason)) = ended.goodbye(&self.limits) {
            // Boxed: it runs once, at the end; the task need not carry its
            // timer all its life.
            let goodbye = wire::close(close_frame(code, &reason));
            let closing = tokio::time::timeout(CLOSE_TIMEOUT, write(&mut self.socket, &goodbye));
            let _ = Box::pin(closing).await;
        }
        ended
    }
}

/// The reading half of a connection: the client's frames, checked, limited
/// and acted on. Answers go to the writer.
struct Reader {
    stream: WebSocketStream<ReaderIo>,
    user: String,
    room: Arc<Room>,
    limits: Arc<SessionLimits>,
    rate: RateLimiter,
    /// Frames refused in a row for the rate limit.
    strikes: u32,
    /// When this connection's typing was last relayed.
    last_typing: Option<Instant>,
}

impl Reader {
    /// The reader's way to the writer: the sender its socket adapter uses
    /// for tungstenite's own frames (one sender fewer per connection).
    fn writer_queue(&mut self) -> &mut mpsc::Sender<ToWriter> {
        &mut self.stream.get_mut().to_writer
    }

    /// Reads until the client leaves or misbehaves, and has the writer ping
    /// the client every so often. Any frame, or the pong to a ping, counts
    /// as a sign of life. (Shutdown reaches the writer through the room; the
    /// reader reads on until the client answers the close.)
    async fn run(&mut self) -> Ended {
        let mut last_heard = Instant::now();
        let mut next_ping = last_heard + self.limits.ping_interval;
        // One timer for both the pings and the silence limit, set for
        // whichever comes first: every idle connection carries it, and a
        // frame only notes the time instead of resetting a timer.
        let heartbeat =
            tokio::time::sleep_until(next_ping.min(last_heard + self.limits.ping_timeout));
        tokio::pin!(heartbeat);
        loop {
            let step = tokio::select! {
                biased;
                incoming = self.stream.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        None => Err(Ended::ClientLeft),
                        Some(Err(error)) => Err(error.into()),
                        // Boxed: acting on a frame (posting, paging
                        // history) is a large future, and this task waits
                        // idle most of its life.
                        Some(Ok(message)) => Box::pin(self.handle_incoming(message)).await,
                    }
                }
                () = &mut heartbeat => {
                    let now = Instant::now();
                    let silent_until = last_heard + self.limits.ping_timeout;
                    if now >= silent_until {
                        Err(Ended::Unresponsive)
                    } else {
                        if now >= next_ping {
                            // A writer with answers queued is busy writing:
                            // the client hears from us either way.
                            let _ = self.writer_queue().try_send(ToWriter::Frame(wire::ping()));
                            next_ping = now + self.limits.ping_interval;
                        }
                        heartbeat.as_mut().reset(next_ping.min(silent_until));
                        Ok(())
                    }
                }
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// After the reader ended the session for the client's misbehaviour
    /// (a flood, a frame too large), reads and drops what the client still
    /// sends until its reply to the writer's close, for at most
    /// [`CLOSE_TIMEOUT`].
    async fn drain(&mut self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            while let Some(Ok(_)) = self.stream.next().await {}
        })
        .await;
    }

    /// Acts on one frame from the client. Anything wrong with the frame
    /// itself is answered with an `error` frame and changes nothing.
    async fn handle_incoming(&mut self, message: Message) -> Result<(), Ended> {
        let text = match message {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
            // tungstenite answers pings and close handshakes itself.
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) | Message::Frame(_) => {
                return Ok(());
            }
        };
        let parsed = text.as_deref().map(ClientFrame::parse);
        if let Err(wait) = self.rate.try_take(std::time::Instant::now()) {
            self.strikes += 1;
            if self.strikes >= self.limits.strikes {
                return Err(Ended::Flooding);
            }
            let client_id = match &parsed {
                Some(Ok(ClientFrame::Send { client_id, .. })) => Some(client_id.clone()),
                _ => None,
            };
            let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
            return self
                .answer(ServerFrame::rate_limited(wait_ms, client_id))
                .await;
        }
        self.strikes = 0;
        let answer = match parsed {
            None => {
                tracing::info!(user = %self.user, "refused binary frame");
                ServerFrame::error(
                    ErrorCode::BinaryFrame,
                    "Frames are JSON text; binary frames are not accepted.",
                )
            }
            Some(Err(error)) => {
                tracing::info!(user = %self.user, code = error.code().as_str(), %error, "refused frame");
                error.to_frame()
            }
            Some(Ok(frame)) => match self.act(frame).await {
                Some(answer) => answer,
                None => return Ok(()),
            },
        };
        self.answer(answer).await
    }

    /// Carries out a valid frame; returns the answer, if it has one.
    async fn act(&mut self, frame: ClientFrame) -> Option<ServerFrame> {
        match frame {
            ClientFrame::Send { client_id, msg } => {
                let reply = DirectSender(self.writer_queue().clone());
                match self
                    .room
                    .post(&self.user, msg, client_id.clone(), reply)
                    .await
                {
                    Ok(()) => None,
                    Err(_) => Some(ServerFrame::send_error(
                        ErrorCode::ShuttingDown,
                        "The server is shutting down; your message was not posted.",
                        client_id,
                    )),
                }
            }
            ClientFrame::LoadOlder { before, limit } => {
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                Some(match self.room.older(before, limit).await {
                    Ok((messages, has_older)) => ServerFrame::Older {
                        messages,
                        has_older,
                    },
                    Err(OlderError::Closed) => {
                        ServerFrame::error(ErrorCode::ShuttingDown, "The server is shutting down.")
                    }
                    Err(OlderError::Store(error)) => {
                        tracing::error!(%error, "cannot read history");
                        ServerFrame::error(
                            ErrorCode::StorageUnavailable,
                            "The server could not read its history. Try again.",
                        )
                    }
                })
            }
            ClientFrame::Typing => {
                let now = Instant::now();
                let quiet = Duration::from_millis(TYPING_INTERVAL_MS);
                if self.last_typing.is_none_or(|last| now - last >= quiet) {
                    self.last_typing = Some(now);
                    self.room.typing(&self.user).await;
                }
                None
            }
            ClientFrame::Ping => Some(ServerFrame::Pong),
        }
    }

    /// Queues an answer for the writer; waits if the client is not reading.
    async fn answer(&mut self, frame: ServerFrame) -> Result<(), Ended> {
        self.writer_queue()
            .send(ToWriter::Frame(wire::text(&frame.to_json())))
            .await
            .map_err(|_| Ended::ClientLeft)
    }
}

/// Runs a write, ending the session if the client does not take it within
/// the send timeout: a client that stops reading must not hold a task
/// forever. The timer is armed only when the write cannot finish at once,
/// which is rare: arming one for every write would cost more than the write.
///
/// The write comes pinned by the caller, the timer is boxed and the timeout
/// read where it is needed, so that the writer's task, whose size is fixed
/// for the connection's whole life, holds neither a second copy of the write
/// nor a timer while idle. (tokio rounds a task up to a multiple of 128
/// bytes: the session's future is 600 bytes, a task of 768; the reader's
/// 752, a task of 896.)
async fn timed<E: Into<Ended>>(
    limits: &SessionLimits,
    mut write: Pin<&mut impl Future<Output = Result<(), E>>>,
) -> Result<(), Ended> {
    let result = match futures::poll!(write.as_mut()) {
        Poll::Ready(result) => result,
        Poll::Pending => match Box::pin(tokio::time::timeout(limits.send_timeout, write)).await {
            Ok(result) => result,
            Err(_) => return Err(Ended::TooSlow),
        },
    };
    result.map_err(Into::into)
}

/// Writes `first` and whatever else the room has queued, in one write:
/// under load a connection sends many frames per system call. A frame
/// alone is written as it is, shared with every other recipient.
async fn write_batch(
    socket: &mut WriteHalf<Io>,
    first: Bytes,
    fanout: &mut Receiver<Broadcast>,
) -> Result<(), Ended> {
    let mut batch = Vec::new();
    let mut shutting_down = false;
    for _ in 1..MAX_BATCH {
        if batch.len() >= MAX_BATCH_BYTES {
            break;
        }
        match fanout.try_recv() {
            Ok(Broadcast::Frame(frame)) => {
                if batch.is_empty() {
                    batch.extend_from_slice(&first);
                }
                batch.extend_from_slice(&frame);
            }
            Ok(Broadcast::ShuttingDown) => {
                shutting_down = true;
                break;
            }
            Err(TryRecvError::Lagged(missed)) => return Err(Ended::FellBehind(missed)),
            // `Closed` shows up again on the next `recv`, which handles it.
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
    let bytes = if batch.is_empty() { &first[..] } else { &batch };
    write(socket, bytes).await?;
    if shutting_down {
        Err(Ended::ShuttingDown)
    } else {
        Ok(())
    }
}

/// Writes encoded frames to the socket.
async fn write(socket: &mut WriteHalf<Io>, frames: &[u8]) -> Result<(), Ended> {
    socket.write_all(frames).await?;
    Ok(socket.flush().await?)
}

/// The socket as the reader's tungstenite sees it: it reads from the
/// socket; what it writes by itself (the pong to a ping, the reply to a
/// close) goes to the writer, the socket's only writer, which writes it
/// between two of its own writes. tungstenite hands over whole frames (it
/// encodes a frame into its buffer, then writes the buffer, which this
/// takes whole), so no frame of the writer's can land inside one of its.
struct ReaderIo {
    read: ReadHalf<Io>,
    to_writer: mpsc::Sender<ToWriter>,
}

impl AsyncRead for ReaderIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.read).poll_read(cx, buf)
    }
}

impl AsyncWrite for ReaderIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let gone = |_| std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        ready!(self.to_writer.poll_ready(cx)).map_err(gone)?;
        let frames = ToWriter::Frame(Bytes::copy_from_slice(buf));
        self.to_writer.start_send(frames).map_err(gone)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
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
