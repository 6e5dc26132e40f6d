//! The room: one ordered sequence of messages, fanned out to every
//! connection, and who is in it.
//!
//! Messages reach the room only through its [`MessageLog`], and only once
//! stored: the log then publishes them to the [`Feed`], which appends them
//! to the in-memory window of recent messages and broadcasts each message's
//! frame, serialized once. So nobody, the sender included, sees a message
//! that is not stored, and every connection sees the one id order.
//!
//! Joining takes the same lock as publishing: a connection subscribes to the
//! broadcast and copies its history in one step, so the seam between the
//! history it is sent and the live messages after it has no gap and no
//! duplicate.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use protocol::{Posted, ServerFrame, PRESENCE_NAMES_MAX};
use tokio::sync::{broadcast, mpsc, watch};
use tokio_tungstenite::tungstenite::Bytes;

use crate::cluster::{self, ClusterPresence, PresenceCommand};
use crate::config::Config;
use crate::connection::DirectSender;
use crate::embedded::EmbeddedLog;
use crate::message_log::{MessageLog, OlderError, RoomClosed, StorageHealth, Window};
use crate::presence::{Presence, Taken};
use crate::store::StoreError;
use crate::wire;

/// How long a client resuming on this instance waits for messages another
/// instance already sent it to arrive here, before it starts over instead.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(2);

/// How much history the room keeps at hand and hands out.
#[derive(Debug, Clone, Copy)]
pub struct RoomLimits {
    /// Messages sent on connect.
    pub history: usize,
    /// Most messages replayed to a client resuming after `after=<id>`; a
    /// client that missed more starts over from recent history.
    pub replay: usize,
    /// Messages a connection may fall behind the broadcast before it is
    /// disconnected.
    pub fanout_capacity: usize,
}

pub struct Room {
    log: MessageLog,
    feed: Feed,
    /// Names and who is online across instances; `None` with one instance.
    cluster: Option<ClusterPresence>,
    history: usize,
}

/// What the room sends every connection, in one order.
#[derive(Debug, Clone)]
pub enum Broadcast {
    /// A frame for every client, serialized and encoded once (see
    /// [`wire`]), and shared.
    Frame(Bytes),
    /// A tick of the room's clock, on which each connection checks whether
    /// its client is owed a ping or has been silent too long. One clock for
    /// the room rather than a timer in every connection: most connections
    /// are idle, and each would carry its timer all its life.
    Tick,
    /// The server is shutting down: after the frames before this one, each
    /// connection says goodbye. Sent through the fan-out rather than a
    /// separate signal, so that an idle connection waits on one thing only.
    ShuttingDown,
}

/// Why a connection could not join.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error("the name is taken")]
    Taken,
    #[error("the server is shutting down")]
    ShuttingDown,
    /// The shared presence (Redis) did not answer: nobody can tell whether
    /// the name is free.
    #[error("the room cannot check names right now: {0}")]
    Unavailable(String),
}

impl From<Taken> for JoinError {
    fn from(_: Taken) -> Self {
        Self::Taken
    }
}

/// A connection's place in the room.
pub struct Joined {
    /// Everything broadcast from now on.
    pub fanout: broadcast::Receiver<Broadcast>,
    /// The `history` frame to send first.
    pub history: ServerFrame,
    /// The `online` frame to send after it.
    pub online: ServerFrame,
    /// Keeps the user online; dropping it (however the connection ends,
    /// even by a panic) takes them off.
    pub presence: PresenceGuard,
}

impl Room {
    /// Opens the message log `config` names (the SQLite file, or the Redis
    /// stream shared with other instances) and starts following it.
    pub async fn open(config: &Config) -> Result<Self, StoreError> {
        let limits = config.room_limits();
        let feed = Feed::new(limits);
        let (log, cluster) = match &config.redis_url {
            None => (
                MessageLog::Embedded(EmbeddedLog::open(&config.db, &feed)?),
                None,
            ),
            Some(url) => {
                let (log, presence) = cluster::open(url, config, &feed).await?;
                (MessageLog::Redis(log), Some(presence))
            }
        };
        Ok(Self {
            log,
            feed,
            cluster,
            history: limits.history,
        })
    }

