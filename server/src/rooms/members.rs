//! Who is in one room.
//!
//! With several instances, this holds the names in the room here, plus the
//! last view of who is in it elsewhere, read from Redis (see
//! [`crate::presence`]): who is online is the union of the two, so a user
//! shows up here the moment they join and everywhere else at the next poll.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::names::Name;
use crate::presence::{unmarked, CLAIMED_MARK};

/// Who is in one room, on this instance and elsewhere.
///
/// The names here are the holders' own (`Arc<Name>`): a room costs each
/// connection in it one pointer, and no string.
#[derive(Debug, Default)]
pub(crate) struct Members {
    /// In the room on this instance: one entry per connection, sorted by
    /// key (a name's connections are neighbours). A sorted vector rather
    /// than a map: a B-tree's nodes, half full when names come in order,
    /// cost about 37 bytes an entry (BENCHMARKS.md, "Rooms"); entering
    /// moves up to one pointer per member, as the room's other per-entry
    /// work is linear too.
    here: Vec<Arc<Name>>,
    /// In the room on other instances, by key, as of the last
    /// view from Redis (names as published: see [`CLAIMED_MARK`]). Empty
    /// with one instance.
    elsewhere: BTreeMap<String, String>,
}

impl Members {
    /// Adds a connection of `name` (held by it: see `Names`). Returns
    /// whether it is the name's first in the room (the user came in).
    pub(crate) fn join(&mut self, name: &Arc<Name>) -> bool {
        let at = self.position(name.key());
        let first = self
            .here
            .get(at)
            .is_none_or(|held| held.key() != name.key());
        if self.here.len() == self.here.capacity() {
            // An eighth more at a time: a crowd's vector is mostly used.
            self.here.reserve_exact(self.here.len() / 8 + 1);
        }
        self.here.insert(at, Arc::clone(name));
        first
    }

    /// Takes away a connection of `name`. Returns whether it was the last
    /// (the user left the room).
    pub(crate) fn leave(&mut self, name: &Name) -> bool {
        let at = self.position(name.key());
        if self
            .here
            .get(at)
            .is_none_or(|held| held.key() != name.key())
        {
            return false;
        }
        self.here.remove(at);
        // A crowd that came and went leaves no buffer behind.
        if self.here.capacity() > 2 * self.here.len() + 8 {
            self.here.shrink_to_fit();
        }
        self.here
            .get(at)
            .is_none_or(|held| held.key() != name.key())
    }

    /// Where entries of `key` start (or would).
    fn position(&self, key: &str) -> usize {
        self.here.partition_point(|held| held.key() < key)
    }

    /// The names here, each once, sorted by key.
    fn distinct_here(&self) -> impl Iterator<Item = &Arc<Name>> {
        self.here
            .chunk_by(|a, b| a.key() == b.key())
            .filter_map(|connections| connections.first())
    }

    /// Whether anyone is in the room on this instance.
    pub(crate) fn is_empty_here(&self) -> bool {
        self.here.is_empty()
    }

    /// The names in the room on this instance, as published to the
    /// others: as spelled, claimed ones marked.
    pub(crate) fn here(&self) -> Vec<String> {
        self.distinct_here()
            .map(|name| {
                if name.is_claimed() {
                    format!("{CLAIMED_MARK}{name}")
                } else {
                    name.as_str().to_owned()
                }
            })
            .collect()
    }

    /// Replaces the view of the room elsewhere with `elsewhere` (lowercased
    /// name to name as spelled); returns the names whose state may have
    /// changed.
    pub(crate) fn set_elsewhere(&mut self, elsewhere: BTreeMap<String, String>) -> Vec<String> {
        let old = std::mem::replace(&mut self.elsewhere, elsewhere);
        let gone = old
            .iter()
            .filter(|(key, name)| self.elsewhere.get(*key) != Some(*name))
            .map(|(_, name)| name.clone());
        let came = self
            .elsewhere
            .iter()
            .filter(|(key, name)| old.get(*key) != Some(*name))
            .map(|(_, name)| name.clone());
        gone.chain(came).collect()
    }

    /// Whether `name`, spelled exactly so, is online.
    pub(crate) fn is_online(&self, name: &str) -> bool {
        let key = protocol::name_key(name);
        self.here
            .get(self.position(&key))
            .is_some_and(|held| held.as_str() == name)
            || self
                .elsewhere
                .get(&key)
                .is_some_and(|published| unmarked(published).0 == name)
    }

    /// Whether `name` is online as a claimed name.
    pub(crate) fn is_member(&self, name: &str) -> bool {
        let key = protocol::name_key(name);
        self.here
            .get(self.position(&key))
            .filter(|held| held.key() == key)
            .map_or_else(
                || {
                    self.elsewhere
                        .get(&key)
                        .is_some_and(|published| unmarked(published).1)
                },
                |held| held.is_claimed(),
            )
    }

