//! What the `echo` and `fanout` scenarios measure and report alike: the
//! phases of a run, latencies, the CPU both sides use over the measured
//! window, and which side limited the run.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::oneshot;

use super::procfs::{self, CpuSample, Process};
use super::{Counter, Tally, as_f64, human_bytes};

/// Latencies are recorded in nanoseconds, up to a minute, to three
/// significant digits (about 200 KiB per worker).
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// CPU use, in percent of the cores a side may use, from which a side
/// counts as saturated.
const SATURATED: f64 = 90.0;

/// CPU use by other processes, in percent of one core, from which a run
/// is called disturbed.
const OTHER_LOAD: f64 = 10.0;

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3)
        .unwrap_or_else(|e| unreachable!("the bounds are constants and valid: {e}"))
}

/// When the load starts, measuring starts and sending stops.
#[derive(Clone, Copy, Debug)]
pub(super) struct Phases {
    pub(super) start: Instant,
    pub(super) measure_from: Instant,
    pub(super) stop_at: Instant,
}

impl Phases {
    /// The phases of a run that starts now.
    pub(super) fn starting_now(warmup: Duration, duration: Duration) -> Self {
        let start = Instant::now();
        Phases {
            start,
            measure_from: start + warmup,
            stop_at: start + warmup + duration,
        }
    }

    /// Whether `at` is in the measured window.
    pub(super) fn measures(&self, at: Instant) -> bool {
        self.measure_from <= at && at < self.stop_at
    }
}

/// One worker's share of the results, shared by its connection tasks.
#[derive(Debug)]
pub(super) struct Local {
    /// Latencies of the messages that arrived in the measured window, in ns.
    latency: RefCell<Histogram<u64>>,
    /// Messages that arrived in the measured window.
    measured: Cell<u64>,
    /// Every message that arrived, for the progress line.
    arrived: Arc<Counter>,
    /// Arrivals not yet added to `arrived`.
    unpublished: Cell<u64>,
}

/// Arrivals counted here before they are added to the shared counter:
/// one atomic addition per this many messages rather than per message,
/// which the progress line, read once a second, does not notice.
const PUBLISH_EVERY: u64 = 64;

impl Local {
    pub(super) fn new(arrived: Arc<Counter>) -> Self {
        Local {
            latency: RefCell::new(new_histogram()),
            measured: Cell::new(0),
            arrived,
            unpublished: Cell::new(0),
        }
    }

    /// Counts a message that arrived (measured or not), at once.
    pub(super) fn arrived(&self) {
        self.arrived.add(1);
    }

    /// Counts a message that arrived (measured or not), for the progress
    /// line only: the shared counter sees it within `PUBLISH_EVERY`
    /// arrivals, or at [`report`](Self::report).
    pub(super) fn arrived_lazily(&self) {
        let unpublished = self.unpublished.get() + 1;
        if unpublished == PUBLISH_EVERY {
            self.arrived.add(unpublished);
            self.unpublished.set(0);
        } else {
            self.unpublished.set(unpublished);
        }
    }

    /// Counts a message that arrived in the measured window `nanos` after
    /// it was sent.
    pub(super) fn record(&self, nanos: u64) {
        self.measured.set(self.measured.get() + 1);
        self.latency.borrow_mut().saturating_record(nanos.max(1));
    }

    /// What the worker hands back at the end.
    pub(super) fn report(&self) -> WorkerReport {
        self.arrived.add(self.unpublished.replace(0));
        let latency = self.latency.replace(new_histogram());
        WorkerReport {
            latency,
            measured: self.measured.get(),
        }
    }
}

/// What a worker hands back at the end.
#[derive(Debug)]
pub(super) struct WorkerReport {
    latency: Histogram<u64>,
    measured: u64,
}

