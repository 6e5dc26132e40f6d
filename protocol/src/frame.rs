//! Frames and their JSON form.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::{validate_client_id, validate_message, ClientIdError, MessageError};

/// One message of the room, as the server stored it.
///
/// `id`, `user` and `date_time` are assigned by the server; a client never
/// chooses them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// The room's sequence number: strictly increasing, never reused.
    pub id: u64,
    /// The name the server bound to the sender's connection.
    pub user: String,
    /// The text, trimmed and validated.
    pub msg: String,
    /// When the server accepted it: milliseconds since the Unix epoch, UTC.
    #[serde(rename = "dateTime")]
    pub date_time: i64,
}

/// A stored message as delivered to clients, with the `clientId` its sender
/// chose so the sender recognises its own copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "PostedFields")]
pub struct Posted {
    #[serde(flatten)]
    pub message: ChatMessage,
    #[serde(rename = "clientId")]
    pub client_id: String,
}

impl Posted {
    /// This message as a `message` frame, without copying it into a
    /// [`ServerFrame`] first.
    pub fn to_frame_json(&self) -> String {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        enum Borrowed<'a> {
            Message(&'a Posted),
        }
        to_json(&Borrowed::Message(self))
    }
}

/// A [`Posted`]'s fields as they are on the wire. Decoding a `#[serde(flatten)]`
/// field buffers the whole object first; this reads the fields directly.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostedFields {
    id: u64,
    user: String,
    msg: String,
    date_time: i64,
    client_id: String,
}

impl From<PostedFields> for Posted {
    fn from(fields: PostedFields) -> Self {
        let PostedFields {
            id,
            user,
            msg,
            date_time,
            client_id,
        } = fields;
        Self {
            message: ChatMessage {
                id,
                user,
                msg,
                date_time,
            },
            client_id,
        }
    }
}

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientFrame {
    /// Post `msg` to the room. Any other field (a `user`, an `id`) is ignored:
    /// the server decides those. Sending the same `clientId` again (after a
    /// reconnect, say) does not post twice: the server answers with the
    /// message it stored the first time.
    #[serde(rename_all = "camelCase")]
    Send { client_id: String, msg: String },
    /// Ask for up to `limit` (at most [`HISTORY_PAGE_MAX`]) messages older
    /// than id `before`; answered with an `older` frame.
    LoadOlder { before: u64, limit: u32 },
    /// The user is typing. Relayed to the others as a `typing` frame, at
    /// most once per [`TYPING_INTERVAL_MS`] per user.
    Typing,
    /// Are you there? Answered with `pong`. Browsers cannot see WebSocket
    /// pings, so a client that has heard nothing for a while asks.
    Ping,
}

/// Most names in one `online` or `presence` list: in a room of thousands,
/// every client gets the count and a bounded list, not the whole crowd.
pub const PRESENCE_NAMES_MAX: usize = 50;

/// How long the server gathers joins and leaves into one `presence` frame.
pub const PRESENCE_INTERVAL_MS: u64 = 500;

/// How often one user's typing is relayed, and about how long a client
/// shows "is typing" after the last `typing` frame.
pub const TYPING_INTERVAL_MS: u64 = 3_000;

