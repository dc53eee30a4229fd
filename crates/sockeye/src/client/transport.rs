//! [`ClientStream`]: the byte stream a client connection runs over, plain
//! TCP, TLS, or one stream of an HTTP/2 connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A client's connection: plain TCP for `ws://`, TLS over TCP for `wss://`,
/// or one stream of an HTTP/2 connection (RFC 8441).
///
/// Reads and writes go straight to the TCP stream, through rustls, or
/// through the HTTP/2 stream; the TLS and HTTP/2 states are boxed, so a
/// plain connection does not carry their size.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// One stream of an HTTP/2 connection (RFC 8441), over TCP or TLS.
    #[cfg(feature = "http2")]
    H2(Box<crate::http2::Http2Stream>),
}

impl ClientStream {
    /// The TCP stream underneath; `None` for an HTTP/2 stream, whose
    /// connection belongs to its own task.
    pub fn tcp(&self) -> Option<&TcpStream> {
        match self {
            ClientStream::Plain(tcp) => Some(tcp),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Some(tls.get_ref().0),
            #[cfg(feature = "http2")]
            ClientStream::H2(_) => None,
        }
    }

    /// Whether the connection is encrypted: `wss://`, over HTTP/1.1 or
    /// HTTP/2.
    pub fn is_tls(&self) -> bool {
        match self {
            ClientStream::Plain(_) => false,
            #[cfg(feature = "tls")]
            ClientStream::Tls(_) => true,
            #[cfg(feature = "http2")]
            ClientStream::H2(stream) => stream.is_tls(),
        }
    }

    /// Whether this is a stream of an HTTP/2 connection (RFC 8441).
    pub fn is_http2(&self) -> bool {
        match self {
            #[cfg(feature = "http2")]
            ClientStream::H2(_) => true,
            _ => false,
        }
    }

    /// The protocol agreed by ALPN, if TLS agreed on one.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            ClientStream::Plain(_) => None,
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.get_ref().1.alpn_protocol(),
            #[cfg(feature = "http2")]
            ClientStream::H2(stream) => stream.is_tls().then_some(b"h2".as_slice()),
        }
    }
}

/// Calls `$method` on whichever stream `$self` holds.
macro_rules! each_stream {
    ($self:expr, $stream:ident => $call:expr) => {
        match $self {
            ClientStream::Plain($stream) => $call,
            #[cfg(feature = "tls")]
            ClientStream::Tls($stream) => {
                let $stream = $stream.as_mut();
                $call
            }
            #[cfg(feature = "http2")]
            ClientStream::H2($stream) => {
                let $stream = $stream.as_mut();
                $call
            }
        }
    };
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.is_write_vectored(),
            #[cfg(feature = "http2")]
            ClientStream::H2(_) => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_stream!(self.get_mut(), s => Pin::new(s).poll_shutdown(cx))
    }
}
