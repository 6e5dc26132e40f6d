//! The rooms: which exist in memory, who holds which name, and the way in
//! and out of each.
//!
//! A room is made in memory when someone first joins it (its log, if it
//! has one, is loaded then) and dropped after `--room-idle` seconds with
//! nobody in it; its log stays. The log publishes each followed room's
//! events here ([`Subscriber`]), and each [`Room`] fans them out.

mod inbox;
mod members;
mod names;
mod room;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use protocol::{Posted, ServerFrame};
use tokio::sync::{broadcast, mpsc};

pub(crate) use inbox::Inbox;
pub(crate) use room::Silenced;
pub(crate) use room::{Broadcast, Handover};
pub(crate) use room::{Entered, HistoryStart, Online};

use crate::config::Config;
use crate::events::{Appended, Event, Moderation, NewEvent, PutOut, Window};
use crate::log::{LogError, MessageLog, Subscriber};
use crate::presence::{ClusterPresence, HeldName, PresenceCommand, PresenceError, PresenceView};
pub(crate) use names::Name;
pub(crate) use names::{browser_key, hex, Eviction};

use names::{Names, Taken};
use room::Room;

/// How long a client resuming on this instance waits for messages another
/// instance already sent it to arrive here, before it starts over instead.
const CATCH_UP_PATIENCE: Duration = Duration::from_secs(2);
/// How long a joiner waits for a room someone else is loading.
const LOAD_PATIENCE: Duration = Duration::from_secs(10);

/// How much history a room keeps at hand and hands out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RoomLimits {
    /// Messages sent on joining.
    pub history: usize,
    /// Most messages replayed to a client resuming after `after=<id>`; a
    /// client that missed more starts over from recent history.
    pub replay: usize,
    /// Messages a connection may fall behind a room's broadcast before it
    /// is disconnected.
    pub fanout_capacity: usize,
}

impl RoomLimits {
    /// The limits the settings give. (Read here, not offered by `config`:
    /// the settings import nothing of the server.)
    pub(crate) fn of(config: &Config) -> Self {
        Self {
            history: config.history,
            replay: config.replay_limit,
            fanout_capacity: config.fanout_capacity,
        }
    }
}

/// Every room of this instance and the way into them.
pub(crate) struct Rooms {
    registry: Arc<Registry>,
    log: MessageLog,
    /// Names and who is in which room across instances; `None` with one
    /// instance.
    cluster: Option<ClusterPresence>,
    history: usize,
    max_rooms: usize,
    max_rooms_per_address: usize,
    default_room: String,
    idle: Duration,
}

/// The rooms in memory and the names held here: what the log publishes
/// into and the cluster presence reads. Made first, so that the
/// composition root (`crate::open_rooms`) can build the log and presence
/// on it and hand them to [`Rooms::new`]: the rooms build no backend.
pub(crate) struct Registry {
    map: Mutex<RoomMap>,
    names: Names,
    limits: RoomLimits,
    /// Where to say that a name's last connection here closed, with
    /// several instances.
    releases: Mutex<Option<mpsc::UnboundedSender<PresenceCommand>>>,
    /// Where to say that a guest's browser was muted (see
    /// [`Rooms::muted_browsers`]): the accounts keep it.
    muted_browsers: Mutex<Option<mpsc::UnboundedSender<MutedBrowser>>>,
}

struct RoomMap {
    rooms: HashMap<String, Arc<Room>>,
    /// New rooms (without history) in memory, by the address that opened
    /// them, counted against `--max-rooms-per-address`.
    opened: HashMap<IpAddr, usize>,
    /// Who opened each of those.
    opener: HashMap<String, IpAddr>,
    /// Set once shutdown begins: no room is made or entered any more.
    shutting_down: bool,
}

/// Why a connection could not come in, or join a room.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JoinError {
    #[error("the name is taken")]
    Taken,
    #[error("the server is shutting down")]
    ShuttingDown,
    #[error("the server holds as many rooms as it may")]
    RoomLimitReached,
    /// The shared presence (Redis) did not answer, or the room's log could
    /// not be read.
    #[error("the room is unavailable right now: {0}")]
    Unavailable(String),
}

impl From<PresenceError> for JoinError {
    fn from(error: PresenceError) -> Self {
        match error {
            PresenceError::Taken => Self::Taken,
            PresenceError::Unavailable(why) => Self::Unavailable(why),
        }
    }
}

impl From<Taken> for JoinError {
    fn from(_: Taken) -> Self {
        Self::Taken
    }
}

/// A name held by a connection; dropping it (however the connection ends,
/// even by a panic) lets go of it.
pub(crate) struct NameGuard {
    registry: Arc<Registry>,
    name: Arc<Name>,
    /// For a connection let in by a session or an API token: which (so a
    /// sign-out closes it) and, for a claimed name, the author keys of
    /// what its browser posted under it as a guest (see
    /// `Author::guest_keys`). Behind a pointer, none for a guest by
    /// `?user=`: every connection has the field, and its task's size
    /// decides the allocator's size class.
    signed_in: Option<Box<SignedIn>>,
}

