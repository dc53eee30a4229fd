//! `sockeye`: a WebSocket server, client, reverse proxy, bridge and load generator.
//!
//! # Module map
//!
//! Data flows one way: the arguments, parsed by clap into `Cli`, go to
//! the module of their subcommand, which reaches the network only through
//! `sockeye`'s public API (and the `sockeye::proto` types it re-exports),
//! never through protocol details of its own.
//!
//! ```text
//! arguments ─► main.rs (Cli, Command) ─► serve/ | connect/ | rpc/ | proxy/ | bridge/ | bench/ | docs.rs ─► sockeye's public API
//! ```
//!
//! | file or folder | owns |
//! |---|---|
//! | `main.rs` | the subcommands, logging, the runtime, `describe` (an error and its causes on one line), `EXIT_USAGE` |
//! | `serve/` | `sockeye serve`: echo, broadcast, a program per connection (`--exec`, `--dir`), routes mixing them, static files |
//! | `serve/mod.rs` | its flags (`Args`) and `run`: start the threads, wait for a signal, stop |
//! | `serve/worker.rs` | the accept threads: listen, admit or refuse, close on shutdown |
//! | `serve/static_files.rs` | a connection served by hyper (`--static`): files for plain requests, upgrades to the routes |
//! | `serve/handshake.rs` | a connection from accept to open (HTTP/1.1 or HTTP/2), or its refusal |
//! | `serve/routes.rs` | `--route`, `--echo`, `--broadcast`: the mode each path gets, 404 for none; `--same-origin` |
//! | `serve/echo.rs`, `serve/broadcast.rs` | the two modes of an open connection |
//! | `serve/exec/` | the exec mode (`--exec`, `--dir`, `exec:` routes): a program per connection, from the request's environment to the reaping of the process (its files in its `mod.rs`) |
//! | `serve/ending.rs` | how an open connection ended, for the log |
//! | `serve/access.rs` | the access log: a line per connection, `--log-format` |
//! | `serve/transport.rs` | `Transport`: TCP, TLS, an HTTP/2 stream or a hyper upgrade under a WebSocket |
//! | `serve/tls.rs` | `wss://`: the TLS acceptors and each connection's TLS handshake |
//! | `serve/config.rs` | the flags turned into a `ServerBuilder` and a thread count |
//! | `serve/console.rs`, `console/index.html` | plain HTTP answers: the dev console page, 404, 405; `--header`'s headers |
//! | `connect/` | `sockeye connect`, the client: interactive on a terminal, for scripts otherwise |
//! | `connect/mod.rs` | its flags (`Args`) and `run`: connect, then run a session |
//! | `connect/client.rs` | the flags of a client connection (`ClientArgs`, shared with `rpc`) turned into a `ClientBuilder` |
//! | `connect/jsonrpc.rs` | `--jsonrpc`: each message read as JSON-RPC, responses matched to their requests by id |
//! | `connect/input.rs`, `connect/outgoing.rs`, `connect/output.rs`, `connect/jsonl.rs` | stdin cut into messages (`Outgoing`); events printed as lines, raw bytes or JSON lines |
//! | `connect/session.rs` | an open connection in a script: read, send, ping, close |
//! | `connect/interactive.rs` | an open connection at a prompt: line editing, history, slash commands |
//! | `connect/reconnect.rs` | `--reconnect`: the pauses between attempts (exponential, full jitter) |
//! | `connect/exit.rs` | how a session ended and its exit status |
//! | `proxy/` | `sockeye proxy`, the reverse proxy: `mod.rs` (flags, accept loop), `front.rs` (client side: settings, TLS), `backend.rs` (the backend's URL, headers, refusals), `relay.rs` (messages and close codes both ways) |
//! | `rpc/` | `sockeye rpc`: `mod.rs` (flags, the call, exit statuses), `request.rs` (`PARAMS_JSON` and `--batch` files checked) |
//! | `json_text.rs` | JSON text laid out compact or indented, numbers and strings kept as they came |
//! | `args.rs` | what subcommands share: `parse_seconds` for duration flags, `shutdown_signal` (Ctrl-C or SIGTERM) |
//! | `listen.rs` | what serve and proxy share: the TLS flags and the `wss://` configuration they make, each connection's TLS handshake, the 503/429 answer |
//! | `connection_args.rs` | serve's and proxy's flags for each connection (message limits, write buffer, timers) and the `WebSocketConfig` they make; the deflate offer |
//! | `limits.rs` | serve's and proxy's `--max-connections`, `--max-per-ip`: connections, handshakes and connections per address allowed at once |
//! | `origin.rs` | serve's and proxy's `--allow-origin` and `--same-origin` |
//! | `insecure.rs` | `-k/--insecure` of connect and proxy: a TLS client configuration that takes any certificate |
//! | `docs.rs` | `sockeye completions` and `sockeye man`: shell completions and manual pages from the same definition as `--help` |
//! | `hub/` | `sockeye hub`: a standalone Socket.IO server with JWT auth, an HTTP API, Server-Sent Events and metrics (its files in its `mod.rs`) |
//! | `bench/` | `sockeye bench`: `echo.rs`, `idle.rs`, `fanout.rs` and `socketio.rs` (Socket.IO) scenarios; `report.rs` and `procfs.rs` measure |
//! | `bridge/` | `sockeye bridge A B`: `endpoint.rs` spellings; `websocket.rs`, `tcp.rs`, `unix.rs`, `udp.rs`, `stdio.rs`, `exec.rs` open them as a `conn.rs` `Conn` (`program.rs`: `exec:`'s process groups); `pair.rs` joins two |
//!
//! Inside `serve/`, a file imports only the files below it in this table
//! (and `Args` from `mod.rs`), so the serving path reads top to bottom.
//!
//! # Commands
//!
//! ```text
//! sockeye serve [ADDR]        server: echo, broadcast, a program per connection, routes, files (default 127.0.0.1:9001)
//! sockeye connect URL         stdin out as messages, messages in as lines or JSON (--jsonrpc: read as JSON-RPC)
//! sockeye rpc URL METHOD [PARAMS]   one JSON-RPC call, its result printed as JSON
//! sockeye bench echo|idle|fanout|socketio   load generator: throughput, latency, memory
//! sockeye proxy LISTEN --to URL    reverse proxy to a ws:// or wss:// backend
//! sockeye hub [ADDR]          standalone Socket.IO hub: JWT, HTTP API, SSE, metrics, Redis cluster
//! sockeye bridge A B          join two endpoints (WebSocket, TCP, Unix, UDP, stdio, a program)
//! sockeye completions SHELL   shell completions; sockeye man DIR: manual pages
//! ```

