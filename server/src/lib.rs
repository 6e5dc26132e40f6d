//! The chat's server, as a library.
//!
//! [`run`] serves the rooms on a listener the caller opened and stops when the
//! caller's shutdown future resolves; `main` is a thin shell around it, and
//! the integration tests start it on port 0. One concern per module:
//!
//! - `config`: flags and environment ([`Config`]).
//! - `listener`: accepting connections under the caps, HTTP/1.1 on each.
//! - `routes`: the HTTP surface (`/ws`, `/api/rooms`, `/healthz`, the
//!   security headers); `static_files`: the built client.
//! - `upgrade`: the WebSocket handshake on top of hyper.
//! - `connection`: one client, from welcome to close, one file per client
//!   frame; `transport`: its socket, read and written by the connection's
//!   one task; `wire`: frames encoded once for every recipient.
//! - `limits`: the token bucket, connection caps, origin policy; `budget`:
//!   what an address and a name may spend across connections.
//! - `rooms`: the rooms in memory, who holds which name, who is in which
//!   room, the fan-out.
//! - `log`: the seam between the rooms and their logs (a trait the rooms
//!   implement to hear what was stored) and the two backends: `log::sqlite`
//!   (one file, on `store`) and `log::redis` (shared by several
//!   instances); `presence`: names and who is where across instances;
//!   `cluster`: the Redis connections and key names both stand on.
//! - `accounts`: claimed names, sessions, moderators and bans.
//! - [`shutdown`]: Ctrl-C and SIGTERM.
//!
//! `open_rooms` is the composition root: it builds the log and presence
//! on the rooms' registry and hands them to the rooms, so that nothing
//! builds what it stands on. `server/tests/layers.rs` checks from the
//! source that no module depends on itself through others.
//!
//! Dependencies point one way: routes -> connection -> rooms -> log.

// A new variant of our own enums is a compile error wherever it must be
// decided: no wildcard arm over them (tests may skip what they ignore).
#![cfg_attr(not(test), deny(clippy::wildcard_enum_match_arm))]
#![warn(unreachable_pub)]

mod account_routes;
pub(crate) mod accounts;
pub mod admin;
mod budget;
mod client_files;
pub(crate) mod cluster;
pub(crate) mod config;
pub(crate) mod connection;
pub(crate) mod events;
pub(crate) mod history_file;
pub(crate) mod limits;
mod listener;
pub(crate) mod log;
mod metrics;
pub(crate) mod presence;
mod proxy;
pub(crate) mod rooms;
pub(crate) mod routes;
pub mod shutdown;
mod static_files;
pub(crate) mod store;
pub(crate) mod transfer;
pub(crate) mod transport;
pub(crate) mod upgrade;
pub(crate) mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use account_routes::CookiePolicy;
use accounts::Accounts;
use budget::{BudgetRates, Budgets};
pub use config::{AdminPassword, Config};
pub use events::Clock;
pub use history_file::LineError;
pub use store::backup::{backup, BackupError, BackupReport};
pub use transfer::{export, import, TransferError, TransferReport};

/// Why the server could not start: its database or Redis could not be
/// opened or reached, or the listener's address could not be read. Once
/// it serves, storage errors are the connections' to answer, never
/// [`run`]'s.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot serve metrics on {bind}: {source}")]
    Metrics {
        bind: std::net::SocketAddr,
        source: std::io::Error,
    },
}

#[cfg(feature = "testing")]
pub mod testing;
use connection::SessionLimits;
use limits::{Admission, OriginPolicy};
use proxy::TrustedProxies;
use rooms::Rooms;
use store::StoreError;

/// The rooms on the log `config` names (the SQLite file, or Redis shared
/// with other instances, with presence across them): the composition
/// root. The backends are built here, on the rooms' registry, and handed to
/// the rooms; nothing below builds what it stands on.
pub(crate) async fn open_rooms(config: &Config) -> Result<Rooms, StoreError> {
    let registry = rooms::Registry::new(rooms::RoomLimits::of(config));
    let window = registry.window_size();
    let (log, presence) = match &config.redis_url {
        None => {
            let log = log::EmbeddedLog::open(
                &config.db,
                &config.default_room,
                window,
                registry.subscriber(),
            )?;
            (log::MessageLog::Embedded(log), None)
        }
        Some(url) => {
            let block = log::redis::FOLLOW_BLOCK;
            let redis =
                cluster::open(url, &config.redis_prefix, &config.default_room, block).await?;
            let log = log::RedisLog::open(
                redis.commands.clone(),
                redis.follower,
                redis.keys.clone(),
                config.redis_max_len,
                window,
                registry.subscriber(),
            )?;
            let ttl = Duration::from_secs(config.presence_ttl.max(1));
            let view = registry.presence_view();
            let presence = presence::ClusterPresence::start(
                redis.commands,
                redis.keys,
                redis.instance,
                ttl,
                view,
            );
            (log::MessageLog::Redis(Box::new(log)), Some(presence))
        }
    };
    Ok(Rooms::new(registry, log, presence, config))
}

