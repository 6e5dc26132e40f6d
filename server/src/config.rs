//! Configuration, from flags or the environment.

use std::path::PathBuf;

use clap::Parser;

/// A real-time chat room: WebSockets at /ws and the web client at /.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version)]
pub struct Config {
    /// Address to listen on, such as 127.0.0.1:8000 or 0.0.0.0:80.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,

    /// Serve the web client from this directory (as `cargo xtask dist` or
    /// `trunk build` writes it), read at start, instead of the one built
    /// into a release binary. Without either: ./dist.
    #[arg(long, env = "CHAT_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// The SQLite database holding the room's history (created if missing).
    /// `:memory:` keeps history in memory only, lost on exit.
    #[arg(long, env = "CHAT_DB", default_value = "chat.db")]
    pub db: PathBuf,

    /// Share the room with other instances through this Redis, e.g.
    /// redis://127.0.0.1:6379: its stream holds the history (instead of
    /// `--db`) and its keys who is online. Without it, nothing about Redis
    /// is needed.
    #[arg(long, env = "CHAT_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key, so several rooms can share one Redis.
    #[arg(long, env = "CHAT_REDIS_PREFIX", default_value = "chat")]
    pub redis_prefix: String,

    /// The Redis stream is trimmed to about this many messages; older pages
    /// end there.
    #[arg(long, env = "CHAT_REDIS_MAX_LEN", default_value_t = 100_000)]
    pub redis_max_len: u64,

    /// Seconds a user stays online after their instance stops refreshing
    /// them (it crashed or lost Redis). Instances refresh every third of it.
    #[arg(long, env = "CHAT_PRESENCE_TTL", default_value_t = 15)]
    pub presence_ttl: u64,

    /// The room `/` and a WebSocket without `?room=` open. A room name: 1 to
    /// 32 letters, digits, '-' or '_'.
    #[arg(long, env = "CHAT_DEFAULT_ROOM", default_value = "lobby", value_parser = parse_room)]
    pub default_room: String,

    /// Most rooms one connection may be in at once.
    #[arg(long, env = "CHAT_MAX_ROOMS_PER_CONNECTION", default_value_t = 20)]
    pub max_rooms_per_connection: usize,

    /// Most rooms held in memory at once (a room is held while anyone is
    /// in it, and for `--room-idle` seconds after); opening another new
    /// room is refused with `room_limit_reached`. The default room and
    /// rooms with history are always let in.
    #[arg(long, env = "CHAT_MAX_ROOMS", default_value_t = 10_000)]
    pub max_rooms: usize,

    /// Most new rooms (rooms nobody has posted in yet) one address may
    /// hold in memory at once.
    #[arg(long, env = "CHAT_MAX_ROOMS_PER_ADDRESS", default_value_t = 100)]
    pub max_rooms_per_address: usize,

    /// Seconds a room nobody is in stays in memory (its log stays on disk
    /// or in Redis for good).
    #[arg(long, env = "CHAT_ROOM_IDLE", default_value_t = 300)]
    pub room_idle: u64,

    /// Messages sent to a client when it connects.
    #[arg(long, env = "CHAT_HISTORY", default_value_t = 100)]
    pub history: usize,

    /// Most bytes of messages in one page of history (the greeting's, or
    /// an older page): the newest that fit, the rest a page further back.
    /// 16 KiB to 768 KiB.
    #[arg(long, env = "CHAT_HISTORY_PAGE_BYTES", default_value_t = 256 * 1024)]
    pub history_page_bytes: usize,

    /// Most messages replayed to a client that reconnects; one that missed
    /// more starts over from recent history. Kept in memory.
    #[arg(long, env = "CHAT_REPLAY_LIMIT", default_value_t = 1000)]
    pub replay_limit: usize,

    /// Messages the fan-out buffers for each connection before a client that
    /// does not keep up is disconnected (it reconnects and resumes); for a
    /// connection in several rooms, messages of all of them together.
    #[arg(long, env = "CHAT_FANOUT_CAPACITY", default_value_t = 1024)]
    pub fanout_capacity: usize,

