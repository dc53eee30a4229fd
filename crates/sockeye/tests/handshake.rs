//! The opening handshake over real sockets (RFC 6455 §4): the server's
//! answers to bad requests, the accept callback (ask 12 of
//! `notes/user-asks.md`), what the client builder sends (ask 4), frames that
//! ride with the 101 (R-CV-09), time limits (ask 17) and URLs (§3).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use futures_util::StreamExt;
use http::{Response, StatusCode};
use sockeye::{
    Accept, ClientBuilder, CloseCode, Error, HandshakeFailure, Message, ServerBuilder, Timeout,
    UpgradeRequest,
};
use support::{Head, KEY, RawPeer, bounded, close_body, frame, listener, op, request_head};
use tokio::net::{TcpListener, TcpStream};

/// The address of a port nothing listens on: connecting to it is refused,
/// so an error other than `Io` proves no connection was attempted.
async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// Sends `request` from a raw client to `ServerBuilder::accept` over
/// loopback TCP; returns the answer's head, its body (read to EOF), and
/// what `accept` returned.
async fn answer_to(request: &[u8], server: ServerBuilder) -> (Head, Vec<u8>, sockeye::Result<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        server.accept(tcp).await.map(drop)
    });
    let mut raw = RawPeer::client(TcpStream::connect(address).await.unwrap());
    raw.write(request).await;
    let head = raw.read_head().await;
    let body = raw.read_to_end().await;
    // Hanging up ends the server's drain of what the client sent.
    drop(raw);
    (head, body, accepted.await.unwrap())
}

