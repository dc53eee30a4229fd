//! `sockeye bridge A B`: joins two endpoints, socat-style, message by
//! message.
//!
//! `endpoint.rs` checks the spellings; each family opens its endpoints as
//! a `Conn` (`conn.rs`: messages in and out): `websocket.rs`, `tcp.rs`,
//! `unix.rs`, `udp.rs`, `stdio.rs`, `exec.rs`. `pair.rs` joins two of
//! them. `run` opens one pair, or, when one endpoint listens, one pair per
//! client it accepts.

mod conn;
mod endpoint;
mod exec;
mod pair;
mod program;
mod stdio;
mod tcp;
mod udp;
mod unix;
mod websocket;

use crate::args::{parse_seconds, shutdown_signal};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use tokio::sync::Semaphore;

use self::conn::{Conn, Failure};
use self::endpoint::Endpoint;
use crate::EXIT_USAGE;

/// Options of `sockeye bridge`.
#[derive(Debug, clap::Args)]
#[command(after_help = ENDPOINTS_HELP)]
pub(crate) struct Args {
    /// The first endpoint (see the list below).
    #[arg(value_name = "A", value_parser = endpoint::parse)]
    a: Endpoint,
    /// The second endpoint.
    #[arg(value_name = "B", value_parser = endpoint::parse)]
    b: Endpoint,
    /// Cut byte streams at newlines: each line is one text message (binary
    /// if it is not UTF-8), without its newline, and a newline is written
    /// after each message sent to a stream that does not end with one.
    /// Without it, each read of a stream is one binary message and
    /// messages are written as they are.
    #[arg(long)]
    lines: bool,
    /// The most bytes read from a byte stream at once, so the largest
    /// binary message made from one (64 KiB, as websocat's -B).
    #[arg(short = 'B', long, value_name = "BYTES", default_value_t = 64 << 10, value_parser = positive)]
    buffer_size: usize,
    /// The largest message taken from a WebSocket, and the longest line
    /// with --lines (a longer line closes with 1009). Default 1 MiB: each
    /// pair holds at most one message each way, so messages take at most
    /// 2 MiB per client.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20, value_parser = positive)]
    max_message_size: usize,
    /// Clients of a listening endpoint served at once; a TCP, Unix or
    /// WebSocket client beyond it waits in the kernel's queue, a new UDP
    /// peer's datagrams are dropped. Default 256: each client holds two
    /// connections, which fits the usual limit of 1,024 open files.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = positive)]
    max_clients: usize,
    /// Seconds the other direction may go on after one ended (a
    /// half-closed stream still answering, the peer's reply to our Close, a
    /// program finishing its output) before the pair is cut; also how
    /// long a program of exec: has to exit once its input ended before it
    /// is killed.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    linger: Duration,
    /// Seconds without a datagram after which a udp-listen client is
    /// done and its pair closes (UDP has no close of its own). Default
    /// 60: longer than most request and answer exchanges, and about
    /// when NATs forget a silent mapping anyway.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_seconds)]
    udp_timeout: Duration,
    /// For `wss://`: also trust the certificates in this PEM file
    /// (repeatable), such as a private authority's or a self-signed one.
    #[arg(long = "ca", value_name = "FILE")]
    ca: Vec<std::path::PathBuf>,
}

/// The endpoints and examples, shown after the options.
const ENDPOINTS_HELP: &str = "\
Endpoints:
  ws://HOST[:PORT]/PATH, wss://...  a WebSocket client (proxy variables as for connect)
  ws-listen:ADDR       a WebSocket server, one pair per client, any path
  tcp:HOST:PORT        a TCP connection
  tcp-listen:ADDR      a TCP server, one pair per client
  unix:PATH            a Unix stream socket connection
  unix-listen:PATH     a Unix stream socket server, one pair per client
  udp:HOST:PORT        datagrams to and from HOST:PORT; one datagram is one message
  udp-listen:ADDR      a UDP socket, one pair per source address (until --udp-timeout)
  stdio, -             standard input and output (one client only)
  exec:COMMAND         a program run by `sh -c COMMAND`: its stdin and stdout
ADDR is HOST:PORT, or PORT for 127.0.0.1:PORT. At most one endpoint may listen; the other
is opened for each client when it arrives. Messages longer than 65,507 bytes cannot go
into one datagram and are dropped with a warning. A program's output is passed on as it
writes it: one that buffers its output (tr, grep into a pipe) sends nothing until it flushes.

