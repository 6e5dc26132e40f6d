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

use protocol::ServerFrame;

use super::{Account, Audited, SessionKind, SessionRecord};
use crate::events::Moderation;
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

/// KEYS: the account. ARGV: its password as read, the new one. Only if
/// it is still as read; 1 if written.
const SWAP_PASSWORD: &str = r"
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
return 1
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

    /// The account's password, from `old` to `new` (its sessions stay):
    /// false if it was no longer `old`.
    pub(crate) async fn swap_password(
        &self,
        key: String,
        old: String,
        new: String,
    ) -> Result<bool, StoreError> {
        let swapped: i64 = Script::new(SWAP_PASSWORD)
            .key(self.account_key(&key))
            .arg(old)
            .arg(new)
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(swapped == 1)
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
        let expires = record
            .expires_at
            .map_or_else(String::new, |at| at.to_string());
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("key", record.key.as_str()),
                    ("name", record.name.as_str()),
                    ("generation", generation.as_str()),
                    ("kind", record.kind.as_str()),
                    ("expires", expires.as_str()),
                    ("label", record.label.as_deref().unwrap_or_default()),
                    (
                        "guestSession",
                        record.guest_session.as_deref().unwrap_or_default(),
                    ),
                ],
            )
            .ignore();
        if let Some(expires_at) = record.expires_at {
            pipe.pexpire(&key, (expires_at - now).max(1)).ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        // The name's tokens, to list them (another Cluster slot: a token
        // listed after it expired is dropped from the list when read).
        if record.kind == SessionKind::ApiToken {
            let _: i64 = self
                .redis
                .clone()
                .sadd(self.tokens_key(&record.key), &id)
                .await?;
        }
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
            expires_at: fields
                .get("expires")
                .and_then(|at| at.parse().ok())
                .or((ttl > 0).then_some(i64::MAX)),
            label: fields
                .get("label")
                .filter(|label| !label.is_empty())
                .cloned(),
            guest_session: fields
                .get("guestSession")
                .filter(|id| !id.is_empty())
                .cloned(),
        }))
    }

    fn tokens_key(&self, key: &str) -> String {
        format!("{}:tokens:{key}", self.prefix)
    }

    /// The API tokens of the name keyed `key`, by id (those expired since
    /// are dropped from its list).
    pub(crate) async fn tokens(
        &self,
        key: String,
    ) -> Result<Vec<(String, SessionRecord)>, StoreError> {
        let ids: Vec<String> = self.redis.clone().smembers(self.tokens_key(&key)).await?;
        let mut tokens = Vec::new();
        for id in ids {
            match self.session(id.clone()).await? {
                Some(record) => tokens.push((id, record)),
                None => {
                    let _: i64 = self.redis.clone().srem(self.tokens_key(&key), &id).await?;
                }
            }
        }
        tokens.sort_by_key(|(_, record)| record.expires_at);
        Ok(tokens)
    }

    /// Forgets the API token `id` of the name keyed `key`.
    pub(crate) async fn delete_token(&self, key: String, id: String) -> Result<(), StoreError> {
        let _: i64 = self.redis.clone().srem(self.tokens_key(&key), &id).await?;
        self.delete_session(id).await
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

/// The rooms a claimed name has joined: `prefix:rooms:<key>`, a sorted set
/// of rooms scored by when joined.
impl RedisDirectory {
    fn rooms_key(&self, key: &str) -> String {
        format!("{}:rooms:{key}", self.prefix)
    }

    /// The newest `kept` (a list from before there was a cap may be longer).
    pub(crate) async fn rooms_of(
        &self,
        key: String,
        kept: usize,
    ) -> Result<Vec<String>, StoreError> {
        let from = -isize::try_from(kept).unwrap_or(isize::MAX);
        Ok(self
            .redis
            .clone()
            .zrange(self.rooms_key(&key), from, -1)
            .await?)
    }

    pub(crate) async fn keep_room(
        &self,
        key: String,
        room: String,
        joined: bool,
        now: i64,
        kept: usize,
    ) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let rooms = self.rooms_key(&key);
        if joined {
            // NX: a room joined again keeps its place. Then the newest
            // `kept` stay (ranks from 0 to -(kept + 1) are the older ones).
            let kept = i64::try_from(kept).unwrap_or(i64::MAX);
            let _: (i64, i64) = redis::pipe()
                .atomic()
                .cmd("ZADD")
                .arg(&rooms)
                .arg("NX")
                .arg(now)
                .arg(room)
                .cmd("ZREMRANGEBYRANK")
                .arg(&rooms)
                .arg(0)
                .arg(-kept.saturating_add(1))
                .query_async(&mut redis)
                .await?;
        } else {
            let _: i64 = redis.zrem(rooms, room).await?;
        }
        Ok(())
    }
}

