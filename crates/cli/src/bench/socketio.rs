//! `sockeye bench socketio`: a Socket.IO server under load, spoken to as
//! Engine.IO v4 and Socket.IO v5 over the `sockeye` WebSocket client.
//!
//! The frames are few and simple, so they are written and read as text
//! here: the server opens with `0{...}` (Engine.IO OPEN), the client joins
//! the main namespace with `40` and waits for `40{...}`, pings `2` are
//! answered with `3`, events go out as `42["name",...]` (`42ID[...]` when
//! an acknowledgement is asked for) and acknowledgements come back as
//! `43ID[...]`.
//!
//! Three modes, against a server with the events of
//! `crates/io/examples/socketio-bench-server.rs`:
//!
//! - round trips (the default): each client keeps `--in-flight` `echo`
//!   events outstanding and sends one more for each acknowledgement;
//! - `--broadcast`: the clients join `--room`, and one more client, the
//!   publisher, asks the server with `blast` to emit `--count` events to the
//!   room, keeping `--in-flight` blasts undelivered at most; deliveries are
//!   counted where they arrive, and each carries its send time;
//! - `--idle`: the clients connect, join the namespace and hold, for the
//!   server's memory per client.
//!
//! Given several URLs, the servers of one cluster (such as two servers on
//! one Redis), the clients are spread over them in turn, and a broadcast
//! has one publisher per server, the blasts taking turns among them: each
//! blast must reach the room's clients on every server. `--cluster-pid`
//! and `--broker-pid` add the CPU time of the cluster's other processes
//! over the measured window to the report (`cluster`).

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use sockeye::{ClientStream, Message, WebSocket};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::procfs::{CpuSample, Process};
use super::report::{
    self, Bottleneck, Cpu, Local, Pending, Phases, Window, join_workers, rate_u64, tenths,
};
use super::{
    Common, Compression, Counter, Dial, Progress, Tally, as_f64, check_opened, close, connect,
    grouped, human_bytes, parse_size, spawn_worker, wait_until_open,
};
use crate::args::parse_seconds;
use crate::describe;

mod cluster;

use cluster::Members;

/// Options of `sockeye bench socketio`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The server, as `http://HOST:PORT` (or `ws://`): the path
    /// `/socket.io/` and the Engine.IO query are added when the URL has no
    /// path.
    #[command(flatten)]
    common: Common,
    /// More servers of one cluster, after the first URL: the clients are
    /// spread over all the URLs in turn, and with --broadcast each URL gets
    /// a publisher, the blasts taking turns among them.
    #[arg(value_name = "URL")]
    more_urls: Vec<String>,
    /// The process ID of another server of the cluster (repeatable): its
    /// CPU time over the measured window is reported beside
    /// --server-pid's.
    #[arg(long, value_name = "PID")]
    cluster_pid: Vec<u32>,
    /// The process ID of the cluster's broker (such as redis-server): its
    /// CPU time over the measured window is reported, per event too.
    #[arg(long, value_name = "PID")]
    broker_pid: Option<u32>,
    /// Clients (Socket.IO connections) to open.
    #[arg(short = 'c', long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    clients: u32,
    /// Round trips: `echo` events outstanding per client. Broadcast:
    /// blasts sent and not yet delivered to every client.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1024))]
    in_flight: u32,
    /// Size of the string argument each event carries, in bytes; k and m
    /// suffixes are powers of 1024.
    #[arg(short = 's', long, value_name = "BYTES", default_value = "32", value_parser = parse_size)]
    size: usize,
    /// Seconds measured, after the warm-up.
    #[arg(short = 'd', long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    duration: Duration,
    /// Seconds of load before measuring starts.
    #[arg(short = 'w', long, value_name = "SECS", default_value = "2", value_parser = parse_seconds)]
    warmup: Duration,
    /// Broadcast deliveries instead of round trips.
    #[arg(long, conflicts_with = "idle")]
    broadcast: bool,
    /// With --broadcast: the room the clients join.
    #[arg(long, value_name = "NAME", default_value = "r")]
    room: String,
    /// With --broadcast: events the server emits to the room for each
    /// `blast` it is sent.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    count: u32,
    /// Idle clients: the server's memory per connected client.
    #[arg(long)]
    idle: bool,
    /// With --idle: seconds to hold every client connected before the
    /// server's memory is read.
    #[arg(long, value_name = "SECS", default_value = "2", value_parser = parse_seconds)]
    hold: Duration,
}

/// How long the Engine.IO and Socket.IO handshakes of one client may take,
/// once its WebSocket is open: far more than a loaded server on loopback
/// needs, so only a server that does not answer fails it.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(5);

/// How long joining the room may take, from the `join` event to the
/// acknowledgement of the `echo` sent after it: longer than the handshake,
/// since a thousand clients join while others are still connecting.
const JOIN_LIMIT: Duration = Duration::from_secs(30);

/// How long a client waits for the acknowledgement that follows its
/// `join` before sending both again.
const JOIN_RETRY: Duration = Duration::from_secs(1);

/// How long after the end of the measured window the last
/// acknowledgements or deliveries may take.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// How often the publisher looks again whether a blast may go out, when
/// `--in-flight` blasts are still undelivered: well under the time one
/// blast takes to reach a room of clients.
const PUBLISH_POLL: Duration = Duration::from_micros(200);

