//! `server export` and `server import` (the file is `history_file`'s):
//! which store, which file, the whole file checked before an import
//! writes anything.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use redis::aio::ConnectionManager;
use serde_json::Value;

use crate::cluster::Keys;
use crate::config::Config;
use crate::history_file::{header, Checker, Line, LineError, FORMAT, VERSION};
use crate::store::transfer::ExportError;
use crate::store::StoreError;

/// What an export or import moved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferReport {
    pub rooms: u64,
    /// Messages, tombstones included.
    pub messages: u64,
    /// Edits, deletions, reactions and moderators' actions.
    pub events: u64,
}

impl TransferReport {
    fn count(&mut self, line: &Line) {
        match line {
            Line::Room(_) => self.rooms += 1,
            Line::Message(_) => self.messages += 1,
            Line::Event { .. } => self.events += 1,
        }
    }
}

/// Why an export or import did not happen, or stopped.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{0} exists: export to a new file (nothing is overwritten)")]
    Exists(std::path::PathBuf),
    #[error("there is no database at {0}")]
    NoDatabase(std::path::PathBuf),
    #[error("there is no room {0:?}")]
    NoRoom(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the export: {0}")]
    Write(std::io::Error),
    #[error("line 1 is not the header of this server's export ({FORMAT}, version {VERSION})")]
    Header,
    #[error("line {line}: {source}")]
    Line { line: usize, source: LineError },
    #[error("the store already holds rooms: import only into an empty one (a new --db, or a --redis-prefix nothing uses yet)")]
    NotEmpty,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ExportError> for TransferError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::Store(error) => Self::Store(error),
            ExportError::Write(error) => Self::Write(error),
        }
    }
}

/// Where the history is: `--redis-url`'s, or `--db`'s.
async fn open_redis(config: &Config) -> Result<Option<(ConnectionManager, Keys)>, TransferError> {
    let Some(url) = &config.redis_url else {
        return Ok(None);
    };
    let redis = crate::cluster::connect_url(url).await?;
    Ok(Some((redis, Keys::new(&config.redis_prefix, 0))))
}

/// `server export [--room ROOM] FILE`: `room`'s history (or every room's)
/// to `out` (`-`: standard output), which must not exist.
pub async fn export(
    config: &Config,
    room: Option<&str>,
    out: &Path,
) -> Result<TransferReport, TransferError> {
    let room = match room {
        Some(room) => Some(
            protocol::canonical_room(room).map_err(|_| TransferError::NoRoom(room.to_owned()))?,
        ),
        None => None,
    };
    let to_stdout = out == Path::new("-");
    if !to_stdout && out.exists() {
        return Err(TransferError::Exists(out.to_owned()));
    }
    let redis = open_redis(config).await?;
    if redis.is_none() && !config.db.exists() {
        return Err(TransferError::NoDatabase(config.db.clone()));
    }
    let sink: Box<dyn Write + Send> = match to_stdout {
        true => Box::new(std::io::stdout()),
        false => Box::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(out)
                .map_err(TransferError::Write)?,
        ),
    };
    let mut sink = BufWriter::new(sink);
    let mut report = TransferReport::default();
    writeln!(sink, "{}", header()).map_err(TransferError::Write)?;
    let mut write = |room: &str, line: &Line| -> std::io::Result<()> {
        report.count(line);
        writeln!(sink, "{}", line.to_json(room))
    };
    let exported = match redis {
        Some((mut redis, keys)) => {
            crate::log::redis::transfer::export(&mut redis, &keys, room.as_deref(), &mut write)
                .await
        }
        None => {
            let mut conn = crate::store::open_connection(&config.db, &config.default_room)?;
            // One read transaction: the history as of one moment, however
            // busy the server is meanwhile.
            let tx = conn.transaction().map_err(StoreError::from)?;
            crate::store::transfer::export(&tx, room.as_deref(), &mut write)
        }
    };
    let flushed = exported
        .map_err(TransferError::from)
        .and_then(|()| sink.flush().map_err(TransferError::Write));
    if let Err(error) = flushed {
        if !to_stdout {
            let _ = std::fs::remove_file(out);
        }
        return Err(error);
    }
    if let (Some(room), 0) = (room, report.rooms) {
        if !to_stdout {
            let _ = std::fs::remove_file(out);
        }
        return Err(TransferError::NoRoom(room));
    }
    Ok(report)
}

/// The lines of the export at `path`, read one at a time after its header:
/// each with its number in the file.
fn lines_of(
    path: &Path,
) -> Result<impl Iterator<Item = Result<(usize, String, Line), TransferError>>, TransferError> {
    let read_error = |source| TransferError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut lines = BufReader::new(file).lines();
    let first = lines.next().transpose().map_err(read_error)?;
    let header: Option<Value> = first.and_then(|first| serde_json::from_str(&first).ok());
    let known = header.is_some_and(|header| {
        header["type"] == FORMAT && header["version"].as_u64() == Some(VERSION)
    });
    if !known {
        return Err(TransferError::Header);
    }
    let path = path.to_owned();
    Ok(lines
        .enumerate()
        .filter(|(_, text)| text.as_ref().map_or(true, |text| !text.trim().is_empty()))
        .map(move |(at, text)| {
            let line = at + 2;
            let text = text.map_err(|source| TransferError::Read {
                path: path.clone(),
                source,
            })?;
            let (room, parsed) =
                Line::parse(&text).map_err(|source| TransferError::Line { line, source })?;
            Ok((line, room, parsed))
        }))
}

/// `server import FILE`: an export read back into the store, which must
/// hold no room yet. The whole file is checked before anything is
/// written; on SQLite it is then written in one transaction.
pub async fn import(config: &Config, path: &Path) -> Result<TransferReport, TransferError> {
    let mut checker = Checker::default();
    let mut report = TransferReport::default();
    for line in lines_of(path)? {
        let (at, room, line) = line?;
        checker
            .check(&room, &line)
            .map_err(|source| TransferError::Line { line: at, source })?;
        report.count(&line);
    }
    match open_redis(config).await? {
        Some((mut redis, keys)) => {
            if !crate::log::redis::transfer::is_empty(&mut redis, &keys).await? {
                return Err(TransferError::NotEmpty);
            }
            let mut importer = crate::log::redis::transfer::Importer::new(redis, keys);
            for line in lines_of(path)? {
                let (_, room, line) = line?;
                importer.write(&room, &line).await?;
            }
            importer.finish().await?;
        }
        None => {
            let mut conn = crate::store::open_connection(&config.db, &config.default_room)?;
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(StoreError::from)?;
            if !crate::store::transfer::is_empty(&tx)? {
                return Err(TransferError::NotEmpty);
            }
            let mut importer = crate::store::transfer::Importer::new(&tx);
            for line in lines_of(path)? {
                let (_, room, line) = line?;
                importer.write(&room, &line)?;
            }
            drop(importer);
            tx.commit().map_err(StoreError::from)?;
        }
    }
    Ok(report)
}
