//! `sockeye bench`: the load generator.
//!
//! Three scenarios, each a subcommand:
//!
//! - `echo`: connections that each keep a number of messages in flight
//!   against an echo server, for throughput, round-trip latency and the CPU
//!   both sides use.
//! - `idle`: many connections opened and held, for the memory the server
//!   spends on each.
//! - `fanout`: one publisher and many receivers against a broadcasting
//!   server (`sockeye serve --broadcast`), for deliveries per second,
//!   publish-to-delivery latency and the CPU both sides use.
//! - `socketio`: a Socket.IO server: event round trips with
//!   acknowledgements, broadcast deliveries to a room, or idle clients.
//!
//! The connections are the `sockeye` client's own, driven by one
//! current-thread runtime per worker thread (`--threads`, default 1, so the
//! server under test keeps the other cores). Each connection is a task that
//! queues its messages with `feed` and lets the next read write them, so the
//! bench pipelines as a batching server expects. `echo` is the exception
//! for `ws://`: once open, a worker's plain TCP connections move to a
//! reactor thread of its own (`sockeye::reactor`), which costs less per
//! echo than a task; over TLS or HTTP/2 they stay tasks. A bench that runs
//! out of CPU first measures itself, not the server: the summary says so
//! when its CPU is near its cores' limit and the server's is not.
//!
//! Output: a progress line on stderr while it runs; on stdout a summary,
//! then one JSON line (the only line that starts with `{`).

mod echo;
mod echo_plan;
mod echo_reactor;
mod fanout;
mod idle;
mod procfs;
mod report;
mod socketio;

use std::fmt::Write as _;
use std::future::Future;
use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sockeye::proto::DeflateConfig;
use sockeye::{ClientBuilder, ClientStream, CloseCode, Message, WebSocket};
use tokio::sync::{Semaphore, oneshot};

use procfs::Process;

use crate::EXIT_USAGE;

/// Options of `sockeye bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples, after `sockeye serve &` (whose process ID the shell keeps in $!):
  sockeye bench echo --server-pid $!               100 connections, one 16-byte text message in flight each
  sockeye bench echo -c 10 -s 64k -n 4 --binary    10 connections, four 64 KiB binary messages in flight each
  sockeye bench idle -c 1000 --server-pid $!       the server's memory per idle connection
  sockeye bench fanout -r 100 ws://127.0.0.1:9002/ against `sockeye serve 127.0.0.1:9002 --broadcast`
  sockeye bench socketio -c 100 -n 16 http://127.0.0.1:3000   Socket.IO event round trips

Each prints a summary and one JSON line on stdout; `sockeye bench SCENARIO --help` lists its options.")]
pub(crate) struct Args {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Debug, clap::Subcommand)]
enum Scenario {
    /// Echo round trips: msg/s, MB/s, latency and the CPU of both sides.
    ///
    /// Each connection keeps --in-flight messages outstanding and sends one
    /// more for each echo. Echoes are checked (kind, size, first and last
    /// bytes), so a broken server cannot look fast. Over `ws://` each
    /// worker drives its connections from an event loop thread of its own,
    /// which reads the clock once per turn: a latency runs from the turn
    /// that sent the message to the turn that read its echo.
    Echo(echo::Args),
    /// Idle connections: the server's memory per connection.
    ///
    /// Opens the connections, holds them, and reads the server's resident
    /// memory before and after from /proc, given --server-pid.
    Idle(idle::Args),
    /// Fan-out: deliveries/s and latency from one publisher to many receivers.
    ///
    /// Needs a broadcasting server (`sockeye serve --broadcast`). Opens the
    /// receivers, then a publisher that keeps --in-flight messages
    /// outstanding until every receiver has them (or publishes at --rate).
    /// Each message carries its sequence number and send time, so receivers
    /// time it and count any the server skipped.
    Fanout(fanout::Args),
    /// Socket.IO: event round trips, broadcast deliveries or idle clients.
    ///
    /// Speaks Engine.IO v4 and Socket.IO v5 (JSON parser) over WebSocket to
    /// a server with the events of sockeye-io's `socketio-bench-server`
    /// example: `echo` acknowledged with its arguments, `join` (room),
    /// `blast` (room, count, payload).
    Socketio(socketio::Args),
}

