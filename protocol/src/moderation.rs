//! Moderation: every action a moderator takes ([`ModAction`]) and what it
//! leaves a room with ([`RoomRules`]), in one file. Each fact about an
//! action is a method with an exhaustive match, so a new action is a
//! compile error here, in the one place each decision is made, and in
//! the client's texts for it; the rule it leaves is a field of
//! [`ShownRules`] (everyone in the room sees it: the greeting carries it,
//! the client keeps it whole) or of [`RoomRules`] (the server alone
//! knows it), which both logs store as JSON, so neither the storage nor
//! the greeting's reader changes for a new one.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decode::{Fields, JsonValue};

wire_names! {
    /// What a moderator does (see [`ClientFrame::Moderate`]).
    pub enum ModAction {
        /// Delete any message of the room (`id`).
        Delete = "delete",
        /// The name's sends in the room are refused (`muted`) for a time.
        Mute = "mute",
        Unmute = "unmute",
        /// The name's connections in the room are closed; it may come back.
        Kick = "kick",
        /// The name is refused at the door (a guest's browser too); its
        /// connections are closed. Server-wide.
        Ban = "ban",
        /// The name's connections are closed and the addresses they came
        /// from refuse guests for `durationS` (required): never a claimed
        /// name in good standing. Server-wide.
        BanAddress = "banAddress",
        /// Lifts the name's bans, those of its browser and addresses too.
        Unban = "unban",
        /// Every message of the name in the room is deleted.
        Purge = "purge",
        /// Only moderators post in the room.
        Lock = "lock",
        Unlock = "unlock",
        /// The message (`id`) is pinned: everyone in the room sees it
        /// above the conversation (at most [`PINS_MAX`]; pinning one more
        /// unpins the oldest).
        Pin = "pin",
        Unpin = "unpin",
        /// The claimed name moderates the room (every room, `allRooms`):
        /// admins only.
        Grant = "grant",
        Revoke = "revoke",
    }
}

impl ModAction {
    /// Whether the action is about a name (`target`), rather than a
    /// message (`delete`: `id`) or the room (`lock`, `unlock`).
    pub fn needs_target(self) -> bool {
        match self {
            Self::Delete | Self::Lock | Self::Unlock | Self::Pin | Self::Unpin => false,
            Self::Mute
            | Self::Unmute
            | Self::Kick
            | Self::Ban
            | Self::BanAddress
            | Self::Unban
            | Self::Purge
            | Self::Grant
            | Self::Revoke => true,
        }
    }

    /// Whether the action is about a message (`id`).
    pub fn needs_id(self) -> bool {
        match self {
            Self::Delete | Self::Pin | Self::Unpin => true,
            Self::Mute
            | Self::Unmute
            | Self::Kick
            | Self::Ban
            | Self::BanAddress
            | Self::Unban
            | Self::Purge
            | Self::Lock
            | Self::Unlock
            | Self::Grant
            | Self::Revoke => false,
        }
    }

    /// Whether it takes a `durationS` (how long it holds).
    pub fn timed(self) -> Timed {
        match self {
            Self::Mute | Self::Ban => Timed::Optional,
            Self::BanAddress => Timed::Always,
            Self::Delete
            | Self::Unmute
            | Self::Kick
            | Self::Unban
            | Self::Purge
            | Self::Lock
            | Self::Unlock
            | Self::Grant
            | Self::Pin
            | Self::Unpin
            | Self::Revoke => Timed::Never,
        }
    }

    /// Whether the target's connections are closed (with
    /// [`CLOSE_PUT_OUT`]).
    pub fn puts_out(self) -> bool {
        self.expels().is_some()
    }

    /// How it puts its target out, if it does: what is left banned behind
    /// it and what the target is told depend on that alone, so code that
    /// decides them matches an [`Expulsion`], not every action.
    pub fn expels(self) -> Option<Expulsion> {
        match self {
            Self::Kick => Some(Expulsion::Kick),
            Self::Ban => Some(Expulsion::Ban),
            Self::BanAddress => Some(Expulsion::BanAddress),
            Self::Delete
            | Self::Mute
            | Self::Unmute
            | Self::Unban
            | Self::Purge
            | Self::Lock
            | Self::Unlock
            | Self::Grant
            | Self::Pin
            | Self::Unpin
            | Self::Revoke => None,
        }
    }

    /// Whether it silences its target in the room (`Some(true)`) or lets
    /// it speak again (`Some(false)`): a guest's browser is silenced with
    /// its name (a guest renames, and keeps its browser).
    pub fn silences(self) -> Option<bool> {
        match self {
            Self::Mute => Some(true),
            Self::Unmute => Some(false),
            Self::Kick
            | Self::Ban
            | Self::BanAddress
            | Self::Delete
            | Self::Unban
            | Self::Purge
            | Self::Lock
            | Self::Unlock
            | Self::Grant
            | Self::Pin
            | Self::Unpin
            | Self::Revoke => None,
        }
    }

