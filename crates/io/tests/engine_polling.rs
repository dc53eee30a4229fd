//! Engine.IO v4 over HTTP long-polling: the handshake, bad requests,
//! messages both ways, invalid packets, overlapping and cancelled polls,
//! and closing (the wire behaviour Node's engine.io and the protocol test
//! suite define).

mod support;

use std::time::Duration;

use bytes::Bytes;
use sockeye_io::engine::{CloseReason, Payload};
use support::{Seen, bounded, get, quiet_config, request, send_request, sid_of, start};

/// Handshake (polling): 200, `0` and JSON with exactly `sid`, `upgrades`
/// (`["websocket"]`), `pingInterval`, `pingTimeout` and `maxPayload`.
#[tokio::test]
async fn server_opens_polling_session_with_exact_handshake() {
    bounded(async {
        let server = start(quiet_config()).await;
        let response = get(server.addr, &server.target("EIO=4&transport=polling")).await;
        assert_eq!(response.status, 200);
        let text = response.text();
        assert!(text.starts_with('0'), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text[1..]).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "maxPayload",
                "pingInterval",
                "pingTimeout",
                "sid",
                "upgrades"
            ]
        );
        assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
        assert_eq!(json["pingInterval"], 60_000);
        assert_eq!(json["maxPayload"], 1_000_000);
        let sid = sid_of(&text[1..]);
        assert_eq!(sid.len(), 20);
        server
            .echo
            .wait_for(|s| *s == Seen::Open(sid.clone()))
            .await;
    })
    .await;
}

/// Bad requests: 400 with Node's `{"code","message"}` for a missing or
/// wrong `EIO` (5), `transport` (0), handshake method (2), `sid` (1), and
/// a WebSocket transport without an upgrade (3).
#[tokio::test]
async fn server_answers_bad_requests_with_node_codes() {
    bounded(async {
        let server = start(quiet_config()).await;
        let cases = [
            (
                "GET",
                "transport=polling",
                5,
                "Unsupported protocol version",
            ),
            (
                "GET",
                "EIO=abc&transport=polling",
                5,
                "Unsupported protocol version",
            ),
            (
                "GET",
                "EIO=3&transport=polling",
                5,
                "Unsupported protocol version",
            ),
            ("GET", "EIO=4", 0, "Transport unknown"),
            ("GET", "EIO=4&transport=abc", 0, "Transport unknown"),
            ("POST", "EIO=4&transport=polling", 2, "Bad handshake method"),
            ("PUT", "EIO=4&transport=polling", 2, "Bad handshake method"),
            (
                "GET",
                "EIO=4&transport=polling&sid=nope",
                1,
                "Session ID unknown",
            ),
            ("GET", "EIO=4&transport=websocket", 3, "Bad request"),
        ];
        for (method, query, code, message) in cases {
            let response = request(server.addr, method, &server.target(query), &[], b"").await;
            assert_eq!(response.status, 400, "{method} {query}");
            assert_eq!(response.header("content-type"), Some("application/json"));
            let json: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(
                json,
                serde_json::json!({"code": code, "message": message}),
                "{query}"
            );
        }
        assert_eq!(server.engine.session_count(), 0);
    })
    .await;
}

/// Polling POST: `ok` (text/html); several packets joined by `\x1e` reach
/// the handler in order and the next GET returns the echoes joined the
/// same way.
#[tokio::test]
async fn server_echoes_several_packets_over_polling() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let pushed = server.push(&sid, b"4test1\x1e4test2\x1e4test3").await;
        assert_eq!(pushed.status, 200);
        assert_eq!(pushed.text(), "ok");
        assert_eq!(pushed.header("content-type"), Some("text/html"));
        let polled = server.poll(&sid).await;
        assert_eq!(polled.status, 200);
        assert_eq!(polled.text(), "4test1\x1e4test2\x1e4test3");
        let messages: Vec<_> = server
            .echo
            .seen_by(&sid)
            .into_iter()
            .filter_map(|s| match s {
                Seen::Message(_, Payload::Text(text)) => Some(text.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(messages, ["test1", "test2", "test3"]);
    })
    .await;
}

/// Binary over polling: `b` + base64 in, a binary payload to the handler,
/// `b` + base64 out.
#[tokio::test]
async fn server_carries_binary_as_base64_over_polling() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        assert_eq!(server.push(&sid, b"4hello\x1ebAQIDBA==").await.text(), "ok");
        assert_eq!(server.poll(&sid).await.text(), "4hello\x1ebAQIDBA==");
        let binary = Seen::Message(
            sid.clone(),
            Payload::Binary(Bytes::from_static(&[1, 2, 3, 4])),
        );
        server.echo.wait_for(|s| *s == binary).await;
    })
    .await;
}

/// Invalid packet: a POST of `abc` is answered 400 and ends the session
/// with "parse error"; the next GET is 400.
#[tokio::test]
async fn server_closes_session_on_invalid_packet() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        assert_eq!(server.push(&sid, b"abc").await.status, 400);
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::ParseError
        );
        assert_eq!(server.poll(&sid).await.status, 400);
    })
    .await;
}

/// Duplicate GET: the waiting poll gets `1`, the second is refused 400,
/// and the session is gone.
#[tokio::test]
async fn server_closes_session_on_duplicate_poll() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let first = {
            let (addr, target) = (
                server.addr,
                server.target(&format!("EIO=4&transport=polling&sid={sid}")),
            );
            tokio::spawn(async move { get(addr, &target).await })
        };
        // Let the first poll reach the server and wait there.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second = server.poll(&sid).await;
        assert_eq!(second.status, 400);
        let first = first.await.unwrap();
        assert_eq!((first.status, first.text().as_str()), (200, "1"));
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::TransportError
        );
        assert_eq!(server.poll(&sid).await.status, 400);
    })
    .await;
}

/// Cancelled poll: a GET whose client goes away before the answer ends
/// the session; the next GET is 400.
#[tokio::test]
async fn server_closes_session_on_cancelled_poll() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let target = server.target(&format!("EIO=4&transport=polling&sid={sid}"));
        let pending = send_request(server.addr, "GET", &target, &[], b"").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(pending);
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::TransportError
        );
        assert_eq!(server.poll(&sid).await.status, 400);
    })
    .await;
}

/// Close: a POST of `1` ends the waiting GET with `6` (noop), the session
/// ends with "transport close", and the next GET is 400.
#[tokio::test]
async fn server_ends_pending_poll_with_noop_on_client_close() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let poll = {
            let (addr, target) = (
                server.addr,
                server.target(&format!("EIO=4&transport=polling&sid={sid}")),
            );
            tokio::spawn(async move { get(addr, &target).await })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.push(&sid, b"1").await.text(), "ok");
        assert_eq!(poll.await.unwrap().text(), "6");
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::TransportClose
        );
        assert_eq!(server.poll(&sid).await.status, 400);
    })
    .await;
}

/// Server-side close: what was queued goes out, then `1`; `on_close` says
/// "forced close", sends are refused, and the session is gone after.
#[tokio::test]
async fn server_close_sends_queue_then_close_packet() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let socket = server.engine.socket(&sid).expect("open session");
        socket.send(Payload::from("bye")).unwrap();
        socket.close();
        assert!(socket.send(Payload::from("late")).is_err());
        assert_eq!(server.poll(&sid).await.text(), "4bye\x1e1");
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::ForcedClose
        );
        assert_eq!(server.poll(&sid).await.status, 400);
        let seen = server.echo.seen_by(&sid);
        assert!(
            matches!(seen.last(), Some(Seen::Close(..))),
            "on_close comes last: {seen:?}"
        );
    })
    .await;
}
