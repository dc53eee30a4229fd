//! A WebSocket echo server inside a hyper 1.x server, over HTTP/1.1 and
//! HTTP/2 on one port.
//!
//! ```text
//! cargo run -p sockeye --features hyper --example hyper-echo -- [ADDR]
//! ```
//!
//! Listens on `ADDR` (default `127.0.0.1:9002`) and prints the address.
//! WebSocket requests, HTTP/1.1 `GET` with `Upgrade: websocket` or HTTP/2
//! extended CONNECT (cleartext HTTP/2 with prior knowledge; RFC 8441), have
//! every message echoed back; the `echo` subprotocol and permessage-deflate
//! are agreed when offered. Other requests get a line of text.

use std::convert::Infallible;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sockeye::ServerBuilder;
use sockeye::hyper::is_upgrade_request;
use sockeye::proto::DeflateConfig;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9002".to_owned());
    let listener = TcpListener::bind(&address).await?;
    println!("listening on ws://{}/", listener.local_addr()?);
    serve(listener).await
}

/// Serves connections from `listener` until accepting fails.
pub(crate) async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let server = ServerBuilder::new()
        .protocols(["echo"])
        .deflate(Some(DeflateConfig::default()));
    // One builder for both versions: it tells HTTP/2 from HTTP/1.1 by the
    // connection preface. Extended CONNECT must be announced for HTTP/2
    // clients to use it (RFC 8441 §3).
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http2().enable_connect_protocol();
    loop {
        let (tcp, peer) = listener.accept().await?;
        // Small messages and HTTP/2's WINDOW_UPDATE frames should leave at
        // once, not wait for the peer's delayed ACK (Nagle's algorithm).
        let _ = tcp.set_nodelay(true);
        let (server, http) = (server.clone(), http.clone());
        tokio::spawn(async move {
            // The answer is ready at once: the socket's work goes on in a
            // task of its own.
            let service = service_fn(move |request| {
                std::future::ready(Ok::<_, Infallible>(handle(&server, request)))
            });
            // Upgrades must be allowed for HTTP/1.1 connections to be taken
            // over after the 101.
            if let Err(e) = http
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .await
            {
                eprintln!("hyper-echo: {peer}: {e}");
            }
        });
    }
}

/// Answers one request: a WebSocket to echo on, or a line of text.
fn handle(server: &ServerBuilder, mut request: Request<Incoming>) -> Response<Full<Bytes>> {
    if !is_upgrade_request(&request) {
        let text = "hyper-echo: connect a WebSocket client here\n";
        return Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    }
    let (response, upgrade) = match server.upgrade(&mut request) {
        Ok(accepted) => accepted,
        // 400, 403, 426, ...: the refusal says why.
        Err(refused) => return refused.into_response(),
    };
    // The socket opens once hyper has sent the response, which it does only
    // after this function returns: wait for it in a task of its own.
    tokio::spawn(async move {
        if let Err(e) = echo(upgrade).await {
            eprintln!("hyper-echo: {e}");
        }
    });
    response
}

/// Echoes every message until the client closes.
async fn echo(upgrade: sockeye::hyper::Upgrade) -> sockeye::Result<()> {
    let mut ws = upgrade.await?;
    while let Some(message) = ws.next().await {
        // Queued, and written before the next read: replies to one read
        // leave together.
        ws.feed(message?).await?;
    }
    Ok(())
}
