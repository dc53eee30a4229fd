//! `sockeye serve`: a WebSocket server that echoes, broadcasts or runs a
//! program per connection, by path, beside static files.
//!
//! `run` turns the flags into settings (`config.rs`, `tls.rs`, and the
//! crate's `limits.rs`) and starts the accept threads (`worker.rs`); each
//! connection let in goes through its handshake (`handshake.rs`, over
//! HTTP/1.1 or HTTP/2; `static_files.rs` with `--static`) to the mode its
//! path's route chose (`routes.rs`): echo, broadcast or a program
//! (`echo.rs`, `broadcast.rs`, `exec/`). The crate doc maps every file.

mod access;
mod broadcast;
mod config;
mod console;
mod echo;
mod echo_reactor;
mod ending;
mod exec;
mod handshake;
mod routes;
mod socketio;
mod static_files;
mod tls;
mod transport;
mod worker;

use crate::args::{parse_seconds, shutdown_signal};
use crate::connection_args::{PeerLimits, Timeouts};
use crate::limits::{ConnectionLimits, DEFAULT_MAX_HANDSHAKES, set_limits};
use crate::listen::TlsArgs;
use crate::origin::OriginArgs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use self::access::{LogFormat, set_log_format};
use self::config::{server_builder, thread_count};
use self::console::{ExtraHeader, parse_header};
use self::routes::{ModeSpec, RouteSpec, Routes, Site, parse_route};
use self::static_files::Files;
use self::tls::tls_acceptors;
use self::worker::{Settings, Workers};
use crate::{EXIT_USAGE, describe};

/// The examples at the end of `sockeye serve --help`.
const EXAMPLES: &str = "\
Examples:
  sockeye serve
      echo on ws://127.0.0.1:9001, any path; the dev console at http://127.0.0.1:9001/
  sockeye serve 0.0.0.0:9001 --broadcast
      a chat room: each message goes to every other client
  sockeye serve --route /chat=broadcast --route '/sh=exec:./script.sh --verbose' --route /=echo
      a room at /chat, a program per connection at /sh, echo everywhere else
  sockeye serve --static ./site --route /ws=echo
      the files of ./site to plain GETs, an echo WebSocket at /ws, on one port
  sockeye serve 127.0.0.1:9443 --tls-self-signed --exec 'cat -n'
      wss:// over HTTP/1.1 or HTTP/2; each connection runs `cat -n`
  sockeye serve --dir ./cgi --passenv HOME
      ws://127.0.0.1:9001/count.sh runs ./cgi/count.sh; paths without a program get 404

A program (--exec, --dir, exec: routes) gets each message as a line on
its stdin, and each line it prints goes out as a message; its
environment describes the request (REMOTE_ADDR, QUERY_STRING, HTTP_*).";

