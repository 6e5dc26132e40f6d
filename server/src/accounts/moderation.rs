//! Who moderates, and who is banned: kept where names are (the SQLite
//! file, or Redis for every instance), read when a connection comes in or
//! a moderator acts, never on the way of a message.

use std::net::IpAddr;

use super::{AccountError, Accounts, Directory};
use crate::events::{now_ms, Moderation};
use crate::limits::address_key;
use crate::rooms::{MutedBrowser, Name};

/// A ban of a name, of a guest's browser, or of an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ban {
    /// `name:<key>`, `browser:<key>` (a guest's browser, see
    /// `Name::browser_key`) or `address:<address>` (an IPv6 /64 as its
    /// prefix).
    pub(crate) subject: String,
    /// The key of the name banned (an unban lifts its browsers' and
    /// addresses' bans too).
    pub(crate) name: String,
    /// Ms since the epoch; `None`: for good.
    pub(crate) until: Option<i64>,
    pub(crate) reason: Option<String>,
}

fn name_subject(key: &str) -> String {
    format!("name:{key}")
}

fn browser_subject(key: &str) -> String {
    format!("browser:{key}")
}

/// A guest's browser muted in one room: a ban from speaking there.
fn muted_browser_subject(room: &str, browser: &str) -> String {
    format!("mute:{room}{MUTE_SEPARATOR}browser:{browser}")
}

/// What stands for a name muted in `room` among the bans: its unmute
/// lifts the browsers muted with it, and an unban of the name does not.
fn muted_name(room: &str, key: &str) -> String {
    format!("mute:{room}{MUTE_SEPARATOR}{key}")
}

/// Between a room and what is muted in it: a control character, which
/// neither room names nor name keys hold (and Redis keeps a ban's fields
/// apart with tabs).
const MUTE_SEPARATOR: char = '\u{1f}';

fn address_subject(address: IpAddr) -> String {
    format!("address:{}", address_key(address))
}

/// Who comes in, as bans see them: a claimed name answers for itself
/// alone; a guest for its name, its browser and its address.
pub(crate) enum Comer<'a> {
    Claimed {
        key: &'a str,
    },
    Guest {
        key: &'a str,
        browser: Option<&'a str>,
        address: Option<IpAddr>,
    },
}

impl Accounts {
    /// The rooms `name` has joined, oldest first, when it is a claimed
    /// name (a guest's rooms are its browser's alone): they follow it to
    /// every device. Unreadable, none: the page keeps its own list.
    pub(crate) async fn rooms_of(&self, name: &Name) -> Vec<String> {
        if !name.is_claimed() {
            return Vec::new();
        }
        match directory!(self.rooms_of(name.key().to_owned(), self.rooms_kept)) {
            Ok(rooms) => rooms,
            Err(error) => {
                tracing::warn!(%error, "cannot read a name's rooms");
                Vec::new()
            }
        }
    }

    /// Keeps that a claimed `name` joined `room` (`joined`) or left it,
    /// forgetting the rooms joined longest ago beyond `rooms_kept`.
    /// A failure is logged: it never fails the join or the leave.
    pub(crate) async fn keep_room(&self, name: &Name, room: &str, joined: bool) {
        if !name.is_claimed() {
            return;
        }
        let (key, room) = (name.key().to_owned(), room.to_owned());
        let kept = self.rooms_kept;
        if let Err(error) = directory!(self.keep_room(key, room, joined, now_ms(), kept)) {
            tracing::warn!(%error, "cannot keep a name's rooms");
        }
    }

    /// An admin: a claimed name given by `--admin`, signed in.
    pub(crate) fn is_admin(&self, name: &Name) -> bool {
        name.is_claimed() && self.admins.contains(name.key())
    }

    /// Whether `target` (as a moderator typed it) names an admin: nobody
    /// mutes, kicks or bans those.
    pub(crate) fn names_admin(&self, target: &str) -> bool {
        self.admins.contains(&protocol::name_key(target))
    }

    /// Whether the session `identity` is an admin's.
    pub(crate) fn is_admin_session(&self, identity: &super::Identity) -> bool {
        identity.claimed && self.admins.contains(&protocol::name_key(&identity.name))
    }

    /// Whether `name` may moderate `room`: an admin, or a claimed name
    /// made moderator of the room or of every room.
    pub(crate) async fn may_moderate(&self, name: &Name, room: &str) -> Result<bool, AccountError> {
        if !name.is_claimed() {
            return Ok(false);
        }
        if self.is_admin(name) {
            return Ok(true);
        }
        let (key, room) = (name.key().to_owned(), room.to_owned());
        Ok(directory!(self.is_moderator(key, room))?)
    }

