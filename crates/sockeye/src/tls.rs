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

pub use crate::client::transport::ClientStream;
#[cfg(feature = "tls")]
use {
    crate::error::{Error, Result},
    rustls::crypto::CryptoProvider,
    rustls::{ClientConfig, RootCertStore, ServerConfig},
    rustls_pki_types::pem::PemObject,
    rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName},
    std::io,
    std::path::Path,
    std::sync::{Arc, OnceLock},
    tokio::net::TcpStream,
    tokio_rustls::client::TlsStream,
};

/// The ALPN name of HTTP/1.1, which WebSocket handshakes over TLS use.
#[cfg(feature = "tls")]
pub const ALPN_HTTP_1_1: &[u8] = b"http/1.1";

/// The crypto provider of every configuration made here.
#[cfg(feature = "tls")]
fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    Arc::clone(PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())))
}

/// The root certificates the default features trust, gathered once.
#[cfg(feature = "tls")]
fn default_roots() -> RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(gather_default_roots).clone()
}

/// Reads the roots of the enabled features (the platform's from disk).
#[cfg(feature = "tls")]
fn gather_default_roots() -> RootCertStore {
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
/// client certificate if given; ALPN `http/1.1`, after `h2` when `http2`.
#[cfg(feature = "tls")]
pub(crate) fn client_config(
    extra_roots: &[CertificateDer<'static>],
    identity: Option<&(Vec<CertificateDer<'static>>, Arc<PrivateKeyDer<'static>>)>,
    http2: bool,
) -> Result<Arc<ClientConfig>> {
    static DEFAULT: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    static DEFAULT_HTTP2: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    let cache = if http2 { &DEFAULT_HTTP2 } else { &DEFAULT };
    if extra_roots.is_empty()
        && identity.is_none()
        && let Some(config) = cache.get()
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
    config.alpn_protocols = alpn(http2);
    let config = Arc::new(config);
    if extra_roots.is_empty() && identity.is_none() {
        return Ok(Arc::clone(cache.get_or_init(|| config)));
    }
    Ok(config)
}

/// The ALPN name of HTTP/2.
#[cfg(feature = "tls")]
pub const ALPN_H2: &[u8] = b"h2";

/// The protocols a client offers: HTTP/1.1, after HTTP/2 when asked.
#[cfg(feature = "tls")]
fn alpn(http2: bool) -> Vec<Vec<u8>> {
    if http2 {
        vec![ALPN_H2.to_vec(), ALPN_HTTP_1_1.to_vec()]
    } else {
        vec![ALPN_HTTP_1_1.to_vec()]
    }
}

/// `config` with the ALPN list the connection needs: `http/1.1`, after
/// `h2` when HTTP/2 is wanted. A configuration with another list is copied
/// with it replaced (a server that picked a protocol the handshake does not
/// speak would not understand it); one that already fits, or offers
/// nothing, is used as it is.
#[cfg(feature = "tls")]
pub(crate) fn with_alpn(config: Arc<ClientConfig>, http2: bool) -> Arc<ClientConfig> {
    let wanted = alpn(http2);
    if config.alpn_protocols.is_empty() || config.alpn_protocols == wanted {
        return config;
    }
    let mut config = (*config).clone();
    config.alpn_protocols = wanted;
    Arc::new(config)
}

/// Runs the TLS handshake as a client of `host` over `tcp`.
#[cfg(feature = "tls")]
pub(crate) async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>> {
    // An IPv6 literal comes bracketed from the URL.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_owned())
        .map_err(|_| Error::InvalidUrl("the host is not a valid tls server name"))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(from_io)
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

/// `config`, also offering HTTP/2 by ALPN (`h2` first, then `http/1.1`),
/// for servers that take WebSocket connections over both (see
/// `http2::serve_connection`, feature `http2`); check which one a
/// connection agreed with the TLS stream's `get_ref().1.alpn_protocol()`.
#[cfg(feature = "tls")]
pub fn offer_http2(config: &Arc<ServerConfig>) -> Arc<ServerConfig> {
    let mut config = (**config).clone();
    config.alpn_protocols = alpn(true);
    Arc::new(config)
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
