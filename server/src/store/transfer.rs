//! `server export` and `server import` on SQLite (the format is
//! `crate::transfer`'s): the rooms' logs read in `seq` order, and written
//! back row for row into an empty database, in one transaction.

use std::collections::HashMap;

use protocol::{ChatMessage, Reactions};
use rusqlite::{params, Connection, Transaction};

use super::read::{change_of, posted_of, rules_of, ModerationBody};
use super::{search, to_id, to_sql, StoreError};
use crate::events::Event;
use crate::history_file::{Line, RoomHead, StoredPost};

/// Reads `only` (or every room, by name), handing each line to `write`
/// with its room.
pub(crate) fn export(
    conn: &Connection,
    only: Option<&str>,
    write: &mut dyn FnMut(&str, &Line) -> std::io::Result<()>,
) -> Result<(), ExportError> {
    let mut rooms = conn.prepare(
        "SELECT id, name, last_seq, last_event_at FROM rooms
         WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
    )?;
    let rooms: Vec<(i64, String, i64, i64)> = rooms
        .query_map([only], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?
        .collect::<Result<_, _>>()?;
    for (room_id, room, last_seq, last_event_at) in rooms {
        let head = RoomHead {
            room: room.clone(),
            seq: to_id(last_seq)?,
            last_event_at,
            rules: rules_of(conn, room_id)?,
        };
        write(&room, &Line::Room(head))?;
        let mut reactions = reactions_of(conn, room_id)?;
        let mut events = conn.prepare(
            "SELECT m.seq, m.kind, m.user, m.body, m.date_time, m.client_id, m.edited_at,
                    m.deleted, m.mentions, m.claimed, m.target, m.author_key,
                    o.user AS quoted_user, o.body AS quoted_body, o.claimed AS quoted_claimed,
                    o.deleted AS quoted_deleted
             FROM events m
             LEFT JOIN events o ON o.room = m.room AND o.seq = m.target AND o.kind = 'message'
                                AND m.kind = 'message'
             WHERE m.room = ?1 ORDER BY m.seq",
        )?;
        let mut rows = events.query([room_id])?;
        while let Some(row) = rows.next()? {
            let kind: String = row.get("kind")?;
            let line = if kind == "message" {
                let mut posted = posted_of(row)?;
                posted.message.reactions = reactions.remove(&posted.message.id).unwrap_or_default();
                Line::Message(StoredPost {
                    posted,
                    author_key: row.get("author_key")?,
                })
            } else {
                // An edit of a message deleted since has lost its text:
                // the log no longer replays it, nor does an export.
                let Some(event) = change_of(row)? else {
                    continue;
                };
                Line::Event {
                    event,
                    date_time: row.get("date_time")?,
                }
            };
            write(&room, &line)?;
        }
    }
    Ok(())
}

/// Every message's reactions in room `room_id`, naming every giver, in the
/// order each emoji was first given and each name gave it.
fn reactions_of(
    conn: &Connection,
    room_id: i64,
) -> Result<HashMap<u64, Vec<Reactions>>, StoreError> {
    let mut statement = conn.prepare(
        "SELECT message, emoji, user FROM reactions WHERE room = ?1 ORDER BY message, seq",
    )?;
    let mut rows = statement.query([room_id])?;
    let mut all: HashMap<u64, Vec<Reactions>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let given = all.entry(to_id(row.get(0)?)?).or_default();
        let emoji: String = row.get(1)?;
        let user: String = row.get(2)?;
        match given.iter_mut().find(|given| given.emoji == emoji) {
            Some(given) => {
                given.users.push(user);
                given.count += 1;
            }
            None => given.push(Reactions {
                emoji,
                users: vec![user],
                count: 1,
            }),
        }
    }
    Ok(all)
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

impl From<rusqlite::Error> for ExportError {
    fn from(error: rusqlite::Error) -> Self {
        Self::Store(error.into())
    }
}

/// Whether the database holds no room yet: an import goes only there.
pub(crate) fn is_empty(conn: &Connection) -> Result<bool, StoreError> {
    let rooms: i64 = conn.query_row("SELECT count(*) FROM rooms", [], |row| row.get(0))?;
    Ok(rooms == 0)
}

/// Writes checked lines (see `transfer::Checker`) into an empty database,
/// within `tx` (the caller commits).
pub(crate) struct Importer<'t> {
    tx: &'t Transaction<'t>,
    rooms: HashMap<String, i64>,
}