    /// Makes the claimed name `target` a moderator of `room` (of every
    /// room: `None`), or takes it back (`on` false).
    pub(crate) async fn set_moderator(
        &self,
        target: &str,
        room: Option<&str>,
        on: bool,
    ) -> Result<(), AccountError> {
        let account = self
            .claimed(target)
            .await?
            .ok_or(AccountError::NotClaimed)?;
        let key = protocol::name_key(&account.name);
        let room = room.unwrap_or_default().to_owned();
        Ok(directory!(self.set_moderator(key, room, on))?)
    }

    /// Bans the name `target` until `until` (for good: `None`).
    pub(crate) async fn ban_name(
        &self,
        target: &str,
        until: Option<i64>,
        reason: Option<String>,
    ) -> Result<(), AccountError> {
        let key = protocol::name_key(target);
        let ban = Ban {
            subject: name_subject(&key),
            name: key,
            until,
            reason,
        };
        Ok(directory!(self.ban(ban))?)
    }

    /// Bans the browser `browser` (a guest's key) of the name keyed
    /// `name`, banned by `moderation`: as long as the name.
    pub(crate) async fn ban_browser(
        &self,
        name: &str,
        browser: &str,
        moderation: &Moderation,
    ) -> Result<(), AccountError> {
        self.ban_with(browser_subject(browser), name, moderation)
            .await
    }

    /// Bans `address`, which the name keyed `name` came from when
    /// `moderation` (a `banAddress`, always timed) put it out: guests
    /// from there are refused until then.
    pub(crate) async fn ban_address(
        &self,
        name: &str,
        address: IpAddr,
        moderation: &Moderation,
    ) -> Result<(), AccountError> {
        self.ban_with(address_subject(address), name, moderation)
            .await
    }

    /// Bans `subject` for the name keyed `name`, as long as `moderation`
    /// says, with its reason.
    async fn ban_with(
        &self,
        subject: String,
        name: &str,
        moderation: &Moderation,
    ) -> Result<(), AccountError> {
        let ban = Ban {
            subject,
            name: name.to_owned(),
            until: moderation.until,
            reason: moderation.reason.clone(),
        };
        Ok(directory!(self.ban(ban))?)
    }

    /// Lifts the ban of the name `target` and of the addresses it used.
    pub(crate) async fn unban(&self, target: &str) -> Result<(), AccountError> {
        let key = protocol::name_key(target);
        Ok(directory!(self.unban(key))?)
    }

    /// Keeps `muted`: the guest's browser stays muted in the room under
    /// any name, until then or until the name is unmuted.
    pub(crate) async fn mute_browser(&self, muted: &MutedBrowser) -> Result<(), AccountError> {
        let ban = Ban {
            subject: muted_browser_subject(&muted.room, &muted.browser),
            name: muted_name(&muted.room, &muted.name),
            until: Some(muted.until).filter(|until| *until < i64::MAX),
            reason: None,
        };
        Ok(directory!(self.ban(ban))?)
    }

    /// The mute of the guest's `browser` in `room`, if one holds now.
    pub(crate) async fn browser_muted(
        &self,
        room: &str,
        browser: &str,
    ) -> Result<Option<MutedBrowser>, AccountError> {
        let subject = muted_browser_subject(room, browser);
        let now = super::now_ms();
        let bans = directory!(self.bans(vec![subject]))?;
        let prefix = muted_name(room, "");
        Ok(bans.into_iter().find_map(|ban| {
            let until = ban.until.unwrap_or(i64::MAX);
            let name = ban.name.strip_prefix(&prefix)?.to_owned();
            (until > now).then(|| MutedBrowser {
                room: room.to_owned(),
                name,
                browser: browser.to_owned(),
                until,
            })
        }))
    }

    /// Lifts the mutes of the browsers muted in `room` with the name
    /// `target`: it was unmuted.
    pub(crate) async fn unmute_browsers(
        &self,
        room: &str,
        target: &str,
    ) -> Result<(), AccountError> {
        let name = muted_name(room, &protocol::name_key(target));
        Ok(directory!(self.unban(name))?)
    }

