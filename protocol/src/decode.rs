//! Reading the server's frames: JSON text into [`ServerFrame`]s.
//!
//! Written out rather than derived, for the web client's size: serde's
//! derived decoders inline serde_json's parser into every field of every
//! frame and message type, 18 KB of the client's 180 KB gzip budget
//! (BENCHMARKS.md, "Reading frames by hand"). Here the text is parsed once
//! into a [`JsonValue`], and a few small readers take each field out of it.
//! The value is serde_json's [`Value`] on the server and in tests
//! ([`ServerFrame::parse`](crate::ServerFrame::parse)), and the browser's
//! own `JSON.parse` in the web client (its `JsonValue` is in
//! `client/src/json.rs`), which then carries no JSON parser of its own
//! (6 KB gzip): one reader of the wire format, over either. A field missing or of the wrong kind reads as a
//! placeholder and leaves an error (the first) for the end: one check per
//! frame rather than one per field, which halves the code.
//!
//! As with serde's derive, fields a frame does not use are ignored (a
//! newer server may add some), and a field's absence or `null` is the
//! same; a required field missing, or a field of the wrong kind, is an
//! error that names it.

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};
use serde_json::Value;
use thiserror::Error;

use crate::{
    Block, ChatMessage, ErrorCode, Hit, Inline, ModAction, Posted, Reactions, ReplyQuote,
    ServerFrame, ServerFrameKind, ShownRules,
};

/// Why a text is not a server frame this client can read.
#[derive(Debug, Error)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a frame must be a JSON object with a string field `type`")]
    NoType,
    #[error("unknown frame type `{0}`")]
    UnknownType(String),
    #[error("{error} in a `{kind}` frame", kind = kind.as_str())]
    Fields {
        kind: ServerFrameKind,
        error: FieldError,
    },
}

/// What is wrong with a frame's fields.
#[derive(Debug, Error)]
pub enum FieldError {
    #[error("missing field `{0}`")]
    Missing(&'static str),
    #[error("field `{field}` must be {expected}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
    },
}

