//! The message log in a Redis stream, shared by every instance.
//!
//! Appending is one Lua script: it answers a resend with the original,
//! else appends the message to the stream under the room's counter plus one
//! and advances the counter, so ids are global, strictly increasing and in stream
//! order, and a failure leaves nothing half done. The time stamp is Redis's
//! clock, one clock for every instance.
//!
//! Nothing is published on append: each instance follows the stream with
//! blocking reads from the last id it published, and publishes what it reads
//! to its own clients, the sender's included. So every client of every
//! instance sees one order, and after Redis or the connection to it comes
//! back, the read simply continues after the last id: no gap, no duplicate.

use std::time::Duration;

use protocol::{ChatMessage, ErrorCode, Posted, ServerFrame};
use redis::aio::ConnectionManager;
use redis::streams::{StreamId, StreamRangeReply, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, Script};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::Keys;
use crate::config::Config;
use crate::connection::DirectSender;
use crate::message_log::{StorageHealth, Window};
use crate::room::Feed;
use crate::shutdown::Background;
use crate::store::StoreError;
use crate::wire;

/// How long one blocking read waits for new entries.
pub const FOLLOW_BLOCK: Duration = Duration::from_secs(5);
/// Most entries one read returns.
const FOLLOW_BATCH: usize = 512;
/// The pause before reading again after Redis failed.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// How long a (user, clientId) pair is remembered: a client resending after
/// longer gets its message posted again.
const RESEND_MEMORY_SECS: u64 = 24 * 60 * 60;
/// Entries kept in the typing stream.
const TYPING_MAX_LEN: usize = 100;

/// KEYS: seq, log, sent. ARGV: user, msg, clientId, max length, resend
/// memory (s). Returns {1, id, time} for a new message, {0, id, time, msg}
/// for a resend.
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
  'user', ARGV[1], 'msg', ARGV[2], 'clientId', ARGV[3], 'dateTime', string.format('%d', now))
redis.call('SET', KEYS[1], id)
redis.call('HSET', KEYS[3], 'id', id, 'dateTime', string.format('%d', now), 'msg', ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[5])
return {1, id, now, ''}
";

pub struct RedisLog {
    redis: ConnectionManager,
    keys: Keys,
    max_len: u64,
    append: Script,
    stop: CancellationToken,
    follower: Background<JoinHandle<()>>,
    storage: StorageHealth,
}

impl RedisLog {
    /// Loads the stream's newest messages into `feed` and follows it from
    /// there on `follower`, a connection of its own.
    pub async fn open(
        redis: ConnectionManager,
        follower: ConnectionManager,
        keys: Keys,
        config: &Config,
        feed: &Feed,
    ) -> Result<Self, StoreError> {
        let window = load_window(&mut redis.clone(), &keys, feed.replay()).await?;
        tracing::info!(last_id = window.last_id, "history loaded from Redis");
        let last_id = window.last_id;
        feed.reset(window);
        let stop = CancellationToken::new();
        let following = Follower {
            redis: follower,
            keys: keys.clone(),
            feed: feed.clone(),
            last_id,
        };
        let task = tokio::spawn(following.run(stop.clone()));
        Ok(Self {
            redis,
            keys,
            max_len: config.redis_max_len.max(1),
            append: Script::new(APPEND),
            stop,
            follower: Background::new(task),
            storage: feed.storage.clone(),
        })
    }

    /// Appends a message; it reaches everyone, the sender included, through
    /// the stream. A resend is answered with the original; a failure with an
    /// error frame (the resend is safe either way: it cannot post twice).
    pub async fn append(&self, user: &str, msg: String, client_id: String, reply: DirectSender) {
        let outcome: redis::RedisResult<(u8, u64, i64, String)> = self
            .append
            .key(self.keys.seq())
            .key(self.keys.log())
            .key(self.keys.sent(user, &client_id))
            .arg(user)
            .arg(&msg)
            .arg(&client_id)
            .arg(self.max_len)
            .arg(RESEND_MEMORY_SECS)
            .invoke_async(&mut self.redis.clone())
            .await;
        self.storage.record(outcome.is_ok());
        let answer = match outcome {
            Ok((1, ..)) => return,
            Ok((_, id, date_time, original)) => {
                let original = Posted {
                    message: ChatMessage {
                        id,
                        user: user.to_owned(),
                        msg: original,
                        date_time,
                    },
                    client_id,
                };
                original.to_frame_json()
            }
            Err(error) => {
                tracing::error!(%error, "cannot append to the Redis log");
                ServerFrame::send_error(
                    ErrorCode::StorageUnavailable,
                    "The server could not confirm that your message was stored. Send it again: it cannot be posted twice.",
                    client_id,
                )
                .to_json()
            }
        };
        let _ = reply.try_send(&answer);
    }

