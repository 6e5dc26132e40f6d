//! The file of `server export` and `server import` (see `transfer`): a
//! room's history (or every room's) as JSON Lines, to move it between
//! stores (SQLite to Redis when a community outgrows one machine) or to
//! keep it. The format alone, read and checked; no I/O.
//!
//! Each line is one of the protocol's own server frames, as clients
//! receive them, plus the few fields a store keeps that no client is sent:
//!
//! - `{"type":"room",...}` opens a room: its name, the newest `seq` it
//!   gave out, when its last event was, its rules (who is muted, locked,
//!   pinned). Not a frame: a room has no frame of its own.
//! - `message` frames, each message in its current state (edited text,
//!   tombstone, every reaction with every name), with `authorKey`: who
//!   may edit it (a hash; no token or password is in an export).
//! - `edited`, `deleted`, `reaction` and `moderated` frames: the events
//!   the room's log still holds, with `dateTime` where the frame has none,
//!   so that a client resuming from any `seq` after an import is owed the
//!   same events as before it.
//!
//! Lines follow their room's line in `seq` order. What a deleted message
//! said is in no export (the logs do not keep it), and an edit's earlier
//! texts are not either.

use std::collections::HashMap;

use protocol::{ChatMessage, Posted, RoomRules, ServerFrame};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::events::{event_frame, Deletion, Edit, Event, Moderation, Reaction};

/// The first line of every export: what it is and which version of the
/// format.
pub(crate) const FORMAT: &str = "chat-export";
pub(crate) const VERSION: u64 = 1;

/// A room as its export opens it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoomHead {
    pub room: String,
    /// The newest `seq` the room gave out (its next event is one more).
    pub seq: u64,
    /// When its last event was (ms since the epoch): the rooms' order.
    pub last_event_at: i64,
    #[serde(default)]
    pub rules: RoomRules,
}

/// A message in its current state, as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredPost {
    /// Every reaction names every giver (`count` is their number).
    pub posted: Posted,
    /// Who may change it (see `events::Author`); `None`: nobody.
    pub author_key: Option<String>,
}

/// One line of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Line {
    Room(RoomHead),
    Message(StoredPost),
    /// An edit, deletion, reaction or moderator's action, and its time.
    Event {
        event: Event,
        date_time: i64,
    },
}

/// Why a line cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a frame of this protocol: {0}")]
    Frame(String),
    #[error("a `{0}` frame is not part of a room's history")]
    NotHistory(String),
    #[error("{0}")]
    Invalid(String),
}

/// The export's header line.
pub(crate) fn header() -> String {
    serde_json::json!({ "type": FORMAT, "version": VERSION }).to_string()
}

impl Line {
    /// The line's JSON (without its newline), in `room`.
    pub(crate) fn to_json(&self, room: &str) -> String {
        let (frame, extra): (ServerFrame, Vec<(&str, Value)>) = match self {
            Self::Room(head) => {
                let mut line = Map::new();
                line.insert("type".to_owned(), Value::from("room"));
                if let Ok(Value::Object(fields)) = serde_json::to_value(head) {
                    line.extend(fields);
                }
                return Value::Object(line).to_string();
            }
            Self::Message(post) => (
                ServerFrame::Message {
                    room: room.to_owned(),
                    posted: post.posted.clone(),
                },
                post.author_key
                    .iter()
                    .map(|key| ("authorKey", Value::from(key.as_str())))
                    .collect(),
            ),
            Self::Event { event, date_time } => (
                event_frame(room, event),
                vec![("dateTime", Value::from(*date_time))],
            ),
        };
        let mut value = serde_json::to_value(&frame).unwrap_or_default();
        if let Value::Object(map) = &mut value {
            for (field, extra) in extra {
                map.entry(field).or_insert(extra);
            }
        }
        value.to_string()
    }

