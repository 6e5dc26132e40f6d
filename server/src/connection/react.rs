//! `react`: add or take back an emoji on a message.

use protocol::{canonical_emoji, ServerFrame};

use super::ended::Ended;
use super::{change, Session};
use crate::events::Change;

/// Only one emoji of Unicode's list is a reaction, in its fully qualified
/// form, so that `❤` and `❤️` count as one.
pub(super) fn handle(
    session: &mut Session,
    room: Option<&str>,
    id: u64,
    emoji: &str,
    on: bool,
) -> Result<(), Ended> {
    match canonical_emoji(emoji) {
        Ok(emoji) => {
            let emoji = emoji.to_owned();
            change::begin(session, room, id, Change::React { emoji, on })
        }
        Err(error) => {
            let refusal = ServerFrame::error(error.code(), error.to_string());
            let refusal = match session.room_index(room) {
                Ok(index) => refusal.in_room(&session.room_name(index)),
                Err(_) => refusal,
            };
            session.answer(&refusal);
            Ok(())
        }
    }
}
