//! A sockeye-io server on the NATS adapter with recovery through
//! `JetStream`, for the checks with Node clients
//! (`interop/nats-adapter/recovery.mjs`).
//!
//! At connection, a client's auth `{name, rooms}` names it and puts it in
//! `rooms`; its data becomes `{name, server}`. Events:
//!
//! - `numbers` `{count, every_ms}`: emits `n` with 1, 2, ... `count` to
//!   every socket of the cluster, one every `every_ms` milliseconds
//!   (bounded: at most 100,000 numbers, at least 1 ms apart);
//! - `op` `{op, ...}`, acknowledged with the answer:
//!   - `broadcast` `{to, event, data}`: emits `event` with `data` to the
//!     sockets in `to` (all when empty), cluster-wide;
//!   - `fetch` `{to}`: the sockets in `to` on every server, each as
//!     `{id, rooms, data}`;
//!   - `join` `{to, room}`: the sockets in `to`, on every server, join
//!     `room`;
//!   - `server-side-emit-with-ack` `{event, data}`: `{replies, complete}`
//!     from the other servers, whose handler of `ask` replies
//!     `{server, got}`;
//!   - `broadcast-with-ack` `{to, event, data}`: `{replies, complete}`,
//!     every socket's first ack argument;
//!   - `server-count`, `all-rooms`, `stats`.
//!
//! ```text
//! cargo run -p sockeye-io-nats --example nats-cluster-server -- PORT NATS_URL [NAME]
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{Value as Json, json};
use sockeye_io::{
    BroadcastOperator, RecoveryConfig as IoRecovery, SocketIo, SocketIoConfig, from_value, to_value,
};
use sockeye_io_nats::{NatsAdapterConfig, NatsAdapters, RecoveryConfig};

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

/// The sockets of `/` that `request`'s `to` selects.
fn target(io: &SocketIo, request: &Json) -> BroadcastOperator {
    let to = strings(request, "to");
    if to.is_empty() {
        io.broadcast()
    } else {
        io.broadcast().to(to)
    }
}

/// A value as JSON (`null` when it has no JSON form).
fn json_of(value: sockeye_io::Value) -> Json {
    from_value::<Json>(value).unwrap_or(Json::Null)
}

/// `broadcast-with-ack`: every socket's first ack argument, and whether
/// all answered in time.
async fn broadcast_with_ack(io: &SocketIo, request: &Json) -> Json {
    let event = request["event"].as_str().unwrap_or("event").to_owned();
    let op = target(io, request).timeout(Duration::from_secs(3));
    match op.emit_with_ack_everywhere(&event, request["data"].clone()) {
        Ok(answers) => {
            let answers = answers.await;
            let mut complete = answers.remote.complete;
            let mut replies = Vec::new();
            for answer in answers.local {
                match answer.result {
                    Ok(args) => {
                        replies.push(
                            args.into_values()
                                .into_iter()
                                .next()
                                .map_or(Json::Null, json_of),
                        );
                    }
                    Err(_) => complete = false,
                }
            }
            replies.extend(answers.remote.acks.into_iter().map(json_of));
            json!({ "replies": replies, "complete": complete })
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Carries out one `op` request; its answer.
async fn op(io: &SocketIo, adapters: &NatsAdapters, request: Json) -> Json {
    let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
    match request["op"].as_str().unwrap_or_default() {
        "broadcast" => json!(
            target(io, &request)
                .emit(&text("event"), request["data"].clone())
                .is_ok()
        ),
        "broadcast-with-ack" => broadcast_with_ack(io, &request).await,
        "fetch" => {
            let sockets = target(io, &request).fetch_sockets().await;
            Json::Array(
                sockets
                    .iter()
                    .map(|s| {
                        json!({
                            "id": s.id().as_str(),
                            "rooms": s.rooms().iter().map(ToString::to_string).collect::<Vec<_>>(),
                            "data": json_of(s.data().clone()),
                        })
                    })
                    .collect(),
            )
        }
        "join" => {
            target(io, &request).join(text("room"));
            json!(true)
        }
        "server-side-emit-with-ack" => {
            match io
                .of("/")
                .server_side_emit_with_ack(&text("event"), request["data"].clone())
                .await
            {
                Ok(answer) => json!({
                    "replies": answer.replies.into_iter().map(json_of).collect::<Vec<_>>(),
                    "complete": answer.complete,
                }),
                Err(e) => json!({ "error": e.to_string() }),
            }
        }
        "server-count" => json!(io.of("/").server_count().await),
        "all-rooms" => {
            let mut rooms: Vec<String> = io
                .of("/")
                .all_rooms()
                .await
                .iter()
                .map(ToString::to_string)
                .collect();
            rooms.sort_unstable();
            json!(rooms)
        }
        "stats" => {
            let stats = adapters.stats();
            json!({
                "unpublished": stats.unpublished,
                "reconnects": stats.reconnects,
                "malformed": stats.malformed,
                "overflowed": stats.overflowed,
                "refused_requests": stats.refused_requests,
                "timed_out_requests": stats.timed_out_requests,
            })
        }
        other => json!({ "error": format!("unknown op {other:?}") }),
    }
}

/// Emits `n` with 1 to `count` cluster-wide, one every `every`.
fn numbers(io: SocketIo, request: &Json) {
    let count = request["count"].as_u64().unwrap_or(0).min(100_000);
    let every = Duration::from_millis(request["every_ms"].as_u64().unwrap_or(5).max(1));
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let usage = "usage: nats-cluster-server PORT NATS_URL [NAME]";
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let url = args.next().ok_or(usage)?;
    let name = args.next().unwrap_or_else(|| format!("sockeye-{port}"));

    let config = NatsAdapterConfig {
        recovery: Some(RecoveryConfig::default()),
        ..NatsAdapterConfig::default()
    };
    let adapters = NatsAdapters::new(&url, config).await?;
    let mut io_config = SocketIoConfig::default();
    io_config.recovery = Some(IoRecovery::default());
    let factory = adapters.clone();
    let io = SocketIo::with_adapter(io_config, move |nsp| factory.make(nsp));

    let me = name.clone();
    io.of("/").on_server_side_with_ack("ask", move |args| {
        let reply = json!({
            "server": me,
            "got": args.into_values().into_iter().next().map(json_of),
        });
        async move { to_value(&reply).unwrap_or(sockeye_io::Value::Nil) }
    });

    let server = io.clone();
    io.ns("/", move |socket| {
        let io = server.clone();
        let adapters = adapters.clone();
        let name = name.clone();
        async move {
            let auth = json_of(socket.auth().clone());
            for room in strings(&auth, "rooms") {
                socket.join(room);
            }
            if let Ok(data) = to_value(&json!({ "name": auth["name"], "server": name })) {
                socket.set_data(data);
            }
            let numbers_io = io.clone();
            socket.on("numbers", move |_, request: Json| {
                numbers(numbers_io.clone(), &request);
                async {}
            });
            socket.on("op", move |_, request: Json| {
                let (io, adapters) = (io.clone(), adapters.clone());
                async move { op(&io, &adapters, request).await }
            });
        }
    });

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on {}", listener.local_addr()?);
    io.serve(listener).await?;
    Ok(())
}
