//! `loadOlder`: a page of a room's older history.

use std::sync::Arc;

use protocol::{ErrorCode, ServerFrame};

use super::dispatch::rate_limited;
use super::ended::Ended;
use super::{Done, Session};
use crate::log::LogError;

/// Reads the page beside the writer; its bytes count against the
/// address's history budget once sent. A page holds at most
/// `--history-page-bytes` of messages: the newest of those asked
/// for, the rest a next `loadOlder` away.
pub(super) fn handle(
    session: &mut Session,
    room: Option<&str>,
    before: u64,
    limit: u32,
) -> Result<(), Ended> {
    let Some(index) = session.room_or_answer(room, None) else {
        return Ok(());
    };
    if let Some(peer) = session.peer {
        let now = std::time::Instant::now();
        if let Err(wait) = session.budgets.may_read_history(peer.ip(), now) {
            return session.refuse_for_rate(rate_limited(wait, None, room));
        }
    }
    let room = session.room_name(index);
    let rooms = Arc::clone(&session.rooms);
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let budget = session.limits.history_page_bytes;
    session.begin(Box::pin(async move {
        Done::answer(match rooms.older(&room, before, limit).await {
            Ok((mut messages, has_older)) => {
                let left_out = super::keep_newest(&mut messages, budget);
                ServerFrame::Older {
                    room,
                    messages,
                    has_older: has_older || left_out,
                }
            }
            Err(LogError::Closed) => {
                ServerFrame::error(ErrorCode::ShuttingDown, "The server is shutting down.")
                    .in_room(&room)
            }
            Err(LogError::Store(error)) => {
                tracing::error!(%error, %room, "cannot read history");
                ServerFrame::error(
                    ErrorCode::StorageUnavailable,
                    "The server could not read its history. Try again.",
                )
                .in_room(&room)
            }
        })
    }));
    Ok(())
}
