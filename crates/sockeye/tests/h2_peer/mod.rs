//! The client side of RFC 8441 played by hand with the `h2` crate, for
//! testing servers: an HTTP/2 connection over loopback, an extended CONNECT
//! with the `:protocol` pseudo-header, and the stream as a byte stream that
//! a sockeye client `WebSocket` runs RFC 6455 framing over.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of the harness"
)]

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::Poll;

use bytes::Bytes;
use h2::client::SendRequest;
use sockeye::WebSocket;
use sockeye::http2::Http2Stream;
use tokio::net::TcpStream;

/// An HTTP/2 connection to a server, its settings received; a clone opens
/// streams on the same connection.
#[derive(Clone)]
pub struct H2Client {
    send: SendRequest<Bytes>,
}

impl H2Client {
    /// Connects over cleartext HTTP/2 (prior knowledge) and waits for the
    /// server's SETTINGS, which say whether extended CONNECT is allowed.
    pub async fn connect(address: SocketAddr) -> H2Client {
        let tcp = TcpStream::connect(address).await.expect("connect");
        // HTTP/2 answers data with small WINDOW_UPDATE frames, which Nagle's
        // algorithm would hold back for the peer's delayed ACK.
        tcp.set_nodelay(true).expect("nodelay");
        // No stream slots until the server's SETTINGS say how many.
        let (send, mut connection) = h2::client::Builder::new()
            .initial_max_send_streams(0)
            .handshake::<_, Bytes>(tcp)
            .await
            .expect("an http/2 handshake");
        // Until the server's SETTINGS arrive, none of its settings are
        // known; `ready` does not wait for them, so drive the connection
        // until they are in (a server sends them first thing).
        std::future::poll_fn(|cx| {
            if connection.max_concurrent_send_streams() > 0 {
                return Poll::Ready(());
            }
            match Pin::new(&mut connection).poll(cx) {
                Poll::Ready(result) => panic!("the http/2 connection ended: {result:?}"),
                Poll::Pending if connection.max_concurrent_send_streams() > 0 => Poll::Ready(()),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        H2Client { send }
    }

    /// Whether the server sent `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`
    /// (RFC 8441 §3, H2-01, H2-02).
    pub fn extended_connect_enabled(&self) -> bool {
        self.send.is_extended_connect_protocol_enabled()
    }

    /// Sends `request` (with the `:protocol` given, if any) and returns the
    /// answer's head and the stream.
    pub async fn open(
        &mut self,
        mut request: http::Request<()>,
        protocol: Option<&str>,
    ) -> (http::response::Parts, Http2Stream) {
        if let Some(protocol) = protocol {
            request
                .extensions_mut()
                .insert(h2::ext::Protocol::from(protocol));
        }
        let mut send_request = self.send.clone().ready().await.expect("a stream slot");
        let (response, send) = send_request
            .send_request(request, false)
            .expect("the request is sent");
        let response = response.await.expect("an answer");
        let (parts, recv) = response.into_parts();
        (parts, Http2Stream::new(send, recv))
    }

    /// An extended CONNECT for `path` asking for a WebSocket (RFC 8441 §5,
    /// H2-06): `:protocol` `websocket`, version 13, and `headers`.
    pub async fn websocket(
        &mut self,
        address: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (http::response::Parts, Http2Stream) {
        let mut request = connect_request(address, path);
        request
            .headers_mut()
            .insert("sec-websocket-version", "13".parse().unwrap());
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        self.open(request, Some("websocket")).await
    }
}

/// A CONNECT request for `path` on `address`, with no header yet.
pub fn connect_request(address: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{address}{path}"))
        .body(())
        .unwrap()
}

/// A sockeye client socket over an accepted extended CONNECT stream, with
/// `deflate` if it was agreed.
pub fn client_socket(
    stream: Http2Stream,
    deflate: Option<sockeye::proto::PerMessageDeflate>,
) -> WebSocket<Http2Stream> {
    crate::support::servers::client_socket(stream, &[], deflate)
}
