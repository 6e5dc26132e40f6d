//! `search`: the history of one room the connection is in, or of every
//! room it is in, newest first, a page at a time. Only rooms the
//! connection has joined are searched: what it may read.

use std::sync::Arc;

use protocol::{ErrorCode, Query, ServerFrame};

use super::dispatch::rate_limited;
use super::ended::Ended;
use super::{Done, Session};
use crate::log::LogError;

/// Hits in one `results` frame.
pub(super) const PAGE: usize = 20;

pub(super) fn handle(
    session: &mut Session,
    q: &str,
    room: Option<&str>,
    before: Option<u64>,
) -> Result<(), Ended> {
    // Parsed when the frame was: a valid frame's query reads.
    let Ok(query) = Query::parse_in(q, room) else {
        return Ok(());
    };
    let rooms: Vec<String> = match room.or(query.room.as_deref()) {
        Some(named) => match session.room_or_answer(Some(named), None) {
            Some(index) => vec![session.room_name(index)],
            None => return Ok(()),
        },
        None => (0..session.rooms_in.len())
            .map(|index| session.room_name(index))
            .collect(),
    };
    // A search reads history: it spends the address's history budget.
    if let Some(peer) = session.peer {
        let now = std::time::Instant::now();
        if let Err(wait) = session.budgets.may_read_history(peer.ip(), now) {
            // No room named: the page tells a search's refusal from a
            // join's by it.
            return session.refuse_for_rate(rate_limited(wait, None, None));
        }
    }
    let log = Arc::clone(&session.rooms);
    session.begin(Box::pin(async move {
        Done::answer(match log.search(query, rooms, before, PAGE).await {
            Ok((hits, next)) => ServerFrame::Results { hits, next },
            Err(LogError::Closed) => {
                ServerFrame::error(ErrorCode::ShuttingDown, "The server is shutting down.")
            }
            Err(LogError::Store(error)) => {
                tracing::error!(%error, "cannot search");
                ServerFrame::error(
                    ErrorCode::StorageUnavailable,
                    "The server could not search its history. Try again.",
                )
            }
        })
    }));
    Ok(())
}