    /// Largest WebSocket frame (and message) accepted, in bytes; a larger one
    /// closes the connection with 1009.
    #[arg(long, env = "CHAT_MAX_FRAME_BYTES", default_value_t = 16 * 1024)]
    pub max_frame_bytes: usize,

    /// Frames per second one connection may send, on average (pings
    /// included), and messages per second one name may post, across all
    /// its connections.
    #[arg(long, env = "CHAT_RATE_LIMIT", default_value_t = 5.0)]
    pub rate_limit: f64,

    /// Frames one connection may send, and messages one name may post, at
    /// once above the average.
    #[arg(long, env = "CHAT_RATE_BURST", default_value_t = 10)]
    pub rate_burst: u32,

    /// Messages per second one address (an IPv6 /64) may post, whatever the
    /// names and connections.
    #[arg(long, env = "CHAT_ADDRESS_RATE_LIMIT", default_value_t = 20.0)]
    pub address_rate_limit: f64,

    /// Messages one address may post at once above its average.
    #[arg(long, env = "CHAT_ADDRESS_RATE_BURST", default_value_t = 40)]
    pub address_rate_burst: u32,

    /// WebSocket connections per second one address may open, on average;
    /// beyond it the upgrade gets 429 with Retry-After.
    #[arg(long, env = "CHAT_JOIN_RATE_LIMIT", default_value_t = 2.0)]
    pub join_rate_limit: f64,

    /// WebSocket connections one address may open at once above the average.
    #[arg(long, env = "CHAT_JOIN_RATE_BURST", default_value_t = 20)]
    pub join_rate_burst: u32,

    /// Bytes of older history per second one address may page through.
    #[arg(long, env = "CHAT_HISTORY_RATE_BYTES", default_value_t = 256 * 1024)]
    pub history_rate_bytes: u64,

    /// Bytes of older history one address may read at once above the rate.
    #[arg(long, env = "CHAT_HISTORY_BURST_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub history_burst_bytes: u32,

    /// Wrong passwords allowed per minute for one claimed name. Only
    /// failed guesses count: a right password, or a name nobody claimed,
    /// costs nothing.
    #[arg(long, env = "CHAT_SIGN_INS_PER_MINUTE", default_value_t = 5)]
    pub sign_ins_per_minute: u32,

    /// Wrong passwords allowed per minute from one address (many people
    /// may share one), whatever the names.
    #[arg(long, env = "CHAT_ADDRESS_SIGN_INS_PER_MINUTE", default_value_t = 20)]
    pub address_sign_ins_per_minute: u32,

    /// A claimed name that administers this server: it can make claimed
    /// names moderators. Repeat the flag for several (env: comma-separated).
    #[arg(long = "admin", env = "CHAT_ADMINS", value_delimiter = ',')]
    pub admins: Vec<String>,

    /// The password that binds the `--admin` names nobody claimed yet, at
    /// start (an admin name is never the first visitor's to claim). From
    /// the environment, so that it shows in no process list.
    #[arg(long, env = "CHAT_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<AdminPassword>,

    /// Behind a reverse proxy: trust the `X-Forwarded-For` of connections
    /// from `--trusted-proxy` (the client's address, for bans, budgets and
    /// logs), and its `X-Forwarded-Proto: https` (the session cookie is
    /// then `Secure`).
    #[arg(long, env = "CHAT_BEHIND_PROXY")]
    pub behind_proxy: bool,

    /// The proxies' addresses or ranges (such as 10.0.0.0/8), with
    /// `--behind-proxy`; the loopback addresses without one. Repeat or
    /// separate with commas.
    #[arg(
        long = "trusted-proxy",
        env = "CHAT_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_range
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Refused frames in a row after which a connection is closed (1008).
    #[arg(long, env = "CHAT_RATE_STRIKES", default_value_t = 20)]
    pub rate_strikes: u32,

