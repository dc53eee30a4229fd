//! `sockeye hub`: a standalone Socket.IO server for backends in any
//! language. Clients connect with socket.io-client (JWT auth, rooms,
//! publishing), or subscribe over Server-Sent Events; backends publish
//! with one POST to the HTTP API; hubs sharing a Redis are one cluster.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the flags (`Args`) and `run`: settings, server, listener, shutdown |
//! | `settings.rs` | the TOML file and the flags over it; the limits' defaults |
//! | `adapter.rs` | `--adapter URL`: the Redis pub/sub, Redis Streams or NATS adapters, other schemes refused |
//! | `auth.rs` | JWT verification, the `rooms` claim and its patterns |
//! | `metrics.rs` | the counters and `/metrics` |
//! | `sse.rs` | SSE subscribers and the rooms' bounded histories |
//! | `state.rs` | `Hub`, the shared state, and `deliver`: the one path of an event to rooms |
//! | `clients.rs` | the Socket.IO client protocol: auth, join, leave, publish, refresh, expiry |
//! | `api.rs` | the HTTP API |
//! | `sse_route.rs` | `GET /sse` |
//! | `http.rs` | the port: accept, TLS, the connection limit, routing |
//!
//! A file imports only files above it in this table.

mod adapter;
mod api;
mod auth;
mod clients;
mod http;
mod metrics;
mod settings;
mod sse;
mod sse_route;
mod state;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use sockeye_io::{RecoveryConfig, SocketIo, SocketIoConfig};
use tokio_util::sync::CancellationToken;

use crate::args::shutdown_signal;
use crate::listen::TlsArgs;
use crate::{EXIT_USAGE, describe};

use self::adapter::Cluster;
use self::auth::Verifier;
use self::metrics::Metrics;
use self::settings::{FileSettings, Overrides, Settings};
use self::sse::SseHub;
use self::state::{Hub, SSE_RELAY};

/// `sockeye hub`'s flags; each overrides the same setting of `--config`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Client protocol (socket.io-client 4):
  auth {token}                     with --jwt-secret or --jwt-public-key; refused with the reason otherwise
  emit('join', room, ack)          rooms the token's `rooms` claim names (exact, or `prefix*`); any when open
  emit('leave', room, ack)
  emit('publish', {room, event, args}, ack)   events named by --publish, to rooms the client may join
                                   (and that --publish-room allows, when given)
  emit('refresh', token, ack)      a new token for the same `sub`; at `exp` the hub emits token-expired and disconnects
HTTP on the same port:
  POST /api/emit, POST /api/disconnect, GET /api/rooms, GET /api/sockets   (Authorization: Bearer KEY)
  GET /sse?namespace=/&rooms=a,b[&token=JWT]   Server-Sent Events, Last-Event-ID resume
  GET /metrics                     Prometheus

Examples:
  sockeye hub                                            open hub on 127.0.0.1:9100, in memory
  sockeye hub 0.0.0.0:9100 --jwt-secret S --api-key K --publish chat
  sockeye hub --adapter redis://127.0.0.1:6379 --config hub.toml
  curl -H 'Authorization: Bearer K' -d '{\"rooms\":[\"news\"],\"event\":\"update\",\"args\":[1]}' http://127.0.0.1:9100/api/emit")]
pub(crate) struct Args {
    /// Address to listen on [default: 127.0.0.1:9100].
    addr: Option<String>,
    /// A TOML file with the settings (the flags' names with `_`, and
    /// `[[namespace]]` tables with `name`, `publish` and `publish_rooms`); flags
    /// win.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The broker hubs share: redis://HOST:PORT (pub/sub),
    /// redis://HOST:PORT?sharded=true (SSUBSCRIBE),
    /// redis-streams://HOST:PORT (a stream: clients recover through any
    /// hub) or nats://HOST:PORT (with recovery on, the same through a
    /// NATS stream);
    /// in memory without it.
    #[arg(long, value_name = "URL")]
    adapter: Option<String>,
    /// A namespace clients may connect to (repeatable) [default: /].
    #[arg(long = "namespace", value_name = "NAME")]
    namespaces: Vec<String>,
    /// An event clients may publish to their rooms, in every namespace
    /// (repeatable) [default: none].
    #[arg(long = "publish", value_name = "EVENT")]
    publish: Vec<String>,
    /// Rooms clients may publish to, exact or `prefix*`, in every
    /// namespace (repeatable) [default: any room the client may join].
    #[arg(long = "publish-room", value_name = "PATTERN")]
    publish_rooms: Vec<String>,
    /// Connection state recovery window in seconds, 0 for none [default:
    /// 120, Node's].
    #[arg(long, value_name = "SECS")]
    recovery: Option<u64>,
    /// TCP connections at once [default: 10000].
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Largest packet and API body in bytes [default: 1000000, Node's].
    #[arg(long, value_name = "BYTES")]
    max_payload: Option<usize>,
    /// Serve the HTTP API to callers sending `Authorization: Bearer KEY`;
    /// no API without it.
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// Require clients' HS256 JWTs signed with this secret.
    #[arg(long, value_name = "SECRET", conflicts_with = "jwt_public_key")]
    jwt_secret: Option<String>,
    /// Require clients' RS256 or Ed25519 JWTs, checked with this PEM public
    /// key (RSA or Ed25519).
    #[arg(long, value_name = "FILE")]
    jwt_public_key: Option<PathBuf>,
    /// How the log is written: text lines, or one JSON object a line
    /// (for log collectors).
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(flatten)]
    tls: TlsArgs,
}

