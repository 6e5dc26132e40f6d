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

use protocol::{ChatMessage, ModAction, Posted, Reacted, ReplyQuote, RoomRules, Target, Verdict};
use redis::aio::ConnectionManager;
use redis::streams::StreamRangeReply;
use redis::{AsyncCommands, Script};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

mod entries;
mod follower;
mod scripts;
mod search;
pub(crate) mod transfer;

use entries::{change_entry, entry_seq, moderation_entry, parse_entry, StoredMessage};
use follower::{Follow, Follower};
use search::LocalIndex;

use super::{LogError, StorageHealth, Subscriber};
use crate::cluster::Keys;
use crate::events::{
    Appended, Change, Deletion, Earlier, Edit, Event, NewChange, NewEvent, NewMessage,
    NewModeration, PutOut, Reaction, Refusal, RoomActivity, Window,
};
use crate::shutdown::Background;
use crate::store::StoreError;

/// How often a change is decided again when its message changed between
/// the read and the append (each time, another change of the same message
/// was stored: many people reacting at once, not a stuck message).
const CHANGE_ATTEMPTS: usize = 64;
/// How many locks one instance's changes of messages are spread over (by
/// room and message id): changes of one message from this instance wait
/// their turn, so only other instances' race them.
const CHANGE_LOCKS: usize = 64;
/// How long one blocking read waits for new entries.
pub(crate) const FOLLOW_BLOCK: Duration = Duration::from_secs(5);
/// How long a (user, clientId) pair is remembered: a client resending after
/// longer gets its message posted again.
pub(super) const RESEND_MEMORY_SECS: u64 = 24 * 60 * 60;
/// Entries kept in the typing and wake streams.
pub(super) const SIGNAL_MAX_LEN: usize = 100;
/// How long an instance's wake stream outlives its last use.
const WAKE_MEMORY_SECS: i64 = 24 * 60 * 60;