/// What a connection let in by a credential keeps (see `NameGuard`).
struct SignedIn {
    /// The session's (or token's) id: `Secret::id`.
    credential: String,
    guest_keys: [Option<[u8; 16]>; 2],
}

impl NameGuard {
    pub(crate) fn name(&self) -> &Arc<Name> {
        &self.name
    }

    pub(crate) fn guest_keys(&self) -> Vec<String> {
        self.signed_in
            .iter()
            .flat_map(|signed_in| signed_in.guest_keys.iter().flatten())
            .copied()
            .map(names::hex)
            .collect()
    }

    /// Whether the session or API token that let this connection in was
    /// signed out or revoked since: it must go.
    pub(crate) fn is_revoked(&self) -> bool {
        self.signed_in
            .as_ref()
            .is_some_and(|signed_in| self.registry.names.is_revoked(&signed_in.credential))
    }
}

impl Drop for NameGuard {
    fn drop(&mut self) {
        if self.registry.names.disconnect(&self.name) {
            let releases = self.registry.lock_releases();
            if let Some(releases) = &*releases {
                let _ = releases.send(PresenceCommand::Release(self.name.to_string()));
            }
        }
    }
}

/// What a connection holds its name with.
pub(crate) struct Holder<'a> {
    /// Connections with the same token share the name (see
    /// `Names::connect`); the token also keys what they post.
    pub token: Option<&'a str>,
    pub claimed: bool,
    /// For a claimed name, what the connection's browser may have held it
    /// with as a guest (its session, its token): what it posted so is its
    /// own too.
    pub as_guest: [Option<&'a str>; 2],
    /// The id of the session or API token that let the connection in.
    pub credential: Option<&'a str>,
    /// A guest's browser, as bans know it (see `Name::browser_key`).
    pub browser: Option<&'a str>,
}

impl<'a> Holder<'a> {
    /// A guest, with its browser's token (or a client without one).
    #[cfg(test)]
    pub(crate) fn guest(token: Option<&'a str>) -> Self {
        Self {
            token,
            claimed: false,
            as_guest: [None, None],
            credential: None,
            browser: token,
        }
    }
}

/// A connection entered into a room, until it takes its place among its
/// [`Memberships`]; dropped before (the connection ended while joining),
/// it takes the connection out again.
pub(crate) struct Entering {
    room: Option<Arc<Room>>,
    name: Arc<Name>,
}

impl Entering {
    pub(crate) fn name(&self) -> &Name {
        &self.name
    }

    /// Mutes the guest's browser in the room entered, as the accounts
    /// remember it (see [`Room::mute_browser`]).
    pub(crate) fn mute_browser(&self, muted: &MutedBrowser, now: i64) {
        if let (Some(room), Some(browser)) = (&self.room, self.name.browser()) {
            room.mute_browser(browser, muted.name.clone(), muted.until, now);
        }
    }
}

/// A guest's browser muted in a room with the name it had: the accounts
/// keep it, so that the guest, renamed or back after a restart, is still
/// muted there.
#[derive(Debug, Clone)]
pub(crate) struct MutedBrowser {
    pub(crate) room: String,
    /// The key of the name muted (its unmute lifts this).
    pub(crate) name: String,
    /// The browser's key (see [`Name::browser_key`]).
    pub(crate) browser: String,
    /// Ms since the epoch (for good: `i64::MAX`).
    pub(crate) until: i64,
}

impl Drop for Entering {
    fn drop(&mut self) {
        if let Some(room) = self.room.take() {
            room.leave(&self.name, None);
        }
    }
}

/// The rooms a connection is in, in the order it joined them. It is in
/// each while this holds it; dropping it (however the connection ends, even
/// by a panic) takes it out of every one.
///
/// Its name is kept here once, not in each room's entry: a connection in 20
/// rooms pays for 20 pointers here, one in each room, and a member entry.
pub(crate) struct Memberships {
    name: Arc<Name>,
    rooms: Vec<Arc<Room>>,
    reading: Reading,
}

/// How a connection takes its rooms' broadcasts.
enum Reading {
    /// In one room (or none yet): from its fan-out, directly.
    Fanout(Option<broadcast::Receiver<Broadcast>>),
    /// Once in several (and from then on): from an inbox every room pushes
    /// to. See [`inbox`].
    Inbox(Arc<Inbox>),
}

/// The connection fell behind a room's broadcasts while its reading moved
/// to an inbox: it starts over.
#[derive(Debug)]
pub(crate) struct FellBehind(pub u64);

