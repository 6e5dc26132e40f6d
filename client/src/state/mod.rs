//! The chat as the client sees it: a pure reducer over the server's frames
//! and the user's actions, tested without a browser. Every action that
//! needs the time carries it; nothing here reads a clock.
//!
//! One module per concern: [`messages`] (a room's posted messages),
//! [`outbox`] (what the user wrote that the server has not confirmed),
//! [`people`] (who is in a room, typing, join notices), [`rooms`] (a room's
//! state, unread counts, the joined list).

pub mod cache;
pub mod drafts;
pub mod messages;
pub mod outbox;
pub mod people;
pub mod rooms;

use std::rc::Rc;

use protocol::{ErrorCode, MessageChange, ModAction, Posted, ServerFrame};
use yew::Reducible;

use outbox::{Outgoing, OutgoingStatus};
use rooms::{Joining, Notify, RoomState};

/// The connection as the user should understand it.
#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    /// Opening the socket (first time or after a drop).
    Connecting,
    /// The socket is open and the server has welcomed us.
    Online,
    /// Dropped; the next attempt starts at `retry_at` (ms since the epoch),
    /// or when the page is shown again (`None`).
    Offline { retry_at: Option<f64> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Chat {
    pub connection: Connection,
    /// The name the server bound to us, once welcomed.
    pub me: Option<String>,
    /// Whether `me` is a claimed name (signed in with its password).
    pub claimed: bool,
    /// Whether `me` is an admin: it makes moderators.
    pub admin: bool,
    /// The server's default room, once known: what `/` opens.
    pub home: Option<String>,
    /// The room on screen; `None` at `/` while the default room is unknown.
    pub current: Option<String>,
    /// Whether the page is visible: messages in the open room count as
    /// unread while it is not.
    pub visible: bool,
    /// The rooms joined in this browser, in the sidebar's order.
    pub rooms: Rc<Vec<RoomState>>,
    /// Oldest first, as written, every room's.
    pub outbox: Rc<Vec<Outgoing>>,
    /// The last request the server refused (e.g. a message too long).
    pub notice: Option<String>,
    /// Set when the server refused our username: the session is over.
    pub refused: Option<String>,
    /// The time of the last tick (ms since the epoch): what the offline
    /// countdown counts from.
    pub now: f64,
    /// Each room's notification level, where the user chose one (the
    /// default is mentions only).
    pub notify: Rc<Vec<(String, Notify)>>,
    /// Desktop notifications owed, oldest first: the page raises them (if
    /// the user allowed it) and says so with `Alerted`.
    pub alerts: Rc<Vec<Alert>>,
}

/// A message that deserves a desktop notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub room: String,
    pub id: u64,
    pub user: String,
    pub text: String,
}

pub enum ChatAction {
    /// Connecting, in `room` (the URL's; `None`: the server's default).
    Connecting {
        room: Option<String>,
    },
    /// A frame from the server, received at `now`.
    Frame {
        frame: ServerFrame,
        now: f64,
    },
    /// The connection is lost (at `now`); the next attempt is at `retry_at`.
    Closed {
        retry_at: Option<f64>,
        now: f64,
    },
    /// The server closed the connection refusing our name, with its reason.
    Refused(String),
    DismissNotice,
    /// The user wrote a message (already validated).
    Post(Outgoing),
    /// The user asked to send a failed message again, at `now`.
    Retry {
        client_id: String,
        now: f64,
    },
    /// The user gave up on a failed message.
    Discard {
        client_id: String,
    },
    /// Time passed: pending messages may time out, joins be retried.
    Tick {
        now: f64,
    },
    LoadingOlder {
        room: String,
    },
    /// The user opened `room` (`None`: the default room): it joins the
    /// list, comes into view, its unread messages are marked.
    Open {
        room: Option<String>,
    },
    /// The join of `room` went out.
    JoinSent {
        room: String,
    },
    /// The user left `room`: off the list.
    Leave {
        room: String,
    },
    /// The page was shown or hidden.
    Visible(bool),
    /// The user marked the room on screen read (Escape): the "New
    /// messages" line goes.
    MarkRead,
    /// The user chose when `room` notifies.
    SetNotify {
        room: String,
        level: Notify,
    },
    /// The first `count` alerts were raised (or could not be).
    Alerted {
        count: usize,
    },
}

impl Chat {
    /// The chat with the rooms and outbox left by an earlier visit.
    pub fn new(
        rooms: Vec<String>,
        home: Option<String>,
        outbox: Vec<Outgoing>,
        notify: Vec<(String, Notify)>,
    ) -> Self {
        Self {
            connection: Connection::Connecting,
            me: None,
            claimed: false,
            admin: false,
            home,
            current: None,
            visible: true,
            rooms: Rc::new(rooms.into_iter().map(RoomState::new).collect()),
            outbox: Rc::new(outbox),
            notice: None,
            refused: None,
            now: 0.0,
            notify: Rc::new(notify),
            alerts: Rc::default(),
        }
    }

    /// Starts from what an earlier visit kept (see [`cache`]): each joined
    /// room's frames applied as they came, nothing counted unread or owed a
    /// notification, every room to be joined again (resuming after them).
    pub fn restore(&mut self, kept: &cache::FrameCache) {
        if self.me.is_none() {
            self.me.clone_from(&kept.me);
        }
        for (room, frames) in kept.rooms() {
            if self.room(room).is_none() {
                continue;
            }
            let mut from_history = false;
            for (at, text) in frames.iter().enumerate() {
                // A frame this release cannot read is skipped.
                if let Some(frame) = crate::json::server_frame(text) {
                    from_history |= at == 0 && matches!(frame, ServerFrame::History { .. });
                    self.apply(frame, 0.0);
                }
            }
            // Without its `history`, whether older messages exist is not
            // known: the page may ask.
            if let Some(state) = self.room_mut(room) {
                state.joining = Joining::Wanted;
                state.forget_unread();
                if !from_history && !state.messages.entries.is_empty() {
                    state.messages.has_older = true;
                }
            }
        }
        self.alerts = Rc::default();
    }

