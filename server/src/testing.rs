//! For tests of other crates (feature `testing`): what they need of the
//! server beyond [`crate::run`].

use std::path::Path;

use crate::events::{Author, NewEvent, NewMessage, Stamped};
use crate::store::Store;
use crate::StartError;

/// Fills `room` of the database at `db` (created if need be) with `count`
/// messages of `user`'s, `old message 1` to `old message {count}`, all
/// posted at `at` (ms since the epoch): a long history, written faster
/// than a client could post it.
pub fn seed_history(
    db: &Path,
    room: &str,
    user: &str,
    count: usize,
    at: i64,
) -> Result<(), StartError> {
    let mut store = Store::open(db, room)?;
    let batch: Vec<Stamped> = (1..=count)
        .map(|n| Stamped {
            event: NewEvent::Post(NewMessage {
                room: room.into(),
                author: Author {
                    user: user.into(),
                    key: None,
                    guest_keys: Vec::new(),
                    claimed: false,
                },
                msg: format!("old message {n}"),
                client_id: format!("seed-{n}"),
                reply_to: None,
                mentions: Vec::new(),
            }),
            at,
        })
        .collect();
    store.append(&batch)?;
    Ok(())
}
