//! `leave`: leave a room.

use super::ended::Ended;
use super::Session;

/// Drops the membership: the others see the user go (unless another of
/// their connections is still in the room), and no more of the room's
/// frames come. Frames of the room already queued are still written.
pub(super) fn handle(session: &mut Session, room: &str) -> Result<(), Ended> {
    session.strikes = 0;
    match session.room_index(Some(room)) {
        Ok(index) => {
            tracing::debug!(user = %session.name.name(), room = %session.room_name(index), "left a room");
            // Off the name's rooms on every device (a claimed name's).
            let (accounts, name) = (
                std::sync::Arc::clone(&session.accounts),
                std::sync::Arc::clone(session.name.name()),
            );
            let left = session.room_name(index).to_owned();
            tokio::spawn(async move { accounts.keep_room(&name, &left, false).await });
            session.rooms_in.remove(index);
        }
        Err(refused) => {
            session.answer(&refused.frame(None));
        }
    }
    Ok(())
}
