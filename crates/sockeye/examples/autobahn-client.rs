//! Runs the Autobahn `TestSuite`'s client cases with the sockeye client.
//!
//! ```text
//! autobahn-client ws://127.0.0.1:9001 [agent]
//! ```
//!
//! Asks the fuzzing server for the number of cases, echoes every message of
//! each case back until the server closes, and finally asks it to write its
//! reports.

use futures_util::{SinkExt, StreamExt};
use sockeye::Message;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:9001".to_owned());
    let base = base.trim_end_matches('/');
    let agent = args.next().unwrap_or_else(|| "sockeye".to_owned());

    let count = match case_count(base).await {
        Ok(count) => count,
        Err(e) => {
            eprintln!("autobahn-client: cannot get the case count: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("autobahn-client: {count} cases");
    for case in 1..=count {
        let url = format!("{base}/runCase?case={case}&agent={agent}");
        if let Err(e) = run_case(&url).await {
            eprintln!("autobahn-client: case {case}: {e}");
        }
    }
    let url = format!("{base}/updateReports?agent={agent}");
    match sockeye::connect(&url).await {
        Ok(mut ws) => {
            let _ = ws.close(sockeye::CloseCode::NORMAL, "").await;
        }
        Err(e) => {
            eprintln!("autobahn-client: cannot update the reports: {e}");
            std::process::exit(1);
        }
    }
}

async fn case_count(base: &str) -> sockeye::Result<u32> {
    let mut ws = sockeye::connect(&format!("{base}/getCaseCount")).await?;
    let mut count = None;
    while let Some(message) = ws.next().await {
        if let Message::Text(text) = message? {
            count = text.trim().parse().ok();
        }
    }
    count.ok_or(sockeye::Error::Closed)
}

/// Echoes text as text and binary as binary until the server closes.
async fn run_case(url: &str) -> sockeye::Result<()> {
    // Offer permessage-deflate with the promise not to keep context between
    // messages, which every 13.x case's server accepts.
    let deflate = sockeye::proto::DeflateConfig {
        client_no_context_takeover: true,
        ..sockeye::proto::DeflateConfig::default()
    };
    let (mut ws, _) = sockeye::ClientBuilder::new(url)
        .deflate(Some(deflate))
        .connect()
        .await?;
    while let Some(message) = ws.next().await {
        // `feed` queues the echo; it leaves with the next read's flush.
        ws.feed(message?).await?;
    }
    Ok(())
}
