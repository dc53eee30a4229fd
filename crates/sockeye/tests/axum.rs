//! The axum extractor (`sockeye::axum::WebSocketUpgrade`) in an axum router
//! served by `axum::serve`, over HTTP/1.1 (RFC 6455 §4, R-SH-*) and HTTP/2
//! extended CONNECT (RFC 8441, H2-*), against sockeye's client, a raw
//! HTTP/1.1 client and an HTTP/2 client played with the `h2` crate. All over
//! loopback. The negotiation itself, with the settings given to
//! `with_settings` (subprotocols, permessage-deflate, origins, bad requests),
//! is in the table of `negotiation.rs`; here is what is the extractor's own.
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
use futures_util::StreamExt;
use h2_peer::{H2Client, client_socket};
use sockeye::axum::{WebSocket, WebSocketUpgrade};
use sockeye::proto::DeflateConfig;
use sockeye::{Accept, ClientBuilder, CloseCode, Message, ServerBuilder};
use support::servers::{
    App, Reports, axum_echo as with_state, echo_and_report as echo, exchange, raw_answer,
};
use support::{RawPeer, bounded, request_head};
use tokio::net::{TcpListener, TcpStream};

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
async fn serve(server: ServerBuilder) -> (SocketAddr, Reports) {
    let router = Router::new()
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
        );
    support::servers::axum_server(router, server).await
}

/// A client for `path` without keepalive (nothing unplanned on the wire).
fn client(address: SocketAddr, path: &str) -> ClientBuilder {
    support::servers::quiet_client(format!("ws://{address}{path}"))
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
async fn r_sh_08_settings_made_in_the_handler_are_negotiated() {
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
        assert!(seen.deflate.is_some());
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
async fn r_sh_06_the_extractors_own_allowed_origins_refuse_with_403() {
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