impl WorkerReport {
    /// Adds what another part of the same worker measured.
    pub(super) fn merge(&mut self, other: &WorkerReport) {
        self.measured += other.measured;
        // Same bounds everywhere, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }
}

/// A worker's report to come.
pub(super) type Pending = oneshot::Receiver<WorkerReport>;

/// Waits for every worker; returns their latencies merged and the messages
/// that arrived in the measured window.
pub(super) async fn join_workers(workers: Vec<Pending>, tally: &Tally) -> (Histogram<u64>, u64) {
    let mut latency = new_histogram();
    let mut measured = 0;
    for rx in workers {
        match rx.await {
            Ok(report) => {
                measured += report.measured;
                // Same bounds everywhere, so adding cannot fail.
                let _ = latency.add(&report.latency);
            }
            Err(_) => tally.failed("a worker thread stopped".to_owned()),
        }
    }
    (latency, measured)
}

/// p50, p99, p99.9 and the maximum, in nanoseconds.
pub(super) fn percentiles(latency: &Histogram<u64>) -> [u64; 4] {
    let percentile = |q: f64| latency.value_at_quantile(q);
    [
        percentile(0.5),
        percentile(0.99),
        percentile(0.999),
        latency.max(),
    ]
}

/// `x` rounded to a tenth, for the JSON line.
pub(super) fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The JSON line's `latency_us`.
pub(super) fn latency_json(latency: &Histogram<u64>) -> serde_json::Value {
    let [p50, p99, p999, max] = percentiles(latency);
    let micros = |nanos: u64| tenths(as_f64(nanos) / 1e3);
    serde_json::json!({
        "p50": micros(p50),
        "p99": micros(p99),
        "p999": micros(p999),
        "max": micros(max),
        "mean": tenths(latency.mean() / 1e3),
    })
}

/// The summary's latency line, `what` after the figures.
pub(super) fn write_latency(out: &mut String, [p50, p99, p999, max]: [u64; 4], what: &str) {
    let _ = writeln!(
        out,
        "  latency     p50 {}  p99 {}  p99.9 {}  max {}{what}",
        micros(p50),
        micros(p99),
        micros(p999),
        micros(max)
    );
}

/// The summary's line on connections that failed, if any did.
pub(super) fn write_errors(out: &mut String, errors: usize) {
    if errors > 0 {
        let _ = writeln!(
            out,
            "  errors      {errors} connection(s) failed: the figures are not valid"
        );
    }
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a rate, rounded and clamped to what u64 holds"
)]
pub(super) fn rate_u64(rate: f64) -> u64 {
    rate.round().max(0.0) as u64
}

/// CPU samples of both sides and the machine at the start and the end of
/// the measured window.
#[derive(Debug, Default)]
pub(super) struct Window {
    pub(super) own: (Option<CpuSample>, Option<CpuSample>),
    pub(super) server: (Option<CpuSample>, Option<CpuSample>),
    pub(super) machine: (Option<CpuSample>, Option<CpuSample>),
}

impl Window {
    /// Samples the start (or the end) of the window.
    pub(super) fn sample(
        server: Option<Process>,
    ) -> (Option<CpuSample>, Option<CpuSample>, Option<CpuSample>) {
        (
            Process::This.cpu_sample().ok(),
            server.and_then(|s| s.cpu_sample().ok()),
            procfs::machine_cpu_sample().ok(),
        )
    }

    /// The CPU use of each side over the window, and the server's memory
    /// now.
    pub(super) fn cpu(&self, server: Option<Process>, threads: u16) -> Cpu {
        let cpu =
            |(from, to): (Option<CpuSample>, Option<CpuSample>)| Some(from?.percent_until(to?));
        let own = Side {
            cpu: cpu(self.own),
            cores: Process::This
                .allowed_cpus()
                .unwrap_or(1)
                .min(usize::from(threads)),
        };
        let server_side = server.map(|s| Side {
            cpu: cpu(self.server),
            cores: s.allowed_cpus().unwrap_or(1),
        });
        // What neither side used: builds, tests, anything else sharing the
        // machine. Only known when the server's share is.
        let other = cpu(self.machine)
            .and_then(|machine| Some((machine - own.cpu? - server_side?.cpu?).max(0.0)));
        Cpu {
            own,
            server: server_side,
            other,
            server_rss: server.and_then(|s| s.rss_bytes().ok()),
        }
    }
}

/// One side's CPU use over the measured window.
#[derive(Clone, Copy, Debug)]
pub(super) struct Side {
    /// Percent of one core; `None` if /proc could not be read.
    pub(super) cpu: Option<f64>,
    /// Cores it may use (its threads, its CPU affinity).
    pub(super) cores: usize,
}

impl Side {
    fn saturated(self) -> Option<bool> {
        let cores = as_f64(u64::try_from(self.cores).unwrap_or(1));
        self.cpu.map(|cpu| cpu >= SATURATED * cores)
    }
}

