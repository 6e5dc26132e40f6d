//! The HTTP API of names: signing in, claiming a name, passwords and API
//! tokens. Bodies are JSON; every refusal is an [`ApiError`].
//!
//! - `POST /api/session` with [`SignIn`] (`{"user":"alice"}` for a guest,
//!   `{"user":"alice","password":"..."}` for a claimed name) answers 200
//!   with [`SignedIn`] and sets the session cookie, or refuses: 401
//!   `wrong_password`, 409 `name_claimed` (a guest asking for a claimed
//!   name), 409 `username_taken` (a guest name someone holds now), 429
//!   `rate_limited` (with `retryAfterMs`), 403 `forbidden_origin`.
//! - `DELETE /api/session`: signs out (the cookie is cleared, the session
//!   forgotten). 204.
//! - `GET /api/session`: who the cookie says this is ([`SignedIn`]), 401
//!   `not_signed_in` without one.
//! - `POST /api/claim` with [`Claim`]: the signed-in guest keeps the name.
//!   200 [`SignedIn`] (`claimed` true); 409 `name_claimed` if it is
//!   already someone's.
//! - `POST /api/password` with [`PasswordChange`]: a claimed name's new
//!   password; every other session of the name is signed out. 200
//!   [`SignedIn`], with a new cookie.
//! - `POST /api/tokens`, with an optional [`NewToken`] (a name, a life in
//!   days: a year at most and without one): an API token for scripts and
//!   bots, sent as `Authorization: Bearer <token>` to `/ws` ([`ApiToken`],
//!   shown once). A token opens the WebSocket only: the HTTP API takes
//!   the browser's session. At most [`TOKENS_MAX`] per name (409
//!   `too_many_tokens`), ten made at once, then one every six minutes.
//! - `GET /api/tokens`: the name's tokens ([`TokenInfo`]), newest last.
//! - `DELETE /api/tokens/<id>`: revokes one; the connections it opened
//!   close. 204, or 404 `not_found`.
//!
//! - `GET /api/moderation?room=<room>`: what a moderator of the room sees
//!   ([`ModerationView`]): who is muted there and until when, the bans
//!   (for moderators of every room and admins, who lift them), and the
//!   room's moderation events, newest first. 401 `not_signed_in`, 403
//!   `not_allowed` for anyone else, 400 `invalid_room`.
//!
//! `/ws` with the session cookie (or the bearer token) needs no `?user=`.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::ErrorCode;

/// Fewest characters in a password.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Most characters in a password (argon2 is slow on purpose: a megabyte of
/// password would be a way to spend the server's time).
pub const PASSWORD_MAX_CHARS: usize = 128;

/// `POST /api/session`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// Who a session is: the name as bound, and whether it is claimed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIn {
    pub user: String,
    pub claimed: bool,
}

/// `POST /api/claim`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub password: String,
}

/// `POST /api/password`: the current password, and the new one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChange {
    pub current: String,
    pub password: String,
}

/// Most API tokens one name holds at once.
pub const TOKENS_MAX: usize = 20;
/// Longest life of an API token, in days (and its life without one).
pub const TOKEN_DAYS_MAX: u32 = 365;
/// Most characters in a token's name.
pub const TOKEN_NAME_MAX_CHARS: usize = 40;

/// `POST /api/tokens`' body, optional: what the token is for, and how
/// many days it works (1 to [`TOKEN_DAYS_MAX`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_days: Option<u32>,
}

impl NewToken {
    /// Checks the name (at most [`TOKEN_NAME_MAX_CHARS`], no control
    /// characters) and the life; says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(name) = &self.name {
            if name.chars().count() > TOKEN_NAME_MAX_CHARS || name.chars().any(char::is_control) {
                return Err(format!(
                    "A token's name has at most {TOKEN_NAME_MAX_CHARS} characters, none a control character."
                ));
            }
        }
        if self
            .expires_in_days
            .is_some_and(|days| days == 0 || days > TOKEN_DAYS_MAX)
        {
            return Err(format!("A token works 1 to {TOKEN_DAYS_MAX} days."));
        }
        Ok(())
    }
}

/// `POST /api/tokens`' answer: the token, shown this once, with what
/// `GET /api/tokens` lists it as.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

/// An API token as `GET /api/tokens` lists it (never the token itself).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// What `DELETE /api/tokens/<id>` revokes it by.
    #[serde(default)]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Ms since the epoch; `None`: until revoked (tokens made before
    /// tokens expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Every refusal of the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// Debug output (a log line, a panic) never shows a password or token.