pub(crate) async fn run(mut args: Args) -> ExitCode {
    let members = match endpoints(&mut args) {
        Ok(members) => members,
        Err(why) => {
            eprintln!("sockeye: {why}");
            return ExitCode::from(crate::EXIT_USAGE);
        }
    };
    let server = match args.common.server() {
        Ok(server) => server,
        Err(code) => return code,
    };
    // The open-file limit is the caller's to raise (`ulimit -n`, as
    // benches/socketio/run.sh does): 10,000 clients need over 10,000.
    if args.idle {
        idle(&args, server).await
    } else {
        load(&args, server, &members).await
    }
}

/// Turns every URL into its Engine.IO endpoint, and checks that the
/// cluster's other processes can be read.
fn endpoints(args: &mut Args) -> Result<Members, String> {
    args.common.url = socketio_url(&args.common.url)?;
    for url in &mut args.more_urls {
        *url = socketio_url(url)?;
    }
    Members::new(&args.cluster_pid, args.broker_pid)
}

/// How to open a connection to each server, in the order of the URLs.
fn dials(args: &Args) -> Vec<Dial> {
    let first = args.common.dial(Compression::none(), args.size);
    let more: Vec<Dial> = args
        .more_urls
        .iter()
        .map(|url| Dial {
            url: url.clone(),
            ..first.clone()
        })
        .collect();
    let mut dials = vec![first];
    dials.extend(more);
    dials
}

/// The URLs, for the summary: `a, b`.
fn url_list(args: &Args) -> String {
    std::iter::once(&args.common.url)
        .chain(&args.more_urls)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which of the servers' dials each client of a worker uses: clients are
/// numbered across the workers (worker `index` of `workers` has clients
/// `index`, `index + workers`, ...), and client `n` goes to server
/// `n % servers`.
#[derive(Debug)]
struct Spread {
    dials: Vec<Dial>,
    index: usize,
    workers: usize,
}

impl Spread {
    fn new(args: &Args, index: usize) -> Spread {
        Spread {
            dials: dials(args),
            index,
            workers: usize::from(args.common.threads),
        }
    }

    /// The dial of the worker's `nth` client.
    fn dial(&self, nth: usize) -> &Dial {
        let client = nth * self.workers + self.index;
        &self.dials[client % self.dials.len()]
    }
}

/// The WebSocket URL of the Engine.IO endpoint for `url`: `http` becomes
/// `ws`, `https` becomes `wss`, an empty path becomes `/socket.io/`, and
/// the Engine.IO query (`EIO=4&transport=websocket`) is added.
fn socketio_url(url: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("not a URL: {url:?}"))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => return Err(format!("unsupported scheme {other:?} in {url:?}")),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
    if authority.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let path = if path == "/" { "/socket.io/" } else { path };
    let mut out = format!("{scheme}://{authority}{path}?");
    if !query.is_empty() {
        let _ = write!(out, "{query}&");
    }
    out.push_str("EIO=4&transport=websocket");
    Ok(out)
}

// ---- the Socket.IO connection ----

/// One client: a WebSocket that has finished the Engine.IO and Socket.IO
/// handshakes with the main namespace.
struct Client {
    ws: WebSocket<ClientStream>,
}

impl Client {
    /// Runs the handshakes on an open WebSocket: waits for the Engine.IO
    /// OPEN packet, connects to `/` and waits for the server's CONNECT.
    async fn handshake(ws: WebSocket<ClientStream>) -> Result<Client, String> {
        let mut client = Client { ws };
        let steps = async {
            let open = client.next_packet().await?;
            if !open.starts_with('0') {
                return Err(format!(
                    "expected the Engine.IO OPEN packet, got {}",
                    excerpt(&open)
                ));
            }
            client.send("40").await?;
            let connect = client.next_packet().await?;
            match connect.as_bytes() {
                [b'4', b'0', ..] => Ok(()),
                [b'4', b'4', ..] => Err(format!("connection refused: {}", excerpt(&connect))),
                _ => Err(format!(
                    "expected the Socket.IO CONNECT packet, got {}",
                    excerpt(&connect)
                )),
            }
        };
        match tokio::time::timeout(HANDSHAKE_LIMIT, steps).await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(why)) => Err(why),
            Err(_) => Err(format!(
                "no Socket.IO handshake within {} s",
                HANDSHAKE_LIMIT.as_secs()
            )),
        }
    }

    /// Queues a text frame; reading the next packet writes it.
    async fn feed(&mut self, text: impl Into<String>) -> Result<(), String> {
        self.ws
            .feed(Message::text(text.into()))
            .await
            .map_err(|e| failed(&e))
    }

    /// Sends a text frame now.
    async fn send(&mut self, text: impl Into<String>) -> Result<(), String> {
        self.ws
            .send(Message::text(text.into()))
            .await
            .map_err(|e| failed(&e))
    }

    /// Queues an `echo` event with acknowledgement id `id` and `payload`
    /// (JSON), written in place: no string is built for it.
    async fn feed_echo(&mut self, id: u64, payload: &str) -> Result<(), String> {
        std::future::poll_fn(|cx| self.ws.poll_ready_unpin(cx))
            .await
            .map_err(|e| failed(&e))?;
        let mut digits = itoa::Buffer::new();
        self.ws
            .feed_text_parts(&["42", digits.format(id), "[\"echo\",", payload, "]"])
            .map_err(|e| failed(&e))
    }

    /// The next packet other than an Engine.IO ping (answered with a pong
    /// on the way), as a text message.
    async fn next_message(&mut self) -> Result<Message, String> {
        loop {
            let message = match self.ws.next().await {
                Some(Ok(message)) => message,
                Some(Err(e)) => return Err(failed(&e)),
                None => return Err("the server closed the connection".to_owned()),
            };
            match message.as_text() {
                None => return Err("the server sent a binary frame to a JSON client".to_owned()),
                Some("2") => self.feed("3").await?,
                Some("1") => return Err("the server closed the Engine.IO session".to_owned()),
                Some(_) => return Ok(message),
            }
        }
    }

    /// The next packet other than an Engine.IO ping, as a string.
    async fn next_packet(&mut self) -> Result<String, String> {
        let message = self.next_message().await?;
        Ok(message.as_text().unwrap_or_default().to_owned())
    }
}

