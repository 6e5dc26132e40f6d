//! The rooms' durable logs on one machine: one SQLite file.
//!
//! Only the writer thread writes it (see [`crate::embedded`]), on one
//! connection; pages of history are read on a second. WAL mode with `synchronous=FULL`: a
//! committed batch survives a crash of the process or of the machine, and
//! each batch costs one fsync however many messages it holds.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::Path;

use protocol::{ChatMessage, Posted};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior, MAIN_DB};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("the database {0} can only be read (check its and its directory's permissions): refusing to start a room that cannot store messages")]
    ReadOnly(String),
    #[error("cannot read the listening socket's address: {0}")]
    Listener(std::io::Error),
    #[error("the database has schema version {found}, newer than this release's {supported}: run the release that wrote it (or a later one)")]
    NewerSchema { found: i64, supported: usize },
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A batch failed to commit; each of its senders gets the reason.
    #[error("cannot store: {0}")]
    Failed(String),
    #[error("the database holds an id that does not fit the protocol: {0}")]
    CorruptId(i64),
    #[error("cannot start the database writer: {0}")]
    Thread(String),
    #[error("cannot connect to Redis at {url}: {source}")]
    RedisConnect {
        url: String,
        source: redis::RedisError,
    },
    #[error("Redis error: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("the Redis stream holds an entry this server cannot read: {0}")]
    CorruptEntry(String),
}

/// A message to store in `room`: what the connection vouches for.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub room: String,
    pub user: String,
    pub msg: String,
    pub client_id: String,
    pub date_time: i64,
}

/// What happened to one [`NewMessage`] of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with the next `seq` of its room as its id.
    Stored(Posted),
    /// The same user sent this clientId to this room before: here is what
    /// was stored then.
    Duplicate(Posted),
}

/// The newest messages of a room's log: where the room starts.
#[derive(Debug, Default, Clone)]
pub struct Window {
    /// Oldest first.
    pub recent: Vec<Posted>,
    /// The oldest id the log holds, if any.
    pub first_id: Option<u64>,
    /// The newest id the log gave out (0 for a room nobody posted in).
    pub last_id: u64,
}

/// A room as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomActivity {
    pub room: String,
    /// When its newest message was posted, ms since the Unix epoch.
    pub last_message_at: i64,
}

/// How long a commit waits for a write lock another process holds.
const WRITE_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Where a migration step puts what it moves: the messages of a database
/// from before rooms go to the default room.
struct MigrationContext<'a> {
    default_room: &'a str,
}

type Migration = fn(&rusqlite::Transaction<'_>, &MigrationContext<'_>) -> rusqlite::Result<()>;

/// The schema, step by step: `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1` (SQLite's `user_version`), in one transaction.
/// Version 0 is a new file, or one written before the schema had versions
/// (releases up to 2026-11-28, `tests/fixtures/chat-2026-11-28.db`): the
/// first step's `IF NOT EXISTS` makes both the same. A change to the schema
/// is a new step at the end, never an edit of one that shipped.
const MIGRATIONS: &[Migration] = &[
    |tx, _| tx.execute_batch(SCHEMA_V1),
    |tx, context| {
        tx.execute_batch(SCHEMA_V2)?;
        tx.execute(MOVE_V1_ROOM, [context.default_room])?;
        tx.execute_batch(MOVE_V1_MESSAGES)
    },
];

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id        INTEGER PRIMARY KEY, -- the room's sequence number
    user      TEXT    NOT NULL,
    msg       TEXT    NOT NULL,
    date_time INTEGER NOT NULL,    -- ms since the Unix epoch, UTC
    client_id TEXT    NOT NULL
);
-- Idempotent send: one message per (user, clientId).
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_sender ON messages (user, client_id);
";

