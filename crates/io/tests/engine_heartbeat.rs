//! The heartbeat: the server pings `ping_interval` after the open and
//! after each pong, and ends a session whose pong does not come within
//! `ping_timeout` ("ping timeout"), on both transports.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use sockeye::Message;
use sockeye_io::engine::{CloseReason, EngineConfig};
use support::{bounded, start};

/// Short periods, so the tests run quickly.
fn fast() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_millis(100),
        ping_timeout: Duration::from_millis(100),
        ..EngineConfig::default()
    }
}

/// Heartbeat (polling): each poll returns `2` and a `3` keeps the session,
/// three times over; the first poll after the handshake gets the ping and
/// nothing before it.
#[tokio::test]
async fn server_pings_and_keeps_answering_polling_session() {
    bounded(async {
        let server = start(fast()).await;
        let sid = server.open_polling().await;
        for _ in 0..3 {
            let polled = server.poll(&sid).await;
            assert_eq!((polled.status, polled.text().as_str()), (200, "2"));
            assert_eq!(server.push(&sid, b"3").await.status, 200);
        }
        assert!(!server.engine.socket(&sid).unwrap().is_closed());
    })
    .await;
}

/// Heartbeat (polling): without a pong the session ends with "ping
/// timeout" and polls are refused.
#[tokio::test]
async fn server_closes_polling_session_without_pong() {
    bounded(async {
        let server = start(fast()).await;
        let sid = server.open_polling().await;
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::PingTimeout
        );
        assert_eq!(server.poll(&sid).await.status, 400);
    })
    .await;
}

/// Heartbeat (WebSocket): `2` frames answered with `3` keep the session;
/// then silence closes it with "ping timeout".
#[tokio::test]
async fn server_pings_websocket_and_closes_without_pong() {
    bounded(async {
        let server = start(fast()).await;
        let mut ws = sockeye::connect(&server.ws_url("EIO=4&transport=websocket"))
            .await
            .unwrap();
        let Some(Ok(Message::Text(open))) = ws.next().await else {
            panic!("no open packet");
        };
        let sid = support::sid_of(&open.as_str()[1..]);
        for _ in 0..3 {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), "2"),
                other => panic!("expected a ping, got {other:?}"),
            }
            ws.send(Message::text("3")).await.unwrap();
        }
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::PingTimeout
        );
        loop {
            match ws.next().await {
                None | Some(Err(_)) => break,
                Some(Ok(Message::Text(text))) => assert_eq!(text.as_str(), "2"),
                Some(Ok(other)) => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
}
