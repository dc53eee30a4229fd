//! `sockeye connect`: an interactive client on a terminal, and a client
//! for scripts otherwise (stdin out as messages, messages in on stdout, as
//! lines, raw bytes or JSON lines).
//!
//! The files of this folder are listed in the crate's module map
//! (`main.rs`).

pub(crate) mod client;
pub(crate) mod exit;
mod input;
mod interactive;
mod jsonl;
mod jsonrpc;
mod outgoing;
mod output;
mod reconnect;
mod session;

use crate::args::parse_seconds;
use std::process::ExitCode;
use std::time::Duration;

use self::exit::Outcome;

/// How binary messages are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BinaryFormat {
    /// Lowercase hexadecimal, one message a line.
    Hex,
    /// Standard base64 with padding, one message a line.
    Base64,
    /// The bytes as they are (the default with `--binary`).
    Raw,
}

/// Options of `sockeye connect`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "one field per command-line switch"
)]
pub(crate) struct Args {
    /// The server's URL, `ws://host[:port]/path` or `wss://...`.
    url: String,

    /// Print one JSON object per event on stdout (open, text, binary,
    /// ping, pong, close, error) and read the same shapes on stdin (text,
    /// binary, ping, close); see below.
    #[arg(long, help_heading = "Input and output", conflicts_with_all = ["binary", "nul", "one_message", "binary_format"])]
    jsonl: bool,
    /// Read every text message, sent and received, as JSON-RPC 2.0 and
    /// show what it is: a request (method, id, params), a notification, a
    /// result or an error (with the method of the request it answers,
    /// matched by id, and the round-trip time), each member of a batch;
    /// what is not JSON-RPC is flagged. Lines are sent as they are when
    /// they are JSON; `METHOD [PARAMS]` sends a request with the next id.
    /// With --jsonl, stdin holds these lines too and the events are
    /// {"type":"rpc",...} objects; see below.
    #[arg(long, help_heading = "Input and output", conflicts_with_all = ["binary", "nul"])]
    jsonrpc: bool,
    /// Send stdin as binary messages: each read of up to --chunk-size
    /// bytes is one message (or each line with --lines, or each
    /// NUL-terminated record with -0). Received messages are written raw.
    #[arg(short = 'b', long, help_heading = "Input and output")]
    binary: bool,
    /// With --binary: the largest message a read of stdin becomes, in
    /// bytes. Default 64 KiB, as websocat's buffer: large enough for
    /// throughput, small enough to keep latency and memory low.
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 10,
          value_parser = clap::value_parser!(u32).range(1..=(1 << 30)),
          help_heading = "Input and output")]
    chunk_size: u32,
    /// With --binary: one binary message per stdin line (without its
    /// newline), and a newline after each message printed.
    #[arg(
        long,
        requires = "binary",
        conflicts_with = "nul",
        help_heading = "Input and output"
    )]
    lines: bool,
    /// Messages on stdin and stdout end with a NUL byte instead of a
    /// newline, so they may hold newlines.
    #[arg(short = '0', long = "nul", help_heading = "Input and output")]
    nul: bool,
    /// Read stdin to its end and send it as one message.
    #[arg(long, conflicts_with_all = ["nul", "lines"], help_heading = "Input and output")]
    one_message: bool,
    /// Send MESSAGE instead of reading stdin (repeatable, in order), then
    /// close: at once, or after --wait, or once --max-messages arrived.
    #[arg(
        short = 'x',
        long = "execute",
        value_name = "MESSAGE",
        help_heading = "Input and output"
    )]
    execute: Vec<String>,
    /// Once everything is sent (the end of stdin, or the --execute
    /// messages), keep printing for SECS before closing (sooner if
    /// --max-messages arrived). Default: close at once, or with
    /// --max-messages once they arrived; what comes before the server's
    /// Close is printed either way.
    #[arg(short = 'w', long, value_name = "SECS", value_parser = parse_seconds, help_heading = "Input and output")]
    wait: Option<Duration>,
    /// Close (with 1000) once N messages were received.
    #[arg(short = 'n', long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..),
          help_heading = "Input and output")]
    max_messages: Option<u64>,
    /// How to print binary messages: hex, base64 or raw. Default: raw with
    /// --binary, hex otherwise.
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        help_heading = "Input and output"
    )]
    binary_format: Option<BinaryFormat>,

    #[command(flatten)]
    client: client::ClientArgs,
    /// Send a Ping every SECS (the peer's Pong is timed; see
    /// --print-ping-rtts). Without it, a Ping goes out after 20 s of
    /// silence from the server.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    ping_interval: Option<Duration>,
    /// With --ping-interval: fail (exit status 1) when a Ping gets no Pong
    /// within SECS. Default: no limit.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, requires = "ping_interval")]
    ping_timeout: Option<Duration>,
    /// Print the round-trip time of each Pong on stderr.
    #[arg(long)]
    print_ping_rtts: bool,
    /// Connect again when the connection fails or the server closes it
    /// (not after a close of ours, a TLS failure, a 4xx refusal or Ctrl-C): after a pause
    /// of up to 0.5 s, doubling each attempt up to 30 s, with full jitter;
    /// attempts are shown on stderr. Stdin is read on while down, up to
    /// 64 messages. Not in interactive mode.
    #[arg(long)]
    reconnect: bool,
    /// Interactive mode: print without colours (as when `NO_COLOR` is set).
    #[arg(long)]
    no_color: bool,
}

