//! The axum extractor (`sockeye::axum::WebSocketUpgrade`) in an axum router
//! served by `axum::serve`, over HTTP/1.1 (RFC 6455 §4, R-SH-*) and HTTP/2
//! extended CONNECT (RFC 8441, H2-*), against sockeye's client, a raw
//! HTTP/1.1 client and an HTTP/2 client played with the `h2` crate. All over
//! loopback.
#![cfg(all(feature = "axum", feature = "http2"))]

mod h2_peer;
mod support;

#[path = "../examples/axum-chat.rs"]
#[allow(dead_code, reason = "the example's `main` is not run here")]
mod axum_chat;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, any, get, on};
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use h2_peer::{H2Client, client_socket};
use sockeye::axum::{WebSocket, WebSocketUpgrade};
use sockeye::proto::DeflateConfig;
use sockeye::{Accept, ClientBuilder, CloseCode, Message, ServerBuilder};
use support::{RawPeer, bounded, request_head};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the server saw of one echoed connection.
#[derive(Debug)]
struct Served {
    protocol: Option<String>,
    deflate: bool,
    close: Option<CloseCode>,
}

/// The router's state: shared settings, and where to report connections.
#[derive(Clone)]
struct App {
    server: ServerBuilder,
    report: mpsc::UnboundedSender<Served>,
}

/// Echoes every message, then reports the connection.
async fn echo(mut ws: WebSocket, report: mpsc::UnboundedSender<Served>) {
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
}

/// `/echo`: the state's settings.
async fn with_state(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    ws.with_settings(&app.server)
        .on_upgrade(move |ws| echo(ws, app.report))
}

/// `/chat`: settings made in the handler.
async fn chat(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    let ws = ws
        .protocols(["chat.v1", "chat.v2"])
        .deflate(Some(DeflateConfig::default()))
        .allowed_origins(["https://good.example"])
        .max_message_size(1 << 20);
    // Told in a header of its own, to compare with what is agreed.
    let selected = ws.selected_protocol().unwrap_or("none").to_owned();
    let mut response = ws.on_upgrade(move |ws| echo(ws, app.report));
    response
        .headers_mut()
        .insert("x-selected-protocol", selected.parse().unwrap());
    response
}

/// `/custom`: an answer of the handler's own.
async fn custom(ws: WebSocketUpgrade, State(app): State<App>) -> Response {
    let last = ws.request().protocols().last().cloned();
    let accept = match last {
        Some(protocol) => Accept::new().protocol(protocol),
        None => Accept::new(),
    };
    ws.accept(accept.header("set-cookie", "seen=1"))
        .on_upgrade(move |ws| echo(ws, app.report))
}

/// `/maybe`: a page, or a socket for those who ask for one.
async fn maybe(ws: Option<WebSocketUpgrade>, State(app): State<App>) -> Response {
    match ws {
        Some(ws) => ws.on_upgrade(move |ws| echo(ws, app.report)),
        None => "a page\n".into_response(),
    }
}

/// Serves the test router on a loopback port; reports come out of the
/// receiver.
async fn serve(server: ServerBuilder) -> (SocketAddr, mpsc::UnboundedReceiver<Served>) {
    let (report, reports) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/echo", any(with_state))
        .route("/chat", any(chat))
        .route("/custom", any(custom))
        .route("/maybe", any(maybe))
        // Only GET: HTTP/2's CONNECT does not reach the handler.
        .route("/get-only", get(with_state))
        // GET and CONNECT, as the module docs suggest.
        .route(
            "/get-or-connect",
            on(MethodFilter::GET.or(MethodFilter::CONNECT), with_state),
        )
        .with_state(App { server, report });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, reports)
}

/// A client for `path` without keepalive (nothing unplanned on the wire).
fn client(address: SocketAddr, path: &str) -> ClientBuilder {
    ClientBuilder::new(format!("ws://{address}{path}")).keepalive(None, support::BOUND)
}

/// Opens a raw client on `address`, writes `head` and returns the answer.
async fn raw_answer(address: SocketAddr, head: &str) -> support::Head {
    let tcp = TcpStream::connect(address).await.expect("connect");
    let mut raw = RawPeer::client(tcp);
    raw.write(head.as_bytes()).await;
    raw.read_head().await
}

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

// ---- HTTP/1.1 ----

#[tokio::test]
async fn r_sh_10_axum_upgrade_answers_101_and_echoes_16_mib() {
    bounded(async {
        let (address, mut reports) = serve(ServerBuilder::new()).await;
        let (mut ws, response) = client(address, "/echo").connect().await.expect("connects");
        assert_eq!(response.status(), 101);
        exchange(&mut ws, 16 << 20).await;
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
        assert_eq!(seen.protocol, None);
    })
    .await;
}