/// Connections to the metrics listener at once: a scraper or two.
const SCRAPERS_MAX: usize = 16;

/// Serves `/metrics` on `bind` (see `metrics.rs`) until `stopping`, with
/// the public listener's accept loop and caps of its own; the address
/// bound.
async fn serve_metrics(
    bind: std::net::SocketAddr,
    rooms: Arc<Rooms>,
    stopping: CancellationToken,
) -> std::io::Result<std::net::SocketAddr> {
    use warp::Filter;
    if !metrics::install() {
        return Err(std::io::Error::other(
            "another metrics recorder is installed",
        ));
    }
    let listener = TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    let route = warp::get()
        .and(warp::path("metrics"))
        .and(warp::path::end())
        .map(move || {
            let text =
                metrics::render(rooms.connections(), rooms.rooms_in_memory()).unwrap_or_default();
            warp::reply::with_header(
                text,
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
        });
    tokio::spawn(listener::serve(
        listener,
        warp::service(route),
        Admission::new(SCRAPERS_MAX, SCRAPERS_MAX),
        Arc::new(TrustedProxies::new(false, &[])),
        Duration::from_secs(5),
        async move { stopping.cancelled().await },
    ));
    Ok(addr)
}

/// File descriptors kept for everything but client connections: the
/// database and its journal, Redis, the static files being served, and
/// the refusals being answered.
const RESERVED_FILES: usize = 48 + listener::REFUSALS_IN_FLIGHT;

/// How long connections get to say goodbye after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every request handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub rooms: Arc<Rooms>,
    pub limits: Arc<SessionLimits>,
    pub admission: Arc<Admission>,
    pub origins: Arc<OriginPolicy>,
    pub(crate) budgets: Arc<Budgets>,
    pub(crate) accounts: Arc<Accounts>,
    pub(crate) cookies: CookiePolicy,
    /// Every connection task, so shutdown can wait for them to finish.
    pub connections: TaskTracker,
    /// Cancelled when shutdown begins.
    pub stopping: CancellationToken,
}

/// The connection cap, lowered when the process may not open that many
/// files: past the limit `accept` fails for everyone, `/healthz` included.
fn fit_to_open_files_limit(max_connections: usize) -> usize {
    let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return max_connections;
    };
    let fits = usize::try_from(soft)
        .unwrap_or(usize::MAX)
        .saturating_sub(RESERVED_FILES);
    if fits < max_connections {
        tracing::warn!(
            open_files_limit = soft,
            max_connections = fits,
            "the open files limit is lower than --max-connections needs: lowered the cap"
        );
    }
    max_connections.min(fits)
}

/// Runs `chore` every `period` until shutdown.
async fn every(period: Duration, shutdown: CancellationToken, chore: impl Fn()) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => chore(),
        }
    }
}

/// Serves the chat on `listener` until `shutdown` resolves, then closes
/// every WebSocket with 1001 (going away), waits up to five seconds for them
/// to finish, and stores whatever they had sent.
///
/// Fails before serving anything if the database (or Redis) cannot be
/// opened.
/// How often retention looks for messages past `--retain-days`.
const RETAIN_EVERY: Duration = Duration::from_secs(600);

