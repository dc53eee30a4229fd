//! Runs sockeye's client through the interoperability checks against a peer
//! server: `interop/node/server.mjs` (the `ws` package) or
//! `interop/python/server.py` (the `websockets` package).
//!
//! ```text
//! interop-client ws://127.0.0.1:PORT [--server-deflate on|off] [--server-max-size BYTES]
//!                [--limit-checks]
//! ```
//!
//! `--server-deflate` says whether the server accepts permessage-deflate
//! (default `on`; the client always offers it) and `--server-max-size` the
//! largest message it accepts (default 2 MiB). One line is printed per
//! check, `ok NAME` or `FAILED NAME: WHY`; the exit status is 0 only when
//! every check passed.
//!
//! `--limit-checks` runs, after the handshake, only the checks at this
//! client's own limit, with [`ClientBuilder`]'s default limits (16 MiB
//! messages and 16 MiB frames, so the frame limit is the message limit),
//! against a server that accepts permessage-deflate: a message of exactly
//! the limit, random (binary) and compressible (text), sent compressed by
//! the server in one frame, arrives intact; one byte more fails the
//! connection with 1009, which the server receives in the client's Close.
//!
//! # The peer servers' commands
//!
//! The servers echo every message as it came, except text messages that
//! start with `"\u{1}cmd "`, which are commands (payloads in lowercase hex):
//!
//! - `fragment-text TEXT`: answers `TEXT` as one text message sent in
//!   several frames;
//! - `fragment-binary N`: answers `N` bytes (byte `i` is `i % 256`) as one
//!   binary message sent in several frames;
//! - `ping HEX`: sends a Ping with that payload, then answers `pong HEX`
//!   with the payload of the Pong that came back (or `no-pong`);
//! - `last-ping`: answers `last-ping HEX` with the payload of the last Ping
//!   the server received (or `no-ping`);
//! - `close CODE REASON`: closes with that code and reason;
//! - `send-random N`: answers `N` random bytes as one binary message in one
//!   frame (compressed when permessage-deflate is agreed), then `sent CRC
//!   FRAME`: the CRC-32 of those bytes (8 hex digits) and the payload length
//!   of the frame that carried them;
//! - `send-compressible N`: the same with the `N` bytes of
//!   [`compressible_text`], as one text message;
//! - `last-close`: answers `last-close CODE` with the code of the last Close
//!   frame the server received from a client (or `no-close`).
//!
//! Both servers support the subprotocols `superchat` and `chat` and agree
//! on the first one in the client's order.
//!
//! # What sockeye's client cannot check by itself
//!
//! [`sockeye::WebSocket`] answers Pings but does not report the Pongs it
//! receives, so the Pong to the client's own Ping is not observed here: the
//! `ping-client` check asks the server which Ping payload it received
//! instead (the server's library answers it with a Pong by itself).

use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures_util::SinkExt;
use sockeye::{ClientBuilder, CloseCode, Message, WebSocket, WebSocketConfig};

/// The prefix of a command to the peer server.
const COMMAND: &str = "\u{1}cmd ";

/// How long one check may take before it fails.
const CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the server may take to report the Close of a connection that
/// this client saw end: it may learn of the end a little later.
const REPORT_WAIT: Duration = Duration::from_secs(5);

/// The size of the large messages: 1 MiB.
const LARGE: usize = 1 << 20;

/// How many messages the burst sends before reading any echo.
const BURST: usize = 100;

/// A text with characters of every UTF-8 length, sent back in fragments.
const FRAGMENTED_TEXT: &str = "fragmented: héllo wörld, € 中文 ✓, 𝄞 😀 and the end";

/// The length of the fragmented binary message asked for: a few frames of
/// more than 16 KiB each.
const FRAGMENTED_BINARY_LEN: usize = 70_000;

/// An open client connection.
type Ws = WebSocket<sockeye::ClientStream>;

/// What a check found wrong.
type Outcome = Result<(), String>;

/// The command-line options.
#[derive(Debug)]
struct Options {
    url: String,
    server_deflate: bool,
    server_max_size: usize,
    /// Only the checks at the client's default limits.
    limit_checks: bool,
}