    /// Serve Prometheus metrics at http://ADDRESS/metrics, such as
    /// 127.0.0.1:9100 (default: none). A listener of its own, never the
    /// public one: they say how busy the server is and when it fails, the
    /// operator's to know; bind it to loopback or a private address the
    /// reverse proxy does not pass.
    #[arg(long, env = "CHAT_METRICS_BIND")]
    pub metrics_bind: Option<std::net::SocketAddr>,

    /// Where `server admin ...` reaches this server: a Unix socket only
    /// its own user (and root) may open. Default: beside the database,
    /// `<db>.admin` (none for `:memory:`).
    #[arg(long, env = "CHAT_ADMIN_SOCKET")]
    pub admin_socket: Option<PathBuf>,

    /// Remove messages older than this many days (1 to 36,500), with
    /// their edits and reactions, as securely as a deletion; checked at
    /// start and every ten minutes. Without it, history is kept for good.
    #[arg(long, env = "CHAT_RETAIN_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retain_days: Option<u32>,

    /// The origins (`scheme://host[:port]`) the chat's pages are served
    /// from, such as https://chat.example: the WebSocket accepts pages from
    /// these (and `--allowed-origin`) only. Default: this machine's forms of
    /// the bound address (http://127.0.0.1:PORT, http://localhost:PORT).
    /// Repeat or separate with commas.
    #[arg(
        long = "public-origin",
        env = "CHAT_PUBLIC_ORIGINS",
        value_delimiter = ','
    )]
    pub public_origins: Vec<String>,

    /// Origins, besides the server's own, whose pages may open a WebSocket
    /// (e.g. http://127.0.0.1:8080 for `trunk serve`). Repeat or separate
    /// with commas.
    #[arg(
        long = "allowed-origin",
        env = "CHAT_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Refuse WebSocket upgrades without an Origin header (non-browser
    /// clients send none).
    #[arg(long, env = "CHAT_REQUIRE_ORIGIN")]
    pub require_origin: bool,

    /// Most open connections (HTTP and WebSocket), counted when accepted;
    /// more are answered 503 and closed. Lowered to fit the process's
    /// open-files limit when that is lower.
    #[arg(long, env = "CHAT_MAX_CONNECTIONS", default_value_t = 15_000)]
    pub max_connections: usize,

    /// Most open connections from one address (an IPv6 /64 counts as one).
    #[arg(long, env = "CHAT_MAX_CONNECTIONS_PER_IP", default_value_t = 50)]
    pub max_connections_per_ip: usize,

    /// Seconds a client has to send a request's headers; also how long an
    /// idle keep-alive connection is kept.
    #[arg(long, env = "CHAT_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,

    /// Seconds between pings to each client.
    #[arg(long, env = "CHAT_PING_INTERVAL", default_value_t = 20)]
    pub ping_interval: u64,

    /// Seconds of silence (no frame, no pong) after which a client is
    /// considered gone and disconnected.
    #[arg(long, env = "CHAT_PING_TIMEOUT", default_value_t = 60)]
    pub ping_timeout: u64,

    /// Seconds a write to one client may take; a client that does not read
    /// is disconnected (1008) and never holds up the others.
    #[arg(long, env = "CHAT_SEND_TIMEOUT", default_value_t = 10)]
    pub send_timeout: u64,
}

/// A room name in its canonical form, or the rule it breaks.
/// The admin names' password (see `Config::admin_password`): its `Debug`
/// shows nothing of it.
#[derive(Clone)]
pub struct AdminPassword(pub String);

impl std::fmt::Debug for AdminPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminPassword(..)")
    }
}

impl std::str::FromStr for AdminPassword {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        protocol::validate_password(text).map_err(|error| error.to_string())?;
        Ok(Self(text.to_owned()))
    }
}

/// An address range (`10.0.0.0/8`), or one address.
fn parse_range(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{text:?} is neither an address nor a range such as 10.0.0.0/8"))
}

fn parse_room(raw: &str) -> Result<String, String> {
    protocol::canonical_room(raw).map_err(|error| error.to_string())
}

impl Config {
    /// The defaults, as if no flag or variable were given. For tests and
    /// embedding; the binary uses [`Parser::parse`].
    pub fn defaults() -> Self {
        Self::parse_from(["server"])
    }
}
