//! Several instances sharing the rooms through Redis: the plumbing both
//! Redis backends stand on (the connections, this instance's number, the
//! names of the keys). It imports nothing of the server above it.
//!
//! - `crate::log::redis`: each room's events, in a Redis stream every
//!   instance with a client in the room follows.
//! - `crate::presence`: unique names, and who is in which room, as leases
//!   that each live instance keeps refreshing.
//!
//! Everything that must be atomic across instances (assigning an id and
//! appending, claiming a name) is one Lua script, so Redis runs it as one
//! step. A room's keys share the hash tag `{prefix:room}`, so that a Redis
//! Cluster can place rooms on different nodes; the scripts still address
//! a single Redis (a primary, with replicas or Sentinel if wanted): names
//! and the room directory are keys of their own.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use crate::store::StoreError;

/// How long one Redis command may take before it counts as failed. Short:
/// a sender is waiting for the answer.
pub(crate) const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// KEYS: the release before rooms' stream and counter, then the default
/// room's. Renames the old keys to the new ones, once: the one room of
/// that release becomes the default room, its ids unchanged. Returns
/// whether it did.
const MIGRATE_ONE_ROOM: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('EXISTS', KEYS[3]) == 0 then
  redis.call('RENAME', KEYS[1], KEYS[3])
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('RENAME', KEYS[2], KEYS[4]) end
  return 1
end
return 0
";

/// This instance's connections to one Redis: what the log and presence
/// are built on (see `crate::open_rooms`).
pub(crate) struct Redis {
    /// Commands, shared (it reconnects by itself).
    pub(crate) commands: ConnectionManager,
    /// Blocking reads (the follower's), on a connection of their own: on a
    /// shared one they would hold up every command queued behind them.
    pub(crate) follower: ConnectionManager,
    pub(crate) keys: Keys,
    /// This instance's number among all that ever shared this Redis.
    pub(crate) instance: u64,
}

/// Connects to the Redis at `url` as a new instance under `prefix`, the
/// one room of the oldest release moved to `default_room` if it is there.
/// `block`: the longest blocking read the follower makes.
pub(crate) async fn open(
    url: &str,
    prefix: &str,
    default_room: &str,
    block: Duration,
) -> Result<Redis, StoreError> {
    let connect_error = |source| StoreError::RedisConnect {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(connect_error)?;
    let mut commands = connect(&client, RESPONSE_TIMEOUT)
        .await
        .map_err(connect_error)?;
    let follower = connect(&client, block + RESPONSE_TIMEOUT)
        .await
        .map_err(connect_error)?;
    let instance: u64 = commands.incr(format!("{prefix}:instances"), 1).await?;
    let keys = Keys::new(prefix, instance);
    migrate_one_room(&mut commands, &keys, default_room).await?;
    tracing::info!(%url, %prefix, "sharing the rooms through Redis");
    Ok(Redis {
        commands,
        follower,
        keys,
        instance,
    })
}

/// Moves the one room of the release before rooms (its stream, counter and
/// resend memory) to `default_room`'s keys, if they are still there.
async fn migrate_one_room(
    redis: &mut ConnectionManager,
    keys: &Keys,
    default_room: &str,
) -> Result<(), StoreError> {
    let moved: bool = Script::new(MIGRATE_ONE_ROOM)
        .key(format!("{}:log", keys.prefix))
        .key(format!("{}:seq", keys.prefix))
        .key(keys.log(default_room))
        .key(keys.seq(default_room))
        .invoke_async(redis)
        .await?;
    if !moved {
        return Ok(());
    }
    // The resend memory: `prefix:sent:...` becomes `{prefix:room}:sent:...`.
    let old = format!("{}:sent:", keys.prefix);
    let sent: Vec<String> = {
        let mut found = redis.scan_match::<_, String>(format!("{old}*")).await?;
        let mut sent = Vec::new();
        while let Some(key) = futures::StreamExt::next(&mut found).await {
            sent.push(key?);
        }
        sent
    };
    let mut pipe = redis::pipe();
    for key in &sent {
        let rest = &key[old.len()..];
        pipe.rename_nx(key, format!("{}:sent:{rest}", keys.tag(default_room)))
            .ignore();
    }
    pipe.query_async::<()>(redis).await?;
    let newest: redis::streams::StreamRangeReply = redis
        .xrevrange_count(keys.log(default_room), "+", "-", 1)
        .await?;
    if let Some(date_time) = newest
        .ids
        .first()
        .and_then(|entry| entry.get::<String>("dateTime"))
        .and_then(|at| at.parse::<i64>().ok())
    {
        redis
            .zadd::<_, _, _, ()>(keys.directory(), default_room, date_time)
            .await?;
    }
    tracing::info!(
        room = default_room,
        resends = sent.len(),
        "moved the room of the release before rooms to the default room"
    );
    Ok(())
}

/// A connection of its own to the Redis at `url`, for the names'
/// directory (`crate::accounts`).
pub(crate) async fn connect_url(url: &str) -> Result<ConnectionManager, StoreError> {
    let connect_error = |source| StoreError::RedisConnect {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(connect_error)?;
    connect(&client, RESPONSE_TIMEOUT)
        .await
        .map_err(connect_error)
}

/// A connection that reconnects by itself when Redis comes back; a command
/// sent while it is down fails within about `response_timeout`.
async fn connect(
    client: &redis::Client,
    response_timeout: Duration,
) -> redis::RedisResult<ConnectionManager> {
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(response_timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500));
    ConnectionManager::new_with_config(client.clone(), config).await
}

/// The names of the keys.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    instance: u64,
}

