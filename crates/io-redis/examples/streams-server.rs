//! A sockeye-io server on the Redis Streams adapter, with connection state
//! recovery on, for the checks against Node
//! (`interop/redis-adapter/streams.mjs`).
//!
//! At connection, a client's auth `{rooms}` puts it in `rooms`. Events:
//!
//! - `emit` `{to, event, data}`: emits `event` with `data` to the sockets
//!   in `to` (all when empty), cluster-wide;
//! - `numbers` `{count, every_ms}`: emits `n` with 1, 2, ... `count` to
//!   every socket of the cluster, one every `every_ms` milliseconds
//!   (bounded: at most 100,000 numbers, at least 1 ms apart);
//! - `fetch`: answers the ids of every socket of the cluster;
//! - `ask`: sends the server-side event `whoami` to the other servers
//!   and answers `{replies, complete}`.
//!
//! It answers `whoami` with `sockeye:PORT`.
//!
//! ```text
//! cargo run -p sockeye-io-redis --example streams-server -- PORT REDIS_URL
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value as Json;
use serde_json::json;
use sockeye_io::{RecoveryConfig, SocketIo, SocketIoConfig, from_value};
use sockeye_io_redis::streams::{RedisStreamsAdapters, RedisStreamsConfig};

/// The strings of `request[key]` (none when it is missing).
fn strings(request: &Json, key: &str) -> Vec<String> {
    request[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: streams-server PORT REDIS_URL";
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let url = args.next().ok_or(usage)?;

    let adapters = RedisStreamsAdapters::new(&url, RedisStreamsConfig::default())?;
    let mut config = SocketIoConfig::default();
    config.recovery = Some(RecoveryConfig::default());
    let io = SocketIo::with_adapter(config, move |nsp| adapters.make(nsp));
    io.of("/")
        .on_server_side_with_ack("whoami", move |_| async move {
            sockeye_io::Value::from(format!("sockeye:{port}"))
        });
    let server = io.clone();
    io.ns("/", move |socket| {
        let io = server.clone();
        async move {
            let auth = from_value::<Json>(socket.auth().clone()).unwrap_or(Json::Null);
            for room in strings(&auth, "rooms") {
                socket.join(room);
            }
            let fetch_io = io.clone();
            socket.on("fetch", move |_, _: Json| {
                let io = fetch_io.clone();
                async move {
                    let ids: Vec<String> = io
                        .fetch_sockets()
                        .await
                        .iter()
                        .map(|s| s.id().as_str().to_owned())
                        .collect();
                    json!(ids)
                }
            });
            let ask_io = io.clone();
            socket.on("ask", move |_, _: Json| {
                let io = ask_io.clone();
                async move {
                    match io.of("/").server_side_emit_with_ack("whoami", ()).await {
                        Ok(answer) => json!({
                            "replies": answer
                                .replies
                                .into_iter()
                                .map(|v| from_value::<Json>(v).unwrap_or(Json::Null))
                                .collect::<Vec<_>>(),
                            "complete": answer.complete,
                        }),
                        Err(e) => json!({ "error": e.to_string() }),
                    }
                }
            });
            let to_io = io.clone();
            socket.on("emit", move |_, request: Json| {
                let io = to_io.clone();
                async move {
                    let mut op = io.broadcast();
                    for room in strings(&request, "to") {
                        op = op.to(room);
                    }
                    let event = request["event"].as_str().unwrap_or("event").to_owned();
                    if let Err(e) = op.emit(&event, request["data"].clone()) {
                        eprintln!("emit: {e}");
                    }
                }
            });
            socket.on("numbers", move |_, request: Json| {
                let io = io.clone();
                async move {
                    let count = request["count"].as_u64().unwrap_or(0).min(100_000);
                    let every =
                        Duration::from_millis(request["every_ms"].as_u64().unwrap_or(5).max(1));
                    tokio::spawn(async move {
                        let mut tick = tokio::time::interval(every);
                        for n in 1..=count {
                            tick.tick().await;
                            if let Err(e) = io.emit("n", n) {
                                eprintln!("numbers: {e}");
                            }
                        }
                    });
                }
            });
        }
    });

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on {}", listener.local_addr()?);
    io.serve(listener).await?;
    Ok(())
}