    /// When `room` notifies.
    pub fn notify_level(&self, room: &str) -> Notify {
        self.notify
            .iter()
            .find(|(name, _)| name == room)
            .map(|&(_, level)| level)
            .unwrap_or_default()
    }

    pub fn online(&self) -> bool {
        self.connection == Connection::Online
    }

    pub fn room(&self, name: &str) -> Option<&RoomState> {
        self.rooms.iter().find(|room| room.name == name)
    }

    /// The room on screen, if it is known.
    pub fn current_room(&self) -> Option<&RoomState> {
        self.current.as_deref().and_then(|name| self.room(name))
    }

    /// Unread messages in every room: the tab title's count.
    pub fn unread_total(&self) -> u32 {
        self.rooms.iter().map(|room| room.unread).sum()
    }

    /// The room an outgoing message goes to (one stored before rooms: the
    /// default room).
    pub fn room_of<'a>(&'a self, outgoing: &'a Outgoing) -> Option<&'a str> {
        if outgoing.room.is_empty() {
            self.home.as_deref()
        } else {
            Some(&outgoing.room)
        }
    }

    fn room_mut(&mut self, name: &str) -> Option<&mut RoomState> {
        Rc::make_mut(&mut self.rooms)
            .iter_mut()
            .find(|room| room.name == name)
    }

    /// Adds `name` to the list, at its end, unless it is there.
    fn add_room(&mut self, name: &str) {
        if self.room(name).is_none() {
            Rc::make_mut(&mut self.rooms).push(RoomState::new(name.to_owned()));
        }
    }

    fn in_view(&self, room: &str) -> bool {
        self.visible && self.current.as_deref() == Some(room)
    }

    fn set_status(&mut self, client_id: &str, status: OutgoingStatus, since: Option<f64>) {
        if let Some(outgoing) = Rc::make_mut(&mut self.outbox)
            .iter_mut()
            .find(|o| o.client_id == client_id)
        {
            outgoing.status = status;
            if let Some(since) = since {
                outgoing.since = since;
            }
        }
    }

    fn open(&mut self, room: Option<String>) {
        let Some(room) = room.or_else(|| self.home.clone()) else {
            self.current = None;
            return;
        };
        if let Some(previous) = self.current.take() {
            if previous != room {
                if let Some(previous) = self.room_mut(&previous) {
                    previous.left_view();
                }
            }
        }
        self.add_room(&room);
        let visible = self.visible;
        if let Some(opened) = self.room_mut(&room) {
            if visible {
                opened.seen();
            }
        }
        self.current = Some(room);
    }

    /// A claimed name's rooms as the server keeps them (joined or left on
    /// any device) become this browser's list; the room on screen stays,
    /// and so does one with messages still to send. (A guest's list is
    /// its browser's alone: `rooms` is empty then.)
    fn follow_rooms(&mut self, rooms: &[String]) {
        if rooms.is_empty() {
            return;
        }
        let current = self.current.clone();
        let outbox = Rc::clone(&self.outbox);
        Rc::make_mut(&mut self.rooms).retain(|room| {
            rooms.contains(&room.name)
                || current.as_deref() == Some(room.name.as_str())
                || outbox.iter().any(|o| o.room == room.name)
        });
        for room in rooms {
            self.add_room(room);
        }
    }

