//! The embedded message log: one SQLite file, fanned out in process.
//!
//! One writer thread owns the database. Connections hand it messages through
//! a bounded queue; it takes everything queued (group commit), stores it in
//! one transaction, and only then publishes the batch to the room's feed.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ErrorCode, Posted};
use tokio::sync::{mpsc, oneshot};

use crate::connection::DirectSender;
use crate::message_log::{not_posted, OlderError, RoomClosed, Window};
use crate::room::Feed;
use crate::shutdown::Background;
use crate::store::{Appended, HistoryReader, NewMessage, Store, StoreError};
use crate::wire;

/// Most messages committed in one transaction.
const MAX_BATCH: usize = 512;
/// Queued requests before senders wait: bounds memory under a flood.
const QUEUE_CAPACITY: usize = 4096;

pub struct EmbeddedLog {
    requests: mpsc::Sender<Request>,
    writer: Background<JoinHandle<()>>,
    /// Pages of older history are read here, on tokio's blocking threads,
    /// beside the writer rather than behind it: a flood of page requests
    /// cannot delay a commit. (`None` for `:memory:`: pages go through the
    /// writer.)
    reader: Option<Arc<Mutex<HistoryReader>>>,
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

impl EmbeddedLog {
    /// Opens the database at `db`, loads its newest messages into `feed`
    /// and starts the writer thread, which publishes to it.
    pub fn open(db: &Path, feed: &Feed) -> Result<Self, StoreError> {
        let store = Store::open(db)?;
        let reader = store.reader(db)?.map(|reader| Arc::new(Mutex::new(reader)));
        feed.reset(Window {
            recent: store.recent(feed.replay())?,
            first_id: store.first_id()?,
            last_id: store.last_id(),
        });
        tracing::info!(db = %db.display(), last_id = store.last_id(), "history loaded");
        let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
        let writer = std::thread::Builder::new()
            .name("room-writer".into())
            .spawn({
                let feed = feed.clone();
                move || write_loop(store, queue, &feed)
            })
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            requests,
            writer: Background::new(writer),
            reader,
        })
    }

    /// Queues a message for the writer. Waits while the queue is full.
    pub async fn append(
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

    pub async fn older(
        &self,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), OlderError> {
        if let Some(reader) = &self.reader {
            let reader = Arc::clone(reader);
            let read = tokio::task::spawn_blocking(move || {
                reader
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .before(before, limit)
            });
            return match read.await {
                Ok(page) => page.map_err(OlderError::Store),
                Err(_) => Err(OlderError::Closed),
            };
        }
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

    /// Stores everything queued so far, then stops the writer.
    pub async fn close(&self) {
        let _ = self.requests.send(Request::Stop).await;
        if let Some(writer) = self.writer.take() {
            match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(())) => {}
                _ => tracing::error!("the room writer did not stop cleanly"),
            }
        }
    }
}

/// The writer thread: batches appends, commits, publishes.
fn write_loop(mut store: Store, mut queue: mpsc::Receiver<Request>, feed: &Feed) {
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
            commit(&mut store, &batch, replies.drain(..), feed);
            batch.clear();
        }
    }
    queue.close();
    while let Ok(request) = queue.try_recv() {
        if let Request::Append {
            client_id, reply, ..
        } = request
        {
            let _ = reply.try_send(&not_posted(ErrorCode::ShuttingDown, client_id));
        }
    }
    tracing::info!(last_id = store.last_id(), "history flushed");
}

/// Stores `batch` and publishes it; each of `replies` (one per message, in
/// order) answers its sender alone, if it needs an answer.
fn commit(
    store: &mut Store,
    batch: &[NewMessage],
    replies: impl Iterator<Item = DirectSender>,
    feed: &Feed,
) {
    match store.append(batch) {
        Ok(outcome) => {
            let mut stored = Vec::with_capacity(outcome.len());
            for (appended, reply) in outcome.into_iter().zip(replies) {
                match appended {
                    Appended::Stored(posted) => {
                        let frame = wire::text(&posted.to_frame_json());
                        stored.push((posted, frame));
                    }
                    // A resend: answer the sender alone with the original.
                    Appended::Duplicate(original) => {
                        let _ = reply.try_send(&original.to_frame_json());
                    }
                }
            }
            tracing::debug!(messages = stored.len(), "committed");
            feed.storage.record(true);
            feed.publish(stored);
        }
        Err(error) => {
            tracing::error!(%error, messages = batch.len(), "cannot store messages");
            feed.storage.record(false);
            for (new, reply) in batch.iter().zip(replies) {
                let frame = not_posted(ErrorCode::StorageUnavailable, new.client_id.clone());
                let _ = reply.try_send(&frame);
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
