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

use crate::cluster::RedisLog;
use crate::embedded::EmbeddedLog;
use crate::store::{Appended, RoomActivity, StoreError, Window};

/// One entry of a room's log. Only one kind so far; edits, deletions and
/// reactions will be more variants of it, replayed the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A message was posted; its id is the event's `seq`.
    Posted(Posted),
}

impl Event {
    pub(crate) fn seq(&self) -> u64 {
        match self {
            Self::Posted(posted) => posted.message.id,
        }
    }
}

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
    Redis(RedisLog),
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
    /// Stores `msg` from `user` in `room`, unless `user` sent `client_id`
    /// there before: then the original comes back as a duplicate. A stored
    /// message is published to the room before this returns.
    pub(crate) async fn append(
        &self,
        room: &str,
        user: &str,
        msg: String,
        client_id: String,
    ) -> Result<Appended, LogError> {
        match self {
            Self::Embedded(log) => log.append(room, user, msg, client_id).await,
            Self::Redis(log) => log.append(room, user, msg, client_id).await,
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

    /// Up to `limit` messages of `room` older than `before`, oldest first,
    /// and whether more remain.
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

    /// The rooms posted in most recently, newest first.
    pub(crate) async fn most_active(&self, limit: usize) -> Result<Vec<RoomActivity>, LogError> {
        match self {
            Self::Embedded(log) => log.most_active(limit).await,
            Self::Redis(log) => Ok(log.most_active(limit).await?),
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