fn failed(e: &sockeye::Error) -> String {
    format!("connection failed: {}", describe(e))
}

/// The start of a packet, for an error message: enough to tell what it
/// was without printing a large payload.
fn excerpt(packet: &str) -> String {
    const SHOWN: usize = 60;
    match packet.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{:?}...", &packet[..at]),
        None => format!("{packet:?}"),
    }
}

/// Opens a WebSocket once `gate` lets it and runs the handshakes; counts
/// a failure in `tally`.
async fn open_client(gate: &Semaphore, dial: &Dial, tally: &Tally) -> Option<Client> {
    let ws = connect(gate, dial, tally).await?;
    match Client::handshake(ws).await {
        Ok(client) => Some(client),
        Err(why) => {
            tally.open_failed(why);
            None
        }
    }
}

// ---- round trips and broadcast ----

/// What every client of a run does.
#[derive(Debug)]
struct Plan {
    /// The string argument of each event, JSON-quoted.
    payload: String,
    in_flight: usize,
    broadcast: Option<Broadcast>,
}

/// What a broadcast run shares among its clients.
#[derive(Debug)]
struct Broadcast {
    room: String,
    count: u32,
    receivers: u64,
    /// Deliveries so far, on every worker: the publisher's measure of what
    /// is still on the way.
    delivered: Counter,
    /// Receivers that have joined the room.
    joined: Counter,
}

impl Broadcast {
    /// Deliveries that never arrived, once `published` blasts were sent
    /// and the receivers have drained: each blast owes `count` events to
    /// every receiver. A cluster that drops messages between its servers
    /// shows here.
    fn undelivered(&self, published: u64) -> u64 {
        let owed = published
            .saturating_mul(u64::from(self.count))
            .saturating_mul(self.receivers);
        owed.saturating_sub(self.delivered.get())
    }
}

fn quoted_payload(size: usize) -> String {
    let text: String = (b'a'..=b'z').cycle().take(size).map(char::from).collect();
    format!("\"{text}\"")
}

