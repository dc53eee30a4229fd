//! `sockeye proxy LISTEN --to URL`: a WebSocket reverse proxy.
//!
//! `run` checks the backend's URL (`backend.rs`) and the front's TLS and
//! limits (`front.rs`), then accepts connections. Each is let in under the
//! limits, goes through TLS if asked, and has its opening handshake
//! answered only once the backend answered its own (`backend.rs`): the
//! subprotocol the backend chose, or the backend's refusal, goes back to
//! the client. The two open connections are then relayed message by
//! message (`relay.rs`).
//!
//! Each pair, once over, is logged at info level in one line: the client's
//! address, the path (without the query, which may carry a token), the
//! subprotocol, how long it lasted, messages and payload bytes each way
//! (`up`: client to backend), the side that ended it and the close code
//! the other side was given.

mod backend;
mod front;
mod relay;

use crate::args::{parse_seconds, shutdown_signal};
use crate::connection_args::{PeerLimits, Timeouts};
use crate::limits::{ConnectionLimits, DEFAULT_MAX_HANDSHAKES, Refusal, limits, set_limits};
use crate::listen::{AcceptBackoff, TlsArgs};
use crate::origin::{OriginArgs, origin_refused, same_origin};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sockeye::{CloseCode, ServerBuilder};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::backend::Backend;
use self::front::Front;
use crate::{EXIT_USAGE, describe};

/// The default of `proxy --max-connections`, as clap reads it. Each
/// proxied connection holds two sockets (two file descriptors) and, while
/// a peer reads slowly, up to two write buffers and one message in flight
/// each way: 10,000 of them stay within the usual descriptor limits once
/// raised, and within a few GiB at the default buffer sizes in the worst
/// case.
const DEFAULT_MAX_CONNECTIONS: &str = "10000";

/// Examples, shown after the options.
const EXAMPLES: &str = "\
Examples:
  sockeye proxy 127.0.0.1:8080 --to ws://127.0.0.1:9001/
  sockeye proxy 127.0.0.1:8443 --tls-cert cert.pem --tls-key key.pem --to ws://127.0.0.1:9001/app
  sockeye proxy 127.0.0.1:8080 --to wss://localhost:9443/ --ca cert.pem
                                  a wss:// backend whose certificate is cert.pem's
  sockeye proxy 127.0.0.1:8080 --to ws://127.0.0.1:9001/ --allow-origin https://example.com --max-per-ip 10
                                  browsers of other sites get 403, an address 10 connections at most

The client's path and query are appended to the path of --to: with
--to ws://b:9001/app, a client asking for /chat?room=1 reaches
ws://b:9001/app/chat?room=1.

The message limits, the keepalive and the write buffer apply to each
side, the client's and the backend's: a side that sends too big a
message or stops answering keepalive Pings is closed, and the other side
with it (1011); --idle-timeout closes both with 1001. Pings are answered
on each side by the proxy, not relayed. Over TLS the proxy speaks
HTTP/1.1 only.";

/// Options of `sockeye proxy`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = EXAMPLES,
    mut_arg("handshake_timeout", |arg| arg.help(
        "Seconds a client has to send its opening handshake and read the answer, \
         and the backend to answer ours: slow or silent clients (slowloris) are \
         dropped after it"
    )),
    mut_arg("max_connections", |arg| arg
        .help("Connections proxied at once, handshakes included; more are answered \
               503 Service Unavailable")
        .default_value(DEFAULT_MAX_CONNECTIONS)),
)]
pub(crate) struct Args {
    /// Address to listen on, such as `127.0.0.1:8080` (port 0: any free
    /// port, logged at start).
    listen: SocketAddr,
    /// The backend's URL, `ws://` or `wss://`; the client's path and query
    /// are appended to its path.
    #[arg(long, value_name = "URL")]
    to: String,
    /// For a `wss://` backend: also trust the certificates in this PEM
    /// file (repeatable), such as a private authority's or a self-signed
    /// one.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Vec<PathBuf>,
    /// For a `wss://` backend: do not check its certificate at all (a
    /// warning is logged). Anyone on the path to the backend can then read
    /// and change the traffic.
    #[arg(short = 'k', long, conflicts_with = "ca")]
    insecure: bool,
    /// Seconds the backend has to accept the TCP connection (and TLS for
    /// `wss://`); the client is answered 504 Gateway Timeout past it.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    connect_timeout: Duration,
    /// Limits on what either side may send.
    #[command(flatten)]
    limits: PeerLimits,
    /// Do not accept permessage-deflate compression from clients. (The
    /// backend is never offered it: it is usually near, and compression on
    /// that side would cost zlib state per connection.)
    #[arg(long)]
    no_deflate: bool,
    /// Handshake, keepalive, idle and close timers.
    #[command(flatten)]
    timeouts: Timeouts,
    /// `--max-connections`, `--max-per-ip`.
    #[command(flatten)]
    connections: ConnectionLimits,
    /// `--allow-origin`, `--same-origin`.
    #[command(flatten)]
    origins: OriginArgs,
    /// `--tls-cert`, `--tls-key`, `--tls-self-signed`.
    #[command(flatten)]
    tls: TlsArgs,
}

