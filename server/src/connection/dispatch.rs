//! A frame from the client: counted against the rate limit, parsed,
//! checked, and handed to the handler of its type.

use std::time::Duration;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use super::ended::Ended;
use super::{
    delete, edit, join, leave, load_older, moderate, react, search, send, typing, Session,
};

impl Session {
    /// Acts on one frame from the client. Anything wrong with the frame
    /// itself is answered with an `error` frame and changes nothing.
    pub(super) fn handle_incoming(&mut self, message: Message) -> Result<(), Ended> {
        let text = match message {
            Message::Text(text) => Some(text),
            Message::Binary(_) => None,
            // tungstenite answers pings itself, but they cost: counted like
            // frames, a ping flood ends in a close.
            Message::Ping(_) | Message::Pong(_) => {
                return match self.rate.try_take(std::time::Instant::now()) {
                    Ok(()) => Ok(()),
                    Err(_) => self.strike(),
                };
            }
            // tungstenite answers close handshakes itself.
            Message::Close(_) | Message::Frame(_) => return Ok(()),
        };
        self.still_let_in()?;
        let parsed = text.as_deref().map(ClientFrame::parse);
        if let Err(wait) = self.rate.try_take(std::time::Instant::now()) {
            let (client_id, room) = match &parsed {
                Some(Ok(frame)) => (frame.client_id(), frame.room()),
                _ => (None, None),
            };
            let refusal = rate_limited(wait, client_id.map(str::to_owned), room);
            return self.refuse_for_rate(refusal);
        }
        let user = self.name.name();
        let answer = match parsed {
            None => {
                tracing::info!(%user, "refused binary frame");
                ServerFrame::error(
                    ErrorCode::BinaryFrame,
                    "Frames are JSON text; binary frames are not accepted.",
                )
            }
            Some(Err(error)) => {
                tracing::info!(%user, code = error.code().as_str(), %error, "refused frame");
                error.to_frame()
            }
            Some(Ok(frame)) => return self.act(frame),
        };
        self.strikes = 0;
        self.answer(&answer);
        Ok(())
    }

    /// Hands a valid frame to its handler.
    fn act(&mut self, frame: ClientFrame) -> Result<(), Ended> {
        match frame {
            ClientFrame::Send {
                client_id,
                msg,
                room,
                reply_to,
            } => send::handle(self, room.as_deref(), client_id, msg, reply_to),
            ClientFrame::Edit { room, id, msg } => edit::handle(self, room.as_deref(), id, msg),
            ClientFrame::Delete { room, id } => delete::handle(self, room.as_deref(), id),
            ClientFrame::React {
                room,
                id,
                emoji,
                on,
            } => react::handle(self, room.as_deref(), id, &emoji, on),
            ClientFrame::LoadOlder {
                before,
                limit,
                room,
            } => load_older::handle(self, room.as_deref(), before, limit),
            ClientFrame::Typing { room } => typing::handle(self, room.as_deref()),
            ClientFrame::Join { room, after } => join::handle(self, &room, after),
            ClientFrame::Leave { room } => leave::handle(self, &room),
            ClientFrame::Moderate {
                room,
                action,
                target,
                id,
                duration_s,
                reason,
                all_rooms,
            } => moderate::handle(
                self,
                moderate::Request {
                    room,
                    action,
                    target,
                    id,
                    duration_s,
                    reason,
                    all_rooms,
                },
            ),
            ClientFrame::Search { q, room, before } => {
                search::handle(self, &q, room.as_deref(), before)
            }
            ClientFrame::Ping => {
                self.strikes = 0;
                self.answer(&ServerFrame::Pong);
                Ok(())
            }
        }
    }

    /// Counts a frame refused for a rate limit; too many in a row end the
    /// session.
    pub(super) fn strike(&mut self) -> Result<(), Ended> {
        self.strikes += 1;
        if self.strikes >= self.limits.strikes {
            Err(Ended::Flooding)
        } else {
            Ok(())
        }
    }

    /// Refuses a frame over a rate limit with `refusal` (see
    /// [`rate_limited`]); too many in a row end the session.
    pub(super) fn refuse_for_rate(&mut self, refusal: ServerFrame) -> Result<(), Ended> {
        self.strike()?;
        self.answer(&refusal);
        Ok(())
    }
}

/// The refusal of a frame over a rate limit: the wait, and the message
/// (`client_id`) or room it was about, so that the client can try again.
pub(super) fn rate_limited(
    wait: Duration,
    client_id: Option<String>,
    room: Option<&str>,
) -> ServerFrame {
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
    let refusal = ServerFrame::rate_limited(wait_ms, client_id);
    match room {
        Some(room) => refusal.in_room(room),
        None => refusal,
    }
}
