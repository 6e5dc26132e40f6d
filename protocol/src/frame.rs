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
pub struct Posted {
    #[serde(flatten)]
    pub message: ChatMessage,
    #[serde(rename = "clientId")]
    pub client_id: String,
}

/// What a client may send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientFrame {
    /// Post `msg` to the room. Any other field (a `user`, an `id`) is ignored:
    /// the server decides those.
    #[serde(rename_all = "camelCase")]
    Send { client_id: String, msg: String },
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerFrame {
    /// First frame of every connection: the name bound to it.
    Welcome { user: String },
    /// A message accepted by the room.
    Message(Posted),
    /// A request was refused; nothing was stored or broadcast.
    Error { code: ErrorCode, message: String },
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
    #[error(transparent)]
    Message(#[from] MessageError),
    #[error(transparent)]
    ClientId(#[from] ClientIdError),
}

impl FrameError {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::InvalidJson(_) => ErrorCode::InvalidJson,
            Self::NotAnObject | Self::TypeNotAString => ErrorCode::InvalidFrame,
            Self::MissingType => ErrorCode::MissingType,
            Self::UnknownType(_) => ErrorCode::UnknownType,
            Self::InvalidFields { .. } => ErrorCode::InvalidFields,
            Self::Message(e) => e.code(),
            Self::ClientId(e) => e.code(),
        }
    }
}

/// The `type` tags a client may send, for telling an unknown type from a
/// known one with bad fields.
const CLIENT_FRAME_TYPES: &[&str] = &["send"];

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
                let trimmed = validate_message(&msg)?;
                let msg = if trimmed.len() == msg.len() {
                    msg
                } else {
                    trimmed.to_owned()
                };
                Ok(Self::Send { client_id, msg })
            }
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
        }
    }
}

/// Serializes a frame. Cannot fail: serde_json only fails on maps with
/// non-string keys and on failing `Serialize` impls, and frames have neither.
fn to_json<T: Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).expect("frames always serialize to JSON")
}