    /// The first `limit` names online, sorted by key, and which of them
    /// are claimed.
    pub(crate) fn online(&self, limit: usize) -> (Vec<String>, Vec<String>) {
        let mut members = Vec::new();
        let names = self
            .names()
            .take(limit)
            .map(|(name, claimed)| {
                if claimed {
                    members.push(name.to_owned());
                }
                name.to_owned()
            })
            .collect();
        (names, members)
    }

    /// How many are online.
    pub(crate) fn count(&self) -> usize {
        self.names().count()
    }

    /// Everyone online, sorted by key, and whether each is claimed: a
    /// merge of the two sorted maps, where a name connected here wins.
    fn names(&self) -> impl Iterator<Item = (&str, bool)> {
        let mut here = self.distinct_here().peekable();
        let mut elsewhere = self.elsewhere.iter().peekable();
        std::iter::from_fn(move || match (here.peek(), elsewhere.peek()) {
            (Some(h), Some((e, _))) if h.key() == e.as_str() => {
                elsewhere.next();
                here.next().map(|held| (held.as_str(), held.is_claimed()))
            }
            (Some(h), Some((e, _))) if e.as_str() < h.key() => {
                elsewhere.next().map(|(_, name)| unmarked(name))
            }
            (Some(_), _) => here.next().map(|held| (held.as_str(), held.is_claimed())),
            (None, _) => elsewhere.next().map(|(_, name)| unmarked(name)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_in_the_room_until_its_last_connection_leaves() {
        let mut members = Members::default();
        let alice = Arc::new(Name::new("alice"));
        assert!(members.join(&alice));
        assert!(!members.join(&alice), "second tab");
        assert!(members.join(&Arc::new(Name::new("bob"))));
        assert_eq!(members.online(10).0, ["alice", "bob"]);
        assert_eq!(members.online(1).0, ["alice"]);
        assert_eq!(members.count(), 2);
        assert!(members.is_online("alice") && !members.is_online("Alice"));
        assert!(!members.leave(&alice));
        assert!(members.leave(&alice), "last tab closed");
        assert!(!members.leave(&alice), "already gone");
        assert_eq!(members.here(), ["bob"]);
    }

    #[test]
    fn names_stay_sorted_and_counted_once_whatever_the_order() {
        let mut members = Members::default();
        let names: Vec<Arc<Name>> = ["dave", "Bob", "erin", "alice", "carol"]
            .into_iter()
            .map(|name| Arc::new(Name::new(name)))
            .collect();
        // Two connections each, the second round in reverse.
        let came: Vec<bool> = names
            .iter()
            .chain(names.iter().rev())
            .map(|name| members.join(name))
            .collect();
        assert_eq!(
            came,
            [true, true, true, true, true, false, false, false, false, false]
        );
        assert_eq!(
            members.online(10).0,
            ["alice", "Bob", "carol", "dave", "erin"]
        );
        assert_eq!(members.online(2).0, ["alice", "Bob"]);
        assert_eq!(members.count(), 5);
        assert!(members.is_online("Bob") && !members.is_online("bob"));
        let went: Vec<bool> = names
            .iter()
            .chain(names.iter())
            .map(|name| members.leave(name))
            .collect();
        assert_eq!(
            went,
            [false, false, false, false, false, true, true, true, true, true]
        );
        assert!(members.is_empty_here());
    }

    fn view(names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|name| (protocol::name_key(name), (*name).to_owned()))
            .collect()
    }

    #[test]
    fn the_room_is_the_union_of_here_and_elsewhere() {
        let mut members = Members::default();
        let bob = Arc::new(Name::new("bob"));
        members.join(&bob);
        let mut changed = members.set_elsewhere(view(&["alice", "bob", "Zed"]));
        changed.sort();
        assert_eq!(changed, ["Zed", "alice", "bob"]);
        assert_eq!(members.online(10).0, ["alice", "bob", "Zed"]);
        assert_eq!(members.count(), 3);
        assert!(members.is_online("Zed") && !members.is_online("zed"));

        // Alice leaves elsewhere; Bob's entry in the view lags behind his
        // leaving here, but he is gone once both agree.
        assert_eq!(members.set_elsewhere(view(&["bob", "Zed"])), ["alice"]);
        assert!(members.leave(&bob));
        assert!(members.is_online("bob"), "still online elsewhere");
        assert_eq!(members.set_elsewhere(view(&["Zed"])), ["bob"]);
        assert_eq!(members.online(10).0, ["Zed"]);
        assert_eq!(members.count(), 1);
        assert!(members.is_empty_here());
    }
}