    /// Takes `user` online (if `token` may hold the name) and subscribes to
    /// the room, returning, atomically with it, the `history` frame to send
    /// first (the messages after `after` when the room still has all of
    /// them, else the recent history with `reset`) and who is online.
    pub async fn join(
        &self,
        user: &str,
        token: Option<&str>,
        after: Option<u64>,
    ) -> Result<Joined, JoinError> {
        // Held from here: whatever fails below, dropping it lets go.
        let (presence, first) = self.feed.hold(user, token)?;
        if let Some(cluster) = &self.cluster {
            // Every connection asks: another instance may hold the name.
            cluster.claim(user, token).await?;
        }
        if first {
            self.feed.lock().presence_changed(user);
        }
        // Another instance may have sent this client messages that have not
        // reached this one yet.
        if let Some(after) = after.filter(|_| self.cluster.is_some()) {
            self.feed.caught_up(after, CATCH_UP_PATIENCE).await;
        }
        let live = self.feed.lock();
        // Checked under the lock that `shut_down` takes: a connection either
        // subscribed before the notice, and gets it, or is refused here.
        if live.shutting_down {
            return Err(JoinError::ShuttingDown);
        }
        Ok(Joined {
            fanout: live.fanout.subscribe(),
            history: live.history(after, self.history),
            online: ServerFrame::Online {
                users: live.presence.online(PRESENCE_NAMES_MAX),
                count: live.presence.count(),
            },
            presence,
        })
    }

    /// Tells everyone (on every instance) that `user` is typing.
    pub async fn typing(&self, user: &str) {
        match &self.log {
            MessageLog::Embedded(_) => self.feed.announce(&ServerFrame::Typing {
                user: user.to_owned(),
            }),
            MessageLog::Redis(log) => log.typing(user).await,
        }
    }

    /// Broadcasts who came and went since the last call, if anyone did.
    /// Called every [`protocol::PRESENCE_INTERVAL_MS`]. A connection that
    /// joined meanwhile may hear of changes its `online` list already had:
    /// `presence` frames say what is true now, so applying them again is
    /// harmless.
    pub fn flush_presence(&self) {
        let mut live = self.feed.lock();
        if live.presence_changes.is_empty() {
            return;
        }
        let changes = std::mem::take(&mut live.presence_changes);
        let (mut joined, mut left): (Vec<String>, Vec<String>) = changes
            .into_iter()
            .partition(|name| live.presence.is_online(name));
        joined.truncate(PRESENCE_NAMES_MAX);
        left.truncate(PRESENCE_NAMES_MAX);
        let count = live.presence.count();
        live.announce(&ServerFrame::Presence {
            joined,
            left,
            count,
        });
    }

    /// Ticks the room's clock (see [`Broadcast::Tick`]).
    pub fn tick(&self) {
        // Fails only when nobody is connected.
        let _ = self.feed.lock().fanout.send(Broadcast::Tick);
    }

    /// Tells every connection that the server is shutting down, and refuses
    /// joins from now on.
    pub fn shut_down(&self) {
        let mut live = self.feed.lock();
        live.shutting_down = true;
        // Fails only when nobody is connected: then nobody is owed it.
        let _ = live.fanout.send(Broadcast::ShuttingDown);
    }

    /// Whether this instance could store messages at its last attempt.
    pub fn storage_ok(&self) -> bool {
        self.feed.storage.is_ok()
    }

    /// How many connections are subscribed (on this instance).
    pub fn connections(&self) -> usize {
        self.feed.lock().fanout.receiver_count()
    }

