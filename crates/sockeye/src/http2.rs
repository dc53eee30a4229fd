//! WebSocket connections over HTTP/2 (RFC 8441): one HTTP/2 stream opened by an
//! extended CONNECT carries the connection, with RFC 6455 framing (and
//! client masking) unchanged inside its DATA frames.
//!
//! [`Http2Stream`] turns such a stream into a byte stream that a
//! [`WebSocket`] runs over. A client asks for HTTP/2 with
//! [`ClientBuilder::http2`](crate::ClientBuilder::http2).

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use h2::{RecvStream, SendStream};
use sockeye_proto::Role;
use sockeye_proto::handshake::{ClientHandshake, ServerHandshake};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::client::{ClientBuilder, Target, agree_deflate};
use crate::error::{Error, HandshakeFailure, Result, Timeout};
use crate::server::ServerBuilder;
use crate::stream::WebSocket;
use crate::tls::ClientStream;

/// The flow-control window of each stream, both ways: HTTP/2's default of
/// 64 KiB would hold a WebSocket to one window per round trip.
const STREAM_WINDOW: u32 = 1 << 20;

/// The flow-control window of a whole connection.
const CONNECTION_WINDOW: u32 = 4 << 20;

/// The most WebSocket streams one HTTP/2 connection may have open at once
/// (`SETTINGS_MAX_CONCURRENT_STREAMS`); a browser opens one per socket to
/// the same origin.
pub const MAX_STREAMS: u32 = 100;

/// The most bytes handed to one DATA frame write: HTTP/2 splits them into
/// frames of the peer's maximum size anyway, and flow control grants
/// capacity in pieces of about this size.
const WRITE_CHUNK: usize = 64 << 10;

/// One HTTP/2 stream as a byte stream: reads take its DATA frames (and give
/// their flow-control credit back), writes send DATA frames as the peer's
/// flow control allows, and shutting down ends the stream (`END_STREAM`, the
/// orderly close of RFC 8441 §5, H2-11). Dropping it before that resets the
/// stream.
#[derive(Debug)]
pub struct Http2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// What is left of the last DATA frame read.
    unread: Bytes,
    /// `END_STREAM` was sent.
    finished: bool,
    /// The HTTP/2 connection runs over TLS.
    tls: bool,
}

impl Http2Stream {
    /// A byte stream over the two halves of an HTTP/2 stream.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Http2Stream {
            send,
            recv,
            unread: Bytes::new(),
            finished: false,
            tls: false,
        }
    }

    /// Whether the HTTP/2 connection runs over TLS, as far as this stream
    /// was told ([`with_tls`](Self::with_tls)).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// Marks the stream as carried over TLS.
    #[must_use]
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls = tls;
        self
    }
}

fn io_error(e: h2::Error) -> io::Error {
    if e.is_io() {
        e.into_io()
            .unwrap_or_else(|| io::Error::other("http/2 i/o error"))
    } else {
        io::Error::other(e)
    }
}

impl AsyncRead for Http2Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while this.unread.is_empty() {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // The credit goes back as the bytes are taken: the peer
                    // may send as much again.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.unread = data;
                }
                Some(Err(e)) => return Poll::Ready(Err(io_error(e))),
                // `END_STREAM`: the peer's orderly close, read as EOF.
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.unread.len().min(buf.remaining());
        buf.put_slice(&this.unread[..n]);
        this.unread.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Http2Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let wanted = buf.len().min(WRITE_CHUNK);
        this.send.reserve_capacity(wanted);
        // Waits until flow control grants some of it.
        match ready!(this.send.poll_capacity(cx)) {
            Some(Ok(granted)) => {
                let n = granted.min(wanted);
                this.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(io_error)?;
                Poll::Ready(Ok(n))
            }
            Some(Err(e)) => Poll::Ready(Err(io_error(e))),
            None => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the http/2 stream is closed",
            ))),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection's task writes what is sent, as flow control allows.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.finished {
            this.finished = true;
            this.send.send_data(Bytes::new(), true).map_err(io_error)?;
        }
        Poll::Ready(Ok(()))
    }
}

