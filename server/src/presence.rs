//! Who is online, and who holds which name.
//!
//! A name belongs to whoever presents the same token as its current holder
//! (the same browser: a second tab, a reconnect); anyone else is refused with
//! `username_taken` while the holder is connected. Names compare without
//! regard to case, so "Alice" cannot pose as "alice".
//!
//! With several instances, this holds the names connected here, plus the
//! last view of the whole room read from Redis (see [`crate::cluster`]): who
//! is online is the union of the two, so a user shows up here the moment
//! they join and everywhere else at the next poll.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Presence {
    /// Connected to this instance, by lowercased name.
    holders: BTreeMap<String, Holder>,
    /// Online anywhere in the room, by lowercased name, as of the last view
    /// from Redis. Empty with one instance.
    room: BTreeMap<String, String>,
}

#[derive(Debug)]
struct Holder {
    /// The name as its holder spells it.
    name: String,
    token: Option<String>,
    connections: usize,
}

/// The name is held by another client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken;

impl Presence {
    /// Registers a connection of `name` with `token`. Returns whether this
    /// is the name's first connection (the user joined).
    pub fn connect(&mut self, name: &str, token: Option<&str>) -> Result<bool, Taken> {
        let key = name.to_lowercase();
        match self.holders.get_mut(&key) {
            Some(holder) => {
                let same_client = token.is_some() && holder.token.as_deref() == token;
                if !same_client {
                    return Err(Taken);
                }
                holder.connections += 1;
                Ok(false)
            }
            None => {
                self.holders.insert(
                    key,
                    Holder {
                        name: name.to_owned(),
                        token: token.map(str::to_owned),
                        connections: 1,
                    },
                );
                Ok(true)
            }
        }
    }

    /// Unregisters one connection of `name`. Returns whether it was the last
    /// (the user left).
    pub fn disconnect(&mut self, name: &str) -> bool {
        let key = name.to_lowercase();
        let Some(holder) = self.holders.get_mut(&key) else {
            return false;
        };
        holder.connections = holder.connections.saturating_sub(1);
        if holder.connections == 0 {
            self.holders.remove(&key);
            true
        } else {
            false
        }
    }

    /// Whether `name` has a connection on this instance.
    pub fn is_held_here(&self, name: &str) -> bool {
        self.holders.contains_key(&name.to_lowercase())
    }

    /// The names connected to this instance, as spelled, with their tokens.
    pub fn held_here(&self) -> Vec<(String, Option<String>)> {
        self.holders
            .values()
            .map(|holder| (holder.name.clone(), holder.token.clone()))
            .collect()
    }

    /// Replaces the view of the whole room with `room` (lowercased name to
    /// name as spelled); returns the names whose state may have changed.
    pub fn set_room(&mut self, room: BTreeMap<String, String>) -> Vec<String> {
        let old = std::mem::replace(&mut self.room, room);
        let gone = old
            .iter()
            .filter(|(key, name)| self.room.get(*key) != Some(*name))
            .map(|(_, name)| name.clone());
        let came = self
            .room
            .iter()
            .filter(|(key, name)| old.get(*key) != Some(*name))
            .map(|(_, name)| name.clone());
        gone.chain(came).collect()
    }

    /// Whether `name`, spelled exactly so, is online.
    pub fn is_online(&self, name: &str) -> bool {
        let key = name.to_lowercase();
        self.holders.get(&key).is_some_and(|h| h.name == name)
            || self.room.get(&key).is_some_and(|spelled| spelled == name)
    }

    /// The first `limit` names online, sorted case-insensitively.
    pub fn online(&self, limit: usize) -> Vec<String> {
        self.names().take(limit).map(str::to_owned).collect()
    }

    /// How many are online.
    pub fn count(&self) -> usize {
        self.names().count()
    }

    /// Everyone online, sorted by lowercased name: a merge of the two
    /// sorted maps, where a name connected here wins.
    fn names(&self) -> impl Iterator<Item = &str> {
        let mut here = self.holders.iter().peekable();
        let mut room = self.room.iter().peekable();
        std::iter::from_fn(move || match (here.peek(), room.peek()) {
            (Some((h, _)), Some((r, _))) if h == r => {
                room.next();
                here.next().map(|(_, holder)| holder.name.as_str())
            }
            (Some((h, _)), Some((r, _))) if r < h => room.next().map(|(_, name)| name.as_str()),
            (Some(_), _) => here.next().map(|(_, holder)| holder.name.as_str()),
            (None, _) => room.next().map(|(_, name)| name.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_one_client_many_tabs() {
        let mut presence = Presence::default();
        assert_eq!(presence.connect("alice", Some("t1")), Ok(true));
        assert_eq!(
            presence.connect("alice", Some("t1")),
            Ok(false),
            "second tab"
        );
        assert_eq!(presence.connect("Alice", Some("t2")), Err(Taken));
        assert_eq!(presence.connect("ALICE", None), Err(Taken));
        assert_eq!(presence.connect("bob", None), Ok(true));
        assert_eq!(presence.online(10), ["alice", "bob"]);
        assert_eq!(presence.online(1), ["alice"]);
        assert_eq!(presence.count(), 2);
        assert!(presence.is_online("alice") && !presence.is_online("Alice"));
        assert!(!presence.disconnect("alice"));
        assert!(presence.disconnect("alice"), "last tab closed");
        assert_eq!(
            presence.connect("Alice", Some("t2")),
            Ok(true),
            "free again"
        );
        // Without a token a name cannot be shared, not even with itself.
        assert_eq!(presence.connect("bob", None), Err(Taken));
    }

    fn room(names: &[&str]) -> BTreeMap<String, String> {
        names
            .iter()
            .map(|name| (name.to_lowercase(), (*name).to_owned()))
            .collect()
    }

    #[test]
    fn the_room_is_the_union_of_here_and_elsewhere() {
        let mut presence = Presence::default();
        presence.connect("bob", None).expect("free");
        let mut changed = presence.set_room(room(&["alice", "bob", "Zed"]));
        changed.sort();
        assert_eq!(changed, ["Zed", "alice", "bob"]);
        assert_eq!(presence.online(10), ["alice", "bob", "Zed"]);
        assert_eq!(presence.count(), 3);
        assert!(presence.is_online("Zed") && !presence.is_online("zed"));
        assert!(presence.is_held_here("BOB") && !presence.is_held_here("alice"));

        // Alice leaves elsewhere; Bob's entry in the view lags behind his
        // leaving here, but he is gone once both agree.
        assert_eq!(presence.set_room(room(&["bob", "Zed"])), ["alice"]);
        assert!(presence.disconnect("bob"));
        assert!(presence.is_online("bob"), "still online elsewhere");
        assert_eq!(presence.set_room(room(&["Zed"])), ["bob"]);
        assert_eq!(presence.online(10), ["Zed"]);
        assert_eq!(presence.count(), 1);
    }
}