fn invalid(err: &Error) -> &sockeye::proto::handshake::HandshakeError {
    match err {
        Error::Handshake(failure) => match &**failure {
            HandshakeFailure::Invalid(e) => e,
            other => panic!("expected an invalid handshake, got {other:?}"),
        },
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

/// Checks a refusal the server wrote for a bad request: `status`, a body
/// as long as `Content-Length` says, `Connection: close`, then EOF.
fn assert_refusal(head: &Head, body: &[u8], status: u16) {
    assert_eq!(head.status(), status, "{head:?}");
    assert_eq!(head.get("connection"), Some("close"), "{head:?}");
    let length: usize = head.get("content-length").unwrap().parse().unwrap();
    assert_eq!(body.len(), length, "the server closes after the body");
}

// ---- the server's answers to bad requests (R-SH-01..05, R-LM-02) ----
//
// The answers themselves (status, fields, body, close) are checked over
// every entry point by the table in `negotiation.rs`; here, what `accept`
// returns, and the limits of its own HTTP/1.1 reader.

#[tokio::test]
async fn r_sh_01_accept_returns_the_error_it_answered() {
    use sockeye::proto::handshake::HandshakeError;
    let sample_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let cases = [
        // R-SH-04
        (
            request_head("/", "").replace(sample_key, ""),
            Some(HandshakeError::MissingKey),
        ),
        (
            request_head("/", "").replace(
                "dGhlIHNhbXBsZSBub25jZQ==",
                &base64::engine::general_purpose::STANDARD.encode([1u8; 15]),
            ),
            None,
        ),
        // R-SH-05
        (
            request_head("/", "").replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8"),
            None,
        ),
        // R-SH-02
        (request_head("/", "").replace("HTTP/1.1", "HTTP/1.0"), None),
        (request_head("/", "").replacen("GET", "POST", 1), None),
    ];
    for (request, expected) in cases {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let client = async move {
            let mut raw = RawPeer::client(a);
            raw.write(request.as_bytes()).await;
            // The client then hangs up, as the server's drain waits for.
            raw.read_head().await
        };
        let server = ServerBuilder::new();
        let (result, head) = bounded(async { tokio::join!(server.accept(b), client) }).await;
        let err = result.map(drop).expect_err("refused");
        assert!(err.is_handshake(), "{err:?}");
        let error = invalid(&err);
        if let Some(expected) = expected {
            assert_eq!(*error, expected, "{head:?}");
        }
    }
}

#[tokio::test]
async fn r_lm_02_server_answers_431_for_huge_head() {
    bounded(async {
        // Over the 16 KiB default of `max_handshake_size`.
        let big = format!("X-Filler: {}\r\n", "a".repeat(20 << 10));
        let request = request_head("/", &big);
        let (head, body, result) = answer_to(request.as_bytes(), ServerBuilder::new()).await;
        assert_refusal(&head, &body, 431);
        let err = result.unwrap_err();
        assert!(
            matches!(
                invalid(&err),
                sockeye::proto::handshake::HandshakeError::HeadTooLarge { .. }
            ),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn r_lm_02_server_answers_431_for_too_many_headers() {
    bounded(async {
        let many = (0..100)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<Vec<_>>()
            .concat();
        let request = request_head("/", &many);
        let (head, body, _) = answer_to(request.as_bytes(), ServerBuilder::new()).await;
        assert_refusal(&head, &body, 431);
    })
    .await;
}

#[tokio::test]
async fn server_answers_505_for_http_2_0() {
    bounded(async {
        let request = request_head("/", "").replace("HTTP/1.1", "HTTP/2.0");
        let (head, body, result) = answer_to(request.as_bytes(), ServerBuilder::new()).await;
        assert_refusal(&head, &body, 505);
        assert!(result.unwrap_err().is_handshake());
    })
    .await;
}

#[tokio::test]
async fn server_reads_frames_sent_with_the_request() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::client(a);
        let mut bytes = request_head("/", "").into_bytes();
        bytes.extend(frame(true, op::TEXT, b"eager", Some(KEY)));
        raw.write(&bytes).await;
        let mut ws = ServerBuilder::new().accept(b).await.unwrap();
        let message = ws.next().await.unwrap().unwrap();
        assert_eq!(message.as_text(), Some("eager"));
    })
    .await;
}

// ---- the accept callback (ask 12, R-SH-06..08, R-SH-14) ----

/// An async refusal: 401 with a challenge, a custom header and a body.
async fn refuse_401(_request: UpgradeRequest) -> Result<Accept, Response<Bytes>> {
    // Some asynchronous work, as a session lookup would do.
    tokio::task::yield_now().await;
    Err(Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header(
            "WWW-Authenticate",
            r#"Bearer realm="chat", error="invalid_token""#,
        )
        .header("X-Request-Id", "42")
        .body(Bytes::from_static(b"token required"))
        .unwrap())
}

#[tokio::test]
async fn r_sh_14_server_refusal_reaches_raw_client_verbatim() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, refuse_401)
                .await
                .map(drop)
        });
        let mut raw = RawPeer::client(TcpStream::connect(address).await.unwrap());
        raw.write(request_head("/", "").as_bytes()).await;
        let head = raw.read_head().await;
        assert_eq!(head.start, "HTTP/1.1 401 Unauthorized");
        assert_eq!(
            head.get_all("www-authenticate"),
            [r#"Bearer realm="chat", error="invalid_token""#]
        );
        assert_eq!(head.get("x-request-id"), Some("42"));
        assert_eq!(head.get("content-length"), Some("14"));
        assert_eq!(raw.read_to_end().await, b"token required");

        let err = server.await.unwrap().unwrap_err();
        match &err {
            Error::Handshake(failure) => assert!(
                matches!(
                    **failure,
                    HandshakeFailure::Refused(StatusCode::UNAUTHORIZED)
                ),
                "{failure:?}"
            ),
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn client_rejection_carries_status_headers_and_body() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, refuse_401)
                .await
                .map(drop)
        });
        let err = ClientBuilder::new(url).connect().await.unwrap_err();
        assert!(err.is_handshake(), "{err:?}");
        let rejection = err.rejection().expect("the server's answer");
        assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            rejection.headers()["www-authenticate"],
            r#"Bearer realm="chat", error="invalid_token""#
        );
        assert_eq!(rejection.headers()["x-request-id"], "42");
        assert_eq!(&rejection.body()[..], b"token required");
        assert!(server.await.unwrap().is_err());
    })
    .await;
}

