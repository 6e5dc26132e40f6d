//! The embedded message log: one SQLite file, fanned out in process.
//!
//! One writer thread owns the database. Connections hand it messages through
//! a bounded queue; it takes everything queued (group commit), stores it in
//! one transaction, publishes the batch to the rooms, and only then answers
//! each sender. Loading a room's window goes through the same thread, so a
//! room starts exactly where the publishing continues.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use protocol::Posted;
use tokio::sync::{mpsc, oneshot};

use super::{LogError, StorageHealth, Subscriber};
use crate::events::{Appended, Event, NewEvent, RoomActivity, Stamped};
use crate::shutdown::Background;
use crate::store::{HistoryReader, Store, StoreError};

/// Most events committed in one transaction.
const MAX_BATCH: usize = 512;
/// Queued requests before senders wait: bounds memory under a flood.
const QUEUE_CAPACITY: usize = 4096;

pub(crate) struct EmbeddedLog {
    requests: mpsc::Sender<Request>,
    writer: Background<JoinHandle<()>>,
    /// Pages of older history are read here, on tokio's blocking threads,
    /// beside the writer rather than behind it: a flood of page requests
    /// cannot delay a commit. (`None` for `:memory:`: pages go through the
    /// writer.)
    reader: Option<Arc<Mutex<HistoryReader>>>,
    subscriber: Arc<dyn Subscriber>,
    storage: StorageHealth,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// A search's hits, and the next page's cursor.
type Found = (Vec<protocol::Hit>, Option<u64>);

/// What the writer thread is asked to do.
enum Request {
    Append {
        event: NewEvent,
        at: i64,
        reply: Reply<Appended>,
    },
    /// Read a room's window and hand it to the subscriber.
    Load { room: String, reply: Reply<()> },
    Older {
        room: String,
        before: u64,
        limit: usize,
        reply: Reply<(Vec<Posted>, bool)>,
    },
    Search {
        query: protocol::Query,
        rooms: Vec<String>,
        before: Option<u64>,
        limit: usize,
        reply: Reply<Found>,
    },
    /// Remove at most `limit` messages posted before `before`.
    Retain {
        before: i64,
        limit: usize,
        reply: Reply<usize>,
    },
    /// Finish what is queued before this, then stop.
    Stop,
}

/// Most messages retention removes in one transaction: the writer takes
/// the appends queued meanwhile between two.
const RETAIN_BATCH: usize = 1000;

impl EmbeddedLog {
    /// Opens (and migrates) the database at `db` and starts the writer
    /// thread, which publishes to `subscriber`.
    pub(crate) fn open(
        db: &Path,
        default_room: &str,
        replay: usize,
        subscriber: Arc<dyn Subscriber>,
    ) -> Result<Self, StoreError> {
        let store = Store::open(db, default_room)?;
        let reader = store.reader(db)?.map(|reader| Arc::new(Mutex::new(reader)));
        tracing::info!(db = %db.display(), "database opened");
        let storage = StorageHealth::default();
        let (requests, queue) = mpsc::channel(QUEUE_CAPACITY);
        let writer = Writer {
            store,
            subscriber: Arc::clone(&subscriber),
            storage: storage.clone(),
            replay,
        };
        let writer = std::thread::Builder::new()
            .name("room-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Self {
            requests,
            writer: Background::new(writer),
            reader,
            subscriber,
            storage,
        })
    }

    /// Stores an event, stamped with this server's clock; answers once it
    /// is committed and published.
    pub(crate) async fn append(&self, event: NewEvent) -> Result<Appended, LogError> {
        let at = crate::events::now_ms();
        self.ask(|reply| Request::Append { event, at, reply }).await
    }

    pub(crate) async fn load(&self, room: &str) -> Result<(), LogError> {
        let room = room.to_owned();
        self.ask(|reply| Request::Load { room, reply }).await
    }

    /// Relays typing to the room in this process: nothing else needs it.
    pub(crate) fn typing(&self, room: &str, user: &str) {
        self.subscriber.typing(room, user);
    }

    pub(crate) async fn older(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), LogError> {
        let room = room.to_owned();
        match &self.reader {
            Some(reader) => {
                read_beside(reader, move |reader| reader.before(&room, before, limit)).await
            }
            None => {
                self.ask(|reply| Request::Older {
                    room,
                    before,
                    limit,
                    reply,
                })
                .await
            }
        }
    }