/// Options every scenario has.
#[derive(Debug, clap::Args)]
struct Common {
    /// The server's URL.
    #[arg(default_value = "ws://127.0.0.1:9001/")]
    url: String,
    /// Worker threads, each with its own single-threaded runtime;
    /// connections are spread over them.
    #[arg(short = 't', long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// The server's process ID, to read its CPU use and memory from /proc.
    #[arg(long, value_name = "PID")]
    server_pid: Option<u32>,
    /// How many connections may be opening (TCP and handshake) at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..))]
    open_concurrency: u16,
    /// For `wss://`: also trust the certificates in this PEM file
    /// (repeatable), such as a test server's self-signed one.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Vec<std::path::PathBuf>,
    /// Open each connection over HTTP/2 (RFC 8441) when the server allows
    /// it: one HTTP/2 connection per WebSocket.
    #[arg(long)]
    http2: bool,
}

/// Runs `sockeye bench`.
pub(crate) async fn run(args: Args) -> ExitCode {
    match args.scenario {
        Scenario::Echo(args) => echo::run(args).await,
        Scenario::Idle(args) => idle::run(args).await,
        Scenario::Fanout(args) => fanout::run(args).await,
        Scenario::Socketio(args) => socketio::run(args).await,
    }
}

/// How long the closing handshake of each connection may take at the end.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

impl Common {
    /// The server process, checked to be readable, or the exit status to
    /// leave with.
    fn server(&self) -> Result<Option<Process>, ExitCode> {
        let Some(pid) = self.server_pid else {
            return Ok(None);
        };
        let server = Process::Pid(pid);
        match server.cpu_ticks().and_then(|_| server.rss_bytes()) {
            Ok(_) => Ok(Some(server)),
            Err(e) => {
                eprintln!("sockeye: cannot read /proc/{pid}: {}", crate::describe(&e));
                Err(ExitCode::from(EXIT_USAGE))
            }
        }
    }

    /// How to open each connection.
    ///
    /// Exits with a usage error if a `--ca` file cannot be read: this runs
    /// before any connection is opened.
    fn dial(&self, compression: Compression, message_size: usize) -> Dial {
        let mut roots = Vec::new();
        for path in &self.ca {
            match sockeye::tls::certificates_from_pem_file(path) {
                Ok(certificates) => roots.extend(certificates),
                Err(e) => {
                    eprintln!(
                        "sockeye: cannot use --ca {}: {}",
                        path.display(),
                        crate::describe(&e)
                    );
                    std::process::exit(i32::from(EXIT_USAGE));
                }
            }
        }
        Dial {
            url: self.url.clone(),
            deflate: compression.config(),
            max_message_size: message_size.max(DEFAULT_MAX_MESSAGE_SIZE),
            roots: roots.into(),
            http2: self.http2,
        }
    }

    /// How many connections worker `index` opens, of `total`.
    fn share(&self, total: usize, index: usize) -> usize {
        let threads = usize::from(self.threads);
        total / threads + usize::from(index < total % threads)
    }

    /// Connections each worker may have opening at once.
    fn open_concurrency_per_worker(&self) -> usize {
        usize::from(self.open_concurrency)
            .div_ceil(usize::from(self.threads))
            .max(1)
    }
}

/// Compression options every scenario has.
#[derive(Clone, Copy, Debug, clap::Args)]
struct Compression {
    /// Offer permessage-deflate (the server decides).
    #[arg(long)]
    deflate: bool,
    /// With --deflate: ask the server to reset its compression window
    /// after each message and promise the same, so that either end may
    /// share one compressor among connections instead of keeping one each.
    #[arg(long, requires = "deflate")]
    no_context_takeover: bool,
}

impl Compression {
    fn config(self) -> Option<DeflateConfig> {
        self.deflate.then(|| DeflateConfig {
            server_no_context_takeover: self.no_context_takeover,
            client_no_context_takeover: self.no_context_takeover,
            ..DeflateConfig::default()
        })
    }

    /// How the summary names it, if offered.
    fn describe(self) -> Option<&'static str> {
        match (self.deflate, self.no_context_takeover) {
            (false, _) => None,
            (true, false) => Some("deflate offered"),
            (true, true) => Some("deflate offered without context takeover"),
        }
    }

    /// The summary's line on compression, if offered: how many of the
    /// `opened` connections (named `what`) agreed to it.
    fn write_summary(self, out: &mut String, deflated: usize, opened: usize, what: &str) {
        if let Some(deflate) = self.describe() {
            let _ = writeln!(
                out,
                "  deflate     {deflate}, negotiated on {deflated} of {opened} {what}"
            );
        }
    }
}

