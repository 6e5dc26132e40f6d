//! A frame from the client: counted against the rate limit, parsed,
//! checked, and handed to the handler of its type.

use std::time::Duration;

use protocol::{ClientFrame, ErrorCode, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

use super::ended::Ended;
use super::{join, leave, load_older, send, typing, Session};

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
        let parsed = text.as_deref().map(ClientFrame::parse);
        if let Err(wait) = self.rate.try_take(std::time::Instant::now()) {
            let client_id = match &parsed {
                Some(Ok(ClientFrame::Send { client_id, .. })) => Some(client_id.clone()),
                _ => None,
            };
            return self.refuse_for_rate(wait, client_id);
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
            } => send::handle(self, room.as_deref(), client_id, msg),
            ClientFrame::LoadOlder {
                before,
                limit,
                room,
            } => load_older::handle(self, room.as_deref(), before, limit),
            ClientFrame::Typing { room } => typing::handle(self, room.as_deref()),
            ClientFrame::Join { room, after } => join::handle(self, &room, after),
            ClientFrame::Leave { room } => leave::handle(self, &room),
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

    /// Refuses a frame over a rate limit with the wait, naming the message
    /// (`client_id`) when it was one.
    pub(super) fn refuse_for_rate(
        &mut self,
        wait: Duration,
        client_id: Option<String>,
    ) -> Result<(), Ended> {
        self.strike()?;
        let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX).max(1);
        self.answer(&ServerFrame::rate_limited(wait_ms, client_id));
        Ok(())
    }
}
