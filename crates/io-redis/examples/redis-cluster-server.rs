//! A sockeye-io server in a Redis cluster, for the mixed-cluster check
//! against Node (`interop/redis-adapter/cluster.mjs`): each client asks it,
//! through the acknowledged event `op`, to act on the whole cluster, and
//! reads the answer.
//!
//! At connection, a client's auth `{name, rooms}` names it and puts it in
//! `rooms`; its data (Node's `socket.data`) becomes `{name, server}`.
//! `op` takes `{op, ...}`:
//!
//! - `broadcast` `{to, except, event, data}`: emits `event` with `data`
//!   to the sockets in `to` (all when empty) and not in `except`;
//! - `broadcast-with-ack` `{to, except, event, data}`: the same, asking
//!   for acks; answers with `{replies, complete}`, this server's sockets'
//!   first ack arguments and then the other servers';
//! - `fetch` `{to}`: answers with the sockets in `to` on every server,
//!   each as `{id, rooms, data, url, auth}`;
//! - `join` / `leave` `{to, room}`: the sockets in `to` join or leave
//!   `room`; `disconnect` `{to, close}`: they are disconnected;
//! - `server-side-emit` `{event, data}`: a server-side emit;
//!   `heard`: answers with the server-side events received, as
//!   `[event, ...args]`; `server-side-emit-with-ack` `{event, data}`:
//!   answers with `{replies, complete}` from the other servers, whose
//!   handler of `ask` replies `{server, got}`;
//! - `server-count`: answers with the servers counted; `all-rooms`: with
//!   every room of the cluster, sorted; `stats`: with the adapter's
//!   fault counts.
//!
//! ```text
//! cargo run -p sockeye-io-redis --example redis-cluster-server -- PORT REDIS_URL [NAME] [--sharded]
//! ```
//!
//! With `--sharded`, it speaks Node's sharded adapter
//! (`createShardedAdapter`, dynamic subscriptions) instead of the classic
//! one.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{Value as Json, json};
use sockeye_io::{BroadcastOperator, SocketIo, SocketIoConfig, from_value, to_value};
use sockeye_io_redis::{Mode, RedisAdapterConfig, RedisAdapters, SubscriptionMode};

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

/// The sockets of `/` that `request`'s `to` and `except` select.
fn target(io: &SocketIo, request: &Json) -> BroadcastOperator {
    let mut op = io.broadcast();
    let to = strings(request, "to");
    if !to.is_empty() {
        op = op.to(to);
    }
    let except = strings(request, "except");
    if !except.is_empty() {
        op = op.except(except);
    }
    op
}

