//! The client: [`connect()`] and [`ClientBuilder`].
//!
//! The builder holds the settings and runs the steps: `url.rs` gives the
//! target, `connect.rs` opens the transport (TCP or a `proxy.rs` tunnel,
//! then TLS) into a [`ClientStream`] (`transport.rs`), `handshake.rs` runs
//! the HTTP/1.1 upgrade on it (or `http2/client.rs` an extended CONNECT),
//! and `redirect.rs` decides whether an answer leads elsewhere.

mod connect;
pub(crate) mod handshake;
pub(crate) mod proxy;
pub(crate) mod redirect;
pub(crate) mod transport;

use std::time::Duration;

use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response};
use sockeye_proto::DeflateConfig;
use sockeye_proto::handshake::ClientHandshake;
use tokio::io::{AsyncRead, AsyncWrite};

use self::connect::Dial;
use self::proxy::{ProxyChoice, ProxyEnv};
use self::transport::ClientStream;
use crate::config::WebSocketConfig;
use crate::error::{Error, HandshakeFailure, Result};
use crate::stream::WebSocket;
use crate::url::{Target, parse_url};

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
    config: WebSocketConfig,
    connect_timeout: Duration,
    handshake_timeout: Duration,
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
        self.proxy = ProxyChoice::Given(proxy::parse_proxy_url(url));
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
    /// replaced, when it offers other protocols, with the one the
    /// connection speaks: `http/1.1`, after `h2` when HTTP/2 is asked
    /// for with `http2`; a server that picked another protocol would not
    /// understand the handshake. Overrides
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
            let stream = self.open_stream(target, true).await?;
            let attempt = crate::http2::client::connect(
                stream,
                &handshake,
                self.managed_deflate(),
                &self.config,
                self.handshake_timeout,
            );
            match attempt.await? {
                crate::http2::client::Attempt::Open(open) => return Ok(*open),
                #[cfg(feature = "tls")]
                crate::http2::client::Attempt::Http1(stream) => {
                    return self.handshake(stream, handshake).await;
                }
                // No extended CONNECT there: HTTP/1.1, on a new connection
                // (H2-12).
                crate::http2::client::Attempt::NotOffered => {}
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
        let (url, next) =
            redirect::next_hop(&self.url, current, failure, *redirects, self.max_redirects)?;
        if !current.same_origin(&next) {
            // Credentials meant for one server do not go to another, and a
            // Host given for it does not name the next.
            for name in [header::AUTHORIZATION, header::COOKIE, header::HOST] {
                self.headers.remove(name);
            }
            self.cookies.clear();
        }
        self.url = url;
        *redirects += 1;
        Ok(())
    }

    /// TCP to the URL's host (or a tunnel to it through the proxy), and TLS
    /// over it for `wss://` (offering HTTP/2 by ALPN when `http2`), within
    /// the connect timeout.
    async fn open_stream(&self, target: &Target, http2: bool) -> Result<ClientStream> {
        #[cfg(feature = "tls")]
        let tls = if target.tls {
            Some(self.tls_client_config(http2)?)
        } else {
            None
        };
        #[cfg(not(feature = "tls"))]
        let _ = http2;
        let dial = Dial {
            proxy: self
                .proxy
                .for_target(target.tls, &target.host, target.port)?,
            #[cfg(feature = "tls")]
            tls,
            timeout: self.connect_timeout,
            proto: &self.config.proto,
        };
        connect::open(target, dial).await
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
    fn managed_deflate(&self) -> Option<&DeflateConfig> {
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
        stream: S,
        handshake: ClientHandshake,
    ) -> Result<(WebSocket<S>, Response<()>)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let offered_deflate = self.managed_deflate().cloned();
        let config = self.config.clone();
        handshake::run(
            stream,
            handshake,
            offered_deflate,
            config,
            self.handshake_timeout,
        )
        .await
    }
}
