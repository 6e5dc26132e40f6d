//! Configuration, from flags or the environment.

use std::path::PathBuf;

use clap::Parser;

use crate::room::RoomLimits;

/// A real-time chat room: WebSockets at /ws and the web client at /.
#[derive(Debug, Clone, Parser)]
#[command(name = "server", version)]
pub struct Config {
    /// Address to listen on, such as 127.0.0.1:8000 or 0.0.0.0:80.
    #[arg(long, env = "CHAT_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,

    /// The built web client (`trunk build` writes it to dist/).
    #[arg(long, env = "CHAT_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// The SQLite database holding the room's history (created if missing).
    /// `:memory:` keeps history in memory only, lost on exit.
    #[arg(long, env = "CHAT_DB", default_value = "chat.db")]
    pub db: PathBuf,

    /// Messages sent to a client when it connects.
    #[arg(long, env = "CHAT_HISTORY", default_value_t = 100)]
    pub history: usize,

    /// Most messages replayed to a client that reconnects; one that missed
    /// more starts over from recent history. Kept in memory.
    #[arg(long, env = "CHAT_REPLAY_LIMIT", default_value_t = 1000)]
    pub replay_limit: usize,

    /// Messages the fan-out buffers for each connection before a client that
    /// does not keep up is disconnected (it reconnects and resumes).
    #[arg(long, env = "CHAT_FANOUT_CAPACITY", default_value_t = 1024)]
    pub fanout_capacity: usize,
}

impl Config {
    /// The defaults, as if no flag or variable were given. For tests and
    /// embedding; the binary uses [`Parser::parse`].
    pub fn defaults() -> Self {
        Self::parse_from(["server"])
    }

    pub fn room_limits(&self) -> RoomLimits {
        RoomLimits {
            history: self.history,
            replay: self.replay_limit,
            fanout_capacity: self.fanout_capacity,
        }
    }
}
