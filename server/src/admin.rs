//! `server admin ...`: an operator's commands to the running server,
//! through a Unix socket beside the database (`--admin-socket`). Only
//! whoever may open the socket file (the server's own user, and root) may
//! send them: the file is made readable and writable by its owner alone,
//! in the server's state directory.
//!
//! One request per connection, one JSON line each way. The server carries
//! it out as a moderator's action would be (a grant or revoke is the
//! room's `moderated` event, in the audit, signed by the first `--admin`
//! name with the reason "server admin command"), or resets a claimed
//! name's password: a new random one, shown once to the operator, that
//! signs in once (see `accounts::Stored`); every session and token of
//! the name ends, here and on every instance.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use protocol::ModAction;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use crate::accounts::{AccountError, Accounts};
use crate::events::{Appended, Event, NewEvent, NewModeration};
use crate::rooms::Rooms;

/// Longest request line read (a name and a room are far shorter).
const REQUEST_BYTES_MAX: u64 = 4096;
/// How long a connection may take to ask, and the server to answer.
const PATIENCE: Duration = Duration::from_secs(10);
/// Why a grant or revoke from here shows in the audit.
const REASON: &str = "server admin command";

/// What the operator asks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum AdminRequest {
    /// A new password for a claimed name; its sessions and tokens end.
    ResetPassword { name: String },
    /// `name` moderates `room` (every room: `None`).
    Grant { name: String, room: Option<String> },
    /// `name` no longer moderates `room` (every room: `None`).
    Revoke { name: String, room: Option<String> },
}

/// What the server answers: what it did, or why not.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum AdminAnswer {
    Done { message: String },
    Refused { message: String },
}

/// Why an admin command did not reach the server.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "no server answers at {path} (is it running with this --db or --admin-socket?): {source}"
    )]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the server did not answer: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server's answer cannot be read: {0}")]
    Answer(#[from] serde_json::Error),
    #[error(
        "the server's admin socket has no place: give --admin-socket (the database is in memory)"
    )]
    NoSocket,
}

/// The socket of the server whose database is `db`, unless it is given:
/// beside the database, in its directory.
pub fn socket_path(db: &Path, given: Option<&Path>) -> Option<PathBuf> {
    if let Some(given) = given {
        return Some(given.to_owned());
    }
    if db == Path::new(":memory:") {
        return None;
    }
    let mut name = db.file_name()?.to_os_string();
    name.push(".admin");
    Some(db.with_file_name(name))
}

/// Sends `request` to the server listening at `path`; its answer.
pub async fn send(path: Option<&Path>, request: &AdminRequest) -> Result<AdminAnswer, AdminError> {
    let path = path.ok_or(AdminError::NoSocket)?;
    let mut stream = UnixStream::connect(path)
        .await
        .map_err(|source| AdminError::Connect {
            path: path.to_owned(),
            source,
        })?;
    let mut line = serde_json::to_string(request)?;
    line.push('\n');
    let answer = tokio::time::timeout(PATIENCE, async {
        stream.write_all(line.as_bytes()).await?;
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    })
    .await
    .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    Ok(serde_json::from_str(&answer)?)
}

/// Serves the admin socket at `path` until `stop`. A socket file left by
/// a server that stopped is replaced; one another server answers on is
/// left to it (with a warning): `Ok(false)`. The caller removes the file
/// when it stops (see [`remove`]).
pub(crate) async fn serve(
    path: &Path,
    rooms: Arc<Rooms>,
    accounts: Arc<Accounts>,
    admin: Option<String>,
    stop: CancellationToken,
) -> std::io::Result<bool> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            tracing::warn!(path = %path.display(), "another server answers admin commands here: this one does not");
            return Ok(false);
        }
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    tracing::info!(path = %path.display(), "admin commands at");
    let commands = Arc::new(Commands {
        rooms,
        accounts,
        by: admin.unwrap_or_else(|| "operator".to_owned()),
    });
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let commands = Arc::clone(&commands);
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(PATIENCE, commands.answer(stream)).await;
                        });
                    }
                    Err(error) => {
                        tracing::warn!(%error, "cannot accept an admin connection");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
    });
    Ok(true)
}

