//! Frames and their JSON form.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::decode::{self, DecodeError, JsonValue};
use crate::{
    validate_client_id, validate_emoji, validate_message, validate_room, validate_username, Block,
    ClientIdError, EmojiError, Hit, MessageError, ModAction, Query, QueryError, RoomError,
    ShownRules, Timed, DURATION_MAX_S, REASON_MAX_CHARS,
};

/// A fieldless enum and its wire names, written once: serde's names, the
/// `as_str` table and the list of every variant come from the same line,
/// so a new variant cannot be missing from one of them.
macro_rules! wire_names {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident = $wire:literal,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        $vis enum $name {
            $($(#[$variant_meta])* #[serde(rename = $wire)] $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// As on the wire. A table rather than `Debug`, which the web
            /// client's release build compiles to nothing.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $wire,)*
                }
            }

            /// The variant with this wire name.
            pub fn from_wire(wire: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|known| known.as_str() == wire)
            }
        }
    };
}

/// One message of the room, as the server stored it, in its current state.
///
/// `id`, `user` and `date_time` are assigned by the server; a client never
/// chooses them. The fields after them are left out of the JSON while they
/// say nothing (no reply, no mention, never edited, not deleted, no
/// reaction), so a plain message reads as it always has.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChatMessage {
    /// The `seq` of the event that posted it: strictly increasing in its
    /// room, never reused.
    pub id: u64,
    /// The name the server bound to the sender's connection.
    pub user: String,
    /// Posted by a claimed name, signed in with its password: clients mark
    /// it, so nobody takes a guest for the name's owner.
    #[serde(default, skip_serializing_if = "is_false")]
    pub claimed: bool,
    /// The text, trimmed and validated; empty once deleted.
    pub msg: String,
    /// The text's formatting, when it has any (see [`Block`]): clients
    /// show this tree rather than `msg`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<Vec<Block>>,
    /// When the server accepted it: milliseconds since the Unix epoch, UTC.
    #[serde(rename = "dateTime")]
    pub date_time: i64,
    /// The message this one answers.
    #[serde(rename = "replyTo", default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyQuote>,
    /// The names `msg` mentions (`@name`), as the server read them: each
    /// name's key (as the server compares names: lower case), at most
    /// [`MENTIONS_MAX`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mentions: Vec<String>,
    /// When it was last edited (ms since the Unix epoch, UTC).
    #[serde(rename = "editedAt", default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<i64>,
    /// Deleted: a tombstone, its text gone (`msg` is empty).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// Its reactions, in the order each emoji was first given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<Reactions>,
}

/// How a reply shows the message it answers: its author and the first line
/// of its text now (see [`excerpt`](crate::excerpt)), or that it was
/// deleted (then `excerpt` is empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplyQuote {
    pub id: u64,
    pub user: String,
    pub excerpt: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    /// Its author was a claimed name (see [`ChatMessage::claimed`]).
    #[serde(default, skip_serializing_if = "is_false")]
    pub claimed: bool,
}

/// One emoji's reactions to a message: `count` people, at most
/// [`REACTION_NAMES_MAX`] of them named in `users`, in the order they
/// reacted (see [`apply_reaction`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reactions {
    pub emoji: String,
    pub users: Vec<String>,
    pub count: usize,
}

/// Gives (`on`) or takes back `user`'s `emoji` in a message's `reactions`
/// (in the order each emoji was first given), as a `reaction` event says:
/// the server sends one only when it changed something, so `on` is one
/// more person and off one fewer, named or not. Names stop at
/// [`REACTION_NAMES_MAX`]; an emoji nobody gives any more goes. Both
/// sides keep reactions with it.
pub fn apply_reaction(reactions: &mut Vec<Reactions>, emoji: &str, user: &str, on: bool) {
    give_reaction(reactions, emoji, user, on, REACTION_NAMES_MAX);
}

/// [`apply_reaction`], naming at most `names_max` givers.
pub(crate) fn give_reaction(
    reactions: &mut Vec<Reactions>,
    emoji: &str,
    user: &str,
    on: bool,
    names_max: usize,
) {
    let Some(at) = reactions.iter().position(|given| given.emoji == emoji) else {
        if on {
            reactions.push(Reactions {
                emoji: emoji.to_owned(),
                users: vec![user.to_owned()],
                count: 1,
            });
        }
        return;
    };
    let given = &mut reactions[at];
    let named = given.users.iter().position(|name| name == user);
    match (named, on) {
        (Some(_), true) => return,
        (None, true) => {
            if given.users.len() < names_max {
                given.users.push(user.to_owned());
            }
            given.count += 1;
        }
        (named, false) => {
            if let Some(named) = named {
                given.users.remove(named);
            }
            given.count = given.count.saturating_sub(1);
        }
    }
    if given.count == 0 {
        reactions.remove(at);
    }
}

