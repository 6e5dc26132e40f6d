//! The seam between the rooms and where their logs live.
//!
//! Each room's log is a sequence of events numbered by the room's `seq`.
//! A message log appends (and so assigns the `seq`), answering with what it
//! stored or why it could not; reads ranges (a room's window, older pages);
//! and publishes every stored event of a followed room, in `seq` order, to
//! its [`Subscriber`]: the rooms, which fan them out. It never builds a
//! frame for a client. Two implementations, chosen by configuration:
//!
//! - [`EmbeddedLog`]: one SQLite file and in-process fan-out, for one
//!   machine, with no service to run;
//! - [`RedisLog`]: a Redis stream per room shared by several instances,
//!   each following the streams of the rooms its own clients are in.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use protocol::Posted;

pub(crate) mod redis;
pub(crate) mod sqlite;

pub(crate) use self::redis::RedisLog;
pub(crate) use self::sqlite::EmbeddedLog;
use crate::events::{Appended, Event, NewEvent, PutOut, RoomActivity, Window};
use crate::store::StoreError;

/// Where a log delivers what it reads: implemented by the rooms, so that
/// the log depends on nothing above it.
pub(crate) trait Subscriber: Send + Sync + 'static {
    /// Where `room` starts: its newest events, read after [`MessageLog::follow`].
    /// Comes before any [`Subscriber::published`] of the room's later events.
    fn loaded(&self, room: &str, window: Window);
    /// Stored events of a followed room, in `seq` order, after those it was
    /// loaded or published with.
    fn published(&self, room: &str, events: Vec<Event>);
    /// `user` is typing in `room` (not stored).
    fn typing(&self, room: &str, user: &str);
    /// Another instance put a name out (see [`MessageLog::put_out`]).
    fn put_out(&self, notice: PutOut);
}

/// Whether this instance could store messages at its last attempt (a
/// commit, an append, a read of the Redis stream): what `/healthz`
/// reports, so that a load balancer stops sending users to an instance that
/// would refuse every message.
#[derive(Debug, Clone)]
pub(crate) struct StorageHealth(Arc<AtomicBool>);

/// Healthy until an attempt fails.
impl Default for StorageHealth {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl StorageHealth {
    /// Records the outcome of an attempt to store or read.
    pub(crate) fn record(&self, ok: bool) {
        self.0.store(ok, Ordering::Relaxed);
    }

    pub(crate) fn is_ok(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub(crate) enum MessageLog {
    Embedded(EmbeddedLog),
    /// Boxed: its scripts and connections make it several times larger.
    Redis(Box<RedisLog>),
}

/// Why an append or a read did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LogError {
    /// The log has stopped (the server is shutting down).
    #[error("the log is closed")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MessageLog {
    /// Appends `event` to its room's log, stamped with the log's clock,
    /// once it checked it against what the log holds: a post, unless its
    /// user sent its `clientId` there before (then the original comes back
    /// as a duplicate); an edit, deletion or reaction, if the message
    /// exists and may be changed so by its author. A stored event is
    /// published to the room (on this instance) before this returns.
    pub(crate) async fn append(&self, event: NewEvent) -> Result<Appended, LogError> {
        match self {
            Self::Embedded(log) => log.append(event).await,
            Self::Redis(log) => log.append(event).await,
        }
    }

    /// Starts publishing `room`'s events: its window first (see
    /// [`Subscriber::loaded`]), then every event after it.
    pub(crate) async fn follow(&self, room: &str) -> Result<(), LogError> {
        match self {
            Self::Embedded(log) => log.load(room).await,
            Self::Redis(log) => log.follow(room).await,
        }
    }

    /// Stops publishing `room` (nobody here is in it any more).
    pub(crate) fn unfollow(&self, room: &str) {
        match self {
            Self::Embedded(_) => {}
            Self::Redis(log) => log.unfollow(room),
        }
    }

    /// Relays that `user` is typing in `room` to everyone in it, on every
    /// instance. Best effort: a lost notice is harmless.
    pub(crate) async fn typing(&self, room: &str, user: &str) {
        match self {
            Self::Embedded(log) => log.typing(room, user),
            Self::Redis(log) => log.typing(room, user).await,
        }
    }

    /// Tells the other instances to put a name's connections out. This
    /// instance's own are put out by the caller (a password change) or by
    /// the room's `moderated` event, as on every instance that follows the
    /// room: the others hear this instead.
    pub(crate) async fn put_out(&self, notice: &PutOut) {
        match self {
            Self::Embedded(_) => {}
            Self::Redis(log) => log.put_out(notice).await,
        }
    }

    /// Up to `limit` messages of `room` older than `before`, oldest first,
    /// in their current state, and whether more remain.
    pub(crate) async fn older(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), LogError> {
        match self {
            Self::Embedded(log) => log.older(room, before, limit).await,
            Self::Redis(log) => Ok(log.older(room, before, limit).await?),
        }
    }

    /// The newest messages of `rooms` that match `query`, before the
    /// cursor `before` (a previous page's `next`), and the next page's
    /// cursor if there may be one. On Redis, `rooms` must be followed
    /// here (the rooms of this instance's clients): each instance indexes
    /// those (see `redis::search`).
    pub(crate) async fn search(
        &self,
        query: protocol::Query,
        rooms: Vec<String>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<protocol::Hit>, Option<u64>), LogError> {
        match self {
            Self::Embedded(log) => log.search(query, rooms, before, limit).await,
            Self::Redis(log) => Ok(log.search(query, rooms, before, limit).await?),
        }
    }

    /// `room`'s rules as the log keeps them (expired mutes too).
    pub(crate) async fn rules(&self, room: &str) -> Result<protocol::RoomRules, LogError> {
        match self {
            Self::Embedded(log) => log.rules(room).await,
            Self::Redis(log) => Ok(log.rules(room).await?),
        }
    }

    /// The rooms posted in most recently, newest first.
    pub(crate) async fn most_active(&self, limit: usize) -> Result<Vec<RoomActivity>, LogError> {
        match self {
            Self::Embedded(log) => log.most_active(limit).await,
            Self::Redis(log) => Ok(log.most_active(limit).await?),
        }
    }

    /// Removes the messages posted before `before` (ms since the epoch),
    /// with their edits and reactions, as securely as a deletion
    /// (`--retain-days`); answers how many went.
    pub(crate) async fn retain(&self, before: i64) -> Result<u64, LogError> {
        match self {
            Self::Embedded(log) => log.retain(before).await,
            Self::Redis(log) => Ok(log.retain(before).await?),
        }
    }

    /// Whether the last attempt to store or read succeeded.
    pub(crate) fn storage_ok(&self) -> bool {
        match self {
            Self::Embedded(log) => log.storage().is_ok(),
            Self::Redis(log) => log.storage().is_ok(),
        }
    }

    /// Finishes what was accepted, then stops publishing.
    pub(crate) async fn close(&self) {
        match self {
            Self::Embedded(log) => log.close().await,
            Self::Redis(log) => log.close().await,
        }
    }
}