mod allocator;
mod args;
mod bench;
mod bridge;
mod connect;
mod connection_args;
mod docs;
mod hub;
mod insecure;
mod json_text;
mod limits;
mod listen;
mod origin;
mod proxy;
mod rpc;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

/// WebSocket server, client, reverse proxy, bridge and load generator.
#[derive(Debug, Parser)]
#[command(
    name = "sockeye",
    version,
    about = "WebSocket server, client, reverse proxy, bridge and load generator",
    after_help = "\
Examples:
  sockeye serve                                       echo server on ws://127.0.0.1:9001/, dev console at http://127.0.0.1:9001/
  sockeye serve 127.0.0.1:8080 --exec ./count.sh      a program per connection: messages on its stdin, its stdout lines back
  echo hello | sockeye connect ws://127.0.0.1:9001/   send a line, print the answer
  sockeye rpc ws://127.0.0.1:9001/ subtract '[42,23]'    one JSON-RPC call, its result as JSON
  sockeye proxy 127.0.0.1:8080 --to ws://127.0.0.1:9001/    a reverse proxy in front of a server
  sockeye bridge tcp-listen:5900 ws://127.0.0.1:9001/       TCP clients over a WebSocket, socat-style
  sockeye bench echo -c 10 ws://127.0.0.1:9001/       throughput and latency of a server

Each subcommand's --help has its options and more examples; `sockeye man DIR` writes them as manual pages."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a WebSocket server: echo (the default), broadcast, or a program
    /// per connection (--exec, --dir), by path with --route, beside static
    /// files (--static).
    Serve(serve::Args),
    /// Connect to a server: a prompt on a terminal; otherwise stdin is sent
    /// as messages and those received are printed as lines, raw bytes or
    /// JSON lines.
    Connect(connect::Args),
    /// Make one JSON-RPC 2.0 call (or send a notification, or a batch)
    /// and print its result as JSON; the exit status says whether a
    /// result, an error, a timeout or a failure came.
    Rpc(rpc::Args),
    /// Generate load against a server: echo throughput and latency, idle
    /// connections and their memory, or broadcast fan-out.
    Bench(bench::Args),
    /// Relay WebSocket connections to a backend, message by message: a
    /// reverse proxy with TLS, limits and origin checks in front.
    Proxy(proxy::Args),
    /// Join two endpoints message by message, socat-style: WebSocket, TCP,
    /// Unix and UDP sockets, stdio or a program, connecting or listening.
    Bridge(bridge::Args),
    /// Run a standalone Socket.IO hub for backends in any language: JWT
    /// auth, rooms, an HTTP API to publish, Server-Sent Events, metrics,
    /// and a Redis adapter to make several hubs one cluster.
    Hub(hub::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Write the manual pages (sockeye.1 and one per subcommand) into a folder.
    Man(docs::ManArgs),
}

fn main() -> ExitCode {
    allocator::tune();
    let cli = Cli::parse();
    match &cli.command {
        Command::Completions(args) => return docs::completions(args, Cli::command()),
        Command::Man(args) => return docs::man(args, Cli::command()),
        _ => {}
    }
    // Chosen before the first line is written: `serve --log-format json`
    // and `hub --log-format json` make every line of the log a JSON object.
    let json = match &cli.command {
        Command::Serve(args) => args.json_log(),
        Command::Hub(args) => args.json_log(),
        _ => false,
    };
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    if json {
        log.json().flatten_event(true).init();
    } else {
        log.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sockeye: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let status = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Connect(args) => connect::run(args).await,
            Command::Rpc(args) => rpc::run(args).await,
            Command::Bench(args) => bench::run(args).await,
            Command::Proxy(args) => proxy::run(args).await,
            Command::Bridge(args) => bridge::run(args).await,
            Command::Hub(args) => hub::run(args).await,
            Command::Completions(_) | Command::Man(_) => ExitCode::SUCCESS,
        }
    });
    // A read of stdin may still be blocked in a runtime thread; it must not
    // keep the process alive.
    runtime.shutdown_background();
    status
}

/// Exit status for options that cannot work (an unreadable file or PID, a
/// malformed header, a size over the limits), as clap uses for usage
/// errors.
pub(crate) const EXIT_USAGE: u8 = 2;

/// Prints an error and its causes on one line.
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