/// What every connection's task shares.
struct Proxy {
    front: Front,
    backend: Backend,
    /// Each side's closing-handshake limit.
    close_timeout: Duration,
}

/// Runs the proxy until Ctrl-C or SIGTERM, then closes every connection
/// (both sides, with 1001 Going Away) and returns.
pub(crate) async fn run(args: Args) -> ExitCode {
    let backend = match Backend::new(&args) {
        Ok(backend) => backend,
        Err(why) => {
            eprintln!("sockeye: {why}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let front = match Front::new(&args) {
        Ok(front) => front,
        Err(e) => {
            eprintln!("sockeye: cannot use the tls certificate: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!(
                "sockeye: cannot listen on {}: {}",
                args.listen,
                describe(&e)
            );
            return ExitCode::FAILURE;
        }
    };
    raise_open_files_limit(args.connections.max_connections);
    // Only the refusals being answered take a place among the handshakes:
    // a client's handshake waits for the backend's, under
    // --max-connections.
    set_limits(&args.connections, DEFAULT_MAX_HANDSHAKES);
    let signal = shutdown_signal();
    let scheme = if front.is_tls() { "wss" } else { "ws" };
    match listener.local_addr() {
        Ok(addr) => tracing::info!("proxy listening on {scheme}://{addr} for {}", args.to),
        Err(e) => tracing::warn!(error = %describe(&e), "cannot read the address listened on"),
    }
    let proxy = Arc::new(Proxy {
        front,
        backend,
        close_timeout: args.timeouts.close_timeout,
    });
    let connections = TaskTracker::new();
    let closing = CancellationToken::new();
    tokio::select! {
        () = accept_loop(&listener, &proxy, &connections, &closing) => {}
        () = signal => {}
    }
    tracing::info!("shutting down");
    drop(listener);
    closing.cancel();
    connections.close();
    // The closing handshakes of both sides, with time to spare.
    if tokio::time::timeout(args.timeouts.close_timeout * 2, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = connections.len(),
            "closing connections that did not finish"
        );
    }
    ExitCode::SUCCESS
}

/// Raises the soft limit on open files to the hard limit: each proxied
/// connection takes two descriptors, and the usual soft limit of 1024
/// would stop the proxy near 500 connections. Says so when fewer than
/// `max_connections` still fit (accepting then pauses while descriptors
/// run out, and the accept loop warns).
fn raise_open_files_limit(max_connections: usize) {
    // The listener, standard streams and the runtime's own descriptors.
    const SPARE: u64 = 64;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            let fit = usize::try_from(limit.saturating_sub(SPARE) / 2).unwrap_or(usize::MAX);
            if fit < max_connections {
                tracing::info!(
                    "the open files limit ({limit}) fits about {fit} connections, \
                     fewer than --max-connections"
                );
            }
        }
        Err(e) => tracing::warn!(error = %describe(&e), "cannot raise the open files limit"),
    }
}

/// Accepts connections and starts a task for each, for ever.
async fn accept_loop(
    listener: &TcpListener,
    proxy: &Arc<Proxy>,
    connections: &TaskTracker,
    closing: &CancellationToken,
) {
    let mut backoff = AcceptBackoff::default();
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                backoff.accepted();
                admit(tcp, peer, proxy, connections, closing);
            }
            Err(e) => backoff.failed(&e).await,
        }
    }
}

/// Starts the task of a connection let in under the limits, or of the
/// answer to one turned away.
fn admit(
    tcp: TcpStream,
    peer: SocketAddr,
    proxy: &Arc<Proxy>,
    connections: &TaskTracker,
    closing: &CancellationToken,
) {
    let _ = tcp.set_nodelay(true);
    let id = next_id();
    let (proxy, closing) = (Arc::clone(proxy), closing.clone());
    // Only the refusals take a place among the handshakes in progress.
    match limits().admit_or_refuse(peer.ip()) {
        Ok(slot) => {
            tracing::debug!(%peer, id, "connection accepted");
            connections.spawn(async move {
                serve(&proxy, tcp, peer, id, &closing).await;
                drop(slot);
            });
        }
        Err(Refusal::Answer(slot, status)) => {
            tracing::debug!(%peer, id, %status, "connection refused: limit reached");
            connections.spawn(async move {
                refuse(&proxy, tcp, id, status, &closing).await;
                drop(slot);
            });
        }
        Err(Refusal::Drop) => {
            tracing::debug!(%peer, id, "connection dropped: too many refusals at once");
        }
    }
}

/// A connection's id in the log.
fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A connection let in: TLS if asked, then the proxying.
async fn serve(
    proxy: &Proxy,
    tcp: TcpStream,
    peer: SocketAddr,
    id: u64,
    closing: &CancellationToken,
) {
    match proxy.front.tls_handshake(tcp, id, closing).await {
        Some(front::Stream::Plain(tcp)) => {
            proxy_connection(proxy, tcp, peer, false, id, closing).await;
        }
        Some(front::Stream::Tls(tls)) => {
            proxy_connection(proxy, *tls, peer, true, id, closing).await;
        }
        None => {}
    }
}