    // Called from the reducer and from `restore`: one copy of it, not one
    // inlined into each (5 KB of the client).
    #[inline(never)]
    fn apply(&mut self, frame: ServerFrame, now: f64) {
        match frame {
            ServerFrame::Welcome {
                user,
                claimed,
                admin,
                rooms,
            } => {
                self.connection = Connection::Online;
                self.me = Some(user);
                self.claimed = claimed;
                self.admin = admin;
                self.follow_rooms(&rooms);
            }
            ServerFrame::History {
                room,
                messages,
                reset,
                has_older,
                seq,
                locked,
                moderator,
            } => {
                // With no room on screen yet: the default room of a
                // connection that named none, which is what `/` opens (it
                // may be listed already: a claimed name's rooms come with
                // the welcome).
                if self.current.is_none() {
                    self.home = Some(room.clone());
                    if self.room(&room).is_none() {
                        Rc::make_mut(&mut self.rooms).insert(0, RoomState::new(room.clone()));
                    }
                    self.open(None);
                }
                self.confirm(&messages);
                let me = self.me.clone();
                let Some(state) = self.room_mut(&room) else {
                    return;
                };
                state.joining = Joining::Joined;
                state.locked = locked;
                state.moderator = moderator;
                state
                    .messages
                    .start(messages, (reset, has_older), seq, me.as_deref());
            }
            ServerFrame::Older {
                room,
                messages,
                has_older,
            } => {
                self.confirm(&messages);
                let me = self.me.clone();
                if let Some(state) = self.room_mut(&room) {
                    state.messages.older(messages, has_older, me.as_deref());
                }
            }
            ServerFrame::Message { room, posted } => self.posted(room, posted),
            ServerFrame::Edited {
                room,
                seq,
                id,
                msg,
                formatted,
                edited_at,
                mentions,
            } => {
                let change = MessageChange::Edited {
                    msg,
                    formatted,
                    edited_at,
                    mentions,
                };
                self.change(&room, seq, id, change);
            }
            ServerFrame::Deleted { room, seq, id } => {
                self.change(&room, seq, id, MessageChange::Deleted)
            }
            ServerFrame::Reaction {
                room,
                seq,
                id,
                emoji,
                user,
                on,
            } => self.change(&room, seq, id, MessageChange::Reacted { emoji, user, on }),
            ServerFrame::Moderated {
                room,
                seq,
                action,
                target,
                by,
                reason,
                all_rooms,
                until,
                ..
            } => {
                let me = self.me.clone();
                let about_me = target.is_some() && target == me;
                if let (true, Some(granted)) = (about_me, action.grants()) {
                    for state in Rc::make_mut(&mut self.rooms) {
                        if all_rooms || state.name == room {
                            state.moderator = granted;
                        }
                    }
                }
                if let Some(state) = self.room_mut(&room) {
                    state.messages.seq = state.messages.seq.max(seq);
                    if let Some(locked) = action.locks() {
                        state.locked = locked;
                    }
                    if about_me {
                        match action.silences() {
                            Some(true) => {
                                state.muted = Some(rooms::Mute {
                                    until: until.map(|until| until as f64),
                                    by: Some(by.clone()),
                                    reason: reason.clone(),
                                });
                            }
                            Some(false) => state.muted = None,
                            None => {}
                        }
                    }
                    // A mute is shown to the muted alone.
                    if about_me || action.silences().is_none() {
                        let text = moderation_notice(action, &by, target.as_deref(), reason, true);
                        let newest = state.messages.newest_id();
                        state.people.notice(people::Notice::Said(text), newest);
                    }
                }
            }
            ServerFrame::Online {
                room,
                users,
                members,
                count,
            } => {
                if let Some(state) = self.room_mut(&room) {
                    state.people.online(users, members, count);
                }
            }
            ServerFrame::Presence {
                room,
                joined,
                left,
                members,
                count,
            } => {
                if let Some(state) = self.room_mut(&room) {
                    let newest = state.messages.newest_id();
                    state.people.presence(joined, left, members, count, newest);
                }
            }
            ServerFrame::Typing { room, user } => {
                if let Some(state) = self.room_mut(&room) {
                    state.people.typing(user, now);
                }
            }
            ServerFrame::Pong => {}
            ServerFrame::Error {
                code,
                message,
                client_id,
                retry_after_ms,
                room,
            } => self.refusal(code, message, client_id, retry_after_ms, room, now),
        }
    }

    /// A message accepted by `room`: ours leaves the outbox; another's
    /// out of view counts as unread (and as a mention, when it is one),
    /// and is owed a desktop notification if the room's level says so.
    fn posted(&mut self, room: String, posted: Posted) {
        let in_view = self.in_view(&room);
        let me = self.me.clone();
        let own = me.as_deref() == Some(posted.message.user.as_str());
        if own {
            Rc::make_mut(&mut self.outbox).retain(|o| o.client_id != posted.client_id);
        }
        let mentioned = me
            .as_deref()
            .is_some_and(|me| posted.message.mentions.contains(&crate::lower::lower(me)));
        let alerted = match self.notify_level(&room) {
            Notify::All => true,
            Notify::Mentions => mentioned,
            Notify::Nothing => false,
        };
        let id = posted.message.id;
        let alert = Alert {
            room: room.clone(),
            id,
            user: posted.message.user.clone(),
            text: protocol::excerpt(&posted.message.msg),
        };
        let Some(state) = self.room_mut(&room) else {
            return;
        };
        state.people.stop_typing(&posted.message.user);
        if state.messages.insert(posted.message, me.as_deref()) && !own && !in_view {
            state.unseen(id, mentioned);
            if alerted {
                Rc::make_mut(&mut self.alerts).push(alert);
            }
        }
    }

    fn change(&mut self, room: &str, seq: u64, id: u64, change: MessageChange) {
        let me = self.me.clone();
        if let Some(state) = self.room_mut(room) {
            state.messages.change(seq, id, change, me.as_deref());
        }
    }

    /// Our own messages among `posted` are confirmed: off the outbox.
    fn confirm(&mut self, posted: &[Posted]) {
        let me = self.me.as_deref();
        let confirmed: Vec<&str> = posted
            .iter()
            .filter(|p| Some(p.message.user.as_str()) == me)
            .map(|p| p.client_id.as_str())
            .collect();
        if self
            .outbox
            .iter()
            .any(|o| confirmed.contains(&o.client_id.as_str()))
        {
            Rc::make_mut(&mut self.outbox).retain(|o| !confirmed.contains(&o.client_id.as_str()));
        }
    }

