//! WebSocket upgrades inside a hyper 1.x server, over HTTP/1.1 (RFC 6455
//! §4) and HTTP/2 (RFC 8441).
//!
//! hyper reads the request and writes the response; sockeye checks the
//! request, builds the answer and runs the connection once hyper hands the
//! upgraded stream over:
//!
//! 1. [`ServerBuilder::upgrade`] (or [`upgrade`] with default settings)
//!    checks the request and returns the response to send, with an
//!    [`Upgrade`] future; a bad request gets an [`UpgradeError`] whose
//!    [`into_response`](UpgradeError::into_response) is the answer to send
//!    instead (400, 403, 426, ...). To look at the checked request first
//!    (its path, its offered subprotocols, a session) and then accept or
//!    refuse it, call [`ServerBuilder::check_upgrade`] and
//!    [`PendingUpgrade::accept`].
//! 2. The service returns that response; hyper writes it and switches the
//!    connection over.
//! 3. The [`Upgrade`] future, awaited in a task of its own, then yields the
//!    [`WebSocket`].
//!
//! Both HTTP versions are handled by the same call:
//!
//! - **HTTP/1.1**: a `GET` with `Upgrade: websocket`, checked as
//!   [`ServerBuilder::accept`] checks it (R-SH-01..05, R-SH-13), answered
//!   `101 Switching Protocols` with `Sec-WebSocket-Accept` (R-SH-10). Serve
//!   the connection with upgrades on: `http1::Builder::serve_connection(..)
//!   .with_upgrades()`, or `auto::Builder::serve_connection_with_upgrades`.
//! - **HTTP/2**: an extended CONNECT with `:protocol` `websocket` (hyper's
//!   [`Protocol`] request extension), answered
//!   `200` (H2-09); there is no key and no accept value, and
//!   `Sec-WebSocket-Version`, `-Protocol`, `-Extensions` and `Origin` mean
//!   what they mean over HTTP/1.1 (H2-07, H2-08). The server must announce
//!   `SETTINGS_ENABLE_CONNECT_PROTOCOL` (H2-02), which hyper does with
//!   `http2::Builder::enable_connect_protocol()`; without it hyper refuses
//!   `:protocol` requests itself (H2-04). RFC 6455 framing then runs
//!   unchanged, masking included, on the stream's DATA frames (H2-10), and
//!   closing our side ends the stream (`END_STREAM`, H2-11).
//!
//! Set `TCP_NODELAY` on the connections (`TcpStream::set_nodelay`): small
//! messages, and the `WINDOW_UPDATE` frames HTTP/2 answers data with,
//! should not wait for the peer's delayed ACK; without it a large message
//! over HTTP/2 on loopback moves at about a megabyte a second.
//!
//! Over HTTP/2 a request that fails the RFC 6455 header checks is answered
//! 400 where HTTP/1.1 gets 426 (a wrong or missing `Sec-WebSocket-Version`):
//! a 426 must carry `Upgrade`, which HTTP/2 forbids. The answer still lists
//! `Sec-WebSocket-Version: 13` (R-SH-05).
//!
//! The settings of [`ServerBuilder`] apply as for [`ServerBuilder::accept`]:
//! limits, keepalive, subprotocols ([`ServerBuilder::protocols`]),
//! permessage-deflate ([`ServerBuilder::deflate`]) and the origin allow-list
//! ([`ServerBuilder::allowed_origins`], 403 otherwise). Those about reading
//! the request are hyper's business instead: the handshake size limits,
//! [`ServerBuilder::handshake_timeout`] and
//! [`ServerBuilder::http_fallback`] (route plain requests in the service,
//! with [`is_upgrade_request`]).
//!
//! # Examples
//!
//! An echo server speaking HTTP/1.1 and HTTP/2 (cleartext) on one port:
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use futures_util::{SinkExt, StreamExt};
//! use http_body_util::Full;
//! use hyper::body::Incoming;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use hyper_util::rt::{TokioExecutor, TokioIo};
//! use hyper_util::server::conn::auto;
//! use sockeye::ServerBuilder;
//!
//! fn handle(
//!     server: &ServerBuilder,
//!     mut request: Request<Incoming>,
//! ) -> Response<Full<Bytes>> {
//!     let (response, upgrade) = match server.upgrade(&mut request) {
//!         Ok(accepted) => accepted,
//!         Err(refused) => return refused.into_response(),
//!     };
//!     tokio::spawn(async move {
//!         let mut ws = upgrade.await?;
//!         while let Some(message) = ws.next().await {
//!             ws.feed(message?).await?;
//!         }
//!         Ok::<_, sockeye::Error>(())
//!     });
//!     response
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let server = ServerBuilder::new().protocols(["echo"]);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let mut http = auto::Builder::new(TokioExecutor::new());
//! http.http2().enable_connect_protocol();
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let _ = tcp.set_nodelay(true);
//!     let (server, http) = (server.clone(), http.clone());
//!     tokio::spawn(async move {
//!         let service = service_fn(move |request| {
//!             std::future::ready(Ok::<_, Infallible>(handle(&server, request)))
//!         });
//!         let _ = http
//!             .serve_connection_with_upgrades(TokioIo::new(tcp), service)
//!             .await;
//!     });
//! }
//! # }
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use ::hyper::ext::Protocol;
use ::hyper::upgrade::OnUpgrade;
use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue, UPGRADE};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use sockeye_proto::PerMessageDeflate;
use sockeye_proto::handshake::header_has_token;

