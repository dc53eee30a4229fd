//! The wire check of benches/rpc/run.sh: jsonrpsee's own WebSocket client
//! against a server of the benchmark. It calls `add` and `add_async`,
//! sends a batch of 10, subscribes to `subscribe_ticks`, reads 100
//! deliveries in order, unsubscribes, and calls once more. Run against
//! the sockeye-rpc server, it shows that jsonrpsee's client takes
//! sockeye-rpc's responses, batch answers and subscription notifications
//! (`{"subscription": ID, "result": ITEM}`) as its own server's.
//!
//! Usage: `rpc-bench-compat URL`; prints one line and exits 0 when all
//! of it worked, 1 otherwise.

use std::process::ExitCode;
use std::time::Duration;

use jsonrpsee_core::client::{ClientT, SubscriptionClientT};
use jsonrpsee_core::params::BatchRequestBuilder;
use jsonrpsee_core::rpc_params;
use jsonrpsee_ws_client::WsClientBuilder;

/// Every step together may take this long.
const LIMIT: Duration = Duration::from_secs(10);

/// Deliveries read before unsubscribing.
const TICKS: u64 = 100;

async fn check(url: &str) -> Result<(), String> {
    let client = WsClientBuilder::default()
        .build(url)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    for method in ["add", "add_async"] {
        let sum: i64 = client
            .request(method, rpc_params![40, 2])
            .await
            .map_err(|e| format!("{method}: {e}"))?;
        if sum != 42 {
            return Err(format!("{method}(40, 2) answered {sum}"));
        }
    }
    let mut batch = BatchRequestBuilder::new();
    for i in 0..10_i64 {
        batch
            .insert("add", rpc_params![i, 1])
            .map_err(|e| format!("batch params: {e}"))?;
    }
    let answers = client
        .batch_request::<i64>(batch)
        .await
        .map_err(|e| format!("batch: {e}"))?;
    let sums: Vec<i64> = answers
        .into_ok()
        .map_err(|_| "an error in the batch answer".to_string())?
        .collect();
    if sums != (1..=10).collect::<Vec<i64>>() {
        return Err(format!("the batch answered {sums:?}"));
    }
    let mut ticks = client
        .subscribe::<u64, _>(
            "subscribe_ticks",
            rpc_params![1_u64 << 50],
            "unsubscribe_ticks",
        )
        .await
        .map_err(|e| format!("subscribe: {e}"))?;
    for expected in 0..TICKS {
        match ticks.next().await {
            Some(Ok(tick)) if tick == expected => {}
            other => return Err(format!("delivery {expected}: {other:?}")),
        }
    }
    ticks
        .unsubscribe()
        .await
        .map_err(|e| format!("unsubscribe: {e}"))?;
    let sum: i64 = client
        .request("add", rpc_params![1, 1])
        .await
        .map_err(|e| format!("add after unsubscribing: {e}"))?;
    if sum != 2 {
        return Err(format!("add(1, 1) answered {sum}"));
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let Some(url) = std::env::args().nth(1) else {
        eprintln!("usage: rpc-bench-compat URL");
        return ExitCode::from(2);
    };
    match tokio::time::timeout(LIMIT, check(&url)).await {
        Ok(Ok(())) => {
            println!(
                "{url}: jsonrpsee client: add, add_async, a batch of 10, {TICKS} deliveries, unsubscribe: ok"
            );
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("{url}: jsonrpsee client: {e}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("{url}: jsonrpsee client: no result within {LIMIT:?}");
            ExitCode::FAILURE
        }
    }
}
