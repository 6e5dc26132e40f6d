//! Whether a connection may change what others see in a room now. A mute
//! or a lock covers every such frame alike: a post, an edit, a reaction,
//! a "typing" (once, a muted person could still edit old messages to new
//! text). Taking back one's own words (a deletion) is never refused.

use std::sync::Arc;

use protocol::{ErrorCode, ServerFrame};

use super::Session;
use crate::accounts::Accounts;
pub(super) use crate::events::now_ms;
use crate::rooms::{Name, Silenced};

/// What the room allows the connection's name.
pub(super) enum Voice {
    Free,
    /// The room is locked: only a moderator may, asked on the way to the
    /// log (an account lookup).
    ModeratorsOnly(LockCheck),
}

/// A refusal: muted until then (ms since the epoch), as of `now`.
pub(super) struct Muted {
    until: i64,
    now: i64,
}

impl Muted {
    /// The `error` frame, naming the refused `send` when it was one.
    pub(super) fn frame(&self, client_id: Option<String>, room: String) -> ServerFrame {
        let wait = u64::try_from(self.until.saturating_sub(self.now)).unwrap_or(u64::MAX);
        ServerFrame::Error {
            code: ErrorCode::Muted,
            message: "A moderator muted you in this room for now.".into(),
            client_id,
            retry_after_ms: Some(wait.max(1)),
            room: Some(room),
        }
    }
}

/// A locked room's question: is this name one of its moderators?
pub(super) struct LockCheck {
    accounts: Arc<Accounts>,
    name: Arc<Name>,
}

impl LockCheck {
    /// `None` when the name moderates `room`; else the refusal to send
    /// (naming the `send`, when it was one).
    pub(super) async fn refusal(
        &self,
        room: &str,
        client_id: Option<String>,
    ) -> Option<ServerFrame> {
        if self
            .accounts
            .may_moderate(&self.name, room)
            .await
            .unwrap_or(false)
        {
            return None;
        }
        let message = "This room is locked: only its moderators post now.";
        Some(
            match client_id {
                Some(client_id) => {
                    ServerFrame::send_error(ErrorCode::RoomLocked, message, client_id)
                }
                None => ServerFrame::error(ErrorCode::RoomLocked, message),
            }
            .in_room(room),
        )
    }
}

impl Voice {
    /// Asks the lock, when there is one: the refusal, if any.
    pub(super) async fn refusal(
        &self,
        room: &str,
        client_id: Option<String>,
    ) -> Option<ServerFrame> {
        match self {
            Self::Free => None,
            Self::ModeratorsOnly(check) => check.refusal(room, client_id).await,
        }
    }
}

impl Session {
    /// What the room at `index` allows the connection's name now.
    pub(super) fn voice(&self, index: usize) -> Result<Voice, Muted> {
        let now = now_ms();
        let name = self.name.name();
        match self.rooms_in.silenced(index, now) {
            Some(Silenced::Muted { until }) => Err(Muted { until, now }),
            Some(Silenced::Locked) => Ok(Voice::ModeratorsOnly(LockCheck {
                accounts: Arc::clone(&self.accounts),
                name: Arc::clone(name),
            })),
            None => Ok(Voice::Free),
        }
    }
}
