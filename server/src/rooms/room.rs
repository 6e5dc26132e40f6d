//! One room in memory: the window of its newest events, its fan-out, and
//! who is in it.
//!
//! Events reach a room only from its log, and only once stored (see
//! [`crate::log`]): [`Room::publish`] applies each to the window and
//! broadcasts its frame, serialized once. So nobody, the sender included,
//! sees a message that is not stored, and everyone in the room sees the one
//! `seq` order.
//!
//! Entering takes the same lock as publishing: a connection subscribes to
//! the broadcast and copies its history in one step, so the seam between
//! the history it is sent and the live events after it has no gap and no
//! duplicate.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use protocol::{ChatMessage, Posted, RoomRules, ServerFrame, PRESENCE_NAMES_MAX};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};
use tokio_tungstenite::tungstenite::Bytes;

use super::inbox::{Inbox, RoomKey};
use super::members::Members;
use super::names::Name;
use super::{FellBehind, RoomLimits};
use crate::events::{event_frame, Event, Window};
use crate::wire;

/// What a room sends every connection in it, in one order.
#[derive(Debug, Clone)]
pub(crate) enum Broadcast {
    /// A frame for every client in the room, serialized and encoded once
    /// (see [`wire`]), and shared.
    Frame(Bytes),
    /// A tick of the server's clock, on which each connection checks
    /// whether its client is owed a ping or has been silent too long. One
    /// clock rather than a timer in every connection: most connections are
    /// idle, and each would carry its timer all its life.
    Tick,
    /// The server is shutting down: after the frames before this one, each
    /// connection says goodbye. Sent through the fan-out rather than a
    /// separate signal, so that an idle connection waits on one thing only.
    ShuttingDown,
    /// The room moved to a larger fan-out: the last broadcast of this one.
    /// Each connection takes its receiver of the new one from here.
    Moved(Arc<Handover>),
}

/// Receivers of a room's new fan-out, made (under the room's lock) for
/// every subscriber of the old one before anything is sent on the new:
/// whoever takes one misses nothing.
#[derive(Debug)]
pub(crate) struct Handover(Mutex<Vec<broadcast::Receiver<Broadcast>>>);

impl Handover {
    /// A receiver of the new fan-out, if one is left.
    pub(crate) fn take(&self) -> Option<broadcast::Receiver<Broadcast>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).pop()
    }
}

/// A room's first fan-out buffer, in broadcasts: enough for a small room.
/// It grows with the room (see [`Live::fit_fanout`]): tokio allocates a
/// broadcast channel's whole buffer up front, about 60 bytes a slot, and
/// most rooms are small.
const FIRST_FANOUT_CAPACITY: usize = 16;

pub(crate) struct Room {
    /// Canonical; shared with the connections that need to keep it.
    name: Arc<str>,
    live: Mutex<Live>,
    /// The newest `seq` published; `None` until the log has loaded the
    /// room. Joiners wait for it, and so do clients resuming after an id
    /// another instance gave out.
    published: watch::Sender<Option<u64>>,
}

/// Where a connection starts in a room.
pub(crate) struct Entered {
    /// Everything broadcast in the room from now on.
    pub fanout: broadcast::Receiver<Broadcast>,
    pub history: HistoryStart,
    pub online: Online,
}

/// The first names in a room (sorted by key), which of them are claimed,
/// and how many are in it.
pub(crate) struct Online {
    pub users: Vec<String>,
    pub members: Vec<String>,
    pub count: usize,
}

/// The messages a connection starts a room with (see `ServerFrame::History`).
pub(crate) struct HistoryStart {
    pub messages: Vec<Posted>,
    pub reset: bool,
    pub has_older: bool,
    /// The room's newest `seq`.
    pub seq: u64,
    /// When resuming: the edits, deletions and reactions since `after` to
    /// messages before it, and moderators' notices, to send right after
    /// the history.
    pub replay: Vec<ServerFrame>,
    /// What moderators left the room with.
    pub rules: RoomRules,
}

/// The server is shutting down: nobody enters any more.
#[derive(Debug)]
pub(crate) struct ShuttingDown;

