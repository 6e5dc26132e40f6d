//! The room: one ordered, durable sequence of messages, fanned out to every
//! connection.
//!
//! One writer thread owns the database. Connections hand it messages through
//! a bounded queue; it takes everything queued (group commit), stores it in
//! one transaction, and only then publishes the batch: appends it to the
//! in-memory window of recent messages and broadcasts each message's frame,
//! serialized once. So nobody, the sender included, sees a message that is
//! not stored, and every connection sees the one id order.
//!
//! Joining takes the same lock as publishing: a connection subscribes to the
//! broadcast and copies its history in one step, so the seam between the
//! history it is sent and the live messages after it has no gap and no
//! duplicate.

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ErrorCode, Posted, ServerFrame, PRESENCE_NAMES_MAX};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::presence::{Presence, Taken};
use crate::store::{Appended, NewMessage, Store, StoreError};

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;
/// Queued requests before senders wait: bounds memory under a flood.
const QUEUE_CAPACITY: usize = 4096;

/// Frames meant for one connection only (answers to its own requests).
pub type DirectSender = mpsc::Sender<Utf8Bytes>;

/// How much history the room keeps at hand and hands out.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Messages sent on connect.
    pub history: usize,
    /// Most messages replayed to a client resuming after `after=<id>`; a
    /// client that missed more starts over from recent history.
    pub replay: usize,
    /// Messages a connection may fall behind the broadcast before it is
    /// disconnected.
    pub fanout_capacity: usize,
}

pub struct Room {
    requests: mpsc::Sender<Request>,
    live: Arc<Mutex<Live>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    history: usize,
}

/// What the writer thread is asked to do.
enum Request {
    Append {
        user: String,
        msg: String,
        client_id: String,
        reply: DirectSender,
    },
    Older {
        before: u64,
        limit: usize,
        reply: oneshot::Sender<Result<(Vec<Posted>, bool), StoreError>>,
    },
    /// Finish what is queued before this, then stop.
    Stop,
}

/// The published state: what joining connections copy.
struct Live {
    /// The newest stored messages, oldest first, at most `replay` of them.
    recent: VecDeque<Posted>,
    replay: usize,
    /// The oldest id stored, to tell whether older history exists.
    first_id: Option<u64>,
    last_id: u64,
    fanout: broadcast::Sender<Utf8Bytes>,
    presence: Presence,
    /// Names (as spelled) that came or went since the last `presence` frame.
    presence_changes: Vec<String>,
}

/// A connection's place in the room.
pub struct Joined {
    /// Everything broadcast from now on.
    pub fanout: broadcast::Receiver<Utf8Bytes>,
    /// The `history` frame to send first.
    pub history: ServerFrame,
    /// The `online` frame to send after it.
    pub online: ServerFrame,
    /// Keeps the user online; dropping it (however the connection ends,
    /// even by a panic) takes them off.
    pub presence: PresenceGuard,
}

pub struct PresenceGuard {
    live: Arc<Mutex<Live>>,
    user: String,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let mut live = lock(&self.live);
        if live.presence.disconnect(&self.user) {
            live.presence_changed(&self.user);
        }
    }
}

impl Room {
    /// Opens the database at `db` and starts the writer thread.
    pub fn open(db: &Path, limits: RoomLimits) -> Result<Self, StoreError> {
        let store = Store::open(db)?;
        let replay = limits.replay.max(limits.history);
        let live = Live {
            recent: store.recent(replay)?.into(),
            replay,
            first_id: store.first_id()?,
            last_id: store.last_id(),
            fanout: broadcast::channel(limits.fanout_capacity.max(1)).0,
            presence: Presence::default(),
            presence_changes: Vec::new(),
        };
        tracing::info!(db = %db.display(), last_id = live.last_id, "history loaded");
        let live = Arc::new(Mutex::new(live));
        let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
        let writer = std::thread::Builder::new()
            .name("room-writer".into())
            .spawn({
                let live = Arc::clone(&live);
                move || write_loop(store, queue, &live)
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            requests,
            live,
            writer: Mutex::new(Some(writer)),
            history: limits.history,
        })
    }