/// The opening handshake with the client, which waits for the backend's,
/// then the relay.
async fn proxy_connection<S>(
    proxy: &Proxy,
    stream: S,
    peer: SocketAddr,
    secure: bool,
    id: u64,
    closing: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut backend = None;
    let mut path = String::new();
    // A shutdown does not wait for handshakes.
    let accepted = tokio::select! {
        accepted = proxy.front.server.accept_with(stream, |request| {
            let backend = &mut backend;
            // Without the query, which may carry a token.
            request.path().clone_into(&mut path);
            async move {
                // Checked before the backend is reached: it need not
                // know about the refusal.
                if proxy.front.same_origin && !same_origin(&request) {
                    return Err(origin_refused());
                }
                let (ws, accept) = proxy.backend.open(&request, peer, secure, id).await?;
                *backend = Some(ws);
                Ok(accept)
            }
        }) => accepted,
        () = closing.cancelled() => {
            tracing::debug!(id, "handshake cut short by the shutdown");
            return;
        }
    };
    let client = match accepted {
        Ok(client) => client,
        Err(e) => {
            // The backend connection, if open, is closed (1001) on drop.
            tracing::debug!(id, error = %describe(&e), "handshake with the client failed");
            return;
        }
    };
    let Some(backend) = backend else {
        return;
    };
    let protocol = client.protocol().map(str::to_owned);
    tracing::debug!(id, %peer, protocol, "connection open");
    let opened = Instant::now();
    let summary = relay::relay(client, backend, id, proxy.close_timeout, closing).await;
    tracing::info!(
        id,
        %peer,
        path,
        protocol,
        duration_ms = u64::try_from(opened.elapsed().as_millis()).unwrap_or(u64::MAX),
        up_messages = summary.up.messages,
        up_bytes = summary.up.bytes,
        down_messages = summary.down.messages,
        down_bytes = summary.down.bytes,
        ended_by = summary.ended_by.unwrap_or("shutdown"),
        code = summary.code.map(CloseCode::as_u16),
        "connection closed"
    );
}

/// Answers a connection turned away by a limit with `status` and a hint
/// to retry later, once its request is read (after TLS if asked).
async fn refuse(
    proxy: &Proxy,
    tcp: TcpStream,
    id: u64,
    status: http::StatusCode,
    closing: &CancellationToken,
) {
    match proxy.front.tls_handshake(tcp, id, closing).await {
        Some(front::Stream::Plain(tcp)) => {
            answer(&proxy.front.server, tcp, id, status, closing).await;
        }
        Some(front::Stream::Tls(tls)) => {
            answer(&proxy.front.server, *tls, id, status, closing).await;
        }
        None => {}
    }
}

/// Reads the request on `stream` and answers it with `status`.
async fn answer<S>(
    server: &ServerBuilder,
    stream: S,
    id: u64,
    status: http::StatusCode,
    closing: &CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let refusal = crate::listen::try_again_later(status);
    tokio::select! {
        refused = server.accept_with(stream, |_| async { Err(refusal) }) => {
            if let Err(e) = refused {
                tracing::trace!(id, error = %describe(&e), "refused");
            }
        }
        () = closing.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `sockeye proxy`'s flags alone, as the command line gives them.
    #[derive(Debug, Parser)]
    struct Line {
        #[command(flatten)]
        args: Args,
    }

    fn parse(flags: &[&str]) -> Result<Args, clap::Error> {
        let line = ["proxy", "127.0.0.1:0", "--to", "ws://127.0.0.1:9001/"];
        Line::try_parse_from(line.iter().chain(flags)).map(|line| line.args)
    }

    /// The shared connection flags keep proxy's own default of
    /// --max-connections (each connection holds two sockets), and the
    /// shared defaults of the rest.
    #[test]
    fn proxy_keeps_its_own_max_connections_default() {
        let args = parse(&[]).unwrap();
        assert_eq!(args.connections.max_connections, 10_000);
        assert_eq!(args.connections.max_per_ip, 0);
        assert_eq!(args.timeouts.handshake_timeout, Duration::from_secs(10));
        assert_eq!(args.limits.write_buffer_size, 128 << 10);
        let args = parse(&["--max-connections", "7"]).unwrap();
        assert_eq!(args.connections.max_connections, 7);
    }

    /// The origin flags take serve's spellings, websocketd's included.
    #[test]
    fn proxy_takes_serves_origin_spellings() {
        for flags in [
            &["--allow-origin", "a.example,https://b.example"][..],
            &["--origin", "a.example", "--origin", "https://b.example"][..],
        ] {
            let args = parse(flags).unwrap();
            assert_eq!(
                args.origins.allowed_origins(),
                ["http://a.example", "https://a.example", "https://b.example"]
            );
            assert!(!args.origins.same_origin);
        }
        for flag in ["--same-origin", "--sameorigin"] {
            assert!(parse(&[flag]).unwrap().origins.same_origin);
        }
        assert!(parse(&["--same-origin=true"]).is_err());
    }
}
