//! Echo servers on loopback ports, one for each way in to sockeye's server
//! side: `ServerBuilder::accept`, `accept_with`, HTTP/2
//! (`sockeye::http2::serve_connection`), hyper and axum. Each echoes every
//! message and, once the socket ends, reports what it agreed ([`Served`]).
//! Also the clients' side of a round trip ([`exchange`], [`client_socket`]).

use std::net::SocketAddr;

use bytes::BytesMut;
use futures_util::StreamExt;
use sockeye::{ClientBuilder, CloseCode, Message, Role, ServerBuilder, WebSocket, WebSocketConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{Head, RawPeer};

/// What the server saw of one echoed connection.
#[derive(Debug)]
pub struct Served {
    /// The subprotocol agreed.
    pub protocol: Option<String>,
    /// The permessage-deflate parameters agreed, as the response states them.
    pub deflate: Option<String>,
    /// The code of the client's Close frame.
    pub close: Option<CloseCode>,
}

/// Where the servers' [`Served`] reports come out.
pub type Reports = mpsc::UnboundedReceiver<Served>;

/// Echoes every message, then reports the connection.
pub async fn echo_and_report<S>(mut ws: WebSocket<S>, report: mpsc::UnboundedSender<Served>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(Ok(message)) = ws.next().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
    let _ = report.send(Served {
        protocol: ws.protocol().map(str::to_owned),
        deflate: ws.deflate().map(ToString::to_string),
        close: ws.close_frame().map(|frame| frame.code),
    });
}

/// Accepts loopback connections for ever, each handed to `serve` in a task
/// of its own. Returns the address.
async fn listen<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            tokio::spawn(serve(tcp));
        }
    });
    address
}

/// `server.accept` on every connection.
pub async fn accept_server(server: ServerBuilder) -> (SocketAddr, Reports) {
    let (report, reports) = mpsc::unbounded_channel();
    let address = listen(move |tcp| {
        let (server, report) = (server.clone(), report.clone());
        async move {
            if let Ok(ws) = server.accept(tcp).await {
                echo_and_report(ws, report).await;
            }
        }
    })
    .await;
    (address, reports)
}

/// `server.accept_with` on every connection, with a callback that makes
/// the default choice: the client's first subprotocol among `protocols`.
pub async fn accept_with_server(
    server: ServerBuilder,
    protocols: Vec<String>,
) -> (SocketAddr, Reports) {
    let (report, reports) = mpsc::unbounded_channel();
    let address = listen(move |tcp| {
        let (server, report, protocols) = (server.clone(), report.clone(), protocols.clone());
        async move {
            let accepted = server
                .accept_with(tcp, |request| {
                    let chosen = request.select_protocol(&protocols).map(str::to_owned);
                    async move {
                        Ok(match chosen {
                            Some(protocol) => sockeye::Accept::new().protocol(protocol),
                            None => sockeye::Accept::new(),
                        })
                    }
                })
                .await;
            if let Ok(ws) = accepted {
                echo_and_report(ws, report).await;
            }
        }
    })
    .await;
    (address, reports)
}

/// `sockeye::http2::serve_connection` on every connection (cleartext
/// HTTP/2, prior knowledge).
#[cfg(feature = "http2")]
pub async fn http2_server(server: ServerBuilder) -> (SocketAddr, Reports) {
    let (report, reports) = mpsc::unbounded_channel();
    let address = listen(move |tcp| {
        let (server, report) = (server.clone(), report.clone());
        async move {
            let _ = sockeye::http2::serve_connection(&server, tcp, move |ws| {
                echo_and_report(ws, report.clone())
            })
            .await;
        }
    })
    .await;
    (address, reports)
}

