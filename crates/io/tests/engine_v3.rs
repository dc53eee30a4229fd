//! Engine.IO v3 (`EIO=3`, socket.io-client 2.x) with `allow_eio3`: the
//! handshake without `maxPayload`, the length-prefixed polling payload
//! (lengths in UTF-16 code units), the binary payload format and `b64`,
//! the heartbeat driven by the client's pings, binary WebSocket frames
//! with their type byte, and the upgrade; and the refusal when it is off
//! (`docs/engine.io-protocol/v3.md` and Node's `protocol === 3` paths).

mod support;

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use sockeye_io::engine::{CloseReason, EngineConfig, Payload};
use support::{RawResponse, Seen, Server, bounded, get, quiet_config, request, sid_of, start};

/// A quiet server that serves v3.
fn v3_config() -> EngineConfig {
    EngineConfig {
        allow_eio3: true,
        ..quiet_config()
    }
}

/// Splits a v3 text payload with one packet into its length and packet.
fn single_item(body: &str) -> (usize, &str) {
    let (length, packet) = body.split_once(':').expect("a length prefix");
    (length.parse().expect("a decimal length"), packet)
}

/// Opens a v3 polling session (`extra` adds to the query); returns its sid.
async fn open_v3(server: &Server, extra: &str) -> String {
    let response = get(
        server.addr,
        &server.target(&format!("EIO=3&transport=polling{extra}")),
    )
    .await;
    assert_eq!(response.status, 200, "{response:?}");
    let text = response.text();
    let (_, packet) = single_item(&text);
    sid_of(&packet[1..])
}

/// A v3 poll on `sid`.
async fn poll_v3(server: &Server, sid: &str) -> RawResponse {
    get(
        server.addr,
        &server.target(&format!("EIO=3&transport=polling&sid={sid}")),
    )
    .await
}

/// A v3 POST of `body` on `sid`, with extra headers.
async fn push_v3(server: &Server, sid: &str, headers: &[(&str, &str)], body: &[u8]) -> RawResponse {
    request(
        server.addr,
        "POST",
        &server.target(&format!("EIO=3&transport=polling&sid={sid}")),
        headers,
        body,
    )
    .await
}