/// A parsed JSON value, as the decoder reads it: what it needs of one,
/// and no more, so that a value the browser parsed serves as well as
/// serde_json's.
pub trait JsonValue: Sized {
    /// An object's field; none when it is absent or `null`, or when this
    /// is no object.
    fn field(&self, name: &'static str) -> Option<Self>;
    /// Whether this is an object (not an array).
    fn is_object(&self) -> bool;
    fn string(&self) -> Option<String>;
    /// A whole number, 0 or more.
    fn whole(&self) -> Option<u64>;
    /// A whole number.
    fn signed(&self) -> Option<i64>;
    /// Any number (the web client keeps times as ms in floating point).
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    /// An array's items.
    fn items(&self) -> Option<impl Iterator<Item = Self>>;
    /// An enum's variant as serde writes it by default (externally
    /// tagged): its name alone when it has no content (a string), else an
    /// object of one field, `{"name": content}`. Any other shape has none.
    fn variant(&self) -> Option<(Cow<'_, str>, Option<Self>)>;
}

impl JsonValue for &Value {
    fn field(&self, name: &'static str) -> Option<Self> {
        self.as_object()?.get(name).filter(|value| !value.is_null())
    }

    fn is_object(&self) -> bool {
        Value::is_object(self)
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn whole(&self) -> Option<u64> {
        self.as_u64()
    }

    fn signed(&self) -> Option<i64> {
        self.as_i64()
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn items(&self) -> Option<impl Iterator<Item = Self>> {
        self.as_array().map(|items| items.iter())
    }

    fn variant(&self) -> Option<(Cow<'_, str>, Option<Self>)> {
        match self {
            Value::String(tag) => Some((Cow::Borrowed(tag), None)),
            Value::Object(map) if map.len() == 1 => map
                .iter()
                .next()
                .map(|(tag, content)| (Cow::Borrowed(tag.as_str()), Some(content))),
            Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::Array(_)
            | Value::Object(_) => None,
        }
    }
}

/// Reads one server frame from its text.
pub(crate) fn server_frame(text: &str) -> Result<ServerFrame, DecodeError> {
    let value: Value = serde_json::from_str(text)?;
    read_server_frame(&value)
}

/// Reads one server frame from its parsed JSON.
pub(crate) fn read_server_frame<V: JsonValue>(value: V) -> Result<ServerFrame, DecodeError> {
    let Some(kind) = value.field("type").and_then(|kind| kind.string()) else {
        return Err(DecodeError::NoType);
    };
    let Some(kind) = ServerFrameKind::from_wire(&kind) else {
        return Err(DecodeError::UnknownType(kind));
    };
    let mut error = None;
    let frame = frame_fields(kind, &mut Fields::of(&value, "frame", &mut error));
    match error {
        None => Ok(frame),
        Some(error) => Err(DecodeError::Fields { kind, error }),
    }
}

/// The fields of a frame of this `kind`.
fn frame_fields<V: JsonValue>(kind: ServerFrameKind, f: &mut Fields<V>) -> ServerFrame {
    match kind {
        ServerFrameKind::Welcome => ServerFrame::Welcome {
            user: f.string("user"),
            claimed: f.flag("claimed"),
            admin: f.flag("admin"),
            rooms: f.list_or_empty("rooms", string),
            retain_days: f
                .optional("retainDays", u64)
                .map(|days| u32::try_from(days).unwrap_or(u32::MAX)),
        },
        ServerFrameKind::History => ServerFrame::History {
            room: f.string("room"),
            messages: f.messages(),
            reset: f.bool("reset"),
            has_older: f.bool("hasOlder"),
            seq: f.optional("seq", u64),
            rules: ShownRules::read(f),
            moderator: f.flag("moderator"),
        },
        ServerFrameKind::Older => ServerFrame::Older {
            room: f.string("room"),
            messages: f.messages(),
            has_older: f.bool("hasOlder"),
        },
        ServerFrameKind::Online => ServerFrame::Online {
            room: f.string("room"),
            users: f.list("users", string),
            members: f.list_or_empty("members", string),
            count: f.count("count"),
        },
        ServerFrameKind::Presence => ServerFrame::Presence {
            room: f.string("room"),
            joined: f.list("joined", string),
            left: f.list("left", string),
            members: f.list_or_empty("members", string),
            count: f.count("count"),
        },
        ServerFrameKind::Typing => ServerFrame::Typing {
            room: f.string("room"),
            user: f.string("user"),
        },
        ServerFrameKind::Pong => ServerFrame::Pong,
        ServerFrameKind::Message => ServerFrame::Message {
            room: f.string("room"),
            posted: posted_fields(f),
        },
        ServerFrameKind::Edited => ServerFrame::Edited {
            room: f.string("room"),
            seq: f.u64("seq"),
            id: f.u64("id"),
            msg: f.string("msg"),
            formatted: f.formatted(),
            edited_at: f.i64("editedAt"),
            mentions: f.list_or_empty("mentions", string),
        },
        ServerFrameKind::Deleted => ServerFrame::Deleted {
            room: f.string("room"),
            seq: f.u64("seq"),
            id: f.u64("id"),
        },
        ServerFrameKind::Reaction => ServerFrame::Reaction {
            room: f.string("room"),
            seq: f.u64("seq"),
            id: f.u64("id"),
            emoji: f.string("emoji"),
            user: f.string("user"),
            on: f.bool("on"),
        },
        ServerFrameKind::Moderated => ServerFrame::Moderated {
            room: f.string("room"),
            seq: f.u64("seq"),
            action: f.wire("action", ModAction::from_wire, ModAction::Delete),
            target: f.optional("target", string),
            id: f.optional("id", u64),
            by: f.string("by"),
            until: f.optional("until", i64),
            reason: f.optional("reason", string),
            all_rooms: f.flag("allRooms"),
            date_time: f.i64("dateTime"),
        },
        ServerFrameKind::Results => ServerFrame::Results {
            hits: f.list("hits", hit),
            next: f.optional("next", u64),
        },
        ServerFrameKind::Error => ServerFrame::Error {
            // A code this build does not know is a refusal all the same.
            code: f.wire(
                "code",
                |code| ErrorCode::from_wire(code).or(Some(ErrorCode::Unknown)),
                ErrorCode::InvalidFields,
            ),
            message: f.string("message"),
            client_id: f.optional("clientId", string),
            retry_after_ms: f.optional("retryAfterMs", u64),
            room: f.optional("room", string),
        },
    }
}

/// The first thing wrong with what is being read, if anything is.
pub(crate) type Failure = Option<FieldError>;

/// Reads one JSON value as a `T` (the name is the field's, for errors).
pub(crate) type Reader<V, T> = fn(&V, &'static str, &mut Failure) -> T;

/// Keeps `error` unless an earlier one is kept, and reads as `instead`.
fn fail<T>(failure: &mut Failure, error: FieldError, instead: T) -> T {
    failure.get_or_insert(error);
    instead
}

fn invalid(field: &'static str, expected: &'static str) -> FieldError {
    FieldError::Invalid { field, expected }
}

/// A JSON object (or, when the value was not one, nothing) whose fields
/// are read one at a time.
pub(crate) struct Fields<'a, V> {
    object: Option<&'a V>,
    failure: &'a mut Failure,
}

impl<'a, V: JsonValue> Fields<'a, V> {
    fn of(value: &'a V, field: &'static str, failure: &'a mut Failure) -> Self {
        let object = value.is_object().then_some(value);
        if object.is_none() {
            fail(failure, invalid(field, "an object"), ());
        }
        Self { object, failure }
    }

    /// The field, unless it is absent or `null`.
    fn get(&self, field: &'static str) -> Option<V> {
        self.object?.field(field)
    }

    fn optional<T>(&mut self, field: &'static str, read: Reader<V, T>) -> Option<T> {
        let value = self.get(field)?;
        Some(read(&value, field, self.failure))
    }

    fn required<T: Default>(&mut self, field: &'static str, read: Reader<V, T>) -> T {
        match self.get(field) {
            Some(value) => read(&value, field, self.failure),
            None => fail(self.failure, FieldError::Missing(field), T::default()),
        }
    }

    fn string(&mut self, field: &'static str) -> String {
        self.required(field, string)
    }

    fn u64(&mut self, field: &'static str) -> u64 {
        self.required(field, u64)
    }

    fn i64(&mut self, field: &'static str) -> i64 {
        self.required(field, i64)
    }

    fn count(&mut self, field: &'static str) -> usize {
        self.required(field, |value, field, failure| {
            let count = value.whole().and_then(|count| usize::try_from(count).ok());
            count.unwrap_or_else(|| fail(failure, invalid(field, "a count"), 0))
        })
    }

    fn bool(&mut self, field: &'static str) -> bool {
        self.required(field, bool)
    }

    /// A flag the server leaves out when it is false.
    pub(crate) fn flag(&mut self, field: &'static str) -> bool {
        self.optional(field, bool).unwrap_or(false)
    }

    fn list<T>(&mut self, field: &'static str, read: Reader<V, T>) -> Vec<T> {
        match self.get(field) {
            Some(value) => items(&value, field, read, self.failure),
            None => fail(self.failure, FieldError::Missing(field), Vec::new()),
        }
    }

    /// A page of messages: one this client cannot read is left out, so
    /// that one message never hides the page around it.
    fn messages(&mut self) -> Vec<Posted> {
        let Some(value) = self.get("messages") else {
            return fail(self.failure, FieldError::Missing("messages"), Vec::new());
        };
        let Some(items) = value.items() else {
            return fail(self.failure, invalid("messages", "an array"), Vec::new());
        };
        items
            .filter_map(|item| {
                let mut failure = None;
                let posted = posted(&item, "messages", &mut failure);
                failure.is_none().then_some(posted)
            })
            .collect()
    }

    /// A message's formatted text; when it cannot be read, none: the
    /// message shows as its plain text (`msg`) instead of not at all.
    fn formatted(&mut self) -> Option<Vec<Block>> {
        let mut failure = None;
        let blocks = blocks(&self.get("formatted")?, "formatted", &mut failure);
        failure.is_none().then_some(blocks)
    }

    /// A list the server leaves out when it is empty.
    pub(crate) fn list_or_empty<T>(&mut self, field: &'static str, read: Reader<V, T>) -> Vec<T> {
        match self.get(field) {
            Some(value) => items(&value, field, read, self.failure),
            None => Vec::new(),
        }
    }

    /// One of a fieldless enum's wire names (`instead` stands in for an
    /// unknown one).
    fn wire<T>(&mut self, field: &'static str, from_wire: fn(&str) -> Option<T>, instead: T) -> T {
        match self
            .get(field)
            .map(|value| value.string().as_deref().and_then(from_wire))
        {
            Some(Some(known)) => known,
            Some(None) => fail(self.failure, invalid(field, "a known name"), instead),
            None => fail(self.failure, FieldError::Missing(field), instead),
        }
    }
}

fn items<V: JsonValue, T>(
    value: &V,
    field: &'static str,
    read: Reader<V, T>,
    failure: &mut Failure,
) -> Vec<T> {
    match value.items() {
        Some(items) => items.map(|item| read(&item, field, failure)).collect(),
        None => fail(failure, invalid(field, "an array"), Vec::new()),
    }
}

fn string<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> String {
    match value.string() {
        Some(text) => text,
        None => fail(failure, invalid(field, "a string"), String::new()),
    }
}

pub(crate) fn u64<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> u64 {
    (value.whole()).unwrap_or_else(|| fail(failure, invalid(field, "a whole number, 0 or more"), 0))
}

fn i64<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> i64 {
    (value.signed()).unwrap_or_else(|| fail(failure, invalid(field, "a whole number"), 0))
}

fn bool<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> bool {
    (value.boolean()).unwrap_or_else(|| fail(failure, invalid(field, "true or false"), false))
}

fn posted<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> Posted {
    posted_fields(&mut Fields::of(value, field, failure))
}

/// A message's fields, in a `message` frame or in a list of messages.
fn posted_fields<V: JsonValue>(f: &mut Fields<V>) -> Posted {
    Posted {
        message: ChatMessage {
            id: f.u64("id"),
            user: f.string("user"),
            claimed: f.flag("claimed"),
            msg: f.string("msg"),
            formatted: f.formatted(),
            date_time: f.i64("dateTime"),
            reply_to: f.optional("replyTo", reply_quote),
            mentions: f.list_or_empty("mentions", string),
            edited_at: f.optional("editedAt", i64),
            deleted: f.flag("deleted"),
            reactions: f.list_or_empty("reactions", reactions),
        },
        client_id: f.string("clientId"),
    }
}

fn hit<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> Hit {
    let f = &mut Fields::of(value, field, failure);
    Hit {
        room: f.string("room"),
        id: f.u64("id"),
        user: f.string("user"),
        date_time: f.i64("dateTime"),
        msg: f.string("msg"),
        marks: f.list_or_empty("marks", mark),
    }
}

/// A hit's mark: `[start, end]`.
fn mark<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> [usize; 2] {
    let ends = items(value, field, u64, failure);
    match ends[..] {
        [start, end] if start <= end => {
            [start, end].map(|at| usize::try_from(at).unwrap_or(usize::MAX))
        }
        _ => fail(failure, invalid(field, "[start, end]"), [0, 0]),
    }
}

fn reply_quote<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> ReplyQuote {
    let f = &mut Fields::of(value, field, failure);
    ReplyQuote {
        id: f.u64("id"),
        user: f.string("user"),
        excerpt: f.string("excerpt"),
        deleted: f.flag("deleted"),
        claimed: f.flag("claimed"),
    }
}

fn reactions<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> Reactions {
    let f = &mut Fields::of(value, field, failure);
    Reactions {
        emoji: f.string("emoji"),
        users: f.list("users", string),
        count: f.count("count"),
    }
}

/// A message's formatted text (see [`Block`]).
fn blocks<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> Vec<Block> {
    items(value, field, block, failure)
}

/// The server's stores keep formatted text as its JSON: they read it here
/// too, so the tree has one reader.
impl<'de> Deserialize<'de> for Block {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut failure = None;
        let block = block(
            &&Value::deserialize(deserializer)?,
            "formatted",
            &mut failure,
        );
        match failure {
            None => Ok(block),
            Some(error) => Err(serde::de::Error::custom(error)),
        }
    }
}

fn block<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> Block {
    let (tag, content) = value.variant().unwrap_or_default();
    match (&*tag, content) {
        ("p", Some(content)) => Block::Paragraph(items(&content, field, inline, failure)),
        ("code", Some(content)) => Block::Code(string(&content, field, failure)),
        ("quote", Some(content)) => Block::Quote(blocks(&content, field, failure)),
        ("list", Some(content)) => {
            let f = &mut Fields::of(&content, field, failure);
            Block::List {
                start: f.optional("start", u64),
                items: f.list("items", blocks),
            }
        }
        _ => fail(
            failure,
            invalid(field, "formatted text"),
            Block::Code(String::new()),
        ),
    }
}

fn inline<V: JsonValue>(value: &V, field: &'static str, failure: &mut Failure) -> Inline {
    let runs = |content: &V, failure: &mut Failure| items(content, field, inline, failure);
    let (tag, content) = value.variant().unwrap_or_default();
    match (&*tag, content) {
        ("t", Some(content)) => Inline::Text(string(&content, field, failure)),
        ("code", Some(content)) => Inline::Code(string(&content, field, failure)),
        ("em", Some(content)) => Inline::Emphasis(runs(&content, failure)),
        ("strong", Some(content)) => Inline::Strong(runs(&content, failure)),
        ("del", Some(content)) => Inline::Strikethrough(runs(&content, failure)),
        ("a", Some(content)) => {
            let f = &mut Fields::of(&content, field, failure);
            Inline::Link {
                href: f.string("href"),
                text: f.list("text", inline),
            }
        }
        ("br", None) => Inline::Break,
        _ => fail(failure, invalid(field, "formatted text"), Inline::Break),
    }
}
