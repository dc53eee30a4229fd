//! `sockeye serve`: the echo server.

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::DeflateConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::{CloseCode, PreparedMessage, ServerBuilder, WebSocket, WebSocketConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use crate::describe;

/// Options of `sockeye serve`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools, reason = "each is a command-line flag")]
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
    /// The most frames one message may come in; 0: no limit (fragments
    /// cost no memory beyond the message, which --max-message-size caps).
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_fragments: usize,
    /// The largest opening-handshake head (request line and headers), in
    /// bytes; larger ones are answered 431.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 10)]
    max_handshake_size: usize,
    /// The most header fields in an opening handshake; more are answered
    /// 431.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_headers: usize,
    /// Seconds a client has to answer our Close (on shutdown, for one),
    /// after which its TCP connection is closed.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    close_timeout: Duration,
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
    /// Seconds a client has to send its opening handshake and read the
    /// answer: slow or silent clients (slowloris) are dropped after it.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    handshake_timeout: Duration,
    /// Seconds of silence from a client after which it is sent a Ping;
    /// 0 turns keepalive off.
    #[arg(long, value_name = "SECS", default_value = "20", value_parser = parse_seconds)]
    keepalive: Duration,
    /// Seconds a client has to show a sign of life after a keepalive Ping
    /// before it is closed with 1011.
    #[arg(long, value_name = "SECS", default_value = "20", value_parser = parse_seconds)]
    keepalive_timeout: Duration,
    /// Seconds without a message either way after which a client is closed
    /// with 1001; 0: never.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_seconds)]
    idle_timeout: Duration,
    /// Bytes queued for one client above which the server stops reading
    /// from it until it reads (echo), or skips its oldest messages
    /// (--broadcast): a client that does not read cannot grow the server.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 10)]
    write_buffer_size: usize,
    /// Connections open at once, handshakes included; more are answered
    /// 503 Service Unavailable.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Opening handshakes in progress at once; connections beyond it are
    /// closed at once, unanswered.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_HANDSHAKES)]
    max_handshakes: usize,
    /// Connections from one IP address at once; more are answered 429 Too
    /// Many Requests. 0: no limit (clients behind one proxy or NAT share
    /// an address).
    #[arg(long, value_name = "N", default_value_t = 0)]
    max_per_ip: usize,
    /// Accept browsers' requests only from this origin (repeatable), such
    /// as `https://example.com`; others get 403. Default: any origin.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Subprotocol to agree to when a client offers it (repeatable); of
    /// those offered, the client's first choice among these is picked.
    #[arg(long = "protocol", value_name = "NAME")]
    protocols: Vec<String>,
    /// Do not serve the dev console page at `/` (plain HTTP requests are
    /// then answered 426 Upgrade Required).
    #[arg(long)]
    no_console: bool,
    /// Serve `wss://` (and the console over https): the certificate chain,
    /// leaf first, as PEM. Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, as PEM (PKCS #8, PKCS #1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// With TLS, offer HTTP/1.1 only: no WebSocket connections over HTTP/2
    /// (RFC 8441), which are otherwise offered by ALPN.
    #[arg(long)]
    no_http2: bool,
    /// Serve `wss://` with a throwaway self-signed certificate for
    /// `localhost` and 127.0.0.1, made at start (for tests and local
    /// development; clients must be told to trust it or to skip the check).
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    tls_self_signed: bool,
}

/// The default of `--max-connections`: about 100 MB of the server's memory
/// at 1 KB each, plus the kernel's socket buffers.
const DEFAULT_MAX_CONNECTIONS: usize = 100_000;

/// The default of `--max-handshakes`: each may buffer a request head of up
/// to 16 KiB, so at most 16 MiB for handshakes.
const DEFAULT_MAX_HANDSHAKES: usize = 1024;

/// Parses a number of seconds, fractions allowed.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("not a number of seconds: {text:?}"))?;
    Duration::try_from_secs_f64(secs).map_err(|_| format!("not a duration: {text:?}"))
}

/// The shortest and longest pause after a failed accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// The settings of each connection, from the flags.
fn connection_config(args: &Args) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.proto.max_message_size = args.max_message_size;
    config.proto.max_frame_size = args.max_frame_size;
    config.proto.max_fragments = (args.max_fragments > 0).then_some(args.max_fragments);
    config.proto.max_handshake_size = args.max_handshake_size;
    config.proto.max_headers = args.max_headers;
    config.close_timeout = args.close_timeout;
    config
}

