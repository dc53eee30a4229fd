//! The load generator of benches/rpc/run.sh, the same for every server:
//! plain WebSocket connections (sockeye's client) carrying JSON-RPC text
//! that it writes itself, pipelined, and reads back with serde, checking
//! every response's `jsonrpc`, `id` and `result` and every delivery's
//! subscription id and sequence number.
//!
//! Scenarios:
//!
//! - `calls`: C connections, K requests in flight on each
//!   (`{"method":"add","params":[id,1]}`, answer id + 1); a new request
//!   leaves as soon as an answer arrives. Counts answers per second.
//! - `batch`: C connections, K batches of B requests in flight on each;
//!   counts the requests answered per second (batches/s = that / B).
//! - `subs`: C connections, each subscribing once (`subscribe_ticks`
//!   with a count that does not run out); counts deliveries per second.
//!
//! With `--client peer`, `calls` goes through `sockeye_rpc::Peer` instead
//! of the hand-written client: K tasks per connection, each calling and
//! awaiting in a loop.
//!
//! After the warmup, it measures for the duration and prints one JSON
//! line: the rate, the p50 and p99 latency (calls and batches), and the
//! CPU used over the measured window by itself and, given
//! `--server-pid`, by the server (from `/proc/PID/stat`, in the kernel's
//! fixed 100 ticks per second), as a percentage of one core. It runs on
//! tokio's single-threaded runtime: one core, like the server.
//!
//! Usage: `rpc-bench-load SCENARIO URL [-c C] [-k K] [-b B] [-d SECS]
//! [-w SECS] [--method NAME] [--client raw|peer] [--server-pid PID]`

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use sockeye::{ClientStream, Message, WebSocket};

/// A subscription count no run reaches.
const ENDLESS: u64 = 1 << 50;

/// The first errors are printed; the rest only counted.
const ERRORS_PRINTED: u64 = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Calls,
    Batch,
    Subs,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Client {
    Raw,
    Peer,
}

#[derive(Debug)]
struct Options {
    scenario: Scenario,
    url: String,
    connections: usize,
    in_flight: usize,
    batch: usize,
    duration: Duration,
    warmup: Duration,
    method: String,
    client: Client,
    server_pid: Option<u32>,
}

fn usage() -> String {
    "usage: rpc-bench-load calls|batch|subs URL [-c CONNECTIONS] [-k IN_FLIGHT] [-b BATCH] \
     [-d SECS] [-w SECS] [--method NAME] [--client raw|peer] [--server-pid PID]"
        .to_string()
}

fn parse_options() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let scenario = match args.next().as_deref() {
        Some("calls") => Scenario::Calls,
        Some("batch") => Scenario::Batch,
        Some("subs") => Scenario::Subs,
        _ => return Err(usage()),
    };
    let mut options = Options {
        scenario,
        url: String::new(),
        connections: 100,
        in_flight: 1,
        batch: 10,
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(2),
        method: "add".to_string(),
        client: Client::Raw,
        server_pid: None,
    };
    while let Some(flag) = args.next() {
        if !flag.starts_with('-') {
            options.url = flag;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {value}"))
        };
        match flag.as_str() {
            "-c" => options.connections = usize::try_from(number()?).unwrap_or(usize::MAX),
            "-k" => options.in_flight = usize::try_from(number()?).unwrap_or(usize::MAX),
            "-b" => options.batch = usize::try_from(number()?).unwrap_or(usize::MAX),
            "-d" => options.duration = Duration::from_secs(number()?),
            "-w" => options.warmup = Duration::from_secs(number()?),
            "--method" => options.method.clone_from(&value),
            "--client" => {
                options.client = match value.as_str() {
                    "raw" => Client::Raw,
                    "peer" => Client::Peer,
                    _ => return Err(format!("--client: raw or peer, not {value}")),
                }
            }
            "--server-pid" => {
                options.server_pid = Some(u32::try_from(number()?).map_err(|e| e.to_string())?);
            }
            _ => return Err(format!("unknown option {flag}\n{}", usage())),
        }
    }
    if options.url.is_empty() {
        return Err(usage());
    }
    if options.connections == 0 || options.in_flight == 0 || options.batch == 0 {
        return Err("-c, -k and -b must be at least 1".to_string());
    }
    if options.connections > 10_000 || options.in_flight > 10_000 || options.batch > 10_000 {
        return Err("-c, -k and -b are limited to 10,000 each".to_string());
    }
    if options.client == Client::Peer && options.scenario != Scenario::Calls {
        return Err("--client peer runs the calls scenario only".to_string());
    }
    Ok(options)
}

