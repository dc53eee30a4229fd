//! What the listening subcommands (`serve`, `proxy`) share: the TLS
//! flags (`--tls-cert`/`--tls-key` or `--tls-self-signed`) and the
//! configuration they make, the pause after a failed accept, each
//! connection's TLS handshake, and the answer to a connection a limit
//! turns away.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sockeye::rustls::ServerConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::tokio_rustls::server::TlsStream;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::describe;

/// `--tls-cert`/`--tls-key` and `--tls-self-signed`: `wss://` to clients.
#[derive(Debug, Clone, clap::Args)]
#[expect(
    clippy::struct_field_names,
    reason = "the fields are the flags, --tls-cert, --tls-key and --tls-self-signed"
)]
pub(crate) struct TlsArgs {
    /// Serve `wss://` (and plain HTTP requests over https): the
    /// certificate chain, leaf first, as PEM. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, as PEM (PKCS #8, PKCS #1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve `wss://` with a throwaway self-signed certificate for
    /// `localhost` and 127.0.0.1, made at start (for tests and local
    /// development; clients must be told to trust it or to skip the check).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,
}

impl TlsArgs {
    /// Whether clients connect with `wss://`.
    pub(crate) fn is_set(&self) -> bool {
        self.tls_cert.is_some() || self.tls_self_signed
    }

    /// The TLS configuration of `--tls-cert` and `--tls-key`, or of
    /// `--tls-self-signed`; `None` for neither.
    pub(crate) fn tls_config(&self) -> sockeye::Result<Option<Arc<ServerConfig>>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                sockeye::tls::server_config_from_pem_files(cert, key).map(Some)
            }
            _ if self.tls_self_signed => self_signed_config().map(Some),
            _ => Ok(None),
        }
    }
}

/// A TLS configuration with a certificate made now for `localhost` and
/// 127.0.0.1, signed by its own key.
fn self_signed_config() -> sockeye::Result<Arc<ServerConfig>> {
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

/// The shortest pause after a failed accept: long enough not to spin
/// while descriptors are out, short enough to go on soon once one is free.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);

/// The longest pause after failed accepts: a connection that could be
/// taken again waits no more than this.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The pause between failed accepts (out of file descriptors and the
/// like): it doubles from 10 ms up to 1 s while accepting fails, and the
/// failure is logged once until accepting works again.
#[derive(Debug, Default)]
pub(crate) struct AcceptBackoff {
    /// Zero while accepting works.
    pause: Duration,
}

impl AcceptBackoff {
    /// Notes an accept that worked, saying so if the last ones failed.
    pub(crate) fn accepted(&mut self) {
        if !self.pause.is_zero() {
            tracing::info!("accepting connections again");
            self.pause = Duration::ZERO;
        }
    }

    /// Notes a failed accept and waits before the next one.
    pub(crate) async fn failed(&mut self, error: &std::io::Error) {
        if self.pause.is_zero() {
            tracing::warn!(
                error = %describe(error),
                "accept failed; retrying, and logging again only once it works"
            );
        }
        tokio::time::sleep(self.grow()).await;
    }

    /// The next pause: twice the last, between the bounds.
    fn grow(&mut self) -> Duration {
        self.pause = (self.pause * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
        self.pause
    }
}

/// The TLS handshake of a `wss://` connection, within `limit`; `None` if it
/// failed or the server is shutting down.
pub(crate) async fn tls_handshake(
    tls: &TlsAcceptor,
    tcp: TcpStream,
    id: u64,
    limit: Duration,
    closing: &CancellationToken,
) -> Option<TlsStream<TcpStream>> {
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

/// The answer `status` (503 or 429) with a hint to retry in 5 seconds.
pub(crate) fn try_again_later(status: http::StatusCode) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(format!(
        "{}: try again later\n",
        status.canonical_reason().unwrap_or("refused")
    )));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("5"),
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Failed accepts wait 10 ms, then twice as long each time up to 1 s;
    /// an accept that works starts over from 10 ms.
    #[test]
    fn accept_pauses_double_up_to_a_second_and_start_over() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u128> = (0..9).map(|_| backoff.grow().as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        backoff.accepted();
        assert_eq!(backoff.grow(), ACCEPT_BACKOFF_MIN);
    }
}
