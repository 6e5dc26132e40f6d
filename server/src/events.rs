//! The vocabulary of a room's log: its events, what a connection asks a
//! log to append, and what the log answers. Both logs speak it and the
//! rooms apply it; nothing here does I/O (an event's frame is the
//! protocol's own type: [`event_frame`]).
//!
//! Each room's log is one sequence of events numbered by the room's `seq`.
//! A message's id is the `seq` of the event that posted it; an edit, a
//! deletion or a reaction is an event of its own, about a message
//! (`id`), replayed by the same resume (`after=<seq>`) as posts.

use protocol::{
    formatted, Block, ChangeRefusal, MessageChange, ModAction, Posted, RoomRules, ServerFrame,
};

/// A request to change a posted message: the rules that decide it are
/// protocol's (`ChangeRequest::check`).
pub(crate) use protocol::ChangeRequest as Change;

/// One entry of a room's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// A message was posted; its id is the event's `seq`.
    Posted(Posted),
    Edited(Edit),
    Deleted(Deletion),
    Reacted(Reaction),
    Moderated(Moderation),
}

/// A moderator's action, as the room's log keeps it: a notice for the
/// room, and the room's state (locked, who is muted) follows from it. A
/// deletion's own effect is a [`Deletion`] event of its own. Stored as
/// JSON where it is kept apart from the log (Redis's audit).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Moderation {
    pub seq: u64,
    pub action: ModAction,
    /// The name acted on, as the moderator gave it.
    pub target: Option<String>,
    /// The message deleted.
    pub id: Option<u64>,
    pub by: String,
    /// Until when a mute or ban holds (ms since the epoch); `None`: for
    /// good.
    pub until: Option<i64>,
    pub reason: Option<String>,
    /// A grant or revoke about every room.
    pub all_rooms: bool,
    pub date_time: i64,
}

/// A name whose connections every instance puts out, whether or not it
/// follows the room concerned: in a cluster, an instance hears a room's
/// events only while its clients are in it.
#[derive(Debug, Clone)]
pub(crate) enum PutOut {
    /// Kicked or banned: the `moderated` event of `room`.
    Moderated {
        room: String,
        moderation: Moderation,
    },
    /// The name's password changed: every session of it is signed out.
    SignedOut(String),
    /// A session or API token (its id) was signed out or revoked: the
    /// connections it let in are closed.
    Revoked(String),
}

/// A moderator's action to append to `room`'s log (checked already: the
/// moderator may): a [`Moderation`] but for its `seq` and time, which
/// are the log's to give.
#[derive(Debug, Clone)]
pub(crate) struct NewModeration {
    pub room: String,
    pub action: ModAction,
    pub target: Option<String>,
    pub id: Option<u64>,
    pub by: String,
    pub until: Option<i64>,
    pub reason: Option<String>,
    pub all_rooms: bool,
}

impl NewModeration {
    /// As stored, with its `seq` and time.
    pub(crate) fn stored(&self, seq: u64, date_time: i64) -> Moderation {
        Moderation {
            seq,
            action: self.action,
            target: self.target.clone(),
            id: self.id,
            by: self.by.clone(),
            until: self.until,
            reason: self.reason.clone(),
            all_rooms: self.all_rooms,
            date_time,
        }
    }
}

/// Message `id` now reads `msg`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Edit {
    pub seq: u64,
    pub id: u64,
    pub msg: String,
    /// `msg`'s formatting (see `protocol::formatted`).
    pub formatted: Option<Vec<Block>>,
    pub edited_at: i64,
    pub mentions: Vec<String>,
}

impl Edit {
    /// The edit of message `id` to `msg`, its formatting read from it.
    pub(crate) fn new(
        seq: u64,
        id: u64,
        msg: String,
        edited_at: i64,
        mentions: Vec<String>,
    ) -> Self {
        Self {
            seq,
            id,
            formatted: formatted(&msg),
            msg,
            edited_at,
            mentions,
        }
    }
}

/// Message `id` was deleted: its text (and its edits') is gone from the
/// log, a tombstone stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deletion {
    pub seq: u64,
    pub id: u64,
}

/// `user` added (`on`) or took back `emoji` on message `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reaction {
    pub seq: u64,
    pub id: u64,
    pub emoji: String,
    pub user: String,
    pub on: bool,
}

impl Event {
    pub(crate) fn seq(&self) -> u64 {
        match self {
            Self::Posted(posted) => posted.message.id,
            Self::Edited(edit) => edit.seq,
            Self::Deleted(deletion) => deletion.seq,
            Self::Reacted(reaction) => reaction.seq,
            Self::Moderated(moderation) => moderation.seq,
        }
    }