impl Memberships {
    pub(crate) fn new(name: Arc<Name>) -> Self {
        Self {
            name,
            rooms: Vec::new(),
            reading: Reading::Fanout(None),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Where the connection is in `room`, if it is.
    pub(crate) fn position(&self, room: &str) -> Option<usize> {
        self.rooms.iter().position(|joined| joined.name() == room)
    }

    /// Whether the name keyed `key` may post in the room at `index` now
    /// (`now`: ms since the epoch), or why not.
    pub(crate) fn silenced(&self, index: usize, now: i64) -> Option<Silenced> {
        (self.rooms.get(index)?).silenced(self.name.key(), self.name.browser(), now)
    }

    /// The canonical name of the room at `index`.
    pub(crate) fn room_name(&self, index: usize) -> Option<&str> {
        self.rooms.get(index).map(|room| room.name())
    }

    /// The first room's name, shared: a connection keeps it without a copy.
    pub(crate) fn first_room_name(&self) -> Option<Arc<str>> {
        self.rooms.first().map(|room| room.shared_name())
    }

    /// The one fan-out the connection reads, while it reads one.
    pub(crate) fn fanout_mut(&mut self) -> Option<&mut broadcast::Receiver<Broadcast>> {
        match &mut self.reading {
            Reading::Fanout(fanout) => fanout.as_mut(),
            Reading::Inbox(_) => None,
        }
    }

    /// The inbox the connection reads, once it has been in several rooms.
    pub(crate) fn inbox(&self) -> Option<&Arc<Inbox>> {
        match &self.reading {
            Reading::Fanout(_) => None,
            Reading::Inbox(inbox) => Some(inbox),
        }
    }

    /// Takes in a room entered (`entering`, reading `fanout` from the
    /// moment of its history), in place of the connection's earlier place
    /// in it, if it had one.
    pub(crate) fn insert(
        &mut self,
        mut entering: Entering,
        fanout: broadcast::Receiver<Broadcast>,
    ) -> Result<(), FellBehind> {
        let Some(room) = entering.room.take() else {
            return Ok(());
        };
        if let Some(earlier) = self.position(room.name()) {
            let earlier = self.rooms.remove(earlier);
            earlier.leave(&self.name, self.inbox());
        }
        // Exactly: most connections are in one room, and stay so.
        self.rooms.reserve_exact(1);
        self.rooms.push(Arc::clone(&room));
        if let Reading::Fanout(only) = &mut self.reading {
            if self.rooms.len() == 1 {
                *only = Some(fanout);
                return Ok(());
            }
            // The second room: every room queues to one inbox from now on,
            // the first with what its fan-out still holds for it.
            let inbox = Arc::new(Inbox::new(room.max_behind()));
            if let (Some(first), Some(only)) = (self.rooms.first(), only.take()) {
                first.move_into(only, &inbox)?;
            }
            self.reading = Reading::Inbox(inbox);
        }
        match &self.reading {
            Reading::Inbox(inbox) => room.move_into(fanout, inbox),
            Reading::Fanout(_) => Ok(()),
        }
    }

    /// Takes the connection out of the room at `index`.
    pub(crate) fn remove(&mut self, index: usize) {
        if index < self.rooms.len() {
            let room = self.rooms.remove(index);
            room.leave(&self.name, self.inbox());
            if let Reading::Fanout(only) = &mut self.reading {
                *only = None;
            }
        }
    }
}

impl Drop for Memberships {
    fn drop(&mut self) {
        for room in &self.rooms {
            room.leave(&self.name, self.inbox());
        }
    }
}

/// A room as the directory shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RoomSummary {
    pub room: String,
    /// In the room now, as far as this instance knows.
    pub online: usize,
    /// When the newest message was posted (ms since the epoch); `None` for
    /// a room nobody has posted in.
    pub last_message_at: Option<i64>,
}

impl Rooms {
    /// The rooms on `log`, with `presence` when several instances share
    /// the rooms, both built on `registry` (see `crate::open_rooms`).
    /// Rooms are loaded as people join them.
    pub(crate) fn new(
        registry: Arc<Registry>,
        log: MessageLog,
        presence: Option<ClusterPresence>,
        config: &Config,
    ) -> Self {
        if let Some(presence) = &presence {
            *registry.lock_releases() = Some(presence.commands());
        }
        Self {
            history: registry.limits.history,
            registry,
            log,
            cluster: presence,
            max_rooms: config.max_rooms.max(1),
            max_rooms_per_address: config.max_rooms_per_address.max(1),
            default_room: config.default_room.clone(),
            idle: Duration::from_secs(config.room_idle),
        }
    }

    /// Takes `user` (canonical, validated) for this connection, if `token`
    /// may hold the name: here, and with several instances everywhere.
    pub(crate) async fn connect(
        &self,
        user: &str,
        holder: &Holder<'_>,
    ) -> Result<NameGuard, JoinError> {
        if self.registry.lock_map().shutting_down {
            return Err(JoinError::ShuttingDown);
        }
        let token = holder.token;
        let name = (self.registry.names).connect(user, token, holder.claimed, holder.browser)?;
        // Held from here: whatever fails below, dropping it lets go.
        let guard = NameGuard {
            registry: Arc::clone(&self.registry),
            name,
            signed_in: holder.credential.map(|credential| {
                Box::new(SignedIn {
                    credential: credential.to_owned(),
                    guest_keys: (holder.as_guest).map(|guest| {
                        guest
                            .filter(|_| holder.claimed)
                            .map(|guest| names::author_key(user, guest))
                    }),
                })
            }),
        };
        if let Some(cluster) = &self.cluster {
            // Every connection asks: another instance may hold the name.
            cluster.claim(user, token).await?;
        }
        Ok(guard)
    }