/// The most messages one `older` frame carries.
pub const HISTORY_PAGE_MAX: u32 = 200;

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", try_from = "ServerFrameFields")]
pub enum ServerFrame {
    /// First frame of every connection: the name bound to it.
    Welcome { user: String },
    /// Sent once, right after `welcome`: where this connection starts.
    ///
    /// Without `after` in the URL, or when the client missed more than the
    /// server replays, `reset` is true and `messages` are the most recent
    /// ones: the client replaces what it shows. Otherwise `messages` are
    /// exactly those after the client's `after`, and live `message` frames
    /// continue from there with no gap and no duplicate.
    #[serde(rename_all = "camelCase")]
    History {
        messages: Vec<Posted>,
        reset: bool,
        /// Whether older messages exist than the first of `messages` (or, if
        /// it is empty, than the client's newest).
        has_older: bool,
    },
    /// A page of older messages, answering `loadOlder`, oldest first.
    #[serde(rename_all = "camelCase")]
    Older {
        messages: Vec<Posted>,
        has_older: bool,
    },
    /// Who is online, sent once after `history`; `presence` frames keep it
    /// current. `users` holds at most [`PRESENCE_NAMES_MAX`] names (sorted);
    /// `count` is everyone.
    Online { users: Vec<String>, count: usize },
    /// Who came online (first connection) and who went offline (last
    /// connection closed) since the previous `presence` frame. The server
    /// gathers changes for a moment ([`PRESENCE_INTERVAL_MS`]) so that a
    /// thousand arrivals cost each client one frame, not a thousand.
    /// Each list holds at most [`PRESENCE_NAMES_MAX`] names; `count` is
    /// how many are online now.
    Presence {
        joined: Vec<String>,
        left: Vec<String>,
        count: usize,
    },
    /// `user` is typing.
    Typing { user: String },
    /// Answers `ping`.
    Pong,
    /// A message accepted by the room.
    Message(Posted),
    /// A request was refused; nothing was stored or broadcast. `clientId`
    /// names the refused `send`, when it was one.
    #[serde(rename_all = "camelCase")]
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// With `rate_limited`: when the next frame will be accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
    },
}

/// Every field of every [`ServerFrame`], as decoded before the `type` says
/// which apply.
///
/// serde decodes an internally tagged enum by buffering the whole object,
/// then decoding it again as the variant `type` names: generic code that
/// cost the web client about 5 KB gzip. One flat struct is read in one
/// pass; [`ServerFrame`]'s `TryFrom` then takes the fields its variant needs
/// and ignores the others (which, when present, must still have their own
/// field's type).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerFrameFields {
    #[serde(rename = "type")]
    kind: ServerFrameKind,
    user: Option<String>,
    messages: Option<Vec<Posted>>,
    reset: Option<bool>,
    has_older: Option<bool>,
    users: Option<Vec<String>>,
    count: Option<usize>,
    joined: Option<Vec<String>>,
    left: Option<Vec<String>>,
    id: Option<u64>,
    msg: Option<String>,
    date_time: Option<i64>,
    client_id: Option<String>,
    code: Option<ErrorCode>,
    message: Option<String>,
    retry_after_ms: Option<u64>,
}

/// The `type` of a [`ServerFrame`].
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
enum ServerFrameKind {
    Welcome,
    History,
    Older,
    Online,
    Presence,
    Typing,
    Pong,
    Message,
    Error,
}

impl ServerFrameKind {
    /// As on the wire. Spelled out rather than taken from `Debug`, which the
    /// web client's release build compiles to nothing.
    fn as_str(self) -> &'static str {
        match self {
            Self::Welcome => "welcome",
            Self::History => "history",
            Self::Older => "older",
            Self::Online => "online",
            Self::Presence => "presence",
            Self::Typing => "typing",
            Self::Pong => "pong",
            Self::Message => "message",
            Self::Error => "error",
        }
    }
}

/// A server frame without a field its `type` requires.
#[derive(Debug, Error)]
#[error("missing field `{field}` in a `{kind}` frame", kind = kind.as_str())]
struct MissingField {
    kind: ServerFrameKind,
    field: &'static str,
}

impl TryFrom<ServerFrameFields> for ServerFrame {
    type Error = MissingField;

