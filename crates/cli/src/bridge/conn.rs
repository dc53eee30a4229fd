//! `Conn`: one opened endpoint, as a source of messages and a sink for
//! them, whatever it is underneath.
//!
//! A byte stream (TCP, Unix socket, stdio, a program's pipes) is cut into
//! messages here: each read becomes a binary message, or each line a text
//! message with `--lines`; a message written to it is its bytes (and a
//! newline with `--lines`, unless it ends with one). A WebSocket or a
//! datagram socket has messages of its own and passes them as they are.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use sockeye::{ClientStream, CloseCode, Message, Utf8Bytes, WebSocketReader, WebSocketWriter};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;

use super::Settings;
use crate::describe;

/// The largest UDP payload (65,535 bytes less the IPv4 and UDP headers): a
/// datagram read never needs more room, and a longer message cannot be
/// sent as one datagram.
pub(crate) const MAX_DATAGRAM: usize = 65_507;

/// How a direction ended badly, and the WebSocket close code that tells
/// the other side.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) why: String,
    pub(crate) code: CloseCode,
}

impl Failure {
    /// A failure reported with 1011 (internal error).
    pub(crate) fn new(why: impl Into<String>) -> Self {
        Failure {
            why: why.into(),
            code: CloseCode::INTERNAL_ERROR,
        }
    }
}

/// A byte stream's reading half.
pub(crate) type ByteReader = Box<dyn AsyncRead + Send + Unpin>;
/// A byte stream's writing half.
pub(crate) type ByteWriter = Box<dyn AsyncWrite + Send + Unpin>;

/// Where messages come from.
pub(crate) enum Source {
    /// A WebSocket this side opened.
    WsClient(WebSocketReader<ClientStream>),
    /// A WebSocket client of `ws-listen:`.
    WsServer(WebSocketReader<TcpStream>),
    /// A byte stream, cut into messages.
    Bytes {
        io: ByteReader,
        buf: BytesMut,
        settings: Settings,
    },
    /// A connected UDP socket: each datagram is a message (text with
    /// `--lines` when it is UTF-8).
    Udp(Arc<UdpSocket>, bool),
    /// The datagrams of one peer of `udp-listen:`, passed on by the
    /// socket's reader; with the `--lines` flag, and `--udp-timeout`
    /// after which a silent peer counts as gone.
    Datagrams(mpsc::Receiver<Bytes>, bool, Duration),
}

/// Where messages go.
pub(crate) enum Sink {
    /// A WebSocket this side opened.
    WsClient(WebSocketWriter<ClientStream>),
    /// A WebSocket client of `ws-listen:`.
    WsServer(WebSocketWriter<TcpStream>),
    /// A byte stream; `None` once finished (dropping it closes the pipe).
    Bytes { io: Option<ByteWriter>, lines: bool },
    /// A connected UDP socket.
    Udp(Arc<UdpSocket>),
    /// One peer of a `udp-listen:` socket.
    UdpTo(Arc<UdpSocket>, SocketAddr),
}

/// An opened endpoint: its messages in, its messages out, and the program
/// behind it for `exec:`.
pub(crate) struct Conn {
    pub(crate) source: Source,
    pub(crate) sink: Sink,
    pub(crate) program: Option<super::program::Program>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn").finish_non_exhaustive()
    }
}

impl Conn {
    /// A byte stream's two halves.
    pub(crate) fn bytes(reader: ByteReader, writer: ByteWriter, settings: Settings) -> Self {
        Conn {
            source: Source::Bytes {
                io: reader,
                buf: BytesMut::new(),
                settings,
            },
            sink: Sink::Bytes {
                io: Some(writer),
                lines: settings.lines,
            },
            program: None,
        }
    }
}

impl Source {
    /// Whether the end of this source ends the endpoint both ways: a
    /// WebSocket's Close does; the end of a byte stream is a half-close,
    /// after which it may still be written to.
    pub(crate) fn ends_both_ways(&self) -> bool {
        matches!(self, Source::WsClient(_) | Source::WsServer(_))
    }

