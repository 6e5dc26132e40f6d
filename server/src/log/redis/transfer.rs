//! `server export` and `server import` on Redis (the format is
//! `crate::transfer`'s). A room's messages are read from its `messages`
//! hash (their current state, tombstones included), its other events from
//! its stream, merged in `seq` order. An import writes the keys the
//! scripts would have left: the stream's entries at their own ids, each
//! message's state, the ids, the room's `seq`, rules and place in the
//! directory.

use std::collections::HashMap;

use redis::aio::ConnectionManager;
use redis::streams::StreamRangeReply;
use redis::AsyncCommands;

use super::entries::{change_entry, moderation_entry, parse_entry, StoredMessage};
use super::read_rules;
use crate::cluster::Keys;
use crate::events::{Event, NewModeration};
use crate::history_file::{Line, RoomHead, StoredPost};
use crate::store::StoreError;

/// Entries and states read per round trip.
const PAGE: usize = 500;

/// Reads `only` (or every room in the directory, by name), handing each
/// line to `write` with its room.
pub(crate) async fn export(
    redis: &mut ConnectionManager,
    keys: &Keys,
    only: Option<&str>,
    write: &mut (dyn FnMut(&str, &Line) -> std::io::Result<()> + Send),
) -> Result<(), crate::store::transfer::ExportError> {
    let mut rooms: Vec<String> = match only {
        Some(room) => vec![room.to_owned()],
        None => redis
            .zrange(keys.directory(), 0, -1)
            .await
            .map_err(StoreError::from)?,
    };
    rooms.sort();
    for room in rooms {
        let (seq, last_event_at): (Option<u64>, Option<f64>) = redis::pipe()
            .get(keys.seq(&room))
            .zscore(keys.directory(), &room)
            .query_async(redis)
            .await
            .map_err(StoreError::from)?;
        let Some(seq) = seq else {
            continue;
        };
        let (_, rules) = read_rules(redis, keys, &room).await?;
        // Milliseconds since the epoch: exact in an f64.
        #[allow(clippy::cast_possible_truncation)]
        let last_event_at = last_event_at.unwrap_or_default() as i64;
        let head = RoomHead {
            room: room.clone(),
            seq,
            last_event_at,
            rules,
        };
        write(&room, &Line::Room(head))?;
        let ids: Vec<u64> = redis
            .zrange(keys.ids(&room), 0, -1)
            .await
            .map_err(StoreError::from)?;
        let events = events(redis, keys, &room).await?;
        let mut events = events.into_iter().peekable();
        for chunk in ids.chunks(PAGE) {
            let states: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(keys.messages(&room))
                .arg(chunk)
                .query_async(redis)
                .await
                .map_err(StoreError::from)?;
            for (&id, state) in chunk.iter().zip(states) {
                while let Some(line) = events.next_if(|line| line.seq() < id) {
                    write(&room, &line)?;
                }
                let Some(state) = state else {
                    continue;
                };
                let stored = StoredMessage::parse(id, &state)?;
                let quoted = match stored.reply_to_id() {
                    Some(original) => {
                        let state: Option<String> = redis
                            .hget(keys.messages(&room), original)
                            .await
                            .map_err(StoreError::from)?;
                        state
                            .map(|state| StoredMessage::parse(original, &state))
                            .transpose()?
                    }
                    None => None,
                };
                write(&room, &Line::Message(stored.exported(id, quoted.as_ref())?))?;
            }
        }
        for line in events {
            write(&room, &line)?;
        }
    }
    Ok(())
}

/// The room's events other than posts, from its stream, in `seq` order.
async fn events(
    redis: &mut ConnectionManager,
    keys: &Keys,
    room: &str,
) -> Result<Vec<Line>, StoreError> {
    let mut lines = Vec::new();
    let mut from = "-".to_owned();
    loop {
        let page: StreamRangeReply = redis.xrange_count(keys.log(room), &from, "+", PAGE).await?;
        let Some(last) = page.ids.last() else {
            break;
        };
        from = format!("({}", last.id);
        let full = page.ids.len() == PAGE;
        for entry in &page.ids {
            let event = parse_entry(entry)?;
            let date_time = entry
                .get::<String>("dateTime")
                .and_then(|at| at.parse().ok())
                .ok_or_else(|| StoreError::CorruptEntry(format!("{}: dateTime", entry.id)))?;
            match event {
                Event::Posted(_) => {}
                Event::Edited(_) | Event::Deleted(_) | Event::Reacted(_) | Event::Moderated(_) => {
                    lines.push(Line::Event { event, date_time });
                }
            }
        }
        if !full {
            break;
        }
    }
    Ok(lines)
}

/// Whether Redis holds no room under these keys yet: an import goes only
/// there.
pub(crate) async fn is_empty(
    redis: &mut ConnectionManager,
    keys: &Keys,
) -> Result<bool, StoreError> {
    let rooms: u64 = redis.zcard(keys.directory()).await?;
    Ok(rooms == 0)
}

