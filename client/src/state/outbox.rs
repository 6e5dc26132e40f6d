//! Messages the user wrote that the server has not confirmed: pending, or
//! failed. Kept in localStorage so a reload or a closed tab does not lose
//! them.

use gloo::storage::{LocalStorage, Storage};
use serde::{Deserialize, Serialize};

/// A message unconfirmed this long while there is no connection is shown as
/// failed, with a Retry control.
pub const PENDING_TIMEOUT_MS: f64 = 10_000.0;

/// A message the user wrote that the server has not confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    /// The room it goes to; empty in an outbox stored before rooms, which
    /// means the server's default room.
    #[serde(default)]
    pub room: String,
    pub client_id: String,
    pub msg: String,
    /// The message it answers, if it is a reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// When it was written or last retried (ms since the epoch).
    pub since: f64,
    pub status: OutgoingStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase", from = "StoredStatus")]
pub enum OutgoingStatus {
    /// Sent or waiting for a connection; goes out again on every reconnect.
    Pending,
    /// No connection for too long. Still goes out on reconnect.
    TimedOut,
    /// The server refused it; only Retry sends it again.
    Refused { reason: String },
}

/// An [`OutgoingStatus`] as stored: read flat, because serde reads an
/// internally tagged enum by buffering it first, generic code the client
/// would carry for this one small value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredStatus {
    state: StoredState,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum StoredState {
    Pending,
    TimedOut,
    Refused,
}

impl From<StoredStatus> for OutgoingStatus {
    fn from(stored: StoredStatus) -> Self {
        match stored.state {
            StoredState::Pending => Self::Pending,
            StoredState::TimedOut => Self::TimedOut,
            StoredState::Refused => Self::Refused {
                reason: stored.reason.unwrap_or_default(),
            },
        }
    }
}

impl Outgoing {
    pub fn timed_out_at(&self, now: f64) -> bool {
        self.status == OutgoingStatus::Pending && now - self.since >= PENDING_TIMEOUT_MS
    }
}

impl OutgoingStatus {
    /// Whether a (re)connection sends it without the user asking.
    pub fn resend_on_connect(&self) -> bool {
        matches!(self, Self::Pending | Self::TimedOut)
    }
}

fn key(user: &str) -> String {
    format!("chat.outbox.{user}")
}

/// What `user` wrote and the server had not confirmed when the page last ran.
pub fn load(user: &str) -> Vec<Outgoing> {
    match LocalStorage::get::<Vec<Outgoing>>(key(user)) {
        Ok(outbox) => outbox,
        Err(gloo::storage::errors::StorageError::KeyNotFound(_)) => Vec::new(),
        // Not the reason: serde_json's error texts cost the client 1.7 KB.
        Err(_) => {
            gloo::console::warn!("ignoring an unreadable outbox");
            Vec::new()
        }
    }
}

pub fn save(user: &str, outbox: &[Outgoing]) {
    if outbox.is_empty() {
        LocalStorage::delete(key(user));
    } else if LocalStorage::set(key(user), outbox).is_err() {
        gloo::console::warn!("cannot store unsent messages");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outbox_is_stored_in_its_documented_form_and_read_back() {
        let outbox = vec![
            Outgoing {
                room: "rust".into(),
                client_id: "c-1".into(),
                msg: "hi".into(),
                reply_to: None,
                since: 5.0,
                status: OutgoingStatus::Pending,
            },
            Outgoing {
                room: "lobby".into(),
                client_id: "c-3".into(),
                msg: "!".into(),
                reply_to: None,
                since: 7.0,
                status: OutgoingStatus::Refused {
                    reason: "too long".into(),
                },
            },
        ];
        let json = serde_json::to_string(&outbox).expect("serializes");
        assert_eq!(
            json,
            r#"[{"room":"rust","clientId":"c-1","msg":"hi","since":5.0,"status":{"state":"pending"}},{"room":"lobby","clientId":"c-3","msg":"!","since":7.0,"status":{"state":"refused","reason":"too long"}}]"#
        );
        let back: Vec<Outgoing> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, outbox);
    }

    #[test]
    fn an_outbox_stored_before_rooms_goes_to_the_default_room() {
        let stored =
            r#"[{"clientId":"c-2","msg":"there","since":6.5,"status":{"state":"timedOut"}}]"#;
        let back: Vec<Outgoing> = serde_json::from_str(stored).expect("parses");
        assert_eq!(back[0].room, "");
        assert_eq!(back[0].status, OutgoingStatus::TimedOut);
    }
}