    /// The guests' browsers muted from now on, with the names they had: a
    /// mute names a name, and only the instance a guest connects to knows
    /// its browser. The composition root hands them to the accounts.
    pub(crate) fn muted_browsers(&self) -> mpsc::UnboundedReceiver<MutedBrowser> {
        let (sender, receiver) = mpsc::unbounded_channel();
        *self
            .registry
            .muted_browsers
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(sender);
        receiver
    }

    /// Why `name`'s connection that came in at epoch `since` must go, if
    /// it was put out since (see `Names::evict`).
    pub(crate) fn eviction(&self, name: &Name, since: u32) -> Option<Arc<Eviction>> {
        self.registry.names.eviction(name, since)
    }

    /// The count of evictions so far (see `Names::epoch`).
    pub(crate) fn eviction_epoch(&self) -> u32 {
        self.registry.names.epoch()
    }

    /// Signs out every connection of the claimed name `name`, here and on
    /// the other instances: its password changed. The session that changed
    /// it comes back at once.
    pub(crate) async fn sign_out(&self, name: &str) {
        self.registry.names.evict(name, Eviction::SignedOut);
        self.log.put_out(&PutOut::SignedOut(name.to_owned())).await;
    }

    /// Closes the connections the session or API token `credential` (its
    /// id) let in, here and on the other instances: it was signed out or
    /// revoked.
    pub(crate) async fn revoke(&self, credential: &str) {
        self.registry.names.revoke(credential);
        self.log
            .put_out(&PutOut::Revoked(credential.to_owned()))
            .await;
    }

    /// Puts the target of a kick or ban in `room` out on the instances
    /// that do not follow the room (those that do hear its event).
    pub(crate) async fn put_out_elsewhere(&self, room: &str, moderation: &Moderation) {
        let notice = PutOut::Moderated {
            room: room.to_owned(),
            moderation: moderation.clone(),
        };
        self.log.put_out(&notice).await;
    }

    /// Whether a connection here holds `name` (canonical, or a look-alike
    /// of it) with another holder than `holder` (`None`: any holder).
    pub(crate) fn is_name_held_by_other(&self, name: &str, holder: Option<&str>) -> bool {
        self.registry.names.is_held_by_other(name, holder)
    }

    /// Enters `user` (holding the name) into `room` (canonical), loading the
    /// room first if nobody here is in it: answers with the membership and
    /// where the connection starts (see [`Room::enter`]).
    /// `from` is the client's address: a new room it opens counts against
    /// its cap.
    pub(crate) async fn join(
        &self,
        room: &str,
        user: &Arc<Name>,
        after: Option<u64>,
        from: Option<IpAddr>,
    ) -> Result<(Entering, Entered), JoinError> {
        let (room, opened) = self.room(room).await?;
        if !room.until_published(None, LOAD_PATIENCE).await {
            return Err(JoinError::Unavailable(
                "the room's history could not be loaded".into(),
            ));
        }
        if opened {
            self.admit_opened(&room, from)?;
        }
        // Another instance may have sent this client messages that have
        // not reached this one yet.
        if let Some(after) = after.filter(|_| self.cluster.is_some()) {
            room.until_published(Some(after), CATCH_UP_PATIENCE).await;
        }
        let entered = room
            .enter(user, after, self.history)
            .map_err(|_| JoinError::ShuttingDown)?;
        let entering = Entering {
            room: Some(room),
            name: Arc::clone(user),
        };
        Ok((entering, entered))
    }

    /// A room this join brought into memory, loaded: the default room and
    /// rooms with history are always admitted (once, filling `--max-rooms`
    /// with empty rooms shut everyone out of the rooms they talk in, the
    /// default room too); a new one counts against `--max-rooms` and the
    /// opener's `--max-rooms-per-address`, and over either is dropped again.
    fn admit_opened(&self, room: &Arc<Room>, from: Option<IpAddr>) -> Result<(), JoinError> {
        let name = room.name();
        if name == self.default_room || room.published_seq().unwrap_or(0) > 0 {
            return Ok(());
        }
        let address = from.map(crate::limits::address_key);
        let mut map = self.registry.lock_map();
        let by_address =
            address.map_or(0, |address| map.opened.get(&address).copied().unwrap_or(0));
        let over = map.rooms.len() > self.max_rooms || by_address >= self.max_rooms_per_address;
        // Someone else found it meanwhile and is joining it: it stays.
        let alone = Arc::strong_count(room) <= 2;
        if over && alone {
            map.rooms.remove(name);
            drop(map);
            self.log.unfollow(name);
            return Err(JoinError::RoomLimitReached);
        }
        if let Some(address) = address {
            *map.opened.entry(address).or_default() += 1;
            map.opener.insert(name.to_owned(), address);
        }
        Ok(())
    }

