//! WebSocket connections over HTTP/2 (RFC 8441, checklist section 3): sockeye's client
//! and `sockeye::http2::serve_connection` over loopback, over TLS (ALPN
//! `h2`) and in clear (prior knowledge), and the fall back to HTTP/1.1.

#![cfg(all(feature = "http2", feature = "tls"))]

mod h2_peer;
mod support;

use futures_util::StreamExt;
use h2_peer::H2Client;
use sockeye::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sockeye::proto::DeflateConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::{ClientBuilder, CloseCode, Message, ServerBuilder};
use support::bounded;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

fn certificate() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    (made.cert.der().clone(), PrivateKeyDer::Pkcs8(key))
}

async fn echo<S>(mut ws: sockeye::WebSocket<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}

/// An echo server over TLS: HTTP/2 (with extended CONNECT when
/// `connect_protocol`) or HTTP/1.1, as ALPN agrees. Returns its port.
async fn tls_server(
    server: ServerBuilder,
    offer_h2: bool,
    connections: usize,
) -> (u16, CertificateDer<'static>) {
    let (cert, key) = certificate();
    let mut config = sockeye::tls::server_config(vec![cert.clone()], key).unwrap();
    if offer_h2 {
        config = sockeye::tls::offer_http2(&config);
    }
    let acceptor = TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        for _ in 0..connections {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, server) = (acceptor.clone(), server.clone());
            tokio::spawn(async move {
                let tls = acceptor.accept(tcp).await.unwrap();
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    sockeye::http2::serve_connection(&server, tls, echo)
                        .await
                        .unwrap();
                } else {
                    echo(server.accept(tls).await.unwrap()).await;
                }
            });
        }
    });
    (port, cert)
}

/// A client for `path` on the TLS server at `port`, trusting `cert`,
/// asking for HTTP/2.
fn h2_client(port: u16, path: &str, cert: CertificateDer<'static>) -> ClientBuilder {
    ClientBuilder::new(format!("wss://localhost:{port}{path}"))
        .add_root_certificate(cert)
        .http2(true)
}

/// Sends `text` and checks its echo.
async fn echoes(ws: &mut sockeye::WebSocket<sockeye::ClientStream>, text: &str) {
    let message = Message::text(text.to_owned());
    ws.send(message.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), message);
}

async fn round_trips(ws: &mut sockeye::WebSocket<sockeye::ClientStream>) {
    let big: Vec<u8> = (0..16u32 << 20)
        .map(|i| u8::try_from(i % 251).unwrap())
        .collect();
    for message in [
        Message::text("over http/2"),
        Message::text(""),
        Message::binary(vec![0u8, 255]),
        Message::binary(big),
    ] {
        ws.send(message.clone()).await.unwrap();
        let echo = ws.next().await.expect("an echo").expect("no error");
        assert!(echo == message, "echo of {} bytes differs", message.len());
    }
}

/// H2-02, H2-06, H2-09, H2-10: over TLS with ALPN `h2`, an extended CONNECT
/// answered 200 carries masked RFC 6455 frames both ways.
#[tokio::test]
async fn h2_06_wss_over_http2() {
    bounded(async {
        let server = ServerBuilder::new().protocols(["chat"]);
        let (port, cert) = tls_server(server, true, 1).await;
        let (mut ws, response) = h2_client(port, "/room?x=1", cert)
            .protocols(["nope", "chat"])
            .max_message_size(32 << 20)
            .http2(true)
            .connect()
            .await
            .expect("connect");
        assert_eq!(response.status(), 200);
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert!(ws.get_ref().is_http2() && ws.get_ref().is_tls());
        assert_eq!(ws.protocol(), Some("chat"));
        round_trips(&mut ws).await;
        // H2-11: the closing handshake, then END_STREAM.
        ws.close(CloseCode::NORMAL, "bye")
            .await
            .expect("a clean close");
        assert_eq!(ws.close_frame().unwrap().reason, "bye");
    })
    .await;
}

