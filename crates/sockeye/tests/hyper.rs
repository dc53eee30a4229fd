//! WebSocket upgrades inside a hyper 1.x server (`sockeye::hyper`), over
//! HTTP/1.1 (RFC 6455 §4, R-SH-*) and HTTP/2 extended CONNECT (RFC 8441,
//! H2-*), against sockeye's client, a raw HTTP/1.1 client and an HTTP/2
//! client played with the `h2` crate. All over loopback.
#![cfg(all(feature = "hyper", feature = "http2"))]

mod h2_peer;
mod support;

#[path = "../examples/hyper-echo.rs"]
#[allow(dead_code, reason = "the example's `main` is not run here")]
mod hyper_echo;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use h2_peer::{H2Client, client_socket, connect_request};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sockeye::proto::DeflateConfig;
use sockeye::proto::handshake::parse_extensions;
use sockeye::{Accept, ClientBuilder, CloseCode, Message, ServerBuilder};
use support::{RawPeer, SAMPLE_ACCEPT, bounded, op, request_head};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the server saw of one echoed connection.
#[derive(Debug)]
struct Served {
    protocol: Option<String>,
    deflate: bool,
    close: Option<CloseCode>,
}

/// Serves hyper on a loopback port, HTTP/1.1 and HTTP/2 (extended CONNECT
/// on unless `plain_h2`), answering every request with `handle`.
async fn serve<H, F>(handle: H, extended_connect: bool) -> SocketAddr
where
    H: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let mut http = auto::Builder::new(TokioExecutor::new());
    if extended_connect {
        http.http2().enable_connect_protocol();
    }
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            let (http, handle) = (http.clone(), handle.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request| {
                    let response = handle(request);
                    async move { Ok::<_, Infallible>(response.await) }
                });
                let _ = http
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    address
}

/// A hyper server that upgrades every request with `server` and echoes
/// every message, reporting each connection it served.
async fn echo_server(server: ServerBuilder) -> (SocketAddr, mpsc::UnboundedReceiver<Served>) {
    let (report, reports) = mpsc::unbounded_channel();
    let handle = move |mut request: Request<Incoming>| {
        let answer = server.upgrade(&mut request);
        let report = report.clone();
        async move {
            let (response, upgrade) = match answer {
                Ok(accepted) => accepted,
                Err(refused) => return refused.into_response(),
            };
            tokio::spawn(async move {
                let mut ws = upgrade.await.expect("the upgrade completes");
                while let Some(Ok(message)) = ws.next().await {
                    if ws.feed(message).await.is_err() {
                        break;
                    }
                }
                let _ = report.send(Served {
                    protocol: ws.protocol().map(str::to_owned),
                    deflate: ws.deflate().is_some(),
                    close: ws.close_frame().map(|frame| frame.code),
                });
            });
            response
        }
    };
    (serve(handle, true).await, reports)
}

/// A client without keepalive (nothing unplanned on the wire).
fn client(address: SocketAddr) -> ClientBuilder {
    ClientBuilder::new(format!("ws://{address}/echo")).keepalive(None, support::BOUND)
}

/// The largest message accepted by default: 16 MiB.
const LIMIT: u32 = 16 << 20;

/// Sends text, binary and a `big`-byte message and checks each echo, then
/// closes with 1000.
async fn exchange<S>(ws: &mut sockeye::WebSocket<S>, big: u32)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let big: Vec<u8> = (0..big)
        .map(|i| u8::try_from(i % 251).expect("below 251"))
        .collect();
    for message in [
        Message::text("hello"),
        Message::binary(&b"\x00\x01\xfe\xff"[..]),
        Message::binary(big),
    ] {
        ws.send(message.clone()).await.expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo, message);
    }
    ws.close(CloseCode::NORMAL, "done")
        .await
        .expect("a clean close");
}

/// Opens a raw client on `address`, writes `head` and returns the answer.
async fn raw_answer(address: SocketAddr, head: &str) -> support::Head {
    let tcp = TcpStream::connect(address).await.expect("connect");
    let mut raw = RawPeer::client(tcp);
    raw.write(head.as_bytes()).await;
    raw.read_head().await
}

