//! The upgrade from polling to WebSocket: the probe, the noop that ends
//! the pending poll, `5`, and what is refused afterwards.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use sockeye_io::engine::{Payload, TransportKind};
use support::{Seen, Server, bounded, quiet_config, start};

/// The next message, as text.
async fn next_text(ws: &mut WebSocket<ClientStream>) -> String {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Connects a WebSocket for session `sid` and probes it.
async fn probe(server: &Server, sid: &str) -> WebSocket<ClientStream> {
    let mut ws = sockeye::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={sid}")))
        .await
        .unwrap();
    ws.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "3probe");
    ws
}

/// Upgrade: `2probe` → `3probe`, the poll gets `6`, `5` completes it, and
/// messages then flow over the WebSocket; polling with the sid is 400 and
/// a second WebSocket with it is closed.
#[tokio::test]
async fn server_upgrades_polling_session_to_websocket() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let mut ws = probe(&server, &sid).await;
        let polled = server.poll(&sid).await;
        assert_eq!((polled.status, polled.text().as_str()), (200, "6"));
        ws.send(Message::text("5")).await.unwrap();
        ws.send(Message::text("4hello")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4hello");
        let socket = server.engine.socket(&sid).unwrap();
        assert_eq!(socket.transport(), TransportKind::WebSocket);
        assert_eq!(server.poll(&sid).await.status, 400);
        assert_eq!(server.push(&sid, b"4x").await.status, 400);
        let mut second =
            sockeye::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={sid}")))
                .await
                .unwrap();
        assert!(matches!(second.next().await, None | Some(Err(_))));
        ws.send(Message::text("4still")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4still");
    })
    .await;
}

/// Ordering across transports: a message sent by POST before the upgrade and
/// one sent on the WebSocket after it reach the handler in that order,
/// and a message queued during the probe leaves on the WebSocket.
#[tokio::test]
async fn server_keeps_message_order_across_the_upgrade() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        assert_eq!(server.push(&sid, b"4first").await.text(), "ok");
        assert_eq!(server.poll(&sid).await.text(), "4first");
        let mut ws = probe(&server, &sid).await;
        server
            .engine
            .socket(&sid)
            .unwrap()
            .send(Payload::from("queued"))
            .unwrap();
        // The pending poll would take what is queued; the client stops
        // polling once probed, so none is made here.
        ws.send(Message::text("5")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4queued");
        ws.send(Message::text("4second")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4second");
        let texts: Vec<_> = server
            .echo
            .seen_by(&sid)
            .into_iter()
            .filter_map(|s| match s {
                Seen::Message(_, Payload::Text(t)) => Some(t.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(texts, ["first", "second"]);
    })
    .await;
}

/// Upgrade timeout: a WebSocket that never completes the upgrade is
/// closed, and the session goes on over polling.
#[tokio::test]
async fn server_drops_websocket_that_does_not_upgrade_in_time() {
    bounded(async {
        let mut config = quiet_config();
        config.upgrade_timeout = Duration::from_millis(100);
        let server = start(config).await;
        let sid = server.open_polling().await;
        let mut ws =
            sockeye::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={sid}")))
                .await
                .unwrap();
        assert!(matches!(ws.next().await, None | Some(Err(_))));
        assert_eq!(server.push(&sid, b"4after").await.text(), "ok");
        assert_eq!(server.poll(&sid).await.text(), "4after");
        assert_eq!(
            server.engine.socket(&sid).unwrap().transport(),
            TransportKind::Polling
        );
    })
    .await;
}

/// A failed probe (any packet but `2probe` or `5`) closes the WebSocket
/// and leaves the session on polling.
#[tokio::test]
async fn server_drops_websocket_on_bad_probe() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let mut ws =
            sockeye::connect(&server.ws_url(&format!("EIO=4&transport=websocket&sid={sid}")))
                .await
                .unwrap();
        ws.send(Message::text("4early")).await.unwrap();
        assert!(matches!(ws.next().await, None | Some(Err(_))));
        assert_eq!(server.push(&sid, b"4poll").await.text(), "ok");
        assert_eq!(server.poll(&sid).await.text(), "4poll");
    })
    .await;
}