impl Args {
    /// Whether to run the interactive prompt: stdin and stdout are
    /// terminals and no scripting option is given.
    fn interactive(&self) -> bool {
        !(self.jsonl
            || self.binary
            || self.nul
            || self.one_message
            || !self.execute.is_empty()
            || self.max_messages.is_some())
            && interactive::wanted()
    }

    /// Whether the interactive prompt may use colours.
    fn color(&self) -> bool {
        !self.no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    }
}

/// Shown after the options: the JSON lines, the exit status, the proxy
/// variables.
const AFTER_HELP: &str = "\
Examples:
  sockeye connect ws://127.0.0.1:9001/                   on a terminal: a prompt
  echo hello | sockeye connect ws://127.0.0.1:9001/      send a line, print the answer, close
  sockeye connect -x '{\"op\":\"subscribe\"}' -n 1 --jsonl ws://127.0.0.1:9001/
                                  send a message, print the events as JSON until one message came
  sockeye connect -b ws://127.0.0.1:9001/ < file.bin > answer.bin
                                  stdin as binary messages, the answers written as they came
  sockeye connect --reconnect --ping-interval 5 --print-ping-rtts ws://127.0.0.1:9001/
                                  stay connected, time a Ping every 5 s
  sockeye connect -k wss://localhost:9001/               a server with a self-signed certificate

When stdin and stdout are terminals (and no option above asks for a script),
a prompt opens: lines typed are sent (`>`), messages received are printed above
it (`<`, in colour unless --no-color or NO_COLOR), Up and Down recall earlier
lines. Commands: /ping [TEXT] (shows the round-trip time), /close [CODE
[REASON]], /binary HEX, /quit, /help; //TEXT sends /TEXT. Ctrl-D closes with
1000; Ctrl-C twice quits.

