//! The server: [`accept`] and [`ServerBuilder`].

use std::fmt;
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use sockeye_proto::handshake::{
    ExtensionOffer, HandshakeError, ResponseBody, ServerHandshake, header_has_token, write_response,
};
use sockeye_proto::{PerMessageDeflate, Role};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::config::{SharedConfig, WebSocketConfig};
use crate::error::{Error, HandshakeFailure, Result, Timeout};
use crate::stream::WebSocket;

/// Accepts a WebSocket connection on `stream` with default settings: any
/// path, no subprotocol.
///
/// # Errors
///
/// As [`ServerBuilder::accept`].
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future abandons the handshake.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> sockeye::Result<()> {
/// use futures_util::StreamExt;
///
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (tcp, _) = listener.accept().await?;
/// let mut ws = sockeye::accept(tcp).await?;
/// while let Some(message) = ws.next().await {
///     ws.send(message?).await?;
/// }
/// # Ok(())
/// # }
/// ```
pub async fn accept<S>(stream: S) -> Result<WebSocket<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ServerBuilder::new().accept(stream).await
}

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
    config: WebSocketConfig,
    handshake_timeout: Duration,
    shared: SharedConfig,
    /// Origins allowed to connect, lowercased; `None`: any.
    allowed_origins: Option<Vec<String>>,
    /// The subprotocols [`accept`](ServerBuilder::accept) agrees to.
    protocols: Vec<String>,
    http_fallback: Option<HttpFallback>,
}

/// The answer to plain HTTP requests (see [`ServerBuilder::http_fallback`]).
#[derive(Clone)]
struct HttpFallback(Arc<HttpHandler>);

/// A handler of plain HTTP requests.
type HttpHandler = dyn Fn(&Request<()>) -> Response<Bytes> + Send + Sync;

