//! `sockeye bench echo`: round trips against an echo server.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use sockeye::{CloseCode, Message, WebSocket};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;

use super::procfs::{self, CpuSample, Process};
use super::{
    CLOSE_LIMIT, Common, Compression, Counter, Dial, Progress, Tally, as_f64, check_echo, grouped,
    human_bytes, parse_secs, parse_size, payload, raise_open_files_limit, spawn_worker,
    wait_until_open,
};
use crate::describe;

/// Options of `sockeye bench echo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    common: Common,
    /// Connections to open.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 100)]
    connections: usize,
    /// Message size in bytes; k and m suffixes are powers of 1024 (64k, 1MiB).
    #[arg(short = 's', long, value_name = "BYTES", default_value = "16", value_parser = parse_size)]
    size: usize,
    /// Messages outstanding per connection: this many are sent at once,
    /// then one more for each echo.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    in_flight: u32,
    /// Send binary messages instead of text.
    #[arg(long)]
    binary: bool,
    /// Seconds measured, after the warm-up.
    #[arg(short = 'd', long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    duration: Duration,
    /// Seconds of load before measuring starts.
    #[arg(short = 'w', long, value_name = "SECS", default_value = "2", value_parser = parse_secs)]
    warmup: Duration,
    #[command(flatten)]
    compression: Compression,
}

/// How long after the end of the measured window the last echoes may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Latencies are recorded in nanoseconds, up to a minute, to three
/// significant digits (about 200 KiB per worker).
const LATENCY_MAX_NS: u64 = 60_000_000_000;

/// CPU use, in percent of the cores a side may use, from which a side
/// counts as saturated.
const SATURATED: f64 = 90.0;

/// CPU use by other processes, in percent of one core, from which a run
/// is called disturbed.
const OTHER_LOAD: f64 = 10.0;

/// When the load starts, measuring starts and sending stops.
#[derive(Clone, Copy, Debug)]
struct Phases {
    measure_from: Instant,
    stop_at: Instant,
}

/// What every connection sends and how.
#[derive(Debug)]
struct Plan {
    message: Message,
    in_flight: usize,
}

/// One worker's share of the results, shared by its connection tasks.
#[derive(Debug)]
struct Local {
    /// Round-trip times of echoes received in the measured window, in ns.
    latency: RefCell<Histogram<u64>>,
    /// Echoes received in the measured window.
    measured: Cell<u64>,
    /// Every echo received, for the progress line.
    received: Arc<Counter>,
}

/// What a worker hands back at the end.
#[derive(Debug)]
struct WorkerReport {
    latency: Histogram<u64>,
    measured: u64,
}

fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_MAX_NS, 3)
        .unwrap_or_else(|e| unreachable!("the bounds are constants and valid: {e}"))
}

