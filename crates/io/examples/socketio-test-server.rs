//! The servers the Engine.IO v4 and Socket.IO v5 protocol test suites run
//! against (`docs/engine.io-protocol/v4-test-suite/` and
//! `docs/socket.io-protocol/v5-test-suite/` in `socketio/socket.io`), both
//! with a 300 ms ping interval, a 200 ms ping timeout, a 1,000,000-byte
//! max payload and CORS for any origin:
//!
//! - `/engine.io/`: Engine.IO, echoing every message (text as text,
//!   binary as binary);
//! - `/socket.io/`: Socket.IO with a 1 s connect timeout and the
//!   namespaces `/` and `/custom`. Each new socket is sent `auth` with the
//!   handshake's auth; on `/`, `message` is answered `message-back` with
//!   the same arguments, and `message-with-ack` is acknowledged with them.
//!
//! ```text
//! cargo run -p sockeye-io --example socketio-test-server -- [PORT [--eio3]]
//! ```
//!
//! `--eio3` also serves Engine.IO v3 (`allow_eio3`), for the v3 suite
//! (`docs/engine.io-protocol/v3-test-suite/`).
//!
//! Listens on `127.0.0.1:PORT` and `[::1]:PORT` (default 3000): the suite
//! connects to `localhost`, which may resolve to either.

use std::convert::Infallible;
use std::future::Future;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use sockeye_io::engine::{
    CloseReason, Cors, CorsOrigins, Engine, EngineBody, EngineConfig, EngineHandler, EngineSocket,
    Payload, serve,
};
use sockeye_io::{Args, Client, DEFAULT_PATH, SocketIo, SocketIoConfig};
use tower_service::Service;

/// Echoes every message back to its sender.
struct Echo;

impl EngineHandler for Echo {
    type Data = ();

    fn on_open(&self, _socket: &Arc<EngineSocket<()>>) {}

    fn on_message(&self, socket: &Arc<EngineSocket<()>>, payload: Payload) {
        let _ = socket.send(payload);
    }

    fn on_close(&self, _socket: &Arc<EngineSocket<()>>, _reason: CloseReason) {}
}

/// The services of the test server, by path.
#[derive(Clone)]
struct Routes {
    /// The Engine.IO echo server, at `/engine.io/`.
    engine: Engine<Echo>,
    /// The Socket.IO server, at `/socket.io/`.
    socketio: Engine<Client>,
}

impl Service<Request<Incoming>> for Routes {
    type Response = Response<EngineBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<EngineBody>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        if self.engine.serves_path(request.uri().path()) {
            return self.engine.call(request);
        }
        if self.socketio.serves_path(request.uri().path()) {
            return self.socketio.call(request);
        }
        Box::pin(async {
            let mut not_found = Response::new(EngineBody::default());
            *not_found.status_mut() = StatusCode::NOT_FOUND;
            Ok(not_found)
        })
    }
}

/// The Engine.IO settings the test suite expects.
fn engine_config(allow_eio3: bool) -> EngineConfig {
    EngineConfig {
        allow_eio3,
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        max_payload: 1_000_000,
        cors: Cors {
            origins: CorsOrigins::Any,
            credentials: false,
        },
        ..EngineConfig::default()
    }
}

/// The Socket.IO server the v5 suite expects.
fn socketio(allow_eio3: bool) -> SocketIo {
    let mut config = SocketIoConfig::default();
    config.engine = EngineConfig {
        path: DEFAULT_PATH.into(),
        ..engine_config(allow_eio3)
    };
    config.connect_timeout = Duration::from_secs(1);
    let io = SocketIo::with_config(config);
    io.ns("/", |socket| async move {
        let _ = socket.emit("auth", socket.auth().clone());
        socket.on_args("message", |socket, args: Args| async move {
            let _ = socket.emit("message-back", args);
        });
        socket.on_args("message-with-ack", |_, args: Args| async move { args });
    });
    io.ns("/custom", |socket| async move {
        let _ = socket.emit("auth", socket.auth().clone());
    });
    io
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = match std::env::args().nth(1) {
        Some(arg) => arg.parse::<u16>().map_err(|_| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "usage: socketio-test-server [PORT]",
            )
        })?,
        None => 3000,
    };
    let allow_eio3 = std::env::args().skip(2).any(|arg| arg == "--eio3");
    let routes = Routes {
        engine: Engine::new(engine_config(allow_eio3), Echo),
        socketio: socketio(allow_eio3).service(),
    };
    let v4 = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    // IPv6 may be off on the machine: then IPv4 alone serves `localhost`.
    let v6 = tokio::net::TcpListener::bind(SocketAddr::from((Ipv6Addr::LOCALHOST, port)))
        .await
        .inspect_err(|error| eprintln!("not listening on [::1]:{port}: {error}"))
        .ok();
    println!(
        "listening on 127.0.0.1:{port}{}",
        if v6.is_some() { " and [::1]" } else { "" }
    );
    match v6 {
        Some(v6) => {
            tokio::try_join!(serve(v4, routes.clone()), serve(v6, routes))?;
        }
        None => serve(v4, routes).await?,
    }
    Ok(())
}
