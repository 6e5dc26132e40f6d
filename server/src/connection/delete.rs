//! `delete`: take one of this browser's messages back; its text leaves the
//! log, a tombstone stays.

use super::ended::Ended;
use super::{change, Session};
use crate::events::Change;

pub(super) fn handle(session: &mut Session, room: Option<&str>, id: u64) -> Result<(), Ended> {
    change::begin(session, room, id, Change::Delete)
}