pub(crate) async fn run(args: Args) -> ExitCode {
    let common = &args.common;
    let server = match common.server() {
        Ok(server) => server,
        Err(code) => return code,
    };
    if args.connections == 0 {
        eprintln!("sockeye: --connections must be at least 1");
        return ExitCode::from(super::EXIT_USAGE);
    }
    raise_open_files_limit(args.connections);
    let plan = Arc::new(Plan {
        message: payload(args.size, args.binary),
        in_flight: usize::try_from(args.in_flight).unwrap_or(usize::MAX),
    });
    let tally = Arc::new(Tally::default());
    let (phases_tx, phases_rx) = watch::channel(None::<Phases>);
    let (workers, counters) = match start_workers(&args, &plan, &tally, &phases_rx) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("sockeye: cannot start a worker thread: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };

    let mut progress = Progress::new();
    wait_until_open(&tally, args.connections, &mut progress).await;
    if tally.opened.load(Ordering::Relaxed) == 0 {
        progress.finish();
        eprintln!(
            "sockeye: no connection to {} could be opened: {}",
            common.url,
            tally.first_error().unwrap_or_default()
        );
        return ExitCode::FAILURE;
    }

    let start = Instant::now();
    let phases = Phases {
        measure_from: start + args.warmup,
        stop_at: start + args.warmup + args.duration,
    };
    let _ = phases_tx.send(Some(phases));
    let window = measure(phases, &counters, &tally, server, &mut progress).await;
    progress.show("draining and closing");

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
    progress.finish();

    let cpu = |from: Option<CpuSample>, to: Option<CpuSample>| Some(from?.percent_until(to?));
    let bench_cores = Process::This
        .allowed_cpus()
        .unwrap_or(1)
        .min(usize::from(common.threads));
    let own = Side {
        cpu: cpu(window.own.0, window.own.1),
        cores: bench_cores,
    };
    let server_side = server.map(|s| Side {
        cpu: cpu(window.server.0, window.server.1),
        cores: s.allowed_cpus().unwrap_or(1),
    });
    // What neither side used: builds, tests, anything else sharing the
    // machine. Only known when the server's share is.
    let other = cpu(window.machine.0, window.machine.1).and_then(|machine| {
        let server = server_side?.cpu?;
        Some((machine - own.cpu? - server).max(0.0))
    });
    let server_rss = server.and_then(|s| s.rss_bytes().ok());
    let report = Report {
        args: &args,
        opened: tally.opened.load(Ordering::Relaxed),
        deflated: tally.deflated.load(Ordering::Relaxed),
        errors: tally.errors(),
        measured,
        latency: &latency,
        own,
        server: server_side,
        other,
        server_rss,
    };
    report.print();
    tally.report_errors()
}

/// A worker's report to come.
type Pending = oneshot::Receiver<WorkerReport>;

/// Starts the workers, each with its share of the connections. Returns
/// their results to come and their echo counters.
fn start_workers(
    args: &Args,
    plan: &Arc<Plan>,
    tally: &Arc<Tally>,
    phases: &watch::Receiver<Option<Phases>>,
) -> std::io::Result<(Vec<Pending>, Vec<Arc<Counter>>)> {
    let common = &args.common;
    let mut counters = Vec::new();
    let mut workers = Vec::new();
    for index in 0..usize::from(common.threads) {
        let count = common.share(args.connections, index);
        let open_at_once = common.open_concurrency_per_worker();
        let dial = common.dial(args.compression, args.size);
        let counter = Arc::new(Counter::default());
        counters.push(Arc::clone(&counter));
        let (plan, tally, phases) = (Arc::clone(plan), Arc::clone(tally), phases.clone());
        workers.push(spawn_worker(index, move || {
            worker(count, open_at_once, dial, plan, phases, tally, counter)
        })?);
    }
    Ok((workers, counters))
}

/// CPU samples of both sides at the start and the end of the measured
/// window.
#[derive(Debug)]
struct Window {
    own: (Option<CpuSample>, Option<CpuSample>),
    server: (Option<CpuSample>, Option<CpuSample>),
    machine: (Option<CpuSample>, Option<CpuSample>),
}

/// Waits through the warm-up and the measured window, showing the echo
/// rate each second, and samples the CPU time of both sides at the
/// window's edges.
async fn measure(
    phases: Phases,
    counters: &[Arc<Counter>],
    tally: &Tally,
    server: Option<Process>,
    progress: &mut Progress,
) -> Window {
    let mut last = (Instant::now(), 0);
    let mut show = |progress: &mut Progress, what: &str| {
        let now = Instant::now();
        let total = counters.iter().map(|c| c.get()).sum::<u64>();
        let rate = as_f64(total - last.1) / now.duration_since(last.0).as_secs_f64();
        last = (now, total);
        let mut line = format!("{what}: {} msg/s", grouped(rate_u64(rate)));
        let failed = tally.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let _ = write!(line, ", {failed} connection(s) failed");
        }
        progress.show(&line);
    };
    let sample = || {
        (
            Process::This.cpu_sample().ok(),
            server.and_then(|s| s.cpu_sample().ok()),
            procfs::machine_cpu_sample().ok(),
        )
    };
    tick_until(phases.measure_from, || show(progress, "warm-up")).await;
    let (own_from, server_from, machine_from) = sample();
    tick_until(phases.stop_at, || show(progress, "measuring")).await;
    let (own_to, server_to, machine_to) = sample();
    Window {
        own: (own_from, own_to),
        server: (server_from, server_to),
        machine: (machine_from, machine_to),
    }
}

/// Calls `tick` once a second until `deadline`, then returns at it.
async fn tick_until(deadline: Instant, mut tick: impl FnMut()) {
    const EVERY: Duration = Duration::from_secs(1);
    loop {
        let next = Instant::now() + EVERY;
        if next >= deadline {
            tokio::time::sleep_until(deadline.into()).await;
            return;
        }
        tokio::time::sleep_until(next.into()).await;
        tick();
    }
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "a rate, rounded and clamped to what u64 holds"
)]
fn rate_u64(rate: f64) -> u64 {
    rate.round().max(0.0) as u64
}

