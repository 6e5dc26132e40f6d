//! Claimed names and sessions in the SQLite file (tables `accounts` and
//! `sessions`, schema version 4), on connections of their own: sign-ins
//! are rare, and never wait behind the log's writer thread for long (WAL:
//! they write between its commits). What every connection coming in asks
//! (is the name claimed, banned?) is read at once, on a read-only
//! connection: a point read in WAL mode never waits for a lock, and going
//! through the blocking pool would make a crowd arriving at once a crowd
//! of threads.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use tokio::sync::Semaphore;

use super::{Account, Audited, SessionKind, SessionRecord};
use crate::store::{self, StoreError};

pub(crate) struct SqliteDirectory {
    conn: Arc<Mutex<Connection>>,
    /// One write on the blocking pool at a time: they take turns on the
    /// connection anyway, and need no more than one thread.
    in_turn: Semaphore,
    /// Reads, done in place; `None` for `:memory:`, a database no second
    /// connection sees (its reads take the writes' way).
    reader: Option<Mutex<Connection>>,
}

impl SqliteDirectory {
    /// Opens `path` (already migrated by the log's store; `:memory:` gets
    /// a database of its own, as the log's does).
    pub(crate) fn open(path: &Path, default_room: &str) -> Result<Self, StoreError> {
        let conn = store::open_connection(path, default_room)?;
        let reader = if path == Path::new(":memory:") {
            None
        } else {
            let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            let reader =
                Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
                    path: path.display().to_string(),
                    source,
                })?;
            Some(Mutex::new(reader))
        };
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            in_turn: Semaphore::new(1),
            reader,
        })
    }

    /// A quick read (one row by its key), at once on the reader.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        match &self.reader {
            Some(reader) => {
                let reader = reader.lock().unwrap_or_else(PoisonError::into_inner);
                Ok(work(&reader)?)
            }
            None => self.run(work).await,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let _turn = self
            .in_turn
            .acquire()
            .await
            .map_err(|error| StoreError::Failed(error.to_string()))?;
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // Every use is one statement or one transaction: a panic
            // cannot leave a half-done change behind the lock.
            let conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            work(&conn)
        })
        .await
        .map_err(|error| StoreError::Failed(error.to_string()))?
        .map_err(StoreError::from)
    }

    pub(crate) async fn account(&self, key: String) -> Result<Option<Account>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT name, password, generation FROM accounts WHERE key = ?1")?
                .query_row([key], |row| {
                    Ok(Account {
                        name: row.get(0)?,
                        password: row.get(1)?,
                        generation: row.get(2)?,
                    })
                })
                .optional()
        })
        .await
    }

    /// The account's password, from `old` to `new` (its sessions stay):
    /// false if it was no longer `old`.
    pub(crate) async fn swap_password(
        &self,
        key: String,
        old: String,
        new: String,
    ) -> Result<bool, StoreError> {
        self.run(move |conn| {
            conn.execute(
                "UPDATE accounts SET password = ?3 WHERE key = ?1 AND password = ?2",
                params![key, old, new],
            )
            .map(|changed| changed == 1)
        })
        .await
    }

    /// Claims `key` for `name`; false if it is someone's already.
    pub(crate) async fn create_account(
        &self,
        key: String,
        name: String,
        password: String,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.run(move |conn| {
            let inserted = conn.execute(
                "INSERT INTO accounts (key, name, password, generation, claimed_at)
                 VALUES (?1, ?2, ?3, 1, ?4) ON CONFLICT (key) DO NOTHING",
                params![key, name, password, now],
            )?;
            Ok(inserted == 1)
        })
        .await
    }

    /// A new password for `key`: answers with the account's new
    /// generation, and forgets every session of it but `keep`'s.
    pub(crate) async fn set_password(
        &self,
        key: String,
        password: String,
        keep: String,
    ) -> Result<Option<i64>, StoreError> {
        self.run(move |conn| {
            let tx = conn.unchecked_transaction()?;
            let generation: Option<i64> = tx
                .query_row(
                    "UPDATE accounts SET password = ?2, generation = generation + 1
                     WHERE key = ?1 RETURNING generation",
                    params![key, password],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(generation) = generation {
                tx.execute(
                    "DELETE FROM sessions WHERE key = ?1 AND id <> ?2",
                    params![key, keep],
                )?;
                tx.execute(
                    "UPDATE sessions SET generation = ?2 WHERE id = ?1",
                    params![keep, generation],
                )?;
            }
            tx.commit()?;
            Ok(generation)
        })
        .await
    }

    pub(crate) async fn insert_session(
        &self,
        id: String,
        record: SessionRecord,
        now: i64,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            // Sessions past their time go as new ones come.
            conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [now])?;
            conn.execute(
                "INSERT INTO sessions
                 (id, key, name, generation, kind, expires_at, label, guest_session)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    record.key,
                    record.name,
                    record.generation,
                    record.kind.as_str(),
                    record.expires_at,
                    record.label,
                    record.guest_session
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub(crate) async fn session(&self, id: String) -> Result<Option<SessionRecord>, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT key, name, generation, kind, expires_at, label, guest_session FROM sessions
                 WHERE id = ?1",
            )?
            .query_row([id], session_record)
            .optional()
        })
        .await
    }

    /// The API tokens of the name keyed `key`, by id, oldest first.
    pub(crate) async fn tokens(
        &self,
        key: String,
    ) -> Result<Vec<(String, SessionRecord)>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT key, name, generation, kind, expires_at, label, guest_session, id
                 FROM sessions WHERE key = ?1 AND kind = 'token' ORDER BY expires_at",
            )?;
            let rows = statement.query_map([key], |row| Ok((row.get(7)?, session_record(row)?)))?;
            rows.collect()
        })
        .await
    }

    /// Forgets the API token `id` of the name keyed `key`.
    pub(crate) async fn delete_token(&self, key: String, id: String) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM sessions WHERE id = ?1 AND key = ?2 AND kind = 'token'",
                [id, key],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn delete_session(&self, id: String) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.execute("DELETE FROM sessions WHERE id = ?1", [id])
                .map(drop)
        })
        .await
    }
}

