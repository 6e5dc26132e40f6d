//! Who is online, and who holds which name.
//!
//! A name belongs to whoever presents the same token as its current holder
//! (the same browser: a second tab, a reconnect); anyone else is refused with
//! `username_taken` while the holder is connected. Names compare without
//! regard to case, so "Alice" cannot pose as "alice".

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub struct Presence {
    /// By lowercased name.
    holders: BTreeMap<String, Holder>,
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

    /// Whether `name`, spelled exactly so, is online.
    pub fn is_online(&self, name: &str) -> bool {
        self.holders
            .get(&name.to_lowercase())
            .is_some_and(|holder| holder.name == name)
    }

    /// The first `limit` names online, sorted case-insensitively.
    pub fn online(&self, limit: usize) -> Vec<String> {
        self.holders
            .values()
            .take(limit)
            .map(|h| h.name.clone())
            .collect()
    }

    /// How many are online.
    pub fn count(&self) -> usize {
        self.holders.len()
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
}