/// A worker: opens its connections and runs them to the end.
async fn worker(
    count: usize,
    open_at_once: usize,
    dial: Dial,
    plan: Arc<Plan>,
    phases: watch::Receiver<Option<Phases>>,
    tally: Arc<Tally>,
    received: Arc<Counter>,
) -> WorkerReport {
    let local = Rc::new(Local {
        latency: RefCell::new(new_histogram()),
        measured: Cell::new(0),
        received,
    });
    let gate = Rc::new(Semaphore::new(open_at_once));
    let dial = Rc::new(dial);
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let (dial, gate) = (Rc::clone(&dial), Rc::clone(&gate));
        let (plan, phases, tally, local) = (
            Arc::clone(&plan),
            phases.clone(),
            Arc::clone(&tally),
            Rc::clone(&local),
        );
        tasks.spawn_local(async move {
            let opened = {
                let _permit = gate.acquire().await;
                dial.builder().connect().await
            };
            let mut ws = match opened {
                Ok((ws, _)) => ws,
                Err(e) => {
                    tally.open_failed(format!("cannot connect: {}", describe(&e)));
                    return;
                }
            };
            tally.opened(ws.deflate().is_some());
            connection(&mut ws, &plan, phases, &tally, &local).await;
        });
    }
    while tasks.join_next().await.is_some() {}
    let latency = local.latency.replace(new_histogram());
    WorkerReport {
        latency,
        measured: local.measured.get(),
    }
}

/// Runs one open connection: waits for the start, runs the round trips
/// until the end, and closes.
async fn connection(
    ws: &mut WebSocket<TcpStream>,
    plan: &Plan,
    mut phases: watch::Receiver<Option<Phases>>,
    tally: &Tally,
    local: &Local,
) {
    let phases = match phases.wait_for(Option::is_some).await {
        Ok(phases) => *phases,
        // The run was given up before it started.
        Err(_) => return,
    };
    let Some(phases) = phases else { return };
    let deadline = phases.stop_at + DRAIN_LIMIT;
    match tokio::time::timeout_at(deadline.into(), round_trips(ws, plan, phases, local)).await {
        Ok(Ok(())) => {
            if let Ok(Err(e)) =
                tokio::time::timeout(CLOSE_LIMIT, ws.close(CloseCode::NORMAL, "")).await
            {
                tracing::debug!(error = %describe(&e), "closing handshake failed");
            }
        }
        Ok(Err(why)) => tally.failed(why),
        Err(_) => tally.failed(format!(
            "echoes still missing {} s after the end",
            DRAIN_LIMIT.as_secs()
        )),
    }
}

/// Keeps `in_flight` messages outstanding until `stop_at`, then waits for
/// the last echoes.
///
/// Messages are queued with `feed` and not flushed one by one: reading the
/// next echo writes everything queued first, so the messages queued for the
/// echoes of one read leave in one write.
async fn round_trips(
    ws: &mut WebSocket<TcpStream>,
    plan: &Plan,
    phases: Phases,
    local: &Local,
) -> Result<(), String> {
    let failed = |e: sockeye::Error| format!("connection failed: {}", describe(&e));
    // When each outstanding message was queued, oldest first: the server
    // echoes in order, so the front is the one the next echo answers.
    let mut queued_at = VecDeque::with_capacity(plan.in_flight);
    let now = Instant::now();
    for _ in 0..plan.in_flight {
        queued_at.push_back(now);
        ws.feed(plan.message.clone()).await.map_err(failed)?;
    }
    ws.flush().await.map_err(failed)?;
    while let Some(sent) = queued_at.pop_front() {
        let echo = match ws.next().await {
            Some(Ok(echo)) => echo,
            Some(Err(e)) => return Err(failed(e)),
            None => return Err("the server closed the connection during the run".to_owned()),
        };
        let now = Instant::now();
        check_echo(&plan.message, &echo)?;
        local.received.add(1);
        if now < phases.stop_at {
            if now >= phases.measure_from {
                local.measured.set(local.measured.get() + 1);
                let nanos = u64::try_from(now.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
                local.latency.borrow_mut().saturating_record(nanos.max(1));
            }
            queued_at.push_back(now);
            ws.feed(plan.message.clone()).await.map_err(failed)?;
        }
    }
    Ok(())
}

/// One side's CPU use over the measured window.
#[derive(Clone, Copy, Debug)]
struct Side {
    /// Percent of one core; `None` if /proc could not be read.
    cpu: Option<f64>,
    /// Cores it may use (its threads, its CPU affinity).
    cores: usize,
}

impl Side {
    fn saturated(self) -> Option<bool> {
        let cores = as_f64(u64::try_from(self.cores).unwrap_or(1));
        self.cpu.map(|cpu| cpu >= SATURATED * cores)
    }
}

/// Which side limited the run, judged from CPU use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Bottleneck {
    /// The bench is near its cores' limit and the server is not.
    Bench,
    /// The server is near its cores' limit and the bench is not.
    Server,
    /// Both are near their limits: the server might go faster with a
    /// faster bench.
    Both,
    /// Neither side is busy: round trips are waiting on latency.
    Neither,
    /// Neither side is busy, but other processes took CPU from them.
    Disturbed,
    /// The server's CPU is unknown (no `--server-pid`).
    Unknown,
}

