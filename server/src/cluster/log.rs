//! The rooms' logs in Redis streams, one per room, shared by every instance.
//!
//! Appending is one Lua script: it answers a resend with the original,
//! else appends the message to the room's stream under the room's counter
//! plus one and advances the counter, so a room's ids are strictly
//! increasing and in stream order, and a failure leaves nothing half done.
//! The time stamp is Redis's clock, one clock for every instance.
//!
//! Nothing is published on append: each instance follows the streams of
//! the rooms its clients are in, with blocking reads from the last id it
//! published in each, and publishes what it reads to its own clients, the
//! sender's included. So every client of every instance sees one order per
//! room, and after Redis or the connection to it comes back, the reads
//! simply continue after the last ids: no gap, no duplicate. Following a
//! new room wakes the blocked read through a stream of this instance's own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocol::{ChatMessage, Posted};
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Keys;
use crate::message_log::{Event, LogError, StorageHealth, Subscriber};
use crate::shutdown::Background;
use crate::store::{Appended, RoomActivity, StoreError, Window};

/// How long one blocking read waits for new entries.
pub(crate) const FOLLOW_BLOCK: Duration = Duration::from_secs(5);
/// Most entries one read returns, per stream.
const FOLLOW_BATCH: usize = 512;
/// The pause before reading again after Redis failed.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// How long a (user, clientId) pair is remembered: a client resending after
/// longer gets its message posted again.
const RESEND_MEMORY_SECS: u64 = 24 * 60 * 60;
/// Entries kept in the typing and wake streams.
const SIGNAL_MAX_LEN: usize = 100;
/// How long an instance's wake stream outlives its last use.
const WAKE_MEMORY_SECS: i64 = 24 * 60 * 60;

/// KEYS: seq, log, sent, directory. ARGV: user, msg, clientId, max length,
/// resend memory (s), room. Returns {1, id, time, ''} for a new message,
/// {0, id, time, msg} for a resend. (The directory is a key of its own,
/// outside the room's hash slot: a Redis Cluster will need it updated
/// separately.)
const APPEND: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local earlier = redis.call('HMGET', KEYS[3], 'id', 'dateTime', 'msg')
if earlier[1] then
  return {0, tonumber(earlier[1]), tonumber(earlier[2]), earlier[3]}
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local id = (tonumber(redis.call('GET', KEYS[1])) or 0) + 1
-- The append first: if it fails, nothing has changed.
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], string.format('%d-0', id),
  'kind', 'message', 'user', ARGV[1], 'msg', ARGV[2], 'clientId', ARGV[3],
  'dateTime', string.format('%d', now))
redis.call('SET', KEYS[1], id)
redis.call('HSET', KEYS[3], 'id', id, 'dateTime', string.format('%d', now), 'msg', ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[5])
redis.call('ZADD', KEYS[4], now, ARGV[6])
return {1, id, now, ''}
";

pub(crate) struct RedisLog {
    redis: ConnectionManager,
    keys: Keys,
    max_len: u64,
    append: Script,
    follows: mpsc::UnboundedSender<Follow>,
    stop: CancellationToken,
    follower: Background<JoinHandle<()>>,
    storage: StorageHealth,
}

/// What the follower is asked to change.
enum Follow {
    Start {
        room: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Stop(String),
}

impl RedisLog {
    /// Starts the follower on `follower`, a connection of its own; it
    /// follows no room until asked.
    pub(crate) fn open(
        redis: ConnectionManager,
        follower: ConnectionManager,
        keys: Keys,
        max_len: u64,
        replay: usize,
        subscriber: Arc<dyn Subscriber>,
    ) -> Self {
        let storage = StorageHealth::default();
        let stop = CancellationToken::new();
        let (follows, requests) = mpsc::unbounded_channel();
        let following = Follower {
            redis: follower,
            keys: keys.clone(),
            subscriber,
            storage: storage.clone(),
            replay,
            rooms: HashMap::new(),
            typing_after: "$".to_owned(),
            wake_after: "$".to_owned(),
        };
        let task = tokio::spawn(following.run(requests, stop.clone()));
        Self {
            redis,
            keys,
            max_len: max_len.max(1),
            append: Script::new(APPEND),
            follows,
            stop,
            follower: Background::new(task),
            storage,
        }
    }

