//! `sockeye serve`: the echo server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::DeflateConfig;
use sockeye::{CloseCode, PreparedMessage, ServerBuilder};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinSet;

use crate::describe;

/// Options of `sockeye serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// The largest message accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_message_size: usize,
    /// The largest frame accepted, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_frame_size: usize,
    /// Do not accept permessage-deflate compression.
    #[arg(long)]
    no_deflate: bool,
    /// Server threads, each with its own listener (`SO_REUSEPORT`); 0 means
    /// one per CPU.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Instead of echoing, send every message to every other connected
    /// client (encoded once, shared by all).
    #[arg(long)]
    broadcast: bool,
}

/// How long open connections get to finish their closing handshake after a
/// shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The listen backlog of each listener.
const BACKLOG: u32 = 1024;

pub(crate) async fn run(args: Args) -> ExitCode {
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    // Shared: each connection's task holds a pointer, not a copy.
    let server = Arc::new(
        ServerBuilder::new()
            .max_message_size(args.max_message_size)
            .max_frame_size(args.max_frame_size)
            .deflate((!args.no_deflate).then(|| DeflateConfig {
                // One compressor per thread instead of ~300 KiB of zlib state
                // per connection (BENCHMARKS.md).
                server_no_context_takeover: true,
                ..DeflateConfig::default()
            }))
            .close_timeout(SHUTDOWN_GRACE),
    );
    let signal = shutdown_signal();
    tokio::pin!(signal);
    let (stop_tx, stop_rx) = watch::channel(false);
    let hub = args.broadcast.then(|| Hub {
        sender: broadcast::channel(HUB_BACKLOG).0,
    });

    // One thread per listener, each with its own single-threaded runtime
    // and its own SO_REUSEPORT socket on the same address: the kernel
    // spreads connections over them and no task ever changes thread.
    let mut workers = Vec::with_capacity(threads);
    let mut addr = args.addr;
    for index in 0..threads {
        let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
        let worker = Worker {
            index,
            addr,
            reuse_port: threads > 1,
            server: Arc::clone(&server),
            stop: stop_rx.clone(),
            hub: hub.clone(),
        };
        let handle = std::thread::Builder::new()
            .name(format!("sockeye-serve-{index}"))
            .spawn(move || worker.run(bound_tx));
        let handle = match handle {
            Ok(handle) => handle,
            Err(e) => {
                eprintln!("sockeye: cannot start a server thread: {}", describe(&e));
                return ExitCode::FAILURE;
            }
        };
        match bound_rx.await {
            Ok(Ok(local)) => addr = local,
            Ok(Err(e)) => {
                eprintln!("sockeye: cannot listen on {addr}: {}", describe(&e));
                let _ = stop_tx.send(true);
                return ExitCode::FAILURE;
            }
            Err(_) => {
                eprintln!("sockeye: a server thread stopped while starting");
                return ExitCode::FAILURE;
            }
        }
        workers.push(handle);
    }
    tracing::info!(threads, "echo server listening on ws://{addr}");
    (&mut signal).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for worker in workers {
        let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    }
    ExitCode::SUCCESS
}

/// One accept loop on its own thread and runtime.
struct Worker {
    index: usize,
    addr: SocketAddr,
    reuse_port: bool,
    server: Arc<ServerBuilder>,
    stop: watch::Receiver<bool>,
    hub: Option<Hub>,
}

impl Worker {
    fn run(self, bound: tokio::sync::oneshot::Sender<std::io::Result<SocketAddr>>) {
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
        socket.listen(BACKLOG)
    }

    async fn accept_loop(mut self, listener: TcpListener) {
        let mut connections = JoinSet::new();
        // Connections hear of the shutdown only once the listener is
        // closed, so nobody is accepted after the first Close 1001 left.
        let (close_tx, close_rx) = watch::channel(false);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let server = Arc::clone(&self.server);
                        let stop = close_rx.clone();
                        let hub = self.hub.clone();
                        connections.spawn(serve_connection(server, tcp, peer, stop, hub));
                    }
                    // Out of file descriptors and the like: keep serving the rest.
                    Err(e) => {
                        tracing::warn!(error = %describe(&e), "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = self.stop.changed() => break,
            }
        }
        drop(listener);
        let _ = close_tx.send(true);
        tracing::debug!(
            thread = self.index,
            open = connections.len(),
            "closing connections"
        );
        let drained = tokio::time::timeout(SHUTDOWN_GRACE * 2, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                open = connections.len(),
                "closing connections that did not finish"
            );
            connections.shutdown().await;
        }
    }
}

/// The fan-out of `--broadcast`: every message, encoded once, with the id
/// of the connection it came from.
#[derive(Clone, Debug)]
struct Hub {
    sender: broadcast::Sender<(u64, PreparedMessage)>,
}

/// How many broadcast messages a connection may fall behind before it
/// skips the oldest (and is told so in the log).
const HUB_BACKLOG: usize = 1024;

async fn serve_connection(
    server: Arc<ServerBuilder>,
    tcp: TcpStream,
    peer: SocketAddr,
    mut stop: watch::Receiver<bool>,
    hub: Option<Hub>,
) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let _ = tcp.set_nodelay(true);
    // Subscribed before the 101 leaves, so the client hears everything
    // said once it is open.
    let mut inbox = hub.as_ref().map(|hub| hub.sender.subscribe());
    // (`accept` keeps the handshake's state on the heap, so this task stays
    // small while the connection idles.)
    let mut ws = match server.accept(tcp).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, error = %describe(&e), "handshake failed");
            return;
        }
    };
    tracing::debug!(%peer, "connection open");
    // Made once: a new `changed()` per message would register and drop a
    // waiter each time.
    let stopped = stop.changed();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(message)) => {
                    let sent = match &hub {
                        // Encoded once here, queued by reference everywhere.
                        Some(hub) => {
                            let _ = hub.sender.send((id, PreparedMessage::new(&message)));
                            Ok(())
                        }
                        // Queued now, written with the replies to the same read.
                        None => ws.feed(message).await,
                    };
                    if let Err(e) = sent {
                        tracing::debug!(%peer, error = %describe(&e), "echo failed");
                        break;
                    }
                }
                Some(Err(e)) => {
                    tracing::debug!(%peer, error = %describe(&e), "connection failed");
                    break;
                }
                None => {
                    let frame = ws.close_frame();
                    tracing::debug!(%peer, code = ?frame.map(|f| f.code), "connection closed");
                    break;
                }
            },
            received = next_broadcast(&mut inbox) => match received {
                Ok((from, message)) => {
                    if from != id && ws.feed_prepared(&message).is_err() {
                        break;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(skipped)) => {
                    tracing::debug!(%peer, skipped, "slow reader skipped broadcast messages");
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            _ = &mut stopped => {
                let closing = Box::pin(ws.close(CloseCode::GOING_AWAY, "server shutting down"));
                if let Err(e) = closing.await {
                    tracing::debug!(%peer, error = %describe(&e), "close on shutdown failed");
                }
                break;
            }
        }
    }
}

/// The next broadcast message, or never without `--broadcast`.
async fn next_broadcast(
    inbox: &mut Option<broadcast::Receiver<(u64, PreparedMessage)>>,
) -> Result<(u64, PreparedMessage), broadcast::error::RecvError> {
    match inbox {
        Some(inbox) => inbox.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so no signal is missed.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let streams = signal(SignalKind::terminate())
            .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)));
        async move {
            match streams {
                Ok((mut term, mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
