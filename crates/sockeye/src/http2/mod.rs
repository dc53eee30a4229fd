//! WebSocket connections over HTTP/2 (RFC 8441): one HTTP/2 stream opened by an
//! extended CONNECT carries the connection, with RFC 6455 framing (and
//! client masking) unchanged inside its DATA frames.
//!
//! [`Http2Stream`] turns such a stream into a byte stream that a
//! [`WebSocket`](crate::WebSocket) runs over; the client side is in
//! `client.rs`, the server side in `server.rs`: [`serve_connection`] answers
//! every stream as [`ServerBuilder::accept`](crate::ServerBuilder::accept)
//! would, [`serve_connection_with`] lets a callback accept or refuse each
//! one, as [`ServerBuilder::accept_with`](crate::ServerBuilder::accept_with)
//! does over HTTP/1.1. A client asks for HTTP/2 with
//! [`ClientBuilder::http2`](crate::ClientBuilder::http2).

pub(crate) mod client;
mod server;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use self::server::{Decision, serve_connection, serve_connection_until, serve_connection_with};

/// The flow-control window of each stream, both ways: HTTP/2's default of
/// 64 KiB would hold a WebSocket to one window per round trip.
pub(crate) const STREAM_WINDOW: u32 = 1 << 20;

/// The flow-control window of a whole connection.
pub(crate) const CONNECTION_WINDOW: u32 = 4 << 20;

/// The most WebSocket streams one HTTP/2 connection may have open at once
/// (`SETTINGS_MAX_CONCURRENT_STREAMS`); a browser opens one per socket to
/// the same origin.
pub const MAX_STREAMS: u32 = 100;

/// The most bytes handed to one DATA frame write: HTTP/2 splits them into
/// frames of the peer's maximum size anyway, and flow control grants
/// capacity in pieces of about this size.
const WRITE_CHUNK: usize = 64 << 10;

/// One HTTP/2 stream as a byte stream: reads take its DATA frames (and give
/// their flow-control credit back), writes send DATA frames as the peer's
/// flow control allows, and shutting down ends the stream (`END_STREAM`, the
/// orderly close of RFC 8441 §5, H2-11). Dropping it before that resets the
/// stream.
#[derive(Debug)]
pub struct Http2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// What is left of the last DATA frame read.
    unread: Bytes,
    /// `END_STREAM` was sent.
    finished: bool,
    /// The HTTP/2 connection runs over TLS.
    tls: bool,
}

impl Http2Stream {
    /// A byte stream over the two halves of an HTTP/2 stream.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Http2Stream {
            send,
            recv,
            unread: Bytes::new(),
            finished: false,
            tls: false,
        }
    }

    /// Whether the HTTP/2 connection runs over TLS, as far as this stream
    /// was told ([`with_tls`](Self::with_tls)).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Marks the stream as carried over TLS.
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }
}

pub(crate) fn io_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| io::Error::other("http/2 i/o error"))
    } else {
        io::Error::other(e)
    }
}

impl AsyncRead for Http2Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.unread.is_empty() {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // The credit goes back as the bytes are taken: the peer
                    // may send as much again.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.unread = data;
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                // `END_STREAM`: the peer's orderly close, read as EOF.
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.unread.len().min(buf.remaining());
        buf.put_slice(&this.unread[..n]);
        this.unread.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Http2Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let wanted = buf.len().min(WRITE_CHUNK);
        this.send.reserve_capacity(wanted);
        // Waits until flow control grants some of it.
        match ready!(this.send.poll_capacity(cx)) {
            Some(Ok(granted)) => {
                let n = granted.min(wanted);
                this.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(io_error)?;
                Poll::Ready(Ok(n))
            }
            Some(Err(e)) => Poll::Ready(Err(io_error(e))),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the http/2 stream is closed",
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection's task writes what is sent, as flow control allows.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.finished {
            this.finished = true;
            this.send.send_data(Bytes::new(), true).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}