/// Options of `sockeye serve`.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
#[allow(clippy::struct_excessive_bools, reason = "each is a command-line flag")]
pub(crate) struct Args {
    /// Address to listen on.
    #[arg(default_value = "127.0.0.1:9001")]
    addr: SocketAddr,
    /// Limits on what a client may send.
    #[command(flatten)]
    pub(crate) limits: PeerLimits,
    /// Do not accept permessage-deflate compression.
    #[arg(long)]
    no_deflate: bool,
    /// Server threads, each with its own listener (`SO_REUSEPORT`); 0 means
    /// one per CPU.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Echo each message back to its sender (the default): on every path,
    /// or with --route on the paths no route matches.
    #[arg(long, conflicts_with = "broadcast")]
    echo: bool,
    /// Instead of echoing, send every message to every other connected
    /// client (encoded once, shared by all): on every path, or with
    /// --route on the paths no route matches.
    #[arg(long)]
    broadcast: bool,
    /// Serve the paths under PATH in MODE: `echo`, `broadcast` (each
    /// broadcast route is a room of its own) or `exec:COMMAND`
    /// (repeatable). PATH matches itself and the paths below it (`/chat`:
    /// `/chat/room`, not `/chatroom`); the longest match wins; a path no
    /// route matches is answered 404, unless --echo or --broadcast is
    /// given.
    #[arg(long = "route", value_name = "PATH=MODE", value_parser = parse_route)]
    routes: Vec<RouteSpec>,
    /// Handshake, keepalive, idle and close timers.
    #[command(flatten)]
    pub(crate) timeouts: Timeouts,
    /// `--max-connections`, `--max-per-ip`.
    #[command(flatten)]
    pub(crate) connections: ConnectionLimits,
    /// Opening handshakes in progress at once; connections beyond it are
    /// closed at once, unanswered.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_HANDSHAKES)]
    max_handshakes: usize,
    /// `--allow-origin`, `--same-origin`.
    #[command(flatten)]
    pub(crate) origins: OriginArgs,
    /// Add this header to responses (repeatable): the 101 that opens a
    /// WebSocket, the server's refusals (404 without a route, 403 of
    /// --same-origin, 503, 429), the dev console, and with --static every
    /// answer. A header of the same name is replaced.
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    headers: Vec<ExtraHeader>,
    /// Subprotocol to agree to when a client offers it (repeatable); of
    /// those offered, the client's first choice among these is picked.
    #[arg(long = "protocol", value_name = "NAME")]
    protocols: Vec<String>,
    /// Do not serve the dev console page at `/` (plain HTTP requests are
    /// then answered 426 Upgrade Required, or 404 with --static).
    #[arg(long)]
    no_console: bool,
    /// How the log on stderr is written: `text`, lines for people; `json`,
    /// one JSON object per line (`timestamp`, `level`, `target`, `message`
    /// and the line's fields). Either way the access log is part of it: a
    /// line per WebSocket connection when it ends, at info level, with its
    /// peer, path, subprotocol, duration, messages and bytes each way and
    /// close code.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Serve the files of DIR to plain HTTP GET and HEAD requests on the
    /// same port (content types, `index.html` for directories, ranges,
    /// conditional requests). Never a file outside DIR: one reached
    /// through a symbolic link that leads out of DIR is answered 404, as a
    /// missing file is. WebSocket requests
    /// still go to their route; the dev console stays at `/` unless DIR
    /// has an `index.html`.
    #[arg(long = "static", value_name = "DIR")]
    static_dir: Option<PathBuf>,
    /// Also serve Socket.IO clients at /socket.io/ (Engine.IO v4 over
    /// WebSocket and HTTP long-polling, Socket.IO v5), for trying clients
    /// out: every namespace exists; `message` is answered `message-back`
    /// with the same arguments, and every event that asks for an
    /// acknowledgement is acknowledged with its arguments. Browsers of
    /// other origins need --allow-origin (CORS).
    #[arg(long)]
    socketio: bool,
    /// `--tls-cert`, `--tls-key`, `--tls-self-signed`.
    #[command(flatten)]
    pub(crate) tls: TlsArgs,
    /// With TLS, offer HTTP/1.1 only: no WebSocket connections over HTTP/2
    /// (RFC 8441), which are otherwise offered by ALPN.
    #[arg(long)]
    no_http2: bool,
    /// Instead of echoing, run COMMAND for each connection (as websocketd
    /// does): each message is a line on its stdin (a newline appended),
    /// each line of its stdout a text message (binary if not UTF-8; a line
    /// over --max-message-size goes in parts of that size). Its stderr is
    /// logged; its environment describes the request (`REMOTE_ADDR`,
    /// `QUERY_STRING`, `HTTP_*` ...). When it exits the connection closes,
    /// 1000 on status 0, else 1011; when the peer closes, its stdin ends.
    /// COMMAND is one argument, split into words as a shell would:
    /// `--exec 'cat -n'`. On every path, or with --route on the paths no
    /// route matches; with --static, plain GETs still get files. Unix
    /// only.
    #[arg(
        long,
        value_name = "COMMAND",
        conflicts_with_all = ["broadcast", "echo", "dir"]
    )]
    exec: Option<String>,
    /// As --exec, with the program named by the request's path: the
    /// executable file DIR/a/b.sh answers /a/b.sh (and /a/b.sh/more, with
    /// `PATH_INFO` /more); other paths get 404. Nothing outside DIR is ever
    /// run, nor any name starting with a dot. With --route, on the paths
    /// no route matches.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["broadcast", "echo"])]
    dir: Option<std::path::PathBuf>,
    /// For programs (--exec, --dir, exec: routes): raw bytes both ways
    /// instead of lines, each message written as it is, each read of
    /// stdout sent as a binary message.
    #[arg(long, alias = "binary")]
    exec_binary: bool,
    /// For programs: variables of the server's environment that they get
    /// (comma-separated, repeatable), besides PATH and `LD_LIBRARY_PATH`,
    /// which they always get; no others.
    #[arg(long, value_name = "VAR[,VAR...]", value_delimiter = ',')]
    passenv: Vec<String>,
    /// Programs running at once, of all routes together; connections
    /// beyond are answered 503 before their handshake. 0: no limit. The
    /// default keeps a flood of connections from using up the machine's
    /// processes.
    #[arg(long, alias = "maxforks", value_name = "N", default_value_t = exec::DEFAULT_MAX_FORKS)]
    max_forks: usize,
    /// For programs: seconds one has to exit after its stdin ends because
    /// the peer left (or the server stops), before SIGTERM,
    /// and again after it before SIGKILL. The default leaves time to finish
    /// on end of input, and frees a stuck program's place soon.
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_seconds)]
    exec_grace: Duration,
}