/// The next message, as text.
async fn next_text(ws: &mut WebSocket<ClientStream>) -> String {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => text.as_str().to_owned(),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Default off: `EIO=3` is refused with code 5, as Node without
/// `allowEIO3`.
#[tokio::test]
async fn server_refuses_eio3_unless_allowed() {
    bounded(async {
        let server = start(quiet_config()).await;
        let response = get(server.addr, &server.target("EIO=3&transport=polling")).await;
        assert_eq!(response.status, 400);
        assert!(response.text().contains(r#""code":5"#), "{response:?}");
        assert_eq!(server.engine.session_count(), 0);
    })
    .await;
}

/// JSONP polling (`j=`) is not served: a v3 handshake asking for it is
/// refused with code 3 ("Bad request") instead of answered as XHR.
#[tokio::test]
async fn server_refuses_jsonp_polling() {
    bounded(async {
        let server = start(v3_config()).await;
        let response = get(server.addr, &server.target("EIO=3&transport=polling&j=0")).await;
        assert_eq!(response.status, 400);
        assert!(response.text().contains(r#""code":3"#), "{response:?}");
        assert_eq!(server.engine.session_count(), 0);
    })
    .await;
}

/// v3 handshake (polling): `<length>:0{json}` where the length is the
/// packet's, and the JSON has `sid`, `upgrades`, `pingInterval` and
/// `pingTimeout` but no `maxPayload`; the session records protocol 3.
#[tokio::test]
async fn server_opens_v3_polling_session_without_max_payload() {
    bounded(async {
        let server = start(v3_config()).await;
        let response = get(server.addr, &server.target("EIO=3&transport=polling")).await;
        assert_eq!(response.status, 200);
        let text = response.text();
        let (length, packet) = single_item(&text);
        assert_eq!(length, packet.encode_utf16().count());
        assert!(packet.starts_with('0'), "{packet}");
        let json: serde_json::Value = serde_json::from_str(&packet[1..]).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["pingInterval", "pingTimeout", "sid", "upgrades"]);
        assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
        let sid = sid_of(&packet[1..]);
        let socket = server.engine.socket(&sid).expect("session open");
        assert!(socket.is_eio3());
        assert_eq!(socket.handshake().protocol, 3);
    })
    .await;
}

/// v3 session: every request must name `EIO=3`; a v4 request on it is
/// refused with code 5, as a v3 request on a v4 session is.
#[tokio::test]
async fn server_refuses_other_versions_on_a_session() {
    bounded(async {
        let server = start(v3_config()).await;
        let v3 = open_v3(&server, "").await;
        let wrong = server.poll(&v3).await;
        assert_eq!(wrong.status, 400);
        assert!(wrong.text().contains(r#""code":5"#));
        let v4 = server.open_polling().await;
        assert_eq!(poll_v3(&server, &v4).await.status, 400);
    })
    .await;
}

/// v3 heartbeat (polling): the client pings (`1:2`) and the next poll
/// answers `1:3`, three times over; a v4 session pinging would be closed.
#[tokio::test]
async fn server_answers_v3_client_pings_over_polling() {
    bounded(async {
        let server = start(v3_config()).await;
        let sid = open_v3(&server, "&b64=1").await;
        for _ in 0..3 {
            assert_eq!(push_v3(&server, &sid, &[], b"1:2").await.status, 200);
            let polled = poll_v3(&server, &sid).await;
            assert_eq!((polled.status, polled.text().as_str()), (200, "1:3"));
        }
        assert!(!server.engine.socket(&sid).unwrap().is_closed());
    })
    .await;
}

/// v3 ping timeout: pings keep the session past `ping_interval +
/// ping_timeout`; once they stop, it ends with "ping timeout" and
/// requests are refused.
#[tokio::test]
async fn server_closes_v3_session_when_pings_stop() {
    bounded(async {
        let server = start(EngineConfig {
            ping_interval: Duration::from_millis(100),
            ping_timeout: Duration::from_millis(100),
            allow_eio3: true,
            ..EngineConfig::default()
        })
        .await;
        let sid = open_v3(&server, "&b64=1").await;
        // Four pings 100 ms apart span twice the 200 ms window.
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(push_v3(&server, &sid, &[], b"1:2").await.status, 200);
        }
        assert!(!server.engine.socket(&sid).unwrap().is_closed());
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::PingTimeout
        );
        assert_eq!(push_v3(&server, &sid, &[], b"1:2").await.status, 400);
    })
    .await;
}

/// v3 polling with `b64=1`: text and binary (`b4` + base64) both ways,
/// as the v3 test suite's "base64 encoded" case.
#[tokio::test]
async fn server_exchanges_base64_payloads_when_asked() {
    bounded(async {
        let server = start(v3_config()).await;
        let sid = open_v3(&server, "&b64=1").await;
        let pushed = push_v3(&server, &sid, &[], b"6:4hello10:b4AQIDBA==").await;
        assert_eq!((pushed.status, pushed.text().as_str()), (200, "ok"));
        let polled = poll_v3(&server, &sid).await;
        assert_eq!(polled.text(), "6:4hello10:b4AQIDBA==");
        assert_eq!(
            polled.header("content-type"),
            Some("text/plain; charset=UTF-8")
        );
    })
    .await;
}

/// v3 polling without `b64`: a poll holding binary uses the binary payload
/// format (XHR2), and a client's binary payload POST is decoded.
#[tokio::test]
async fn server_uses_binary_payloads_for_binary_capable_clients() {
    bounded(async {
        let server = start(v3_config()).await;
        let sid = open_v3(&server, "").await;
        let binary_post = [
            0, 6, 255, b'4', b'h', b'e', b'l', b'l', b'o', 1, 4, 255, 4, 9, 8, 7,
        ];
        let pushed = push_v3(
            &server,
            &sid,
            &[("content-type", "application/octet-stream")],
            &binary_post,
        )
        .await;
        assert_eq!(pushed.status, 200);
        server
            .echo
            .wait_for(|s| {
                *s == Seen::Message(sid.clone(), Payload::Binary(Bytes::from_static(&[9, 8, 7])))
            })
            .await;
        let polled = poll_v3(&server, &sid).await;
        assert_eq!(
            polled.header("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(polled.body, binary_post);
    })
    .await;
}

/// v3 payload lengths count UTF-16 code units: `4é😀` is 4 units (and 7
/// bytes), both in the POST and in the answer.
#[tokio::test]
async fn server_counts_lengths_in_utf16_units() {
    bounded(async {
        let server = start(v3_config()).await;
        let sid = open_v3(&server, "&b64=1").await;
        let body = "4:4é😀1:4";
        assert_eq!(
            push_v3(&server, &sid, &[], body.as_bytes()).await.status,
            200
        );
        assert_eq!(poll_v3(&server, &sid).await.text(), body);
    })
    .await;
}

/// v3 invalid payload: a body that is not `<length>:<packet>` is answered
/// 400 and ends the session ("parse error").
#[tokio::test]
async fn server_closes_v3_session_on_malformed_payload() {
    bounded(async {
        let server = start(v3_config()).await;
        for body in [&b"abc"[..], b"9:4short", b"2:4a2:"] {
            let sid = open_v3(&server, "&b64=1").await;
            assert_eq!(push_v3(&server, &sid, &[], body).await.status, 400);
            assert_eq!(
                server.echo.close_reason(&sid).await,
                CloseReason::ParseError
            );
            assert_eq!(poll_v3(&server, &sid).await.status, 400);
        }
    })
    .await;
}

/// v3 over WebSocket: the handshake has no `maxPayload`, a `2` is answered
/// `3`, and binary frames carry the type byte `4` both ways.
#[tokio::test]
async fn server_speaks_v3_over_websocket() {
    bounded(async {
        let server = start(v3_config()).await;
        let mut ws = sockeye::connect(&server.ws_url("EIO=3&transport=websocket"))
            .await
            .expect("websocket handshake");
        let open = next_text(&mut ws).await;
        let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        assert!(json.get("maxPayload").is_none(), "{open}");
        let sid = sid_of(&open[1..]);
        for _ in 0..3 {
            ws.send(Message::text("2")).await.unwrap();
            assert_eq!(next_text(&mut ws).await, "3");
        }
        ws.send(Message::Binary(Bytes::from_static(&[4, 1, 2, 3])))
            .await
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            Message::Binary(Bytes::from_static(&[4, 1, 2, 3]))
        );
        assert!(server.echo.seen_by(&sid).contains(&Seen::Message(
            sid.clone(),
            Payload::Binary(Bytes::from_static(&[1, 2, 3]))
        )));
        // A binary frame not marked as a message is a parse error.
        ws.send(Message::Binary(Bytes::from_static(&[2, 1])))
            .await
            .unwrap();
        assert_eq!(
            server.echo.close_reason(&sid).await,
            CloseReason::ParseError
        );
    })
    .await;
}

/// v3 upgrade: `2probe` → `3probe`, the waiting poll ends with `1:6`, `5`
/// moves the session, and the client's pings go on over the WebSocket.
#[tokio::test]
async fn server_upgrades_v3_session_to_websocket() {
    bounded(async {
        let server = start(v3_config()).await;
        let sid = open_v3(&server, "&b64=1").await;
        let mut ws =
            sockeye::connect(&server.ws_url(&format!("EIO=3&transport=websocket&sid={sid}")))
                .await
                .expect("websocket handshake");
        ws.send(Message::text("2probe")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "3probe");
        assert_eq!(poll_v3(&server, &sid).await.text(), "1:6");
        ws.send(Message::text("5")).await.unwrap();
        ws.send(Message::text("2")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "3");
        ws.send(Message::text("4after")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "4after");
    })
    .await;
}
