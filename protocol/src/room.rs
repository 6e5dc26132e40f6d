//! How an event changes a room: the one copy of the rules that the
//! server's window of recent messages, the client's list and the
//! differential test over both logs apply.
//!
//! A room is its messages (each in its current state: edited, deleted,
//! reacted to), whether it is locked, and who is muted there. Events come
//! in `seq` order; each is applied here and nowhere else. Whether an
//! event may happen at all (is the message yours, is the room locked) is
//! decided here too, once ([`ChangeRequest::check`]), against what the
//! log holds when it appends; once stored, an event is a fact, and
//! [`MessageChange::apply`] only says what the room looks like after it.

use crate::frame::give_reaction;
use crate::{
    excerpt, Block, ChatMessage, ModAction, Reactions, ReplyQuote, ServerFrame, REACTIONS_MAX,
    REACTION_NAMES_MAX,
};

/// What a log is asked to do to a posted message, before it decides
/// whether it may ([`ChangeRequest::check`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeRequest {
    Edit {
        msg: String,
        mentions: Vec<String>,
    },
    Delete,
    React {
        emoji: String,
        on: bool,
    },
    /// A deletion by a moderator: whoever posted the message.
    Remove,
}

/// What the rules ask of the message a [`ChangeRequest`] is about, as the
/// log holds it when it appends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Posted by the asker: the log's to say (it alone knows the author's
    /// key).
    pub mine: bool,
    pub deleted: bool,
    /// What it says now.
    pub text: &'a str,
    /// Its reactions, as far as the request's emoji is concerned.
    pub reacted: Reacted,
}

/// A message's reactions as a reaction request sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reacted {
    /// The asker gives the request's emoji.
    pub by_asker: bool,
    /// Somebody gives the request's emoji.
    pub by_anyone: bool,
    /// How many different emoji the message has.
    pub emojis: usize,
}

impl Reacted {
    /// How `reactions`, every giver named, stand for `user`'s `emoji`.
    pub fn of(reactions: &[Reactions], emoji: &str, user: &str) -> Self {
        let given = reactions.iter().find(|given| given.emoji == emoji);
        Self {
            by_asker: given.is_some_and(|given| given.users.iter().any(|name| name == user)),
            by_anyone: given.is_some(),
            emojis: reactions.len(),
        }
    }
}

/// What a log does with a [`ChangeRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Append it: it changes the message.
    Append,
    /// Nothing to append: the message is already so (a repeated request).
    Unchanged,
    Refuse(ChangeRefusal),
}

/// Why a [`ChangeRequest`] (or a reply: [`check_reply`]) may not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeRefusal {
    /// A reply to a message the log does not hold.
    NotFound,
    /// An edit or deletion of somebody else's message.
    NotYours,
    /// An edit of, or a reaction to, a deleted message.
    Deleted,
    /// A new emoji on a message that has [`REACTIONS_MAX`].
    TooManyReactions,
}

/// Whether a new post may answer the message it quotes, which the log
/// holds (`Some`: whether it was deleted) or not (`None`): the rule both
/// logs follow.
pub fn check_reply(original_deleted: Option<bool>) -> Result<(), ChangeRefusal> {
    match original_deleted {
        None => Err(ChangeRefusal::NotFound),
        Some(true) => Err(ChangeRefusal::Deleted),
        Some(false) => Ok(()),
    }
}

impl ChangeRequest {
    /// Whether it puts words before the room (a mute or a lock refuses
    /// it), rather than taking them away.
    pub fn speaks(&self) -> bool {
        match self {
            Self::Edit { .. } | Self::React { .. } => true,
            Self::Delete | Self::Remove => false,
        }
    }

    /// Whether the author only may ask it.
    fn authors_only(&self) -> bool {
        match self {
            Self::Edit { .. } | Self::Delete => true,
            Self::React { .. } | Self::Remove => false,
        }
    }

