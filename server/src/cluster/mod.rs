//! Several instances sharing one room through Redis.
//!
//! - [`RedisLog`]: the messages, in a Redis stream every instance follows.
//! - [`ClusterPresence`]: unique names and who is online, as leases that
//!   each live instance keeps refreshing.
//!
//! Everything that must be atomic across instances (assigning an id and
//! appending, claiming a name) is one Lua script, so Redis runs it as one
//! step. The scripts address a single Redis (a primary, with replicas or
//! Sentinel if wanted), not a Redis Cluster: the keys of a room are not
//! spread over shards.

mod log;
mod presence;

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

pub use log::RedisLog;
pub use presence::{ClusterPresence, PresenceCommand};

use crate::config::Config;
use crate::room::Feed;
use crate::store::StoreError;

/// How long one Redis command may take before it counts as failed. Short:
/// a sender is waiting for the answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to the Redis at `url`, loads the room's newest messages into
/// `feed` and starts following the stream and refreshing presence.
pub async fn open(
    url: &str,
    config: &Config,
    feed: &Feed,
) -> Result<(RedisLog, ClusterPresence), StoreError> {
    let connect_error = |source| StoreError::RedisConnect {
        url: url.to_owned(),
        source,
    };
    let client = redis::Client::open(url).map_err(connect_error)?;
    let commands = connect(&client, RESPONSE_TIMEOUT)
        .await
        .map_err(connect_error)?;
    // Blocking reads get a connection of their own: on a shared one they
    // would hold up every command queued behind them.
    let follower = connect(&client, log::FOLLOW_BLOCK + RESPONSE_TIMEOUT)
        .await
        .map_err(connect_error)?;
    let keys = Keys::new(&config.redis_prefix);
    let log = RedisLog::open(commands.clone(), follower, keys.clone(), config, feed).await?;
    let ttl = Duration::from_secs(config.presence_ttl.max(1));
    let presence = ClusterPresence::start(commands, keys, ttl, feed).await?;
    tracing::info!(%url, prefix = %config.redis_prefix, "sharing the room through Redis");
    Ok((log, presence))
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

/// The names of a room's keys.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
        }
    }

    /// The stream of messages; entry `N-0` is message `N`.
    fn log(&self) -> String {
        format!("{}:log", self.prefix)
    }

    /// The last id given out.
    fn seq(&self) -> String {
        format!("{}:seq", self.prefix)
    }

    /// Who is typing: a short stream nobody stores for long.
    fn typing(&self) -> String {
        format!("{}:typing", self.prefix)
    }

    /// What `user` stored under `client_id`, for idempotent resends. The
    /// user's length comes first, so no pair of (user, client id) can spell
    /// another's key.
    fn sent(&self, user: &str, client_id: &str) -> String {
        format!("{}:sent:{}:{user}:{client_id}", self.prefix, user.len())
    }

    /// The source of every other key, for the presence scripts, which make
    /// a key for each name.
    fn prefix(&self) -> &str {
        &self.prefix
    }
}
