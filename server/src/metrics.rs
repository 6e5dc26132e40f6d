//! Prometheus metrics, on a listener of their own (`--metrics-bind`),
//! never on the public one: they tell anyone who reads them how busy each
//! part of the server is and when it fails, which is the operator's to
//! know (Prometheus scrapes a loopback or private address; the reverse
//! proxy does not pass it).
//!
//! The `metrics` crate's recorder is global: one per process, installed
//! the first time a server with `--metrics-bind` starts. Recording without
//! one costs a check and does nothing.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use protocol::ErrorCode;
use warp::Filter;

use crate::events::{Appended, Event};
use crate::limits::Admission;
use crate::proxy::TrustedProxies;
use crate::rooms::Rooms;

/// Connections to the metrics listener at once.
const SCRAPERS_MAX: usize = 16;
/// How long a scraper may take to send its request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Seconds: the storage latency and fan-out lag histograms' buckets.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first use (`None`: another
/// recorder was installed first, and this one cannot be).
fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::error!(%error, "cannot record metrics");
                    None
                }
            }
        })
        .clone()
}

/// Serves `/metrics` on `bind` until `shutdown`: the counters recorded so
/// far, and the gauges read from `rooms` at each scrape.
pub(crate) async fn serve(
    bind: SocketAddr,
    rooms: Arc<Rooms>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<SocketAddr> {
    // Known before the first scrape, at zero.
    metrics::describe_counter!(
        "chat_appends_total",
        "events offered to the logs, by outcome"
    );
    let Some(handle) = recorder() else {
        return Err(std::io::Error::other(
            "another metrics recorder is installed",
        ));
    };
    let route = warp::get()
        .and(warp::path("metrics"))
        .and(warp::path::end())
        .map(move || {
            metrics::gauge!("chat_connections").set(rooms.connections() as f64);
            metrics::gauge!("chat_rooms_in_memory").set(rooms.rooms_in_memory() as f64);
            warp::reply::with_header(
                handle.render(),
                "content-type",
                "text/plain; version=0.0.4; charset=utf-8",
            )
        });
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    // The accept loop of the public listener (header timeout and all),
    // with caps of its own: a scraper or two.
    tokio::spawn(crate::listener::serve(
        listener,
        warp::service(route),
        Admission::new(SCRAPERS_MAX, SCRAPERS_MAX),
        Arc::new(TrustedProxies::new(false, &[])),
        HEADER_TIMEOUT,
        shutdown,
    ));
    Ok(addr)
}

/// An append's outcome and how long the log took.
pub(crate) fn appended(outcome: &Result<Appended, crate::log::LogError>, took: Duration) {
    metrics::histogram!("chat_storage_seconds").record(took.as_secs_f64());
    let kind = match outcome {
        Ok(Appended::Stored(event)) => event_kind(event),
        Ok(Appended::Duplicate(_)) => "duplicate",
        Ok(Appended::Unchanged) => "unchanged",
        Ok(Appended::Refused(_)) => "refused",
        Err(_) => "failed",
    };
    metrics::counter!("chat_appends_total", "outcome" => kind).increment(1);
}

fn event_kind(event: &Event) -> &'static str {
    match event {
        Event::Posted(_) => "message",
        Event::Edited(_) => "edit",
        Event::Deleted(_) => "deletion",
        Event::Reacted(_) => "reaction",
        Event::Moderated(_) => "moderation",
    }
}

/// A post reached its room here `lag_ms` after it was stored (by the
/// log's clock: on Redis, Redis's).
pub(crate) fn post_lag(lag_ms: i64) {
    metrics::histogram!("chat_fanout_lag_seconds").record(lag_ms.max(0) as f64 / 1000.0);
}

/// Frames of stored events handed to connections.
pub(crate) fn delivered(count: usize) {
    metrics::counter!("chat_deliveries_total").increment(count as u64);
}

/// A refusal sent to a client.
pub(crate) fn refused(code: ErrorCode) {
    metrics::counter!("chat_refusals_total", "code" => code.as_str()).increment(1);
}

/// Redis failed a read or a write of the logs.
pub(crate) fn redis_error() {
    metrics::counter!("chat_redis_errors_total").increment(1);
}

/// The logs in Redis are read again after a failure.
pub(crate) fn redis_reconnected() {
    metrics::counter!("chat_redis_reconnects_total").increment(1);
}
