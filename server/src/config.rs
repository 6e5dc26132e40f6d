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

    /// The built web client (`trunk build` writes it to dist/).
    #[arg(long, env = "CHAT_STATIC_DIR", default_value = "dist")]
    pub static_dir: PathBuf,

    /// Messages the fan-out buffers for each connection before a client that
    /// does not keep up is disconnected.
    #[arg(long, env = "CHAT_FANOUT_CAPACITY", default_value_t = 1024, value_parser = clap::value_parser!(usize))]
    pub fanout_capacity: usize,
}

impl Config {
    /// The defaults, as if no flag or variable were given. For tests and
    /// embedding; the binary uses [`Parser::parse`].
    pub fn defaults() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            static_dir: PathBuf::from("dist"),
            fanout_capacity: 1024,
        }
    }
}