/// Takes the socket file away once the server stopped.
pub(crate) fn remove(path: &Path) {
    if let Err(error) = std::fs::remove_file(path) {
        tracing::warn!(path = %path.display(), %error, "cannot remove the admin socket");
    }
}

struct Commands {
    rooms: Arc<Rooms>,
    accounts: Arc<Accounts>,
    /// Who the audit says acted.
    by: String,
}

impl Commands {
    async fn answer(&self, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let read = BufReader::new(read.take(REQUEST_BYTES_MAX))
            .read_line(&mut line)
            .await;
        let answer = match read.map(|_| serde_json::from_str::<AdminRequest>(&line)) {
            Ok(Ok(request)) => self.carry_out(request).await,
            Ok(Err(error)) => AdminAnswer::Refused {
                message: format!("not a command: {error}"),
            },
            Err(error) => AdminAnswer::Refused {
                message: format!("cannot read the command: {error}"),
            },
        };
        let mut answer = serde_json::to_string(&answer).unwrap_or_default();
        answer.push('\n');
        let _ = write.write_all(answer.as_bytes()).await;
    }

    async fn carry_out(&self, request: AdminRequest) -> AdminAnswer {
        let refused = |message: String| AdminAnswer::Refused { message };
        match request {
            AdminRequest::ResetPassword { name } => {
                match self.accounts.reset_password(&name).await {
                    Ok((name, password)) => {
                        self.rooms.sign_out(&name).await;
                        tracing::info!(name = %name, "password reset by an admin command");
                        AdminAnswer::Done {
                            message: format!(
                                "{name}'s password is now {password}\n\
                                 It signs in once. Every session and API token of {name} has \
                                 ended. Give it to them: they sign in with it, then choose their \
                                 own from the name's menu (Change password, giving this one as \
                                 the current password)."
                            ),
                        }
                    }
                    Err(AccountError::NotClaimed) => refused(format!(
                        "{name:?} is not a claimed name: it has no password to reset"
                    )),
                    Err(error) => refused(format!("cannot reset the password: {error}")),
                }
            }
            AdminRequest::Grant { name, room } => self.grant(&name, room, true).await,
            AdminRequest::Revoke { name, room } => self.grant(&name, room, false).await,
        }
    }

    /// A grant (`on`) or revoke, of `room` or of every room; the room's
    /// `moderated` event (the default room's for every room) is its audit.
    async fn grant(&self, name: &str, room: Option<String>, on: bool) -> AdminAnswer {
        let refused = |message: String| AdminAnswer::Refused { message };
        let scope = match &room {
            Some(room) => match protocol::canonical_room(room) {
                Ok(room) => Some(room),
                Err(error) => return refused(format!("room {room:?}: {error}")),
            },
            None => None,
        };
        match self
            .accounts
            .set_moderator(name, scope.as_deref(), on)
            .await
        {
            Ok(()) => {}
            Err(AccountError::NotClaimed) => {
                return refused(format!(
                    "{name:?} is not a claimed name: only claimed names moderate"
                ))
            }
            Err(error) => return refused(format!("cannot change the moderators: {error}")),
        }
        let room = scope
            .clone()
            .unwrap_or_else(|| self.rooms.default_room().to_owned());
        let moderation = NewModeration {
            room: room.clone(),
            action: if on {
                ModAction::Grant
            } else {
                ModAction::Revoke
            },
            target: Some(name.to_owned()),
            id: None,
            by: self.by.clone(),
            until: None,
            reason: Some(REASON.to_owned()),
            all_rooms: scope.is_none(),
        };
        match self.rooms.append(NewEvent::Moderate(moderation)).await {
            Ok(Appended::Stored(Event::Moderated(moderation))) => {
                if let Err(error) = self.accounts.record(&room, &moderation).await {
                    tracing::warn!(%error, "cannot keep an admin command for the audit");
                }
            }
            Ok(_) => {}
            Err(error) => return refused(format!("done, but not in the audit: {error}")),
        }
        let what = if on {
            "moderates"
        } else {
            "no longer moderates"
        };
        let place = match &scope {
            Some(room) => format!("#{room}"),
            None => "every room".to_owned(),
        };
        AdminAnswer::Done {
            message: format!("{name} {what} {place}"),
        }
    }
}
