//! TLS with rustls: the stream a client gets from [`connect`](crate::connect)
//! (`ws://` or `wss://`), and the settings of TLS clients and servers.
//!
//! rustls is built with its `ring` crypto provider, which sockeye selects
//! itself: nothing has to be installed process-wide before the first
//! `wss://` connection. Which root certificates a client trusts by default
//! is a cargo feature: `tls-webpki-roots` (the default: Mozilla's roots,
//! compiled in) or `tls-native-roots` (the platform's, read once at first
//! use); with both, the union.
//!
//! A server runs TLS itself and hands the decrypted stream to
//! [`ServerBuilder::accept`](crate::ServerBuilder::accept), which takes any
//! byte stream:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use sockeye::ServerBuilder;
//! use tokio_rustls::TlsAcceptor;
//!
//! let config = sockeye::tls::server_config_from_pem_files("cert.pem", "key.pem")?;
//! let acceptor = TlsAcceptor::from(config);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9443").await?;
//! let server = ServerBuilder::new();
//! let (tcp, _) = listener.accept().await?;
//! let tls = acceptor.accept(tcp).await?;
//! let ws = server.accept(tls).await?;
//! # drop(ws);
//! # Ok(())
//! # }
//! ```

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(feature = "tls")]
use {
    crate::error::{Error, Result},
    rustls::crypto::CryptoProvider,
    rustls::{ClientConfig, RootCertStore, ServerConfig},
    rustls_pki_types::pem::PemObject,
    rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName},
    std::path::Path,
    std::sync::{Arc, OnceLock},
};

/// The ALPN name of HTTP/1.1, which WebSocket handshakes over TLS use.
#[cfg(feature = "tls")]
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// A client's connection: plain TCP for `ws://`, TLS over TCP for `wss://`.
///
/// Reads and writes go straight to the TCP stream or through rustls; the
/// TLS state is boxed, so a plain connection does not carry its size.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl ClientStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(tcp) => tcp,
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Whether the connection is encrypted.
    pub fn is_tls(&self) -> bool {
        !matches!(self, ClientStream::Plain(_))
    }

    /// The protocol agreed by ALPN, if TLS agreed on one.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        match self {
            ClientStream::Plain(_) => None,
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// The crypto provider of every configuration made here.
#[cfg(feature = "tls")]
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// The root certificates the default features trust.
#[cfg(feature = "tls")]
fn default_roots() -> RootCertStore {
    #[allow(unused_mut)]
    let mut roots = RootCertStore::empty();
    #[cfg(feature = "tls-webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(feature = "tls-native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!(%error, "skipping a platform root certificate store");
        }
        let (added, skipped) = roots.add_parsable_certificates(found.certs);
        tracing::debug!(added, skipped, "platform root certificates");
    }
    roots
}

/// A client configuration: the default roots plus `extra_roots`, and a
/// client certificate if given; ALPN `http/1.1`.
#[cfg(feature = "tls")]
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    identity: Option<&(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
) -> Result<Arc<ClientConfig>> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if extra_roots.is_empty()
        && identity.is_none()
        && let Some(config) = DEFAULT.get()
    {
        return Ok(Arc::clone(config));
    }
    let mut roots = default_roots();
    for root in extra_roots {
        roots.add(root.clone()).map_err(tls_error)?;
    }
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain.clone(), key.clone_key())
            .map_err(tls_error)?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    let config = Arc::new(config);
    if extra_roots.is_empty() && identity.is_none() {
        return Ok(Arc::clone(DEFAULT.get_or_init(|| config)));
    }
    Ok(config)
}

