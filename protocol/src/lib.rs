//! The chat room's wire format, and nothing else.
//!
//! Every byte that crosses the WebSocket between the server and the web
//! client is described here, once, so the two sides cannot drift apart. The
//! crate does no I/O: it turns frames into JSON text and back, and it owns the
//! validation rules, so the login page shows exactly the rule the server
//! enforces.
//!
//! # Frames
//!
//! Every frame is one JSON text frame, an object tagged by its `type` field.
//!
//! The browser's token comes as an offered subprotocol,
//! `Sec-WebSocket-Protocol: chat-token.<token>` ([`WS_TOKEN_PREFIX`]; with
//! [`WS_PROTOCOL`] offered too, the server answers `chat`), or as
//! `?token=`.
//!
//! Rooms: a connection starts in the room its URL names (`/ws?room=rust`,
//! or the server's default room, `lobby`), and may `join` more. Room names
//! are 1 to [`ROOM_MAX_CHARS`] letters, digits, `-` and `_`, compared in
//! lower case (and NFC): see [`validate_room`]. Every server frame about a
//! room says which in `room`, in that canonical form. A message's `id` is
//! the `seq` of its room's log: ids, `after` and `before` are per room.
//!
//! Client to server ([`ClientFrame`]); `room` is optional wherever it is
//! shown in brackets, and means the URL's room when left out:
//! - `{"type":"send","clientId":"c-1","msg":"hi"[,"room":"rust"]}`: post a
//!   message. The `clientId` (1 to [`CLIENT_ID_MAX_CHARS`] characters, chosen
//!   by the client) comes back on the server's copy, so the sender can match
//!   its echo. Resending the same `clientId` never posts twice.
//! - `{"type":"loadOlder","before":101,"limit":50[,"room":"rust"]}`: a page
//!   of older history.
//! - `{"type":"typing"[,"room":"rust"]}`: the user is typing.
//! - `{"type":"join","room":"rust"[,"after":41]}`: enter another room on the
//!   same connection; answered with its `history` and `online`, exactly as
//!   the URL's room is greeted.
//! - `{"type":"leave","room":"rust"}`: leave a room (the URL's too).
//! - `{"type":"ping"}`: answered with `{"type":"pong"}`.
//! - `{"type":"send","clientId":"c-2","msg":"yes","replyTo":12}`: a reply
//!   to message 12 (refused with `not_found` or `message_deleted`).
//! - `{"type":"edit","room":"r","id":12,"msg":"new text"}` and
//!   `{"type":"delete","room":"r","id":12}`: change one of this browser's
//!   messages (same name, same token; a message posted without a token
//!   can be changed by nobody). Deleting removes the text from storage; a
//!   tombstone stays. Deleting twice is one deletion.
//! - `{"type":"react","room":"r","id":12,"emoji":"👍","on":true}`: add or
//!   take back a reaction, one emoji of Unicode's list (at most
//!   [`REACTIONS_MAX`] different ones on a message). Reacting twice is
//!   one reaction.
//!
//! Names: a guest picks a free name; a claimed name takes its password,
//! through the HTTP API of [`account`](SignIn) (`POST /api/session`), whose
//! session cookie then authorises `/ws` without `?user=`. A guest's
//! `?user=` for a claimed name, or for a name that looks like one online
//! or claimed (see `name_key`), is refused with `name_claimed` or
//! `username_taken`.
//!
//! Moderation: `{"type":"moderate","room":"r","action":"mute","target":"bob",
//! "durationS":600,"reason":"..."}`: [`ModAction`] lists every action,
//! whether it takes a message `id`, a name `target` or neither, a
//! `durationS`, and who may take it ([`ModAction::takes`]: moderators of
//! the room act in it, what reaches beyond it is for moderators of every
//! room, making moderators for admins, and only an admin acts on a
//! moderator); others are refused with `not_allowed`. Every accepted
//! action is a `moderated` event of the room's log. A muted name's sends
//! are refused with `muted` and `retryAfterMs`; a locked room's with
//! `room_locked`. What the actions leave that everyone sees
//! ([`ShownRules`], such as `"locked":true`) is in each
//! `history`, at its top level; an action about a message the room no
//! longer shows is refused with `not_found` or `message_deleted`. A
//! kicked or banned connection is closed with [`CLOSE_PUT_OUT`] and the
//! reason; a banned name or address is refused at the door with
//! `banned`. `welcome` says `"admin":true` for an admin, `history`
//! `"moderator":true` in a room the name moderates.
//!
//! Server to client ([`ServerFrame`]):
//! - `{"type":"welcome","user":"alice"}`: first frame on every connection; the
//!   name the server bound to it (trimmed), which is the only name the client
//!   may consider its own.
//! - `{"type":"history","room":"lobby","messages":[...],"reset":true,"hasOlder":false}`:
//!   right after `welcome`, and after each `join`: recent messages, or
//!   exactly those after the `after=<id>` the client gave (`reset` false).
//!   Live frames continue from it with no gap and no duplicate.
//! - `{"type":"older","room":"lobby","messages":[...],"hasOlder":true}`:
//!   answers `loadOlder`.
//! - `{"type":"online","room":"lobby","users":["alice","bob"],"count":2}`
//!   after `history`, then
//!   `{"type":"presence","room":"lobby","joined":["carol"],"left":["bob"],"count":2}`
//!   as people come and go (gathered for up to half a second; lists capped
//!   at 50 names, `count` is everyone in the room).
//! - `{"type":"typing","room":"lobby","user":"alice"}`, `{"type":"pong"}`.
//! - `{"type":"message","room":"lobby","id":1,"user":"alice","msg":"hi","dateTime":1764100000000,"clientId":"c-1"}`:
//!   a [`ChatMessage`] as stored, flattened, plus the sender's `clientId`.
//!   When they say something, it also has `formatted` (the text's
//!   Markdown as a safe tree, see [`Block`]), `replyTo`
//!   (`{"id":12,"user":"bob","excerpt":"first line…"}`, with
//!   `"deleted":true` once the original is gone), `mentions` (the names
//!   `@name` mentions, lower case), and in history pages `editedAt`,
//!   `deleted` (a tombstone: `msg` empty) and `reactions`
//!   (`[{"emoji":"👍","users":["bob"],"count":1}]`, at most
//!   [`REACTION_NAMES_MAX`] names each).
//! - Changes, each an event with the room's next `seq` (a message's `id`
//!   is the `seq` that posted it):
//!   `{"type":"edited","room":"r","seq":57,"id":12,"msg":"new text","editedAt":...}`,
//!   `{"type":"deleted","room":"r","seq":58,"id":12}`,
//!   `{"type":"reaction","room":"r","seq":59,"id":12,"emoji":"👍","user":"bob","on":true}`.
//!   `history` says the newest `seq` it covers; a client resumes after the
//!   newest `seq` it has, and gets every event after it exactly once:
//!   posts in their current state in `history`, then the changes to older
//!   messages as these frames.
//! - `{"type":"error","code":"message_too_long","message":"...","clientId":"c-1"}`:
//!   a request was refused; `code` is a stable [`ErrorCode`], `message` is for
//!   humans, `clientId` (only when the refused frame was a `send`) says which,
//!   `retryAfterMs` (only with `rate_limited`) says when to try again, and
//!   `room` (only when the refused frame named a room) which room. The room
//!   codes: `invalid_room` (the name breaks the rule; the message states
//!   it), `not_in_room` (a frame names a room the connection has not
//!   joined), `too_many_rooms` (the connection is in as many rooms as the
//!   server allows one connection), `room_limit_reached` (the server holds
//!   as many rooms as it may). The message codes: `not_found`, `not_yours`,
//!   `invalid_emoji`, `too_many_reactions`, `message_deleted`. Names and
//!   moderation: `name_claimed`, `wrong_password`, `invalid_password`,
//!   `not_signed_in`, `forbidden_origin`, `muted`, `banned`,
//!   `room_locked`, `not_allowed` (a kicked or banned connection is closed
//!   with [`CLOSE_PUT_OUT`] instead).
//! - `{"type":"moderated","room":"r","seq":61,"action":"mute","target":"bob","by":"alice","until":1764100600000,"reason":"...","dateTime":...}`:
//!   a moderator's action, replayed on resume like every event.

