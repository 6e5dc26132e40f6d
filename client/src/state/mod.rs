//! The chat as the client sees it: a pure reducer over the server's frames
//! and the user's actions, tested without a browser. Every action that
//! needs the time carries it; nothing here reads a clock.
//!
//! One module per concern: [`messages`] (a room's posted messages),
//! [`outbox`] (what the user wrote that the server has not confirmed),
//! [`people`] (who is in a room, typing, join notices), [`rooms`] (a room's
//! state, unread counts, the joined list), [`search`] (the search panel).

pub mod cache;
pub mod drafts;
pub mod messages;
pub mod outbox;
pub mod people;
mod refusals;
pub mod rooms;
pub mod search;

use std::rc::Rc;

use protocol::{MessageChange, Posted, ServerFrame};
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
    /// The server removes messages older than this many days.
    pub retain_days: Option<u32>,
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
    /// The search panel: its question and what came back.
    pub search: search::Search,
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
    /// The user searched (the `search` frame is sent).
    Search(search::Asked),
    /// The next page of the search was asked for.
    SearchMore,
    /// The search panel was closed.
    CloseSearch,
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
            retain_days: None,
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
            search: search::Search::default(),
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
        let new = self.room(&room).is_none();
        self.add_room(&room);
        let visible = self.visible;
        if let Some(opened) = self.room_mut(&room) {
            opened.opened_here |= new;
            if visible {
                opened.seen();
            }
        }
        self.current = Some(room);
    }

    /// A claimed name's rooms as the server keeps them (joined or left on
    /// any device) become this browser's list; the room on screen stays,
    /// and so do one with messages still to send and one opened here that
    /// the server has not heard of yet (offline, say). (A guest's list is
    /// its browser's alone: `rooms` is empty then.)
    fn follow_rooms(&mut self, rooms: &[String]) {
        if rooms.is_empty() {
            return;
        }
        let current = self.current.clone();
        let outbox = Rc::clone(&self.outbox);
        Rc::make_mut(&mut self.rooms).retain(|room| {
            rooms.contains(&room.name)
                || room.opened_here
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
                retain_days,
            } => {
                self.connection = Connection::Online;
                self.me = Some(user);
                self.claimed = claimed;
                self.admin = admin;
                self.retain_days = retain_days;
                self.follow_rooms(&rooms);
            }
            ServerFrame::History {
                room,
                messages,
                reset,
                has_older,
                seq,
                rules,
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
                state.opened_here = false;
                state.rules = rules;
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
            // How the frame reads as a change: protocol's one conversion.
            frame @ (ServerFrame::Edited { .. }
            | ServerFrame::Deleted { .. }
            | ServerFrame::Reaction { .. }) => {
                if let Some((room, seq, id, change)) = MessageChange::of_frame(frame) {
                    self.change(&room, seq, id, change);
                }
            }
            ServerFrame::Moderated {
                room,
                seq,
                action,
                target,
                by,
                reason,
                all_rooms,
                until,
                id,
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
                    state.rules.apply(action, id);
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
                        let notice = people::Notice::Moderated {
                            action,
                            by,
                            target,
                            reason,
                        };
                        let newest = state.messages.newest_id();
                        state.people.notice(notice, newest);
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
            ServerFrame::Results { hits, next } => self.search.results(hits, next),
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
                state.search.dropped();
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
            ChatAction::Search(asked) => state.search.ask(asked),
            ChatAction::SearchMore => {
                state.search.more();
            }
            ChatAction::CloseSearch => state.search.close(),
        }
        Rc::new(state)
    }
}

#[cfg(test)]
mod tests;
