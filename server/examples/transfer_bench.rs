//! The export and import benchmark (BENCHMARKS.md, "Running it for
//! real"): a room of N messages (`server::testing::seed_corpus`) exported
//! from SQLite to a file, imported into a new SQLite file, and, with
//! `--redis URL`, into that Redis (under a prefix of its own) and exported
//! from it again; each step timed, with the file's size.
//!
//! cargo run --release -p server --features testing --example transfer_bench -- 100000 --redis redis://127.0.0.1:6379

use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let count: usize = args.first().ok_or("N [--redis URL]")?.parse()?;
    let redis = match args.get(1).map(String::as_str) {
        Some("--redis") => Some(args.get(2).ok_or("--redis URL")?.clone()),
        _ => None,
    };
    let dir = tempfile::tempdir()?;
    let mut config = server::Config::defaults();
    config.db = dir.path().join("from.db");
    server::testing::seed_corpus(&config.db, "lobby", count, 1_700_000_000_000)?;
    let file = dir.path().join("export.jsonl");
    let timed = Instant::now();
    let report = server::export(&config, None, &file).await?;
    let exported = timed.elapsed();
    let bytes = std::fs::metadata(&file)?.len();
    println!(
        "{count} messages: export from SQLite {:.2} s ({:.0} messages/s), {:.1} MB ({:.0} bytes a message); {report:?}",
        exported.as_secs_f64(),
        count as f64 / exported.as_secs_f64(),
        bytes as f64 / 1e6,
        bytes as f64 / count as f64
    );
    let mut into = config.clone();
    into.db = dir.path().join("into.db");
    let timed = Instant::now();
    server::import(&into, &file).await?;
    let imported = timed.elapsed();
    println!(
        "import into SQLite {:.2} s ({:.0} messages/s, the search index built with it)",
        imported.as_secs_f64(),
        count as f64 / imported.as_secs_f64()
    );
    if let Some(url) = redis {
        let mut on_redis = config.clone();
        on_redis.redis_url = Some(url);
        on_redis.redis_prefix = format!("transfer-bench-{}", std::process::id());
        let timed = Instant::now();
        server::import(&on_redis, &file).await?;
        let imported = timed.elapsed();
        let again = dir.path().join("again.jsonl");
        let timed = Instant::now();
        server::export(&on_redis, None, &again).await?;
        let exported = timed.elapsed();
        println!(
            "import into Redis {:.2} s ({:.0} messages/s); export from Redis {:.2} s ({:.0} messages/s); the same file: {}",
            imported.as_secs_f64(),
            count as f64 / imported.as_secs_f64(),
            exported.as_secs_f64(),
            count as f64 / exported.as_secs_f64(),
            std::fs::read(&file)? == std::fs::read(&again)?
        );
    }
    Ok(())
}
