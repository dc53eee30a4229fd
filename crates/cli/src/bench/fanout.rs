//! `sockeye bench fanout`: one publisher and many receivers against a
//! broadcasting server (`sockeye serve --broadcast`), for deliveries per
//! second, publish-to-delivery latency and the CPU both sides use.
//!
//! Every message starts with its sequence number and the time it was
//! published, in nanoseconds since an instant the bench took when it
//! started (the receivers are all in this process, so they share that
//! clock), and is padded to `--size`:
//!
//! - binary (the default): both as big-endian `u64`s, 16 bytes, then the
//!   bytes `echo --binary` sends;
//! - text (`--text`): both as 16 lowercase hex digits, 32 characters, then
//!   letters.
//!
//! Publishing is a closed loop by default: at most `--in-flight` messages
//! are outstanding, a message being done once every receiver has it (a ring
//! of that many slots, each counting the receivers its message reached). So
//! no receiver falls far enough behind for the server to skip messages.
//! `--rate` publishes at a fixed rate instead, whatever the receivers do.
//! Receivers check that the sequence numbers they see rise by one; a gap is
//! messages the server skipped, counted as such.

use std::fmt::Write as _;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use sockeye::{ClientStream, Message, WebSocket};
use tokio::sync::{Notify, Semaphore, oneshot, watch};
use tokio::task::JoinSet;

use super::procfs::Process;
use super::report::{
    self, Bottleneck, Cpu, Local, Pending, Phases, Window, join_workers, rate_u64, tenths,
};
use super::{
    CHECKED_BYTES, Common, Compression, Counter, Dial, Progress, Tally, as_f64, check_opened,
    close, connect, grouped, parse_size, payload, raise_open_files_limit, spawn_worker,
    wait_until_open,
};
use crate::args::parse_seconds;
use crate::{EXIT_USAGE, describe};

/// Options of `sockeye bench fanout`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    common: Common,
    /// Receiving connections to open; the publisher's is one more, opened
    /// once they all are.
    #[arg(short = 'r', long, value_name = "N", default_value_t = 1000)]
    receivers: usize,
    /// Message size in bytes, header included: at least 16, or 32 with
    /// --text. k and m suffixes are powers of 1024 (64k, 1MiB).
    #[arg(short = 's', long, value_name = "BYTES", default_value = "16", value_parser = parse_size)]
    size: usize,
    /// Messages outstanding: published and not yet received by every
    /// receiver. One more is published as each is done. At most 1024, the
    /// server's broadcast backlog, so that it never has to skip any.
    #[arg(short = 'n', long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    in_flight: u32,
    /// Publish N messages a second whatever the receivers do (open loop)
    /// instead of keeping --in-flight outstanding. The server may then skip
    /// messages for receivers that fall behind; they are counted.
    #[arg(long, value_name = "N", conflicts_with = "in_flight", value_parser = clap::value_parser!(u32).range(1..))]
    rate: Option<u32>,
    /// Send text messages (a hex header) instead of binary.
    #[arg(long)]
    text: bool,
    /// Seconds measured, after the warm-up.
    #[arg(short = 'd', long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    duration: Duration,
    /// Seconds of load before measuring starts.
    #[arg(short = 'w', long, value_name = "SECS", default_value = "2", value_parser = parse_seconds)]
    warmup: Duration,
    #[command(flatten)]
    compression: Compression,
}

/// How long after the publisher stops the receivers may wait for the last
/// messages.
const DRAIN_LIMIT: Duration = Duration::from_secs(5);

/// How long the run may go without a single delivery before it is given
/// up: the server is not broadcasting, or has stalled.
const STALL_LIMIT: Duration = Duration::from_secs(5);

/// How often the main task checks on the run.
const POLL: Duration = Duration::from_millis(50);

/// The header of a binary message: sequence number and send time, each a
/// big-endian `u64`.
const BINARY_HEADER: usize = 16;

/// The header of a text message: both as 16 hex digits.
const TEXT_HEADER: usize = 32;

/// The most messages an open-loop publisher sends at once when it has
/// fallen behind its rate.
const RATE_BATCH: u64 = 1024;

/// Why the run was given up, for the user: the server does not fan out.
const NOT_BROADCASTING: &str = "is the server running with --broadcast?";

/// How the messages are laid out: kind, header, and the padding after it.
#[derive(Debug)]
enum Format {
    /// Sequence number and send time as big-endian `u64`s, then padding.
    Binary {
        /// The bytes after the header.
        padding: Bytes,
    },
    /// Sequence number and send time as 16 hex digits each, then padding.
    Text {
        /// The characters after the header.
        padding: String,
    },
}

/// What a message's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    /// The message's sequence number, from 0.
    seq: u64,
    /// When it was published, in nanoseconds since the bench's epoch.
    sent_ns: u64,
}