pub(crate) struct RedisLog {
    redis: ConnectionManager,
    keys: Keys,
    max_len: u64,
    append: Script,
    change_if_unchanged: Script,
    /// See [`CHANGE_LOCKS`]: a storm of reactions to one message from a
    /// thousand people on this instance is a queue, not a thousand reads
    /// and appends racing (each round, one wins and the rest read again,
    /// and the last would give up after [`CHANGE_ATTEMPTS`]).
    changing: Box<[tokio::sync::Mutex<()>]>,
    moderate: Script,
    read_messages: Script,
    backfill: Script,
    retain: Script,
    follows: mpsc::UnboundedSender<Follow>,
    stop: CancellationToken,
    follower: Background<JoinHandle<()>>,
    storage: StorageHealth,
    /// This instance's index of the rooms it follows (see [`search`]).
    index: Arc<LocalIndex>,
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
    ) -> Result<Self, StoreError> {
        let storage = StorageHealth::default();
        let index = Arc::new(LocalIndex::new()?);
        let stop = CancellationToken::new();
        let (follows, requests) = mpsc::unbounded_channel();
        let reader = MessageReader {
            keys: keys.clone(),
            read_messages: Script::new(scripts::READ_MESSAGES),
            backfill: Script::new(scripts::BACKFILL),
        };
        let following = Follower::new(
            follower,
            reader,
            subscriber,
            storage.clone(),
            replay,
            Arc::clone(&index),
        );
        let task = tokio::spawn(following.run(requests, stop.clone()));
        Ok(Self {
            redis,
            keys,
            // XADD takes at most i64::MAX.
            max_len: max_len.clamp(1, i64::MAX as u64),
            append: Script::new(scripts::APPEND),
            change_if_unchanged: Script::new(scripts::CHANGE_IF_UNCHANGED),
            changing: (0..CHANGE_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            moderate: Script::new(scripts::MODERATE),
            read_messages: Script::new(scripts::READ_MESSAGES),
            backfill: Script::new(scripts::BACKFILL),
            retain: Script::new(scripts::RETAIN),
            follows,
            stop,
            follower: Background::new(task),
            storage,
            index,
        })
    }

    /// Appends an event; it reaches everyone, the sender included,
    /// through the stream. Answers once Redis has it (the follower may
    /// publish it a moment later). The time is Redis's clock.
    pub(crate) async fn append(&self, event: NewEvent) -> Result<Appended, LogError> {
        let outcome = match event {
            NewEvent::Post(message) => self.post(message).await,
            NewEvent::Change(change) => self.change(change).await,
            NewEvent::Moderate(moderation) => self.moderate(moderation).await,
        };
        let redis_failed = matches!(outcome, Err(StoreError::Redis(_)));
        if redis_failed {
            crate::metrics::redis_error();
        }
        self.storage.record(!redis_failed);
        Ok(outcome?)
    }

    /// This instance's turn to change message `id` of `room` (or to answer
    /// it, which reads and checks its state the same way).
    async fn turn(&self, room: &str, id: u64) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one((room, id));
        // The remainder is below CHANGE_LOCKS: it fits a usize.
        let stripe = (hash % CHANGE_LOCKS as u64) as usize;
        self.changing[stripe].lock().await
    }

    /// A post: a reply's original read and decided on in Rust
    /// (`protocol::check_reply`), then appended only if the original is
    /// still as read; else read and decided again.
    async fn post(&self, new: NewMessage) -> Result<Appended, StoreError> {
        let mut redis = self.redis.clone();
        let _turn = match new.reply_to {
            Some(original) => Some(self.turn(&new.room, original).await),
            None => None,
        };
        for _ in 0..CHANGE_ATTEMPTS {
            let original = match new.reply_to {
                None => None,
                Some(id) => {
                    let state: Option<String> =
                        redis.hget(self.keys.messages(&new.room), id).await?;
                    Some((id, state))
                }
            };
            let stored = match &original {
                Some((id, Some(state))) => Some(StoredMessage::parse(*id, state)?),
                Some((_, None)) | None => None,
            };
            let refusal = match &original {
                Some(_) => {
                    protocol::check_reply(stored.as_ref().map(StoredMessage::is_deleted)).err()
                }
                None => None,
            };
            let expected = original.and_then(|(_, state)| state).unwrap_or_default();
            match self.append_post(&new, &expected, refusal.is_some()).await? {
                Posting::Moved => continue,
                Posting::Refused => {
                    let refusal = refusal.map_or(Refusal::NotFound, Refusal::from);
                    return Ok(Appended::Refused(refusal));
                }
                Posting::Done(appended) => {
                    let mut appended = *appended;
                    if let Appended::Stored(Event::Posted(posted)) = &mut appended {
                        if let Some(quote) = &mut posted.message.reply_to {
                            *quote = entries::quote(quote.id, stored.as_ref());
                        }
                    }
                    return Ok(appended);
                }
            }
        }
        Err(StoreError::Failed(format!(
            "the message answered in room {} kept changing under {CHANGE_ATTEMPTS} attempts",
            new.room
        )))
    }

    /// One try of `APPEND`: `expected`, the answered message's state as
    /// read; `refused`: the reply may not be, unless it is a resend.
    async fn append_post(
        &self,
        new: &NewMessage,
        expected: &str,
        refused: bool,
    ) -> Result<Posting, StoreError> {
        let NewMessage {
            room,
            author,
            msg,
            client_id,
            reply_to,
            mentions,
            ..
        } = new;
        let reply_to = *reply_to;
        let reply: ScriptReply = self
            .append
            .key(self.keys.seq(room))
            .key(self.keys.log(room))
            .key(self.keys.sent(room, &author.user, client_id))
            .key(self.keys.directory())
            .key(self.keys.messages(room))
            .key(self.keys.ids(room))
            .arg(&author.user)
            .arg(msg)
            .arg(client_id)
            .arg(self.max_len)
            .arg(RESEND_MEMORY_SECS)
            .arg(room)
            .arg(author.key.as_deref().unwrap_or_default())
            .arg(reply_to.map(|id| id.to_string()).unwrap_or_default())
            .arg(mentions.join("\n"))
            .arg(if author.claimed { "1" } else { "" })
            .arg(expected)
            .arg(if refused { "1" } else { "" })
            .invoke_async(&mut self.redis.clone())
            .await?;
        Ok(match reply.text(0) {
            "stored" => {
                let id = reply.id(1)?;
                // The quote is filled in by the caller, from what it read.
                let quote = reply_to.map(|original| ReplyQuote {
                    id: original,
                    ..ReplyQuote::default()
                });
                Posting::Done(Box::new(Appended::Stored(Event::Posted(Posted {
                    message: ChatMessage {
                        id,
                        user: author.user.clone(),
                        claimed: author.claimed,
                        formatted: protocol::formatted(msg),
                        msg: msg.clone(),
                        date_time: reply.number(2)?,
                        reply_to: quote,
                        mentions: mentions.clone(),
                        ..ChatMessage::default()
                    },
                    client_id: client_id.clone(),
                }))))
            }
            "duplicate" => {
                let id = reply.id(1)?;
                let (original, earlier_text, earlier_key) = match reply.text(3) {
                    // Trimmed from the room's state since: what was kept.
                    "" => {
                        let kept = reply.text(4);
                        let text = (!kept.is_empty()).then_some(kept);
                        let posted = Posted {
                            message: ChatMessage {
                                id,
                                user: author.user.clone(),
                                msg: kept.to_owned(),
                                formatted: protocol::formatted(kept),
                                date_time: reply.number(2)?,
                                ..ChatMessage::default()
                            },
                            client_id: client_id.clone(),
                        };
                        (posted, text.map(str::to_owned), None)
                    }
                    state => {
                        let stored = StoredMessage::parse(id, state)?;
                        let text = stored.as_posted().then(|| stored.msg.clone());
                        let key = stored.author_key().map(str::to_owned);
                        (stored.into_posted(id, None)?, text, key)
                    }
                };
                let sent_key = reply.text(5);
                let earlier = Earlier {
                    author_key: earlier_key
                        .as_deref()
                        .or((!sent_key.is_empty()).then_some(sent_key)),
                    text: earlier_text.as_deref(),
                };
                Posting::Done(Box::new(if new.resends(&earlier) {
                    Appended::Duplicate(original)
                } else {
                    Appended::Refused(Refusal::ClientIdReused)
                }))
            }
            "refused" => Posting::Refused,
            "moved" => Posting::Moved,
            _ => return Err(reply.corrupt()),
        })
    }

    /// An edit, deletion or reaction: decided in Rust on the message's
    /// state as read (`ChangeRequest::check`, the rule SQLite follows
    /// too), then appended only if the message is still as read; else read
    /// and decided again.
    async fn change(&self, new: NewChange) -> Result<Appended, StoreError> {
        let NewChange {
            room,
            author,
            id,
            change,
            ..
        } = new;
        let mut redis = self.redis.clone();
        let _turn = self.turn(&room, id).await;
        for _ in 0..CHANGE_ATTEMPTS {
            let state: Option<String> = redis.hget(self.keys.messages(&room), id).await?;
            let Some(state) = state else {
                return Ok(Appended::Refused(Refusal::NotFound));
            };
            let stored = StoredMessage::parse(id, &state)?;
            let message = stored.message(id, usize::MAX)?;
            let reacted = match &change {
                Change::React { emoji, .. } => Reacted::of(&message.reactions, emoji, &author.user),
                Change::Edit { .. } | Change::Delete | Change::Remove => Reacted::default(),
            };
            let verdict = change.check(&Target {
                mine: author.owns(stored.author_key()),
                deleted: message.deleted,
                text: &message.msg,
                reacted,
            });
            match verdict {
                Verdict::Refuse(refusal) => return Ok(Appended::Refused(refusal.into())),
                Verdict::Unchanged => return Ok(Appended::Unchanged),
                Verdict::Append => {}
            }
            // The event as stored, but for its seq and time: the script's.
            let event = |seq: u64, at: i64| match &change {
                Change::Edit { msg, mentions } => {
                    Event::Edited(Edit::new(seq, id, msg.clone(), at, mentions.clone()))
                }
                Change::Delete | Change::Remove => Event::Deleted(Deletion { seq, id }),
                Change::React { emoji, on } => Event::Reacted(Reaction {
                    seq,
                    id,
                    emoji: emoji.clone(),
                    user: author.user.clone(),
                    on: *on,
                }),
            };
            let Some((_, message_change)) = event(0, 0).message_change() else {
                return Err(StoreError::CorruptEntry(format!(
                    "no change of message {id}"
                )));
            };
            let rewrite = stored.after(id, &message_change)?;
            let mut append = self.change_if_unchanged.prepare_invoke();
            append
                .key(self.keys.seq(&room))
                .key(self.keys.log(&room))
                .key(self.keys.messages(&room))
                .key(self.keys.directory())
                .arg(id)
                .arg(&state)
                .arg(&rewrite.state)
                .arg(rewrite.at_fields)
                .arg(rewrite.entry_field)
                .arg(rewrite.drops.join(" "))
                .arg(self.max_len)
                .arg(&room);
            for (field, value) in change_entry(&message_change, id, &author.user) {
                append.arg(field).arg(value);
            }
            let reply: ScriptReply = append.invoke_async(&mut redis).await?;
            match reply.text(0) {
                "stored" => return Ok(Appended::Stored(event(reply.id(1)?, reply.number(2)?))),
                "moved" => continue,
                _ => return Err(reply.corrupt()),
            }
        }
        Err(StoreError::Failed(format!(
            "message {id} of room {room} kept changing under {CHANGE_ATTEMPTS} attempts"
        )))
    }

    /// A moderator's action: the room's rules read, changed by protocol's
    /// rule (`RoomRules::apply`) and written whole with the event, only if
    /// nobody changed them since the read; else read and applied again.
    async fn moderate(&self, new: NewModeration) -> Result<Appended, StoreError> {
        let room = new.room.clone();
        let action = &new;
        let mut redis = self.redis.clone();
        for _ in 0..CHANGE_ATTEMPTS {
            let (written, mut rules) = read_rules(&mut redis, &self.keys, &room).await?;
            let target = action.target.as_deref().map(protocol::name_key);
            rules.apply(action.action, target, action.id, action.until);
            let rules = serde_json::to_string(&rules)
                .map_err(|error| StoreError::Failed(format!("the room's rules: {error}")))?;
            let mut append = self.moderate.prepare_invoke();
            append
                .key(self.keys.seq(&room))
                .key(self.keys.log(&room))
                .key(self.keys.directory())
                .key(self.keys.rules(&room))
                .key(self.keys.locked(&room))
                .key(self.keys.mutes(&room))
                .arg(written.unwrap_or_default())
                .arg(rules)
                .arg(self.max_len)
                .arg(&room);
            for (field, value) in moderation_entry(action) {
                append.arg(field).arg(value);
            }
            let reply: ScriptReply = append.invoke_async(&mut redis).await?;
            match reply.text(0) {
                "stored" => {
                    let (seq, at) = (reply.id(1)?, reply.number(2)?);
                    return Ok(Appended::Stored(Event::Moderated(new.stored(seq, at))));
                }
                "moved" => continue,
                _ => return Err(reply.corrupt()),
            }
        }
        Err(StoreError::Failed(format!(
            "the rules of room {room} kept changing under {CHANGE_ATTEMPTS} attempts"
        )))
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
        let sent = self
            .signal(self.keys.typing(), &[("room", room), ("user", user)])
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "cannot relay typing");
        }
    }

    /// Adds an entry to one of the short streams every instance reads.
    async fn signal<V: redis::ToRedisArgs + Send + Sync>(
        &self,
        key: String,
        fields: &[(&str, V)],
    ) -> redis::RedisResult<()> {
        let _: String = self
            .redis
            .clone()
            .xadd_maxlen(
                key,
                redis::streams::StreamMaxlen::Approx(SIGNAL_MAX_LEN),
                "*",
                fields,
            )
            .await?;
        Ok(())
    }

    /// Tells the other instances to put a name out: a moderation by its
    /// room and `seq` (they read the event from the room's stream), a
    /// sign-out by the name. Signed with this instance, which skips its own.
    pub(crate) async fn put_out(&self, notice: &PutOut) {
        let instance = self.keys.instance().to_string();
        let mut fields = vec![("instance", instance)];
        match notice {
            PutOut::Moderated { room, moderation } => {
                fields.push(("room", room.clone()));
                fields.push(("seq", moderation.seq.to_string()));
            }
            PutOut::SignedOut(name) => fields.push(("signedOut", name.clone())),
            PutOut::Revoked(credential) => fields.push(("revoked", credential.clone())),
        }
        if let Err(error) = self.signal(self.keys.put_out(), &fields).await {
            tracing::warn!(%error, "cannot tell the other instances to put a name out");
        }
    }

    /// Removes every room's messages posted before `before` (ms since the
    /// epoch), a room and a page at a time (see [`scripts::RETAIN`]), and
    /// forgets them in this instance's index; answers how many went.
    /// Every instance runs it: the first removes, the others find nothing
    /// left but forget in their own index.
    pub(crate) async fn retain(&self, before: i64) -> Result<u64, StoreError> {
        const PAGE: usize = 500;
        let mut redis = self.redis.clone();
        let rooms: Vec<String> = redis.zrange(self.keys.directory(), 0, -1).await?;
        let mut removed = 0;
        for room in rooms {
            let mut last_gone = 0;
            loop {
                let (gone, last): (u64, u64) = self
                    .retain
                    .key(self.keys.ids(&room))
                    .key(self.keys.messages(&room))
                    .key(self.keys.log(&room))
                    .arg(before)
                    .arg(PAGE)
                    .invoke_async(&mut redis)
                    .await?;
                removed += gone;
                last_gone = last_gone.max(last);
                if gone < PAGE as u64 {
                    break;
                }
            }
            if last_gone > 0 {
                self.forget_changes(&mut redis, &room, last_gone).await?;
            }
        }
        let index = Arc::clone(&self.index);
        tokio::task::spawn_blocking(move || index.forget_before(before))
            .await
            .map_err(|error| StoreError::Failed(error.to_string()))??;
        Ok(removed)
    }

    /// Takes out of `room`'s stream the edits, deletions and reactions
    /// about its messages up to `last_gone`, which retention removed (a
    /// moderator's actions stay: they are the room's audit). They may be
    /// anywhere in the stream (a reaction today to last year's message):
    /// the stream, at most `--redis-max-len` entries, is read through.
    async fn forget_changes(
        &self,
        redis: &mut ConnectionManager,
        room: &str,
        last_gone: u64,
    ) -> Result<(), StoreError> {
        const PAGE: usize = 500;
        let mut from = "-".to_owned();
        loop {
            let page: StreamRangeReply = redis
                .xrange_count(self.keys.log(room), &from, "+", PAGE)
                .await?;
            let Some(last) = page.ids.last() else {
                return Ok(());
            };
            from = format!("({}", last.id);
            let about_gone: Vec<&str> = page
                .ids
                .iter()
                .filter(|entry| match parse_entry(entry) {
                    Ok(event) => match event {
                        Event::Edited(_) | Event::Deleted(_) | Event::Reacted(_) => {
                            event.target().is_some_and(|id| id <= last_gone)
                        }
                        Event::Posted(_) | Event::Moderated(_) => false,
                    },
                    Err(_) => false,
                })
                .map(|entry| entry.id.as_str())
                .collect();
            if !about_gone.is_empty() {
                let _: u64 = redis.xdel(self.keys.log(room), &about_gone).await?;
            }
            if page.ids.len() < PAGE {
                return Ok(());
            }
        }
    }

    /// Up to `limit` messages of `room` older than `before`, in their
    /// current state, and whether more remain (in Redis: the room is
    /// trimmed to `--redis-max-len`).
    pub(crate) async fn older(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        let reader = MessageReader {
            keys: self.keys.clone(),
            read_messages: self.read_messages.clone(),
            backfill: self.backfill.clone(),
        };
        reader
            .before(&mut self.redis.clone(), room, before, limit)
            .await
    }

    /// The newest messages of `rooms` (followed here: the rooms of this
    /// instance's clients) that match `query`, before row `before`, in
    /// their current state; and the next page's cursor, if there may be
    /// one. The index finds them; their text is read from the rooms'
    /// messages (a message deleted since is left out).
    pub(crate) async fn search(
        &self,
        query: protocol::Query,
        rooms: Vec<String>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<protocol::Hit>, Option<u64>), StoreError> {
        let index = Arc::clone(&self.index);
        let (found, query) = tokio::task::spawn_blocking(move || {
            index
                .find(&query, &rooms, before, limit)
                .map(|found| (found, query))
        })
        .await
        .map_err(|error| StoreError::Failed(format!("the search stopped: {error}")))??;
        if found.is_empty() {
            return Ok((Vec::new(), None));
        }
        let next = found
            .last()
            .map(|(_, hit)| hit.row)
            .filter(|_| found.len() == limit);
        let mut states = redis::pipe();
        for (room, hit) in &found {
            states.hget(self.keys.messages(room), hit.seq);
        }
        let states: Vec<Option<String>> = states.query_async(&mut self.redis.clone()).await?;
        let mut hits = Vec::with_capacity(found.len());
        for ((room, hit), state) in found.into_iter().zip(states) {
            let Some(state) = state else { continue };
            let message = StoredMessage::parse(hit.seq, &state)?.message(hit.seq, 0)?;
            if message.deleted {
                continue;
            }
            hits.push(protocol::Hit {
                marks: query.marks(&message.msg),
                room,
                id: hit.seq,
                user: message.user,
                date_time: message.date_time,
                msg: message.msg,
            });
        }
        Ok((hits, next))
    }

    /// The rooms posted in most recently, on any instance.
    /// `room`'s rules (who is muted until when...).
    pub(crate) async fn rules(&self, room: &str) -> Result<RoomRules, StoreError> {
        Ok(read_rules(&mut self.redis.clone(), &self.keys, room)
            .await?
            .1)
    }

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