    /// The room named `name`, made (and its log followed) if it is not in
    /// memory; and whether this call made it.
    async fn room(&self, name: &str) -> Result<(Arc<Room>, bool), JoinError> {
        let room = {
            let mut map = self.registry.lock_map();
            if map.shutting_down {
                return Err(JoinError::ShuttingDown);
            }
            if let Some(room) = map.rooms.get(name) {
                return Ok((Arc::clone(room), false));
            }
            let room = Arc::new(Room::new(name, self.registry.limits));
            map.rooms.insert(name.to_owned(), Arc::clone(&room));
            room
        };
        if let Err(error) = self.log.follow(name).await {
            tracing::warn!(%error, room = name, "cannot load a room");
            // Made again by the next join, which tries again.
            self.registry.lock_map().rooms.remove(name);
            return Err(JoinError::Unavailable(error.to_string()));
        }
        if let Some(cluster) = &self.cluster {
            match cluster.read_room(name).await {
                Ok(elsewhere) => room.set_elsewhere(elsewhere),
                // The next poll reads it.
                Err(error) => tracing::warn!(%error, room = name, "cannot read who is in a room"),
            }
        }
        Ok((room, true))
    }

    /// Appends `event` (already validated) to its room's log (see
    /// [`MessageLog::append`]); it reaches everyone in the room, the
    /// sender included, once stored.
    pub(crate) async fn append(&self, event: NewEvent) -> Result<Appended, LogError> {
        let started = std::time::Instant::now();
        let outcome = self.log.append(event).await;
        crate::metrics::appended(outcome.as_ref().ok(), started.elapsed());
        outcome
    }

    /// Up to `limit` messages of `room` older than `before`, and whether
    /// more remain.
    pub(crate) async fn older(
        &self,
        room: &str,
        before: u64,
        limit: usize,
    ) -> Result<(Vec<Posted>, bool), LogError> {
        self.log.older(room, before, limit).await
    }

    /// The newest messages of `rooms` that match `query` (see
    /// `store::search`), and the next page's cursor; `None` when the log
    /// cannot search.
    pub(crate) async fn search(
        &self,
        query: protocol::Query,
        rooms: Vec<String>,
        before: Option<u64>,
        limit: usize,
    ) -> Result<(Vec<protocol::Hit>, Option<u64>), LogError> {
        self.log.search(query, rooms, before, limit).await
    }

    /// The ids of `user`'s messages in `room` that still show, newest
    /// first: what a purge removes, and what its question counts. (One
    /// pass over the room's history, a page at a time.)
    pub(crate) async fn shown_messages_of(
        &self,
        room: &str,
        user: &str,
    ) -> Result<Vec<u64>, LogError> {
        let mut ids = Vec::new();
        let mut before = u64::MAX;
        loop {
            let (page, older) = self
                .older(room, before, protocol::HISTORY_PAGE_MAX as usize)
                .await?;
            ids.extend(
                page.iter()
                    .rev()
                    .map(|posted| &posted.message)
                    .filter(|message| message.user == user && !message.deleted)
                    .map(|message| message.id),
            );
            match page.first() {
                Some(oldest) if older => before = oldest.message.id,
                _ => return Ok(ids),
            }
        }
    }

    /// Tells everyone in `room` (on every instance) that `user` is typing.
    pub(crate) async fn typing(&self, room: &str, user: &str) {
        self.log.typing(room, user).await;
    }

    /// `room`'s rules (who is muted until when...), as its log says.
    pub(crate) async fn rules(&self, room: &str) -> Result<protocol::RoomRules, LogError> {
        self.log.rules(room).await
    }

    /// The rooms most recently posted in (at most `limit`), with how many
    /// are in each; rooms in memory that nobody posted in yet come last.
    pub(crate) async fn directory(&self, limit: usize) -> Result<Vec<RoomSummary>, LogError> {
        let active = self.log.most_active(limit).await?;
        let map = self.registry.lock_map();
        let online = |room: &str| map.rooms.get(room).map_or(0, |room| room.online_count());
        let mut summaries: Vec<RoomSummary> = active
            .into_iter()
            .map(|activity| RoomSummary {
                online: online(&activity.room),
                room: activity.room,
                last_message_at: Some(activity.last_message_at),
            })
            .collect();
        let mut quiet: Vec<RoomSummary> = map
            .rooms
            .values()
            .filter(|room| !summaries.iter().any(|known| known.room == room.name()))
            .map(|room| RoomSummary {
                room: room.name().to_owned(),
                online: room.online_count(),
                last_message_at: None,
            })
            .collect();
        quiet.sort_by(|a, b| b.online.cmp(&a.online).then_with(|| a.room.cmp(&b.room)));
        summaries.extend(quiet);
        summaries.truncate(limit);
        Ok(summaries)
    }

    /// Broadcasts, in each room, who came and went since the last call.
    /// Called every [`protocol::PRESENCE_INTERVAL_MS`].
    pub(crate) fn flush_presence(&self) {
        for room in self.registry.rooms() {
            room.flush_presence();
        }
    }

