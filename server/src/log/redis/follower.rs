//! Following the rooms' streams: each instance reads, with blocking
//! reads, the streams of the rooms its clients are in, from the last
//! `seq` it published in each, and publishes what it reads to its rooms;
//! and the streams every instance reads: who is typing, the names to put
//! out, its own wake-ups.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::AsyncCommands;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::entries::{parse_entry, quote, StoredMessage};
use super::search::LocalIndex;
use super::{MessageReader, FOLLOW_BLOCK};
use crate::cluster::Keys;
use crate::events::{Event, PutOut};
use crate::log::{StorageHealth, Subscriber};
use crate::store::StoreError;

/// Most entries one read returns, per stream.
const FOLLOW_BATCH: usize = 512;
/// The pause before reading again after Redis failed.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// Messages of a room's past read into the search index between two
/// reads of the streams.
const CATCH_UP_PAGE: usize = 500;

/// Reads the followed rooms' streams (and the typing and wake streams)
/// from the last ids published, and publishes what it reads, until stopped.
pub(super) struct Follower {
    redis: ConnectionManager,
    keys: Keys,
    reader: MessageReader,
    subscriber: Arc<dyn Subscriber>,
    storage: StorageHealth,
    replay: usize,
    /// Fed with what is published, and with the followed rooms' past.
    index: Arc<LocalIndex>,
    /// The rooms followed, by their stream's key.
    rooms: HashMap<String, Followed>,
    /// Where the typing, put-out and wake streams continue; "$" until the
    /// first entry gives an id.
    typing_after: String,
    put_out_after: String,
    wake_after: String,
}

/// What the follower is asked to change.
pub(super) enum Follow {
    Start {
        room: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Stop(String),
}

impl Follower {
    pub(super) fn new(
        redis: ConnectionManager,
        reader: MessageReader,
        subscriber: Arc<dyn Subscriber>,
        storage: StorageHealth,
        replay: usize,
        index: Arc<LocalIndex>,
    ) -> Self {
        Self {
            redis,
            keys: reader.keys().clone(),
            reader,
            subscriber,
            storage,
            replay,
            index,
            rooms: HashMap::new(),
            typing_after: "$".to_owned(),
            put_out_after: "$".to_owned(),
            wake_after: "$".to_owned(),
        }
    }

    pub(super) async fn run(
        mut self,
        mut requests: mpsc::UnboundedReceiver<Follow>,
        stop: CancellationToken,
    ) {
        let block = usize::try_from(FOLLOW_BLOCK.as_millis()).unwrap_or(usize::MAX);
        let options = StreamReadOptions::default()
            .block(block)
            .count(FOLLOW_BATCH);
        // While a room's past is still to be indexed: read what is there
        // without waiting, then index a page.
        let at_once = StreamReadOptions::default().count(FOLLOW_BATCH);
        let mut healthy = true;
        loop {
            while let Ok(request) = requests.try_recv() {
                self.carry_out(request).await;
            }
            // While a room's past is being indexed, reads do not wait; such
            // a read must not start from "$" (what is there when it runs):
            // whatever came between two reads would be skipped. The signal
            // streams' places are pinned first; until they are, reads wait.
            let catching_up = self.rooms.values().any(|followed| followed.past.is_some())
                && self.pin_signal_streams().await;
            let mut keys = vec![self.keys.wake(), self.keys.typing(), self.keys.put_out()];
            let mut ids = vec![
                self.wake_after.clone(),
                self.typing_after.clone(),
                self.put_out_after.clone(),
            ];
            for (key, followed) in &self.rooms {
                keys.push(key.clone());
                ids.push(format!("{}-0", followed.last_id));
            }
            let read = self.redis.xread_options::<_, _, Option<StreamReadReply>>(
                &keys,
                &ids,
                if catching_up { &at_once } else { &options },
            );
            let read = tokio::select! {
                () = stop.cancelled() => return,
                read = read => read,
            };
            self.storage.record(read.is_ok());
            match read {
                Ok(reply) => {
                    if !healthy {
                        crate::metrics::redis_reconnected();
                        tracing::info!("following the Redis logs again");
                        healthy = true;
                    }
                    match reply {
                        Some(reply) => self.publish(reply).await,
                        // A quiet spell: a good time to check the logs' health.
                        None if !catching_up => self.check_sequences().await,
                        None => {}
                    }
                    if catching_up {
                        self.catch_up().await;
                    }
                }
                Err(error) => {
                    crate::metrics::redis_error();
                    if healthy {
                        tracing::error!(%error, "lost the Redis logs; retrying");
                        healthy = false;
                    }
                    tokio::select! {
                        () = stop.cancelled() => return,
                        () = tokio::time::sleep(RETRY_PAUSE) => {}
                    }
                }
            }
        }
    }