    /// Stores `msg` (already validated) from `user`; it reaches everyone,
    /// the sender included, once stored. Duplicates and failures are
    /// answered on `reply`. Fails only once the room has stopped.
    pub async fn post(
        &self,
        user: &str,
        msg: String,
        client_id: String,
        reply: DirectSender,
    ) -> Result<(), RoomClosed> {
        self.log.append(user, msg, client_id, reply).await
    }

    /// Up to `limit` messages older than `before`, and whether more remain.
    pub async fn older(
        &self,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), OlderError> {
        self.log.older(before, limit).await
    }

    /// Stores everything queued so far and stops following the log; lets
    /// the other instances know this one's users are gone. Later posts fail
    /// with [`RoomClosed`].
    pub async fn close(&self) {
        self.log.close().await;
        if let Some(cluster) = &self.cluster {
            cluster.close().await;
        }
    }
}

/// The published state: what joining connections copy. Logs publish into
/// it; the room's connections subscribe to it.
#[derive(Clone)]
pub struct Feed {
    live: Arc<Mutex<Live>>,
    /// The newest id published, for clients waiting to catch up.
    published: Arc<watch::Sender<u64>>,
    /// Whether the log could store at its last attempt.
    pub storage: StorageHealth,
}

struct Live {
    /// The newest stored messages, oldest first, at most `replay` of them.
    recent: VecDeque<Posted>,
    replay: usize,
    /// The oldest id stored, to tell whether older history exists.
    first_id: Option<u64>,
    last_id: u64,
    fanout: broadcast::Sender<Broadcast>,
    /// Set once shutdown begins: nobody joins any more.
    shutting_down: bool,
    presence: Presence,
    /// Names (as spelled) that came or went since the last `presence` frame.
    presence_changes: Vec<String>,
    /// Where to say that a name's last connection here closed, with
    /// several instances.
    releases: Option<mpsc::UnboundedSender<PresenceCommand>>,
}

impl Feed {
    fn new(limits: RoomLimits) -> Self {
        let live = Live {
            recent: VecDeque::new(),
            replay: limits.replay.max(limits.history),
            first_id: None,
            last_id: 0,
            fanout: broadcast::channel(limits.fanout_capacity.max(1)).0,
            shutting_down: false,
            presence: Presence::default(),
            presence_changes: Vec::new(),
            releases: None,
        };
        Self {
            live: Arc::new(Mutex::new(live)),
            published: Arc::new(watch::channel(0).0),
            storage: StorageHealth::default(),
        }
    }

    /// How many messages the window keeps: what a log loads on start.
    pub fn replay(&self) -> usize {
        self.lock().replay
    }

    /// Starts over from `window` (the log's newest messages): on start, or
    /// when the log turned out to have lost what the window holds.
    pub fn reset(&self, window: Window) {
        let mut live = self.lock();
        let skip = window.recent.len().saturating_sub(live.replay);
        live.recent = window.recent.into_iter().skip(skip).collect();
        live.first_id = window.first_id;
        live.last_id = window.last_id;
        self.published.send_replace(window.last_id);
    }

    /// Publishes stored messages, in id order, each with its encoded frame.
    pub fn publish(&self, stored: Vec<(Posted, Bytes)>) {
        let mut live = self.lock();
        for (posted, frame) in stored {
            live.publish(posted, frame);
        }
        self.published.send_replace(live.last_id);
    }

    /// The newest id published.
    pub fn last_id(&self) -> u64 {
        self.lock().last_id
    }

    /// Broadcasts a frame that is not stored (typing).
    pub fn announce(&self, frame: &ServerFrame) {
        self.lock().announce(frame);
    }

    /// Replaces the view of who is online anywhere with `room`.
    pub fn set_room(&self, room: BTreeMap<String, String>) {
        let mut live = self.lock();
        for name in live.presence.set_room(room) {
            live.presence_changed(&name);
        }
    }

