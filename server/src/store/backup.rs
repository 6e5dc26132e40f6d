//! `server backup FILE`: a consistent copy of the database while the
//! server runs and takes messages, through SQLite's online backup API.
//!
//! The copy is made in one step (`step(-1)`): under one read transaction,
//! so it is the database as of one moment, holding every message committed
//! before it began. (A copy in small steps starts over whenever the
//! server's writer commits between two, and a busy room would never let
//! it finish.) In WAL mode a reader does not block the writer: the room
//! goes on while the copy is made. It is written beside the destination
//! and renamed into place when complete, so an interrupted backup never
//! leaves a partial file under the name asked for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::StoreError;

/// How long one attempt waits for a lock, and how many attempts a backup
/// makes (a checkpoint holding the file for a moment, say).
const BUSY_PATIENCE: Duration = Duration::from_millis(250);
const ATTEMPTS: usize = 40;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Its size in bytes.
    pub bytes: u64,
    /// The messages it holds that still show.
    pub messages: u64,
}

/// Why a backup was not made.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists: back up to a new file (an old backup is never overwritten)")]
    Exists(PathBuf),
    #[error("there is no database at {0}")]
    NoDatabase(PathBuf),
    #[error("the server's log is in Redis: back it up with Redis's own persistence (RDB or AOF)")]
    Redis,
    #[error("cannot back up: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot back up: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Copies the database at `db` to `to`, which must not exist.
pub fn backup(db: &Path, to: &Path) -> Result<BackupReport, BackupError> {
    if to.exists() {
        return Err(BackupError::Exists(to.to_owned()));
    }
    if !db.exists() {
        return Err(BackupError::NoDatabase(db.to_owned()));
    }
    // Opened as the server opens it would create or migrate it: read only,
    // it is read as it is.
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(BUSY_PATIENCE)?;
    let partial = partial_name(to);
    let _ = std::fs::remove_file(&partial);
    let copied = copy(&source, &partial).and_then(|()| {
        let copy = Connection::open(&partial)?;
        // A copy that says it is whole, or none.
        let check: String = copy.query_row("PRAGMA quick_check", [], |row| row.get(0))?;
        if check != "ok" {
            return Err(BackupError::Store(StoreError::Failed(format!(
                "the copy failed its check: {check}"
            ))));
        }
        let messages: i64 = copy.query_row(
            "SELECT count(*) FROM events WHERE kind = 'message' AND NOT deleted",
            [],
            |row| row.get(0),
        )?;
        Ok(u64::try_from(messages).unwrap_or(0))
    });
    let messages = match copied {
        Ok(messages) => messages,
        Err(error) => {
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    std::fs::rename(&partial, to)?;
    Ok(BackupReport {
        bytes: std::fs::metadata(to)?.len(),
        messages,
    })
}

/// The file a backup to `to` is written to until it is complete.
fn partial_name(to: &Path) -> PathBuf {
    let mut name = to.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    to.with_file_name(name)
}

fn copy(source: &Connection, to: &Path) -> Result<(), BackupError> {
    let mut destination = Connection::open(to)?;
    let backup = Backup::new(source, &mut destination)?;
    for _ in 0..ATTEMPTS {
        if matches!(backup.step(-1)?, StepResult::Done) {
            return Ok(());
        }
        // Busy or locked for a moment: try again (each attempt starts
        // over).
        std::thread::sleep(BUSY_PATIENCE);
    }
    Err(BackupError::Store(StoreError::Failed(
        "the database stayed locked: try again".into(),
    )))
}
