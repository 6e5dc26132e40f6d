//! Reading a room's log: pages of messages in their current state, and the
//! window a room starts from.

use protocol::{
    apply_reaction, excerpt, formatted, ChatMessage, ModAction, Posted, ReplyQuote, RoomRules,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{to_id, to_sql, to_sql_limit, StoreError};
use crate::events::{Deletion, Edit, Event, Moderation, NewModeration, Reaction, Window};

/// A room's row id and newest `seq`, if the room exists.
pub(super) fn room_row(conn: &Connection, room: &str) -> Result<Option<(i64, u64)>, StoreError> {
    let found: Option<(i64, i64)> = conn
        .prepare_cached("SELECT id, last_seq FROM rooms WHERE name = ?1")?
        .query_row([room], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    found.map(|(id, last)| Ok((id, to_id(last)?))).transpose()
}

/// Up to `limit` messages of `room` with ids below `before`, oldest first,
/// in their current state, and whether any older remain.
pub(super) fn page_before(
    conn: &Connection,
    room: &str,
    before: u64,
    limit: usize,
) -> Result<(Vec<Posted>, bool), StoreError> {
    match room_row(conn, room)? {
        Some((room_id, _)) => messages_before(conn, room_id, before, limit),
        None => Ok((Vec::new(), false)),
    }
}

/// Message `id` of the room with row id `room_id`, in its current state.
pub(super) fn message(conn: &Connection, room_id: i64, id: u64) -> Result<Posted, StoreError> {
    let (mut page, _) = messages_before(conn, room_id, id.saturating_add(1), 1)?;
    match page.pop() {
        Some(posted) if posted.message.id == id => Ok(posted),
        _ => Err(StoreError::CorruptId(to_sql(id)?)),
    }
}

/// The newest `limit` messages of `room` and its newest `limit` events:
/// where the room starts in memory.
pub(super) fn window(conn: &Connection, room: &str, limit: usize) -> Result<Window, StoreError> {
    let Some((room_id, last_seq)) = room_row(conn, room)? else {
        return Ok(Window::default());
    };
    let (recent, _) = messages_before(conn, room_id, u64::MAX, limit)?;
    let mut newest = conn.prepare_cached(
        "SELECT seq, kind, user, date_time, body, target, mentions FROM events
         WHERE room = ?1 ORDER BY seq DESC LIMIT ?2",
    )?;
    let mut rows = newest.query(params![room_id, to_sql_limit(limit)])?;
    let mut changes = Vec::new();
    let mut read = 0;
    let mut oldest = 0;
    while let Some(row) = rows.next()? {
        read += 1;
        oldest = to_id(row.get("seq")?)?;
        if let Some(change) = change_of(row)? {
            changes.push(change);
        }
    }
    changes.reverse();
    let first_id: Option<i64> = conn
        .prepare_cached("SELECT min(seq) FROM events WHERE room = ?1 AND kind = 'message'")?
        .query_row([room_id], |row| row.get(0))?;
    let rules = rules_of(conn, room_id)?;
    Ok(Window {
        recent,
        changes,
        // Fewer than asked for: the whole log.
        held_from: if read == limit { oldest } else { 0 },
        first_id: first_id.map(to_id).transpose()?,
        last_seq,
        rules,
    })
}

/// The rules of room `room_id` (see `SCHEMA_V7`).
pub(super) fn rules_of(conn: &Connection, room_id: i64) -> Result<RoomRules, StoreError> {
    let rules: Option<String> = conn
        .prepare_cached("SELECT rules FROM rooms WHERE id = ?1")?
        .query_row([room_id], |row| row.get(0))
        .optional()?;
    rules.map_or(Ok(RoomRules::default()), |rules| {
        serde_json::from_str(&rules)
            .map_err(|error| StoreError::CorruptEntry(format!("room {room_id}'s rules: {error}")))
    })
}

/// What a `moderate` event's `body` holds (the rest is in its columns).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ModerationBody {
    action: ModAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default)]
    all_rooms: bool,
}

impl ModerationBody {
    pub(super) fn of(moderation: &NewModeration) -> Self {
        Self {
            action: moderation.action,
            target: moderation.target.clone(),
            until: moderation.until,
            reason: moderation.reason.clone(),
            all_rooms: moderation.all_rooms,
        }
    }

    /// A stored action's (an import's).
    pub(super) fn of_stored(moderation: &Moderation) -> Self {
        Self {
            action: moderation.action,
            target: moderation.target.clone(),
            until: moderation.until,
            reason: moderation.reason.clone(),
            all_rooms: moderation.all_rooms,
        }
    }

