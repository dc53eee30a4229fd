//! `sockeye rpc URL METHOD [PARAMS_JSON]`: one JSON-RPC 2.0 call over a
//! WebSocket (or a notification, or a batch read from a file), its
//! answer printed as JSON on stdout and its outcome in the exit status.
//!
//! The connection is a `sockeye_rpc` peer serving no methods: while the
//! call waits, the server's Pings are answered and any call the server
//! makes back is answered with -32601 (Method not found).
//!
//! - `mod.rs`: the flags (`Args`), `run`, the exit statuses.
//! - `request.rs`: `PARAMS_JSON` and the `--batch` file read and checked
//!   (`structured`, which `connect --jsonrpc` checks typed params with).

mod request;

pub(crate) use request::structured;

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::value::RawValue;
use sockeye::CloseCode;
use sockeye_rpc::{CallError, Config, Methods, Peer};

use crate::EXIT_USAGE;
use crate::args::parse_seconds;
use crate::connect::client::{self, ClientArgs};
use crate::connect::exit::Outcome;
use crate::json_text;

/// Exit status when the server answered with an error object.
const EXIT_ERROR_ANSWER: u8 = 3;

/// Exit status when no answer came within `--timeout`.
const EXIT_TIMEOUT: u8 = 5;

/// How long the closing handshake may take once the answer is in: the
/// answer is printed already, so the command should not linger on a
/// server slow to close; sockeye's own close timeout (5 s) is longer.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// Options of `sockeye rpc`.
#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// The server's URL, `ws://host[:port]/path` or `wss://...`.
    url: String,
    /// The method to call.
    #[arg(required_unless_present = "batch")]
    method: Option<String>,
    /// The params: a JSON array (by position) or object (by name). Left
    /// out, the request has no params.
    #[arg(value_name = "PARAMS_JSON")]
    params: Option<String>,
    /// Send a notification instead of a call: no answer comes; exit 0
    /// once it is sent.
    #[arg(long, conflicts_with = "batch")]
    notify: bool,
    /// Send the calls listed in FILE (`-`: stdin) as one batch: a JSON
    /// array of {"method": M, "params": P}, with "notify": true for a
    /// notification. The answers are printed as one JSON array, in the
    /// order of the calls: {"result": R} or {"error": E} each, or
    /// {"failed": WHY} when no answer came.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["method", "params"])]
    batch: Option<PathBuf>,
    /// How long to wait for the answer once connected, in seconds; 0
    /// waits as long as the connection lasts. Default 30 s: longer than
    /// any interactive call should take, short enough for a script not
    /// to hang on a server that never answers.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "30")]
    timeout: Duration,
    /// Print the JSON on one line (the default when stdout is not a
    /// terminal), as `jq -c` does.
    #[arg(long, conflicts_with = "pretty")]
    compact: bool,
    /// Print the JSON indented (the default on a terminal).
    #[arg(long)]
    pretty: bool,
    #[command(flatten)]
    client: ClientArgs,
}

/// Shown after the options: examples and the exit statuses.
const AFTER_HELP: &str = "\
Examples:
  sockeye rpc ws://127.0.0.1:8545/ eth_blockNumber
  sockeye rpc ws://127.0.0.1:9001/ subtract '[42, 23]'           prints 19
  sockeye rpc ws://127.0.0.1:9001/ subtract '{\"minuend\": 42, \"subtrahend\": 23}'
  sockeye rpc --notify ws://127.0.0.1:9001/ log '[\"hello\"]'
  echo '[{\"method\":\"sum\",\"params\":[1,2]},{\"method\":\"ping\"}]' | sockeye rpc --batch - ws://127.0.0.1:9001/

