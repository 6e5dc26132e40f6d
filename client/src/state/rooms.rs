//! One room as the sidebar and the page see it, and the list of rooms this
//! browser has joined, kept in localStorage.

use gloo::storage::{LocalStorage, Storage};
use protocol::JsonValue;
use serde::{Serialize, Serializer};

use crate::json;

use super::messages::Messages;
use super::people::People;

/// Where a room is in joining it on the current connection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Joining {
    /// To be joined as soon as the socket can.
    Wanted,
    /// Asked for; its history has not come yet.
    Sent,
    /// Its history came: frames about it flow.
    Joined,
    /// The server asked to wait (rate limited) until then (ms since the
    /// epoch).
    RetryAt(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RoomState {
    /// Its canonical name, as the server spells it in frames.
    pub name: String,
    pub messages: Messages,
    pub people: People,
    pub joining: Joining,
    /// Messages from others that arrived while the room was not in view.
    pub unread: u32,
    /// Those of them that mention us.
    pub mentions: u32,
    /// The first of them: where the "new messages" line goes once the room
    /// is opened.
    first_unread: Option<u64>,
    /// Where the "new messages" line is while the room is open.
    pub new_since: Option<u64>,
    /// What moderators left the room with that everyone sees: the
    /// greeting's, with each `moderated` event applied.
    pub rules: protocol::ShownRules,
    /// We moderate it.
    pub moderator: bool,
    /// We are muted here, as far as this page has heard (told by the
    /// mute, or by a refused message after a reload).
    pub muted: Option<Mute>,
    /// Opened on this page and not joined yet: the server does not know
    /// of it, so a claimed name's list in the next welcome keeps it.
    pub opened_here: bool,
}

/// A mute of ours: when it ends, who, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Mute {
    /// Ms since the epoch; `None`: for good.
    pub until: Option<f64>,
    pub by: Option<String>,
    pub reason: Option<String>,
}

impl Mute {
    /// Whether it still holds at `now`.
    pub fn holds(&self, now: f64) -> bool {
        self.until.is_none_or(|until| until > now)
    }

    /// Whole minutes left at `now`, counting a started one (0: over;
    /// `None`: for good).
    pub fn minutes_left(&self, now: f64) -> Option<i64> {
        self.until
            .map(|until| ((until - now).max(0.0) / 60_000.0).ceil() as i64)
    }
}

impl RoomState {
    pub fn new(name: String) -> Self {
        Self {
            name,
            messages: Messages::default(),
            people: People::default(),
            joining: Joining::Wanted,
            unread: 0,
            mentions: 0,
            first_unread: None,
            new_since: None,
            rules: protocol::ShownRules::default(),
            moderator: false,
            muted: None,
            opened_here: false,
        }
    }

    /// A message from someone else arrived while the room was not in view
    /// (`mentioned`: it mentions us).
    pub fn unseen(&mut self, id: u64, mentioned: bool) {
        self.unread += 1;
        if mentioned {
            self.mentions += 1;
        }
        self.first_unread.get_or_insert(id);
    }

    /// The room comes into view: what was unread is marked with the line.
    pub fn seen(&mut self) {
        if self.first_unread.is_some() {
            self.new_since = self.first_unread.take();
        }
        self.unread = 0;
        self.mentions = 0;
    }

    /// Nothing is unread (what an earlier visit kept was read then).
    pub fn forget_unread(&mut self) {
        self.unread = 0;
        self.mentions = 0;
        self.first_unread = None;
    }

    /// The room goes out of view: the line goes with it.
    pub fn left_view(&mut self) {
        self.new_since = None;
    }
}

/// When a room raises a desktop notification: kept per browser and room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Notify {
    /// Every message from someone else.
    All,
    /// Messages that mention us.
    #[default]
    Mentions,
    Nothing,
}

impl Notify {
    pub const ALL: [Self; 3] = [Self::All, Self::Mentions, Self::Nothing];

    /// How it is stored.
    pub fn wire(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Mentions => "mentions",
            Self::Nothing => "nothing",
        }
    }
}