/// The client side: an HTTP/2 connection over `io`, checked for RFC 8441
/// support, and one extended CONNECT on it. Returns the stream and the
/// server's answer, or `Ok(None)` when the server does not offer extended
/// CONNECT (H2-02: the client may not use it then).
pub(crate) async fn open<S>(
    io: S,
    request: http::Request<()>,
) -> Result<Option<(Http2Stream, http::Response<()>)>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // No stream may open before the server's SETTINGS arrive: they say
    // whether extended CONNECT is allowed (H2-02).
    let (send_request, mut connection) = h2::client::Builder::new()
        .initial_max_send_streams(0)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake::<_, Bytes>(io)
        .await
        .map_err(|e| Error::Io(io_error(e)))?;
    poll_fn(|cx| {
        if connection.max_concurrent_send_streams() > 0 {
            return Poll::Ready(Ok(()));
        }
        match Pin::new(&mut connection).poll(cx) {
            // The poll may have read them.
            Poll::Pending if connection.max_concurrent_send_streams() > 0 => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Err(Error::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the http/2 connection closed before its settings",
            )))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(Error::Io(io_error(e)))),
        }
    })
    .await?;
    if !send_request.is_extended_connect_protocol_enabled() {
        return Ok(None);
    }
    // The connection runs in its own task for as long as the stream lives.
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "http/2 connection ended");
        }
    });
    let mut send_request = send_request
        .ready()
        .await
        .map_err(|e| Error::Io(io_error(e)))?;
    let mut request = request;
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let (response, send) = send_request
        .send_request(request, false)
        .map_err(|e| Error::Io(io_error(e)))?;
    let response = response.await.map_err(|e| Error::Io(io_error(e)))?;
    let (parts, recv) = response.into_parts();
    Ok(Some((
        Http2Stream::new(send, recv),
        http::Response::from_parts(parts, ()),
    )))
}

/// How an attempt at HTTP/2 went.
pub(crate) enum Attempt {
    /// Open over HTTP/2.
    Open(Box<(WebSocket<ClientStream>, http::Response<()>)>),
    /// The server picked HTTP/1.1 by ALPN: go on over this stream.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Http1(ClientStream),
    /// The server speaks HTTP/2 without extended CONNECT.
    NotOffered,
}

/// Connects to `target` offering HTTP/2, and opens the WebSocket by
/// extended CONNECT if the server allows it.
pub(crate) async fn connect(
    client: &ClientBuilder,
    target: &Target,
    handshake: &ClientHandshake,
) -> Result<Attempt> {
    let stream = client.open_stream(target, true).await?;
    let scheme = if target.tls { "https" } else { "http" };
    // Over TLS, only if the server picked `h2`; in clear, by prior
    // knowledge.
    if stream.is_tls() && stream.alpn_protocol() != Some(b"h2".as_slice()) {
        return Ok(Attempt::Http1(stream));
    }
    let request = handshake.extended_connect_request(scheme)?;
    let tls = stream.is_tls();
    let io = stream;
    let opened = tokio::time::timeout(client.handshake_timeout, open(io, request))
        .await
        .map_err(|_| Error::Timeout(Timeout::Handshake))??;
    let Some((stream, response)) = opened else {
        return Ok(Attempt::NotOffered);
    };
    let accepted = match handshake.check_extended_connect_response(&response) {
        Ok(accepted) => accepted,
        Err(_) if !response.status().is_success() => {
            let (parts, ()) = response.into_parts();
            return Err(Error::Handshake(Box::new(HandshakeFailure::Rejected(
                http::Response::from_parts(parts, Bytes::new()),
            ))));
        }
        Err(e) => return Err(e.into()),
    };
    let deflate = agree_deflate(client.managed_deflate(), &accepted)?;
    let ws = WebSocket::from_raw(
        ClientStream::H2(Box::new(stream.with_tls(tls))),
        Role::Client,
        client.config.clone(),
        BytesMut::new(),
    )
    .with_protocol(accepted.protocol)
    .with_deflate(deflate);
    Ok(Attempt::Open(Box::new((ws, response))))
}

/// Serves one HTTP/2 connection (RFC 8441): every extended CONNECT with
/// `:protocol` `websocket` is checked and answered as
/// [`ServerBuilder::accept`] would (origin, subprotocol, permessage-deflate;
/// a 200 instead of a 101), and the open socket handed to `on_open`, in a
/// task of its own. Other requests get the
/// [`http_fallback`](ServerBuilder::http_fallback)'s answer, or 400.
///
/// Turn Nagle's algorithm off on the TCP stream under `io`
/// (`set_nodelay(true)`): HTTP/2 writes small frames (window updates,
/// settings acknowledgements) that Nagle and delayed acknowledgements hold
/// back for tens of milliseconds each.
///
/// The server advertises `SETTINGS_ENABLE_CONNECT_PROTOCOL` (H2-01) and at
/// most [`MAX_STREAMS`] streams at once. Returns once the client closes the
/// connection; the sockets opened on it live only as long as this runs,
/// since it carries their data.
///
/// # Errors
///
/// [`Error::Io`] when the HTTP/2 connection fails.
///
/// # Examples
///
/// ```no_run
/// # async fn run(tls: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin) -> sockeye::Result<()> {
/// use futures_util::StreamExt;
///
/// let server = sockeye::ServerBuilder::new();
/// sockeye::http2::serve_connection(&server, tls, |mut ws| async move {
///     while let Some(Ok(message)) = ws.next().await {
///         if ws.send(message).await.is_err() {
///             break;
///         }
///     }
/// })
/// .await
/// # }
/// ```
pub async fn serve_connection<S, F, Fut>(server: &ServerBuilder, io: S, on_open: F) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(WebSocket<Http2Stream>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    serve_connection_until(server, io, std::future::pending(), on_open).await
}

