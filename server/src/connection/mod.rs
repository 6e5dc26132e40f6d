//! One client's WebSocket, from welcome to close: the session loop, and
//! one file per client frame it carries out (as mini-redis has one per
//! command). Only this layer builds frames for the client.
//!
//! - `enter`: the name and room of the URL, and the greeting;
//! - `dispatch`: a frame from the client, checked and rate limited, handed
//!   to its handler: `send`, `edit`, `delete`, `react` (the last three
//!   through `change`), `load_older`, `typing`, `join`, `leave`;
//! - `ended`: why a session ends, and the close frame it deserves.

mod change;
mod delete;
mod dispatch;
mod edit;
mod ended;
mod enter;
mod join;
mod leave;
mod load_older;
mod moderate;
mod react;
mod search;
mod send;
mod typing;
mod voice;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Poll};
use std::time::Duration;

use futures::future::OptionFuture;
use protocol::{ErrorCode, Expulsion, ServerFrame};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Bytes;
use tokio_util::sync::CancellationToken;

pub(crate) use enter::JoinQuery;

use crate::accounts::Accounts;
use crate::budget::Budgets;
use crate::config::Config;
use crate::events::Author;
use crate::limits::RateLimiter;
use crate::rooms::{
    Broadcast, Entering, Eviction, Handover, HistoryStart, Memberships, Name, NameGuard, Online,
    Rooms,
};
use crate::transport::Transport;
use crate::upgrade::Socket;
use crate::wire;
use ended::Ended;

/// Most queued broadcasts written at once: bounds the time a connection
/// spends writing before it looks at what its client sent.
const MAX_BATCH: usize = 256;
/// Most bytes gathered into one write. A batch of several frames is copied
/// into one buffer, freed once written.
const MAX_BATCH_BYTES: usize = 64 * 1024;
/// Most bytes waiting behind the write under way before the connection
/// stops taking broadcasts and reading its client's frames.
const MAX_QUEUED_BYTES: usize = 64 * 1024;
/// How long a goodbye may take to write before the socket is just dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Sends waiting behind the one being stored before the connection stops
/// reading its client's frames.
const MAX_WAITING_POSTS: usize = 16;
/// The most `--history-page-bytes` may be: a greeting (its history, the
/// welcome and the online list) stays far below tungstenite's write
/// buffer (1 MiB), whose overflow drops the socket.
pub(crate) const HISTORY_PAGE_BYTES_MAX: usize = 768 * 1024;

/// What a connection may do and how long it may take, from the config.
#[derive(Debug, Clone)]
pub(crate) struct SessionLimits {
    pub rate: f64,
    pub burst: u32,
    pub strikes: u32,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub send_timeout: Duration,
    pub max_frame_bytes: usize,
    /// The room of a URL without `?room=`.
    pub default_room: String,
    /// Most rooms one connection is in at once.
    pub max_rooms: usize,
    /// Most bytes of messages one `history` or `older` frame carries (with,
    /// when resuming, the changes replayed after it). History is paged by
    /// bytes as well as by count: a hundred messages of 2,000 emoji once
    /// made a greeting larger than the write buffer, and every newcomer's
    /// socket was dropped. Older messages are a `loadOlder` away.
    pub history_page_bytes: usize,
    /// `--retain-days`, which the welcome tells.
    pub retain_days: Option<u32>,
}

impl SessionLimits {
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            rate: config.rate_limit,
            burst: config.rate_burst,
            strikes: config.rate_strikes.max(1),
            ping_interval: Duration::from_secs(config.ping_interval.max(1)),
            ping_timeout: Duration::from_secs(config.ping_timeout.max(1)),
            send_timeout: Duration::from_secs(config.send_timeout.max(1)),
            max_frame_bytes: config.max_frame_bytes,
            default_room: config.default_room.clone(),
            max_rooms: config.max_rooms_per_connection.max(1),
            history_page_bytes: config
                .history_page_bytes
                .clamp(16 * 1024, HISTORY_PAGE_BYTES_MAX),
            retain_days: config.retain_days,
        }
    }

    /// How often the server's clock ticks (see [`Broadcast::Tick`]): a ping
    /// or the silence limit is late by at most this much.
    pub(crate) fn clock_tick(&self) -> Duration {
        (self.ping_interval.min(self.ping_timeout) / 4).min(Duration::from_secs(1))
    }
}