/// Round trips or broadcast deliveries: opens the clients, runs the load
/// over the warm-up and the measured window, and reports.
async fn load(args: &Args, server: Option<Process>, members: &Members) -> ExitCode {
    let common = &args.common;
    let clients = args.clients as usize;
    let plan = Arc::new(Plan {
        payload: quoted_payload(args.size),
        in_flight: args.in_flight as usize,
        broadcast: args.broadcast.then(|| Broadcast {
            room: args.room.clone(),
            count: args.count,
            receivers: u64::from(args.clients),
            delivered: Counter::default(),
            joined: Counter::default(),
        }),
    });
    let tally = Arc::new(Tally::default());
    let (phases_tx, phases_rx) = watch::channel(None::<Phases>);
    let (workers, counters) = match start_workers(args, &plan, &tally, &phases_rx) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("sockeye: cannot start a worker thread: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };

    let mut progress = Progress::new();
    wait_until_open(&tally, clients, &mut progress).await;
    if let Err(code) = check_opened(&tally, &common.url, &mut progress) {
        return code;
    }
    let publisher = match &plan.broadcast {
        Some(broadcast) => {
            wait_until_joined(broadcast, &tally).await;
            Some(tokio::spawn(publisher(
                dials(args),
                Arc::clone(&plan),
                phases_rx.clone(),
                Arc::clone(&tally),
            )))
        }
        None => None,
    };

    let phases = Phases::starting_now(args.warmup, args.duration);
    let _ = phases_tx.send(Some(phases));
    let (window, cluster) =
        measure(phases, &counters, &tally, (server, members), &mut progress).await;
    progress.show("draining and closing");
    let blasts_sent = match publisher {
        Some(publisher) => publisher.await.unwrap_or_else(|_| {
            tally.failed("the publisher stopped".to_owned());
            0
        }),
        None => 0,
    };
    let (latency, measured) = join_workers(workers, &tally).await;
    progress.finish();

    let mut cpu = window.cpu(server, common.threads);
    // The cluster's processes are part of the measurement, not load from
    // elsewhere.
    cpu.other = cpu.other.map(|other| (other - cluster.total()).max(0.0));
    Report {
        args,
        opened: tally.opened.load(Ordering::Relaxed),
        errors: tally.errors(),
        measured,
        latency: &latency,
        cpu,
        cluster: &cluster,
        undelivered: plan
            .broadcast
            .as_ref()
            .map(|broadcast| broadcast.undelivered(blasts_sent)),
    }
    .print();
    tally.report_errors()
}

/// Waits until every receiver that opened has joined the room, or has
/// failed.
async fn wait_until_joined(broadcast: &Broadcast, tally: &Tally) {
    const POLL: Duration = Duration::from_millis(20);
    loop {
        let opened = tally.opened.load(Ordering::Relaxed) as u64;
        let failed = tally.failed.load(Ordering::Relaxed) as u64;
        if broadcast.joined.get() + failed >= opened {
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

impl Compression {
    /// No compression offered: Socket.IO servers are measured without it.
    fn none() -> Compression {
        Compression {
            deflate: false,
            no_context_takeover: false,
        }
    }
}

/// Starts the workers, each with its share of the clients. Returns their
/// results to come and their arrival counters.
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
        let count = common.share(args.clients as usize, index);
        let open_at_once = common.open_concurrency_per_worker();
        let spread = Spread::new(args, index);
        let counter = Arc::new(Counter::default());
        counters.push(Arc::clone(&counter));
        let (plan, tally, phases) = (Arc::clone(plan), Arc::clone(tally), phases.clone());
        workers.push(spawn_worker(index, move || {
            worker(count, open_at_once, spread, plan, phases, tally, counter)
        })?);
    }
    Ok((workers, counters))
}

/// A worker: opens its clients and runs them to the end.
async fn worker(
    count: usize,
    open_at_once: usize,
    spread: Spread,
    plan: Arc<Plan>,
    phases: watch::Receiver<Option<Phases>>,
    tally: Arc<Tally>,
    arrived: Arc<Counter>,
) -> report::WorkerReport {
    let local = Rc::new(Local::new(arrived));
    let gate = Rc::new(Semaphore::new(open_at_once));
    let spread = Rc::new(spread);
    let mut tasks = JoinSet::new();
    for nth in 0..count {
        let (spread, gate) = (Rc::clone(&spread), Rc::clone(&gate));
        let (plan, phases, tally, local) = (
            Arc::clone(&plan),
            phases.clone(),
            Arc::clone(&tally),
            Rc::clone(&local),
        );
        tasks.spawn_local(async move {
            let Some(mut client) = open_client(&gate, spread.dial(nth), &tally).await else {
                return;
            };
            tally.opened(false);
            run_client(&mut client, &plan, phases, &tally, &local).await;
        });
    }
    let all_done = async { while tasks.join_next().await.is_some() {} };
    tokio::select! {
        () = all_done => {}
        () = drain_deadline(phases) => {
            // One timer for the whole worker rather than one polled with
            // every client's every event.
            for _ in 0..tasks.len() {
                tally.failed(format!(
                    "acknowledgements or deliveries still missing {} s after the end",
                    DRAIN_LIMIT.as_secs()
                ));
            }
            tasks.shutdown().await;
        }
    }
    local.report()
}

/// Waits until [`DRAIN_LIMIT`] after the end of the load; forever if the
/// load never starts (the clients then end by themselves).
async fn drain_deadline(mut phases: watch::Receiver<Option<Phases>>) {
    let stop_at = match phases.wait_for(Option::is_some).await {
        Ok(phases) => phases.map(|phases| phases.stop_at),
        Err(_) => None,
    };
    match stop_at {
        Some(stop_at) => tokio::time::sleep_until((stop_at + DRAIN_LIMIT).into()).await,
        None => std::future::pending().await,
    }
}

/// Runs one client: joins the room for a broadcast, waits for the start,
/// runs the load until the end, and closes.
async fn run_client(
    client: &mut Client,
    plan: &Plan,
    mut phases: watch::Receiver<Option<Phases>>,
    tally: &Tally,
    local: &Local,
) {
    if let Some(broadcast) = &plan.broadcast {
        if let Err(why) = join_room(client, &broadcast.room).await {
            tally.failed(why);
            return;
        }
        broadcast.joined.add(1);
    }
    let phases = match phases.wait_for(Option::is_some).await {
        Ok(phases) => *phases,
        // The run was given up before it started.
        Err(_) => return,
    };
    let Some(phases) = phases else { return };
    // The worker stops clients still at work [`DRAIN_LIMIT`] after the end.
    let work = match &plan.broadcast {
        Some(broadcast) => receive_deliveries(client, broadcast, phases, local).await,
        None => round_trips(client, plan, phases, local).await,
    };
    match work {
        Ok(()) => close(&mut client.ws).await,
        Err(why) => tally.failed(why),
    }
}

/// Joins `room` with the `join` event, then waits for the acknowledgement
/// of an `echo` sent after it: a server handles one client's events in
/// order, so the join is done by then.
///
/// Both are sent again, with a new ack id, when no acknowledgement comes
/// within [`JOIN_RETRY`]: a server that runs its connection handler as a
/// task of its own (socketioxide) may confirm the connection before the
/// handler has registered the events, and drop what comes first. Joining
/// twice is harmless.
async fn join_room(client: &mut Client, room: &str) -> Result<(), String> {
    let room = serde_json::to_string(room).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + JOIN_LIMIT;
    for id in 0_u64.. {
        client.feed(format!("42[\"join\",{room}]")).await?;
        client.send(format!("42{id}[\"echo\",\"joined\"]")).await?;
        let ack = format!("43{id}[");
        let wait_until = (Instant::now() + JOIN_RETRY).min(deadline);
        let answered = tokio::time::timeout_at(wait_until.into(), async {
            loop {
                if client.next_packet().await?.starts_with(&ack) {
                    return Ok::<(), String>(());
                }
            }
        })
        .await;
        match answered {
            Ok(result) => return result,
            Err(_) if Instant::now() >= deadline => break,
            Err(_) => {}
        }
    }
    Err(format!(
        "joining the room took over {} s",
        JOIN_LIMIT.as_secs()
    ))
}

/// Keeps `in_flight` `echo` events outstanding until `stop_at`, then waits
/// for the last acknowledgements. Each acknowledgement must carry the
/// argument back.
async fn round_trips(
    client: &mut Client,
    plan: &Plan,
    phases: Phases,
    local: &Local,
) -> Result<(), String> {
    let expected = format!("[{}]", plan.payload);
    // Ids and send times of the outstanding events, oldest first: acks
    // normally come in order, so the match is nearly always the front.
    let mut outstanding: VecDeque<(u64, Instant)> = VecDeque::with_capacity(plan.in_flight);
    let mut next_id: u64 = 0;
    let now = Instant::now();
    for _ in 0..plan.in_flight {
        client.feed_echo(next_id, &plan.payload).await?;
        outstanding.push_back((next_id, now));
        next_id += 1;
    }
    client.ws.flush().await.map_err(|e| failed(&e))?;
    while !outstanding.is_empty() {
        let message = client.next_message().await?;
        let (id, body) = parse_ack(message.as_text().unwrap_or_default())?;
        if body != expected {
            return Err(format!(
                "the acknowledgement of echo {id} carries {}",
                excerpt(body)
            ));
        }
        let at = outstanding
            .iter()
            .position(|&(sent_id, _)| sent_id == id)
            .ok_or_else(|| format!("an acknowledgement for unknown id {id}"))?;
        let Some((_, sent)) = outstanding.remove(at) else {
            continue;
        };
        let now = Instant::now();
        local.arrived();
        if now < phases.stop_at {
            if phases.measures(now) {
                local.record(nanos_between(sent, now));
            }
            client.feed_echo(next_id, &plan.payload).await?;
            outstanding.push_back((next_id, now));
            next_id += 1;
        }
    }
    Ok(())
}

/// Splits an ACK packet `43ID[...]` of the main namespace into its id and
/// its arguments.
fn parse_ack(packet: &str) -> Result<(u64, &str), String> {
    let rest = packet
        .strip_prefix("43")
        .ok_or_else(|| format!("expected an acknowledgement, got {}", excerpt(packet)))?;
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = rest[..digits]
        .parse()
        .map_err(|_| format!("an acknowledgement without an id: {}", excerpt(packet)))?;
    Ok((id, &rest[digits..]))
}

fn nanos_between(from: Instant, to: Instant) -> u64 {
    u64::try_from(to.saturating_duration_since(from).as_nanos()).unwrap_or(u64::MAX)
}

/// A receiver: counts the `blast` events that arrive, timing each from the
/// send time it carries, until `stop_at` and then until none has come for
/// a moment (the last ones on the way).
async fn receive_deliveries(
    client: &mut Client,
    broadcast: &Broadcast,
    phases: Phases,
    local: &Local,
) -> Result<(), String> {
    // Once sending has stopped, a receiver with nothing for this long has
    // had everything.
    const QUIET: Duration = Duration::from_millis(500);
    loop {
        // Read as the message, not copied into a `String`: at millions of
        // deliveries a second the copy is a fair part of the bench's cost.
        let message = if Instant::now() < phases.stop_at {
            match tokio::time::timeout_at(phases.stop_at.into(), client.next_message()).await {
                Ok(message) => message?,
                Err(_) => continue,
            }
        } else {
            match tokio::time::timeout(QUIET, client.next_message()).await {
                Ok(message) => message?,
                Err(_) => return Ok(()),
            }
        };
        let sent = parse_delivery(message.as_text().unwrap_or_default(), phases.start)?;
        let now = Instant::now();
        local.arrived();
        broadcast.delivered.add(1);
        if phases.measures(now) {
            local.record(nanos_between(sent, now));
        }
    }
}

/// The send time a `blast` delivery carries: its argument starts with the
/// nanoseconds from `start` to the publish.
fn parse_delivery(packet: &str, start: Instant) -> Result<Instant, String> {
    let argument = packet
        .strip_prefix("42[\"blast\",\"")
        .ok_or_else(|| format!("expected a blast event, got {}", excerpt(packet)))?;
    let digits = argument.bytes().take_while(u8::is_ascii_digit).count();
    let nanos: u64 = argument[..digits]
        .parse()
        .map_err(|_| format!("a blast without its send time: {}", excerpt(packet)))?;
    Ok(start + Duration::from_nanos(nanos))
}

/// The publisher: one more client per server, not in the room, sending
/// `blast` events in turn until `stop_at`, each with its send time,
/// keeping at most `in_flight` of them undelivered (a blast is delivered
/// once `count` events reached every receiver). Returns how many it sent.
async fn publisher(
    dials: Vec<Dial>,
    plan: Arc<Plan>,
    mut phases: watch::Receiver<Option<Phases>>,
    tally: Arc<Tally>,
) -> u64 {
    let Some(broadcast) = &plan.broadcast else {
        return 0;
    };
    let gate = Semaphore::new(1);
    let mut clients = Vec::with_capacity(dials.len());
    for dial in &dials {
        let Some(client) = open_client(&gate, dial, &tally).await else {
            return 0;
        };
        clients.push(client);
    }
    let phases = match phases.wait_for(Option::is_some).await {
        Ok(phases) => *phases,
        Err(_) => return 0,
    };
    let Some(phases) = phases else { return 0 };
    let room = serde_json::to_string(&broadcast.room).unwrap_or_else(|_| "\"r\"".to_owned());
    let per_blast = u64::from(broadcast.count) * broadcast.receivers;
    let window = u64::try_from(plan.in_flight).unwrap_or(1);
    let padding = plan.payload.trim_matches('"');
    let mut sent: u64 = 0;
    // Whose turn it is to send, and to be read while waiting.
    let (mut turn, mut read_turn) = (0, 0);
    while Instant::now() < phases.stop_at {
        let done = broadcast.delivered.get() / per_blast.max(1);
        if sent >= done + window {
            // Waiting reads, so that pings are answered; nothing else is
            // sent to a client outside the room. Each client is read in
            // turn, none left unread for long.
            let reading = read_turn;
            read_turn = (read_turn + 1) % clients.len();
            let client = &mut clients[reading];
            if let Ok(Err(why)) = tokio::time::timeout(PUBLISH_POLL, client.next_packet()).await {
                tally.failed(why);
                return sent;
            }
            continue;
        }
        let nanos = nanos_between(phases.start, Instant::now());
        let message = format!(
            "42[\"blast\",{room},{},\"{nanos}-{padding}\"]",
            broadcast.count
        );
        let sending = turn;
        turn = (turn + 1) % clients.len();
        let client = &mut clients[sending];
        if let Err(why) = client.send(message).await {
            tally.failed(why);
            return sent;
        }
        sent += 1;
    }
    for client in &mut clients {
        close(&mut client.ws).await;
    }
    sent
}

/// Waits through the warm-up and the measured window, showing the rate
/// each second, and samples the CPU time of both sides, and of the
/// cluster's other processes, at the window's edges.
async fn measure(
    phases: Phases,
    counters: &[Arc<Counter>],
    tally: &Tally,
    (server, members): (Option<Process>, &Members),
    progress: &mut Progress,
) -> (Window, cluster::Usage) {
    const EVERY: Duration = Duration::from_secs(1);
    let mut last = (Instant::now(), 0);
    let mut show = |progress: &mut Progress, what: &str| {
        let now = Instant::now();
        let total = counters.iter().map(|c| c.get()).sum::<u64>();
        let rate = as_f64(total - last.1) / now.duration_since(last.0).as_secs_f64();
        last = (now, total);
        let mut line = format!("{what}: {} events/s", grouped(rate_u64(rate)));
        let failed = tally.failed.load(Ordering::Relaxed);
        if failed > 0 {
            let _ = write!(line, ", {failed} client(s) failed");
        }
        progress.show(&line);
    };
    let mut tick_until = async |deadline: Instant, progress: &mut Progress, what: &str| loop {
        let next = Instant::now() + EVERY;
        if next >= deadline {
            tokio::time::sleep_until(deadline.into()).await;
            return;
        }
        tokio::time::sleep_until(next.into()).await;
        show(progress, what);
    };
    let sample = || -> (_, Vec<Option<CpuSample>>) { (Window::sample(server), members.sample()) };
    tick_until(phases.measure_from, progress, "warm-up").await;
    let ((own_from, server_from, machine_from), cluster_from) = sample();
    tick_until(phases.stop_at, progress, "measuring").await;
    let ((own_to, server_to, machine_to), cluster_to) = sample();
    let window = Window {
        own: (own_from, own_to),
        server: (server_from, server_to),
        machine: (machine_from, machine_to),
    };
    (window, members.usage(&cluster_from, &cluster_to))
}

/// Everything the summary and the JSON line of a load run say.
#[derive(Debug)]
struct Report<'a> {
    args: &'a Args,
    opened: usize,
    errors: usize,
    measured: u64,
    latency: &'a Histogram<u64>,
    cpu: Cpu,
    cluster: &'a cluster::Usage,
    /// With --broadcast: deliveries owed and never received.
    undelivered: Option<u64>,
}

impl Report<'_> {
    fn print(&self) {
        let args = self.args;
        let seconds = args.duration.as_secs_f64();
        let per_second = if seconds > 0.0 {
            as_f64(self.measured) / seconds
        } else {
            0.0
        };
        let bottleneck = Bottleneck::judge(&self.cpu);
        let (scenario, unit, units) = if args.broadcast {
            ("socketio-broadcast", "delivery", "deliveries")
        } else {
            ("socketio-echo", "round trip", "round trips")
        };
        print!("{}", self.summary(per_second, (unit, units), bottleneck));
        let json = serde_json::json!({
            "scenario": scenario,
            "url": args.common.url,
            "more_urls": args.more_urls,
            "clients": args.clients,
            "opened": self.opened,
            "size": args.size,
            "in_flight": args.in_flight,
            "count": args.broadcast.then_some(args.count),
            "threads": args.common.threads,
            "warmup_s": args.warmup.as_secs_f64(),
            "duration_s": seconds,
            "events": self.measured,
            "events_per_s": tenths(per_second),
            "latency_us": report::latency_json(self.latency),
            "cpu": self.cpu.json(per_second, "event"),
            "cluster": self.cluster.json(per_second, "event"),
            "undelivered": self.undelivered,
            "server_rss": self.cpu.server_rss,
            "bottleneck": bottleneck.name(),
            "errors": self.errors,
        });
        println!("{json}");
    }

    /// The human-readable lines.
    fn summary(
        &self,
        per_second: f64,
        (unit, units): (&str, &str),
        bottleneck: Bottleneck,
    ) -> String {
        let args = self.args;
        let mut out = String::new();
        if args.broadcast {
            let _ = writeln!(
                out,
                "socketio broadcast: {} clients in room {:?}, {} events per blast, \
                 {} blast(s) in flight, {} B argument, {:.1} s measured after {:.1} s warm-up, {}",
                args.clients,
                args.room,
                args.count,
                args.in_flight,
                args.size,
                args.duration.as_secs_f64(),
                args.warmup.as_secs_f64(),
                url_list(args),
            );
        } else {
            let _ = writeln!(
                out,
                "socketio round trips: {} clients, {} echo event(s) in flight each, {} B \
                 argument, {:.1} s measured after {:.1} s warm-up, {}",
                args.clients,
                args.in_flight,
                args.size,
                args.duration.as_secs_f64(),
                args.warmup.as_secs_f64(),
                url_list(args),
            );
        }
        let _ = writeln!(
            out,
            "  throughput  {} {units}/s ({} in the window)",
            grouped(rate_u64(per_second)),
            grouped(self.measured)
        );
        report::write_latency(&mut out, report::percentiles(self.latency), "");
        self.cpu.write_lines(&mut out, per_second, unit);
        self.cluster.write_line(&mut out, per_second, unit);
        self.cpu.write_verdict(
            &mut out,
            bottleneck,
            "neither side is CPU-bound: the load waits on latency; more --in-flight or \
             --clients would load the server more",
        );
        if let Some(undelivered) = self.undelivered.filter(|&n| n > 0) {
            let _ = writeln!(
                out,
                "  warning     {} deliveries owed had not arrived when the receivers \
                 stopped (500 ms without one after the window): dropped, or still queued \
                 behind the server's backlog",
                grouped(undelivered)
            );
        }
        report::write_errors(&mut out, self.errors);
        out
    }
}

