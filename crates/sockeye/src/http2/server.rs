//! The server side of RFC 8441: serving the WebSocket streams of one
//! HTTP/2 connection.

use std::future::{Future, poll_fn};
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use h2::RecvStream;
use h2::server::SendResponse;
use http::{Response, StatusCode};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::task::{JoinError, JoinSet};

use super::{CONNECTION_WINDOW, Http2Stream, MAX_STREAMS, STREAM_WINDOW, io_error};
use crate::error::{Error, Result, Timeout};
use crate::server::builder::ServerBuilder;
use crate::server::negotiate::{CheckedRequest, strip_http1_fields};
use crate::server::request::{Accept, UpgradeRequest};
use crate::stream::WebSocket;

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
/// since it carries their data. To see each request and accept or refuse
/// it, use [`serve_connection_with`].
///
/// # Errors
///
/// [`Error::Io`] when the HTTP/2 connection fails.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future drops the connection, and the
/// sockets opened on it fail.
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
///
/// # Cancel safety
///
/// As [`serve_connection`]; resolve `stop` instead to end gracefully.
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
    let default_choice = |request: UpgradeRequest| {
        std::future::ready(Ok((server.default_accept(request.protocols()), ())))
    };
    serve_connection_with(server, io, stop, default_choice, move |ws, ()| on_open(ws)).await
}

/// What an accept callback of [`serve_connection_with`] returns: an
/// [`Accept`] with the value to hand to `on_open`, or the response to
/// refuse with.
pub type Decision<T> = std::result::Result<(Accept, T), Response<Bytes>>;