    fn refusal(
        &mut self,
        code: ErrorCode,
        message: String,
        client_id: Option<String>,
        retry_after_ms: Option<u64>,
        room: Option<String>,
        now: f64,
    ) {
        match (code, client_id, room) {
            (
                ErrorCode::EmptyUsername
                | ErrorCode::UsernameTooLong
                | ErrorCode::InvalidUsername
                | ErrorCode::UsernameTaken,
                _,
                _,
            ) => self.refused = Some(message),
            // Not posted, but it goes out again with the next connection.
            (ErrorCode::ShuttingDown, Some(_), _) => {}
            (ErrorCode::RateLimited, None, Some(room)) => {
                // A join over the rate limit: asked again after the wait.
                let wait = retry_after_ms.unwrap_or(1_000) as f64;
                if let Some(state) = self.room_mut(&room) {
                    state.joining = Joining::RetryAt(now + wait);
                }
            }
            (ErrorCode::Muted, Some(client_id), room) => {
                // Heard of again after a reload: the composer says so.
                let until = retry_after_ms.map(|wait| now + wait as f64);
                if let Some(state) = room.and_then(|room| self.room_mut(&room)) {
                    if state.muted.is_none() {
                        state.muted = Some(rooms::Mute {
                            until,
                            by: None,
                            reason: None,
                        });
                    }
                }
                self.set_status(
                    &client_id,
                    OutgoingStatus::Refused { reason: message },
                    None,
                );
            }
            (_, Some(client_id), _) => {
                self.set_status(
                    &client_id,
                    OutgoingStatus::Refused { reason: message },
                    None,
                );
            }
            // The server forgot the room (it restarted, say): joined again.
            (ErrorCode::NotInRoom, None, Some(room)) => {
                if let Some(state) = self.room_mut(&room) {
                    state.joining = Joining::Wanted;
                }
            }
            // A room that cannot be joined is taken off the list.
            (
                ErrorCode::InvalidRoom | ErrorCode::TooManyRooms | ErrorCode::RoomLimitReached,
                None,
                Some(room),
            ) => {
                Rc::make_mut(&mut self.rooms).retain(|state| state.name != room);
                self.notice = Some(message);
            }
            (_, None, room) => {
                if let Some(state) = room.and_then(|room| self.room_mut(&room)) {
                    state.messages.loading_older = false;
                }
                self.notice = Some(message);
            }
        }
    }

    /// Whether a tick at `now` changes anything.
    fn tick_matters(&self, now: f64) -> bool {
        let times_out = !self.online() && self.outbox.iter().any(|o| o.timed_out_at(now));
        let counting_down = matches!(self.connection, Connection::Offline { retry_at: Some(_) });
        let retry_join = self
            .rooms
            .iter()
            .any(|room| matches!(room.joining, Joining::RetryAt(at) if at <= now));
        let stops_typing = self
            .rooms
            .iter()
            .any(|room| room.people.typing_expires(now));
        // A mute's minutes left are on screen.
        let mute_moves = self
            .rooms
            .iter()
            .filter_map(|room| room.muted.as_ref())
            .any(|mute| mute.minutes_left(now) != mute.minutes_left(self.now));
        times_out || counting_down || retry_join || stops_typing || mute_moves
    }
}

impl Reducible for Chat {
    type Action = ChatAction;

    fn reduce(self: Rc<Self>, action: ChatAction) -> Rc<Self> {
        // Ticks are frequent and rarely change anything: keep the same state
        // (no re-render) unless something happens at this time.
        if let ChatAction::Tick { now } = action {
            if !self.tick_matters(now) {
                return self;
            }
        }
        let mut state = Rc::unwrap_or_clone(self);
        match action {
            ChatAction::Connecting { room } => {
                state.connection = Connection::Connecting;
                if let Some(joining) = room.and_then(|room| state.room_mut(&room)) {
                    joining.joining = Joining::Sent;
                }
            }
            ChatAction::Frame { frame, now } => {
                state.now = now;
                state.apply(frame, now);
            }
            ChatAction::Closed { retry_at, now } => {
                state.connection = Connection::Offline { retry_at };
                state.now = now;
                for room in Rc::make_mut(&mut state.rooms) {
                    room.joining = Joining::Wanted;
                    room.messages.loading_older = false;
                    room.people.forget();
                }
            }
            ChatAction::Refused(reason) => {
                state.refused.get_or_insert(reason);
            }
            ChatAction::DismissNotice => state.notice = None,
            ChatAction::Post(outgoing) => Rc::make_mut(&mut state.outbox).push(outgoing),
            ChatAction::Retry { client_id, now } => {
                state.set_status(&client_id, OutgoingStatus::Pending, Some(now));
            }
            ChatAction::Discard { client_id } => {
                Rc::make_mut(&mut state.outbox).retain(|o| o.client_id != client_id);
            }
            ChatAction::Tick { now } => {
                state.now = now;
                if !state.online() {
                    for outgoing in Rc::make_mut(&mut state.outbox).iter_mut() {
                        if outgoing.timed_out_at(now) {
                            outgoing.status = OutgoingStatus::TimedOut;
                        }
                    }
                }
                for room in Rc::make_mut(&mut state.rooms) {
                    if matches!(room.joining, Joining::RetryAt(at) if at <= now) {
                        room.joining = Joining::Wanted;
                    }
                    room.people.expire_typing(now);
                }
            }
            ChatAction::LoadingOlder { room } => {
                if let Some(room) = state.room_mut(&room) {
                    room.messages.loading_older = true;
                }
            }
            ChatAction::Open { room } => state.open(room),
            ChatAction::JoinSent { room } => {
                if let Some(room) = state.room_mut(&room) {
                    room.joining = Joining::Sent;
                }
            }
            ChatAction::Leave { room } => {
                Rc::make_mut(&mut state.rooms).retain(|state| state.name != room);
                Rc::make_mut(&mut state.outbox).retain(|o| o.room != room);
            }
            ChatAction::MarkRead => {
                if let Some(current) = state.current.clone() {
                    if let Some(room) = state.room_mut(&current) {
                        room.forget_unread();
                        room.left_view();
                    }
                }
            }
            ChatAction::Visible(visible) => {
                state.visible = visible;
                if let Some(current) = state.current.clone() {
                    if let Some(room) = state.room_mut(&current) {
                        if visible {
                            room.seen();
                        }
                    }
                }
            }
            ChatAction::SetNotify { room, level } => {
                let levels = Rc::make_mut(&mut state.notify);
                levels.retain(|(name, _)| *name != room);
                if level != Notify::default() {
                    levels.push((room, level));
                }
            }
            ChatAction::Alerted { count } => {
                let alerts = Rc::make_mut(&mut state.alerts);
                alerts.drain(..count.min(alerts.len()));
            }
        }
        Rc::new(state)
    }
}

