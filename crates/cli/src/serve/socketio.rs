//! `--socketio`: a Socket.IO echo server at `/socket.io/` beside the
//! WebSocket routes, for trying Socket.IO clients out.

use std::sync::Arc;

use sockeye_io::engine::{Cors, CorsOrigins, Engine, Refusal};
use sockeye_io::{Args, Client, SocketIo, SocketIoConfig};

/// The echo server's HTTP service: every namespace exists; `message` is
/// answered `message-back` with its arguments, and every event asking for
/// an acknowledgement gets its arguments back as the acknowledgement.
/// With `allowed_origins`, browsers of those origins alone may connect
/// (a 403 for the others) and read the polling answers (CORS).
pub(super) fn echo_server(allowed_origins: &[String]) -> Engine<Client> {
    let io = SocketIo::with_config(config(allowed_origins));
    io.dynamic_ns(|_, _| true)
        .on_connection(|socket| async move {
            socket.on_args("message", |socket, args: Args| async move {
                let _ = socket.emit("message-back", args.clone());
                args
            });
            socket.on_fallback(|_, _, args: Args| async move { args });
        });
    io.service()
}

/// The defaults, with the origin allow-list as CORS and as a check of
/// every handshake's `Origin`.
fn config(allowed_origins: &[String]) -> SocketIoConfig {
    let mut config = SocketIoConfig::default();
    if allowed_origins.is_empty() {
        return config;
    }
    config.engine.cors = Cors {
        origins: CorsOrigins::List(allowed_origins.to_vec()),
        credentials: false,
    };
    let allowed: Arc<[String]> = allowed_origins.into();
    config.engine.allow_request = Some(Arc::new(move |request: &http::request::Parts| {
        match request.headers.get(http::header::ORIGIN) {
            Some(origin) if !allowed.iter().any(|a| a.as_bytes() == origin.as_bytes()) => {
                Err(Refusal::forbidden())
            }
            // Programs that are not browsers send no `Origin`.
            _ => Ok(()),
        }
    }));
    config
}
