//! The rooms' durable logs on one machine: one SQLite file.
//!
//! Only the writer thread writes it (see [`crate::log::sqlite`]), on one
//! connection; pages of history are read on a second. WAL mode with `synchronous=FULL`: a
//! committed batch survives a crash of the process or of the machine, and
//! each batch costs one fsync however many messages it holds.

pub(crate) mod backup;
mod read;
mod retain;
mod schema;
pub(crate) mod search;
pub(crate) mod transfer;
mod write;

use std::path::Path;

use protocol::{Posted, RoomRules};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, MAIN_DB};
use thiserror::Error;

use crate::events::{Appended, RoomActivity, Stamped, Window};
pub(crate) use read::moderation_of;
use schema::MigrationContext;

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

/// How long a commit waits for a write lock another process holds.
const WRITE_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);
/// How long emptying the WAL after a deletion waits for readers to move on.
const WIPE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(50);

pub(crate) struct Store {
    conn: Connection,
    /// A deleted text may still be in the WAL: a checkpoint that empties
    /// it is owed (tried after every commit until one succeeds).
    wipe_owed: bool,
}

impl Store {
    /// Opens (creating if needed) the database at `path`, migrating it to
    /// this release's schema (the messages of a database from before rooms
    /// go to `default_room`); `:memory:` gives a store that forgets
    /// everything on exit, for comparison benchmarks.
    pub(crate) fn open(path: &Path, default_room: &str) -> Result<Self, StoreError> {
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
        // What a deletion frees is overwritten with zeros, not left in the
        // page for anyone reading the file.
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(open_error)?;
        schema::migrate(&mut conn, &MigrationContext { default_room })?;
        Ok(Self {
            conn,
            wipe_owed: false,
        })
    }

    /// Appends a batch in one transaction (one fsync), giving each event
    /// the next `seq` of its room (see [`write`]). Either every event of
    /// the batch is stored, or none is. When the batch deleted a message,
    /// the WAL is then checkpointed and emptied: with `secure_delete`, the
    /// text is then in neither the file nor its WAL.
    pub(crate) fn append(&mut self, batch: &[Stamped]) -> Result<Vec<Appended>, StoreError> {
        // Immediate: the write lock is taken (or waited for) at the start,
        // not when the first insert finds another process holding it.
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let written = write::append(&tx, batch)?;
        tx.commit()?;
        self.wipe_owed |= written.deleted;
        if self.wipe_owed {
            self.wipe_wal()?;
        }
        Ok(written.outcome)
    }

    /// Removes at most `limit` messages posted before `before` (ms since
    /// the epoch), oldest first, with their edits and reactions, in one
    /// transaction; then empties the WAL as a deletion does. Answers how
    /// many went: fewer than `limit`, and none older is left.
    pub(crate) fn retain(&mut self, before: i64, limit: usize) -> Result<usize, StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let removed = retain::remove_before(&tx, before, limit)?;
        tx.commit()?;
        if removed > 0 {
            self.wipe_owed = true;
            self.wipe_wal()?;
        }
        Ok(removed)
    }

    /// Copies the WAL into the file (where `secure_delete` has zeroed what
    /// a deletion freed) and empties it. A reader in the middle of a page
    /// of history can hold it up; then the next commit tries again.
    fn wipe_wal(&mut self) -> Result<(), StoreError> {
        // Briefly: the senders of the next batch are waiting.
        self.conn.busy_timeout(WIPE_PATIENCE)?;
        let checkpoint = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0));
        self.conn.busy_timeout(WRITE_LOCK_PATIENCE)?;
        let busy: bool = checkpoint?;
        if busy {
            tracing::warn!(
                "a reader held the WAL: a deleted text stays in it until the next commit"
            );
        }
        self.wipe_owed = busy;
        Ok(())
    }

    /// Up to `limit` messages of `room` with ids below `before`, oldest
    /// first, in their current state, and whether any older remain.
    pub(crate) fn before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        read::page_before(&self.conn, room, before, limit)
    }

    /// The newest `limit` messages and events of `room`.
    pub(crate) fn window(&self, room: &str, limit: usize) -> Result<Window, StoreError> {
        read::window(&self.conn, room, limit)
    }

    /// A connection of its own for reading pages of history, so that they
    /// are read beside the writer (WAL lets readers and the writer work at
    /// once), not queued behind its commits. None for `:memory:`, a
    /// database no second connection can see.
    pub(crate) fn reader(&self, path: &Path) -> Result<Option<HistoryReader>, StoreError> {
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

/// A connection to the database at `path`, opened and migrated as the
/// log's (a second one for the same file, or a database of its own for
/// `:memory:`): what the names' directory uses.
pub(crate) fn open_connection(path: &Path, default_room: &str) -> Result<Connection, StoreError> {
    Store::open(path, default_room).map(|store| store.conn)
}

impl Store {
    /// As [`search::hits`], on the writer's connection (a `:memory:`
    /// database has no other).
    pub(crate) fn search(
        &self,
        query: &protocol::Query,
        rooms: &[String],
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<protocol::Hit>, Option<u64>), StoreError> {
        search::hits(&self.conn, query, rooms, before, limit)
    }
}

/// The row id of room `name` in a `rooms` table (the store's, or Redis's
/// local search index's), if it has one.
pub(crate) fn room_id(conn: &Connection, name: &str) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM rooms WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()?)
}

/// Reads history on a connection of its own (see [`Store::reader`]).
pub(crate) struct HistoryReader {
    conn: Connection,
}

impl HistoryReader {
    /// As [`Store::before`].
    pub(crate) fn before(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), StoreError> {
        read::page_before(&self.conn, room, before, limit)
    }

    /// `room`'s rules (who is muted until when, expired mutes included:
    /// the caller knows the time); a room never written has the default.
    pub(crate) fn rules(&self, room: &str) -> Result<RoomRules, StoreError> {
        room_id(&self.conn, room)?.map_or(Ok(RoomRules::default()), |id| {
            read::rules_of(&self.conn, id)
        })
    }

    /// As [`search::hits`].
    pub(crate) fn search(
        &self,
        query: &protocol::Query,
        rooms: &[String],
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<protocol::Hit>, Option<u64>), StoreError> {
        search::hits(&self.conn, query, rooms, before, limit)
    }

    /// The rooms posted in most recently, newest first.
    pub(crate) fn most_active(&self, limit: usize) -> Result<Vec<RoomActivity>, StoreError> {
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
mod tests;
