//! The side clients connect to: its WebSocket settings, its TLS, and the
//! limits on connections at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sockeye::proto::DeflateConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::tokio_rustls::server::TlsStream;
use sockeye::{ServerBuilder, WebSocketConfig};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Args;
use crate::listen::{tls_config, tls_handshake};

/// Connections being answered with a refusal (503, 429) at once; more are
/// closed unanswered. Each may hold a request head of up to
/// --max-handshake-size (16 KiB by default) for up to the handshake
/// timeout: 16 MiB at most, whatever a flood of clients does.
const MAX_REFUSALS: usize = 1024;

/// The front's settings, shared by every connection.
pub(super) struct Front {
    /// Origins, limits, compression and timers of the client's side.
    pub(super) server: ServerBuilder,
    /// `wss://` to clients.
    tls: Option<TlsAcceptor>,
    /// The TLS handshake's limit, as the WebSocket one's.
    handshake_timeout: Duration,
    limits: Arc<Limits>,
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
            handshake_timeout: args.handshake_timeout,
            limits: Arc::new(Limits {
                max_connections: args.max_connections,
                max_per_ip: args.max_per_ip,
                open: AtomicUsize::new(0),
                refusals: AtomicUsize::new(0),
                per_ip: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Whether clients connect with `wss://`.
    pub(super) fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Lets a connection from `ip` in, or says how to turn it away.
    pub(super) fn admit(&self, ip: IpAddr) -> Admission {
        Limits::admit(&self.limits, ip)
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
    if !args.allowed_origins.is_empty() {
        builder = builder.allowed_origins(&args.allowed_origins);
    }
    // Sharing one compressor per thread instead of keeping ~300 KiB of
    // zlib state per connection.
    let deflate = (!args.no_deflate).then(|| DeflateConfig {
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    });
    let mut config = hop_config(args);
    config.idle_timeout = (!args.idle_timeout.is_zero()).then_some(args.idle_timeout);
    builder
        .config(config)
        .deflate(deflate)
        .handshake_timeout(args.handshake_timeout)
}

/// The settings both sides' connections share: limits, closing
/// handshake, keepalive, write buffer.
pub(super) fn hop_config(args: &Args) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.proto.max_message_size = args.max_message_size;
    config.proto.max_frame_size = args.max_frame_size;
    config.proto.max_fragments = (args.max_fragments > 0).then_some(args.max_fragments);
    config.proto.max_handshake_size = args.max_handshake_size;
    config.proto.max_headers = args.max_headers;
    config.close_timeout = args.close_timeout;
    config.write_buffer_size = args.write_buffer_size;
    config.keepalive_interval = (!args.keepalive.is_zero()).then_some(args.keepalive);
    config.keepalive_timeout = args.keepalive_timeout;
    config
}

/// The TLS acceptor of `--tls-cert`/`--tls-key` or `--tls-self-signed`,
/// offering HTTP/1.1 only: the handshake with the client waits for the
/// backend's, which sockeye's HTTP/2 server does not allow for.
fn tls_acceptor(args: &Args) -> sockeye::Result<Option<TlsAcceptor>> {
    let config = tls_config(
        args.tls_cert.as_ref(),
        args.tls_key.as_ref(),
        args.tls_self_signed,
    )?;
    Ok(config.map(TlsAcceptor::from))
}

/// The limits on connections at once, shared by every task.
#[derive(Debug)]
struct Limits {
    max_connections: usize,
    /// 0: none.
    max_per_ip: usize,
    /// Connections let in, from accept to end.
    open: AtomicUsize,
    /// Connections being answered with a refusal.
    refusals: AtomicUsize,
    /// Connections per address, kept only with a per-address limit.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// Whether a connection is let in.
pub(super) enum Admission {
    /// Let in; its place is given back when the slot is dropped.
    In(Slot),
    /// Answered with this status (503 or 429); the slot counts it among
    /// the refusals in progress.
    Refused(Slot, http::StatusCode),
    /// Closed at once: too many refusals in progress already.
    Dropped,
}

impl Limits {
    fn admit(limits: &Arc<Limits>, ip: IpAddr) -> Admission {
        let status = if limits.open.fetch_add(1, Ordering::AcqRel) >= limits.max_connections {
            limits.open.fetch_sub(1, Ordering::AcqRel);
            http::StatusCode::SERVICE_UNAVAILABLE
        } else if limits.max_per_ip == 0 {
            return Admission::In(Slot::new(limits, Place::Open(None)));
        } else {
            let mut per_ip = limits.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let count = per_ip.entry(ip).or_insert(0);
            if *count < limits.max_per_ip {
                *count += 1;
                drop(per_ip);
                return Admission::In(Slot::new(limits, Place::Open(Some(ip))));
            }
            drop(per_ip);
            limits.open.fetch_sub(1, Ordering::AcqRel);
            http::StatusCode::TOO_MANY_REQUESTS
        };
        if limits.refusals.fetch_add(1, Ordering::AcqRel) >= MAX_REFUSALS {
            limits.refusals.fetch_sub(1, Ordering::AcqRel);
            return Admission::Dropped;
        }
        Admission::Refused(Slot::new(limits, Place::Refusal), status)
    }
}

/// What a [`Slot`] holds.
#[derive(Debug)]
enum Place {
    /// A connection let in, counted by address when `Some`.
    Open(Option<IpAddr>),
    /// A refusal being answered.
    Refusal,
}

/// A connection's place under the limits, given back when dropped.
#[derive(Debug)]
pub(super) struct Slot {
    limits: Arc<Limits>,
    place: Place,
}

impl Slot {
    fn new(limits: &Arc<Limits>, place: Place) -> Self {
        Slot {
            limits: Arc::clone(limits),
            place,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let limits = &self.limits;
        match self.place {
            Place::Refusal => {
                limits.refusals.fetch_sub(1, Ordering::AcqRel);
            }
            Place::Open(ip) => {
                limits.open.fetch_sub(1, Ordering::AcqRel);
                if let Some(ip) = ip {
                    let mut per_ip = limits.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(count) = per_ip.get_mut(&ip) {
                        *count -= 1;
                        if *count == 0 {
                            per_ip.remove(&ip);
                        }
                    }
                }
            }
        }
    }
}
