//! The search index: SQLite FTS5 over each shown message's words, kept in
//! the transaction of the event that changes them (a post adds its words,
//! an edit replaces them, a deletion takes them out), so a hit is never a
//! message that no longer says so.
//!
//! Words are `protocol::words`: folded (case, accents, compatibility
//! forms) and Chinese read character by character, so the index holds
//! them already folded, space-separated, and FTS5's own tokenizer only
//! splits on the spaces. A query's `世界` is then the phrase `"世 界"`: two
//! characters next to each other, found by the index whatever surrounds
//! them, and a single character is a word of its own. The table is
//! contentless (the text is in `events` already); its rows are numbered in
//! the order messages were posted, so the newest hits come first without
//! sorting them.

use protocol::{Query, Term};
use rusqlite::{params, Connection, Transaction};

use super::StoreError;

/// The index, created by the schema's version 8 (see `schema.rs`).
pub(super) const SCHEMA: &str = "
CREATE VIRTUAL TABLE search USING fts5(
    words,              -- protocol::words, folded, space-separated
    tags,               -- r<room id> u<author's name key, hashed>
    room UNINDEXED,     -- rooms.id
    seq UNINDEXED,      -- the message's id in its room
    content = '',
    contentless_delete = 1,
    contentless_unindexed = 1
);
-- The search row of a message that shows.
ALTER TABLE events ADD COLUMN searched INTEGER;
";

/// The index again (schema 9), without `contentless_delete`: only a
/// plain contentless table takes FTS5's `delete` with the words it
/// indexed, which the `secure-delete` setting then wipes from its
/// segments (see [`remove`]). The words of an index are then those of
/// [`indexed`] for good: a release that reads words otherwise must build
/// the index again.
pub(super) const SCHEMA_V9: &str = "
DROP TABLE search;
-- Left behind by the DROP within the migration's transaction.
DROP TABLE IF EXISTS search_content;
CREATE VIRTUAL TABLE search USING fts5(
    words, tags, room UNINDEXED, seq UNINDEXED,
    content = '',
    contentless_unindexed = 1
);
INSERT INTO search (search, rank) VALUES ('secure-delete', 1);
UPDATE events SET searched = NULL WHERE searched IS NOT NULL;
";