/// Latencies in nanoseconds, in buckets of 1/16 of a power of two (at
/// most 6% off), in fixed memory however long the run.
struct Histogram {
    counts: Vec<u64>,
}

impl Histogram {
    const SUB: u32 = 4;

    fn new() -> Self {
        Self {
            counts: vec![0; 16 + 60 * 16],
        }
    }

    fn record(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.counts[Self::bucket(nanos)] += 1;
    }

    fn bucket(value: u64) -> usize {
        if value < 16 {
            return usize::try_from(value).unwrap_or(0);
        }
        let exponent = value.ilog2();
        let shift = exponent - Self::SUB;
        let mantissa = (value >> shift) & 15;
        let index = 16 + u64::from(shift) * 16 + mantissa;
        usize::try_from(index).unwrap_or(0)
    }

    fn lower_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < 16 {
            return index;
        }
        let shift = (index - 16) / 16;
        let mantissa = (index - 16) % 16;
        (16 + mantissa) << shift
    }

    /// The value below which `q` of the samples lie, in microseconds.
    fn quantile_us(&self, q: f64) -> Option<f64> {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return None;
        }
        #[expect(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss,
            reason = "a rank among at most 2^53 samples"
        )]
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                #[expect(clippy::cast_precision_loss, reason = "a latency in nanoseconds")]
                return Some(Self::lower_bound(index) as f64 / 1000.0);
            }
        }
        None
    }
}

/// What all connections share (one thread: `Rc` and `Cell`).
struct Shared {
    measuring: Cell<bool>,
    done: Cell<bool>,
    /// Calls answered (or deliveries) while measuring.
    count: Cell<u64>,
    errors: Cell<u64>,
    latency: RefCell<Histogram>,
}

impl Shared {
    fn error(&self, what: &str) {
        let errors = self.errors.get() + 1;
        self.errors.set(errors);
        if errors <= ERRORS_PRINTED {
            eprintln!("error: {what}");
        }
    }

    fn answered(&self, calls: u64, sent: Instant) {
        if self.measuring.get() {
            self.count.set(self.count.get() + calls);
            self.latency.borrow_mut().record(sent.elapsed());
        }
    }
}

/// A response as the generator checks it: the members it needs, borrowed.
#[derive(Deserialize)]
struct Response<'a> {
    jsonrpc: &'a str,
    id: u64,
    result: Option<i64>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
}

impl Response<'_> {
    /// Whether this is `add`'s answer to request `id`.
    fn is_sum(&self) -> bool {
        self.jsonrpc == "2.0"
            && self.error.is_none()
            && self.result == i64::try_from(self.id).ok().map(|id| id.wrapping_add(1))
    }
}

/// A subscription's notification.
#[derive(Deserialize)]
struct Notification<'a> {
    jsonrpc: &'a str,
    method: &'a str,
    #[serde(borrow)]
    params: NotificationParams<'a>,
}

#[derive(Deserialize)]
struct NotificationParams<'a> {
    #[serde(borrow)]
    subscription: &'a RawValue,
    result: u64,
}

/// The answer to a subscribe request.
#[derive(Deserialize)]
struct Subscribed<'a> {
    jsonrpc: &'a str,
    id: u64,
    #[serde(borrow)]
    result: &'a RawValue,
}

fn request(method: &str, id: u64, out: &mut String) {
    use std::fmt::Write;
    let _ = write!(
        out,
        r#"{{"jsonrpc":"2.0","method":"{method}","params":[{id},1],"id":{id}}}"#
    );
}

async fn open(url: &str) -> Result<WebSocket<ClientStream>, String> {
    sockeye::ClientBuilder::new(url)
        .connect()
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| format!("connect {url}: {e}"))
}

/// The next text message, or why there is none.
async fn next_text(ws: &mut WebSocket<ClientStream>) -> Result<sockeye::Utf8Bytes, String> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => Ok(text),
        Some(Ok(Message::Binary(_))) => Err("a binary message".to_string()),
        Some(Err(e)) => Err(format!("connection: {e}")),
        None => Err("the server closed the connection".to_string()),
    }
}