/// `broadcast-with-ack`: every socket's first ack argument, this
/// server's first, and whether all answered in time.
async fn broadcast_with_ack(io: &SocketIo, request: &Json) -> Json {
    let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
    let op = target(io, request).timeout(std::time::Duration::from_secs(3));
    match op.emit_with_ack_everywhere(&text("event"), request["data"].clone()) {
        Ok(answers) => {
            let answers = answers.await;
            let mut complete = answers.remote.complete;
            let mut replies = Vec::new();
            for answer in answers.local {
                match answer.result {
                    Ok(args) => replies.push(
                        args.into_values()
                            .into_iter()
                            .next()
                            .and_then(|v| from_value::<Json>(v).ok())
                            .unwrap_or(Json::Null),
                    ),
                    Err(_) => complete = false,
                }
            }
            replies.extend(
                answers
                    .remote
                    .acks
                    .into_iter()
                    .map(|v| from_value::<Json>(v).unwrap_or(Json::Null)),
            );
            json!({ "replies": replies, "complete": complete })
        }
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// `fetch`: the sockets selected on every server, described.
async fn fetch(io: &SocketIo, request: &Json) -> Json {
    let sockets = target(io, request).fetch_sockets().await;
    Json::Array(
        sockets
            .iter()
            .map(|s| {
                json!({
                    "id": s.id().as_str(),
                    "rooms": s.rooms().iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "data": from_value::<Json>(s.data().clone()).unwrap_or(Json::Null),
                    "url": s.handshake().target(),
                    "auth": from_value::<Json>(s.auth().clone()).unwrap_or(Json::Null),
                })
            })
            .collect(),
    )
}

/// Carries out one `op` request; its answer.
async fn op(
    io: &SocketIo,
    adapters: &RedisAdapters,
    heard: &Mutex<Vec<Json>>,
    request: Json,
) -> Json {
    let text = |key: &str| request[key].as_str().unwrap_or_default().to_owned();
    match request["op"].as_str().unwrap_or_default() {
        "broadcast" => {
            let sent = target(io, &request).emit(&text("event"), request["data"].clone());
            json!(sent.is_ok())
        }
        "broadcast-with-ack" => broadcast_with_ack(io, &request).await,
        "fetch" => fetch(io, &request).await,
        "join" => {
            target(io, &request).join(text("room"));
            json!(true)
        }
        "leave" => {
            target(io, &request).leave(text("room"));
            json!(true)
        }
        "disconnect" => {
            if request["close"].as_bool() == Some(true) {
                target(io, &request).disconnect_and_close();
            } else {
                target(io, &request).disconnect();
            }
            json!(true)
        }
        "server-side-emit" => json!(
            io.server_side_emit(&text("event"), request["data"].clone())
                .is_ok()
        ),
        "server-side-emit-with-ack" => {
            match io
                .of("/")
                .server_side_emit_with_ack(&text("event"), request["data"].clone())
                .await
            {
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
        "heard" => Json::Array(heard.lock().unwrap_or_else(PoisonError::into_inner).clone()),
        "server-count" => json!(io.of("/").server_count().await),
        "stats" => {
            let stats = adapters.stats();
            json!({
                "unpublished": stats.unpublished,
                "reconnects": stats.reconnects,
                "malformed": stats.malformed,
                "refused_requests": stats.refused_requests,
                "timed_out_requests": stats.timed_out_requests,
            })
        }
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
        other => json!({ "error": format!("unknown op {other:?}") }),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: redis-cluster-server PORT REDIS_URL [NAME] [--sharded]";
    let port: u16 = args.next().ok_or(usage)?.parse()?;
    let url = args.next().ok_or(usage)?;
    let name = args.next().unwrap_or_else(|| format!("sockeye-{port}"));
    let mode = match args.next().as_deref() {
        Some("--sharded") => Mode::Sharded(SubscriptionMode::Dynamic),
        None => Mode::Classic,
        Some(_) => return Err(usage.into()),
    };

    let config = RedisAdapterConfig {
        mode,
        ..RedisAdapterConfig::default()
    };
    let adapters = RedisAdapters::new(&url, config)?;
    let factory = adapters.clone();
    let io = SocketIo::with_adapter(SocketIoConfig::default(), move |nsp| factory.make(nsp));

    let heard: Arc<Mutex<Vec<Json>>> = Arc::default();
    for event in ["hello", "bye"] {
        let heard = Arc::clone(&heard);
        io.on_server_side(event, move |args| {
            let mut entry = vec![json!(event)];
            entry.extend(
                args.into_values()
                    .into_iter()
                    .map(|v| from_value::<Json>(v).unwrap_or(Json::Null)),
            );
            heard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Json::Array(entry));
        });
    }

    let me = name.clone();
    io.of("/").on_server_side_with_ack("ask", move |args| {
        let reply = json!({
            "server": me,
            "got": args.into_values().into_iter().next().and_then(|v| from_value::<Json>(v).ok()),
        });
        async move { to_value(&reply).unwrap_or(sockeye_io::Value::Nil) }
    });

    let server = io.clone();
    io.ns("/", move |socket| {
        let io = server.clone();
        let adapters = adapters.clone();
        let heard = Arc::clone(&heard);
        let name = name.clone();
        async move {
            let auth = from_value::<Json>(socket.auth().clone()).unwrap_or(Json::Null);
            for room in strings(&auth, "rooms") {
                socket.join(room);
            }
            let data = json!({ "name": auth["name"], "server": name });
            if let Ok(data) = to_value(&data) {
                socket.set_data(data);
            }
            socket.on("op", move |_, request: Json| {
                let io = io.clone();
                let adapters = adapters.clone();
                let heard = Arc::clone(&heard);
                async move { op(&io, &adapters, &heard, request).await }
            });
        }
    });

    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("listening on {}", listener.local_addr()?);
    io.serve(listener).await?;
    Ok(())
}
