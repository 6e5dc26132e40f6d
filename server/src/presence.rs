//! Unique names, and who is in which room, across instances.
//!
//! A name is held by one token (one browser) at a time, room-wide. Each
//! instance with a connection of the name holds a lease on it, which it
//! refreshes every third of the TTL; a name whose leases all lapsed is free
//! and off the online list. So an instance that crashes, or loses Redis,
//! lets its users go within the TTL (plus a third of it, until another
//! instance sweeps), and a clean shutdown lets them go at once.
//!
//! Names, under the prefix, with `k` a lowercased name: `name:k` =
//! `token\nName` (its holder), `leases:k` = sorted set of instance ->
//! deadline, `online` = sorted set of k -> deadline (every name held
//! anywhere).
//!
//! Rooms, under the room's hash tag `{prefix:room}`: `members` = hash of
//! instance -> the names in the room there (one per line), `instances` =
//! sorted set of instance -> deadline, `version`, bumped whenever an
//! instance's names change, so instances read a room again only when it
//! changed (and every refresh, to notice an instance that died). Each
//! instance writes its own names of the rooms it has, and reads the others'
//! for the same rooms.
//!
//! Claims and releases of this instance go through one task, in order, so a
//! release queued before a claim of the same name cannot undo it; whatever
//! is queued goes in one pipeline, which Redis runs in order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::Script;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::cluster::Keys;
use crate::shutdown::Background;

/// Before a claimed name in the lists of names instances publish to each
/// other (a name never has a control character).
pub(crate) const CLAIMED_MARK: char = '\u{1}';

/// A name as published (perhaps marked claimed): the name, and whether.
pub(crate) fn unmarked(published: &str) -> (&str, bool) {
    match published.strip_prefix(CLAIMED_MARK) {
        Some(name) => (name, true),
        None => (published, false),
    }
}

/// Why a name could not be claimed across the instances.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PresenceError {
    #[error("the name is taken")]
    Taken,
    /// Redis did not answer (in time), or the server is stopping.
    #[error("{0}")]
    Unavailable(String),
}

/// A name held here, as the presence task reads it (the rooms' own
/// `Name`: held by pointer, no copy of its text per refresh).
pub(crate) trait HeldName: Send + Sync {
    /// As the server compares names (see `protocol::name_key`).
    fn key(&self) -> &str;
    /// As spelled.
    fn as_str(&self) -> &str;
}

/// How long a join waits for its claim before telling the client to retry.
const CLAIM_PATIENCE: Duration = Duration::from_secs(5);
/// Names refreshed per script call, so none holds Redis for long.
const REFRESH_CHUNK: usize = 500;
/// Most claims and releases sent in one pipeline.
const MAX_BATCH: usize = 512;

/// Shared by every script: Redis's clock, and a lease of `instance` on
/// name key `k` until `now + ttl`.
const PRELUDE: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local prefix = ARGV[1]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function holder_key(k) return prefix .. ':name:' .. k end
local function leases_key(k) return prefix .. ':leases:' .. k end
local function lease(k, instance, ttl)
  redis.call('ZADD', leases_key(k), now + ttl, instance)
  redis.call('PEXPIRE', leases_key(k), ttl)
  redis.call('PEXPIRE', holder_key(k), ttl)
  redis.call('ZADD', prefix .. ':online', now + ttl, k)
end
local function live_leases(k)
  redis.call('ZREMRANGEBYSCORE', leases_key(k), '-inf', now)
  return redis.call('ZCARD', leases_key(k))