/// The TLS settings of `--tls-cert` and `--tls-key`, if given.
fn tls_acceptors(args: &Args) -> sockeye::Result<Option<TlsAcceptors>> {
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
struct TlsAcceptors {
    /// For connections served: HTTP/2 offered by ALPN unless `--no-http2`.
    serve: TlsAcceptor,
    /// For connections turned away by a limit: HTTP/1.1 only, the protocol
    /// the refusal (503, 429) is written in.
    refuse: TlsAcceptor,
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

/// The listen backlog of each listener.
const LISTEN_BACKLOG: u32 = 1024;

pub(crate) async fn run(args: Args) -> ExitCode {
    let threads = match args.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    };
    let mut builder = ServerBuilder::new().protocols(args.protocols.iter().cloned());
    if !args.allowed_origins.is_empty() {
        builder = builder.allowed_origins(&args.allowed_origins);
    }
    if !args.no_console {
        builder = builder.http_fallback(answer_plain_http);
    }
    // Shared: each connection's task holds a pointer, not a copy.
    let server = Arc::new(
        builder
            .config(connection_config(&args))
            .deflate((!args.no_deflate).then(|| DeflateConfig {
                // One compressor per thread instead of ~300 KiB of zlib state
                // per connection (BENCHMARKS.md).
                server_no_context_takeover: true,
                ..DeflateConfig::default()
            }))
            .handshake_timeout(args.handshake_timeout)
            .keepalive(
                (!args.keepalive.is_zero()).then_some(args.keepalive),
                args.keepalive_timeout,
            )
            .idle_timeout((!args.idle_timeout.is_zero()).then_some(args.idle_timeout))
            .write_buffer_size(args.write_buffer_size),
    );
    let tls = match tls_acceptors(&args) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("sockeye: cannot use the tls certificate: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let _ = LIMITS.set(Limits {
        max_connections: args.max_connections,
        max_handshakes: args.max_handshakes,
        max_per_ip: args.max_per_ip,
        ..Limits::default()
    });
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
            close_timeout: args.close_timeout,
            handshake_timeout: args.handshake_timeout,
            tls: tls.clone(),
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
    tracing::info!(threads, "echo server listening on {scheme}://{addr}");
    if !args.no_console {
        let web = if tls.is_some() { "https" } else { "http" };
        tracing::info!("dev console at {web}://{addr}/");
    }
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
    /// Each connection's closing-handshake limit.
    close_timeout: Duration,
    /// The TLS handshake's limit, as the WebSocket one's.
    handshake_timeout: Duration,
    /// `wss://`: TLS first.
    tls: Option<TlsAcceptors>,
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

/// The byte stream a served WebSocket runs on: plain TCP, TLS over TCP,
/// or one stream of an HTTP/2 connection (RFC 8441). Not to be confused
/// with `sockeye_proto::Connection`, the protocol engine above it.
trait Transport: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Turns Nagle's algorithm off: writes are batched already.
    fn no_delay(&self);
}

impl Transport for TcpStream {
    fn no_delay(&self) {
        let _ = self.set_nodelay(true);
    }
}

impl Transport for sockeye::http2::Http2Stream {
    fn no_delay(&self) {
        // Set on the TCP stream before the TLS handshake.
    }
}

impl Transport for sockeye::tokio_rustls::server::TlsStream<TcpStream> {
    fn no_delay(&self) {
        // Set on the TCP stream before the TLS handshake.
    }
}

/// A connection's id in the log.
fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A connection let in under the limits: what the task of its opening
/// handshake hands on to the connection's.
struct Admitted {
    /// The connection's place under the limits, kept until it ends.
    slot: ConnectionSlot,
    /// Its place among the handshakes in progress, released once open.
    handshake: HandshakeSlot,
    closing: CancellationToken,
    hub: Option<Hub>,
    connections: TaskTracker,
}