/// A session's row: key, name, generation, kind, expires_at, label,
/// guest_session.
fn session_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    let kind: String = row.get(3)?;
    Ok(SessionRecord {
        key: row.get(0)?,
        name: row.get(1)?,
        generation: row.get(2)?,
        kind: SessionKind::from_stored(&kind),
        expires_at: row.get(4)?,
        label: row.get(5)?,
        guest_session: row.get(6)?,
    })
}

/// The rooms a claimed name has joined.
impl SqliteDirectory {
    /// The newest `kept` (a list from before there was a cap may be longer).
    pub(crate) async fn rooms_of(
        &self,
        key: String,
        kept: usize,
    ) -> Result<Vec<String>, StoreError> {
        let kept = i64::try_from(kept).unwrap_or(i64::MAX);
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT room FROM (SELECT room, joined_at FROM account_rooms WHERE key = ?1
                                   ORDER BY joined_at DESC, room DESC LIMIT ?2)
                 ORDER BY joined_at, room",
            )?
            .query_map(params![key, kept], |row| row.get(0))?
            .collect()
        })
        .await
    }

    pub(crate) async fn keep_room(
        &self,
        key: String,
        room: String,
        joined: bool,
        now: i64,
        kept: usize,
    ) -> Result<(), StoreError> {
        let kept = i64::try_from(kept).unwrap_or(i64::MAX);
        self.run(move |conn| {
            if !joined {
                return conn
                    .execute(
                        "DELETE FROM account_rooms WHERE key = ?1 AND room = ?2",
                        params![key, room],
                    )
                    .map(drop);
            }
            let tx = conn.unchecked_transaction()?;
            tx.execute(
                "INSERT INTO account_rooms (key, room, joined_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![key, room, now],
            )?;
            // The newest `kept` stay: the same order `rooms_of` reads.
            tx.execute(
                "DELETE FROM account_rooms WHERE key = ?1 AND room NOT IN (
                     SELECT room FROM account_rooms WHERE key = ?1
                     ORDER BY joined_at DESC, room DESC LIMIT ?2)",
                params![key, kept],
            )?;
            tx.commit()
        })
        .await
    }
}