    /// The message an edit, deletion or reaction is about, and what it
    /// does to it (protocol's reducer applies it).
    pub(crate) fn message_change(&self) -> Option<(u64, MessageChange)> {
        match self {
            Self::Posted(_) | Self::Moderated(_) => None,
            Self::Edited(edit) => Some((
                edit.id,
                MessageChange::Edited {
                    msg: edit.msg.clone(),
                    formatted: edit.formatted.clone(),
                    edited_at: edit.edited_at,
                    mentions: edit.mentions.clone(),
                },
            )),
            Self::Deleted(deletion) => Some((deletion.id, MessageChange::Deleted)),
            Self::Reacted(reaction) => Some((
                reaction.id,
                MessageChange::Reacted {
                    emoji: reaction.emoji.clone(),
                    user: reaction.user.clone(),
                    on: reaction.on,
                },
            )),
        }
    }

    /// Whether the log forgets the earlier edits of the message this is
    /// about: a newer edit replaces their text, a deletion takes it.
    pub(crate) fn drops_earlier_edits(&self) -> bool {
        match self {
            Self::Edited(_) | Self::Deleted(_) => true,
            Self::Posted(_) | Self::Reacted(_) | Self::Moderated(_) => false,
        }
    }

    /// The message an edit, deletion or reaction is about (a moderator's
    /// notice is about the room: a client resuming after it is owed it).
    pub(crate) fn target(&self) -> Option<u64> {
        match self {
            Self::Posted(_) | Self::Moderated(_) => None,
            Self::Edited(edit) => Some(edit.id),
            Self::Deleted(deletion) => Some(deletion.id),
            Self::Reacted(reaction) => Some(reaction.id),
        }
    }
}

/// A message to post in `room`: what the connection vouches for.
#[derive(Debug, Clone)]
pub(crate) struct NewMessage {
    pub room: String,
    pub author: Author,
    pub msg: String,
    pub client_id: String,
    /// The message it answers.
    pub reply_to: Option<u64>,
    /// The names `msg` mentions (see `protocol::mentions`).
    pub mentions: Vec<String>,
}

/// Who asks: the name bound to the connection, and the key that proves
/// which browser holds it (see `rooms::Name::author_key`). A message may
/// be edited or deleted only by a request with its user and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Author {
    pub user: String,
    /// `None` for a connection without a browser token: it can post, and
    /// nobody can later prove to be it.
    pub key: Option<String>,
    /// A claimed name's keys for what this browser posted under the name
    /// as a guest, before the claim (at most two: its session's, its
    /// token's): those messages are its own too. Never put on a new post.
    pub guest_keys: Vec<String>,
    /// A claimed name, signed in: its messages say so.
    pub claimed: bool,
}

impl Author {
    /// Whether a message stored with the author key `key` is this
    /// author's: the key of its name from this browser (or account), or
    /// one of its guest keys. A message without a key is nobody's.
    pub(crate) fn owns(&self, key: Option<&str>) -> bool {
        key.is_some_and(|key| {
            self.key.as_deref() == Some(key) || self.guest_keys.iter().any(|guest| guest == key)
        })
    }
}

/// What a log knows of the message stored by an earlier `send` of the
/// same name and `clientId` to the same room.
pub(crate) struct Earlier<'a> {
    pub author_key: Option<&'a str>,
    /// Its text, while it is still the text posted: `None` once it was
    /// edited or deleted, or when the log no longer holds it.
    pub text: Option<&'a str>,
}

impl NewMessage {
    /// Whether this `send` is a resend of `earlier` (answered with it),
    /// rather than a new message under a `clientId` already used (refused:
    /// once, a script restarted with its counter at `c1` had its new text
    /// acknowledged as the old message, and nobody saw it). A resend comes
    /// from the same browser or account, with the same words (once they
    /// were edited or deleted, the browser alone decides). A message
    /// stored without a key (by a connection without a browser token, or
    /// by a release before keys) proves nothing of who sent it: its words
    /// decide.
    pub(crate) fn resends(&self, earlier: &Earlier<'_>) -> bool {
        match earlier.author_key {
            Some(key) => {
                self.author.owns(Some(key)) && earlier.text.is_none_or(|text| text == self.msg)
            }
            None => earlier.text == Some(self.msg.as_str()),
        }
    }
}

/// A change to message `id` of `room`.
#[derive(Debug, Clone)]
pub(crate) struct NewChange {
    pub room: String,
    pub author: Author,
    pub id: u64,
    pub change: Change,
}

/// A [`NewEvent`] and the time the log gives it (ms since the epoch):
/// the embedded log reads its clock once per event, as it queues it.
#[derive(Debug, Clone)]
pub(crate) struct Stamped {
    pub event: NewEvent,
    pub at: i64,
}

/// What a log is asked to append.
#[derive(Debug, Clone)]
pub(crate) enum NewEvent {
    Post(NewMessage),
    Change(NewChange),
    Moderate(NewModeration),
}

impl NewEvent {
    pub(crate) fn room(&self) -> &str {
        match self {
            Self::Post(message) => &message.room,
            Self::Change(change) => &change.room,
            Self::Moderate(moderation) => &moderation.room,
        }
    }
}

