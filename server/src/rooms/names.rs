//! Who holds which name on this instance.
//!
//! A name belongs to whoever presents the same token as its current holder
//! (the same browser: a second tab, a reconnect); anyone else is refused
//! while the holder is connected. Names compare by their key
//! ([`protocol::name_key`]): without regard to case, width or look-alike
//! letters, so neither "Alice" nor "аlice" (a Cyrillic а) can pose as
//! "alice". A name is held once for the whole server,
//! whichever rooms its connections are in.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::events::Moderation;

/// A name as held: as its holder spells it, and the key it is compared
/// by. Made once per holder and shared by all its connections and rooms.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Name {
    key: String,
    spelled: String,
    /// Proves which browser holds the name (see [`Name::author_key`]):
    /// kept as bytes, written out only when the name posts or changes.
    author_key: Option<[u8; 16]>,
    /// A guest's browser, whatever name it takes (see
    /// [`Name::browser_key`]); `None` for a claimed name or without a token.
    browser_key: Option<[u8; 16]>,
    /// Claimed, and held by a session signed in with its password.
    claimed: bool,
}

impl Name {
    pub(crate) fn new(spelled: &str) -> Self {
        Self {
            key: protocol::name_key(spelled),
            spelled: spelled.to_owned(),
            author_key: None,
            browser_key: None,
            claimed: false,
        }
    }

    /// The name as held by the browser with `token` (a claimed name's
    /// sessions all hold it with one).
    fn held_with(spelled: &str, token: Option<&str>, claimed: bool, browser: Option<&str>) -> Self {
        let mut name = Self::new(spelled);
        name.claimed = claimed;
        name.author_key = token.map(|token| author_key(spelled, token));
        name.browser_key = browser.filter(|_| !claimed).map(browser_key);
        name
    }

    /// A guest's browser, as bans keep it: a guest banned by name would
    /// otherwise come back under another one. A hash of the token alone.
    pub(crate) fn browser_key(&self) -> Option<String> {
        self.browser_key.map(hex)
    }

    /// [`Name::browser_key`] as bytes, as rooms keep it.
    pub(crate) fn browser(&self) -> Option<[u8; 16]> {
        self.browser_key
    }

    /// What the messages this name posts from this browser are marked
    /// with, so that only it may edit or delete them: a hash of the name's
    /// key and the browser's token (the token itself is never stored).
    /// `None` without a token: such a connection can prove nothing later.
    pub(crate) fn author_key(&self) -> Option<String> {
        self.author_key.map(hex)
    }

    pub(crate) fn is_claimed(&self) -> bool {
        self.claimed
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.spelled
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }
}

impl crate::presence::HeldName for Name {
    fn key(&self) -> &str {
        Name::key(self)
    }

    fn as_str(&self) -> &str {
        Name::as_str(self)
    }
}

impl std::fmt::Display for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spelled)
    }
}

/// A shared [`Name`] ordered, compared and looked up by its key, for the
/// maps of who is where.
#[derive(Debug, Clone)]
pub(crate) struct ByKey(pub(crate) Arc<Name>);

impl PartialEq for ByKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.key == other.0.key
    }
}

impl Eq for ByKey {}

impl PartialOrd for ByKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ByKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.key.cmp(&other.0.key)
    }
}

/// As the key's `str`: the maps are looked up by it.
impl std::hash::Hash for ByKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.key.hash(state);
    }
}

impl Borrow<str> for ByKey {
    fn borrow(&self) -> &str {
        &self.0.key
    }
}

/// 128 bits of SHA-256 over the name and the token: enough that nobody
/// finds another token with the same key. The name in lower case, not its
/// look-alike key: as the release that introduced author keys made them,
/// so earlier messages stay editable.
pub(crate) fn author_key(spelled: &str, token: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"chat author key\0")
        .chain_update(spelled.to_lowercase().as_bytes())
        .chain_update(b"\0")
        .chain_update(token.as_bytes())
        .finalize();
    let mut first = [0; 16];
    first.copy_from_slice(&digest[..16]);
    first
}

/// 128 bits of SHA-256 over a browser's token alone (see
/// [`Name::browser_key`]); the token itself is never stored.
pub(crate) fn browser_key(token: &str) -> [u8; 16] {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"chat browser key\0")
        .chain_update(token.as_bytes())
        .finalize();
    let mut first = [0; 16];
    first.copy_from_slice(&digest[..16]);
    first
}

