//! How `sockeye connect` prints what happens on stdout: messages as lines
//! (binary ones in hex or base64), as raw bytes, or every event as a JSON
//! line; with `--jsonrpc`, text messages read as JSON-RPC (`jsonrpc.rs`).

use std::time::Duration;

use base64::Engine as _;
use sockeye::{CloseCode, Message};
use tokio::io::{AsyncWriteExt, Stdout};

use super::jsonrpc::{self, Direction, Seen, SentLog, Tap};
use super::{Args, BinaryFormat, jsonl};

/// Prints events on stdout.
#[derive(Debug)]
pub(super) struct Printer {
    stdout: Stdout,
    /// Every event as a JSON line; otherwise messages only.
    jsonl: bool,
    binary: BinaryFormat,
    /// Written after each message: a newline, a NUL, or nothing (raw
    /// binary).
    separator: &'static [u8],
    /// RTTs go to stderr too.
    print_rtts: bool,
    /// `--jsonrpc`: text messages are read as JSON-RPC, with the requests
    /// both ways that wait for responses.
    rpc: Option<jsonrpc::Shared>,
    /// With `--jsonrpc`, what the sender sent, read as JSON-RPC.
    sent: SentLog,
}

/// Stdout cannot be written to (a closed pipe).
#[derive(Debug)]
pub(super) struct StdoutGone;

impl Printer {
    /// The printer the options ask for.
    pub(super) fn from_args(args: &Args) -> Printer {
        let binary = args.binary_format.unwrap_or(if args.binary {
            BinaryFormat::Raw
        } else {
            BinaryFormat::Hex
        });
        let separator: &[u8] = if args.nul {
            b"\0"
        } else if args.binary && !args.lines && matches!(binary, BinaryFormat::Raw) {
            // Raw bytes carry their own framing; hex and base64 are text,
            // one message a line.
            b""
        } else {
            b"\n"
        };
        Printer {
            stdout: tokio::io::stdout(),
            jsonl: args.jsonl,
            binary,
            separator,
            print_rtts: args.print_ping_rtts,
            rpc: args.jsonrpc.then(jsonrpc::Shared::default),
            sent: SentLog::default(),
        }
    }

    /// The connection is open.
    pub(super) async fn open(
        &mut self,
        protocol: Option<&str>,
        response: &http::Response<()>,
    ) -> Result<(), StdoutGone> {
        if self.jsonl {
            self.json(&jsonl::open(protocol, response)).await?;
        }
        Ok(())
    }

    /// With `--jsonrpc`, the sender's end: what it sends is read as
    /// JSON-RPC and comes back here to be printed ([`next_sent`]).
    ///
    /// [`next_sent`]: Self::next_sent
    pub(super) fn tap(&mut self) -> Option<Tap> {
        let (tap, sent) = jsonrpc::tap(self.rpc.as_ref());
        self.sent = sent;
        tap
    }

    /// What the sender sent next, for [`traffic`](Self::traffic); never
    /// without `--jsonrpc`. Cancel safe.
    pub(super) async fn next_sent(&mut self) -> Option<Vec<Seen>> {
        self.sent.next().await
    }

    /// A message arrived.
    pub(super) async fn message(&mut self, message: &Message) -> Result<(), StdoutGone> {
        if let Message::Text(text) = message
            && let Some(rpc) = self.rpc.clone()
        {
            // What was sent before this arrived is printed before it.
            let sent = self.sent.ready();
            self.traffic(&sent).await?;
            let seen = jsonrpc::lock(&rpc).read(
                Direction::Received,
                text.as_str(),
                tokio::time::Instant::now(),
            );
            return self.traffic(&seen).await;
        }
        if self.jsonl {
            return self.json(&jsonl::message(message)).await;
        }
        let mut bytes = match message {
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Binary(data) => match self.binary {
                BinaryFormat::Hex => hex(data).into_bytes(),
                BinaryFormat::Base64 => base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .into_bytes(),
                BinaryFormat::Raw => data.to_vec(),
            },
        };
        bytes.extend_from_slice(self.separator);
        self.write(&bytes).await
    }

    /// The peer sent a Ping (already answered).
    pub(super) async fn ping(&mut self, payload: &[u8]) -> Result<(), StdoutGone> {
        if self.jsonl {
            self.json(&jsonl::ping(payload)).await?;
        }
        Ok(())
    }

    /// A Pong arrived; `rtt` when it answers our last Ping.
    pub(super) async fn pong(
        &mut self,
        payload: &[u8],
        rtt: Option<Duration>,
    ) -> Result<(), StdoutGone> {
        if let Some(rtt) = rtt
            && self.print_rtts
        {
            eprintln!("sockeye: ping rtt {:.3} ms", rtt.as_secs_f64() * 1000.0);
        }
        if self.jsonl {
            self.json(&jsonl::pong(payload, rtt)).await?;
        }
        Ok(())
    }

    /// The connection ended: with a Close (`clean`), or cut with the code
    /// that describes why.
    pub(super) async fn close(
        &mut self,
        code: CloseCode,
        reason: &str,
        clean: bool,
    ) -> Result<(), StdoutGone> {
        // The last messages sent, if not printed yet, come first.
        let sent = self.sent.ready();
        self.traffic(&sent).await?;
        if self.jsonl {
            self.json(&jsonl::close(code, reason, clean)).await?;
        }
        Ok(())
    }

    /// Something failed; stderr says so too.
    pub(super) async fn error(&mut self, message: &str) -> Result<(), StdoutGone> {
        if self.jsonl {
            self.json(&jsonl::error(message)).await?;
        }
        Ok(())
    }

    /// JSON-RPC messages (or batch members), sent or received.
    pub(super) async fn traffic(&mut self, seen: &[Seen]) -> Result<(), StdoutGone> {
        if seen.is_empty() {
            return Ok(());
        }
        let mut lines = String::new();
        for seen in seen {
            lines.push_str(&if self.jsonl { seen.json() } else { seen.line() });
            lines.push('\n');
        }
        self.write(lines.as_bytes()).await
    }

    async fn json(&mut self, value: &serde_json::Value) -> Result<(), StdoutGone> {
        let mut line = value.to_string().into_bytes();
        line.push(b'\n');
        self.write(&line).await
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), StdoutGone> {
        self.stdout.write_all(bytes).await.map_err(|_| StdoutGone)?;
        self.stdout.flush().await.map_err(|_| StdoutGone)
    }
}

/// `data` in lowercase hexadecimal.
fn hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(data.len() * 2);
    for byte in data {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