/// A moderator's action as the room's one-line notice (`to_target`: as
/// the person it concerns reads it, who alone hears of a mute), or as the
/// moderation menu lists it.
pub(crate) fn moderation_notice(
    action: ModAction,
    by: &str,
    target: Option<&str>,
    reason: Option<String>,
    to_target: bool,
) -> String {
    let target = target.unwrap_or_default();
    let what = match action {
        ModAction::Delete => "deleted a message".to_owned(),
        ModAction::Mute if to_target => "muted you here for now".to_owned(),
        ModAction::Mute => format!("muted {target}"),
        ModAction::Unmute if to_target => "let you post here again".to_owned(),
        ModAction::Unmute => format!("unmuted {target}"),
        ModAction::Kick => format!("removed {target}"),
        ModAction::Ban => format!("banned {target}"),
        ModAction::BanAddress => format!("removed {target} and banned guests from their address"),
        ModAction::Unban => format!("lifted the ban of {target}"),
        ModAction::Purge => format!("removed the messages of {target}"),
        ModAction::Lock => "locked the room: only moderators post".to_owned(),
        ModAction::Unlock => "unlocked the room".to_owned(),
        ModAction::Grant => format!("made {target} a moderator"),
        ModAction::Revoke => format!("took {target}'s moderation back"),
    };
    match reason {
        Some(reason) => format!("{by} {what}: {reason}"),
        None => format!("{by} {what}"),
    }
}

#[cfg(test)]
mod tests {
    use protocol::{ChatMessage, Posted};

    use super::*;

    fn posted(id: u64, user: &str, client_id: &str) -> Posted {
        Posted {
            message: ChatMessage {
                id,
                user: user.into(),
                msg: format!("message {id}"),
                date_time: 1_764_100_000_000,
                ..ChatMessage::default()
            },
            client_id: client_id.into(),
        }
    }

    fn frame(frame: ServerFrame) -> ChatAction {
        ChatAction::Frame { frame, now: 0.0 }
    }

    fn message(room: &str, id: u64, user: &str) -> ChatAction {
        frame(ServerFrame::Message {
            room: room.into(),
            posted: posted(id, user, &format!("c{id}")),
        })
    }

    fn history(room: &str, ids: &[u64], reset: bool, has_older: bool) -> ChatAction {
        frame(ServerFrame::History {
            room: room.into(),
            messages: ids.iter().map(|&id| posted(id, "bob", "x")).collect(),
            reset,
            has_older,
            seq: None,
            locked: false,
            moderator: false,
        })
    }

    fn welcome(user: &str) -> ChatAction {
        frame(ServerFrame::Welcome {
            user: user.into(),
            claimed: false,
            admin: false,
            rooms: vec![],
        })
    }

    fn outgoing(room: &str, client_id: &str, since: f64) -> Outgoing {
        Outgoing {
            room: room.into(),
            client_id: client_id.into(),
            reply_to: None,
            msg: format!("text of {client_id}"),
            since,
            status: OutgoingStatus::Pending,
        }
    }

    /// Alice, welcomed, in the lobby (the default room) and rust, looking
    /// at the lobby.
    fn in_two_rooms() -> Rc<Chat> {
        reduce(
            Chat::new(vec!["rust".into()], None, Vec::new(), Vec::new()),
            [
                ChatAction::Connecting { room: None },
                welcome("alice"),
                history("lobby", &[1, 2], true, false),
                history("rust", &[7], true, true),
            ],
        )
    }

    fn reduce(chat: Chat, actions: impl IntoIterator<Item = ChatAction>) -> Rc<Chat> {
        actions.into_iter().fold(Rc::new(chat), Reducible::reduce)
    }

    fn ids(chat: &Chat, room: &str) -> Vec<u64> {
        chat.room(room)
            .map(|room| room.messages.entries.iter().map(|e| e.message.id).collect())
            .unwrap_or_default()
    }

    #[test]
    fn the_default_room_is_learned_from_the_first_history_and_opened() {
        let chat = in_two_rooms();
        assert!(chat.online());
        assert_eq!(chat.home.as_deref(), Some("lobby"));
        assert_eq!(chat.current.as_deref(), Some("lobby"));
        let names: Vec<&str> = chat.rooms.iter().map(|room| room.name.as_str()).collect();
        assert_eq!(names, ["lobby", "rust"]);
        assert_eq!(
            (ids(&chat, "lobby"), ids(&chat, "rust")),
            (vec![1, 2], vec![7])
        );
        assert!(chat
            .rooms
            .iter()
            .all(|room| room.joining == Joining::Joined));
    }

    #[test]
    fn messages_go_to_their_room_and_count_as_unread_out_of_view() {
        let chat = in_two_rooms().reduce(message("rust", 8, "bob"));
        let chat = chat.reduce(message("rust", 9, "alice"));
        let chat = chat.reduce(message("lobby", 3, "bob"));
        assert_eq!(ids(&chat, "rust"), [7, 8, 9]);
        let rust = chat.room("rust").expect("rust");
        // Our own message is not unread; one in the room in view neither.
        assert_eq!(
            (rust.unread, chat.room("lobby").map(|r| r.unread)),
            (1, Some(0))
        );
        assert_eq!(chat.unread_total(), 1);
        // Opening rust: read, and the line marks where the unread began.
        let chat = chat.reduce(ChatAction::Open {
            room: Some("rust".into()),
        });
        let rust = chat.room("rust").expect("rust");
        assert_eq!((rust.unread, rust.new_since), (0, Some(8)));
        // Back to the lobby and to rust again: nothing new, no line.
        let chat = chat.reduce(ChatAction::Open { room: None });
        let chat = chat.reduce(ChatAction::Open {
            room: Some("rust".into()),
        });
        assert_eq!(chat.room("rust").and_then(|r| r.new_since), None);
    }