end
local function is_holder(k, token)
  local holder = redis.call('GET', holder_key(k))
  return token ~= '' and holder and string.sub(holder, 1, #token + 1) == token .. '\n'
end
";

/// ARGV: prefix, k, name, token ('' for none), instance, ttl (ms).
/// Returns 1 if the name is now (also) this instance's, 0 if taken.
const CLAIM: &str = r"
local k, name, token, instance, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if live_leases(k) > 0 then
  if not is_holder(k, token) then return 0 end
else
  redis.call('SET', holder_key(k), token .. '\n' .. name)
end
lease(k, instance, ttl)
return 1
";

/// ARGV: prefix, k, instance.
const RELEASE: &str = r"
local k, instance = ARGV[2], ARGV[3]
redis.call('ZREM', leases_key(k), instance)
if live_leases(k) == 0 then
  redis.call('DEL', holder_key(k), leases_key(k))
  redis.call('ZREM', prefix .. ':online', k)
end
return 1
";

/// ARGV: prefix, instance, ttl (ms), then k, token, name for each name held
/// here. Renews this instance's leases (taking back a name whose leases
/// lapsed while nobody claimed it), then frees names nobody renewed.
const REFRESH: &str = r"
local instance, ttl = ARGV[2], tonumber(ARGV[3])
for i = 4, #ARGV, 3 do
  local k, token, name = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if live_leases(k) == 0 then
    redis.call('SET', holder_key(k), token .. '\n' .. name)
    lease(k, instance, ttl)
  elseif is_holder(k, token) then
    lease(k, instance, ttl)
  end
end
local lapsed = redis.call('ZRANGEBYSCORE', prefix .. ':online', '-inf', now)
for _, k in ipairs(lapsed) do
  if live_leases(k) == 0 then
    redis.call('DEL', holder_key(k), leases_key(k))
    redis.call('ZREM', prefix .. ':online', k)
  end
end
return 1
";

/// KEYS: instances, members, version. ARGV: instance, ttl (ms), the names
/// in the room here (one per line; empty when nobody is). Publishes this
/// instance's part of the room.
const PUBLISH_ROOM: &str = r"
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local instance, ttl, names = ARGV[1], tonumber(ARGV[2]), ARGV[3]
if names == '' then
  redis.call('ZREM', KEYS[1], instance)
  redis.call('HDEL', KEYS[2], instance)
else
  redis.call('ZADD', KEYS[1], now + ttl, instance)
  redis.call('HSET', KEYS[2], instance, names)
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ttl * 10)
return 1
";

/// KEYS: instances, members. ARGV: instance. Returns the names in the room
/// on the other live instances, one per line in each entry.
const READ_ROOM: &str = r"
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local live = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
local out = {}
for _, instance in ipairs(live) do
  if instance ~= ARGV[1] then
    local names = redis.call('HGET', KEYS[2], instance)
    if names then table.insert(out, names) end
  end
end
return out
";

/// What the rooms tell the presence task and ask of it (implemented by
/// the rooms, so that this module depends on nothing above it).
pub(crate) trait PresenceView: Send + Sync + 'static {
    /// The names connected here, as spelled, with their tokens.
    fn held_here(&self) -> Vec<(Arc<dyn HeldName>, Option<String>)>;
    fn is_held_here(&self, name: &str) -> bool;
    /// Each room in memory here, with the names in it here.
    fn members_here(&self) -> Vec<(String, Vec<String>)>;
    /// Who is in `room` on the other instances (lowercased name to name).
    fn set_elsewhere(&self, room: &str, elsewhere: BTreeMap<String, String>);
}

/// What the presence task is asked to do, in order.
pub(crate) enum PresenceCommand {
    Claim {
        name: String,
        token: Option<String>,
        reply: oneshot::Sender<redis::RedisResult<bool>>,
    },
    /// The last connection of this name here closed.
    Release(String),
    /// Finish what is queued before this, then stop.
    Stop,
}

pub(crate) struct ClusterPresence {
    commands: mpsc::UnboundedSender<PresenceCommand>,
    task: Background<JoinHandle<()>>,
    redis: ConnectionManager,
    keys: Keys,
    instance: String,
    read_room: Script,
}