/// H2-08: permessage-deflate is negotiated as over HTTP/1.1.
#[tokio::test]
async fn h2_08_permessage_deflate_over_http2() {
    bounded(async {
        let server = ServerBuilder::new().deflate(Some(DeflateConfig::default()));
        let (port, cert) = tls_server(server, true, 1).await;
        let (mut ws, response) = h2_client(port, "/", cert).connect().await.expect("connect");
        assert!(ws.get_ref().is_http2());
        let agreed = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(agreed.starts_with("permessage-deflate"), "{agreed}");
        let text = "compressible over http/2 ".repeat(40_000);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert!(ws.next().await.unwrap().unwrap().as_text() == Some(text.as_str()));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

/// H2-12: a server that does not offer `h2` gets HTTP/1.1 on the same
/// connection.
#[tokio::test]
async fn h2_12_http1_when_the_server_picks_it() {
    bounded(async {
        let (port, cert) = tls_server(ServerBuilder::new(), false, 1).await;
        let (mut ws, response) = h2_client(port, "/", cert).connect().await.expect("connect");
        assert_eq!(response.status(), 101);
        assert!(!ws.get_ref().is_http2());
        echoes(&mut ws, "over http/1.1").await;
    })
    .await;
}

/// H2-02, H2-12: an HTTP/2 server without extended CONNECT: no CONNECT is
/// sent on it, and the client goes on over HTTP/1.1 on a new connection.
#[tokio::test]
async fn h2_02_no_extended_connect_means_http1_on_a_new_connection() {
    bounded(async {
        let (cert, key) = certificate();
        let config = sockeye::tls::offer_http2(
            &sockeye::tls::server_config(vec![cert.clone()], key).unwrap(),
        );
        let acceptor = TlsAcceptor::from(config);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            // First connection: plain HTTP/2, no SETTINGS_ENABLE_CONNECT_PROTOCOL.
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let mut connection = h2::server::handshake(tls).await.unwrap();
            let first = tokio::spawn(async move {
                let mut requests = 0;
                while let Some(Ok(_)) = connection.accept().await {
                    requests += 1;
                }
                requests
            });
            // Second: the client comes back offering HTTP/1.1 only.
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.unwrap();
            assert_ne!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            echo(ServerBuilder::new().accept(tls).await.unwrap()).await;
            first.await.unwrap()
        });
        let (mut ws, response) = h2_client(port, "/", cert).connect().await.expect("connect");
        assert_eq!(response.status(), 101);
        echoes(&mut ws, "fell back").await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(
            server.await.unwrap(),
            0,
            "a CONNECT went to a server without the setting"
        );
    })
    .await;
}

/// `ws://` with HTTP/2 asked: prior knowledge (h2c) to a server that
/// speaks it.
#[tokio::test]
async fn h2c_prior_knowledge() {
    bounded(async {
        let (address, _reports) = support::servers::http2_server(ServerBuilder::new()).await;
        let (mut ws, response) = ClientBuilder::new(format!("ws://{address}/"))
            .max_message_size(32 << 20)
            .http2(true)
            .connect()
            .await
            .expect("connect");
        assert_eq!(response.status(), 200);
        assert!(ws.get_ref().is_http2() && !ws.get_ref().is_tls());
        round_trips(&mut ws).await;
    })
    .await;
}

/// Plain requests on an HTTP/2 connection get the fallback's answer. (How
/// WebSocket requests are answered is in the table of `negotiation.rs`.)
#[tokio::test]
async fn h2_plain_requests_get_the_fallbacks_answer() {
    bounded(async {
        let server = ServerBuilder::new().http_fallback(|_| {
            http::Response::builder()
                .status(200)
                .body(bytes::Bytes::from_static(b"a page"))
                .unwrap()
        });
        let (address, _reports) = support::servers::http2_server(server).await;
        let mut h2 = H2Client::connect(address).await;
        let request = http::Request::get(format!("http://{address}/"))
            .body(())
            .unwrap();
        let (head, mut stream) = h2.open(request, None).await;
        assert_eq!(head.status, 200);
        let mut body = Vec::new();
        stream.read_to_end(&mut body).await.unwrap();
        assert_eq!(body, b"a page");
    })
    .await;
}