JSON lines (--jsonl), one object a line:
  out: {\"type\":\"open\",\"protocol\":P,\"extensions\":E,\"headers\":{NAME:VALUE}}
       {\"type\":\"text\",\"data\":TEXT}   {\"type\":\"binary\",\"data\":BASE64}
       {\"type\":\"ping\",\"data\":TEXT}   {\"type\":\"pong\",\"data\":TEXT,\"rtt_ms\":MS}
       {\"type\":\"close\",\"code\":CODE,\"reason\":TEXT,\"clean\":BOOL}
       {\"type\":\"error\",\"message\":TEXT}
  in:  {\"type\":\"text\",\"data\":TEXT}   {\"type\":\"binary\",\"data\":BASE64}
       {\"type\":\"ping\",\"data\":TEXT}   {\"type\":\"close\",\"code\":CODE,\"reason\":TEXT}
  A Ping or Pong payload that is not UTF-8 is \"base64\":BASE64 instead of
  \"data\", both ways; rtt_ms comes with the Pong of our last Ping. The
  server's Pings are answered at once.

JSON-RPC (--jsonrpc), one line per message or batch member, `>` sent, `<` received:
  > call #3 subtract [42,23]          < result #3 subtract 19 (0.4 ms)
  < notify update {\"x\":1}             < error #4 divide -32602 \"Invalid params\" (0.3 ms)
  > [1/2] call #5 sum [1,2]           < invalid (not JSON) TEXT
  With --jsonl: {\"type\":\"rpc\",\"direction\":\"out\"|\"in\",\"kind\":K,...} where K is
  request (id, method, params), notification (method, params), result (id,
  result, and method and rtt_ms when its request was seen), error (id, error,
  method, rtt_ms) or invalid (reason, and data: the text); batch members carry
  \"batch\":{\"index\":I,\"size\":N}. Up to 4,096 requests a direction are
  remembered while they wait for their responses.

Exit status:
  0    closed cleanly, with 1000, 1001 or no code
  1    connection failed: unreachable, TLS, proxy, timeout, dropped without a
       close, protocol error, no Pong within --ping-timeout
  2    usage error: bad options or URL, unreadable files, bad input on stdin
       (not UTF-8 without --binary, over --max-message-size, bad JSON)
  3    the server closed with another code (printed on stderr)
  4    the server refused the handshake (its HTTP status printed on stderr)
  130  interrupted (Ctrl-C: the first closes with 1001, the second quits)

Proxy environment variables, used unless --proxy is given:
  HTTPS_PROXY   proxy for wss:// URLs
  HTTP_PROXY    proxy for ws:// URLs (ignored in uppercase when REQUEST_METHOD is set)
  ALL_PROXY     proxy for both when the one above is unset
  NO_PROXY      hosts reached directly: names (covering subdomains), IP addresses,
                networks (10.0.0.0/8), each with an optional :PORT; * for all
Each is also read in lowercase, which comes first.";

/// Connects, then runs a session (interactive, or for a script) until the
/// connection ends, connecting again if `--reconnect` says so; the exit
/// status says how it ended (see [`AFTER_HELP`]).
pub(crate) async fn run(args: Args) -> ExitCode {
    if let Err(outcome) = client::builder(&args.url, &args.client) {
        return outcome.report();
    }
    if args.client.insecure && args.url.starts_with("wss:") {
        eprintln!("sockeye: warning: --insecure: the server's certificate is not verified");
    }
    // Ctrl-C is caught from here on: while connecting it gives up at once.
    let mut interrupts = session::Interrupts::new();
    if args.interactive() {
        return match open(&args, &mut interrupts).await {
            Ok((ws, _)) => interactive::run(ws, args.color(), args.jsonrpc).await,
            Err(outcome) => outcome,
        }
        .report();
    }
    let queue = input::start(
        &args,
        if args.reconnect {
            reconnect::QUEUE
        } else {
            READ_AHEAD
        },
    );
    let mut backoff = reconnect::Backoff::default();
    let mut received = 0;
    loop {
        let why = match open(&args, &mut interrupts).await {
            Ok((ws, response)) => {
                let opened = tokio::time::Instant::now();
                let ended =
                    session::run(&args, ws, &response, &mut interrupts, &queue, &mut received)
                        .await;
                if !args.reconnect || ended.ours || !ended.outcome.retryable() {
                    return ended.outcome.report();
                }
                if opened.elapsed() >= reconnect::STEADY {
                    backoff.reset();
                }
                ended.outcome.why()
            }
            Err(outcome) => {
                if !args.reconnect || !outcome.retryable() {
                    return outcome.report();
                }
                outcome.why()
            }
        };
        if !backoff.pause(&why, &mut interrupts).await {
            return Outcome::Interrupted.report();
        }
    }
}

/// Connects as the options say; Ctrl-C gives up.
async fn open(
    args: &Args,
    interrupts: &mut session::Interrupts,
) -> Result<
    (
        sockeye::WebSocket<sockeye::ClientStream>,
        http::Response<()>,
    ),
    Outcome,
> {
    let builder = client::builder(&args.url, &args.client)?;
    tokio::select! {
        connected = builder.connect() => {
            connected.map_err(|e| Outcome::connect_failed(&args.url, &e))
        }
        () = interrupts.next() => Err(Outcome::Interrupted),
    }
}

/// Messages read from stdin ahead of the sender: few, as each may be up
/// to `--max-message-size`; enough to keep the sender busy.
const READ_AHEAD: usize = 16;