// ---- HTTP/1.1 ----

#[tokio::test]
async fn r_sh_10_http11_upgrade_answers_101_and_echoes() {
    bounded(async {
        let (address, mut reports) = echo_server(ServerBuilder::new()).await;
        let (mut ws, response) = client(address).connect().await.expect("connects");
        assert_eq!(response.status(), 101);
        assert!(response.headers().contains_key("sec-websocket-accept"));
        exchange(&mut ws, LIMIT).await;
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn r_sh_10_accept_value_follows_the_key() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let head = raw_answer(address, &request_head("/", "")).await;
        assert_eq!(head.status(), 101, "{head:?}");
        assert_eq!(head.get("sec-websocket-accept"), Some(SAMPLE_ACCEPT));
        assert_eq!(head.get("upgrade"), Some("websocket"));
        assert!(head.get("sec-websocket-protocol").is_none()); // R-SH-08
        assert!(head.get("sec-websocket-extensions").is_none());
    })
    .await;
}

#[tokio::test]
async fn r_sh_12_bytes_sent_with_the_request_reach_the_socket() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let tcp = TcpStream::connect(address).await.expect("connect");
        let mut raw = RawPeer::client(tcp);
        // The request and a first frame in one write: hyper reads both, and
        // must hand the frame over with the connection.
        let mut bytes = request_head("/", "").into_bytes();
        bytes.extend(support::frame(true, op::TEXT, b"early", Some(support::KEY)));
        raw.write(&bytes).await;
        assert_eq!(raw.read_head().await.status(), 101);
        let echo = raw.expect_frame().await;
        assert_eq!(echo.text(), "early");
        assert!(!echo.masked);
    })
    .await;
}

#[tokio::test]
async fn r_sh_08_subprotocol_is_the_clients_first_choice_among_supported() {
    bounded(async {
        let server = ServerBuilder::new().protocols(["chat.v1", "chat.v2"]);
        let (address, mut reports) = echo_server(server).await;
        let (mut ws, response) = client(address)
            .protocols(["chat.v3", "chat.v2", "chat.v1"])
            .connect()
            .await
            .expect("connects");
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
        assert_eq!(ws.protocol(), Some("chat.v2"));
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.protocol.as_deref(), Some("chat.v2"));
    })
    .await;
}

#[tokio::test]
async fn r_sh_08_no_subprotocol_when_none_is_supported() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new().protocols(["other"])).await;
        let (ws, response) = client(address)
            .protocols(["chat"])
            .connect()
            .await
            .expect("connects");
        assert!(response.headers().get("sec-websocket-protocol").is_none());
        assert_eq!(ws.protocol(), None);
    })
    .await;
}

#[tokio::test]
async fn pmd_permessage_deflate_is_agreed_when_the_server_allows_it() {
    bounded(async {
        let server = ServerBuilder::new().deflate(Some(DeflateConfig::default()));
        let (address, mut reports) = echo_server(server).await;
        let (mut ws, response) = client(address).connect().await.expect("connects");
        let agreed = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        assert!(ws.deflate().is_some());
        let text = "compressible text ".repeat(50_000);
        ws.send(Message::text(text.clone())).await.expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo.as_text(), Some(text.as_str()));
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
        assert!(reports.recv().await.expect("a report").deflate);
    })
    .await;
}

#[tokio::test]
async fn pmd_permessage_deflate_is_declined_by_default() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let (ws, response) = client(address).connect().await.expect("connects");
        assert!(response.headers().get("sec-websocket-extensions").is_none());
        assert!(ws.deflate().is_none());
    })
    .await;
}

