//! The search benchmark (BENCHMARKS.md, "Search"): for each history size,
//! a room of that many messages (`server::testing::seed_corpus`) served
//! by the real server on a loopback port; one client asks each query
//! over its WebSocket, one after another, and the time from sending the
//! `search` frame to its `results` is taken. Then the index's size beside
//! the messages', and how long opening the database takes when its index
//! must be built (an upgrade from before search).
//!
//! cargo run --release -p server --features testing --example search_bench -- 10000 100000 1000000
//!
//! With `redis <url> N...`: N messages posted through one instance on
//! that Redis, then a second instance, started after, followed the room
//! for a client that joins it: how long until the oldest message is
//! found there (the room's past indexed a page at a time), and what the
//! process grew by meanwhile (the second instance's index and window).

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ServerFrame};
use tokio_tungstenite::tungstenite::Message;

const ROOM: &str = "lobby";
/// Each query's runs (after one unmeasured).
const RUNS: usize = 200;
const QUERIES: [&str; 5] = ["deploy", "世界", "from:user3", "w17 w250", "\"w1 w2\""];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("redis") {
        let url = args.get(1).cloned().ok_or("redis <url> N...")?;
        let sizes: Vec<usize> = args[2..]
            .iter()
            .map(|size| size.parse())
            .collect::<Result<_, _>>()?;
        return redis(&url, &sizes).await;
    }
    let sizes: Vec<usize> = args
        .drain(..)
        .map(|size| size.parse())
        .collect::<Result<_, _>>()?;
    println!("| messages | query | hits | p50 ms | p99 ms |");
    println!("|---:|---|---:|---:|---:|");
    let mut sizes_table = Vec::new();
    for size in sizes {
        let data = tempfile::tempdir()?;
        let db = data.path().join("chat.db");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis() as i64;
        let started = Instant::now();
        server::testing::seed_corpus(&db, ROOM, size, now - size as i64)?;
        let seeded = started.elapsed();
        measure(&db, size).await?;
        let (file, index, events) = server::testing::index_bytes(&db)?;
        server::testing::unindex(&db)?;
        let started = Instant::now();
        server::testing::open(&db, ROOM)?;
        let migration = started.elapsed();
        sizes_table.push((size, file, index, events, seeded, migration));
    }
    println!();
    println!("| messages | file MB | index MB | messages MB | index / messages | seeding s | index built at upgrade s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (size, file, index, events, seeded, migration) in sizes_table {
        let mb = |bytes: u64| bytes as f64 / 1e6;
        println!(
            "| {size} | {:.1} | {:.1} | {:.1} | {:.2} | {:.1} | {:.1} |",
            mb(file),
            mb(index),
            mb(events),
            index as f64 / events.max(1) as f64,
            seeded.as_secs_f64(),
            migration.as_secs_f64()
        );
    }
    Ok(())
}

