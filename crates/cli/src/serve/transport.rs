//! What a served WebSocket runs on: plain TCP, TLS over TCP, a stream of
//! an HTTP/2 connection, or a connection hyper upgraded (`--static`).

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The byte stream a served WebSocket runs on: plain TCP, TLS over TCP,
/// or one stream of an HTTP/2 connection (RFC 8441). Not to be confused
/// with `sockeye_proto::Connection`, the protocol engine above it.
pub(super) trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Turns Nagle's algorithm off: writes are batched already.
    fn no_delay(&self);
}

impl Transport for TcpStream {
    fn no_delay(&self) {
        let _ = self.set_nodelay(true);
    }
}

impl Transport for sockeye::http2::Http2Stream {
    fn no_delay(&self) {
        // Set on the TCP stream before the TLS handshake.
    }
}

impl Transport for sockeye::tokio_rustls::server::TlsStream<TcpStream> {
    fn no_delay(&self) {
        // Set on the TCP stream before the TLS handshake.
    }
}

impl Transport for sockeye::hyper::UpgradedIo {
    fn no_delay(&self) {
        // Set on the TCP stream before hyper read the request.
    }
}