    /// Reads one line (not the header): the room it is about, and what it
    /// says.
    pub(crate) fn parse(text: &str) -> Result<(String, Self), LineError> {
        let value: Map<String, Value> = serde_json::from_str(text)?;
        let string = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
        if value.get("type").and_then(Value::as_str) == Some("room") {
            let head: RoomHead = serde_json::from_value(Value::Object(value))?;
            return Ok((head.room.clone(), Self::Room(head)));
        }
        let date_time = value.get("dateTime").and_then(Value::as_i64);
        let author_key = string("authorKey");
        let kind = string("type").unwrap_or_default();
        let frame =
            ServerFrame::parse(text).map_err(|error| LineError::Frame(error.to_string()))?;
        let with_time = |event| match date_time {
            Some(date_time) => Ok(Self::Event { event, date_time }),
            None => Err(LineError::Invalid(format!(
                "a `{kind}` line needs its `dateTime`"
            ))),
        };
        Ok(match frame {
            ServerFrame::Message { room, posted } => {
                (room, Self::Message(StoredPost { posted, author_key }))
            }
            ServerFrame::Edited {
                room,
                seq,
                id,
                msg,
                edited_at,
                mentions,
                formatted: _,
            } => (
                room,
                with_time(Event::Edited(Edit::new(seq, id, msg, edited_at, mentions)))?,
            ),
            ServerFrame::Deleted { room, seq, id } => {
                (room, with_time(Event::Deleted(Deletion { seq, id }))?)
            }
            ServerFrame::Reaction {
                room,
                seq,
                id,
                emoji,
                user,
                on,
            } => (
                room,
                with_time(Event::Reacted(Reaction {
                    seq,
                    id,
                    emoji,
                    user,
                    on,
                }))?,
            ),
            ServerFrame::Moderated {
                room,
                seq,
                action,
                target,
                id,
                by,
                until,
                reason,
                all_rooms,
                date_time,
            } => (
                room,
                Self::Event {
                    event: Event::Moderated(Moderation {
                        seq,
                        action,
                        target,
                        id,
                        by,
                        until,
                        reason,
                        all_rooms,
                        date_time,
                    }),
                    date_time,
                },
            ),
            ServerFrame::Welcome { .. }
            | ServerFrame::History { .. }
            | ServerFrame::Older { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Results { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::Pong => return Err(LineError::NotHistory(kind)),
        })
    }

    /// Its `seq` (a room's line: the room's newest).
    pub(crate) fn seq(&self) -> u64 {
        match self {
            Self::Room(head) => head.seq,
            Self::Message(post) => post.posted.message.id,
            Self::Event { event, .. } => event.seq(),
        }
    }
}

/// What an import checks of a whole file before it writes anything:
/// every line readable, each room opened once and before its lines, with
/// a valid name, its lines in rising `seq` order and none beyond the
/// room's, each change about a message the room has.
#[derive(Default)]
pub(crate) struct Checker {
    rooms: HashMap<String, RoomCheck>,
    current: Option<String>,
}

struct RoomCheck {
    seq: u64,
    last: u64,
    messages: std::collections::HashSet<u64>,
}

impl Checker {
    /// Checks the next line, about `room`.
    pub(crate) fn check(&mut self, room: &str, line: &Line) -> Result<(), LineError> {
        let invalid = |why: String| Err(LineError::Invalid(why));
        if let Line::Room(head) = line {
            match protocol::canonical_room(room) {
                Ok(canonical) if canonical == room => {}
                Ok(canonical) => {
                    return invalid(format!(
                        "room {room:?} is written {canonical:?} by this server"
                    ))
                }
                Err(error) => return invalid(format!("room {room:?}: {error}")),
            }
            if i64::try_from(head.seq).is_err() {
                return invalid(format!(
                    "room {room:?}: seq {} is beyond any store's",
                    head.seq
                ));
            }
            if self.rooms.contains_key(room) {
                return invalid(format!("room {room:?} opens twice"));
            }
            self.rooms.insert(
                room.to_owned(),
                RoomCheck {
                    seq: head.seq,
                    last: 0,
                    messages: Default::default(),
                },
            );
            self.current = Some(room.to_owned());
            return Ok(());
        }
        if self.current.as_deref() != Some(room) {
            return invalid(format!(
                "a line of room {room:?} outside its part of the file"
            ));
        }
        let Some(check) = self.rooms.get_mut(room) else {
            return invalid(format!("room {room:?} is not opened"));
        };
        let seq = line.seq();
        if seq <= check.last || seq > check.seq {
            return invalid(format!(
                "seq {seq} after {} in room {room:?}, whose newest is {}",
                check.last, check.seq
            ));
        }
        check.last = seq;
        match line {
            Line::Room(_) => {}
            Line::Message(post) => {
                check_message(&post.posted.message).map_err(LineError::Invalid)?;
                check.messages.insert(seq);
            }
            Line::Event { event, .. } => {
                if let Some(id) = event.target() {
                    if !check.messages.contains(&id) {
                        return invalid(format!(
                            "event {seq} is about message {id}, not before it"
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// What the stores need of a message to hold it as the server would have
/// stored it.
fn check_message(message: &ChatMessage) -> Result<(), String> {
    if message.id == 0 {
        return Err("message 0: ids start at 1".to_owned());
    }
    if message.deleted && !message.msg.is_empty() {
        return Err(format!(
            "message {}: deleted, yet it has a text",
            message.id
        ));
    }
    if !message.deleted {
        protocol::validate_message(&message.msg)
            .map_err(|error| format!("message {}: {error}", message.id))?;
    }
    Ok(())
}
