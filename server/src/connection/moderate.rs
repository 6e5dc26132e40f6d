//! `moderate`: a moderator's action in a room. Checked (a moderator of
//! the room, or an admin for `grant` and `revoke`), carried out (the
//! deletions, the ban, the grant), then appended to the room's log as a
//! `moderated` event everyone in the room gets, on every instance.

use std::sync::Arc;

use protocol::{Authority, Deed, ErrorCode, ModAction, ServerFrame, Timed};

use super::change::refused;
use super::ended::Ended;
use super::voice::now_ms;
use super::{Done, Session};
use crate::accounts::{AccountError, Accounts};
use crate::events::{Appended, Author, Change, Event, NewChange, NewEvent, NewModeration, Refusal};
use crate::log::LogError;
use crate::rooms::{Name, Rooms};

/// What the frame asks.
pub(super) struct Request {
    pub(super) room: Option<String>,
    pub(super) action: ModAction,
    pub(super) target: Option<String>,
    pub(super) id: Option<u64>,
    pub(super) duration_s: Option<u64>,
    pub(super) reason: Option<String>,
    pub(super) all_rooms: bool,
}

pub(super) fn handle(session: &mut Session, request: Request) -> Result<(), Ended> {
    let Some(index) = session.room_or_answer(request.room.as_deref(), None) else {
        return Ok(());
    };
    let room = session.room_name(index);
    let moderator = Moderator {
        name: Arc::clone(session.name.name()),
        author: session.author(),
        rooms: Arc::clone(&session.rooms),
        accounts: Arc::clone(&session.accounts),
    };
    session.strikes = 0;
    session.begin(Box::pin(async move {
        let answer = moderator.act(&room, request).await;
        match answer {
            Ok(()) => Done::Nothing,
            Err(frame) => Done::answer(frame.in_room(&room)),
        }
    }));
    Ok(())
}

struct Moderator {
    name: Arc<Name>,
    author: Author,
    rooms: Arc<Rooms>,
    accounts: Arc<Accounts>,
}