/// Most names one [`Reactions`] lists on the wire (the server keeps them
/// all, to count and to undo).
pub const REACTION_NAMES_MAX: usize = 20;
/// Most distinct emoji on one message.
pub const REACTIONS_MAX: usize = 20;
/// Most names one message mentions, as the server counts them.
pub const MENTIONS_MAX: usize = 20;

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if
fn is_false(value: &bool) -> bool {
    !*value
}

/// A stored message as delivered to clients, with the `clientId` its sender
/// chose so the sender recognises its own copy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Posted {
    #[serde(flatten)]
    pub message: ChatMessage,
    #[serde(rename = "clientId")]
    pub client_id: String,
}

impl Posted {
    /// This message as a `message` frame of `room`, without copying it
    /// into a [`ServerFrame`] first.
    pub fn to_frame_json(&self, room: &str) -> String {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "camelCase")]
        enum Borrowed<'a> {
            Message {
                room: &'a str,
                #[serde(flatten)]
                posted: &'a Posted,
            },
        }
        to_json(&Borrowed::Message { room, posted: self })
    }
}

/// What a client may send.
///
/// Frames that concern a room take an optional `room`; without it they mean
/// the room the connection's URL named (`?room=`, or the default room), so
/// a client that knows one room never names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ClientFrame {
    /// Post `msg` to the room, answering message `replyTo` when given. Any
    /// other field (a `user`, an `id`) is ignored: the server decides
    /// those. Sending the same `clientId` again (after a reconnect, say)
    /// does not post twice: the server answers with the message it stored
    /// the first time.
    #[serde(rename_all = "camelCase")]
    Send {
        client_id: String,
        msg: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reply_to: Option<u64>,
    },
    /// Replace the text of message `id`, one of this browser's own (same
    /// name, same token). Answered by an `edited` event to the room.
    Edit {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        id: u64,
        msg: String,
    },
    /// Delete message `id`, one of this browser's own: its text is removed
    /// from storage, a tombstone stays. Deleting twice is one deletion.
    Delete {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        id: u64,
    },
    /// Add (`on`) or take back a reaction to message `id`: one emoji.
    /// Reacting twice is one reaction.
    React {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        id: u64,
        emoji: String,
        on: bool,
    },
    /// Ask for up to `limit` (at most [`HISTORY_PAGE_MAX`]) messages older
    /// than id `before`; answered with an `older` frame.
    LoadOlder {
        before: u64,
        limit: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// The user is typing. Relayed to the others as a `typing` frame, at
    /// most once per [`TYPING_INTERVAL_MS`] per user.
    Typing {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
    /// Are you there? Answered with `pong`. Browsers cannot see WebSocket
    /// pings, so a client that has heard nothing for a while asks.
    Ping,
    /// Enter `room` too (creating it if nobody has used it yet); answered
    /// with its `history` (the messages after `after`, when given and still
    /// replayable, else the recent ones; at most 256 KB of them, the rest
    /// a `loadOlder` away) and its `online` list. Joining a room the
    /// connection is in already sends nothing and changes nothing.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<u64>,
    },
    /// Leave `room`: the others see this user go (unless another of their
    /// tabs is still there), and no more of its frames come.
    Leave { room: String },
    /// Search the history (see [`Query`] for the language) of `room`, or
    /// of every room the connection is in (`room` left out), newest
    /// first, older than the cursor `before` (a `results` frame's
    /// `next`). Answered by `results`, or `invalid_query` with the reason.
    Search {
        q: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<u64>,
    },
    /// A moderator's action in `room` (see [`ModAction`]): on message `id`
    /// (`delete`), on the name `target` (`mute`, `unmute`, `kick`, `ban`,
    /// `unban`, `purge`, `grant`, `revoke`), or on the room (`lock`,
    /// `unlock`); for `durationS` seconds (`mute`, `ban`; for good without
    /// it), with a `reason` for the people concerned. `allRooms` makes a
    /// `grant` or `revoke` about every room. Answered by a `moderated`
    /// event to the room, or an error (`not_allowed`, ...).
    #[serde(rename_all = "camelCase")]
    Moderate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        action: ModAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration_s: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        all_rooms: bool,
    },
}

