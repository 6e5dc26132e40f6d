//! What the page does with each refusal the server sends: the policy per
//! `ErrorCode`, in one place (a name refused ends the session; a send
//! refused marks its message; a room that cannot be joined leaves the
//! list; a search refused says why in its panel; the rest is a notice).

use std::rc::Rc;

use protocol::ErrorCode;

use super::outbox::OutgoingStatus;
use super::rooms::{self, Joining};
use super::Chat;

impl Chat {
    pub(super) fn refusal(
        &mut self,
        code: ErrorCode,
        message: String,
        client_id: Option<String>,
        retry_after_ms: Option<u64>,
        room: Option<String>,
        now: f64,
    ) {
        // In the reader's language (`i18n::refusal` says how).
        let message = crate::i18n::refusal(code, retry_after_ms, message);
        match (code, client_id, room) {
            (
                ErrorCode::EmptyUsername
                | ErrorCode::UsernameTooLong
                | ErrorCode::InvalidUsername
                | ErrorCode::UsernameTaken,
                _,
                _,
            ) => self.refused = Some(message),
            // A search's (the server names no room for one): shown in
            // the search panel.
            (ErrorCode::InvalidQuery, None, _)
            | (ErrorCode::RateLimited | ErrorCode::StorageUnavailable, None, None)
                if self.search.searching() =>
            {
                self.search.refused(message);
            }
            // Not posted, but it goes out again with the next connection.
            (ErrorCode::ShuttingDown, Some(_), _) => {}
            (ErrorCode::RateLimited, None, Some(room)) => {
                // A join over the rate limit: asked again after the wait.
                let wait = retry_after_ms.unwrap_or(1_000) as f64;
                if let Some(state) = self.room_mut(&room) {
                    state.joining = Joining::RetryAt(now + wait);
                }
            }
            (ErrorCode::Muted, Some(client_id), room) => {
                // Heard of again after a reload: the composer says so.
                let until = retry_after_ms.map(|wait| now + wait as f64);
                if let Some(state) = room.and_then(|room| self.room_mut(&room)) {
                    if state.muted.is_none() {
                        state.muted = Some(rooms::Mute {
                            until,
                            by: None,
                            reason: None,
                        });
                    }
                }
                self.set_status(
                    &client_id,
                    OutgoingStatus::Refused { reason: message },
                    None,
                );
            }
            (_, Some(client_id), _) => {
                self.set_status(
                    &client_id,
                    OutgoingStatus::Refused { reason: message },
                    None,
                );
            }
            // The server forgot the room (it restarted, say): joined again.
            (ErrorCode::NotInRoom, None, Some(room)) => {
                if let Some(state) = self.room_mut(&room) {
                    state.joining = Joining::Wanted;
                }
            }
            // A room that cannot be joined is taken off the list.
            (
                ErrorCode::InvalidRoom | ErrorCode::TooManyRooms | ErrorCode::RoomLimitReached,
                None,
                Some(room),
            ) => {
                Rc::make_mut(&mut self.rooms).retain(|state| state.name != room);
                self.notice = Some(message);
            }
            (_, None, room) => {
                if let Some(state) = room.and_then(|room| self.room_mut(&room)) {
                    state.messages.loading_older = false;
                }
                self.notice = Some(message);
            }
        }
    }
}