impl fmt::Debug for HttpFallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HttpFallback(..)")
    }
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
    /// [`UpgradeRequest::select_protocol`].
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
    /// [`HandshakeFailure::PlainHttp`] with its status. Requests that ask
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

    /// Accepts any valid request, with the subprotocol chosen as
    /// [`protocols`](Self::protocols) says (none by default).
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] for a bad request, after answering it with the
    /// right status (400, 426 with `Sec-WebSocket-Version: 13`, 431, 505);
    /// [`Error::Timeout`] for a client too slow; [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the handshake.
    pub async fn accept<S>(&self, stream: S) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_with(stream, |request| {
            let accept = self.default_accept(&request);
            async move { Ok(accept) }
        })
        .await
    }

    /// The answer [`accept`](Self::accept) gives `request`: the subprotocol
    /// [`protocols`](Self::protocols) picks, nothing else.
    pub(crate) fn default_accept(&self, request: &UpgradeRequest) -> Accept {
        self.accept_offers(request.protocols())
    }

    /// [`default_accept`](Self::default_accept) for the subprotocols a
    /// client offered.
    fn accept_offers(&self, offered: &[String]) -> Accept {
        match select_protocol(offered, &self.protocols) {
            Some(protocol) => Accept::new().protocol(protocol),
            None => Accept::new(),
        }
    }

    /// The subprotocols set with [`protocols`](Self::protocols).
    #[cfg_attr(
        not(feature = "axum"),
        expect(dead_code, reason = "used by the axum extractor")
    )]
    pub(crate) fn supported_protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The settings for a connection this builder opens, shared with its
    /// other connections when they have not changed.
    pub(crate) fn connection_config(&self) -> (Arc<sockeye_proto::Config>, Arc<WebSocketConfig>) {
        self.shared.get(&self.config)
    }

    /// Completes an accepting `response` with what `accept` adds (extra
    /// headers) and the permessage-deflate agreed for the client's
    /// extension `offers`, if any, which it returns.
    pub(crate) fn complete_response<B>(
        &self,
        response: &mut Response<B>,
        offers: &[ExtensionOffer],
        accept: &Accept,
    ) -> Option<PerMessageDeflate> {
        for (name, value) in &accept.headers {
            response.headers_mut().append(name, value.clone());
        }
        let deflate = match (&self.config.proto.deflate, accept.deflate) {
            (Some(ours), true) => ours.negotiate(offers),
            _ => None,
        };
        if let Some(agreed) = &deflate
            && let Ok(value) = HeaderValue::from_str(&agreed.response())
        {
            response
                .headers_mut()
                .insert(http::header::SEC_WEBSOCKET_EXTENSIONS, value);
        }
        deflate
    }

    /// Reads the request, lets `callback` decide, and answers.
    ///
    /// The callback gets the validated request and may take its time (look
    /// up a session, check a token). It returns an [`Accept`] (subprotocol,
    /// extra headers) or any HTTP response to refuse with (401, 403, 404, a
    /// redirect), which is sent as it is.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept), and [`HandshakeFailure::Refused`] when
    /// the callback refused; [`HandshakeFailure::Invalid`] when it picked a
    /// subprotocol the client did not offer (R-SH-08), after answering 500.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the handshake.
    pub async fn accept_with<S, F, Fut>(&self, stream: S, callback: F) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(UpgradeRequest) -> Fut,
        Fut: Future<Output = std::result::Result<Accept, Response<Bytes>>>,
    {
        // On the heap: the handshake's state is large and short-lived, and
        // inline it would stay in the caller's task for the connection's
        // whole life (about 1.6 KiB per idle connection).
        Box::pin(self.handshake(stream, callback)).await
    }

    async fn handshake<S, F, Fut>(&self, mut stream: S, callback: F) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(UpgradeRequest) -> Fut,
        Fut: Future<Output = std::result::Result<Accept, Response<Bytes>>>,
    {
        let (request, leftover) = self.read_request(&mut stream).await?;
        if let Some(fallback) = &self.http_fallback
            && !header_has_token(request.headers(), http::header::UPGRADE, "websocket")
        {
            return Err(self.answer_plain(&mut stream, &request, fallback).await);
        }
        let handshake = match ServerHandshake::from_request(request) {
            Ok(handshake) => handshake,
            Err(e) => {
                tracing::debug!(error = %e, status = %e.status(), "refusing a bad handshake");
                self.answer_and_close(&mut stream, &e.to_response()).await;
                return Err(e.into());
            }
        };

        if !self.origin_allowed(handshake.request().headers().get(http::header::ORIGIN)) {
            tracing::debug!("refusing a request from an origin not allowed");
            return Err(self.forbid(&mut stream).await);
        }
        let request =
            UpgradeRequest::new(handshake.request().clone(), handshake.protocols().to_vec());
        let accept = match callback(request).await {
            Ok(accept) => accept,
            Err(refusal) => {
                let status = refusal.status();
                self.answer_and_close(&mut stream, &refusal).await;
                return Err(Error::Handshake(Box::new(HandshakeFailure::Refused(
                    status,
                ))));
            }
        };
        let mut response = match handshake.response(accept.protocol.as_deref()) {
            Ok(response) => response,
            Err(e) => {
                let error = Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .header(http::header::CONNECTION, "close")
                    .body(Bytes::new())
                    .unwrap_or_default();
                self.answer_and_close(&mut stream, &error).await;
                return Err(e.into());
            }
        };
        let deflate = self.complete_response(&mut response, handshake.extensions(), &accept);
        let mut out = BytesMut::with_capacity(256);
        write_response(&response, &mut out);
        tokio::time::timeout(self.handshake_timeout, async {
            stream.write_all(&out).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        Ok(
            WebSocket::from_parts(stream, Role::Server, self.connection_config(), leftover)
                .with_protocol(accept.protocol)
                .with_deflate(deflate),
        )
    }

    /// Accepts a checked handshake without I/O, as `accept` would: the
    /// origin allow-list (403), the subprotocol of
    /// [`protocols`](Self::protocols), and permessage-deflate. For other
    /// transports (HTTP/2) that read requests and write answers themselves.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn agree(
        &self,
        handshake: &ServerHandshake,
    ) -> std::result::Result<Agreed, Box<Response<Bytes>>> {
        if !self.origin_allowed(handshake.request().headers().get(http::header::ORIGIN)) {
            return Err(Box::new(forbidden()));
        }
        let accept = self.accept_offers(handshake.protocols());
        let protocol = accept.protocol.clone();
        let mut response = handshake
            .response(protocol.as_deref())
            .map_err(|e| Box::new(e.to_response()))?;
        let deflate = self.complete_response(&mut response, handshake.extensions(), &accept);
        Ok(Agreed {
            response,
            protocol,
            deflate,
        })
    }

    /// A server-side socket over `stream`, open after `agreed`.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn open_socket<S>(
        &self,
        stream: S,
        leftover: BytesMut,
        agreed: Agreed,
    ) -> WebSocket<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        WebSocket::from_parts(
            stream,
            Role::Server,
            self.shared.get(&self.config),
            leftover,
        )
        .with_protocol(agreed.protocol)
        .with_deflate(agreed.deflate)
    }

    /// The time limit of opening handshakes.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn handshake_limit(&self) -> Duration {
        self.handshake_timeout
    }

    /// The answer of [`http_fallback`](Self::http_fallback) to a request
    /// that is not a WebSocket handshake, if one was set.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn answer_plain_http(&self, request: &Request<()>) -> Option<Response<Bytes>> {
        self.http_fallback
            .as_ref()
            .map(|fallback| (fallback.0)(request))
    }

    /// Reads a request head within the handshake time limit; answers and
    /// closes when it is not valid HTTP/1.1 or over the limits. Returns it
    /// with the bytes that came after it.
    async fn read_request<S>(&self, stream: &mut S) -> Result<(Request<()>, BytesMut)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let proto = &self.config.proto;
        let read = async {
            let mut buf = BytesMut::with_capacity(1024);
            loop {
                match ServerHandshake::parse_request(&buf, proto) {
                    Ok(Some((request, head_len))) => {
                        let _ = buf.split_to(head_len);
                        return Ok(Ok((request, buf)));
                    }
                    Ok(None) => {}
                    Err(e) => return Ok(Err(e)),
                }
                let room = proto.max_handshake_size.saturating_sub(buf.len()).max(1);
                if (&mut *stream).take(room as u64).read_buf(&mut buf).await? == 0 {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed during the opening handshake",
                    )));
                }
            }
        };
        let parsed = tokio::time::timeout(self.handshake_timeout, read)
            .await
            .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        match parsed {
            Ok(parsed) => Ok(parsed),
            Err(e) => {
                tracing::debug!(error = %e, status = %e.status(), "refusing a bad handshake");
                self.answer_and_close(stream, &e.to_response()).await;
                Err(e.into())
            }
        }
    }

    /// Answers a plain HTTP request with the fallback's response and
    /// closes; the error to return.
    async fn answer_plain<S>(
        &self,
        stream: &mut S,
        request: &Request<()>,
        fallback: &HttpFallback,
    ) -> Error
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let response = (fallback.0)(request);
        let status = response.status();
        tracing::debug!(%status, path = request.uri().path(), "answering a plain http request");
        let head_only = request.method() == Method::HEAD;
        self.answer_and_close_with(stream, &response, head_only)
            .await;
        Error::Handshake(Box::new(HandshakeFailure::PlainHttp(status)))
    }

    /// Answers 403 to an origin not allowed; the error to return.
    async fn forbid<S>(&self, stream: &mut S) -> Error
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut refusal = forbidden();
        refusal
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        self.answer_and_close(stream, &refusal).await;
        Error::Handshake(Box::new(HandshakeFailure::Refused(StatusCode::FORBIDDEN)))
    }

    /// Writes a refusal and closes the stream, within the handshake time
    /// limit. Errors are dropped: the peer is being turned away anyway.
    ///
    /// After shutting down our side it reads what the client still sends
    /// (a bounded amount, for at most a second): closing a socket with
    /// unread bytes resets the connection, which can destroy the answer
    /// before the client reads it.
    async fn answer_and_close<S, B>(&self, stream: &mut S, response: &Response<B>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
        B: ResponseBody,
    {
        self.answer_and_close_with(stream, response, false).await;
    }

    /// As [`answer_and_close`](Self::answer_and_close); with `head_only`,
    /// the body is left out (the answer to `HEAD`) and `Content-Length`
    /// still gives its length.
    async fn answer_and_close_with<S, B>(
        &self,
        stream: &mut S,
        response: &Response<B>,
        head_only: bool,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
        B: ResponseBody,
    {
        const DRAIN_LIMIT: u64 = 64 << 10;
        let mut out = BytesMut::with_capacity(256);
        write_response(response, &mut out);
        if head_only {
            out.truncate(out.len() - response.body().as_body_bytes().len());
        }
        let _ = tokio::time::timeout(self.handshake_timeout, async {
            stream.write_all(&out).await?;
            stream.shutdown().await
        })
        .await;
        let drain = self.handshake_timeout.min(Duration::from_secs(1));
        let _ = tokio::time::timeout(drain, async {
            let mut sink = tokio::io::sink();
            tokio::io::copy(&mut (&mut *stream).take(DRAIN_LIMIT), &mut sink).await
        })
        .await;
    }
}

/// The first of the `offered` subprotocols, in the client's order, that is
/// one of `supported` (R-SH-08).
fn select_protocol<'a, S: AsRef<str>>(offered: &'a [String], supported: &[S]) -> Option<&'a str> {
    offered
        .iter()
        .find(|offered| {
            supported
                .iter()
                .any(|ours| ours.as_ref() == offered.as_str())
        })
        .map(String::as_str)
}