    /// The next message; `None` at a clean end (a WebSocket's Close, the
    /// end of a stream).
    ///
    /// Cancel safe for a WebSocket and for datagrams; a byte stream keeps
    /// what it read in its buffer.
    pub(crate) async fn next(&mut self) -> Option<Result<Message, Failure>> {
        match self {
            Source::WsClient(reader) => ws_next(reader.next().await),
            Source::WsServer(reader) => ws_next(reader.next().await),
            Source::Bytes { io, buf, settings } => {
                if settings.lines {
                    next_line(io, buf, settings.max_message_size).await
                } else {
                    next_chunk(io, settings.buffer_size).await
                }
            }
            Source::Udp(socket, lines) => loop {
                let mut buf = BytesMut::with_capacity(MAX_DATAGRAM);
                match socket.recv_buf(&mut buf).await {
                    Ok(_) => return Some(Ok(datagram_message(buf.freeze(), *lines))),
                    // An ICMP error about an earlier datagram (nobody
                    // listening yet): UDP goes on.
                    Err(e) => tracing::debug!(error = %e, "udp receive"),
                }
            },
            Source::Datagrams(datagrams, lines, idle) => {
                let Ok(datagram) = tokio::time::timeout(*idle, datagrams.recv()).await else {
                    tracing::debug!("udp client silent for --udp-timeout: done");
                    return None;
                };
                Some(Ok(datagram_message(datagram?, *lines)))
            }
        }
    }
}

/// A datagram as a message: binary, or text with `--lines` when it is
/// UTF-8.
fn datagram_message(datagram: Bytes, lines: bool) -> Message {
    if lines {
        match Utf8Bytes::try_from(datagram.clone()) {
            Ok(text) => Message::Text(text),
            Err(_) => Message::Binary(datagram),
        }
    } else {
        Message::Binary(datagram)
    }
}

/// A WebSocket's next message, its end, or why it failed.
fn ws_next(item: Option<sockeye::Result<Message>>) -> Option<Result<Message, Failure>> {
    match item? {
        Ok(message) => Some(Ok(message)),
        Err(e) => Some(Err(Failure::new(format!("websocket: {}", describe(&e))))),
    }
}

/// What one read gives, as a binary message of at most `limit` bytes.
async fn next_chunk(io: &mut ByteReader, limit: usize) -> Option<Result<Message, Failure>> {
    // A buffer of its own per message: the message keeps it while in
    // flight, and only one is.
    let mut room = BytesMut::with_capacity(limit);
    // `take` keeps one read within the limit whatever room the buffer has.
    let read = (&mut *io).take(limit as u64).read_buf(&mut room).await;
    match read {
        Ok(0) => None,
        Ok(_) => Some(Ok(Message::binary(room.freeze()))),
        Err(e) => Some(Err(Failure::new(format!("read: {e}")))),
    }
}

/// The next line (without its `\n` or `\r\n`) as a text message, or as a
/// binary one when it is not UTF-8. A last line without a newline counts.
/// A line longer than `limit` fails with 1009 (message too big), before
/// more than `limit` bytes plus one read are held.
async fn next_line(
    io: &mut ByteReader,
    buf: &mut BytesMut,
    limit: usize,
) -> Option<Result<Message, Failure>> {
    /// Bytes asked for per read while looking for the end of a line.
    const READ: usize = 8 << 10;
    let mut searched = 0;
    loop {
        let newline = buf[searched..].iter().position(|&b| b == b'\n');
        let line_len = newline.map_or(buf.len(), |at| searched + at);
        if line_len > limit {
            return Some(Err(Failure {
                why: format!("a line is longer than {limit} bytes (--max-message-size)"),
                code: CloseCode::MESSAGE_TOO_BIG,
            }));
        }
        if let Some(at) = newline {
            let mut line = buf.split_to(searched + at + 1);
            line.truncate(line.len() - 1);
            if line.last() == Some(&b'\r') {
                line.truncate(line.len() - 1);
            }
            return Some(Ok(line_message(line.freeze())));
        }
        searched = buf.len();
        buf.reserve(READ);
        match io.read_buf(buf).await {
            Ok(0) if buf.is_empty() => return None,
            Ok(0) => return Some(Ok(line_message(buf.split().freeze()))),
            Ok(_) => {}
            Err(e) => return Some(Err(Failure::new(format!("read: {e}")))),
        }
    }
}

