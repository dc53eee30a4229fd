//! `sockeye bench idle`: many open connections, and what they cost the
//! server in memory.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::procfs::Process;
use super::{
    CLOSE_LIMIT, Common, Compression, Dial, Progress, Tally, as_f64, check_echo, close,
    human_bytes, parse_size, payload, raise_open_files_limit, spawn_worker, wait_until_open,
};
use crate::args::parse_seconds;
use crate::describe;

/// Options of `sockeye bench idle`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    common: Common,
    /// Connections to open and hold.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 1000)]
    connections: usize,
    /// Seconds to hold them all open before memory is read and they close.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_seconds)]
    hold: Duration,
    #[command(flatten)]
    compression: Compression,
    /// Send one text message on each connection and wait for its echo
    /// once open, so that per-connection state such as compression
    /// buffers gets created.
    #[arg(long)]
    send_one: bool,
    /// Size of the message --send-one sends; k and m suffixes are powers
    /// of 1024.
    #[arg(short = 's', long, value_name = "BYTES", default_value = "16", value_parser = parse_size)]
    size: usize,
}

/// Resident memory of the server and of the bench, before and after.
#[derive(Clone, Copy, Debug, Default)]
struct Memory {
    server: Option<u64>,
    bench: Option<u64>,
}

impl Memory {
    fn read(server: Option<Process>) -> Self {
        Memory {
            server: server.and_then(|s| s.rss_bytes().ok()),
            bench: Process::This.rss_bytes().ok(),
        }
    }
}

pub(crate) async fn run(args: Args) -> ExitCode {
    let common = &args.common;
    let server = match common.server() {
        Ok(server) => server,
        Err(code) => return code,
    };
    raise_open_files_limit(args.connections);
    let message = args.send_one.then(|| payload(args.size, false));
    let tally = Arc::new(Tally::default());
    let (release_tx, release_rx) = watch::channel(false);
    let before = Memory::read(server);

    let mut workers = Vec::new();
    for index in 0..usize::from(common.threads) {
        let count = common.share(args.connections, index);
        let open_at_once = common.open_concurrency_per_worker();
        let dial = common.dial(args.compression, args.size);
        let (message, tally, release) = (message.clone(), Arc::clone(&tally), release_rx.clone());
        match spawn_worker(index, move || {
            worker(count, open_at_once, dial, message, release, tally)
        }) {
            Ok(rx) => workers.push(rx),
            Err(e) => {
                eprintln!("sockeye: cannot start a worker thread: {}", describe(&e));
                return ExitCode::FAILURE;
            }
        }
    }

    let mut progress = Progress::new();
    let open_time = wait_until_open(&tally, args.connections, &mut progress).await;
    let opened = tally.opened.load(Ordering::Relaxed);
    progress.show(&format!("holding {opened} connections"));
    tokio::time::sleep(args.hold).await;
    let after = Memory::read(server);
    let _ = release_tx.send(true);
    progress.show(&format!("closing {opened} connections"));
    for rx in workers {
        if rx.await.is_err() {
            tally.failed("a worker thread stopped".to_owned());
        }
    }
    progress.finish();

    Report {
        args: &args,
        opened,
        deflated: tally.deflated.load(Ordering::Relaxed),
        errors: tally.errors(),
        open_time,
        before,
        after,
    }
    .print();
    tally.report_errors()
}

