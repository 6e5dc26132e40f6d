//! Load generator for the chat room, and for the peers it is compared with.
//!
//! `chat`: N clients connect with distinct names; S of them send at a total
//! rate R for D seconds; every client receives. Each message carries its
//! send time (`"msg":"t=<µs since start>"`), so every delivery gives a
//! latency. Reports deliveries/s, p50/p99/max latency, loss (expected minus
//! received deliveries), failed connections, and the server's RSS.
//!
//! `idle`: opens N connections and reports the server's RSS per connection.
//!
//! Rooms (this project's server only): with `--rooms K`, client `i` is in
//! room `r<i mod K>` (`&room=` in its URL), its messages say which
//! (`"msg":"t=<µs>,k=<room>"`), a delivery from another room counts as a
//! leak, and each message is expected by the clients of its room alone.
//! With `--rooms-each M` (idle), every connection also joins M - 1 more
//! rooms (`join` frames), for the memory a room costs a connection.
//!
//! It speaks the project's protocol (`send` frames; `message` frames back).
//! The peers simply broadcast every frame they get, so the same `send` frame
//! comes back from them: both carry the `msg` this tool reads.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use futures::stream::{self, StreamExt};
use futures::SinkExt;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::http::Uri;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

#[derive(Parser)]
#[command(name = "loadgen", about = "Load generator for the chat room")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Clients chat at a fixed total rate; report throughput and latency.
    Chat(ChatArgs),
    /// Open idle connections; report the server's memory per connection.
    Idle(IdleArgs),
}

#[derive(Args, Clone)]
struct Common {
    /// The WebSocket endpoint; `?user=<name>` is appended. Repeat it for
    /// several instances of one room: clients take them in turn.
    #[arg(long, default_value = "ws://127.0.0.1:8000/ws")]
    url: Vec<String>,
    /// Clients to connect.
    #[arg(long, default_value_t = 1000)]
    clients: usize,
    /// The server's process id, to read its RSS from /proc. Repeat it for
    /// several instances: their RSS is added up.
    #[arg(long)]
    pid: Vec<u32>,
    /// Connections opened at once.
    #[arg(long, default_value_t = 100)]
    connect_concurrency: usize,
    /// Prefix of the client names (distinct runs against one server should
    /// not reuse names).
    #[arg(long, default_value = "load")]
    name_prefix: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Spread the clients over this many rooms (0: the URL names none).
    #[arg(long, default_value_t = 0)]
    rooms: usize,
    /// Count a client as connected only once the server's `history` frame
    /// arrives: this project's server sends it when the client is in the
    /// room (with several instances, after its name was claimed in Redis);
    /// the peers send nothing.
    #[arg(long)]
    await_history: bool,
}

#[derive(Args, Clone)]
struct ChatArgs {
    #[command(flatten)]
    common: Common,
    /// How many of the clients send.
    #[arg(long, default_value_t = 200)]
    senders: usize,
    /// Messages per second, all senders together.
    #[arg(long, default_value_t = 500.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds to wait after sending for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// A conversation's mix instead of posts alone (this project's server
    /// only): of every 20 frames a sender sends, 16 are posts, 2
    /// reactions, 1 an edit and 1 a deletion of its own recent messages.
    /// Latency is measured on the posts; the other events are the load
    /// around them (each reaches everyone in the room too). Clients
    /// connect with a browser token, which editing needs.
    #[arg(long)]
    mix: bool,
}

#[derive(Args, Clone)]
struct IdleArgs {
    #[command(flatten)]
    common: Common,
    /// Seconds to hold the connections before measuring: long enough for
    /// an allocator that returns freed pages after a decay time (the
    /// server's jemalloc: 10 s) to have given back what connecting used
    /// and freed, so that what is measured is what the idle connections
    /// keep.
    #[arg(long, default_value_t = 12.0)]
    settle: f64,
    /// Rooms each connection is in: the URL's, and `join`s for the rest
    /// (`x1`..), shared by every connection.
    #[arg(long, default_value_t = 1)]
    rooms_each: usize,
}

type Socket = WebSocketStream<TcpStream>;