/// One connection of `calls`: K requests in flight (the first K sent at
/// once), then one sent per answer.
async fn calls(mut ws: WebSocket<ClientStream>, shared: Rc<Shared>, options: Rc<Options>) {
    let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(options.in_flight);
    let mut next_id = 0u64;
    while !shared.done.get() {
        if next_id >= options.in_flight as u64 {
            let message = match next_text(&mut ws).await {
                Ok(message) => message,
                Err(e) => {
                    shared.error(&e);
                    return;
                }
            };
            match serde_json::from_str::<Response>(&message) {
                Ok(response) if response.is_sum() => match sent.remove(&response.id) {
                    Some(at) => shared.answered(1, at),
                    None => shared.error(&format!("an answer to no request: {message}")),
                },
                _ => shared.error(&format!("not the answer expected: {message}")),
            }
        }
        let mut text = String::with_capacity(96);
        request(&options.method, next_id, &mut text);
        sent.insert(next_id, Instant::now());
        next_id += 1;
        if ws.feed(Message::text(text)).await.is_err() {
            shared.error("send failed");
            return;
        }
    }
}

/// One connection of `batch`: K batches of B in flight, one sent per
/// answer; batch n holds ids n·B … n·B + B − 1.
async fn batches(mut ws: WebSocket<ClientStream>, shared: Rc<Shared>, options: Rc<Options>) {
    let size = options.batch as u64;
    let mut sent: HashMap<u64, Instant> = HashMap::with_capacity(options.in_flight);
    let mut seen = vec![false; options.batch];
    let mut next_batch = 0u64;
    let mut first = true;
    while !shared.done.get() {
        if first {
            first = next_batch + 1 < options.in_flight as u64;
        } else {
            let message = match next_text(&mut ws).await {
                Ok(message) => message,
                Err(e) => {
                    shared.error(&e);
                    return;
                }
            };
            check_batch(&message, size, &mut seen, &mut sent, &shared);
        }
        let mut text = String::with_capacity(64 * options.batch);
        text.push('[');
        for i in 0..size {
            if i > 0 {
                text.push(',');
            }
            request(&options.method, next_batch * size + i, &mut text);
        }
        text.push(']');
        sent.insert(next_batch, Instant::now());
        next_batch += 1;
        if ws.feed(Message::text(text)).await.is_err() {
            shared.error("send failed");
            return;
        }
    }
}

/// Checks a batch's answer: B correct answers, one to each of its ids, in
/// any order.
fn check_batch(
    message: &str,
    size: u64,
    seen: &mut [bool],
    sent: &mut HashMap<u64, Instant>,
    shared: &Shared,
) {
    let Ok(responses) = serde_json::from_str::<Vec<Response>>(message) else {
        shared.error(&format!("not a batch answer: {message:.200}"));
        return;
    };
    let Some(first) = responses.first() else {
        shared.error("an empty batch answer");
        return;
    };
    let batch = first.id / size;
    seen.fill(false);
    for response in &responses {
        let index = response.id.wrapping_sub(batch * size);
        let fresh = usize::try_from(index)
            .ok()
            .and_then(|i| seen.get_mut(i))
            .is_some_and(|slot| !std::mem::replace(slot, true));
        if !fresh || !response.is_sum() {
            shared.error(&format!("a wrong batch answer: {message:.200}"));
            return;
        }
    }
    if responses.len() as u64 != size {
        shared.error(&format!("{} answers in a batch of {size}", responses.len()));
        return;
    }
    match sent.remove(&batch) {
        Some(at) => shared.answered(size, at),
        None => shared.error("an answer to no batch"),
    }
}