impl Bottleneck {
    fn judge(own: Side, server: Option<Side>) -> Self {
        let own_busy = own.saturated() == Some(true);
        match server.and_then(Side::saturated) {
            Some(true) if own_busy => Bottleneck::Both,
            Some(true) => Bottleneck::Server,
            _ if own_busy => Bottleneck::Bench,
            Some(false) => Bottleneck::Neither,
            None => Bottleneck::Unknown,
        }
    }

    fn name(self) -> &'static str {
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

/// Everything the summary and the JSON line say.
#[derive(Debug)]
struct Report<'a> {
    args: &'a Args,
    opened: usize,
    deflated: usize,
    errors: usize,
    measured: u64,
    latency: &'a Histogram<u64>,
    own: Side,
    server: Option<Side>,
    /// CPU used by other processes during the window, in percent of a core.
    other: Option<f64>,
    server_rss: Option<u64>,
}

impl Report<'_> {
    fn print(&self) {
        let args = self.args;
        let seconds = args.duration.as_secs_f64();
        let (msg_per_s, mb_per_s) = if seconds > 0.0 {
            let msgs = as_f64(self.measured) / seconds;
            let size = as_f64(u64::try_from(args.size).unwrap_or(u64::MAX));
            (msgs, msgs * size / 1e6)
        } else {
            (0.0, 0.0)
        };
        let percentile = |q: f64| self.latency.value_at_quantile(q);
        let (p50, p99, p999, max) = (
            percentile(0.5),
            percentile(0.99),
            percentile(0.999),
            self.latency.max(),
        );
        let bottleneck = match Bottleneck::judge(self.own, self.server) {
            Bottleneck::Neither if self.disturbed().is_some() => Bottleneck::Disturbed,
            judged => judged,
        };

        print!(
            "{}",
            self.summary(msg_per_s, mb_per_s, [p50, p99, p999, max], bottleneck)
        );
        let round = |x: f64| (x * 10.0).round() / 10.0;
        let json = serde_json::json!({
            "scenario": "echo",
            "url": args.common.url,
            "connections": args.connections,
            "opened": self.opened,
            "size": args.size,
            "in_flight": args.in_flight,
            "binary": args.binary,
            "deflate": args.compression.deflate,
            "no_context_takeover": args.compression.no_context_takeover,
            "deflate_negotiated": self.deflated,
            "threads": args.common.threads,
            "warmup_s": args.warmup.as_secs_f64(),
            "duration_s": seconds,
            "messages": self.measured,
            "msg_per_s": round(msg_per_s),
            "mb_per_s": (mb_per_s * 1000.0).round() / 1000.0,
            "latency_us": {
                "p50": round(as_f64(p50) / 1e3),
                "p99": round(as_f64(p99) / 1e3),
                "p999": round(as_f64(p999) / 1e3),
                "max": round(as_f64(max) / 1e3),
                "mean": round(self.latency.mean() / 1e3),
            },
            "cpu": {
                "bench": self.own.cpu.map(round),
                "bench_cores": self.own.cores,
                "server": self.server.and_then(|s| s.cpu).map(round),
                "server_cores": self.server.map(|s| s.cores),
                "other": self.other.map(round),
                "bench_ns_per_msg": self
                    .own
                    .cpu
                    .and_then(|c| per_message(c, msg_per_s))
                    .map(round),
                "server_ns_per_msg": self
                    .server
                    .and_then(|s| per_message(s.cpu?, msg_per_s))
                    .map(round),
            },
            "server_rss": self.server_rss,
            "bottleneck": bottleneck.name(),
            "errors": self.errors,
        });
        println!("{json}");
    }

    /// The human-readable lines.
    fn summary(
        &self,
        msg_per_s: f64,
        mb_per_s: f64,
        [p50, p99, p999, max]: [u64; 4],
        bottleneck: Bottleneck,
    ) -> String {
        let args = self.args;
        let seconds = args.duration.as_secs_f64();
        let kind = if args.binary { "binary" } else { "text" };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "echo: {} connections x {} B {kind}, {} in flight each, {seconds:.1} s measured \
             after {:.1} s warm-up, {} thread(s), {}",
            args.connections,
            args.size,
            args.in_flight,
            args.warmup.as_secs_f64(),
            args.common.threads,
            args.common.url,
        );
        if let Some(deflate) = args.compression.describe() {
            let _ = writeln!(
                out,
                "  deflate     {deflate}, negotiated on {} of {} connections",
                self.deflated, self.opened
            );
        }
        let _ = writeln!(
            out,
            "  throughput  {} msg/s, {mb_per_s:.2} MB/s of payload each way ({} echoes)",
            grouped(rate_u64(msg_per_s)),
            grouped(self.measured)
        );
        let _ = writeln!(
            out,
            "  latency     p50 {}  p99 {}  p99.9 {}  max {}",
            micros(p50),
            micros(p99),
            micros(p999),
            micros(max)
        );
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
        let per_message = |side: Option<Side>| per_message(side?.cpu?, msg_per_s);
        if let Some(server) = per_message(self.server) {
            let _ = writeln!(
                out,
                "  cpu/msg     server {server:.0} ns, bench {:.0} ns per echo",
                per_message(Some(self.own)).unwrap_or(0.0)
            );
        }
        if let Some(rss) = self.server_rss {
            let _ = writeln!(out, "  server rss  {}", human_bytes(as_f64(rss)));
        }
        if let Some(note) = self.note(bottleneck) {
            let _ = writeln!(out, "  note        {note}");
        }
        if let Some(other) = self.disturbed() {
            let _ = writeln!(
                out,
                "  warning     other processes used {other:.0}% of a core during the \
                 measurement: the figures are disturbed; measure on a quiet machine"
            );
        }
        if self.errors > 0 {
            let _ = writeln!(
                out,
                "  errors      {} connection(s) failed: the figures are not valid",
                self.errors
            );
        }
        out
    }

    /// The CPU other processes used, if enough to disturb the figures.
    fn disturbed(&self) -> Option<f64> {
        self.other.filter(|&other| other >= OTHER_LOAD)
    }

    fn note(&self, bottleneck: Bottleneck) -> Option<String> {
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
            Bottleneck::Neither => Some(
                "neither side is CPU-bound: round trips wait on latency; more --in-flight or \
                 --connections would load the server more"
                    .to_owned(),
            ),
            Bottleneck::Disturbed | Bottleneck::Unknown => None,
        }
    }
}

