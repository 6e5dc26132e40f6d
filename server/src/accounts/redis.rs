//! Claimed names and sessions in Redis, shared by every instance: a claim
//! or a password change made through one holds on all.
//!
//! Keys: `prefix:account:<name key>`, a hash (`name`, `password`,
//! `generation`, `claimedAt`), kept for good; `prefix:session:<id>`, a
//! hash (`key`, `name`, `generation`, empty for a guest, `kind`), which
//! expires with the session (an API token's never does). Each is one key,
//! so any node of a Redis Cluster can hold it. A password change does not
//! list the name's other sessions: their generation no longer matches the
//! account's, so they sign nobody in, and they expire.

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use super::{Account, SessionKind, SessionRecord};
use crate::store::StoreError;

/// KEYS: the account. ARGV: name, password, now. 1 if claimed now, 0 if
/// it was someone's already.
const CREATE_ACCOUNT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'password', ARGV[2], 'generation', 1, 'claimedAt', ARGV[3])
return 1
";

/// KEYS: the account. ARGV: the new password. The account's new
/// generation, or nil.
const SET_PASSWORD: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
redis.call('HSET', KEYS[1], 'password', ARGV[1])
return redis.call('HINCRBY', KEYS[1], 'generation', 1)
";

/// KEYS: the session. ARGV: the generation. Only an existing session.
const SET_GENERATION: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'generation', ARGV[1])
end
return 1
";

pub(crate) struct RedisDirectory {
    redis: ConnectionManager,
    prefix: String,
}

impl RedisDirectory {
    pub(crate) fn new(redis: ConnectionManager, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_owned(),
        }
    }

    fn account_key(&self, key: &str) -> String {
        format!("{}:account:{key}", self.prefix)
    }

    fn session_key(&self, id: &str) -> String {
        format!("{}:session:{id}", self.prefix)
    }

    pub(crate) async fn account(&self, key: String) -> Result<Option<Account>, StoreError> {
        let fields: HashMap<String, String> =
            self.redis.clone().hgetall(self.account_key(&key)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let field = |name: &str| {
            fields
                .get(name)
                .cloned()
                .ok_or_else(|| StoreError::CorruptEntry(format!("account {key:?} has no {name}")))
        };
        Ok(Some(Account {
            name: field("name")?,
            password: field("password")?,
            generation: field("generation")?
                .parse()
                .map_err(|_| StoreError::CorruptEntry(format!("account {key:?}'s generation")))?,
        }))
    }

    pub(crate) async fn create_account(
        &self,
        key: String,
        name: String,
        password: String,
        now: i64,
    ) -> Result<bool, StoreError> {
        let created: i64 = Script::new(CREATE_ACCOUNT)
            .key(self.account_key(&key))
            .arg(name)
            .arg(password)
            .arg(now)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(created == 1)
    }

    pub(crate) async fn set_password(
        &self,
        key: String,
        password: String,
        keep: String,
    ) -> Result<Option<i64>, StoreError> {
        let generation: Option<i64> = Script::new(SET_PASSWORD)
            .key(self.account_key(&key))
            .arg(password)
            .invoke_async(&mut self.redis.clone())
            .await?;
        // Two steps, not one script: the account and the session are keys
        // of different Cluster slots. Failing between them signs out the
        // kept session too, nothing worse.
        if let Some(generation) = generation {
            self.set_session_generation(keep, generation).await?;
        }
        Ok(generation)
    }

    pub(crate) async fn insert_session(
        &self,
        id: String,
        record: SessionRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        let key = self.session_key(&id);
        let generation = record
            .generation
            .map_or_else(String::new, |generation| generation.to_string());
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("key", record.key.as_str()),
                    ("name", record.name.as_str()),
                    ("generation", generation.as_str()),
                    ("kind", record.kind.as_str()),
                ],
            )
            .ignore();
        if let Some(expires_at) = record.expires_at {
            pipe.pexpire(&key, (expires_at - now).max(1)).ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        Ok(())
    }

    pub(crate) async fn session(&self, id: String) -> Result<Option<SessionRecord>, StoreError> {
        let key = self.session_key(&id);
        let mut redis = self.redis.clone();
        let (fields, ttl): (HashMap<String, String>, i64) = redis::pipe()
            .hgetall(&key)
            .pttl(&key)
            .query_async(&mut redis)
            .await?;
        let (Some(name_key), Some(name), Some(kind)) =
            (fields.get("key"), fields.get("name"), fields.get("kind"))
        else {
            return Ok(None);
        };
        let generation = fields
            .get("generation")
            .filter(|generation| !generation.is_empty())
            .map(|generation| generation.parse())
            .transpose()
            .map_err(|_| StoreError::CorruptEntry(format!("session {id:?}'s generation")))?;
        Ok(Some(SessionRecord {
            key: name_key.clone(),
            name: name.clone(),
            generation,
            kind: SessionKind::from_stored(kind),
            // Redis forgets it when it expires: still here is still valid.
            expires_at: (ttl > 0).then_some(i64::MAX),
        }))
    }

    pub(crate) async fn set_session_generation(
        &self,
        id: String,
        generation: i64,
    ) -> Result<(), StoreError> {
        let _: i64 = Script::new(SET_GENERATION)
            .key(self.session_key(&id))
            .arg(generation)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    pub(crate) async fn delete_session(&self, id: String) -> Result<(), StoreError> {
        let _: i64 = self.redis.clone().del(self.session_key(&id)).await?;
        Ok(())
    }
}