/// Rooms, and each room's log of events numbered by its own `seq`. The only
/// kind so far is `message` (a message was posted: its id is the event's
/// `seq`); later kinds (an edit, a reaction) are rows of the same table,
/// replayed by the same `seq > after`.
const SCHEMA_V2: &str = "
CREATE TABLE rooms (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE, -- canonical: NFC, lower case
    last_seq      INTEGER NOT NULL,        -- the newest seq given out
    last_event_at INTEGER NOT NULL         -- ms since the Unix epoch, UTC
);
CREATE INDEX rooms_by_activity ON rooms (last_event_at);
CREATE TABLE events (
    room      INTEGER NOT NULL REFERENCES rooms (id),
    seq       INTEGER NOT NULL,
    kind      TEXT    NOT NULL,  -- 'message'
    user      TEXT    NOT NULL,
    date_time INTEGER NOT NULL,  -- ms since the Unix epoch, UTC
    client_id TEXT,              -- the sender's, for idempotent sends
    body      TEXT,              -- a message's text
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
-- Idempotent send: one message per (room, user, clientId).
CREATE UNIQUE INDEX events_by_sender ON events (room, user, client_id)
    WHERE client_id IS NOT NULL;
";

/// Version 1's one room becomes the default room (`?1`), if it has
/// messages...
const MOVE_V1_ROOM: &str = "
INSERT INTO rooms (id, name, last_seq, last_event_at)
    SELECT 1, ?1, last, at FROM (SELECT max(id) AS last, max(date_time) AS at FROM messages)
    WHERE last IS NOT NULL
";

/// ...and they become its events, ids unchanged.
const MOVE_V1_MESSAGES: &str = "
INSERT INTO events (room, seq, kind, user, date_time, client_id, body)
    SELECT 1, id, 'message', user, date_time, client_id, msg FROM messages;
DROP TABLE messages;
";

pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrating it to
    /// this release's schema (the messages of a database from before rooms
    /// go to `default_room`); `:memory:` gives a store that forgets
    /// everything on exit, for comparison benchmarks.
    pub fn open(path: &Path, default_room: &str) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.display().to_string(),
            source,
        };
        let mut conn = Connection::open(path).map_err(open_error)?;
        // SQLite opens a file it may not write read-only, without an error:
        // every send would then fail.
        if conn.is_readonly(MAIN_DB).map_err(open_error)? {
            return Err(StoreError::ReadOnly(path.display().to_string()));
        }
        // Another process that briefly holds the write lock (an operator's
        // maintenance) delays a commit instead of failing it.
        conn.busy_timeout(WRITE_LOCK_PATIENCE).map_err(open_error)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_error)?;
        migrate(&mut conn, &MigrationContext { default_room })?;
        Ok(Self { conn })
    }

    /// Stores a batch in one transaction (one fsync), giving each message
    /// the next `seq` of its room. Either every message of the batch is
    /// stored, or none is.
    pub fn append(&mut self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        // Immediate: the write lock is taken (or waited for) at the start,
        // not when the first insert finds another process holding it.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcome = Vec::with_capacity(batch.len());
        // Each room's id and newest seq, read once per batch.
        let mut rooms: HashMap<&str, (i64, u64, i64)> = HashMap::new();
        {
            let mut find_room =
                tx.prepare_cached("SELECT id, last_seq, last_event_at FROM rooms WHERE name = ?1")?;
            let mut create_room = tx.prepare_cached(
                "INSERT INTO rooms (name, last_seq, last_event_at) VALUES (?1, 0, 0)",
            )?;
            let mut find = tx.prepare_cached(
                "SELECT seq, body, date_time FROM events
                 WHERE room = ?1 AND user = ?2 AND client_id = ?3",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO events (room, seq, kind, user, date_time, client_id, body)
                 VALUES (?1, ?2, 'message', ?3, ?4, ?5, ?6)",
            )?;
            for new in batch {
                let room = match rooms.entry(&new.room) {
                    Entry::Occupied(known) => known.into_mut(),
                    Entry::Vacant(vacant) => {
                        let found = find_room
                            .query_row([&new.room], |row| {
                                Ok((row.get(0)?, row.get::<_, i64>(1)?, row.get(2)?))
                            })
                            .optional()?;
                        let (id, last, at) = match found {
                            Some(found) => found,
                            None => {
                                create_room.execute([&new.room])?;
                                (tx.last_insert_rowid(), 0, 0)
                            }
                        };
                        vacant.insert((id, to_id(last)?, at))
                    }
                };
                let earlier = find
                    .query_row(params![room.0, new.user, new.client_id], |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, Option<String>>(1)?,
                            row.get(2)?,
                        ))
                    })
                    .optional()?;
                if let Some((seq, msg, date_time)) = earlier {
                    outcome.push(Appended::Duplicate(Posted {
                        message: ChatMessage {
                            id: to_id(seq)?,
                            user: new.user.clone(),
                            msg: msg.unwrap_or_default(),
                            date_time,
                        },
                        client_id: new.client_id.clone(),
                    }));
                    continue;
                }
                room.1 += 1;
                room.2 = new.date_time;
                let seq = to_sql(room.1)?;
                insert.execute(params![
                    room.0,
                    seq,
                    new.user,
                    new.date_time,
                    new.client_id,
                    new.msg
                ])?;
                outcome.push(Appended::Stored(Posted {
                    message: ChatMessage {
                        id: room.1,
                        user: new.user.clone(),
                        msg: new.msg.clone(),
                        date_time: new.date_time,
                    },
                    client_id: new.client_id.clone(),
                }));
            }
            let mut advance = tx.prepare_cached(
                "UPDATE rooms SET last_seq = ?2, last_event_at = ?3 WHERE id = ?1",
            )?;
            for &(id, last, at) in rooms.values() {
                advance.execute(params![id, to_sql(last)?, at])?;
            }
        }
        tx.commit()?;
        Ok(outcome)
    }

    /// Up to `limit` messages of `room` with ids below `before`, oldest
    /// first, and whether any older remain.
    pub fn before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        page_before(&self.conn, room, before, limit)
    }

    /// The newest `limit` messages of `room`, and the ids around them.
    pub fn window(&self, room: &str, limit: usize) -> Result<Window, StoreError> {
        let (recent, _) = self.before(room, u64::MAX, limit)?;
        let ends: Option<(Option<i64>, i64)> = self
            .conn
            .prepare_cached(
                "SELECT (SELECT min(seq) FROM events WHERE room = rooms.id), last_seq
                 FROM rooms WHERE name = ?1",
            )?
            .query_row([room], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let (first, last) = ends.unwrap_or((None, 0));
        Ok(Window {
            recent,
            first_id: first.map(to_id).transpose()?,
            last_id: to_id(last)?,
        })
    }

    /// A connection of its own for reading pages of history, so that they
    /// are read beside the writer (WAL lets readers and the writer work at
    /// once), not queued behind its commits. None for `:memory:`, a
    /// database no second connection can see.
    pub fn reader(&self, path: &Path) -> Result<Option<HistoryReader>, StoreError> {
        if path == Path::new(":memory:") {
            return Ok(None);
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Some(HistoryReader { conn }))
    }
}

