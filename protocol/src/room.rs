//! How an event changes a room: the one copy of the rules that the
//! server's window of recent messages, the client's list and the
//! differential test over both logs apply.
//!
//! A room is its messages (each in its current state: edited, deleted,
//! reacted to), whether it is locked, and who is muted there. Events come
//! in `seq` order; each is applied here and nowhere else. Whether an
//! event may happen at all (is the message yours, is the room locked) is
//! the log's to decide when it appends; once stored, an event is a fact,
//! and these functions only say what the room looks like after it.

use std::collections::BTreeMap;

use crate::{apply_reaction, excerpt, Block, ChatMessage, ModAction, ReplyQuote, ServerFrame};

/// A change to one posted message: what an `edited`, `deleted` or
/// `reaction` frame says happened to message `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageChange {
    Edited {
        msg: String,
        formatted: Option<Vec<Block>>,
        edited_at: i64,
        mentions: Vec<String>,
    },
    Deleted,
    Reacted {
        emoji: String,
        user: String,
        on: bool,
    },
}

impl MessageChange {
    /// Applies the change to `message`, the message it is about. A deleted
    /// message stays a tombstone: its text, mentions and reactions are
    /// gone, and a later edit or reaction (a log replaying, a frame that
    /// crossed the deletion) changes nothing.
    pub fn apply(&self, message: &mut ChatMessage) {
        match self {
            Self::Edited { .. } | Self::Reacted { .. } if message.deleted => {}
            Self::Edited {
                msg,
                formatted,
                edited_at,
                mentions,
            } => {
                message.msg.clone_from(msg);
                message.formatted.clone_from(formatted);
                message.edited_at = Some(*edited_at);
                message.mentions.clone_from(mentions);
            }
            Self::Deleted => {
                message.msg = String::new();
                message.formatted = None;
                message.deleted = true;
                message.mentions = Vec::new();
                message.reactions = Vec::new();
            }
            Self::Reacted { emoji, user, on } => {
                apply_reaction(&mut message.reactions, emoji, user, *on);
            }
        }
    }

    /// What a reply's quote of the changed message says now: its new first
    /// line, or that it was deleted; `None`: the quote stays as it is.
    pub fn quote(&self) -> Option<Requote> {
        match self {
            Self::Edited { msg, .. } => Some(Requote(Some(excerpt(msg)))),
            Self::Deleted => Some(Requote(None)),
            Self::Reacted { .. } => None,
        }
    }
}

/// A quote's new text (see [`MessageChange::quote`]): the excerpt, or
/// `None` once the quoted message is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requote(pub Option<String>);

impl Requote {
    /// Applies to `quote` if it quotes message `id`; says whether it did.
    pub fn apply(&self, id: u64, quote: Option<&mut ReplyQuote>) -> bool {
        let Some(quote) = quote.filter(|quote| quote.id == id) else {
            return false;
        };
        quote.deleted = self.0.is_none();
        quote.excerpt = self.0.clone().unwrap_or_default();
        true
    }
}

/// What moderators' actions leave a room with: whether it is locked, and
/// who is muted there until when.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoomRules {
    pub locked: bool,
    /// By name key (see [`crate::name_key`]): until when, ms since the
    /// epoch (`i64::MAX`: for good).
    pub mutes: BTreeMap<String, i64>,
}

impl RoomRules {
    /// Applies a moderator's `action` about the name keyed `target` (see
    /// [`crate::name_key`]), holding `until` (ms since the epoch; `None`:
    /// for good).
    pub fn apply(&mut self, action: ModAction, target: Option<String>, until: Option<i64>) {
        let change = RulesChange::of(action, target, until);
        if let Some(locked) = change.locked {
            self.locked = locked;
        }
        match change.mute {
            Some(MuteChange::Mute { key, until }) => {
                self.mutes.insert(key, until);
            }
            Some(MuteChange::Unmute { key }) => {
                self.mutes.remove(&key);
            }
            None => {}
        }
    }
}

/// What a moderator's action changes in a room's rules: the one rule,
/// which [`RoomRules::apply`] follows and both logs' stores write as
/// given (they know no action's meaning).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesChange {
    /// The room locked (`true`) or unlocked.
    pub locked: Option<bool>,
    pub mute: Option<MuteChange>,
}

