//! The client: [`connect`] and [`ClientBuilder`].

use std::time::Duration;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response, Uri};
use sockeye_proto::DeflateConfig;
use sockeye_proto::Role;
use sockeye_proto::deflate::EXTENSION_NAME;
use sockeye_proto::handshake::{Accepted, ClientHandshake, HandshakeError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::config::WebSocketConfig;
use crate::error::{Error, HandshakeFailure, Rejected, Result, Timeout};
use crate::proxy::{ProxyChoice, ProxyEnv};
use crate::stream::WebSocket;
use crate::tls::ClientStream;

/// The most body bytes read from a non-101 answer to the handshake.
const MAX_REJECTION_BODY: usize = 64 << 10;

/// The redirects [`ClientBuilder::follow_redirects`] follows: those that
/// name another URL for the same request (RFC 9110 §15.4).
const REDIRECTS: [http::StatusCode; 5] = [
    http::StatusCode::MOVED_PERMANENTLY,
    http::StatusCode::FOUND,
    http::StatusCode::SEE_OTHER,
    http::StatusCode::TEMPORARY_REDIRECT,
    http::StatusCode::PERMANENT_REDIRECT,
];

/// Connects to a `ws://` URL with default settings.
///
/// A shortcut for [`ClientBuilder::new(url).connect()`](ClientBuilder::connect)
/// that drops the handshake response.
///
/// # Errors
///
/// As [`ClientBuilder::connect`].
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future abandons the connection attempt.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> sockeye::Result<()> {
/// use futures_util::StreamExt;
/// use sockeye::Message;
///
/// let mut ws = sockeye::connect("ws://127.0.0.1:9001/").await?;
/// ws.send(Message::text("hello")).await?;
/// if let Some(reply) = ws.next().await {
///     println!("{:?}", reply?);
/// }
/// ws.close(sockeye::CloseCode::NORMAL, "done").await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect(url: &str) -> Result<WebSocket<ClientStream>> {
    ClientBuilder::new(url).connect().await.map(|(ws, _)| ws)
}

/// Builds a client connection: URL, headers, subprotocols, limits, timeouts,
/// proxy and redirects.
///
/// The builder always adds the handshake's own headers (`Host`, `Upgrade`,
/// `Connection`, `Sec-WebSocket-Key`, `Sec-WebSocket-Version`) and refuses
/// user headers that would contradict them.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> sockeye::Result<()> {
/// use std::time::Duration;
///
/// let (ws, response) = sockeye::ClientBuilder::new("ws://127.0.0.1:9001/chat")
///     .bearer_auth("secret-token")
///     .cookie("session", "abc123")
///     .protocol("chat.v2")
///     .max_message_size(1 << 20)
///     .connect_timeout(Duration::from_secs(3))
///     .connect()
///     .await?;
/// assert_eq!(response.status(), 101);
/// println!("subprotocol: {:?}", ws.protocol());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    url: String,
    headers: HeaderMap,
    protocols: Vec<String>,
    cookies: Vec<String>,
    pub(crate) config: WebSocketConfig,
    connect_timeout: Duration,
    pub(crate) handshake_timeout: Duration,
    /// The first invalid header given, reported by `connect`.
    invalid: Option<&'static str>,
    /// No proxy, one proxy, or the environment's.
    proxy: ProxyChoice,
    /// How many redirects `connect` follows.
    max_redirects: usize,
    #[cfg(feature = "tls")]
    tls: TlsSettings,
    /// Try HTTP/2 first (RFC 8441).
    #[cfg(feature = "http2")]
    http2: bool,
}

/// A client's TLS settings for `wss://`.
#[cfg(feature = "tls")]
#[derive(Debug, Default)]
struct TlsSettings {
    /// Used as it is (but for ALPN) when set.
    config: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// Trusted besides the default roots.
    extra_roots: Vec<rustls_pki_types::CertificateDer<'static>>,
    /// A client certificate chain and its key.
    identity: Option<(
        Vec<rustls_pki_types::CertificateDer<'static>>,
        std::sync::Arc<rustls_pki_types::PrivateKeyDer<'static>>,
    )>,
}