/// A worker: opens its connections, holds them until released, closes them.
async fn worker(
    count: usize,
    open_at_once: usize,
    dial: Dial,
    message: Option<Message>,
    release: watch::Receiver<bool>,
    tally: Arc<Tally>,
) {
    let gate = Rc::new(Semaphore::new(open_at_once));
    let dial = Rc::new(dial);
    let message = Rc::new(message);
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let (gate, dial, message) = (Rc::clone(&gate), Rc::clone(&dial), Rc::clone(&message));
        let (mut release, tally) = (release.clone(), Arc::clone(&tally));
        tasks.spawn_local(async move {
            let opened = {
                let _permit = gate.acquire().await;
                open(&dial, message.as_ref().as_ref()).await
            };
            let mut ws = match opened {
                Ok(ws) => ws,
                Err(why) => {
                    tally.open_failed(why);
                    return;
                }
            };
            tally.opened(ws.deflate().is_some());
            // An idle connection: nothing polls it until the release.
            let _ = release.wait_for(|released| *released).await;
            close(&mut ws).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// Opens one connection and, if given a message, exchanges it once.
async fn open(dial: &Dial, message: Option<&Message>) -> Result<WebSocket<ClientStream>, String> {
    let (mut ws, _) = dial
        .builder()
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {}", describe(&e)))?;
    if let Some(message) = message {
        let failed = |e: sockeye::Error| format!("connection failed: {}", describe(&e));
        ws.send(message.clone()).await.map_err(failed)?;
        let echo = tokio::time::timeout(CLOSE_LIMIT, ws.next())
            .await
            .map_err(|_| format!("no echo within {} s", CLOSE_LIMIT.as_secs()))?;
        match echo {
            Some(Ok(echo)) => check_echo(message, echo.is_text(), echo.payload())?,
            Some(Err(e)) => return Err(failed(e)),
            None => return Err("the server closed the connection".to_owned()),
        }
    }
    Ok(ws)
}

/// Everything the summary and the JSON line say.
#[derive(Debug)]
struct Report<'a> {
    args: &'a Args,
    opened: usize,
    deflated: usize,
    errors: usize,
    open_time: Duration,
    before: Memory,
    after: Memory,
}

/// What opening the connections took and what holding them costs, as
/// the report derives it from its counts.
#[derive(Clone, Copy, Debug)]
struct Costs {
    /// Seconds the connections took to open.
    open_s: f64,
    /// Connections opened per second.
    conn_per_s: f64,
    /// Bytes of resident memory each connection added to the server, and
    /// to the bench; `None` where unknown.
    server_per_conn: Option<f64>,
    bench_per_conn: Option<f64>,
}

impl Report<'_> {
    fn costs(&self) -> Costs {
        let opened = as_f64(u64::try_from(self.opened).unwrap_or(u64::MAX));
        let per_connection = |before: Option<u64>, after: Option<u64>| {
            let (before, after) = (before?, after?);
            (self.opened > 0).then(|| (as_f64(after) - as_f64(before)) / opened)
        };
        let open_s = self.open_time.as_secs_f64();
        Costs {
            open_s,
            conn_per_s: if open_s > 0.0 { opened / open_s } else { 0.0 },
            server_per_conn: per_connection(self.before.server, self.after.server),
            bench_per_conn: per_connection(self.before.bench, self.after.bench),
        }
    }

    fn print(&self) {
        let args = self.args;
        let costs = self.costs();
        print!("{}", self.summary(costs));
        let round = |x: f64| x.round();
        let json = serde_json::json!({
            "scenario": "idle",
            "url": args.common.url,
            "connections": args.connections,
            "opened": self.opened,
            "threads": args.common.threads,
            "deflate": args.compression.deflate,
            "no_context_takeover": args.compression.no_context_takeover,
            "deflate_negotiated": self.deflated,
            "send_one": args.send_one,
            "size": args.size,
            "open_s": (costs.open_s * 1000.0).round() / 1000.0,
            "conn_per_s": round(costs.conn_per_s),
            "hold_s": args.hold.as_secs_f64(),
            "server_rss_before": self.before.server,
            "server_rss_after": self.after.server,
            "server_rss_per_conn": costs.server_per_conn.map(round),
            "bench_rss_before": self.before.bench,
            "bench_rss_after": self.after.bench,
            "bench_rss_per_conn": costs.bench_per_conn.map(round),
            "errors": self.errors,
        });
        println!("{json}");
    }

    /// The lines for people: what ran, how the connections opened, and
    /// what each cost in memory.
    fn summary(&self, costs: Costs) -> String {
        let args = self.args;
        let Costs {
            open_s,
            conn_per_s: rate,
            server_per_conn: server_per,
            bench_per_conn: bench_per,
        } = costs;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "idle: {} connections to {}{}, {} thread(s)",
            args.connections,
            args.common.url,
            self.setup(),
            args.common.threads
        );
        let _ = writeln!(
            out,
            "  opened      {} in {open_s:.2} s ({rate:.0} conn/s), {} failed",
            self.opened, self.errors
        );
        if args.compression.deflate {
            let _ = writeln!(
                out,
                "  deflate     negotiated on {} of {}",
                self.deflated, self.opened
            );
        }
        for (name, before, after, per) in [
            (
                "server rss",
                self.before.server,
                self.after.server,
                server_per,
            ),
            ("bench rss ", self.before.bench, self.after.bench, bench_per),
        ] {
            if let (Some(before), Some(after), Some(per)) = (before, after, per) {
                let _ = writeln!(
                    out,
                    "  {name}  {} before, {} after: {per:.0} B per connection",
                    human_bytes(as_f64(before)),
                    human_bytes(as_f64(after)),
                );
            }
        }
        out
    }

    /// The options that change what a connection costs, in brackets
    /// (compression, the message sent), or nothing.
    fn setup(&self) -> String {
        let args = self.args;
        let mut setup = Vec::new();
        if let Some(deflate) = args.compression.describe() {
            setup.push(deflate.to_owned());
        }
        if args.send_one {
            setup.push(format!("one {} B message each", args.size));
        }
        if setup.is_empty() {
            String::new()
        } else {
            format!(" ({})", setup.join(", "))
        }
    }
}