/// A WebSocket subprotocol the server answers with when offered.
pub const WS_PROTOCOL: &str = "chat";

/// The browser's token rides as an offered subprotocol,
/// `chat-token.<token>`, rather than in the URL: proxies and servers log
/// URLs, not `Sec-WebSocket-Protocol`. The server answers with
/// [`WS_PROTOCOL`] when that was offered too, else with the token's own
/// (the web client offers it alone). `?token=` still works, for scripts
/// and older clients.
pub const WS_TOKEN_PREFIX: &str = "chat-token.";

/// The close code of a connection a moderator put out (kicked or
/// banned; the close's reason says who and why): unlike other closes, the
/// client does not reconnect by itself.
pub const CLOSE_PUT_OUT: u16 = 4003;

wire_names! {
    /// The `type` of a [`ClientFrame`].
    pub enum ClientFrameKind {
        Send = "send",
        LoadOlder = "loadOlder",
        Typing = "typing",
        Ping = "ping",
        Join = "join",
        Leave = "leave",
        Edit = "edit",
        Delete = "delete",
        React = "react",
        Moderate = "moderate",
        Search = "search",
    }
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
/// The largest message id (a room's `seq`) there can be: logs store it as
/// a signed 64-bit integer (SQLite's). A frame about a larger id is about
/// no message, and is refused as such before it reaches a log.
pub const MESSAGE_ID_MAX: u64 = i64::MAX as u64;

/// What the server sends. Every frame about a room names it in `room`, in
/// its canonical form (NFC, lower case): the key a client files it under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ServerFrame {
    /// A moderator's action in `room`, an event of its log (`seq`): what,
    /// on whom (`target`) or which message (`id`), by whom, until when
    /// (`until`, ms since the epoch; none: for good), why. Clients show it
    /// as a one-line notice (a mute only to the muted), and apply it: a
    /// `delete` is the message's deletion too (a `deleted` event comes as
    /// well), `lock` and `unlock` say whether the room is locked.
    #[serde(rename_all = "camelCase")]
    Moderated {
        room: String,
        seq: u64,
        action: ModAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        by: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        all_rooms: bool,
        date_time: i64,
    },
    /// First frame of every connection: the name bound to it, and whether
    /// it is a claimed name (signed in with its password).
    Welcome {
        user: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        claimed: bool,
        /// An admin (`--admin`): may make moderators.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        admin: bool,
        /// A claimed name's rooms, oldest first, as it joined them on any
        /// device: they follow it to every one (a guest's are its
        /// browser's own; absent then).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rooms: Vec<String>,
        /// Messages older than this many days are removed
        /// (`--retain-days`): where a room's history begins, and why.
        #[serde(
            rename = "retainDays",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        retain_days: Option<u32>,
    },
    /// Where this connection starts in `room`: sent right after `welcome`
    /// for the room of the URL, and in answer to each `join`.
    ///
    /// Without `after`, or when the client missed more than the server
    /// replays, `reset` is true and `messages` are the most recent ones, in
    /// their current state: the client replaces what it shows. Otherwise
    /// `messages` are exactly those posted after the client's `after`, in
    /// their current state; then come, as `edited`, `deleted` and
    /// `reaction` frames in `seq` order, the events after `after` about
    /// the messages the client already has; then live frames, with no gap
    /// and no duplicate. Every event after `after` reaches the client
    /// once: folded into a message of `messages`, or as its own frame.
    #[serde(rename_all = "camelCase")]
    History {
        room: String,
        messages: Vec<Posted>,
        reset: bool,
        /// Whether older messages exist than the first of `messages` (or, if
        /// it is empty, than the client's newest).
        has_older: bool,
        /// The room's newest event this history covers: the `after` to
        /// resume from, unless a later frame has a higher `seq` or `id`.
        /// (Absent from servers before events.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq: Option<u64>,
        /// What moderators' actions leave the room with that everyone
        /// sees, its fields at the top level.
        #[serde(flatten)]
        rules: ShownRules,
        /// This connection's name moderates the room (later `moderated`
        /// grants and revokes naming it change that).
        #[serde(default, skip_serializing_if = "is_false")]
        moderator: bool,
    },
    /// A page of older messages, answering `loadOlder`, oldest first.
    #[serde(rename_all = "camelCase")]
    Older {
        room: String,
        messages: Vec<Posted>,
        has_older: bool,
    },
    /// Who is in `room`, sent once after its `history`; `presence` frames
    /// keep it current. `users` holds at most [`PRESENCE_NAMES_MAX`] names
    /// (sorted); `count` is everyone.
    Online {
        room: String,
        users: Vec<String>,
        /// Which of `users` are claimed names (members), to mark.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<String>,
        count: usize,
    },
    /// Who came into `room` (their first connection in it) and who left it
    /// (their last) since the previous `presence` frame. The server gathers
    /// changes for a moment ([`PRESENCE_INTERVAL_MS`]) so that a thousand
    /// arrivals cost each client one frame, not a thousand. Each list holds
    /// at most [`PRESENCE_NAMES_MAX`] names; `count` is how many are in the
    /// room now.
    Presence {
        room: String,
        joined: Vec<String>,
        left: Vec<String>,
        /// Which of `joined` are claimed names (members), to mark.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<String>,
        count: usize,
    },
    /// `user` is typing in `room`.
    Typing { room: String, user: String },
    /// Answers `ping`.
    Pong,
    /// Answers `search`: what it found, newest first (at most a page), and
    /// the cursor of the next page (`before`), if there may be more.
    Results {
        hits: Vec<Hit>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<u64>,
    },
    /// A message accepted by `room`; its `id` is its event's `seq`.
    Message {
        room: String,
        #[serde(flatten)]
        posted: Posted,
    },
    /// Message `id` of `room` now reads `msg` (event `seq`).
    #[serde(rename_all = "camelCase")]
    Edited {
        room: String,
        seq: u64,
        id: u64,
        msg: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        formatted: Option<Vec<Block>>,
        edited_at: i64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        mentions: Vec<String>,
    },
    /// Message `id` of `room` was deleted (event `seq`): show a tombstone.
    Deleted { room: String, seq: u64, id: u64 },
    /// `user` added (`on`) or took back `emoji` on message `id` of `room`
    /// (event `seq`).
    Reaction {
        room: String,
        seq: u64,
        id: u64,
        emoji: String,
        user: String,
        on: bool,
    },
    /// A request was refused; nothing was stored or broadcast. `clientId`
    /// names the refused `send`, when it was one; `room` the room the
    /// refused frame was about, when it named one.
    #[serde(rename_all = "camelCase")]
    Error {
        code: ErrorCode,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        /// With `rate_limited`: when the next frame will be accepted.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
    },
}