#[tokio::test]
async fn r_sh_02_post_and_http10_are_refused_400() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let post = request_head("/", "").replacen("GET", "POST", 1);
        let head = raw_answer(address, &post).await;
        assert_eq!(head.status(), 400, "{head:?}");
        assert_eq!(head.get("connection"), Some("close")); // R-SH-15
        let old = request_head("/", "").replacen("HTTP/1.1", "HTTP/1.0", 1);
        assert_eq!(raw_answer(address, &old).await.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn r_sh_03_missing_upgrade_is_426_and_missing_connection_400() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let no_upgrade = request_head("/", "").replace("Upgrade: websocket\r\n", "");
        let head = raw_answer(address, &no_upgrade).await;
        assert_eq!(head.status(), 426, "{head:?}");
        assert_eq!(head.get("upgrade"), Some("websocket"));
        let no_connection = request_head("/", "").replace("Connection: Upgrade\r\n", "");
        assert_eq!(raw_answer(address, &no_connection).await.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn r_sh_04_invalid_key_is_refused_400() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let short_key = request_head("/", "").replace(support::SAMPLE_KEY, "c2hvcnQ=");
        assert_eq!(raw_answer(address, &short_key).await.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn r_sh_05_other_version_is_refused_426_listing_13() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let version_8 = request_head("/", "").replace("Version: 13", "Version: 8");
        let head = raw_answer(address, &version_8).await;
        assert_eq!(head.status(), 426, "{head:?}");
        assert_eq!(head.get("sec-websocket-version"), Some("13"));
    })
    .await;
}

#[tokio::test]
async fn r_sh_13_duplicate_key_is_refused_400() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let twice = request_head(
            "/",
            &format!("Sec-WebSocket-Key: {}\r\n", support::SAMPLE_KEY),
        );
        assert_eq!(raw_answer(address, &twice).await.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn r_sh_06_origin_not_allowed_is_refused_403() {
    bounded(async {
        let server = ServerBuilder::new().allowed_origins(["https://good.example"]);
        let (address, _reports) = echo_server(server).await;
        let refused = client(address)
            .origin("https://evil.example")
            .connect()
            .await
            .expect_err("refused");
        let rejection = refused.rejection().expect("an http answer");
        assert_eq!(rejection.status(), 403);
        let (ws, _) = client(address)
            .origin("https://GOOD.example")
            .connect()
            .await
            .expect("an allowed origin connects");
        drop(ws);
    })
    .await;
}

#[tokio::test]
async fn r_sh_14_check_upgrade_lets_the_service_refuse_or_accept() {
    bounded(async {
        let handle = |mut request: Request<Incoming>| async move {
            let server = ServerBuilder::new();
            let pending = match server.check_upgrade(&mut request) {
                Ok(pending) => pending,
                Err(refused) => return refused.into_response(),
            };
            // The decision may take its time between checking and answering.
            tokio::task::yield_now().await;
            if !pending.request().headers().contains_key("authorization") {
                return Response::builder()
                    .status(401)
                    .header("www-authenticate", "Bearer")
                    .body(Full::new(Bytes::from_static(b"token required\n")))
                    .unwrap();
            }
            match pending.accept(Accept::new().header("set-cookie", "seen=1")) {
                Ok((response, upgrade)) => {
                    tokio::spawn(upgrade);
                    response
                }
                Err(refused) => refused.into_response(),
            }
        };
        let address = serve(handle, true).await;
        let refused = client(address).connect().await.expect_err("refused");
        let rejection = refused.rejection().expect("an http answer");
        assert_eq!(rejection.status(), 401);
        assert_eq!(rejection.headers()["www-authenticate"], "Bearer");
        assert_eq!(&rejection.body()[..], b"token required\n");
        let (_, response) = client(address)
            .bearer_auth("t0ken")
            .connect()
            .await
            .expect("connects with a token");
        assert_eq!(response.headers()["set-cookie"], "seen=1");
    })
    .await;
}

#[tokio::test]
async fn r_sh_08_accepting_a_protocol_not_offered_answers_500() {
    bounded(async {
        let handle = |mut request: Request<Incoming>| {
            let server = ServerBuilder::new();
            let answer = server
                .check_upgrade(&mut request)
                .and_then(|pending| pending.accept(Accept::new().protocol("unoffered")));
            let response = match answer {
                Ok((response, _upgrade)) => response,
                Err(refused) => refused.into_response(),
            };
            std::future::ready(response)
        };
        let address = serve(handle, true).await;
        let head = raw_answer(address, &request_head("/", "")).await;
        assert_eq!(head.status(), 500, "{head:?}");
        let tcp = TcpStream::connect(address).await.expect("connect");
        let mut raw = RawPeer::client(tcp);
        raw.write(request_head("/", "Sec-WebSocket-Protocol: offered\r\n").as_bytes())
            .await;
        assert_eq!(raw.read_head().await.status(), 500);
    })
    .await;
}

// ---- HTTP/2, RFC 8441 ----

#[tokio::test]
async fn h2_01_server_announces_extended_connect() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        assert!(H2Client::connect(address).await.extended_connect_enabled());
    })
    .await;
}

