//! `wss://`: the TLS acceptors of `--tls-cert`/`--tls-key` or
//! `--tls-self-signed` (made in `listen.rs`, with the TLS handshake of each
//! connection).

use std::sync::Arc;

use sockeye::tokio_rustls::TlsAcceptor;

use super::Args;
pub(super) use crate::listen::tls_handshake;

/// The TLS settings of `--tls-cert` and `--tls-key`, if given.
pub(super) fn tls_acceptors(args: &Args) -> sockeye::Result<Option<TlsAcceptors>> {
    let Some(config) = args.tls.tls_config()? else {
        return Ok(None);
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