/// What became of one [`NewEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored now, with the next `seq` of its room.
    Stored(Event),
    /// The same user sent this clientId to this room before: here is what
    /// was stored then (in its current state).
    Duplicate(Posted),
    /// It would change nothing (a reaction given twice, a message deleted
    /// twice, an edit to the same text): nothing was stored.
    Unchanged,
    /// Not allowed: nothing was stored.
    Refused(Refusal),
}

/// Why a log refused an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No message with that id in the room.
    NotFound,
    /// Posted by another name or browser.
    NotYours,
    /// The message was deleted.
    Deleted,
    /// A new emoji on a message that has [`protocol::REACTIONS_MAX`].
    TooManyReactions,
    /// A `send` whose `clientId` the same name used for another message.
    ClientIdReused,
}

impl From<ChangeRefusal> for Refusal {
    fn from(refusal: ChangeRefusal) -> Self {
        match refusal {
            ChangeRefusal::NotFound => Self::NotFound,
            ChangeRefusal::NotYours => Self::NotYours,
            ChangeRefusal::Deleted => Self::Deleted,
            ChangeRefusal::TooManyReactions => Self::TooManyReactions,
        }
    }
}

/// The newest part of a room's log: where the room starts in memory.
#[derive(Debug, Default, Clone)]
pub(crate) struct Window {
    /// The newest messages, oldest first, in their current state.
    pub recent: Vec<Posted>,
    /// The edits, deletions and reactions among the newest events, oldest
    /// first.
    pub changes: Vec<Event>,
    /// Every event from this `seq` on is in `recent` or `changes`.
    pub held_from: u64,
    /// The oldest message id the log holds, if any.
    pub first_id: Option<u64>,
    /// The newest `seq` the log gave out (0 for a room nobody posted in).
    pub last_seq: u64,
    /// What moderators left the room with.
    pub rules: RoomRules,
}

/// A room as the directory lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RoomActivity {
    pub room: String,
    /// When its newest event happened, ms since the Unix epoch.
    pub last_message_at: i64,
}

/// The server's clock, in milliseconds since the Unix epoch (negative
/// before it): how events, sessions, mutes and bans are timed, the one
/// reading of the clock.
pub(crate) fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
    }
}

/// The clock `--retain-days` reads: the system's, or one a test sets
/// (and moves, waking whatever waits on it).
#[derive(Clone, Default)]
pub struct Clock(Option<std::sync::Arc<tokio::sync::watch::Sender<i64>>>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            None => f.write_str("Clock::system"),
            Some(_) => write!(f, "Clock::manual({})", self.now_ms()),
        }
    }
}

impl Clock {
    /// A clock that reads `start` (ms since the epoch) until set.
    pub fn manual(start: i64) -> Self {
        Self(Some(std::sync::Arc::new(tokio::sync::watch::Sender::new(
            start,
        ))))
    }

    /// Sets a manual clock to `now` (ms since the epoch); the system's
    /// cannot be set.
    pub fn set(&self, now: i64) {
        if let Some(clock) = &self.0 {
            clock.send_replace(now);
        }
    }

    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => now_ms(),
            Some(clock) => *clock.borrow(),
        }
    }

    /// What wakes when a manual clock is set (`None`: the system's, never
    /// set). Each receiver sees every move made after it was taken.
    pub(crate) fn moves(&self) -> Option<tokio::sync::watch::Receiver<i64>> {
        self.0.as_ref().map(|clock| clock.subscribe())
    }
}

/// The frame of an edit, deletion or reaction (a post has its own, see
/// [`Posted::to_frame_json`]).
pub(crate) fn event_frame(room: &str, event: &Event) -> ServerFrame {
    let room = room.to_owned();
    match event {
        Event::Posted(posted) => ServerFrame::Message {
            room,
            posted: posted.clone(),
        },
        Event::Edited(edit) => ServerFrame::Edited {
            room,
            seq: edit.seq,
            id: edit.id,
            msg: edit.msg.clone(),
            formatted: edit.formatted.clone(),
            edited_at: edit.edited_at,
            mentions: edit.mentions.clone(),
        },
        Event::Deleted(deletion) => ServerFrame::Deleted {
            room,
            seq: deletion.seq,
            id: deletion.id,
        },
        Event::Reacted(reaction) => ServerFrame::Reaction {
            room,
            seq: reaction.seq,
            id: reaction.id,
            emoji: reaction.emoji.clone(),
            user: reaction.user.clone(),
            on: reaction.on,
        },
        Event::Moderated(moderation) => ServerFrame::Moderated {
            room,
            seq: moderation.seq,
            action: moderation.action,
            target: moderation.target.clone(),
            id: moderation.id,
            by: moderation.by.clone(),
            until: moderation.until,
            reason: moderation.reason.clone(),
            all_rooms: moderation.all_rooms,
            date_time: moderation.date_time,
        },
    }
}