/// Everything one connection needs besides its socket.
pub(crate) struct Context {
    pub rooms: Arc<Rooms>,
    pub limits: Arc<SessionLimits>,
    pub(crate) budgets: Arc<Budgets>,
    pub(crate) accounts: Arc<Accounts>,
    pub peer: Option<SocketAddr>,
    /// Cancelled when the server shuts down: what tells a connection in no
    /// room (rooms say it to their own).
    pub stopping: CancellationToken,
}

/// Serves one connection.
///
/// A refused name or room gets an `error` frame and a close (1008, policy
/// violation) whose reason the login page shows; when the name or room
/// cannot be checked (Redis is down), a close with 1013 (try again later),
/// after which the client reconnects; during shutdown, a close with 1001
/// (going away). Otherwise the connection gets `welcome`, `history` and
/// `online`, then every event and presence change of its rooms, until the
/// client leaves or misbehaves, or the server shuts down.
///
/// Not an `async fn`: its arguments would live in the future as long as the
/// connection does, the socket (hundreds of bytes) among them, though
/// entering the room is done with them. Idle connections are most of a room,
/// so what each keeps matters.
pub(crate) fn serve(
    socket: Socket,
    query: JoinQuery,
    context: Context,
) -> impl Future<Output = ()> {
    // Entering runs once, and its future is large (the name's claim, the
    // room's load): boxed, it is freed once the client is in. The context
    // goes in with it and comes back in `Entered`, so that this future does
    // not keep a second copy of it.
    let entering = Box::pin(enter::enter(socket, query, context));
    async move {
        let Some(entered) = entering.await else {
            return;
        };
        let mut session = Session::start(entered);
        let ended = session.run().await;
        if let Ended::Evicted(eviction) = &ended {
            if let Eviction::Moderated(moderation) = &**eviction {
                // Boxed: the task would carry this future's size all its
                // life (see `serve`).
                let banning = Box::pin(ban_what_it_came_with(
                    Arc::clone(&session.accounts),
                    Arc::clone(session.name.name()),
                    session.peer,
                    moderation.clone(),
                ));
                if let Err(error) = banning.await {
                    tracing::warn!(%error, "cannot ban what a banned name came with");
                }
            }
        }
        // Boxed: it runs once, at the end; the task need not carry its
        // timer all its life.
        Box::pin(session.finish(&ended)).await;
        let user = session.name.name();
        tracing::info!(peer = ?session.peer, %user, reason = %ended, "disconnected");
    }
}

/// What a connection put out by `moderation` leaves banned besides its
/// name: a banned guest's browser (a guest changes names, not browsers),
/// or with `banAddress`, the address it came from, for the time given.
async fn ban_what_it_came_with(
    accounts: Arc<Accounts>,
    name: Arc<Name>,
    peer: Option<SocketAddr>,
    moderation: crate::events::Moderation,
) -> Result<(), crate::accounts::AccountError> {
    match moderation.action.expels() {
        Some(Expulsion::Ban) => match name.browser_key() {
            Some(browser) => {
                accounts
                    .ban_browser(name.key(), &browser, &moderation)
                    .await
            }
            None => Ok(()),
        },
        Some(Expulsion::BanAddress) => match peer {
            Some(peer) => {
                accounts
                    .ban_address(name.key(), peer.ip(), &moderation)
                    .await
            }
            None => Ok(()),
        },
        Some(Expulsion::Kick) | None => Ok(()),
    }
}

/// Follows a room to its new fan-out.
fn move_to(fanout: &mut Receiver<Broadcast>, handover: &Handover) -> Result<(), Ended> {
    match handover.take() {
        Some(larger) => {
            *fanout = larger;
            Ok(())
        }
        // Not made for this connection: it starts over.
        None => Err(Ended::FellBehind(0)),
    }
}