#[tokio::test]
async fn client_reads_rejection_body_until_eof_without_content_length() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut raw = RawPeer::server(tcp);
            raw.read_head().await;
            raw.write(b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\r\nnot you")
                .await;
            raw.shutdown().await;
        });
        let err = ClientBuilder::new(url).connect().await.unwrap_err();
        let rejection = err.rejection().expect("the server's answer");
        assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
        assert_eq!(&rejection.body()[..], b"not you");
        server.await.unwrap();
    })
    .await;
}

/// A rejection without a length from a server that keeps the connection
/// open still reaches the caller, with what of the body came: the body is
/// waited for a second, well before the handshake timeout. On paused time
/// the wait is measured exactly.
#[tokio::test(start_paused = true)]
async fn client_keeps_a_rejection_whose_body_never_ends() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        let server = async {
            raw.read_head().await;
            raw.write(b"HTTP/1.1 403 Forbidden\r\n\r\nnot you").await;
            tokio::time::Instant::now()
        };
        // The peer keeps its end open until the test ends.
        let client = ClientBuilder::new("ws://h/").handshake_timeout(Duration::from_secs(4));
        let (result, answered) = tokio::join!(client.connect_on(b), server);
        let waited = answered.elapsed();
        assert_eq!(waited, Duration::from_secs(1), "the wait for the body");
        let err = result.map(drop).unwrap_err();
        let rejection = err.rejection().expect("the server's answer, not a timeout");
        assert_eq!(rejection.status(), StatusCode::FORBIDDEN);
        assert_eq!(&rejection.body()[..], b"not you");
        drop(raw);
    })
    .await;
}

#[tokio::test]
async fn server_callback_sees_the_request() {
    bounded(async {
        let (listener, url) = listener().await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, |request| async move {
                    tx.send(request).unwrap();
                    Ok(Accept::new())
                })
                .await
                .map(drop)
        });
        let url = format!("{url}chat?room=1");
        let (_ws, _) = ClientBuilder::new(url)
            .protocols(["v2", "v1"])
            .origin("https://example.com")
            .header("X-Trace", "abc")
            .cookie("sid", "7")
            .connect()
            .await
            .unwrap();
        let request = rx.await.unwrap();
        assert_eq!(request.path(), "/chat");
        assert_eq!(request.uri().query(), Some("room=1"));
        assert_eq!(request.protocols(), ["v2", "v1"]);
        assert_eq!(request.origin(), Some("https://example.com"));
        assert_eq!(request.headers()["x-trace"], "abc");
        assert_eq!(request.headers()["cookie"], "sid=7");
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn r_sh_06_server_refuses_unwanted_origin_with_403() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let server = ServerBuilder::new();
            let mut results = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let result = server
                    .accept_with(tcp, |request| async move {
                        if request.origin() == Some("https://good.example") {
                            Ok(Accept::new())
                        } else {
                            Err(Response::builder()
                                .status(StatusCode::FORBIDDEN)
                                .body(Bytes::new())
                                .unwrap())
                        }
                    })
                    .await;
                results.push(result.is_ok());
            }
            results
        });
        let err = ClientBuilder::new(url.clone())
            .origin("https://evil.example")
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.rejection().unwrap().status(), StatusCode::FORBIDDEN);
        let accepted = ClientBuilder::new(url)
            .origin("https://good.example")
            .connect()
            .await;
        assert!(accepted.is_ok());
        assert_eq!(server.await.unwrap(), [false, true]);
    })
    .await;
}

#[tokio::test]
async fn r_sh_06_allowed_origins_refuse_others_with_403_before_the_callback() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let server = ServerBuilder::new()
                .allowed_origins(["https://good.example", "http://localhost:8080"]);
            let mut results = Vec::new();
            for _ in 0..4 {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut called = false;
                let result = server
                    .accept_with(tcp, |_| {
                        called = true;
                        async { Ok(Accept::new()) }
                    })
                    .await;
                results.push((result.is_ok(), called));
            }
            results
        });
        let err = ClientBuilder::new(url.clone())
            .origin("https://evil.example")
            .connect()
            .await
            .unwrap_err();
        assert_eq!(err.rejection().unwrap().status(), StatusCode::FORBIDDEN);
        // Compared without regard to case.
        let good = ClientBuilder::new(url.clone())
            .origin("HTTPS://Good.Example")
            .connect()
            .await;
        assert!(good.is_ok(), "{good:?}");
        let other = ClientBuilder::new(url.clone())
            .origin("http://localhost:8080")
            .connect()
            .await;
        assert!(other.is_ok(), "{other:?}");
        // No Origin: not a browser, let through.
        let program = ClientBuilder::new(url).connect().await;
        assert!(program.is_ok(), "{program:?}");
        assert_eq!(
            server.await.unwrap(),
            [(false, false), (true, true), (true, true), (true, true)]
        );
    })
    .await;
}

