//! `sockeye connect`: a line-oriented client.

use std::process::ExitCode;

use base64::Engine as _;
use futures_util::StreamExt;
use http::{HeaderName, HeaderValue};
use sockeye::{
    ClientBuilder, ClientStream, CloseCode, CloseFrame, Message, WebSocketReader, WebSocketWriter,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::{EXIT_USAGE, describe};

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
#[command(after_help = PROXY_HELP)]
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
    /// Connect through this proxy: `http://[USER:PASSWORD@]HOST[:PORT]`
    /// (HTTP CONNECT), or `socks5://` or `socks5h://` (the proxy resolves
    /// the server's name). Replaces the proxy environment variables.
    #[arg(long, value_name = "URL")]
    proxy: Option<String>,
    /// Follow up to N redirects (301, 302, 303, 307, 308); never from
    /// wss:// to ws://, and without Authorization or Cookie to another
    /// origin.
    #[arg(long, value_name = "N", default_value_t = 0)]
    follow_redirects: usize,
    /// For `wss://`: also trust the certificates in this PEM file
    /// (repeatable), such as a private authority's or a self-signed one.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Vec<std::path::PathBuf>,
    /// For `wss://`: present this client certificate chain (PEM, leaf
    /// first) to servers that ask for one. Needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<std::path::PathBuf>,
    /// Use HTTP/2 (RFC 8441) when the server allows it; HTTP/1.1 otherwise.
    #[arg(long)]
    http2: bool,
}

/// The proxy variables, shown after the options.
const PROXY_HELP: &str = "\
Proxy environment variables, used unless --proxy is given:
  HTTPS_PROXY   proxy for wss:// URLs
  HTTP_PROXY    proxy for ws:// URLs (ignored in uppercase when REQUEST_METHOD is set)
  ALL_PROXY     proxy for both when the one above is unset
  NO_PROXY      hosts reached directly: names (covering subdomains), IP addresses,
                networks (10.0.0.0/8), each with an optional :PORT; * for all
Each is also read in lowercase, which comes first.";

/// The builder with the roots of --ca and the client certificate of
/// --cert and --key.
fn with_tls_files(mut builder: ClientBuilder, args: &Args) -> sockeye::Result<ClientBuilder> {
    for path in &args.ca {
        for root in sockeye::tls::certificates_from_pem_file(path)? {
            builder = builder.add_root_certificate(root);
        }
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        builder = builder.client_certificate(
            sockeye::tls::certificates_from_pem_file(cert)?,
            sockeye::tls::private_key_from_pem_file(key)?,
        );
    }
    Ok(builder)
}

/// Exit status when the peer closed cleanly with a code other than 1000,
/// 1001 or none.
const EXIT_CLOSED_WITH_ERROR: u8 = 3;

/// The client the options describe, or the exit status of a usage error
/// (after saying why).
fn client_builder(args: &Args) -> Result<ClientBuilder, ExitCode> {
    let mut builder = ClientBuilder::new(args.url.as_str())
        .protocols(args.protocols.iter().cloned())
        .max_message_size(args.max_message_size)
        .follow_redirects(args.follow_redirects)
        .http2(args.http2);
    builder = match &args.proxy {
        Some(proxy) => builder.proxy(proxy),
        None => builder.proxy_from_env(),
    };
    if args.no_deflate {
        builder = builder.deflate(None);
    }
    builder = with_tls_files(builder, args).map_err(|e| {
        eprintln!("sockeye: {}", describe(&e));
        ExitCode::from(EXIT_USAGE)
    })?;
    for header in &args.headers {
        match parse_header(header) {
            Ok((name, value)) => builder = builder.header(name, value),
            Err(why) => {
                eprintln!("sockeye: invalid header {header:?}: {why}");
                return Err(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    Ok(builder)
}

/// Connects, then sends stdin's lines and prints the messages received
/// until the server closes; the exit status says how it ended.
pub(crate) async fn run(args: Args) -> ExitCode {
    let builder = match client_builder(&args) {
        Ok(builder) => builder,
        Err(code) => return code,
    };
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
    let (reader, writer) = ws.split();
    let sender = tokio::spawn(send_stdin_lines(writer));
    let outcome = print_messages(reader, args.binary).await;
    sender.abort();
    exit_status(outcome)
}

/// Sends each line of stdin as a text message; at the end of input,
/// closes with 1000.
async fn send_stdin_lines(mut writer: WebSocketWriter<ClientStream>) -> sockeye::Result<()> {
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
}

/// Prints each message received as a line, until the peer's Close: `Ok`
/// with its frame, or `Err` with why the connection or stdout failed.
async fn print_messages(
    mut reader: WebSocketReader<ClientStream>,
    binary: BinaryFormat,
) -> Result<Option<CloseFrame>, String> {
    let mut stdout = tokio::io::stdout();
    loop {
        match reader.next().await {
            Some(Ok(message)) => {
                let mut line = match message {
                    Message::Text(text) => text.to_string(),
                    Message::Binary(data) => match binary {
                        BinaryFormat::Hex => hex(&data),
                        BinaryFormat::Base64 => {
                            base64::engine::general_purpose::STANDARD.encode(&data)
                        }
                    },
                };
                line.push('\n');
                if stdout.write_all(line.as_bytes()).await.is_err() || stdout.flush().await.is_err()
                {
                    return Err("cannot write to stdout".to_owned());
                }
            }
            Some(Err(e)) => return Err(describe(&e)),
            None => return Ok(reader.close_frame()),
        }
    }
}

/// Success after a close with 1000, 1001 or no code; otherwise says why
/// on stderr and returns [`EXIT_CLOSED_WITH_ERROR`] or a failure.
fn exit_status(outcome: Result<Option<CloseFrame>, String>) -> ExitCode {
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

/// `data` in lowercase hexadecimal.
fn hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(data.len() * 2);
    for byte in data {
        let _ = write!(text, "{byte:02x}");
    }
    text
}
