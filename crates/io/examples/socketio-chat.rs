//! The README's Socket.IO example: rooms, typed arguments, an
//! acknowledgement. Any socket.io-client connects to
//! `http://127.0.0.1:3000`.
//!
//! ```text
//! cargo run -p sockeye-io --example socketio-chat
//! ```

use serde::Deserialize;
use sockeye_io::{Args, SocketIo};

#[derive(Deserialize)]
struct Chat {
    room: String,
    text: String,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = SocketIo::new();
    io.ns("/", |socket| async move {
        socket.on(
            "join",
            |socket, room: String| async move { socket.join(room) },
        );
        socket.on("chat", |socket, chat: Chat| async move {
            let _ = socket.to(chat.room.as_str()).emit("chat", chat.text);
        });
        socket.on_args("echo", |_, args: Args| async move { args }); // the acknowledgement
    });
    // Or mount `io.service()` / `io.layer()` in hyper or axum.
    io.serve(tokio::net::TcpListener::bind("127.0.0.1:3000").await?)
        .await
}