Examples:
  sockeye bridge tcp-listen:5900 ws://127.0.0.1:9001/vnc   TCP clients over a WebSocket
  sockeye bridge ws-listen:8080 tcp:127.0.0.1:7000         a WebSocket front for a TCP service
  sockeye bridge --lines ws-listen:8080 exec:./count.sh    a program per WebSocket client, a message a line
  sockeye bridge --lines ws-listen:8080 -                  a server you type into (wscat -l, websocat -s)
  sockeye bridge - ws://127.0.0.1:9001/                    stdin and stdout as binary messages";

/// What every pair needs from the options.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) lines: bool,
    pub(crate) buffer_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) linger: Duration,
    pub(crate) udp_timeout: Duration,
}

/// Joins the two endpoints: one pair, or one per client of the listening
/// one, until a signal. The exit status is 0 after a clean end, 1 when
/// opening or relaying failed, 2 for endpoints that cannot go together
/// or an unreadable `--ca` file.
pub(crate) async fn run(args: Args) -> ExitCode {
    let settings = Settings {
        lines: args.lines,
        buffer_size: args.buffer_size,
        max_message_size: args.max_message_size,
        linger: args.linger,
        udp_timeout: args.udp_timeout,
    };
    if let Err(why) = websocket::trust(&args.ca) {
        eprintln!("sockeye: {why}");
        return ExitCode::from(EXIT_USAGE);
    }
    let signal = shutdown_signal();
    let work = async move {
        match (args.a.is_listening(), args.b.is_listening()) {
            (true, true) => {
                eprintln!(
                    "sockeye: {} and {} both listen; at most one endpoint may",
                    args.a, args.b
                );
                ExitCode::from(EXIT_USAGE)
            }
            (true, false) => listen(args.a, args.b, settings, args.max_clients).await,
            (false, true) => listen(args.b, args.a, settings, args.max_clients).await,
            (false, false) => one_pair(&args.a, &args.b, settings).await,
        }
    };
    let status = tokio::select! {
        status = work => status,
        () = signal => ExitCode::SUCCESS,
    };
    program::stop_all();
    status
}

/// Opens both endpoints and joins them once.
async fn one_pair(a: &Endpoint, b: &Endpoint, settings: Settings) -> ExitCode {
    let a = match open(a, settings).await {
        Ok(conn) => conn,
        Err(why) => {
            eprintln!("sockeye: {why}");
            return ExitCode::FAILURE;
        }
    };
    match serve_client(a, b, settings, "").await {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("sockeye: {why}");
            ExitCode::FAILURE
        }
    }
}

/// Opens a connecting endpoint.
async fn open(endpoint: &Endpoint, settings: Settings) -> Result<Conn, String> {
    match endpoint {
        Endpoint::WsClient(url) => websocket::connect(url, settings).await,
        Endpoint::Tcp(addr) => tcp::connect(addr, settings).await,
        Endpoint::Unix(path) => unix::connect(path, settings).await,
        Endpoint::Udp(addr) => udp::connect(addr, settings).await,
        Endpoint::Stdio => stdio::open(settings),
        Endpoint::Exec(command) => exec::open(command, settings),
        Endpoint::WsListen(_)
        | Endpoint::TcpListen(_)
        | Endpoint::UnixListen(_)
        | Endpoint::UdpListen(_) => Err(format!("{endpoint} listens and cannot be opened")),
    }
}

/// Opens `peer` for a client that arrived (or for the first endpoint) and
/// joins them; if `peer` cannot be opened, the client is closed (a
/// WebSocket with 1011) and told no more.
pub(crate) async fn serve_client(
    mut client: Conn,
    peer: &Endpoint,
    settings: Settings,
    label: &str,
) -> Result<(), String> {
    let other = match open(peer, settings).await {
        Ok(other) => other,
        Err(why) => {
            if !label.is_empty() {
                tracing::warn!(client = label, "{why}");
            }
            client.sink.finish(Some(&Failure::new(why.clone()))).await;
            return Err(why);
        }
    };
    if !label.is_empty() {
        tracing::debug!(client = label, "pair open");
    }
    let result = pair::run(client, other, settings.linger).await;
    if !label.is_empty() {
        match &result {
            Ok(()) => tracing::debug!(client = label, "pair closed"),
            Err(why) => tracing::info!(client = label, "pair ended: {why}"),
        }
    }
    result
}

/// A listening endpoint's socket.
enum Listener {
    Ws(TcpListener, Arc<sockeye::ServerBuilder>),
    Tcp(TcpListener),
    Unix(unix::Listener),
}

