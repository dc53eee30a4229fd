//! The server side of RFC 8441: serving the WebSocket streams of one
//! HTTP/2 connection.

use std::future::{Future, poll_fn};

use bytes::{Bytes, BytesMut};
use h2::RecvStream;
use tokio::io::{AsyncRead, AsyncWrite};

use super::{CONNECTION_WINDOW, Http2Stream, MAX_STREAMS, STREAM_WINDOW, io_error};
use crate::error::{Error, Result, Timeout};
use crate::server::builder::ServerBuilder;
use crate::server::negotiate::{CheckedRequest, strip_http1_fields};
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
            let response = server.plain_answer(&request).unwrap_or_else(|| {
                http::Response::builder()
                    .status(http::StatusCode::BAD_REQUEST)
                    .body(Bytes::from_static(b"not a websocket request\n"))
                    .unwrap_or_default()
            });
            send_whole(&mut respond, &request, response);
            drain_later(body, server.handshake_limit());
            continue;
        }
        let agreed = CheckedRequest::extended_connect(
            request,
            protocol.as_ref().map(h2::ext::Protocol::as_str),
        )
        .and_then(|checked| {
            checked.check_origin(server)?;
            checked.agree(server, server.default_accept(checked.protocols()))
        });
        let (response, agreement) = match agreed {
            Ok(agreed) => agreed,
            Err(refusal) => {
                let head = http::Request::new(());
                send_whole(&mut respond, &head, refusal.response);
                drain_later(body, server.handshake_limit());
                continue;
            }
        };
        let Ok(send) = respond.send_response(response, false) else {
            continue;
        };
        let ws = agreement.open(Http2Stream::new(send, body), BytesMut::new());
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
    strip_http1_fields(&mut parts.headers);
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
