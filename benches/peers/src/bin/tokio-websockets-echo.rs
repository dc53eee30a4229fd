//! Echo server on tokio-websockets, a peer for `benches/compare.sh`.
//!
//! `tokio-websockets-echo ADDR` listens on ADDR (e.g. 127.0.0.1:9303) and
//! sends every text or binary message back as it came, on any path. One task
//! per connection on a current-thread runtime (the server runs pinned to one
//! core), TCP_NODELAY on, no permessage-deflate (tokio-websockets has none),
//! messages up to 64 MiB.
//!
//! The loop is the library's documented echo pattern: `next()` for each
//! message and `send()` (which queues and flushes) for each reply. Pings are
//! answered and closes completed by the library itself.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_websockets::{Limits, ServerBuilder};

const MAX_SIZE: usize = 64 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    sockeye_bench_peers::serve("tokio-websockets-echo", echo).await
}

async fn echo(stream: TcpStream) -> Result<(), tokio_websockets::Error> {
    let (_request, mut ws) = ServerBuilder::new()
        .limits(Limits::default().max_payload_len(Some(MAX_SIZE)))
        .accept(stream)
        .await?;
    while let Some(msg) = ws.next().await {
        let msg = msg?;
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}
