//! `edit`: replace the text of one of this browser's messages.

use protocol::mentions;

use super::ended::Ended;
use super::{change, Session};
use crate::events::Change;

/// The new text (validated and trimmed by the protocol) is read for
/// mentions again, as a post's is.
pub(super) fn handle(
    session: &mut Session,
    room: Option<&str>,
    id: u64,
    msg: String,
) -> Result<(), Ended> {
    let mentions = mentions(&msg);
    change::begin(session, room, id, Change::Edit { msg, mentions })
}