    fn mentioning(room: &str, id: u64, user: &str, names: &[&str]) -> ChatAction {
        let mut posted = posted(id, user, &format!("c{id}"));
        posted.message.mentions = names.iter().map(|name| (*name).to_owned()).collect();
        frame(ServerFrame::Message {
            room: room.into(),
            posted,
        })
    }

    fn alerted(chat: &Chat) -> Vec<(String, u64)> {
        chat.alerts
            .iter()
            .map(|alert| (alert.room.clone(), alert.id))
            .collect()
    }

    #[test]
    fn mentions_count_apart_and_notify_as_each_room_s_level_says() {
        // Welcomed as "Alice": mentions are in lower case.
        let chat = in_two_rooms().reduce(welcome("Alice"));
        let chat = chat.reduce(mentioning("rust", 8, "bob", &["alice"]));
        let chat = chat.reduce(message("rust", 9, "bob"));
        let rust = chat.room("rust").expect("rust");
        assert_eq!((rust.unread, rust.mentions), (2, 1));
        // Mentions only, by default: one alert, for the mention.
        assert_eq!(alerted(&chat), [("rust".to_owned(), 8)]);
        let chat = chat.reduce(ChatAction::Alerted { count: 1 });
        assert!(chat.alerts.is_empty());
        // Every message, then nothing.
        let chat = chat.reduce(ChatAction::SetNotify {
            room: "rust".into(),
            level: Notify::All,
        });
        let chat = chat.reduce(message("rust", 10, "bob"));
        assert_eq!(alerted(&chat), [("rust".to_owned(), 10)]);
        let chat = chat.reduce(ChatAction::SetNotify {
            room: "rust".into(),
            level: Notify::Nothing,
        });
        let chat = chat.reduce(ChatAction::Alerted { count: 5 });
        let chat = chat.reduce(mentioning("rust", 11, "bob", &["alice"]));
        assert!(chat.alerts.is_empty());
        assert_eq!(chat.notify_level("rust"), Notify::Nothing);
        assert_eq!(chat.notify_level("lobby"), Notify::Mentions);
        // The room in view (the lobby) raises nothing, mention or not.
        let chat = chat.reduce(mentioning("lobby", 3, "bob", &["alice"]));
        assert!(chat.alerts.is_empty());
        // Opening rust reads its mentions too.
        let chat = chat.reduce(ChatAction::Open {
            room: Some("rust".into()),
        });
        let rust = chat.room("rust").expect("rust");
        assert_eq!((rust.unread, rust.mentions), (0, 0));
    }

    #[test]
    fn a_visit_starts_from_the_frames_the_last_one_kept() {
        let mut chat = Chat::new(vec!["rust".into()], None, Vec::new(), Vec::new());
        let mut rust = posted(5, "alice", "c5");
        rust.message.msg = "mine".into();
        let frames = [
            ServerFrame::Welcome {
                user: "alice".into(),
                claimed: false,
                admin: false,
                rooms: vec![],
            },
            ServerFrame::History {
                room: "rust".into(),
                messages: vec![posted(3, "bob", "c3")],
                reset: true,
                has_older: false,
                seq: Some(4),
                locked: false,
                moderator: false,
            },
            ServerFrame::Message {
                room: "rust".into(),
                posted: rust,
            },
            // A lock after the history holds offline too.
            ServerFrame::Moderated {
                room: "rust".into(),
                seq: 6,
                action: ModAction::Lock,
                target: None,
                id: None,
                by: "mod".into(),
                until: None,
                reason: None,
                all_rooms: false,
                date_time: 0,
            },
            // A room no longer in the list stays out.
            ServerFrame::Deleted {
                room: "gone".into(),
                seq: 9,
                id: 1,
            },
        ];
        let mut kept = cache::FrameCache::default();
        for frame in &frames {
            kept.keep(&frame.to_json(), frame);
        }
        chat.restore(&kept);
        assert_eq!(ids(&chat, "rust"), [3, 5]);
        assert!(chat.room("gone").is_none());
        let rust = chat.room("rust").expect("rust");
        assert_eq!(rust.joining, Joining::Wanted, "joined again, after its seq");
        assert!(rust.locked);
        assert_eq!(rust.messages.resume_after(), Some(6), "after the lock");
        assert_eq!((rust.unread, chat.alerts.len()), (0, 0));
        assert!(rust.messages.entries[1].own, "ours, by the name kept");
        assert!(!chat.online());
    }

    #[test]
    fn the_room_in_view_counts_unread_while_the_page_is_hidden() {
        let chat = in_two_rooms().reduce(ChatAction::Visible(false));
        let chat = chat.reduce(message("lobby", 3, "bob"));
        assert_eq!(chat.unread_total(), 1);
        let chat = chat.reduce(ChatAction::Visible(true));
        let lobby = chat.room("lobby").expect("lobby");
        assert_eq!((lobby.unread, lobby.new_since), (0, Some(3)));
        // Escape marks it read: the line goes.
        let chat = chat.reduce(ChatAction::MarkRead);
        let lobby = chat.room("lobby").expect("lobby");
        assert_eq!((lobby.unread, lobby.new_since), (0, None));
    }