impl Args {
    /// Whether the log is to be written as JSON (`--log-format json`):
    /// asked before the log is set up.
    pub(crate) fn json_log(&self) -> bool {
        self.log_format == LogFormat::Json
    }
}

/// Runs the server until Ctrl-C or SIGTERM, then closes every connection
/// with 1001 Going Away and returns.
pub(crate) async fn run(args: Args) -> ExitCode {
    set_log_format(args.log_format);
    let fallback = if let Some(command) = &args.exec {
        Some(ModeSpec::Exec(command.clone()))
    } else if let Some(dir) = &args.dir {
        Some(ModeSpec::Dir(dir.clone()))
    } else if args.broadcast {
        Some(ModeSpec::Broadcast)
    } else {
        args.echo.then_some(ModeSpec::Echo)
    };
    exec::set_max_forks(args.max_forks);
    let exec_options = Arc::new(exec::ExecOptions::from_args(&args));
    let routes = match Routes::new(&args.routes, fallback.as_ref(), &exec_options) {
        Ok(routes) => routes,
        Err(why) => {
            eprintln!("sockeye: {why}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let files = match &args.static_dir {
        Some(dir) => match Files::new(
            dir,
            !args.no_console,
            args.limits.max_handshake_size,
            args.limits.max_headers,
        ) {
            Ok(files) => Some(files),
            Err(why) => {
                eprintln!("sockeye: {why}");
                return ExitCode::from(EXIT_USAGE);
            }
        },
        None if args.socketio => Some(Files::without_dir(
            !args.no_console,
            args.limits.max_handshake_size,
            args.limits.max_headers,
        )),
        None => None,
    };
    let files = files.map(|files| {
        if args.socketio {
            files.with_socketio(socketio::echo_server(&args.origins.allowed_origins()))
        } else {
            files
        }
    });
    let tls = match tls_acceptors(&args) {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("sockeye: cannot use the tls certificate: {}", describe(&e));
            return ExitCode::FAILURE;
        }
    };
    let secure = tls.is_some();
    set_limits(&args.connections, args.max_handshakes);
    let signal = shutdown_signal();
    let threads = thread_count(args.threads);
    let settings = Settings {
        server: Arc::new(server_builder(&args)),
        close_timeout: args.timeouts.close_timeout,
        handshake_timeout: args.timeouts.handshake_timeout,
        tls,
        site: Arc::new(Site {
            routes,
            protocols: args.protocols.clone(),
            headers: args.headers.clone(),
            same_origin: args.origins.same_origin,
        }),
        files,
    };
    let workers = match Workers::start(args.addr, threads, &settings).await {
        Ok(workers) => workers,
        Err(why) => {
            eprintln!("sockeye: {why}");
            return ExitCode::FAILURE;
        }
    };
    let mut serves = settings.site.routes.describe();
    if let Some(dir) = &args.static_dir {
        serves = format!("{serves}, and the files of {} to plain GETs", dir.display());
    }
    if args.socketio {
        serves = format!("{serves}, and Socket.IO at /socket.io/");
    }
    announce(workers.addr(), threads, secure, !args.no_console, &serves);
    settings.site.routes.announce();
    signal.await;
    tracing::info!("shutting down");
    workers.stop().await;
    ExitCode::SUCCESS
}

/// Logs where the server listens and, if it serves it, where the dev
/// console is.
/// Logs where the server listens and what it serves there (`serves`),
/// the address followed by a space, for scripts that read it.
fn announce(addr: SocketAddr, threads: usize, tls: bool, console: bool, serves: &str) {
    let scheme = if tls { "wss" } else { "ws" };
    tracing::info!(threads, "listening on {scheme}://{addr} with {serves}");
    if console {
        let web = if tls { "https" } else { "http" };
        tracing::info!("dev console at {web}://{addr}/");
    }
}