// ---- idle clients ----

/// Idle clients: reads the server's memory, opens and holds the clients,
/// reads it again, and reports the difference per client.
async fn idle(args: &Args, server: Option<Process>) -> ExitCode {
    let common = &args.common;
    let clients = args.clients as usize;
    let tally = Arc::new(Tally::default());
    let (release_tx, release_rx) = watch::channel(false);
    let before = server.and_then(|s| s.rss_bytes().ok());

    let mut workers = Vec::new();
    for index in 0..usize::from(common.threads) {
        let count = common.share(clients, index);
        let open_at_once = common.open_concurrency_per_worker();
        let spread = Spread::new(args, index);
        let (tally, release) = (Arc::clone(&tally), release_rx.clone());
        match spawn_worker(index, move || {
            idle_worker(count, open_at_once, spread, release, tally)
        }) {
            Ok(rx) => workers.push(rx),
            Err(e) => {
                eprintln!("sockeye: cannot start a worker thread: {}", describe(&e));
                return ExitCode::FAILURE;
            }
        }
    }

    let mut progress = Progress::new();
    let open_time = wait_until_open(&tally, clients, &mut progress).await;
    let opened = tally.opened.load(Ordering::Relaxed);
    progress.show(&format!("holding {opened} clients"));
    tokio::time::sleep(args.hold).await;
    let after = server.and_then(|s| s.rss_bytes().ok());
    let _ = release_tx.send(true);
    progress.show(&format!("closing {opened} clients"));
    for rx in workers {
        if rx.await.is_err() {
            tally.failed("a worker thread stopped".to_owned());
        }
    }
    progress.finish();
    print_idle(args, opened, tally.errors(), open_time, before, after);
    tally.report_errors()
}