/// The CPU figures of a run.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cpu {
    pub(super) own: Side,
    pub(super) server: Option<Side>,
    /// CPU used by other processes during the window, in percent of a core.
    pub(super) other: Option<f64>,
    pub(super) server_rss: Option<u64>,
}

impl Cpu {
    /// The JSON line's `cpu`, with the nanoseconds of CPU each side spent
    /// per `unit` (`bench_ns_per_{unit}`), at `per_second` of them.
    pub(super) fn json(&self, per_second: f64, unit: &str) -> serde_json::Value {
        let ns_per = |side: Option<Side>| ns_per(side?.cpu?, per_second);
        serde_json::json!({
            "bench": self.own.cpu.map(tenths),
            "bench_cores": self.own.cores,
            "server": self.server.and_then(|s| s.cpu).map(tenths),
            "server_cores": self.server.map(|s| s.cores),
            "other": self.other.map(tenths),
            format!("bench_ns_per_{unit}"): ns_per(Some(self.own)).map(tenths),
            format!("server_ns_per_{unit}"): ns_per(self.server).map(tenths),
        })
    }

    /// The summary's lines on CPU and memory, with the nanoseconds of CPU
    /// each side spent per `unit`, at `per_second` of them.
    pub(super) fn write_lines(&self, out: &mut String, per_second: f64, unit: &str) {
        let _ = write!(
            out,
            "  cpu         bench {}, server {}",
            cpu_text(Some(self.own)),
            cpu_text(self.server)
        );
        if let Some(other) = self.other {
            let _ = write!(out, ", other processes {other:.0}%");
        }
        out.push('\n');
        let ns_per = |side: Option<Side>| ns_per(side?.cpu?, per_second);
        if let Some(server) = ns_per(self.server) {
            let _ = writeln!(
                out,
                "  cpu/msg     server {server:.0} ns, bench {:.0} ns per {unit}",
                ns_per(Some(self.own)).unwrap_or(0.0)
            );
        }
        if let Some(rss) = self.server_rss {
            let _ = writeln!(out, "  server rss  {}", human_bytes(as_f64(rss)));
        }
    }

    /// The summary's note on the bottleneck and warning on other load, with
    /// `neither` as the note when neither side is busy.
    pub(super) fn write_verdict(&self, out: &mut String, bottleneck: Bottleneck, neither: &str) {
        if let Some(note) = self.note(bottleneck, neither) {
            let _ = writeln!(out, "  note        {note}");
        }
        if let Some(other) = self.disturbed() {
            let _ = writeln!(
                out,
                "  warning     other processes used {other:.0}% of a core during the \
                 measurement: the figures are disturbed; measure on a quiet machine"
            );
        }
    }

    /// The CPU other processes used, if enough to disturb the figures.
    fn disturbed(&self) -> Option<f64> {
        self.other.filter(|&other| other >= OTHER_LOAD)
    }

    fn note(&self, bottleneck: Bottleneck, neither: &str) -> Option<String> {
        let own = cpu_text(Some(self.own));
        let server = cpu_text(self.server);
        match bottleneck {
            Bottleneck::Bench => Some(format!(
                "the load generator is likely the bottleneck: it used {own} while the server \
                 used {server}; give it more --threads or a core of its own"
            )),
            Bottleneck::Server => Some(format!("the server is CPU-bound: {server}")),
            Bottleneck::Both => Some(format!(
                "both sides are CPU-bound (bench {own}, server {server}): the load generator \
                 may be holding the server back; give it more --threads or a core of its own"
            )),
            Bottleneck::Neither => Some(neither.to_owned()),
            Bottleneck::Disturbed | Bottleneck::Unknown => None,
        }
    }
}

/// Which side limited the run, judged from CPU use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bottleneck {
    /// The bench is near its cores' limit and the server is not.
    Bench,
    /// The server is near its cores' limit and the bench is not.
    Server,
    /// Both are near their limits: the server might go faster with a
    /// faster bench.
    Both,
    /// Neither side is busy: the load waits on latency.
    Neither,
    /// Neither side is busy, but other processes took CPU from them.
    Disturbed,
    /// The server's CPU is unknown (no `--server-pid`).
    Unknown,
}