/// One connection of `subs`: subscribes, then counts and checks the
/// deliveries (0, 1, 2, … with the subscription's id).
async fn subs(mut ws: WebSocket<ClientStream>, shared: Rc<Shared>) {
    let subscribe =
        format!(r#"{{"jsonrpc":"2.0","method":"subscribe_ticks","params":[{ENDLESS}],"id":1}}"#);
    if ws.send(Message::text(subscribe)).await.is_err() {
        shared.error("send failed");
        return;
    }
    let answer = match next_text(&mut ws).await {
        Ok(answer) => answer,
        Err(e) => {
            shared.error(&e);
            return;
        }
    };
    let id = match serde_json::from_str::<Subscribed>(&answer) {
        Ok(s) if s.jsonrpc == "2.0" && s.id == 1 => s.result.get().to_string(),
        _ => {
            shared.error(&format!("not a subscription id: {answer}"));
            return;
        }
    };
    let mut expected = 0u64;
    while !shared.done.get() {
        let message = match next_text(&mut ws).await {
            Ok(message) => message,
            Err(e) => {
                shared.error(&e);
                return;
            }
        };
        match serde_json::from_str::<Notification>(&message) {
            Ok(n)
                if n.jsonrpc == "2.0"
                    && n.method == "tick"
                    && n.params.subscription.get() == id
                    && n.params.result == expected =>
            {
                expected += 1;
                if shared.measuring.get() {
                    shared.count.set(shared.count.get() + 1);
                }
            }
            _ => {
                shared.error(&format!("not delivery {expected}: {message}"));
                return;
            }
        }
    }
}

/// One connection of `calls` through `sockeye_rpc::Peer`: K tasks, each
/// calling and awaiting in a loop.
async fn peer_calls(shared: Rc<Shared>, options: Rc<Options>) -> Result<(), String> {
    let mut config = sockeye_rpc::Config::default();
    config.max_calls = options.in_flight.max(config.max_calls);
    let peer = sockeye_rpc::connect(&options.url, sockeye_rpc::Methods::<()>::new(), (), config)
        .await
        .map_err(|e| format!("connect {}: {e}", options.url))?;
    for task in 0..options.in_flight as u64 {
        let (peer, shared, options) = (peer.clone(), Rc::clone(&shared), Rc::clone(&options));
        tokio::task::spawn_local(async move {
            let mut n = task;
            while !shared.done.get() {
                let a = i64::try_from(n).unwrap_or(0);
                let at = Instant::now();
                match peer.call::<i64, _>(&options.method, &(a, 1)).await {
                    Ok(sum) if sum == a + 1 => shared.answered(1, at),
                    Ok(sum) => shared.error(&format!("{a} + 1 answered {sum}")),
                    Err(e) => {
                        shared.error(&format!("call: {e}"));
                        return;
                    }
                }
                n += options.in_flight as u64;
            }
        });
    }
    Ok(())
}

/// The CPU time a process has used, from `/proc/PID/stat` (utime + stime,
/// in `USER_HZ`, which Linux fixes at 100 per second for user space).
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields start after its ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime are fields 14 and 15, the 12th and 13th after ')'.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn percent(used: Option<Duration>, window: Duration) -> serde_json::Value {
    used.map_or(serde_json::Value::Null, |used| {
        serde_json::json!((used.as_secs_f64() / window.as_secs_f64() * 1000.0).round() / 10.0)
    })
}

async fn run(options: Options) -> Result<serde_json::Value, String> {
    let options = Rc::new(options);
    let shared = Rc::new(Shared {
        measuring: Cell::new(false),
        done: Cell::new(false),
        count: Cell::new(0),
        errors: Cell::new(0),
        latency: RefCell::new(Histogram::new()),
    });
    for _ in 0..options.connections {
        if options.client == Client::Peer {
            peer_calls(Rc::clone(&shared), Rc::clone(&options)).await?;
            continue;
        }
        let ws = open(&options.url).await?;
        let (shared, options) = (Rc::clone(&shared), Rc::clone(&options));
        tokio::task::spawn_local(async move {
            match options.scenario {
                Scenario::Calls => calls(ws, shared, options).await,
                Scenario::Batch => batches(ws, shared, options).await,
                Scenario::Subs => subs(ws, shared).await,
            }
        });
    }
    tokio::time::sleep(options.warmup).await;
    let server = options.server_pid.map(|pid| pid.to_string());
    let server_before = server.as_deref().and_then(cpu_time);
    let own_before = cpu_time("self");
    let start = Instant::now();
    shared.measuring.set(true);
    tokio::time::sleep(options.duration).await;
    shared.measuring.set(false);
    let window = start.elapsed();
    let own_after = cpu_time("self");
    let server_after = server.as_deref().and_then(cpu_time);
    shared.done.set(true);
    let count = shared.count.get();
    let latency = shared.latency.borrow();
    let used = |before: Option<Duration>, after: Option<Duration>| {
        before.zip(after).map(|(b, a)| a.saturating_sub(b))
    };
    #[expect(clippy::cast_precision_loss, reason = "a count of calls")]
    let rate = count as f64 / window.as_secs_f64();
    Ok(serde_json::json!({
        "scenario": match options.scenario {
            Scenario::Calls => "calls",
            Scenario::Batch => "batch",
            Scenario::Subs => "subs",
        },
        "client": if options.client == Client::Peer { "peer" } else { "raw" },
        "method": options.method,
        "connections": options.connections,
        "in_flight": options.in_flight,
        "batch": if options.scenario == Scenario::Batch { Some(options.batch) } else { None },
        "seconds": window.as_secs_f64(),
        "count": count,
        "per_s": rate.round(),
        "p50_us": latency.quantile_us(0.50),
        "p99_us": latency.quantile_us(0.99),
        "cpu": {
            "server": percent(used(server_before, server_after), window),
            "load": percent(used(own_before, own_after), window),
        },
        "errors": shared.errors.get(),
    }))
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let local = tokio::task::LocalSet::new();
    match local.block_on(&runtime, run(options)) {
        Ok(line) => {
            println!("{line}");
            if line["errors"] == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