struct Live {
    /// The newest stored messages, oldest first, at most `replay` of them,
    /// in their current state.
    recent: VecDeque<Posted>,
    /// The newest edits, deletions and reactions, oldest first, at most
    /// `replay` of them (less a deleted message's edits).
    changes: VecDeque<Event>,
    replay: usize,
    /// Every event from this `seq` on is in `recent` or `changes`: a
    /// client that has everything before it can resume.
    held_from: u64,
    /// The oldest message id stored, to tell whether older history exists.
    first_id: Option<u64>,
    /// The newest `seq` published.
    last_seq: u64,
    fanout: broadcast::Sender<Broadcast>,
    /// The fan-out's buffer now, and at most.
    fanout_capacity: usize,
    max_fanout_capacity: usize,
    shutting_down: bool,
    members: Members,
    /// Names (as spelled) that came or went since the last `presence` frame.
    presence_changes: Vec<String>,
    /// The inboxes of the connections in several rooms, which get every
    /// broadcast there rather than from the fan-out.
    inboxes: Vec<Arc<Inbox>>,
    /// Since when nobody here has been in the room.
    empty_since: Option<Instant>,
    /// Locked by a moderator (only moderators post), and who may not post
    /// here until when: as protocol's reducer leaves them. No mutes in
    /// almost every room: they cost nothing then.
    rules: RoomRules,
    /// Guests' browsers muted with the name they had (see
    /// [`Room::mute_browser`]): by browser key, the name's key and until
    /// when. A guest who renames keeps the browser, and the mute.
    muted_browsers: HashMap<[u8; 16], (String, i64)>,
}

/// Why a name may not post in a room now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Silenced {
    /// Muted until then (ms since the epoch).
    Muted { until: i64 },
    /// Locked: only a moderator may post.
    Locked,
}

impl Room {
    pub(crate) fn new(name: &str, limits: RoomLimits) -> Self {
        let live = Live {
            recent: VecDeque::new(),
            changes: VecDeque::new(),
            replay: limits.replay.max(limits.history),
            held_from: 0,
            first_id: None,
            last_seq: 0,
            fanout: broadcast::channel(FIRST_FANOUT_CAPACITY.min(limits.fanout_capacity).max(1)).0,
            fanout_capacity: FIRST_FANOUT_CAPACITY.min(limits.fanout_capacity).max(1),
            max_fanout_capacity: limits.fanout_capacity.max(1),
            shutting_down: false,
            members: Members::default(),
            presence_changes: Vec::new(),
            rules: RoomRules::default(),
            muted_browsers: HashMap::new(),
            inboxes: Vec::new(),
            empty_since: Some(Instant::now()),
        };
        Self {
            name: Arc::from(name),
            live: Mutex::new(live),
            published: watch::channel(None).0,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn shared_name(&self) -> Arc<str> {
        Arc::clone(&self.name)
    }

    /// Starts over from `window` (the log's newest events): when the log
    /// loads the room, or when it turned out to have lost what the window
    /// holds.
    pub(crate) fn load(&self, window: Window) {
        let mut live = self.lock();
        let replay = live.replay;
        live.recent = window.recent.into_iter().collect();
        live.changes = window.changes.into_iter().collect();
        live.held_from = window.held_from;
        while live.recent.len() > replay || live.changes.len() > replay {
            live.forget_oldest();
        }
        live.first_id = window.first_id;
        live.last_seq = window.last_seq;
        live.rules = window.rules;
        self.published.send_replace(Some(window.last_seq));
    }

    /// Lets go of the messages posted before `before` (ms since the
    /// epoch), which retention removed from the log, and of what was
    /// about them. A client that resumes from before the last of them
    /// starts over (`reset`), and so loses them too.
    pub(crate) fn forget_before(&self, before: i64) {
        let mut live = self.lock();
        let mut gone = Vec::new();
        while let Some(oldest) = live.recent.front() {
            if oldest.message.date_time >= before {
                break;
            }
            gone.push(oldest.message.id);
            live.recent.pop_front();
        }
        let Some(&last_gone) = gone.last() else {
            return;
        };
        // Replies quote them as the log now does: gone, as if deleted.
        let requote = protocol::Requote(None);
        for posted in &mut live.recent {
            let quoted = posted.message.reply_to.as_ref().map(|quote| quote.id);
            if let Some(id) = quoted.filter(|id| gone.binary_search(id).is_ok()) {
                requote.apply(id, posted.message.reply_to.as_mut());
            }
        }
        live.changes
            .retain(|change| change.target().is_none_or(|id| id > last_gone));
        live.held_from = live.held_from.max(last_gone.saturating_add(1));
        live.first_id = live
            .first_id
            .filter(|&first| first > last_gone)
            .or_else(|| live.recent.front().map(|posted| posted.message.id));
    }

    /// Applies stored events, in `seq` order, and broadcasts each one's
    /// frame. Events the room has (a log replaying after a reconnect) are
    /// skipped.
    pub(crate) fn publish(&self, events: Vec<Event>) {
        // Not loaded yet (a follower's read racing the room's return to
        // memory): the window being loaded has them.
        if self.published.borrow().is_none() {
            return;
        }
        let mut live = self.lock();
        live.grow_for(events.len());
        let now = crate::events::now_ms();
        let mut deliveries = 0;
        for event in events {
            if event.seq() <= live.last_seq {
                continue;
            }
            if let Event::Posted(posted) = &event {
                crate::metrics::post_lag(now.saturating_sub(posted.message.date_time));
            }
            deliveries += live.recipients();
            let json = match &event {
                Event::Posted(posted) => posted.to_frame_json(&self.name),
                change @ Event::Edited(_)
                | change @ Event::Deleted(_)
                | change @ Event::Reacted(_)
                | change @ Event::Moderated(_) => event_frame(&self.name, change).to_json(),
            };
            live.apply(event);
            live.broadcast(Broadcast::Frame(wire::text(&json)));
        }
        let last_seq = live.last_seq;
        drop(live);
        crate::metrics::delivered(deliveries);
        self.published.send_replace(Some(last_seq));
    }

    /// Broadcasts a frame that is not stored (typing, presence).
    pub(crate) fn announce(&self, frame: &ServerFrame) {
        self.lock()
            .broadcast(Broadcast::Frame(wire::text(&frame.to_json())));
    }

    /// Waits until the log has loaded the room and published `seq` (when
    /// given), for at most `patience`; says whether the room is loaded.
    pub(crate) async fn until_published(&self, seq: Option<u64>, patience: Duration) -> bool {
        let mut published = self.published.subscribe();
        let wanted = |last: &Option<u64>| match (last, seq) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(last), Some(seq)) => *last >= seq,
        };
        let _ = tokio::time::timeout(patience, published.wait_for(wanted)).await;
        let loaded = published.borrow().is_some();
        loaded
    }