impl<'t> Importer<'t> {
    pub(crate) fn new(tx: &'t Transaction<'t>) -> Self {
        Self {
            tx,
            rooms: HashMap::new(),
        }
    }

    /// Writes one line of `room`.
    pub(crate) fn write(&mut self, room: &str, line: &Line) -> Result<(), StoreError> {
        if let Line::Room(head) = line {
            let rules = serde_json::to_string(&head.rules)
                .map_err(|error| StoreError::Failed(format!("the room's rules: {error}")))?;
            self.tx.execute(
                "INSERT INTO rooms (name, last_seq, last_event_at, rules) VALUES (?1, ?2, ?3, ?4)",
                params![room, to_sql(head.seq)?, head.last_event_at, rules],
            )?;
            self.rooms
                .insert(room.to_owned(), self.tx.last_insert_rowid());
            return Ok(());
        }
        let room_id = *self
            .rooms
            .get(room)
            .ok_or_else(|| StoreError::Failed(format!("room {room:?} was not opened")))?;
        match line {
            Line::Room(_) => Ok(()),
            Line::Message(post) => self.message(room_id, post),
            Line::Event { event, date_time } => self.event(room_id, event, *date_time),
        }
    }

    fn message(&mut self, room_id: i64, post: &StoredPost) -> Result<(), StoreError> {
        let message: &ChatMessage = &post.posted.message;
        let seq = to_sql(message.id)?;
        let body = (!message.deleted).then_some(message.msg.as_str());
        self.tx
            .prepare_cached(
                "INSERT INTO events
                 (room, seq, kind, user, date_time, client_id, body, target, author_key, mentions,
                  claimed, edited_at, deleted)
                 VALUES (?1, ?2, 'message', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                room_id,
                seq,
                message.user,
                message.date_time,
                post.posted.client_id,
                body,
                message
                    .reply_to
                    .as_ref()
                    .map(|quote| to_sql(quote.id))
                    .transpose()?,
                post.author_key,
                (!message.mentions.is_empty()).then(|| message.mentions.join("\n")),
                message.claimed,
                message.edited_at,
                message.deleted,
            ])?;
        if let Some(body) = body {
            search::add(self.tx, room_id, seq, &message.user, body, None)?;
        }
        // Their order, as given: each emoji as first given, each name as it gave it.
        let mut order = 0_i64;
        for given in &message.reactions {
            for user in &given.users {
                order += 1;
                self.tx
                    .prepare_cached(
                        "INSERT INTO reactions (room, message, emoji, user, seq)
                         VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![room_id, seq, given.emoji, user, order])?;
            }
        }
        Ok(())
    }

    fn event(&mut self, room_id: i64, event: &Event, at: i64) -> Result<(), StoreError> {
        let seq = to_sql(event.seq())?;
        // Who asked for an edit or a deletion is not kept beyond the log's
        // row, and read from nowhere: the message's author stands for it.
        let (kind, user, body, mentions): (&str, Option<String>, Option<String>, Option<String>) =
            match event {
                Event::Posted(_) => return Ok(()),
                Event::Edited(edit) => (
                    "edit",
                    None,
                    Some(edit.msg.clone()),
                    (!edit.mentions.is_empty()).then(|| edit.mentions.join("\n")),
                ),
                Event::Deleted(_) => ("delete", None, None, None),
                Event::Reacted(reaction) => (
                    if reaction.on { "react" } else { "unreact" },
                    Some(reaction.user.clone()),
                    Some(reaction.emoji.clone()),
                    None,
                ),
                Event::Moderated(moderation) => (
                    "moderate",
                    Some(moderation.by.clone()),
                    Some(ModerationBody::of_stored(moderation).to_json()),
                    None,
                ),
            };
        let target = match event {
            Event::Moderated(moderation) => moderation.id,
            Event::Posted(_) | Event::Edited(_) | Event::Deleted(_) | Event::Reacted(_) => {
                event.target()
            }
        };
        self.tx
            .prepare_cached(
                "INSERT INTO events (room, seq, kind, user, date_time, body, target, mentions)
                 VALUES (?1, ?2, ?3,
                         coalesce(?4, (SELECT user FROM events WHERE room = ?1 AND seq = ?7), ''),
                         ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                room_id,
                seq,
                kind,
                user,
                at,
                body,
                target.map(to_sql).transpose()?,
                mentions,
            ])?;
        Ok(())
    }
}