/// A client just accepted, before any handshake.
enum Accepted {
    Ws(TcpStream, Arc<sockeye::ServerBuilder>),
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Listens on `listening` and serves its clients, each with its own
/// `peer`, until a signal. With `stdio` as the peer, serves one client and
/// returns when it is done.
async fn listen(
    listening: Endpoint,
    peer: Endpoint,
    settings: Settings,
    max_clients: usize,
) -> ExitCode {
    let clients = Arc::new(Semaphore::new(max_clients));
    let listener = match bind(&listening, settings).await {
        Ok(Some(listener)) => listener,
        Ok(None) => {
            // udp-listen: its own loop.
            let Endpoint::UdpListen(addr) = &listening else {
                return ExitCode::FAILURE;
            };
            return match UdpSocket::bind(addr.as_str()).await {
                Ok(socket) => {
                    announce(&socket.local_addr().map(|a| format!("udp:{a}")));
                    udp::serve(socket, Arc::new(peer), settings, clients).await;
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("sockeye: cannot listen on {listening}: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        Err(why) => {
            eprintln!("sockeye: {why}");
            return ExitCode::FAILURE;
        }
    };
    let once = peer == Endpoint::Stdio;
    let peer = Arc::new(peer);
    loop {
        let Ok(permit) = Arc::clone(&clients).acquire_owned().await else {
            return ExitCode::FAILURE;
        };
        let (accepted, label) = match accept(&listener).await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors, most likely: wait for some to close
                // rather than spin.
                tracing::warn!(error = %e, "cannot accept");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let peer = Arc::clone(&peer);
        let client = async move {
            let conn = match accepted {
                Accepted::Ws(tcp, server) => websocket::accept(&server, tcp).await,
                Accepted::Tcp(tcp) => Ok(tcp::conn(tcp, settings)),
                Accepted::Unix(stream) => Ok(unix::conn(stream, settings)),
            };
            // `None`: the client left before it could be served.
            let result = match conn {
                Ok(conn) => Some(serve_client(conn, &peer, settings, &label).await),
                Err(why) => {
                    tracing::info!(client = %label, "{why}");
                    None
                }
            };
            drop(permit);
            result
        };
        if once {
            // A failed handshake does not use up the one client.
            match client.await {
                None => continue,
                Some(Ok(())) => return ExitCode::SUCCESS,
                Some(Err(_)) => return ExitCode::FAILURE,
            }
        }
        tokio::spawn(client);
    }
}

/// Binds a stream listener and says where; `None` for `udp-listen:`,
/// which has no clients to accept.
async fn bind(listening: &Endpoint, settings: Settings) -> Result<Option<Listener>, String> {
    let cannot = |e: std::io::Error| format!("cannot listen on {listening}: {e}");
    let listener = match listening {
        Endpoint::WsListen(addr) => {
            let tcp = TcpListener::bind(addr.as_str()).await.map_err(cannot)?;
            announce(&tcp.local_addr().map(|a| format!("ws://{a}")));
            Listener::Ws(tcp, Arc::new(websocket::server(settings)))
        }
        Endpoint::TcpListen(addr) => {
            let tcp = TcpListener::bind(addr.as_str()).await.map_err(cannot)?;
            announce(&tcp.local_addr().map(|a| format!("tcp:{a}")));
            Listener::Tcp(tcp)
        }
        Endpoint::UnixListen(path) => {
            let unix = unix::Listener::bind(path)?;
            announce(&Ok(format!("unix:{}", path.display())));
            Listener::Unix(unix)
        }
        _ => return Ok(None),
    };
    Ok(Some(listener))
}

/// Logs where the bridge listens, in the endpoint's own spelling.
fn announce(address: &std::io::Result<String>) {
    match address {
        Ok(address) => tracing::info!("bridge listening on {address}"),
        Err(e) => tracing::warn!(error = %e, "cannot tell the listening address"),
    }
}

/// The next client, with a label for the log.
async fn accept(listener: &Listener) -> std::io::Result<(Accepted, String)> {
    Ok(match listener {
        Listener::Ws(tcp, server) => {
            let (stream, from) = tcp.accept().await?;
            (Accepted::Ws(stream, Arc::clone(server)), from.to_string())
        }
        Listener::Tcp(tcp) => {
            let (stream, from) = tcp.accept().await?;
            (Accepted::Tcp(stream), from.to_string())
        }
        Listener::Unix(unix) => {
            let (stream, _) = unix.listener.accept().await?;
            (Accepted::Unix(stream), "unix".to_owned())
        }
    })
}

/// A count above zero.
fn positive(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}