/// The client's default message size limit, raised for larger messages.
const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 << 20;

/// How to open a connection; a [`ClientBuilder`] is used up by `connect`,
/// so each connection gets a fresh one from this.
#[derive(Clone, Debug)]
struct Dial {
    url: String,
    deflate: Option<DeflateConfig>,
    max_message_size: usize,
    /// Trusted for `wss://` besides the default roots.
    roots: Arc<[sockeye::pki_types::CertificateDer<'static>]>,
    http2: bool,
}

impl Dial {
    fn builder(&self) -> ClientBuilder {
        let mut builder = ClientBuilder::new(self.url.as_str())
            .deflate(self.deflate.clone())
            .max_message_size(self.max_message_size)
            .close_timeout(CLOSE_LIMIT)
            .http2(self.http2);
        for root in self.roots.iter() {
            builder = builder.add_root_certificate(root.clone());
        }
        builder
    }
}

/// Raises the soft limit on open files to the hard limit, so that
/// thousands of connections fit, and warns if `connections` still do not.
fn raise_open_files_limit(connections: usize) {
    // Standard streams, the runtime's own descriptors and /proc reads.
    const SPARE: u64 = 64;
    let wanted = u64::try_from(connections).unwrap_or(u64::MAX) + SPARE;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < wanted => eprintln!(
            "sockeye: warning: only {limit} open files allowed (hard limit); \
             {connections} connections need about {wanted}"
        ),
        Ok(_) => {}
        Err(e) => eprintln!(
            "sockeye: warning: cannot raise the open files limit: {}",
            crate::describe(&e)
        ),
    }
}

/// What all connections of a run report, from every worker.
#[derive(Debug, Default)]
struct Tally {
    /// Connections whose opening handshake completed.
    opened: AtomicUsize,
    /// Connections that could not be opened.
    open_failed: AtomicUsize,
    /// Connections on which the server agreed to permessage-deflate.
    deflated: AtomicUsize,
    /// Connections that failed after opening: a wrong echo, a lost
    /// connection, no echo in time.
    failed: AtomicUsize,
    /// The first failure of either kind, to print.
    first_error: Mutex<Option<String>>,
}