    async fn carry_out(&mut self, request: Follow) {
        match request {
            Follow::Start { room, reply } => {
                let loaded = self.load(&room).await;
                let _ = reply.send(loaded);
            }
            Follow::Stop(room) => {
                self.rooms.remove(&self.keys.log(&room));
                if let Err(error) = self.index.unfollow(&room) {
                    tracing::error!(%error, %room, "cannot drop a room from the search index");
                }
            }
        }
    }

    /// Hands the room's window to the subscriber and follows on from it.
    async fn load(&mut self, room: &str) -> Result<(), StoreError> {
        let window = self
            .reader
            .window(&mut self.redis, room, self.replay)
            .await?;
        if let Err(error) = self.index.follow(room) {
            tracing::error!(%error, %room, "cannot index a room for search");
        }
        let followed = Followed {
            room: room.to_owned(),
            last_id: window.last_seq,
            past: Some(u64::MAX),
        };
        self.rooms.insert(self.keys.log(room), followed);
        self.subscriber.loaded(room, window);
        Ok(())
    }

    async fn publish(&mut self, reply: StreamReadReply) {
        for stream in reply.keys {
            let Some(last) = stream.ids.last() else {
                continue;
            };
            if stream.key == self.keys.wake() {
                self.wake_after.clone_from(&last.id);
                continue;
            }
            if stream.key == self.keys.typing() {
                self.typing_after.clone_from(&last.id);
                // The rooms not here ignore it.
                for entry in &stream.ids {
                    if let (Some(room), Some(user)) =
                        (entry.get::<String>("room"), entry.get::<String>("user"))
                    {
                        self.subscriber.typing(&room, &user);
                    }
                }
                continue;
            }
            if stream.key == self.keys.put_out() {
                self.put_out_after.clone_from(&last.id);
                for entry in &stream.ids {
                    self.put_out(entry).await;
                }
                continue;
            }
            let Some(followed) = self.rooms.get_mut(&stream.key) else {
                continue;
            };
            let mut events = Vec::with_capacity(stream.ids.len());
            for entry in &stream.ids {
                match parse_entry(entry) {
                    Ok(event) if event.seq() > followed.last_id => {
                        followed.last_id = event.seq();
                        events.push(event);
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, id = %entry.id, "skipped an entry"),
                }
            }
            let room = followed.room.clone();
            self.quote_replies(&room, &mut events).await;
            // Found by search once anyone can see it.
            if let Err(error) = self.index.apply(&room, &events) {
                tracing::error!(%error, %room, "cannot index what was published");
            }
            self.subscriber.published(&room, events);
        }
    }

    /// Replaces "$" as the place of the wake, typing and put-out streams
    /// by their newest entry's id ("0-0" for an empty stream); says
    /// whether all three are pinned.
    async fn pin_signal_streams(&mut self) -> bool {
        let (wake, typing, put_out) = (self.keys.wake(), self.keys.typing(), self.keys.put_out());
        pin(&mut self.redis, &wake, &mut self.wake_after).await
            && pin(&mut self.redis, &typing, &mut self.typing_after).await
            && pin(&mut self.redis, &put_out, &mut self.put_out_after).await
    }

    /// Indexes a page of the past of a room whose past is not all
    /// indexed yet, newest first, on a blocking thread.
    async fn catch_up(&mut self) {
        let Some((key, before)) = self
            .rooms
            .iter()
            .find_map(|(key, followed)| Some((key.clone(), followed.past?)))
        else {
            return;
        };
        let Some(room) = self.rooms.get(&key).map(|followed| followed.room.clone()) else {
            return;
        };
        let read = self
            .reader
            .before(&mut self.redis, &room, before, CATCH_UP_PAGE)
            .await;
        let (page, more) = match read {
            Ok(read) => read,
            Err(error) => {
                // Tried again after the next read of the streams.
                tracing::warn!(%error, %room, "cannot read a room's past to index it");
                return;
            }
        };
        let oldest = page.first().map(|posted| posted.message.id);
        let index = Arc::clone(&self.index);
        let indexed = tokio::task::spawn_blocking(move || index.catch_up(&room, &page)).await;
        let past = match indexed {
            Ok(Ok(_)) => oldest.filter(|_| more),
            Ok(Err(error)) => {
                tracing::error!(%error, "cannot index a room's past");
                None
            }
            Err(error) => {
                tracing::error!(%error, "the indexing of a room's past stopped");
                None
            }
        };
        if let Some(followed) = self.rooms.get_mut(&key) {
            followed.past = past;
        }
    }

