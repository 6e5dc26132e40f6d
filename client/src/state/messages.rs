//! One room's posted messages, in id order.

use std::rc::Rc;

use protocol::{ChatMessage, Posted};

/// One posted message in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub message: ChatMessage,
    /// Sent by the name the server bound to us.
    pub own: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Messages {
    /// Always in id order, without duplicates.
    pub entries: Rc<Vec<Rc<Entry>>>,
    /// Whether the server has messages older than the first entry.
    pub has_older: bool,
    /// A page of older messages has been asked for and not arrived.
    pub loading_older: bool,
}

impl Messages {
    /// The newest id shown: the room resumes after it.
    pub fn newest_id(&self) -> Option<u64> {
        self.entries.last().map(|e| e.message.id)
    }

    pub fn oldest_id(&self) -> Option<u64> {
        self.entries.first().map(|e| e.message.id)
    }

    /// A `history` frame: replaces everything when `reset`, else continues.
    pub fn start(&mut self, messages: Vec<Posted>, reset: bool, has_older: bool, me: Option<&str>) {
        if reset {
            self.entries = Rc::default();
        }
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
        let own = me == Some(message.user.as_str());
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
        entries.insert(position, Rc::new(Entry { message, own }));
        true
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
    fn appending_shares_existing_entries() {
        let mut before = Messages::default();
        before.insert(message(1, "bob"), None);
        let mut after = before.clone();
        after.insert(message(2, "bob"), None);
        assert!(Rc::ptr_eq(&before.entries[0], &after.entries[0]));
        assert_eq!((ids(&before), ids(&after)), (vec![1], vec![1, 2]));
    }
}