/// Nanoseconds of CPU per echo, from a CPU use in percent of a core: a
/// figure that other load on the machine disturbs less than msg/s.
fn per_message(cpu: f64, msg_per_s: f64) -> Option<f64> {
    (msg_per_s > 0.0).then(|| cpu / 100.0 / msg_per_s * 1e9)
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

    #[test]
    fn a_busy_bench_and_an_idle_server_make_the_bench_the_bottleneck() {
        let judged = Bottleneck::judge(side(99.0, 1), Some(side(60.0, 1)));
        assert_eq!(judged, Bottleneck::Bench);
    }

    #[test]
    fn a_busy_server_is_the_bottleneck_unless_the_bench_is_busy_too() {
        assert_eq!(
            Bottleneck::judge(side(99.0, 1), Some(side(97.0, 1))),
            Bottleneck::Both
        );
        assert_eq!(
            Bottleneck::judge(side(20.0, 1), Some(side(185.0, 2))),
            Bottleneck::Server
        );
    }

    #[test]
    fn busy_is_relative_to_the_cores_a_side_has() {
        assert_eq!(
            Bottleneck::judge(side(99.0, 2), Some(side(50.0, 1))),
            Bottleneck::Neither
        );
        assert_eq!(Bottleneck::judge(side(50.0, 1), None), Bottleneck::Unknown);
        assert_eq!(Bottleneck::judge(side(95.0, 1), None), Bottleneck::Bench);
    }

    #[test]
    fn latencies_print_in_micro_or_milliseconds() {
        assert_eq!(micros(12_345), "12.3 us");
        assert_eq!(micros(12_345_678), "12.3 ms");
    }
}