// A new variant of our own enums is a compile error wherever it must be
// decided: no wildcard arm over them (tests may skip what they ignore).
#![cfg_attr(not(test), deny(clippy::wildcard_enum_match_arm))]

mod account;
mod decode;
mod formatted;
#[macro_use]
mod frame;
#[doc(hidden)]
pub mod fuzzing;
mod moderation;
#[cfg(feature = "unicode")]
mod names;
mod room;
mod search;
mod validate;

pub use account::{
    validate_password, ApiError, ApiToken, Claim, MessagesOf, ModerationView, NewToken,
    PasswordChange, PasswordError, Sanction, SignIn, SignedIn, TokenInfo, MODERATION_AUDIT_MAX,
    PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS, TOKENS_MAX, TOKEN_DAYS_MAX, TOKEN_NAME_MAX_CHARS,
};
pub use decode::{DecodeError, FieldError, JsonValue};
#[cfg(feature = "markdown")]
pub use formatted::formatted;
pub use formatted::{is_safe_link, Block, Inline, FORMATTED_MAX_DEPTH, FORMATTED_MAX_NODES};
pub use frame::{
    apply_reaction, ChatMessage, ClientFrame, ClientFrameKind, ErrorCode, FrameError, Posted,
    Reactions, ReplyQuote, ServerFrame, ServerFrameKind, CLOSE_PUT_OUT, HISTORY_PAGE_MAX,
    MENTIONS_MAX, MESSAGE_ID_MAX, PRESENCE_INTERVAL_MS, PRESENCE_NAMES_MAX, REACTIONS_MAX,
    REACTION_NAMES_MAX, TYPING_INTERVAL_MS, WS_PROTOCOL, WS_TOKEN_PREFIX,
};
// Every action, its facts and the rules it leaves: a new one is exported
// with no line here.
pub use moderation::*;
#[cfg(feature = "unicode")]
pub use names::{canonical_emoji, canonical_room, canonical_username, mentions, name_key};
#[cfg(feature = "unicode")]
pub use room::RoomView;
pub use room::{
    check_reply, ChangeRefusal, ChangeRequest, MessageChange, Reacted, Requote, RoomEvent, Target,
    Verdict,
};
#[cfg(feature = "unicode")]
pub use search::{words, Word};
pub use search::{Hit, Query, QueryError, Term, QUERY_MAX_CHARS, QUERY_MAX_TERMS};
pub use validate::{
    excerpt, validate_client_id, validate_emoji, validate_message, validate_room,
    validate_room_with, validate_username, ClientIdError, EmojiError, MessageError, RoomError,
    UsernameError, CLIENT_ID_MAX_CHARS, EMOJI_MAX_CHARS, EXCERPT_MAX_CHARS, MESSAGE_MAX_CHARS,
    ROOM_MAX_CHARS, USERNAME_MAX_CHARS,
};
