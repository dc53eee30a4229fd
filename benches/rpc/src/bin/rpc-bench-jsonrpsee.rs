//! The jsonrpsee server of benches/rpc/run.sh, with the same methods as
//! `rpc-bench-sockeye`: `add` ([a, b] → a + b, `register_method`, answered
//! at once), `add_async` (`register_async_method`), and the subscription
//! `subscribe_ticks` ([count]) / `tick` / `unsubscribe_ticks`, which sends
//! 0, 1, … count − 1 as fast as jsonrpsee's `SubscriptionSink::send` takes
//! them. The runtime is tokio's single-threaded one, as for the
//! sockeye-rpc server: the benchmark gives each server one core.
//!
//! Limits: jsonrpsee's defaults (10 MiB messages, unlimited batches, a
//! message buffer of 1,024 per connection, 1,024 subscriptions per
//! connection), except connections, raised from 100 to 10,000 so that
//! they are never the bottleneck. WebSocket only, no pings (the sockeye-rpc
//! server sends none either).
//!
//! Usage: `rpc-bench-jsonrpsee PORT` (listens on 127.0.0.1 only).

use jsonrpsee::RpcModule;
use jsonrpsee::server::{BatchRequestConfig, Server, ServerConfig};
use jsonrpsee::types::ErrorObjectOwned;

fn module() -> RpcModule<()> {
    let mut module = RpcModule::new(());
    module
        .register_method("add", |params, (), _| {
            let (a, b): (i64, i64) = params.parse()?;
            Ok::<_, ErrorObjectOwned>(a.wrapping_add(b))
        })
        .expect("a fresh name");
    module
        .register_async_method("add_async", |params, _, _| async move {
            let (a, b): (i64, i64) = params.parse()?;
            Ok::<_, ErrorObjectOwned>(a.wrapping_add(b))
        })
        .expect("a fresh name");
    module
        .register_subscription(
            "subscribe_ticks",
            "tick",
            "unsubscribe_ticks",
            |params, pending, _, _| async move {
                let count = match params.parse::<(u64,)>() {
                    Ok((count,)) => count,
                    Err(error) => {
                        pending.reject(error).await;
                        return;
                    }
                };
                let Ok(sink) = pending.accept().await else {
                    return;
                };
                for tick in 0..count {
                    let Ok(item) = serde_json::value::to_raw_value(&tick) else {
                        return;
                    };
                    if sink.send(item).await.is_err() {
                        return;
                    }
                }
            },
        )
        .expect("fresh names");
    module
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(3302);
    let config = ServerConfig::builder()
        .ws_only()
        .max_connections(10_000)
        .max_request_body_size(10 << 20)
        .max_response_body_size(10 << 20)
        .max_subscriptions_per_connection(1024)
        .set_message_buffer_capacity(1024)
        .set_batch_request_config(BatchRequestConfig::Unlimited)
        .set_tcp_no_delay(true)
        .build();
    let server = Server::builder()
        .set_config(config)
        .build(("127.0.0.1", port))
        .await?;
    println!("listening on 127.0.0.1:{port}");
    let handle = server.start(module());
    handle.stopped().await;
    Ok(())
}
