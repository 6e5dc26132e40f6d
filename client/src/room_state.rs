//! The room as the client sees it: a pure reducer, tested without a browser.
//!
//! Everything shown as posted comes from the server's frames. What the
//! client adds is its outbox: messages the user wrote that the server has
//! not confirmed yet (pending), or that could not be posted (failed).

use std::rc::Rc;

use protocol::{ChatMessage, ErrorCode, Posted, ServerFrame};
use serde::{Deserialize, Serialize};
use yew::Reducible;

/// A message unconfirmed this long while there is no connection is shown as
/// failed, with a Retry control.
pub const PENDING_TIMEOUT_MS: f64 = 10_000.0;
/// "is typing" shows this long after the last `typing` frame: a little more
/// than the interval at which the server relays them.
pub const TYPING_SHOWN_MS: f64 = protocol::TYPING_INTERVAL_MS as f64 + 1_500.0;
/// Join and leave notices kept in the list.
const NOTICES_KEPT: usize = 50;

/// The connection as the user should understand it.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// Opening the socket (first time or after a drop).
    Connecting,
    /// The socket is open and the server has welcomed us.
    Online,
    /// Dropped; the next attempt starts at `retry_at` (ms since the epoch),
    /// or when the page is shown again (`None`).
    Offline { retry_at: Option<f64> },
}

/// One posted message in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub message: ChatMessage,
    /// Sent by the name the server bound to us.
    pub own: bool,
}

/// A message the user wrote that the server has not confirmed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outgoing {
    pub client_id: String,
    pub msg: String,
    /// When it was written or last retried (ms since the epoch).
    pub since: f64,
    pub status: OutgoingStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase", from = "StoredStatus")]
pub enum OutgoingStatus {
    /// Sent or waiting for a connection; goes out again on every reconnect.
    Pending,
    /// No connection for too long. Still goes out on reconnect.
    TimedOut,
    /// The server refused it; only Retry sends it again.
    Refused { reason: String },
}

/// An [`OutgoingStatus`] as stored: read flat, because serde reads an
/// internally tagged enum by buffering it first, generic code the client
/// would carry for this one small value.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredStatus {
    state: StoredState,
    reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum StoredState {
    Pending,
    TimedOut,
    Refused,
}

impl From<StoredStatus> for OutgoingStatus {
    fn from(stored: StoredStatus) -> Self {
        match stored.state {
            StoredState::Pending => Self::Pending,
            StoredState::TimedOut => Self::TimedOut,
            StoredState::Refused => Self::Refused {
                reason: stored.reason.unwrap_or_default(),
            },
        }
    }
}

impl Outgoing {
    fn timed_out_at(&self, now: f64) -> bool {
        self.status == OutgoingStatus::Pending && now - self.since >= PENDING_TIMEOUT_MS
    }
}

