//! Appending to the rooms' logs: one batch of events in one transaction,
//! each checked against the state it finds (the message it answers or
//! changes, who posted it: protocol's rules, `ChangeRequest::check`),
//! each given its room's next `seq`.

use std::collections::HashMap;

use protocol::{excerpt, formatted, ChatMessage, Posted, Reacted, ReplyQuote, Verdict};
use rusqlite::{params, OptionalExtension, Transaction};

use super::read::ModerationBody;
use super::read::{message, rules_of};
use super::search;
use super::{to_id, to_sql, StoreError};
use crate::events::{
    Appended, Author, Change, Deletion, Earlier, Edit, Event, NewChange, NewEvent, NewMessage,
    NewModeration, Reaction, Refusal, Stamped,
};

/// What one batch did.
pub(super) struct Written {
    /// Each event's outcome, in the batch's order.
    pub(super) outcome: Vec<Appended>,
    /// Whether a message was deleted: its text must then leave the file.
    pub(super) deleted: bool,
}

/// Appends `batch` within `tx` (the caller commits).
pub(super) fn append(tx: &Transaction<'_>, batch: &[Stamped]) -> Result<Written, StoreError> {
    let mut writer = Writer {
        tx,
        rooms: HashMap::new(),
        deleted: false,
        at: 0,
    };
    let mut outcome = Vec::with_capacity(batch.len());
    for Stamped { event, at } in batch {
        writer.at = *at;
        outcome.push(match event {
            NewEvent::Post(message) => writer.post(message)?,
            NewEvent::Change(change) => writer.change(change)?,
            NewEvent::Moderate(moderation) => writer.moderate(moderation)?,
        });
    }
    writer.advance_rooms()?;
    Ok(Written {
        outcome,
        deleted: writer.deleted,
    })
}

struct Writer<'t> {
    tx: &'t Transaction<'t>,
    /// Each room's row, read once per batch and advanced in memory.
    rooms: HashMap<String, RoomRow>,
    deleted: bool,
    /// The time of the event being written (ms since the epoch).
    at: i64,
}

#[derive(Clone, Copy)]
struct RoomRow {
    id: i64,
    last_seq: u64,
    last_event_at: i64,
}

/// The message row an event is about.
struct Target {
    user: String,
    author_key: Option<String>,
    body: Option<String>,
    deleted: bool,
    claimed: bool,
}

impl Target {
    /// Whether `author` posted it: [`Author::owns`], the one rule both logs
    /// follow (an author key hashes the lower-cased name with the token,
    /// so the same key is the same name).
    fn is_by(&self, author: &Author) -> bool {
        author.owns(self.author_key.as_deref())
    }
}