    #[test]
    fn opening_a_new_room_adds_it_to_be_joined_and_leaving_removes_it() {
        let chat = in_two_rooms().reduce(ChatAction::Open {
            room: Some("闲聊".into()),
        });
        let new = chat.room("闲聊").expect("added");
        assert_eq!(new.joining, Joining::Wanted);
        let chat = chat.reduce(ChatAction::JoinSent {
            room: "闲聊".into(),
        });
        assert_eq!(chat.room("闲聊").map(|r| r.joining), Some(Joining::Sent));
        let chat = chat.reduce(ChatAction::Leave {
            room: "rust".into(),
        });
        assert!(chat.room("rust").is_none());
        // Frames still on their way for a room left are dropped.
        let chat = chat.reduce(message("rust", 10, "bob"));
        assert!(chat.room("rust").is_none());
    }

    #[test]
    fn a_join_over_the_rate_limit_is_tried_again_after_the_wait() {
        let chat = in_two_rooms().reduce(ChatAction::Open {
            room: Some("go".into()),
        });
        let chat = chat.reduce(ChatAction::Frame {
            frame: ServerFrame::rate_limited(300, None).in_room("go"),
            now: 1_000.0,
        });
        assert_eq!(
            chat.room("go").map(|r| r.joining),
            Some(Joining::RetryAt(1_300.0))
        );
        let same = Rc::clone(&chat).reduce(ChatAction::Tick { now: 1_299.0 });
        assert!(Rc::ptr_eq(&chat, &same), "nothing to do yet");
        let chat = chat.reduce(ChatAction::Tick { now: 1_300.0 });
        assert_eq!(chat.room("go").map(|r| r.joining), Some(Joining::Wanted));
    }

    #[test]
    fn a_room_the_server_refuses_leaves_the_list_with_a_notice() {
        let chat = in_two_rooms().reduce(ChatAction::Open {
            room: Some("many".into()),
        });
        let chat = chat.reduce(frame(
            ServerFrame::error(ErrorCode::TooManyRooms, "leave one first").in_room("many"),
        ));
        assert!(chat.room("many").is_none());
        assert_eq!(chat.notice.as_deref(), Some("leave one first"));
    }

    #[test]
    fn history_resets_or_continues_per_room() {
        let chat = in_two_rooms().reduce(history("rust", &[8, 9], false, true));
        assert_eq!(ids(&chat, "rust"), [7, 8, 9]);
        let chat = chat.reduce(history("rust", &[20], true, false));
        assert_eq!(ids(&chat, "rust"), [20]);
        assert_eq!(ids(&chat, "lobby"), [1, 2]);
        let chat = chat.reduce(ChatAction::LoadingOlder {
            room: "lobby".into(),
        });
        assert!(chat.room("lobby").is_some_and(|r| r.messages.loading_older));
    }

    #[test]
    fn the_echo_of_an_own_message_confirms_it_and_a_refusal_fails_it() {
        let chat = reduce(
            Chat::new(
                vec!["lobby".into()],
                Some("lobby".into()),
                Vec::new(),
                Vec::new(),
            ),
            [
                ChatAction::Post(outgoing("lobby", "a1", 0.0)),
                ChatAction::Post(outgoing("lobby", "a2", 0.0)),
                ChatAction::Post(outgoing("lobby", "a3", 0.0)),
                welcome("alice"),
                frame(ServerFrame::Message {
                    room: "lobby".into(),
                    posted: posted(1, "alice", "a1"),
                }),
                // Another user's message with the same client id confirms nothing.
                frame(ServerFrame::Message {
                    room: "lobby".into(),
                    posted: posted(2, "bob", "a2"),
                }),
                frame(ServerFrame::send_error(
                    ErrorCode::StorageUnavailable,
                    "disk full",
                    "a3".into(),
                )),
            ],
        );
        let statuses: Vec<(&str, &OutgoingStatus)> = chat
            .outbox
            .iter()
            .map(|o| (o.client_id.as_str(), &o.status))
            .collect();
        let refused = OutgoingStatus::Refused {
            reason: "disk full".into(),
        };
        assert_eq!(
            statuses,
            [("a2", &OutgoingStatus::Pending), ("a3", &refused)]
        );
        // Confirmation through history after a reconnect works too.
        let chat = chat.reduce(frame(ServerFrame::History {
            room: "lobby".into(),
            messages: vec![posted(3, "alice", "a2")],
            reset: false,
            has_older: false,
            seq: None,
            locked: false,
            moderator: false,
        }));
        let left: Vec<&str> = chat.outbox.iter().map(|o| o.client_id.as_str()).collect();
        assert_eq!(left, ["a3"]);
        let chat = chat.reduce(ChatAction::Discard {
            client_id: "a3".into(),
        });
        assert!(chat.outbox.is_empty());
    }

    #[test]
    fn offline_every_room_is_joined_again_and_pending_messages_time_out() {
        let chat = in_two_rooms().reduce(ChatAction::Post(outgoing("rust", "r1", 0.0)));
        let chat = chat.reduce(ChatAction::Closed {
            retry_at: Some(5_800.0),
            now: 5_000.0,
        });
        assert_eq!(
            chat.connection,
            Connection::Offline {
                retry_at: Some(5_800.0)
            }
        );
        assert!(chat
            .rooms
            .iter()
            .all(|room| room.joining == Joining::Wanted));
        assert!(chat
            .rooms
            .iter()
            .all(|room| room.people.online_users.is_empty()));
        let chat = chat.reduce(ChatAction::Tick {
            now: outbox::PENDING_TIMEOUT_MS,
        });
        assert_eq!(chat.outbox[0].status, OutgoingStatus::TimedOut);
        assert!(chat.outbox[0].status.resend_on_connect());
    }

