//! `send`: post a message to a room the connection is in.

use std::collections::VecDeque;
use std::sync::Arc;

use protocol::{mentions, ErrorCode, ServerFrame};

use super::change::refused;
use super::dispatch::rate_limited;
use super::ended::Ended;
use super::voice::Voice;
use super::{Action, Done, Posts, Session};
use crate::events::{Appended, NewEvent, NewMessage};
use crate::log::LogError;
use crate::rooms::Rooms;

/// Queues the message to be stored after those sent before it; everyone in
/// the room, the sender included, gets it from the room once stored. The
/// sender alone hears of a resend (the original again), a refusal (a reply
/// to a message not there, or deleted) or a failure.
pub(super) fn handle(
    session: &mut Session,
    room: Option<&str>,
    client_id: String,
    msg: String,
    reply_to: Option<u64>,
) -> Result<(), Ended> {
    let index = match session.room_index(room) {
        Ok(index) => index,
        Err(refused) => {
            session.answer(&refused.frame(Some(client_id)));
            return Ok(());
        }
    };
    let voice = match session.voice(index) {
        Ok(voice) => voice,
        Err(muted) => {
            session.answer(&muted.frame(Some(client_id), session.room_name(index)));
            return Ok(());
        }
    };
    if let Err(wait) = session.spend_post_budget() {
        return session.refuse_for_rate(rate_limited(wait, Some(client_id), room));
    }
    let post = Post {
        voice,
        rooms: Arc::clone(&session.rooms),
        message: NewMessage {
            room: session.room_name(index),
            author: session.author(),
            mentions: mentions(&msg),
            msg,
            client_id,
            reply_to,
        },
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
    /// In a locked room: the sender must be one of its moderators.
    voice: Voice,
    rooms: Arc<Rooms>,
    message: NewMessage,
}

/// Stores `post`, and comes to what its sender alone is owed.
pub(super) fn store(post: Post) -> Action {
    let Post {
        voice,
        rooms,
        message,
    } = post;
    let room = message.room.clone();
    let client_id = message.client_id.clone();
    Box::pin(async move {
        if let Some(refusal) = voice.refusal(&room, Some(client_id.clone())).await {
            return Done::answer(refusal);
        }
        match rooms.append(NewEvent::Post(message)).await {
            Ok(Appended::Stored(_) | Appended::Unchanged) => Done::Nothing,
            Ok(Appended::Refused(refusal)) => {
                Done::answer(refused(refusal, Some(client_id)).in_room(&room))
            }
            // A resend: the sender alone gets the original again.
            Ok(Appended::Duplicate(original)) => Done::answer(ServerFrame::Message {
                room,
                posted: original,
            }),
            Err(LogError::Closed) => Done::answer(ServerFrame::send_error(
                ErrorCode::ShuttingDown,
                "The server is shutting down; your message was not posted. It will be sent again when you reconnect.",
                client_id,
            ).in_room(&room)),
            Err(LogError::Store(error)) => {
                tracing::error!(%error, %room, "cannot store a message");
                Done::answer(ServerFrame::send_error(
                    ErrorCode::StorageUnavailable,
                    "The server could not store your message; it was not posted. Send it again: it cannot be posted twice.",
                    client_id,
                ).in_room(&room))
            }
        }
    })
}