/// Serves one HTTP/2 connection as [`serve_connection_until`] does, with
/// `accept` deciding on each WebSocket stream, as
/// [`ServerBuilder::accept_with`]'s callback does over HTTP/1.1.
///
/// `accept` gets each valid extended CONNECT as an [`UpgradeRequest`]:
/// method `CONNECT`, the `:path` as the URI's path and query, the
/// `:authority` as its authority, and the headers. The peer's address is
/// not part of it: capture it in the closure, from where `io` came from.
/// The request reaches `accept` only once it is found valid and its
/// origin allowed: a bad request is answered 400 (400 too for an
/// unsupported `Sec-WebSocket-Version`, with `Sec-WebSocket-Version: 13`)
/// and an origin not on [`allowed_origins`](ServerBuilder::allowed_origins)
/// 403, without asking `accept`.
///
/// `accept` returns a [`Decision`]:
/// - `Ok((accept, value))`: the stream is answered 200 with the
///   subprotocol `accept` names (it must be one the client offered,
///   R-SH-08, or the answer is a 500), permessage-deflate as the server
///   allows and `accept`'s extra headers. `on_open` then gets the open
///   socket and `value`, and its future runs in a task of its own: `value`
///   can carry a route, an environment, or a permit that must be held
///   while the socket lives.
/// - `Err(response)`: the response is the stream's answer (a 404 for a
///   path with no route, a 503 with `Retry-After` when a limit is reached,
///   a 401), with its body; fields HTTP/2 does not have (`Connection`,
///   `Transfer-Encoding`, `Upgrade`, `Keep-Alive`) are left out. A status
///   below 300 is no refusal: the client would take the stream for open,
///   so a 500 is sent instead.
///
/// What it costs: `accept`'s future is polled once as the request comes
/// in; when it is ready then (the usual case: a decision taken from the
/// request alone), the stream is answered at once, for one allocation.
/// When it waits (a session looked up, a token checked), it goes on in a
/// task of its own, so that the connection's other streams are not held
/// up; at most [`MAX_STREAMS`] streams are open on a connection, those
/// waiting for `accept` included, which bounds the tasks. `accept`'s time
/// is not counted in the [handshake timeout](ServerBuilder::handshake_timeout).
/// When the connection ends, the decisions still awaited are dropped.
///
/// Plain requests (not an extended CONNECT) get the
/// [`http_fallback`](ServerBuilder::http_fallback)'s answer, or 400; they
/// never reach `accept`. When `stop` resolves, no new streams are taken
/// (GOAWAY), and those open, or waiting for `accept`, go on to their end.
/// Pass [`std::future::pending()`] to serve until the client closes.
///
/// # Errors
///
/// [`Error::Io`] when the HTTP/2 connection fails, [`Error::Timeout`] when
/// the client does not complete the HTTP/2 handshake in time. A refused
/// stream is no error: the connection goes on.
///
/// # Cancel safety
///
/// Not cancel safe: dropping the future drops the connection, the
/// decisions still awaited with it, and the sockets opened on it fail.
/// Resolve `stop` instead to end gracefully.
///
/// # Panics
///
/// Never itself. A panic in `accept`, or in the first poll of its future,
/// goes on out of this future, as `accept_with`'s would; one in a future
/// that has moved to a task of its own resets only its stream.
///
/// # Examples
///
/// A server with two routes and at most 10 sockets at once, each holding
/// its permit while it lives:
///
/// ```no_run
/// # async fn run(tcp: tokio::net::TcpStream) -> sockeye::Result<()> {
/// use std::sync::Arc;
///
/// use bytes::Bytes;
/// use futures_util::StreamExt;
/// use http::StatusCode;
/// use sockeye::{Accept, ServerBuilder};
/// use tokio::sync::Semaphore;
///
/// let server = ServerBuilder::new();
/// let slots = Arc::new(Semaphore::new(10));
/// let refuse = |status: StatusCode| {
///     http::Response::builder()
///         .status(status)
///         .header("retry-after", "5")
///         .body(Bytes::new())
///         .unwrap_or_default()
/// };
/// let accept = move |request: sockeye::UpgradeRequest| {
///     let slot = slots.clone().try_acquire_owned();
///     async move {
///         let route = match request.path() {
///             "/echo" | "/shout" => request.path().to_owned(),
///             _ => return Err(refuse(StatusCode::NOT_FOUND)),
///         };
///         let Ok(slot) = slot else {
///             return Err(refuse(StatusCode::SERVICE_UNAVAILABLE));
///         };
///         let chat = request.select_protocol(&["chat"]).map(str::to_owned);
///         let accept = chat.map_or_else(Accept::new, |p| Accept::new().protocol(p));
///         Ok((accept, (route, slot)))
///     }
/// };
/// let on_open = |mut ws: sockeye::WebSocket<_>, (route, slot): (String, _)| async move {
///     let _slot = slot; // held until the socket ends
///     while let Some(Ok(message)) = ws.next().await {
///         let message = match (route.as_str(), message.as_text()) {
///             ("/shout", Some(text)) => sockeye::Message::text(text.to_uppercase()),
///             _ => message,
///         };
///         if ws.send(message).await.is_err() {
///             break;
///         }
///     }
/// };
/// tcp.set_nodelay(true)?;
/// sockeye::http2::serve_connection_with(&server, tcp, std::future::pending(), accept, on_open)
///     .await
/// # }
/// ```
pub async fn serve_connection_with<S, Stop, A, AFut, T, F, Fut>(
    server: &ServerBuilder,
    io: S,
    stop: Stop,
    mut accept: A,
    mut on_open: F,
) -> Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
    Stop: Future<Output = ()>,
    A: FnMut(UpgradeRequest) -> AFut,
    AFut: Future<Output = Decision<T>> + Send + 'static,
    T: Send + 'static,
    F: FnMut(WebSocket<Http2Stream>, T) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
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
    // The streams whose decision is awaited in a task of its own; dropped
    // (and the tasks aborted) with the connection.
    let mut deciding: JoinSet<(Decision<T>, Waiting)> = JoinSet::new();
    loop {
        let event = poll_fn(|cx| {
            if !stopping && stop.as_mut().poll(cx).is_ready() {
                stopping = true;
                connection.graceful_shutdown();
            }
            // Ready(None) when nothing is awaited: then only the connection.
            if let Poll::Ready(Some(decided)) = deciding.poll_join_next(cx) {
                return Poll::Ready(Event::Decided(decided));
            }
            connection.poll_accept(cx).map(Event::Stream)
        })
        .await;
        let accepted = match event {
            Event::Decided(Ok((decision, waiting))) => {
                waiting.answer(server, decision, &mut on_open);
                continue;
            }
            Event::Decided(Err(e)) => {
                // Its stream is reset as the task drops it.
                tracing::warn!(error = %e, "the accept callback failed; stream reset");
                continue;
            }
            Event::Stream(None) => break,
            Event::Stream(Some(accepted)) => accepted,
        };
        let (request, mut respond) = accepted.map_err(|e| Error::Io(io_error(e)))?;
        let (mut parts, body) = request.into_parts();
        let protocol = parts.extensions.remove::<h2::ext::Protocol>();
        let request = http::Request::from_parts(parts, ());
        let websocket = protocol
            .as_ref()
            .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"));
        if !websocket {
            let response = server.plain_answer(&request).unwrap_or_else(|| {
                http::Response::builder()
                    .status(StatusCode::BAD_REQUEST)
                    .body(Bytes::from_static(b"not a websocket request\n"))
                    .unwrap_or_default()
            });
            let head_only = request.method() == http::Method::HEAD;
            send_whole(&mut respond, response, head_only);
            drain_later(body, server.handshake_limit());
            continue;
        }
        let checked = CheckedRequest::extended_connect(
            request,
            protocol.as_ref().map(h2::ext::Protocol::as_str),
        )
        .and_then(|checked| {
            checked.check_origin(server)?;
            Ok(checked)
        });
        let checked = match checked {
            Ok(checked) => checked,
            Err(refusal) => {
                send_whole(&mut respond, refusal.response, false);
                drain_later(body, server.handshake_limit());
                continue;
            }
        };
        let mut decision = Box::pin(accept(checked.upgrade_request()));
        let waiting = Waiting {
            checked,
            respond,
            body,
        };
        match poll_fn(|cx| Poll::Ready(decision.as_mut().poll(cx))).await {
            Poll::Ready(decision) => waiting.answer(server, decision, &mut on_open),
            Poll::Pending => {
                deciding.spawn(async move { (decision.await, waiting) });
            }
        }
    }
    Ok(())
}