/// What the append and change scripts answer: an outcome's name, then its
/// fields, as strings (see `scripts`).
#[derive(Debug)]
struct ScriptReply(Vec<String>);

impl redis::FromRedisValue for ScriptReply {
    fn from_redis_value(value: redis::Value) -> Result<Self, redis::ParsingError> {
        Vec::<String>::from_redis_value(value).map(Self)
    }
}

impl ScriptReply {
    /// Field `at`, empty when missing.
    fn text(&self, at: usize) -> &str {
        self.0.get(at).map_or("", String::as_str)
    }

    fn number(&self, at: usize) -> Result<i64, StoreError> {
        self.text(at).parse().map_err(|_| self.corrupt())
    }

    fn id(&self, at: usize) -> Result<u64, StoreError> {
        u64::try_from(self.number(at)?).map_err(|_| self.corrupt())
    }

    fn corrupt(&self) -> StoreError {
        StoreError::CorruptEntry(format!("a script answered {:?}", self.0))
    }
}

/// What one try of `APPEND` did.
enum Posting {
    Done(Box<Appended>),
    /// The reply was refused (it was no resend).
    Refused,
    /// The message it answers changed since it was read.
    Moved,
}

/// Reads messages in their current state, and rooms' windows.
#[derive(Clone)]
pub(super) struct MessageReader {
    keys: Keys,
    read_messages: Script,
    backfill: Script,
}

