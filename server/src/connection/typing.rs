//! `typing`: tell a room the user is typing.

use std::sync::Arc;

use super::ended::Ended;
use super::{Done, Session};

/// Relayed at most once per interval per name, whichever tab types.
pub(super) fn handle(session: &mut Session, room: Option<&str>) -> Result<(), Ended> {
    let Some(index) = session.room_or_answer(room, None) else {
        return Ok(());
    };
    // Muted: nobody hears of it (typing is never answered).
    let Ok(voice) = session.voice(index) else {
        return Ok(());
    };
    let user = session.name.name().to_string();
    if !session.budgets.typing(&user, std::time::Instant::now()) {
        return Ok(());
    }
    let room = session.room_name(index);
    let rooms = Arc::clone(&session.rooms);
    session.begin(Box::pin(async move {
        if voice.refusal(&room, None).await.is_some() {
            return Done::Nothing;
        }
        rooms.typing(&room, &user).await;
        Done::Nothing
    }));
    Ok(())
}