impl Format {
    /// Messages of `size` bytes, text or binary, or why not.
    fn new(size: usize, text: bool) -> Result<Self, String> {
        let header = if text { TEXT_HEADER } else { BINARY_HEADER };
        if size < header {
            return Err(format!(
                "--size must be at least {header} bytes for {} messages (their header)",
                kind(text)
            ));
        }
        let body = payload(size, !text);
        Ok(if text {
            let padding = body.as_text().unwrap_or_default()[header..].to_owned();
            Format::Text { padding }
        } else {
            Format::Binary {
                padding: body.into_payload().slice(header..),
            }
        })
    }

    fn is_text(&self) -> bool {
        matches!(self, Format::Text { .. })
    }

    /// The header's length and the padding's bytes.
    fn parts(&self) -> (usize, &[u8]) {
        match self {
            Format::Binary { padding } => (BINARY_HEADER, padding),
            Format::Text { padding } => (TEXT_HEADER, padding.as_bytes()),
        }
    }

    /// The message with this stamp.
    fn message(&self, stamp: Stamp) -> Message {
        match self {
            Format::Binary { padding } => {
                let mut bytes = Vec::with_capacity(BINARY_HEADER + padding.len());
                bytes.extend_from_slice(&stamp.seq.to_be_bytes());
                bytes.extend_from_slice(&stamp.sent_ns.to_be_bytes());
                bytes.extend_from_slice(padding);
                Message::binary(bytes)
            }
            Format::Text { padding } => {
                let mut text = String::with_capacity(TEXT_HEADER + padding.len());
                let _ = write!(text, "{:016x}{:016x}", stamp.seq, stamp.sent_ns);
                text.push_str(padding);
                Message::text(text)
            }
        }
    }

    /// The stamp of a message received, checked to be one the publisher
    /// sent: same kind, same size, same last bytes.
    fn read(&self, message: &Message) -> Result<Stamp, String> {
        if message.is_text() != self.is_text() {
            return Err(format!(
                "a {} message arrived where {} ones are published",
                kind(message.is_text()),
                kind(self.is_text())
            ));
        }
        let (header, padding) = self.parts();
        let bytes = message.payload();
        if bytes.len() != header + padding.len() {
            return Err(format!(
                "a message of {} bytes arrived where {} are published",
                bytes.len(),
                header + padding.len()
            ));
        }
        let edge = CHECKED_BYTES.min(padding.len());
        if bytes[bytes.len() - edge..] != padding[padding.len() - edge..] {
            return Err("a message arrived with other bytes than were published".to_owned());
        }
        let stamp = if self.is_text() {
            let hex = |range: std::ops::Range<usize>| {
                let digits = std::str::from_utf8(bytes.get(range)?).ok()?;
                digits
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())
                    .then(|| u64::from_str_radix(digits, 16).ok())?
            };
            hex(0..16).zip(hex(16..32))
        } else {
            let word = |range: std::ops::Range<usize>| {
                Some(u64::from_be_bytes(bytes.get(range)?.try_into().ok()?))
            };
            word(0..8).zip(word(8..16))
        };
        stamp
            .map(|(seq, sent_ns)| Stamp { seq, sent_ns })
            .ok_or_else(|| "a message arrived with a header the bench did not write".to_owned())
    }
}

/// "text" or "binary".
fn kind(text: bool) -> &'static str {
    if text { "text" } else { "binary" }
}

/// How the publisher paces itself.
#[derive(Clone, Copy, Debug)]
enum Pacing {
    /// Closed loop: at most this many messages outstanding.
    Window(u64),
    /// Open loop: this many messages a second.
    Rate(u32),
}

/// One outstanding message of the closed loop: its sequence number and how
/// many receivers have it, alone on its cache line.
#[derive(Debug)]
#[repr(align(128))]
struct Slot {
    seq: AtomicU64,
    acks: AtomicUsize,
}

/// The cue for the receivers to finish: how many messages were published,
/// and until when the missing ones may still arrive.
#[derive(Clone, Copy, Debug)]
struct Finish {
    published: u64,
    deadline: Instant,
}

/// What the publisher, the receivers and the main task share.
#[derive(Debug)]
struct Shared {
    format: Format,
    /// The instant send times count from.
    epoch: Instant,
    /// Closed loop: one slot per outstanding message, message `seq` in slot
    /// `seq % window`. Empty in the open loop.
    slots: Box<[Slot]>,
    /// How many slots there are, as a sequence number's type.
    window: u64,
    /// Receivers open and reading: the acknowledgements a message needs.
    live: AtomicUsize,
    /// Wakes the publisher: a message is done, a receiver gone, the run
    /// given up.
    wake: Notify,
    /// Set by the publisher once open, before it publishes anything.
    phases: OnceLock<Phases>,
    /// Whether the run was given up.
    aborted: AtomicBool,
    /// Why, the first reason given.
    abort_reason: Mutex<Option<String>>,
    /// Set when the publisher stops or the run is given up.
    finish: watch::Sender<Option<Finish>>,
    /// Messages the server skipped, summed over receivers.
    skipped: Counter,
}