    /// Whether it locks the room (`Some(true)`: only moderators post) or
    /// unlocks it (`Some(false)`): the room's state every copy of it keeps
    /// (the server's window, both logs, the client).
    pub fn locks(self) -> Option<bool> {
        match self {
            Self::Lock => Some(true),
            Self::Unlock => Some(false),
            Self::Delete
            | Self::Mute
            | Self::Unmute
            | Self::Kick
            | Self::Ban
            | Self::BanAddress
            | Self::Unban
            | Self::Purge
            | Self::Grant
            | Self::Pin
            | Self::Unpin
            | Self::Revoke => None,
        }
    }

    /// Whether it pins its message (`Some(true)`) or unpins it
    /// (`Some(false)`).
    pub fn pins(self) -> Option<bool> {
        match self {
            Self::Pin => Some(true),
            Self::Unpin => Some(false),
            Self::Delete
            | Self::Mute
            | Self::Unmute
            | Self::Kick
            | Self::Ban
            | Self::BanAddress
            | Self::Unban
            | Self::Purge
            | Self::Lock
            | Self::Unlock
            | Self::Grant
            | Self::Revoke => None,
        }
    }

    /// Whether it makes its target a moderator (`Some(true)`) or takes
    /// that back (`Some(false)`).
    pub fn grants(self) -> Option<bool> {
        match self {
            Self::Grant => Some(true),
            Self::Revoke => Some(false),
            Self::Delete
            | Self::Mute
            | Self::Unmute
            | Self::Kick
            | Self::Ban
            | Self::BanAddress
            | Self::Unban
            | Self::Purge
            | Self::Lock
            | Self::Pin
            | Self::Unpin
            | Self::Unlock => None,
        }
    }

    /// What the server carries out before the room hears of it.
    pub fn deed(self) -> Deed {
        match self {
            Self::Delete => Deed::DeleteMessage,
            Self::Purge => Deed::Purge,
            Self::Ban => Deed::Ban,
            Self::Unban => Deed::Unban,
            Self::Grant => Deed::Grant(true),
            Self::Revoke => Deed::Grant(false),
            Self::Pin => Deed::NeedsShownMessage,
            // The connections put out ban their addresses themselves.
            Self::Unpin
            | Self::BanAddress
            | Self::Mute
            | Self::Unmute
            | Self::Kick
            | Self::Lock
            | Self::Unlock => Deed::Nothing,
        }
    }

    /// Who may take it: a moderator of the room, one of every room (what
    /// reaches beyond the room: putting out, bans), or an admin.
    pub fn takes(self) -> Authority {
        match self {
            Self::Delete
            | Self::Mute
            | Self::Unmute
            | Self::Purge
            | Self::Lock
            | Self::Unlock
            | Self::Pin
            | Self::Unpin => Authority::RoomModerator,
            Self::Kick | Self::Ban | Self::BanAddress | Self::Unban => {
                Authority::ModeratorOfEveryRoom
            }
            Self::Grant | Self::Revoke => Authority::Admin,
        }
    }
}

/// How a moderator's action puts its target out (see
/// [`ModAction::expels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expulsion {
    /// Its connections close; it may come back.
    Kick,
    /// The name (and a guest's browser) is refused at the door.
    Ban,
    /// Guests from its address are refused for a time.
    BanAddress,
}

/// Whether a moderator's action takes a `durationS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timed {
    /// It takes none: it holds until undone, or is done at once.
    Never,
    /// For that long, or for good without one.
    Optional,
    /// For that long, always: never for good.
    Always,
}

/// Who may take a moderator's action (each includes those after it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Authority {
    RoomModerator,
    ModeratorOfEveryRoom,
    Admin,
}

/// Most messages pinned in one room.
pub const PINS_MAX: usize = 10;

/// Most characters in a moderator's reason.
pub const REASON_MAX_CHARS: usize = 200;
/// The longest time-limited mute or ban: ten years (longer is for good).
pub const DURATION_MAX_S: u64 = 10 * 365 * 24 * 3600;

/// What the server carries out for an action before it is appended to
/// the room's log (see [`ModAction::deed`]). An action whose rule is all
/// in [`RoomRules`] needs no code of the server's own: its deed is
/// [`Deed::Nothing`], or [`Deed::NeedsShownMessage`] if it is about a
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deed {
    /// Deletes message `id`, whoever posted it (a deletion the room hears
    /// before the action).
    DeleteMessage,
    /// Deletes every message of the target in the room.
    Purge,
    /// Bans the target's name (and a guest's browser).
    Ban,
    /// Lifts the target's bans.
    Unban,
    /// Makes the target a moderator (`true`) or takes it back.
    Grant(bool),
    /// Message `id` must be one the room shows (refused with `not_found`
    /// or `message_deleted` otherwise).
    NeedsShownMessage,
    /// Nothing beyond the log: what follows from the event (the rules, a
    /// put-out, the audit) follows from it on every instance.
    Nothing,
}