    /// Ticks every room's clock (see [`Broadcast::Tick`]), and drops the
    /// rooms nobody has been in for a while.
    pub(crate) fn tick(&self) {
        let now = Instant::now();
        // With Redis, a room nobody here is in is dropped at once: this
        // instance stops reading its stream, and reads it again (from its
        // newest events) when someone comes back.
        let patience = match self.log {
            MessageLog::Redis(_) => Duration::ZERO,
            MessageLog::Embedded(_) => self.idle,
        };
        let mut idle = Vec::new();
        {
            let mut map = self.registry.lock_map();
            map.rooms.retain(|name, room| {
                // Held elsewhere: someone is joining it right now.
                let unused = Arc::strong_count(room) == 1 && room.is_idle(now, patience);
                if unused {
                    idle.push(name.clone());
                }
                !unused
            });
            for name in &idle {
                if let Some(address) = map.opener.remove(name) {
                    if let Some(count) = map.opened.get_mut(&address) {
                        *count = count.saturating_sub(1);
                        if *count == 0 {
                            map.opened.remove(&address);
                        }
                    }
                }
            }
        }
        for name in &idle {
            self.log.unfollow(name);
        }
        if !idle.is_empty() {
            tracing::debug!(rooms = idle.len(), "dropped idle rooms from memory");
        }
        for room in self.registry.rooms() {
            room.tick();
        }
    }

    /// Tells every connection that the server is shutting down, and refuses
    /// joins from now on.
    pub(crate) fn shut_down(&self) {
        let rooms: Vec<Arc<Room>> = {
            let mut map = self.registry.lock_map();
            map.shutting_down = true;
            map.rooms.values().cloned().collect()
        };
        for room in rooms {
            room.shut_down();
        }
    }

    /// Whether this instance could store messages at its last attempt.
    pub(crate) fn storage_ok(&self) -> bool {
        self.log.storage_ok()
    }

    /// How many connections hold a name here.
    pub(crate) fn connections(&self) -> usize {
        self.registry.names.connections()
    }

    /// How many rooms are in memory.
    pub(crate) fn rooms_in_memory(&self) -> usize {
        self.registry.lock_map().rooms.len()
    }

    /// The room `/` opens (`--default-room`).
    pub(crate) fn default_room(&self) -> &str {
        &self.default_room
    }

    /// Removes the messages posted before `before` (ms since the epoch)
    /// from the log and from the rooms in memory (`--retain-days`);
    /// answers how many the log removed.
    pub(crate) async fn retain(&self, before: i64) -> Result<u64, LogError> {
        let removed = self.log.retain(before).await?;
        for room in self.registry.rooms() {
            room.forget_before(before);
        }
        Ok(removed)
    }

    /// Stores everything queued so far and stops following the logs; lets
    /// the other instances know this one's users are gone. Later posts fail
    /// with [`LogError::Closed`].
    pub(crate) async fn close(&self) {
        self.log.close().await;
        if let Some(cluster) = &self.cluster {
            cluster.close().await;
        }
    }
}

impl Registry {
    pub(crate) fn new(limits: RoomLimits) -> Arc<Self> {
        Arc::new(Self {
            map: Mutex::new(RoomMap {
                rooms: HashMap::new(),
                opened: HashMap::new(),
                opener: HashMap::new(),
                shutting_down: false,
            }),
            names: Names::default(),
            limits,
            releases: Mutex::new(None),
            muted_browsers: Mutex::new(None),
        })
    }

    /// How many events a room keeps at hand (its log reads as many).
    pub(crate) fn window_size(&self) -> usize {
        self.limits.replay.max(self.limits.history)
    }

    /// What the log publishes into.
    pub(crate) fn subscriber(self: &Arc<Self>) -> Arc<dyn Subscriber> {
        Arc::clone(self) as Arc<dyn Subscriber>
    }

    /// What presence reads.
    pub(crate) fn presence_view(self: &Arc<Self>) -> Arc<dyn PresenceView> {
        Arc::clone(self) as Arc<dyn PresenceView>
    }

    fn lock_map(&self) -> MutexGuard<'_, RoomMap> {
        // Every change is one map operation: a poisoned lock is consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_releases(&self) -> MutexGuard<'_, Option<mpsc::UnboundedSender<PresenceCommand>>> {
        self.releases.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, room: &str) -> Option<Arc<Room>> {
        self.lock_map().rooms.get(room).cloned()
    }

    /// The rooms in memory, for a chore to visit without holding the map.
    fn rooms(&self) -> Vec<Arc<Room>> {
        self.lock_map().rooms.values().cloned().collect()
    }

    /// Mutes in `room` the browsers of the guests here that `mutes`
    /// silence, and says so to the accounts.
    fn mute_browsers(&self, room: &Room, mutes: &[Moderation]) {
        if mutes.is_empty() {
            return;
        }
        let now = crate::events::now_ms();
        for moderation in mutes {
            let Some(target) = moderation.target.as_deref() else {
                continue;
            };
            let Some(browser) = self.names.browser_of(target) else {
                continue;
            };
            let muted = MutedBrowser {
                room: room.name().to_owned(),
                name: protocol::name_key(target),
                browser: hex(browser),
                until: moderation.until.unwrap_or(i64::MAX),
            };
            room.mute_browser(browser, muted.name.clone(), muted.until, now);
            let sink = self
                .muted_browsers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(sink) = sink.as_ref() {
                let _ = sink.send(muted);
            }
        }
    }

