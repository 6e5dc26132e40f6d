//! Messages the user wrote that the server has not confirmed: pending, or
//! failed. Kept in localStorage so a reload or a closed tab does not lose
//! them.

use gloo::storage::{LocalStorage, Storage};
use protocol::JsonValue;
use serde::Serialize;

use crate::json;

/// A message unconfirmed this long while there is no connection is shown as
/// failed, with a Retry control.
pub const PENDING_TIMEOUT_MS: f64 = 10_000.0;

/// A message the user wrote that the server has not confirmed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    /// The room it goes to; empty in an outbox stored before rooms, which
    /// means the server's default room.
    pub room: String,
    pub client_id: String,
    pub msg: String,
    /// The message it answers, if it is a reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<u64>,
    /// When it was written or last retried (ms since the epoch). Stored
    /// as a whole number: printing an `f64` would carry float formatting
    /// into the client (about 0.4 KB gzip).
    #[serde(serialize_with = "whole_ms")]
    pub since: f64,
    pub status: OutgoingStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum OutgoingStatus {
    /// Sent or waiting for a connection; goes out again on every reconnect.
    Pending,
    /// No connection for too long. Still goes out on reconnect.
    TimedOut,
    /// The server refused it; only Retry sends it again.
    Refused { reason: String },
}

fn whole_ms<S: serde::Serializer>(ms: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(*ms as i64)
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
    let Some(kept) = json::stored(&key(user)) else {
        return Vec::new();
    };
    let outbox = read(&kept);
    if kept.items().map_or(1, Iterator::count) != outbox.len() {
        gloo::console::warn!("ignoring an unreadable unsent message");
    }
    outbox
}

/// The outbox as `save` wrote it (and as releases before rooms did: no
/// `room`, the server's default room). A message that cannot be read is
/// left out, with a warning; the others stay.
fn read(kept: &impl JsonValue) -> Vec<Outgoing> {
    let Some(items) = kept.items() else {
        return Vec::new();
    };
    items.filter_map(|item| outgoing(&item)).collect()
}

fn outgoing(item: &impl JsonValue) -> Option<Outgoing> {
    let text = |name| item.field(name).and_then(|value| value.string());
    let status = item.field("status")?;
    Some(Outgoing {
        room: text("room").unwrap_or_default(),
        client_id: text("clientId")?,
        msg: text("msg")?,
        reply_to: item.field("replyTo").and_then(|id| id.whole()),
        since: item.field("since")?.number()?,
        status: match status.field("state")?.string()?.as_str() {
            "pending" => OutgoingStatus::Pending,
            "timedOut" => OutgoingStatus::TimedOut,
            "refused" => OutgoingStatus::Refused {
                reason: status
                    .field("reason")
                    .and_then(|reason| reason.string())
                    .unwrap_or_default(),
            },
            _ => return None,
        },
    })
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
            r#"[{"room":"rust","clientId":"c-1","msg":"hi","since":5,"status":{"state":"pending"}},{"room":"lobby","clientId":"c-3","msg":"!","since":7,"status":{"state":"refused","reason":"too long"}}]"#
        );
        assert_eq!(read(&&parse(&json)), outbox);
    }

    #[test]
    fn an_outbox_stored_before_rooms_goes_to_the_default_room() {
        let stored =
            r#"[{"clientId":"c-2","msg":"there","since":6.5,"status":{"state":"timedOut"}}]"#;
        let back = read(&&parse(stored));
        assert_eq!(back[0].room, "");
        assert_eq!(back[0].status, OutgoingStatus::TimedOut);
    }

    #[test]
    fn an_unreadable_message_leaves_the_others() {
        let stored = r#"[{"clientId":"c-2","msg":"there","since":6.5,"status":{"state":"gone"}},
            {"msg":"no id","since":1,"status":{"state":"pending"}},
            {"clientId":"c-4","msg":"kept","since":8,"replyTo":3,"status":{"state":"pending"}}]"#;
        let back = read(&&parse(stored));
        assert_eq!(back.len(), 1);
        assert_eq!(
            (back[0].client_id.as_str(), back[0].reply_to),
            ("c-4", Some(3))
        );
        assert!(read(&&parse(r#"{"not":"a list"}"#)).is_empty());
    }

    fn parse(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("JSON")
    }
}