    /// Enters `user` (holding the name) into the room: subscribes to its
    /// fan-out and copies, atomically with it, the history to send first
    /// (the messages after `after` when the room still has all of them,
    /// else the newest `history` with `reset`) and who is in the room.
    pub(crate) fn enter(
        &self,
        user: &Arc<Name>,
        after: Option<u64>,
        history: usize,
    ) -> Result<Entered, ShuttingDown> {
        let mut live = self.lock();
        // Checked under the lock that `shut_down` takes: a connection either
        // subscribed before the notice, and gets it, or is refused here.
        if live.shutting_down {
            return Err(ShuttingDown);
        }
        if live.members.join(user) {
            live.presence_changed(user.as_str());
        }
        live.empty_since = None;
        live.fit_fanout();
        Ok(Entered {
            fanout: live.fanout.subscribe(),
            history: live.history(&self.name, after, history),
            online: {
                let (users, members) = live.members.online(PRESENCE_NAMES_MAX);
                Online {
                    users,
                    members,
                    count: live.members.count(),
                }
            },
        })
    }

    /// Takes a connection of `user` out of the room, and its `inbox` (if
    /// it reads one) with what the room queued there.
    pub(crate) fn leave(&self, user: &Name, inbox: Option<&Arc<Inbox>>) {
        let mut live = self.lock();
        if live.members.leave(user) {
            live.presence_changed(user.as_str());
        }
        if let Some(inbox) = inbox {
            inbox.forget(RoomKey::of(&*live));
            live.inboxes.retain(|other| !Arc::ptr_eq(other, inbox));
            // A crowd that came and went leaves no buffer behind.
            if live.inboxes.capacity() > 2 * live.inboxes.len() + 8 {
                live.inboxes.shrink_to_fit();
            }
        }
        if live.members.is_empty_here() {
            live.empty_since = Some(Instant::now());
        }
    }