/// What a connection keeps while its client is in: one task, which writes
/// its rooms' broadcasts and reads, checks and carries out what the client
/// sends.
struct Session {
    transport: Transport,
    /// The rooms it is in, in the order it joined them.
    rooms_in: Memberships,
    /// The room frames without `room` mean (it may have been left).
    url_room: Arc<str>,
    /// What the client asked for besides posting, being carried out. One
    /// at a time: the client's next frame is read once it is done.
    action: Option<Action>,
    /// The messages being stored, while there are any: boxed, since most
    /// connections never post.
    posts: Option<Box<Posts>>,
    /// Keeps the name until the connection ends.
    name: NameGuard,
    rooms: Arc<Rooms>,
    limits: Arc<SessionLimits>,
    /// What this connection's address and name may still spend.
    budgets: Arc<Budgets>,
    /// Who moderates, for the moderators' actions and locked rooms.
    accounts: Arc<Accounts>,
    stopping: CancellationToken,
    rate: RateLimiter,
    /// Frames refused in a row for the rate limit.
    strikes: u32,
    /// The evictions counted when it came in (see `Rooms::eviction`).
    since: u32,
    /// When the client was last heard from: any frame, or the pong to a
    /// ping, counts.
    last_heard: Instant,
    /// When the client is next owed a ping.
    next_ping: Instant,
    peer: Option<SocketAddr>,
}

/// A request of the client's in progress (posting, paging history,
/// joining). Boxed: its future is large, and exists only while the request
/// does.
type Action = Pin<Box<dyn Future<Output = Done> + Send>>;

/// Posts are stored one after the other, in the order sent, beside other
/// requests: a page of history does not wait for a commit.
struct Posts {
    /// The message being stored.
    storing: Action,
    /// Messages sent while it is.
    waiting: VecDeque<send::Post>,
}

impl Posts {
    fn waiting(posts: &Option<Box<Posts>>) -> usize {
        posts.as_ref().map_or(0, |posts| posts.waiting.len())
    }
}

/// What an action comes to.
enum Done {
    Nothing,
    /// A frame for this client alone (boxed: frames are large, and most
    /// actions come to nothing).
    Answer(Box<ServerFrame>),
    /// A room entered: its `history` and `online` follow.
    Joined(Box<Joined>),
}

impl Done {
    fn answer(frame: ServerFrame) -> Self {
        Self::Answer(Box::new(frame))
    }
}

struct Joined {
    entering: Entering,
    fanout: Receiver<Broadcast>,
    /// `history`, then what it replays.
    history: Vec<ServerFrame>,
    online: ServerFrame,
}

/// The `history` frame a connection starts `room` with (`moderator`: its
/// name moderates the room), and the changes it replays after it.
/// A room's `history` frame and the changes it replays, within `budget`
/// bytes (`--history-page-bytes`): a resume too large to send starts the
/// room over from its newest messages instead (the client replaces what
/// it had, so nothing is missed), and a page too large keeps its newest
/// messages.
fn history_frames(
    room: &str,
    mut start: HistoryStart,
    moderator: bool,
    budget: usize,
) -> Vec<ServerFrame> {
    let replayed: usize = start.replay.iter().map(json_len).sum();
    let messages: usize = start.messages.iter().map(json_len).sum();
    if !start.reset && messages.saturating_add(replayed) > budget {
        start.reset = true;
        start.replay = Vec::new();
    }
    // Once reset, what is older than the page is what the room had before
    // the messages it holds (`has_older`), and what did not fit.
    let left_out = keep_newest(&mut start.messages, budget);
    let mut frames = Vec::with_capacity(1 + start.replay.len());
    frames.push(ServerFrame::History {
        room: room.to_owned(),
        messages: start.messages,
        reset: start.reset,
        has_older: start.has_older || left_out,
        seq: Some(start.seq),
        rules: start.rules.shown,
        moderator,
    });
    frames.extend(start.replay);
    frames
}

/// Keeps the newest of `messages` (oldest first) that fit in `budget`
/// bytes of JSON; says whether older ones were left out.
pub(super) fn keep_newest(messages: &mut Vec<protocol::Posted>, budget: usize) -> bool {
    let mut used = 0usize;
    let fit = messages
        .iter()
        .rev()
        .take_while(|posted| {
            used = used.saturating_add(json_len(posted));
            used <= budget
        })
        .count();
    let left_out = messages.len() - fit;
    messages.drain(..left_out);
    left_out > 0
}

/// How many bytes `value` takes as JSON, counted without keeping them.
fn json_len(value: &impl serde::Serialize) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter fails only if serializing does, which these
    // types never do; one that did would count as nothing.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Whether `name` moderates `room`, for its `history` frame: a guest never
/// does (no lookup); when the answer cannot be had, the controls stay off
/// (the server checks every action anyway).
async fn moderates(accounts: &Accounts, name: &Name, room: &str) -> bool {
    name.is_claimed() && accounts.may_moderate(name, room).await.unwrap_or(false)
}