/// The TLS handshake of a `wss://` connection, within `limit`; `None` if it
/// failed or the server is shutting down.
async fn tls_handshake(
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

/// The opening handshake, in a task of its own: its state is large and
/// short-lived, and the task it hands the open connection to keeps nothing
/// else.
async fn accept_http1<S: Transport>(
    server: Arc<ServerBuilder>,
    stream: S,
    id: u64,
    admitted: Admitted,
) {
    stream.no_delay();
    // Subscribed before the 101 leaves, so the client hears everything
    // said once it is open.
    let inbox = admitted.hub.as_ref().map(|hub| hub.sender.subscribe());
    // A shutdown does not wait for handshakes: a client stuck in one would
    // hold it up until the handshake timeout.
    let accepted = tokio::select! {
        accepted = server.accept(stream) => accepted,
        () = admitted.closing.cancelled() => {
            tracing::debug!(id, "handshake cut short by the shutdown");
            return;
        }
    };
    let ws = match accepted {
        Ok(ws) => ws,
        Err(sockeye::Error::Handshake(failure))
            if matches!(*failure, sockeye::HandshakeFailure::PlainHttp(_)) =>
        {
            tracing::debug!(id, answer = %failure, "plain http request");
            return;
        }
        Err(e) => {
            tracing::debug!(id, error = %describe(&e), "handshake failed");
            return;
        }
    };
    drop(admitted.handshake);
    tracing::debug!(id, "connection open");
    let Admitted {
        slot,
        closing,
        hub,
        connections,
        ..
    } = admitted;
    match (hub, inbox) {
        (Some(hub), Some(inbox)) => {
            connections.spawn(fan_out(ws, id, Some(slot), closing, hub, inbox))
        }
        _ => connections.spawn(echo(ws, id, Some(slot), closing)),
    };
}

/// The dev console: a page to open sockets, send and watch events from a
/// browser, embedded in the binary.
const CONSOLE_PAGE: &str = include_str!("console/index.html");

/// Answers plain HTTP requests: the dev console at `/`, 404 elsewhere.
fn answer_plain_http(request: &http::Request<()>) -> http::Response<bytes::Bytes> {
    use http::{Method, StatusCode, header};
    let response = http::Response::builder()
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let response = if request.method() != Method::GET && request.method() != Method::HEAD {
        response
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(bytes::Bytes::from_static(b"method not allowed\n"))
    } else if request.uri().path() == "/" {
        response
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::X_FRAME_OPTIONS, "DENY")
            .body(bytes::Bytes::from_static(CONSOLE_PAGE.as_bytes()))
    } else {
        response
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(bytes::Bytes::from_static(
                b"not found: the dev console is at /, WebSocket clients may use any path\n",
            ))
    };
    response.unwrap_or_default()
}

/// An HTTP/2 connection (ALPN `h2`): its WebSocket streams (RFC 8441) each
/// get an echo (or fan-out) task; plain requests, the dev console.
async fn serve_http2(
    server: &ServerBuilder,
    tls: sockeye::tokio_rustls::server::TlsStream<TcpStream>,
    id: u64,
    admitted: Admitted,
) {
    let Admitted {
        slot,
        handshake,
        closing,
        hub,
        connections,
    } = admitted;
    drop(handshake);
    tracing::debug!(id, "http/2 connection open");
    // On shutdown: no new streams (GOAWAY); those open close with 1001.
    let stop = closing.clone().cancelled_owned();
    let outcome = sockeye::http2::serve_connection_until(server, tls, stop, |ws| {
        let stream = next_id();
        tracing::debug!(
            id = stream,
            http2_connection = id,
            "connection open over http/2"
        );
        let task: Pin<Box<dyn Future<Output = ()> + Send>> = match &hub {
            Some(hub) => Box::pin(fan_out(
                ws,
                stream,
                None,
                closing.clone(),
                hub.clone(),
                hub.sender.subscribe(),
            )),
            None => Box::pin(echo(ws, stream, None, closing.clone())),
        };
        connections.track_future(task)
    })
    .await;
    match outcome {
        Ok(()) => tracing::debug!(id, "http/2 connection closed"),
        Err(e) => tracing::debug!(id, error = %describe(&e), "http/2 connection failed"),
    }
    drop(slot);
}

/// Answers a connection turned away by a limit, with `status` and a hint
/// to retry later, once its request is read.
async fn answer_refusal<S: Transport>(
    server: Arc<ServerBuilder>,
    tcp: S,
    id: u64,
    handshake: HandshakeSlot,
    closing: CancellationToken,
    status: http::StatusCode,
) {
    let refusal = http::Response::builder()
        .status(status)
        .header(http::header::RETRY_AFTER, "5")
        .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(bytes::Bytes::from(format!(
            "{}: try again later\n",
            status.canonical_reason().unwrap_or("refused")
        )));
    let Ok(refusal) = refusal else { return };
    tokio::select! {
        refused = server.accept_with(tcp, |_| async { Err(refusal) }) => {
            if let Err(e) = refused {
                tracing::trace!(id, error = %describe(&e), "refused");
            }
        }
        () = closing.cancelled() => {}
    }
    drop(handshake);
}