impl Options {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut options = Options {
            url: String::new(),
            server_deflate: true,
            server_max_size: 2 << 20,
            limit_checks: false,
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--server-deflate" => {
                    options.server_deflate = match args.next().as_deref() {
                        Some("on") => true,
                        Some("off") => false,
                        _ => return Err("--server-deflate takes `on` or `off`".into()),
                    };
                }
                "--server-max-size" => {
                    options.server_max_size = args
                        .next()
                        .and_then(|n| n.parse().ok())
                        .ok_or("--server-max-size takes a number of bytes")?;
                }
                "--limit-checks" => options.limit_checks = true,
                _ if options.url.is_empty() && !arg.starts_with('-') => options.url = arg,
                _ => return Err(format!("unexpected argument {arg:?}")),
            }
        }
        if options.url.is_empty() {
            return Err("missing the server's URL".into());
        }
        Ok(options)
    }
}

/// Prints each check's result and counts them.
#[derive(Debug, Default)]
struct Report {
    passed: usize,
    failed: usize,
}

impl Report {
    fn record(&mut self, name: &str, outcome: Outcome) {
        match outcome {
            Ok(()) => {
                self.passed += 1;
                println!("ok {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("FAILED {name}: {why}");
            }
        }
    }
}

/// The checks that share one connection, which is opened again after a
/// check fails so that one failure does not hide the rest.
#[derive(Debug)]
struct Session<'a> {
    options: &'a Options,
    report: Report,
    ws: Option<Ws>,
}

impl Session<'_> {
    /// Runs `check` on the shared connection under [`CHECK_TIMEOUT`].
    async fn check(&mut self, name: &str, check: impl AsyncFnOnce(&mut Ws) -> Outcome) {
        if self.ws.is_none() {
            match connect(self.options, &[]).await {
                Ok((ws, _)) => self.ws = Some(ws),
                Err(why) => return self.report.record(name, Err(why)),
            }
        }
        let Some(ws) = self.ws.as_mut() else {
            return self.report.record(name, Err("no connection".into()));
        };
        let outcome = within_time(check(ws)).await;
        if outcome.is_err() {
            self.ws = None;
        }
        self.report.record(name, outcome);
    }

    /// Runs `check` on a connection of its own, offering `protocols`.
    async fn check_alone(
        &mut self,
        name: &str,
        protocols: &[&str],
        check: impl AsyncFnOnce(Ws, http::Response<()>) -> Outcome,
    ) {
        let outcome = within_time(async {
            let (ws, response) = connect(self.options, protocols).await?;
            check(ws, response).await
        })
        .await;
        self.report.record(name, outcome);
    }
}

/// Fails `check` if it takes longer than [`CHECK_TIMEOUT`].
async fn within_time<T>(check: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::time::timeout(CHECK_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {CHECK_TIMEOUT:?}")))
}

/// Connects, offering permessage-deflate (the default) and `protocols`;
/// with `--limit-checks`, with the builder's default limits.
async fn connect(
    options: &Options,
    protocols: &[&str],
) -> Result<(Ws, http::Response<()>), String> {
    let builder = ClientBuilder::new(options.url.as_str()).protocols(protocols.iter().copied());
    let builder = if options.limit_checks {
        builder
    } else {
        builder.max_message_size(16 << 20)
    };
    builder
        .connect_timeout(CHECK_TIMEOUT)
        .handshake_timeout(CHECK_TIMEOUT)
        .connect()
        .await
        .map_err(|e| format!("cannot connect: {e}"))
}

/// The next message; an error if the connection ends instead.
async fn next_message(ws: &mut Ws) -> Result<Message, String> {
    match ws.recv().await {
        Some(Ok(message)) => Ok(message),
        Some(Err(e)) => Err(format!("connection failed: {}", describe_error(&e))),
        None => Err(format!("closed by the server: {}", describe_close(ws))),
    }
}

/// An error with its causes and the close code it sent, if any.
fn describe_error(e: &sockeye::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    if let Some(code) = e.close_code() {
        let _ = write!(text, " (close code {code})");
    }
    text
}

/// Waits for the end of the connection and returns the server's Close
/// frame; messages that arrive first are an error.
async fn expect_close(ws: &mut Ws) -> Result<(CloseCode, String), String> {
    match ws.recv().await {
        None => ws
            .close_frame()
            .map(|frame| (frame.code, frame.reason.to_string()))
            .ok_or_else(|| "closed without a Close frame".to_owned()),
        Some(Ok(message)) => Err(format!("got {} instead of a Close", describe(&message))),
        Some(Err(e)) => Err(format!("connection failed instead of closing: {e}")),
    }
}

fn describe_close(ws: &Ws) -> String {
    ws.close_frame().map_or_else(
        || "no Close frame".to_owned(),
        |frame| format!("code {} reason {:?}", frame.code, frame.reason.as_str()),
    )
}

/// A short description of a message, for failure reports.
fn describe(message: &Message) -> String {
    let kind = if message.is_text() { "text" } else { "binary" };
    let mut text = format!("{kind} message of {} bytes", message.len());
    if message.len() <= 64 {
        let _ = write!(text, " {:?}", String::from_utf8_lossy(message.payload()));
    }
    text
}

/// Compares a received message with the expected one.
fn same(expected: &Message, got: &Message) -> Outcome {
    if expected == got {
        return Ok(());
    }
    let mut why = format!("expected {}, got {}", describe(expected), describe(got));
    if let Some(at) = expected
        .payload()
        .iter()
        .zip(got.payload())
        .position(|(a, b)| a != b)
    {
        let _ = write!(why, " (first difference at byte {at})");
    }
    Err(why)
}

/// Sends `message` and checks that it comes back unchanged.
async fn echo(ws: &mut Ws, message: Message) -> Outcome {
    ws.send(message.clone())
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    same(&message, &next_message(ws).await?)
}

/// Sends a command to the peer server.
async fn command(ws: &mut Ws, line: &str) -> Outcome {
    ws.send(Message::text(format!("{COMMAND}{line}")))
        .await
        .map_err(|e| format!("cannot send the command: {e}"))
}

/// Lowercase hex, as the commands use.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, byte| {
        let _ = write!(out, "{byte:02x}");
        out
    })
}