#[tokio::test]
async fn h2_04_without_the_setting_extended_connect_is_off() {
    bounded(async {
        let handle = |_request: Request<Incoming>| async { Response::new(Full::default()) };
        let address = serve(handle, false).await;
        assert!(!H2Client::connect(address).await.extended_connect_enabled());
    })
    .await;
}

#[tokio::test]
async fn h2_09_extended_connect_is_answered_200_and_echoes() {
    bounded(async {
        let (address, mut reports) = echo_server(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        let (head, stream) = h2.websocket(address, "/echo", &[]).await;
        assert_eq!(head.status, 200); // H2-09
        // H2-07: no key, no accept, no HTTP/1.1 upgrade fields.
        for name in ["sec-websocket-accept", "upgrade", "connection"] {
            assert!(!head.headers.contains_key(name), "{name} in {head:?}");
        }
        // H2-10: RFC 6455 framing, masked by the client, on the stream.
        let mut ws = client_socket(stream, None);
        exchange(&mut ws, LIMIT).await;
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn h2_11_server_closing_ends_the_stream() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        let (head, stream) = h2.websocket(address, "/", &[]).await;
        assert_eq!(head.status, 200);
        // A masked Close 1000: the server echoes it and ends the stream
        // with END_STREAM, which reads as EOF after the Close.
        let mut raw = RawPeer::client(stream);
        raw.send_close(1000, "bye").await;
        let frame = raw.expect_close(1000).await;
        assert_eq!(frame.close_reason(), "bye");
        raw.expect_eof().await;
    })
    .await;
}

#[tokio::test]
async fn h2_08_subprotocol_and_deflate_are_negotiated_as_over_http11() {
    bounded(async {
        let server = ServerBuilder::new()
            .protocols(["chat"])
            .deflate(Some(DeflateConfig::default()));
        let (address, mut reports) = echo_server(server).await;
        let offer = DeflateConfig::default();
        let mut h2 = H2Client::connect(address).await;
        let (head, stream) = h2
            .websocket(
                address,
                "/",
                &[
                    ("sec-websocket-protocol", "other, chat"),
                    ("sec-websocket-extensions", &offer.offer()),
                ],
            )
            .await;
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["sec-websocket-protocol"], "chat");
        let answer = parse_extensions(head.headers.get_all("sec-websocket-extensions"))
            .expect("a valid extension answer");
        assert_eq!(answer.len(), 1, "{answer:?}");
        let agreed = offer.accept_response(&answer[0]).expect("acceptable");
        let mut ws = client_socket(stream, Some(agreed));
        let text = "compressible text ".repeat(50_000);
        ws.send(Message::text(text.clone())).await.expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo.as_text(), Some(text.as_str()));
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.protocol.as_deref(), Some("chat"));
        assert!(seen.deflate);
    })
    .await;
}

#[tokio::test]
async fn h2_07_bad_version_is_refused_400_listing_13() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        // R-SH-05 over HTTP/2: 400, as a 426 would need `Upgrade`.
        let mut request = connect_request(address, "/");
        request
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        let (head, _) = h2.open(request, Some("websocket")).await;
        assert_eq!(head.status, 400);
        assert_eq!(head.headers["sec-websocket-version"], "13");
        let (head, _) = h2
            .open(connect_request(address, "/"), Some("websocket"))
            .await;
        assert_eq!(head.status, 400, "a missing version");
        assert!(!head.headers.contains_key("upgrade"));
    })
    .await;
}