/// The room on Redis: posted through a first instance, found through a
/// second.
async fn redis(url: &str, sizes: &[usize]) -> Result<(), Box<dyn std::error::Error>> {
    println!(
        "| messages | posted in s | oldest found on a new instance after s | its RSS grew by MB |"
    );
    println!("|---:|---:|---:|---:|");
    for &size in sizes {
        let data = tempfile::tempdir()?;
        let prefix = format!("bench{}", std::process::id() ^ size as u32);
        let config = |data: &tempfile::TempDir| {
            let mut config = bench_config(&data.path().join("chat.db"));
            config.redis_url = Some(url.to_owned());
            config.redis_prefix = prefix.clone();
            config.redis_max_len = 10_000_000;
            config
        };
        let (first, first_stop, first_task) = serve(config(&data)).await?;
        let started = Instant::now();
        let mut socket = greeted(first, "poster").await?;
        // In flights of 500, each acknowledged before the next.
        let mut sent = 0;
        while sent < size {
            let flight = (size - sent).min(500);
            for n in sent..sent + flight {
                let frame = ClientFrame::Send {
                    client_id: format!("p{n}"),
                    msg: format!("note{n} about the ledger"),
                    room: None,
                    reply_to: None,
                };
                socket.send(Message::text(frame.to_json())).await?;
            }
            let mut acknowledged = 0;
            while acknowledged < flight {
                let text = match socket.next().await {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    _ => return Err("the socket closed".into()),
                };
                match ServerFrame::parse(&text) {
                    Ok(ServerFrame::Message { .. }) => acknowledged += 1,
                    Ok(ServerFrame::Error { message, .. }) => return Err(message.into()),
                    _ => {}
                }
            }
            sent += flight;
        }
        let posted = started.elapsed();
        drop(socket);
        let _ = first_stop.send(());
        first_task.await??;

        let data_b = tempfile::tempdir()?;
        let rss_before = rss_kib();
        let (second, second_stop, second_task) = serve(config(&data_b)).await?;
        let started = Instant::now();
        let mut socket = greeted(second, "reader").await?;
        let frame = ClientFrame::Search {
            q: "note0".into(),
            room: None,
            before: None,
        }
        .to_json();
        loop {
            socket.send(Message::text(frame.clone())).await?;
            let hits = loop {
                let text = match socket.next().await {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    _ => return Err("the socket closed".into()),
                };
                match ServerFrame::parse(&text) {
                    Ok(ServerFrame::Results { hits, .. }) => break hits.len(),
                    Ok(ServerFrame::Error { message, .. }) => return Err(message.into()),
                    _ => {}
                }
            };
            if hits > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let found = started.elapsed();
        let grew = rss_kib().saturating_sub(rss_before) as f64 / 1024.0;
        println!(
            "| {size} | {:.1} | {:.2} | {grew:.1} |",
            posted.as_secs_f64(),
            found.as_secs_f64()
        );
        drop(socket);
        let _ = second_stop.send(());
        second_task.await??;
    }
    Ok(())
}

/// The process's resident memory, in KiB (0 where /proc has none).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn bench_config(db: &std::path::Path) -> server::Config {
    let mut config = server::Config::defaults();
    config.db = db.to_owned();
    config.default_room = ROOM.into();
    config.static_dir = Some("/nonexistent".into());
    config.rate_limit = 1e6;
    config.rate_burst = 1_000_000;
    config.address_rate_limit = 1e6;
    config.address_rate_burst = 1_000_000;
    config.history_rate_bytes = 1 << 40;
    config.history_burst_bytes = u32::MAX;
    config
}

type Served = (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), server::StartError>>,
);

async fn serve(config: server::Config) -> Result<Served, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server::run(listener, config, async {
        let _ = stopped.await;
    }));
    Ok((addr, stop, task))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A client of the server at `addr`, in the room.
async fn greeted(
    addr: std::net::SocketAddr,
    user: &str,
) -> Result<Socket, Box<dyn std::error::Error>> {
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?user={user}")).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                if matches!(ServerFrame::parse(&text), Ok(ServerFrame::History { .. })) {
                    return Ok(socket);
                }
            }
            Some(Ok(_)) => {}
            _ => return Err("closed before the greeting".into()),
        }
    }
}

/// Serves the database and asks every query `RUNS` times.
async fn measure(db: &std::path::Path, size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (addr, stop, served) = serve(bench_config(db)).await?;
    let mut socket = greeted(addr, "bench").await?;
    for q in QUERIES {
        let frame = ClientFrame::Search {
            q: q.into(),
            room: None,
            before: None,
        }
        .to_json();
        let mut times = Vec::with_capacity(RUNS);
        let mut hits = 0;
        for run in 0..=RUNS {
            let started = Instant::now();
            socket.send(Message::text(frame.clone())).await?;
            loop {
                let text = match socket.next().await {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(_)) => continue,
                    _ => return Err("the socket closed".into()),
                };
                match ServerFrame::parse(&text) {
                    Ok(ServerFrame::Results { hits: found, .. }) => {
                        hits = found.len();
                        break;
                    }
                    Ok(ServerFrame::Error { message, .. }) => return Err(message.into()),
                    _ => {}
                }
            }
            if run > 0 {
                times.push(started.elapsed());
            }
        }
        times.sort();
        let at = |p: f64| times[((times.len() - 1) as f64 * p) as usize];
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {size} | `{q}` | {hits} | {:.2} | {:.2} |",
            ms(at(0.5)),
            ms(at(0.99))
        );
    }
    let _ = stop.send(());
    served.await??;
    Ok(())
}
