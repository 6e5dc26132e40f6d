//! `join`: enter another room on the same connection.

use std::sync::Arc;

use protocol::{canonical_room, ErrorCode, ServerFrame};

use super::dispatch::rate_limited;
use super::ended::Ended;
use super::{history_frames, moderates, online_frame, Done, Joined, Session};
use crate::rooms::{FellBehind, JoinError};

/// Enters the room (making it, if nobody has used its name) and answers
/// with its `history` and `online`, as the URL's room is greeted. Joining
/// a room the connection is in already sends nothing: the connection has
/// the room, and a join resending its history each time turned 2.3 KB of
/// joins into 160 MB. Each join counts against the address's budget of
/// connections, and its history against the address's history budget.
pub(super) fn handle(session: &mut Session, raw: &str, after: Option<u64>) -> Result<(), Ended> {
    let room = match canonical_room(raw) {
        Ok(room) => room,
        Err(error) => {
            let refusal = ServerFrame::error(error.code(), error.to_string()).in_room(raw);
            session.answer(&refusal);
            return Ok(());
        }
    };
    if session.rooms_in.position(&room).is_some() {
        return Ok(());
    }
    if session.rooms_in.len() >= session.limits.max_rooms {
        let refusal = ServerFrame::error(
            ErrorCode::TooManyRooms,
            format!(
                "You are in {} rooms, as many as one connection may be: leave one first.",
                session.limits.max_rooms
            ),
        )
        .in_room(&room);
        session.answer(&refusal);
        return Ok(());
    }
    if let Some(peer) = session.peer {
        let now = std::time::Instant::now();
        let spent = (session.budgets.may_read_history(peer.ip(), now))
            .and_then(|()| session.budgets.join(peer.ip(), now));
        if let Err(wait) = spent {
            return session.refuse_for_rate(rate_limited(wait, None, Some(&room)));
        }
    }
    let rooms = Arc::clone(&session.rooms);
    let accounts = Arc::clone(&session.accounts);
    let user = Arc::clone(session.name.name());
    let from = session.peer.map(|peer| peer.ip());
    let budget = session.limits.history_page_bytes;
    session.begin(Box::pin(async move {
        let moderator = moderates(&accounts, &user, &room).await;
        match rooms.join(&room, &user, after, from).await {
            Ok((entering, entered)) => {
                super::enter::remember_browser_mute(&accounts, &entering, &room).await;
                accounts.keep_room(&user, &room, true).await;
                Done::Joined(Box::new(Joined {
                    history: history_frames(&room, entered.history, moderator, budget),
                    online: online_frame(&room, entered.online),
                    entering,
                    fanout: entered.fanout,
                }))
            }
            Err(error) => Done::answer(refusal(&error).in_room(&room)),
        }
    }));
    Ok(())
}

/// Takes in an entered room: replaces the connection's earlier place in
/// it, if it had one, and greets it. What the room broadcast since the
/// history follows, from the connection's inbox.
pub(super) fn entered(session: &mut Session, joined: Joined) -> Result<(), Ended> {
    let Joined {
        entering,
        fanout,
        history,
        online,
    } = joined;
    session
        .rooms_in
        .insert(entering, fanout)
        .map_err(|FellBehind(missed)| Ended::FellBehind(missed))?;
    let mut bytes = 0;
    for frame in &history {
        bytes += session.answer(frame);
    }
    if let Some(peer) = session.peer {
        let now = std::time::Instant::now();
        session.budgets.read_history(peer.ip(), bytes, now);
    }
    session.answer(&online);
    Ok(())
}

fn refusal(error: &JoinError) -> ServerFrame {
    let (code, message) = match error {
        JoinError::RoomLimitReached => (
            ErrorCode::RoomLimitReached,
            "The server holds as many rooms as it may: join an existing room.",
        ),
        JoinError::ShuttingDown => (ErrorCode::ShuttingDown, "The server is shutting down."),
        JoinError::Taken | JoinError::Unavailable(_) => (
            ErrorCode::StorageUnavailable,
            "The room is unavailable right now. Try again.",
        ),
    };
    ServerFrame::error(code, message)
}
