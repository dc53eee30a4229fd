//! The settings of an Engine.IO server, each with its default and why.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

/// A refusal from [`EngineConfig::allow_request`]: the status and the
/// Engine.IO error answered to the refused handshake.
///
/// [`Refusal::forbidden`] is Node's answer: 403 with
/// `{"code":4,"message":"Forbidden"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status (403 by default).
    pub status: StatusCode,
    /// The `message` of the JSON body.
    pub message: String,
}

impl Refusal {
    /// 403 with the message `Forbidden`, as Node's engine.io answers.
    pub fn forbidden() -> Self {
        Refusal {
            status: StatusCode::FORBIDDEN,
            message: "Forbidden".to_owned(),
        }
    }

    /// 403 with a message of the caller's.
    pub fn with_message(message: impl Into<String>) -> Self {
        Refusal {
            status: StatusCode::FORBIDDEN,
            message: message.into(),
        }
    }
}

impl Default for Refusal {
    fn default() -> Self {
        Refusal::forbidden()
    }
}

/// The check run on each handshake request (a request without `sid`)
/// before a session opens; `Err` refuses it.
pub type AllowRequest =
    Arc<dyn Fn(&http::request::Parts) -> Result<(), Refusal> + Send + Sync + 'static>;

/// Which origins may read the answers from a browser (CORS).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum CorsOrigins {
    /// No CORS headers: browsers on other origins cannot read the answers.
    /// The default, as Node's engine.io without a `cors` option.
    #[default]
    None,
    /// Every origin: `Access-Control-Allow-Origin: *`, or the request's own
    /// origin when credentials are allowed (browsers refuse `*` then).
    Any,
    /// These origins exactly (`https://example.com`), echoed back with
    /// `Vary: Origin`.
    List(Vec<String>),
}

/// CORS settings: the allowed origins and whether credentials (cookies)
/// may be sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cors {
    /// The allowed origins. Default: [`CorsOrigins::None`].
    pub origins: CorsOrigins,
    /// Whether to answer `Access-Control-Allow-Credentials: true`.
    /// Default: `false`, as the `cors` package Node uses.
    pub credentials: bool,
}

/// The transports a server accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transports {
    /// HTTP long-polling. Default: on.
    pub polling: bool,
    /// WebSocket. Default: on.
    pub websocket: bool,
}

impl Default for Transports {
    fn default() -> Self {
        Transports {
            polling: true,
            websocket: true,
        }
    }
}

/// The settings of an [`Engine`](super::Engine).
///
/// Public fields with a [`Default`]; the defaults are Node engine.io's
/// unless a field says otherwise, so that clients tuned for Node behave
/// the same here.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sockeye_io::engine::{CorsOrigins, EngineConfig};
///
/// let mut config = EngineConfig::default();
/// config.ping_interval = Duration::from_millis(300);
/// config.cors.origins = CorsOrigins::Any;
/// assert_eq!(config.path, "/engine.io/");
/// ```
#[derive(Clone)]
pub struct EngineConfig {
    /// How long after the open, and after each pong, the server sends a
    /// ping. Default: 25 s (Node's `pingInterval`); clients learn it from
    /// the handshake.
    pub ping_interval: Duration,
    /// How long the server waits for the pong before it closes the session
    /// with "ping timeout". Default: 20 s (Node's `pingTimeout`).
    pub ping_timeout: Duration,
    /// The largest polling body (bytes) the server reads, and the largest
    /// WebSocket message. Default: 1,000,000 (Node's `maxHttpBufferSize`),
    /// announced to clients as `maxPayload`.
    pub max_payload: usize,
    /// How long a probed WebSocket may take to send `5` (upgrade) before it
    /// is closed and the session stays on polling. Default: 10 s (Node's
    /// `upgradeTimeout`).
    pub upgrade_timeout: Duration,
    /// The transports allowed. Default: both.
    pub transports: Transports,
    /// The request path served, with its trailing slash. Default:
    /// `/engine.io/` (Node's `path`); the client's default as well.
    pub path: String,
    /// CORS answers. Default: none, as Node without a `cors` option.
    pub cors: Cors,
    /// Decides on each handshake; a refusal is answered with its status
    /// and `{"code":4,"message":...}`. Default: `None`, every handshake is
    /// allowed (Node's `allowRequest`).
    pub allow_request: Option<AllowRequest>,
    /// The most sessions open at once; handshakes beyond it are answered
    /// 503. Default: 100,000: bounds the memory an attacker can make the
    /// server hold through handshakes alone, far above what one process
    /// usually serves. Node has no such bound.
    pub max_sessions: usize,
    /// The most new sessions opened a second, on average, with bursts of as
    /// many at once; handshakes beyond it are answered 503 with
    /// `Retry-After: 1` (clients retry with their reconnection delay). 0:
    /// no bound. Default: 5,000: a flood of handshakes (each a session, a
    /// task and timers) cannot take the server's time from the clients
    /// already connected, while a reconnection storm of 10,000 clients
    /// still gets through in about two seconds. Node has no such bound.
    pub max_handshake_rate: u32,
    /// The most packets queued for one session and not yet written out.
    /// When full, [`EngineSocket::send`](super::EngineSocket::send) returns
    /// [`SendError::QueueFull`](super::SendError::QueueFull) and queues
    /// nothing: the caller decides (drop the message, close the session).
    /// Default: 1024 packets: a client that stops reading cannot make the
    /// server grow without bound (Node's queue is unbounded), while bursts
    /// of a few hundred events, and their binary attachments, still fit.
    pub max_buffered_packets: usize,
    /// The most bytes of messages queued for one session and not yet
    /// written out; when a send would pass it, it fails as for
    /// `max_buffered_packets` ([`SendError::BytesFull`](super::SendError::BytesFull)).
    /// One message larger than it still goes when nothing else waits.
    /// Default: 8 MiB, eight messages of the largest size a client may
    /// send (`max_payload`): an application that echoes what clients send
    /// cannot be made to hold more than this for a client that does not
    /// read.
    pub max_buffered_bytes: usize,
    /// Whether Engine.IO v3 clients (`EIO=3`: socket.io-client 2.x, which
    /// speaks Socket.IO protocol v4) are served, as Node's `allowEIO3`.
    /// Default: `false`, as Node: v3 has the client ping instead of the
    /// server, length-prefixed polling payloads that must be re-encoded
    /// per session, and a binary polling format of its own, so serving it
    /// costs a second code path on every transport and handshake; a server
    /// whose clients are all current gains nothing from it. When off, `EIO=3`
    /// is answered 400 with code 5 ("Unsupported protocol version").
    pub allow_eio3: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            upgrade_timeout: Duration::from_secs(10),
            transports: Transports::default(),
            path: "/engine.io/".to_owned(),
            cors: Cors::default(),
            allow_request: None,
            max_sessions: 100_000,
            max_handshake_rate: 5_000,
            max_buffered_packets: 1024,
            max_buffered_bytes: 8 << 20,
            allow_eio3: false,
        }
    }
}

impl fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineConfig")
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("transports", &self.transports)
            .field("path", &self.path)
            .field("cors", &self.cors)
            .field("allow_request", &self.allow_request.as_ref().map(|_| ".."))
            .field("max_sessions", &self.max_sessions)
            .field("max_handshake_rate", &self.max_handshake_rate)
            .field("max_buffered_packets", &self.max_buffered_packets)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("allow_eio3", &self.allow_eio3)
            .finish()
    }
}
