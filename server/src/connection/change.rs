//! What `edit`, `delete` and `react` share: each counts against the post
//! budget, goes to the room's log as a change to one message, and is
//! answered to its sender only when it does not happen (everyone in the
//! room, the sender included, gets the event otherwise).

use std::sync::Arc;

use protocol::{ErrorCode, ServerFrame, REACTIONS_MAX};

use super::dispatch::rate_limited;
use super::ended::Ended;
use super::voice::Voice;
use super::{Done, Session};
use crate::events::{Appended, Change, NewChange, NewEvent, Refusal};
use crate::log::LogError;

/// Appends `change` to message `id` of the room the frame means.
pub(super) fn begin(
    session: &mut Session,
    room: Option<&str>,
    id: u64,
    change: Change,
) -> Result<(), Ended> {
    let Some(index) = session.room_or_answer(room, None) else {
        return Ok(());
    };
    let voice = if change.speaks() {
        match session.voice(index) {
            Ok(voice) => voice,
            Err(muted) => {
                session.answer(&muted.frame(None, session.room_name(index)));
                return Ok(());
            }
        }
    } else {
        Voice::Free
    };
    if let Err(wait) = session.spend_post_budget() {
        return session.refuse_for_rate(rate_limited(wait, None, room));
    }
    let change = NewChange {
        room: session.room_name(index),
        author: session.author(),
        id,
        change,
    };
    let rooms = Arc::clone(&session.rooms);
    session.strikes = 0;
    session.begin(Box::pin(async move {
        let room = change.room.clone();
        if let Some(refusal) = voice.refusal(&room, None).await {
            return Done::answer(refusal);
        }
        match rooms.append(NewEvent::Change(change)).await {
            Ok(Appended::Stored(_) | Appended::Unchanged | Appended::Duplicate(_)) => Done::Nothing,
            Ok(Appended::Refused(refusal)) => Done::answer(refused(refusal, None).in_room(&room)),
            Err(LogError::Closed) => Done::answer(
                ServerFrame::error(
                    ErrorCode::ShuttingDown,
                    "The server is shutting down; nothing was changed.",
                )
                .in_room(&room),
            ),
            Err(LogError::Store(error)) => {
                tracing::error!(%error, %room, "cannot store a change");
                Done::answer(
                    ServerFrame::error(
                        ErrorCode::StorageUnavailable,
                        "The server could not store the change; nothing was changed. Try again.",
                    )
                    .in_room(&room),
                )
            }
        }
    }));
    Ok(())
}

/// The error frame of a log's refusal, about the `send` with `client_id`
/// when it was one.
pub(super) fn refused(refusal: Refusal, client_id: Option<String>) -> ServerFrame {
    let (code, message) = match refusal {
        Refusal::NotFound => (
            ErrorCode::NotFound,
            "There is no such message in this room.".to_owned(),
        ),
        Refusal::NotYours => (
            ErrorCode::NotYours,
            "Only the browser that posted a message may edit or delete it.".to_owned(),
        ),
        Refusal::Deleted => (
            ErrorCode::MessageDeleted,
            "That message was deleted.".to_owned(),
        ),
        Refusal::TooManyReactions => (
            ErrorCode::TooManyReactions,
            format!("A message has at most {REACTIONS_MAX} different reactions."),
        ),
        Refusal::ClientIdReused => (
            ErrorCode::ClientIdReused,
            "This clientId was used for another message: a new message needs a new one.".to_owned(),
        ),
    };
    match client_id {
        Some(client_id) => ServerFrame::send_error(code, message, client_id),
        None => ServerFrame::error(code, message),
    }
}