/// `--log-format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Text lines.
    Text,
    /// One JSON object a line.
    Json,
}

impl Args {
    /// Whether the whole log is JSON.
    pub(crate) fn json_log(&self) -> bool {
        self.log_format == LogFormat::Json
    }
}

/// Runs the hub until Ctrl-C or SIGTERM.
pub(crate) async fn run(args: Args) -> ExitCode {
    match start(args).await {
        Ok(code) => code,
        Err(why) => {
            eprintln!("sockeye: {why}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

async fn start(args: Args) -> Result<ExitCode, String> {
    let file = match &args.config {
        Some(path) => settings::read_file(path)?,
        None => FileSettings::default(),
    };
    let settings = settings::merge(
        file,
        Overrides {
            listen: args.addr,
            adapter: args.adapter,
            api_key: args.api_key,
            jwt_secret: args.jwt_secret,
            jwt_public_key: args.jwt_public_key,
            recovery_secs: args.recovery,
            max_connections: args.max_connections,
            max_payload: args.max_payload,
            namespaces: args.namespaces,
            publish: args.publish,
            publish_rooms: args.publish_rooms,
        },
    )?;
    let auth = match (&settings.jwt_secret, &settings.jwt_public_key) {
        (Some(_), Some(_)) => return Err("give a JWT secret or a public key, not both".into()),
        (Some(secret), None) => Some(Arc::new(Verifier::hs256(secret))),
        (None, Some(path)) => Some(Arc::new(Verifier::public_key(path)?)),
        (None, None) => None,
    };
    let tls = args
        .tls
        .tls_config()
        .map_err(|e| format!("cannot use the tls certificate: {}", describe(&e)))?
        .map(|config| http::http1_only(&config));
    let adapters = match settings.adapter.as_deref() {
        Some(url) => Some(Cluster::from_url(url, settings.recovery).await?),
        None => None,
    };
    let io = socket_io(&settings, adapters.as_ref());
    let metrics = Arc::new(Metrics::default());
    let hub = Hub {
        io: io.clone(),
        settings: Arc::new(settings),
        auth,
        sse: Arc::new(SseHub::new(Arc::clone(&metrics))),
        metrics,
        adapters,
    };
    for ns in &hub.settings.namespaces {
        clients::serve_namespace(&hub, &io.of(&ns.name));
    }
    let relay = hub.clone();
    io.on_server_side(SSE_RELAY, move |args| relay.on_relay(&args));

    let listener = tokio::net::TcpListener::bind(&hub.settings.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", hub.settings.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", hub.settings.listen))?;
    announce(&hub.settings, addr, tls.is_some());
    let closing = CancellationToken::new();
    let server = tokio::spawn(http::serve(hub.clone(), listener, tls, closing.clone()));
    shutdown_signal().await;
    tracing::info!("shutting down");
    io.close();
    closing.cancel();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), server).await;
    Ok(ExitCode::SUCCESS)
}

/// The Socket.IO server of `settings`.
fn socket_io(settings: &Settings, adapters: Option<&Cluster>) -> SocketIo {
    let mut config = SocketIoConfig::default();
    config.engine.max_payload = settings.max_payload;
    config.recovery = settings.recovery.map(|window| {
        let mut recovery = RecoveryConfig::default();
        recovery.max_disconnection_duration = window;
        // A recovered socket passes auth again: its token may have
        // expired while it was away.
        recovery.skip_middlewares = false;
        recovery
    });
    match adapters {
        Some(adapters) => {
            let factory = adapters.clone();
            SocketIo::with_adapter(config, move |nsp| factory.make(nsp))
        }
        None => SocketIo::with_config(config),
    }
}

/// The start-up lines: where, with what, and a warning when open.
fn announce(settings: &Settings, addr: std::net::SocketAddr, tls: bool) {
    let scheme = if tls { "wss" } else { "ws" };
    let namespaces: Vec<&str> = settings
        .namespaces
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    tracing::info!(
        adapter = settings.adapter.as_deref().unwrap_or("memory"),
        namespaces = ?namespaces,
        api = settings.api_key.is_some(),
        "listening on {scheme}://{addr}/socket.io/ (SSE at /sse, metrics at /metrics)"
    );
    if settings.jwt_secret.is_none() && settings.jwt_public_key.is_none() {
        tracing::warn!(
            "no auth configured: any client may connect and join any room (give --jwt-secret or --jwt-public-key)"
        );
    }
}