/// Brings the schema up to date, step by step, each in a transaction. A
/// database from a newer release (a higher version than this one knows) is
/// refused: reading it could lose what the newer schema holds.
fn migrate(conn: &mut Connection, context: &MigrationContext<'_>) -> Result<(), StoreError> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    let latest = MIGRATIONS.len();
    let from = usize::try_from(found)
        .ok()
        .filter(|&version| version <= latest)
        .ok_or(StoreError::NewerSchema {
            found,
            supported: latest,
        })?;
    for (version, step) in (0_i64..).zip(MIGRATIONS).skip(from) {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        step(&tx, context)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(
            from = version,
            to = version + 1,
            "migrated the database's schema"
        );
    }
    Ok(())
}

/// Reads history on a connection of its own (see [`Store::reader`]).
pub struct HistoryReader {
    conn: Connection,
}

impl HistoryReader {
    /// As [`Store::before`].
    pub fn before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        page_before(&self.conn, room, before, limit)
    }

    /// The rooms posted in most recently, newest first.
    pub fn most_active(&self, limit: usize) -> Result<Vec<RoomActivity>, StoreError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT name, last_event_at FROM rooms ORDER BY last_event_at DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([to_sql_limit(limit)], |row| {
            Ok(RoomActivity {
                room: row.get("name")?,
                last_message_at: row.get("last_event_at")?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// Up to `limit` messages of `room` with ids below `before`, oldest first,
/// and whether any older remain.
fn page_before(
    conn: &Connection,
    room: &str,
    before: u64,
    limit: usize,
) -> Result<(Vec<Posted>, bool), StoreError> {
    let before = i64::try_from(before).unwrap_or(i64::MAX);
    let mut statement = conn.prepare_cached(
        "SELECT seq, user, body, date_time, client_id FROM events
         WHERE room = (SELECT id FROM rooms WHERE name = ?1) AND seq < ?2 AND kind = 'message'
         ORDER BY seq DESC LIMIT ?3",
    )?;
    let rows = statement.query_map(
        params![room, before, to_sql_limit(limit.saturating_add(1))],
        |row| {
            Ok((
                row.get::<_, i64>("seq")?,
                row.get("user")?,
                row.get::<_, Option<String>>("body")?,
                row.get("date_time")?,
                row.get::<_, Option<String>>("client_id")?,
            ))
        },
    )?;
    let mut page = rows
        .map(|row| {
            let (seq, user, body, date_time, client_id) = row?;
            Ok(Posted {
                message: ChatMessage {
                    id: to_id(seq)?,
                    user,
                    msg: body.unwrap_or_default(),
                    date_time,
                },
                client_id: client_id.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let has_older = page.len() > limit;
    page.truncate(limit);
    page.reverse();
    Ok((page, has_older))
}

fn to_id(id: i64) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::CorruptId(id))
}

fn to_sql(id: u64) -> Result<i64, StoreError> {
    i64::try_from(id).map_err(|_| StoreError::CorruptId(i64::MAX))
}

fn to_sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(room: &str, user: &str, client_id: &str, msg: &str) -> NewMessage {
        NewMessage {
            room: room.into(),
            user: user.into(),
            msg: msg.into(),
            client_id: client_id.into(),
            date_time: 1_764_100_000_000,
        }
    }

    fn ids(page: &[Posted]) -> Vec<u64> {
        page.iter().map(|p| p.message.id).collect()
    }

    fn open(path: &Path) -> Store {
        Store::open(path, "lobby").expect("open")
    }

    #[test]
    fn each_room_has_its_own_sequence_and_it_survives_reopening() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("chat.db");
        {
            let mut store = open(&path);
            let batch = [
                new("lobby", "a", "1", "one"),
                new("rust", "b", "1", "two"),
                new("lobby", "b", "2", "three"),
            ];
            let outcome = store.append(&batch).expect("append");
            let ids: Vec<u64> = outcome
                .iter()
                .map(|appended| match appended {
                    Appended::Stored(p) | Appended::Duplicate(p) => p.message.id,
                })
                .collect();
            assert_eq!(ids, [1, 1, 2]);
        }
        let mut store = open(&path);
        store
            .append(&[new("lobby", "a", "3", "four")])
            .expect("append");
        let lobby = store.window("lobby", 10).expect("window");
        assert_eq!(ids(&lobby.recent), [1, 2, 3]);
        assert_eq!((lobby.first_id, lobby.last_id), (Some(1), 3));
        let rust = store.window("rust", 10).expect("window");
        assert_eq!(rust.recent[0].message.msg, "two");
        let nobody = store.window("empty", 10).expect("window");
        assert_eq!(
            (nobody.recent.len(), nobody.first_id, nobody.last_id),
            (0, None, 0)
        );
    }

    #[test]
    fn a_repeated_client_id_returns_the_original_in_its_room() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = open(&dir.path().join("chat.db"));
        store
            .append(&[new("lobby", "a", "x", "first")])
            .expect("append");
        let outcome = store
            .append(&[
                new("lobby", "a", "x", "again"),
                new("lobby", "b", "x", "other user"),
                new("rust", "a", "x", "other room"),
            ])
            .expect("append");
        let Appended::Duplicate(original) = &outcome[0] else {
            panic!("expected a duplicate, got {outcome:?}")
        };
        assert_eq!(
            (original.message.id, original.message.msg.as_str()),
            (1, "first")
        );
        assert!(matches!(&outcome[1], Appended::Stored(p) if p.message.id == 2));
        assert!(matches!(&outcome[2], Appended::Stored(p) if p.message.id == 1));
        // Within one batch too.
        let outcome = store
            .append(&[new("lobby", "c", "y", "one"), new("lobby", "c", "y", "two")])
            .expect("append");
        assert!(matches!(&outcome[1], Appended::Duplicate(p) if p.message.id == 3));
    }

    #[test]
    fn pages_are_exact_and_do_not_overlap() {
        let mut store = open(Path::new(":memory:"));
        let batch: Vec<NewMessage> = (0..25)
            .map(|i| new("lobby", "a", &i.to_string(), "m"))
            .collect();
        store.append(&batch).expect("append");
        store
            .append(&[new("other", "a", "o", "m")])
            .expect("append");
        let (page, more) = store.before("lobby", 26, 10).expect("page");
        assert_eq!(ids(&page), (16..=25).collect::<Vec<_>>());
        assert!(more);
        let (page, more) = store.before("lobby", 16, 10).expect("page");
        assert_eq!(ids(&page), (6..=15).collect::<Vec<_>>());
        assert!(more);
        let (page, more) = store.before("lobby", 6, 10).expect("page");
        assert_eq!(ids(&page), [1, 2, 3, 4, 5]);
        assert!(!more);
        let (page, more) = store.before("lobby", 1, 10).expect("page");
        assert!(page.is_empty() && !more);
        let (page, more) = store.before("lobby", 16, 15).expect("page");
        assert_eq!(ids(&page), (1..=15).collect::<Vec<_>>());
        assert!(!more);
        let (page, more) = store.before("nowhere", 16, 15).expect("page");
        assert!(page.is_empty() && !more);
    }

    #[test]
    fn the_most_active_rooms_come_first() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("chat.db");
        let mut store = open(&path);
        let at = |mut message: NewMessage, date_time| {
            message.date_time = date_time;
            message
        };
        store
            .append(&[
                at(new("old", "a", "1", "m"), 10),
                at(new("new", "a", "1", "m"), 30),
                at(new("middle", "a", "1", "m"), 20),
            ])
            .expect("append");
        let reader = store.reader(&path).expect("reader").expect("a file");
        let rooms: Vec<(String, i64)> = reader
            .most_active(2)
            .expect("rooms")
            .into_iter()
            .map(|activity| (activity.room, activity.last_message_at))
            .collect();
        assert_eq!(rooms, [("new".into(), 30), ("middle".into(), 20)]);
    }

    #[test]
    fn an_unopenable_path_is_a_clear_error() {
        let error = Store::open(Path::new("/nonexistent/dir/chat.db"), "lobby")
            .err()
            .expect("cannot open");
        assert!(
            error.to_string().contains("/nonexistent/dir/chat.db"),
            "{error}"
        );
    }
}