impl OutgoingStatus {
    /// Whether a (re)connection sends it without the user asking.
    pub fn resend_on_connect(&self) -> bool {
        matches!(self, Self::Pending | Self::TimedOut)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomState {
    pub connection: Connection,
    /// The name the server bound to us, once welcomed.
    pub me: Option<String>,
    /// Always in id order, without duplicates.
    pub entries: Rc<Vec<Rc<Entry>>>,
    /// Oldest first, as written.
    pub outbox: Rc<Vec<Outgoing>>,
    /// Whether the server has messages older than the first entry.
    pub has_older: bool,
    /// A page of older messages has been asked for and not arrived.
    pub loading_older: bool,
    /// Who is online, sorted (at most the names the server sent).
    pub online_users: Rc<Vec<String>>,
    /// How many are online, names known or not.
    pub online_count: usize,
    /// Who is typing, and since when (ms since the epoch).
    pub typing: Rc<Vec<(String, f64)>>,
    /// "bob joined", "bob left", placed after the newest message of the time.
    pub presence_notices: Rc<Vec<PresenceNotice>>,
    /// The last request the server refused (e.g. a message too long).
    pub notice: Option<String>,
    /// Set when the server refused our username: the session is over.
    pub refused: Option<String>,
    /// The time of the last tick while a reconnect is scheduled (ms since
    /// the epoch): what the offline countdown counts from.
    pub now: f64,
}

/// Adds `user` to the online list, which is kept in order by name, ignoring
/// case. The lists are short (the server sends at most
/// [`protocol::PRESENCE_NAMES_MAX`] names), so inserting in place beats
/// carrying a sort routine in the client.
fn insert_name(users: &mut Vec<String>, user: String) {
    let folded = |name: &str| {
        name.chars()
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    let key = folded(&user);
    let at = users.partition_point(|u| folded(u) <= key);
    users.insert(at, user);
}

/// A join or leave, shown in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceNotice {
    /// Unique among notices, for keyed rendering.
    pub seq: u64,
    pub text: String,
    /// The newest message id when it happened: it shows after that message.
    pub after_id: Option<u64>,
}

pub enum RoomAction {
    Connecting,
    Frame(ServerFrame),
    /// `user` is typing, heard at `now`.
    Typing {
        user: String,
        now: f64,
    },
    /// The connection is lost (at `now`); the next attempt is at `retry_at`.
    Closed {
        retry_at: Option<f64>,
        now: f64,
    },
    /// The server closed the connection refusing our name, with its reason.
    Refused(String),
    DismissNotice,
    /// The user wrote a message (already validated).
    Post(Outgoing),
    /// The user asked to send a failed message again, at `now`.
    Retry {
        client_id: String,
        now: f64,
    },
    /// The user gave up on a failed message.
    Discard {
        client_id: String,
    },
    /// Time passed: pending messages may have timed out.
    Tick {
        now: f64,
    },
    LoadingOlder,
}

impl RoomState {
    /// A room with the outbox left by an earlier visit.
    pub fn new(outbox: Vec<Outgoing>) -> Self {
        Self {
            connection: Connection::Connecting,
            me: None,
            entries: Rc::default(),
            outbox: Rc::new(outbox),
            has_older: false,
            loading_older: false,
            online_users: Rc::default(),
            online_count: 0,
            typing: Rc::default(),
            presence_notices: Rc::default(),
            notice: None,
            refused: None,
            now: 0.0,
        }
    }

    /// Who else is typing.
    pub fn typing_users(&self) -> Vec<&str> {
        let me = self.me.as_deref();
        self.typing
            .iter()
            .map(|(user, _)| user.as_str())
            .filter(|user| Some(*user) != me)
            .collect()
    }

    fn add_presence_notice(&mut self, text: String) {
        let seq = self.presence_notices.last().map_or(0, |n| n.seq + 1);
        let after_id = self.newest_id();
        let notices = Rc::make_mut(&mut self.presence_notices);
        notices.push(PresenceNotice {
            seq,
            text,
            after_id,
        });
        if notices.len() > NOTICES_KEPT {
            notices.remove(0);
        }
    }

    fn stop_typing(&mut self, user: &str) {
        if self.typing.iter().any(|(u, _)| u == user) {
            Rc::make_mut(&mut self.typing).retain(|(u, _)| u != user);
        }
    }

    pub fn online(&self) -> bool {
        self.connection == Connection::Online
    }

    /// The newest id shown: the connection resumes after it.
    pub fn newest_id(&self) -> Option<u64> {
        self.entries.last().map(|e| e.message.id)
    }

    pub fn oldest_id(&self) -> Option<u64> {
        self.entries.first().map(|e| e.message.id)
    }

    /// Inserts in id order; a message already shown is dropped. Our own
    /// message also leaves the outbox: it is confirmed.
    fn insert(&mut self, posted: Posted) {
        let Posted { message, client_id } = posted;
        self.stop_typing(&message.user);
        let own = self.me.as_deref() == Some(message.user.as_str());
        if own && self.outbox.iter().any(|o| o.client_id == client_id) {
            Rc::make_mut(&mut self.outbox).retain(|o| o.client_id != client_id);
        }
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

    fn set_status(&mut self, client_id: &str, status: OutgoingStatus, since: Option<f64>) {
        if let Some(outgoing) = Rc::make_mut(&mut self.outbox)
            .iter_mut()
            .find(|o| o.client_id == client_id)
        {
            outgoing.status = status;
            if let Some(since) = since {
                outgoing.since = since;
            }
        }
    }

    fn apply(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome { user } => {
                self.connection = Connection::Online;
                self.me = Some(user);
            }
            ServerFrame::History {
                messages,
                reset,
                has_older,
                ..
            } => {
                if reset {
                    self.entries = Rc::default();
                }
                if reset || self.entries.is_empty() {
                    self.has_older = has_older;
                }
                for posted in messages {
                    self.insert(posted);
                }
            }
            ServerFrame::Older {
                messages,
                has_older,
                ..
            } => {
                self.loading_older = false;
                self.has_older = has_older;
                for posted in messages {
                    self.insert(posted);
                }
            }
            ServerFrame::Message { posted, .. } => self.insert(posted),
            ServerFrame::Online { users, count, .. } => {
                let mut sorted = Vec::with_capacity(users.len());
                for user in users {
                    insert_name(&mut sorted, user);
                }
                self.online_users = Rc::new(sorted);
                self.online_count = count;
            }
            ServerFrame::Presence {
                joined,
                left,
                count,
                ..
            } => {
                self.online_count = count;
                for user in left {
                    if self.online_users.contains(&user) {
                        Rc::make_mut(&mut self.online_users).retain(|u| *u != user);
                        self.stop_typing(&user);
                        self.add_presence_notice(format!("{user} left"));
                    }
                }
                for user in joined {
                    if !self.online_users.contains(&user) {
                        insert_name(Rc::make_mut(&mut self.online_users), user.clone());
                        self.add_presence_notice(format!("{user} joined"));
                    }
                }
            }
            // Handled as `RoomAction::Typing`, which knows the time.
            ServerFrame::Typing { .. } | ServerFrame::Pong => {}
            ServerFrame::Error {
                code,
                message,
                client_id,
                ..
            } => match (code, client_id) {
                (
                    ErrorCode::EmptyUsername
                    | ErrorCode::UsernameTooLong
                    | ErrorCode::InvalidUsername
                    | ErrorCode::UsernameTaken,
                    _,
                ) => {
                    self.refused = Some(message);
                }
                // Not posted, but it goes out again with the next connection.
                (ErrorCode::ShuttingDown, Some(_)) => {}
                (_, Some(client_id)) => {
                    self.set_status(
                        &client_id,
                        OutgoingStatus::Refused { reason: message },
                        None,
                    );
                }
                (_, None) => {
                    self.loading_older = false;
                    self.notice = Some(message);
                }
            },
        }
    }
}

impl Reducible for RoomState {
    type Action = RoomAction;

    fn reduce(self: Rc<Self>, action: RoomAction) -> Rc<Self> {
        // Ticks are frequent and rarely change anything: keep the same state
        // (no re-render) unless a message times out.
        if let RoomAction::Tick { now } = action {
            let times_out = !self.online() && self.outbox.iter().any(|o| o.timed_out_at(now));
            let stops_typing = self
                .typing
                .iter()
                .any(|(_, since)| now - since >= TYPING_SHOWN_MS);
            let counting_down =
                matches!(self.connection, Connection::Offline { retry_at: Some(_) });
            if !times_out && !stops_typing && !counting_down {
                return self;
            }
        }
        let mut state = Rc::unwrap_or_clone(self);
        match action {
            RoomAction::Connecting => state.connection = Connection::Connecting,
            RoomAction::Frame(frame) => state.apply(frame),
            RoomAction::Closed { retry_at, now } => {
                state.connection = Connection::Offline { retry_at };
                state.now = now;
                state.loading_older = false;
                // Nobody is known to be online or typing until we are back.
                state.online_users = Rc::default();
                state.online_count = 0;
                state.typing = Rc::default();
            }
            RoomAction::Refused(reason) => {
                state.refused.get_or_insert(reason);
            }
            RoomAction::DismissNotice => state.notice = None,
            RoomAction::Post(outgoing) => Rc::make_mut(&mut state.outbox).push(outgoing),
            RoomAction::Retry { client_id, now } => {
                state.set_status(&client_id, OutgoingStatus::Pending, Some(now));
            }
            RoomAction::Discard { client_id } => {
                Rc::make_mut(&mut state.outbox).retain(|o| o.client_id != client_id);
            }
            RoomAction::Tick { now } => {
                state.now = now;
                if !state.online() {
                    for outgoing in Rc::make_mut(&mut state.outbox).iter_mut() {
                        if outgoing.timed_out_at(now) {
                            outgoing.status = OutgoingStatus::TimedOut;
                        }
                    }
                }
                Rc::make_mut(&mut state.typing).retain(|(_, since)| now - since < TYPING_SHOWN_MS);
            }
            RoomAction::Typing { user, now } => {
                let typing = Rc::make_mut(&mut state.typing);
                match typing.iter_mut().find(|(u, _)| *u == user) {
                    Some(entry) => entry.1 = now,
                    None => typing.push((user, now)),
                }
            }
            RoomAction::LoadingOlder => state.loading_older = true,
        }
        Rc::new(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn posted(id: u64, user: &str, client_id: &str) -> Posted {
        Posted {
            message: ChatMessage {
                id,
                user: user.into(),
                msg: format!("message {id}"),
                date_time: 1_764_100_000_000,
            },
            client_id: client_id.into(),
        }
    }

    fn message(id: u64, user: &str) -> RoomAction {
        RoomAction::Frame(ServerFrame::Message {
            room: "lobby".into(),
            posted: posted(id, user, &format!("c{id}")),
        })
    }

    fn welcome(user: &str) -> RoomAction {
        RoomAction::Frame(ServerFrame::Welcome { user: user.into() })
    }

    fn outgoing(client_id: &str, since: f64) -> Outgoing {
        Outgoing {
            client_id: client_id.into(),
            msg: format!("text of {client_id}"),
            since,
            status: OutgoingStatus::Pending,
        }
    }

    fn reduce_all(actions: impl IntoIterator<Item = RoomAction>) -> Rc<RoomState> {
        actions
            .into_iter()
            .fold(Rc::new(RoomState::new(Vec::new())), Reducible::reduce)
    }

    fn ids(state: &RoomState) -> Vec<u64> {
        state.entries.iter().map(|e| e.message.id).collect()
    }

    fn statuses(state: &RoomState) -> Vec<(&str, &OutgoingStatus)> {
        state
            .outbox
            .iter()
            .map(|o| (o.client_id.as_str(), &o.status))
            .collect()
    }

    #[test]
    fn online_only_once_welcomed() {
        let state = reduce_all([RoomAction::Connecting]);
        assert_eq!(state.connection, Connection::Connecting);
        let state = state.reduce(welcome("alice"));
        assert!(state.online());
        assert_eq!(state.me.as_deref(), Some("alice"));
        let state = state.reduce(RoomAction::Closed {
            retry_at: Some(5_800.0),
            now: 5_000.0,
        });
        assert_eq!(
            state.connection,
            Connection::Offline {
                retry_at: Some(5_800.0)
            }
        );
    }

    #[test]
    fn messages_stay_in_id_order_without_duplicates() {
        let state = reduce_all([
            welcome("alice"),
            message(2, "bob"),
            message(5, "alice"),
            message(1, "bob"),
            message(5, "alice"),
            message(3, "carol"),
            message(2, "bob"),
        ]);
        assert_eq!(ids(&state), [1, 2, 3, 5]);
        assert_eq!(state.newest_id(), Some(5));
        assert_eq!(state.oldest_id(), Some(1));
    }

    #[test]
    fn own_messages_are_those_of_the_bound_name() {
        let state = reduce_all([welcome("alice"), message(1, "alice"), message(2, "bob")]);
        let own: Vec<bool> = state.entries.iter().map(|e| e.own).collect();
        assert_eq!(own, [true, false]);
    }

    #[test]
    fn history_resets_or_continues() {
        let history = |ids: &[u64], reset: bool, has_older: bool| {
            RoomAction::Frame(ServerFrame::History {
                room: "lobby".into(),
                messages: ids.iter().map(|&id| posted(id, "bob", "x")).collect(),
                reset,
                has_older,
            })
        };
        let state = reduce_all([welcome("alice"), history(&[4, 5, 6], true, true)]);
        assert_eq!(ids(&state), [4, 5, 6]);
        assert!(state.has_older);
        // A resume continues: what was missed is appended, the rest kept.
        let state = state.reduce(history(&[7, 8], false, true));
        assert_eq!(ids(&state), [4, 5, 6, 7, 8]);
        // A reset replaces everything.
        let state = state.reduce(history(&[20, 21], true, false));
        assert_eq!(ids(&state), [20, 21]);
        assert!(!state.has_older);
    }

    #[test]
    fn older_pages_go_first_and_clear_the_loading_flag() {
        let state = reduce_all([
            welcome("alice"),
            message(11, "bob"),
            RoomAction::LoadingOlder,
        ]);
        assert!(state.loading_older);
        let state = state.reduce(RoomAction::Frame(ServerFrame::Older {
            room: "lobby".into(),
            messages: (8..=10).map(|id| posted(id, "bob", "x")).collect(),
            has_older: true,
        }));
        assert_eq!(ids(&state), [8, 9, 10, 11]);
        assert!(!state.loading_older && state.has_older);
    }

    #[test]
    fn the_echo_of_an_own_message_confirms_it() {
        let state = reduce_all([
            RoomAction::Post(outgoing("a1", 0.0)),
            RoomAction::Post(outgoing("a2", 0.0)),
            welcome("alice"),
            RoomAction::Frame(ServerFrame::Message {
                room: "lobby".into(),
                posted: posted(1, "alice", "a1"),
            }),
        ]);
        assert_eq!(statuses(&state), [("a2", &OutgoingStatus::Pending)]);
        assert_eq!(ids(&state), [1]);
        // Another user's message with the same client id confirms nothing.
        let state = state.reduce(RoomAction::Frame(ServerFrame::Message {
            room: "lobby".into(),
            posted: posted(2, "bob", "a2"),
        }));
        assert_eq!(state.outbox.len(), 1);
        // Confirmation through history after a reconnect works too.
        let state = state.reduce(RoomAction::Frame(ServerFrame::History {
            room: "lobby".into(),
            messages: vec![posted(3, "alice", "a2")],
            reset: false,
            has_older: false,
        }));
        assert!(state.outbox.is_empty());
    }

    #[test]
    fn unconfirmed_messages_time_out_only_while_offline() {
        let state = reduce_all([
            welcome("alice"),
            RoomAction::Post(outgoing("a1", 1_000.0)),
            RoomAction::Tick { now: 60_000.0 },
        ]);
        assert_eq!(statuses(&state), [("a1", &OutgoingStatus::Pending)]);
        let state = state.reduce(RoomAction::Closed {
            retry_at: Some(1_500.0),
            now: 1_000.0,
        });
        let state = state.reduce(RoomAction::Tick {
            now: 1_000.0 + PENDING_TIMEOUT_MS - 1.0,
        });
        assert_eq!(statuses(&state), [("a1", &OutgoingStatus::Pending)]);
        let state = state.reduce(RoomAction::Tick {
            now: 1_000.0 + PENDING_TIMEOUT_MS,
        });
        assert_eq!(statuses(&state), [("a1", &OutgoingStatus::TimedOut)]);
        assert!(state.outbox[0].status.resend_on_connect());
        let state = state.reduce(RoomAction::Retry {
            client_id: "a1".into(),
            now: 99_000.0,
        });
        assert_eq!(statuses(&state), [("a1", &OutgoingStatus::Pending)]);
        assert_eq!(state.outbox[0].since, 99_000.0);
    }

    #[test]
    fn the_online_list_is_ordered_by_name_ignoring_case() {
        let state = reduce_all([
            welcome("alice"),
            RoomAction::Frame(ServerFrame::Online {
                room: "lobby".into(),
                users: ["dave", "Carol", "bob", "Alice", "Émile", "eve"]
                    .map(String::from)
                    .into(),
                count: 6,
            }),
            RoomAction::Frame(ServerFrame::Presence {
                room: "lobby".into(),
                joined: vec!["Bea".into(), "zoe".into(), "Aaron".into()],
                left: vec![],
                count: 9,
            }),
        ]);
        assert_eq!(
            *state.online_users,
            ["Aaron", "Alice", "Bea", "bob", "Carol", "dave", "eve", "zoe", "Émile"]
        );
    }

    #[test]
    fn presence_follows_online_joined_and_left() {
        let state = reduce_all([
            welcome("alice"),
            RoomAction::Frame(ServerFrame::Online {
                room: "lobby".into(),
                users: vec!["carol".into(), "alice".into()],
                count: 2,
            }),
            message(1, "carol"),
            RoomAction::Frame(ServerFrame::Presence {
                room: "lobby".into(),
                joined: vec!["Bob".into()],
                left: vec!["carol".into()],
                count: 2,
            }),
            // Already known: no second notice.
            RoomAction::Frame(ServerFrame::Presence {
                room: "lobby".into(),
                joined: vec!["Bob".into(), "alice".into()],
                left: vec!["dave".into()],
                count: 2,
            }),
        ]);
        assert_eq!(*state.online_users, ["alice", "Bob"]);
        assert_eq!(state.online_count, 2);
        let notices: Vec<(&str, Option<u64>)> = state
            .presence_notices
            .iter()
            .map(|n| (n.text.as_str(), n.after_id))
            .collect();
        assert_eq!(notices, [("carol left", Some(1)), ("Bob joined", Some(1))]);
        let state = state.reduce(RoomAction::Closed {
            retry_at: None,
            now: 0.0,
        });
        assert!(state.online_users.is_empty());
    }

    #[test]
    fn typing_shows_for_others_and_expires() {
        let state = reduce_all([
            welcome("alice"),
            RoomAction::Typing {
                user: "bob".into(),
                now: 1_000.0,
            },
            RoomAction::Typing {
                user: "alice".into(),
                now: 1_000.0,
            },
        ]);
        assert_eq!(state.typing_users(), ["bob"]);
        let still = Rc::clone(&state).reduce(RoomAction::Tick {
            now: 1_000.0 + TYPING_SHOWN_MS - 1.0,
        });
        assert!(Rc::ptr_eq(&state, &still));
        let expired = state.reduce(RoomAction::Tick {
            now: 1_000.0 + TYPING_SHOWN_MS,
        });
        assert!(expired.typing_users().is_empty());
        // A message from someone ends their "is typing".
        let state = reduce_all([
            welcome("alice"),
            RoomAction::Typing {
                user: "bob".into(),
                now: 1_000.0,
            },
            message(1, "bob"),
        ]);
        assert!(state.typing_users().is_empty());
    }

    #[test]
    fn a_taken_name_is_a_refusal() {
        let state = reduce_all([RoomAction::Frame(ServerFrame::error(
            ErrorCode::UsernameTaken,
            "taken",
        ))]);
        assert_eq!(state.refused.as_deref(), Some("taken"));
    }

    #[test]
    fn a_tick_that_changes_nothing_keeps_the_same_state() {
        let state = reduce_all([RoomAction::Post(outgoing("a1", 0.0))]);
        let same = Rc::clone(&state).reduce(RoomAction::Tick { now: 5.0 });
        assert!(Rc::ptr_eq(&state, &same));
    }

    #[test]
    fn a_refused_send_fails_with_the_reason_until_retried_or_discarded() {
        let state = reduce_all([
            welcome("alice"),
            RoomAction::Post(outgoing("a1", 0.0)),
            RoomAction::Post(outgoing("a2", 0.0)),
            RoomAction::Frame(ServerFrame::send_error(
                ErrorCode::StorageUnavailable,
                "disk full",
                "a1".into(),
            )),
            RoomAction::Frame(ServerFrame::send_error(
                ErrorCode::ShuttingDown,
                "bye",
                "a2".into(),
            )),
        ]);
        let refused = OutgoingStatus::Refused {
            reason: "disk full".into(),
        };
        assert!(!refused.resend_on_connect());
        assert_eq!(
            statuses(&state),
            [("a1", &refused), ("a2", &OutgoingStatus::Pending)]
        );
        let state = state.reduce(RoomAction::Discard {
            client_id: "a1".into(),
        });
        assert_eq!(statuses(&state), [("a2", &OutgoingStatus::Pending)]);
    }

    #[test]
    fn errors_become_a_notice_or_a_refusal() {
        let state = reduce_all([RoomAction::Frame(ServerFrame::error(
            ErrorCode::InvalidLimit,
            "bad page",
        ))]);
        assert_eq!(state.notice.as_deref(), Some("bad page"));
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
        let before = reduce_all([message(1, "bob")]);
        let after = Rc::clone(&before).reduce(message(2, "bob"));
        assert!(Rc::ptr_eq(&before.entries[0], &after.entries[0]));
        assert_eq!(ids(&before), [1]);
        assert_eq!(ids(&after), [1, 2]);
    }

    #[test]
    fn the_outbox_is_stored_in_its_documented_form_and_read_back() {
        let outbox = vec![
            Outgoing {
                client_id: "c-1".into(),
                msg: "hi".into(),
                since: 5.0,
                status: OutgoingStatus::Pending,
            },
            Outgoing {
                client_id: "c-2".into(),
                msg: "there".into(),
                since: 6.5,
                status: OutgoingStatus::TimedOut,
            },
            Outgoing {
                client_id: "c-3".into(),
                msg: "!".into(),
                since: 7.0,
                status: OutgoingStatus::Refused {
                    reason: "too long".into(),
                },
            },
        ];
        let stored = serde_json::to_string(&outbox).expect("an outbox serializes");
        assert_eq!(
            stored,
            r#"[{"clientId":"c-1","msg":"hi","since":5.0,"status":{"state":"pending"}},{"clientId":"c-2","msg":"there","since":6.5,"status":{"state":"timedOut"}},{"clientId":"c-3","msg":"!","since":7.0,"status":{"state":"refused","reason":"too long"}}]"#
        );
        let read: Vec<Outgoing> = serde_json::from_str(&stored).expect("and reads back");
        assert_eq!(read, outbox);
        assert!(serde_json::from_str::<Vec<Outgoing>>(
            r#"[{"clientId":"c-1","msg":"hi","since":5,"status":{"state":"sent"}}]"#
        )
        .is_err());
    }
}
