//! The sockeye-io server that `benches/socketio/cluster.sh` runs two of on
//! one Redis: the events of `sockeye-io`'s `socketio-bench-server` example,
//! with its namespaces made by [`RedisAdapters`], so that a `blast` sent to
//! either server reaches the room's sockets on both.
//!
//! - `echo` is acknowledged with its arguments;
//! - `join` (room) puts the sender in the room;
//! - `blast` (room, count, payload) emits `blast` with `payload` to the
//!   room `count` times, in a loop on the server: each emit reaches this
//!   server's sockets directly and the other servers' through one publish
//!   on Redis, as Node's `@socket.io/redis-adapter` does.
//!
//! The handlers are written again here rather than shared: the bench
//! server is an example of `sockeye-io`, which cannot depend on this crate
//! (it depends on `sockeye-io`). Settings are the defaults, as for the Node
//! peer (`benches/socketio/node/server.mjs` with `REDIS_URL`): JSON parser,
//! 25 s / 20 s ping, no WebSocket compression, the classic pub/sub adapter
//! with its default limits. The runtime is tokio's single-threaded one:
//! the benchmark gives the cluster's servers one core between them.
//!
//! ```text
//! cargo run --release -p sockeye-io-redis --example socketio-bench-cluster-server -- PORT REDIS_URL
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use sockeye_io::{Args, SocketIo, SocketIoConfig, Value};
use sockeye_io_redis::{RedisAdapterConfig, RedisAdapters};

/// Registers the events of `/`.
fn bench_namespace(io: &SocketIo) {
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

/// `blast` (room, count, payload): the fan-out loop, each emit reaching
/// the whole cluster. Arguments of the wrong type are ignored, as the
/// Node peer does.
fn blast(server: &SocketIo, args: Args) {
    let Ok((room, count, payload)) = args.into_tuple::<(String, u32, Value)>() else {
        return;
    };
    let room = server.to(room);
    for _ in 0..count {
        // An emit fails only when its arguments do not serialize, which a
        // `Value` always does. A publish the adapter drops (its queue
        // full) is counted by the adapter and missed by the bench.
        let _ = room.emit("blast", payload.clone());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: socketio-bench-cluster-server PORT REDIS_URL";
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let url = args.next().ok_or(usage)?;

    let adapters = RedisAdapters::new(&url, RedisAdapterConfig::default())?;
    let factory = adapters.clone();
    let mut config = SocketIoConfig::default();
    // The Node peer has no bound on how fast sessions open, and the bench
    // opens a thousand at once.
    config.engine.max_handshake_rate = 0;
    let io = SocketIo::with_adapter(config, move |nsp| factory.make(nsp));
    bench_namespace(&io);

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on 127.0.0.1:{port}, adapter on {url}");
    io.serve(listener).await?;
    Ok(())
}
