//! Who the user is: the chosen name, kept in localStorage so a returning
//! visitor goes straight to the room.

use std::rc::Rc;

use gloo::storage::{LocalStorage, Storage};
use yew::{Reducible, UseReducerHandle};

const USERNAME_KEY: &str = "chat.username";
const TOKEN_KEY: &str = "chat.token";

/// Random bytes in a browser token: 128 bits.
const TOKEN_BYTES: usize = 16;

/// This browser's token, made once and kept: connections presenting it may
/// share a name (a second tab, a reconnect); other browsers may not. One
/// made by an earlier release from `Math.random` (shorter) is replaced.
pub fn browser_token() -> String {
    if let Some(token) = crate::json::stored_string(TOKEN_KEY) {
        if token.len() == 2 * TOKEN_BYTES {
            return token;
        }
    }
    let token = crate::random::random_hex(TOKEN_BYTES);
    if LocalStorage::set(TOKEN_KEY, &token).is_err() {
        gloo::console::warn!("cannot store the browser token");
    }
    token
}

/// Forgets everything the chat kept in this browser (the name, the
/// browser's token, each room's messages, the outbox, the rooms joined):
/// on a shared computer, the next person starts from nothing.
pub fn forget_this_browser() {
    LocalStorage::clear();
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Session {
    /// The name to join as; `None` means the login page.
    pub user: Option<String>,
    /// Why the last session ended, for the login page (the server's reason
    /// when it refused the name).
    pub notice: Option<String>,
    /// The name for the login page to show again: the one the server
    /// refused, or the one that just signed out.
    pub refused_name: Option<String>,
}

pub enum SessionAction {
    Login(String),
    /// The user signed out (`notice` says so on the login page, the name
    /// filled in again).
    SignedOut(String),
    /// The server refused the name, with its reason.
    Refused(String),
}

impl Reducible for Session {
    type Action = SessionAction;

    fn reduce(self: Rc<Self>, action: SessionAction) -> Rc<Self> {
        Rc::new(match action {
            SessionAction::Login(user) => Session {
                user: Some(user),
                ..Session::default()
            },
            SessionAction::SignedOut(notice) => Session {
                user: None,
                notice: Some(notice),
                refused_name: self.user.clone(),
            },
            SessionAction::Refused(reason) => Session {
                user: None,
                notice: Some(reason),
                refused_name: self.user.clone(),
            },
        })
    }
}

/// Shared through a context by the whole app.
pub type SessionHandle = UseReducerHandle<Session>;

impl Session {
    /// The session stored by an earlier visit, if any.
    pub fn load() -> Self {
        Session {
            user: crate::json::stored_string(USERNAME_KEY),
            ..Session::default()
        }
    }

    /// Persists the name (or its absence) for the next visit.
    pub fn save(&self) {
        match &self.user {
            Some(user) => {
                if LocalStorage::set(USERNAME_KEY, user).is_err() {
                    gloo::console::warn!("cannot store the username");
                }
            }
            None => LocalStorage::delete(USERNAME_KEY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_logout_and_refusal() {
        let session = Rc::new(Session::default()).reduce(SessionAction::Login("alice".into()));
        assert_eq!(session.user.as_deref(), Some("alice"));
        let refused = Rc::clone(&session).reduce(SessionAction::Refused("taken".into()));
        assert_eq!(refused.user, None);
        assert_eq!(refused.notice.as_deref(), Some("taken"));
        assert_eq!(refused.refused_name.as_deref(), Some("alice"));
        let again = refused.reduce(SessionAction::Login("alice2".into()));
        assert_eq!(again.notice, None);
        let out = session.reduce(SessionAction::SignedOut("bye".into()));
        assert_eq!(out.user, None);
        assert_eq!(
            (out.notice.as_deref(), out.refused_name.as_deref()),
            (Some("bye"), Some("alice"))
        );
    }
}