/// The words of a message as the index holds them.
pub(crate) fn indexed(text: &str) -> String {
    protocol::words(text)
        .into_iter()
        .map(|word| word.folded)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The token of room `room_id`.
pub(crate) fn room_tag(room_id: i64) -> String {
    format!("r{room_id}")
}

/// The token of a name (any spelling of it: `protocol::name_key`): a hash,
/// so that it is one word whatever the name is made of.
pub(crate) fn user_tag(user: &str) -> String {
    use sha2::{Digest, Sha256};
    let key = protocol::name_key(user);
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("u{hex}")
}

/// Indexes message `seq` of room `room_id` (posted by `user`, saying
/// `text`) as the newest row, or as row `row` again (an edit keeps the
/// message's place in time).
pub(super) fn add(
    tx: &Transaction<'_>,
    room_id: i64,
    seq: i64,
    user: &str,
    text: &str,
    row: Option<i64>,
) -> Result<(), StoreError> {
    let tags = format!("{} {}", room_tag(room_id), user_tag(user));
    tx.prepare_cached(
        "INSERT INTO search (rowid, words, tags, room, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![row, indexed(text), tags, room_id, seq])?;
    let row = tx.last_insert_rowid();
    tx.prepare_cached("UPDATE events SET searched = ?3 WHERE room = ?1 AND seq = ?2")?
        .execute(params![room_id, seq, row])?;
    Ok(())
}

/// Takes message `seq` of room `room_id` out of the index; its row, if it
/// had one. Called while the message still holds the text indexed: FTS5's
/// `delete` is given the words it indexed and, with its `secure-delete`
/// setting (see [`SCHEMA_V9`]), leaves no trace of them in its segments
/// (`contentless_delete`'s `DELETE` kept them until segments merged).
pub(super) fn remove(
    tx: &Transaction<'_>,
    room_id: i64,
    seq: i64,
) -> Result<Option<i64>, StoreError> {
    let (row, body, user): (Option<i64>, Option<String>, String) = tx
        .prepare_cached("SELECT searched, body, user FROM events WHERE room = ?1 AND seq = ?2")?
        .query_row(params![room_id, seq], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if let Some(row) = row {
        // Indexed, a message has its text: it is taken out while it does.
        if let Some(body) = body {
            let tags = format!("{} {}", room_tag(room_id), user_tag(&user));
            tx.prepare_cached(
                "INSERT INTO search (search, rowid, words, tags, room, seq)
                 VALUES ('delete', ?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![row, indexed(&body), tags, room_id, seq])?;
        }
        tx.prepare_cached("UPDATE events SET searched = NULL WHERE room = ?1 AND seq = ?2")?
            .execute(params![room_id, seq])?;
    }
    Ok(row)
}

/// Message `seq` of room `room_id` now says `text`: its words replace the
/// old ones, in the same place in time.
pub(super) fn replace(
    tx: &Transaction<'_>,
    room_id: i64,
    seq: i64,
    user: &str,
    text: &str,
) -> Result<(), StoreError> {
    let row = remove(tx, room_id, seq)?;
    add(tx, room_id, seq, user, text, row)
}

/// Indexes every message that shows, oldest first: the index of a
/// database from before it, or of schema 8 (schema 9's migration).
pub(super) fn build(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let mut read = tx.prepare(
        "SELECT room, seq, user, body FROM events
         WHERE kind = 'message' AND NOT deleted AND body IS NOT NULL
         ORDER BY date_time, room, seq",
    )?;
    let mut rows = read.query([])?;
    let mut insert =
        tx.prepare("INSERT INTO search (words, tags, room, seq) VALUES (?1, ?2, ?3, ?4)")?;
    let mut mark = tx.prepare("UPDATE events SET searched = ?3 WHERE room = ?1 AND seq = ?2")?;
    while let Some(row) = rows.next()? {
        let (room, seq, user, body): (i64, i64, String, String) =
            (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
        let tags = format!("{} {}", room_tag(room), user_tag(&user));
        insert.execute(params![indexed(&body), tags, room, seq])?;
        mark.execute(params![room, seq, tx.last_insert_rowid()])?;
    }
    Ok(())
}

/// One message a query found: its room's row id, its id, and the search
/// row (the cursor of the next page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Found {
    pub(crate) room: i64,
    pub(crate) seq: u64,
    pub(crate) row: u64,
}

/// FTS5's expression for `query`, its words within the rooms
/// `room_ids`; `None` when it looks for nothing the index holds (terms of
/// no letter or digit, and no name).
fn expression(query: &Query, room_ids: &[i64]) -> Option<String> {
    let mut parts = Vec::new();
    for term in &query.terms {
        let folded = term.folded();
        if folded.is_empty() {
            continue;
        }
        // Folded words are letters and digits only: quoted, each is one
        // token, and nothing in them is FTS5 syntax.
        let phrase = format!("\"{}\"", folded.join(" "));
        parts.push(match term {
            Term::Prefix(_) => format!("words : {phrase} *"),
            Term::Word(_) | Term::Phrase(_) => format!("words : {phrase}"),
        });
    }
    if let Some(from) = &query.from {
        parts.push(format!("tags : {}", user_tag(from)));
    }
    if parts.is_empty() || room_ids.is_empty() {
        return None;
    }
    let rooms: Vec<String> = room_ids.iter().map(|id| room_tag(*id)).collect();
    parts.push(format!("tags : ({})", rooms.join(" OR ")));
    Some(parts.join(" AND "))
}

/// The newest messages matching `query` in the rooms `room_ids`, before
/// search row `before` (none: from the newest), at most `limit`. Any
/// table laid out as [`SCHEMA`]'s `search` will do (Redis's local index
/// is one).
pub(crate) fn find(
    conn: &Connection,
    query: &Query,
    room_ids: &[i64],
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<Found>, StoreError> {
    let Some(expression) = expression(query, room_ids) else {
        return Ok(Vec::new());
    };
    let before = before.map_or(i64::MAX, |row| i64::try_from(row).unwrap_or(i64::MAX));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(
        "SELECT rowid, room, seq FROM search WHERE search MATCH ?1 AND rowid < ?2
         ORDER BY rowid DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(params![expression, before, limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, i64>(2)?,
        ))
    })?;
    let mut found = Vec::new();
    for row in rows {
        let (row, room, seq) = row?;
        found.push(Found {
            room,
            seq: u64::try_from(seq).map_err(|_| StoreError::CorruptId(seq))?,
            row: u64::try_from(row).map_err(|_| StoreError::CorruptId(row))?,
        });
    }
    Ok(found)
}

/// The newest messages of `rooms` (canonical names) that match `query`,
/// at most `limit`, before the search row `before`, in their current
/// state with the query's marks; and the cursor of the next page, if
/// there may be one.
pub(crate) fn hits(
    conn: &Connection,
    query: &Query,
    rooms: &[String],
    before: Option<u64>,
    limit: usize,
) -> Result<(Vec<protocol::Hit>, Option<u64>), StoreError> {
    let mut room_ids = Vec::new();
    for room in rooms {
        room_ids.extend(super::room_id(conn, room)?);
    }
    let found = find(conn, query, &room_ids, before, limit)?;
    let next = found
        .last()
        .map(|hit| hit.row)
        .filter(|_| found.len() == limit);
    let mut hits = Vec::with_capacity(found.len());
    for hit in found {
        let seq = i64::try_from(hit.seq).map_err(|_| StoreError::CorruptId(i64::MAX))?;
        let (room, user, date_time, msg): (String, String, i64, Option<String>) = conn
            .prepare_cached(
                "SELECT rooms.name, user, date_time, body FROM events
                 JOIN rooms ON rooms.id = events.room
                 WHERE events.room = ?1 AND events.seq = ?2",
            )?
            .query_row(params![hit.room, seq], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?;
        let msg = msg.unwrap_or_default();
        hits.push(protocol::Hit {
            marks: query.marks(&msg),
            room,
            id: hit.seq,
            user,
            date_time,
            msg,
        });
    }
    Ok((hits, next))
}
