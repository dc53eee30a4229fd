//! What a served WebSocket runs on: plain TCP, TLS over TCP, a stream of
//! an HTTP/2 connection, or a connection hyper upgraded (`--static`).

use std::net::SocketAddr;

use sockeye::WebSocket;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The byte stream a served WebSocket runs on: plain TCP, TLS over TCP,
/// or one stream of an HTTP/2 connection (RFC 8441). Not to be confused
/// with `sockeye_proto::Connection`, the protocol engine above it.
pub(super) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Turns Nagle's algorithm off: writes are batched already.
    fn no_delay(&self);

    /// The peer's address and ours; `None` for a stream of an HTTP/2
    /// connection or a connection hyper upgraded.
    fn addresses(&self) -> Option<(SocketAddr, SocketAddr)>;

    /// Tells a connection on plain TCP, which the thread's reactor can
    /// serve, from the others.
    fn sort(ws: WebSocket<Self>) -> Sorted<Self>
    where
        Self: Sized,
    {
        Sorted::Other(ws)
    }
}

/// A connection, by whether it runs on plain TCP.
pub(super) enum Sorted<S> {
    PlainTcp(WebSocket<TcpStream>),
    Other(WebSocket<S>),
}

impl Transport for TcpStream {
    fn no_delay(&self) {
        let _ = self.set_nodelay(true);
    }

    fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.peer_addr().ok().zip(self.local_addr().ok())
    }

    fn sort(ws: WebSocket<Self>) -> Sorted<Self> {
        Sorted::PlainTcp(ws)
    }
}

impl Transport for sockeye::http2::Http2Stream {
    fn no_delay(&self) {
        // Set on the TCP stream before the TLS handshake.
    }

    fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        None
    }
}

impl Transport for sockeye::tokio_rustls::server::TlsStream<TcpStream> {
    fn no_delay(&self) {
        // Set on the TCP stream before the TLS handshake.
    }

    fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        self.get_ref().0.addresses()
    }
}

impl Transport for sockeye::hyper::UpgradedIo {
    fn no_delay(&self) {
        // Set on the TCP stream before hyper read the request.
    }

    fn addresses(&self) -> Option<(SocketAddr, SocketAddr)> {
        // hyper's upgraded connection hides the socket: its addresses are
        // read before hyper takes it.
        None
    }
}