impl Tally {
    fn opened(&self, deflate: bool) {
        self.opened.fetch_add(1, Ordering::Relaxed);
        if deflate {
            self.deflated.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn open_failed(&self, why: String) {
        self.open_failed.fetch_add(1, Ordering::Relaxed);
        self.note(why);
    }

    fn failed(&self, why: String) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        self.note(why);
    }

    fn note(&self, why: String) {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(why);
    }

    /// Connections that finished opening, either way.
    fn settled(&self) -> usize {
        self.opened.load(Ordering::Relaxed) + self.open_failed.load(Ordering::Relaxed)
    }

    fn errors(&self) -> usize {
        self.open_failed.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    fn first_error(&self) -> Option<String> {
        self.first_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Prints the errors, if any, and the exit status they call for.
    fn report_errors(&self) -> ExitCode {
        let errors = self.errors();
        if errors == 0 {
            return ExitCode::SUCCESS;
        }
        eprintln!(
            "sockeye: {errors} connection(s) failed ({} to open, {} later); first: {}",
            self.open_failed.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
            self.first_error().unwrap_or_default()
        );
        ExitCode::FAILURE
    }
}

/// A counter one worker increments and the progress line reads, alone on
/// its cache line so that workers do not slow each other down.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Starts a worker thread running `body` on its own current-thread runtime
/// (with a `LocalSet`, so tasks may share `Rc` state). The receiver gets
/// the result, or an error if the thread could not start or panicked.
fn spawn_worker<T, F, Fut>(index: usize, body: F) -> std::io::Result<oneshot::Receiver<T>>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T> + 'static,
{
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(format!("bench-{index}"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(e) => {
                    eprintln!(
                        "sockeye: cannot start worker {index}: {}",
                        crate::describe(&e)
                    );
                    return;
                }
            };
            let local = tokio::task::LocalSet::new();
            let out = local.block_on(&runtime, body());
            let _ = tx.send(out);
        })?;
    Ok(rx)
}

/// The line on stderr that shows how a run goes: rewritten in place on a
/// terminal, one line a second otherwise.
#[derive(Debug)]
struct Progress {
    terminal: bool,
    started: Instant,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        Progress {
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            shown: false,
        }
    }

    fn show(&mut self, text: &str) {
        let elapsed = self.started.elapsed().as_secs_f64();
        if self.terminal {
            eprint!("\r[{elapsed:6.1}s] {text}\x1b[K");
        } else {
            eprintln!("[{elapsed:6.1}s] {text}");
        }
        self.shown = true;
    }

    /// Ends the line, so that what follows starts on its own.
    fn finish(&mut self) {
        if self.terminal && self.shown {
            eprintln!();
        }
        self.shown = false;
    }
}

/// Waits until every connection has finished opening, showing how many
/// have. Returns how long it took.
async fn wait_until_open(tally: &Tally, total: usize, progress: &mut Progress) -> Duration {
    const POLL: Duration = Duration::from_millis(20);
    const SHOW_EVERY: Duration = Duration::from_secs(1);
    let started = Instant::now();
    let mut next_show = started + SHOW_EVERY;
    while tally.settled() < total {
        tokio::time::sleep(POLL).await;
        if Instant::now() >= next_show {
            next_show += SHOW_EVERY;
            let failed = tally.open_failed.load(Ordering::Relaxed);
            let mut line = format!("opening {}/{total}", tally.opened.load(Ordering::Relaxed));
            if failed > 0 {
                let _ = write!(line, " ({failed} failed)");
            }
            progress.show(&line);
        }
    }
    started.elapsed()
}

/// Says so if no connection could be opened, once all have tried, and
/// returns the exit status to leave with then.
fn check_opened(tally: &Tally, url: &str, progress: &mut Progress) -> Result<(), ExitCode> {
    if tally.opened.load(Ordering::Relaxed) > 0 {
        return Ok(());
    }
    progress.finish();
    eprintln!(
        "sockeye: no connection to {url} could be opened: {}",
        tally.first_error().unwrap_or_default()
    );
    Err(ExitCode::FAILURE)
}

/// Opens a connection once `gate` lets it; counts a failure in `tally`.
async fn connect(gate: &Semaphore, dial: &Dial, tally: &Tally) -> Option<WebSocket<ClientStream>> {
    let opened = {
        let _permit = gate.acquire().await;
        dial.builder().connect().await
    };
    match opened {
        Ok((ws, _)) => Some(ws),
        Err(e) => {
            tally.open_failed(format!("cannot connect: {}", crate::describe(&e)));
            None
        }
    }
}

/// Closes a connection, within [`CLOSE_LIMIT`].
async fn close(ws: &mut WebSocket<ClientStream>) {
    if let Ok(Err(e)) = tokio::time::timeout(CLOSE_LIMIT, ws.close(CloseCode::NORMAL, "")).await {
        tracing::debug!(error = %crate::describe(&e), "closing handshake failed");
    }
}

/// A message of `size` deterministic bytes: ASCII letters for text, a
/// fixed pseudo-random sequence for binary.
fn payload(size: usize, binary: bool) -> Message {
    if binary {
        // A linear congruential sequence (Numerical Recipes' constants):
        // the same every run, and no period a server could shortcut.
        let mut state: u32 = 0x5eed;
        let bytes: Vec<u8> = (0..size)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                state.to_be_bytes()[0]
            })
            .collect();
        Message::binary(bytes)
    } else {
        let text: String = (b'a'..=b'z').cycle().take(size).map(char::from).collect();
        Message::text(text)
    }
}

/// How many bytes at each end of a payload are compared: enough to catch a
/// server that answers with the wrong message, without making the bench
/// read every byte of a large one.
const CHECKED_BYTES: usize = 16;

