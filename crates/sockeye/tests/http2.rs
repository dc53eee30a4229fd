//! WebSocket connections over HTTP/2 (RFC 8441, checklist section 3): sockeye's client
//! and `sockeye::http2::serve_connection` over loopback, over TLS (ALPN
//! `h2`) and in clear (prior knowledge), and the fall back to HTTP/1.1;
//! `serve_connection_with`'s callback accepting and refusing streams.

#![cfg(all(feature = "http2", feature = "tls"))]

mod h2_peer;
mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use futures_util::StreamExt;
use h2_peer::{H2Client, client_socket};
use sockeye::http2::{Decision, Http2Stream};
use sockeye::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sockeye::proto::DeflateConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use sockeye::{
    Accept, ClientBuilder, CloseCode, Message, ServerBuilder, UpgradeRequest, WebSocket,
};
use support::bounded;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc};

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

// ---- serve_connection_with: the accept callback ----

/// Serves cleartext HTTP/2 (prior knowledge) on a loopback port with
/// `serve_connection_with`: `accept` decides on every stream, `on_open`
/// gets the open ones. Returns the address.
async fn serve_with<A, AFut, T, F, Fut>(server: ServerBuilder, accept: A, on_open: F) -> SocketAddr
where
    A: FnMut(UpgradeRequest) -> AFut + Clone + Send + 'static,
    AFut: Future<Output = Decision<T>> + Send + 'static,
    T: Send + 'static,
    F: FnMut(WebSocket<Http2Stream>, T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let (server, accept, on_open) = (server.clone(), accept.clone(), on_open.clone());
            tokio::spawn(async move {
                let stop = std::future::pending();
                let connection =
                    sockeye::http2::serve_connection_with(&server, tcp, stop, accept, on_open);
                connection.await.unwrap();
            });
        }
    });
    address
}

/// A refusal: `status`, with `headers` and `body`.
fn refusal(status: u16, headers: &[(&str, &str)], body: &'static str) -> http::Response<Bytes> {
    let mut response = http::Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Bytes::from_static(body.as_bytes())).unwrap()
}

/// The body of a stream answered with a refusal.
async fn body_of(mut stream: Http2Stream) -> String {
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

/// Sends `text` on an accepted stream and checks its echo.
async fn echoes_over(ws: &mut WebSocket<Http2Stream>, text: &str) {
    let message = Message::text(text.to_owned());
    ws.send(message.clone()).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), message);
}

