//! Search on Redis: each instance keeps an index of its own, of the rooms
//! it follows, in an in-memory SQLite FTS5 table laid out as the embedded
//! log's (`store::search`: the same words, the same tags, the same query).
//! Redis holds no index: the rooms' messages are the truth, and an index
//! is a view of them that any instance can rebuild.
//!
//! The follower feeds it, in the order it publishes: a room's published
//! events as they come (a post adds its words, an edit replaces them, a
//! deletion takes them out and leaves a tombstone), and the room's past,
//! read from its messages a page at a time between its reads of the
//! streams. A page is read after every event published before it, so what
//! it says of a message is at least as new as those events; a message the
//! index already knows (by an event, or as a tombstone) is left alone, and
//! later events apply in order. Unfollowing a room drops its part; after
//! a restart the index fills again as rooms are followed.
//!
//! Its rows are numbered by time (the message's time, in ms, shifted
//! left 20 bits, plus its id's low bits, moved on past any row taken), so
//! the newest hits come first whatever order rooms were followed in.

use std::sync::Mutex;

use protocol::{Posted, Query};
use rusqlite::{params, Connection, OptionalExtension};

use crate::events::Event;
use crate::store::search::{self as index, Found};
use crate::store::{room_id, StoreError};

const SCHEMA: &str = "
CREATE VIRTUAL TABLE search USING fts5(
    words, tags, room UNINDEXED, seq UNINDEXED,
    content = '', contentless_delete = 1, contentless_unindexed = 1
);
-- The rooms followed; a room followed again gets a new id.
CREATE TABLE rooms (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE);
-- Every message of a followed room the index has heard of: its search
-- row and its author's tag (an edit keeps both), or a NULL row once
-- deleted (a tombstone: its past must not bring it back).
CREATE TABLE known (
    room INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    row INTEGER,
    tags TEXT NOT NULL,
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
";

/// Bits of a row below the message's time.
const ROW_SHIFT: u32 = 20;

pub(super) struct LocalIndex {
    conn: Mutex<Connection>,
}

impl LocalIndex {
    pub(super) fn new() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding it left at worst a statement undone.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts `room` over: what the index had of it is dropped (its past
    /// is read again).
    pub(super) fn follow(&self, room: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        forget(&conn, room)?;
        conn.execute("INSERT INTO rooms (name) VALUES (?1)", [room])?;
        Ok(())
    }

    /// Drops `room` (no one here is in it any more).
    pub(super) fn unfollow(&self, room: &str) -> Result<(), StoreError> {
        forget(&self.conn(), room)
    }

    /// The events of `room` the follower publishes, in order.
    pub(super) fn apply(&self, room: &str, events: &[Event]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(room_id) = room_id(&tx, room)? else {
            return Ok(());
        };
        for event in events {
            match event {
                Event::Posted(posted) => {
                    add_unknown(&tx, room_id, posted)?;
                }
                Event::Edited(edit) => {
                    let seq = to_i64(edit.id);
                    // An edit of a message whose past is not read yet: the
                    // page that reads it will have the edit.
                    if let Some((Some(row), tags)) = known(&tx, room_id, seq)? {
                        delete_row(&tx, row)?;
                        insert_row(&tx, row, &edit.msg, &tags, room_id, seq)?;
                    }
                }
                Event::Deleted(deletion) => {
                    let seq = to_i64(deletion.id);
                    if let Some((Some(row), _)) = known(&tx, room_id, seq)? {
                        delete_row(&tx, row)?;
                    }
                    tx.prepare_cached(
                        "INSERT INTO known (room, seq, row, tags) VALUES (?1, ?2, NULL, '')
                         ON CONFLICT (room, seq) DO UPDATE SET row = NULL",
                    )?
                    .execute(params![room_id, seq])?;
                }
                Event::Reacted(_) | Event::Moderated(_) => {}
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// A page of `room`'s past, as its messages say now: each one the
    /// index does not know yet is added (a deleted one as a tombstone).
    /// Whether the room is still followed.
    pub(super) fn catch_up(&self, room: &str, page: &[Posted]) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let Some(room_id) = room_id(&tx, room)? else {
            return Ok(false);
        };
        for posted in page {
            add_unknown(&tx, room_id, posted)?;
        }
        tx.commit()?;
        Ok(true)
    }

    /// The newest messages of `rooms` that match `query`, before row
    /// `before`: their rooms' names, ids and rows.
    pub(super) fn find(
        &self,
        query: &Query,
        rooms: &[String],
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(String, Found)>, StoreError> {
        let conn = self.conn();
        let mut names = Vec::with_capacity(rooms.len());
        for room in rooms {
            if let Some(id) = room_id(&conn, room)? {
                names.push((id, room));
            }
        }
        let ids: Vec<i64> = names.iter().map(|(id, _)| *id).collect();
        let found = index::find(&conn, query, &ids, before, limit)?;
        Ok(found
            .into_iter()
            .filter_map(|hit| {
                let (_, name) = names.iter().find(|(id, _)| *id == hit.room)?;
                Some(((*name).clone(), hit))
            })
            .collect())
    }

    /// Rows indexed and tombstones kept, over every room (for tests and
    /// the benchmark).
    #[cfg(test)]
    pub(super) fn counts(&self) -> Result<(i64, i64), StoreError> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT count(row), count(*) - count(row) FROM known",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?)
    }
}

impl LocalIndex {
    /// Forgets the messages posted before `before` (ms since the epoch),
    /// which retention took out of Redis: rows are numbered by time. They
    /// stay known, as tombstones, so that a page read before they went
    /// does not bring them back.
    pub(super) fn forget_before(&self, before: i64) -> Result<(), StoreError> {
        let first_kept = before.clamp(0, (1 << 42) - 1) << ROW_SHIFT;
        let conn = self.conn();
        conn.execute("DELETE FROM search WHERE rowid < ?1", [first_kept])?;
        conn.execute("UPDATE known SET row = NULL WHERE row < ?1", [first_kept])?;
        Ok(())
    }
}

fn to_i64(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn forget(conn: &Connection, room: &str) -> Result<(), StoreError> {
    let Some(room_id) = room_id(conn, room)? else {
        return Ok(());
    };
    conn.execute(
        "DELETE FROM search WHERE rowid IN (SELECT row FROM known WHERE room = ?1 AND row IS NOT NULL)",
        [room_id],
    )?;
    conn.execute("DELETE FROM known WHERE room = ?1", [room_id])?;
    conn.execute("DELETE FROM rooms WHERE id = ?1", [room_id])?;
    Ok(())
}

/// What the index knows of message `seq`: its row (`None`: deleted) and
/// its author's tag.
fn known(
    conn: &Connection,
    room_id: i64,
    seq: i64,
) -> Result<Option<(Option<i64>, String)>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT row, tags FROM known WHERE room = ?1 AND seq = ?2")?
        .query_row(params![room_id, seq], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?)
}

/// Adds `posted` unless the index knows it already.
fn add_unknown(conn: &Connection, room_id: i64, posted: &Posted) -> Result<(), StoreError> {
    let message = &posted.message;
    let seq = to_i64(message.id);
    if known(conn, room_id, seq)?.is_some() {
        return Ok(());
    }
    if message.deleted {
        conn.prepare_cached("INSERT INTO known (room, seq, row, tags) VALUES (?1, ?2, NULL, '')")?
            .execute(params![room_id, seq])?;
        return Ok(());
    }
    let tags = format!(
        "{} {}",
        index::room_tag(room_id),
        index::user_tag(&message.user)
    );
    let row = free_row(conn, message.date_time, message.id)?;
    insert_row(conn, row, &message.msg, &tags, room_id, seq)?;
    conn.prepare_cached("INSERT INTO known (room, seq, row, tags) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![room_id, seq, row, tags])?;
    Ok(())
}

/// The row of a message posted at `date_time` (ms) with id `id`: by
/// time, then the first not taken.
fn free_row(conn: &Connection, date_time: i64, id: u64) -> Result<i64, StoreError> {
    // Times from 1970 to the year 2109 fit in 42 bits.
    let time = date_time.clamp(0, (1 << 42) - 1);
    let mut row = (time << ROW_SHIFT) | to_i64(id & ((1 << ROW_SHIFT) - 1));
    let mut taken = conn.prepare_cached("SELECT 1 FROM search WHERE rowid = ?1")?;
    while taken.exists([row])? {
        row += 1;
    }
    Ok(row)
}

fn insert_row(
    conn: &Connection,
    row: i64,
    text: &str,
    tags: &str,
    room_id: i64,
    seq: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO search (rowid, words, tags, room, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![row, index::indexed(text), tags, room_id, seq])?;
    Ok(())
}

fn delete_row(conn: &Connection, row: i64) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?
        .execute([row])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use protocol::ChatMessage;

    use super::*;
    use crate::events::{Deletion, Edit};

    fn posted(id: u64, user: &str, msg: &str, date_time: i64) -> Posted {
        Posted {
            message: ChatMessage {
                id,
                user: user.into(),
                msg: msg.into(),
                date_time,
                ..ChatMessage::default()
            },
            client_id: format!("c{id}"),
        }
    }

    fn deleted(id: u64) -> Posted {
        let mut posted = posted(id, "alice", "", 1);
        posted.message.deleted = true;
        posted
    }

    fn ids(index: &LocalIndex, q: &str, rooms: &[&str]) -> Vec<(String, u64)> {
        let query = Query::parse(q).expect("a query");
        let rooms: Vec<String> = rooms.iter().map(|room| (*room).to_owned()).collect();
        index
            .find(&query, &rooms, None, 100)
            .expect("a search")
            .into_iter()
            .map(|(room, found)| (room, found.seq))
            .collect()
    }

    fn edit(id: u64, msg: &str) -> Event {
        Event::Edited(Edit {
            seq: 100 + id,
            id,
            msg: msg.into(),
            formatted: None,
            edited_at: 5,
            mentions: Vec::new(),
        })
    }

    #[test]
    fn events_and_the_past_meet_whatever_their_order() {
        let index = LocalIndex::new().expect("an index");
        index.follow("lobby").expect("followed");
        // Published before the past is read: a post, an edit and a
        // deletion of messages from before the follow.
        index
            .apply(
                "lobby",
                &[
                    Event::Posted(posted(10, "bob", "deploy friday", 10)),
                    edit(2, "deploy monday"),
                    Event::Deleted(Deletion { seq: 12, id: 3 }),
                ],
            )
            .expect("applied");
        // The past, read after: its message 2 already says "monday", and
        // 3 is deleted; 10 is there too, as it was posted.
        let past = [
            posted(1, "alice", "deploy today", 1),
            posted(2, "alice", "deploy monday", 2),
            deleted(3),
            posted(10, "bob", "deploy friday", 10),
        ];
        assert!(index.catch_up("lobby", &past).expect("caught up"));
        assert_eq!(
            ids(&index, "deploy", &["lobby"]),
            [
                ("lobby".into(), 10),
                ("lobby".into(), 2),
                ("lobby".into(), 1)
            ]
        );
        assert!(ids(&index, "friday", &["lobby"]).len() == 1);
        // An edit once the message is known replaces its words.
        index
            .apply("lobby", &[edit(1, "shipped")])
            .expect("applied");
        assert_eq!(ids(&index, "today", &["lobby"]), []);
        assert_eq!(
            ids(&index, "shipped from:alice", &["lobby"]),
            [("lobby".into(), 1)]
        );
        assert_eq!(index.counts().expect("counts"), (3, 1));
    }

    #[test]
    fn a_stale_page_does_not_bring_back_a_deleted_message() {
        let index = LocalIndex::new().expect("an index");
        index.follow("lobby").expect("followed");
        index
            .apply("lobby", &[Event::Deleted(Deletion { seq: 9, id: 4 })])
            .expect("applied");
        index
            .catch_up("lobby", &[posted(4, "alice", "secret", 4)])
            .expect("caught up");
        assert_eq!(ids(&index, "secret", &["lobby"]), []);
    }

    #[test]
    fn rooms_are_ordered_by_time_and_dropped_when_unfollowed() {
        let index = LocalIndex::new().expect("an index");
        index.follow("rust").expect("followed");
        index.follow("lobby").expect("followed");
        // Followed later, posted earlier: still older in the results.
        index
            .catch_up("rust", &[posted(1, "alice", "hello 你好世界", 3_000)])
            .expect("caught up");
        index
            .catch_up(
                "lobby",
                &[
                    posted(1, "bob", "hello", 1_000),
                    posted(2, "bob", "hello 世界和平", 5_000),
                ],
            )
            .expect("caught up");
        assert_eq!(
            ids(&index, "hello", &["rust", "lobby"]),
            [("lobby".into(), 2), ("rust".into(), 1), ("lobby".into(), 1)]
        );
        assert_eq!(ids(&index, "世界", &["rust", "lobby"]).len(), 2);
        assert_eq!(ids(&index, "hello", &["rust"]), [("rust".into(), 1)]);
        index.unfollow("lobby").expect("unfollowed");
        assert_eq!(
            ids(&index, "hello", &["rust", "lobby"]),
            [("rust".into(), 1)]
        );
        assert!(
            !index
                .catch_up("lobby", &[posted(3, "bob", "hello", 6_000)])
                .expect("a page"),
            "a page of a room no longer followed is dropped"
        );
        assert_eq!(index.counts().expect("counts"), (1, 0));
    }

    #[test]
    fn messages_of_one_millisecond_get_rows_of_their_own() {
        let index = LocalIndex::new().expect("an index");
        index.follow("lobby").expect("followed");
        // Ids whose low 20 bits agree, at the same time.
        let page: Vec<Posted> = [1, 1 + (1 << 20), 2]
            .into_iter()
            .map(|id| posted(id, "alice", "same", 7))
            .collect();
        index.catch_up("lobby", &page).expect("caught up");
        assert_eq!(ids(&index, "same", &["lobby"]).len(), 3);
        // Out of range times and ids are clamped, not refused.
        index
            .catch_up("lobby", &[posted(u64::MAX, "alice", "edge", i64::MIN)])
            .expect("caught up");
        index
            .catch_up("lobby", &[posted(5, "alice", "edge", i64::MAX)])
            .expect("caught up");
        assert_eq!(ids(&index, "edge", &["lobby"]).len(), 2);
    }
}