The result goes to stdout as JSON. When the server answers with an error,
its error object ({\"code\": C, \"message\": M, \"data\": D}) goes to stdout
instead and a line on stderr says so. Numbers and strings are printed as
the server wrote them. While waiting, the server's Pings are answered, and
calls the server makes to this client are answered with -32601 (Method not
found).

Exit status:
  0    the result came (with --notify: the notification was sent)
  1    connection failed: unreachable, TLS, proxy, dropped before the answer
  2    usage error: bad options or URL, PARAMS_JSON not an array or object,
       a --batch file that is not a list of calls
  3    the server answered with an error (its object printed on stdout)
  4    the server refused the handshake (its HTTP status printed on stderr)
  5    no answer within --timeout
  130  interrupted (Ctrl-C)";

/// How the JSON on stdout is laid out.
#[derive(Clone, Copy, Debug)]
struct Layout {
    pretty: bool,
}

impl Layout {
    fn from_args(args: &Args) -> Layout {
        Layout {
            pretty: args.pretty || (!args.compact && std::io::stdout().is_terminal()),
        }
    }

    /// Prints the JSON `text` and a newline; a closed stdout is ignored,
    /// as the exit status still says what happened.
    fn print(self, text: &str) {
        let mut line = if self.pretty {
            json_text::pretty(text)
        } else {
            json_text::compact(text)
        };
        line.push('\n');
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(line.as_bytes());
        let _ = stdout.flush();
    }
}

/// Makes the call the options ask for; the exit status says how it went
/// (see [`AFTER_HELP`]).
pub(crate) async fn run(args: Args) -> ExitCode {
    let what = match request::What::from_args(
        args.method.as_deref(),
        args.params.as_deref(),
        args.batch.as_deref(),
        args.client.max_message_size,
    ) {
        Ok(what) => what,
        Err(why) => return fail(EXIT_USAGE, &why),
    };
    let builder = match client::builder(&args.url, &args.client) {
        Ok(builder) => builder,
        Err(outcome) => return outcome.report(),
    };
    if args.client.insecure && args.url.starts_with("wss:") {
        eprintln!("sockeye: warning: --insecure: the server's certificate is not verified");
    }
    let ws = tokio::select! {
        connected = builder.connect() => match connected {
            Ok((ws, _)) => ws,
            Err(e) => return Outcome::connect_failed(&args.url, &e).report(),
        },
        _ = tokio::signal::ctrl_c() => return Outcome::Interrupted.report(),
    };
    let mut config = Config::default();
    config.max_message_size = args.client.max_message_size;
    config.call_timeout = (!args.timeout.is_zero()).then_some(args.timeout);
    // No methods: a call from the server is answered with -32601.
    let peer = sockeye_rpc::spawn(ws, Methods::<()>::new(), (), config);
    let layout = Layout::from_args(&args);
    let status = tokio::select! {
        status = send(&peer, what, args.notify, layout) => status,
        _ = tokio::signal::ctrl_c() => Outcome::Interrupted.report(),
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, peer.close(CloseCode::NORMAL, "")).await;
    status
}

/// Sends the call, notification or batch and prints what comes back.
async fn send(peer: &Peer, what: request::What, notify: bool, layout: Layout) -> ExitCode {
    match what {
        request::What::One { method, params } if notify => {
            match peer.notify(&method, &params).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => failed(peer, &e).await,
            }
        }
        request::What::One { method, params } => match peer.call_raw(&method, &params).await {
            Ok(result) => {
                layout.print(result.get());
                ExitCode::SUCCESS
            }
            Err(CallError::Error(error)) => {
                layout.print(&error_json(&error));
                fail(
                    EXIT_ERROR_ANSWER,
                    &format!(
                        "the server answered with error {}: {}",
                        error.code, error.message
                    ),
                )
            }
            Err(e) => failed(peer, &e).await,
        },
        request::What::Batch(batch) => match peer.batch(batch).await {
            Ok(answers) => print_batch(&answers, layout),
            Err(e) => failed(peer, &e).await,
        },
    }
}

/// Prints the answers of a batch as one array, in the order of its
/// calls; the status is the worst outcome among them.
fn print_batch(answers: &[Result<Box<RawValue>, CallError>], layout: Layout) -> ExitCode {
    let mut text = String::from("[");
    let mut errors = 0usize;
    let mut timeout = None;
    let mut lost = 0usize;
    for (at, answer) in answers.iter().enumerate() {
        if at > 0 {
            text.push(',');
        }
        match answer {
            Ok(result) => {
                text.push_str(r#"{"result":"#);
                text.push_str(result.get());
            }
            Err(CallError::Error(error)) => {
                errors += 1;
                text.push_str(r#"{"error":"#);
                text.push_str(&error_json(error));
            }
            Err(e) => {
                match e {
                    CallError::Timeout(limit) => timeout = Some(*limit),
                    _ => lost += 1,
                }
                text.push_str(r#"{"failed":"#);
                text.push_str(&serde_json::Value::String(e.to_string()).to_string());
            }
        }
        text.push('}');
    }
    text.push(']');
    layout.print(&text);
    if let Some(limit) = timeout {
        fail(EXIT_TIMEOUT, &format!("no answer within {limit:?}"))
    } else if lost > 0 {
        fail(1, "the connection ended before every answer came")
    } else if errors > 0 {
        fail(
            EXIT_ERROR_ANSWER,
            &format!("the server answered {errors} of the calls with an error"),
        )
    } else {
        ExitCode::SUCCESS
    }
}

/// The error object as JSON text: code, message and data (as it came).
fn error_json(error: &sockeye_rpc::ErrorObject) -> String {
    // Its fields are an integer, a string and JSON text: it always
    // serializes.
    serde_json::to_string(error).unwrap_or_default()
}

/// Reports a call that got no answer: a timeout, or the connection's end
/// (with how it ended).
async fn failed(peer: &Peer, error: &CallError) -> ExitCode {
    match error {
        CallError::Timeout(limit) => fail(EXIT_TIMEOUT, &format!("no answer within {limit:?}")),
        CallError::Disconnected => {
            let mut why = "the connection ended before the answer came".to_owned();
            if let Ok(ended) = tokio::time::timeout(CLOSE_WAIT, peer.closed()).await {
                if let Some(error) = ended.error {
                    why = format!("{why}: {error}");
                } else if let Some((code, reason)) = ended.close {
                    why = format!("{why}: closed by the server with {code} {reason:?}");
                }
            }
            fail(1, &why)
        }
        other => fail(EXIT_USAGE, &other.to_string()),
    }
}

/// Prints `why` on stderr and gives `status`.
fn fail(status: u8, why: &str) -> ExitCode {
    eprintln!("sockeye: {why}");
    ExitCode::from(status)
}
