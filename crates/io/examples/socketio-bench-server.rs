//! The Socket.IO server `benches/socketio/run.sh` measures, with the same
//! events as its Node `socket.io` and socketioxide peers:
//!
//! - `echo` is acknowledged with its arguments (round trips);
//! - `join` (room) puts the sender in the room;
//! - `blast` (room, count, payload) emits `blast` with `payload` to every
//!   socket in `room`, `count` times, in a loop on the server (broadcast
//!   deliveries: one small event in, `count` times the room's size out).
//!
//! Idle clients only connect to `/`, which needs nothing more. Settings are
//! the defaults, as for the peers: JSON parser, 25 s / 20 s ping, no
//! WebSocket compression. The runtime is tokio's single-threaded one, as
//! for socketioxide beside it: the benchmark gives each server one core.
//!
//! ```text
//! cargo run --release -p sockeye-io --example socketio-bench-server -- PORT
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use sockeye_io::{Args, SocketIo, SocketIoConfig, Value};

/// The default port, when none is given.
const DEFAULT_PORT: u16 = 3000;

/// Registers the events of `/`.
pub(crate) fn bench_namespace(io: &SocketIo) {
    let server = io.clone();
    io.ns("/", move |socket| {
        let server = server.clone();
        async move {
            socket.on_args("echo", |_, args: Args| async move { args });
            socket.on("join", |socket, room: String| async move {
                socket.join(&room);
            });
            socket.on_args("blast", move |_, args: Args| {
                let server = server.clone();
                async move { blast(&server, args) }
            });
        }
    });
}

/// `blast` (room, count, payload): the server-side fan-out loop. Arguments
/// of the wrong type are ignored, as the peers do.
fn blast(server: &SocketIo, args: Args) {
    let Ok((room, count, payload)) = args.into_tuple::<(String, u32, Value)>() else {
        return;
    };
    let room = server.to(room);
    for _ in 0..count {
        let _ = room.emit("blast", payload.clone());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(DEFAULT_PORT);
    let mut config = SocketIoConfig::default();
    // The peers measured beside it have no bound on how fast sessions
    // open, and the idle scenario opens 10,000 at once.
    config.engine.max_handshake_rate = 0;
    let io = SocketIo::with_config(config);
    bench_namespace(&io);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on 127.0.0.1:{port}");
    io.serve(listener).await
}
