//! The one error type of this crate, and the proxy failures it holds.

use std::io;

use bytes::Bytes;
use sockeye_proto::CloseCode;
use sockeye_proto::handshake::HandshakeError;

/// What can go wrong on a WebSocket connection.
///
/// Small (at most 32 bytes) and cheap to match. Each variant says when it
/// happens; the `is_*` helpers group them. A clean close is not an error: the
/// stream simply ends, and [`WebSocket::close_frame`](crate::WebSocket::close_frame)
/// tells the peer's code and reason.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed: connection refused or reset, broken pipe, DNS.
    #[error("i/o error")]
    Io(#[source] io::Error),
    /// The peer broke the protocol or a limit. A Close frame with
    /// [`close_code`](Error::close_code) was sent and the connection closed.
    #[error("protocol error")]
    Protocol(#[source] sockeye_proto::Error),
    /// The opening handshake failed: a bad request or response, or (on a
    /// client) an answer other than 101, whose status, headers and body
    /// [`Rejected`] holds.
    #[error("opening handshake failed")]
    Handshake(#[source] Box<HandshakeFailure>),
    /// A time limit ran out.
    #[error("{0} timed out")]
    Timeout(Timeout),
    /// The peer's byte stream ended, or the transport was cut, before the
    /// closing handshake completed: close code 1006 (RFC 6455 §7.1.5).
    #[error("connection closed without a closing handshake")]
    AbnormalClosure,
    /// The connection is closing or closed: nothing more can be sent.
    #[error("connection closed")]
    Closed,
    /// Our caller misused the API: a ping over 125 bytes, a close code that
    /// may not be sent, a reason over 123 bytes.
    #[error("invalid use")]
    Usage(#[source] sockeye_proto::UsageError),
    /// The URL cannot be used for a WebSocket connection (R-URI-01..05).
    #[error("invalid url: {0}")]
    InvalidUrl(&'static str),
    /// A header given to [`ClientBuilder`](crate::ClientBuilder) has an
    /// invalid name or value.
    #[error("invalid request header: {0}")]
    InvalidHeader(&'static str),
    /// TLS failed: the server's certificate could not be verified (an
    /// unknown issuer, an expired certificate, another name), the peers
    /// share no protocol version or cipher suite, or a certificate or key
    /// given to sockeye is unusable. The rustls error says which.
    #[cfg(feature = "tls")]
    #[error("tls failed")]
    Tls(#[source] Box<rustls::Error>),
    /// A proxy could not be used: its URL is invalid, it cannot be reached,
    /// or it would not open a tunnel to the server (R-CH-02).
    /// [`ProxyError`] says which.
    #[error("proxy failed")]
    Proxy(#[source] Box<ProxyError>),
}

/// Which time limit ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Timeout {
    /// Resolving and connecting TCP.
    Connect,
    /// The opening handshake.
    Handshake,
    /// Waiting for the peer during the closing handshake.
    Close,
    /// Keepalive: nothing arrived from the peer within
    /// [`keepalive_timeout`](crate::WebSocketConfig::keepalive_timeout) of
    /// a Ping. The connection was closed with 1011.
    Keepalive,
    /// No message was sent or received for
    /// [`idle_timeout`](crate::WebSocketConfig::idle_timeout). The
    /// connection was closed with 1001.
    Idle,
}

impl std::fmt::Display for Timeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Timeout::Connect => "connect",
            Timeout::Handshake => "opening handshake",
            Timeout::Close => "closing handshake",
            Timeout::Keepalive => "keepalive (no answer to a ping)",
            Timeout::Idle => "idle (no message either way)",
        })
    }
}

/// Why an opening handshake failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The request or response broke RFC 6455 §4.
    #[error(transparent)]
    Invalid(HandshakeError),
    /// The server answered with something other than 101.
    #[error("server answered {}", .0.status())]
    Rejected(Rejected),
    /// The server's callback refused the request with this status.
    #[error("request refused with {0}")]
    Refused(http::StatusCode),
    /// The request was plain HTTP, not a WebSocket upgrade, and the
    /// handler set with
    /// [`ServerBuilder::http_fallback`](crate::ServerBuilder::http_fallback)
    /// answered it with this status.
    #[error("plain http request answered with {0}")]
    PlainHttp(http::StatusCode),
    /// [`ClientBuilder::follow_redirects`](crate::ClientBuilder::follow_redirects)
    /// allowed fewer redirects than the servers sent; the last answer.
    #[error("too many redirects (the last answered {})", .0.status())]
    TooManyRedirects(Rejected),
    /// A `wss://` server redirected to `ws://`, which would send the
    /// handshake and every message in the clear; the redirect.
    #[error("redirect from wss to ws refused")]
    InsecureRedirect(Rejected),
    /// A redirect without a `Location`, or to something other than a `ws`,
    /// `wss`, `http` or `https` URL; the redirect.
    #[error("redirect to an unusable location")]
    InvalidRedirect(Rejected),
}

/// A non-101 answer to a client's opening handshake: status, headers and
/// body (read up to 64 KiB), so a caller can act on 401 or 3xx.
pub type Rejected = http::Response<Bytes>;

impl Error {
    /// The transport failed ([`Io`](Error::Io)).
    pub fn is_io(&self) -> bool {
        matches!(self, Error::Io(_))
    }

    /// The peer broke the protocol ([`Protocol`](Error::Protocol)).
    pub fn is_protocol(&self) -> bool {
        matches!(self, Error::Protocol(_))
    }

    /// The opening handshake failed ([`Handshake`](Error::Handshake)).
    pub fn is_handshake(&self) -> bool {
        matches!(self, Error::Handshake(_))
    }

    /// A time limit ran out ([`Timeout`](Error::Timeout)).
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout(_))
    }

    /// The connection is over: [`Closed`](Error::Closed) or
    /// [`AbnormalClosure`](Error::AbnormalClosure).
    pub fn is_closed(&self) -> bool {
        matches!(self, Error::Closed | Error::AbnormalClosure)
    }

    /// The close code that describes this failure, where there is one: the
    /// code we sent for a protocol error, 1006 for an abnormal closure.
    pub fn close_code(&self) -> Option<CloseCode> {
        match self {
            Error::Protocol(e) => Some(e.close_code()),
            Error::AbnormalClosure => Some(CloseCode::ABNORMAL),
            _ => None,
        }
    }

    /// A proxy could not be used ([`Proxy`](Error::Proxy)).
    pub fn is_proxy(&self) -> bool {
        matches!(self, Error::Proxy(_))
    }

    /// The server's non-101 answer, if the handshake was rejected: a
    /// refusal, or a redirect that was not followed (sockeye follows none
    /// unless asked) or could not be.
    pub fn rejection(&self) -> Option<&Rejected> {
        match self {
            Error::Handshake(failure) => match &**failure {
                HandshakeFailure::Rejected(response)
                | HandshakeFailure::TooManyRedirects(response)
                | HandshakeFailure::InsecureRedirect(response)
                | HandshakeFailure::InvalidRedirect(response) => Some(response),
                _ => None,
            },
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<sockeye_proto::Error> for Error {
    fn from(e: sockeye_proto::Error) -> Self {
        Error::Protocol(e)
    }
}

impl From<sockeye_proto::UsageError> for Error {
    fn from(e: sockeye_proto::UsageError) -> Self {
        match e {
            sockeye_proto::UsageError::Closed => Error::Closed,
            other => Error::Usage(other),
        }
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(Box::new(HandshakeFailure::Invalid(e)))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(e) => e,
            Error::Timeout(_) => io::Error::new(io::ErrorKind::TimedOut, e),
            Error::AbnormalClosure => io::Error::new(io::ErrorKind::UnexpectedEof, e),
            Error::Closed => io::Error::new(io::ErrorKind::NotConnected, e),
            Error::Usage(_) | Error::InvalidUrl(_) | Error::InvalidHeader(_) => {
                io::Error::new(io::ErrorKind::InvalidInput, e)
            }
            Error::Proxy(ref proxy) => io::Error::new(proxy.io_kind(), e),
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// Why a proxy could not be used. Held by [`Error::Proxy`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The URL given to [`ClientBuilder::proxy`](crate::ClientBuilder::proxy)
    /// or [`Proxy::parse`](crate::Proxy::parse) is not a supported proxy URL. Reported before
    /// any I/O.
    #[error("invalid proxy url: {0}")]
    InvalidUrl(&'static str),
    /// The proxy URL in this environment variable is not a supported proxy
    /// URL. Reported, before any I/O, only when the variable applies to
    /// the connection (the scheme matches and `NO_PROXY` does not exclude
    /// the host).
    #[error("invalid proxy url in {variable}: {why}")]
    InvalidEnv {
        /// The variable, such as `HTTPS_PROXY`.
        variable: &'static str,
        /// What is wrong with its value.
        why: &'static str,
    },
    /// The connection to the proxy failed: it could not be reached, or it
    /// closed or broke the connection before the tunnel was open.
    #[error("connection to the proxy failed")]
    Io(#[source] io::Error),
    /// The HTTP proxy answered `CONNECT` with a status other than 2xx: 407
    /// when it wants credentials (see its `Proxy-Authenticate` header) or
    /// refused those given, 403 when it does not allow the server, 502 or
    /// 504 when it could not reach it. Status, headers and body (up to
    /// 64 KiB).
    #[error("the proxy answered {}", .0.status())]
    Rejected(Rejected),
    /// The HTTP proxy's answer to `CONNECT` is not a valid HTTP response,
    /// or it sent data before the tunnel was used.
    #[error("invalid answer from the proxy: {0}")]
    InvalidResponse(&'static str),
    /// The SOCKS5 proxy refused: it wants credentials or refused those
    /// given (RFC 1929), or its reply to the request is a failure (RFC 1928
    /// §6: general failure, not allowed by its rules, network or host
    /// unreachable, connection refused…), or it does not speak SOCKS5.
    #[error("socks5 proxy: {0}")]
    Socks(&'static str),
}

impl ProxyError {
    /// The `io::ErrorKind` of this failure, for `From<Error> for io::Error`.
    pub(crate) fn io_kind(&self) -> io::ErrorKind {
        match self {
            ProxyError::InvalidUrl(_) | ProxyError::InvalidEnv { .. } => {
                io::ErrorKind::InvalidInput
            }
            ProxyError::Io(e) => e.kind(),
            ProxyError::Rejected(_) | ProxyError::Socks(_) => io::ErrorKind::ConnectionRefused,
            ProxyError::InvalidResponse(_) => io::ErrorKind::InvalidData,
        }
    }
}

impl From<ProxyError> for Error {
    fn from(e: ProxyError) -> Self {
        Error::Proxy(Box::new(e))
    }
}

impl From<HandshakeError> for HandshakeFailure {
    fn from(e: HandshakeError) -> Self {
        HandshakeFailure::Invalid(e)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_small() {
        assert!(
            std::mem::size_of::<Error>() <= 32,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