#[tokio::test]
async fn axum_takes_settings_from_the_state() {
    bounded(async {
        let server = ServerBuilder::new()
            .protocols(["json"])
            .deflate(Some(DeflateConfig::default()));
        let (address, mut reports) = serve(server).await;
        let (mut ws, response) = client(address, "/echo")
            .protocols(["xml", "json"])
            .connect()
            .await
            .expect("connects");
        assert_eq!(response.headers()["sec-websocket-protocol"], "json");
        assert!(ws.deflate().is_some());
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.protocol.as_deref(), Some("json"));
        assert!(seen.deflate);
    })
    .await;
}

#[tokio::test]
async fn r_sh_08_protocols_pick_the_clients_first_choice() {
    bounded(async {
        let (address, mut reports) = serve(ServerBuilder::new()).await;
        let (mut ws, response) = client(address, "/chat")
            .protocols(["chat.v3", "chat.v2", "chat.v1"])
            .connect()
            .await
            .expect("connects");
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat.v2");
        assert_eq!(response.headers()["x-selected-protocol"], "chat.v2");
        assert_eq!(ws.protocol(), Some("chat.v2"));
        // permessage-deflate, set in the handler, is agreed too.
        let agreed = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        let text = "compressible text ".repeat(10_000);
        ws.send(Message::text(text.clone())).await.expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo.as_text(), Some(text.as_str()));
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.protocol.as_deref(), Some("chat.v2"));
        assert!(seen.deflate);
    })
    .await;
}

#[tokio::test]
async fn r_sh_08_accept_sets_the_protocol_and_headers() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let (ws, response) = client(address, "/custom")
            .protocols(["first", "last"])
            .connect()
            .await
            .expect("connects");
        assert_eq!(ws.protocol(), Some("last"));
        assert_eq!(response.headers()["set-cookie"], "seen=1");
    })
    .await;
}

#[tokio::test]
async fn r_sh_06_origin_not_allowed_is_refused_403() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let refused = client(address, "/chat")
            .origin("https://evil.example")
            .connect()
            .await
            .expect_err("refused");
        assert_eq!(refused.rejection().expect("an http answer").status(), 403);
        client(address, "/chat")
            .origin("https://good.example")
            .connect()
            .await
            .expect("an allowed origin connects");
    })
    .await;
}

#[tokio::test]
async fn r_sh_02_post_is_refused_400() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let post = request_head("/echo", "").replacen("GET", "POST", 1);
        let head = raw_answer(address, &post).await;
        assert_eq!(head.status(), 400, "{head:?}");
        assert_eq!(head.get("connection"), Some("close")); // R-SH-15
    })
    .await;
}

#[tokio::test]
async fn r_sh_03_missing_upgrade_is_refused_426() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let head = raw_answer(address, "GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
        assert_eq!(head.status(), 426, "{head:?}");
        assert_eq!(head.get("upgrade"), Some("websocket"));
    })
    .await;
}

#[tokio::test]
async fn r_sh_04_missing_key_is_refused_400() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let no_key = request_head("/echo", "").replace(
            &format!("Sec-WebSocket-Key: {}\r\n", support::SAMPLE_KEY),
            "",
        );
        assert_eq!(raw_answer(address, &no_key).await.status(), 400);
    })
    .await;
}

#[tokio::test]
async fn r_sh_05_other_version_is_refused_426_listing_13() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let version_8 = request_head("/echo", "").replace("Version: 13", "Version: 8");
        let head = raw_answer(address, &version_8).await;
        assert_eq!(head.status(), 426, "{head:?}");
        assert_eq!(head.get("sec-websocket-version"), Some("13"));
    })
    .await;
}

#[tokio::test]
async fn optional_extractor_serves_a_page_and_a_socket() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let tcp = TcpStream::connect(address).await.expect("connect");
        let mut raw = RawPeer::client(tcp);
        raw.write(b"GET /maybe HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        assert_eq!(raw.read_head().await.status(), 200);
        let (mut ws, _) = client(address, "/maybe").connect().await.expect("connects");
        ws.send(Message::text("hi")).await.expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo.as_text(), Some("hi"));
        // A broken WebSocket request is still refused.
        let version_8 = request_head("/maybe", "").replace("Version: 13", "Version: 8");
        assert_eq!(raw_answer(address, &version_8).await.status(), 426);
    })
    .await;
}

// ---- HTTP/2, RFC 8441 ----