/// A new stream from `poll_accept`, or an error of the connection.
type Incoming = std::result::Result<(http::Request<RecvStream>, SendResponse<Bytes>), h2::Error>;

/// What wakes the connection's loop.
#[expect(
    clippy::large_enum_variant,
    reason = "one at a time, on the stack, taken apart at once"
)]
enum Event<T> {
    /// A new stream, an error of the connection, or its end (`None`).
    Stream(Option<Incoming>),
    /// An accept callback that waited has decided (or panicked).
    Decided(std::result::Result<(Decision<T>, Waiting), JoinError>),
}

/// A valid WebSocket stream, waiting for the accept callback's decision.
struct Waiting {
    checked: CheckedRequest,
    respond: SendResponse<Bytes>,
    body: RecvStream,
}

impl Waiting {
    /// Answers the stream as `decision` says, and hands an accepted
    /// socket, with the callback's value, to `on_open` in a task of its
    /// own.
    fn answer<T, F, Fut>(self, server: &ServerBuilder, decision: Decision<T>, on_open: &mut F)
    where
        F: FnMut(WebSocket<Http2Stream>, T) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Waiting {
            checked,
            mut respond,
            body,
        } = self;
        let (accept, value) = match decision {
            Ok(accepted) => accepted,
            Err(refusal) => {
                let refusal = if refusal.status().as_u16() < 300 {
                    tracing::warn!(
                        status = %refusal.status(),
                        "the accept callback refused with a success status; answering 500"
                    );
                    internal_error()
                } else {
                    tracing::debug!(status = %refusal.status(), "stream refused by the accept callback");
                    refusal
                };
                send_whole(&mut respond, refusal, false);
                drain_later(body, server.handshake_limit());
                return;
            }
        };
        let (mut response, agreement) = match checked.agree(server, accept) {
            Ok(agreed) => agreed,
            Err(refusal) => {
                // The callback's mistake, not the client's (R-SH-08).
                tracing::warn!(error = %refusal.into_error(), "the accept callback's choice is not valid; answering 500");
                send_whole(&mut respond, internal_error(), false);
                drain_later(body, server.handshake_limit());
                return;
            }
        };
        // The callback's extra headers may name fields HTTP/2 does not have.
        strip_http1_fields(response.headers_mut());
        let send = match respond.send_response(response, false) {
            Ok(send) => send,
            Err(e) => {
                tracing::debug!(error = %e, "http/2 answer not sent");
                return;
            }
        };
        let ws = agreement.open(Http2Stream::new(send, body), BytesMut::new());
        tokio::spawn(on_open(ws, value));
    }
}

/// The answer to a stream the accept callback decided on wrongly.
fn internal_error() -> Response<Bytes> {
    let mut response = Response::new(Bytes::new());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
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

/// Sends a whole response on an HTTP/2 stream, without the fields HTTP/2
/// does not have; with `head_only` (the answer to `HEAD`), without its
/// body.
fn send_whole(respond: &mut SendResponse<Bytes>, response: Response<Bytes>, head_only: bool) {
    let (mut parts, body) = response.into_parts();
    strip_http1_fields(&mut parts.headers);
    let empty = body.is_empty() || head_only;
    let head = Response::from_parts(parts, ());
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