use crate::error::{Error, Result};
use crate::server::builder::ServerBuilder;
use crate::server::negotiate::{Agreement, CheckedRequest, Reason, Refusal};
use crate::server::request::{Accept, UpgradeRequest};
use crate::stream::WebSocket;

/// The byte stream of an upgraded hyper connection, with tokio's I/O
/// traits: what a [`WebSocket`] from [`Upgrade`] runs over.
///
/// Bytes the client sent right after its request, which hyper had already
/// read, come first (hyper keeps them in the [`Upgraded`](::hyper::upgrade::Upgraded)).
pub type UpgradedIo = TokioIo<::hyper::upgrade::Upgraded>;

/// Accepts a WebSocket request in a hyper service with default settings:
/// no subprotocol, no permessage-deflate, any origin.
///
/// The same as `ServerBuilder::new().upgrade(request)`; see
/// [`ServerBuilder::upgrade`].
///
/// # Errors
///
/// As [`ServerBuilder::upgrade`].
///
/// # Examples
///
/// ```
/// use sockeye::hyper::upgrade;
///
/// // A request without `Upgrade: websocket` is refused with 426.
/// let mut request = http::Request::get("/").header("host", "example.com").body(())?;
/// let refused = upgrade(&mut request).unwrap_err();
/// assert_eq!(refused.status(), 426);
/// # Ok::<(), http::Error>(())
/// ```
pub fn upgrade<B>(
    request: &mut Request<B>,
) -> std::result::Result<(Response<Full<Bytes>>, Upgrade), UpgradeError> {
    ServerBuilder::new().upgrade(request)
}

/// Whether `request` asks for a WebSocket: over HTTP/1.x an `Upgrade`
/// header listing `websocket`, over HTTP/2 an extended CONNECT (any
/// `:protocol`). It says nothing of whether the request is valid.
///
/// For services that answer plain requests and WebSocket requests on the
/// same path: send the first elsewhere and the second to
/// [`ServerBuilder::upgrade`], which refuses the broken ones with the right
/// status.
///
/// # Examples
///
/// ```
/// use sockeye::hyper::is_upgrade_request;
///
/// let page = http::Request::get("/").body(())?;
/// assert!(!is_upgrade_request(&page));
/// let socket = http::Request::get("/").header("upgrade", "websocket").body(())?;
/// assert!(is_upgrade_request(&socket));
/// # Ok::<(), http::Error>(())
/// ```
pub fn is_upgrade_request<B>(request: &Request<B>) -> bool {
    asks_for_websocket(
        request.method(),
        request.version(),
        request.headers(),
        request.extensions(),
    )
}

/// [`is_upgrade_request`] on the parts of a request's head.
pub(crate) fn asks_for_websocket(
    method: &Method,
    version: Version,
    headers: &http::HeaderMap,
    extensions: &http::Extensions,
) -> bool {
    if version == Version::HTTP_2 {
        method == Method::CONNECT && extensions.get::<Protocol>().is_some()
    } else {
        header_has_token(headers, UPGRADE, "websocket")
    }
}

