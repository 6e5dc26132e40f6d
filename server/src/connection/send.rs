//! `send`: post a message to a room the connection is in.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::{ErrorCode, ServerFrame};

use super::dispatch::rate_limited;
use super::ended::Ended;
use super::{Action, Done, Posts, Session};
use crate::message_log::LogError;
use crate::rooms::Rooms;
use crate::store::Appended;

/// Queues the message to be stored after those sent before it; everyone in
/// the room, the sender included, gets it from the room once stored. The
/// sender alone hears of a resend (the original again) or a failure.
pub(super) fn handle(
    session: &mut Session,
    room: Option<&str>,
    client_id: String,
    msg: String,
) -> Result<(), Ended> {
    let index = match session.room_index(room) {
        Ok(index) => index,
        Err(refused) => {
            session.answer(&refused.frame(Some(client_id)));
            return Ok(());
        }
    };
    let user = session.name.name().to_string();
    let address = session.peer.map(|peer| peer.ip());
    let now = std::time::Instant::now();
    if let Err(wait) = session.budgets.post(&user, address, now) {
        return session.refuse_for_rate(rate_limited(wait, Some(client_id), room));
    }
    let post = Post {
        rooms: Arc::clone(&session.rooms),
        room: session.room_name(index),
        user,
        client_id,
        msg,
    };
    session.strikes = 0;
    match &mut session.posts {
        Some(posts) => posts.waiting.push_back(post),
        None => {
            session.posts = Some(Box::new(Posts {
                storing: store(post),
                waiting: VecDeque::new(),
            }));
        }
    }
    Ok(())
}

/// A message on its way to the log.
pub(super) struct Post {
    rooms: Arc<Rooms>,
    room: String,
    user: String,
    client_id: String,
    msg: String,
}

/// Stores `post`, and comes to what its sender alone is owed.
pub(super) fn store(post: Post) -> Action {
    let Post {
        rooms,
        room,
        user,
        client_id,
        msg,
    } = post;
    Box::pin(async move {
        match rooms.post(&room, &user, msg, client_id.clone()).await {
            Ok(Appended::Stored(_)) => Done::Nothing,
            // A resend: the sender alone gets the original again.
            Ok(Appended::Duplicate(original)) => Done::Answer(ServerFrame::Message {
                room,
                posted: original,
            }),
            Err(LogError::Closed) => Done::Answer(ServerFrame::send_error(
                ErrorCode::ShuttingDown,
                "The server is shutting down; your message was not posted. It will be sent again when you reconnect.",
                client_id,
            ).in_room(&room)),
            Err(LogError::Store(error)) => {
                tracing::error!(%error, %room, "cannot store a message");
                Done::Answer(ServerFrame::send_error(
                    ErrorCode::StorageUnavailable,
                    "The server could not store your message; it was not posted. Send it again: it cannot be posted twice.",
                    client_id,
                ).in_room(&room))
            }
        }
    })
}