/// An author key as messages keep it.
pub(crate) fn hex(key: [u8; 16]) -> String {
    key.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[derive(Debug, Default)]
pub(crate) struct Names {
    /// By key (see [`protocol::name_key`]).
    holders: Mutex<HashMap<ByKey, Holder>>,
    /// Names put out (by a moderator, or signed out by a password
    /// change), by key, with the `epoch` of the eviction, until their last
    /// connection here closes: each connection from before it looks on the
    /// clock's tick, after a glance at `evicting`.
    evictions: Mutex<HashMap<String, (Arc<Eviction>, u32)>>,
    evicting: AtomicBool,
    /// Counts evictions: a connection that came after one is not put out.
    epoch: AtomicU32,
    /// Sessions and API tokens signed out or revoked (by id), and when:
    /// the connections they let in look on the clock's tick (after a
    /// glance at `revoking`), and go. Kept a while, then forgotten.
    revoked: Mutex<HashMap<String, Instant>>,
    revoking: AtomicBool,
}

/// How long a revocation is kept: far longer than the clock's tick, on
/// which every connection looks.
const REVOKED_KEPT: Duration = Duration::from_secs(300);

/// Why a name's connections are put out.
#[derive(Debug)]
pub(crate) enum Eviction {
    /// Kicked or banned.
    Moderated(Moderation),
    /// Its password changed: every session but one is signed out (the one
    /// that changed it reconnects as it is).
    SignedOut,
}

#[derive(Debug)]
struct Holder {
    token: Option<String>,
    connections: usize,
}

/// The name is held by another client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Taken;

impl Names {
    /// Registers a connection of `name` with `token` (from `browser`, a
    /// guest's browser as bans know it); answers with the name as held
    /// (the holder's, for a second connection of it).
    pub(crate) fn connect(
        &self,
        name: &str,
        token: Option<&str>,
        claimed: bool,
        browser: Option<&str>,
    ) -> Result<Arc<Name>, Taken> {
        let name = Name::held_with(name, token, claimed, browser);
        let mut holders = self.lock();
        if let Some((held, holder)) = holders.get_key_value(name.key()) {
            let same_client = token.is_some() && holder.token.as_deref() == token;
            if !same_client {
                return Err(Taken);
            }
            let held = Arc::clone(&held.0);
            if let Some(holder) = holders.get_mut(name.key()) {
                holder.connections += 1;
            }
            return Ok(held);
        }
        let held = Arc::new(name);
        let holder = Holder {
            token: token.map(str::to_owned),
            connections: 1,
        };
        holders.insert(ByKey(Arc::clone(&held)), holder);
        Ok(held)
    }

    /// Unregisters one connection of `name`. Returns whether it was the last.
    pub(crate) fn disconnect(&self, name: &Name) -> bool {
        let mut holders = self.lock();
        let Some(holder) = holders.get_mut(name.key()) else {
            return false;
        };
        holder.connections = holder.connections.saturating_sub(1);
        if holder.connections > 0 {
            return false;
        }
        holders.remove(name.key());
        drop(holders);
        if self.evicting.load(Ordering::Acquire) {
            let mut evictions = self.lock_evictions();
            evictions.remove(name.key());
            self.evicting
                .store(!evictions.is_empty(), Ordering::Release);
        }
        true
    }

    /// Puts out every connection here of the name `target` (as spelled or
    /// a look-alike) from before now, if it has any.
    pub(crate) fn evict(&self, target: &str, eviction: Eviction) {
        let key = protocol::name_key(target);
        if !self.lock().contains_key(key.as_str()) {
            return;
        }
        let epoch = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
        self.lock_evictions()
            .insert(key, (Arc::new(eviction), epoch));
        self.evicting.store(true, Ordering::Release);
    }

    /// Closes the connections the session or token `credential` (its id)
    /// let in, on their next tick.
    pub(crate) fn revoke(&self, credential: &str) {
        let now = Instant::now();
        let mut revoked = self.lock_revoked();
        revoked.retain(|_, at| now.saturating_duration_since(*at) < REVOKED_KEPT);
        revoked.insert(credential.to_owned(), now);
        self.revoking.store(true, Ordering::Release);
    }

    /// Whether `credential` was revoked lately.
    pub(crate) fn is_revoked(&self, credential: &str) -> bool {
        self.revoking.load(Ordering::Acquire) && self.lock_revoked().contains_key(credential)
    }

    fn lock_revoked(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.revoked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The count of evictions so far: what a connection coming in now
    /// keeps (see [`Names::eviction`]).
    pub(crate) fn epoch(&self) -> u32 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Why `name`'s connection that came in at `since` (an
    /// [`Names::epoch`]) must go, if it was put out after.
    pub(crate) fn eviction(&self, name: &Name, since: u32) -> Option<Arc<Eviction>> {
        if !self.evicting.load(Ordering::Acquire) {
            return None;
        }
        match self.lock_evictions().get(name.key()) {
            Some((eviction, epoch)) if *epoch > since => Some(Arc::clone(eviction)),
            _ => None,
        }
    }

    fn lock_evictions(&self) -> MutexGuard<'_, HashMap<String, (Arc<Eviction>, u32)>> {
        self.evictions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The guest's browser holding `name` here, if a guest's browser does.
    pub(crate) fn browser_of(&self, name: &str) -> Option<[u8; 16]> {
        let holders = self.lock();
        let (held, _) = holders.get_key_value(protocol::name_key(name).as_str())?;
        held.0.browser()
    }

    /// Whether `name` has a connection on this instance.
    pub(crate) fn is_held_here(&self, name: &str) -> bool {
        self.lock().contains_key(protocol::name_key(name).as_str())
    }

    /// Whether `name` is held here by another holder than `token` (by
    /// anyone, for `None`).
    pub(crate) fn is_held_by_other(&self, name: &str, token: Option<&str>) -> bool {
        self.lock()
            .get(protocol::name_key(name).as_str())
            .is_some_and(|holder| token.is_none() || holder.token.as_deref() != token)
    }

    /// The names connected to this instance, with their tokens.
    pub(crate) fn held_here(&self) -> Vec<(Arc<Name>, Option<String>)> {
        self.lock()
            .iter()
            .map(|(name, holder)| (Arc::clone(&name.0), holder.token.clone()))
            .collect()
    }

    /// How many connections hold names here.
    pub(crate) fn connections(&self) -> usize {
        self.lock().values().map(|holder| holder.connections).sum()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ByKey, Holder>> {
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
        let alice = names
            .connect("alice", Some("t1"), false, None)
            .expect("free");
        let again = names
            .connect("alice", Some("t1"), false, None)
            .expect("second tab");
        assert!(Arc::ptr_eq(&alice, &again), "one name, shared");
        assert_eq!(names.connect("Alice", Some("t2"), false, None), Err(Taken));
        assert_eq!(names.connect("ALICE", None, false, None), Err(Taken));
        names.connect("bob", None, false, None).expect("free");
        assert_eq!(names.connections(), 3);
        assert!(names.is_held_here("BOB"));
        assert!(
            names.is_held_here("\u{FF42}\u{43E}b"),
            "fullwidth b, Cyrillic o"
        );
        assert_eq!(
            names.connect("\u{430}lice", Some("t2"), false, None),
            Err(Taken)
        );
        assert!(!names.disconnect(&alice));
        assert!(names.disconnect(&alice), "last tab closed");
        let alice = names
            .connect("Alice", Some("t2"), false, None)
            .expect("free again");
        assert_eq!(alice.as_str(), "Alice");
        // Without a token a name cannot be shared, not even with itself.
        assert_eq!(names.connect("bob", None, false, None), Err(Taken));
    }

    #[test]
    fn the_author_key_is_the_name_s_and_the_browser_s() {
        let names = Names::default();
        let alice = names
            .connect("Alice", Some("t1"), false, None)
            .expect("free");
        let key = alice.author_key().expect("a token");
        assert_eq!(key.len(), 32);
        assert!(!key.contains("t1"));
        names.disconnect(&alice);
        let again = names
            .connect("alice", Some("t1"), false, None)
            .expect("free");
        let same = again.author_key();
        assert_eq!(same.as_ref(), Some(&key), "case does not matter");
        names.disconnect(&again);
        let other_browser = names
            .connect("alice", Some("t2"), false, None)
            .expect("free");
        assert_ne!(other_browser.author_key().as_ref(), Some(&key));
        let bob = names.connect("bob", Some("t1"), false, None).expect("free");
        assert_ne!(bob.author_key(), Some(key), "same token, other name");
        assert_eq!(
            names
                .connect("carol", None, false, None)
                .expect("free")
                .author_key(),
            None
        );
    }
}