    /// Hands on another instance's notice to put a name out. A kick or a
    /// ban in a room followed here reaches the name's connections as the
    /// room's event, published (or about to be): only the other rooms'
    /// are read here, from their streams.
    async fn put_out(&mut self, entry: &StreamId) {
        if entry.get::<u64>("instance") == Some(self.keys.instance()) {
            return;
        }
        if let Some(name) = entry.get::<String>("signedOut") {
            self.subscriber.put_out(PutOut::SignedOut(name));
            return;
        }
        if let Some(credential) = entry.get::<String>("revoked") {
            self.subscriber.put_out(PutOut::Revoked(credential));
            return;
        }
        let (Some(room), Some(seq)) = (entry.get::<String>("room"), entry.get::<u64>("seq")) else {
            tracing::error!(id = %entry.id, "skipped a put-out notice without its room");
            return;
        };
        if self.rooms.contains_key(&self.keys.log(&room)) {
            return;
        }
        let id = format!("{seq}-0");
        let read: redis::RedisResult<StreamRangeReply> = self
            .redis
            .xrange_count(self.keys.log(&room), &id, &id, 1)
            .await;
        match read.map(|reply| reply.ids.first().map(parse_entry)) {
            Ok(Some(Ok(Event::Moderated(moderation)))) => {
                self.subscriber
                    .put_out(PutOut::Moderated { room, moderation });
            }
            Ok(_) => tracing::error!(%room, seq, "a put-out notice names no moderation"),
            Err(error) => {
                tracing::warn!(%error, %room, seq, "cannot read a put-out notice's event")
            }
        }
    }

    /// Fills in the quotes of the replies among `events` from the room's
    /// messages (the stream names the original, not its text, which must
    /// go when the original is deleted). A quote that cannot be read now
    /// says the original is gone.
    async fn quote_replies(&mut self, room: &str, events: &mut [Event]) {
        let originals: Vec<u64> = events
            .iter()
            .filter_map(|event| match event {
                Event::Posted(posted) => posted.message.reply_to.as_ref().map(|quote| quote.id),
                Event::Edited(_) | Event::Deleted(_) | Event::Reacted(_) | Event::Moderated(_) => {
                    None
                }
            })
            .collect();
        if originals.is_empty() {
            return;
        }
        let states: redis::RedisResult<Vec<Option<String>>> = redis::cmd("HMGET")
            .arg(self.keys.messages(room))
            .arg(&originals)
            .query_async(&mut self.redis)
            .await;
        let states = match states {
            Ok(states) => states,
            Err(error) => {
                tracing::warn!(%error, room, "cannot read the messages replies quote");
                vec![None; originals.len()]
            }
        };
        let mut states = originals.iter().zip(states);
        for event in events {
            let Event::Posted(posted) = event else {
                continue;
            };
            let Some(reply) = posted.message.reply_to.as_mut() else {
                continue;
            };
            let original = states
                .next()
                .and_then(|(&id, state)| StoredMessage::parse(id, &state?).ok());
            *reply = quote(reply.id, original.as_ref());
        }
    }

    /// A Redis that restarted without its data gives out ids again from 1:
    /// following after the old last id would wait forever. Starts such a
    /// room over from what its stream holds now, loudly.
    async fn check_sequences(&mut self) {
        let rooms: Vec<(String, u64)> = self
            .rooms
            .values()
            .map(|followed| (followed.room.clone(), followed.last_id))
            .collect();
        if rooms.is_empty() {
            return;
        }
        // Every room's counter in one round trip.
        let mut counters = redis::pipe();
        for (room, _) in &rooms {
            counters.get(self.keys.seq(room));
        }
        let seqs: redis::RedisResult<Vec<Option<u64>>> =
            counters.query_async(&mut self.redis).await;
        let Ok(seqs) = seqs else { return };
        for ((room, last_id), seq) in rooms.into_iter().zip(seqs) {
            if seq.unwrap_or(0) >= last_id {
                continue;
            }
            tracing::error!(
                %room,
                last_id,
                redis_seq = seq.unwrap_or(0),
                "the Redis log went back in time: Redis lost data (run it with appendonly yes); starting over"
            );
            if let Err(error) = self.load(&room).await {
                tracing::warn!(%error, %room, "cannot reload the room");
            }
        }
    }
}

/// A room the follower reads.
struct Followed {
    room: String,
    /// The last `seq` published.
    last_id: u64,
    /// Where the search index's reading of its past goes on (the id the
    /// next page is older than); `None` once all of it is indexed.
    past: Option<u64>,
}

/// `place` ("$", or an id) made the id of the newest entry of stream
/// `key` ("0-0" if it has none); whether it is an id now.
async fn pin(redis: &mut ConnectionManager, key: &str, place: &mut String) -> bool {
    if place != "$" {
        return true;
    }
    let newest: redis::RedisResult<StreamRangeReply> =
        redis.xrevrange_count(key, "+", "-", 1).await;
    match newest {
        Ok(newest) => {
            *place = newest
                .ids
                .first()
                .map_or_else(|| "0-0".to_owned(), |entry| entry.id.clone());
            true
        }
        Err(_) => false,
    }
}