impl MessageReader {
    pub(super) fn keys(&self) -> &Keys {
        &self.keys
    }

    /// Up to `limit` messages of `room` below `before`, oldest first, and
    /// whether more remain.
    pub(super) async fn before(
        &self,
        redis: &mut ConnectionManager,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        let highest = if before == u64::MAX {
            "+inf".to_owned()
        } else {
            format!("({before}")
        };
        let found: Vec<String> = self
            .read_messages
            .key(self.keys.ids(room))
            .key(self.keys.messages(room))
            .arg(highest)
            .arg(limit.saturating_add(1))
            .invoke_async(redis)
            .await?;
        let mut page = Vec::with_capacity(found.len() / 3);
        for triple in found.chunks_exact(3) {
            let id: u64 = triple[0]
                .parse()
                .map_err(|_| StoreError::CorruptEntry(format!("message id {:?}", triple[0])))?;
            let state = StoredMessage::parse(id, &triple[1])?;
            let quoted = match triple[2].as_str() {
                "" => None,
                quoted => Some(StoredMessage::parse(id, quoted)?),
            };
            page.push(state.into_posted(id, quoted)?);
        }
        let has_older = page.len() > limit;
        page.truncate(limit);
        page.reverse();
        Ok((page, has_older))
    }

    /// The newest `count` messages and events of `room`: where it starts
    /// in memory. A room last written by a release before events gets its
    /// messages' state first.
    pub(super) async fn window(
        &self,
        redis: &mut ConnectionManager,
        room: &str,
        count: usize,
    ) -> Result<Window, StoreError> {
        let backfilled: usize = self
            .backfill
            .key(self.keys.log(room))
            .key(self.keys.messages(room))
            .key(self.keys.ids(room))
            .invoke_async(redis)
            .await?;
        if backfilled > 0 {
            tracing::info!(
                room,
                messages = backfilled,
                "indexed the messages of an older release"
            );
        }
        // The stream first: where the room continues from. Messages read
        // after it may have newer posts (left for the follower) and newer
        // changes in their state (replayed again, which changes nothing).
        let newest: StreamRangeReply = redis
            .xrevrange_count(self.keys.log(room), "+", "-", count)
            .await?;
        let last_seq = match newest.ids.first() {
            Some(entry) => entry_seq(entry)?,
            None => 0,
        };
        let (mut recent, _) = self.before(redis, room, u64::MAX, count).await?;
        recent.retain(|posted| posted.message.id <= last_seq);
        let first: Vec<u64> = redis.zrange(self.keys.ids(room), 0, 0).await?;
        let mut changes = Vec::new();
        for entry in &newest.ids {
            match parse_entry(entry) {
                Ok(Event::Posted(_)) => {}
                Ok(change) => changes.push(change),
                Err(error) => tracing::error!(%error, id = %entry.id, "skipped an entry"),
            }
        }
        changes.reverse();
        // Deleted posts (and their edits) left the stream: the messages
        // held bound what is complete too.
        let oldest_entry = match newest.ids.last() {
            Some(oldest) if newest.ids.len() == count => entry_seq(oldest)?,
            _ => 0,
        };
        let oldest_message = match recent.first() {
            Some(oldest) if recent.len() == count => oldest.message.id,
            _ => 0,
        };
        let (_, rules) = read_rules(redis, &self.keys, room).await?;
        Ok(Window {
            recent,
            changes,
            held_from: oldest_entry.max(oldest_message),
            first_id: first.first().copied(),
            last_seq,
            rules,
        })
    }
}

