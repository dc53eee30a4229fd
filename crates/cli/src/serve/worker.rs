//! The accept threads: each listens on its own socket, lets connections in
//! under the limits and, on shutdown, closes them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sockeye::ServerBuilder;
use sockeye::reactor::{ReactorHandle, ReactorThread};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::echo::SHUTTING_DOWN;
use super::echo_reactor::{EchoData, EchoHandler};
use super::handshake::{Admitted, accept_http1, answer_refusal, next_id, serve_http2};
use super::routes::Site;
use super::static_files::{Files, serve_with_files};
use super::tls::{TlsAcceptors, tls_handshake};
use crate::describe;
use crate::limits::{HandshakeSlot, Refusal, limits};
use crate::listen::AcceptBackoff;

/// The listen backlog of each listener.
const LISTEN_BACKLOG: u32 = 1024;

/// The accept threads, once each listens.
pub(super) struct Workers {
    threads: Vec<std::thread::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    /// The address they all listen on (the port chosen, for port 0).
    addr: SocketAddr,
}

/// What every accept thread is given, the same for all.
#[derive(Clone)]
pub(super) struct Settings {
    /// Shared: each connection's task holds a pointer, not a copy.
    pub(super) server: Arc<ServerBuilder>,
    /// Each connection's closing-handshake limit.
    pub(super) close_timeout: Duration,
    /// The TLS handshake's limit, as the WebSocket one's.
    pub(super) handshake_timeout: Duration,
    /// `wss://`: TLS first.
    pub(super) tls: Option<TlsAcceptors>,
    /// The routes: which mode serves which path.
    pub(super) site: Arc<Site>,
    /// `--static`: connections served by hyper, files for plain
    /// requests.
    pub(super) files: Option<Files>,
}

impl Workers {
    /// Starts `count` accept threads on `addr`, each once the one before it
    /// listens, so that port 0 becomes one port for all. The error is the
    /// line to print.
    pub(super) async fn start(
        mut addr: SocketAddr,
        count: usize,
        settings: &Settings,
    ) -> Result<Self, String> {
        // One thread per listener, each with its own single-threaded runtime
        // and its own SO_REUSEPORT socket on the same address: the kernel
        // spreads connections over them and no task ever changes thread.
        let (stop, stop_rx) = watch::channel(false);
        let mut threads = Vec::with_capacity(count);
        for index in 0..count {
            let worker = Worker {
                index,
                addr,
                reuse_port: count > 1,
                stop: stop_rx.clone(),
                settings: settings.clone(),
            };
            let (bound_tx, bound_rx) = oneshot::channel();
            let thread = std::thread::Builder::new()
                .name(format!("sockeye-serve-{index}"))
                .spawn(move || worker.run(bound_tx))
                .map_err(|e| format!("cannot start a server thread: {}", describe(&e)))?;
            match bound_rx.await {
                Ok(Ok(local)) => addr = local,
                Ok(Err(e)) => {
                    let _ = stop.send(true);
                    return Err(format!("cannot listen on {addr}: {}", describe(&e)));
                }
                Err(_) => return Err("a server thread stopped while starting".to_owned()),
            }
            threads.push(thread);
        }
        Ok(Workers {
            threads,
            stop,
            addr,
        })
    }

    /// The address the threads listen on.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Tells every thread to stop, and waits until each has closed its
    /// connections.
    pub(super) async fn stop(self) {
        let _ = self.stop.send(true);
        for thread in self.threads {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

/// One accept loop on its own thread and runtime.
struct Worker {
    index: usize,
    addr: SocketAddr,
    reuse_port: bool,
    stop: watch::Receiver<bool>,
    settings: Settings,
}

impl Worker {
    /// Listens, reports the address (or the error) on `bound`, then
    /// accepts until told to stop.
    fn run(self, bound: oneshot::Sender<std::io::Result<SocketAddr>>) {
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

    /// Accepts until told to stop, then closes the listener and the
    /// connections.
    async fn accept_loop(mut self, listener: TcpListener) {
        // Counts the connections without a handle or an allocation each,
        // unlike a `JoinSet`: an idle connection costs its task alone.
        let connections = TaskTracker::new();
        // Connections hear of the shutdown only once the listener is
        // closed, so nobody is accepted after the first Close 1001 left.
        let closing = CancellationToken::new();
        let reactor = self.start_reactor();
        let echo = reactor.as_ref().map(|(_, handle)| handle);
        self.accept_until_stopped(&listener, &connections, &closing, echo)
            .await;
        drop(listener);
        let reactor = reactor.map(|(reactor, _)| reactor);
        self.close_connections(&connections, &closing, reactor)
            .await;
    }

    /// Starts the thread's reactor, which serves its echo connections
    /// over plain TCP on a thread of its own; `None` (those connections
    /// get tasks of their own) if it cannot be made.
    fn start_reactor(&self) -> Option<(ReactorThread<EchoHandler>, ReactorHandle<EchoData>)> {
        let config = self.settings.server.websocket_config();
        let name = format!("sockeye-echo-{}", self.index);
        match ReactorThread::spawn(EchoHandler, config, name) {
            Ok(started) => Some(started),
            Err(e) => {
                tracing::warn!(error = %describe(&e), "no reactor: echo connections get a task each");
                None
            }
        }
    }

    /// Lets each connection accepted in, or turns it away, until told to
    /// stop.
    async fn accept_until_stopped(
        &mut self,
        listener: &TcpListener,
        connections: &TaskTracker,
        closing: &CancellationToken,
        echo: Option<&ReactorHandle<EchoData>>,
    ) {
        let mut backoff = AcceptBackoff::default();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        backoff.accepted();
                        self.admit(tcp, peer, connections, closing, echo);
                    }
                    Err(e) => backoff.failed(&e).await,
                },
                _ = self.stop.changed() => break,
            }
        }
    }