#[tokio::test]
async fn h2_09_axum_extended_connect_is_answered_200_and_echoes() {
    bounded(async {
        let (address, mut reports) = serve(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        assert!(h2.extended_connect_enabled()); // H2-01, from axum::serve
        let (head, stream) = h2.websocket(address, "/echo", &[]).await;
        assert_eq!(head.status, 200);
        assert!(!head.headers.contains_key("sec-websocket-accept")); // H2-07
        let mut ws = client_socket(stream, None);
        exchange(&mut ws, 1 << 20).await;
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
    })
    .await;
}

#[tokio::test]
async fn h2_08_axum_negotiates_subprotocol_and_deflate_over_http2() {
    bounded(async {
        let (address, mut reports) = serve(ServerBuilder::new()).await;
        let offer = DeflateConfig::default();
        let mut h2 = H2Client::connect(address).await;
        let (head, stream) = h2
            .websocket(
                address,
                "/chat",
                &[
                    ("sec-websocket-protocol", "chat.v1"),
                    ("sec-websocket-extensions", &offer.offer()),
                    ("origin", "https://good.example"),
                ],
            )
            .await;
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["sec-websocket-protocol"], "chat.v1");
        let answer = sockeye::proto::handshake::parse_extensions(
            head.headers.get_all("sec-websocket-extensions"),
        )
        .expect("a valid extension answer");
        let agreed = offer.accept_response(&answer[0]).expect("acceptable");
        let mut ws = client_socket(stream, Some(agreed));
        ws.send(Message::text("compressed over h2"))
            .await
            .expect("sent");
        let echo = ws.next().await.expect("an echo").expect("a message");
        assert_eq!(echo.as_text(), Some("compressed over h2"));
        ws.close(CloseCode::NORMAL, "").await.expect("closed");
        let seen = reports.recv().await.expect("a report");
        assert_eq!(seen.protocol.as_deref(), Some("chat.v1"));
        assert!(seen.deflate);
    })
    .await;
}

#[tokio::test]
async fn h2_07_axum_refuses_a_bad_version_400() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        let mut h2 = H2Client::connect(address).await;
        let mut request = h2_peer::connect_request(address, "/echo");
        request
            .headers_mut()
            .insert("sec-websocket-version", "8".parse().unwrap());
        let (head, _) = h2.open(request, Some("websocket")).await;
        assert_eq!(head.status, 400);
        assert_eq!(head.headers["sec-websocket-version"], "13");
    })
    .await;
}

#[tokio::test]
async fn h2_extended_connect_needs_a_route_taking_connect() {
    bounded(async {
        let (address, _reports) = serve(ServerBuilder::new()).await;
        // As the module docs say: `get` leaves CONNECT out, so HTTP/2
        // clients get 405 where HTTP/1.1 ones connect.
        let mut h2 = H2Client::connect(address).await;
        let (head, _) = h2.websocket(address, "/get-only", &[]).await;
        assert_eq!(head.status, 405);
        client(address, "/get-only")
            .connect()
            .await
            .expect("HTTP/1.1 connects");
        let (head, _) = h2.websocket(address, "/get-or-connect", &[]).await;
        assert_eq!(head.status, 200);
    })
    .await;
}

// ---- the example ----

/// The next message, which must be text.
async fn next_text<S>(ws: &mut sockeye::WebSocket<S>) -> String
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let message = ws.next().await.expect("a message").expect("no error");
    message.as_text().expect("text").to_owned()
}

#[tokio::test]
async fn example_axum_chat_broadcasts_to_the_room() {
    bounded(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        tokio::spawn(axum_chat::serve(listener));
        let (mut alice, _) = client(address, "/chat").connect().await.expect("connects");
        assert_eq!(next_text(&mut alice).await, "guest-1 joined");
        let (mut bob, _) = client(address, "/chat").connect().await.expect("connects");
        assert_eq!(next_text(&mut bob).await, "guest-2 joined");
        assert_eq!(next_text(&mut alice).await, "guest-2 joined");

        alice
            .send(Message::text("hello, room"))
            .await
            .expect("sent");
        assert_eq!(next_text(&mut alice).await, "guest-1: hello, room");
        assert_eq!(next_text(&mut bob).await, "guest-1: hello, room");

        bob.close(CloseCode::NORMAL, "").await.expect("closed");
        assert_eq!(next_text(&mut alice).await, "guest-2 left");

        // Over HTTP/2 too.
        let mut h2 = H2Client::connect(address).await;
        let (head, stream) = h2.websocket(address, "/chat", &[]).await;
        assert_eq!(head.status, 200);
        let mut carol = client_socket(stream, None);
        assert_eq!(next_text(&mut carol).await, "guest-3 joined");
        assert_eq!(next_text(&mut alice).await, "guest-3 joined");

        // And the page.
        let tcp = TcpStream::connect(address).await.expect("connect");
        let mut raw = RawPeer::client(tcp);
        raw.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await;
        let head = raw.read_head().await;
        assert_eq!(head.status(), 200);
        assert!(head.get("content-type").unwrap().starts_with("text/html"));
    })
    .await;
}

// ---- types ----

#[test]
fn the_extractor_is_send() {
    fn send<T: Send>() {}
    // Handlers hold it across awaits, in futures that must be `Send`.
    send::<WebSocketUpgrade>();
    send::<WebSocket>();
}
