//! One room's posted messages, in id order, in their current state: the
//! room's edits, deletions and reactions applied as they come.

use std::rc::Rc;

use protocol::{ChatMessage, MessageChange, Posted};

/// One posted message in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub message: ChatMessage,
    /// Sent by the name the server bound to us.
    pub own: bool,
    /// The message mentions the name bound to us.
    pub mentions_me: bool,
}

impl Entry {
    fn new(message: ChatMessage, me: Option<&str>) -> Self {
        let own = me == Some(message.user.as_str());
        let mentions_me = mentions(&message.mentions, me);
        Self {
            message,
            own,
            mentions_me,
        }
    }
}

/// Whether `mentions` (names as the server compares them: lower case)
/// name `me`.
fn mentions(mentions: &[String], me: Option<&str>) -> bool {
    me.is_some_and(|me| {
        let me = crate::lower::lower(me);
        mentions.contains(&me)
    })
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Messages {
    /// Always in id order, without duplicates.
    pub entries: Rc<Vec<Rc<Entry>>>,
    /// Whether the server has messages older than the first entry.
    pub has_older: bool,
    /// A page of older messages has been asked for and not arrived.
    pub loading_older: bool,
    /// The room's newest event applied (a post, an edit, a reaction...).
    pub seq: u64,
}

impl Messages {
    /// The newest message shown.
    pub fn newest_id(&self) -> Option<u64> {
        self.entries.last().map(|e| e.message.id)
    }

    /// Where the room resumes: after the newest event applied.
    pub fn resume_after(&self) -> Option<u64> {
        let newest = self.seq.max(self.newest_id().unwrap_or(0));
        (newest > 0).then_some(newest)
    }

    pub fn oldest_id(&self) -> Option<u64> {
        self.entries.first().map(|e| e.message.id)
    }

    /// A `history` frame: replaces everything when `reset`, else continues;
    /// `seq` is the room's newest event it covers.
    pub fn start(
        &mut self,
        messages: Vec<Posted>,
        (reset, has_older): (bool, bool),
        seq: Option<u64>,
        me: Option<&str>,
    ) {
        if reset {
            self.entries = Rc::default();
            self.seq = 0;
        }
        self.seq = self.seq.max(seq.unwrap_or(0));
        if reset || self.entries.is_empty() {
            self.has_older = has_older;
        }
        for posted in messages {
            self.insert(posted.message, me);
        }
    }

    /// An `older` frame: a page that goes first.
    pub fn older(&mut self, messages: Vec<Posted>, has_older: bool, me: Option<&str>) {
        self.loading_older = false;
        self.has_older = has_older;
        for posted in messages {
            self.insert(posted.message, me);
        }
    }

    /// Inserts in id order; says whether it is new (a message already shown
    /// is dropped).
    pub fn insert(&mut self, message: ChatMessage, me: Option<&str>) -> bool {
        self.seq = self.seq.max(message.id);
        let entries = Rc::make_mut(&mut self.entries);
        // New messages almost always go last: check that before searching.
        let position = match entries.last() {
            Some(last) if last.message.id < message.id => entries.len(),
            None => 0,
            Some(_) => match entries.binary_search_by_key(&message.id, |e| e.message.id) {
                Ok(_) => return false,
                Err(position) => position,
            },
        };
        entries.insert(position, Rc::new(Entry::new(message, me)));
        true
    }

    /// Applies event `seq`, a change to message `id`, and to the quotes of
    /// the replies to it, by protocol's rules (the server's window follows
    /// the same). Only the entries it changes are new: the others stay the
    /// same `Rc`s, so only they render again. A message not loaded is
    /// shown as it is now when its page loads.
    pub fn change(&mut self, seq: u64, id: u64, change: MessageChange, me: Option<&str>) {
        self.seq = self.seq.max(seq);
        let entries = Rc::make_mut(&mut self.entries);
        if let Ok(at) = entries.binary_search_by_key(&id, |e| e.message.id) {
            let entry = Rc::make_mut(&mut entries[at]);
            change.apply(&mut entry.message);
            entry.mentions_me = mentions(&entry.message.mentions, me);
        }
        if let Some(requote) = change.quote() {
            for entry in entries.iter_mut() {
                if entry
                    .message
                    .reply_to
                    .as_ref()
                    .is_some_and(|quote| quote.id == id)
                {
                    requote.apply(id, Rc::make_mut(entry).message.reply_to.as_mut());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u64, user: &str) -> ChatMessage {
        ChatMessage {
            id,
            user: user.into(),
            msg: format!("message {id}"),
            date_time: 1_764_100_000_000,
            ..ChatMessage::default()
        }
    }

    fn ids(messages: &Messages) -> Vec<u64> {
        messages.entries.iter().map(|e| e.message.id).collect()
    }

    #[test]
    fn messages_stay_in_id_order_without_duplicates() {
        let mut messages = Messages::default();
        for (id, user) in [(2, "bob"), (5, "alice"), (1, "bob"), (5, "alice"), (3, "c")] {
            messages.insert(message(id, user), Some("alice"));
        }
        assert_eq!(ids(&messages), [1, 2, 3, 5]);
        assert_eq!(
            (messages.oldest_id(), messages.newest_id()),
            (Some(1), Some(5))
        );
        let own: Vec<bool> = messages.entries.iter().map(|e| e.own).collect();
        assert_eq!(own, [false, false, false, true]);
    }

    #[test]
    fn changes_apply_to_their_message_and_the_quotes_of_it_only() {
        let mut messages = Messages::default();
        for id in 1..=3 {
            messages.insert(message(id, "bob"), Some("alice"));
        }
        let mut reply = message(4, "alice");
        reply.reply_to = Some(protocol::ReplyQuote {
            id: 2,
            user: "bob".into(),
            excerpt: "message 2".into(),
            ..protocol::ReplyQuote::default()
        });
        messages.insert(reply, Some("alice"));
        let before = messages.clone();
        let edited = MessageChange::Edited {
            msg: "hi @Alice\nmore".into(),
            formatted: None,
            edited_at: 7,
            mentions: vec!["alice".into()],
        };
        messages.change(5, 2, edited, Some("Alice"));
        assert_eq!(messages.seq, 5);
        assert!(Rc::ptr_eq(&before.entries[0], &messages.entries[0]));
        assert!(Rc::ptr_eq(&before.entries[2], &messages.entries[2]));
        let edited = &messages.entries[1];
        assert_eq!(edited.message.msg, "hi @Alice\nmore");
        assert_eq!(edited.message.edited_at, Some(7));
        assert!(edited.mentions_me, "mentions compare without case");
        let quote = messages.entries[3].message.reply_to.clone().expect("quote");
        assert_eq!(quote.excerpt, "hi @Alice…");

        let react = |user: &str, on| MessageChange::Reacted {
            emoji: "👍".into(),
            user: user.into(),
            on,
        };
        messages.change(6, 1, react("amy", true), None);
        messages.change(7, 1, react("cat", true), None);
        messages.change(8, 1, react("amy", false), None);
        let reactions = &messages.entries[0].message.reactions;
        assert_eq!(
            (reactions[0].count, reactions[0].users.clone()),
            (1, vec!["cat".to_owned()])
        );
        // One the server did not name (beyond its list) leaves too.
        messages.change(9, 1, react("zed", false), None);
        assert!(messages.entries[0].message.reactions.is_empty());

        messages.change(10, 2, MessageChange::Deleted, Some("alice"));
        let deleted = &messages.entries[1];
        assert!(deleted.message.deleted && deleted.message.msg.is_empty() && !deleted.mentions_me);
        let quote = messages.entries[3].message.reply_to.clone().expect("quote");
        assert!(quote.deleted && quote.excerpt.is_empty());
        // A late edit of a deleted message does not bring it back.
        let late = MessageChange::Edited {
            msg: "back".into(),
            formatted: None,
            edited_at: 8,
            mentions: Vec::new(),
        };
        messages.change(11, 2, late, None);
        assert!(messages.entries[1].message.msg.is_empty());
        // A change to a message not loaded moves the room on all the same.
        messages.change(12, 99, MessageChange::Deleted, None);
        assert_eq!(messages.resume_after(), Some(12));
    }

    #[test]
    fn a_reset_history_starts_the_room_over_at_its_seq() {
        let mut messages = Messages::default();
        messages.insert(message(9, "bob"), None);
        messages.start(vec![], (true, false), Some(3), None);
        assert_eq!(messages.resume_after(), Some(3));
        messages.start(vec![], (true, false), Some(0), None);
        assert_eq!(messages.resume_after(), None);
    }

    #[test]
    fn appending_shares_existing_entries() {
        let mut before = Messages::default();
        before.insert(message(1, "bob"), None);
        let mut after = before.clone();
        after.insert(message(2, "bob"), None);
        assert!(Rc::ptr_eq(&before.entries[0], &after.entries[0]));
        assert_eq!((ids(&before), ids(&after)), (vec![1], vec![1, 2]));
    }
}