/// A line as a text message, or a binary one when it is not UTF-8.
fn line_message(line: Bytes) -> Message {
    match Utf8Bytes::try_from(line.clone()) {
        Ok(text) => Message::Text(text),
        Err(_) => Message::Binary(line),
    }
}

impl Sink {
    /// Sends one message and waits until it is handed to the transport, so
    /// that a slow receiver slows the sender (one message in flight).
    ///
    /// A datagram that cannot be sent (too long, nobody listening) is
    /// dropped with a warning, as UDP loses datagrams anyway.
    pub(crate) async fn send(&mut self, message: Message) -> Result<(), Failure> {
        match self {
            Sink::WsClient(writer) => writer.send(message).await.map_err(|e| ws_failure(&e)),
            Sink::WsServer(writer) => writer.send(message).await.map_err(|e| ws_failure(&e)),
            Sink::Bytes { io, lines } => {
                let Some(io) = io else {
                    return Err(Failure::new("write after the end"));
                };
                let written = async {
                    io.write_all(message.payload()).await?;
                    // A message that already ends its line (websocat sends
                    // lines with their newline) gets no second one.
                    if *lines && !message.payload().ends_with(b"\n") {
                        io.write_all(b"\n").await?;
                    }
                    io.flush().await
                };
                written
                    .await
                    .map_err(|e| Failure::new(format!("write: {e}")))
            }
            Sink::Udp(socket) => {
                if let Err(e) = socket.send(message.payload()).await {
                    tracing::warn!(len = message.len(), error = %e, "datagram dropped");
                }
                Ok(())
            }
            Sink::UdpTo(socket, peer) => {
                if let Err(e) = socket.send_to(message.payload(), *peer).await {
                    tracing::warn!(%peer, len = message.len(), error = %e, "datagram dropped");
                }
                Ok(())
            }
        }
    }

    /// Drops a byte stream's writing half, without waiting.
    pub(crate) fn release(&mut self) {
        if let Sink::Bytes { io, .. } = self {
            *io = None;
        }
    }

    /// Ends this side's output: a WebSocket Close (1000 after a clean end,
    /// else the failure's code), a TCP FIN, the end of a program's input.
    /// Errors are only logged: the other side is gone either way.
    pub(crate) async fn finish(&mut self, failure: Option<&Failure>) {
        let (code, reason) = match failure {
            None => (CloseCode::NORMAL, ""),
            Some(failure) => (failure.code, "the other side failed"),
        };
        let result = match self {
            Sink::WsClient(writer) => writer.close(code, reason).await.map_err(|e| ws_failure(&e)),
            Sink::WsServer(writer) => writer.close(code, reason).await.map_err(|e| ws_failure(&e)),
            Sink::Bytes { io, .. } => match io.take() {
                Some(mut io) => io
                    .shutdown()
                    .await
                    .map_err(|e| Failure::new(format!("shutdown: {e}"))),
                None => Ok(()),
            },
            Sink::Udp(_) | Sink::UdpTo(..) => Ok(()),
        };
        if let Err(e) = result {
            tracing::debug!(error = %e.why, "closing");
        }
    }
}

/// A WebSocket send or close that failed.
fn ws_failure(e: &sockeye::Error) -> Failure {
    Failure::new(format!("websocket: {}", describe(e)))
}
