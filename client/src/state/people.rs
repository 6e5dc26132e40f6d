//! Who is in one room, who is typing, and the join and leave notices.

use std::rc::Rc;

/// "is typing" shows this long after the last `typing` frame: a little more
/// than the interval at which the server relays them.
pub const TYPING_SHOWN_MS: f64 = protocol::TYPING_INTERVAL_MS as f64 + 1_500.0;
/// Join and leave notices kept in the list.
const NOTICES_KEPT: usize = 50;

/// A line of the list between messages: who came and went, or a
/// moderator's action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceNotice {
    /// Unique among notices, for keyed rendering.
    pub seq: u64,
    pub what: Notice,
    /// The newest message id when it happened: it shows after that message.
    pub after_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Everyone who joined and left since the last message, in one line
    /// ("bob and carol joined, dave left"; the component words it): a
    /// reload, a leave and a join, is no line at all.
    People {
        joined: Vec<String>,
        left: Vec<String>,
    },
    /// A moderator's action (the component words it; a mute is shown to
    /// the muted alone, who reads it as about them).
    Moderated {
        action: protocol::ModAction,
        by: String,
        target: Option<String>,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct People {
    /// Who is in the room, sorted (at most the names the server sent).
    pub online_users: Rc<Vec<String>>,
    /// Which of them are claimed names, marked as members.
    pub members: Rc<Vec<String>>,
    /// How many are in the room, names known or not.
    pub online_count: usize,
    /// Who is typing, and since when (ms since the epoch).
    pub typing: Rc<Vec<(String, f64)>>,
    /// Who joined and left, and moderators' actions, each placed after the
    /// newest message of the time.
    pub notices: Rc<Vec<PresenceNotice>>,
}

impl People {
    /// An `online` frame: the list as it is now.
    pub fn online(&mut self, users: Vec<String>, members: Vec<String>, count: usize) {
        let mut sorted = Vec::with_capacity(users.len());
        for user in users {
            insert_name(&mut sorted, user);
        }
        self.online_users = Rc::new(sorted);
        self.members = Rc::new(members);
        self.online_count = count;
    }

    /// A `presence` frame; `newest` is the newest message id, where the
    /// notices go.
    pub fn presence(
        &mut self,
        joined: Vec<String>,
        left: Vec<String>,
        members: Vec<String>,
        count: usize,
        newest: Option<u64>,
    ) {
        self.online_count = count;
        if !left.is_empty() || !members.is_empty() {
            let known = Rc::make_mut(&mut self.members);
            known.retain(|member| !left.contains(member));
            known.extend(members);
        }
        let mut went = Vec::new();
        for user in left {
            if self.online_users.contains(&user) {
                Rc::make_mut(&mut self.online_users).retain(|u| *u != user);
                self.stop_typing(&user);
                went.push(user);
            }
        }
        let mut came = Vec::new();
        for user in joined {
            if !self.online_users.contains(&user) {
                insert_name(Rc::make_mut(&mut self.online_users), user.clone());
                came.push(user);
            }
        }
        if !came.is_empty() || !went.is_empty() {
            self.comings_and_goings(came, went, newest);
        }
    }

    /// Adds who `came` and `went` to the line after message `after_id`
    /// when there is one already, else starts it: one who left and came
    /// back (a reload) cancels out.
    fn comings_and_goings(&mut self, came: Vec<String>, went: Vec<String>, after_id: Option<u64>) {
        let last = Rc::make_mut(&mut self.notices)
            .last_mut()
            .filter(|notice| notice.after_id == after_id);
        let Some(PresenceNotice {
            what: Notice::People { joined, left },
            ..
        }) = last
        else {
            self.notice(
                Notice::People {
                    joined: came,
                    left: went,
                },
                after_id,
            );
            return;
        };
        for user in went {
            match joined.iter().position(|u| *u == user) {
                Some(at) => {
                    joined.remove(at);
                }
                None => left.push(user),
            }
        }
        for user in came {
            match left.iter().position(|u| *u == user) {
                Some(at) => {
                    left.remove(at);
                }
                None => joined.push(user),
            }
        }
        if joined.is_empty() && left.is_empty() {
            Rc::make_mut(&mut self.notices).pop();
        }
    }

    /// Nobody is known to be here or typing while offline.
    pub fn forget(&mut self) {
        self.online_users = Rc::default();
        self.online_count = 0;
        self.typing = Rc::default();
    }

    pub fn typing(&mut self, user: String, now: f64) {
        let typing = Rc::make_mut(&mut self.typing);
        match typing.iter_mut().find(|(u, _)| *u == user) {
            Some(entry) => entry.1 = now,
            None => typing.push((user, now)),
        }
    }

    pub fn stop_typing(&mut self, user: &str) {
        if self.typing.iter().any(|(u, _)| u == user) {
            Rc::make_mut(&mut self.typing).retain(|(u, _)| u != user);
        }
    }

    /// Whether someone's "is typing" runs out at `now`.
    pub fn typing_expires(&self, now: f64) -> bool {
        self.typing
            .iter()
            .any(|(_, since)| now - since >= TYPING_SHOWN_MS)
    }

    pub fn expire_typing(&mut self, now: f64) {
        if self.typing_expires(now) {
            Rc::make_mut(&mut self.typing).retain(|(_, since)| now - since < TYPING_SHOWN_MS);
        }
    }

    /// Who else is typing.
    pub fn typing_users(&self, me: Option<&str>) -> Vec<&str> {
        self.typing
            .iter()
            .map(|(user, _)| user.as_str())
            .filter(|user| Some(*user) != me)
            .collect()
    }

    /// A line of the list: placed after message `after_id`.
    pub fn notice(&mut self, what: Notice, after_id: Option<u64>) {
        let seq = self.notices.last().map_or(0, |n| n.seq + 1);
        let notices = Rc::make_mut(&mut self.notices);
        notices.push(PresenceNotice {
            seq,
            what,
            after_id,
        });
        if notices.len() > NOTICES_KEPT {
            notices.remove(0);
        }
    }
}

/// Adds `user` to the online list, which is kept in order by name, ignoring
/// case. The lists are short (the server sends at most
/// [`protocol::PRESENCE_NAMES_MAX`] names), so inserting in place beats
/// carrying a sort routine in the client.
fn insert_name(users: &mut Vec<String>, user: String) {
    let folded = crate::lower::lower;
    let key = folded(&user);
    let at = users.partition_point(|u| folded(u) <= key);
    users.insert(at, user);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| (*name).to_owned()).collect()
    }

    #[test]
    fn the_online_list_is_ordered_by_name_ignoring_case() {
        let mut people = People::default();
        people.online(
            names(&["dave", "Carol", "bob", "Alice", "Émile", "eve"]),
            vec![],
            6,
        );
        people.presence(names(&["Bea", "zoe", "Aaron"]), vec![], vec![], 9, None);
        assert_eq!(
            *people.online_users,
            ["Aaron", "Alice", "Bea", "bob", "Carol", "dave", "eve", "zoe", "Émile"]
        );
        assert_eq!(people.online_count, 9);
    }

    #[test]
    fn presence_follows_online_joined_and_left() {
        let mut people = People::default();
        people.online(names(&["carol", "alice"]), names(&["carol"]), 2);
        people.presence(
            names(&["Bob"]),
            names(&["carol"]),
            names(&["Bob"]),
            2,
            Some(1),
        );
        // Already known: no second notice.
        people.presence(
            names(&["Bob", "alice"]),
            names(&["dave"]),
            vec![],
            2,
            Some(1),
        );
        assert_eq!(*people.online_users, ["alice", "Bob"]);
        assert_eq!(*people.members, ["Bob"], "carol's mark left with her");
        assert_eq!(
            *people.notices,
            [PresenceNotice {
                seq: 0,
                what: Notice::People {
                    joined: names(&["Bob"]),
                    left: names(&["carol"]),
                },
                after_id: Some(1),
            }],
            "one line for the comings and goings after message 1"
        );
        people.forget();
        assert!(people.online_users.is_empty());
    }

    #[test]
    fn comings_and_goings_between_two_messages_are_one_line_and_a_reload_none() {
        let mut people = People::default();
        people.online(names(&["alice", "bob"]), vec![], 2);
        // bob reloads: gone, back; nothing to say.
        people.presence(vec![], names(&["bob"]), vec![], 1, Some(4));
        people.presence(names(&["bob"]), vec![], vec![], 2, Some(4));
        assert!(people.notices.is_empty(), "{:?}", people.notices);
        // Three come and one goes before the next message: one line.
        for user in ["carol", "dave", "erin"] {
            people.presence(names(&[user]), vec![], vec![], 3, Some(4));
        }
        people.presence(vec![], names(&["alice"]), vec![], 4, Some(4));
        // After a message, a new line.
        people.presence(vec![], names(&["dave"]), vec![], 3, Some(5));
        let lines: Vec<(Notice, Option<u64>)> = people
            .notices
            .iter()
            .map(|n| (n.what.clone(), n.after_id))
            .collect();
        assert_eq!(
            lines,
            [
                (
                    Notice::People {
                        joined: names(&["carol", "dave", "erin"]),
                        left: names(&["alice"]),
                    },
                    Some(4)
                ),
                (
                    Notice::People {
                        joined: vec![],
                        left: names(&["dave"]),
                    },
                    Some(5)
                ),
            ]
        );
    }

    #[test]
    fn typing_shows_for_others_and_expires() {
        let mut people = People::default();
        people.typing("bob".into(), 1_000.0);
        people.typing("alice".into(), 1_000.0);
        assert_eq!(people.typing_users(Some("alice")), ["bob"]);
        assert!(!people.typing_expires(1_000.0 + TYPING_SHOWN_MS - 1.0));
        people.expire_typing(1_000.0 + TYPING_SHOWN_MS);
        assert!(people.typing_users(None).is_empty());
    }
}