impl ServerBuilder {
    /// Accepts a WebSocket request that hyper has read, HTTP/1.1 or HTTP/2
    /// (see the [module](crate::hyper) docs): returns the response to send
    /// and a future that yields the [`WebSocket`] once hyper has sent it.
    ///
    /// The subprotocol is chosen as [`accept`](Self::accept) chooses it,
    /// from [`protocols`](Self::protocols); permessage-deflate is agreed as
    /// [`deflate`](Self::deflate) allows. The response is `101` with
    /// `Sec-WebSocket-Accept` over HTTP/1.1 and `200` over HTTP/2, with
    /// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` as agreed.
    /// The request's body is not read (a valid request has none), and the
    /// upgrade hyper put in its extensions is taken out. To look at the
    /// checked request before answering, use
    /// [`check_upgrade`](Self::check_upgrade) instead.
    ///
    /// Costs a copy of the request's head.
    ///
    /// # Errors
    ///
    /// An [`UpgradeError`] for a request that cannot be accepted; send its
    /// [`into_response`](UpgradeError::into_response):
    ///
    /// - over HTTP/1.x, what [`accept`](Self::accept) answers: 400 for a
    ///   malformed request (a method other than `GET`, a missing `Host`,
    ///   `Connection: Upgrade` or key; R-SH-02..04, R-SH-13), 426 for a
    ///   missing `Upgrade: websocket` or a version other than 13 (R-SH-05);
    /// - over HTTP/2, 400 for a request other than an extended CONNECT or
    ///   failing the same header checks, and 501 for a `:protocol` other
    ///   than `websocket`;
    /// - 403 for an `Origin` that [`allowed_origins`](Self::allowed_origins)
    ///   does not list (R-SH-06);
    /// - 500 when hyper offers no way to take the connection over (the
    ///   connection is not served with upgrades, or the request did not come
    ///   from hyper).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye::ServerBuilder;
    ///
    /// let server = ServerBuilder::new().protocols(["chat.v2", "chat.v1"]);
    /// let mut request = http::Request::get("/chat")
    ///     .header("host", "example.com")
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "Upgrade")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "13")
    ///     .header("sec-websocket-protocol", "chat.v1")
    ///     .body(())?;
    /// // hyper adds the upgrade to requests it reads; one made by hand has none.
    /// let refused = server.upgrade(&mut request).unwrap_err();
    /// assert_eq!(refused.status(), 500);
    /// # Ok::<(), http::Error>(())
    /// ```
    pub fn upgrade<B>(
        &self,
        request: &mut Request<B>,
    ) -> std::result::Result<(Response<Full<Bytes>>, Upgrade), UpgradeError> {
        let pending = self.check_upgrade(request)?;
        let accept = self.default_accept(pending.request().protocols());
        pending.accept(accept)
    }

    /// The first half of [`upgrade`](Self::upgrade): checks the request
    /// (and its origin) and returns it, for the service to decide, in its
    /// own time, on the answer: [`PendingUpgrade::accept`] with a
    /// subprotocol and extra headers, or any response of its own to refuse
    /// (401, 404, ...), as the callback of
    /// [`accept_with`](Self::accept_with) does.
    ///
    /// # Errors
    ///
    /// As [`upgrade`](Self::upgrade).
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::Full;
    /// use sockeye::{Accept, ServerBuilder};
    ///
    /// async fn handle(
    ///     server: &ServerBuilder,
    ///     mut request: http::Request<hyper::body::Incoming>,
    /// ) -> http::Response<Full<Bytes>> {
    ///     let pending = match server.check_upgrade(&mut request) {
    ///         Ok(pending) => pending,
    ///         Err(refused) => return refused.into_response(),
    ///     };
    ///     if pending.request().path() != "/live" {
    ///         let mut not_found = http::Response::new(Full::default());
    ///         *not_found.status_mut() = http::StatusCode::NOT_FOUND;
    ///         return not_found;
    ///     }
    ///     // Anything asynchronous may happen here: a session lookup...
    ///     let json = pending.request().select_protocol(&["json"]).is_some();
    ///     let accept = Accept::new().protocol_if(json, "json").header("set-cookie", "seen=1");
    ///     match pending.accept(accept) {
    ///         Ok((response, upgrade)) => {
    ///             tokio::spawn(async move {
    ///                 if let Ok(ws) = upgrade.await {
    ///                     // ... use ws
    ///                     # drop(ws);
    ///                 }
    ///             });
    ///             response
    ///         }
    ///         Err(refused) => refused.into_response(),
    ///     }
    /// }
    /// ```
    pub fn check_upgrade<B>(
        &self,
        request: &mut Request<B>,
    ) -> std::result::Result<PendingUpgrade<'_>, UpgradeError> {
        let on_upgrade = request.extensions_mut().remove::<OnUpgrade>();
        let checked = Checked::new(head_of(request), on_upgrade)?;
        checked.check_origin(self)?;
        Ok(PendingUpgrade {
            checked,
            server: self,
        })
    }
}