#[tokio::test]
async fn r_ex_05_server_picks_subprotocol_seen_by_client() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, |request| async move {
                    let v1 = request.protocols().iter().any(|p| p == "v1");
                    Ok(Accept::new().protocol_if(v1, "v1"))
                })
                .await
                .unwrap()
        });
        let (client, response) = ClientBuilder::new(url)
            .protocols(["v2", "v1"])
            .connect()
            .await
            .unwrap();
        assert_eq!(client.protocol(), Some("v1"));
        assert_eq!(response.headers()["sec-websocket-protocol"], "v1");
        let server = server.await.unwrap();
        assert_eq!(server.protocol(), Some("v1"));
    })
    .await;
}

#[tokio::test]
async fn r_sh_08_server_refuses_to_pick_unoffered_subprotocol() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, |_| async { Ok(Accept::new().protocol("v3")) })
                .await
                .map(drop)
        });
        let err = ClientBuilder::new(url)
            .protocols(["v2", "v1"])
            .connect()
            .await
            .unwrap_err();
        let rejection = err.rejection().expect("the server refused");
        assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let err = server.await.unwrap().unwrap_err();
        assert_eq!(
            *invalid(&err),
            sockeye::proto::handshake::HandshakeError::ProtocolNotOffered
        );
    })
    .await;
}

#[tokio::test]
async fn r_cv_08_server_accept_headers_reach_client_response() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, |_| async {
                    Ok(Accept::new().header("set-cookie", "sid=9; HttpOnly"))
                })
                .await
                .map(drop)
        });
        let (_ws, response) = ClientBuilder::new(url).connect().await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.headers()["set-cookie"], "sid=9; HttpOnly");
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_handshake_timeout_does_not_count_the_callback() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::client(a);
        raw.write(request_head("/", "").as_bytes()).await;
        let server = ServerBuilder::new().handshake_timeout(Duration::from_secs(1));
        let ws = server
            .accept_with(b, |_| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(Accept::new())
            })
            .await;
        assert!(ws.is_ok(), "{ws:?}");
        assert_eq!(raw.read_head().await.status(), 101);
    })
    .await;
}

// ---- what the client checks (R-CV-04, R-CV-06) ----

#[tokio::test]
async fn r_cv_04_client_fails_on_wrong_accept() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        let peer = async {
            raw.read_head().await;
            raw.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
                  Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
            )
            .await;
        };
        let (result, ()) = tokio::join!(ClientBuilder::new("ws://h/").connect_on(b), peer);
        let err = result.map(drop).unwrap_err();
        assert!(err.is_handshake(), "{err:?}");
        assert!(err.rejection().is_none(), "a 101 is not a rejection");
        assert_eq!(
            *invalid(&err),
            sockeye::proto::handshake::HandshakeError::AcceptMismatch
        );
    })
    .await;
}

#[tokio::test]
async fn r_cv_06_client_fails_when_server_picks_unoffered_subprotocol() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        let builder = ClientBuilder::new("ws://h/").protocol("FOOBAR");
        let (result, _) = tokio::join!(
            builder.connect_on(b),
            raw.server_handshake_with("Sec-WebSocket-Protocol: foobar\r\n", &[])
        );
        let err = result.map(drop).unwrap_err();
        assert_eq!(
            *invalid(&err),
            sockeye::proto::handshake::HandshakeError::ProtocolNotOffered
        );
    })
    .await;
}

// ---- frames in the same packet as the 101 (R-CV-09) ----