/// Where to connect, from a `ws://` URL (RFC 6455 §3).
#[derive(Debug)]
pub(crate) struct Target {
    /// `host:port` for the TCP connection.
    address: String,
    /// The host alone, for TLS's server name, a proxy and `NO_PROXY`; an
    /// IPv6 address in brackets.
    pub(crate) host: String,
    /// The port, given or default.
    pub(crate) port: u16,
    /// `wss://`.
    pub(crate) tls: bool,
    /// The `Host` header: the port only when not the default (R-CH-06).
    host_header: String,
    /// The resource name: path (or `/`) and query (R-URI-03).
    resource: String,
}

impl Target {
    /// Whether both have the same scheme, host and port (the origin of
    /// RFC 6454 §4).
    fn same_origin(&self, other: &Target) -> bool {
        self.tls == other.tls
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(&other.host)
    }
}

pub(crate) fn parse_url(url: &str) -> Result<Target> {
    // R-URI-04: no fragment, not even an empty one.
    if url.contains('#') {
        return Err(Error::InvalidUrl("a websocket url may not have a fragment"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::InvalidUrl("not a valid url"))?;
    // R-URI-01: the scheme is case-insensitive.
    let scheme = uri
        .scheme_str()
        .ok_or(Error::InvalidUrl("missing scheme"))?;
    let default_port = if scheme.eq_ignore_ascii_case("ws") {
        80
    } else if scheme.eq_ignore_ascii_case("wss") {
        if !cfg!(feature = "tls") {
            return Err(Error::InvalidUrl(
                "wss:// needs tls: build sockeye with its `tls` feature",
            ));
        }
        443
    } else {
        return Err(Error::InvalidUrl("the scheme must be ws or wss"));
    };
    let authority = uri.authority().ok_or(Error::InvalidUrl("missing host"))?;
    if authority.as_str().contains('@') {
        return Err(Error::InvalidUrl(
            "credentials in the url are not supported; use basic_auth",
        ));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(Error::InvalidUrl("missing host"));
    }
    // R-URI-02
    let port = authority.port_u16().unwrap_or(default_port);
    let host_header = if port == default_port {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    // R-URI-03
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let resource = match uri.query() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    };
    Ok(Target {
        address: format!("{host}:{port}"),
        host: host.to_owned(),
        port,
        tls: default_port == 443,
        host_header,
        resource,
    })
}

impl ClientBuilder {
    /// A builder for `url` (`ws://host[:port]/path?query`).
    ///
    /// The URL is checked by [`connect`](Self::connect).
    pub fn new(url: impl Into<String>) -> Self {
        ClientBuilder {
            url: url.into(),
            headers: HeaderMap::new(),
            protocols: Vec::new(),
            cookies: Vec::new(),
            config: WebSocketConfig::client(),
            connect_timeout: Duration::from_secs(10),
            handshake_timeout: Duration::from_secs(10),
            invalid: None,
            proxy: ProxyChoice::Direct,
            max_redirects: 0,
            #[cfg(feature = "tls")]
            tls: TlsSettings::default(),
            #[cfg(feature = "http2")]
            http2: false,
        }
    }

    /// Adds a header to the handshake request. Several calls with the same
    /// name add several values.
    ///
    /// An invalid name or value makes [`connect`](Self::connect) fail.
    #[must_use]
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            _ => {
                self.invalid
                    .get_or_insert("a header name or value given to the builder is invalid");
            }
        }
        self
    }

    /// Sends `Authorization: Bearer <token>`, replacing any earlier
    /// `Authorization`.
    #[must_use]
    pub fn bearer_auth(mut self, token: &str) -> Self {
        self.headers.remove(header::AUTHORIZATION);
        self.header(header::AUTHORIZATION, format!("Bearer {token}"))
    }

    /// Sends `Authorization: Basic` with the user and password, replacing
    /// any earlier `Authorization`.
    #[must_use]
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.headers.remove(header::AUTHORIZATION);
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.header(header::AUTHORIZATION, format!("Basic {encoded}"))
    }

    /// Adds a cookie to the `Cookie` header.
    #[must_use]
    pub fn cookie(mut self, name: &str, value: &str) -> Self {
        self.cookies.push(format!("{name}={value}"));
        self
    }

    /// Sends `Origin` (R-CH-09: browsers always do; other clients may).
    #[must_use]
    pub fn origin(self, origin: &str) -> Self {
        self.header(header::ORIGIN, origin)
    }

    /// Offers a subprotocol. Offers keep their order; the server picks one
    /// or none (R-EX-05), and [`WebSocket::protocol`] tells which.
    #[must_use]
    pub fn protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocols.push(protocol.into());
        self
    }

    /// Offers several subprotocols, in order of preference.
    #[must_use]
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.protocols.extend(protocols.into_iter().map(Into::into));
        self
    }

    crate::config::connection_setters!();

    /// Offers permessage-deflate (RFC 7692) with these settings, or nothing
    /// with `None`. Default: offered, with [`DeflateConfig::default()`]:
    /// a client keeps few connections, and compressed traffic is what most
    /// servers prefer.
    ///
    /// A `Sec-WebSocket-Extensions` header set with [`header`](Self::header)
    /// replaces the offer, and then no extension is run.
    #[must_use]
    pub fn deflate(mut self, deflate: Option<DeflateConfig>) -> Self {
        self.config.proto.deflate = deflate;
        self
    }

    /// How long opening the connection may take: resolving the host,
    /// connecting TCP, the proxy's tunnel if there is one, and TLS for
    /// `wss://`. Default: 10 s.
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long the opening handshake may take once TCP is connected.
    /// Default: 10 s.
    #[must_use]
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Connects through this proxy (see [`Proxy`](crate::Proxy) for the
    /// URL forms): `http://[user:password@]host[:port]`, which opens a
    /// tunnel with `CONNECT`, or `socks5://` and `socks5h://`, which both
    /// let the proxy resolve the server's name. TLS for `wss://` and the
    /// opening handshake run inside the tunnel. Default: no proxy, unless
    /// [`proxy_from_env`](Self::proxy_from_env) is called.
    ///
    /// An invalid URL makes [`connect`](Self::connect) fail with
    /// [`ProxyError::InvalidUrl`](crate::ProxyError::InvalidUrl). The last
    /// of `proxy`, `proxy_from_env` and `proxy_env` wins.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> sockeye::Result<()> {
    /// let (ws, _) = sockeye::ClientBuilder::new("wss://example.com/feed")
    ///     .proxy("http://alice:s3cret@proxy.internal:3128")
    ///     .connect()
    ///     .await?;
    /// # drop(ws);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn proxy(mut self, url: &str) -> Self {
        self.proxy = ProxyChoice::Given(crate::proxy::parse_proxy_url(url));
        self
    }

    /// Connects through the proxies the environment names: `HTTPS_PROXY`
    /// for `wss://`, `HTTP_PROXY` for `ws://`, `ALL_PROXY` for both, except
    /// for the hosts in `NO_PROXY` (see [`ProxyEnv`] for the details). The
    /// variables are read now, once.
    ///
    /// Not the default: a library that reads the environment on its own
    /// would send its users' traffic where they did not ask, and most Rust
    /// WebSocket clients never do. Programs that want the usual behaviour
    /// of command-line tools opt in here (`sockeye connect` does).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> sockeye::Result<()> {
    /// let (ws, _) = sockeye::ClientBuilder::new("wss://example.com/feed")
    ///     .proxy_from_env()
    ///     .connect()
    ///     .await?;
    /// # drop(ws);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn proxy_from_env(self) -> Self {
        self.proxy_env(ProxyEnv::from_env())
    }

    /// Connects through the proxies of `env`, chosen for each connection
    /// by its scheme and host as [`proxy_from_env`](Self::proxy_from_env)
    /// does; for variables that do not come from the process environment.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye::{ClientBuilder, ProxyEnv};
    ///
    /// let env = ProxyEnv::from_lookup(|name| {
    ///     (name == "ALL_PROXY").then(|| "socks5h://127.0.0.1:1080".to_owned())
    /// });
    /// let builder = ClientBuilder::new("ws://example.com/").proxy_env(env);
    /// # drop(builder);
    /// ```
    #[must_use]
    pub fn proxy_env(mut self, env: ProxyEnv) -> Self {
        self.proxy = ProxyChoice::Env(env);
        self
    }

    /// Follows up to `max` redirects in a row. Default: 0, none: a 3xx
    /// answer fails the handshake with
    /// [`HandshakeFailure::Rejected`], as RFC 6455 allows (R-CV-01) and
    /// browsers do.
    ///
    /// A 301, 302, 303, 307 or 308 answer with a `Location` is followed
    /// on a new connection, with a fresh key (R-CH-08) and its own connect
    /// and handshake time limits. The location is resolved against the
    /// current URL; `http://` becomes `ws://` and `https://` `wss://`;
    /// credentials written in it are ignored. When it leaves the origin
    /// (scheme, host or port), `Authorization`, `Cookie` and a `Host` given
    /// with [`header`](Self::header) are not sent to it or past it. A
    /// proxy chosen from the environment is chosen again for each host.
    ///
    /// # Errors
    ///
    /// [`connect`](Self::connect) fails with
    /// [`HandshakeFailure::TooManyRedirects`] on one redirect more than
    /// `max`, [`HandshakeFailure::InsecureRedirect`] on a redirect from
    /// `wss://` to `ws://`, and [`HandshakeFailure::InvalidRedirect`] on a
    /// redirect without a usable `Location`.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> sockeye::Result<()> {
    /// let (ws, _) = sockeye::ClientBuilder::new("wss://example.com/old-path")
    ///     .follow_redirects(5)
    ///     .connect()
    ///     .await?;
    /// # drop(ws);
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn follow_redirects(mut self, max: usize) -> Self {
        self.max_redirects = max;
        self
    }

    /// Opens the connection over HTTP/2 when the server allows it (RFC 8441
    /// extended CONNECT), else over HTTP/1.1. Default: HTTP/1.1 only.
    ///
    /// For `wss://` the client offers `h2` by ALPN, and goes on over HTTP/1.1
    /// on the same connection when the server picks that, or on a new one
    /// when the server speaks HTTP/2 without extended CONNECT (as browsers
    /// do, H2-12). For `ws://` it speaks HTTP/2 in clear from the first
    /// byte (prior knowledge), which only servers known to speak HTTP/2
    /// understand.
    #[cfg(feature = "http2")]
    #[must_use]
    pub fn http2(mut self, enabled: bool) -> Self {
        self.http2 = enabled;
        self
    }

    /// Uses this rustls configuration for `wss://`, as it is: its roots,
    /// client certificate, versions and provider. Only its ALPN list is
    /// replaced with `http/1.1` when it offers other protocols (a server
    /// that picked `h2` would not understand the handshake). Overrides
    /// [`add_root_certificate`](Self::add_root_certificate) and
    /// [`client_certificate`](Self::client_certificate).
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        self.tls.config = Some(config);
        self
    }

    /// Trusts `certificate` (DER) as a root for `wss://`, besides the
    /// default roots: a private certificate authority, or a self-signed
    /// server certificate.
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn add_root_certificate(
        mut self,
        certificate: rustls_pki_types::CertificateDer<'static>,
    ) -> Self {
        self.tls.extra_roots.push(certificate);
        self
    }

    /// Presents this certificate chain (leaf first) and its private key to
    /// `wss://` servers that ask for one (mutual TLS).
    #[cfg(feature = "tls")]
    #[must_use]
    pub fn client_certificate(
        mut self,
        chain: Vec<rustls_pki_types::CertificateDer<'static>>,
        key: rustls_pki_types::PrivateKeyDer<'static>,
    ) -> Self {
        self.tls.identity = Some((chain, std::sync::Arc::new(key)));
        self
    }

    /// Connects TCP (through the proxy, if there is one), runs the opening
    /// handshake and returns the open connection with the server's 101
    /// response. Redirects are followed only when
    /// [`follow_redirects`](Self::follow_redirects) allows them.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`], [`Error::InvalidHeader`], and
    /// [`Error::Handshake`] for headers that contradict the handshake, and
    /// [`Error::Proxy`] for an invalid proxy URL, all before any I/O
    /// (R-URI-05); [`Error::Io`] if TCP fails and [`Error::Proxy`] if the
    /// proxy does (R-CH-02); [`Error::Timeout`] past either time limit;
    /// [`Error::Handshake`] if the server refuses (with its answer, see
    /// [`Error::rejection`]), answers wrongly (R-CV-01..07), or redirects
    /// where sockeye will not follow.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the connection attempt.
    pub async fn connect(mut self) -> Result<(WebSocket<ClientStream>, Response<()>)> {
        let mut redirects = 0;
        loop {
            let target = parse_url(&self.url)?;
            match self.connect_to(&target).await {
                Err(Error::Handshake(failure)) if self.max_redirects > 0 => {
                    self.follow_redirect(&target, *failure, &mut redirects)?;
                }
                result => return result,
            }
        }
    }

    /// One connection to `target`, this builder's URL, following no
    /// redirect.
    async fn connect_to(&self, target: &Target) -> Result<(WebSocket<ClientStream>, Response<()>)> {
        // Everything that can be refused without the network is, first.
        let handshake = ClientHandshake::new(self.request(target)?)?;
        #[cfg(feature = "http2")]
        if self.http2 {
            match crate::http2::connect(self, target, &handshake).await? {
                crate::http2::Attempt::Open(open) => return Ok(*open),
                crate::http2::Attempt::Http1(stream) => {
                    return self.handshake(stream, handshake).await;
                }
                // No extended CONNECT there: HTTP/1.1, on a new connection
                // (H2-12).
                crate::http2::Attempt::NotOffered => {}
            }
        }
        let stream = self.open_stream(target, false).await?;
        self.handshake(stream, handshake).await
    }

    /// Follows the redirect that `failure` holds, if it is one and the
    /// limit allows: its location becomes this builder's URL, and
    /// credentials are dropped when it leaves the origin of `current`.
    /// Any other failure is returned as it is.
    fn follow_redirect(
        &mut self,
        current: &Target,
        failure: HandshakeFailure,
        redirects: &mut usize,
    ) -> Result<()> {
        let response = match failure {
            HandshakeFailure::Rejected(response) if REDIRECTS.contains(&response.status()) => {
                response
            }
            other => return Err(Error::Handshake(Box::new(other))),
        };
        let refuse = |failure: fn(Rejected) -> HandshakeFailure, response: Rejected| {
            Err(Error::Handshake(Box::new(failure(response))))
        };
        if *redirects >= self.max_redirects {
            return refuse(HandshakeFailure::TooManyRedirects, response);
        }
        let Some((url, next)) = redirect_location(&self.url, &response) else {
            return refuse(HandshakeFailure::InvalidRedirect, response);
        };
        if current.tls && !next.tls {
            return refuse(HandshakeFailure::InsecureRedirect, response);
        }
        if !current.same_origin(&next) {
            // Credentials meant for one server do not go to another, and a
            // Host given for it does not name the next.
            for name in [header::AUTHORIZATION, header::COOKIE, header::HOST] {
                self.headers.remove(name);
            }
            self.cookies.clear();
        }
        // Not the whole URL: its query may hold a token.
        tracing::debug!(status = %response.status(), host = %next.host, "following a redirect");
        self.url = url;
        *redirects += 1;
        Ok(())
    }

    /// TCP to the URL's host (or a tunnel to it through the proxy), and TLS
    /// over it for `wss://` (offering HTTP/2 by ALPN when `http2`), within
    /// the connect timeout.
    pub(crate) async fn open_stream(&self, target: &Target, http2: bool) -> Result<ClientStream> {
        #[cfg(feature = "tls")]
        let tls = if target.tls {
            Some(self.tls_client_config(http2)?)
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        let _ = http2;
        let proxy = self
            .proxy
            .for_target(target.tls, &target.host, target.port)?;
        tokio::time::timeout(self.connect_timeout, async {
            let tcp = if let Some(proxy) = proxy {
                crate::proxy::tunnel(proxy, &target.host, target.port, &self.config.proto).await?
            } else {
                let tcp = TcpStream::connect(&target.address).await?;
                // Writes are batched by the connection; Nagle would only
                // add delay.
                tcp.set_nodelay(true)?;
                tcp
            };
            #[cfg(feature = "tls")]
            if let Some(config) = tls {
                return crate::tls::connect(config, &target.host, tcp).await;
            }
            Ok::<_, Error>(ClientStream::Plain(tcp))
        })
        .await
        .map_err(|_| Error::Timeout(Timeout::Connect))?
    }

    /// The TLS settings of this connection.
    #[cfg(feature = "tls")]
    fn tls_client_config(&self, http2: bool) -> Result<std::sync::Arc<rustls::ClientConfig>> {
        match &self.tls.config {
            Some(config) => Ok(crate::tls::with_alpn(std::sync::Arc::clone(config), http2)),
            None => {
                crate::tls::client_config(&self.tls.extra_roots, self.tls.identity.as_ref(), http2)
            }
        }
    }

    /// Runs the opening handshake over a stream already connected to the
    /// URL's host (a TLS stream, a proxy tunnel, a Unix socket).
    ///
    /// The proxy settings do not apply, and no redirect is followed: the
    /// stream leads to one server.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), without the TCP part.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the handshake.
    pub async fn connect_on<S>(self, stream: S) -> Result<(WebSocket<S>, Response<()>)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let target = parse_url(&self.url)?;
        let handshake = ClientHandshake::new(self.request(&target)?)?;
        self.handshake(stream, handshake).await
    }

    /// The deflate settings to offer, unless the caller wrote its own
    /// `Sec-WebSocket-Extensions` header and so handles extensions itself.
    pub(crate) fn managed_deflate(&self) -> Option<&DeflateConfig> {
        if self.headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS) {
            return None;
        }
        self.config.proto.deflate.as_ref()
    }

    fn request(&self, target: &Target) -> Result<Request<()>> {
        if let Some(why) = self.invalid {
            return Err(Error::InvalidHeader(why));
        }
        let mut builder = Request::get(target.resource.as_str());
        // A Host given by the caller (a virtual host behind a tunnel)
        // replaces the one from the URL.
        if !self.headers.contains_key(header::HOST) {
            builder = builder.header(header::HOST, target.host_header.as_str());
        }
        for (name, value) in &self.headers {
            if name != header::COOKIE {
                builder = builder.header(name, value);
            }
        }
        if !self.protocols.is_empty() {
            builder = builder.header(header::SEC_WEBSOCKET_PROTOCOL, self.protocols.join(", "));
        }
        // One Cookie header for all cookies (RFC 6265 §5.4).
        let cookies: Vec<&str> = self
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .chain(self.cookies.iter().map(String::as_str))
            .collect();
        if !cookies.is_empty() {
            builder = builder.header(header::COOKIE, cookies.join("; "));
        }
        if let Some(deflate) = self.managed_deflate() {
            builder = builder.header(header::SEC_WEBSOCKET_EXTENSIONS, deflate.offer());
        }
        builder
            .body(())
            .map_err(|_| Error::InvalidHeader("invalid header name or value"))
    }

    async fn handshake<S>(
        &self,
        mut stream: S,
        handshake: ClientHandshake,
    ) -> Result<(WebSocket<S>, Response<()>)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let offered_deflate = self.managed_deflate().cloned();
        let config = self.config.clone();
        let run = async {
            let mut buf = BytesMut::with_capacity(1024);
            handshake.write_request(&mut buf);
            stream.write_all(&buf).await?;
            stream.flush().await?;
            buf.clear();
            // R-CH-13: nothing more is sent until the response arrives.
            let (response, head_len) = loop {
                if let Some(parsed) = ClientHandshake::parse_response(&buf, &config.proto)? {
                    break parsed;
                }
                if stream.read_buf(&mut buf).await? == 0 {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed during the opening handshake",
                    )));
                }
            };
            let _ = buf.split_to(head_len);
            match handshake.check_response(&response) {
                Ok(accepted) => Ok((response, accepted, buf)),
                Err(e) if response.status() != http::StatusCode::SWITCHING_PROTOCOLS => {
                    let _ = e;
                    let body = read_body(&mut stream, &response, buf).await;
                    let (parts, ()) = response.into_parts();
                    Err(Error::Handshake(Box::new(HandshakeFailure::Rejected(
                        Response::from_parts(parts, body),
                    ))))
                }
                Err(e) => Err(e.into()),
            }
        };
        let (response, accepted, leftover) = tokio::time::timeout(self.handshake_timeout, run)
            .await
            .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        let deflate = agree_deflate(offered_deflate.as_ref(), &accepted)?;
        // R-CV-09: bytes after the 101 head are frames already.
        let ws = WebSocket::from_raw(stream, Role::Client, config, leftover)
            .with_protocol(accepted.protocol)
            .with_deflate(deflate);
        Ok((ws, response))
    }
}