impl Moderator {
    async fn act(&self, room: &str, request: Request) -> Result<(), ServerFrame> {
        let takes = request.action.takes();
        let allowed = match takes {
            Authority::RoomModerator => self.accounts.may_moderate(&self.name, room).await,
            Authority::ModeratorOfEveryRoom => self.accounts.moderates_everywhere(&self.name).await,
            Authority::Admin => Ok(self.accounts.is_admin(&self.name)),
        }
        .map_err(unavailable)?;
        if !allowed {
            return Err(ServerFrame::error(
                ErrorCode::NotAllowed,
                match takes {
                    Authority::RoomModerator => format!("Only a moderator of #{room} may do that."),
                    Authority::ModeratorOfEveryRoom => {
                        "Only a moderator of every room (or an admin) kicks and bans: they reach beyond this room."
                            .to_owned()
                    }
                    Authority::Admin => "Only an admin makes moderators.".to_owned(),
                },
            ));
        }
        if let Some(target) = request
            .target
            .as_deref()
            .filter(|_| takes < Authority::Admin)
        {
            if self.accounts.names_admin(target) {
                return Err(ServerFrame::error(
                    ErrorCode::NotAllowed,
                    "An admin cannot be muted, kicked, banned or purged.",
                ));
            }
            let on_a_moderator = (self.accounts)
                .names_moderator(target, room)
                .await
                .map_err(unavailable)?;
            if on_a_moderator && !self.accounts.is_admin(&self.name) {
                return Err(ServerFrame::error(
                    ErrorCode::NotAllowed,
                    format!("{target} moderates #{room}: only an admin acts on a moderator."),
                ));
            }
        }
        let now = now_ms();
        let until = request
            .duration_s
            .and_then(|seconds| i64::try_from(seconds).ok())
            .map(|seconds| now.saturating_add(seconds.saturating_mul(1000)));
        let target = request.target.clone().unwrap_or_default();
        match request.action.deed() {
            Deed::DeleteMessage => {
                let id = request.id.unwrap_or_default();
                match self.remove(room, id).await? {
                    Appended::Refused(refusal) => return Err(refused(refusal, None)),
                    Appended::Unchanged => return Ok(()),
                    Appended::Stored(_) | Appended::Duplicate(_) => {}
                }
            }
            Deed::Purge => self.purge(room, &target).await?,
            Deed::Ban => self
                .accounts
                .ban_name(&target, until, request.reason.clone())
                .await
                .map_err(unavailable)?,
            Deed::Unban => self.accounts.unban(&target).await.map_err(unavailable)?,
            Deed::Grant(on) => {
                let scope = (!request.all_rooms).then_some(room);
                match self.accounts.set_moderator(&target, scope, on).await {
                    Ok(()) => {}
                    Err(AccountError::NotClaimed) => {
                        return Err(ServerFrame::error(
                            ErrorCode::NotAllowed,
                            format!(
                                "{target:?} is not a claimed name: only claimed names moderate."
                            ),
                        ))
                    }
                    Err(error) => return Err(unavailable(error)),
                }
            }
            Deed::NeedsShownMessage => {
                self.shown(room, request.id.unwrap_or_default()).await?;
            }
            Deed::Nothing => {}
        }
        let moderation = NewModeration {
            room: room.to_owned(),
            action: request.action,
            target: request.target,
            id: request.id.filter(|_| request.action.needs_id()),
            by: self.author.user.clone(),
            until: until.filter(|_| request.action.timed() != Timed::Never),
            reason: request.reason,
            all_rooms: request.all_rooms,
        };
        match self.rooms.append(NewEvent::Moderate(moderation)).await {
            Ok(Appended::Stored(Event::Moderated(moderation))) => {
                tracing::info!(moderator = %self.author.user, room, action = request.action.as_str(), "moderated");
                // What follows from the stored action is carried out even
                // if the moderator's connection ends now (a closed tab once
                // left the action out of the audit).
                let follow_up = follow_up(
                    Arc::clone(&self.rooms),
                    Arc::clone(&self.accounts),
                    room.to_owned(),
                    moderation,
                );
                tokio::spawn(follow_up);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(error) => Err(log_failed(error)),
        }
    }

    /// Whether the room shows message `id`: has it, not deleted.
    async fn shown(&self, room: &str, id: u64) -> Result<(), ServerFrame> {
        let (page, _) = (self.rooms)
            .older(room, id.saturating_add(1), 1)
            .await
            .map_err(log_failed)?;
        match page.first().map(|posted| &posted.message) {
            Some(message) if message.id == id && message.deleted => {
                Err(refused(Refusal::Deleted, None))
            }
            Some(message) if message.id == id => Ok(()),
            Some(_) | None => Err(refused(Refusal::NotFound, None)),
        }
    }

    /// Deletes message `id`, whoever posted it.
    async fn remove(&self, room: &str, id: u64) -> Result<Appended, ServerFrame> {
        let change = NewChange {
            room: room.to_owned(),
            author: self.author.clone(),
            id,
            change: Change::Remove,
        };
        self.rooms
            .append(NewEvent::Change(change))
            .await
            .map_err(log_failed)
    }

    /// Deletes every message of `target` in the room (as spelled), newest
    /// first, page by page of the history.
    async fn purge(&self, room: &str, target: &str) -> Result<(), ServerFrame> {
        let ids = self
            .rooms
            .shown_messages_of(room, target)
            .await
            .map_err(log_failed)?;
        for id in ids {
            self.remove(room, id).await?;
        }
        Ok(())
    }
}

/// What a stored action brings about beyond its room: its target put out
/// on the instances that do not follow the room, a guest's browsers let
/// speak again, the audit's entry (the action as the room heard it).
async fn follow_up(
    rooms: Arc<Rooms>,
    accounts: Arc<Accounts>,
    room: String,
    moderation: crate::events::Moderation,
) {
    if moderation.action.puts_out() {
        rooms.put_out_elsewhere(&room, &moderation).await;
    }
    if let (Some(false), Some(target)) =
        (moderation.action.silences(), moderation.target.as_deref())
    {
        if let Err(error) = accounts.unmute_browsers(&room, target).await {
            tracing::warn!(%error, "cannot lift the mutes of an unmuted guest's browsers");
        }
    }
    if let Err(error) = accounts.record(&room, &moderation).await {
        tracing::warn!(%error, "cannot keep a moderator's action for the audit");
    }
}

fn unavailable(error: AccountError) -> ServerFrame {
    tracing::warn!(%error, "cannot check or keep a moderator's action");
    ServerFrame::error(
        ErrorCode::StorageUnavailable,
        "The server could not carry out the action; nothing was changed. Try again.",
    )
}

fn log_failed(error: LogError) -> ServerFrame {
    match error {
        LogError::Closed => ServerFrame::error(
            ErrorCode::ShuttingDown,
            "The server is shutting down; try again when you reconnect.",
        ),
        LogError::Store(error) => {
            tracing::error!(%error, "cannot store a moderator's action");
            ServerFrame::error(
                ErrorCode::StorageUnavailable,
                "The server could not store the action. Try again.",
            )
        }
    }
}
