//! The side clients connect to: its WebSocket settings, its origin check,
//! its TLS, and its admission under the limits on connections at once
//! (the crate's `limits.rs`).

use std::time::Duration;

use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::tokio_rustls::server::TlsStream;
use sockeye::{ServerBuilder, WebSocketConfig};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Args;
use crate::connection_args::{connection_config, server_deflate};
use crate::listen::tls_handshake;

/// The front's settings, shared by every connection.
pub(super) struct Front {
    /// Origins, limits, compression and timers of the client's side.
    pub(super) server: ServerBuilder,
    /// `wss://` to clients.
    tls: Option<TlsAcceptor>,
    /// The TLS handshake's limit, as the WebSocket one's.
    handshake_timeout: Duration,
    /// `--same-origin`: a browser's `Origin` must name the host the
    /// request was sent to.
    pub(super) same_origin: bool,
}

/// A client's byte stream: plain TCP or TLS.
pub(super) enum Stream {
    Plain(TcpStream),
    /// Boxed: a TLS stream's state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Front {
    /// The front the flags describe.
    pub(super) fn new(args: &Args) -> sockeye::Result<Self> {
        Ok(Front {
            server: server_builder(args),
            tls: tls_acceptor(args)?,
            handshake_timeout: args.timeouts.handshake_timeout,
            same_origin: args.origins.same_origin,
        })
    }

    /// Whether clients connect with `wss://`.
    pub(super) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The TLS handshake of a client with `wss://`, within the handshake
    /// timeout; the TCP stream as it is without TLS. `None` if TLS failed
    /// or the proxy is shutting down.
    pub(super) async fn tls_handshake(
        &self,
        tcp: TcpStream,
        id: u64,
        closing: &CancellationToken,
    ) -> Option<Stream> {
        let Some(acceptor) = &self.tls else {
            return Some(Stream::Plain(tcp));
        };
        tls_handshake(acceptor, tcp, id, self.handshake_timeout, closing)
            .await
            .map(|tls| Stream::Tls(Box::new(tls)))
    }
}

/// The client side's WebSocket settings: origins, limits, compression,
/// timers. Plain HTTP requests get 426 Upgrade Required.
fn server_builder(args: &Args) -> ServerBuilder {
    let mut builder = ServerBuilder::new();
    let origins = args.origins.allowed_origins();
    if !origins.is_empty() {
        builder = builder.allowed_origins(origins);
    }
    let mut config = hop_config(args);
    config.idle_timeout = args.timeouts.idle();
    builder
        .config(config)
        .deflate(server_deflate(args.no_deflate))
        .handshake_timeout(args.timeouts.handshake_timeout)
}

/// The settings both sides' connections share: limits, closing
/// handshake, keepalive, write buffer.
pub(super) fn hop_config(args: &Args) -> WebSocketConfig {
    connection_config(&args.limits, &args.timeouts)
}

/// The TLS acceptor of `--tls-cert`/`--tls-key` or `--tls-self-signed`,
/// offering HTTP/1.1 only: the handshake with the client waits for the
/// backend's, which sockeye's HTTP/2 server does not allow for.
fn tls_acceptor(args: &Args) -> sockeye::Result<Option<TlsAcceptor>> {
    Ok(args.tls.tls_config()?.map(TlsAcceptor::from))
}