    /// Relays that `user` is typing to every instance. Best effort: a lost
    /// typing notice is harmless.
    pub async fn typing(&self, user: &str) {
        let sent: redis::RedisResult<()> = self
            .redis
            .clone()
            .xadd_maxlen(
                self.keys.typing(),
                redis::streams::StreamMaxlen::Approx(TYPING_MAX_LEN),
                "*",
                &[("user", user)],
            )
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "cannot relay typing");
        }
    }

    /// Up to `limit` messages older than `before`, and whether more remain
    /// (in the stream: it is trimmed to `--redis-max-len`).
    pub async fn older(
        &self,
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
                self.keys.log(),
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

    /// Stops following the stream.
    pub async fn close(&self) {
        self.stop.cancel();
        if let Some(follower) = self.follower.take() {
            let _ = follower.await;
        }
    }
}

/// The newest `count` messages of the stream and the ids around them.
async fn load_window(
    redis: &mut ConnectionManager,
    keys: &Keys,
    count: usize,
) -> Result<Window, StoreError> {
    let newest: StreamRangeReply = redis.xrevrange_count(keys.log(), "+", "-", count).await?;
    let oldest: StreamRangeReply = redis.xrange_count(keys.log(), "-", "+", 1).await?;
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

/// Reads the stream (and the typing stream) from the last id published
/// and publishes what it reads, until stopped.
struct Follower {
    redis: ConnectionManager,
    keys: Keys,
    feed: Feed,
    last_id: u64,
}

impl Follower {
    async fn run(mut self, stop: CancellationToken) {
        let block = usize::try_from(FOLLOW_BLOCK.as_millis()).unwrap_or(usize::MAX);
        let options = StreamReadOptions::default()
            .block(block)
            .count(FOLLOW_BATCH);
        let streams = [self.keys.log(), self.keys.typing()];
        // Typing from now on; "$" until the first notice gives an id.
        let mut typing_after = "$".to_owned();
        let mut healthy = true;
        loop {
            let ids = [format!("{}-0", self.last_id), typing_after.clone()];
            let read = self
                .redis
                .xread_options::<_, _, Option<StreamReadReply>>(&streams, &ids, &options);
            let read = tokio::select! {
                () = stop.cancelled() => return,
                read = read => read,
            };
            self.feed.storage.record(read.is_ok());
            match read {
                Ok(reply) => {
                    if !healthy {
                        tracing::info!(last_id = self.last_id, "following the Redis log again");
                        healthy = true;
                    }
                    match reply {
                        Some(reply) => self.publish(reply, &mut typing_after),
                        // A quiet spell: a good time to check the log's health.
                        None => self.check_sequence().await,
                    }
                }
                Err(error) => {
                    if healthy {
                        tracing::error!(%error, "lost the Redis log; retrying");
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

    fn publish(&mut self, reply: StreamReadReply, typing_after: &mut String) {
        for stream in reply.keys {
            if stream.key == self.keys.typing() {
                for entry in &stream.ids {
                    if let Some(user) = entry.get::<String>("user") {
                        self.feed.announce(&ServerFrame::Typing { user });
                    }
                }
                if let Some(last) = stream.ids.last() {
                    typing_after.clone_from(&last.id);
                }
                continue;
            }
            let mut stored = Vec::with_capacity(stream.ids.len());
            for entry in &stream.ids {
                match parse_entry(entry) {
                    Ok(posted) if posted.message.id > self.last_id => {
                        self.last_id = posted.message.id;
                        let frame = wire::text(&posted.to_frame_json());
                        stored.push((posted, frame));
                    }
                    Ok(_) => {}
                    Err(error) => tracing::error!(%error, id = %entry.id, "skipped an entry"),
                }
            }
            self.feed.publish(stored);
        }
    }

    /// A Redis that restarted without its data gives out ids again from 1:
    /// following after the old last id would wait forever. Starts over from
    /// what the stream holds now, loudly.
    async fn check_sequence(&mut self) {
        let seq: redis::RedisResult<Option<u64>> = self.redis.get(self.keys.seq()).await;
        let Ok(seq) = seq else { return };
        if seq.unwrap_or(0) >= self.last_id {
            return;
        }
        tracing::error!(
            last_id = self.last_id,
            redis_seq = seq.unwrap_or(0),
            "the Redis log went back in time: Redis lost data (run it with appendonly yes); starting over"
        );
        if let Ok(window) = load_window(&mut self.redis, &self.keys, self.feed.replay()).await {
            self.last_id = window.last_id;
            self.feed.reset(window);
        }
    }
}

/// The message number of stream entry `N-0`.
fn entry_id(entry: &StreamId) -> Result<u64, StoreError> {
    entry
        .id
        .split_once('-')
        .and_then(|(number, _)| number.parse().ok())
        .ok_or_else(|| StoreError::CorruptEntry(entry.id.clone()))
}

fn parse_entry(entry: &StreamId) -> Result<Posted, StoreError> {
    let field = |name: &str| {
        entry
            .get::<String>(name)
            .ok_or_else(|| StoreError::CorruptEntry(format!("{}: no {name}", entry.id)))
    };
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