    pub(super) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The moderator's action of a `moderate` row of `events` (its `seq`,
/// `user`, `date_time`, `target` and `body`).
pub(crate) fn moderation_of(row: &Row<'_>) -> Result<Moderation, StoreError> {
    let seq = to_id(row.get("seq")?)?;
    let body: String = row.get("body")?;
    let body: ModerationBody = serde_json::from_str(&body)
        .map_err(|error| StoreError::CorruptEntry(format!("event {seq}: {error}")))?;
    Ok(Moderation {
        seq,
        action: body.action,
        target: body.target,
        id: row
            .get::<_, Option<i64>>("target")?
            .map(to_id)
            .transpose()?,
        by: row.get("user")?,
        until: body.until,
        reason: body.reason,
        all_rooms: body.all_rooms,
        date_time: row.get("date_time")?,
    })
}

/// The event of a row of `events` that is not a post, if it still is one:
/// a deleted message's edits have lost their text, and are not replayed.
pub(super) fn change_of(row: &Row<'_>) -> Result<Option<Event>, StoreError> {
    let seq = to_id(row.get("seq")?)?;
    let kind: String = row.get("kind")?;
    if kind == "message" {
        return Ok(None);
    }
    let id = to_id(row.get::<_, Option<i64>>("target")?.unwrap_or(0))?;
    let body: Option<String> = row.get("body")?;
    Ok(match (kind.as_str(), body) {
        ("edit", Some(msg)) => Some(Event::Edited(Edit::new(
            seq,
            id,
            msg,
            row.get("date_time")?,
            mentions_of(row.get("mentions")?),
        ))),
        ("edit", None) => None,
        ("delete", _) => Some(Event::Deleted(Deletion { seq, id })),
        ("moderate", Some(_)) => Some(Event::Moderated(moderation_of(row)?)),
        (on @ ("react" | "unreact"), Some(emoji)) => Some(Event::Reacted(Reaction {
            seq,
            id,
            emoji,
            user: row.get("user")?,
            on: on == "react",
        })),
        (other, _) => {
            return Err(StoreError::CorruptEntry(format!(
                "event {seq} of kind {other:?}"
            )))
        }
    })
}

/// Up to `limit` messages of a room with ids below `before`, oldest first,
/// in their current state (text, reply quote, reactions), and whether any
/// older remain.
fn messages_before(
    conn: &Connection,
    room_id: i64,
    before: u64,
    limit: usize,
) -> Result<(Vec<Posted>, bool), StoreError> {
    let before = i64::try_from(before).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(
        "SELECT m.seq, m.user, m.body, m.date_time, m.client_id, m.edited_at, m.deleted,
                m.mentions, m.claimed, m.target, o.user AS quoted_user, o.body AS quoted_body, o.claimed AS quoted_claimed,
                o.deleted AS quoted_deleted
         FROM events m
         LEFT JOIN events o ON o.room = m.room AND o.seq = m.target AND o.kind = 'message'
         WHERE m.room = ?1 AND m.seq < ?2 AND m.kind = 'message'
         ORDER BY m.seq DESC LIMIT ?3",
    )?;
    let mut rows = statement.query(params![
        room_id,
        before,
        to_sql_limit(limit.saturating_add(1))
    ])?;
    let mut page = Vec::new();
    while let Some(row) = rows.next()? {
        page.push(posted_of(row)?);
    }
    let has_older = page.len() > limit;
    page.truncate(limit);
    page.reverse();
    add_reactions(conn, room_id, &mut page)?;
    Ok((page, has_older))
}

pub(super) fn posted_of(row: &Row<'_>) -> Result<Posted, StoreError> {
    let reply_to = match row.get::<_, Option<i64>>("target")? {
        None => None,
        Some(target) => {
            let body: Option<String> = row.get("quoted_body")?;
            let deleted = row
                .get::<_, Option<bool>>("quoted_deleted")?
                .unwrap_or(true);
            Some(ReplyQuote {
                id: to_id(target)?,
                user: row
                    .get::<_, Option<String>>("quoted_user")?
                    .unwrap_or_default(),
                excerpt: body
                    .filter(|_| !deleted)
                    .map(|body| excerpt(&body))
                    .unwrap_or_default(),
                deleted,
                claimed: row
                    .get::<_, Option<bool>>("quoted_claimed")?
                    .unwrap_or(false),
            })
        }
    };
    let msg = row.get::<_, Option<String>>("body")?.unwrap_or_default();
    Ok(Posted {
        message: ChatMessage {
            id: to_id(row.get("seq")?)?,
            user: row.get("user")?,
            claimed: row.get("claimed")?,
            formatted: formatted(&msg),
            msg,
            date_time: row.get("date_time")?,
            reply_to,
            mentions: mentions_of(row.get("mentions")?),
            edited_at: row.get("edited_at")?,
            deleted: row.get("deleted")?,
            reactions: Vec::new(),
        },
        client_id: row
            .get::<_, Option<String>>("client_id")?
            .unwrap_or_default(),
    })
}

/// Fills in the reactions of `page` (oldest first), in the order each
/// emoji was first given and each name gave it.
fn add_reactions(conn: &Connection, room_id: i64, page: &mut [Posted]) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (page.first(), page.last()) else {
        return Ok(());
    };
    let mut statement = conn.prepare_cached(
        "SELECT message, emoji, user FROM reactions
         WHERE room = ?1 AND message BETWEEN ?2 AND ?3 ORDER BY message, seq",
    )?;
    let mut rows = statement.query(params![
        room_id,
        to_sql(first.message.id)?,
        to_sql(last.message.id)?
    ])?;
    while let Some(row) = rows.next()? {
        let id = to_id(row.get("message")?)?;
        let emoji: String = row.get("emoji")?;
        let user: String = row.get("user")?;
        if let Ok(at) = page.binary_search_by_key(&id, |posted| posted.message.id) {
            apply_reaction(&mut page[at].message.reactions, &emoji, &user, true);
        }
    }
    Ok(())
}

/// Mentions as stored: one name per line.
pub(super) fn mentions_of(stored: Option<String>) -> Vec<String> {
    stored
        .map(|names| names.lines().map(str::to_owned).collect())
        .unwrap_or_default()
}