/// Bytes that do not compress: a fixed pseudo-random sequence (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

/// Exactly `len` bytes of text mixing characters of every UTF-8 length.
fn large_text(len: usize) -> String {
    const PIECES: [&str; 6] = ["sockeye ", "héllo ", "wörld ", "€ ", "中文 ", "𝄞 "];
    let mut text = String::with_capacity(len);
    for (i, byte) in noise(len).into_iter().enumerate() {
        let piece = PIECES[usize::from(byte) % PIECES.len()];
        if text.len() + piece.len() > len {
            break;
        }
        if i % 97 == 0 {
            let _ = write!(text, "{i} ");
        }
        text.push_str(piece);
    }
    while text.len() < len {
        text.push('.');
    }
    text.truncate(len);
    text
}

/// Exactly `len` bytes of text that compresses well, as the
/// `send-compressible` command sends it: the lines
/// `I sockeye héllo wörld € 中文 𝄞` for I = 0, 1, 2, ..., as many whole lines
/// as fit, then dots.
fn compressible_text(len: usize) -> String {
    let mut text = String::with_capacity(len);
    let mut line = String::new();
    for i in 0.. {
        line.clear();
        let _ = writeln!(line, "{i} sockeye héllo wörld € 中文 𝄞");
        if text.len() + line.len() > len {
            break;
        }
        text.push_str(&line);
    }
    text.extend(std::iter::repeat_n('.', len - text.len()));
    text
}

/// The CRC-32 of `bytes`, as zlib computes it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// Reads the server's `sent CRC FRAME` report that follows the message of a
/// `send-*` command, and checks the message against it: the CRC-32 of its
/// payload, and the payload length of the frame that carried it, which
/// `longer` says must be longer than the message (random bytes, lengthened
/// by deflate's stored blocks: a frame over the frame limit, carrying a
/// message within the message limit), or else less than half of it
/// (compressible bytes).
async fn check_sent(ws: &mut Ws, message: &Message, longer: bool) -> Outcome {
    let report = next_message(ws).await?;
    let parsed = report
        .as_text()
        .and_then(|text| text.strip_prefix("sent "))
        .and_then(|rest| rest.split_once(' '))
        .and_then(|(crc, frame)| {
            Some((
                u32::from_str_radix(crc, 16).ok()?,
                frame.parse::<usize>().ok()?,
            ))
        });
    let Some((crc, frame)) = parsed else {
        return Err(format!(
            "expected `sent CRC FRAME`, got {}",
            describe(&report)
        ));
    };
    if crc32(message.payload()) != crc {
        return Err(format!(
            "the {} has CRC-32 {:08x}, the server sent {crc:08x}",
            describe(message),
            crc32(message.payload()),
        ));
    }
    let size = message.len();
    let compressed = if longer {
        frame > size
    } else {
        frame.saturating_mul(2) < size
    };
    if !compressed {
        let expected = if longer {
            "longer than the message"
        } else {
            "less than half of it"
        };
        return Err(format!(
            "the server sent a frame of {frame} bytes for a message of {size}, expected {expected}"
        ));
    }
    Ok(())
}