    /// Moves a connection's reading of the room from its receiver of the
    /// fan-out (`fanout`, from the moment of its history) to `inbox`: what
    /// the receiver still holds first, then every broadcast. Under the
    /// room's lock, so that nothing is missed or repeated.
    pub(crate) fn move_into(
        &self,
        mut fanout: broadcast::Receiver<Broadcast>,
        inbox: &Arc<Inbox>,
    ) -> Result<(), FellBehind> {
        let mut live = self.lock();
        let room = RoomKey::of(&*live);
        loop {
            match fanout.try_recv() {
                Ok(Broadcast::Moved(handover)) => match handover.take() {
                    Some(larger) => fanout = larger,
                    None => return Err(FellBehind(0)),
                },
                Ok(broadcast) => inbox.push(room, &broadcast),
                Err(TryRecvError::Lagged(missed)) => return Err(FellBehind(missed)),
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if !live.inboxes.iter().any(|other| Arc::ptr_eq(other, inbox)) {
            // One more at a time: every connection in several rooms is
            // here, and doubling would leave a quarter of it unused.
            live.inboxes.reserve_exact(1);
            live.inboxes.push(Arc::clone(inbox));
        }
        drop(fanout);
        live.fit_fanout();
        Ok(())
    }

    /// The newest `seq` published here (`None` before the room is loaded).
    pub(crate) fn published_seq(&self) -> Option<u64> {
        *self.published.borrow()
    }

    /// Whether the name keyed `key` may post here now (`now`: ms since the
    /// epoch), or why not. A locked room lets its moderators post: the
    /// caller asks who is one.
    /// A guest's `browser` counts too: a mute of the name it had covers
    /// every name it takes.
    pub(crate) fn silenced(
        &self,
        key: &str,
        browser: Option<[u8; 16]>,
        now: i64,
    ) -> Option<Silenced> {
        let live = self.lock();
        let by_name = live.rules.mutes.get(key).copied();
        // The browser's mute is its first name's, as the log has it now: a
        // stale word from the accounts (read before an unmute reached them)
        // cannot silence anyone the log has let speak.
        let by_browser = browser
            .and_then(|browser| live.muted_browsers.get(&browser))
            .and_then(|(name, _)| live.rules.mutes.get(name).copied());
        match by_name.max(by_browser) {
            Some(until) if until > now => Some(Silenced::Muted { until }),
            _ if live.rules.shown.locked => Some(Silenced::Locked),
            _ => None,
        }
    }

    /// Mutes the guest's `browser` here with the name keyed `name` (muted
    /// until `until`, ms since the epoch): an unmute of the name lifts it.
    /// Kept beside the room's own mutes, which are the log's: the log
    /// knows names, and a browser is known only where its guest connects.
    /// (`now`: ms since the epoch; mutes over by then are forgotten.)
    pub(crate) fn mute_browser(&self, browser: [u8; 16], name: String, until: i64, now: i64) {
        let mut live = self.lock();
        live.muted_browsers.retain(|_, (_, until)| *until > now);
        live.muted_browsers.insert(browser, (name, until));
    }

    /// Most broadcasts a connection may be behind the room.
    pub(crate) fn max_behind(&self) -> usize {
        self.lock().max_fanout_capacity
    }

    /// Broadcasts who came and went since the last call, if anyone did.
    /// A connection that entered meanwhile may hear of changes its `online`
    /// list already had: `presence` frames say what is true now, so
    /// applying them again is harmless.
    pub(crate) fn flush_presence(&self) {
        let mut live = self.lock();
        if live.presence_changes.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut live.presence_changes);
        let (mut joined, mut left): (Vec<String>, Vec<String>) = changes
            .into_iter()
            .partition(|name| live.members.is_online(name));
        joined.truncate(PRESENCE_NAMES_MAX);
        left.truncate(PRESENCE_NAMES_MAX);
        let members = joined
            .iter()
            .filter(|name| live.members.is_member(name))
            .cloned()
            .collect();
        let frame = ServerFrame::Presence {
            room: self.name.to_string(),
            joined,
            left,
            members,
            count: live.members.count(),
        };
        live.broadcast(Broadcast::Frame(wire::text(&frame.to_json())));
    }

    /// Replaces the view of who is in the room on other instances.
    pub(crate) fn set_elsewhere(&self, elsewhere: BTreeMap<String, String>) {
        let mut live = self.lock();
        for name in live.members.set_elsewhere(elsewhere) {
            live.presence_changed(&name);
        }
    }

    /// The names in the room on this instance.
    pub(crate) fn members_here(&self) -> Vec<String> {
        self.lock().members.here()
    }

    /// How many are in the room, on every instance this one knows of.
    pub(crate) fn online_count(&self) -> usize {
        self.lock().members.count()
    }

    /// Whether nobody here has been in the room for `idle` (its log stays;
    /// only memory is freed).
    pub(crate) fn is_idle(&self, now: Instant, idle: Duration) -> bool {
        let live = self.lock();
        live.fanout.receiver_count() == 0
            && live.inboxes.is_empty()
            && live
                .empty_since
                .is_some_and(|since| now.saturating_duration_since(since) >= idle)
    }

    pub(crate) fn tick(&self) {
        self.lock().broadcast(Broadcast::Tick);
    }

    /// Tells every connection in the room that the server is shutting down,
    /// and refuses entries from now on.
    pub(crate) fn shut_down(&self) {
        let mut live = self.lock();
        live.shutting_down = true;
        live.broadcast(Broadcast::ShuttingDown);
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        // A poisoned lock still holds consistent data: `Live` is only
        // changed by code that cannot panic halfway.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Live {
    fn history(&self, room: &str, after: Option<u64>, history: usize) -> HistoryStart {
        if let Some(after) = after.filter(|&after| self.can_resume_after(after)) {
            return HistoryStart {
                messages: self
                    .recent
                    .iter()
                    .filter(|p| p.message.id > after)
                    .cloned()
                    .collect(),
                reset: false,
                has_older: self.first_id.is_some_and(|first| first <= after),
                seq: self.last_seq,
                // Changes to the messages above are in their state already.
                replay: self
                    .changes
                    .iter()
                    .filter(|change| {
                        change.seq() > after && change.target().is_none_or(|id| id <= after)
                    })
                    .map(|change| event_frame(room, change))
                    .collect(),
                rules: self.rules.clone(),
            };
        }
        let skip = self.recent.len().saturating_sub(history);
        let messages: Vec<Posted> = self.recent.iter().skip(skip).cloned().collect();
        let has_older = match messages.first() {
            Some(oldest) => self.first_id.is_some_and(|first| first < oldest.message.id),
            None => false,
        };
        HistoryStart {
            messages,
            reset: true,
            has_older,
            seq: self.last_seq,
            replay: Vec::new(),
            rules: self.rules.clone(),
        }
    }

    /// Whether every event after `after` is held (and `after` is one of
    /// this room's `seq`s, not a leftover from another database).
    fn can_resume_after(&self, after: u64) -> bool {
        after <= self.last_seq && after.saturating_add(1) >= self.held_from
    }

    /// The one place an event changes the room's state.
    fn apply(&mut self, event: Event) {
        self.last_seq = event.seq();
        match event {
            Event::Posted(posted) => {
                self.first_id.get_or_insert(posted.message.id);
                self.recent.push_back(posted);
            }
            Event::Edited(_) | Event::Deleted(_) | Event::Reacted(_) => {
                if let Some((id, change)) = event.message_change() {
                    if let Some(message) = self.message_mut(id) {
                        change.apply(message);
                    }
                    if let Some(requote) = change.quote() {
                        for posted in &mut self.recent {
                            requote.apply(id, posted.message.reply_to.as_mut());
                        }
                    }
                    // What a message said before is gone, as in the log: a
                    // resuming client needs the newest text only, and none
                    // of a deleted message's.
                    if event.drops_earlier_edits() {
                        self.changes.retain(
                            |earlier| !matches!(earlier, Event::Edited(edit) if edit.id == id),
                        );
                    }
                }
                self.changes.push_back(event);
            }
            Event::Moderated(moderation) => {
                let key = moderation.target.as_deref().map(protocol::name_key);
                if let (Some(false), Some(key)) = (moderation.action.silences(), &key) {
                    self.muted_browsers.retain(|_, (name, _)| name != key);
                }
                (self.rules).apply(moderation.action, key, moderation.id, moderation.until);
                self.changes.push_back(Event::Moderated(moderation));
            }
        }
        while self.recent.len() > self.replay || self.changes.len() > self.replay {
            self.forget_oldest();
        }
    }

    /// Lets go of the oldest message or change, whichever is older: a
    /// client from before it can no longer resume.
    fn forget_oldest(&mut self) {
        let oldest_message = self.recent.front().map(|posted| posted.message.id);
        let oldest_change = self.changes.front().map(Event::seq);
        let forgotten = match (oldest_message, oldest_change) {
            (Some(message), Some(change)) if change < message => {
                self.changes.pop_front().map(|c| c.seq())
            }
            (Some(_), _) => self.recent.pop_front().map(|posted| posted.message.id),
            (None, Some(_)) => self.changes.pop_front().map(|c| c.seq()),
            (None, None) => None,
        };
        if let Some(seq) = forgotten {
            self.held_from = self.held_from.max(seq.saturating_add(1));
        }
    }

    /// A message in the window, by id.
    fn message_mut(&mut self, id: u64) -> Option<&mut ChatMessage> {
        let at = self
            .recent
            .binary_search_by_key(&id, |posted| posted.message.id)
            .ok()?;
        self.recent.get_mut(at).map(|posted| &mut posted.message)
    }

    /// Moves the room to a fan-out of the size it needs: two broadcasts of
    /// room per subscriber (a busy room is a big one, and a connection may
    /// fall further behind in it while the others are served), at least
    /// the first size, up to `--fanout-capacity`. It grows at once, and
    /// shrinks once four times too large: readers that moved to their
    /// inboxes (see [`Room::move_into`]) leave it oversized, and tokio
    /// allocates a fan-out's whole buffer up front.
    fn fit_fanout(&mut self) {
        let wanted = (self.fanout.receiver_count() + 1)
            .saturating_mul(2)
            .next_power_of_two()
            .max(FIRST_FANOUT_CAPACITY)
            .min(self.max_fanout_capacity);
        let fits =
            wanted <= self.fanout_capacity && wanted.saturating_mul(4) > self.fanout_capacity;
        if !fits {
            self.move_fanout(wanted);
        }
    }

    /// Makes room for `burst` broadcasts published at once (a log hands
    /// over what it committed or read in one go, up to hundreds): twice as
    /// many slots, up to `--fanout-capacity`, so that a reader in step with
    /// the room is not cut off by the burst itself. Grows only; the room
    /// shrinks again as readers come and go.
    fn grow_for(&mut self, burst: usize) {
        let wanted = burst
            .saturating_mul(2)
            .next_power_of_two()
            .min(self.max_fanout_capacity);
        if wanted > self.fanout_capacity {
            self.move_fanout(wanted);
        }
    }

    /// Moves every subscriber to a new fan-out of `capacity` slots: each
    /// takes its receiver from the `Moved` broadcast, after what the old
    /// one still holds for it.
    fn move_fanout(&mut self, capacity: usize) {
        let (fanout, _) = broadcast::channel(capacity);
        let receivers = (0..self.fanout.receiver_count())
            .map(|_| fanout.subscribe())
            .collect();
        let old = std::mem::replace(&mut self.fanout, fanout);
        self.fanout_capacity = capacity;
        let _ = old.send(Broadcast::Moved(Arc::new(Handover(Mutex::new(receivers)))));
    }

    /// The connections a broadcast reaches now.
    fn recipients(&self) -> usize {
        self.fanout.receiver_count() + self.inboxes.len()
    }

    fn broadcast(&self, broadcast: Broadcast) {
        let room = RoomKey::of(self);
        for inbox in &self.inboxes {
            inbox.push(room, &broadcast);
        }
        // Fails only when nobody is subscribed: then nobody is owed it.
        let _ = self.fanout.send(broadcast);
    }

    fn presence_changed(&mut self, name: &str) {
        if !self.presence_changes.iter().any(|changed| changed == name) {
            self.presence_changes.push(name.to_owned());
        }
    }
}