#[tokio::test]
async fn r_cv_09_client_reads_frames_sent_with_the_101() {
    bounded(async {
        let (listener, url) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut raw = RawPeer::server(tcp);
            let mut frames = frame(true, op::TEXT, b"early", None);
            frames.extend(frame(true, op::CLOSE, &close_body(1001, "PASS"), None));
            // One write: the 101 head and both frames.
            raw.server_handshake_with("", &frames).await;
            raw.expect_close(1001).await;
            raw.shutdown().await;
            raw.expect_eof().await;
        });
        let (mut ws, _) = ClientBuilder::new(url).connect().await.unwrap();
        let first = ws.next().await.unwrap().unwrap();
        assert_eq!(first, Message::text("early"));
        assert!(ws.next().await.is_none(), "wasClean");
        let close = ws.close_frame().unwrap();
        assert_eq!(close.code, CloseCode::GOING_AWAY);
        assert_eq!(close.reason.as_str(), "PASS");
        server.await.unwrap();
    })
    .await;
}

// ---- what the client sends (ask 4, R-CH-*) ----

/// Connects `builder(url)` to a raw server and returns the request it saw.
async fn request_seen(builder: impl FnOnce(String) -> ClientBuilder) -> (Head, SocketAddr) {
    let (listener, url) = listener().await;
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.server_handshake().await
    });
    builder(url).connect().await.expect("the client connects");
    (server.await.unwrap(), address)
}

#[tokio::test]
async fn client_sends_custom_headers_auth_cookies_and_origin() {
    bounded(async {
        let (head, address) = request_seen(|url| {
            ClientBuilder::new(format!("{url}feed?since=3"))
                .header("X-Trace", "abc")
                .header("X-Multi", "one")
                .header("X-Multi", "two")
                .bearer_auth("secret-token")
                .cookie("session", "abc123")
                .cookie("theme", "dark")
                .origin("https://example.com")
                .protocols(["chat.v2", "chat.v1"])
        })
        .await;
        assert_eq!(head.start, "GET /feed?since=3 HTTP/1.1"); // R-URI-03
        assert_eq!(head.get_all("host"), [address.to_string()]); // R-CH-06
        assert_eq!(head.get("x-trace"), Some("abc"));
        assert_eq!(head.get_all("x-multi"), ["one", "two"]);
        assert_eq!(head.get_all("authorization"), ["Bearer secret-token"]);
        assert_eq!(head.get_all("cookie"), ["session=abc123; theme=dark"]);
        assert_eq!(head.get("origin"), Some("https://example.com")); // R-CH-09
        assert_eq!(head.get_all("sec-websocket-protocol"), ["chat.v2, chat.v1"]);
        // The handshake's own fields, once each (R-CH-07, R-CH-10, R-CH-14).
        assert_eq!(head.get_all("upgrade"), ["websocket"]);
        assert_eq!(head.get_all("connection"), ["Upgrade"]);
        assert_eq!(head.get_all("sec-websocket-version"), ["13"]);
        assert_eq!(head.get_all("sec-websocket-key").len(), 1);
    })
    .await;
}

#[tokio::test]
async fn client_sends_basic_auth() {
    bounded(async {
        let (head, _) =
            request_seen(|url| ClientBuilder::new(url).basic_auth("aladdin", "opensesame")).await;
        assert_eq!(
            head.get_all("authorization"),
            ["Basic YWxhZGRpbjpvcGVuc2VzYW1l"]
        );
    })
    .await;
}

#[tokio::test]
async fn r_uri_03_client_sends_slash_for_empty_path() {
    bounded(async {
        let (head, _) = request_seen(|url| ClientBuilder::new(url.trim_end_matches('/'))).await;
        assert_eq!(head.start, "GET / HTTP/1.1");
    })
    .await;
}

#[tokio::test]
async fn r_ch_08_client_sends_a_fresh_key_per_connection() {
    bounded(async {
        let (first, _) = request_seen(ClientBuilder::new).await;
        let (second, _) = request_seen(ClientBuilder::new).await;
        let keys = [&first, &second].map(|head| {
            let key = head.get("sec-websocket-key").unwrap().to_owned();
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(&key)
                .unwrap();
            assert_eq!(decoded.len(), 16);
            key
        });
        assert_ne!(keys[0], keys[1]);
    })
    .await;
}