/// A valid WebSocket request, not answered yet: accept it with
/// [`accept`](Self::accept), or refuse it with any response of your own
/// and drop this.
///
/// From [`ServerBuilder::check_upgrade`], whose settings it uses.
#[derive(Debug)]
pub struct PendingUpgrade<'a> {
    checked: Checked,
    server: &'a ServerBuilder,
}

impl PendingUpgrade<'_> {
    /// The request: method, target, headers, the subprotocols offered.
    pub fn request(&self) -> &UpgradeRequest {
        self.checked.request()
    }

    /// Accepts the request with `accept`'s subprotocol (`None` for none)
    /// and extra headers: returns the response to send (`101` over
    /// HTTP/1.1, `200` over HTTP/2) and a future that yields the
    /// [`WebSocket`] once hyper has sent it. permessage-deflate is agreed
    /// as the [`ServerBuilder`]'s settings allow, unless
    /// [`Accept::without_deflate`].
    ///
    /// # Errors
    ///
    /// An [`UpgradeError`] answering 500 when `accept` names a subprotocol
    /// the client did not offer (R-SH-08).
    pub fn accept(
        self,
        accept: Accept,
    ) -> std::result::Result<(Response<Full<Bytes>>, Upgrade), UpgradeError> {
        let (response, upgrade) = self.checked.accept(self.server, accept)?;
        Ok((response.map(Full::new), upgrade))
    }
}

/// A copy of `request`'s head (method, target, version, headers and
/// extensions), without its body.
fn head_of<B>(request: &Request<B>) -> Parts {
    let mut head = Request::new(());
    *head.method_mut() = request.method().clone();
    *head.uri_mut() = request.uri().clone();
    *head.version_mut() = request.version();
    *head.headers_mut() = request.headers().clone();
    *head.extensions_mut() = request.extensions().clone();
    head.into_parts().0
}

/// A valid WebSocket request, to be accepted or refused: the negotiation's
/// view of it, the caller's, and hyper's handle on the connection.
#[derive(Debug)]
pub(crate) struct Checked {
    negotiation: CheckedRequest,
    /// The request as it came, for the caller to look at.
    request: UpgradeRequest,
    /// hyper's handle on the connection, once the answer is sent.
    on_upgrade: OnUpgrade,
}

impl Checked {
    /// Checks a request's head. `on_upgrade` is what hyper put in its
    /// extensions, taken out.
    pub(crate) fn new(
        head: Parts,
        on_upgrade: Option<OnUpgrade>,
    ) -> std::result::Result<Checked, UpgradeError> {
        let negotiation = if head.version == Version::HTTP_2 {
            let protocol = head.extensions.get::<Protocol>().cloned();
            CheckedRequest::extended_connect(
                Request::from_parts(head, ()),
                protocol.as_ref().map(Protocol::as_str),
            )?
        } else {
            CheckedRequest::http1(Request::from_parts(head, ()))?
        };
        let Some(on_upgrade) = on_upgrade else {
            tracing::warn!(
                "a websocket request without hyper's upgrade: serve the connection with \
                 upgrades (`with_upgrades`, `serve_connection_with_upgrades`)"
            );
            return Err(Refusal::plain(
                Reason::NotUpgradable,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal Server Error\n",
            )
            .into());
        };
        Ok(Checked {
            request: negotiation.upgrade_request(),
            negotiation,
            on_upgrade,
        })
    }

    /// The request, as an accept callback sees it.
    pub(crate) fn request(&self) -> &UpgradeRequest {
        &self.request
    }

    /// Answers 403 unless `server` allows the request's origin (R-SH-06).
    pub(crate) fn check_origin(
        &self,
        server: &ServerBuilder,
    ) -> std::result::Result<(), UpgradeError> {
        Ok(self.negotiation.check_origin(server)?)
    }

