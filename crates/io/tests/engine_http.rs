//! The HTTP side of the engine: CORS, `allow_request`, the body limit,
//! the bound on sessions, and paths that are not the engine's.

mod support;

use std::sync::Arc;

use http::StatusCode;
use sockeye_io::engine::{Cors, CorsOrigins, Refusal};
use support::{bounded, get, quiet_config, request, start};

/// CORS preflight: OPTIONS is answered 204 with the allowed origin,
/// methods and the headers asked for; other answers carry the origin too.
#[tokio::test]
async fn server_answers_cors_preflight() {
    bounded(async {
        let mut config = quiet_config();
        config.cors = Cors {
            origins: CorsOrigins::List(vec!["https://app.example".into()]),
            credentials: true,
        };
        let server = start(config).await;
        let target = server.target("EIO=4&transport=polling");
        let headers = [
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ];
        let preflight = request(server.addr, "OPTIONS", &target, &headers, b"").await;
        assert_eq!(preflight.status, 204);
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        assert_eq!(
            preflight.header("access-control-allow-credentials"),
            Some("true")
        );
        assert_eq!(
            preflight.header("access-control-allow-headers"),
            Some("content-type")
        );
        assert!(
            preflight
                .header("access-control-allow-methods")
                .unwrap()
                .contains("POST")
        );
        let handshake = request(server.addr, "GET", &target, &headers[..1], b"").await;
        assert_eq!(handshake.status, 200);
        assert_eq!(
            handshake.header("access-control-allow-origin"),
            Some("https://app.example")
        );
        let other = request(
            server.addr,
            "GET",
            &target,
            &[("origin", "https://evil.example")],
            b"",
        )
        .await;
        assert_eq!(other.header("access-control-allow-origin"), None);
    })
    .await;
}

/// Without CORS, OPTIONS is a handshake with the wrong method (400, code
/// 2) and no CORS header is sent.
#[tokio::test]
async fn server_without_cors_refuses_preflight() {
    bounded(async {
        let server = start(quiet_config()).await;
        let target = server.target("EIO=4&transport=polling");
        let preflight = request(
            server.addr,
            "OPTIONS",
            &target,
            &[("origin", "https://a.example")],
            b"",
        )
        .await;
        assert_eq!(preflight.status, 400);
        assert_eq!(preflight.header("access-control-allow-origin"), None);
    })
    .await;
}

/// `allow_request`: a refused handshake is 403 `{"code":4,"message":"Forbidden"}`
/// or the refusal's own message; no session opens.
#[tokio::test]
async fn server_refuses_handshake_when_allow_request_says_no() {
    bounded(async {
        let mut config = quiet_config();
        config.allow_request = Some(Arc::new(|parts: &http::request::Parts| {
            match parts
                .headers
                .get("x-token")
                .map(http::HeaderValue::as_bytes)
            {
                Some(b"good") => Ok(()),
                Some(_) => Err(Refusal::with_message("bad token")),
                None => Err(Refusal::forbidden()),
            }
        }));
        let server = start(config).await;
        let target = server.target("EIO=4&transport=polling");
        let refused = get(server.addr, &target).await;
        assert_eq!(refused.status, 403);
        assert_eq!(refused.text(), r#"{"code":4,"message":"Forbidden"}"#);
        let refused = request(server.addr, "GET", &target, &[("x-token", "bad")], b"").await;
        assert_eq!(refused.text(), r#"{"code":4,"message":"bad token"}"#);
        assert_eq!(server.engine.session_count(), 0);
        let allowed = request(server.addr, "GET", &target, &[("x-token", "good")], b"").await;
        assert_eq!(allowed.status, 200);
    })
    .await;
}

/// `max_payload`: a POST body over the limit is 413 and the session stays.
#[tokio::test]
async fn server_refuses_post_over_max_payload() {
    bounded(async {
        let mut config = quiet_config();
        config.max_payload = 16;
        let server = start(config).await;
        let sid = server.open_polling().await;
        let big = server.push(&sid, &[b'4'; 17]).await;
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE.as_u16());
        assert_eq!(server.push(&sid, b"4small").await.text(), "ok");
        assert_eq!(server.poll(&sid).await.text(), "4small");
    })
    .await;
}

/// `max_sessions`: a handshake past the bound is 503.
#[tokio::test]
async fn server_refuses_handshake_past_max_sessions() {
    bounded(async {
        let mut config = quiet_config();
        config.max_sessions = 1;
        let server = start(config).await;
        server.open_polling().await;
        let refused = get(server.addr, &server.target("EIO=4&transport=polling")).await;
        assert_eq!(refused.status, 503);
    })
    .await;
}

/// `max_handshake_rate`: a burst past the rate is 503 with `Retry-After`,
/// and sessions already open go on.
#[tokio::test]
async fn server_refuses_handshakes_past_the_rate() {
    bounded(async {
        let mut config = quiet_config();
        config.max_handshake_rate = 2;
        let server = start(config).await;
        let first = server.open_polling().await;
        server.open_polling().await;
        let refused = get(server.addr, &server.target("EIO=4&transport=polling")).await;
        assert_eq!(refused.status, 503);
        assert_eq!(refused.header("retry-after"), Some("1"));
        assert_eq!(server.push(&first, b"4still").await.text(), "ok");
        assert_eq!(server.poll(&first).await.text(), "4still");
    })
    .await;
}

/// Paths: only the engine's path is served, with or without the trailing
/// slash; anything else is 404.
#[tokio::test]
async fn server_serves_only_its_path() {
    bounded(async {
        let server = start(quiet_config()).await;
        assert_eq!(
            get(server.addr, "/other/?EIO=4&transport=polling")
                .await
                .status,
            404
        );
        assert_eq!(
            get(server.addr, "/engine.io?EIO=4&transport=polling")
                .await
                .status,
            200
        );
    })
    .await;
}

/// The handshake: a session keeps its request's target, decoded query,
/// headers (in order, any case) and peer address.
#[tokio::test]
async fn session_keeps_its_handshake_request() {
    bounded(async {
        let server = start(quiet_config()).await;
        let response = request(
            server.addr,
            "GET",
            &server.target("EIO=4&transport=polling&token=a%20b&room=x"),
            &[("X-Token", "secret"), ("x-many", "one"), ("x-many", "two")],
            b"",
        )
        .await;
        assert_eq!(response.status, 200, "handshake: {response:?}");
        let sid = support::sid_of(&response.text()[1..]);
        let socket = server.engine.socket(&sid).expect("the session is open");
        let handshake = socket.handshake();
        assert_eq!(handshake.path(), "/engine.io/");
        assert_eq!(handshake.query_value("token").as_deref(), Some("a b"));
        assert_eq!(handshake.query_value("room").as_deref(), Some("x"));
        assert_eq!(handshake.header("x-token"), Some("secret"));
        assert_eq!(
            handshake.header("host"),
            Some(server.addr.to_string().as_str())
        );
        let many: Vec<_> = handshake
            .headers()
            .filter(|(name, _)| *name == "x-many")
            .map(|(_, value)| value.to_vec())
            .collect();
        assert_eq!(many, [b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(handshake.header_map().get_all("x-many").iter().count(), 2);
        assert!(
            handshake
                .remote_addr
                .is_some_and(|addr| addr.ip().is_loopback())
        );
        assert_eq!(handshake.protocol, 4);
    })
    .await;
}