#[tokio::test]
async fn client_keeps_consistent_handshake_headers_once() {
    bounded(async {
        let (head, _) = request_seen(|url| {
            ClientBuilder::new(url)
                .header("Sec-WebSocket-Version", "13")
                .header("Upgrade", "websocket")
                .header("Connection", "keep-alive, Upgrade")
        })
        .await;
        assert_eq!(head.get_all("sec-websocket-version"), ["13"]);
        assert_eq!(head.get_all("upgrade"), ["websocket"]);
        assert_eq!(head.get_all("connection"), ["keep-alive, Upgrade"]);
    })
    .await;
}

#[tokio::test]
async fn client_refuses_conflicting_handshake_headers() {
    let conflicting: [(&str, &str); 5] = [
        ("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA=="),
        ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
        ("Sec-WebSocket-Version", "8"),
        ("Upgrade", "h2c"),
        ("Connection", "close"),
    ];
    bounded(async {
        for (name, value) in conflicting {
            let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
            let result = ClientBuilder::new("ws://h/")
                .header(name, value)
                .connect_on(b)
                .await;
            let err = result.map(drop).unwrap_err();
            assert!(err.is_handshake(), "{name}: {err:?}");
            // Nothing was sent.
            assert!(RawPeer::server(a).read_to_end().await.is_empty(), "{name}");
        }
    })
    .await;
}