/// A name muted until when (ms since the epoch; `i64::MAX`: for good), or
/// let speak again; by name key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MuteChange {
    Mute { key: String, until: i64 },
    Unmute { key: String },
}

impl RulesChange {
    /// What `action` about the name keyed `target`, holding `until`,
    /// changes.
    pub fn of(action: ModAction, target: Option<String>, until: Option<i64>) -> Self {
        let mute = match (action.silences(), target) {
            (Some(true), Some(key)) => Some(MuteChange::Mute {
                key,
                until: until.unwrap_or(i64::MAX),
            }),
            (Some(false), Some(key)) => Some(MuteChange::Unmute { key }),
            (None, _) | (Some(_), None) => None,
        };
        Self {
            locked: action.locks(),
            mute,
        }
    }
}

/// One event of a room's log, as a frame carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// A message was posted; its id is the event's `seq`.
    Posted(ChatMessage),
    /// Message `id` changed.
    Changed {
        seq: u64,
        id: u64,
        change: MessageChange,
    },
    /// A moderator acted on the room.
    Moderated {
        seq: u64,
        action: ModAction,
        target: Option<String>,
        until: Option<i64>,
    },
}

impl RoomEvent {
    /// The event a frame carries, with its room; `None` for frames that
    /// are no event of a room's log (a greeting, presence, typing...).
    pub fn of_frame(frame: ServerFrame) -> Option<(String, Self)> {
        match frame {
            ServerFrame::Message { room, posted } => Some((room, Self::Posted(posted.message))),
            ServerFrame::Edited {
                room,
                seq,
                id,
                msg,
                formatted,
                edited_at,
                mentions,
            } => {
                let change = MessageChange::Edited {
                    msg,
                    formatted,
                    edited_at,
                    mentions,
                };
                Some((room, Self::Changed { seq, id, change }))
            }
            ServerFrame::Deleted { room, seq, id } => {
                let change = MessageChange::Deleted;
                Some((room, Self::Changed { seq, id, change }))
            }
            ServerFrame::Reaction {
                room,
                seq,
                id,
                emoji,
                user,
                on,
            } => {
                let change = MessageChange::Reacted { emoji, user, on };
                Some((room, Self::Changed { seq, id, change }))
            }
            ServerFrame::Moderated {
                room,
                seq,
                action,
                target,
                until,
                ..
            } => Some((
                room,
                Self::Moderated {
                    seq,
                    action,
                    target,
                    until,
                },
            )),
            ServerFrame::Error { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::History { .. }
            | ServerFrame::Older { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Pong => None,
        }
    }

    pub fn seq(&self) -> u64 {
        match self {
            Self::Posted(message) => message.id,
            Self::Changed { seq, .. } | Self::Moderated { seq, .. } => *seq,
        }
    }
}

/// A whole room as its events leave it: every message by id, its rules,
/// and the newest `seq` applied. What the server's window and the
/// client's list hold a part of; what a log's history must agree with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg(feature = "unicode")]
pub struct RoomView {
    pub messages: BTreeMap<u64, ChatMessage>,
    pub rules: RoomRules,
    pub seq: u64,
}

#[cfg(feature = "unicode")]
impl RoomView {
    /// Applies `event`; an event older than the newest applied (a replay)
    /// changes nothing.
    pub fn apply(&mut self, event: &RoomEvent) {
        if event.seq() <= self.seq {
            return;
        }
        self.seq = event.seq();
        match event {
            RoomEvent::Posted(message) => {
                self.messages.insert(message.id, message.clone());
            }
            RoomEvent::Changed { id, change, .. } => {
                if let Some(message) = self.messages.get_mut(id) {
                    change.apply(message);
                }
                if let Some(requote) = change.quote() {
                    for message in self.messages.values_mut() {
                        requote.apply(*id, message.reply_to.as_mut());
                    }
                }
            }
            RoomEvent::Moderated {
                action,
                target,
                until,
                ..
            } => {
                let key = target.as_deref().map(crate::name_key);
                self.rules.apply(*action, key, *until);
            }
        }
    }
}

#[cfg(all(test, feature = "unicode"))]
mod tests {
    use super::*;

    fn message(id: u64, text: &str) -> ChatMessage {
        ChatMessage {
            id,
            user: "ann".into(),
            msg: text.into(),
            mentions: vec!["bob".into()],
            ..ChatMessage::default()
        }
    }

    fn change(seq: u64, id: u64, change: MessageChange) -> RoomEvent {
        RoomEvent::Changed { seq, id, change }
    }

    fn react(emoji: &str, on: bool) -> MessageChange {
        MessageChange::Reacted {
            emoji: emoji.into(),
            user: "bob".into(),
            on,
        }
    }

    #[test]
    fn a_deleted_message_stays_a_tombstone() {
        let mut room = RoomView::default();
        room.apply(&RoomEvent::Posted(message(1, "hello @bob")));
        room.apply(&change(2, 1, react("👍", true)));
        room.apply(&change(3, 1, MessageChange::Deleted));
        let edit = MessageChange::Edited {
            msg: "back again".into(),
            formatted: None,
            edited_at: 9,
            mentions: Vec::new(),
        };
        room.apply(&change(4, 1, edit));
        room.apply(&change(5, 1, react("🎉", true)));
        let tombstone = &room.messages[&1];
        assert!(tombstone.deleted);
        assert_eq!(
            (
                tombstone.msg.as_str(),
                tombstone.mentions.len(),
                tombstone.reactions.len()
            ),
            ("", 0, 0)
        );
        assert_eq!(tombstone.edited_at, None);
        assert_eq!(room.seq, 5);
    }

    #[test]
    fn replies_quote_what_their_message_says_now() {
        let mut room = RoomView::default();
        room.apply(&RoomEvent::Posted(message(1, "first line\nsecond")));
        let mut reply = message(2, "an answer");
        reply.reply_to = Some(ReplyQuote {
            id: 1,
            user: "ann".into(),
            excerpt: "first line…".into(),
            ..ReplyQuote::default()
        });
        room.apply(&RoomEvent::Posted(reply));
        let edit = MessageChange::Edited {
            msg: "now this".into(),
            formatted: None,
            edited_at: 5,
            mentions: Vec::new(),
        };
        room.apply(&change(3, 1, edit));
        let quote = room.messages[&2].reply_to.clone().expect("a quote");
        assert_eq!((quote.excerpt.as_str(), quote.deleted), ("now this", false));
        room.apply(&change(4, 1, react("👍", true)));
        room.apply(&change(5, 1, MessageChange::Deleted));
        let quote = room.messages[&2].reply_to.clone().expect("a quote");
        assert_eq!((quote.excerpt.as_str(), quote.deleted), ("", true));
    }

    #[test]
    fn an_event_applied_twice_counts_once() {
        let mut room = RoomView::default();
        room.apply(&RoomEvent::Posted(message(1, "hi")));
        let on = change(2, 1, react("👍", true));
        room.apply(&on);
        room.apply(&on);
        assert_eq!(room.messages[&1].reactions[0].count, 1);
    }

    #[test]
    fn moderators_lock_and_mute_by_name_key() {
        let mut room = RoomView::default();
        let act = |seq, action, target: Option<&str>, until| RoomEvent::Moderated {
            seq,
            action,
            target: target.map(str::to_owned),
            until,
        };
        room.apply(&act(1, ModAction::Lock, None, None));
        room.apply(&act(2, ModAction::Mute, Some("Bob"), Some(60_000)));
        room.apply(&act(3, ModAction::Mute, Some("carol"), None));
        assert!(room.rules.locked);
        assert_eq!(
            room.rules.mutes.iter().collect::<Vec<_>>(),
            [
                (&"bob".to_owned(), &60_000),
                (&"carol".to_owned(), &i64::MAX)
            ]
        );
        room.apply(&act(4, ModAction::Unmute, Some("BOB"), None));
        room.apply(&act(5, ModAction::Unlock, None, None));
        room.apply(&act(6, ModAction::Kick, Some("carol"), None));
        assert!(!room.rules.locked);
        assert_eq!(room.rules.mutes.keys().collect::<Vec<_>>(), ["carol"]);
    }
}