    /// Builds the response accepting the request with `accept`, and the
    /// future of the connection.
    pub(crate) fn accept(
        self,
        server: &ServerBuilder,
        accept: Accept,
    ) -> std::result::Result<(Response<Bytes>, Upgrade), UpgradeError> {
        let (response, agreement) = self.negotiation.agree(server, accept)?;
        let upgrade = Upgrade {
            connection: self.on_upgrade,
            agreement: Some(agreement),
        };
        Ok((response.map(|()| Bytes::new()), upgrade))
    }
}

/// A future that yields the [`WebSocket`] once hyper has sent the
/// accepting response and handed the connection over.
///
/// Await it in a task of its own, apart from the service that returns the
/// response: hyper sends the response only after the service returned it.
///
/// # Errors
///
/// [`Error::Io`] when the upgrade fails: the connection closed before the
/// response went out, or it is not served with upgrades.
///
/// # Cancel safety
///
/// Dropping it drops the upgraded connection, once it is there: the client
/// sees it closed without a closing handshake.
///
/// # Panics
///
/// When polled again after it completed.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled; the connection is dropped with it"]
pub struct Upgrade {
    /// hyper's side of the upgrade.
    connection: OnUpgrade,
    /// What the socket runs with; taken when it opens.
    agreement: Option<Agreement>,
}

impl Upgrade {
    /// The subprotocol agreed, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.agreement.as_ref()?.protocol()
    }

    /// The permessage-deflate parameters agreed, if any.
    pub fn deflate(&self) -> Option<&PerMessageDeflate> {
        self.agreement.as_ref()?.deflate()
    }
}

impl Future for Upgrade {
    type Output = Result<WebSocket<UpgradedIo>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let upgraded = ready!(Pin::new(&mut this.connection).poll(cx))
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        let agreement = this
            .agreement
            .take()
            .expect("`Upgrade` polled after it completed");
        // hyper's `Upgraded` replays what it read past the request itself,
        // so there is no leftover to hand the engine.
        Poll::Ready(Ok(agreement.open(TokioIo::new(upgraded), BytesMut::new())))
    }
}

/// A request that was not upgraded, with the response that tells the client
/// why.
///
/// Send [`into_response`](Self::into_response): its status is the one
/// RFC 6455 (or RFC 8441) asks for, and over HTTP/1.1 it closes the
/// connection (R-SH-15). `Display` says what went wrong at this level, and
/// [`source`](StdError::source) is the [`HandshakeError`](sockeye_proto::handshake::HandshakeError) when the request
/// broke RFC 6455 §4.
pub struct UpgradeError(Box<Refusal>);

impl From<Box<Refusal>> for UpgradeError {
    /// hyper's answers always name their type: a refusal written for
    /// `accept`, which goes without one, gets `text/plain` first.
    fn from(mut refusal: Box<Refusal>) -> Self {
        let response = &mut refusal.response;
        if !response.body().is_empty() && !response.headers().contains_key(CONTENT_TYPE) {
            let mut headers = http::HeaderMap::with_capacity(response.headers().len() + 1);
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            headers.extend(std::mem::take(response.headers_mut()));
            *response.headers_mut() = headers;
        }
        UpgradeError(refusal)
    }
}

impl UpgradeError {
    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        self.0.response.status()
    }

    /// The response to send.
    pub fn response(&self) -> &Response<Bytes> {
        &self.0.response
    }

    /// The response to send, with any body type made from [`Bytes`]:
    /// `http_body_util::Full<Bytes>` for a hyper service, `axum::body::Body`
    /// for an axum handler.
    pub fn into_response<B: From<Bytes>>(self) -> Response<B> {
        self.0.response.map(B::from)
    }
}

impl fmt::Debug for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradeError")
            .field("reason", &self.0.reason)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.reason {
            Reason::Invalid(_) => f.write_str("invalid websocket request"),
            Reason::NotExtendedConnect => {
                f.write_str("http/2 websocket request is not an extended connect")
            }
            Reason::OtherProtocol => {
                f.write_str("extended connect for a protocol other than websocket")
            }
            Reason::NotUpgradable => f.write_str("connection cannot be upgraded"),
            Reason::OriginNotAllowed => f.write_str("origin not allowed"),
        }
    }
}

impl StdError for UpgradeError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.0.reason {
            Reason::Invalid(e) => Some(e),
            _ => None,
        }
    }
}