    /// The names connected here, with their tokens.
    pub fn held_here(&self) -> Vec<(String, Option<String>)> {
        self.lock().presence.held_here()
    }

    pub fn is_held_here(&self, name: &str) -> bool {
        self.lock().presence.is_held_here(name)
    }

    /// From now on, the last connection of a name here is reported on
    /// `releases`.
    pub fn report_releases(&self, releases: mpsc::UnboundedSender<PresenceCommand>) {
        self.lock().releases = Some(releases);
    }

    /// Waits until `id` is published, for at most `patience`.
    async fn caught_up(&self, id: u64, patience: Duration) {
        let mut published = self.published.subscribe();
        let _ = tokio::time::timeout(patience, published.wait_for(|&last| last >= id)).await;
    }

    /// Registers one connection of `user` here; says whether it is the
    /// name's first here.
    fn hold(&self, user: &str, token: Option<&str>) -> Result<(PresenceGuard, bool), Taken> {
        let first = self.lock().presence.connect(user, token)?;
        let guard = PresenceGuard {
            feed: self.clone(),
            user: user.to_owned(),
        };
        Ok((guard, first))
    }

    fn lock(&self) -> MutexGuard<'_, Live> {
        // A poisoned lock still holds consistent data: `Live` is only
        // changed by code that cannot panic halfway.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub struct PresenceGuard {
    feed: Feed,
    user: String,
}

impl PresenceGuard {
    /// The name it keeps online.
    pub fn user(&self) -> &str {
        &self.user
    }
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let mut live = self.feed.lock();
        if live.presence.disconnect(&self.user) {
            live.presence_changed(&self.user);
            if let Some(releases) = &live.releases {
                let _ = releases.send(PresenceCommand::Release(self.user.clone()));
            }
        }
    }
}

impl Live {
    fn history(&self, after: Option<u64>, history: usize) -> ServerFrame {
        if let Some(after) = after.filter(|&after| self.can_resume_after(after)) {
            let messages: Vec<Posted> = self
                .recent
                .iter()
                .filter(|p| p.message.id > after)
                .cloned()
                .collect();
            return ServerFrame::History {
                messages,
                reset: false,
                has_older: self.first_id.is_some_and(|first| first <= after),
            };
        }
        let skip = self.recent.len().saturating_sub(history);
        let messages: Vec<Posted> = self.recent.iter().skip(skip).cloned().collect();
        let has_older = match messages.first() {
            Some(oldest) => self.first_id.is_some_and(|first| first < oldest.message.id),
            None => false,
        };
        ServerFrame::History {
            messages,
            reset: true,
            has_older,
        }
    }

    /// Whether every message after `after` is in `recent` (and `after` is
    /// one of this room's ids, not a leftover from another database).
    fn can_resume_after(&self, after: u64) -> bool {
        if after > self.last_id {
            return false;
        }
        match self.recent.front() {
            None => true,
            Some(oldest) => {
                oldest.message.id <= after.saturating_add(1)
                    || Some(oldest.message.id) == self.first_id
            }
        }
    }

    fn presence_changed(&mut self, name: &str) {
        if !self.presence_changes.iter().any(|changed| changed == name) {
            self.presence_changes.push(name.to_owned());
        }
    }

    fn announce(&self, frame: &ServerFrame) {
        // Fails only when nobody is connected: then nobody is owed it.
        let _ = self
            .fanout
            .send(Broadcast::Frame(wire::text(&frame.to_json())));
    }

    fn publish(&mut self, posted: Posted, frame: Bytes) {
        self.last_id = posted.message.id;
        self.first_id.get_or_insert(posted.message.id);
        if self.recent.len() == self.replay {
            self.recent.pop_front();
        }
        self.recent.push_back(posted);
        // Fails only when nobody is connected: then nobody is owed it.
        let _ = self.fanout.send(Broadcast::Frame(frame));
    }
}
