//! Who holds which name on this instance.
//!
//! A name belongs to whoever presents the same token as its current holder
//! (the same browser: a second tab, a reconnect); anyone else is refused
//! while the holder is connected. Names compare without regard to case, so
//! "Alice" cannot pose as "alice". A name is held once for the whole server,
//! whichever rooms its connections are in.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
pub(crate) struct Names {
    /// By lowercased name.
    holders: Mutex<HashMap<String, Holder>>,
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
pub(crate) struct Taken;

impl Names {
    /// Registers a connection of `name` with `token`.
    pub(crate) fn connect(&self, name: &str, token: Option<&str>) -> Result<(), Taken> {
        let mut holders = self.lock();
        match holders.get_mut(&name.to_lowercase()) {
            Some(holder) => {
                let same_client = token.is_some() && holder.token.as_deref() == token;
                if !same_client {
                    return Err(Taken);
                }
                holder.connections += 1;
            }
            None => {
                let holder = Holder {
                    name: name.to_owned(),
                    token: token.map(str::to_owned),
                    connections: 1,
                };
                holders.insert(name.to_lowercase(), holder);
            }
        }
        Ok(())
    }

    /// Unregisters one connection of `name`. Returns whether it was the last.
    pub(crate) fn disconnect(&self, name: &str) -> bool {
        let key = name.to_lowercase();
        let mut holders = self.lock();
        let Some(holder) = holders.get_mut(&key) else {
            return false;
        };
        holder.connections = holder.connections.saturating_sub(1);
        if holder.connections > 0 {
            return false;
        }
        holders.remove(&key);
        true
    }

    /// Whether `name` has a connection on this instance.
    pub(crate) fn is_held_here(&self, name: &str) -> bool {
        self.lock().contains_key(&name.to_lowercase())
    }

    /// The names connected to this instance, as spelled, with their tokens.
    pub(crate) fn held_here(&self) -> Vec<(String, Option<String>)> {
        self.lock()
            .values()
            .map(|holder| (holder.name.clone(), holder.token.clone()))
            .collect()
    }

    /// How many connections hold names here.
    pub(crate) fn connections(&self) -> usize {
        self.lock().values().map(|holder| holder.connections).sum()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Holder>> {
        // Every change is one map operation: a poisoned lock is consistent.
        self.holders.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_name_one_client_many_tabs() {
        let names = Names::default();
        assert_eq!(names.connect("alice", Some("t1")), Ok(()));
        assert_eq!(names.connect("alice", Some("t1")), Ok(()), "second tab");
        assert_eq!(names.connect("Alice", Some("t2")), Err(Taken));
        assert_eq!(names.connect("ALICE", None), Err(Taken));
        assert_eq!(names.connect("bob", None), Ok(()));
        assert_eq!(names.connections(), 3);
        assert!(names.is_held_here("BOB"));
        assert!(!names.disconnect("alice"));
        assert!(names.disconnect("alice"), "last tab closed");
        assert_eq!(names.connect("Alice", Some("t2")), Ok(()), "free again");
        // Without a token a name cannot be shared, not even with itself.
        assert_eq!(names.connect("bob", None), Err(Taken));
    }
}
