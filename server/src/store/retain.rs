//! `--retain-days` on SQLite: a room's oldest messages go, with what
//! was about them (edits, deletions, reactions) and their words in the
//! search index, as a deletion takes a message's text. Replies to them
//! stay, quoting a message that is no longer there (as deleted). A
//! moderator's actions stay: they are the room's audit.

use rusqlite::{params, Transaction};

use super::{search, StoreError};

/// Removes at most `limit` messages posted before `before`, the oldest of
/// each room first (a room's messages are in time order: one writer
/// stamps them). Answers how many went.
pub(super) fn remove_before(
    tx: &Transaction<'_>,
    before: i64,
    limit: usize,
) -> Result<usize, StoreError> {
    let rooms: Vec<i64> = tx
        .prepare("SELECT id FROM rooms ORDER BY id")?
        .query_map([], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut removed = 0;
    for room in rooms {
        let left = limit.saturating_sub(removed);
        if left == 0 {
            break;
        }
        // The oldest by the primary key, read until the first to keep.
        let oldest: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT seq, date_time FROM events WHERE room = ?1 AND kind = 'message'
                 ORDER BY seq LIMIT ?2",
            )?
            .query_map(
                params![room, i64::try_from(left).unwrap_or(i64::MAX)],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<Result<_, _>>()?;
        for (seq, _) in oldest.iter().take_while(|(_, at)| *at < before) {
            search::remove(tx, room, *seq)?;
            tx.prepare_cached("DELETE FROM reactions WHERE room = ?1 AND message = ?2")?
                .execute(params![room, seq])?;
            tx.prepare_cached(
                "DELETE FROM events WHERE room = ?1 AND target = ?2
                 AND kind IN ('edit', 'delete', 'react', 'unreact')",
            )?
            .execute(params![room, seq])?;
            tx.prepare_cached("DELETE FROM events WHERE room = ?1 AND seq = ?2")?
                .execute(params![room, seq])?;
            removed += 1;
        }
    }
    Ok(removed)
}
