//! Messages not yet confirmed, kept in localStorage so a reload or a closed
//! tab does not lose what the user wrote.

use gloo::storage::{LocalStorage, Storage};

use crate::room_state::Outgoing;

fn key(user: &str) -> String {
    format!("chat.outbox.{user}")
}

/// What `user` wrote and the server had not confirmed when the page last ran.
pub fn load(user: &str) -> Vec<Outgoing> {
    match LocalStorage::get::<Vec<Outgoing>>(key(user)) {
        Ok(outbox) => outbox,
        Err(gloo::storage::errors::StorageError::KeyNotFound(_)) => Vec::new(),
        Err(error) => {
            gloo::console::warn!(format!("ignoring an unreadable outbox: {error}"));
            Vec::new()
        }
    }
}

pub fn save(user: &str, outbox: &[Outgoing]) {
    if outbox.is_empty() {
        LocalStorage::delete(key(user));
    } else if let Err(error) = LocalStorage::set(key(user), outbox) {
        gloo::console::warn!(format!("cannot store unsent messages: {error}"));
    }
}