#[tokio::test]
async fn client_refuses_conflicting_header_before_connecting() {
    bounded(async {
        let url = format!("ws://{}/", closed_port().await);
        let err = ClientBuilder::new(url)
            .header("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==")
            .connect()
            .await
            .map(drop)
            .unwrap_err();
        // Refused (the port) would mean a connection was attempted.
        assert!(err.is_handshake(), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn client_refuses_invalid_header_before_connecting() {
    bounded(async {
        let url = format!("ws://{}/", closed_port().await);
        for builder in [
            ClientBuilder::new(url.clone()).header("bad name", "x"),
            ClientBuilder::new(url.clone()).header("X-Ok", "line\nbreak"),
            ClientBuilder::new(url.clone()).bearer_auth("tok\r\nX-Injected: 1"),
        ] {
            let err = builder.connect().await.map(drop).unwrap_err();
            assert!(matches!(err, Error::InvalidHeader(_)), "{err:?}");
        }
    })
    .await;
}

#[tokio::test]
async fn client_sends_one_cookie_header() {
    bounded(async {
        let (head, _) = request_seen(|url| {
            ClientBuilder::new(url)
                .header("Cookie", "a=1")
                .cookie("b", "2")
        })
        .await;
        assert_eq!(head.get_all("cookie").len(), 1, "{head:?}");
    })
    .await;
}

// ---- time limits (ask 17) ----

#[tokio::test]
async fn client_times_out_when_server_never_answers() {
    bounded(async {
        let (listener, url) = listener().await;
        // The server accepts TCP and then says nothing until the test ends.
        // Real time and a real socket: `connect` (with its DNS, TCP and
        // timer) is what is tested, and nothing is measured.
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let silent = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = finished.await;
            drop(tcp);
        });
        let err = ClientBuilder::new(url)
            .handshake_timeout(Duration::from_millis(200))
            .connect()
            .await
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, Error::Timeout(Timeout::Handshake)), "{err:?}");
        assert!(err.is_timeout());
        drop(done);
        silent.await.unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn client_handshake_timeout_covers_a_trickling_server() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        let trickle = async {
            raw.read_head().await;
            for byte in b"HTTP/1.1 101 Switching Protocols\r\n" {
                raw.write(&[*byte]).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        let builder = ClientBuilder::new("ws://h/").handshake_timeout(Duration::from_secs(2));
        let connect = async { builder.connect_on(b).await.map(drop) };
        let result = tokio::select! {
            result = connect => result,
            () = trickle => panic!("the client waited for the whole trickle"),
        };
        assert!(
            matches!(result, Err(Error::Timeout(Timeout::Handshake))),
            "{result:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_times_out_when_client_is_silent() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let server = ServerBuilder::new().handshake_timeout(Duration::from_secs(2));
        let err = server.accept(b).await.map(drop).unwrap_err();
        assert!(matches!(err, Error::Timeout(Timeout::Handshake)), "{err:?}");
        drop(a);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_handshake_timeout_covers_a_trickling_client() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::client(a);
        let request = request_head("/", "");
        let trickle = async {
            for byte in request.as_bytes() {
                raw.write(&[*byte]).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        let server = ServerBuilder::new().handshake_timeout(Duration::from_secs(2));
        let accept = async { server.accept(b).await.map(drop) };
        let result = tokio::select! {
            result = accept => result,
            () = trickle => panic!("the server waited for the whole trickle"),
        };
        assert!(
            matches!(result, Err(Error::Timeout(Timeout::Handshake))),
            "{result:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn client_handshake_times_out_over_a_silent_stream() {
    bounded(async {
        let builder = ClientBuilder::new("ws://h/").handshake_timeout(Duration::from_secs(2));
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let err = builder.connect_on(b).await.map(drop).unwrap_err();
        assert!(matches!(err, Error::Timeout(Timeout::Handshake)), "{err:?}");
        // The request was sent; nothing else.
        let mut raw = RawPeer::server(a);
        assert_eq!(raw.read_head().await.start, "GET / HTTP/1.1");
    })
    .await;
}

#[tokio::test]
async fn r_ch_02_client_fails_with_io_error_when_refused() {
    bounded(async {
        let url = format!("ws://{}/", closed_port().await);
        let err = sockeye::connect(&url).await.map(drop).unwrap_err();
        assert!(err.is_io(), "{err:?}");
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    })
    .await;
}

#[tokio::test]
async fn client_fails_when_server_hangs_up_during_handshake() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        // R-CL-14: the server aborts by closing the connection.
        let peer = async move {
            raw.read_head().await;
            drop(raw);
        };
        let (result, ()) = tokio::join!(ClientBuilder::new("ws://h/").connect_on(b), peer);
        let err = result.map(drop).unwrap_err();
        assert!(err.is_closed() || err.is_io(), "{err:?}");
        assert!(err.rejection().is_none());
    })
    .await;
}

// ---- URLs, refused before any I/O (R-URI-01..05) ----

#[tokio::test]
async fn r_uri_05_client_refuses_bad_urls_before_connecting() {
    bounded(async {
        let address = closed_port().await;
        let urls = [
            format!("ws://{address}/#fragment"), // R-URI-04
            format!("ws://{address}/#"),
            format!("http://{address}/"), // R-URI-01
            format!("https://{address}/"),
            format!("ftp://{address}/"),
            format!("ws://user:pass@{address}/"),
            format!("{address}/"),
            "ws:///path".to_owned(),
            "not a url".to_owned(),
        ];
        let mut urls = urls.to_vec();
        if !cfg!(feature = "tls") {
            urls.push(format!("wss://{address}/"));
        }
        for url in urls {
            // Connecting would fail with `Io` (connection refused).
            let err = sockeye::connect(&url).await.map(drop).unwrap_err();
            assert!(matches!(err, Error::InvalidUrl(_)), "{url}: {err:?}");
            let io: std::io::Error = err.into();
            assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
        }
    })
    .await;
}

#[tokio::test]
async fn r_uri_04_client_on_stream_refuses_fragment_without_writing() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let err = ClientBuilder::new("ws://h/chat#x")
            .connect_on(b)
            .await
            .map(drop)
            .unwrap_err();
        assert!(matches!(err, Error::InvalidUrl(_)), "{err:?}");
        assert!(RawPeer::server(a).read_to_end().await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn r_uri_01_client_accepts_uppercase_scheme() {
    bounded(async {
        let (head, _) = request_seen(|url| ClientBuilder::new(url.replacen("ws", "WS", 1))).await;
        assert_eq!(head.start, "GET / HTTP/1.1");
    })
    .await;
}

#[tokio::test]
async fn client_host_header_replaces_the_urls() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        let client = ClientBuilder::new("ws://h/").header("Host", "elsewhere.example");
        let (ws, request) = tokio::join!(client.connect_on(b), raw.server_handshake());
        ws.expect("the client connects");
        let hosts: Vec<_> = request
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("host"))
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(hosts, ["elsewhere.example"]);
    })
    .await;
}

// ---- subprotocols chosen by the builder (R-SH-08) ----

#[tokio::test]
async fn select_protocol_follows_the_clients_order() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            ServerBuilder::new()
                .accept_with(tcp, |request| async move {
                    assert_eq!(request.select_protocol(&["b", "a"]), Some("a"));
                    assert_eq!(request.select_protocol(&["z"]), None);
                    assert_eq!(request.select_protocol::<&str>(&[]), None);
                    let chosen = request.select_protocol(&["c", "b"]).map(str::to_owned);
                    Ok(Accept::new().protocol(chosen.unwrap()))
                })
                .await
                .map(|ws| ws.protocol().map(str::to_owned))
        });
        let (ws, _) = ClientBuilder::new(format!("ws://{address}/").as_str())
            .protocols(["a", "b", "c"])
            .connect()
            .await
            .unwrap();
        assert_eq!(ws.protocol(), Some("b"));
        assert_eq!(server.await.unwrap().unwrap().as_deref(), Some("b"));
    })
    .await;
}