impl Writer<'_> {
    fn post(&mut self, new: &NewMessage) -> Result<Appended, StoreError> {
        let room = self.room(&new.room)?;
        let earlier: Option<(i64, Option<String>, Option<String>, bool)> = self
            .tx
            .prepare_cached(
                "SELECT seq, author_key, body, edited_at IS NOT NULL OR deleted FROM events
                 WHERE room = ?1 AND user = ?2 AND client_id = ?3",
            )?
            .query_row(params![room.id, new.author.user, new.client_id], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        if let Some((seq, author_key, body, changed)) = earlier {
            let earlier = Earlier {
                author_key: author_key.as_deref(),
                text: if changed { None } else { body.as_deref() },
            };
            if !new.resends(&earlier) {
                return Ok(Appended::Refused(Refusal::ClientIdReused));
            }
            return Ok(Appended::Duplicate(message(self.tx, room.id, to_id(seq)?)?));
        }
        let reply_to = match new.reply_to {
            None => None,
            Some(id) => {
                let original = self.target(room.id, id)?;
                if let Err(refusal) = protocol::check_reply(original.as_ref().map(|o| o.deleted)) {
                    return Ok(Appended::Refused(refusal.into()));
                }
                original.map(|original| ReplyQuote {
                    id,
                    excerpt: excerpt(original.body.as_deref().unwrap_or_default()),
                    user: original.user,
                    deleted: false,
                    claimed: original.claimed,
                })
            }
        };
        let seq = self.next_seq(&new.room, self.at)?;
        self.tx
            .prepare_cached(
                "INSERT INTO events
                 (room, seq, kind, user, date_time, client_id, body, target, author_key, mentions,
                  claimed)
                 VALUES (?1, ?2, 'message', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?
            .execute(params![
                room.id,
                to_sql(seq)?,
                new.author.user,
                self.at,
                new.client_id,
                new.msg,
                new.reply_to.map(to_sql).transpose()?,
                new.author.key,
                stored_mentions(&new.mentions),
                new.author.claimed,
            ])?;
        search::add(
            self.tx,
            room.id,
            to_sql(seq)?,
            &new.author.user,
            &new.msg,
            None,
        )?;
        Ok(Appended::Stored(Event::Posted(Posted {
            message: ChatMessage {
                id: seq,
                user: new.author.user.clone(),
                claimed: new.author.claimed,
                msg: new.msg.clone(),
                formatted: formatted(&new.msg),
                date_time: self.at,
                reply_to,
                mentions: new.mentions.clone(),
                ..ChatMessage::default()
            },
            client_id: new.client_id.clone(),
        })))
    }

    /// An edit, deletion or reaction, checked against the message.
    fn change(&mut self, new: &NewChange) -> Result<Appended, StoreError> {
        let Some(room) = self.existing_room(&new.room)? else {
            return Ok(Appended::Refused(Refusal::NotFound));
        };
        let Some(target) = self.target(room.id, new.id)? else {
            return Ok(Appended::Refused(Refusal::NotFound));
        };
        let reacted = match &new.change {
            Change::React { emoji, .. } => {
                self.reacted(room.id, new.id, emoji, &new.author.user)?
            }
            Change::Edit { .. } | Change::Delete | Change::Remove => Reacted::default(),
        };
        let verdict = new.change.check(&protocol::Target {
            mine: target.is_by(&new.author),
            deleted: target.deleted,
            text: target.body.as_deref().unwrap_or_default(),
            reacted,
        });
        match verdict {
            Verdict::Refuse(refusal) => Ok(Appended::Refused(refusal.into())),
            Verdict::Unchanged => Ok(Appended::Unchanged),
            Verdict::Append => match &new.change {
                Change::Edit { msg, mentions } => self.edit(room.id, new, msg, mentions),
                Change::Delete | Change::Remove => self.delete(room.id, new),
                Change::React { emoji, on } => self.react(room.id, new, emoji, *on),
            },
        }
    }

    /// How message `id`'s reactions stand for `user`'s `emoji`.
    fn reacted(
        &self,
        room_id: i64,
        id: u64,
        emoji: &str,
        user: &str,
    ) -> Result<Reacted, StoreError> {
        let (by_asker, by_anyone, emojis): (bool, bool, i64) = self
            .tx
            .prepare_cached(
                "SELECT coalesce(max(emoji = ?3 AND user = ?4), 0), coalesce(max(emoji = ?3), 0),
                        count(DISTINCT emoji)
                 FROM reactions WHERE room = ?1 AND message = ?2",
            )?
            .query_row(params![room_id, to_sql(id)?, emoji, user], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })?;
        Ok(Reacted {
            by_asker,
            by_anyone,
            emojis: usize::try_from(emojis).unwrap_or(usize::MAX),
        })
    }

    fn edit(
        &mut self,
        room_id: i64,
        new: &NewChange,
        msg: &str,
        mentions: &[String],
    ) -> Result<Appended, StoreError> {
        let seq = self.next_seq(&new.room, self.at)?;
        // Only the newest text is kept: the product shows what a message
        // says now, and a resuming client needs the last edit alone (once,
        // every edit's text was kept for ever).
        self.tx
            .prepare_cached("DELETE FROM events WHERE room = ?1 AND target = ?2 AND kind = 'edit'")?
            .execute(params![room_id, to_sql(new.id)?])?;
        self.insert_change(room_id, seq, "edit", new, Some(msg), mentions)?;
        search::replace(self.tx, room_id, to_sql(new.id)?, &new.author.user, msg)?;
        self.tx
            .prepare_cached(
                "UPDATE events SET body = ?3, edited_at = ?4, mentions = ?5
                 WHERE room = ?1 AND seq = ?2",
            )?
            .execute(params![
                room_id,
                to_sql(new.id)?,
                msg,
                self.at,
                stored_mentions(mentions)
            ])?;
        Ok(Appended::Stored(Event::Edited(Edit::new(
            seq,
            new.id,
            msg.to_owned(),
            self.at,
            mentions.to_vec(),
        ))))
    }

    /// Takes the text out of the message, out of its edits, and its
    /// reactions away; the row stays, a tombstone.
    fn delete(&mut self, room_id: i64, new: &NewChange) -> Result<Appended, StoreError> {
        let seq = self.next_seq(&new.room, self.at)?;
        self.insert_change(room_id, seq, "delete", new, None, &[])?;
        let id = to_sql(new.id)?;
        search::remove(self.tx, room_id, id)?;
        self.tx
            .prepare_cached(
                "UPDATE events SET body = NULL, mentions = NULL, deleted = 1
                 WHERE room = ?1 AND seq = ?2",
            )?
            .execute(params![room_id, id])?;
        self.tx
            .prepare_cached(
                "UPDATE events SET body = NULL, mentions = NULL
                 WHERE room = ?1 AND target = ?2 AND kind = 'edit'",
            )?
            .execute(params![room_id, id])?;
        self.tx
            .prepare_cached("DELETE FROM reactions WHERE room = ?1 AND message = ?2")?
            .execute(params![room_id, id])?;
        self.deleted = true;
        Ok(Appended::Stored(Event::Deleted(Deletion {
            seq,
            id: new.id,
        })))
    }

    fn react(
        &mut self,
        room_id: i64,
        new: &NewChange,
        emoji: &str,
        on: bool,
    ) -> Result<Appended, StoreError> {
        let id = to_sql(new.id)?;
        let user = &new.author.user;
        let seq = self.next_seq(&new.room, self.at)?;
        let kind = if on { "react" } else { "unreact" };
        self.insert_change(room_id, seq, kind, new, Some(emoji), &[])?;
        if on {
            self.tx
                .prepare_cached(
                    "INSERT INTO reactions (room, message, emoji, user, seq)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?
                .execute(params![room_id, id, emoji, user, to_sql(seq)?])?;
        } else {
            self.tx
                .prepare_cached(
                    "DELETE FROM reactions
                     WHERE room = ?1 AND message = ?2 AND emoji = ?3 AND user = ?4",
                )?
                .execute(params![room_id, id, emoji, user])?;
        }
        Ok(Appended::Stored(Event::Reacted(Reaction {
            seq,
            id: new.id,
            emoji: emoji.to_owned(),
            user: user.clone(),
            on,
        })))
    }

    /// A moderator's action, and the room's rules it leaves (locked, who
    /// is muted), in the same transaction.
    fn moderate(&mut self, new: &NewModeration) -> Result<Appended, StoreError> {
        let room = self.room(&new.room)?;
        let action = new;
        let seq = self.next_seq(&new.room, self.at)?;
        let body = ModerationBody::of(action).to_json();
        self.tx
            .prepare_cached(
                "INSERT INTO events (room, seq, kind, user, date_time, body, target)
                 VALUES (?1, ?2, 'moderate', ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                room.id,
                to_sql(seq)?,
                action.by,
                self.at,
                body,
                action.id.map(to_sql).transpose()?,
            ])?;
        // What it changes is protocol's rule; the rules are kept whole.
        let mut rules = rules_of(self.tx, room.id)?;
        let target = action.target.as_deref().map(protocol::name_key);
        rules.apply(action.action, target, action.id, action.until);
        let rules = serde_json::to_string(&rules)
            .map_err(|error| StoreError::Failed(format!("the room's rules: {error}")))?;
        self.tx
            .prepare_cached("UPDATE rooms SET rules = ?2 WHERE id = ?1")?
            .execute(params![room.id, rules])?;
        Ok(Appended::Stored(Event::Moderated(new.stored(seq, self.at))))
    }

    fn insert_change(
        &self,
        room_id: i64,
        seq: u64,
        kind: &str,
        new: &NewChange,
        body: Option<&str>,
        mentions: &[String],
    ) -> Result<(), StoreError> {
        self.tx
            .prepare_cached(
                "INSERT INTO events (room, seq, kind, user, date_time, body, target, mentions)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                room_id,
                to_sql(seq)?,
                kind,
                new.author.user,
                self.at,
                body,
                to_sql(new.id)?,
                stored_mentions(mentions),
            ])?;
        Ok(())
    }

    /// Message `id` of the room, if there is one. An id no row can have
    /// is no message: never an error, which would fail the whole batch.
    fn target(&self, room_id: i64, id: u64) -> Result<Option<Target>, StoreError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        Ok(self
            .tx
            .prepare_cached(
                "SELECT user, author_key, body, deleted, claimed FROM events
                 WHERE room = ?1 AND seq = ?2 AND kind = 'message'",
            )?
            .query_row(params![room_id, id], |row| {
                Ok(Target {
                    user: row.get(0)?,
                    author_key: row.get(1)?,
                    body: row.get(2)?,
                    deleted: row.get(3)?,
                    claimed: row.get(4)?,
                })
            })
            .optional()?)
    }

    /// The room's row, made if the room has none yet.
    fn room(&mut self, name: &str) -> Result<RoomRow, StoreError> {
        if let Some(row) = self.existing_room(name)? {
            return Ok(row);
        }
        self.tx
            .prepare_cached("INSERT INTO rooms (name, last_seq, last_event_at) VALUES (?1, 0, 0)")?
            .execute([name])?;
        let row = RoomRow {
            id: self.tx.last_insert_rowid(),
            last_seq: 0,
            last_event_at: 0,
        };
        self.rooms.insert(name.to_owned(), row);
        Ok(row)
    }

    /// The room's row, read once per batch, if the room exists.
    fn existing_room(&mut self, name: &str) -> Result<Option<RoomRow>, StoreError> {
        if let Some(row) = self.rooms.get(name) {
            return Ok(Some(*row));
        }
        let found: Option<(i64, i64, i64)> = self
            .tx
            .prepare_cached("SELECT id, last_seq, last_event_at FROM rooms WHERE name = ?1")?
            .query_row([name], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .optional()?;
        let Some((id, last_seq, last_event_at)) = found else {
            return Ok(None);
        };
        let row = RoomRow {
            id,
            last_seq: to_id(last_seq)?,
            last_event_at,
        };
        self.rooms.insert(name.to_owned(), row);
        Ok(Some(row))
    }

    /// The room's next `seq`, given out for an event at `at`.
    fn next_seq(&mut self, room: &str, at: i64) -> Result<u64, StoreError> {
        let row = self
            .rooms
            .get_mut(room)
            .ok_or_else(|| StoreError::Failed(format!("room {room:?} was not read")))?;
        row.last_seq += 1;
        row.last_event_at = at;
        Ok(row.last_seq)
    }

    /// Writes each room's newest `seq` back, once per batch.
    fn advance_rooms(&self) -> Result<(), StoreError> {
        let mut advance = self
            .tx
            .prepare_cached("UPDATE rooms SET last_seq = ?2, last_event_at = ?3 WHERE id = ?1")?;
        for row in self.rooms.values() {
            advance.execute(params![row.id, to_sql(row.last_seq)?, row.last_event_at])?;
        }
        Ok(())
    }
}

/// Mentions as stored: one name per line (names cannot hold a newline).
fn stored_mentions(mentions: &[String]) -> Option<String> {
    (!mentions.is_empty()).then(|| mentions.join("\n"))
}
