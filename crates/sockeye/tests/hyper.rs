//! WebSocket upgrades inside a hyper 1.x server (`sockeye::hyper`), over
//! HTTP/1.1 (RFC 6455 §4, R-SH-*) and HTTP/2 extended CONNECT (RFC 8441,
//! H2-*), against sockeye's client, a raw HTTP/1.1 client and an HTTP/2
//! client played with the `h2` crate. All over loopback. The negotiation
//! itself (subprotocols, permessage-deflate, origins, bad requests) is in
//! the table of `negotiation.rs`; here is what is hyper's own.
#![cfg(all(feature = "hyper", feature = "http2"))]

mod h2_peer;
mod support;

#[path = "../examples/hyper-echo.rs"]
#[allow(dead_code, reason = "the example's `main` is not run here")]
mod hyper_echo;

use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::StreamExt;
use h2_peer::{H2Client, client_socket, connect_request};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use sockeye::proto::DeflateConfig;
use sockeye::{Accept, ClientBuilder, CloseCode, Message, ServerBuilder};
use support::servers::{exchange, hyper_serve as serve, hyper_server as echo_server, raw_answer};
use support::{RawPeer, bounded, op, request_head};
use tokio::net::{TcpListener, TcpStream};

/// A client without keepalive (nothing unplanned on the wire).
fn client(address: SocketAddr) -> ClientBuilder {
    support::servers::quiet_client(format!("ws://{address}/echo"))
}

/// The largest message accepted by default: 16 MiB.
const LIMIT: u32 = 16 << 20;

// ---- HTTP/1.1 ----

/// Messages up to the 16 MiB limit go both ways through hyper's upgraded
/// connection.
#[tokio::test]
async fn r_sh_12_messages_up_to_16_mib_echo_over_http11() {
    bounded(async {
        let (address, mut reports) = echo_server(ServerBuilder::new()).await;
        let (mut ws, response) = client(address).connect().await.expect("connects");
        assert_eq!(response.status(), 101);
        exchange(&mut ws, LIMIT).await;
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
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
async fn h2_04_without_the_setting_extended_connect_is_off() {
    bounded(async {
        let handle = |_request: Request<Incoming>| async { Response::new(Full::default()) };
        let address = serve(handle, false).await;
        assert!(!H2Client::connect(address).await.extended_connect_enabled());
    })
    .await;
}

/// Messages up to the 16 MiB limit go both ways on an extended CONNECT
/// stream, through HTTP/2's flow control.
#[tokio::test]
async fn h2_10_messages_up_to_16_mib_echo_over_extended_connect() {
    bounded(async {
        let (address, mut reports) = echo_server(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        let (head, stream) = h2.websocket(address, "/echo", &[]).await;
        assert_eq!(head.status, 200);
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
        assert!(seen.deflate.is_some());
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
