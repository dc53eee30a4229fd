//! `sockeye bench echo`: round trips against an echo server.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use sockeye::{ClientStream, WebSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::echo_plan::{
    DRAIN_LIMIT, Plan, closed_during_the_run, connection_failed, echoes_missing, take_echo,
};
use super::echo_reactor::EchoReactor;
use super::procfs::Process;
use super::report::{
    self, Bottleneck, Cpu, Local, Pending, Phases, Window, join_workers, rate_u64, tenths,
};
use super::{
    Common, Compression, Counter, Dial, Progress, Tally, as_f64, check_opened, close, connect,
    grouped, parse_size, payload, raise_open_files_limit, spawn_worker, wait_until_open,
};
use crate::args::parse_seconds;
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
    #[arg(short = 'd', long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    duration: Duration,
    /// Seconds of load before measuring starts.
    #[arg(short = 'w', long, value_name = "SECS", default_value = "2", value_parser = parse_seconds)]
    warmup: Duration,
    #[command(flatten)]
    compression: Compression,
}

pub(crate) async fn run(args: Args) -> ExitCode {
    let common = &args.common;
    let server = match common.server() {
        Ok(server) => server,
        Err(code) => return code,
    };
    if args.connections == 0 {
        eprintln!("sockeye: --connections must be at least 1");
        return ExitCode::from(crate::EXIT_USAGE);
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
    if let Err(code) = check_opened(&tally, &common.url, &mut progress) {
        return code;
    }

    let phases = Phases::starting_now(args.warmup, args.duration);
    let _ = phases_tx.send(Some(phases));
    let window = measure(phases, &counters, &tally, server, &mut progress).await;
    progress.show("draining and closing");
    let (latency, measured) = join_workers(workers, &tally).await;
    progress.finish();

    let report = Report {
        args: &args,
        opened: tally.opened.load(Ordering::Relaxed),
        deflated: tally.deflated.load(Ordering::Relaxed),
        errors: tally.errors(),
        measured,
        latency: &latency,
        cpu: window.cpu(server, common.threads),
    };
    report.print();
    tally.report_errors()
}

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
        let reactor = EchoReactor::new(
            index,
            Arc::clone(plan),
            Arc::clone(tally),
            Arc::clone(&counter),
        );
        let job = Job {
            count,
            open_at_once,
            dial,
            plan: Arc::clone(plan),
            phases: phases.clone(),
            tally: Arc::clone(tally),
            received: counter,
            reactor,
        };
        workers.push(spawn_worker(index, move || worker(job))?);
    }
    Ok((workers, counters))
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
    tick_until(phases.measure_from, || show(progress, "warm-up")).await;
    let (own_from, server_from, machine_from) = Window::sample(server);
    tick_until(phases.stop_at, || show(progress, "measuring")).await;
    let (own_to, server_to, machine_to) = Window::sample(server);
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

/// What a worker is given.
#[derive(Debug)]
struct Job {
    /// Connections it opens.
    count: usize,
    open_at_once: usize,
    dial: Dial,
    plan: Arc<Plan>,
    phases: watch::Receiver<Option<Phases>>,
    tally: Arc<Tally>,
    /// Counts every echo, for the progress line.
    received: Arc<Counter>,
    /// Drives its plain TCP connections.
    reactor: EchoReactor,
}