/// Moderators and bans (see `super::moderation`): `prefix:moderators`, a
/// set of `room\tkey` (`\tkey` for every room); `prefix:bans`, a hash of
/// subject to `until\tname\treason` (`until` empty for good);
/// `prefix:audit`, the newest moderators' actions (JSON), newest first.
impl RedisDirectory {
    fn moderators_key(&self) -> String {
        format!("{}:moderators", self.prefix)
    }

    fn bans_key(&self) -> String {
        format!("{}:bans", self.prefix)
    }

    fn audit_key(&self) -> String {
        format!("{}:audit", self.prefix)
    }

    pub(crate) async fn is_moderator(&self, key: String, room: String) -> Result<bool, StoreError> {
        let (here, everywhere): (bool, bool) = redis::pipe()
            .sismember(self.moderators_key(), format!("{room}\t{key}"))
            .sismember(self.moderators_key(), format!("\t{key}"))
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(here || everywhere)
    }

    pub(crate) async fn set_moderator(
        &self,
        key: String,
        room: String,
        on: bool,
    ) -> Result<(), StoreError> {
        let member = format!("{room}\t{key}");
        let mut redis = self.redis.clone();
        if on {
            let _: i64 = redis.sadd(self.moderators_key(), member).await?;
        } else {
            let _: i64 = redis.srem(self.moderators_key(), member).await?;
        }
        Ok(())
    }

    pub(crate) async fn ban(&self, ban: super::moderation::Ban) -> Result<(), StoreError> {
        let until = ban.until.map(|at| at.to_string()).unwrap_or_default();
        let value = format!(
            "{until}\t{}\t{}",
            ban.name,
            ban.reason.as_deref().unwrap_or_default()
        );
        let _: i64 = self
            .redis
            .clone()
            .hset(self.bans_key(), ban.subject, value)
            .await?;
        Ok(())
    }

    pub(crate) async fn unban(&self, name: String) -> Result<(), StoreError> {
        let mut redis = self.redis.clone();
        let all: HashMap<String, String> = redis.hgetall(self.bans_key()).await?;
        let lifted: Vec<String> = all
            .into_iter()
            .filter(|(_, value)| value.split('\t').nth(1) == Some(name.as_str()))
            .map(|(subject, _)| subject)
            .collect();
        if !lifted.is_empty() {
            let _: i64 = redis.hdel(self.bans_key(), lifted).await?;
        }
        Ok(())
    }

    pub(crate) async fn bans(
        &self,
        subjects: Vec<String>,
    ) -> Result<Vec<super::moderation::Ban>, StoreError> {
        if subjects.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.bans_key())
            .arg(&subjects)
            .query_async(&mut self.redis.clone())
            .await?;
        Ok(subjects
            .into_iter()
            .zip(values)
            .filter_map(|(subject, value)| ban_of(subject, &value?))
            .collect())
    }

    /// Every ban kept, lifted by time or not.
    pub(crate) async fn all_bans(&self) -> Result<Vec<super::moderation::Ban>, StoreError> {
        let all: HashMap<String, String> = self.redis.clone().hgetall(self.bans_key()).await?;
        Ok(all
            .into_iter()
            .filter_map(|(subject, value)| ban_of(subject, &value))
            .collect())
    }

    /// Keeps `entry` (JSON) at the head of the audit list, which holds
    /// the newest `keep`.
    pub(crate) async fn record(
        &self,
        room: &str,
        moderation: &Moderation,
        keep: usize,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            v: AUDIT_VERSION,
            room: room.to_owned(),
            moderation: moderation.clone(),
        };
        let entry =
            serde_json::to_string(&entry).map_err(|error| StoreError::Failed(error.to_string()))?;
        let last = isize::try_from(keep).unwrap_or(isize::MAX) - 1;
        redis::pipe()
            .lpush(self.audit_key(), entry)
            .ignore()
            .ltrim(self.audit_key(), 0, last)
            .ignore()
            .query_async::<()>(&mut self.redis.clone())
            .await?;
        Ok(())
    }

    /// The newest `limit` actions recorded.
    pub(crate) async fn audit(&self, limit: usize) -> Result<Vec<Audited>, StoreError> {
        let last = isize::try_from(limit).unwrap_or(isize::MAX) - 1;
        let entries: Vec<String> = self.redis.clone().lrange(self.audit_key(), 0, last).await?;
        Ok(entries.iter().filter_map(|entry| recorded(entry)).collect())
    }
}

/// The audit's entries from this release on: the log's own `Moderation`,
/// versioned, with its room. (Until 2026-12-07 an entry was the wire's
/// `moderated` frame, so that the storage changed with the protocol; those
/// are still read.)
const AUDIT_VERSION: u32 = 1;