    /// Appends a message; it reaches everyone, the sender included, through
    /// the stream. Answers once Redis has it (the follower may publish it a
    /// moment later): a resend with the original.
    pub(crate) async fn append(
        &self,
        room: &str,
        user: &str,
        msg: String,
        client_id: String,
    ) -> Result<Appended, LogError> {
        let outcome: redis::RedisResult<(u8, u64, i64, String)> = self
            .append
            .key(self.keys.seq(room))
            .key(self.keys.log(room))
            .key(self.keys.sent(room, user, &client_id))
            .key(self.keys.directory())
            .arg(user)
            .arg(&msg)
            .arg(&client_id)
            .arg(self.max_len)
            .arg(RESEND_MEMORY_SECS)
            .arg(room)
            .invoke_async(&mut self.redis.clone())
            .await;
        self.storage.record(outcome.is_ok());
        let (stored, id, date_time, original) = outcome.map_err(StoreError::from)?;
        let posted = |msg| Posted {
            message: ChatMessage {
                id,
                user: user.to_owned(),
                msg,
                date_time,
            },
            client_id,
        };
        Ok(match stored {
            1 => Appended::Stored(posted(msg)),
            _ => Appended::Duplicate(posted(original)),
        })
    }

    /// Follows `room`'s stream from its newest events on.
    pub(crate) async fn follow(&self, room: &str) -> Result<(), LogError> {
        let (reply, answer) = oneshot::channel();
        let start = Follow::Start {
            room: room.to_owned(),
            reply,
        };
        self.follows.send(start).map_err(|_| LogError::Closed)?;
        self.wake_follower().await?;
        match answer.await {
            Ok(result) => Ok(result?),
            Err(_) => Err(LogError::Closed),
        }
    }

    /// Stops following `room`. The follower notices at its next read.
    pub(crate) fn unfollow(&self, room: &str) {
        let _ = self.follows.send(Follow::Stop(room.to_owned()));
    }

    /// Ends the follower's blocking read, so it reads its requests. The
    /// stream is this instance's alone: it expires a while after its last
    /// use, so instances that stopped leave none behind.
    async fn wake_follower(&self) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.xadd_maxlen(
            self.keys.wake(),
            redis::streams::StreamMaxlen::Approx(SIGNAL_MAX_LEN),
            "*",
            &[("wake", "1")],
        )
        .ignore()
        .expire(self.keys.wake(), WAKE_MEMORY_SECS)
        .ignore();
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        Ok(())
    }

    /// Relays that `user` is typing in `room` to every instance.
    pub(crate) async fn typing(&self, room: &str, user: &str) {
        let sent: redis::RedisResult<String> = self
            .redis
            .clone()
            .xadd_maxlen(
                self.keys.typing(),
                redis::streams::StreamMaxlen::Approx(SIGNAL_MAX_LEN),
                "*",
                &[("room", room), ("user", user)],
            )
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "cannot relay typing");
        }
    }

    /// Up to `limit` messages of `room` older than `before`, and whether
    /// more remain (in the stream: it is trimmed to `--redis-max-len`).
    pub(crate) async fn older(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        let Some(newest) = before.checked_sub(1).filter(|&id| id > 0) else {
            return Ok((Vec::new(), false));
        };
        let page: StreamRangeReply = self
            .redis
            .clone()
            .xrevrange_count(
                self.keys.log(room),
                format!("{newest}-0"),
                "-",
                limit.saturating_add(1),
            )
            .await?;
        let mut page = page
            .ids
            .iter()
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let has_older = page.len() > limit;
        page.truncate(limit);
        page.reverse();
        Ok((page, has_older))
    }

    /// The rooms posted in most recently, on any instance.
    pub(crate) async fn most_active(&self, limit: usize) -> Result<Vec<RoomActivity>, StoreError> {
        let Some(last) = limit.checked_sub(1) else {
            return Ok(Vec::new());
        };
        let last = isize::try_from(last).unwrap_or(isize::MAX);
        let rooms: Vec<(String, f64)> = self
            .redis
            .clone()
            .zrevrange_withscores(self.keys.directory(), 0, last)
            .await?;
        Ok(rooms
            .into_iter()
            .map(|(room, at)| RoomActivity {
                room,
                // Milliseconds since the epoch: exact in an f64.
                #[allow(clippy::cast_possible_truncation)]
                last_message_at: at as i64,
            })
            .collect())
    }

    pub(crate) fn storage(&self) -> &StorageHealth {
        &self.storage
    }

    /// Stops following the streams.
    pub(crate) async fn close(&self) {
        self.stop.cancel();
        if let Some(follower) = self.follower.take() {
            let _ = follower.await;
        }
    }
}