wire_names! {
    /// The `type` of a [`ServerFrame`].
    pub enum ServerFrameKind {
        Welcome = "welcome",
        History = "history",
        Older = "older",
        Online = "online",
        Presence = "presence",
        Typing = "typing",
        Pong = "pong",
        Message = "message",
        Error = "error",
        Edited = "edited",
        Deleted = "deleted",
        Reaction = "reaction",
        Moderated = "moderated",
        Results = "results",
    }
}

wire_names! {
    /// Stable, machine-readable reasons for an `error` frame.
    pub enum ErrorCode {
        /// The frame is not JSON at all.
        InvalidJson = "invalid_json",
        /// JSON, but not an object with a string `type`.
        InvalidFrame = "invalid_frame",
        /// An object without a `type` field.
        MissingType = "missing_type",
        /// A `type` this server does not know.
        UnknownType = "unknown_type",
        /// A known `type` whose fields are missing or of the wrong kind.
        InvalidFields = "invalid_fields",
        /// Frames are JSON text; binary frames are refused.
        BinaryFrame = "binary_frame",
        EmptyMessage = "empty_message",
        MessageTooLong = "message_too_long",
        /// The message contains forbidden control characters.
        InvalidMessage = "invalid_message",
        InvalidClientId = "invalid_client_id",
        EmptyUsername = "empty_username",
        UsernameTooLong = "username_too_long",
        /// The username contains control or invisible formatting characters.
        InvalidUsername = "invalid_username",
        /// `loadOlder` with a limit of 0 or above the maximum.
        InvalidLimit = "invalid_limit",
        /// The message could not be stored; it was not posted. Try again.
        StorageUnavailable = "storage_unavailable",
        /// The server is stopping; reconnect and send again.
        ShuttingDown = "shutting_down",
        /// Another connection holds this username (with another token).
        UsernameTaken = "username_taken",
        /// Too many frames too fast; `retryAfterMs` says when to try again.
        RateLimited = "rate_limited",
        /// The room name breaks the rule (the message states it).
        InvalidRoom = "invalid_room",
        /// The frame names a room this connection has not joined.
        NotInRoom = "not_in_room",
        /// The connection is in as many rooms as it may be at once: leave
        /// one first.
        TooManyRooms = "too_many_rooms",
        /// The server holds as many rooms as it may; existing rooms can
        /// still be joined.
        RoomLimitReached = "room_limit_reached",
        /// No message with this id in this room.
        NotFound = "not_found",
        /// Editing or deleting a message another browser posted.
        NotYours = "not_yours",
        /// A reaction that is not one emoji.
        InvalidEmoji = "invalid_emoji",
        /// The message has as many different reactions as it may.
        TooManyReactions = "too_many_reactions",
        /// Editing, reacting to or replying to a deleted message.
        MessageDeleted = "message_deleted",
        /// The name is claimed: it takes its password (or its session).
        NameClaimed = "name_claimed",
        /// Signing in with a password that is not the name's.
        WrongPassword = "wrong_password",
        /// A new password breaks the rule (8 to 128 characters).
        InvalidPassword = "invalid_password",
        /// The request needs a session (the cookie) and has none.
        NotSignedIn = "not_signed_in",
        /// A request that changes state, from a page of another site.
        ForbiddenOrigin = "forbidden_origin",
        /// The name may not post in this room until `retryAfterMs`.
        Muted = "muted",
        /// The name (or its address) is banned; the message says until when
        /// and why.
        Banned = "banned",
        /// Only moderators post in this room now.
        RoomLocked = "room_locked",
        /// A moderator's action by someone who is not one.
        NotAllowed = "not_allowed",
        /// A `search` whose query cannot be read (the message says why).
        InvalidQuery = "invalid_query",
        /// A `send` whose `clientId` this name used for another message
        /// (other words, or another browser): a resend has the same.
        ClientIdReused = "client_id_reused",
        /// A name holds as many API tokens as it may: revoke one first.
        TooManyTokens = "too_many_tokens",
        /// Never sent: what a client reads for a code it does not know (a
        /// newer server's), so the refusal still arrives and its `message`
        /// says what it is.
        Unknown = "unknown",
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
    #[error("{error}")]
    Room { error: RoomError, room: String },
    /// An `edit` whose new text breaks the rules.
    #[error("{0}")]
    Edit(MessageError),
    #[error(transparent)]
    Emoji(#[from] EmojiError),
    /// A frame about a message id no message can have (see
    /// [`MESSAGE_ID_MAX`]); names the refused `send`, if it was one.
    #[error("There is no such message in this room.")]
    NoSuchMessage { client_id: Option<String> },
    /// A `search` whose query cannot be read.
    #[error("{0}")]
    Query(#[from] QueryError),
}

impl FrameError {
    /// The `clientId` of the refused `send`, when it had a valid one.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Message { client_id, .. } => Some(client_id),
            Self::NoSuchMessage { client_id } => client_id.as_deref(),
            Self::InvalidJson(_)
            | Self::NotAnObject
            | Self::MissingType
            | Self::TypeNotAString
            | Self::UnknownType(_)
            | Self::InvalidFields { .. }
            | Self::ClientId(_)
            | Self::InvalidLimit
            | Self::Room { .. }
            | Self::Edit(_)
            | Self::Emoji(_)
            | Self::Query(_) => None,
        }
    }

    /// The `error` frame that answers this refusal.
    pub fn to_frame(&self) -> ServerFrame {
        ServerFrame::Error {
            code: self.code(),
            message: self.to_string(),
            client_id: self.client_id().map(str::to_owned),
            retry_after_ms: None,
            room: match self {
                Self::Room { room, .. } => Some(room.clone()),
                Self::InvalidJson(_)
                | Self::NotAnObject
                | Self::MissingType
                | Self::TypeNotAString
                | Self::UnknownType(_)
                | Self::InvalidFields { .. }
                | Self::Message { .. }
                | Self::ClientId(_)
                | Self::InvalidLimit
                | Self::Edit(_)
                | Self::Emoji(_)
                | Self::Query(_)
                | Self::NoSuchMessage { .. } => None,
            },
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
            Self::Room { error, .. } => error.code(),
            Self::Edit(error) => error.code(),
            Self::Emoji(error) => error.code(),
            Self::NoSuchMessage { .. } => ErrorCode::NotFound,
            Self::Query(_) => ErrorCode::InvalidQuery,
        }
    }
}

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
            Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::String(_)
            | Value::Array(_) => return Err(FrameError::NotAnObject),
        };
        let Some(kind) = ClientFrameKind::ALL
            .iter()
            .find(|known| known.as_str() == kind)
        else {
            return Err(FrameError::UnknownType(kind.clone()));
        };
        let frame = ClientFrame::deserialize(value).map_err(|e| FrameError::InvalidFields {
            kind: kind.as_str(),
            detail: e.to_string(),
        })?;
        frame.validated()
    }

    fn validated(self) -> Result<Self, FrameError> {
        if self.message_id().is_some_and(|id| id > MESSAGE_ID_MAX) {
            return Err(FrameError::NoSuchMessage {
                client_id: self.client_id().map(str::to_owned),
            });
        }
        if let Some(room) = self.room() {
            validate_room(room).map_err(|error| FrameError::Room {
                error,
                room: room.to_owned(),
            })?;
        }
        match self {
            Self::Send {
                client_id,
                msg,
                room,
                reply_to,
            } => {
                validate_client_id(&client_id)?;
                let msg = match trimmed(msg) {
                    Ok(msg) => msg,
                    Err(error) => return Err(FrameError::Message { error, client_id }),
                };
                Ok(Self::Send {
                    client_id,
                    msg,
                    room,
                    reply_to,
                })
            }
            Self::Edit { room, id, msg } => Ok(Self::Edit {
                room,
                id,
                msg: trimmed(msg).map_err(FrameError::Edit)?,
            }),
            Self::React { ref emoji, .. } => {
                validate_emoji(emoji)?;
                Ok(self)
            }
            Self::Moderate {
                action,
                ref target,
                id,
                duration_s,
                ref reason,
                ..
            } => {
                let invalid = |detail: &str| FrameError::InvalidFields {
                    kind: "moderate",
                    detail: detail.to_owned(),
                };
                if action.needs_target() && target.is_none() {
                    return Err(invalid("this action needs a \"target\" (a name)"));
                }
                if action.needs_id() && id.is_none() {
                    return Err(invalid("\"delete\" needs the message's \"id\""));
                }
                if action.timed() == Timed::Always && duration_s.is_none() {
                    return Err(invalid(
                        "an address is banned for a time: \"durationS\" is needed",
                    ));
                }
                if duration_s.is_some_and(|seconds| seconds == 0 || seconds > DURATION_MAX_S) {
                    return Err(invalid("\"durationS\" is 1 second to 10 years"));
                }
                if let Some(reason) = reason {
                    if reason.chars().count() > REASON_MAX_CHARS
                        || reason.chars().any(char::is_control)
                    {
                        return Err(invalid(
                            "a reason has at most 200 characters, none a control character",
                        ));
                    }
                }
                if let Some(target) = target {
                    validate_username(target).map_err(|error| invalid(&error.to_string()))?;
                }
                Ok(self)
            }
            Self::LoadOlder { limit, .. } if limit == 0 || limit > HISTORY_PAGE_MAX => {
                Err(FrameError::InvalidLimit)
            }
            Self::Search {
                ref q, ref room, ..
            } => {
                Query::parse_in(q, room.as_deref())?;
                Ok(self)
            }
            Self::LoadOlder { .. }
            | Self::Typing { .. }
            | Self::Ping
            | Self::Join { .. }
            | Self::Leave { .. }
            | Self::Delete { .. } => Ok(self),
        }
    }

    /// The `clientId` of a `send`.
    pub fn client_id(&self) -> Option<&str> {
        match self {
            Self::Send { client_id, .. } => Some(client_id),
            Self::Edit { .. }
            | Self::Delete { .. }
            | Self::React { .. }
            | Self::LoadOlder { .. }
            | Self::Typing { .. }
            | Self::Ping
            | Self::Join { .. }
            | Self::Leave { .. }
            | Self::Moderate { .. }
            | Self::Search { .. } => None,
        }
    }

    /// The message the frame is about, if it is about one: the one a
    /// `send` answers, the one changed or deleted.
    pub fn message_id(&self) -> Option<u64> {
        match self {
            Self::Send { reply_to, .. } => *reply_to,
            Self::Edit { id, .. } | Self::Delete { id, .. } | Self::React { id, .. } => Some(*id),
            Self::Moderate { id, .. } => *id,
            Self::LoadOlder { .. }
            | Self::Typing { .. }
            | Self::Ping
            | Self::Join { .. }
            | Self::Leave { .. }
            | Self::Search { .. } => None,
        }
    }

    /// The room the frame names, if it names one.
    pub fn room(&self) -> Option<&str> {
        match self {
            Self::Send { room, .. }
            | Self::LoadOlder { room, .. }
            | Self::Typing { room }
            | Self::Edit { room, .. }
            | Self::Delete { room, .. }
            | Self::React { room, .. }
            | Self::Moderate { room, .. }
            | Self::Search { room, .. } => room.as_deref(),
            Self::Join { room, .. } | Self::Leave { room } => Some(room),
            Self::Ping => None,
        }
    }

    /// Its `type`: every frame has one of [`ClientFrameKind::ALL`].
    pub fn kind(&self) -> ClientFrameKind {
        match self {
            Self::Send { .. } => ClientFrameKind::Send,
            Self::LoadOlder { .. } => ClientFrameKind::LoadOlder,
            Self::Typing { .. } => ClientFrameKind::Typing,
            Self::Ping => ClientFrameKind::Ping,
            Self::Join { .. } => ClientFrameKind::Join,
            Self::Leave { .. } => ClientFrameKind::Leave,
            Self::Edit { .. } => ClientFrameKind::Edit,
            Self::Delete { .. } => ClientFrameKind::Delete,
            Self::React { .. } => ClientFrameKind::React,
            Self::Moderate { .. } => ClientFrameKind::Moderate,
            Self::Search { .. } => ClientFrameKind::Search,
        }
    }

    pub fn to_json(&self) -> String {
        to_json(self)
    }
}