impl Bottleneck {
    pub(super) fn judge(cpu: &Cpu) -> Self {
        let own_busy = cpu.own.saturated() == Some(true);
        match cpu.server.and_then(Side::saturated) {
            Some(true) if own_busy => Bottleneck::Both,
            Some(true) => Bottleneck::Server,
            _ if own_busy => Bottleneck::Bench,
            Some(false) if cpu.disturbed().is_some() => Bottleneck::Disturbed,
            Some(false) => Bottleneck::Neither,
            None => Bottleneck::Unknown,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Bottleneck::Bench => "bench",
            Bottleneck::Server => "server",
            Bottleneck::Both => "both",
            Bottleneck::Neither => "neither",
            Bottleneck::Disturbed => "disturbed",
            Bottleneck::Unknown => "unknown",
        }
    }
}

/// Nanoseconds of CPU per message, from a CPU use in percent of a core and
/// `per_second` messages: a figure that other load on the machine disturbs
/// less than the rate.
fn ns_per(cpu: f64, per_second: f64) -> Option<f64> {
    (per_second > 0.0).then(|| cpu / 100.0 / per_second * 1e9)
}

/// CPU use as `42% of 1 core`, or `unknown`.
fn cpu_text(side: Option<Side>) -> String {
    match side {
        Some(Side {
            cpu: Some(cpu),
            cores,
        }) => format!(
            "{cpu:.0}% of {cores} core{}",
            if cores == 1 { "" } else { "s" }
        ),
        _ => "unknown".to_owned(),
    }
}

/// Nanoseconds as microseconds, or milliseconds when large.
fn micros(nanos: u64) -> String {
    let micros = as_f64(nanos) / 1e3;
    if micros >= 10_000.0 {
        format!("{:.1} ms", micros / 1e3)
    } else {
        format!("{micros:.1} us")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn side(cpu: f64, cores: usize) -> Side {
        Side {
            cpu: Some(cpu),
            cores,
        }
    }

    fn judge(own: Side, server: Option<Side>, other: Option<f64>) -> Bottleneck {
        Bottleneck::judge(&Cpu {
            own,
            server,
            other,
            server_rss: None,
        })
    }

    #[test]
    fn a_busy_bench_and_an_idle_server_make_the_bench_the_bottleneck() {
        let judged = judge(side(99.0, 1), Some(side(60.0, 1)), None);
        assert_eq!(judged, Bottleneck::Bench);
    }

    #[test]
    fn a_busy_server_is_the_bottleneck_unless_the_bench_is_busy_too() {
        assert_eq!(
            judge(side(99.0, 1), Some(side(97.0, 1)), None),
            Bottleneck::Both
        );
        assert_eq!(
            judge(side(20.0, 1), Some(side(185.0, 2)), None),
            Bottleneck::Server
        );
    }

    #[test]
    fn busy_is_relative_to_the_cores_a_side_has() {
        assert_eq!(
            judge(side(99.0, 2), Some(side(50.0, 1)), None),
            Bottleneck::Neither
        );
        assert_eq!(judge(side(50.0, 1), None, None), Bottleneck::Unknown);
        assert_eq!(judge(side(95.0, 1), None, None), Bottleneck::Bench);
    }

    #[test]
    fn other_load_disturbs_only_a_run_neither_side_limited() {
        assert_eq!(
            judge(side(50.0, 1), Some(side(50.0, 1)), Some(10.0)),
            Bottleneck::Disturbed
        );
        assert_eq!(
            judge(side(50.0, 1), Some(side(50.0, 1)), Some(9.9)),
            Bottleneck::Neither
        );
        assert_eq!(
            judge(side(50.0, 1), Some(side(95.0, 1)), Some(50.0)),
            Bottleneck::Server
        );
    }

    #[test]
    fn latencies_print_in_micro_or_milliseconds() {
        assert_eq!(micros(12_345), "12.3 us");
        assert_eq!(micros(12_345_678), "12.3 ms");
    }

    #[test]
    fn cpu_keys_name_the_unit() {
        let cpu = Cpu {
            own: side(50.0, 1),
            server: Some(side(25.0, 2)),
            other: Some(3.0),
            server_rss: Some(1 << 20),
        };
        let json = cpu.json(1000.0, "msg").to_string();
        assert_eq!(
            json,
            r#"{"bench":50.0,"bench_cores":1,"bench_ns_per_msg":500000.0,"other":3.0,"server":25.0,"server_cores":2,"server_ns_per_msg":250000.0}"#
        );
    }
}