impl Serialize for Notify {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.wire())
    }
}

/// The room to show after leaving `left` while it was on screen: the one
/// after it in `rooms` (the sidebar's order), else the one before; `None`:
/// none is left but the server's default room.
pub fn after_leaving<'a>(rooms: &'a [RoomState], left: &str) -> Option<&'a str> {
    let at = rooms.iter().position(|room| room.name == left)?;
    (rooms.get(at + 1))
        .or_else(|| at.checked_sub(1).and_then(|before| rooms.get(before)))
        .map(|room| room.name.as_str())
}

fn notify_key(user: &str) -> String {
    format!("chat.notify.{user}")
}

/// Each room's notification level that `user` chose in this browser.
pub fn load_notify(user: &str) -> Vec<(String, Notify)> {
    json::stored(&notify_key(user))
        .map(|kept| read_notify(&kept))
        .unwrap_or_default()
}

/// The levels as `save_notify` wrote them: `[["rust","all"], ...]`.
fn read_notify(kept: &impl JsonValue) -> Vec<(String, Notify)> {
    let Some(pairs) = kept.items() else {
        return Vec::new();
    };
    pairs
        .filter_map(|pair| {
            let [room, level] = <[String; 2]>::try_from(json::strings(&pair)).ok()?;
            let level = Notify::ALL
                .into_iter()
                .find(|known| known.wire() == level)?;
            Some((room, level))
        })
        .collect()
}

pub fn save_notify(user: &str, levels: &[(String, Notify)]) {
    if LocalStorage::set(notify_key(user), levels).is_err() {
        gloo::console::warn!("cannot store the notification levels");
    }
}

fn rooms_key(user: &str) -> String {
    format!("chat.rooms.{user}")
}

const HOME_KEY: &str = "chat.home";

/// The rooms `user` had joined in this browser, in the sidebar's order.
pub fn load(user: &str) -> Vec<String> {
    json::stored(&rooms_key(user))
        .map(|kept| json::strings(&kept))
        .unwrap_or_default()
}

pub fn save(user: &str, rooms: &[String]) {
    if LocalStorage::set(rooms_key(user), rooms).is_err() {
        gloo::console::warn!("cannot store the list of rooms");
    }
}

/// The server's default room, as last learned (what `/` opens).
pub fn load_home() -> Option<String> {
    json::stored_string(HOME_KEY)
}

pub fn save_home(home: &str) {
    let _ = LocalStorage::set(HOME_KEY, home);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> Vec<RoomState> {
        names
            .iter()
            .map(|name| RoomState::new((*name).to_owned()))
            .collect()
    }

    #[test]
    fn leaving_the_room_on_screen_moves_to_its_neighbour() {
        let rooms = named(&["lobby", "rust", "闲聊"]);
        assert_eq!(after_leaving(&rooms, "rust"), Some("闲聊"));
        assert_eq!(after_leaving(&rooms, "闲聊"), Some("rust"));
        assert_eq!(after_leaving(&rooms, "lobby"), Some("rust"));
        assert_eq!(after_leaving(&named(&["lobby"]), "lobby"), None);
        assert_eq!(after_leaving(&rooms, "go"), None);
    }

    #[test]
    fn notification_levels_read_back_as_stored() {
        let levels = vec![
            ("rust".to_owned(), Notify::All),
            ("闲聊".to_owned(), Notify::Nothing),
            ("lobby".to_owned(), Notify::Mentions),
        ];
        let stored = serde_json::to_string(&levels).expect("JSON");
        assert_eq!(
            stored,
            r#"[["rust","all"],["闲聊","nothing"],["lobby","mentions"]]"#
        );
        let kept: serde_json::Value = serde_json::from_str(&stored).expect("JSON");
        assert_eq!(read_notify(&&kept), levels);
        let odd: serde_json::Value =
            serde_json::from_str(r#"[["rust","loud"],["go"],7,["go","all"]]"#).expect("JSON");
        assert_eq!(read_notify(&&odd), [("go".to_owned(), Notify::All)]);
    }
}