/// Fails unless permessage-deflate is in force.
fn require_deflate(ws: &Ws) -> Outcome {
    if ws.deflate().is_some() {
        Ok(())
    } else {
        Err("permessage-deflate was not agreed".to_owned())
    }
}

/// Asks the server for the code of the last Close frame it received, on a
/// connection of its own, until that is `code` or [`REPORT_WAIT`] has
/// passed.
async fn server_received_close(options: &Options, code: CloseCode) -> Outcome {
    let (mut ws, _) = connect(options, &[]).await?;
    let expected = Message::text(format!("last-close {code}"));
    let started = Instant::now();
    loop {
        command(&mut ws, "last-close").await?;
        let answer = next_message(&mut ws).await?;
        if answer == expected {
            break;
        }
        if started.elapsed() > REPORT_WAIT {
            return Err(format!(
                "the server answered {} after {REPORT_WAIT:?}, expected {}",
                describe(&answer),
                describe(&expected),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    close_normally(&mut ws).await
}

/// Closes with 1000 and waits for the end of the closing handshake.
async fn close_normally(ws: &mut Ws) -> Outcome {
    ws.close(CloseCode::NORMAL, "")
        .await
        .map_err(|e| format!("the closing handshake failed: {e}"))
}

/// The byte pattern of the `fragment-binary` command.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i: usize| i.to_le_bytes()[0]).collect()
}

/// Checks that permessage-deflate was agreed exactly when the server
/// accepts it, on both the connection and the response header.
fn check_deflate(options: &Options, ws: &Ws, response: &http::Response<()>) -> Outcome {
    let in_header = response
        .headers()
        .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .any(|value| {
            value
                .to_str()
                .is_ok_and(|v| v.contains("permessage-deflate"))
        });
    let in_force = ws.deflate().is_some();
    if in_header == options.server_deflate && in_force == options.server_deflate {
        Ok(())
    } else {
        Err(format!(
            "server deflate {}, but Sec-WebSocket-Extensions has permessage-deflate: {in_header}, \
             in force: {in_force}",
            if options.server_deflate { "on" } else { "off" },
        ))
    }
}

/// Runs every check and returns their count.
async fn run(options: &Options) -> Report {
    let mut session = Session {
        options,
        report: Report::default(),
        ws: None,
    };
    session.handshake().await;
    if options.limit_checks {
        if let Some(mut ws) = session.ws.take() {
            let _ = within_time(close_normally(&mut ws)).await;
        }
        session.limits().await;
        return session.report;
    }
    session.echoes().await;
    session.fragments().await;
    session.pings().await;
    session.closes().await;
    session.subprotocols().await;
    session.report
}

impl Session<'_> {
    /// `handshake`, `deflate-negotiated`: the opening handshake of the
    /// shared connection, with permessage-deflate agreed exactly when the
    /// server accepts it.
    async fn handshake(&mut self) {
        match within_time(connect(self.options, &[])).await {
            Ok((ws, response)) => {
                self.report.record("handshake", Ok(()));
                let deflate = check_deflate(self.options, &ws, &response);
                self.report.record("deflate-negotiated", deflate);
                self.ws = Some(ws);
            }
            Err(why) => {
                self.report.record("handshake", Err(why));
                let no_connection = Err("no connection to check".to_owned());
                self.report.record("deflate-negotiated", no_connection);
            }
        }
    }

    /// `echo-*`: messages of every kind come back unchanged, and a burst
    /// comes back in order.
    async fn echoes(&mut self) {
        let echoes = [
            ("echo-text-ascii", Message::text("Hello, WebSocket!")),
            ("echo-text-utf8-2byte", Message::text("héllo wörld ñ ß")),
            ("echo-text-utf8-3byte", Message::text("€ 中文 ✓ ☃")),
            ("echo-text-utf8-4byte", Message::text("𝄞 😀 🦀 𐍈")),
            ("echo-text-empty", Message::text("")),
            ("echo-binary-all-bytes", Message::binary(pattern(256))),
            ("echo-binary-empty", Message::binary(Vec::new())),
            ("echo-binary-1mib", Message::binary(noise(LARGE))),
            ("echo-text-1mib", Message::text(large_text(LARGE))),
        ];
        for (name, message) in echoes {
            self.check(name, async move |ws| echo(ws, message).await)
                .await;
        }

        self.check("echo-burst-100", async |ws| {
            let messages: Vec<Message> = (0..BURST)
                .map(|i| {
                    if i % 2 == 0 {
                        Message::text(format!("burst message {i} ✓"))
                    } else {
                        Message::binary(vec![i.to_le_bytes()[0]; i])
                    }
                })
                .collect();
            for message in &messages {
                ws.feed(message.clone())
                    .await
                    .map_err(|e| format!("cannot send: {e}"))?;
            }
            ws.flush().await.map_err(|e| format!("cannot send: {e}"))?;
            for (i, expected) in messages.iter().enumerate() {
                same(expected, &next_message(ws).await?)
                    .map_err(|why| format!("message {i}: {why}"))?;
            }
            Ok(())
        })
        .await;
    }

    /// `fragmented-*-received`: a message the server sends in several
    /// frames arrives whole (sockeye has no API to send fragments).
    async fn fragments(&mut self) {
        self.check("fragmented-text-received", async |ws| {
            command(ws, &format!("fragment-text {FRAGMENTED_TEXT}")).await?;
            same(&Message::text(FRAGMENTED_TEXT), &next_message(ws).await?)
        })
        .await;
        self.check("fragmented-binary-received", async |ws| {
            command(ws, &format!("fragment-binary {FRAGMENTED_BINARY_LEN}")).await?;
            same(
                &Message::binary(pattern(FRAGMENTED_BINARY_LEN)),
                &next_message(ws).await?,
            )
        })
        .await;
    }

    /// `ping-client`: the server received our Ping with its payload (the
    /// Pong it answers is not reported by sockeye, see the module docs).
    /// `ping-server`: the server's Ping is answered with the same payload.
    async fn pings(&mut self) {
        self.check("ping-client", async |ws| {
            let payload = "sockeye ping ✓".as_bytes();
            ws.ping(payload).map_err(|e| format!("cannot ping: {e}"))?;
            // Sent after the Ping, so the server has seen the Ping by then.
            command(ws, "last-ping").await?;
            let expected = Message::text(format!("last-ping {}", hex(payload)));
            same(&expected, &next_message(ws).await?)
        })
        .await;
        self.check("ping-server", async |ws| {
            let payload = hex("server ping ✓".as_bytes());
            command(ws, &format!("ping {payload}")).await?;
            // Reading lets sockeye answer the Ping; the server then reports.
            same(
                &Message::text(format!("pong {payload}")),
                &next_message(ws).await?,
            )
        })
        .await;
    }

    /// `close-*`: closing handshakes started by either side keep their
    /// code and reason, and a message over the server's limit closes with
    /// 1009.
    async fn closes(&mut self) {
        self.check("close-client-4000", async |ws| {
            ws.close(CloseCode::from(4000), "bye")
                .await
                .map_err(|e| format!("the closing handshake failed: {e}"))?;
            match ws.close_frame() {
                Some(frame) if frame.code == CloseCode::from(4000) && frame.reason == "bye" => {
                    Ok(())
                }
                _ => Err(format!("the server answered with {}", describe_close(ws))),
            }
        })
        .await;
        self.ws = None;

        for (name, code, reason) in [
            ("close-server-4001", 4001, "server bye"),
            ("close-server-utf8", 4002, "au revoir, à bientôt ✓ 𝄞"),
        ] {
            self.check_alone(name, &[], async |mut ws, _| {
                command(&mut ws, &format!("close {code} {reason}")).await?;
                let (got_code, got_reason) = expect_close(&mut ws).await?;
                if got_code == CloseCode::from(code) && got_reason == reason {
                    Ok(())
                } else {
                    Err(format!(
                        "expected {code} {reason:?}, got {got_code} {got_reason:?}"
                    ))
                }
            })
            .await;
        }

        let too_big = self.options.server_max_size + 1;
        self.check_alone("close-too-big-1009", &[], async |mut ws, _| {
            // The server may close before it has read the whole message, so
            // a failed send is not yet a failed check: its Close is.
            let sent = ws.send(Message::binary(noise(too_big))).await;
            match expect_close(&mut ws).await {
                Ok((code, _)) if code == CloseCode::MESSAGE_TOO_BIG => Ok(()),
                Ok((code, reason)) => Err(format!("expected 1009, got {code} {reason:?}")),
                Err(why) => Err(match sent {
                    Ok(()) => why,
                    Err(e) => format!("{why} (sending failed: {e})"),
                }),
            }
        })
        .await;
    }

    /// `limit-*`: with the client's default limits, a message of exactly
    /// the largest message size arrives intact however the server's deflate
    /// shaped its frame, and one byte more fails the connection with 1009.
    async fn limits(&mut self) {
        let limit = WebSocketConfig::client().proto.max_message_size;
        self.check_alone("limit-received-binary-random", &[], async |mut ws, _| {
            require_deflate(&ws)?;
            command(&mut ws, &format!("send-random {limit}")).await?;
            let message = next_message(&mut ws).await?;
            if !message.is_binary() || message.len() != limit {
                return Err(format!(
                    "expected a binary message of {limit} bytes, got {}",
                    describe(&message)
                ));
            }
            check_sent(&mut ws, &message, true).await?;
            close_normally(&mut ws).await
        })
        .await;
        self.check_alone(
            "limit-received-text-compressible",
            &[],
            async |mut ws, _| {
                require_deflate(&ws)?;
                command(&mut ws, &format!("send-compressible {limit}")).await?;
                let message = next_message(&mut ws).await?;
                same(&Message::text(compressible_text(limit)), &message)?;
                check_sent(&mut ws, &message, false).await?;
                close_normally(&mut ws).await
            },
        )
        .await;
        let options = self.options;
        self.check_alone("limit-over-by-one-1009", &[], async |mut ws, _| {
            require_deflate(&ws)?;
            command(&mut ws, &format!("send-random {}", limit + 1)).await?;
            match ws.recv().await {
                Some(Err(sockeye::Error::Protocol(e)))
                    if e.close_code() == CloseCode::MESSAGE_TOO_BIG => {}
                Some(Err(e)) => {
                    return Err(format!(
                        "failed with {} instead of 1009",
                        describe_error(&e)
                    ));
                }
                Some(Ok(message)) => {
                    return Err(format!("got {} instead of 1009", describe(&message)));
                }
                None => return Err(format!("closed by the server: {}", describe_close(&ws))),
            }
            server_received_close(options, CloseCode::MESSAGE_TOO_BIG).await
        })
        .await;
    }

    /// `subprotocol-*`: the server agrees on the first subprotocol in the
    /// client's order that it supports, and on none when it supports none
    /// of those offered.
    async fn subprotocols(&mut self) {
        self.check_alone(
            "subprotocol-agreed",
            &["nope", "chat", "superchat"],
            async |mut ws, response| {
                let header = response
                    .headers()
                    .get(http::header::SEC_WEBSOCKET_PROTOCOL)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                if ws.protocol() != Some("chat") || header.as_deref() != Some("chat") {
                    return Err(format!(
                        "expected \"chat\", got {:?} (header {header:?})",
                        ws.protocol()
                    ));
                }
                echo(&mut ws, Message::text("chat works")).await?;
                ws.close(CloseCode::NORMAL, "")
                    .await
                    .map_err(|e| format!("the closing handshake failed: {e}"))
            },
        )
        .await;
        self.check_alone("subprotocol-none", &["nope"], async |mut ws, response| {
            if let Some(protocol) = ws.protocol() {
                return Err(format!("expected none, got {protocol:?}"));
            }
            if let Some(header) = response.headers().get(http::header::SEC_WEBSOCKET_PROTOCOL) {
                return Err(format!(
                    "expected no Sec-WebSocket-Protocol, got {header:?}"
                ));
            }
            echo(&mut ws, Message::text("no subprotocol works")).await?;
            ws.close(CloseCode::NORMAL, "")
                .await
                .map_err(|e| format!("the closing handshake failed: {e}"))
        })
        .await;
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(why) => {
            eprintln!("interop-client: {why}");
            eprintln!(
                "usage: interop-client ws://HOST:PORT [--server-deflate on|off] \
                 [--server-max-size BYTES] [--limit-checks]"
            );
            return ExitCode::from(2);
        }
    };
    let report = run(&options).await;
    if report.failed == 0 && report.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