/// What moderators' actions leave a room with that everyone in it sees:
/// whether it is locked, which messages are pinned. The greeting carries
/// it (its fields at the top level of `history`), the client keeps it
/// whole and applies each `moderated` event to it with
/// [`ShownRules::apply`], as the server's window and both logs do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShownRules {
    /// Only moderators post.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
    /// Message ids, oldest pin first: at most [`PINS_MAX`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pinned: Vec<u64>,
}

impl ShownRules {
    /// Applies a moderator's `action` about message `id`: what it changes
    /// of what everyone sees.
    pub fn apply(&mut self, action: ModAction, id: Option<u64>) {
        if let Some(locked) = action.locks() {
            self.locked = locked;
        }
        match (action.pins(), id) {
            (Some(true), Some(id)) if !self.pinned.contains(&id) => {
                self.pinned.push(id);
                if self.pinned.len() > PINS_MAX {
                    self.pinned.remove(0);
                }
            }
            (Some(false), Some(id)) => self.pinned.retain(|pinned| *pinned != id),
            (Some(_) | None, _) => {}
        }
    }

    /// Reads them from a greeting's fields, where a field that is absent
    /// (from an older server) reads as its default.
    pub(crate) fn read<V: JsonValue>(f: &mut Fields<'_, V>) -> Self {
        Self {
            locked: f.flag("locked"),
            pinned: f.list_or_empty("pinned", crate::decode::u64),
        }
    }
}

/// What moderators' actions leave a room with: what everyone sees
/// ([`ShownRules`]) and who is muted there until when (the server alone
/// knows; the muted are told). Both logs keep it as this JSON beside the
/// events, written whole, with the shown rules' fields at its top level
/// (`{"locked":true,"mutes":{...},"pinned":[...]}`): a new field is a
/// field here, not a column or a script argument (a field a log's JSON
/// lacks reads as its default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RoomRules {
    #[serde(flatten)]
    pub shown: ShownRules,
    /// By name key (see [`crate::name_key`]): until when, ms since the
    /// epoch (`i64::MAX`: for good).
    pub mutes: BTreeMap<String, i64>,
}

impl RoomRules {
    /// Applies a moderator's `action` about the name keyed `target` (see
    /// [`crate::name_key`]) or message `id`, holding `until` (ms since the
    /// epoch; `None`: for good): the one rule of what an action changes.
    pub fn apply(
        &mut self,
        action: ModAction,
        target: Option<String>,
        id: Option<u64>,
        until: Option<i64>,
    ) {
        self.shown.apply(action, id);
        match (action.silences(), target) {
            (Some(true), Some(key)) => {
                self.mutes.insert(key, until.unwrap_or(i64::MAX));
            }
            (Some(false), Some(key)) => {
                self.mutes.remove(&key);
            }
            (None, _) | (Some(_), None) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_keep_their_order_hold_at_most_ten_and_come_off() {
        let mut rules = RoomRules::default();
        for id in 1..=PINS_MAX as u64 + 2 {
            rules.apply(ModAction::Pin, None, Some(id), None);
        }
        rules.apply(ModAction::Pin, None, Some(5), None);
        let expected: Vec<u64> = (3..=PINS_MAX as u64 + 2).collect();
        assert_eq!(
            rules.shown.pinned, expected,
            "the oldest pins went; a repeat is nothing"
        );
        rules.apply(ModAction::Unpin, None, Some(5), None);
        rules.apply(ModAction::Unpin, None, Some(99), None);
        assert!(!rules.shown.pinned.contains(&5));
        assert_eq!(rules.shown.pinned.len(), PINS_MAX - 1);
        rules.apply(ModAction::Lock, None, Some(3), None);
        assert_eq!(
            rules.shown.pinned.len(),
            PINS_MAX - 1,
            "a lock pins nothing"
        );
        assert!(rules.shown.locked);
    }

    #[test]
    fn the_rules_read_as_the_logs_of_earlier_releases_wrote_them() {
        let stored = r#"{"locked":true,"mutes":{"bob":5},"pinned":[3,1]}"#;
        let rules: RoomRules = serde_json::from_str(stored).expect("rules");
        assert!(rules.shown.locked);
        assert_eq!(rules.shown.pinned, [3, 1]);
        assert_eq!(rules.mutes.get("bob"), Some(&5));
        let written = serde_json::to_value(&rules).expect("json");
        let expected: serde_json::Value = serde_json::from_str(stored).expect("json");
        assert_eq!(written, expected, "written as they were read");
        // Schema 7's migration wrote no pins.
        let migrated: RoomRules =
            serde_json::from_str(r#"{"locked":false,"mutes":{}}"#).expect("rules");
        assert_eq!(migrated, RoomRules::default());
        let empty: RoomRules = serde_json::from_str("{}").expect("rules");
        assert_eq!(empty, RoomRules::default());
    }
}