/// The 403 for a request from an origin not allowed (R-SH-06).
fn forbidden() -> Response<Bytes> {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .body(Bytes::from_static(b"origin not allowed\n"))
        .unwrap_or_default()
}

/// Removes the fields HTTP/2 does not have (RFC 9113 §8.2.2), which an
/// answer written for HTTP/1.1 may carry; h2 refuses a response with one.
#[cfg_attr(not(any(feature = "http2", feature = "hyper")), allow(dead_code))]
pub(crate) fn strip_http1_fields(headers: &mut HeaderMap) {
    for name in [
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

/// The answer to a bad WebSocket request over HTTP/2: without the HTTP/1.1
/// connection fields, and 400 for 426, which would have to name the
/// protocol in `Upgrade`, a field HTTP/2 does not have;
/// `Sec-WebSocket-Version: 13` stays (R-SH-05).
#[cfg_attr(not(any(feature = "http2", feature = "hyper")), allow(dead_code))]
pub(crate) fn refusal_over_http2(error: &HandshakeError) -> Response<Bytes> {
    let mut response = error.to_response();
    strip_http1_fields(response.headers_mut());
    if response.status() == StatusCode::UPGRADE_REQUIRED {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// What [`ServerBuilder::agree`] settled: the answer to send and what the
/// connection then runs with.
#[cfg_attr(not(feature = "http2"), allow(dead_code))]
pub(crate) struct Agreed {
    pub(crate) response: Response<()>,
    pub(crate) protocol: Option<String>,
    pub(crate) deflate: Option<sockeye_proto::PerMessageDeflate>,
}

/// A valid opening-handshake request, as the accept callback sees it.
///
/// Derefs to the [`http::Request`] (method, URI, headers).
#[derive(Clone, Debug)]
pub struct UpgradeRequest {
    request: Request<()>,
    protocols: Vec<String>,
}

impl UpgradeRequest {
    /// A request found valid, offering `protocols`.
    pub(crate) fn new(request: Request<()>, protocols: Vec<String>) -> Self {
        UpgradeRequest { request, protocols }
    }

    /// The request line and headers.
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The path part of the request target.
    pub fn path(&self) -> &str {
        self.request.uri().path()
    }

    /// The subprotocols the client offered, in its order.
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The first subprotocol the client offered, in its order of
    /// preference, that is one of `supported`; `None` when there is none.
    pub fn select_protocol<S: AsRef<str>>(&self, supported: &[S]) -> Option<&str> {
        select_protocol(&self.protocols, supported)
    }

    /// The `Origin` header, if sent (browsers always send it; R-SH-06).
    pub fn origin(&self) -> Option<&str> {
        self.request
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
    }
}

impl Deref for UpgradeRequest {
    type Target = Request<()>;
    fn deref(&self) -> &Request<()> {
        &self.request
    }
}

/// The accept callback's "yes": which subprotocol to use, and extra headers
/// for the 101 response (`Set-Cookie`, for example).
#[derive(Clone, Debug)]
pub struct Accept {
    pub(crate) protocol: Option<String>,
    headers: HeaderMap,
    deflate: bool,
}

impl Default for Accept {
    fn default() -> Self {
        Accept {
            protocol: None,
            headers: HeaderMap::new(),
            deflate: true,
        }
    }
}

impl Accept {
    /// Accept with no subprotocol and no extra headers.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Use this subprotocol. It must be one the client offered (R-SH-08).
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// Do not negotiate permessage-deflate on this connection, even if the
    /// server's settings allow it.
    #[must_use]
    pub fn without_deflate(mut self) -> Self {
        self.deflate = false;
        self
    }

    /// Use this subprotocol if `condition` holds.
    #[must_use]
    pub fn protocol_if(self, condition: bool, protocol: impl Into<String>) -> Self {
        if condition {
            self.protocol(protocol)
        } else {
            self
        }
    }

    /// Adds a header to the 101 response. Invalid names or values are
    /// skipped.
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        if let (Ok(name), Ok(value)) = (name.try_into(), value.try_into()) {
            self.headers.append(name, value);
        }
        self
    }
}

impl From<HandshakeError> for HandshakeFailure {
    fn from(e: HandshakeError) -> Self {
        HandshakeFailure::Invalid(e)
    }
}