// ---- plain HTTP on the WebSocket port ----

fn pages() -> ServerBuilder {
    ServerBuilder::new().http_fallback(|request| {
        let (status, body) = match request.uri().path() {
            "/health" => (200, "ok\n"),
            _ => (404, "no such page\n"),
        };
        Response::builder()
            .status(status)
            .header("content-type", "text/plain")
            .body(Bytes::from_static(body.as_bytes()))
            .unwrap()
    })
}

fn plain_http(err: &Error) -> StatusCode {
    match err {
        Error::Handshake(failure) => match &**failure {
            HandshakeFailure::PlainHttp(status) => *status,
            other => panic!("expected a plain http answer, got {other:?}"),
        },
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

#[tokio::test]
async fn http_fallback_answers_requests_without_upgrade() {
    bounded(async {
        let request = "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
        let (head, body, accepted) = answer_to(request.as_bytes(), pages()).await;
        assert_eq!(head.status(), 200, "{head:?}");
        assert_eq!(head.get("content-length"), Some("3"));
        assert_eq!(body, b"ok\n");
        assert_eq!(plain_http(&accepted.unwrap_err()), StatusCode::OK);

        let request = "GET /elsewhere HTTP/1.1\r\nHost: localhost\r\n\r\n";
        let (head, body, accepted) = answer_to(request.as_bytes(), pages()).await;
        assert_eq!(head.status(), 404, "{head:?}");
        assert_eq!(body, b"no such page\n");
        assert_eq!(plain_http(&accepted.unwrap_err()), StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn http_fallback_answers_head_without_a_body() {
    bounded(async {
        let request = "HEAD /health HTTP/1.1\r\nHost: localhost\r\n\r\n";
        let (head, body, _) = answer_to(request.as_bytes(), pages()).await;
        assert_eq!(head.status(), 200, "{head:?}");
        assert_eq!(head.get("content-length"), Some("3"));
        assert!(body.is_empty(), "a body after HEAD: {body:?}");
    })
    .await;
}

#[tokio::test]
async fn http_fallback_leaves_upgrade_requests_alone() {
    bounded(async {
        // A valid upgrade still opens a WebSocket.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = pages().accept(tcp).await.unwrap();
            let message = ws.next().await.unwrap().unwrap();
            ws.send(message).await.unwrap();
        });
        let mut ws = sockeye::connect(&format!("ws://{address}/health"))
            .await
            .unwrap();
        ws.send(Message::text("hi")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi"));
        server.await.unwrap();

        // A bad upgrade gets its WebSocket error, not the page.
        let request = request_head("/health", "")
            .replace("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8");
        let (head, body, accepted) = answer_to(request.as_bytes(), pages()).await;
        assert_refusal(&head, &body, 426);
        invalid(&accepted.unwrap_err());
    })
    .await;
}