    /// What a search found: hits, and the next page's cursor.
    pub(crate) async fn search(
        &self,
        query: protocol::Query,
        rooms: Vec<String>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Found, LogError> {
        match &self.reader {
            Some(reader) => {
                read_beside(reader, move |reader| {
                    reader.search(&query, &rooms, before, limit)
                })
                .await
            }
            None => {
                self.ask(|reply| Request::Search {
                    query,
                    rooms,
                    before,
                    limit,
                    reply,
                })
                .await
            }
        }
    }

    pub(crate) async fn rules(&self, room: &str) -> Result<protocol::RoomRules, LogError> {
        let room = room.to_owned();
        match &self.reader {
            Some(reader) => read_beside(reader, move |reader| reader.rules(&room)).await,
            // `:memory:` is for benchmarks: nobody moderates there.
            None => Ok(protocol::RoomRules::default()),
        }
    }

    pub(crate) async fn most_active(&self, limit: usize) -> Result<Vec<RoomActivity>, LogError> {
        match &self.reader {
            Some(reader) => read_beside(reader, move |reader| reader.most_active(limit)).await,
            // `:memory:` is for benchmarks: no directory.
            None => Ok(Vec::new()),
        }
    }

    pub(crate) fn storage(&self) -> &StorageHealth {
        &self.storage
    }

    /// Removes the messages posted before `before` (see
    /// `Store::retain`), a batch at a time; answers how many went.
    pub(crate) async fn retain(&self, before: i64) -> Result<u64, LogError> {
        let mut removed = 0;
        loop {
            let gone = self
                .ask(|reply| Request::Retain {
                    before,
                    limit: RETAIN_BATCH,
                    reply,
                })
                .await?;
            removed += u64::try_from(gone).unwrap_or(u64::MAX);
            if gone < RETAIN_BATCH {
                return Ok(removed);
            }
        }
    }

    /// Stores everything queued so far, then stops the writer.
    pub(crate) async fn close(&self) {
        let _ = self.requests.send(Request::Stop).await;
        if let Some(writer) = self.writer.take() {
            match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(())) => {}
                _ => tracing::error!("the room writer did not stop cleanly"),
            }
        }
    }

    /// Queues a request for the writer (waiting while the queue is full)
    /// and waits for its answer.
    async fn ask<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, LogError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(request(reply))
            .await
            .map_err(|_| LogError::Closed)?;
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(LogError::Closed),
        }
    }
}

/// Runs `read` on the history connection, on a blocking thread.
async fn read_beside<T: Send + 'static>(
    reader: &Arc<Mutex<HistoryReader>>,
    read: impl FnOnce(&HistoryReader) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, LogError> {
    let reader = Arc::clone(reader);
    let read = tokio::task::spawn_blocking(move || {
        read(&reader.lock().unwrap_or_else(PoisonError::into_inner))
    });
    match read.await {
        Ok(result) => Ok(result?),
        Err(_) => Err(LogError::Closed),
    }
}

/// The writer thread's state.
struct Writer {
    store: Store,
    subscriber: Arc<dyn Subscriber>,
    storage: StorageHealth,
    /// How many events a room's window holds.
    replay: usize,
}

impl Writer {
    /// Batches appends, commits, publishes, answers; until stopped.
    fn run(mut self, mut queue: mpsc::Receiver<Request>) {
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
                    Request::Append { event, at, reply } => {
                        batch.push(Stamped { event, at });
                        replies.push(reply);
                    }
                    // Commits what came before, so the window has it.
                    Request::Load { room, reply } => {
                        self.commit(&mut batch, &mut replies);
                        let loaded = self.store.window(&room, self.replay);
                        let answer = loaded.map(|window| self.subscriber.loaded(&room, window));
                        let _ = reply.send(answer);
                    }
                    Request::Older {
                        room,
                        before,
                        limit,
                        reply,
                    } => {
                        let _ = reply.send(self.store.before(&room, before, limit));
                    }
                    Request::Search {
                        query,
                        rooms,
                        before,
                        limit,
                        reply,
                    } => {
                        let _ = reply.send(self.store.search(&query, &rooms, before, limit));
                    }
                    Request::Retain {
                        before,
                        limit,
                        reply,
                    } => {
                        self.commit(&mut batch, &mut replies);
                        let _ = reply.send(self.store.retain(before, limit));
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
            self.commit(&mut batch, &mut replies);
        }
        // Appends queued behind the stop are dropped unanswered: their
        // senders see the log closed, and their clients send them again.
        queue.close();
        tracing::info!("history flushed");
    }

    /// Stores `batch` and publishes what is new, room by room in order;
    /// then answers each sender (the reply at the same index).
    fn commit(&mut self, batch: &mut Vec<Stamped>, replies: &mut Vec<Reply<Appended>>) {
        if batch.is_empty() {
            return;
        }
        match self.store.append(batch) {
            Ok(outcome) => {
                self.storage.record(true);
                let mut by_room: BTreeMap<&str, Vec<Event>> = BTreeMap::new();
                for (stamped, appended) in batch.iter().zip(&outcome) {
                    if let Appended::Stored(stored) = appended {
                        by_room
                            .entry(stamped.event.room())
                            .or_default()
                            .push(stored.clone());
                    }
                }
                tracing::debug!(events = batch.len(), "committed");
                for (room, events) in by_room {
                    self.subscriber.published(room, events);
                }
                for (reply, appended) in replies.drain(..).zip(outcome) {
                    let _ = reply.send(Ok(appended));
                }
            }
            Err(error) => {
                tracing::error!(%error, events = batch.len(), "cannot store events");
                self.storage.record(false);
                let reason = error.to_string();
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(StoreError::Failed(reason.clone())));
                }
            }
        }
        batch.clear();
    }
}