impl ServerFrame {
    /// Parses one text frame from the server. The client trusts nothing else,
    /// and a frame it cannot read is an error to log, never a panic.
    pub fn parse(text: &str) -> Result<Self, DecodeError> {
        decode::server_frame(text)
    }

    /// Reads one frame the caller parsed already: the web client's
    /// browser parses the text (see [`JsonValue`]).
    pub fn read<V: JsonValue>(value: V) -> Result<Self, DecodeError> {
        decode::read_server_frame(value)
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
            room: None,
        }
    }

    /// An error answering the `send` with this `client_id`.
    pub fn send_error(code: ErrorCode, message: impl Into<String>, client_id: String) -> Self {
        Self::Error {
            code,
            message: message.into(),
            client_id: Some(client_id),
            retry_after_ms: None,
            room: None,
        }
    }

    /// The answer to a frame over the rate limit.
    pub fn rate_limited(retry_after_ms: u64, client_id: Option<String>) -> Self {
        Self::Error {
            code: ErrorCode::RateLimited,
            message: format!("Too many messages: wait {retry_after_ms} ms before sending again."),
            client_id,
            retry_after_ms: Some(retry_after_ms),
            room: None,
        }
    }

    /// This error about `room` (the refused frame named it).
    pub fn in_room(self, named: &str) -> Self {
        match self {
            Self::Error {
                code,
                message,
                client_id,
                retry_after_ms,
                ..
            } => Self::Error {
                code,
                message,
                client_id,
                retry_after_ms,
                room: Some(named.to_owned()),
            },
            other @ Self::Moderated { .. }
            | other @ Self::Welcome { .. }
            | other @ Self::History { .. }
            | other @ Self::Older { .. }
            | other @ Self::Online { .. }
            | other @ Self::Presence { .. }
            | other @ Self::Typing { .. }
            | other @ Self::Pong
            | other @ Self::Message { .. }
            | other @ Self::Edited { .. }
            | other @ Self::Deleted { .. }
            | other @ Self::Reaction { .. }
            | other @ Self::Results { .. } => other,
        }
    }
}

/// `msg` validated as a message's text, trimmed (without a copy when there
/// was nothing to trim).
fn trimmed(msg: String) -> Result<String, MessageError> {
    let trimmed = validate_message(&msg)?;
    Ok(if trimmed.len() == msg.len() {
        msg
    } else {
        trimmed.to_owned()
    })
}

/// Serializes a frame. Cannot fail: serde_json only fails on maps with
/// non-string keys and on failing `Serialize` impls, and frames have neither.
fn to_json<T: Serialize>(frame: &T) -> String {
    serde_json::to_string(frame).expect("frames always serialize to JSON")
}
