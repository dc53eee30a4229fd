//! Echo server on tokio-tungstenite, a peer for `benches/compare.sh`.
//!
//! `tungstenite-echo ADDR` listens on ADDR (e.g. 127.0.0.1:9301) and sends
//! every text or binary message back as it came, on any path. One task per
//! connection on a current-thread runtime (the server runs pinned to one
//! core), TCP_NODELAY on, no permessage-deflate (tokio-tungstenite has none),
//! messages and frames up to 64 MiB.
//!
//! The loop is the library's documented pattern: `next()` for each message and
//! `send()` (which writes and flushes) for each reply. Pings are answered and
//! closes completed by tungstenite itself.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const MAX_SIZE: usize = 64 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    sockeye_bench_peers::serve("tungstenite-echo", echo).await
}

async fn echo(stream: TcpStream) -> tokio_tungstenite::tungstenite::Result<()> {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_SIZE))
        .max_frame_size(Some(MAX_SIZE));
    let mut ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
