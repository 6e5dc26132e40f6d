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
//! Client to server ([`ClientFrame`]):
//! - `{"type":"send","clientId":"c-1","msg":"hi"}`: post a message. The
//!   `clientId` (1 to [`CLIENT_ID_MAX_CHARS`] characters, chosen by the client)
//!   comes back on the server's copy, so the sender can match its echo.
//!   Resending the same `clientId` never posts twice.
//! - `{"type":"loadOlder","before":101,"limit":50}`: a page of older history.
//! - `{"type":"typing"}`: the user is typing.
//! - `{"type":"ping"}`: answered with `{"type":"pong"}`.
//!
//! Server to client ([`ServerFrame`]):
//! - `{"type":"welcome","user":"alice"}`: first frame on every connection; the
//!   name the server bound to it (trimmed), which is the only name the client
//!   may consider its own.
//! - `{"type":"history","messages":[...],"reset":true,"hasOlder":false}`: right
//!   after `welcome`: recent messages, or exactly those after the `after=<id>`
//!   the client connected with (`reset` false). Live frames continue from it
//!   with no gap and no duplicate.
//! - `{"type":"older","messages":[...],"hasOlder":true}`: answers `loadOlder`.
//! - `{"type":"online","users":["alice","bob"],"count":2}` after `history`,
//!   then `{"type":"presence","joined":["carol"],"left":["bob"],"count":2}` as
//!   people come and go (gathered for up to half a second; lists capped at
//!   50 names, `count` is everyone).
//! - `{"type":"typing","user":"alice"}`, `{"type":"pong"}`.
//! - `{"type":"message","id":1,"user":"alice","msg":"hi","dateTime":1764100000000,"clientId":"c-1"}`:
//!   a [`ChatMessage`] as stored, flattened, plus the sender's `clientId`.
//! - `{"type":"error","code":"message_too_long","message":"...","clientId":"c-1"}`:
//!   a request was refused; `code` is a stable [`ErrorCode`], `message` is for
//!   humans, `clientId` (only when the refused frame was a `send`) says which,
//!   `retryAfterMs` (only with `rate_limited`) says when to try again.

mod frame;
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "unicode")]
mod names;
mod validate;

pub use frame::{
    ChatMessage, ClientFrame, ErrorCode, FrameError, Posted, ServerFrame, HISTORY_PAGE_MAX,
    PRESENCE_INTERVAL_MS, PRESENCE_NAMES_MAX, TYPING_INTERVAL_MS,
};
#[cfg(feature = "unicode")]
pub use names::canonical_username;
pub use validate::{
    validate_client_id, validate_message, validate_username, ClientIdError, MessageError,
    UsernameError, CLIENT_ID_MAX_CHARS, MESSAGE_MAX_CHARS, USERNAME_MAX_CHARS,
};
