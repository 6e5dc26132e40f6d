//! The room: one ordered sequence of messages, fanned out to every connection.

use std::sync::{Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use protocol::{ChatMessage, Posted, ServerFrame};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// Stamps messages and delivers them to every subscriber.
///
/// Each message is serialized once; subscribers receive the same shared
/// bytes (`Utf8Bytes` is reference-counted), so fan-out costs a pointer copy
/// per recipient, not a `String`.
pub struct Room {
    /// The last id handed out. Held while a message is stamped *and* handed
    /// to the channel, so the channel's order is the id order.
    last_id: Mutex<u64>,
    fanout: broadcast::Sender<Utf8Bytes>,
}

impl Room {
    /// A room whose subscribers may fall at most `capacity` messages behind.
    pub fn new(capacity: usize) -> Self {
        let (fanout, _) = broadcast::channel(capacity.max(1));
        Self {
            last_id: Mutex::new(0),
            fanout,
        }
    }

    /// Every message posted from now on, as serialized `message` frames.
    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.fanout.subscribe()
    }

    /// How many connections are subscribed.
    pub fn connections(&self) -> usize {
        self.fanout.receiver_count()
    }

    /// Accepts `msg` (already validated) from `user`: assigns the next id and
    /// the server's clock, and broadcasts it to everyone, sender included.
    /// Returns the id it was given.
    pub fn post(&self, user: &str, msg: String, client_id: String) -> u64 {
        // A poisoned lock still holds a valid counter: nothing can panic
        // between reading and writing it.
        let mut last_id = self.last_id.lock().unwrap_or_else(PoisonError::into_inner);
        *last_id += 1;
        let message = ChatMessage {
            id: *last_id,
            user: user.to_owned(),
            msg,
            date_time: now_millis(),
        };
        let frame = ServerFrame::Message(Posted { message, client_id });
        // `send` fails only when nobody is subscribed: then nobody is owed it.
        let _ = self.fanout.send(Utf8Bytes::from(frame.to_json()));
        *last_id
    }
}

/// The server clock in milliseconds since the Unix epoch (negative before it).
fn now_millis() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}