    /// Puts out the connections here of a kick's or a ban's target.
    fn put_out_target(&self, moderation: Moderation) {
        if let Some(target) = moderation.target.clone() {
            self.names.evict(&target, Eviction::Moderated(moderation));
        }
    }
}

impl Subscriber for Registry {
    fn loaded(&self, room: &str, window: Window) {
        if let Some(room) = self.get(room) {
            room.load(window);
        }
    }

    fn published(&self, room: &str, events: Vec<Event>) {
        if let Some(room) = self.get(room) {
            let before = room.published_seq();
            let evictions: Vec<_> = events
                .iter()
                .filter_map(|event| match event {
                    Event::Moderated(moderation)
                        if moderation.action.puts_out()
                            && before.is_some_and(|before| moderation.seq > before) =>
                    {
                        Some(moderation.clone())
                    }
                    Event::Posted(_)
                    | Event::Edited(_)
                    | Event::Deleted(_)
                    | Event::Reacted(_)
                    | Event::Moderated(_) => None,
                })
                .collect();
            // Put out first: whoever hears of the ban is refused from then.
            for moderation in evictions {
                self.put_out_target(moderation);
            }
            let mutes: Vec<Moderation> = events
                .iter()
                .filter_map(|event| match event {
                    Event::Moderated(moderation)
                        if moderation.action.silences() == Some(true)
                            && before.is_some_and(|before| moderation.seq > before) =>
                    {
                        Some(moderation.clone())
                    }
                    Event::Posted(_)
                    | Event::Edited(_)
                    | Event::Deleted(_)
                    | Event::Reacted(_)
                    | Event::Moderated(_) => None,
                })
                .collect();
            room.publish(events);
            self.mute_browsers(&room, &mutes);
        }
    }

    fn put_out(&self, notice: PutOut) {
        match notice {
            PutOut::Moderated { moderation, .. } => self.put_out_target(moderation),
            PutOut::SignedOut(name) => self.names.evict(&name, Eviction::SignedOut),
            PutOut::Revoked(credential) => self.names.revoke(&credential),
        }
    }

    fn typing(&self, room: &str, user: &str) {
        if let Some(room) = self.get(room) {
            room.announce(&ServerFrame::Typing {
                room: room.name().to_owned(),
                user: user.to_owned(),
            });
        }
    }
}

impl PresenceView for Registry {
    fn held_here(&self) -> Vec<(Arc<dyn HeldName>, Option<String>)> {
        self.names
            .held_here()
            .into_iter()
            .map(|(name, token)| (name as Arc<dyn HeldName>, token))
            .collect()
    }

    fn is_held_here(&self, name: &str) -> bool {
        self.names.is_held_here(name)
    }

    fn members_here(&self) -> Vec<(String, Vec<String>)> {
        self.rooms()
            .into_iter()
            .map(|room| (room.name().to_owned(), room.members_here()))
            .collect()
    }

