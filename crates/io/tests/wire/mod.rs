//! Socket.IO packets by hand over an Engine.IO WebSocket, for the tests
//! that check the wire: opening a session, reading and sending frames.

// Each test file uses its own part of this module.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use sockeye_io::SocketIo;
use tokio::net::TcpListener;

/// How long any one wait may last.
pub const LIMIT: Duration = Duration::from_secs(10);

/// Serves `io` on a loopback port; the WebSocket URL of its sessions.
pub async fn serve(io: &SocketIo) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        listener.local_addr().unwrap()
    );
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    url
}

/// An Engine.IO session over a WebSocket, its open packet read.
pub async fn open(url: &str) -> WebSocket<ClientStream> {
    let mut ws = sockeye::connect(url).await.expect("websocket handshake");
    let open = text(&mut ws).await;
    assert!(open.starts_with("0{"), "{open}");
    ws
}

/// The next message that is not a ping, as text.
pub async fn text(ws: &mut WebSocket<ClientStream>) -> String {
    loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {}
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The next message, binary.
pub async fn binary(ws: &mut WebSocket<ClientStream>) -> Bytes {
    match tokio::time::timeout(LIMIT, ws.next())
        .await
        .expect("in time")
    {
        Some(Ok(Message::Binary(data))) => data,
        other => panic!("expected a binary message, got {other:?}"),
    }
}

/// Sends a text frame.
pub async fn send(ws: &mut WebSocket<ClientStream>, text: &str) {
    ws.send(Message::text(text.to_owned())).await.expect("send");
}

/// Whether the server ends the connection within the limit.
pub async fn ends(ws: &mut WebSocket<ClientStream>) -> bool {
    tokio::time::timeout(LIMIT, async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await
    .unwrap_or(false)
}

/// The JSON after a packet's `prefix`.
pub fn json_after(packet: &str, prefix: &str) -> serde_json::Value {
    let rest = packet
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("{packet:?} does not start with {prefix:?}"));
    serde_json::from_str(rest).unwrap_or_else(|e| panic!("{rest:?}: {e}"))
}
