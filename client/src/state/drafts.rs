//! What the composer holds in each room, kept across reloads: the text
//! being written, and whether it answers a message or edits one of ours.
//! (A half-written message, a reply or an edit once followed its writer
//! into the next room, where Enter posted it there.)
//!
//! Two keys per room, written by their two owners (the composer its text,
//! the page what the text is for), so neither reads the other's to write.

use gloo::storage::{LocalStorage, Storage};

/// What the composer is writing.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Draft {
    #[default]
    New,
    /// A reply to message `id` by `user`, which begins `excerpt`.
    Reply {
        id: u64,
        user: String,
        excerpt: String,
    },
    /// New text for our message `id`, which reads `original`.
    Edit { id: u64, original: String },
}

impl Draft {
    /// As kept: `r`, id, user, excerpt or `e`, id, original, apart by
    /// tabs (neither a name nor an id holds one; the last field may);
    /// `None` for a new message.
    fn encode(&self) -> Option<String> {
        match self {
            Self::New => None,
            Self::Reply { id, user, excerpt } => Some(format!("r\t{id}\t{user}\t{excerpt}")),
            Self::Edit { id, original } => Some(format!("e\t{id}\t{original}")),
        }
    }

    /// Read back; anything else is a new message.
    fn decode(kept: &str) -> Self {
        let read = || {
            let (kind, rest) = kept.split_once('\t')?;
            let (id, rest) = rest.split_once('\t')?;
            let id = id.parse().ok()?;
            match kind {
                "r" => {
                    let (user, excerpt) = rest.split_once('\t')?;
                    Some(Self::Reply {
                        id,
                        user: user.to_owned(),
                        excerpt: excerpt.to_owned(),
                    })
                }
                "e" => Some(Self::Edit {
                    id,
                    original: rest.to_owned(),
                }),
                _ => None,
            }
        };
        read().unwrap_or_default()
    }
}

fn text_key(room: &str) -> String {
    format!("chat.draft.{room}")
}

fn mode_key(room: &str) -> String {
    format!("chat.draft-for.{room}")
}

/// The text being written in `room`.
pub fn load_text(room: &str) -> String {
    crate::json::stored_string(&text_key(room)).unwrap_or_default()
}

/// Keeps the text being written in `room` (an empty one is forgotten).
/// Best effort: a full storage loses a draft, never a message.
pub fn save_text(room: &str, text: &str) {
    if text.is_empty() {
        LocalStorage::delete(text_key(room));
    } else {
        let _ = LocalStorage::set(text_key(room), text);
    }
}

/// What the text in `room` is for.
pub fn load_mode(room: &str) -> Draft {
    crate::json::stored_string(&mode_key(room)).map_or(Draft::New, |kept| Draft::decode(&kept))
}

/// Keeps what the text in `room` is for.
pub fn save_mode(room: &str, mode: &Draft) {
    match mode.encode() {
        None => LocalStorage::delete(mode_key(room)),
        Some(kept) => {
            let _ = LocalStorage::set(mode_key(room), kept);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_s_purpose_is_read_back_as_kept() {
        let cases = [
            Draft::New,
            Draft::Reply {
                id: 12,
                user: "bob".into(),
                excerpt: "a\ttab and more…".into(),
            },
            Draft::Edit {
                id: u64::MAX,
                original: "line one\nline\ttwo".into(),
            },
        ];
        for draft in cases {
            let back = draft
                .encode()
                .map_or(Draft::New, |kept| Draft::decode(&kept));
            assert_eq!(back, draft);
        }
        for junk in ["", "x\t1", "r\tnot-a-number\tbob\thi", "r\t3\tbob"] {
            assert_eq!(Draft::decode(junk), Draft::New, "{junk:?}");
        }
    }
}