    /// Starts serving a new connection, or turns it away if a limit is
    /// reached.
    fn admit(
        &self,
        tcp: TcpStream,
        peer: SocketAddr,
        connections: &TaskTracker,
        closing: &CancellationToken,
        echo: Option<&ReactorHandle<EchoData>>,
    ) {
        let id = next_id();
        match limits().admit(peer.ip()) {
            Ok((slot, handshake)) => {
                tracing::debug!(%peer, id, "connection accepted");
                let admitted = Admitted {
                    slot,
                    handshake,
                    closing: closing.clone(),
                    peer,
                    site: Arc::clone(&self.settings.site),
                    connections: connections.clone(),
                    echo: echo.cloned(),
                };
                self.serve(tcp, id, admitted, connections);
            }
            Err(Refusal::Answer(handshake, status)) => {
                tracing::debug!(%peer, id, %status, "connection refused: limit reached");
                self.refuse(tcp, id, handshake, status, closing.clone(), connections);
            }
            Err(Refusal::Drop) => {
                tracing::debug!(%peer, id, "connection dropped: too many handshakes");
            }
        }
    }

    /// Spawns the task of a connection let in: with `wss://` its TLS
    /// handshake first, then HTTP/2 if ALPN chose it, else the opening
    /// handshake over HTTP/1.1.
    fn serve(&self, tcp: TcpStream, id: u64, admitted: Admitted, connections: &TaskTracker) {
        let server = Arc::clone(&self.settings.server);
        let files = self.settings.files.clone();
        let limit = self.settings.handshake_timeout;
        match (&self.settings.tls, files) {
            (None, None) => connections.spawn(accept_http1(server, tcp, id, admitted)),
            (None, Some(files)) => connections.spawn(serve_with_files(
                server, files, false, limit, tcp, id, admitted,
            )),
            (Some(tls), files) => {
                let tls = tls.serve.clone();
                connections.spawn(async move {
                    let Some(tls) = tls_handshake(&tls, tcp, id, limit, &admitted.closing).await
                    else {
                        return;
                    };
                    let http2 = tls.get_ref().1.alpn_protocol() == Some(sockeye::tls::ALPN_H2);
                    match (http2, files) {
                        (http2, Some(files)) => {
                            serve_with_files(server, files, http2, limit, tls, id, admitted).await;
                        }
                        (true, None) => serve_http2(&server, tls, id, admitted).await,
                        (false, None) => accept_http1(server, tls, id, admitted).await,
                    }
                })
            }
        };
    }

    /// Spawns the task that answers a connection turned away with
    /// `status`, after its TLS handshake with `wss://`.
    fn refuse(
        &self,
        tcp: TcpStream,
        id: u64,
        handshake: HandshakeSlot,
        status: http::StatusCode,
        closing: CancellationToken,
        connections: &TaskTracker,
    ) {
        let server = Arc::clone(&self.settings.server);
        let site = Arc::clone(&self.settings.site);
        match &self.settings.tls {
            None => connections.spawn(answer_refusal(
                server, site, tcp, id, handshake, closing, status,
            )),
            Some(tls) => {
                let (tls, limit) = (tls.refuse.clone(), self.settings.handshake_timeout);
                connections.spawn(async move {
                    if let Some(tcp) = tls_handshake(&tls, tcp, id, limit, &closing).await {
                        answer_refusal(server, site, tcp, id, handshake, closing, status).await;
                    }
                })
            }
        };
    }

    /// Tells the connections the server is shutting down (each closes
    /// with 1001) and waits for their closing handshakes, for twice the
    /// close timeout at most.
    async fn close_connections(
        &self,
        connections: &TaskTracker,
        closing: &CancellationToken,
        reactor: Option<ReactorThread<EchoHandler>>,
    ) {
        SHUTTING_DOWN.store(true, Ordering::Release);
        closing.cancel();
        if let Some(reactor) = reactor {
            // Its connections close as the tasks' do; the tracker waits
            // for its thread with theirs.
            reactor.stop();
            connections.spawn(async move {
                let _ = tokio::task::spawn_blocking(move || reactor.join()).await;
            });
        }
        connections.close();
        tracing::debug!(
            thread = self.index,
            open = connections.len(),
            "closing connections"
        );
        // Their closing handshakes, with time to spare for writing.
        let grace = self.settings.close_timeout * 2;
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