    fn try_from(fields: ServerFrameFields) -> Result<Self, MissingField> {
        let kind = fields.kind;
        let required = |field: &'static str| MissingField { kind, field };
        Ok(match kind {
            ServerFrameKind::Welcome => Self::Welcome {
                user: fields.user.ok_or_else(|| required("user"))?,
            },
            ServerFrameKind::History => Self::History {
                messages: fields.messages.ok_or_else(|| required("messages"))?,
                reset: fields.reset.ok_or_else(|| required("reset"))?,
                has_older: fields.has_older.ok_or_else(|| required("hasOlder"))?,
            },
            ServerFrameKind::Older => Self::Older {
                messages: fields.messages.ok_or_else(|| required("messages"))?,
                has_older: fields.has_older.ok_or_else(|| required("hasOlder"))?,
            },
            ServerFrameKind::Online => Self::Online {
                users: fields.users.ok_or_else(|| required("users"))?,
                count: fields.count.ok_or_else(|| required("count"))?,
            },
            ServerFrameKind::Presence => Self::Presence {
                joined: fields.joined.ok_or_else(|| required("joined"))?,
                left: fields.left.ok_or_else(|| required("left"))?,
                count: fields.count.ok_or_else(|| required("count"))?,
            },
            ServerFrameKind::Typing => Self::Typing {
                user: fields.user.ok_or_else(|| required("user"))?,
            },
            ServerFrameKind::Pong => Self::Pong,
            ServerFrameKind::Message => Self::Message(Posted {
                message: ChatMessage {
                    id: fields.id.ok_or_else(|| required("id"))?,
                    user: fields.user.ok_or_else(|| required("user"))?,
                    msg: fields.msg.ok_or_else(|| required("msg"))?,
                    date_time: fields.date_time.ok_or_else(|| required("dateTime"))?,
                },
                client_id: fields.client_id.ok_or_else(|| required("clientId"))?,
            }),
            ServerFrameKind::Error => Self::Error {
                code: fields.code.ok_or_else(|| required("code"))?,
                message: fields.message.ok_or_else(|| required("message"))?,
                client_id: fields.client_id,
                retry_after_ms: fields.retry_after_ms,
            },
        })
    }
}

/// Stable, machine-readable reasons for an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not JSON at all.
    InvalidJson,
    /// JSON, but not an object with a string `type`.
    InvalidFrame,
    /// An object without a `type` field.
    MissingType,
    /// A `type` this server does not know.
    UnknownType,
    /// A known `type` whose fields are missing or of the wrong kind.
    InvalidFields,
    /// Frames are JSON text; binary frames are refused.
    BinaryFrame,
    EmptyMessage,
    MessageTooLong,
    /// The message contains forbidden control characters.
    InvalidMessage,
    InvalidClientId,
    EmptyUsername,
    UsernameTooLong,
    /// The username contains control or invisible formatting characters.
    InvalidUsername,
    /// `loadOlder` with a limit of 0 or above the maximum.
    InvalidLimit,
    /// The message could not be stored; it was not posted. Try again.
    StorageUnavailable,
    /// The server is stopping; reconnect and send again.
    ShuttingDown,
    /// Another connection holds this username (with another token).
    UsernameTaken,
    /// Too many frames too fast; `retryAfterMs` says when to try again.
    RateLimited,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidJson => "invalid_json",
            Self::InvalidFrame => "invalid_frame",
            Self::MissingType => "missing_type",
            Self::UnknownType => "unknown_type",
            Self::InvalidFields => "invalid_fields",
            Self::BinaryFrame => "binary_frame",
            Self::EmptyMessage => "empty_message",
            Self::MessageTooLong => "message_too_long",
            Self::InvalidMessage => "invalid_message",
            Self::InvalidClientId => "invalid_client_id",
            Self::EmptyUsername => "empty_username",
            Self::UsernameTooLong => "username_too_long",
            Self::InvalidUsername => "invalid_username",
            Self::InvalidLimit => "invalid_limit",
            Self::StorageUnavailable => "storage_unavailable",
            Self::ShuttingDown => "shutting_down",
            Self::UsernameTaken => "username_taken",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// Why a client frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    #[error("The frame is not valid JSON: {0}.")]
    InvalidJson(String),
    #[error("A frame must be a JSON object.")]
    NotAnObject,
    #[error("The frame has no \"type\" field.")]
    MissingType,
    #[error("The \"type\" field must be a string.")]
    TypeNotAString,
    #[error("Unknown frame type {0:?}.")]
    UnknownType(String),
    #[error("Invalid {kind:?} frame: {detail}.")]
    InvalidFields { kind: &'static str, detail: String },
    /// A `send` whose text breaks the rules; names the send's `clientId`.
    #[error("{error}")]
    Message {
        error: MessageError,
        client_id: String,
    },
    #[error(transparent)]
    ClientId(#[from] ClientIdError),
    #[error("A page holds 1 to {HISTORY_PAGE_MAX} messages.")]
    InvalidLimit,
}

impl FrameError {
    /// The `clientId` of the refused `send`, when it had a valid one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Message { client_id, .. } => Some(client_id),
            _ => None,
        }
    }

    /// The `error` frame that answers this refusal.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code(),
            message: self.to_string(),
            client_id: self.client_id().map(str::to_owned),
            retry_after_ms: None,
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::NotAnObject | Self::TypeNotAString => ErrorCode::InvalidFrame,
            Self::MissingType => ErrorCode::MissingType,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::InvalidFields { .. } => ErrorCode::InvalidFields,
            Self::Message { error, .. } => error.code(),
            Self::ClientId(e) => e.code(),
            Self::InvalidLimit => ErrorCode::InvalidLimit,
        }
    }
}