/// The permessage-deflate settings the server's answer agreed to, if any.
pub(crate) fn agree_deflate(
    offered: Option<&DeflateConfig>,
    accepted: &Accepted,
) -> Result<Option<sockeye_proto::PerMessageDeflate>> {
    match accepted.extensions.as_slice() {
        [] => Ok(None),
        // PMD-03: one permessage-deflate, nothing else we could run.
        [only] if only.name.eq_ignore_ascii_case(EXTENSION_NAME) => match offered {
            Some(ours) => Ok(Some(ours.accept_response(only)?)),
            None => Err(HandshakeError::InvalidExtensionResponse.into()),
        },
        _ => Err(HandshakeError::InvalidExtensionResponse.into()),
    }
}

/// Where a redirect points, as a WebSocket URL and its target: the
/// `Location` resolved against `current` (RFC 9110 §10.2.2), `http`
/// becoming `ws` and `https` `wss`, without credentials or fragment. `None`
/// when there is no usable location.
fn redirect_location(current: &str, response: &Rejected) -> Option<(String, Target)> {
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let mut next = url::Url::parse(current).ok()?.join(location.trim()).ok()?;
    let scheme = match next.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return None,
    };
    next.set_scheme(scheme).ok()?;
    // Only the caller gives credentials: a server cannot add its own.
    next.set_username("").ok()?;
    next.set_password(None).ok()?;
    next.set_fragment(None);
    let next = String::from(next);
    let target = parse_url(&next).ok()?;
    Some((next, target))
}

