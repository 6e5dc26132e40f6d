// A new variant of our own enums is a compile error wherever it must be
// decided: no wildcard arm over them (tests may skip what they ignore).
#![cfg_attr(not(test), deny(clippy::wildcard_enum_match_arm))]
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use server::Config;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

/// jemalloc rather than the system allocator: a room is thousands of
/// long-lived connections, each a few small allocations made among the
/// short-lived ones of its handshake. glibc's allocator leaves the holes
/// those leave behind in the process's memory; jemalloc's size classes keep
/// an idle connection 0.4 KiB smaller (BENCHMARKS.md), at equal latency.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read when it starts (`_RJEM_MALLOC_CONF` in the
/// environment still overrides them). A background thread hands the pages
/// freed after a burst (a crowd connecting, a busy minute) back to the
/// system once jemalloc's decay time (10 s) has passed, as Redis does by
/// default; without it they stay resident until the allocator is next busy,
/// which an idle server never is. One thread, not one per CPU: one is
/// enough to give idle memory back, and leaves the CPUs to the connections
/// (BENCHMARKS.md, runs 15 and 16: no latency cost measurable beyond the
/// machine's own drift).
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: &[u8; 48] = b"background_thread:true,max_background_threads:1\0";

/// Every connection is a file descriptor: the soft limit (often 1,024) is
/// raised to the hard one, which an unprivileged process may do. `run`
/// fits the connection caps to what this gives.
fn raise_open_files_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::info!(limit, "open files limit"),
        Err(error) => tracing::warn!(%error, "cannot raise the open files limit"),
    }
}

/// A real-time chat room: WebSockets at /ws and the web client at /.
#[derive(Parser)]
#[command(name = "server", version)]
struct Cli {
    #[command(flatten)]
    config: Config,
    /// How log lines are written to stderr: `text` for a person, `json`
    /// (one object per line) for journald and log shippers.
    #[arg(long, env = "CHAT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// What else the binary does besides serving.
#[derive(Subcommand)]
enum Command {
    /// Copy the database (`--db`) to FILE, consistent, while the server
    /// runs and takes messages. To restore: stop the server, copy FILE
    /// back to the database's path (its `-wal` and `-shm` files removed),
    /// start it.
    Backup {
        /// Where the copy goes; it must not exist.
        file: PathBuf,
    },
    /// Write the rooms' history (`--db`'s, or `--redis-url`'s) to FILE as
    /// JSON Lines: every message in its current state and the events the
    /// log keeps, with their ids and `seq`, while the server runs.
    Export {
        /// Only this room.
        #[arg(long)]
        room: Option<String>,
        /// Where it goes (`-`: standard output); it must not exist.
        file: PathBuf,
    },
    /// Read an export into an empty store (`--db`, or `--redis-url` with
    /// `--redis-prefix`) with its ids and `seq`, so clients resume without
    /// a gap: how a community moves from SQLite to Redis. The file is
    /// checked whole before anything is written. Run it with the server
    /// stopped.
    Import {
        /// The export to read.
        file: PathBuf,
    },
    /// Ask the running server (the one with this `--db`, or
    /// `--admin-socket`) to help someone: carried out and recorded there.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Give a claimed name that forgot its password a new one (printed
    /// here, once); every session and API token of the name ends.
    ResetPassword { name: String },
    /// Make a claimed name a moderator of a room, or of every room.
    Grant {
        name: String,
        /// Only this room (without it: every room).
        #[arg(long)]
        room: Option<String>,
    },
    /// Take a moderator's role back, of a room or of every room.
    Revoke {
        name: String,
        /// Only this room (without it: every room).
        #[arg(long)]
        room: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    // First: `--help` and `--version` print that and nothing else.
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        );
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let config = cli.config;
    match cli.command {
        Some(Command::Backup { file }) => return backup(&config, &file),
        Some(Command::Export { room, file }) => {
            let exported = server::export(&config, room.as_deref(), &file).await;
            return report("exported", &file, exported);
        }
        Some(Command::Import { file }) => {
            let imported = server::import(&config, &file).await;
            return report("imported", &file, imported);
        }
        Some(Command::Admin { command }) => return admin(&config, command).await,
        None => {}
    }
    raise_open_files_limit();
    // Before anything is announced: a SIGTERM from then on stops it well.
    let stop = server::shutdown::signal();
    let listener = match TcpListener::bind(&config.bind).await {
        Ok(listener) => listener,
        Err(error) => {
            tracing::error!("cannot listen on {}: {error}", config.bind);
            eprintln!("error: cannot listen on {}: {error}", config.bind);
            return ExitCode::FAILURE;
        }
    };
    match listener.local_addr() {
        Ok(addr) => {
            tracing::info!("chat room at http://{addr}");
            // The one line on stdout: where to open it.
            let open = config.public_origins.first().cloned().unwrap_or_else(|| {
                match addr.ip().is_unspecified() {
                    // Every address of the machine: this one works on it.
                    true => format!("http://localhost:{}", addr.port()),
                    false => format!("http://{addr}"),
                }
            });
            println!("The chat is at {open}");
        }
        Err(error) => tracing::warn!(%error, "listening, address unknown"),
    }
    match server::run(listener, config, stop).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error}");
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `server backup FILE`.
fn backup(config: &Config, file: &std::path::Path) -> ExitCode {
    let made = match config.redis_url {
        Some(_) => Err(server::BackupError::Redis),
        None => server::backup(&config.db, file),
    };
    match made {
        Ok(report) => {
            println!(
                "backed up {} to {}: {} messages, {} bytes",
                config.db.display(),
                file.display(),
                report.messages,
                report.bytes
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// What `server export` or `server import` did, on stderr (an export may
/// go to stdout).
fn report(
    what: &str,
    file: &std::path::Path,
    done: Result<server::TransferReport, server::TransferError>,
) -> ExitCode {
    match done {
        Ok(report) => {
            eprintln!(
                "{what} {} rooms, {} messages and {} other events ({})",
                report.rooms,
                report.messages,
                report.events,
                file.display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `server admin ...`: the request to the running server, and its answer.
async fn admin(config: &Config, command: AdminCommand) -> ExitCode {
    use server::admin::{AdminAnswer, AdminRequest};
    let request = match command {
        AdminCommand::ResetPassword { name } => AdminRequest::ResetPassword { name },
        AdminCommand::Grant { name, room } => AdminRequest::Grant { name, room },
        AdminCommand::Revoke { name, room } => AdminRequest::Revoke { name, room },
    };
    let socket = server::admin::socket_path(&config.db, config.admin_socket.as_deref());
    match server::admin::send(socket.as_deref(), &request).await {
        Ok(AdminAnswer::Done { message }) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Ok(AdminAnswer::Refused { message }) => {
            eprintln!("refused: {message}");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