macro_rules! redacted_debug {
    ($type:ident { $($shown:ident),* }) => {
        impl std::fmt::Debug for $type {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($type))
                    $(.field(stringify!($shown), &self.$shown))*
                    .finish_non_exhaustive()
            }
        }
    };
}

redacted_debug!(SignIn { user });
redacted_debug!(Claim {});
redacted_debug!(PasswordChange {});
redacted_debug!(ApiToken {});

/// Why a password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("A password has {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters.")]
    Length,
}

impl PasswordError {
    pub fn code(self) -> ErrorCode {
        ErrorCode::InvalidPassword
    }
}

/// A new password's rule: 8 to 128 characters, any of them (spaces
/// included: a passphrase is a good password).
pub fn validate_password(raw: &str) -> Result<&str, PasswordError> {
    let len = raw.chars().count();
    if (PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&len) {
        Ok(raw)
    } else {
        Err(PasswordError::Length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_their_documented_json() {
        let guest: SignIn = serde_json::from_str(r#"{"user":"alice"}"#).expect("guest");
        assert_eq!(guest.password, None);
        let member = SignIn {
            user: "alice".into(),
            password: Some("correct horse".into()),
        };
        assert_eq!(
            serde_json::to_string(&member).expect("json"),
            r#"{"user":"alice","password":"correct horse"}"#
        );
        let signed_in = SignedIn {
            user: "alice".into(),
            claimed: true,
        };
        assert_eq!(
            serde_json::to_string(&signed_in).expect("json"),
            r#"{"user":"alice","claimed":true}"#
        );
        let refused = ApiError {
            code: ErrorCode::RateLimited,
            message: "Too many attempts.".into(),
            retry_after_ms: Some(12_000),
        };
        assert_eq!(
            serde_json::to_string(&refused).expect("json"),
            r#"{"code":"rate_limited","message":"Too many attempts.","retryAfterMs":12000}"#
        );
        let wrong = ApiError {
            code: ErrorCode::WrongPassword,
            message: "Wrong password.".into(),
            retry_after_ms: None,
        };
        assert_eq!(
            serde_json::to_string(&wrong).expect("json"),
            r#"{"code":"wrong_password","message":"Wrong password."}"#
        );
        assert_eq!(format!("{member:?}"), r#"SignIn { user: "alice", .. }"#);
        let change: PasswordChange =
            serde_json::from_str(r#"{"current":"old one!","password":"new one!"}"#).expect("json");
        assert_eq!(change.password, "new one!");
    }

    #[test]
    fn a_password_has_8_to_128_characters() {
        assert_eq!(validate_password("short"), Err(PasswordError::Length));
        assert_eq!(validate_password("12345678"), Ok("12345678"));
        assert_eq!(
            validate_password("密码密码密码密码"),
            Ok("密码密码密码密码")
        );
        let longest = "é".repeat(PASSWORD_MAX_CHARS);
        assert!(validate_password(&longest).is_ok());
        assert!(validate_password(&format!("{longest}x")).is_err());
    }
}

/// `GET /api/moderation?room=<room>`: a room's moderation as its
/// moderators see it. Times are ms since the epoch; no `until`: for good.
/// (Written by the server only: clients read it as they please.)
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModerationView {
    pub room: String,
    /// Who is muted in the room now.
    pub mutes: Vec<Sanction>,
    /// Every ban in force, for those who may lift them (moderators of
    /// every room, admins); absent for a moderator of this room alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bans: Option<Vec<Sanction>>,
    /// The room's `moderated` events, newest first (at most
    /// [`MODERATION_AUDIT_MAX`]).
    pub audit: Vec<crate::ServerFrame>,
}

/// How many of a name's messages show in a room (`GET
/// /api/moderation/messages`): what a purge would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagesOf {
    pub room: String,
    pub name: String,
    pub count: usize,
}

/// Most of a room's moderation events [`ModerationView`] lists.
pub const MODERATION_AUDIT_MAX: usize = 100;

/// A mute or a ban in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sanction {
    /// The name, as the moderator typed it when known; else its key.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A ban of the name itself (not only of its browser or address).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub named: bool,
    /// A ban covers the guest's browser too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub browser: bool,
    /// A ban covers guests from the address the name came from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub address: bool,
}