/// Writes checked lines (see `transfer::Checker`) of one room at a time:
/// a room's messages are held until its part ends (an edit later in the
/// file names its entry in the message's state).
pub(crate) struct Importer {
    redis: ConnectionManager,
    keys: Keys,
    room: Option<String>,
    messages: Vec<(u64, StoredPost, Option<u64>)>,
    at: HashMap<u64, usize>,
    pipe: redis::Pipeline,
    queued: usize,
}

impl Importer {
    pub(crate) fn new(redis: ConnectionManager, keys: Keys) -> Self {
        Self {
            redis,
            keys,
            room: None,
            messages: Vec::new(),
            at: HashMap::new(),
            pipe: redis::pipe(),
            queued: 0,
        }
    }

    /// Writes one line of `room`.
    pub(crate) async fn write(&mut self, room: &str, line: &Line) -> Result<(), StoreError> {
        if self.room.as_deref() != Some(room) {
            self.finish_room().await?;
            self.room = Some(room.to_owned());
        }
        let keys = &self.keys;
        match line {
            Line::Room(head) => {
                let rules = serde_json::to_string(&head.rules)
                    .map_err(|error| StoreError::Failed(format!("the room's rules: {error}")))?;
                self.pipe
                    .set(keys.seq(room), head.seq)
                    .ignore()
                    .set(keys.rules(room), rules)
                    .ignore()
                    .zadd(keys.directory(), room, head.last_event_at)
                    .ignore();
            }
            Line::Message(post) => {
                let id = post.posted.message.id;
                // What `APPEND` remembers of a recent send, so that a
                // client resending it after the move gets it back rather
                // than a second copy.
                let message = &post.posted.message;
                let age_s = (crate::events::now_ms() - message.date_time) / 1000;
                let left_s = i64::try_from(super::RESEND_MEMORY_SECS).unwrap_or(i64::MAX) - age_s;
                if left_s > 0 {
                    let sent = keys.sent(room, &message.user, &post.posted.client_id);
                    self.pipe
                        .hset_multiple(
                            &sent,
                            &[
                                ("id", id.to_string()),
                                ("dateTime", message.date_time.to_string()),
                                ("author", post.author_key.clone().unwrap_or_default()),
                            ],
                        )
                        .ignore()
                        .expire(&sent, left_s)
                        .ignore();
                }
                if !post.posted.message.deleted {
                    let fields = StoredMessage::imported(post, None).entry();
                    self.pipe
                        .xadd(keys.log(room), format!("{id}-0"), &fields)
                        .ignore();
                }
                self.at.insert(id, self.messages.len());
                self.messages.push((id, post.clone(), None));
            }
            Line::Event { event, date_time } => {
                let seq = event.seq();
                let mut fields = match event {
                    Event::Posted(_) => return Ok(()),
                    Event::Moderated(moderation) => moderation_entry(&NewModeration {
                        room: room.to_owned(),
                        action: moderation.action,
                        target: moderation.target.clone(),
                        id: moderation.id,
                        by: moderation.by.clone(),
                        until: moderation.until,
                        reason: moderation.reason.clone(),
                        all_rooms: moderation.all_rooms,
                    }),
                    Event::Edited(_) | Event::Deleted(_) | Event::Reacted(_) => {
                        let Some((id, change)) = event.message_change() else {
                            return Ok(());
                        };
                        let message = self.at.get(&id).map(|&at| &mut self.messages[at]);
                        let Some((_, post, edits)) = message else {
                            return Err(StoreError::Failed(format!(
                                "event {seq} is about message {id}, not in the file before it"
                            )));
                        };
                        if let Event::Edited(_) = event {
                            *edits = Some(seq);
                        }
                        let user = match event {
                            Event::Reacted(reaction) => reaction.user.clone(),
                            Event::Posted(_)
                            | Event::Edited(_)
                            | Event::Deleted(_)
                            | Event::Moderated(_) => post.posted.message.user.clone(),
                        };
                        change_entry(&change, id, &user)
                    }
                };
                fields.push(("dateTime", date_time.to_string()));
                self.pipe
                    .xadd(keys.log(room), format!("{seq}-0"), &fields)
                    .ignore();
            }
        }
        self.queued += 1;
        if self.queued >= PAGE {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is queued, and the states of the room's messages.
    pub(crate) async fn finish(mut self) -> Result<(), StoreError> {
        self.finish_room().await
    }

    async fn finish_room(&mut self) -> Result<(), StoreError> {
        let Some(room) = self.room.take() else {
            return Ok(());
        };
        self.at.clear();
        for (id, post, edits) in std::mem::take(&mut self.messages) {
            let state = StoredMessage::imported(&post, edits).to_json()?;
            self.pipe
                .hset(self.keys.messages(&room), id, state)
                .ignore()
                .zadd(self.keys.ids(&room), id, id)
                .ignore();
            self.queued += 1;
            if self.queued >= PAGE {
                self.flush().await?;
            }
        }
        self.flush().await
    }

    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.queued > 0 {
            let pipe = std::mem::replace(&mut self.pipe, redis::pipe());
            pipe.query_async::<()>(&mut self.redis).await?;
            self.queued = 0;
        }
        Ok(())
    }
}