/// The `type` tags a client may send, for telling an unknown type from a
/// known one with bad fields.
const CLIENT_FRAME_TYPES: &[&str] = &["send", "loadOlder", "typing", "ping"];

impl ClientFrame {
    /// Parses and validates one text frame from a client.
    ///
    /// Goes through a [`Value`] first so every failure gets a precise reason
    /// (not JSON, not an object, no type, unknown type, bad fields); the cost
    /// is on the send path only, never on the fan-out path. A valid frame
    /// comes back with its message text trimmed.
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FrameError::InvalidJson(e.to_string()))?;
        let kind = match &value {
            Value::Object(map) => match map.get("type") {
                None => return Err(FrameError::MissingType),
                Some(Value::String(kind)) => kind,
                Some(_) => return Err(FrameError::TypeNotAString),
            },
            _ => return Err(FrameError::NotAnObject),
        };
        let Some(&kind) = CLIENT_FRAME_TYPES.iter().find(|known| *known == kind) else {
            return Err(FrameError::UnknownType(kind.clone()));
        };
        let frame = ClientFrame::deserialize(value).map_err(|e| FrameError::InvalidFields {
            kind,
            detail: e.to_string(),
        })?;
        frame.validated()
    }

    fn validated(self) -> Result<Self, FrameError> {
        match self {
            Self::Send { client_id, msg } => {
                validate_client_id(&client_id)?;
                let trimmed = match validate_message(&msg) {
                    Ok(trimmed) => trimmed,
                    Err(error) => return Err(FrameError::Message { error, client_id }),
                };
                let msg = if trimmed.len() == msg.len() {
                    msg
                } else {
                    trimmed.to_owned()
                };
                Ok(Self::Send { client_id, msg })
            }
            Self::LoadOlder { limit, .. } if limit == 0 || limit > HISTORY_PAGE_MAX => {
                Err(FrameError::InvalidLimit)
            }
            Self::LoadOlder { .. } | Self::Typing | Self::Ping => Ok(self),
        }
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

impl ServerFrame {
    /// Parses one text frame from the server. The client trusts nothing else,
    /// and a frame it cannot read is an error to log, never a panic.
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Error {
            code,
            message: message.into(),
            client_id: None,
            retry_after_ms: None,
        }
    }

    /// An error answering the `send` with this `client_id`.
    pub fn send_error(code: ErrorCode, message: impl Into<String>, client_id: String) -> Self {
        Self::Error {
            code,
            message: message.into(),
            client_id: Some(client_id),
            retry_after_ms: None,
        }
    }

    /// The answer to a frame over the rate limit.
    pub fn rate_limited(retry_after_ms: u64, client_id: Option<String>) -> Self {
        Self::Error {
            code: ErrorCode::RateLimited,
            message: format!("Too many messages: wait {retry_after_ms} ms before sending again."),
            client_id,
            retry_after_ms: Some(retry_after_ms),
        }
    }
}

/// Serializes a frame. Cannot fail: serde_json only fails on maps with
/// non-string keys and on failing `Serialize` impls, and frames have neither.
fn to_json<T: Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).expect("frames always serialize to JSON")
}