/// Moderators and bans (see `super::moderation`).
impl SqliteDirectory {
    pub(crate) async fn is_moderator(&self, key: String, room: String) -> Result<bool, StoreError> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM moderators WHERE key = ?1 AND room IN (?2, ''))",
            )?
            .query_row(params![key, room], |row| row.get(0))
        })
        .await
    }

    pub(crate) async fn set_moderator(
        &self,
        key: String,
        room: String,
        on: bool,
    ) -> Result<(), StoreError> {
        self.run(move |conn| {
            let statement = if on {
                "INSERT INTO moderators (key, room) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
            } else {
                "DELETE FROM moderators WHERE key = ?1 AND room = ?2"
            };
            conn.execute(statement, params![key, room]).map(drop)
        })
        .await
    }

    pub(crate) async fn ban(&self, ban: super::moderation::Ban) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.execute(
                "INSERT INTO bans (subject, name, until, reason) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (subject) DO UPDATE
                 SET name = excluded.name, until = excluded.until, reason = excluded.reason",
                params![ban.subject, ban.name, ban.until, ban.reason],
            )
            .map(drop)
        })
        .await
    }

    pub(crate) async fn unban(&self, name: String) -> Result<(), StoreError> {
        self.run(move |conn| {
            conn.execute("DELETE FROM bans WHERE name = ?1", [name])
                .map(drop)
        })
        .await
    }

    /// Every ban kept, lifted by time or not.
    pub(crate) async fn all_bans(&self) -> Result<Vec<super::moderation::Ban>, StoreError> {
        self.read(move |conn| {
            let mut statement =
                conn.prepare_cached("SELECT subject, name, until, reason FROM bans")?;
            let rows = statement.query_map([], |row| {
                Ok(super::moderation::Ban {
                    subject: row.get(0)?,
                    name: row.get(1)?,
                    until: row.get(2)?,
                    reason: row.get(3)?,
                })
            })?;
            rows.collect::<Result<_, _>>()
        })
        .await
    }

    /// The bans of any of `subjects`.
    pub(crate) async fn bans(
        &self,
        subjects: Vec<String>,
    ) -> Result<Vec<super::moderation::Ban>, StoreError> {
        self.read(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT subject, name, until, reason FROM bans WHERE subject = ?1",
            )?;
            let mut found = Vec::new();
            for subject in subjects {
                let ban = statement
                    .query_row([subject], |row| {
                        Ok(super::moderation::Ban {
                            subject: row.get(0)?,
                            name: row.get(1)?,
                            until: row.get(2)?,
                            reason: row.get(3)?,
                        })
                    })
                    .optional()?;
                found.extend(ban);
            }
            Ok(found)
        })
        .await
    }

    /// The newest `limit` moderators' actions, every room's: the log's
    /// own `moderate` events.
    pub(crate) async fn audit(&self, limit: usize) -> Result<Vec<Audited>, StoreError> {
        let rows = self
            .run(move |conn| {
                let mut statement = conn.prepare_cached(
                    "SELECT rooms.name AS room, events.seq, events.user, events.date_time,
                        events.target, events.body
                 FROM events JOIN rooms ON rooms.id = events.room
                 WHERE events.kind = 'moderate'
                 ORDER BY events.date_time DESC, events.seq DESC LIMIT ?1",
                )?;
                let mut rows = statement.query([i64::try_from(limit).unwrap_or(i64::MAX)])?;
                let mut audited = Vec::new();
                while let Some(row) = rows.next()? {
                    audited.push((row.get::<_, String>("room")?, store::moderation_of(row)));
                }
                Ok(audited)
            })
            .await?;
        rows.into_iter()
            .map(|(room, moderation)| Ok((room, moderation?)))
            .collect()
    }
}
