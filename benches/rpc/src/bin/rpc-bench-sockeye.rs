//! The sockeye-rpc server of benches/rpc/run.sh: `add` ([a, b] → a + b,
//! answered at once with `Methods::sync_method`), `add_async` (the same
//! through `Methods::method`, a future per call), and the subscription
//! `subscribe_ticks` ([count]) / `tick` / `unsubscribe_ticks`, which
//! sends 0, 1, … count − 1 as fast as `SubscriptionSink::send` takes
//! them. The runtime is tokio's single-threaded one, as for the jsonrpsee
//! server: the benchmark gives each server one core.
//!
//! Limits, set to the same values as the jsonrpsee server's (which are
//! also sockeye-rpc's defaults): 10 MiB messages, batches up to 1,000,
//! 1,024 queued outgoing messages and 1,024 subscriptions per connection.
//! Requests in flight per connection: sockeye-rpc's default, 1,024
//! (each member of a batch counted), which 4 batches of 100 in flight
//! stay under; jsonrpsee has no such limit. Connections are not limited.
//!
//! Usage: `rpc-bench-sockeye PORT` (listens on 127.0.0.1 only).

use sockeye_rpc::{Batches, Config, ErrorObject, Methods, spawn};
use tokio::net::TcpListener;

fn methods() -> Methods<()> {
    let mut methods = Methods::new();
    methods
        .sync_method("add", |_, (a, b): (i64, i64)| {
            Ok::<_, ErrorObject>(a.wrapping_add(b))
        })
        .method("add_async", |_, (a, b): (i64, i64)| async move {
            Ok::<_, ErrorObject>(a.wrapping_add(b))
        })
        .subscription(
            "subscribe_ticks",
            "tick",
            "unsubscribe_ticks",
            |_, (count,): (u64,), pending| async move {
                let Ok(sink) = pending.accept().await else {
                    return;
                };
                for tick in 0..count {
                    if sink.send(&tick).await.is_err() {
                        return;
                    }
                }
            },
        );
    methods
}

fn config() -> Config {
    let mut config = Config::default();
    config.max_message_size = 10 << 20;
    config.batches = Batches::Upto(1000);
    config.outgoing_queue = 1024;
    config.max_subscriptions = 1024;
    config
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(3301);
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on 127.0.0.1:{port}");
    let (methods, config) = (methods(), config());
    loop {
        let (tcp, _) = listener.accept().await?;
        let _ = tcp.set_nodelay(true);
        let (methods, config) = (methods.clone(), config.clone());
        tokio::spawn(async move {
            if let Ok(ws) = sockeye::ServerBuilder::new()
                .max_message_size(config.max_message_size)
                .accept(tcp)
                .await
            {
                spawn(ws, methods, (), config);
            }
        });
    }
}
