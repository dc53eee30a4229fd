//! Engine.IO v4 over a WebSocket opened directly: the handshake, text and
//! binary echo, invalid packets, the client's close, refused handshakes.

mod support;

use bytes::Bytes;
use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use sockeye_io::engine::{CloseReason, Payload, SendError};
use support::{Server, bounded, quiet_config, sid_of, start};

/// Connects and reads the open packet; returns the socket and the sid.
async fn open(server: &Server) -> (WebSocket<ClientStream>, String) {
    let mut ws = sockeye::connect(&server.ws_url("EIO=4&transport=websocket"))
        .await
        .expect("websocket handshake");
    let open = next_text(&mut ws).await;
    assert!(open.starts_with('0'), "{open}");
    (ws, sid_of(&open[1..]))
}

/// The next message, as text.
async fn next_text(ws: &mut WebSocket<ClientStream>) -> String {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Whether the server ends the connection (no more messages).
async fn ends(ws: &mut WebSocket<ClientStream>) -> bool {
    loop {
        match ws.next().await {
            None | Some(Err(_)) => return true,
            Some(Ok(_)) => {}
        }
    }
}

/// Handshake (WebSocket): the first frame is `0` and the JSON's
/// `upgrades` is empty.
#[tokio::test]
async fn server_opens_websocket_session_without_upgrades() {
    bounded(async {
        let server = start(quiet_config()).await;
        let mut ws = sockeye::connect(&server.ws_url("EIO=4&transport=websocket"))
            .await
            .unwrap();
        let open = next_text(&mut ws).await;
        let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        assert_eq!(json["upgrades"], serde_json::json!([]));
        assert_eq!(json.as_object().unwrap().len(), 5);
        assert_eq!(server.engine.session_count(), 1);
    })
    .await;
}

/// Message echo: text as a `4` text frame, binary as a binary frame.
#[tokio::test]
async fn server_echoes_text_and_binary_over_websocket() {
    bounded(async {
        let server = start(quiet_config()).await;
        let (mut ws, sid) = open(&server).await;
        ws.send(Message::text("4hello")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4hello");
        ws.send(Message::binary(vec![1, 2, 3, 4])).await.unwrap();
        match ws.next().await {
            Some(Ok(Message::Binary(bytes))) => assert_eq!(&bytes[..], &[1, 2, 3, 4]),
            other => panic!("expected binary, got {other:?}"),
        }
        let binary =
            support::Seen::Message(sid, Payload::Binary(Bytes::from_static(&[1, 2, 3, 4])));
        server.echo.wait_for(|s| *s == binary).await;
    })
    .await;
}

/// Invalid packet: an `abc` frame makes the server close, "parse error".
#[tokio::test]
async fn server_closes_websocket_on_invalid_packet() {
    bounded(async {
        let server = start(quiet_config()).await;
        let (mut ws, sid) = open(&server).await;
        ws.send(Message::text("abc")).await.unwrap();
        assert!(ends(&mut ws).await);
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::ParseError
        );
    })
    .await;
}

/// Close: a `1` frame makes the server close, "transport close".
#[tokio::test]
async fn server_closes_websocket_on_close_packet() {
    bounded(async {
        let server = start(quiet_config()).await;
        let (mut ws, sid) = open(&server).await;
        ws.send(Message::text("1")).await.unwrap();
        assert!(ends(&mut ws).await);
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::TransportClose
        );
        assert_eq!(server.engine.session_count(), 0);
    })
    .await;
}

/// Server-side close over WebSocket: the queue, then `1`, then the close.
#[tokio::test]
async fn server_close_over_websocket_sends_queue_then_close_packet() {
    bounded(async {
        let server = start(quiet_config()).await;
        let (mut ws, sid) = open(&server).await;
        let socket = server.engine.socket(&sid).unwrap();
        socket.send(Payload::from("bye")).unwrap();
        socket.close();
        assert_eq!(next_text(&mut ws).await, "4bye");
        assert_eq!(next_text(&mut ws).await, "1");
        assert!(ends(&mut ws).await);
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::ForcedClose
        );
    })
    .await;
}

/// Bad requests on WebSocket: a bad `EIO`, `transport` or `sid` refuses
/// the handshake, so the client's connection fails.
#[tokio::test]
async fn server_refuses_websocket_with_bad_query() {
    bounded(async {
        let server = start(quiet_config()).await;
        for query in [
            "transport=websocket",
            "EIO=abc&transport=websocket",
            "EIO=4",
            "EIO=4&transport=abc",
            "EIO=4&transport=websocket&sid=unknown",
        ] {
            assert!(
                sockeye::connect(&server.ws_url(query)).await.is_err(),
                "{query}"
            );
        }
        assert_eq!(server.engine.session_count(), 0);
    })
    .await;
}

/// `max_payload` over WebSocket: a message above it closes the connection
/// and ends the session.
#[tokio::test]
async fn server_closes_websocket_on_message_over_max_payload() {
    bounded(async {
        let mut config = quiet_config();
        config.max_payload = 64;
        let server = start(config).await;
        let (mut ws, sid) = open(&server).await;
        ws.send(Message::text(format!("4{}", "x".repeat(100))))
            .await
            .unwrap();
        assert!(ends(&mut ws).await);
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::TransportError
        );
    })
    .await;
}

/// The client closes its WebSocket (a Close frame, as engine.io-client's
/// `close()` does): the closing handshake completes and the session ends as
/// "transport close", not as an error, with and without packets queued.
#[tokio::test]
async fn client_close_frame_ends_session_as_transport_close() {
    bounded(async {
        let server = start(quiet_config()).await;
        for queued in [false, true] {
            let (mut ws, sid) = open(&server).await;
            if queued {
                // The echo queues an answer the client will not read.
                ws.send(Message::text("4unread")).await.unwrap();
            }
            ws.close(sockeye::CloseCode::NORMAL, "").await.unwrap();
            assert_eq!(
                server.echo.close_reason(&sid).await,
                CloseReason::TransportClose,
                "with a packet queued: {queued}"
            );
        }
    })
    .await;
}

/// A client that stops reading: what the server sends fills the kernel's
/// buffers, the connection's write buffer and the session's queue, and
/// then sends are refused rather than piling up in the server's memory.
#[tokio::test]
async fn client_that_does_not_read_gets_sends_refused() {
    bounded(async {
        let mut config = quiet_config();
        config.max_buffered_bytes = 1 << 20;
        let server = start(config).await;
        let (ws, sid) = open(&server).await;
        let socket = server.engine.socket(&sid).expect("the session is open");
        let chunk = Payload::Binary(Bytes::from(vec![7_u8; 64 * 1024]));
        let mut accepted = 0_u32;
        let refused = loop {
            match socket.send(chunk.clone()) {
                Ok(()) => accepted += 1,
                Err(refused) => break refused,
            }
            assert!(
                accepted < 1000,
                "64 MiB accepted for a client that reads nothing"
            );
            // The session's task writes meanwhile, as far as it can.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        };
        assert!(
            matches!(refused, SendError::BytesFull { .. }),
            "{refused:?} after {accepted} sends"
        );
        drop(ws);
    })
    .await;
}
