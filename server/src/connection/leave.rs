//! `leave`: leave a room.

use super::ended::Ended;
use super::{Done, Session};

/// Drops the membership: the others see the user go (unless another of
/// their connections is still in the room), and no more of the room's
/// frames come. Frames of the room already queued are still written.
pub(super) fn handle(session: &mut Session, room: &str) -> Result<(), Ended> {
    let Some(index) = session.room_or_answer(Some(room), None) else {
        return Ok(());
    };
    tracing::debug!(user = %session.name.name(), room = %session.room_name(index), "left a room");
    // Off the name's rooms on every device (a claimed name's).
    let (accounts, name) = (
        std::sync::Arc::clone(&session.accounts),
        std::sync::Arc::clone(session.name.name()),
    );
    let left = session.room_name(index).to_owned();
    session.rooms_in.remove(index);
    // An action of the connection's own: its next frame (a join of the
    // same room, say) is read once this is kept, not overtaken by it.
    session.begin(Box::pin(async move {
        accounts.keep_room(&name, &left, false).await;
        Done::Nothing
    }));
    Ok(())
}