/// The `online` frame after it.
fn online_frame(room: &str, online: Online) -> ServerFrame {
    ServerFrame::Online {
        room: room.to_owned(),
        users: online.users,
        members: online.members,
        count: online.count,
    }
}

impl Session {
    fn start(entered: enter::Entered) -> Self {
        let enter::Entered {
            transport,
            after,
            name,
            url_room,
            first,
            context:
                Context {
                    rooms,
                    limits,
                    budgets,
                    accounts,
                    peer,
                    stopping,
                },
        } = entered;
        tracing::info!(?peer, user = %name.name(), room = %url_room, ?after, "connected");
        let now = Instant::now();
        let since = rooms.eviction_epoch();
        Self {
            transport,
            rooms_in: first,
            url_room,
            action: None,
            posts: None,
            name,
            rooms,
            budgets,
            accounts,
            stopping,
            rate: RateLimiter::new(limits.rate, limits.burst, now.into_std()),
            strikes: 0,
            since,
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
        let max_frame_bytes = self.limits.max_frame_bytes;
        loop {
            let writing = self.transport.is_writing();
            let room_to_queue = self.transport.queued_bytes() < MAX_QUEUED_BYTES;
            let reading = self.action.is_none()
                && Posts::waiting(&self.posts) < MAX_WAITING_POSTS
                && room_to_queue;
            let rooms_in = self.rooms_in.len();
            let one_fanout = self.rooms_in.fanout_mut().is_some();
            // Boxed, as the idle clock below: a disabled branch's future
            // still takes room in every connection's task, and most
            // connections are in one room.
            let pushed = OptionFuture::from(self.rooms_in.inbox().map(|inbox| {
                let inbox = Arc::clone(inbox);
                Box::pin(async move { inbox.pushed().await })
            }));
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
                        Err(error) => Err(Ended::from_transport(error, max_frame_bytes)),
                    }
                }
                // In one room: its fan-out, directly.
                broadcast = recv_only(&mut self.rooms_in), if room_to_queue && one_fanout => match broadcast {
                    Ok(Broadcast::Frame(frame)) => self.send_broadcasts(frame),
                    Ok(Broadcast::Tick) => self.on_tick(),
                    Ok(Broadcast::Moved(handover)) => match self.rooms_in.fanout_mut() {
                        Some(fanout) => move_to(fanout, &handover),
                        None => Ok(()),
                    },
                    Err(RecvError::Lagged(missed)) => Err(Ended::FellBehind(missed)),
                    // The rooms outlive every connection; their end means shutdown.
                    Ok(Broadcast::ShuttingDown) | Err(RecvError::Closed) => {
                        Err(Ended::ShuttingDown)
                    }
                },
                // Once in several: what they pushed to the inbox.
                Some(()) = pushed, if room_to_queue => self.drain_inbox(),
                done = poll_action(&mut self.action), if self.action.is_some() => {
                    self.action = None;
                    self.finish_action(done)
                }
                done = poll_posts(&mut self.posts), if self.posts.is_some() => {
                    self.next_post();
                    self.finish_action(done)
                }
                // In none: the server's clock and shutdown, without a room.
                Some(ended) = OptionFuture::from(
                    (rooms_in == 0).then(|| Box::pin(idle_clock(self.limits.clock_tick(), self.stopping.clone())))
                ), if rooms_in == 0 => {
                    match ended {
                        Some(ended) => Err(ended),
                        None => self.on_tick(),
                    }
                }
            };
            if let Err(ended) = step {
                return ended;
            }
        }
    }

    /// On each tick of the server's clock: pings the client when it is
    /// owed one, and ends the session when it has been silent too long.
    fn on_tick(&mut self) -> Result<(), Ended> {
        self.still_let_in()?;
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

    /// Ends the session if its name was put out (kicked, banned, signed
    /// out by a password change) or its session signed out since it came
    /// in: looked at on every tick, and before every frame is acted on (a
    /// banned name's posts once landed for up to a tick after the ban).
    fn still_let_in(&self) -> Result<(), Ended> {
        if let Some(eviction) = self.rooms.eviction(self.name.name(), self.since) {
            return Err(Ended::Evicted(eviction));
        }
        if self.name.is_revoked() {
            return Err(Ended::Evicted(Arc::new(Eviction::SignedOut)));
        }
        Ok(())
    }

    /// Queues `first` and whatever else the one room has queued, as one
    /// write: under load a connection sends many frames per system call. A
    /// frame alone is written as it is, shared with every other recipient;
    /// several are copied into one buffer, freed once written.
    fn send_broadcasts(&mut self, first: Bytes) -> Result<(), Ended> {
        let Some(fanout) = self.rooms_in.fanout_mut() else {
            return Ok(());
        };
        let mut batch = Vec::new();
        let mut taken = Taken::default();
        for _ in 1..MAX_BATCH {
            if batch.len() >= MAX_BATCH_BYTES || !taken.take(fanout, &mut batch, &first)? {
                break;
            }
        }
        self.transport.push(if batch.is_empty() {
            first
        } else {
            Bytes::from(batch)
        });
        taken.settle(self)
    }

    /// Queues what the rooms pushed to the inbox, as one write (the
    /// inbox wakes the connection again for what one write does not take).
    fn drain_inbox(&mut self) -> Result<(), Ended> {
        let Some(inbox) = self.rooms_in.inbox() else {
            return Ok(());
        };
        let mut batch = Vec::new();
        let took = inbox.take(&mut batch, MAX_BATCH_BYTES);
        if !batch.is_empty() {
            self.transport.push(Bytes::from(batch));
        }
        if let Some(missed) = took.missed {
            return Err(Ended::FellBehind(missed));
        }
        if took.shutting_down {
            return Err(Ended::ShuttingDown);
        }
        if took.ticked {
            self.on_tick()?;
        }
        Ok(())
    }

    /// Ends the session: stores the messages it took in, writes what is
    /// queued and the close frame the
    /// ending deserves, then, after a close of ours, reads until the client
    /// answers it: closing a socket with unread data resets it, and the
    /// client would lose the close frame and its reason with it. Briefly.
    async fn finish(&mut self, ended: &Ended) {
        // Messages the connection took in are stored however it ends
        // (their clients may already have gone), within reason.
        let patience = self.limits.send_timeout;
        let posting = async {
            while self.posts.is_some() {
                poll_posts(&mut self.posts).await;
                self.next_post();
            }
        };
        let _ = tokio::time::timeout(patience, posting).await;
        let goodbye = ended.goodbye();
        let says_goodbye = goodbye.is_some();
        if let Some(frame) = goodbye {
            self.transport.close(frame);
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

    /// Starts storing the next message waiting, if one is.
    fn next_post(&mut self) {
        if let Some(mut posts) = self.posts.take() {
            if let Some(next) = posts.waiting.pop_front() {
                posts.storing = send::store(next);
                self.posts = Some(posts);
            }
        }
    }

    /// Takes in what an action came to.
    fn finish_action(&mut self, done: Done) -> Result<(), Ended> {
        match done {
            Done::Nothing => {}
            Done::Answer(answer) => {
                let bytes = self.answer(&answer);
                if let (ServerFrame::Older { .. }, Some(peer)) = (&*answer, self.peer) {
                    let now = std::time::Instant::now();
                    self.budgets.read_history(peer.ip(), bytes, now);
                }
            }
            Done::Joined(joined) => return join::entered(self, *joined),
        }
        Ok(())
    }

    /// The index of the room a frame means: the one it names (canonical),
    /// or the URL's. Refused when the connection is not in it.
    fn room_index(&self, named: Option<&str>) -> Result<usize, Refused> {
        // The URL's room is the common case: looked up without a copy.
        let room = match named {
            None => Cow::Borrowed(&*self.url_room),
            Some(raw) => Cow::Owned(protocol::canonical_room(raw).map_err(|error| Refused {
                code: error.code(),
                message: error.to_string(),
                room: raw.to_owned(),
            })?),
        };
        self.rooms_in.position(&room).ok_or_else(|| Refused {
            code: ErrorCode::NotInRoom,
            message: format!("You are not in the room {room:?}: join it first."),
            room: room.into_owned(),
        })
    }

    /// The index of the room a frame means, or (answered with why) none:
    /// every handler's first step. `client_id`: the refused `send`'s.
    fn room_or_answer(&mut self, named: Option<&str>, client_id: Option<String>) -> Option<usize> {
        match self.room_index(named) {
            Ok(index) => Some(index),
            Err(refused) => {
                self.answer(&refused.frame(client_id));
                None
            }
        }
    }

    /// Who this connection posts and changes messages as.
    fn author(&self) -> Author {
        let name = self.name.name();
        Author {
            user: name.as_str().to_owned(),
            key: name.author_key(),
            guest_keys: self.name.guest_keys(),
            claimed: name.is_claimed(),
        }
    }

    /// Counts a post or a change against the budgets of the connection's
    /// name and address; says how long to wait when they are spent.
    fn spend_post_budget(&self) -> Result<(), Duration> {
        let address = self.peer.map(|peer| peer.ip());
        self.budgets.post(
            self.name.name().as_str(),
            address,
            std::time::Instant::now(),
        )
    }

    /// The canonical name of the room at `index`.
    fn room_name(&self, index: usize) -> String {
        self.rooms_in
            .room_name(index)
            .map_or_else(String::new, str::to_owned)
    }

    /// Queues an answer to the client; returns its size in bytes.
    fn answer(&mut self, frame: &ServerFrame) -> usize {
        if let ServerFrame::Error { code, .. } = frame {
            crate::metrics::refused(*code);
        }
        let json = frame.to_json();
        self.transport.push(wire::text(&json));
        json.len()
    }

    /// Starts `action`; the client's next frame is read once it is done.
    fn begin(&mut self, action: Action) {
        self.strikes = 0;
        self.action = Some(action);
    }
}

/// A frame refused for the room it means.
struct Refused {
    code: ErrorCode,
    message: String,
    room: String,
}

impl Refused {
    /// The `error` frame, naming the refused `send` when it was one.
    fn frame(self, client_id: Option<String>) -> ServerFrame {
        ServerFrame::Error {
            code: self.code,
            message: self.message,
            client_id,
            retry_after_ms: None,
            room: Some(self.room),
        }
    }
}

/// What a drain of the fan-outs met besides frames.
#[derive(Default)]
struct Taken {
    ticked: bool,
    shutting_down: bool,
}

impl Taken {
    /// Takes one broadcast of `fanout` into `batch` (after `first`, when
    /// the batch is still empty); says whether there was one.
    fn take(
        &mut self,
        fanout: &mut Receiver<Broadcast>,
        batch: &mut Vec<u8>,
        first: &[u8],
    ) -> Result<bool, Ended> {
        if self.shutting_down {
            return Ok(false);
        }
        match fanout.try_recv() {
            Ok(Broadcast::Moved(handover)) => {
                move_to(fanout, &handover)?;
                Ok(true)
            }
            Ok(Broadcast::Frame(frame)) => {
                if batch.is_empty() {
                    batch.extend_from_slice(first);
                }
                batch.extend_from_slice(&frame);
                Ok(true)
            }
            Ok(Broadcast::Tick) => {
                self.ticked = true;
                Ok(true)
            }
            // What came before the notice is still written (`finish`).
            Ok(Broadcast::ShuttingDown) => {
                self.shutting_down = true;
                Ok(false)
            }
            Err(TryRecvError::Lagged(missed)) => Err(Ended::FellBehind(missed)),
            // `Closed` shows up again on the next `recv`, which handles it.
            Err(TryRecvError::Empty | TryRecvError::Closed) => Ok(false),
        }
    }

    fn settle(self, session: &mut Session) -> Result<(), Ended> {
        if self.shutting_down {
            return Err(Ended::ShuttingDown);
        }
        if self.ticked {
            session.on_tick()?;
        }
        Ok(())
    }
}

/// The next broadcast of the one room the connection is in.
async fn recv_only(rooms_in: &mut Memberships) -> Result<Broadcast, RecvError> {
    match rooms_in.fanout_mut() {
        Some(fanout) => fanout.recv().await,
        None => std::future::pending().await,
    }
}

/// For a connection in no room: the next tick of the clock (`None`), or
/// the shutdown.
async fn idle_clock(tick: Duration, stopping: CancellationToken) -> Option<Ended> {
    tokio::select! {
        () = stopping.cancelled() => Some(Ended::ShuttingDown),
        () = tokio::time::sleep(tick) => None,
    }
}

/// The outcome of storing the message being stored.
fn poll_posts(posts: &mut Option<Box<Posts>>) -> impl Future<Output = Done> + '_ {
    poll_fn(move |cx| match posts {
        Some(posts) => posts.storing.as_mut().poll(cx),
        None => Poll::Pending,
    })
}

/// The outcome of the action in progress.
fn poll_action(action: &mut Option<Action>) -> impl Future<Output = Done> + '_ {
    poll_fn(move |cx| match action {
        Some(action) => action.as_mut().poll(cx),
        None => Poll::Pending,
    })
}
