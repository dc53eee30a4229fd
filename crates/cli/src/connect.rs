//! `sockeye connect`: a line-oriented client.

use std::process::ExitCode;

use base64::Engine as _;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue};
use sockeye::{ClientBuilder, CloseCode, Message};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::describe;

/// How binary messages are printed.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum BinaryFormat {
    /// Lowercase hexadecimal.
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// Options of `sockeye connect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The server's URL, `ws://host[:port]/path`.
    url: String,
    /// How to print binary messages.
    #[arg(long, value_enum, default_value = "hex")]
    binary: BinaryFormat,
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// Subprotocol to offer (repeatable, in order of preference).
    #[arg(long = "protocol", value_name = "NAME")]
    protocols: Vec<String>,
    /// The largest message accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_message_size: usize,
    /// Do not offer permessage-deflate compression.
    #[arg(long)]
    no_deflate: bool,
}

/// Exit status when the peer closed cleanly with a code other than 1000,
/// 1001 or none.
const EXIT_CLOSED_WITH_ERROR: u8 = 3;

pub(crate) async fn run(args: Args) -> ExitCode {
    let mut builder = ClientBuilder::new(args.url.as_str())
        .protocols(args.protocols)
        .max_message_size(args.max_message_size);
    if args.no_deflate {
        builder = builder.deflate(None);
    }
    for header in &args.headers {
        match parse_header(header) {
            Ok((name, value)) => builder = builder.header(name, value),
            Err(why) => {
                eprintln!("sockeye: invalid header {header:?}: {why}");
                return ExitCode::from(2);
            }
        }
    }
    let ws = match builder.connect().await {
        Ok((ws, _)) => ws,
        Err(e) => {
            eprintln!("sockeye: cannot connect to {}: {}", args.url, describe(&e));
            return ExitCode::FAILURE;
        }
    };
    if let Some(protocol) = ws.protocol() {
        tracing::debug!(protocol, "subprotocol agreed");
    }
    let (mut reader, mut writer) = ws.split();

    // stdin lines out; at the end of input, close with 1000.
    let sender = tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        loop {
            match lines.next_line().await {
                Ok(Some(line)) => {
                    writer.send(Message::text(line)).await?;
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!(error = %describe(&e), "cannot read stdin");
                    break;
                }
            }
        }
        writer.close(CloseCode::NORMAL, "").await
    });

    // Messages in, until the peer's Close.
    let mut stdout = tokio::io::stdout();
    let outcome = loop {
        match reader.next().await {
            Some(Ok(message)) => {
                let mut line = match message {
                    Message::Text(text) => text.to_string(),
                    Message::Binary(data) => match args.binary {
                        BinaryFormat::Hex => hex(&data),
                        BinaryFormat::Base64 => {
                            base64::engine::general_purpose::STANDARD.encode(&data)
                        }
                    },
                };
                line.push('\n');
                if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err()
                {
                    break Err("cannot write to stdout".to_owned());
                }
            }
            Some(Err(e)) => break Err(describe(&e)),
            None => break Ok(reader.close_frame()),
        }
    };
    sender.abort();
    match outcome {
        Ok(frame) => {
            let (code, reason) = frame
                .map_or((CloseCode::NO_STATUS_RECEIVED, String::new()), |f| {
                    (f.code, f.reason.to_string())
                });
            if matches!(code.as_u16(), 1000 | 1001 | 1005) {
                ExitCode::SUCCESS
            } else {
                if reason.is_empty() {
                    eprintln!("sockeye: closed by the server with {code}");
                } else {
                    eprintln!("sockeye: closed by the server with {code} {reason:?}");
                }
                ExitCode::from(EXIT_CLOSED_WITH_ERROR)
            }
        }
        Err(e) => {
            eprintln!("sockeye: connection failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Splits `Name: value` and checks both halves.
fn parse_header(header: &str) -> Result<(HeaderName, HeaderValue), &'static str> {
    let (name, value) = header.split_once(':').ok_or("expected `Name: value`")?;
    let name =
        HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| "not a valid header name")?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| "not a valid header value")?;
    Ok((name, value))
}

fn hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(data.len() * 2);
    for byte in data {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