/// Reads the body of a non-101 answer, at most [`MAX_REJECTION_BODY`]
/// bytes, by `Content-Length` or until EOF. Errors end the body early.
pub(crate) async fn read_body<S>(
    stream: &mut S,
    response: &Response<()>,
    mut buf: BytesMut,
) -> Bytes
where
    S: AsyncRead + Unpin,
{
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let limit = length.unwrap_or(MAX_REJECTION_BODY).min(MAX_REJECTION_BODY);
    // A server that gives no length and keeps the connection open would
    // hold the answer back until the handshake timeout, and lose it: the
    // body is read for a while at most, and what came is the body.
    let read = async {
        while buf.len() < limit {
            let mut chunk = (&mut *stream).take((limit - buf.len()) as u64);
            match chunk.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    if length.is_some() {
        // Within the handshake's own time limit.
        read.await;
    } else {
        let _ = tokio::time::timeout(REJECTION_BODY_WAIT, read).await;
    }
    buf.truncate(limit);
    buf.freeze()
}

/// How long the body of a non-101 answer without a length is read at most.
const REJECTION_BODY_WAIT: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_uri_03_resource_name() {
        assert_eq!(parse_url("ws://h").unwrap().resource, "/");
        assert_eq!(parse_url("ws://h/a?b=c").unwrap().resource, "/a?b=c");
        assert_eq!(parse_url("ws://h?x=1").unwrap().resource, "/?x=1");
    }

    #[test]
    fn r_uri_02_default_port_and_host_header() {
        let t = parse_url("ws://example.com/").unwrap();
        assert_eq!(
            (t.address.as_str(), t.host_header.as_str()),
            ("example.com:80", "example.com")
        );
        let t = parse_url("WS://example.com:8080/").unwrap();
        assert_eq!(
            (t.address.as_str(), t.host_header.as_str()),
            ("example.com:8080", "example.com:8080")
        );
        let t = parse_url("ws://[::1]:9001/").unwrap();
        assert_eq!(t.address, "[::1]:9001");
    }

    #[test]
    fn r_uri_04_fragments_are_refused_before_io() {
        assert!(matches!(parse_url("ws://h/#x"), Err(Error::InvalidUrl(_))));
        assert!(matches!(parse_url("ws://h/#"), Err(Error::InvalidUrl(_))));
    }

    fn redirect(current: &str, location: &str) -> Option<String> {
        let response = http::Response::builder()
            .status(302)
            .header(header::LOCATION, location)
            .body(Bytes::new())
            .unwrap();
        redirect_location(current, &response).map(|(url, _)| url)
    }

    #[test]
    fn redirect_locations() {
        let here = "ws://example.com:8080/a/b?q=1";
        let cases = [
            ("c", Some("ws://example.com:8080/a/c")),
            ("/x?y", Some("ws://example.com:8080/x?y")),
            ("//other/", Some("ws://other/")),
            ("http://h:80/p", Some("ws://h/p")),
            ("https://h:443/p", Some("wss://h/p")),
            ("HTTPS://h:8443", Some("wss://h:8443/")),
            ("wss://u:p@h/#top", Some("wss://h/")),
            ("ftp://h/", None),
            ("http://", None),
        ];
        for (location, expected) in cases {
            // Without tls, a wss:// URL is not one the client can use.
            let usable = expected.filter(|url| cfg!(feature = "tls") || url.starts_with("ws:"));
            assert_eq!(redirect(here, location).as_deref(), usable, "{location}");
        }
    }

    #[test]
    fn origins() {
        let origin = |url| parse_url(url).unwrap();
        assert!(origin("ws://h/a").same_origin(&origin("ws://H:80/b")));
        #[cfg(feature = "tls")]
        assert!(!origin("ws://h/").same_origin(&origin("wss://h/")));
        assert!(!origin("ws://h/").same_origin(&origin("ws://h:81/")));
        assert!(!origin("ws://h/").same_origin(&origin("ws://g/")));
    }

    #[test]
    fn r_uri_01_only_ws_schemes() {
        assert!(matches!(parse_url("http://h/"), Err(Error::InvalidUrl(_))));
        assert!(matches!(parse_url("h/"), Err(Error::InvalidUrl(_))));
    }
}