/// A worker of the idle mode: opens its clients, holds them (answering
/// pings) until released, closes them.
async fn idle_worker(
    count: usize,
    open_at_once: usize,
    spread: Spread,
    release: watch::Receiver<bool>,
    tally: Arc<Tally>,
) {
    let gate = Rc::new(Semaphore::new(open_at_once));
    let spread = Rc::new(spread);
    let mut tasks = JoinSet::new();
    for nth in 0..count {
        let (gate, spread) = (Rc::clone(&gate), Rc::clone(&spread));
        let (mut release, tally) = (release.clone(), Arc::clone(&tally));
        tasks.spawn_local(async move {
            let Some(mut client) = open_client(&gate, spread.dial(nth), &tally).await else {
                return;
            };
            tally.opened(false);
            let held = async {
                loop {
                    // Only pings come; `next_packet` answers them.
                    if let Err(why) = client.next_packet().await {
                        return why;
                    }
                }
            };
            tokio::select! {
                _ = release.wait_for(|released| *released) => {}
                why = held => {
                    tally.failed(why);
                    return;
                }
            }
            close(&mut client.ws).await;
        });
    }
    while tasks.join_next().await.is_some() {}
}

/// The idle mode's summary and JSON line.
fn print_idle(
    args: &Args,
    opened: usize,
    errors: usize,
    open_time: Duration,
    before: Option<u64>,
    after: Option<u64>,
) {
    let added = before
        .zip(after)
        .map(|(before, after)| as_f64(after) - as_f64(before));
    let per_client = added
        .filter(|_| opened > 0)
        .map(|added| added / as_f64(opened as u64));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "socketio idle: {} clients held {:.1} s, {}",
        args.clients,
        args.hold.as_secs_f64(),
        url_list(args)
    );
    let _ = writeln!(
        out,
        "  opened      {opened} in {:.2} s",
        open_time.as_secs_f64()
    );
    match (before, after, per_client) {
        (Some(before), Some(after), Some(per_client)) => {
            let _ = writeln!(
                out,
                "  server rss  {} before, {} with the clients: {} per client",
                human_bytes(as_f64(before)),
                human_bytes(as_f64(after)),
                human_bytes(per_client)
            );
        }
        _ => {
            let _ = writeln!(out, "  server rss  unknown (give --server-pid)");
        }
    }
    report::write_errors(&mut out, errors);
    print!("{out}");
    let json = serde_json::json!({
        "scenario": "socketio-idle",
        "url": args.common.url,
        "more_urls": args.more_urls,
        "clients": args.clients,
        "opened": opened,
        "open_s": (open_time.as_secs_f64() * 1000.0).round() / 1000.0,
        "server_rss_before": before,
        "server_rss_after": after,
        "bytes_per_client": per_client.map(f64::round),
        "errors": errors,
    });
    println!("{json}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The endpoint URL: `http` becomes `ws`, the default path
    /// `/socket.io/` and the Engine.IO v4 WebSocket query are added, and
    /// what is not a URL is refused.
    #[test]
    fn urls_get_the_engine_io_path_and_query() {
        assert_eq!(
            socketio_url("http://127.0.0.1:3000").as_deref(),
            Ok("ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket")
        );
        assert_eq!(
            socketio_url("https://h/").as_deref(),
            Ok("wss://h/socket.io/?EIO=4&transport=websocket")
        );
        assert_eq!(
            socketio_url("ws://h:1/io/?x=1").as_deref(),
            Ok("ws://h:1/io/?x=1&EIO=4&transport=websocket")
        );
        assert!(socketio_url("ftp://h/").is_err());
        assert!(socketio_url("127.0.0.1:3000").is_err());
        assert!(socketio_url("http:///").is_err());
    }

    /// An ACK packet of `/` (`43ID[...]`) gives its id; other packets, an
    /// ACK without an id, or an id past `u64` are errors.
    #[test]
    fn acks_are_split_into_id_and_arguments() {
        assert_eq!(parse_ack("4312[\"x\"]"), Ok((12, "[\"x\"]")));
        assert!(parse_ack("42[\"x\"]").is_err());
        assert!(parse_ack("43[\"x\"]").is_err());
        assert!(parse_ack("4399999999999999999999[]").is_err());
    }

    /// A `blast` delivery's argument starts with its send time, which the
    /// receiver reads back; other events are errors.
    #[test]
    fn deliveries_carry_their_send_time() {
        let start = Instant::now();
        let sent = parse_delivery("42[\"blast\",\"1500-abc\"]", start);
        assert_eq!(sent, Ok(start + Duration::from_nanos(1500)));
        assert!(parse_delivery("42[\"other\",\"1500\"]", start).is_err());
        assert!(parse_delivery("42[\"blast\",\"abc\"]", start).is_err());
    }

    /// Clients numbered across the workers take the servers in turn: two
    /// workers and two servers put each worker's clients on one server,
    /// three servers on all of them.
    #[test]
    fn clients_take_the_servers_in_turn() {
        let dial = |url: &str| Dial {
            url: url.to_owned(),
            deflate: None,
            max_message_size: 0,
            roots: Arc::from(Vec::new()),
            http2: false,
        };
        let spread = |servers: &[&str], index, workers| Spread {
            dials: servers.iter().map(|url| dial(url)).collect(),
            index,
            workers,
        };
        let urls = |spread: &Spread| -> Vec<String> {
            (0..4).map(|nth| spread.dial(nth).url.clone()).collect()
        };
        assert_eq!(urls(&spread(&["a", "b"], 0, 1)), ["a", "b", "a", "b"]);
        assert_eq!(urls(&spread(&["a", "b"], 1, 2)), ["b", "b", "b", "b"]);
        assert_eq!(urls(&spread(&["a", "b", "c"], 1, 2)), ["b", "a", "c", "b"]);
        assert_eq!(urls(&spread(&["a"], 0, 3)), ["a", "a", "a", "a"]);
    }

    /// Each blast owes `count` events to every receiver; what did not
    /// arrive is counted, and more than owed (none can) counts as none.
    #[test]
    fn deliveries_owed_and_missing_are_counted() {
        let broadcast = Broadcast {
            room: "r".to_owned(),
            count: 10,
            receivers: 4,
            delivered: Counter::default(),
            joined: Counter::default(),
        };
        broadcast.delivered.add(75);
        assert_eq!(broadcast.undelivered(2), 5);
        broadcast.delivered.add(5);
        assert_eq!(broadcast.undelivered(2), 0);
        assert_eq!(broadcast.undelivered(0), 0);
    }

    /// The event argument is a JSON string of the size asked for.
    #[test]
    fn payloads_are_quoted_letters() {
        assert_eq!(quoted_payload(3), "\"abc\"");
        assert_eq!(quoted_payload(0), "\"\"");
    }
}
