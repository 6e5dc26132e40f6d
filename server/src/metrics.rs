//! Prometheus metrics, on a listener of their own (`--metrics-bind`),
//! never on the public one: they tell anyone who reads them how busy each
//! part of the server is and when it fails, which is the operator's to
//! know (Prometheus scrapes a loopback or private address; the reverse
//! proxy does not pass it).
//!
//! The `metrics` crate's recorder is global: one per process, installed
//! the first time a server with `--metrics-bind` starts. Recording without
//! one costs a check and does nothing. A leaf: the layers record here;
//! `run` (lib.rs) serves what it renders.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use protocol::ErrorCode;

use crate::events::{Appended, Event};

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

/// The metrics so far in Prometheus's text format, with the gauges
/// `connections` and `rooms_in_memory` as read now; `None` when no
/// recorder could be installed.
pub(crate) fn render(connections: usize, rooms_in_memory: usize) -> Option<String> {
    let handle = recorder()?;
    metrics::describe_counter!(
        "chat_appends_total",
        "events offered to the logs, by outcome"
    );
    metrics::gauge!("chat_connections").set(connections as f64);
    metrics::gauge!("chat_rooms_in_memory").set(rooms_in_memory as f64);
    Some(handle.render())
}

/// Installs the process's recorder, if none is: recording starts.
pub(crate) fn install() -> bool {
    recorder().is_some()
}

/// An append's outcome (`None`: the log failed) and how long it took.
pub(crate) fn appended(outcome: Option<&Appended>, took: Duration) {
    metrics::histogram!("chat_storage_seconds").record(took.as_secs_f64());
    let kind = match outcome {
        Some(Appended::Stored(event)) => event_kind(event),
        Some(Appended::Duplicate(_)) => "duplicate",
        Some(Appended::Unchanged) => "unchanged",
        Some(Appended::Refused(_)) => "refused",
        None => "failed",
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