    #[test]
    fn name_refusals_end_the_session_and_other_errors_are_notices() {
        let chat = reduce(
            Chat::new(Vec::new(), None, Vec::new(), Vec::new()),
            [frame(ServerFrame::error(ErrorCode::UsernameTaken, "taken"))],
        );
        assert_eq!(chat.refused.as_deref(), Some("taken"));
        let chat = in_two_rooms().reduce(frame(ServerFrame::error(
            ErrorCode::InvalidLimit,
            "bad page",
        )));
        assert_eq!(
            (chat.notice.as_deref(), chat.refused.as_deref()),
            (Some("bad page"), None)
        );
        let chat = chat.reduce(ChatAction::DismissNotice);
        assert_eq!(chat.notice, None);
    }

    #[test]
    fn typing_is_per_room_and_a_message_ends_it() {
        let chat = in_two_rooms().reduce(ChatAction::Frame {
            frame: ServerFrame::Typing {
                room: "rust".into(),
                user: "bob".into(),
            },
            now: 1_000.0,
        });
        let typing = |chat: &Chat, room: &str| {
            chat.room(room)
                .map(|r| r.people.typing_users(Some("alice")).len())
                .unwrap_or_default()
        };
        assert_eq!((typing(&chat, "rust"), typing(&chat, "lobby")), (1, 0));
        let chat = chat.reduce(message("rust", 8, "bob"));
        assert_eq!(typing(&chat, "rust"), 0);
    }

    fn moderated(action: ModAction, target: Option<&str>, seq: u64) -> ChatAction {
        frame(ServerFrame::Moderated {
            room: "lobby".into(),
            seq,
            action,
            target: target.map(str::to_owned),
            id: None,
            by: "mod".into(),
            until: None,
            reason: Some("be kind".into()),
            all_rooms: false,
            date_time: 0,
        })
    }

    #[test]
    fn a_moderator_s_actions_are_notices_and_a_lock_is_the_room_s_state() {
        let chat = in_two_rooms();
        let chat = reduce(
            Rc::unwrap_or_clone(chat),
            [
                moderated(ModAction::Lock, None, 10),
                moderated(ModAction::Mute, Some("bob"), 11),
                moderated(ModAction::Mute, Some("alice"), 12),
                moderated(ModAction::Kick, Some("bob"), 13),
            ],
        );
        let lobby = chat.room("lobby").expect("the lobby");
        assert!(lobby.locked);
        assert_eq!(lobby.messages.seq, 13, "resumes after the newest event");
        let notices: Vec<&str> = lobby
            .people
            .notices
            .iter()
            .filter_map(|n| match &n.what {
                people::Notice::Said(text) => Some(text.as_str()),
                people::Notice::People { .. } => None,
            })
            .collect();
        // bob's mute is his own business.
        assert_eq!(
            notices,
            [
                "mod locked the room: only moderators post: be kind",
                "mod muted you here for now: be kind",
                "mod removed bob: be kind",
            ]
        );
        assert!(!chat.room("rust").expect("rust").locked);
        let chat = chat.reduce(moderated(ModAction::Unlock, None, 14));
        assert!(!chat.room("lobby").expect("the lobby").locked);
    }

    #[test]
    fn a_claimed_name_s_rooms_follow_it_from_the_server() {
        // This browser had lobby (on screen), rust, and go with a message
        // still to send; the name joined 闲聊 elsewhere and left rust.
        let mut chat = Chat::new(
            vec!["lobby".into(), "rust".into(), "go".into()],
            None,
            vec![outgoing("go", "c-1", 1.0)],
            Vec::new(),
        );
        chat.current = Some("lobby".into());
        let chat = Rc::new(chat).reduce(frame(ServerFrame::Welcome {
            user: "alice".into(),
            claimed: true,
            admin: false,
            rooms: vec!["闲聊".into(), "lobby".into()],
        }));
        let names: Vec<&str> = chat.rooms.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["lobby", "go", "闲聊"]);
        // At `/` (nothing on screen yet), the default room's history opens
        // it, listed already or not.
        let mut at_home = Rc::unwrap_or_clone(chat);
        at_home.current = None;
        let chat = Rc::new(at_home).reduce(frame(ServerFrame::History {
            room: "闲聊".into(),
            messages: vec![],
            reset: true,
            has_older: false,
            seq: None,
            locked: false,
            moderator: false,
        }));
        assert_eq!(chat.current.as_deref(), Some("闲聊"));
        assert_eq!(chat.rooms.len(), 3, "not listed twice");
        // A guest's welcome names none: its list stays its own.
        let chat = chat.reduce(welcome("alice"));
        assert_eq!(chat.rooms.len(), 3);
    }

    #[test]
    fn our_mute_is_the_room_s_state_until_lifted_or_over() {
        let muted = |chat: &Chat| chat.room("lobby").and_then(|room| room.muted.clone());
        let chat = in_two_rooms().reduce(moderated(ModAction::Mute, Some("bob"), 10));
        assert_eq!(muted(&chat), None, "another's");
        let chat = chat.reduce(moderated(ModAction::Mute, Some("alice"), 11));
        let mute = muted(&chat).expect("ours");
        assert_eq!((mute.until, mute.by.as_deref()), (None, Some("mod")));
        assert!(mute.holds(f64::MAX), "for good");
        let chat = chat.reduce(moderated(ModAction::Unmute, Some("alice"), 12));
        assert_eq!(muted(&chat), None);
        // Muted before a reload: the refused message tells the page.
        let chat = chat.reduce(frame(ServerFrame::Error {
            code: ErrorCode::Muted,
            message: "muted".into(),
            client_id: Some("c-1".into()),
            retry_after_ms: Some(60_000),
            room: Some("lobby".into()),
        }));
        let mute = muted(&chat).expect("heard again");
        let until = mute.until.expect("timed");
        assert!(mute.holds(until - 1.0) && !mute.holds(until));
    }
}
