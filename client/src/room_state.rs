//! The room as the client sees it: a pure reducer, tested without a browser.
//!
//! Everything here comes from the server's frames. The only thing the client
//! contributes is which name it asked for; which name is its own is what the
//! server's `welcome` says.

use std::rc::Rc;

use protocol::{ChatMessage, ErrorCode, ServerFrame};
use yew::Reducible;

/// The connection as the user should understand it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// Opening the socket (first time or after a drop).
    Connecting,
    /// The socket is open and the server has welcomed us.
    Online,
    /// Dropped; the next attempt starts after `retry_in_ms`.
    Offline { retry_in_ms: u32 },
}

/// One line of the message list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub message: ChatMessage,
    /// Sent by the name the server bound to this connection.
    pub own: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomState {
    pub connection: Connection,
    /// The name the server bound to us, once welcomed.
    pub me: Option<String>,
    /// Always in id order, without duplicates.
    pub entries: Rc<Vec<Rc<Entry>>>,
    /// The last request the server refused (e.g. a message too long).
    pub notice: Option<String>,
    /// Set when the server refused our username: the session is over.
    pub refused: Option<String>,
}

pub enum RoomAction {
    Connecting,
    Opened,
    Frame(ServerFrame),
    Closed {
        retry_in_ms: u32,
    },
    /// The server closed the connection refusing our name, with its reason.
    Refused(String),
    DismissNotice,
}

impl Default for RoomState {
    fn default() -> Self {
        Self {
            connection: Connection::Connecting,
            me: None,
            entries: Rc::default(),
            notice: None,
            refused: None,
        }
    }
}

impl RoomState {
    pub fn online(&self) -> bool {
        self.connection == Connection::Online
    }

    /// Inserts in id order; a message already shown is dropped.
    fn insert(&mut self, message: ChatMessage) {
        let own = self.me.as_deref() == Some(message.user.as_str());
        let entries = Rc::make_mut(&mut self.entries);
        // New messages almost always go last: check that before searching.
        let position = match entries.last() {
            Some(last) if last.message.id < message.id => entries.len(),
            None => 0,
            Some(_) => match entries.binary_search_by_key(&message.id, |e| e.message.id) {
                Ok(_) => return,
                Err(position) => position,
            },
        };
        entries.insert(position, Rc::new(Entry { message, own }));
    }
}

impl Reducible for RoomState {
    type Action = RoomAction;

    fn reduce(self: Rc<Self>, action: RoomAction) -> Rc<Self> {
        let mut state = Rc::unwrap_or_clone(self);
        match action {
            RoomAction::Connecting => state.connection = Connection::Connecting,
            // The socket is open; we count as online once welcomed, when the
            // server has accepted our name.
            RoomAction::Opened => {}
            RoomAction::Frame(ServerFrame::Welcome { user }) => {
                state.connection = Connection::Online;
                state.me = Some(user);
            }
            RoomAction::Frame(ServerFrame::Message(posted)) => state.insert(posted.message),
            RoomAction::Frame(ServerFrame::Error { code, message }) => {
                if is_username_refusal(code) {
                    state.refused = Some(message);
                } else {
                    state.notice = Some(message);
                }
            }
            RoomAction::Closed { retry_in_ms } => {
                state.connection = Connection::Offline { retry_in_ms }
            }
            RoomAction::Refused(reason) => {
                state.refused.get_or_insert(reason);
            }
            RoomAction::DismissNotice => state.notice = None,
        }
        Rc::new(state)
    }
}

fn is_username_refusal(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::EmptyUsername | ErrorCode::UsernameTooLong | ErrorCode::InvalidUsername
    )
}

#[cfg(test)]
mod tests {
    use protocol::Posted;

    use super::*;

    fn message(id: u64, user: &str) -> ServerFrame {
        ServerFrame::Message(Posted {
            message: ChatMessage {
                id,
                user: user.into(),
                msg: format!("message {id}"),
                date_time: 1_764_100_000_000,
            },
            client_id: format!("c{id}"),
        })
    }

    fn reduce_all(actions: impl IntoIterator<Item = RoomAction>) -> Rc<RoomState> {
        actions
            .into_iter()
            .fold(Rc::new(RoomState::default()), Reducible::reduce)
    }

    fn ids(state: &RoomState) -> Vec<u64> {
        state.entries.iter().map(|e| e.message.id).collect()
    }

    #[test]
    fn online_only_once_welcomed() {
        let state = reduce_all([RoomAction::Connecting, RoomAction::Opened]);
        assert_eq!(state.connection, Connection::Connecting);
        let state = state.reduce(RoomAction::Frame(ServerFrame::Welcome {
            user: "alice".into(),
        }));
        assert!(state.online());
        assert_eq!(state.me.as_deref(), Some("alice"));
        let state = state.reduce(RoomAction::Closed { retry_in_ms: 800 });
        assert_eq!(state.connection, Connection::Offline { retry_in_ms: 800 });
    }

    #[test]
    fn messages_stay_in_id_order_without_duplicates() {
        let state = reduce_all([
            RoomAction::Frame(ServerFrame::Welcome {
                user: "alice".into(),
            }),
            RoomAction::Frame(message(2, "bob")),
            RoomAction::Frame(message(5, "alice")),
            RoomAction::Frame(message(1, "bob")),
            RoomAction::Frame(message(5, "alice")),
            RoomAction::Frame(message(3, "carol")),
            RoomAction::Frame(message(2, "bob")),
        ]);
        assert_eq!(ids(&state), [1, 2, 3, 5]);
    }

    #[test]
    fn own_messages_are_those_of_the_bound_name() {
        let state = reduce_all([
            RoomAction::Frame(ServerFrame::Welcome {
                user: "alice".into(),
            }),
            RoomAction::Frame(message(1, "alice")),
            RoomAction::Frame(message(2, "bob")),
        ]);
        let own: Vec<bool> = state.entries.iter().map(|e| e.own).collect();
        assert_eq!(own, [true, false]);
    }

    #[test]
    fn errors_become_a_notice_or_a_refusal() {
        let state = reduce_all([RoomAction::Frame(ServerFrame::error(
            ErrorCode::MessageTooLong,
            "too long",
        ))]);
        assert_eq!(state.notice.as_deref(), Some("too long"));
        assert_eq!(state.refused, None);
        let state = state.reduce(RoomAction::DismissNotice);
        assert_eq!(state.notice, None);

        let state = reduce_all([
            RoomAction::Frame(ServerFrame::error(
                ErrorCode::UsernameTooLong,
                "name too long",
            )),
            RoomAction::Refused("close reason".into()),
        ]);
        assert_eq!(state.refused.as_deref(), Some("name too long"));
    }

    #[test]
    fn appending_shares_existing_entries() {
        let before = reduce_all([RoomAction::Frame(message(1, "bob"))]);
        let after = Rc::clone(&before).reduce(RoomAction::Frame(message(2, "bob")));
        assert!(Rc::ptr_eq(&before.entries[0], &after.entries[0]));
        assert_eq!(ids(&before), [1]);
        assert_eq!(ids(&after), [1, 2]);
    }
}