#[derive(Serialize, Default)]
struct Report {
    mode: &'static str,
    clients: usize,
    connected: usize,
    failed_connections: usize,
    senders: usize,
    rate: f64,
    duration_s: f64,
    sent: u64,
    expected: u64,
    received: u64,
    loss: i64,
    /// Deliveries of a message from a room the client is not in.
    leaks: u64,
    errors: u64,
    deliveries_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    rss_before_kib: Option<u64>,
    rss_connected_kib: Option<u64>,
    rss_after_kib: Option<u64>,
    rss_per_connection_kib: Option<f64>,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let (report, json) = match cli.mode {
        Mode::Chat(args) => {
            let json = args.common.json;
            (chat(args).await, json)
        }
        Mode::Idle(args) => {
            let json = args.common.json;
            (idle(args).await, json)
        }
    };
    if json {
        match serde_json::to_string(&report) {
            Ok(line) => println!("{line}"),
            Err(error) => eprintln!("loadgen: {error}"),
        }
    } else {
        print_report(&report);
    }
}

fn print_report(r: &Report) {
    println!("mode                 {}", r.mode);
    println!(
        "connected            {} of {} ({} failed)",
        r.connected, r.clients, r.failed_connections
    );
    if r.mode == "chat" {
        println!(
            "senders x rate       {} x {:.0} msg/s for {:.0} s",
            r.senders, r.rate, r.duration_s
        );
        println!("sent                 {}", r.sent);
        println!(
            "deliveries           {} of {} expected (loss {}, from other rooms {})",
            r.received, r.expected, r.loss, r.leaks
        );
        println!("error frames         {}", r.errors);
        println!("deliveries/s         {:.0}", r.deliveries_per_s);
        println!(
            "latency p50/p99/max  {:.1} / {:.1} / {:.1} ms",
            r.p50_ms, r.p99_ms, r.max_ms
        );
    }
    let kib = |v: Option<u64>| v.map_or("-".to_owned(), |v| format!("{v} KiB"));
    println!("server RSS before    {}", kib(r.rss_before_kib));
    println!("server RSS connected {}", kib(r.rss_connected_kib));
    println!("server RSS after     {}", kib(r.rss_after_kib));
    if let Some(per) = r.rss_per_connection_kib {
        println!("RSS per connection   {per:.2} KiB");
    }
}

/// The server's resident memory, from /proc.
/// The summed RSS of `pids`, if there are any and all can be read.
fn rss_kib(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&pid| process_rss_kib(pid)).sum()
}

fn process_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn connect(
    url: &str,
    name: &str,
    room: Option<usize>,
    await_history: bool,
    token: bool,
) -> Result<Socket, String> {
    let mut full = match room {
        Some(room) => format!("{url}?user={name}&room=r{room}"),
        None => format!("{url}?user={name}"),
    };
    if token {
        full.push_str(&format!("&token=t-{name}"));
    }
    let uri: Uri = full.parse().map_err(|e| format!("{full}: {e}"))?;
    let host = uri.host().ok_or("no host in the URL")?.to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut socket, _) = tokio_tungstenite::client_async(full, stream)
        .await
        .map_err(|e| e.to_string())?;
    if await_history {
        loop {
            match socket.next().await {
                Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"history""#) => break,
                Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"error""#) => {
                    return Err(text.to_string())
                }
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.to_string()),
                None => return Err("closed before the history frame".into()),
            }
        }
    }
    Ok(socket)
}

/// The room of client `i`, if the clients are spread over rooms.
fn room_of(common: &Common, i: usize) -> Option<usize> {
    (common.rooms > 0).then(|| i % common.rooms)
}

/// Opens `common.clients` connections, `connect_concurrency` at a time;
/// each comes with its client's index.
async fn connect_all(common: &Common, token: bool) -> (Vec<(usize, Socket)>, usize) {
    let names = (0..common.clients).map(|i| (i, format!("{}{i}", common.name_prefix)));
    let results: Vec<(usize, Result<Socket, String>)> = stream::iter(names)
        .map(|(i, name)| async move {
            let url = &common.url[i % common.url.len().max(1)];
            let room = room_of(common, i);
            (
                i,
                connect(url, &name, room, common.await_history, token).await,
            )
        })
        .buffer_unordered(common.connect_concurrency.max(1))
        .collect()
        .await;
    let mut sockets = Vec::new();
    let mut failed = 0;
    for (i, result) in results {
        match result {
            Ok(socket) => sockets.push((i, socket)),
            Err(error) => {
                if failed == 0 {
                    eprintln!("loadgen: a connection failed: {error}");
                }
                failed += 1;
            }
        }
    }
    (sockets, failed)
}