/// The server's limits on connections, shared by its threads.
#[derive(Debug, Default)]
struct Limits {
    max_connections: usize,
    max_handshakes: usize,
    /// 0: none.
    max_per_ip: usize,
    /// Connections from accept to end, refused ones included while they
    /// are answered.
    open: AtomicUsize,
    handshakes: AtomicUsize,
    /// Connections per address, kept only with a per-address limit.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// The limits of this process's server (one per process: `sockeye serve`).
static LIMITS: OnceLock<Limits> = OnceLock::new();

fn limits() -> &'static Limits {
    LIMITS.get_or_init(|| Limits {
        max_connections: DEFAULT_MAX_CONNECTIONS,
        max_handshakes: DEFAULT_MAX_HANDSHAKES,
        ..Limits::default()
    })
}

/// Why a connection is turned away.
#[derive(Debug)]
enum Refusal {
    /// Answered with this status (503 or 429), counted as a handshake
    /// while it is.
    Answer(HandshakeSlot, http::StatusCode),
    /// Closed at once: too many handshakes already.
    Drop,
}

impl Limits {
    fn admit(&'static self, ip: IpAddr) -> Result<(ConnectionSlot, HandshakeSlot), Refusal> {
        let handshake = HandshakeSlot::take(self).ok_or(Refusal::Drop)?;
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Answer(
                handshake,
                http::StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
        let mut slot = ConnectionSlot { ip: None };
        if self.max_per_ip > 0 {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= self.max_per_ip {
                drop(per_ip);
                // Not counted by address: dropping it releases the rest.
                drop(slot);
                return Err(Refusal::Answer(
                    handshake,
                    http::StatusCode::TOO_MANY_REQUESTS,
                ));
            }
            *count += 1;
            slot.ip = Some(ip);
        }
        Ok((slot, handshake))
    }
}

/// A connection's place under the limits, given back when dropped.
#[derive(Debug)]
struct ConnectionSlot {
    /// Set when counted by address.
    ip: Option<IpAddr>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let limits = limits();
        limits.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
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

/// A place among the handshakes in progress, given back when dropped.
#[derive(Debug)]
struct HandshakeSlot(());

impl HandshakeSlot {
    fn take(limits: &Limits) -> Option<Self> {
        if limits.handshakes.fetch_add(1, Ordering::AcqRel) >= limits.max_handshakes {
            limits.handshakes.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(HandshakeSlot(()))
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        limits().handshakes.fetch_sub(1, Ordering::AcqRel);
    }
}

pin_project_lite::pin_project! {
    /// Echoes until the peer closes or the server shuts down.
    ///
    /// Written out by hand rather than as an `async` block, which would
    /// keep extra copies of its captures and results in the task: this
    /// holds the connection, the shutdown signal and two flags, so that an
    /// idle connection's task fits in 512 bytes (see the test below).
    struct Echo<S> {
        ws: WebSocket<S>,
        // None for a stream of an HTTP/2 connection, which holds the slot.
        slot: Option<ConnectionSlot>,
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

fn echo<S>(
    ws: WebSocket<S>,
    id: u64,
    slot: Option<ConnectionSlot>,
    closing: CancellationToken,
) -> Echo<S> {
    Echo {
        ws,
        slot,
        stopped: closing.cancelled_owned(),
        id,
        queued: false,
        closing: false,
        listening: false,
    }
}

impl<S: Transport> Future for Echo<S> {
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
                other => return log_end(id, how_it_ended(this.ws, other).as_ref()),
            }
        }
    }
}

/// Sends every message to every other connection until the peer closes
/// or the server shuts down.
async fn fan_out<S: Transport>(
    mut ws: WebSocket<S>,
    id: u64,
    slot: Option<ConnectionSlot>,
    closing: CancellationToken,
    hub: Hub,
    mut inbox: broadcast::Receiver<(u64, PreparedMessage)>,
) {
    let _slot = slot;
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
                    let _ = log_end(id, how_it_ended(&ws, other).as_ref());
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
            () = &mut stopped => return Box::pin(close_going_away(&mut ws, id)).await,
        }
    }
}

/// How the stream ended: `Err` if it failed, `Ok` with the close frame's
/// code after a clean close.
fn how_it_ended<S: Transport>(
    ws: &WebSocket<S>,
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
async fn close_going_away<S: Transport>(ws: &mut WebSocket<S>, id: u64) {
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
        let slot = limits()
            .admit(std::net::Ipv4Addr::LOCALHOST.into())
            .unwrap()
            .0;
        let task =
            TaskTracker::new().track_future(echo(ws, 0, Some(slot), CancellationToken::new()));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 400, "the echo task's future is {size} bytes");
    }
}
