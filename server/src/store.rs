//! The room's durable history on one machine: one SQLite file.
//!
//! Only the room's writer thread touches it (see [`crate::room`]), so there
//! is one connection and no locking. WAL mode with `synchronous=FULL`: a
//! committed batch survives a crash of the process or of the machine, and
//! each batch costs one fsync however many messages it holds.

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

/// A message to store: what the connection vouches for.
#[derive(Debug)]
pub struct NewMessage {
    pub user: String,
    pub msg: String,
    pub client_id: String,
    pub date_time: i64,
}

/// What happened to one [`NewMessage`] of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Appended {
    /// Stored now, with this id.
    Stored(Posted),
    /// The same user sent this clientId before: here is what was stored then.
    Duplicate(Posted),
}

/// How long a commit waits for a write lock another process holds.
const WRITE_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Store {
    conn: Connection,
    last_id: u64,
}

/// The schema, step by step: `MIGRATIONS[n]` takes a database from
/// version `n` to `n + 1` (SQLite's `user_version`), in one transaction.
/// Version 0 is a new file, or one written before the schema had versions
/// (releases up to 2026-11-28, `tests/fixtures/chat-2026-11-28.db`): the
/// first step's `IF NOT EXISTS` makes both the same. A change to the schema
/// is a new step at the end, never an edit of one that shipped.
const MIGRATIONS: &[&str] = &[SCHEMA_V1];

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

