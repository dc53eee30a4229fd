//! Echo server on fastwebsockets, a peer for `benches/compare.sh`.
//!
//! `fastwebsockets-echo ADDR` listens on ADDR (e.g. 127.0.0.1:9302) and sends
//! every text or binary message back as it came, on any path. One task per
//! connection on a current-thread runtime (the server runs pinned to one
//! core), TCP_NODELAY on, no permessage-deflate (fastwebsockets has none),
//! messages up to 64 MiB.
//!
//! As the crate documents it: hyper 1 serves the HTTP request and
//! `fastwebsockets::upgrade::upgrade` answers it; the upgraded stream is read
//! through a `FragmentCollector`, so fragmented messages arrive whole. The
//! library answers pings (auto-pong) and closes (auto-close) itself.

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const MAX_SIZE: usize = 64 << 20;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let listener = sockeye_bench_peers::listen("fastwebsockets-echo").await?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        // One task per connection at a time: hyper's connection task reads
        // the request and sends the 101, then ends; the echo loop runs in the
        // task that `handle` spawned, once hyper has handed the socket over.
        tokio::spawn(async move {
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service_fn(handle))
                .with_upgrades();
            if let Err(e) = conn.await {
                eprintln!("http: {e}");
            }
        });
    }
}

/// Answers the upgrade request and spawns the echo loop, which starts once
/// hyper has sent the response and handed over the connection.
async fn handle(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, upgraded) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        if let Err(e) = echo(upgraded).await {
            eprintln!("connection: {e}");
        }
    });
    Ok(response)
}

async fn echo(upgraded: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = upgraded.await?;
    ws.set_max_message_size(MAX_SIZE);
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}