/// Serves hyper on a loopback port, HTTP/1.1 and HTTP/2 (extended CONNECT
/// on when `extended_connect`), answering every request with `handle`.
#[cfg(feature = "hyper")]
pub async fn hyper_serve<H, F>(handle: H, extended_connect: bool) -> SocketAddr
where
    H: Fn(hyper::Request<hyper::body::Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = hyper::Response<http_body_util::Full<bytes::Bytes>>>
        + Send
        + 'static,
{
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    if extended_connect {
        http.http2().enable_connect_protocol();
    }
    listen(move |tcp| {
        let (http, handle) = (http.clone(), handle.clone());
        async move {
            let service = hyper::service::service_fn(move |request| {
                let response = handle(request);
                async move { Ok::<_, std::convert::Infallible>(response.await) }
            });
            let _ = http
                .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                .await;
        }
    })
    .await
}

/// A hyper server that upgrades every request with `server.upgrade`.
#[cfg(feature = "hyper")]
pub async fn hyper_server(server: ServerBuilder) -> (SocketAddr, Reports) {
    let (report, reports) = mpsc::unbounded_channel();
    let handle = move |mut request: hyper::Request<hyper::body::Incoming>| {
        let answer = server.upgrade(&mut request);
        let report = report.clone();
        async move {
            let (response, upgrade) = match answer {
                Ok(accepted) => accepted,
                Err(refused) => return refused.into_response(),
            };
            tokio::spawn(async move {
                if let Ok(ws) = upgrade.await {
                    echo_and_report(ws, report).await;
                }
            });
            response
        }
    };
    (hyper_serve(handle, true).await, reports)
}

/// The state of the axum routers: shared settings, and where to report.
#[cfg(feature = "axum")]
#[derive(Clone)]
pub struct App {
    pub server: ServerBuilder,
    pub report: mpsc::UnboundedSender<Served>,
}

/// An axum handler upgrading with the state's settings.
#[cfg(feature = "axum")]
#[allow(
    clippy::unused_async,
    reason = "axum handlers are async; the lint fires only where it is not routed"
)]
pub async fn axum_echo(
    ws: sockeye::axum::WebSocketUpgrade,
    axum::extract::State(app): axum::extract::State<App>,
) -> axum::response::Response {
    ws.with_settings(&app.server)
        .on_upgrade(move |ws| echo_and_report(ws, app.report))
}

/// Serves `router` with `axum::serve` (HTTP/1.1 and HTTP/2) on a loopback
/// port, its state made of `server`.
#[cfg(feature = "axum")]
pub async fn axum_server(
    router: axum::Router<App>,
    server: ServerBuilder,
) -> (SocketAddr, Reports) {
    use axum::serve::ListenerExt;
    let (report, reports) = mpsc::unbounded_channel();
    let app = router.with_state(App { server, report });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, reports)
}

/// A sockeye client on `url` without keepalive (nothing unplanned on the
/// wire).
pub fn quiet_client(url: String) -> ClientBuilder {
    ClientBuilder::new(url).keepalive(None, super::BOUND)
}

/// A sockeye client socket over a stream whose handshake was played by
/// hand, with the bytes read past the answer and `deflate` if agreed.
pub fn client_socket<S>(
    io: S,
    buffered: &[u8],
    deflate: Option<sockeye::proto::PerMessageDeflate>,
) -> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut config = WebSocketConfig::client();
    // The test waits on each step; no keepalive pings to account for.
    config.keepalive_interval = None;
    WebSocket::from_raw(io, Role::Client, config, BytesMut::from(buffered)).with_deflate(deflate)
}

/// Opens a raw client on `address`, writes `head` and returns the answer.
pub async fn raw_answer(address: SocketAddr, head: &str) -> Head {
    let tcp = TcpStream::connect(address).await.expect("connect");
    let mut raw = RawPeer::client(tcp);
    raw.write(head.as_bytes()).await;
    raw.read_head().await
}

/// Sends text, binary and a `big`-byte message and checks each echo, then
/// closes with 1000.
pub async fn exchange<S>(ws: &mut WebSocket<S>, big: u32)
where
    S: AsyncRead + AsyncWrite + Unpin,
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
