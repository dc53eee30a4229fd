//! `wss://`: the TLS acceptors of `--tls-cert`/`--tls-key` or
//! `--tls-self-signed`, and the TLS handshake of each connection.

use std::sync::Arc;
use std::time::Duration;

use sockeye::tokio_rustls::TlsAcceptor;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Args;
use crate::describe;

/// The TLS settings of `--tls-cert` and `--tls-key`, if given.
pub(super) fn tls_acceptors(args: &Args) -> sockeye::Result<Option<TlsAcceptors>> {
    let config = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => sockeye::tls::server_config_from_pem_files(cert, key)?,
        _ if args.tls_self_signed => self_signed_config()?,
        _ => return Ok(None),
    };
    let serve = if args.no_http2 {
        Arc::clone(&config)
    } else {
        sockeye::tls::offer_http2(&config)
    };
    Ok(Some(TlsAcceptors {
        serve: serve.into(),
        refuse: config.into(),
    }))
}

/// The TLS side of `--tls-cert` or `--tls-self-signed`.
#[derive(Clone)]
pub(super) struct TlsAcceptors {
    /// For connections served: HTTP/2 offered by ALPN unless `--no-http2`.
    pub(super) serve: TlsAcceptor,
    /// For connections turned away by a limit: HTTP/1.1 only, the protocol
    /// the refusal (503, 429) is written in.
    pub(super) refuse: TlsAcceptor,
}

/// A TLS configuration with a certificate made now for `localhost` and
/// 127.0.0.1, signed by its own key.
fn self_signed_config() -> sockeye::Result<Arc<sockeye::rustls::ServerConfig>> {
    use sockeye::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    let made = rcgen::generate_simple_self_signed(names)
        .map_err(|e| sockeye::Error::Io(std::io::Error::other(e)))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    tracing::info!("serving a throwaway self-signed certificate for localhost and 127.0.0.1");
    sockeye::tls::server_config(vec![made.cert.der().clone()], key)
}

/// The TLS handshake of a `wss://` connection, within `limit`; `None` if it
/// failed or the server is shutting down.
pub(super) async fn tls_handshake(
    tls: &TlsAcceptor,
    tcp: TcpStream,
    id: u64,
    limit: Duration,
    closing: &CancellationToken,
) -> Option<sockeye::tokio_rustls::server::TlsStream<TcpStream>> {
    let _ = tcp.set_nodelay(true);
    tokio::select! {
        accepted = tokio::time::timeout(limit, tls.accept(tcp)) => match accepted {
            Ok(Ok(stream)) => Some(stream),
            Ok(Err(e)) => {
                tracing::debug!(id, error = %describe(&e), "tls handshake failed");
                None
            }
            Err(_) => {
                tracing::debug!(id, "tls handshake timed out");
                None
            }
        },
        () = closing.cancelled() => None,
    }
}