/// `--retain-days`: at start and every [`RETAIN_EVERY`] (or when a test's
/// clock moves), the messages older than `days` go.
async fn retain(rooms: Arc<Rooms>, days: u32, clock: events::Clock, stop: CancellationToken) {
    const DAY_MS: i64 = 24 * 60 * 60 * 1000;
    let mut moves = clock.moves();
    loop {
        let before = clock.now_ms().saturating_sub(i64::from(days) * DAY_MS);
        match rooms.retain(before).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, days, "removed messages past retention"),
            Err(error) => tracing::warn!(%error, "cannot remove messages past retention"),
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(RETAIN_EVERY) => {}
            () = async {
                match &mut moves {
                    // The clock lives as long as this task holds it.
                    Some(moves) => {
                        let _ = moves.changed().await;
                    }
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

/// The web client to serve: `--static-dir`'s when given, else the one
/// built into the binary, else `./dist`'s.
fn client_files(config: &Config) -> client_files::ClientFiles {
    let (files, from) = match (&config.static_dir, client_files::ClientFiles::built_in()) {
        (None, Some(files)) => (files, "built into the binary".to_owned()),
        (Some(dir), _) => (
            client_files::ClientFiles::read_dir(dir),
            dir.display().to_string(),
        ),
        (None, None) => (
            client_files::ClientFiles::read_dir(std::path::Path::new("dist")),
            "dist".to_owned(),
        ),
    };
    tracing::info!(files = files.len(), from, "the web client");
    files
}

pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    run_with_clock(listener, config, Clock::default(), shutdown).await
}

/// [`run`], with `clock` the time `--retain-days` reads (a test's own).
pub async fn run_with_clock(
    listener: TcpListener,
    config: Config,
    clock: Clock,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    // Broadcast frames are small: Nagle's algorithm would hold them back
    // until the client's delayed ACK, tens of milliseconds. Accepted
    // connections inherit the setting from the listener (on Linux).
    if let Err(error) = socket2::SockRef::from(&listener).set_tcp_nodelay(true) {
        tracing::warn!(%error, "cannot set TCP_NODELAY: small frames may be delayed");
    }
    let max_connections = fit_to_open_files_limit(config.max_connections);
    let bound = listener.local_addr().map_err(StoreError::Listener)?;
    let origins = OriginPolicy::new(
        bound,
        &config.public_origins,
        &config.allowed_origins,
        config.require_origin,
    );
    if config.public_origins.is_empty() && bound.ip().is_unspecified() {
        tracing::warn!(
            "listening on every address: only pages from localhost may open the WebSocket; \
             set --public-origin to the address people open (such as https://chat.example)"
        );
    }
    tracing::info!(origins = ?origins.origins(), "pages from these origins may connect");
    let rooms = open_rooms(&config).await?;
    let accounts = Accounts::open(&config).await?;
    let admin_password = config
        .admin_password
        .as_ref()
        .map(|password| password.0.as_str());
    if let Err(error) = accounts.bind_admins(&config.admins, admin_password).await {
        tracing::error!(%error, "cannot bind the admin names");
    }
    let cookies = CookiePolicy {
        always_secure: !config.public_origins.is_empty()
            && config
                .public_origins
                .iter()
                .all(|origin| origin.to_ascii_lowercase().starts_with("https://")),
        trust_forwarded_proto: config.behind_proxy,
    };
    let token = CancellationToken::new();
    let state = AppState {
        rooms: Arc::new(rooms),
        limits: Arc::new(SessionLimits::from_config(&config)),
        admission: Admission::new(max_connections, config.max_connections_per_ip),
        origins: Arc::new(origins),
        budgets: Arc::new(Budgets::new(BudgetRates::from_config(&config))),
        accounts: Arc::new(accounts),
        cookies,
        connections: TaskTracker::new(),
        stopping: token.clone(),
    };
    if let Some(bind) = config.metrics_bind {
        let addr = serve_metrics(bind, Arc::clone(&state.rooms), token.clone())
            .await
            .map_err(|source| StartError::Metrics { bind, source })?;
        tracing::info!("metrics at http://{addr}/metrics");
    }
    let client = Arc::new(client_files(&config));
    let routes = warp::service(routes::routes(state.clone(), client));
    // Each room's gathered joins and leaves, sent in one frame.
    let rooms = Arc::clone(&state.rooms);
    let presence_interval = Duration::from_millis(protocol::PRESENCE_INTERVAL_MS);
    tokio::spawn(every(presence_interval, token.clone(), move || {
        rooms.flush_presence()
    }));
    let rooms = Arc::clone(&state.rooms);
    let budgets = Arc::clone(&state.budgets);
    tokio::spawn(every(state.limits.clock_tick(), token.clone(), move || {
        rooms.tick();
        budgets.forget_refilled(std::time::Instant::now());
    }));
    let mut admin_socket = admin::socket_path(&config.db, config.admin_socket.as_deref());
    if let Some(socket) = admin_socket.take() {
        let admin = config.admins.first().cloned();
        let served = admin::serve(
            &socket,
            Arc::clone(&state.rooms),
            Arc::clone(&state.accounts),
            admin,
            token.clone(),
        )
        .await;
        match served {
            Ok(true) => admin_socket = Some(socket),
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(path = %socket.display(), %error, "no admin commands: cannot listen there");
            }
        }
    }
    if let Some(days) = config.retain_days {
        tokio::spawn(retain(Arc::clone(&state.rooms), days, clock, token.clone()));
    }
    // A guest's browser muted with its name, kept where names are.
    let mut muted_browsers = state.rooms.muted_browsers();
    let accounts = Arc::clone(&state.accounts);
    tokio::spawn(async move {
        while let Some(muted) = muted_browsers.recv().await {
            if let Err(error) = accounts.mute_browser(&muted).await {
                tracing::warn!(%error, "cannot keep a muted guest's browser");
            }
        }
    });
    let rooms = Arc::clone(&state.rooms);
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down");
        token.cancel();
        rooms.shut_down();
    };
    let proxies = TrustedProxies::new(config.behind_proxy, &config.trusted_proxies);
    listener::serve(
        listener,
        routes,
        Arc::clone(&state.admission),
        Arc::new(proxies),
        Duration::from_secs(config.header_timeout.max(1)),
        shutdown,
    )
    .await;
    state.connections.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, state.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = state.connections.len(),
            "connections still open after the grace period"
        );
    }
    state.rooms.close().await;
    if let Some(socket) = admin_socket {
        admin::remove(&socket);
    }
    tracing::info!("stopped");
    Ok(())
}
