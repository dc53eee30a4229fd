//! One accept loop on its own thread and runtime: listening, letting
//! connections in under the limits, and closing them on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sockeye::ServerBuilder;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::broadcast::Hub;
use super::echo::SHUTTING_DOWN;
use super::handshake::{Admitted, accept_http1, answer_refusal, next_id, serve_http2};
use super::limits::{Refusal, limits};
use super::tls::{TlsAcceptors, tls_handshake};
use crate::describe;

/// The shortest and longest pause after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The listen backlog of each listener.
const LISTEN_BACKLOG: u32 = 1024;

/// One accept loop on its own thread and runtime.
pub(super) struct Worker {
    pub(super) index: usize,
    pub(super) addr: SocketAddr,
    pub(super) reuse_port: bool,
    pub(super) server: Arc<ServerBuilder>,
    /// Each connection's closing-handshake limit.
    pub(super) close_timeout: Duration,
    /// The TLS handshake's limit, as the WebSocket one's.
    pub(super) handshake_timeout: Duration,
    /// `wss://`: TLS first.
    pub(super) tls: Option<TlsAcceptors>,
    pub(super) stop: watch::Receiver<bool>,
    pub(super) hub: Option<Hub>,
}

impl Worker {
    /// Listens, reports the address (or the error) on `bound`, then
    /// accepts until told to stop.
    pub(super) fn run(self, bound: tokio::sync::oneshot::Sender<std::io::Result<SocketAddr>>) {
        let runtime = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime,
            Err(e) => {
                let _ = bound.send(Err(e));
                return;
            }
        };
        runtime.block_on(async move {
            let listener = match self.listen() {
                Ok(listener) => listener,
                Err(e) => {
                    let _ = bound.send(Err(e));
                    return;
                }
            };
            let _ = bound.send(listener.local_addr());
            self.accept_loop(listener).await;
        });
    }

    fn listen(&self) -> std::io::Result<TcpListener> {
        let socket = if self.addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        #[cfg(unix)]
        if self.reuse_port {
            socket.set_reuseport(true)?;
        }
        socket.bind(self.addr)?;
        socket.listen(LISTEN_BACKLOG)
    }

    /// Starts serving a new connection, or turns it away if a limit is
    /// reached.
    fn admit(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        connections: &TaskTracker,
        closing: &CancellationToken,
    ) {
        let id = next_id();
        let server = Arc::clone(&self.server);
        match limits().admit(peer.ip()) {
            Ok((slot, handshake)) => {
                tracing::debug!(%peer, id, "connection accepted");
                let admitted = Admitted {
                    slot,
                    handshake,
                    closing: closing.clone(),
                    hub: self.hub.clone(),
                    connections: connections.clone(),
                };
                match &self.tls {
                    None => connections.spawn(accept_http1(server, tcp, id, admitted)),
                    Some(tls) => {
                        let (tls, limit) = (tls.serve.clone(), self.handshake_timeout);
                        connections.spawn(async move {
                            let Some(tls) =
                                tls_handshake(&tls, tcp, id, limit, &admitted.closing).await
                            else {
                                return;
                            };
                            if tls.get_ref().1.alpn_protocol() == Some(sockeye::tls::ALPN_H2) {
                                serve_http2(&server, tls, id, admitted).await;
                            } else {
                                accept_http1(server, tls, id, admitted).await;
                            }
                        })
                    }
                };
            }
            Err(Refusal::Answer(handshake, status)) => {
                tracing::debug!(%peer, id, %status, "connection refused: limit reached");
                let closing = closing.clone();
                match &self.tls {
                    None => connections
                        .spawn(answer_refusal(server, tcp, id, handshake, closing, status)),
                    Some(tls) => {
                        let (tls, limit) = (tls.refuse.clone(), self.handshake_timeout);
                        connections.spawn(async move {
                            if let Some(tcp) = tls_handshake(&tls, tcp, id, limit, &closing).await {
                                answer_refusal(server, tcp, id, handshake, closing, status).await;
                            }
                        })
                    }
                };
            }
            Err(Refusal::Drop) => {
                tracing::debug!(%peer, id, "connection dropped: too many handshakes");
            }
        }
    }

    async fn accept_loop(mut self, listener: TcpListener) {
        // Counts the connections without a handle or an allocation each,
        // unlike a `JoinSet`: an idle connection costs its task alone.
        let connections = TaskTracker::new();
        // Connections hear of the shutdown only once the listener is
        // closed, so nobody is accepted after the first Close 1001 left.
        let closing = CancellationToken::new();
        // Out of file descriptors and the like: wait, growing the pause,
        // and log once until accepting works again.
        let mut backoff = Duration::ZERO;
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        if !backoff.is_zero() {
                            tracing::info!("accepting connections again");
                            backoff = Duration::ZERO;
                        }
                        self.admit(tcp, peer, &connections, &closing);
                    }
                    Err(e) => {
                        if backoff.is_zero() {
                            tracing::warn!(
                                error = %describe(&e),
                                "accept failed; retrying, and logging again only once it works"
                            );
                        }
                        backoff = (backoff * 2).clamp(ACCEPT_BACKOFF_MIN, ACCEPT_BACKOFF_MAX);
                        tokio::time::sleep(backoff).await;
                    }
                },
                _ = self.stop.changed() => break,
            }
        }
        drop(listener);
        SHUTTING_DOWN.store(true, Ordering::Release);
        closing.cancel();
        connections.close();
        tracing::debug!(
            thread = self.index,
            open = connections.len(),
            "closing connections"
        );
        // Their closing handshakes, with time to spare for writing.
        let grace = self.close_timeout * 2;
        if tokio::time::timeout(grace, connections.wait())
            .await
            .is_err()
        {
            // The runtime drops them when this returns.
            tracing::warn!(
                open = connections.len(),
                "closing connections that did not finish"
            );
        }
    }
}