#[derive(serde::Serialize, serde::Deserialize)]
struct AuditEntry {
    v: u32,
    room: String,
    moderation: Moderation,
}

/// An audit entry as the action: this release's, or an earlier one's
/// `moderated` frame.
fn recorded(entry: &str) -> Option<Audited> {
    if let Ok(AuditEntry {
        v: AUDIT_VERSION,
        room,
        moderation,
    }) = serde_json::from_str(entry)
    {
        return Some((room, moderation));
    }
    match ServerFrame::parse(entry) {
        Ok(ServerFrame::Moderated {
            room,
            seq,
            action,
            target,
            id,
            by,
            until,
            reason,
            all_rooms,
            date_time,
        }) => Some((
            room,
            Moderation {
                seq,
                action,
                target,
                id,
                by,
                until,
                reason,
                all_rooms,
                date_time,
            },
        )),
        _ => {
            tracing::warn!(
                entry,
                "skipped an audit entry that is not a moderator's action"
            );
            None
        }
    }
}

/// Password attempts counted across instances: each instance's own
/// budget (`crate::budget`) would let a guesser spread over N instances
/// try N times as often.
impl RedisDirectory {
    /// Counts one attempt for each of `subjects` (a name's key, an
    /// address; each with its limit a minute) in this minute; the wait
    /// until the next minute if any of them is past its limit.
    pub(crate) async fn count_attempt(
        &self,
        subjects: &[(String, u32)],
        now: i64,
    ) -> Result<Option<i64>, StoreError> {
        let minute = now.div_euclid(60_000);
        let mut pipe = redis::pipe();
        for (subject, _) in subjects {
            let key = self.attempts_key(minute, subject);
            pipe.incr(&key, 1).pexpire(&key, 120_000).ignore();
        }
        let counts: Vec<u32> = pipe.query_async(&mut self.redis.clone()).await?;
        Ok(counts
            .iter()
            .zip(subjects)
            .any(|(&count, (_, per_minute))| count > *per_minute)
            .then(|| (minute + 1) * 60_000 - now))
    }

    /// Takes back one attempt of each subject counted at `at`.
    pub(crate) async fn uncount_attempt(
        &self,
        subjects: &[String],
        at: i64,
    ) -> Result<(), StoreError> {
        let minute = at.div_euclid(60_000);
        let mut pipe = redis::pipe();
        for subject in subjects {
            let key = self.attempts_key(minute, subject);
            pipe.decr(&key, 1).pexpire(&key, 120_000).ignore();
        }
        pipe.query_async::<()>(&mut self.redis.clone()).await?;
        Ok(())
    }

    fn attempts_key(&self, minute: i64, subject: &str) -> String {
        format!("{}:attempts:{minute}:{subject}", self.prefix)
    }
}

/// A ban as the `bans` hash keeps it: `until\tname\treason`.
fn ban_of(subject: String, value: &str) -> Option<super::moderation::Ban> {
    let mut parts = value.splitn(3, '\t');
    let until = parts.next()?.parse().ok();
    let name = parts.next()?.to_owned();
    let reason = parts.next().filter(|r| !r.is_empty()).map(str::to_owned);
    Some(super::moderation::Ban {
        subject,
        name,
        until,
        reason,
    })
}

#[cfg(test)]
mod tests {
    use protocol::ModAction;

    use super::*;

    fn mute(seq: u64) -> Moderation {
        Moderation {
            seq,
            action: ModAction::Mute,
            target: Some("bob".into()),
            id: None,
            by: "mod".into(),
            until: Some(1_796_648_805_686),
            reason: Some("be kind".into()),
            all_rooms: false,
            date_time: 1_796_648_000_000,
        }
    }

    #[test]
    fn audit_entries_of_this_release_and_the_earlier_ones_read() {
        let now = AuditEntry {
            v: AUDIT_VERSION,
            room: "lobby".into(),
            moderation: mute(7),
        };
        let now = serde_json::to_string(&now).expect("JSON");
        assert_eq!(recorded(&now), Some(("lobby".into(), mute(7))));
        // As releases up to 2026-12-07 kept it: the room's `moderated` frame.
        let before = r#"{"type":"moderated","room":"lobby","seq":7,"action":"mute","target":"bob","by":"mod","until":1796648805686,"reason":"be kind","dateTime":1796648000000}"#;
        assert_eq!(recorded(before), Some(("lobby".into(), mute(7))));
        // A later version, or anything else, is skipped, not misread.
        let later = now.replace(r#""v":1"#, r#""v":2"#);
        assert_eq!(recorded(&later), None);
        assert_eq!(recorded("not JSON"), None);
    }
}