/// The callback gets the extended CONNECT as the library sees it: method
/// CONNECT, the `:path` as the URI's path and query, the headers, the
/// offered subprotocols.
#[tokio::test]
async fn h2_accept_callback_sees_path_query_and_headers() {
    bounded(async {
        let (seen, mut requests) = mpsc::unbounded_channel();
        let accept = move |request: UpgradeRequest| {
            let _ = seen.send(request);
            async { Ok((Accept::new(), ())) }
        };
        let address = serve_with(ServerBuilder::new(), accept, |ws, ()| echo(ws)).await;
        let mut h2 = H2Client::connect(address).await;
        let headers = [
            ("x-token", "s3cret"),
            ("sec-websocket-protocol", "chat, superchat"),
            ("origin", "https://app.example"),
        ];
        let (head, stream) = h2
            .websocket(address, "/rooms/7?user=ann&x=1", &headers)
            .await;
        assert_eq!(head.status, 200);
        let request = requests.recv().await.expect("the callback ran");
        assert_eq!(request.method(), http::Method::CONNECT);
        assert_eq!(request.path(), "/rooms/7");
        assert_eq!(request.uri().query(), Some("user=ann&x=1"));
        assert_eq!(request.headers()["x-token"], "s3cret");
        assert_eq!(request.origin(), Some("https://app.example"));
        assert_eq!(request.protocols(), ["chat", "superchat"]);
        let mut ws = client_socket(stream, None);
        echoes_over(&mut ws, "accepted").await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

/// A refusal is the stream's HTTP/2 response, with its status, fields and
/// body, less the fields HTTP/2 does not have; the connection goes on
/// serving other streams.
#[tokio::test]
async fn h2_a_refusal_from_the_callback_is_the_streams_response() {
    bounded(async {
        let accept = |request: UpgradeRequest| {
            let decision = match request.path() {
                "/missing" => Err(refusal(404, &[], "no route\n")),
                "/busy" => Err(refusal(
                    503,
                    &[("retry-after", "5"), ("connection", "close")],
                    "try again later\n",
                )),
                _ => Ok((Accept::new(), ())),
            };
            async { decision }
        };
        let address = serve_with(ServerBuilder::new(), accept, |ws, ()| echo(ws)).await;
        let mut h2 = H2Client::connect(address).await;

        let (head, stream) = h2.websocket(address, "/missing", &[]).await;
        assert_eq!(head.status, 404);
        assert_eq!(body_of(stream).await, "no route\n");

        let (head, stream) = h2.websocket(address, "/busy", &[]).await;
        assert_eq!(head.status, 503);
        assert_eq!(head.headers["retry-after"], "5");
        assert!(!head.headers.contains_key("connection"));
        assert_eq!(body_of(stream).await, "try again later\n");

        let (head, stream) = h2.websocket(address, "/chat", &[]).await;
        assert_eq!(head.status, 200);
        let mut ws = client_socket(stream, None);
        echoes_over(&mut ws, "still serving").await;
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    })
    .await;
}

/// The value the callback returns with its `Accept` reaches `on_open` with
/// the socket of that stream.
#[tokio::test]
async fn h2_the_callbacks_value_reaches_on_open() {
    bounded(async {
        let accept = |request: UpgradeRequest| {
            let route = format!("route {}", request.path());
            async move { Ok((Accept::new(), route)) }
        };
        let on_open = |mut ws: WebSocket<Http2Stream>, route: String| async move {
            if ws.send(Message::text(route)).await.is_ok() {
                echo(ws).await;
            }
        };
        let address = serve_with(ServerBuilder::new(), accept, on_open).await;
        let mut h2 = H2Client::connect(address).await;
        for path in ["/chat", "/feed"] {
            let (head, stream) = h2.websocket(address, path, &[]).await;
            assert_eq!(head.status, 200);
            let mut ws = client_socket(stream, None);
            let first = ws.next().await.unwrap().unwrap();
            assert_eq!(first.as_text(), Some(format!("route {path}").as_str()));
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        }
    })
    .await;
}

/// The subprotocol the callback picks is answered, and the socket runs
/// with it, whatever the builder's own list says; one the client did not
/// offer is a 500 (R-SH-08), as over HTTP/1.1.
#[tokio::test]
async fn h2_the_subprotocol_the_callback_picks_is_answered() {
    bounded(async {
        let accept = |request: UpgradeRequest| {
            let protocol = request.headers()["x-pick"].to_str().unwrap().to_owned();
            async move { Ok((Accept::new().protocol(protocol), ())) }
        };
        let on_open = |mut ws: WebSocket<Http2Stream>, ()| async move {
            let agreed = ws.protocol().unwrap_or("none").to_owned();
            let _ = ws.send(Message::text(agreed)).await;
            echo(ws).await;
        };
        let server = ServerBuilder::new().protocols(["v1"]);
        let address = serve_with(server, accept, on_open).await;
        let mut h2 = H2Client::connect(address).await;
        let offer = ("sec-websocket-protocol", "v1, v2");

        let (head, stream) = h2.websocket(address, "/", &[offer, ("x-pick", "v2")]).await;
        assert_eq!(head.status, 200);
        assert_eq!(head.headers["sec-websocket-protocol"], "v2");
        let mut ws = client_socket(stream, None);
        assert_eq!(ws.next().await.unwrap().unwrap().as_text(), Some("v2"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();

        let (head, _) = h2.websocket(address, "/", &[offer, ("x-pick", "v3")]).await;
        assert_eq!(head.status, 500);
        assert!(!head.headers.contains_key("sec-websocket-protocol"));
    })
    .await;
}

/// An origin not allowed is answered 403 before the callback runs
/// (R-SH-06), as over HTTP/1.1.
#[tokio::test]
async fn h2_an_origin_not_allowed_never_reaches_the_callback() {
    bounded(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = calls.clone();
        let accept = move |_: UpgradeRequest| {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok((Accept::new(), ())) }
        };
        let server = ServerBuilder::new().allowed_origins(["https://good.example"]);
        let address = serve_with(server, accept, |ws, ()| echo(ws)).await;
        let mut h2 = H2Client::connect(address).await;

        let (head, _) = h2
            .websocket(address, "/", &[("origin", "https://evil.example")])
            .await;
        assert_eq!(head.status, 403);
        assert_eq!(calls.load(Ordering::SeqCst), 0);

        let (head, _) = h2
            .websocket(address, "/", &[("origin", "https://good.example")])
            .await;
        assert_eq!(head.status, 200);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    })
    .await;
}

/// A callback that waits holds up only its own stream: another stream on
/// the same connection is answered and carries messages meanwhile.
#[tokio::test]
async fn h2_a_waiting_callback_holds_up_only_its_own_stream() {
    bounded(async {
        let gate = Arc::new(Semaphore::new(0));
        let (entered, mut waiting) = mpsc::unbounded_channel();
        let opened = gate.clone();
        let accept = move |request: UpgradeRequest| {
            let slow = request.path() == "/slow";
            let (gate, entered) = (opened.clone(), entered.clone());
            async move {
                if slow {
                    let _ = entered.send(());
                    let _permit = gate.acquire().await.unwrap();
                }
                Ok((Accept::new(), ()))
            }
        };
        let address = serve_with(ServerBuilder::new(), accept, |ws, ()| echo(ws)).await;
        let h2 = H2Client::connect(address).await;

        let mut slow_client = h2.clone();
        let slow = tokio::spawn(async move {
            let (head, stream) = slow_client.websocket(address, "/slow", &[]).await;
            (head.status, stream)
        });
        waiting.recv().await.expect("the slow callback started");

        let mut fast_client = h2.clone();
        let (head, stream) = fast_client.websocket(address, "/fast", &[]).await;
        assert_eq!(head.status, 200);
        let mut ws = client_socket(stream, None);
        echoes_over(&mut ws, "not held up").await;
        assert!(!slow.is_finished(), "the slow stream was answered early");

        gate.add_permits(1);
        let (status, stream) = slow.await.unwrap();
        assert_eq!(status, 200);
        let mut slow_ws = client_socket(stream, None);
        echoes_over(&mut slow_ws, "answered at last").await;
        echoes_over(&mut ws, "both open").await;
    })
    .await;
}

/// A permit taken by the callback and carried to `on_open` is held while
/// the socket lives: beyond the limit, streams are refused 503 with
/// `Retry-After`, and accepted again once a socket has ended.
#[tokio::test]
async fn h2_a_permit_carried_to_on_open_is_held_while_the_socket_lives() {
    bounded(async {
        let slots = Arc::new(Semaphore::new(1));
        let (freed, mut slot_freed) = mpsc::unbounded_channel();
        let accept = move |_: UpgradeRequest| {
            let slot = slots.clone().try_acquire_owned();
            async move {
                match slot {
                    Ok(slot) => Ok((Accept::new(), slot)),
                    Err(_) => Err(refusal(503, &[("retry-after", "5")], "")),
                }
            }
        };
        let on_open = move |ws: WebSocket<Http2Stream>, slot| {
            let freed = freed.clone();
            async move {
                echo(ws).await;
                drop(slot);
                let _ = freed.send(());
            }
        };
        let address = serve_with(ServerBuilder::new(), accept, on_open).await;
        let mut h2 = H2Client::connect(address).await;

        let (head, stream) = h2.websocket(address, "/", &[]).await;
        assert_eq!(head.status, 200);
        let mut first = client_socket(stream, None);

        let (head, _) = h2.websocket(address, "/", &[]).await;
        assert_eq!(head.status, 503);
        assert_eq!(head.headers["retry-after"], "5");

        first.close(CloseCode::NORMAL, "").await.unwrap();
        slot_freed.recv().await.expect("the slot freed");
        let (head, stream) = h2.websocket(address, "/", &[]).await;
        assert_eq!(head.status, 200);
        let mut again = client_socket(stream, None);
        echoes_over(&mut again, "a free slot").await;
    })
    .await;
}
