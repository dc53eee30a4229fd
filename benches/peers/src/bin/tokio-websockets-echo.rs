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

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Limits, ServerBuilder};

const MAX_SIZE: usize = 64 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(addr)) => addr,
        _ => {
            eprintln!("usage: tokio-websockets-echo ADDR   (e.g. 127.0.0.1:9303)");
            std::process::exit(2);
        }
    };
    let listener = TcpListener::bind(addr).await?;
    eprintln!("tokio-websockets-echo listening on ws://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            if let Err(e) = echo(stream).await {
                eprintln!("connection: {e}");
            }
        });
    }
}

async fn echo(stream: TcpStream) -> Result<(), tokio_websockets::Error> {
    stream.set_nodelay(true)?;
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