/// Checks that an echo (its kind, `is_text`, and its bytes) is the echo of
/// `sent`: same kind, same size, same bytes at both ends. So a broken
/// server cannot look fast.
fn check_echo(sent: &Message, is_text: bool, echo: &[u8]) -> Result<(), String> {
    if sent.is_text() != is_text {
        let kind = |text: bool| if text { "text" } else { "binary" };
        return Err(format!(
            "a {} message came back as {}",
            kind(sent.is_text()),
            kind(is_text)
        ));
    }
    let sent = sent.payload();
    if sent.len() != echo.len() {
        return Err(format!(
            "a message of {} bytes came back with {} bytes",
            sent.len(),
            echo.len()
        ));
    }
    // A short payload is compared whole, once; a longer one at its ends.
    let same = if sent.len() <= 2 * CHECKED_BYTES {
        sent == echo
    } else {
        let tail = sent.len() - CHECKED_BYTES;
        sent[..CHECKED_BYTES] == echo[..CHECKED_BYTES] && sent[tail..] == echo[tail..]
    };
    if !same {
        return Err("a message came back with different bytes".to_owned());
    }
    Ok(())
}

/// Parses a size in bytes: `16`, `64k`, `64KiB`, `1m`, `1MiB` (k = 1024).
fn parse_size(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: usize = number
        .parse()
        .map_err(|_| format!("not a size: {text:?}"))?;
    let unit = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        _ => return Err(format!("unknown unit in {text:?} (use k or m)")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("too large: {text:?}"))
}

/// `n` as a float, for rates and averages.
#[expect(
    clippy::cast_precision_loss,
    reason = "counts and byte totals far below 2^52, reported as rates"
)]
pub(crate) fn as_f64(n: u64) -> f64 {
    n as f64
}

/// `n` with a comma every three digits.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut text = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(c);
    }
    text
}

/// A byte count in KiB or MiB.
fn human_bytes(bytes: f64) -> String {
    if bytes.abs() >= f64::from(1 << 20) {
        format!("{:.1} MiB", bytes / f64::from(1 << 20))
    } else if bytes.abs() >= f64::from(1 << 10) {
        format!("{:.1} KiB", bytes / f64::from(1 << 10))
    } else {
        format!("{bytes:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("16"), Ok(16));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("1 m"), Ok(1 << 20));
        assert!(parse_size("1g").is_err());
        assert!(parse_size("k").is_err());
    }

    #[test]
    fn payloads_are_deterministic_and_of_the_size_asked() {
        let text = payload(30, false);
        assert_eq!(text.as_text(), Some("abcdefghijklmnopqrstuvwxyzabcd"));
        let binary = payload(1000, true);
        assert!(binary.is_binary());
        assert_eq!(binary.len(), 1000);
        assert_eq!(binary, payload(1000, true));
        assert!(payload(0, true).is_empty());
    }

    #[test]
    fn wrong_echoes_are_caught() {
        let sent = payload(100, true);
        assert_eq!(
            check_echo(&sent, true, sent.payload()),
            Err("a binary message came back as text".to_owned())
        );
        assert_eq!(check_echo(&sent, sent.is_text(), sent.payload()), Ok(()));
        assert!(check_echo(&sent, false, payload(99, true).payload()).is_err());
        assert!(check_echo(&payload(4, false), false, b"abcd").is_err());
        let mut bytes = sent.payload().to_vec();
        bytes[99] ^= 1;
        assert!(check_echo(&sent, false, &bytes).is_err());
        let empty = payload(0, false);
        assert_eq!(check_echo(&empty, true, b""), Ok(()));
    }

    /// The summary names the compression offered and how many agreed to
    /// it, and says nothing of compression when none was offered.
    #[test]
    fn the_deflate_line_appears_only_when_offered() {
        let mut out = String::new();
        let off = Compression {
            deflate: false,
            no_context_takeover: false,
        };
        off.write_summary(&mut out, 0, 5, "connections");
        assert_eq!(out, "");
        let on = Compression {
            deflate: true,
            no_context_takeover: true,
        };
        on.write_summary(&mut out, 3, 5, "receivers");
        assert_eq!(
            out,
            "  deflate     deflate offered without context takeover, \
             negotiated on 3 of 5 receivers\n"
        );
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }

    #[test]
    fn connections_are_spread_over_workers() {
        let common = Common {
            url: String::new(),
            threads: 3,
            server_pid: None,
            open_concurrency: 64,
            ca: Vec::new(),
            http2: false,
        };
        let shares: Vec<usize> = (0..3).map(|i| common.share(10, i)).collect();
        assert_eq!(shares, [4, 3, 3]);
        assert_eq!(common.open_concurrency_per_worker(), 22);
    }
}
