//! How `sockeye connect` prints what happens on stdout: messages as lines
//! (binary ones in hex or base64), as raw bytes, or every event as a JSON
//! line.

use std::time::Duration;

use base64::Engine as _;
use sockeye::{CloseCode, Message};
use tokio::io::{AsyncWriteExt, Stdout};

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

    /// A message arrived.
    pub(super) async fn message(&mut self, message: &Message) -> Result<(), StdoutGone> {
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
