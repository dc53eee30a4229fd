//! A Socket.IO server exercising every feature real clients are checked
//! against (`interop/socketio/socketio-client.mjs`, and the Python one):
//!
//! - `/`: `echo` acknowledges with its arguments; `join` (room) and
//!   `leave` (room) change rooms and acknowledge; `to-room` (room, data)
//!   sends `room-message` to the others in the room; `broadcast` (data)
//!   sends `broadcast-message` to every other socket; `volatile` (data)
//!   sends `volatile-message` to the sender, volatile; `ask` (data) asks
//!   the client `question` with an acknowledgement and acknowledges with
//!   its answer, or with `{"error":"timeout"}` after 500 ms; `kick`
//!   disconnects the sender from the namespace; `rooms` acknowledges with
//!   the sender's rooms; `fetch` (room) acknowledges with the ids of the
//!   sockets in the room; `auth` comes at connection with the handshake's
//!   auth; `binary` acknowledges with a buffer inside an object.
//! - `/admin`: refuses sockets whose auth `token` is not `"secret"`, with
//!   the message `"not authorized"` and data `{"code":403}`.
//! - `/dyn-<digits>`: dynamic namespaces, which greet with `hello` and
//!   their name.
//! - `/monitor`: gets `disconnected` {id, nsp, reason} for every socket of
//!   `/` that disconnects.
//! - With `--recovery`, connection state recovery is on (a 2-minute
//!   window): `send-to` (socket id, count) emits `tick` 0..count to that
//!   socket, connected or not, and acknowledges; `whoami` acknowledges with
//!   the sender's id and whether it recovered.
//!
//! ```text
//! cargo run -p sockeye-io --example socketio-interop-server -- PORT [--msgpack] [--recovery] [--eio3]
//! ```
//!
//! `--eio3` also serves socket.io-client 2.x (Engine.IO v3, Socket.IO
//! protocol v4; `allow_eio3`), as `interop/socketio-v2/` checks.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use sockeye_io::engine::{Cors, CorsOrigins};
use sockeye_io::parser::Parser;
use sockeye_io::{Args, ConnectRefusal, RecoveryConfig, SocketIo, SocketIoConfig, Value};

/// How long `ask` waits for the client's answer.
const ASK_TIMEOUT: Duration = Duration::from_millis(500);

/// What `disconnected` tells the monitor.
#[derive(Serialize)]
struct Disconnected {
    id: String,
    nsp: String,
    reason: &'static str,
}

/// What `binary` acknowledges with.
#[derive(Serialize)]
struct Upload {
    name: &'static str,
    body: Bytes,
}

/// Which options the command line turned on.
struct Options {
    msgpack: bool,
    recovery: bool,
    eio3: bool,
}

/// What `whoami` acknowledges with.
#[derive(Serialize)]
struct WhoAmI {
    id: String,
    recovered: bool,
}

fn config(options: &Options) -> SocketIoConfig {
    let mut config = SocketIoConfig::default();
    config.engine.allow_eio3 = options.eio3;
    // Pings every 500 ms, so that the checks that keep a session alive
    // see several; 2 s to answer, so that a client starved of CPU on a
    // busy machine (the test command runs builds beside these checks)
    // is not dropped for a late pong in the middle of another check.
    config.engine.ping_interval = Duration::from_millis(500);
    config.engine.ping_timeout = Duration::from_secs(2);
    config.engine.cors = Cors {
        origins: CorsOrigins::Any,
        credentials: false,
    };
    if options.msgpack {
        config.parser = Parser::Msgpack;
    }
    if options.recovery {
        config.recovery = Some(RecoveryConfig::default());
    }
    config
}

fn main_namespace(io: &SocketIo) {
    let monitor = io.of("/monitor");
    let main = io.of("/");
    io.ns("/", move |socket| {
        let monitor = monitor.clone();
        let main = main.clone();
        async move {
            socket.on_args("send-to", move |_, mut args: Args| {
                let main = main.clone();
                async move {
                    let target: String = args.take(0).unwrap_or_default();
                    let count: u32 = args.take(1).unwrap_or(0);
                    for i in 0..count {
                        let _ = main.to(target.as_str()).emit("tick", i);
                    }
                }
            });
            socket.on("whoami", |socket, (): ()| async move {
                WhoAmI {
                    id: socket.id().to_string(),
                    recovered: socket.recovered(),
                }
            });
            let _ = socket.emit("auth", socket.auth().clone());
            socket.on_args("echo", |_, args: Args| async move { args });
            socket.on("join", |socket, room: String| async move {
                socket.join(&room);
            });
            socket.on("leave", |socket, room: String| async move {
                socket.leave(&room);
            });
            socket.on_args("to-room", |socket, mut args: Args| async move {
                let room: String = args.take(0).unwrap_or_default();
                let data: Value = args.take(1).unwrap_or(Value::Nil);
                let _ = socket.to(room).emit("room-message", data);
            });
            socket.on("broadcast", |socket, data: Value| async move {
                let _ = socket.broadcast().emit("broadcast-message", data);
            });
            socket.on("volatile", |socket, data: Value| async move {
                let _ = socket.volatile().emit("volatile-message", data);
            });
            socket.on("ask", |socket, data: Value| async move {
                match socket
                    .timeout(ASK_TIMEOUT)
                    .emit_with_ack("question", data)
                    .await
                {
                    Ok(answer) => answer,
                    Err(e) => {
                        let mut args = Args::new();
                        let _ = args.push(&serde_json::json!({ "error": e.to_string() }));
                        args
                    }
                }
            });
            socket.on("kick", |socket, (): ()| async move {
                socket.disconnect();
            });
            socket.on("rooms", |socket, (): ()| async move {
                let mut rooms: Vec<String> =
                    socket.rooms().iter().map(ToString::to_string).collect();
                rooms.sort();
                rooms
            });
            socket.on("binary", |_, (): ()| async move {
                Upload {
                    name: "a.bin",
                    body: Bytes::from_static(&[0, 1, 2, 255]),
                }
            });
            socket.on_disconnect(move |socket, reason| async move {
                let _ = monitor.emit(
                    "disconnected",
                    Disconnected {
                        id: socket.id().to_string(),
                        nsp: socket.nsp().to_owned(),
                        reason: reason.as_str(),
                    },
                );
            });
        }
    });
}

fn other_namespaces(io: &SocketIo) {
    io.of("/admin")
        .with(|socket| async move {
            let token = socket.auth().as_map().and_then(|fields| {
                fields
                    .iter()
                    .find(|(key, _)| key.as_str() == Some("token"))
                    .and_then(|(_, value)| value.as_str())
            });
            if token == Some("secret") {
                Ok(())
            } else {
                Err(ConnectRefusal::new("not authorized")
                    .with_data(&serde_json::json!({ "code": 403 }))
                    .expect("json serializes"))
            }
        })
        .on_connection(|socket| async move {
            let _ = socket.emit("welcome", "admin");
        });
    io.dynamic_ns(|name, _auth| {
        name.strip_prefix("/dyn-")
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
    })
    .on_connection(|socket| async move {
        let _ = socket.emit("hello", socket.nsp().to_owned());
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().and_then(|arg| arg.parse().ok()).unwrap_or(3000);
    let flags: Vec<String> = args.collect();
    let has = |flag: &str| flags.iter().any(|arg| arg == flag);
    let options = Options {
        msgpack: has("--msgpack"),
        recovery: has("--recovery"),
        eio3: has("--eio3"),
    };
    let io = SocketIo::with_config(config(&options));
    main_namespace(&io);
    other_namespaces(&io);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on 127.0.0.1:{port}");
    io.serve(listener).await
}