/// `room`'s rules, and their JSON as read (`None`: never written, the
/// rules then read from the keys releases up to 2026-12-07 kept them in,
/// a `locked` flag and a `mutes` hash).
pub(super) async fn read_rules(
    redis: &mut ConnectionManager,
    keys: &Keys,
    room: &str,
) -> Result<(Option<String>, RoomRules), StoreError> {
    let (written, locked, mutes): (Option<String>, bool, HashMap<String, String>) = redis::pipe()
        .get(keys.rules(room))
        .exists(keys.locked(room))
        .hgetall(keys.mutes(room))
        .query_async(redis)
        .await?;
    let rules = match &written {
        Some(json) => serde_json::from_str(json)
            .map_err(|error| StoreError::CorruptEntry(format!("room {room}'s rules: {error}")))?,
        None => {
            // What the old keys say, as the actions that left them.
            let mut rules = RoomRules {
                mutes: read_mutes(mutes).into_iter().collect(),
                ..RoomRules::default()
            };
            if locked {
                rules.apply(ModAction::Lock, None, None, None);
            }
            rules
        }
    };
    Ok((written, rules))
}

/// The `mutes` hash: name key to until when (ms since the epoch). Releases
/// up to 2026-12-07 wrote a mute for good as Lua printed 2^53 - 1,
/// `9.007199254741e+15`, which no integer parse reads: the room could not
/// load again. Any number reads (a huge one is for good); anything else
/// is kept as a mute for good, and said.
fn read_mutes(mutes: HashMap<String, String>) -> Vec<(String, i64)> {
    mutes
        .into_iter()
        .map(|(key, until)| {
            let until = until
                .parse::<i64>()
                .unwrap_or_else(|_| match until.parse::<f64>() {
                    Ok(until) if until.is_finite() && until < 9.0e15 => until as i64,
                    Ok(_) => i64::MAX,
                    Err(_) => {
                        tracing::warn!(key, until, "a mute's end that is no number: kept for good");
                        i64::MAX
                    }
                });
            (key, until)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutes_written_by_every_release_read() {
        let stored = [
            ("for-good-before", "9.007199254741e+15"),
            ("for-good-now", "9223372036854775807"),
            ("an-hour", "1796648805686"),
            ("garbled", "soon"),
        ];
        let mut read = read_mutes(
            stored
                .iter()
                .map(|(key, until)| ((*key).to_owned(), (*until).to_owned()))
                .collect(),
        );
        read.sort();
        assert_eq!(
            read,
            [
                ("an-hour".to_owned(), 1_796_648_805_686),
                ("for-good-before".to_owned(), i64::MAX),
                ("for-good-now".to_owned(), i64::MAX),
                ("garbled".to_owned(), i64::MAX),
            ]
        );
    }
}