    /// The one rule both logs follow when asked to change `target`.
    pub fn check(&self, target: &Target<'_>) -> Verdict {
        if self.authors_only() && !target.mine {
            return Verdict::Refuse(ChangeRefusal::NotYours);
        }
        let reacted = target.reacted;
        match self {
            Self::Delete | Self::Remove if target.deleted => Verdict::Unchanged,
            Self::Edit { .. } | Self::React { .. } if target.deleted => {
                Verdict::Refuse(ChangeRefusal::Deleted)
            }
            Self::Edit { msg, .. } if msg == target.text => Verdict::Unchanged,
            Self::React { on, .. } if *on == reacted.by_asker => Verdict::Unchanged,
            Self::React { on: true, .. }
                if !reacted.by_anyone && reacted.emojis >= REACTIONS_MAX =>
            {
                Verdict::Refuse(ChangeRefusal::TooManyReactions)
            }
            Self::Edit { .. } | Self::Delete | Self::Remove | Self::React { .. } => Verdict::Append,
        }
    }
}

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
        self.apply_naming(message, REACTION_NAMES_MAX);
    }

    /// [`Self::apply`] as a log keeps a message: every reacting name.
    pub fn keep(&self, message: &mut ChatMessage) {
        self.apply_naming(message, usize::MAX);
    }

    fn apply_naming(&self, message: &mut ChatMessage, names_max: usize) {
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
                give_reaction(&mut message.reactions, emoji, user, *on, names_max);
            }
        }
    }

    /// The change an `edited`, `deleted` or `reaction` frame carries: its
    /// room, `seq`, message id and change; `None` for any other frame.
    /// (`#[inline]`: the web client calls it on one of those three, and
    /// inlined the other arms go: 130 bytes gzip less.)
    #[inline]
    pub fn of_frame(frame: ServerFrame) -> Option<(String, u64, u64, Self)> {
        match frame {
            ServerFrame::Edited {
                room,
                seq,
                id,
                msg,
                formatted,
                edited_at,
                mentions,
            } => {
                let change = Self::Edited {
                    msg,
                    formatted,
                    edited_at,
                    mentions,
                };
                Some((room, seq, id, change))
            }
            ServerFrame::Deleted { room, seq, id } => Some((room, seq, id, Self::Deleted)),
            ServerFrame::Reaction {
                room,
                seq,
                id,
                emoji,
                user,
                on,
            } => Some((room, seq, id, Self::Reacted { emoji, user, on })),
            ServerFrame::Message { .. }
            | ServerFrame::Moderated { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::History { .. }
            | ServerFrame::Older { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Results { .. }
            | ServerFrame::Pong => None,
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
    /// Applies to `quote` if it quotes message `id`.
    pub fn apply(&self, id: u64, quote: Option<&mut ReplyQuote>) {
        if let Some(quote) = quote.filter(|quote| quote.id == id) {
            quote.deleted = self.0.is_none();
            quote.excerpt = self.0.clone().unwrap_or_default();
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
        id: Option<u64>,
        until: Option<i64>,
    },
}

impl RoomEvent {
    /// The event a frame carries, with its room; `None` for frames that
    /// are no event of a room's log (a greeting, presence, typing...).
    pub fn of_frame(frame: ServerFrame) -> Option<(String, Self)> {
        match frame {
            ServerFrame::Message { room, posted } => Some((room, Self::Posted(posted.message))),
            ServerFrame::Moderated {
                room,
                seq,
                action,
                target,
                id,
                until,
                ..
            } => Some((
                room,
                Self::Moderated {
                    seq,
                    action,
                    target,
                    id,
                    until,
                },
            )),
            other @ (ServerFrame::Edited { .. }
            | ServerFrame::Deleted { .. }
            | ServerFrame::Reaction { .. }
            | ServerFrame::Error { .. }
            | ServerFrame::Welcome { .. }
            | ServerFrame::History { .. }
            | ServerFrame::Older { .. }
            | ServerFrame::Online { .. }
            | ServerFrame::Presence { .. }
            | ServerFrame::Typing { .. }
            | ServerFrame::Results { .. }
            | ServerFrame::Pong) => MessageChange::of_frame(other)
                .map(|(room, seq, id, change)| (room, Self::Changed { seq, id, change })),
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
    pub messages: std::collections::BTreeMap<u64, ChatMessage>,
    pub rules: crate::RoomRules,
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
                id,
                until,
                ..
            } => {
                let key = target.as_deref().map(crate::name_key);
                self.rules.apply(*action, key, *id, *until);
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
            id: None,
            until,
        };
        room.apply(&act(1, ModAction::Lock, None, None));
        room.apply(&act(2, ModAction::Mute, Some("Bob"), Some(60_000)));
        room.apply(&act(3, ModAction::Mute, Some("carol"), None));
        assert!(room.rules.shown.locked);
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
        assert!(!room.rules.shown.locked);
        assert_eq!(room.rules.mutes.keys().collect::<Vec<_>>(), ["carol"]);
    }
}

/// The rule a log decides a change by.
#[cfg(test)]
mod check_tests {
    use super::*;

    fn target(mine: bool, deleted: bool, reacted: Reacted) -> Target<'static> {
        Target {
            mine,
            deleted,
            text: "hello",
            reacted,
        }
    }

    fn edit(msg: &str) -> ChangeRequest {
        ChangeRequest::Edit {
            msg: msg.into(),
            mentions: Vec::new(),
        }
    }

    fn react(on: bool) -> ChangeRequest {
        ChangeRequest::React {
            emoji: "👍".into(),
            on,
        }
    }

    const NONE: Reacted = Reacted {
        by_asker: false,
        by_anyone: false,
        emojis: 0,
    };

    #[test]
    fn only_the_author_edits_or_deletes_and_anyone_reacts_or_a_moderator_removes() {
        let theirs = target(false, false, NONE);
        let refused = Verdict::Refuse(ChangeRefusal::NotYours);
        assert_eq!(edit("hi").check(&theirs), refused);
        assert_eq!(ChangeRequest::Delete.check(&theirs), refused);
        assert_eq!(react(true).check(&theirs), Verdict::Append);
        assert_eq!(ChangeRequest::Remove.check(&theirs), Verdict::Append);
        let mine = target(true, false, NONE);
        assert_eq!(edit("hi").check(&mine), Verdict::Append);
        assert_eq!(ChangeRequest::Delete.check(&mine), Verdict::Append);
    }

    #[test]
    fn a_deleted_message_takes_no_edit_or_reaction_and_a_second_deletion_is_nothing() {
        let gone = target(true, true, NONE);
        let refused = Verdict::Refuse(ChangeRefusal::Deleted);
        assert_eq!(edit("hi").check(&gone), refused);
        assert_eq!(react(true).check(&gone), refused);
        assert_eq!(ChangeRequest::Delete.check(&gone), Verdict::Unchanged);
        assert_eq!(ChangeRequest::Remove.check(&gone), Verdict::Unchanged);
        // Somebody else's deleted message is still not theirs to delete.
        assert_eq!(
            ChangeRequest::Delete.check(&target(false, true, NONE)),
            Verdict::Refuse(ChangeRefusal::NotYours)
        );
    }

    #[test]
    fn repeating_what_is_already_so_changes_nothing() {
        assert_eq!(
            edit("hello").check(&target(true, false, NONE)),
            Verdict::Unchanged
        );
        let given = Reacted {
            by_asker: true,
            by_anyone: true,
            emojis: 1,
        };
        assert_eq!(
            react(true).check(&target(false, false, given)),
            Verdict::Unchanged
        );
        assert_eq!(
            react(false).check(&target(false, false, NONE)),
            Verdict::Unchanged
        );
        assert_eq!(
            react(false).check(&target(false, false, given)),
            Verdict::Append
        );
    }

    #[test]
    fn a_new_emoji_beyond_the_most_is_refused_and_an_existing_one_is_not() {
        let full = Reacted {
            by_asker: false,
            by_anyone: false,
            emojis: REACTIONS_MAX,
        };
        assert_eq!(
            react(true).check(&target(false, false, full)),
            Verdict::Refuse(ChangeRefusal::TooManyReactions)
        );
        let joining = Reacted {
            by_anyone: true,
            ..full
        };
        assert_eq!(
            react(true).check(&target(false, false, joining)),
            Verdict::Append
        );
    }

    #[test]
    fn reacted_reads_the_reactions_for_the_asker_and_the_emoji() {
        let reactions = vec![
            Reactions {
                emoji: "👍".into(),
                users: vec!["amy".into(), "bob".into()],
                count: 2,
            },
            Reactions {
                emoji: "🎉".into(),
                users: vec!["cy".into()],
                count: 1,
            },
        ];
        assert_eq!(
            Reacted::of(&reactions, "👍", "bob"),
            Reacted {
                by_asker: true,
                by_anyone: true,
                emojis: 2
            }
        );
        assert_eq!(
            Reacted::of(&reactions, "🎉", "bob"),
            Reacted {
                by_asker: false,
                by_anyone: true,
                emojis: 2
            }
        );
        assert_eq!(
            Reacted::of(&reactions, "🙂", "bob"),
            Reacted {
                by_asker: false,
                by_anyone: false,
                emojis: 2
            }
        );
    }

    #[test]
    fn a_log_keeps_every_name_and_the_wire_names_twenty() {
        let mut message = ChatMessage::default();
        let mut kept = ChatMessage::default();
        for n in 0..REACTION_NAMES_MAX + 5 {
            let change = MessageChange::Reacted {
                emoji: "👍".into(),
                user: format!("u{n}"),
                on: true,
            };
            change.apply(&mut message);
            change.keep(&mut kept);
        }
        assert_eq!(message.reactions[0].users.len(), REACTION_NAMES_MAX);
        assert_eq!(kept.reactions[0].users.len(), REACTION_NAMES_MAX + 5);
        assert_eq!(message.reactions[0].count, kept.reactions[0].count);
    }
}