async fn idle(args: IdleArgs) -> Report {
    let common = &args.common;
    let before = rss_kib(&common.pid);
    // Each client reads (and drops) what it is sent from the moment it is
    // in, as a browser does: frames nobody reads would pile up in the
    // server and be counted as what a connection costs.
    let (stop, stopped) = watch::channel(false);
    let readers: Vec<Option<tokio::task::JoinHandle<()>>> = stream::iter(0..common.clients)
        .map(|i| {
            let stopped = stopped.clone();
            async move {
                let name = format!("{}{i}", common.name_prefix);
                let url = &common.url[i % common.url.len().max(1)];
                let socket = match connect(
                    url,
                    &name,
                    room_of(common, i),
                    common.await_history,
                    false,
                )
                .await
                {
                    Ok(socket) => socket,
                    Err(error) => {
                        eprintln!("loadgen: a connection failed: {error}");
                        return None;
                    }
                };
                let mut socket = join_rooms(socket, args.rooms_each.saturating_sub(1)).await?;
                let mut stopped = stopped;
                Some(tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            _ = stopped.changed() => return,
                            frame = socket.next() => if !matches!(frame, Some(Ok(_))) { return },
                        }
                    }
                }))
            }
        })
        .buffer_unordered(common.connect_concurrency.max(1))
        .collect()
        .await;
    let failed = readers.iter().filter(|reader| reader.is_none()).count();
    let connected_count = readers.len() - failed;
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let connected = rss_kib(&common.pid);
    let per = match (before, connected) {
        (Some(b), Some(c)) if connected_count > 0 => {
            Some(c.saturating_sub(b) as f64 / connected_count as f64)
        }
        _ => None,
    };
    let _ = stop.send(true);
    for reader in readers.into_iter().flatten() {
        let _ = reader.await;
    }
    Report {
        mode: "idle",
        clients: common.clients,
        connected: connected_count,
        failed_connections: failed,
        rss_before_kib: before,
        rss_connected_kib: connected,
        rss_after_kib: connected,
        rss_per_connection_kib: per,
        ..Report::default()
    }
}