/// A worker: opens its connections and runs them to the end, those over
/// plain TCP in its reactor thread, the others as tasks.
async fn worker(job: Job) -> report::WorkerReport {
    let Job {
        count,
        open_at_once,
        dial,
        plan,
        phases,
        tally,
        received,
        reactor,
    } = job;
    let local = Rc::new(Local::new(received));
    let reactor = Rc::new(RefCell::new(reactor));
    let gate = Rc::new(Semaphore::new(open_at_once));
    let dial = Rc::new(dial);
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let (dial, gate, reactor) = (Rc::clone(&dial), Rc::clone(&gate), Rc::clone(&reactor));
        let (plan, phases, tally, local) = (
            Arc::clone(&plan),
            phases.clone(),
            Arc::clone(&tally),
            Rc::clone(&local),
        );
        tasks.spawn_local(async move {
            let Some(ws) = connect(&gate, &dial, &tally).await else {
                return;
            };
            tally.opened(ws.deflate().is_some());
            let Some(phases) = start_of(phases).await else {
                return;
            };
            let added = reactor.borrow_mut().add(ws, phases);
            if let Err(mut ws) = added {
                connection(&mut ws, &plan, phases, &tally, &local).await;
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let mut report = local.report();
    let reactor = Rc::into_inner(reactor).map(RefCell::into_inner);
    if let Some(reactor) = reactor
        && let Some(measured) = reactor.finish().await
    {
        report.merge(&measured);
    }
    report
}

/// Waits for the run to start; `None` if it was given up first.
async fn start_of(mut phases: watch::Receiver<Option<Phases>>) -> Option<Phases> {
    match phases.wait_for(Option::is_some).await {
        Ok(phases) => *phases,
        Err(_) => None,
    }
}

/// Runs one open connection: the round trips until the end, then the
/// closing handshake.
async fn connection(
    ws: &mut WebSocket<ClientStream>,
    plan: &Plan,
    phases: Phases,
    tally: &Tally,
    local: &Local,
) {
    let deadline = phases.stop_at + DRAIN_LIMIT;
    match tokio::time::timeout_at(deadline.into(), round_trips(ws, plan, phases, local)).await {
        Ok(Ok(())) => close(ws).await,
        Ok(Err(why)) => tally.failed(why),
        Err(_) => tally.failed(echoes_missing()),
    }
}

/// Keeps `in_flight` messages outstanding until `stop_at`, then waits for
/// the last echoes.
///
/// Messages are queued with `feed` and not flushed one by one: reading the
/// next echo writes everything queued first, so the messages queued for the
/// echoes of one read leave in one write.
async fn round_trips(
    ws: &mut WebSocket<ClientStream>,
    plan: &Plan,
    phases: Phases,
    local: &Local,
) -> Result<(), String> {
    let failed = |e: sockeye::Error| connection_failed(&e);
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
            None => return Err(closed_during_the_run()),
        };
        let now = Instant::now();
        let times = (sent, now);
        if take_echo(
            &plan.message,
            &phases,
            local,
            times,
            echo.is_text(),
            echo.payload(),
        )? {
            queued_at.push_back(now);
            ws.feed(plan.message.clone()).await.map_err(failed)?;
        }
    }
    Ok(())
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
    cpu: Cpu,
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
        let bottleneck = Bottleneck::judge(&self.cpu);

        print!("{}", self.summary(msg_per_s, mb_per_s, bottleneck));
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
            "msg_per_s": tenths(msg_per_s),
            "mb_per_s": (mb_per_s * 1000.0).round() / 1000.0,
            "latency_us": report::latency_json(self.latency),
            "cpu": self.cpu.json(msg_per_s, "msg"),
            "server_rss": self.cpu.server_rss,
            "bottleneck": bottleneck.name(),
            "errors": self.errors,
        });
        println!("{json}");
    }

    /// The human-readable lines.
    fn summary(&self, msg_per_s: f64, mb_per_s: f64, bottleneck: Bottleneck) -> String {
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
        args.compression
            .write_summary(&mut out, self.deflated, self.opened, "connections");
        let _ = writeln!(
            out,
            "  throughput  {} msg/s, {mb_per_s:.2} MB/s of payload each way ({} echoes)",
            grouped(rate_u64(msg_per_s)),
            grouped(self.measured)
        );
        report::write_latency(&mut out, report::percentiles(self.latency), "");
        self.cpu.write_lines(&mut out, msg_per_s, "echo");
        self.cpu.write_verdict(
            &mut out,
            bottleneck,
            "neither side is CPU-bound: round trips wait on latency; more --in-flight or \
             --connections would load the server more",
        );
        report::write_errors(&mut out, self.errors);
        out
    }
}