/// The newest `count` messages of `room`'s stream and the ids around them.
async fn load_window(
    redis: &mut ConnectionManager,
    keys: &Keys,
    room: &str,
    count: usize,
) -> Result<Window, StoreError> {
    let newest: StreamRangeReply = redis
        .xrevrange_count(keys.log(room), "+", "-", count)
        .await?;
    let oldest: StreamRangeReply = redis.xrange_count(keys.log(room), "-", "+", 1).await?;
    let mut recent = newest
        .ids
        .iter()
        .map(parse_entry)
        .collect::<Result<Vec<_>, _>>()?;
    recent.reverse();
    Ok(Window {
        first_id: oldest.ids.first().map(entry_id).transpose()?,
        last_id: recent.last().map_or(0, |posted| posted.message.id),
        recent,
    })
}

/// Reads the followed rooms' streams (and the typing and wake streams)
/// from the last ids published, and publishes what it reads, until stopped.
struct Follower {
    redis: ConnectionManager,
    keys: Keys,
    subscriber: Arc<dyn Subscriber>,
    storage: StorageHealth,
    replay: usize,
    /// The rooms followed, by their stream's key.
    rooms: HashMap<String, Followed>,
    /// Where the typing and wake streams continue; "$" until the first
    /// entry gives an id.
    typing_after: String,
    wake_after: String,
}

impl Follower {
    async fn run(mut self, mut requests: mpsc::UnboundedReceiver<Follow>, stop: CancellationToken) {
        let block = usize::try_from(FOLLOW_BLOCK.as_millis()).unwrap_or(usize::MAX);
        let options = StreamReadOptions::default()
            .block(block)
            .count(FOLLOW_BATCH);
        let mut healthy = true;
        loop {
            while let Ok(request) = requests.try_recv() {
                self.carry_out(request).await;
            }
            let mut keys = vec![self.keys.wake(), self.keys.typing()];
            let mut ids = vec![self.wake_after.clone(), self.typing_after.clone()];
            for (key, followed) in &self.rooms {
                keys.push(key.clone());
                ids.push(format!("{}-0", followed.last_id));
            }
            let read = self
                .redis
                .xread_options::<_, _, Option<StreamReadReply>>(&keys, &ids, &options);
            let read = tokio::select! {
                () = stop.cancelled() => return,
                read = read => read,
            };
            self.storage.record(read.is_ok());
            match read {
                Ok(reply) => {
                    if !healthy {
                        tracing::info!("following the Redis logs again");
                        healthy = true;
                    }
                    match reply {
                        Some(reply) => self.publish(reply),
                        // A quiet spell: a good time to check the logs' health.
                        None => self.check_sequences().await,
                    }
                }
                Err(error) => {
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
            }
        }
    }

    /// Hands the room's window to the subscriber and follows on from it.
    async fn load(&mut self, room: &str) -> Result<(), StoreError> {
        let window = load_window(&mut self.redis, &self.keys, room, self.replay).await?;
        let followed = Followed {
            room: room.to_owned(),
            last_id: window.last_id,
        };
        self.rooms.insert(self.keys.log(room), followed);
        self.subscriber.loaded(room, window);
        Ok(())
    }

    fn publish(&mut self, reply: StreamReadReply) {
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
            let Some(followed) = self.rooms.get_mut(&stream.key) else {
                continue;
            };
            let mut events = Vec::with_capacity(stream.ids.len());
            for entry in &stream.ids {
                match parse_entry(entry) {
                    Ok(posted) if posted.message.id > followed.last_id => {
                        followed.last_id = posted.message.id;
                        events.push(Event::Posted(posted));
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, id = %entry.id, "skipped an entry"),
                }
            }
            self.subscriber.published(&followed.room, events);
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
    /// The last id published.
    last_id: u64,
}

/// The message number of stream entry `N-0`.
fn entry_id(entry: &StreamId) -> Result<u64, StoreError> {
    entry
        .id
        .split_once('-')
        .and_then(|(number, _)| number.parse().ok())
        .ok_or_else(|| StoreError::CorruptEntry(entry.id.clone()))
}

/// A `message` entry (entries of the release before rooms have no `kind`:
/// they are messages too).
fn parse_entry(entry: &StreamId) -> Result<Posted, StoreError> {
    let field = |name: &str| {
        entry
            .get::<String>(name)
            .ok_or_else(|| StoreError::CorruptEntry(format!("{}: no {name}", entry.id)))
    };
    if let Some(kind) = entry.get::<String>("kind").filter(|kind| kind != "message") {
        return Err(StoreError::CorruptEntry(format!(
            "{}: unknown kind {kind:?}",
            entry.id
        )));
    }
    let date_time = field("dateTime")?;
    Ok(Posted {
        message: ChatMessage {
            id: entry_id(entry)?,
            user: field("user")?,
            msg: field("msg")?,
            date_time: date_time
                .parse()
                .map_err(|_| StoreError::CorruptEntry(format!("{}: dateTime", entry.id)))?,
        },
        client_id: field("clientId")?,
    })
}