/// Joins rooms `x1`..`x<count>` on `socket`, each once its history came;
/// a join refused for the rate limit is sent again after the wait it says.
async fn join_rooms(mut socket: Socket, count: usize) -> Option<Socket> {
    let mut room = 1;
    while room <= count {
        let join = format!(r#"{{"type":"join","room":"x{room}"}}"#);
        socket.send(Message::text(join)).await.ok()?;
        loop {
            match socket.next().await? {
                Ok(Message::Text(text)) if text.starts_with(r#"{"type":"history""#) => {
                    room += 1;
                    break;
                }
                Ok(Message::Text(text)) if text.starts_with(r#"{"type":"error""#) => {
                    let wait: u64 = text
                        .split_once(r#""retryAfterMs":"#)
                        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
                        .and_then(|digits| digits.parse().ok())?;
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    break;
                }
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
    Some(socket)
}

/// The send time carried by a delivered message, if `text` is one.
///
/// A substring search, not a JSON parse: at a million deliveries per second
/// on the same two cores as the server, the generator's own cost per frame
/// must be small and must not depend on the frame's other fields, or the
/// servers would be compared by how cheap their frames are to parse. Other
/// frames (welcome, history, presence) are told apart by their `type`, which
/// every frame starts with.
fn send_time(text: &str, shared: &Shared) -> Option<u64> {
    const MARK: &str = r#""msg":"t="#;
    if text.starts_with(r#"{"type":"error""#) {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    if text.starts_with(r#"{"type":"history""#) {
        return None;
    }
    let start = text.find(MARK)? + MARK.len();
    let digits = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// The room a delivered message says it was sent to (`,k=<room>`), if any.
fn sent_room(text: &str) -> Option<usize> {
    const MARK: &str = ",k=";
    let start = text.find(MARK)? + MARK.len();
    let digits = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

/// A latency histogram in µs, sized up front for up to a minute at two
/// significant digits (1% precision).
///
/// Every client keeps one, so their growth is the generator's own cost, in
/// the middle of the measurement: auto-resizing 3-digit histograms grew by
/// about 100 KB each as latencies first reached a new power of two, a
/// gigabyte of fresh pages at 10,000 clients in the first seconds of
/// sending, which showed as a latency spike of random size for every server
/// alike and made the 10k p99 swing by 2x from run to run.
fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 2).expect("valid bounds and precision")
}

/// Shared by every client task.
struct Shared {
    start: Instant,
    received: AtomicU64,
    sent: AtomicU64,
    /// Deliveries owed: each message once per client in its room.
    expected: AtomicU64,
    leaks: AtomicU64,
    errors: AtomicU64,
    /// µs since start of the last delivery.
    last_delivery_us: AtomicU64,
    /// Senders that have sent their last message.
    senders_done: AtomicU64,
}

impl Shared {
    fn micros(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }
}

struct SendPlan {
    first: Duration,
    period: Duration,
    until: Duration,
    /// Clients in the sender's room, who each get its messages.
    audience: u64,
    /// Send a conversation's mix (see `ChatArgs::mix`).
    mix: bool,
    /// Where in the mix's cycle of 20 this sender starts: a sender may
    /// send fewer than 20 frames in a run, and the senders together
    /// should still send the mix.
    offset: u64,
}

/// What a sender sends on its `n`th tick, given its recent messages, and
/// whether it is a post.
fn next_frame(n: u64, client_id: &str, text: &str, mine: &mut VecDeque<u64>) -> (String, bool) {
    let post = || {
        let frame = format!(r#"{{"type":"send","clientId":"{client_id}","msg":"{text}"}}"#);
        (frame, true)
    };
    let (Some(&newest), Some(&oldest)) = (mine.back(), mine.front()) else {
        return post();
    };
    match n % 20 {
        // A reaction given, then taken back: both are events.
        16 | 17 => (
            format!(
                r#"{{"type":"react","id":{newest},"emoji":"👍","on":{}}}"#,
                n % 20 == 16
            ),
            false,
        ),
        18 => (
            format!(r#"{{"type":"edit","id":{newest},"msg":"edited {n}"}}"#),
            false,
        ),
        19 => {
            mine.pop_front();
            (format!(r#"{{"type":"delete","id":{oldest}}}"#), false)
        }
        _ => post(),
    }
}

/// The id of a sender's own message, from its copy (`clientId` starting
/// with `prefix-`).
fn own_id(text: &str, prefix: &str) -> Option<u64> {
    let mark = format!(r#""clientId":"{prefix}-"#);
    if !text.starts_with(r#"{"type":"message""#) || !text.contains(&mark) {
        return None;
    }
    let start = text.find(r#""id":"#)? + r#""id":"#.len();
    let digits = &text[start..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

async fn chat(args: ChatArgs) -> Report {
    let common = &args.common;
    let before = rss_kib(&common.pid);
    let (sockets, failed) = connect_all(common, args.mix).await;
    let connected_rss = rss_kib(&common.pid);
    let connected = sockets.len();
    let senders = args.senders.min(connected);
    // How many clients each room has (one room when they are not spread).
    let mut members = vec![0u64; common.rooms.max(1)];
    for (i, _) in &sockets {
        members[room_of(common, *i).unwrap_or(0)] += 1;
    }
    let shared = Arc::new(Shared {
        start: Instant::now(),
        received: AtomicU64::new(0),
        sent: AtomicU64::new(0),
        expected: AtomicU64::new(0),
        leaks: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        last_delivery_us: AtomicU64::new(0),
        senders_done: AtomicU64::new(0),
    });
    // Start sending a moment from now, once every task is running.
    let lead = Duration::from_millis(500);
    let period = Duration::from_secs_f64(senders as f64 / args.rate.max(0.001));
    let until = lead + Duration::from_secs_f64(args.duration);
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::with_capacity(connected);
    for (n, (i, socket)) in sockets.into_iter().enumerate() {
        let room = room_of(common, i);
        let plan = (n < senders).then(|| SendPlan {
            first: lead + period.mul_f64(n as f64 / senders as f64),
            period,
            until,
            audience: members[room.unwrap_or(0)],
            mix: args.mix,
            offset: n as u64,
        });
        let client_id_prefix = format!("{}{i}", common.name_prefix);
        tasks.push(tokio::spawn(client(
            socket,
            plan,
            room,
            client_id_prefix,
            Arc::clone(&shared),
            stopped.clone(),
        )));
    }
    // Wait for every sender to finish (a late one catches up in a burst),
    // then for the deliveries to arrive.
    tokio::time::sleep_until((shared.start + until).into()).await;
    let give_up = Instant::now() + Duration::from_secs_f64(args.drain);
    while shared.senders_done.load(Ordering::Relaxed) < senders as u64 && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let sent = shared.sent.load(Ordering::Relaxed);
    let expected = shared.expected.load(Ordering::Relaxed);
    let drain_until = Instant::now() + Duration::from_secs_f64(args.drain);
    while shared.received.load(Ordering::Relaxed) < expected && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(true);
    let mut latency = latency_histogram();
    for task in tasks {
        if let Ok(histogram) = task.await {
            let _ = latency.add(histogram);
        }
    }
    let received = shared.received.load(Ordering::Relaxed);
    let sending_started = lead.as_micros() as f64;
    let window_us = shared.last_delivery_us.load(Ordering::Relaxed) as f64 - sending_started;
    let ms = |us: u64| us as f64 / 1000.0;
    Report {
        mode: "chat",
        clients: common.clients,
        connected,
        failed_connections: failed,
        senders,
        rate: args.rate,
        duration_s: args.duration,
        sent,
        expected,
        received,
        loss: expected as i64 - received as i64,
        leaks: shared.leaks.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        deliveries_per_s: if window_us > 0.0 {
            received as f64 / (window_us / 1e6)
        } else {
            0.0
        },
        p50_ms: ms(latency.value_at_quantile(0.50)),
        p99_ms: ms(latency.value_at_quantile(0.99)),
        max_ms: ms(latency.max()),
        rss_before_kib: before,
        rss_connected_kib: connected_rss,
        rss_after_kib: rss_kib(&common.pid),
        rss_per_connection_kib: None,
    }
}

/// Counts a sender as done exactly once: when its plan ends, or when its
/// connection does, whichever comes first.
struct SenderEnd(Option<Arc<Shared>>);

impl SenderEnd {
    fn report(&mut self) {
        if let Some(shared) = self.0.take() {
            shared.senders_done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for SenderEnd {
    fn drop(&mut self) {
        self.report();
    }
}

/// One client: sends on its plan (if it has one), counts what it receives.
async fn client(
    socket: Socket,
    plan: Option<SendPlan>,
    room: Option<usize>,
    client_id_prefix: String,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) -> Histogram<u64> {
    let mut latency = latency_histogram();
    let (mut sink, mut source) = socket.split();
    let mut ticks = plan.as_ref().map(|plan| {
        let mut interval =
            tokio::time::interval_at((shared.start + plan.first).into(), plan.period);
        // Timers tick at most once a millisecond: a sender faster than that
        // catches up in bursts, keeping the average rate it was given.
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        interval
    });
    let until = plan.as_ref().map(|p| shared.start + p.until);
    let mut seq = 0u64;
    let mix = plan.as_ref().is_some_and(|plan| plan.mix);
    // A mixing sender's newest messages: what it reacts to, edits, deletes.
    let mut mine: VecDeque<u64> = VecDeque::new();
    let mut ended = SenderEnd(plan.is_some().then_some(Arc::clone(&shared)));
    loop {
        let tick = async {
            match ticks.as_mut() {
                Some(interval) => interval.tick().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.changed() => break,
            frame = source.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    if let Some(id) = own_id(&text, &client_id_prefix).filter(|_| mix) {
                        if mine.len() == 16 {
                            mine.pop_front();
                        }
                        mine.push_back(id);
                    }
                    let Some(sent_us) = send_time(&text, &shared) else { continue };
                    if room.is_some() && sent_room(&text) != room {
                        shared.leaks.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let now = shared.micros();
                    latency.saturating_record(now.saturating_sub(sent_us));
                    shared.received.fetch_add(1, Ordering::Relaxed);
                    shared.last_delivery_us.fetch_max(now, Ordering::Relaxed);
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => break,
            },
            tick = tick => {
                if until.is_some_and(|until| tick.into_std() >= until) {
                    ticks = None;
                    ended.report();
                    continue;
                }
                let room_mark = room.map(|room| format!(",k={room}")).unwrap_or_default();
                let text = format!("t={}{room_mark}", shared.micros());
                let client_id = format!("{client_id_prefix}-{seq}");
                let offset = plan.as_ref().map_or(0, |plan| plan.offset);
                let (frame, is_post) = if mix {
                    next_frame(seq + offset, &client_id, &text, &mut mine)
                } else {
                    (format!(r#"{{"type":"send","clientId":"{client_id}","msg":"{text}"}}"#), true)
                };
                seq += 1;
                if sink.send(Message::text(frame)).await.is_err() {
                    break;
                }
                if is_post {
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                    let audience = plan.as_ref().map_or(0, |plan| plan.audience);
                    shared.expected.fetch_add(audience, Ordering::Relaxed);
                }
            }
        }
    }
    latency
}
