//! The hub's counters, and `/metrics` in Prometheus' text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters and gauges, shared by every part of the hub.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Socket.IO sockets connected now.
    pub(crate) connections: AtomicU64,
    /// Connections refused by auth.
    pub(crate) refused: AtomicU64,
    /// Events received from clients.
    pub(crate) packets_in: AtomicU64,
    /// Bytes of those events' arguments, as JSON.
    pub(crate) bytes_in: AtomicU64,
    /// Events the hub emitted (relayed publishes and API emits).
    pub(crate) packets_out: AtomicU64,
    /// Bytes of those events' arguments, as JSON.
    pub(crate) bytes_out: AtomicU64,
    /// SSE subscribers connected now.
    pub(crate) sse_subscribers: AtomicU64,
    /// Events written to SSE subscribers.
    pub(crate) sse_events: AtomicU64,
    /// SSE subscribers dropped for not reading.
    pub(crate) sse_dropped: AtomicU64,
    /// HTTP API calls answered.
    pub(crate) api_calls: AtomicU64,
    /// HTTP API calls refused (401, 400).
    pub(crate) api_errors: AtomicU64,
    /// Sockets disconnected at their token's expiry.
    pub(crate) expired: AtomicU64,
    /// Sockets that came back with their state (connection state
    /// recovery): recovery hits.
    pub(crate) recovered: AtomicU64,
    /// Sockets whose client asked to recover (its CONNECT named a
    /// session and an offset) but connected afresh: recovery misses (the
    /// session expired, was unknown, or its packets were gone).
    pub(crate) not_recovered: AtomicU64,
}

/// Adds one to `counter`.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// Adds `n` to `counter`.
pub(crate) fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// Takes one from the gauge `counter`.
pub(crate) fn drop_one(counter: &AtomicU64) {
    counter.fetch_sub(1, Ordering::Relaxed);
}

/// What the adapter adds: the number of rooms, and broker faults.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    /// Rooms held on this hub, over all namespaces.
    pub(crate) rooms: usize,
    /// `(name, help, value)` of the adapter's counters.
    pub(crate) broker: Vec<(&'static str, &'static str, u64)>,
    /// How the broker answered a `PING` timed at this scrape.
    pub(crate) reach: Reach,
}

/// The broker at a scrape.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) enum Reach {
    /// In memory: no broker.
    #[default]
    Alone,
    /// It did not answer within the command timeout.
    Unreachable,
    /// It answered after this long.
    RoundTrip(std::time::Duration),
}

/// One sample: name (after `sockeye_hub_`), type, help, value.
type Sample = (&'static str, &'static str, &'static str, String);

impl Metrics {
    /// The text `/metrics` answers.
    pub(crate) fn render(&self, extra: &Extra) -> String {
        let mut out = String::new();
        let samples = self
            .own_samples(extra.rooms)
            .into_iter()
            .chain(broker_samples(extra));
        for (name, kind, help, value) in samples {
            let _ = writeln!(out, "# HELP sockeye_hub_{name} {help}");
            let _ = writeln!(out, "# TYPE sockeye_hub_{name} {kind}");
            let _ = writeln!(out, "sockeye_hub_{name} {value}");
        }
        out
    }

    /// The hub's own counters and gauges.
    fn own_samples(&self, rooms: usize) -> Vec<Sample> {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed).to_string();
        vec![
            (
                "connections",
                "gauge",
                "Socket.IO sockets connected.",
                get(&self.connections),
            ),
            (
                "connections_refused_total",
                "counter",
                "Connections refused by auth.",
                get(&self.refused),
            ),
            (
                "rooms",
                "gauge",
                "Rooms held on this hub (sockets' own rooms left out).",
                rooms.to_string(),
            ),
            (
                "packets_in_total",
                "counter",
                "Events received from clients.",
                get(&self.packets_in),
            ),
            (
                "bytes_in_total",
                "counter",
                "Bytes of received events' arguments, as JSON.",
                get(&self.bytes_in),
            ),
            (
                "packets_out_total",
                "counter",
                "Events emitted by the hub.",
                get(&self.packets_out),
            ),
            (
                "bytes_out_total",
                "counter",
                "Bytes of emitted events' arguments, as JSON.",
                get(&self.bytes_out),
            ),
            (
                "sse_subscribers",
                "gauge",
                "Server-Sent Events subscribers connected.",
                get(&self.sse_subscribers),
            ),
            (
                "sse_events_total",
                "counter",
                "Events written to SSE subscribers.",
                get(&self.sse_events),
            ),
            (
                "sse_dropped_total",
                "counter",
                "SSE subscribers dropped for not reading.",
                get(&self.sse_dropped),
            ),
            (
                "api_calls_total",
                "counter",
                "HTTP API calls answered.",
                get(&self.api_calls),
            ),
            (
                "api_errors_total",
                "counter",
                "HTTP API calls refused.",
                get(&self.api_errors),
            ),
            (
                "expired_total",
                "counter",
                "Sockets disconnected at their token's expiry.",
                get(&self.expired),
            ),
            (
                "recovered_total",
                "counter",
                "Sockets that came back with their state (recovery hits).",
                get(&self.recovered),
            ),
            (
                "recovery_misses_total",
                "counter",
                "Sockets that asked to recover but connected afresh.",
                get(&self.not_recovered),
            ),
        ]
    }
}

/// The adapter's counters, and the broker's reach at this scrape.
fn broker_samples(extra: &Extra) -> Vec<Sample> {
    let mut samples: Vec<Sample> = extra
        .broker
        .iter()
        .map(|&(name, help, value)| (name, "counter", help, value.to_string()))
        .collect();
    let up = "1 when the broker answered a PING at this scrape, else 0.";
    match extra.reach {
        Reach::Alone => {}
        Reach::Unreachable => samples.push(("broker_up", "gauge", up, "0".to_owned())),
        Reach::RoundTrip(time) => {
            samples.push(("broker_up", "gauge", up, "1".to_owned()));
            samples.push((
                "broker_round_trip_seconds",
                "gauge",
                "A PING to the broker and back, at this scrape.",
                format!("{:.6}", time.as_secs_f64()),
            ));
        }
    }
    samples
}
