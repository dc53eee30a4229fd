//! `sockeye serve`: the echo server.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::DeflateConfig;
use sockeye::{CloseCode, PreparedMessage, ServerBuilder, WebSocket};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

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
        // Counts the connections without a handle or an allocation each,
        // unlike a `JoinSet`: an idle connection costs its task alone.
        let connections = TaskTracker::new();
        // Connections hear of the shutdown only once the listener is
        // closed, so nobody is accepted after the first Close 1001 left.
        let closing = CancellationToken::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let id = next_id();
                        tracing::debug!(%peer, id, "connection accepted");
                        connections.spawn(open(
                            Arc::clone(&self.server),
                            tcp,
                            id,
                            closing.clone(),
                            self.hub.clone(),
                            connections.clone(),
                        ));
                    }
                    // Out of file descriptors and the like: keep serving the rest.
                    Err(e) => {
                        tracing::warn!(error = %describe(&e), "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
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
        if tokio::time::timeout(SHUTDOWN_GRACE * 2, connections.wait())
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

/// The fan-out of `--broadcast`: every message, encoded once, with the id
/// of the connection it came from.
#[derive(Clone, Debug)]
struct Hub {
    sender: broadcast::Sender<(u64, PreparedMessage)>,
}

/// Queued bytes above which a connection stops taking broadcast messages
/// for one write.
const FAN_OUT_BATCH: usize = 64 << 10;

/// How many broadcast messages a connection may fall behind before it
/// skips the oldest (and is told so in the log).
const HUB_BACKLOG: usize = 1024;

/// A connection's id in the log.
fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The opening handshake, in a task of its own: its state is large and
/// short-lived, and the task it hands the open connection to keeps nothing
/// else.
async fn open(
    server: Arc<ServerBuilder>,
    tcp: TcpStream,
    id: u64,
    closing: CancellationToken,
    hub: Option<Hub>,
    connections: TaskTracker,
) {
    let _ = tcp.set_nodelay(true);
    // Subscribed before the 101 leaves, so the client hears everything
    // said once it is open.
    let inbox = hub.as_ref().map(|hub| hub.sender.subscribe());
    let ws = match server.accept(tcp).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(id, error = %describe(&e), "handshake failed");
            return;
        }
    };
    tracing::debug!(id, "connection open");
    match (hub, inbox) {
        (Some(hub), Some(inbox)) => connections.spawn(fan_out(ws, id, closing, hub, inbox)),
        _ => connections.spawn(echo(ws, id, closing)),
    };
}

pin_project_lite::pin_project! {
    /// Echoes until the peer closes or the server shuts down.
    ///
    /// Written out by hand rather than as an `async` block, which would
    /// keep extra copies of its captures and results in the task: this
    /// holds the connection, the shutdown signal and two flags, so that an
    /// idle connection's task fits in 512 bytes (see the test below).
    struct Echo {
        ws: WebSocket<TcpStream>,
        #[pin]
        stopped: WaitForCancellationFutureOwned,
        id: u64,
        // A message was queued: wait for room before reading more
        // (backpressure from a peer that does not read).
        queued: bool,
        // The server is shutting down: our Close went out, the stream
        // runs the closing handshake to its end.
        closing: bool,
        // `stopped` was polled once, so it will wake the task.
        listening: bool,
    }
}

/// Set when the server starts shutting down, before the connections are
/// told: checking it costs a load, where polling a cancellation future for
/// each message takes a lock (a tenth of the echo server's time).
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

fn echo(ws: WebSocket<TcpStream>, id: u64, closing: CancellationToken) -> Echo {
    Echo {
        ws,
        stopped: closing.cancelled_owned(),
        id,
        queued: false,
        closing: false,
        listening: false,
    }
}

impl Future for Echo {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let id = *this.id;
        loop {
            if *this.closing {
                match ready!(this.ws.poll_next_unpin(cx)) {
                    // Messages that crossed our Close are dropped.
                    Some(Ok(_)) => continue,
                    None => {}
                    Some(Err(e)) => {
                        tracing::debug!(id, error = %describe(&e), "close on shutdown failed");
                    }
                }
                return Poll::Ready(());
            }
            let check = !*this.listening || SHUTTING_DOWN.load(Ordering::Acquire);
            *this.listening = true;
            if check && this.stopped.as_mut().poll(cx).is_ready() {
                if let Err(e) = this
                    .ws
                    .start_close(CloseCode::GOING_AWAY, "server shutting down")
                {
                    tracing::debug!(id, error = %describe(&e), "close on shutdown failed");
                    return Poll::Ready(());
                }
                *this.closing = true;
                continue;
            }
            if *this.queued {
                if let Err(e) = ready!(this.ws.poll_ready_unpin(cx)) {
                    return log_end(id, Err(&e));
                }
                *this.queued = false;
            }
            match ready!(this.ws.poll_next_unpin(cx)) {
                // Queued now, written with the replies to the same read.
                Some(Ok(message)) => {
                    if let Err(e) = this.ws.start_send_unpin(message) {
                        return log_end(id, Err(&e));
                    }
                    *this.queued = true;
                }
                other => return log_end(id, ended(this.ws, other).as_ref()),
            }
        }
    }
}