    /// The ban that holds now for `comer`, if one does. An address ban
    /// never refuses a claimed name (nor, so, a moderator or an admin):
    /// everyone behind one address (an office, a carrier, a proxy) would
    /// be refused with the one person banned.
    pub(crate) async fn banned(&self, comer: Comer<'_>) -> Result<Option<Ban>, AccountError> {
        let subjects = match comer {
            Comer::Claimed { key } => vec![name_subject(key)],
            Comer::Guest {
                key,
                browser,
                address,
            } => std::iter::once(name_subject(key))
                .chain(browser.map(browser_subject))
                .chain(address.map(address_subject))
                .collect(),
        };
        let now = super::now_ms();
        let bans = directory!(self.bans(subjects))?;
        Ok(bans
            .into_iter()
            .find(|ban| ban.until.is_none_or(|until| until > now)))
    }

    /// Whether `name` moderates every room (or is an admin): what acts
    /// beyond one room (kicks, bans) is theirs.
    pub(crate) async fn moderates_everywhere(&self, name: &Name) -> Result<bool, AccountError> {
        if !name.is_claimed() {
            return Ok(false);
        }
        if self.is_admin(name) {
            return Ok(true);
        }
        Ok(directory!(
            self.is_moderator(name.key().to_owned(), String::new())
        )?)
    }

    /// Whether `target` (as a moderator typed it) names a moderator of
    /// `room` (or of every room): only an admin acts on one.
    pub(crate) async fn names_moderator(
        &self,
        target: &str,
        room: &str,
    ) -> Result<bool, AccountError> {
        let key = protocol::name_key(target);
        Ok(directory!(self.is_moderator(key, room.to_owned()))?)
    }

    /// What the session `identity` may moderate about `room`: `None`
    /// nothing; `Some(everywhere)`: the room, and every room too (an admin,
    /// or a moderator of every room).
    pub(crate) async fn session_moderates(
        &self,
        identity: &super::Identity,
        room: &str,
    ) -> Result<Option<bool>, AccountError> {
        if !identity.claimed {
            return Ok(None);
        }
        if self.is_admin_session(identity) {
            return Ok(Some(true));
        }
        let key = protocol::name_key(&identity.name);
        if directory!(self.is_moderator(key.clone(), String::new()))? {
            return Ok(Some(true));
        }
        let here = directory!(self.is_moderator(key, room.to_owned()))?;
        Ok(here.then_some(false))
    }

    /// The bans in force now, one entry per name: until when (the latest
    /// of its name's, browser's and address's), what they cover.
    pub(crate) async fn bans_in_force(&self) -> Result<Vec<protocol::Sanction>, AccountError> {
        let now = super::now_ms();
        let mut by_name: Vec<protocol::Sanction> = Vec::new();
        for ban in directory!(self.all_bans())? {
            if ban.until.is_some_and(|until| until <= now) || ban.subject.starts_with("mute:") {
                continue;
            }
            let at = match by_name.iter().position(|listed| listed.name == ban.name) {
                Some(at) => at,
                None => {
                    by_name.push(protocol::Sanction {
                        name: ban.name.clone(),
                        until: ban.until,
                        ..protocol::Sanction::default()
                    });
                    by_name.len() - 1
                }
            };
            let listed = &mut by_name[at];
            listed.until = listed.until.zip(ban.until).map(|(a, b)| a.max(b));
            listed.named |= ban.subject.starts_with("name:");
            listed.browser |= ban.subject.starts_with("browser:");
            listed.address |= ban.subject.starts_with("address:");
            if ban.subject.starts_with("name:") || listed.reason.is_none() {
                listed.reason = ban.reason.or(listed.reason.take());
            }
        }
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(by_name)
    }

    /// Keeps a moderator's action for the audit list (`entry`, JSON): the
    /// SQLite log lists its events itself; Redis keeps the newest.
    pub(crate) async fn record(
        &self,
        room: &str,
        moderation: &Moderation,
    ) -> Result<(), AccountError> {
        match &self.directory {
            Directory::Sqlite(_) => Ok(()),
            Directory::Redis(directory) => {
                Ok(directory.record(room, moderation, AUDIT_KEPT).await?)
            }
        }
    }

    /// The newest moderators' actions of every room, newest first.
    pub(crate) async fn audit(&self) -> Result<Vec<Audited>, AccountError> {
        Ok(directory!(self.audit(AUDIT_KEPT))?)
    }
}

/// Moderators' actions `GET /api/audit` lists.
const AUDIT_KEPT: usize = 1000;

/// A moderator's action, with its room, as the audit lists it.
pub(crate) type Audited = (String, Moderation);