impl Store {
    /// Opens (creating if needed) the database at `path`; `:memory:` gives a
    /// store that forgets everything on exit, for comparison benchmarks.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
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
        migrate(&mut conn)?;
        let last: Option<i64> = conn
            .query_row("SELECT max(id) FROM messages", [], |row| row.get(0))
            .map_err(open_error)?;
        let last_id = match last {
            None => 0,
            Some(id) => u64::try_from(id).map_err(|_| StoreError::CorruptId(id))?,
        };
        Ok(Self { conn, last_id })
    }

    /// The highest id stored: the sequence continues after it.
    pub fn last_id(&self) -> u64 {
        self.last_id
    }

    /// The smallest id stored, if any.
    pub fn first_id(&self) -> Result<Option<u64>, StoreError> {
        let first: Option<i64> =
            self.conn
                .query_row("SELECT min(id) FROM messages", [], |row| row.get(0))?;
        first.map(to_id).transpose()
    }

    /// Stores a batch in one transaction (one fsync), assigning ids in order.
    /// Either every message of the batch is stored, or none is.
    pub fn append(&mut self, batch: &[NewMessage]) -> Result<Vec<Appended>, StoreError> {
        // Immediate: the write lock is taken (or waited for) at the start,
        // not when the first insert finds another process holding it.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut next_id = self.last_id;
        let mut outcome = Vec::with_capacity(batch.len());
        {
            let mut find = tx.prepare_cached(
                "SELECT id, msg, date_time FROM messages WHERE user = ?1 AND client_id = ?2",
            )?;
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (id, user, msg, date_time, client_id) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for new in batch {
                let earlier = find
                    .query_row(params![new.user, new.client_id], |row| {
                        Ok((row.get::<_, i64>(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()?;
                if let Some((id, msg, date_time)) = earlier {
                    outcome.push(Appended::Duplicate(Posted {
                        message: ChatMessage {
                            id: to_id(id)?,
                            user: new.user.clone(),
                            msg,
                            date_time,
                        },
                        client_id: new.client_id.clone(),
                    }));
                    continue;
                }
                next_id += 1;
                let id = i64::try_from(next_id).map_err(|_| StoreError::CorruptId(i64::MAX))?;
                insert.execute(params![id, new.user, new.msg, new.date_time, new.client_id])?;
                outcome.push(Appended::Stored(Posted {
                    message: ChatMessage {
                        id: next_id,
                        user: new.user.clone(),
                        msg: new.msg.clone(),
                        date_time: new.date_time,
                    },
                    client_id: new.client_id.clone(),
                }));
            }
        }
        tx.commit()?;
        self.last_id = next_id;
        Ok(outcome)
    }

    /// Up to `limit` messages with ids below `before`, oldest first, and
    /// whether any older remain.
    pub fn before(&self, before: u64, limit: usize) -> Result<(Vec<Posted>, bool), StoreError> {
        page_before(&self.conn, before, limit)
    }

    /// The newest `limit` messages, oldest first.
    pub fn recent(&self, limit: usize) -> Result<Vec<Posted>, StoreError> {
        self.before(u64::MAX, limit).map(|(page, _)| page)
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
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
        tx.execute_batch(step)?;
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

/// Reads pages of history on a connection of its own (see [`Store::reader`]).
pub struct HistoryReader {
    conn: Connection,
}

impl HistoryReader {
    /// As [`Store::before`].
    pub fn before(&self, before: u64, limit: usize) -> Result<(Vec<Posted>, bool), StoreError> {
        page_before(&self.conn, before, limit)
    }
}

/// Up to `limit` messages with ids below `before`, oldest first, and
/// whether any older remain.
fn page_before(
    conn: &Connection,
    before: u64,
    limit: usize,
) -> Result<(Vec<Posted>, bool), StoreError> {
    let before = i64::try_from(before).unwrap_or(i64::MAX);
    let mut page = query(
        conn,
        "SELECT id, user, msg, date_time, client_id FROM messages
         WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
        params![before, to_sql_limit(limit.saturating_add(1))],
    )?;
    let has_older = page.len() > limit;
    page.truncate(limit);
    page.reverse();
    Ok((page, has_older))
}

fn query(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Posted>, StoreError> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params, |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get(1)?,
            row.get(2)?,
            row.get(3)?,
            row.get(4)?,
        ))
    })?;
    rows.map(|row| {
        let (id, user, msg, date_time, client_id) = row?;
        Ok(Posted {
            message: ChatMessage {
                id: to_id(id)?,
                user,
                msg,
                date_time,
            },
            client_id,
        })
    })
    .collect()
}

fn to_id(id: i64) -> Result<u64, StoreError> {
    u64::try_from(id).map_err(|_| StoreError::CorruptId(id))
}

fn to_sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(user: &str, client_id: &str, msg: &str) -> NewMessage {
        NewMessage {
            user: user.into(),
            msg: msg.into(),
            client_id: client_id.into(),
            date_time: 1_764_100_000_000,
        }
    }

    fn ids(page: &[Posted]) -> Vec<u64> {
        page.iter().map(|p| p.message.id).collect()
    }

    #[test]
    fn the_sequence_survives_reopening() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("chat.db");
        {
            let mut store = Store::open(&path).expect("open");
            let batch = [new("a", "1", "one"), new("b", "1", "two")];
            let outcome = store.append(&batch).expect("append");
            assert!(matches!(&outcome[1], Appended::Stored(p) if p.message.id == 2));
        }
        let mut store = Store::open(&path).expect("reopen");
        assert_eq!(store.last_id(), 2);
        store.append(&[new("a", "2", "three")]).expect("append");
        assert_eq!(ids(&store.recent(10).expect("recent")), [1, 2, 3]);
        assert_eq!(store.first_id().expect("first"), Some(1));
    }

    #[test]
    fn a_repeated_client_id_returns_the_original() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut store = Store::open(&dir.path().join("chat.db")).expect("open");
        store.append(&[new("a", "x", "first")]).expect("append");
        let outcome = store
            .append(&[new("a", "x", "again"), new("b", "x", "other user")])
            .expect("append");
        let Appended::Duplicate(original) = &outcome[0] else {
            panic!("expected a duplicate, got {outcome:?}")
        };
        assert_eq!(
            (original.message.id, original.message.msg.as_str()),
            (1, "first")
        );
        assert!(matches!(&outcome[1], Appended::Stored(p) if p.message.id == 2));
        // Within one batch too.
        let outcome = store
            .append(&[new("c", "y", "one"), new("c", "y", "two")])
            .expect("append");
        assert!(matches!(&outcome[1], Appended::Duplicate(p) if p.message.id == 3));
        assert_eq!(store.last_id(), 3);
    }

    #[test]
    fn pages_are_exact_and_do_not_overlap() {
        let mut store = Store::open(Path::new(":memory:")).expect("open");
        let batch: Vec<NewMessage> = (0..25).map(|i| new("a", &i.to_string(), "m")).collect();
        store.append(&batch).expect("append");
        let (page, more) = store.before(26, 10).expect("page");
        assert_eq!(ids(&page), (16..=25).collect::<Vec<_>>());
        assert!(more);
        let (page, more) = store.before(16, 10).expect("page");
        assert_eq!(ids(&page), (6..=15).collect::<Vec<_>>());
        assert!(more);
        let (page, more) = store.before(6, 10).expect("page");
        assert_eq!(ids(&page), [1, 2, 3, 4, 5]);
        assert!(!more);
        let (page, more) = store.before(1, 10).expect("page");
        assert!(page.is_empty() && !more);
        let (page, more) = store.before(16, 15).expect("page");
        assert_eq!(ids(&page), (1..=15).collect::<Vec<_>>());
        assert!(!more);
    }

    #[test]
    fn an_unopenable_path_is_a_clear_error() {
        let error = Store::open(Path::new("/nonexistent/dir/chat.db"))
            .err()
            .expect("cannot open");
        assert!(
            error.to_string().contains("/nonexistent/dir/chat.db"),
            "{error}"
        );
    }
}
