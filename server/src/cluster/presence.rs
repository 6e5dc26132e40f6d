//! Unique names and who is online, across instances.
//!
//! A name is held by one token (one browser) at a time, room-wide. Each
//! instance with a connection of the name holds a lease on it, which it
//! refreshes every third of the TTL; a name whose leases all lapsed is free
//! and off the online list. So an instance that crashes, or loses Redis,
//! lets its users go within the TTL (plus a third of it, until another
//! instance sweeps), and a clean shutdown lets them go at once.
//!
//! Keys, under the room's prefix, with `k` a lowercased name:
//! `name:k` = `token\nName` (its holder), `leases:k` = sorted set of
//! instance -> deadline, `online` = sorted set of k -> deadline,
//! `presence-version`, bumped whenever a name comes or goes, so instances
//! read the list again only when it changed.
//!
//! Claims and releases of this instance go through one task, in order, so a
//! release queued before a claim of the same name cannot undo it; whatever
//! is queued goes in one pipeline, which Redis runs in order.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::Keys;
use crate::room::{Feed, JoinError};
use crate::shutdown::Background;
use crate::store::StoreError;

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
local function changed() redis.call('INCR', prefix .. ':presence-version') end
";

/// ARGV: prefix, k, name, token ('' for none), instance, ttl (ms).
/// Returns 1 if the name is now (also) this instance's, 0 if taken.
const CLAIM: &str = r"
local k, name, token, instance, ttl = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
if live_leases(k) > 0 then
  if not is_holder(k, token) then return 0 end
else
  redis.call('SET', holder_key(k), token .. '\n' .. name)
  changed()
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
  changed()
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
    changed()
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
    changed()
  end
end
return 1
";

/// ARGV: prefix. Returns k, name, k, name, ... for every name online.
const SNAPSHOT: &str = r"
local online = redis.call('ZRANGEBYSCORE', prefix .. ':online', now, '+inf')
local out = {}
for _, k in ipairs(online) do
  local holder = redis.call('GET', holder_key(k))
  if holder then
    local newline = string.find(holder, '\n', 1, true)
    table.insert(out, k)
    table.insert(out, string.sub(holder, newline + 1))
  end
end
return out
";

/// What the presence task is asked to do, in order.
pub enum PresenceCommand {
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

pub struct ClusterPresence {
    commands: mpsc::UnboundedSender<PresenceCommand>,
    task: Background<JoinHandle<()>>,
}

impl ClusterPresence {
    /// Registers this instance and starts the task that claims, releases,
    /// refreshes and reads who is online.
    pub async fn start(
        mut redis: ConnectionManager,
        keys: Keys,
        ttl: Duration,
        feed: &Feed,
    ) -> Result<Self, StoreError> {
        let instance: u64 = redis
            .incr(format!("{}:instances", keys.prefix()), 1)
            .await?;
        let (commands, queue) = mpsc::unbounded_channel();
        feed.report_releases(commands.clone());
        let worker = Worker {
            redis,
            prefix: keys.prefix().to_owned(),
            instance: instance.to_string(),
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            feed: feed.clone(),
            scripts: Scripts::new(),
            version: None,
        };
        let task = tokio::spawn(worker.run(queue, ttl));
        Ok(Self {
            commands,
            task: Background::new(task),
        })
    }

    /// Claims `name` for `token` room-wide, or says why not.
    pub async fn claim(&self, name: &str, token: Option<&str>) -> Result<(), JoinError> {
        let (reply, answer) = oneshot::channel();
        let command = PresenceCommand::Claim {
            name: name.to_owned(),
            token: token.map(str::to_owned),
            reply,
        };
        if self.commands.send(command).is_err() {
            return Err(JoinError::Unavailable("the server is stopping".into()));
        }
        match tokio::time::timeout(CLAIM_PATIENCE, answer).await {
            Ok(Ok(Ok(true))) => Ok(()),
            Ok(Ok(Ok(false))) => Err(JoinError::Taken),
            Ok(Ok(Err(error))) => Err(JoinError::Unavailable(error.to_string())),
            Ok(Err(_)) => Err(JoinError::Unavailable("the server is stopping".into())),
            Err(_) => Err(JoinError::Unavailable(
                "Redis did not answer in time".into(),
            )),
        }
    }

    /// Lets go of every name released so far and stops.
    pub async fn close(&self) {
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
    snapshot: Script,
}

impl Scripts {
    fn new() -> Self {
        let script = |body: &str| Script::new(&format!("{PRELUDE}{body}"));
        Self {
            claim: script(CLAIM),
            release: script(RELEASE),
            refresh: script(REFRESH),
            snapshot: script(SNAPSHOT),
        }
    }
}

struct Worker {
    redis: ConnectionManager,
    prefix: String,
    instance: String,
    ttl_ms: u64,
    feed: Feed,
    scripts: Scripts,
    /// The presence version of the list last read.
    version: Option<u64>,
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
                _ = refresh.tick() => self.refresh().await,
                _ = poll.tick() => self.poll().await,
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
                            .arg(&self.prefix)
                            .arg(name.to_lowercase())
                            .arg(&name)
                            .arg(token.as_deref().unwrap_or(""))
                            .arg(&self.instance)
                            .arg(self.ttl_ms),
                    );
                    claims.push((name, reply));
                }
                // Unless a connection of the name arrived since its last
                // one here left.
                PresenceCommand::Release(name) if !self.feed.is_held_here(&name) => {
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
                .filter(|name| !self.feed.is_held_here(name))
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
            .arg(&self.prefix)
            .arg(name.to_lowercase())
            .arg(&self.instance);
        invocation
    }

    async fn refresh(&mut self) {
        let held = self.feed.held_here();
        // An empty chunk still sweeps names other instances left behind.
        for chunk in held
            .chunks(REFRESH_CHUNK)
            .chain(held.is_empty().then_some(&[][..]))
        {
            let mut invocation = self.scripts.refresh.prepare_invoke();
            invocation
                .arg(&self.prefix)
                .arg(&self.instance)
                .arg(self.ttl_ms);
            for (name, token) in chunk {
                invocation
                    .arg(name.to_lowercase())
                    .arg(token.as_deref().unwrap_or(""))
                    .arg(name);
            }
            let refreshed: redis::RedisResult<()> = invocation.invoke_async(&mut self.redis).await;
            if let Err(error) = refreshed {
                tracing::warn!(%error, "cannot refresh who is online here");
                return;
            }
        }
    }

    /// Reads who is online if anything changed since the last read.
    async fn poll(&mut self) {
        let version: redis::RedisResult<Option<u64>> = self
            .redis
            .get(format!("{}:presence-version", self.prefix))
            .await;
        let Ok(version) = version else { return };
        if version.is_some() && version == self.version {
            return;
        }
        let online: redis::RedisResult<Vec<String>> = self
            .scripts
            .snapshot
            .arg(&self.prefix)
            .invoke_async(&mut self.redis)
            .await;
        let Ok(online) = online else { return };
        let room: BTreeMap<String, String> = online
            .chunks_exact(2)
            .map(|pair| (pair[0].clone(), pair[1].clone()))
            .collect();
        self.feed.set_room(room);
        self.version = version;
    }
}