impl Keys {
    pub(crate) fn new(prefix: &str, instance: u64) -> Self {
        Self {
            prefix: prefix.to_owned(),
            instance,
        }
    }

    /// This instance's number: what it signs its notices with.
    pub(crate) fn instance(&self) -> u64 {
        self.instance
    }

    /// The hash tag every key of `room` starts with: Redis Cluster places
    /// keys by the part in braces, so a room's keys stay together.
    pub(crate) fn tag(&self, room: &str) -> String {
        format!("{{{}:{room}}}", self.prefix)
    }

    /// The room's log; entry `N-0` is the event with `seq` N.
    pub(crate) fn log(&self, room: &str) -> String {
        format!("{}:log", self.tag(room))
    }

    /// Each held message's current state (JSON), by id.
    pub(crate) fn messages(&self, room: &str) -> String {
        format!("{}:messages", self.tag(room))
    }

    /// The ids in `messages`, scored by themselves: pages and trimming.
    pub(crate) fn ids(&self, room: &str) -> String {
        format!("{}:ids", self.tag(room))
    }

    /// The room's rules, `protocol::RoomRules` as JSON.
    pub(crate) fn rules(&self, room: &str) -> String {
        format!("{}:rules", self.tag(room))
    }

    /// Set while the room was locked, up to the release of 2026-12-07
    /// (read while `rules` is not written yet, then deleted).
    pub(crate) fn locked(&self, room: &str) -> String {
        format!("{}:locked", self.tag(room))
    }

    /// Who was muted in the room, up to the release of 2026-12-07: name
    /// key to until (ms since the epoch; read and deleted as `locked`).
    pub(crate) fn mutes(&self, room: &str) -> String {
        format!("{}:mutes", self.tag(room))
    }

    /// The room's last `seq` given out.
    pub(crate) fn seq(&self, room: &str) -> String {
        format!("{}:seq", self.tag(room))
    }

    /// What `user` stored in `room` under `client_id`, for idempotent
    /// resends. The user's length comes first, so no pair of (user, client
    /// id) can spell another's key.
    pub(crate) fn sent(&self, room: &str, user: &str, client_id: &str) -> String {
        format!("{}:sent:{}:{user}:{client_id}", self.tag(room), user.len())
    }

    /// Which instances have names in the room, until when.
    pub(crate) fn room_instances(&self, room: &str) -> String {
        format!("{}:instances", self.tag(room))
    }

    /// The names in the room on each instance.
    pub(crate) fn room_members(&self, room: &str) -> String {
        format!("{}:members", self.tag(room))
    }

    /// Bumped whenever the names in the room change on any instance.
    pub(crate) fn room_version(&self, room: &str) -> String {
        format!("{}:version", self.tag(room))
    }

    /// Every room posted in, by the time of its newest message.
    pub(crate) fn directory(&self) -> String {
        format!("{}:rooms", self.prefix)
    }

    /// Who is typing, in any room: a short stream nobody stores for long.
    pub(crate) fn typing(&self) -> String {
        format!("{}:typing", self.prefix)
    }

    /// Names every instance puts out (see `MessageLog::put_out`).
    pub(crate) fn put_out(&self) -> String {
        format!("{}:put-out", self.prefix)
    }

    /// Where this instance's follower is woken to follow another room.
    pub(crate) fn wake(&self) -> String {
        format!("{}:wake:{}", self.prefix, self.instance)
    }

    /// The source of the name keys, for the presence scripts, which make
    /// a key for each name.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }
}