/// Sends every message to every other connection until the peer closes
/// or the server shuts down.
async fn fan_out(
    mut ws: WebSocket<TcpStream>,
    id: u64,
    closing: CancellationToken,
    hub: Hub,
    mut inbox: broadcast::Receiver<(u64, PreparedMessage)>,
) {
    let stopped = closing.cancelled_owned();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            message = ws.next() => match message {
                // Encoded once here, queued by reference everywhere.
                Some(Ok(message)) => {
                    let _ = hub.sender.send((id, PreparedMessage::new(&message)));
                }
                other => {
                    let _ = log_end(id, ended(&ws, other).as_ref());
                    return;
                }
            },
            received = inbox.recv() => {
                // Everything already waiting goes into one write.
                let mut received = received;
                loop {
                    match received {
                        Ok((from, message)) => {
                            if from != id && ws.feed_prepared(&message).is_err() {
                                return;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(skipped)) => {
                            tracing::info!(id, skipped, "slow reader skipped broadcast messages");
                        }
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                    if ws.buffered_amount() >= FAN_OUT_BATCH {
                        break;
                    }
                    received = match inbox.try_recv() {
                        Ok(next) => Ok(next),
                        Err(broadcast::error::TryRecvError::Empty) => break,
                        Err(broadcast::error::TryRecvError::Lagged(n)) => {
                            Err(broadcast::error::RecvError::Lagged(n))
                        }
                        Err(broadcast::error::TryRecvError::Closed) => {
                            Err(broadcast::error::RecvError::Closed)
                        }
                    };
                }
                // A peer that does not read stops us taking more: it falls
                // behind in the channel, which drops its oldest messages,
                // instead of growing its queue here.
                if let Err(e) = poll_fn(|cx| ws.poll_ready_unpin(cx)).await {
                    let _ = log_end(id, Err(&e));
                    return;
                }
            }
            () = &mut stopped => return Box::pin(shut_down(&mut ws, id)).await,
        }
    }
}

/// How the stream ended: `Err` if it failed, `Ok` with the close frame's
/// code after a clean close.
fn ended(
    ws: &WebSocket<TcpStream>,
    last: Option<sockeye::Result<sockeye::Message>>,
) -> Result<Option<CloseCode>, sockeye::Error> {
    match last {
        Some(Err(e)) => Err(e),
        _ => Ok(ws.close_frame().map(|frame| frame.code)),
    }
}

fn log_end(id: u64, end: Result<&Option<CloseCode>, &sockeye::Error>) -> Poll<()> {
    match end {
        Ok(code) => tracing::debug!(id, ?code, "connection closed"),
        Err(e) => tracing::debug!(id, error = %describe(e), "connection failed"),
    }
    Poll::Ready(())
}

/// Closes with 1001 Going Away, waiting for the peer's answer as long as
/// the close timeout allows.
async fn shut_down(ws: &mut WebSocket<TcpStream>, id: u64) {
    if let Err(e) = ws
        .close(CloseCode::GOING_AWAY, "server shutting down")
        .await
    {
        tracing::debug!(id, error = %describe(&e), "close on shutdown failed");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An idle connection costs its task (its future plus about 120 bytes
    /// of the runtime's, rounded up to 128-byte steps) and its socket's
    /// registration. At 400 bytes or less the task takes 512 bytes: the
    /// difference between about 850 and 980 bytes per idle connection
    /// (BENCHMARKS.md).
    #[tokio::test]
    async fn an_idle_echo_task_fits_in_512_bytes() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let ws = WebSocket::from_raw(
            tcp,
            sockeye::proto::Role::Server,
            sockeye::WebSocketConfig::default(),
            bytes::BytesMut::new(),
        );
        let task = TaskTracker::new().track_future(echo(ws, 0, CancellationToken::new()));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 400, "the echo task's future is {size} bytes");
    }
}