impl ClusterPresence {
    /// Registers this instance and starts the task that claims, releases,
    /// refreshes and reads who is online.
    pub(crate) fn start(
        redis: ConnectionManager,
        keys: Keys,
        instance: u64,
        ttl: Duration,
        view: Arc<dyn PresenceView>,
    ) -> Self {
        let (commands, queue) = mpsc::unbounded_channel();
        let worker = Worker {
            redis: redis.clone(),
            keys: keys.clone(),
            instance: instance.to_string(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            view,
            scripts: Scripts::new(),
            published: HashMap::new(),
            versions: HashMap::new(),
        };
        let task = tokio::spawn(worker.run(queue, ttl));
        Self {
            commands,
            task: Background::new(task),
            redis,
            keys,
            instance: instance.to_string(),
            read_room: Script::new(READ_ROOM),
        }
    }

    /// Where to report that the last connection of a name here closed.
    pub(crate) fn commands(&self) -> mpsc::UnboundedSender<PresenceCommand> {
        self.commands.clone()
    }

    /// Who is in `room` on the other instances, right now: what a room
    /// starts with here, before the next poll.
    pub(crate) async fn read_room(
        &self,
        room: &str,
    ) -> redis::RedisResult<BTreeMap<String, String>> {
        let lists: Vec<String> = self
            .read_room
            .key(self.keys.room_instances(room))
            .key(self.keys.room_members(room))
            .arg(&self.instance)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(names_by_key(&lists))
    }

    /// Claims `name` for `token` server-wide, or says why not.
    pub(crate) async fn claim(&self, name: &str, token: Option<&str>) -> Result<(), PresenceError> {
        let (reply, answer) = oneshot::channel();
        let command = PresenceCommand::Claim {
            name: name.to_owned(),
            token: token.map(str::to_owned),
            reply,
        };
        if self.commands.send(command).is_err() {
            return Err(PresenceError::Unavailable("the server is stopping".into()));
        }
        match tokio::time::timeout(CLAIM_PATIENCE, answer).await {
            Ok(Ok(Ok(true))) => Ok(()),
            Ok(Ok(Ok(false))) => Err(PresenceError::Taken),
            Ok(Ok(Err(error))) => Err(PresenceError::Unavailable(error.to_string())),
            Ok(Err(_)) => Err(PresenceError::Unavailable("the server is stopping".into())),
            Err(_) => Err(PresenceError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        }
    }

    /// Lets go of every name released so far and stops.
    pub(crate) async fn close(&self) {
        let _ = self.commands.send(PresenceCommand::Stop);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

struct Scripts {
    claim: Script,
    release: Script,
    refresh: Script,
    publish_room: Script,
    read_room: Script,
}

impl Scripts {
    fn new() -> Self {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Self {
            claim: script(CLAIM),
            release: script(RELEASE),
            refresh: script(REFRESH),
            publish_room: Script::new(PUBLISH_ROOM),
            read_room: Script::new(READ_ROOM),
        }
    }
}

struct Worker {
    redis: ConnectionManager,
    keys: Keys,
    instance: String,
    ttl_ms: u64,
    view: Arc<dyn PresenceView>,
    scripts: Scripts,
    /// Each room's names here, as last published.
    published: HashMap<String, String>,
    /// Each room's version as last read.
    versions: HashMap<String, Option<u64>>,
}

impl Worker {
    async fn run(mut self, mut queue: mpsc::UnboundedReceiver<PresenceCommand>, ttl: Duration) {
        let mut refresh = tokio::time::interval(ttl / 3);
        let mut poll = tokio::time::interval(Duration::from_millis(protocol::PRESENCE_INTERVAL_MS));
        refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::new();
        loop {
            tokio::select! {
                biased;
                received = queue.recv_many(&mut batch, MAX_BATCH) => {
                    let stop = received == 0 || self.carry_out(&mut batch).await;
                    if stop {
                        return;
                    }
                }
                _ = refresh.tick() => {
                    self.refresh().await;
                    self.sync_rooms(true).await;
                }
                _ = poll.tick() => self.sync_rooms(false).await,
            }
        }
    }

    /// Carries out `batch` in order, in one round trip (a mass reconnect
    /// after a restart is thousands of claims); says whether it held `Stop`.
    async fn carry_out(&mut self, batch: &mut Vec<PresenceCommand>) -> bool {
        let stop = batch
            .iter()
            .position(|command| matches!(command, PresenceCommand::Stop));
        batch.truncate(stop.unwrap_or(batch.len()));
        let mut pipe = redis::pipe();
        // Loaded first in the same pipeline: after Redis restarted without
        // them, the invocations below still find them.
        pipe.load_script(&self.scripts.claim)
            .ignore()
            .load_script(&self.scripts.release)
            .ignore();
        let mut claims = Vec::new();
        for command in batch.drain(..) {
            match command {
                PresenceCommand::Claim { name, token, reply } => {
                    pipe.invoke_script(
                        self.scripts
                            .claim
                            .arg(self.keys.prefix())
                            .arg(protocol::name_key(&name))
                            .arg(&name)
                            .arg(token.as_deref().unwrap_or(""))
                            .arg(&self.instance)
                            .arg(self.ttl_ms),
                    );
                    claims.push((name, reply));
                }
                // Unless a connection of the name arrived since its last
                // one here left.
                PresenceCommand::Release(name) if !self.view.is_held_here(&name) => {
                    pipe.invoke_script(&self.release(&name)).ignore();
                }
                PresenceCommand::Release(_) | PresenceCommand::Stop => {}
            }
        }
        let granted: redis::RedisResult<Vec<bool>> = pipe.query_async(&mut self.redis).await;
        let mut abandoned = Vec::new();
        match granted {
            Ok(granted) => {
                for ((name, reply), granted) in claims.into_iter().zip(granted) {
                    // The join gave up waiting: do not keep its lease.
                    if reply.send(Ok(granted)).is_err() && granted {
                        abandoned.push(name);
                    }
                }
            }
            Err(error) => {
                // Releases lost here lapse by themselves within the TTL.
                tracing::warn!(%error, "cannot claim or release names");
                for (_, reply) in claims {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
        if !abandoned.is_empty() {
            let mut pipe = redis::pipe();
            for name in abandoned
                .iter()
                .filter(|name| !self.view.is_held_here(name))
            {
                pipe.invoke_script(&self.release(name)).ignore();
            }
            let released: redis::RedisResult<()> = pipe.query_async(&mut self.redis).await;
            if let Err(error) = released {
                tracing::warn!(%error, "cannot release names");
            }
        }
        stop.is_some()
    }

    /// The invocation that gives up this instance's lease on `name`.
    fn release(&self, name: &str) -> redis::ScriptInvocation<'_> {
        let mut invocation = self.scripts.release.prepare_invoke();
        invocation
            .arg(self.keys.prefix())
            .arg(protocol::name_key(name))
            .arg(&self.instance);
        invocation
    }

    async fn refresh(&mut self) {
        let held = self.view.held_here();
        // An empty chunk still sweeps names other instances left behind.
        for chunk in held
            .chunks(REFRESH_CHUNK)
            .chain(held.is_empty().then_some(&[][..]))
        {
            let mut invocation = self.scripts.refresh.prepare_invoke();
            invocation
                .arg(self.keys.prefix())
                .arg(&self.instance)
                .arg(self.ttl_ms);
            for (name, token) in chunk {
                invocation
                    .arg(name.key())
                    .arg(token.as_deref().unwrap_or(""))
                    .arg(name.as_str());
            }
            let refreshed: redis::RedisResult<()> = invocation.invoke_async(&mut self.redis).await;
            if let Err(error) = refreshed {
                tracing::warn!(%error, "cannot refresh who is online here");
                return;
            }
        }
    }

    /// Publishes who is in the rooms here and reads who is in them
    /// elsewhere; with `all`, every room (a refresh), else those that changed.
    async fn sync_rooms(&mut self, all: bool) {
        let rooms = self.view.members_here();
        let names: HashSet<String> = rooms.iter().map(|(room, _)| room.clone()).collect();
        self.publish_rooms(rooms, all).await;
        self.read_rooms(names, all).await;
    }

    /// Publishes this instance's names of each room whose names changed
    /// (of every room, on a refresh, which also keeps them from lapsing),
    /// in one round trip.
    async fn publish_rooms(&mut self, rooms: Vec<(String, Vec<String>)>, all: bool) {
        let mut pipe = redis::pipe();
        pipe.load_script(&self.scripts.publish_room).ignore();
        // What is left of the last publication afterwards: rooms dropped
        // from memory since, whose names here are gone.
        let mut last_published = std::mem::take(&mut self.published);
        let mut changed = false;
        for (room, mut names) in rooms {
            names.sort();
            let names = names.join("\n");
            // A room without names here is published once, empty, then
            // forgotten.
            let last = last_published.remove(&room).unwrap_or_default();
            if (all && !names.is_empty()) || last != names {
                self.publish_room(&mut pipe, &room, &names);
                changed = true;
            }
            if !names.is_empty() {
                self.published.insert(room, names);
            }
        }
        for room in last_published.keys() {
            self.publish_room(&mut pipe, room, "");
            changed = true;
        }
        if !changed {
            return;
        }
        let done: redis::RedisResult<()> = pipe.query_async(&mut self.redis).await;
        if let Err(error) = done {
            tracing::warn!(%error, "cannot publish who is in the rooms here");
            // Published again, every room, at the next poll.
            self.published.clear();
        }
    }

    /// Adds to `pipe` the publication of this instance's `names` of `room`
    /// (one per line; none: nobody here).
    fn publish_room(&self, pipe: &mut redis::Pipeline, room: &str, names: &str) {
        pipe.invoke_script(
            self.scripts
                .publish_room
                .key(self.keys.room_instances(room))
                .key(self.keys.room_members(room))
                .key(self.keys.room_version(room))
                .arg(&self.instance)
                .arg(self.ttl_ms)
                .arg(names),
        )
        .ignore();
    }

    /// Reads who is in each of `rooms` on the other instances, for the
    /// rooms whose version changed since the last read (every room, with
    /// `all`).
    async fn read_rooms(&mut self, rooms: HashSet<String>, all: bool) {
        self.versions.retain(|room, _| rooms.contains(room));
        if rooms.is_empty() {
            return;
        }
        let rooms: Vec<String> = rooms.into_iter().collect();
        let mut versions = redis::pipe();
        for room in &rooms {
            versions.get(self.keys.room_version(room));
        }
        let versions: redis::RedisResult<Vec<Option<u64>>> =
            versions.query_async(&mut self.redis).await;
        let Ok(versions) = versions else { return };
        let stale: Vec<(String, Option<u64>)> = rooms
            .into_iter()
            .zip(versions)
            .filter(|(room, version)| all || self.versions.get(room) != Some(version))
            .collect();
        if stale.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        pipe.load_script(&self.scripts.read_room).ignore();
        for (room, _) in &stale {
            pipe.invoke_script(
                self.scripts
                    .read_room
                    .key(self.keys.room_instances(room))
                    .key(self.keys.room_members(room))
                    .arg(&self.instance),
            );
        }
        let lists: redis::RedisResult<Vec<Vec<String>>> = pipe.query_async(&mut self.redis).await;
        let Ok(lists) = lists else { return };
        for ((room, version), lists) in stale.into_iter().zip(lists) {
            self.view.set_elsewhere(&room, names_by_key(&lists));
            self.versions.insert(room, version);
        }
    }
}

/// Names listed one per line in each of `lists`, by key.
fn names_by_key(lists: &[String]) -> BTreeMap<String, String> {
    lists
        .iter()
        .flat_map(|list| list.lines())
        .filter(|name| !name.is_empty())
        .map(|name| {
            let (unmarked, _) = unmarked(name);
            (protocol::name_key(unmarked), name.to_owned())
        })
        .collect()
}
