//! The search benchmark (BENCHMARKS.md, "Search"): for each history size,
//! a room of that many messages (`server::testing::seed_corpus`) served
//! by the real server on a loopback port; one client asks each query
//! over its WebSocket, one after another, and the time from sending the
//! `search` frame to its `results` is taken. Then the index's size beside
//! the messages', and how long opening the database takes when its index
//! must be built (an upgrade from before search).
//!
//! cargo run --release -p server --features testing --example search_bench -- 10000 100000 1000000

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
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
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

/// Serves the database and asks every query `RUNS` times.
async fn measure(db: &std::path::Path, size: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = server::Config::defaults();
    config.db = db.to_owned();
    config.default_room = ROOM.into();
    config.static_dir = "/nonexistent".into();
    config.rate_limit = 1e6;
    config.rate_burst = 1_000_000;
    config.history_rate_bytes = 1 << 40;
    config.history_burst_bytes = u32::MAX;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(server::run(listener, config, async {
        let _ = stopped.await;
    }));
    let (mut socket, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/ws?user=bench")).await?;
    // Greeted: in the room.
    loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            if matches!(ServerFrame::parse(&text), Ok(ServerFrame::History { .. })) {
                break;
            }
        }
    }
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
                let Some(Ok(Message::Text(text))) = socket.next().await else {
                    return Err("the socket closed".into());
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