    /// Takes `user` online (if `token` may hold the name) and subscribes to
    /// the room, returning, atomically with it, the `history` frame to send
    /// first (the messages after `after` when the room still has all of
    /// them, else the recent history with `reset`) and who is online.
    pub fn join(
        &self,
        user: &str,
        token: Option<&str>,
        after: Option<u64>,
    ) -> Result<Joined, Taken> {
        let mut live = self.lock();
        if live.presence.connect(user, token)? {
            live.presence_changed(user);
        }
        let fanout = live.fanout.subscribe();
        Ok(Joined {
            fanout,
            history: live.history(after, self.history),
            online: ServerFrame::Online {
                users: live.presence.online(PRESENCE_NAMES_MAX),
                count: live.presence.count(),
            },
            presence: PresenceGuard {
                live: Arc::clone(&self.live),
                user: user.to_owned(),
            },
        })
    }

    /// Broadcasts a frame that is not stored (typing).
    pub fn announce(&self, frame: &ServerFrame) {
        self.lock().announce(frame);
    }

    /// Broadcasts who came and went since the last call, if anyone did.
    /// Called every [`protocol::PRESENCE_INTERVAL_MS`]. A connection that
    /// joined meanwhile may hear of changes its `online` list already had:
    /// `presence` frames say what is true now, so applying them again is
    /// harmless.
    pub fn flush_presence(&self) {
        let mut live = self.lock();
        if live.presence_changes.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut live.presence_changes);
        let (mut joined, mut left): (Vec<String>, Vec<String>) = changes
            .into_iter()
            .partition(|name| live.presence.is_online(name));
        joined.truncate(PRESENCE_NAMES_MAX);
        left.truncate(PRESENCE_NAMES_MAX);
        let count = live.presence.count();
        live.announce(&ServerFrame::Presence {
            joined,
            left,
            count,
        });
    }

    /// How many connections are subscribed.
    pub fn connections(&self) -> usize {
        self.lock().fanout.receiver_count()
    }

    /// Queues `msg` (already validated) from `user` for storage and
    /// broadcast. Duplicates and failures are answered on `reply`. Waits
    /// while the queue is full; fails only once the room has stopped.
    pub async fn post(
        &self,
        user: &str,
        msg: String,
        client_id: String,
        reply: DirectSender,
    ) -> Result<(), RoomClosed> {
        let request = Request::Append {
            user: user.to_owned(),
            msg,
            client_id,
            reply,
        };
        self.requests.send(request).await.map_err(|_| RoomClosed)
    }

    /// Up to `limit` messages older than `before`, and whether more remain.
    pub async fn older(
        &self,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), OlderError> {
        let (reply, answer) = oneshot::channel();
        let request = Request::Older {
            before,
            limit,
            reply,
        };
        self.requests
            .send(request)
            .await
            .map_err(|_| OlderError::Closed)?;
        match answer.await {
            Ok(result) => result.map_err(OlderError::Store),
            Err(_) => Err(OlderError::Closed),
        }
    }

    /// Stores everything queued so far, then stops the writer. Later posts
    /// fail with [`RoomClosed`].
    pub async fn close(&self) {
        let _ = self.requests.send(Request::Stop).await;
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(writer) = writer {
            match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(())) => {}
                _ => tracing::error!("the room writer did not stop cleanly"),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        lock(&self.live)
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

/// A poisoned lock still holds consistent data: `Live` is only changed by
/// code that cannot panic halfway.
fn lock(live: &Mutex<Live>) -> MutexGuard<'_, Live> {
    live.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Live {
    fn history(&self, after: Option<u64>, history: usize) -> ServerFrame {
        if let Some(after) = after.filter(|&after| self.can_resume_after(after)) {
            let messages: Vec<Posted> = self
                .recent
                .iter()
                .filter(|p| p.message.id > after)
                .cloned()
                .collect();
            return ServerFrame::History {
                messages,
                reset: false,
                has_older: self.first_id.is_some_and(|first| first <= after),
            };
        }
        let skip = self.recent.len().saturating_sub(history);
        let messages: Vec<Posted> = self.recent.iter().skip(skip).cloned().collect();
        let has_older = match messages.first() {
            Some(oldest) => self.first_id.is_some_and(|first| first < oldest.message.id),
            None => false,
        };
        ServerFrame::History {
            messages,
            reset: true,
            has_older,
        }
    }

    /// Whether every message after `after` is in `recent` (and `after` is
    /// one of this room's ids, not a leftover from another database).
    fn can_resume_after(&self, after: u64) -> bool {
        if after > self.last_id {
            return false;
        }
        match self.recent.front() {
            None => true,
            Some(oldest) => {
                oldest.message.id <= after.saturating_add(1)
                    || Some(oldest.message.id) == self.first_id
            }
        }
    }

    fn presence_changed(&mut self, name: &str) {
        if !self.presence_changes.iter().any(|changed| changed == name) {
            self.presence_changes.push(name.to_owned());
        }
    }

    fn announce(&self, frame: &ServerFrame) {
        // Fails only when nobody is connected: then nobody is owed it.
        let _ = self.fanout.send(Utf8Bytes::from(frame.to_json()));
    }

    fn publish(&mut self, posted: Posted, frame: Utf8Bytes) {
        self.last_id = posted.message.id;
        self.first_id.get_or_insert(posted.message.id);
        if self.recent.len() == self.replay {
            self.recent.pop_front();
        }
        self.recent.push_back(posted);
        // Fails only when nobody is connected: then nobody is owed it.
        let _ = self.fanout.send(frame);
    }
}

/// The writer thread: batches appends, commits, publishes.
fn write_loop(mut store: Store, mut queue: mpsc::Receiver<Request>, live: &Mutex<Live>) {
    // The batch's messages and, at the same index, where to answer each.
    let mut batch = Vec::new();
    let mut replies = Vec::new();
    let mut stopping = false;
    while !stopping {
        let Some(first) = queue.blocking_recv() else {
            break;
        };
        let mut next = Some(first);
        while let Some(request) = next.take() {
            match request {
                Request::Append {
                    user,
                    msg,
                    client_id,
                    reply,
                } => {
                    batch.push(NewMessage {
                        user,
                        msg,
                        client_id,
                        date_time: now_millis(),
                    });
                    replies.push(reply);
                }
                Request::Older {
                    before,
                    limit,
                    reply,
                } => {
                    let _ = reply.send(store.before(before, limit));
                }
                Request::Stop => {
                    stopping = true;
                    break;
                }
            }
            if batch.len() < MAX_BATCH {
                next = queue.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit(&mut store, &batch, &replies, live);
            batch.clear();
            replies.clear();
        }
    }
    queue.close();
    while let Ok(request) = queue.try_recv() {
        if let Request::Append {
            client_id, reply, ..
        } = request
        {
            let frame = ServerFrame::send_error(
                ErrorCode::ShuttingDown,
                "The server is shutting down; your message was not posted. It will be sent again when you reconnect.",
                client_id,
            );
            let _ = reply.try_send(Utf8Bytes::from(frame.to_json()));
        }
    }
    tracing::info!(last_id = store.last_id(), "history flushed");
}

fn commit(store: &mut Store, batch: &[NewMessage], replies: &[DirectSender], live: &Mutex<Live>) {
    match store.append(batch) {
        Ok(outcome) => {
            let mut stored = Vec::with_capacity(outcome.len());
            for (appended, reply) in outcome.into_iter().zip(replies) {
                match appended {
                    Appended::Stored(posted) => {
                        let bytes = Utf8Bytes::from(posted.to_frame_json());
                        stored.push((posted, bytes));
                    }
                    // A resend: answer the sender alone with the original.
                    Appended::Duplicate(original) => {
                        let _ = reply.try_send(Utf8Bytes::from(original.to_frame_json()));
                    }
                }
            }
            tracing::debug!(messages = stored.len(), "committed");
            let mut live = lock(live);
            for (posted, bytes) in stored {
                live.publish(posted, bytes);
            }
        }
        Err(error) => {
            tracing::error!(%error, messages = batch.len(), "cannot store messages");
            for (new, reply) in batch.iter().zip(replies) {
                let frame = ServerFrame::send_error(
                    ErrorCode::StorageUnavailable,
                    "The server could not store your message; it was not posted. Try again.",
                    new.client_id.clone(),
                );
                let _ = reply.try_send(Utf8Bytes::from(frame.to_json()));
            }
        }
    }
}

/// The server clock in milliseconds since the Unix epoch (negative before it).
fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}