impl Shared {
    fn new(format: Format, pacing: Pacing) -> Self {
        let window = match pacing {
            Pacing::Window(window) => window,
            Pacing::Rate(_) => 0,
        };
        let slots = (0..window)
            .map(|_| Slot {
                seq: AtomicU64::new(u64::MAX),
                acks: AtomicUsize::new(0),
            })
            .collect();
        Shared {
            format,
            epoch: Instant::now(),
            slots,
            window,
            live: AtomicUsize::new(0),
            wake: Notify::new(),
            phases: OnceLock::new(),
            aborted: AtomicBool::new(false),
            abort_reason: Mutex::new(None),
            finish: watch::Sender::new(None),
            skipped: Counter::default(),
        }
    }

    /// Nanoseconds from the epoch to `at`.
    fn since_epoch(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The slot of message `seq`, in the closed loop.
    fn slot(&self, seq: u64) -> Option<&Slot> {
        let index = usize::try_from(seq.checked_rem(self.window)?).ok()?;
        self.slots.get(index)
    }

    /// Readies message `seq`'s slot, before it is sent.
    fn publishing(&self, seq: u64) {
        if let Some(slot) = self.slot(seq) {
            slot.acks.store(0, Ordering::Relaxed);
            slot.seq.store(seq, Ordering::Release);
        }
    }

    /// Notes that a receiver has message `seq` (or had it skipped), and
    /// wakes the publisher if that makes the message done.
    fn ack(&self, seq: u64) {
        let Some(slot) = self.slot(seq) else { return };
        if slot.seq.load(Ordering::Acquire) != seq {
            return;
        }
        let acks = slot.acks.fetch_add(1, Ordering::AcqRel) + 1;
        if acks >= self.live.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    /// Whether every live receiver has message `seq`.
    fn done(&self, seq: u64) -> bool {
        self.slot(seq).is_none_or(|slot| {
            slot.seq.load(Ordering::Acquire) == seq
                && slot.acks.load(Ordering::Acquire) >= self.live.load(Ordering::Acquire)
        })
    }

    fn receiver_opened(&self) {
        self.live.fetch_add(1, Ordering::AcqRel);
    }

    /// A receiver stopped reading: messages no longer wait for it.
    fn receiver_gone(&self) {
        self.live.fetch_sub(1, Ordering::AcqRel);
        self.wake.notify_one();
    }

    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// Gives the run up: the publisher stops, the receivers close at once.
    fn give_up(&self, why: String) {
        self.abort_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(why);
        self.aborted.store(true, Ordering::Release);
        let now = Instant::now();
        self.finish.send_modify(|finish| {
            *finish = Some(Finish {
                published: finish.map_or(0, |f| f.published),
                deadline: now,
            });
        });
        self.wake.notify_one();
    }

    fn abort_reason(&self) -> Option<String> {
        self.abort_reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Tells the receivers how many messages to wait for, unless the run
    /// was given up already.
    fn finish(&self, published: u64, deadline: Instant) {
        self.finish.send_if_modified(|finish| {
            let first = finish.is_none();
            if first {
                *finish = Some(Finish {
                    published,
                    deadline,
                });
            }
            first
        });
    }
}

/// How many messages the publisher sent.
#[derive(Clone, Copy, Debug, Default)]
struct Published {
    /// From start to end.
    total: u64,
    /// Sent in the measured window.
    measured: u64,
}

/// The publisher, a task of the first worker: waits until the receivers
/// are open, opens its connection, publishes until the end.
#[derive(Debug)]
struct Publisher {
    /// The main task's word that the receivers are open.
    go: oneshot::Receiver<()>,
    /// The phases once open, or why it could not open.
    opened: oneshot::Sender<Result<Phases, String>>,
    /// What it published, at the end.
    done: oneshot::Sender<Published>,
    /// Messages published, for the progress line.
    counter: Arc<Counter>,
    pacing: Pacing,
    warmup: Duration,
    duration: Duration,
}

impl Publisher {
    async fn run(self, dial: Rc<Dial>, shared: Arc<Shared>) {
        if self.go.await.is_err() {
            return;
        }
        let mut ws = match dial.builder().connect().await {
            Ok((ws, _)) => ws,
            Err(e) => {
                let _ = self
                    .opened
                    .send(Err(format!("cannot connect: {}", describe(&e))));
                return;
            }
        };
        let phases = Phases::starting_now(self.warmup, self.duration);
        let _ = shared.phases.set(phases);
        if self.opened.send(Ok(phases)).is_err() {
            return;
        }
        let mut outbox = Outbox {
            ws: &mut ws,
            shared: &shared,
            phases,
            counter: &self.counter,
            published: Published::default(),
        };
        let result = match self.pacing {
            Pacing::Window(window) => outbox.window(window).await,
            Pacing::Rate(rate) => outbox.rate(rate).await,
        };
        let published = outbox.published;
        match result {
            Ok(()) => shared.finish(
                published.total,
                Instant::now().max(phases.stop_at) + DRAIN_LIMIT,
            ),
            Err(why) => shared.give_up(why),
        }
        close(&mut ws).await;
        let _ = self.done.send(published);
    }
}

/// The publisher's connection and counts while it publishes.
struct Outbox<'a> {
    ws: &'a mut WebSocket<ClientStream>,
    shared: &'a Shared,
    phases: Phases,
    counter: &'a Counter,
    published: Published,
}

impl Outbox<'_> {
    /// Queues the next message, stamped now; it leaves at the next flush.
    async fn feed(&mut self) -> Result<(), String> {
        let seq = self.published.total;
        self.shared.publishing(seq);
        let now = Instant::now();
        let message = self.shared.format.message(Stamp {
            seq,
            sent_ns: self.shared.since_epoch(now),
        });
        self.ws
            .feed(message)
            .await
            .map_err(|e| publisher_failed(&e))?;
        self.published.total += 1;
        if self.phases.measures(now) {
            self.published.measured += 1;
        }
        self.counter.add(1);
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.ws.flush().await.map_err(|e| publisher_failed(&e))
    }

    /// Waits until woken or `until`; fails if the server sends anything,
    /// which a broadcasting server never does to the publisher.
    async fn wait(&mut self, until: Instant) -> Result<(), String> {
        tokio::select! {
            biased;
            () = self.shared.wake.notified() => Ok(()),
            () = tokio::time::sleep_until(until.into()) => Ok(()),
            got = self.ws.next() => Err(unexpected(got)),
        }
    }

    /// The closed loop: keeps `window` messages outstanding until the end.
    async fn window(&mut self, window: u64) -> Result<(), String> {
        let mut oldest = 0;
        loop {
            let next = self.published.total;
            while oldest < next && self.shared.done(oldest) {
                oldest += 1;
            }
            if self.shared.aborted() || Instant::now() >= self.phases.stop_at {
                return Ok(());
            }
            let room = window - (next - oldest);
            if room == 0 {
                self.wait(self.phases.stop_at).await?;
                continue;
            }
            for _ in 0..room {
                self.feed().await?;
            }
            self.flush().await?;
        }
    }

    /// The open loop: `rate` messages a second until the end, the first at
    /// the start.
    async fn rate(&mut self, rate: u32) -> Result<(), String> {
        let start = self.phases.start;
        loop {
            let now = Instant::now();
            if self.shared.aborted() || now >= self.phases.stop_at {
                return Ok(());
            }
            let due = due_by(now.duration_since(start), rate);
            let next = self.published.total;
            if due > next {
                for _ in next..due.min(next + RATE_BATCH) {
                    self.feed().await?;
                }
                self.flush().await?;
            }
            let next_at = start + time_of(self.published.total, rate);
            self.wait(next_at.min(self.phases.stop_at)).await?;
        }
    }
}

/// How many messages are due `elapsed` after the start at `rate` a second,
/// the first at the start.
fn due_by(elapsed: Duration, rate: u32) -> u64 {
    let due = elapsed.as_nanos() * u128::from(rate) / 1_000_000_000;
    u64::try_from(due).unwrap_or(u64::MAX).saturating_add(1)
}

/// When message `seq` is due, after the start, at `rate` a second.
fn time_of(seq: u64, rate: u32) -> Duration {
    let nanos = u128::from(seq) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

fn publisher_failed(e: &sockeye::Error) -> String {
    format!("the publisher's connection failed: {}", describe(e))
}

/// Why the run stops when the publisher hears from the server.
fn unexpected(got: Option<sockeye::Result<Message>>) -> String {
    match got {
        Some(Ok(_)) => format!(
            "the server sent the publisher a message, as an echo server does: {NOT_BROADCASTING}"
        ),
        Some(Err(e)) => publisher_failed(&e),
        None => "the server closed the publisher's connection".to_owned(),
    }
}

/// What a receiver has seen.
#[derive(Debug, Default)]
struct Track {
    /// The sequence number it expects next.
    next: u64,
}

impl Track {
    /// Takes what the connection yielded: checks it, counts it, times it.
    fn take(
        &mut self,
        got: Option<sockeye::Result<Message>>,
        shared: &Shared,
        local: &Local,
    ) -> Result<(), String> {
        let message = match got {
            Some(Ok(message)) => message,
            Some(Err(e)) => return Err(format!("connection failed: {}", describe(&e))),
            None => return Err("the server closed the connection during the run".to_owned()),
        };
        let now = Instant::now();
        let stamp = shared.format.read(&message)?;
        if stamp.seq < self.next {
            return Err(format!(
                "message {} arrived after message {}: out of order or repeated",
                stamp.seq,
                self.next - 1
            ));
        }
        if stamp.seq > self.next {
            shared.skipped.add(stamp.seq - self.next);
            // Skipped messages are done for this receiver; only the last
            // window of them can still be outstanding.
            let from = stamp.seq.saturating_sub(shared.window).max(self.next);
            for seq in from..stamp.seq {
                shared.ack(seq);
            }
        }
        self.next = stamp.seq.saturating_add(1);
        shared.ack(stamp.seq);
        local.arrived();
        if shared.phases.get().is_some_and(|p| p.measures(now)) {
            local.record(shared.since_epoch(now).saturating_sub(stamp.sent_ns));
        }
        Ok(())
    }
}

/// Reads one receiver's messages until the publisher has stopped and all
/// it published arrived (or the run was given up).
async fn receive(
    ws: &mut WebSocket<ClientStream>,
    shared: &Shared,
    local: &Local,
) -> Result<(), String> {
    let mut track = Track::default();
    let mut finish_rx = shared.finish.subscribe();
    // Made once: a new wait per message would register and drop a waiter
    // each time.
    let first = {
        let announced = finish_rx.wait_for(Option::is_some);
        tokio::pin!(announced);
        loop {
            tokio::select! {
                biased;
                got = ws.next() => track.take(got, shared, local)?,
                finish = &mut announced => break finish.ok().and_then(|f| *f),
            }
        }
    };
    let Some(mut finish) = first else {
        return Ok(());
    };
    // The last messages, and a later word that the run was given up.
    loop {
        if shared.aborted() || track.next >= finish.published {
            return Ok(());
        }
        tokio::select! {
            biased;
            changed = finish_rx.changed() => match changed {
                Ok(()) => finish = finish_rx.borrow_and_update().unwrap_or(finish),
                Err(_) => return Ok(()),
            },
            got = ws.next() => track.take(got, shared, local)?,
            () = tokio::time::sleep_until(finish.deadline.into()) => {
                if shared.aborted() {
                    return Ok(());
                }
                return Err(format!(
                    "{} message(s) still missing {} s after the publisher stopped",
                    finish.published - track.next,
                    DRAIN_LIMIT.as_secs()
                ));
            }
        }
    }
}

/// What a worker needs.
#[derive(Debug)]
struct WorkerJob {
    /// Receivers it opens.
    count: usize,
    open_at_once: usize,
    dial: Dial,
    shared: Arc<Shared>,
    tally: Arc<Tally>,
    delivered: Arc<Counter>,
    /// For the first worker only.
    publisher: Option<Publisher>,
}

/// A worker: opens its receivers (and the first worker, the publisher once
/// told to) and runs them to the end.
async fn worker(job: WorkerJob) -> report::WorkerReport {
    let WorkerJob {
        count,
        open_at_once,
        dial,
        shared,
        tally,
        delivered,
        publisher,
    } = job;
    let local = Rc::new(Local::new(delivered));
    let dial = Rc::new(dial);
    let publisher =
        publisher.map(|p| tokio::task::spawn_local(p.run(Rc::clone(&dial), Arc::clone(&shared))));
    let gate = Rc::new(Semaphore::new(open_at_once));
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let (dial, gate, local) = (Rc::clone(&dial), Rc::clone(&gate), Rc::clone(&local));
        let (shared, tally) = (Arc::clone(&shared), Arc::clone(&tally));
        tasks.spawn_local(async move {
            let Some(mut ws) = connect(&gate, &dial, &tally).await else {
                return;
            };
            // Counted live before open, so the publisher never starts
            // without it.
            shared.receiver_opened();
            tally.opened(ws.deflate().is_some());
            let received = receive(&mut ws, &shared, &local).await;
            shared.receiver_gone();
            match received {
                Ok(()) => close(&mut ws).await,
                Err(why) => tally.failed(why),
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    if let Some(publisher) = publisher {
        let _ = publisher.await;
    }
    local.report()
}

/// Starts the workers, each with its share of the receivers, the first
/// with the publisher. Returns their reports to come and their delivery
/// counters.
fn start_workers(
    args: &Args,
    shared: &Arc<Shared>,
    tally: &Arc<Tally>,
    publisher: Publisher,
) -> std::io::Result<(Vec<Pending>, Vec<Arc<Counter>>)> {
    let common = &args.common;
    let mut publisher = Some(publisher);
    let mut counters = Vec::new();
    let mut workers = Vec::new();
    for index in 0..usize::from(common.threads) {
        let delivered = Arc::new(Counter::default());
        counters.push(Arc::clone(&delivered));
        let job = WorkerJob {
            count: common.share(args.receivers, index),
            open_at_once: common.open_concurrency_per_worker(),
            dial: common.dial(args.compression, args.size),
            shared: Arc::clone(shared),
            tally: Arc::clone(tally),
            delivered,
            publisher: publisher.take(),
        };
        workers.push(spawn_worker(index, move || worker(job))?);
    }
    Ok((workers, counters))
}

/// The counters the main task watches.
#[derive(Debug)]
struct Counters {
    /// Deliveries, one counter per worker.
    delivered: Vec<Arc<Counter>>,
    published: Arc<Counter>,
}

impl Counters {
    fn delivered(&self) -> u64 {
        self.delivered.iter().map(|c| c.get()).sum()
    }
}

/// Runs `sockeye bench fanout`.
pub(crate) async fn run(args: Args) -> ExitCode {
    let common = &args.common;
    let server = match common.server() {
        Ok(server) => server,
        Err(code) => return code,
    };
    let format = match checked_format(&args) {
        Ok(format) => format,
        Err(code) => return code,
    };
    raise_open_files_limit(args.receivers + 1);
    let pacing = match args.rate {
        Some(rate) => Pacing::Rate(rate),
        None => Pacing::Window(u64::from(args.in_flight)),
    };
    let shared = Arc::new(Shared::new(format, pacing));
    let tally = Arc::new(Tally::default());
    let (go_tx, go) = oneshot::channel();
    let (opened, opened_rx) = oneshot::channel();
    let (done, done_rx) = oneshot::channel();
    let published_count = Arc::new(Counter::default());
    let publisher = Publisher {
        go,
        opened,
        done,
        counter: Arc::clone(&published_count),
        pacing,
        warmup: args.warmup,
        duration: args.duration,
    };
    let (workers, delivered) = match start_workers(&args, &shared, &tally, publisher) {
        Ok(started) => started,
        Err(e) => {
            eprintln!("sockeye: cannot start a worker thread: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    let counters = Counters {
        delivered,
        published: published_count,
    };

    let mut progress = Progress::new();
    wait_until_open(&tally, args.receivers, &mut progress).await;
    if let Err(code) = check_opened(&tally, &common.url, &mut progress) {
        return code;
    }
    progress.show("opening the publisher");
    let _ = go_tx.send(());
    let window = match opened_rx.await {
        Ok(Ok(phases)) => measure(phases, &shared, &counters, server, &mut progress).await,
        Ok(Err(why)) => give_up(&shared, format!("the publisher could not open: {why}")),
        Err(_) => give_up(&shared, "the publisher stopped before it opened".to_owned()),
    };
    progress.show("draining and closing");
    let sent = done_rx.await.unwrap_or_default();
    let (latency, measured) = join_workers(workers, &tally).await;
    progress.finish();
    let report = Report {
        args: &args,
        opened: tally.opened.load(Ordering::Relaxed),
        deflated: tally.deflated.load(Ordering::Relaxed),
        published: sent,
        deliveries: measured,
        deliveries_total: counters.delivered(),
        skipped: shared.skipped.get(),
        aborted: shared.abort_reason(),
        errors: tally.errors(),
        latency: &latency,
        cpu: window.cpu(server, common.threads),
    };
    report.print();
    if let Some(why) = &report.aborted {
        eprintln!("sockeye: {why}");
        let _ = tally.report_errors();
        return ExitCode::FAILURE;
    }
    tally.report_errors()
}

/// The message format `--size` and `--text` ask for, once the options
/// are checked; a usage error (said on stderr) otherwise.
fn checked_format(args: &Args) -> Result<Format, ExitCode> {
    if args.receivers == 0 {
        eprintln!("sockeye: --receivers must be at least 1");
        return Err(ExitCode::from(EXIT_USAGE));
    }
    Format::new(args.size, args.text).map_err(|why| {
        eprintln!("sockeye: {why}");
        ExitCode::from(EXIT_USAGE)
    })
}

/// Ends the run before anything is measured, for `why`.
fn give_up(shared: &Shared, why: String) -> Window {
    shared.give_up(why);
    Window::default()
}

/// Waits through the warm-up and the measured window, showing the rates
/// each second and sampling CPU time at the window's edges. Gives the run
/// up if nothing is delivered for [`STALL_LIMIT`], or at all.
async fn measure(
    phases: Phases,
    shared: &Shared,
    counters: &Counters,
    server: Option<Process>,
    progress: &mut Progress,
) -> Window {
    const SHOW_EVERY: Duration = Duration::from_secs(1);
    let mut window = Window::default();
    let mut shown = (phases.start, 0, 0);
    let mut next_show = phases.start + SHOW_EVERY;
    let mut last_delivery = (phases.start, 0);
    loop {
        let now = Instant::now();
        if window.own.0.is_none() && now >= phases.measure_from {
            let (own, server, machine) = Window::sample(server);
            (window.own.0, window.server.0, window.machine.0) = (own, server, machine);
        }
        let delivered = counters.delivered();
        if now >= phases.stop_at {
            let (own, server, machine) = Window::sample(server);
            (window.own.1, window.server.1, window.machine.1) = (own, server, machine);
            if delivered == 0 {
                shared.give_up(format!(
                    "no message was delivered in {:.1} s: {NOT_BROADCASTING}",
                    now.duration_since(phases.start).as_secs_f64()
                ));
            }
            return window;
        }
        if shared.aborted() {
            return window;
        }
        if delivered != last_delivery.1 {
            last_delivery = (now, delivered);
        } else if now.duration_since(last_delivery.0) >= STALL_LIMIT {
            shared.give_up(if delivered == 0 {
                format!(
                    "no message was delivered in {} s: {NOT_BROADCASTING}",
                    STALL_LIMIT.as_secs()
                )
            } else {
                format!(
                    "deliveries stopped: none in {} s, after {delivered}",
                    STALL_LIMIT.as_secs()
                )
            });
            return window;
        }
        if now >= next_show {
            next_show += SHOW_EVERY;
            let what = if now < phases.measure_from {
                "warm-up"
            } else {
                "measuring"
            };
            let published = counters.published.get();
            let seconds = now.duration_since(shown.0).as_secs_f64();
            let rate = |count: u64, before: u64| rate_u64(as_f64(count - before) / seconds);
            let mut line = format!(
                "{what}: {} deliveries/s, {} msg/s published",
                grouped(rate(delivered, shown.1)),
                grouped(rate(published, shown.2))
            );
            shown = (now, delivered, published);
            let skipped = shared.skipped.get();
            if skipped > 0 {
                let _ = write!(line, ", {skipped} skipped");
            }
            progress.show(&line);
        }
        let edge = if window.own.0.is_none() {
            phases.measure_from
        } else {
            phases.stop_at
        };
        tokio::time::sleep_until(edge.min(now + POLL).min(next_show).into()).await;
    }
}

/// Everything the summary and the JSON line say.
#[derive(Debug)]
struct Report<'a> {
    args: &'a Args,
    opened: usize,
    deflated: usize,
    published: Published,
    /// Deliveries in the measured window.
    deliveries: u64,
    deliveries_total: u64,
    skipped: u64,
    /// Why the run was given up, if it was.
    aborted: Option<String>,
    /// Connections that failed.
    errors: usize,
    latency: &'a Histogram<u64>,
    cpu: Cpu,
}

/// Rates over the measured window.
#[derive(Clone, Copy, Debug)]
struct Rates {
    deliveries: f64,
    published: f64,
    /// Megabytes of payload delivered a second.
    mb: f64,
}

impl Report<'_> {
    fn rates(&self) -> Rates {
        let seconds = self.args.duration.as_secs_f64();
        if seconds <= 0.0 {
            return Rates {
                deliveries: 0.0,
                published: 0.0,
                mb: 0.0,
            };
        }
        let deliveries = as_f64(self.deliveries) / seconds;
        Rates {
            deliveries,
            published: as_f64(self.published.measured) / seconds,
            mb: deliveries * as_f64(u64::try_from(self.args.size).unwrap_or(u64::MAX)) / 1e6,
        }
    }

    fn print(&self) {
        let args = self.args;
        let rates = self.rates();
        let bottleneck = Bottleneck::judge(&self.cpu);
        print!("{}", self.summary(rates, bottleneck));
        let json = serde_json::json!({
            "scenario": "fanout",
            "url": args.common.url,
            "receivers": args.receivers,
            "opened": self.opened,
            "size": args.size,
            "binary": !args.text,
            "in_flight": args.rate.is_none().then_some(args.in_flight),
            "rate": args.rate,
            "deflate": args.compression.deflate,
            "no_context_takeover": args.compression.no_context_takeover,
            "deflate_negotiated": self.deflated,
            "threads": args.common.threads,
            "warmup_s": args.warmup.as_secs_f64(),
            "duration_s": args.duration.as_secs_f64(),
            "published": self.published.measured,
            "deliveries": self.deliveries,
            "msg_per_s": tenths(rates.published),
            "deliveries_per_s": tenths(rates.deliveries),
            "mb_per_s": (rates.mb * 1000.0).round() / 1000.0,
            "published_total": self.published.total,
            "deliveries_total": self.deliveries_total,
            "skipped": self.skipped,
            "latency_us": report::latency_json(self.latency),
            "cpu": self.cpu.json(rates.deliveries, "delivery"),
            "server_rss": self.cpu.server_rss,
            "bottleneck": bottleneck.name(),
            "errors": self.errors + usize::from(self.aborted.is_some()),
            "aborted": self.aborted,
        });
        println!("{json}");
    }

    /// The human-readable lines.
    fn summary(&self, rates: Rates, bottleneck: Bottleneck) -> String {
        let args = self.args;
        let pacing = match args.rate {
            Some(rate) => format!("{} msg/s offered", grouped(u64::from(rate))),
            None => format!("{} in flight", args.in_flight),
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "fanout: 1 publisher to {} receivers x {} B {}, {pacing}, {:.1} s measured \
             after {:.1} s warm-up, {} thread(s), {}",
            args.receivers,
            args.size,
            kind(args.text),
            args.duration.as_secs_f64(),
            args.warmup.as_secs_f64(),
            args.common.threads,
            args.common.url,
        );
        args.compression
            .write_summary(&mut out, self.deflated, self.opened, "receivers");
        let _ = writeln!(
            out,
            "  deliveries  {}/s, {:.2} MB/s of payload ({} in the window)",
            grouped(rate_u64(rates.deliveries)),
            rates.mb,
            grouped(self.deliveries)
        );
        let _ = writeln!(
            out,
            "  published   {} msg/s ({} in the window), to {} receivers",
            grouped(rate_u64(rates.published)),
            grouped(self.published.measured),
            self.opened
        );
        report::write_latency(
            &mut out,
            report::percentiles(self.latency),
            " (publish to delivery)",
        );
        if self.skipped > 0 {
            let _ = writeln!(
                out,
                "  skipped     {} deliveries: the server dropped messages for receivers \
                 that fell behind",
                grouped(self.skipped)
            );
        }
        self.cpu.write_lines(&mut out, rates.deliveries, "delivery");
        let neither = if args.rate.is_some() {
            "neither side is CPU-bound: a higher --rate or more --receivers would load the \
             server more"
        } else {
            "neither side is CPU-bound: the publisher waits on latency; more --in-flight \
             or --receivers would load the server more"
        };
        self.cpu.write_verdict(&mut out, bottleneck, neither);
        if let Some(why) = &self.aborted {
            let _ = writeln!(out, "  aborted     {why}");
        }
        report::write_errors(&mut out, self.errors);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_survive_both_formats() {
        for text in [false, true] {
            let format = Format::new(100, text).unwrap();
            let stamp = Stamp {
                seq: 123_456_789,
                sent_ns: u64::MAX - 1,
            };
            let message = format.message(stamp);
            assert_eq!(message.is_text(), text);
            assert_eq!(message.len(), 100);
            assert_eq!(format.read(&message), Ok(stamp));
        }
        let text = Format::new(32, true).unwrap().message(Stamp {
            seq: 0x2a,
            sent_ns: 0xff,
        });
        assert_eq!(text.as_text(), Some("000000000000002a00000000000000ff"));
    }

    #[test]
    fn sizes_below_the_header_are_refused() {
        assert!(Format::new(15, false).is_err());
        assert!(Format::new(16, false).is_ok());
        assert!(Format::new(31, true).is_err());
        assert!(Format::new(32, true).is_ok());
    }

    #[test]
    fn foreign_messages_are_caught() {
        let format = Format::new(40, false).unwrap();
        let good = format.message(Stamp { seq: 1, sent_ns: 2 });
        assert!(format.read(&Message::text("x".repeat(40))).is_err());
        assert!(format.read(&Message::binary(vec![0; 39])).is_err());
        let mut bytes = good.payload().to_vec();
        bytes[39] ^= 1;
        assert!(format.read(&Message::binary(bytes)).is_err());
        let text = Format::new(32, true).unwrap();
        assert!(text.read(&Message::text("z".repeat(32))).is_err());
    }

    #[test]
    fn the_closed_loop_waits_for_every_live_receiver() {
        let shared = Shared::new(Format::new(16, false).unwrap(), Pacing::Window(2));
        shared.receiver_opened();
        shared.receiver_opened();
        shared.publishing(0);
        assert!(!shared.done(0));
        shared.ack(0);
        assert!(!shared.done(0));
        shared.ack(0);
        assert!(shared.done(0));
        shared.publishing(1);
        shared.ack(1);
        assert!(!shared.done(1));
        // A receiver that stops no longer holds messages back.
        shared.receiver_gone();
        assert!(shared.done(1));
        // Slot 0 now holds message 2: acks for message 0 do not count.
        shared.publishing(2);
        shared.ack(0);
        assert!(!shared.done(2));
    }

    #[test]
    fn the_open_loop_spreads_messages_over_the_second() {
        assert_eq!(due_by(Duration::ZERO, 1000), 1);
        assert_eq!(due_by(Duration::from_micros(999), 1000), 1);
        assert_eq!(due_by(Duration::from_millis(1), 1000), 2);
        assert_eq!(due_by(Duration::from_secs(2), 3), 7);
        assert_eq!(time_of(0, 1000), Duration::ZERO);
        assert_eq!(time_of(5, 1000), Duration::from_millis(5));
        assert_eq!(time_of(1, 3), Duration::from_nanos(333_333_333));
    }
}