#[tokio::test]
async fn h2_05_requests_other_than_websocket_connect_are_refused() {
    bounded(async {
        let (address, _reports) = echo_server(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        let with_version = |mut request: Request<()>| {
            request
                .headers_mut()
                .insert("sec-websocket-version", "13".parse().unwrap());
            request
        };
        // Another protocol: 501 (as RFC 9220 §3 says for HTTP/3).
        let (head, _) = h2
            .open(
                with_version(connect_request(address, "/")),
                Some("webtransport"),
            )
            .await;
        assert_eq!(head.status, 501);
        // A GET: over HTTP/2 a WebSocket takes an extended CONNECT.
        let get = with_version(Request::get(format!("http://{address}/")).body(()).unwrap());
        let (head, _) = h2.open(get, None).await;
        assert_eq!(head.status, 400);
        // A plain CONNECT (a tunnel request), without `:protocol`.
        let tunnel = with_version(Request::connect(address.to_string()).body(()).unwrap());
        let (head, _) = h2.open(tunnel, None).await;
        assert_eq!(head.status, 400);
    })
    .await;
}

#[tokio::test]
async fn r_sh_06_origin_not_allowed_over_http2_is_refused_403() {
    bounded(async {
        let server = ServerBuilder::new().allowed_origins(["https://good.example"]);
        let (address, _reports) = echo_server(server).await;
        let mut h2 = H2Client::connect(address).await;
        let (head, _) = h2
            .websocket(address, "/", &[("origin", "https://evil.example")])
            .await;
        assert_eq!(head.status, 403);
        let (head, _) = h2
            .websocket(address, "/", &[("origin", "https://good.example")])
            .await;
        assert_eq!(head.status, 200);
    })
    .await;
}

#[cfg(feature = "http2")]
#[tokio::test]
async fn h2_09_sockeye_http2_client_connects_to_hyper() {
    bounded(async {
        let server = ServerBuilder::new()
            .protocols(["chat"])
            .deflate(Some(DeflateConfig::default()));
        let (address, mut reports) = echo_server(server).await;
        let (mut ws, response) = client(address)
            .http2(true)
            .protocols(["chat"])
            .connect()
            .await
            .expect("connects over http/2");
        assert_eq!(response.status(), 200);
        assert_eq!(ws.protocol(), Some("chat"));
        assert!(ws.deflate().is_some());
        exchange(&mut ws, 1 << 20).await;
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
        assert!(seen.deflate);
    })
    .await;
}

// ---- the example ----

/// Runs the `hyper-echo` example's server on a loopback port.
async fn example_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(hyper_echo::serve(listener));
    address
}

#[tokio::test]
async fn example_hyper_echo_echoes_over_http11() {
    bounded(async {
        let address = example_server().await;
        let (mut ws, response) = client(address)
            .protocols(["echo"])
            .connect()
            .await
            .expect("connects");
        assert_eq!(ws.protocol(), Some("echo"));
        assert!(response.headers().contains_key("sec-websocket-extensions"));
        // Compressed both ways: a smaller message keeps the test quick.
        exchange(&mut ws, 1 << 20).await;
        // Plain requests get a page.
        let tcp = TcpStream::connect(address).await.expect("connect");
        let mut raw = RawPeer::client(tcp);
        raw.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        assert_eq!(raw.read_head().await.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn example_hyper_echo_echoes_over_http2() {
    bounded(async {
        let address = example_server().await;
        let mut h2 = H2Client::connect(address).await;
        assert!(h2.extended_connect_enabled());
        let (head, stream) = h2
            .websocket(address, "/", &[("sec-websocket-protocol", "echo")])
            .await;
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["sec-websocket-protocol"], "echo");
        let mut ws = client_socket(stream, None);
        ws.send(Message::text("over h2")).await.expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo.as_text(), Some("over h2"));
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
    })
    .await;
}

// ---- types ----

#[test]
fn hyper_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<sockeye::hyper::Upgrade>();
    send_sync::<sockeye::hyper::UpgradeError>();
    send_sync::<sockeye::hyper::PendingUpgrade<'static>>();
    // The socket moves to a task of its own.
    send::<sockeye::WebSocket<sockeye::hyper::UpgradedIo>>();
}