    fn set_elsewhere(&self, room: &str, elsewhere: std::collections::BTreeMap<String, String>) {
        if let Some(room) = self.get(room) {
            room.set_elsewhere(elsewhere);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(name: &str) -> Arc<Room> {
        let limits = RoomLimits {
            history: 10,
            replay: 10,
            fanout_capacity: 64,
        };
        let room = Arc::new(Room::new(name, limits));
        room.load(Window::default());
        room
    }

    fn enter(room: &Arc<Room>, name: &Arc<Name>) -> (Entering, broadcast::Receiver<Broadcast>) {
        let entered = room.enter(name, None, 10).expect("open");
        let entering = Entering {
            room: Some(Arc::clone(room)),
            name: Arc::clone(name),
        };
        (entering, entered.fanout)
    }

    /// The WebSocket frames queued in `inbox`, taken.
    fn taken(inbox: &Inbox) -> Vec<u8> {
        let mut batch = Vec::new();
        inbox.take(&mut batch, usize::MAX);
        batch
    }

    /// Broadcasts a frame in `room` (that `user` is typing); returns it as
    /// the WebSocket frame the room sends.
    fn say(room: &Room, user: &str) -> Vec<u8> {
        let frame = ServerFrame::Typing {
            room: room.name().to_owned(),
            user: user.to_owned(),
        };
        room.announce(&frame);
        crate::wire::text(&frame.to_json()).to_vec()
    }

    #[tokio::test]
    async fn a_burst_larger_than_the_fan_out_reaches_a_reader_whole() {
        const BURST: u64 = 40;
        let lobby = loaded("lobby");
        let name = Arc::new(Name::new("alice"));
        let (_entering, mut fanout) = enter(&lobby, &name);
        // More than the small room's 16 slots, published at once, as a
        // log hands over a batch.
        let events = (1..=BURST)
            .map(|id| {
                Event::Posted(Posted {
                    message: protocol::ChatMessage {
                        id,
                        user: "bob".into(),
                        msg: format!("m{id}"),
                        ..protocol::ChatMessage::default()
                    },
                    client_id: format!("c{id}"),
                })
            })
            .collect();
        lobby.publish(events);
        let mut frames = 0;
        loop {
            match fanout.try_recv() {
                Ok(Broadcast::Frame(_)) => frames += 1,
                Ok(Broadcast::Moved(handover)) => {
                    fanout = handover.take().expect("a receiver of the larger fan-out");
                }
                Ok(_) => {}
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(error) => panic!("the reader fell behind: {error:?}"),
            }
        }
        assert_eq!(frames, BURST);
    }

    #[tokio::test]
    async fn a_second_room_moves_the_reading_to_an_inbox_without_losing_a_frame() {
        let (lobby, rust) = (loaded("lobby"), loaded("rust"));
        let name = Arc::new(Name::new("alice"));
        let mut memberships = Memberships::new(Arc::clone(&name));
        let (entering, fanout) = enter(&lobby, &name);
        memberships.insert(entering, fanout).expect("in");
        // Unread in the fan-out when the second room comes.
        let unread = say(&lobby, "bob");
        let (entering, fanout) = enter(&rust, &name);
        // Broadcast between entering and taking its place.
        let meanwhile = say(&rust, "carol");
        memberships.insert(entering, fanout).expect("in");
        assert!(memberships.fanout_mut().is_none());
        let inbox = Arc::clone(memberships.inbox().expect("an inbox"));
        assert_eq!(taken(&inbox), [unread, meanwhile].concat());
        let later = say(&lobby, "dave");
        tokio::time::timeout(Duration::from_secs(5), inbox.pushed())
            .await
            .expect("woken by a room");
        assert_eq!(taken(&inbox), later);
    }

    #[tokio::test]
    async fn a_room_joined_again_is_one_membership_that_starts_over() {
        let (lobby, rust) = (loaded("lobby"), loaded("rust"));
        let name = Arc::new(Name::new("alice"));
        let mut memberships = Memberships::new(Arc::clone(&name));
        for room in [&lobby, &rust] {
            let (entering, fanout) = enter(room, &name);
            memberships.insert(entering, fanout).expect("in");
        }
        say(&rust, "bob");
        // Again: it replaces the first (what the first had queued goes:
        // the new history covers it), and the room counts her once.
        let (entering, fanout) = enter(&rust, &name);
        memberships.insert(entering, fanout).expect("in");
        assert_eq!(memberships.len(), 2);
        assert_eq!(rust.online_count(), 1);
        let inbox = Arc::clone(memberships.inbox().expect("an inbox"));
        assert!(taken(&inbox).is_empty());
        // Broadcasts in the room joined again still reach her, once.
        let again = say(&rust, "carol");
        assert_eq!(taken(&inbox), again);
        // Left, the room queues nothing more; dropped, she leaves the rest.
        memberships.remove(memberships.position("rust").expect("in rust"));
        say(&rust, "dave");
        assert!(taken(&inbox).is_empty());
        drop(memberships);
        assert_eq!((lobby.online_count(), rust.online_count()), (0, 0));
    }

    #[tokio::test]
    async fn the_shutdown_notice_follows_what_was_broadcast_and_later_joins_are_refused() {
        let data = tempfile::tempdir().expect("temporary directory");
        let mut config = crate::Config::defaults();
        config.db = data.path().join("chat.db");
        // On the tests' Redis too, when they have one (`cargo xtask test`).
        if let Ok(url) = std::env::var("CHAT_TEST_REDIS_URL") {
            config.redis_url = Some(url);
            config.redis_prefix = format!("unit:{}", data.path().display());
        }
        let rooms = crate::open_rooms(&config).await.expect("the log opens");
        let alice_name = rooms
            .connect("alice", &Holder::guest(None))
            .await
            .expect("alice's name");
        let (_in_lobby, mut alice) = rooms
            .join("lobby", alice_name.name(), None, None)
            .await
            .expect("alice joins");
        // `_in_lobby` keeps her in the room; `alice` is what the room sends her.
        rooms.typing("lobby", "alice").await;
        // With Redis the typing frame comes back through the stream: wait for it.
        async fn next(fanout: &mut tokio::sync::broadcast::Receiver<Broadcast>) -> Broadcast {
            tokio::time::timeout(std::time::Duration::from_secs(10), fanout.recv())
                .await
                .expect("in time")
                .expect("a broadcast")
        }
        match next(&mut alice.fanout).await {
            Broadcast::Frame(frame) => {
                let typing = protocol::ServerFrame::Typing {
                    room: "lobby".into(),
                    user: "alice".into(),
                }
                .to_json();
                assert!(frame.ends_with(typing.as_bytes()), "{frame:?}");
            }
            other => panic!("expected the typing frame first, got {other:?}"),
        }
        rooms.shut_down();
        assert!(matches!(
            next(&mut alice.fanout).await,
            Broadcast::ShuttingDown
        ));
        assert!(matches!(
            rooms.connect("bob", &Holder::guest(None)).await,
            Err(JoinError::ShuttingDown)
        ));
        assert!(matches!(
            rooms.join("lobby", alice_name.name(), None, None).await,
            Err(JoinError::ShuttingDown)
        ));
        rooms.close().await;
    }
}
