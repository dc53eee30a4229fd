//! socketioxide serving the events of benches/socketio (see
//! `crates/io/examples/socketio-bench-server.rs` for what each does):
//! `echo` acknowledged with its argument, `join` (room), and `blast`
//! (room, count, payload) which emits `blast` with the payload to the room
//! `count` times. Default settings otherwise: JSON parser, 25 s / 20 s
//! ping, no WebSocket compression (socketioxide has none). The runtime is
//! tokio's single-threaded one, as for sockeye-io's bench server: the
//! benchmark gives each server one core.
//!
//! Usage: `socketioxide-bench-server PORT` (listens on 127.0.0.1 only).

use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

async fn on_connect(socket: SocketRef) {
    socket.on("echo", async |Data::<Value>(data), ack: AckSender| {
        let _ = ack.send(&data);
    });
    socket.on("join", async |socket: SocketRef, Data::<String>(room)| {
        socket.join(room);
    });
    socket.on(
        "blast",
        async |socket: SocketRef, Data::<(String, u32, Value)>((room, count, payload))| {
            for _ in 0..count {
                let _ = socket.within(room.clone()).emit("blast", &payload).await;
            }
        },
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(3000);
    let (layer, io) = SocketIo::new_layer();
    io.ns("/", on_connect);
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on 127.0.0.1:{port}");
    axum::serve(listener, app).await
}