/// As [`serve_connection`], until `stop` resolves: then the connection is
/// shut down gracefully (a GOAWAY: no new streams, those open go on to
/// their end), and this returns once they have ended, or the client closed
/// the connection.
///
/// # Errors
///
/// As [`serve_connection`].
pub async fn serve_connection_until<S, F, Fut, Stop>(
    server: &ServerBuilder,
    io: S,
    stop: Stop,
    mut on_open: F,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(WebSocket<Http2Stream>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
    Stop: Future<Output = ()>,
{
    let mut builder = h2::server::Builder::new();
    builder
        .enable_connect_protocol() // H2-01
        .max_concurrent_streams(MAX_STREAMS)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    let mut connection = tokio::time::timeout(server.handshake_limit(), builder.handshake(io))
        .await
        .map_err(|_| Error::Timeout(Timeout::Handshake))?
        .map_err(|e| Error::Io(io_error(e)))?;
    let mut stop = std::pin::pin!(stop);
    let mut stopping = false;
    loop {
        let accepted = poll_fn(|cx| {
            if !stopping && stop.as_mut().poll(cx).is_ready() {
                stopping = true;
                connection.graceful_shutdown();
            }
            connection.poll_accept(cx)
        })
        .await;
        let Some(accepted) = accepted else { break };
        let (request, mut respond) = accepted.map_err(|e| Error::Io(io_error(e)))?;
        let (mut parts, body) = request.into_parts();
        let protocol = parts.extensions.remove::<h2::ext::Protocol>();
        let request = http::Request::from_parts(parts, ());
        let websocket = protocol
            .as_ref()
            .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
        if !websocket {
            let response = server.answer_plain_http(&request).unwrap_or_else(|| {
                http::Response::builder()
                    .status(http::StatusCode::BAD_REQUEST)
                    .body(Bytes::from_static(b"not a websocket request\n"))
                    .unwrap_or_default()
            });
            send_whole(&mut respond, &request, response);
            drain_later(body, server.handshake_limit());
            continue;
        }
        let agreed = ServerHandshake::from_extended_connect(request)
            .map_err(|e| Box::new(crate::server::refusal_over_http2(&e)))
            .and_then(|handshake| server.agree(&handshake));
        let agreed = match agreed {
            Ok(agreed) => agreed,
            Err(refusal) => {
                let refusal = *refusal;
                let head = http::Request::new(());
                send_whole(&mut respond, &head, refusal);
                drain_later(body, server.handshake_limit());
                continue;
            }
        };
        let Ok(send) = respond.send_response(agreed.response.clone(), false) else {
            continue;
        };
        let stream = Http2Stream::new(send, body);
        let ws = server.open_socket(stream, BytesMut::new(), agreed);
        tokio::spawn(on_open(ws));
    }
    Ok(())
}

/// Reads and throws away what the client still sends on a stream already
/// answered, for at most `limit`: dropping it at once would reset the
/// stream with CANCEL, which can destroy the answer before the client
/// reads it.
fn drain_later(mut body: RecvStream, limit: std::time::Duration) {
    if body.is_end_stream() {
        return;
    }
    tokio::spawn(async move {
        let drain = async {
            while let Some(Ok(data)) = poll_fn(|cx| body.poll_data(cx)).await {
                let _ = body.flow_control().release_capacity(data.len());
            }
        };
        let _ = tokio::time::timeout(limit, drain).await;
    });
}

/// Sends a whole response (head and body) on an HTTP/2 stream; the body is
/// left out for `HEAD`.
fn send_whole(
    respond: &mut h2::server::SendResponse<Bytes>,
    request: &http::Request<()>,
    response: http::Response<Bytes>,
) {
    let (mut parts, body) = response.into_parts();
    crate::server::strip_http1_fields(&mut parts.headers);
    let empty = body.is_empty() || request.method() == http::Method::HEAD;
    let head = http::Response::from_parts(parts, ());
    let mut send = match respond.send_response(head, empty) {
        Ok(send) => send,
        Err(e) => {
            tracing::debug!(error = %e, "http/2 answer not sent");
            return;
        }
    };
    if !empty {
        let _ = send.send_data(body, true);
    }
}