/// `config` as a WebSocket over HTTP/1.1 needs it: ALPN offering only
/// `http/1.1` (or nothing, as given). A configuration offering other
/// protocols is copied with its ALPN list replaced: a server that picked
/// `h2` would not understand the handshake.
#[cfg(feature = "tls")]
pub(crate) fn for_http_1_1(config: Arc<ClientConfig>) -> Arc<ClientConfig> {
    let fits = config.alpn_protocols.is_empty()
        || config
            .alpn_protocols
            .iter()
            .all(|protocol| protocol == ALPN_HTTP_1_1);
    if fits {
        return config;
    }
    let mut config = (*config).clone();
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Arc::new(config)
}

/// Runs the TLS handshake as a client of `host` over `tcp`.
#[cfg(feature = "tls")]
pub(crate) async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<ClientStream> {
    // An IPv6 literal comes bracketed from the URL.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| Error::InvalidUrl("the host is not a valid tls server name"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(from_io)?;
    Ok(ClientStream::Tls(Box::new(tls)))
}

/// A server configuration for `chain` (leaf first) and its private key,
/// with ALPN `http/1.1`.
///
/// # Errors
///
/// [`Error::Tls`] when the key does not suit the certificate or is of a
/// kind rustls does not support.
#[cfg(feature = "tls")]
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(tls_error)?;
    config.alpn_protocols = vec![ALPN_HTTP_1_1.to_vec()];
    Ok(Arc::new(config))
}

/// [`server_config`] from PEM files: the certificate chain (leaf first)
/// and the private key (PKCS #8, PKCS #1 or SEC1).
///
/// # Errors
///
/// [`Error::Io`] when a file cannot be read or holds no certificate or key
/// (the error names the file), [`Error::Tls`] as [`server_config`].
#[cfg(feature = "tls")]
pub fn server_config_from_pem_files(
    cert: impl AsRef<Path>,
    key: impl AsRef<Path>,
) -> Result<Arc<ServerConfig>> {
    let chain = certificates_from_pem_file(cert)?;
    let key = private_key_from_pem_file(key)?;
    server_config(chain, key)
}

/// Every certificate in a PEM file.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, is not PEM, or holds no
/// certificate; the message names the file.
#[cfg(feature = "tls")]
pub fn certificates_from_pem_file(path: impl AsRef<Path>) -> Result<Vec<CertificateDer<'static>>> {
    let path = path.as_ref();
    let chain = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<std::result::Result<Vec<_>, _>>)
        .map_err(|e| pem_error(path, &e))?;
    if chain.is_empty() {
        return Err(pem_error(path, &"no certificate in it"));
    }
    Ok(chain)
}

/// The first private key in a PEM file.
///
/// # Errors
///
/// [`Error::Io`] when the file cannot be read, is not PEM, or holds no
/// private key; the message names the file.
#[cfg(feature = "tls")]
pub fn private_key_from_pem_file(path: impl AsRef<Path>) -> Result<PrivateKeyDer<'static>> {
    let path = path.as_ref();
    PrivateKeyDer::from_pem_file(path).map_err(|e| pem_error(path, &e))
}

#[cfg(feature = "tls")]
fn pem_error(path: &Path, why: &dyn std::fmt::Display) -> Error {
    Error::Io(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {why}", path.display()),
    ))
}

#[cfg(feature = "tls")]
fn tls_error(e: rustls::Error) -> Error {
    Error::Tls(Box::new(e))
}

/// A TLS failure reported through I/O, such as a certificate that cannot
/// be verified, becomes [`Error::Tls`]; other I/O errors stay I/O errors.
#[cfg(feature = "tls")]
pub(crate) fn from_io(e: io::Error) -> Error {
    let is_tls = e
        .get_ref()
        .is_some_and(<dyn std::error::Error + Send + Sync>::is::<rustls::Error>);
    if !is_tls {
        return Error::Io(e);
    }
    let kind = e.kind();
    match e
        .into_inner()
        .map(<dyn std::error::Error + Send + Sync>::downcast::<rustls::Error>)
    {
        Some(Ok(tls)) => Error::Tls(tls),
        Some(Err(other)) => Error::Io(io::Error::new(kind, other)),
        None => Error::Io(io::Error::from(kind)),
    }
}
