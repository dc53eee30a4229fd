//! The client side of RFC 8441: an HTTP/2 connection over a client's
//! transport, checked for extended CONNECT, and one WebSocket stream on it.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sockeye_proto::handshake::ClientHandshake;
use sockeye_proto::{DeflateConfig, Role};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{CONNECTION_WINDOW, Http2Stream, STREAM_WINDOW, io_error};
use crate::client::handshake::agree_deflate;
use crate::client::transport::ClientStream;
use crate::config::WebSocketConfig;
use crate::error::{Error, HandshakeFailure, Result, Timeout};
use crate::stream::WebSocket;

/// The client side: an HTTP/2 connection over `io`, checked for RFC 8441
/// support, and one extended CONNECT on it. Returns the stream and the
/// server's answer, or `Ok(None)` when the server does not offer extended
/// CONNECT (H2-02: the client may not use it then).
async fn open<S>(
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
    #[cfg(feature = "tls")]
    Http1(ClientStream),
    /// The server speaks HTTP/2 without extended CONNECT.
    NotOffered,
}

/// Opens the WebSocket by extended CONNECT over `stream`, a connection
/// that offered HTTP/2, if the server allows it: within `timeout`, with
/// `config` and the permessage-deflate `offered`.
pub(crate) async fn connect(
    stream: ClientStream,
    handshake: &ClientHandshake,
    offered_deflate: Option<&DeflateConfig>,
    config: &WebSocketConfig,
    timeout: Duration,
) -> Result<Attempt> {
    let tls = stream.is_tls();
    // Over TLS, only if the server picked `h2`; in clear, by prior
    // knowledge.
    #[cfg(feature = "tls")]
    if tls && stream.alpn_protocol() != Some(b"h2".as_slice()) {
        return Ok(Attempt::Http1(stream));
    }
    let scheme = if tls { "https" } else { "http" };
    let request = handshake.extended_connect_request(scheme)?;
    let opened = tokio::time::timeout(timeout, open(stream, request))
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
    let deflate = agree_deflate(offered_deflate, &accepted)?;
    let ws = WebSocket::from_raw(
        ClientStream::H2(Box::new(stream.with_tls(tls))),
        Role::Client,
        config.clone(),
        BytesMut::new(),
    )
    .with_protocol(accepted.protocol)
    .with_deflate(deflate);
    Ok(Attempt::Open(Box::new((ws, response))))
}
