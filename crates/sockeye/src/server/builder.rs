//! [`ServerBuilder`]: the settings every accepted connection shares.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Request, Response};

use crate::config::{SharedConfig, WebSocketConfig};

/// Settings for accepting connections; reusable for every connection.
///
/// # Examples
///
/// ```no_run
/// # async fn run(tcp: tokio::net::TcpStream) -> sockeye::Result<()> {
/// use http::StatusCode;
/// use sockeye::{Accept, ServerBuilder};
///
/// let server = ServerBuilder::new().max_message_size(1 << 20);
/// let ws = server
///     .accept_with(tcp, |request| async move {
///         if request.headers().get("authorization").is_none() {
///             let refusal = http::Response::builder()
///                 .status(StatusCode::UNAUTHORIZED)
///                 .header("www-authenticate", "Bearer")
///                 .body(bytes::Bytes::from_static(b"token required"))
///                 .unwrap();
///             return Err(refusal);
///         }
///         let chat = request.protocols().iter().any(|p| p == "chat");
///         Ok(Accept::new().protocol_if(chat, "chat"))
///     })
///     .await?;
/// println!("agreed on {:?}", ws.protocol());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ServerBuilder {
    pub(super) config: WebSocketConfig,
    handshake_timeout: Duration,
    pub(super) shared: SharedConfig,
    /// Origins allowed to connect, lowercased; `None`: any.
    allowed_origins: Option<Vec<String>>,
    /// The subprotocols [`accept`](ServerBuilder::accept) agrees to.
    pub(super) protocols: Vec<String>,
    pub(super) http_fallback: Option<HttpFallback>,
}

impl Default for ServerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ServerBuilder {
    /// Default settings.
    pub fn new() -> Self {
        ServerBuilder {
            config: WebSocketConfig::default(),
            handshake_timeout: Duration::from_secs(10),
            shared: SharedConfig::default(),
            allowed_origins: None,
            protocols: Vec::new(),
            http_fallback: None,
        }
    }

    crate::config::connection_setters!();

    /// Accepts permessage-deflate (RFC 7692) from clients that offer it,
    /// with these settings, or never with `None`. Default: `None`.
    ///
    /// Off by default on servers: a connection that keeps its compression
    /// context holds about 300 KiB of zlib state once it has compressed a
    /// message. With `server_no_context_takeover` the compressor is shared
    /// per thread instead.
    #[must_use]
    pub fn deflate(mut self, deflate: Option<sockeye_proto::DeflateConfig>) -> Self {
        self.config.proto.deflate = deflate;
        self
    }

    /// How long reading the request and writing the answer may take, which
    /// bounds slow or silent clients. Default: 10 s. The accept callback's
    /// own time is not counted.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Accepts only requests whose `Origin` header is one of `origins`
    /// (such as `https://example.com`, compared without regard to case);
    /// others are answered 403 Forbidden before the accept callback runs.
    /// Default: any origin.
    ///
    /// Browsers always send `Origin` (RFC 6455 §4.1, §10.2), and this is
    /// what stops other sites' pages from connecting with a user's cookies.
    /// Requests without it come from programs other than browsers, which
    /// can send any `Origin` they like; they are let through.
    #[must_use]
    pub fn allowed_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.allowed_origins = Some(
            origins
                .into_iter()
                .map(|origin| origin.as_ref().to_ascii_lowercase())
                .collect(),
        );
        self
    }

    /// The subprotocols [`accept`](Self::accept) agrees to. It picks the
    /// first protocol the client offers, in the client's order of
    /// preference, that is in `protocols`, and none when there is no such
    /// protocol (the client then decides whether to go on; browsers do
    /// not). Default: none. [`accept_with`](Self::accept_with) leaves the
    /// choice to its callback, which can call
    /// [`UpgradeRequest::select_protocol`](crate::UpgradeRequest::select_protocol).
    #[must_use]
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Answers plain HTTP requests, those that do not ask for a WebSocket
    /// upgrade, with `handler`'s response instead of
    /// `426 Upgrade Required`: a page, a health check or a 404 on the
    /// WebSocket port. Default: none.
    ///
    /// The response is sent as it is, without its body for `HEAD`, and the
    /// connection is then closed; `accept` returns
    /// [`HandshakeFailure::PlainHttp`](crate::HandshakeFailure::PlainHttp) with its status. Requests that ask
    /// for an upgrade never reach the handler, valid or not.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(tcp: tokio::net::TcpStream) -> sockeye::Result<()> {
    /// use bytes::Bytes;
    /// use sockeye::{Error, HandshakeFailure, ServerBuilder};
    ///
    /// let server = ServerBuilder::new().http_fallback(|request| {
    ///     let (status, body) = match request.uri().path() {
    ///         "/health" => (200, "ok\n"),
    ///         _ => (404, "not found\n"),
    ///     };
    ///     http::Response::builder()
    ///         .status(status)
    ///         .body(Bytes::from_static(body.as_bytes()))
    ///         .unwrap_or_default()
    /// });
    /// match server.accept(tcp).await {
    ///     Ok(ws) => println!("open, protocol {:?}", ws.protocol()),
    ///     Err(Error::Handshake(failure)) if matches!(*failure, HandshakeFailure::PlainHttp(_)) => {
    ///         // answered and closed
    ///     }
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn http_fallback<F>(mut self, handler: F) -> Self
    where
        F: Fn(&Request<()>) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.http_fallback = Some(HttpFallback(Arc::new(handler)));
        self
    }

    /// Whether a request from `origin` may go on.
    pub(crate) fn origin_allowed(&self, origin: Option<&HeaderValue>) -> bool {
        match (&self.allowed_origins, origin) {
            (None, _) | (Some(_), None) => true,
            (Some(allowed), Some(origin)) => allowed
                .iter()
                .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes())),
        }
    }

    /// The settings its connections are made with.
    pub fn websocket_config(&self) -> &WebSocketConfig {
        &self.config
    }

    /// The settings for a connection this builder opens, shared with its
    /// other connections when they have not changed.
    pub(crate) fn connection_config(&self) -> (Arc<sockeye_proto::Config>, Arc<WebSocketConfig>) {
        self.shared.get(&self.config)
    }

    /// The time limit of opening handshakes.
    pub(crate) fn handshake_limit(&self) -> Duration {
        self.handshake_timeout
    }
}

/// The answer to plain HTTP requests (see [`ServerBuilder::http_fallback`]).
#[derive(Clone)]
pub(super) struct HttpFallback(pub(super) Arc<HttpHandler>);

/// A handler of plain HTTP requests.
type HttpHandler = dyn Fn(&Request<()>) -> Response<Bytes> + Send + Sync;

impl fmt::Debug for HttpFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpFallback(..)")
    }
}
