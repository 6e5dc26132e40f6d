//! The seam between the room and where its messages live.
//!
//! A message log appends (and so assigns the id), reads ranges (history,
//! resume, older pages), and publishes every stored message, in id order, to
//! the room's [`Feed`](crate::room::Feed): the live subscription. Two
//! implementations, chosen by configuration:
//!
//! - [`EmbeddedLog`]: one SQLite file and in-process fan-out, for one
//!   machine, with no service to run;
//! - [`RedisLog`]: a Redis stream shared by several instances, each
//!   following it and fanning out to its own clients.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use protocol::{ErrorCode, Posted, ServerFrame};

use crate::cluster::RedisLog;
use crate::connection::DirectSender;
use crate::embedded::EmbeddedLog;
use crate::store::StoreError;

/// Whether this instance could store messages at its last attempt (a
/// commit, an append, a read of the Redis stream): what `/healthz`
/// reports, so that a load balancer stops sending users to an instance that
/// would refuse every message.
#[derive(Debug, Clone)]
pub struct StorageHealth(Arc<AtomicBool>);

/// Healthy until an attempt fails.
impl Default for StorageHealth {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl StorageHealth {
    /// Records the outcome of an attempt to store or read.
    pub fn record(&self, ok: bool) {
        self.0.store(ok, Ordering::Relaxed);
    }

    pub fn is_ok(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

pub enum MessageLog {
    Embedded(EmbeddedLog),
    Redis(RedisLog),
}

/// The newest messages of a log: where a room starts.
#[derive(Debug, Default)]
pub struct Window {
    /// Oldest first.
    pub recent: Vec<Posted>,
    /// The oldest id the log holds, if any.
    pub first_id: Option<u64>,
    /// The newest id the log gave out.
    pub last_id: u64,
}

impl MessageLog {
    /// Stores `msg` from `user` unless `user` sent `client_id` before, in
    /// which case the sender alone gets the original again. The stored
    /// message is published to everyone; failures are answered on `reply`.
    pub async fn append(
        &self,
        user: &str,
        msg: String,
        client_id: String,
        reply: DirectSender,
    ) -> Result<(), RoomClosed> {
        match self {
            Self::Embedded(log) => log.append(user, msg, client_id, reply).await,
            Self::Redis(log) => {
                log.append(user, msg, client_id, reply).await;
                Ok(())
            }
        }
    }

    /// Up to `limit` messages older than `before`, oldest first, and whether
    /// more remain.
    pub async fn older(
        &self,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), OlderError> {
        match self {
            Self::Embedded(log) => log.older(before, limit).await,
            Self::Redis(log) => log.older(before, limit).await.map_err(OlderError::Store),
        }
    }

    /// Finishes what was accepted, then stops publishing.
    pub async fn close(&self) {
        match self {
            Self::Embedded(log) => log.close().await,
            Self::Redis(log) => log.close().await,
        }
    }
}

/// The room has stopped accepting messages (the server is shutting down).
#[derive(Debug, thiserror::Error)]
#[error("the room is closed")]
pub struct RoomClosed;

#[derive(Debug, thiserror::Error)]
pub enum OlderError {
    #[error("the room is closed")]
    Closed,
    #[error(transparent)]
    Store(StoreError),
}

/// The `error` frame telling a sender its message was not posted.
pub fn not_posted(code: ErrorCode, client_id: String) -> String {
    let message = match code {
        ErrorCode::ShuttingDown => {
            "The server is shutting down; your message was not posted. It will be sent again when you reconnect."
        }
        _ => "The server could not store your message; it was not posted. Try again.",
    };
    ServerFrame::send_error(code, message, client_id).to_json()
}
