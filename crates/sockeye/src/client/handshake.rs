//! The client's opening handshake over HTTP/1.1 (RFC 6455 §4.1), on a
//! stream already connected, and the permessage-deflate it agrees.

use std::time::Duration;

use bytes::BytesMut;
use http::Response;
use sockeye_proto::handshake::{Accepted, ClientHandshake, HandshakeError};
use sockeye_proto::{DeflateConfig, PerMessageDeflate, Role};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::config::WebSocketConfig;
use crate::error::{Error, HandshakeFailure, Result, Timeout};
use crate::http1::{HeadError, read_body, read_response_head};
use crate::stream::WebSocket;

/// Sends `handshake`'s request on `stream` and reads the answer, within
/// `timeout`: a 101 opens the connection with `config` (and the deflate
/// `offered`, if the server agreed), anything else fails with the answer.
pub(crate) async fn run<S>(
    mut stream: S,
    handshake: ClientHandshake,
    offered_deflate: Option<DeflateConfig>,
    config: WebSocketConfig,
    timeout: Duration,
) -> Result<(WebSocket<S>, Response<()>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let exchange = async {
        let mut buf = BytesMut::with_capacity(1024);
        handshake.write_request(&mut buf);
        stream.write_all(&buf).await?;
        stream.flush().await?;
        buf.clear();
        // R-CH-13: nothing more is sent until the response arrives.
        let (response, leftover) = match read_response_head(&mut stream, buf, &config.proto).await {
            Ok(head) => head,
            Err(HeadError::Io(e)) => return Err(Error::Io(e)),
            Err(HeadError::Invalid(e)) => return Err(e.into()),
            Err(HeadError::Eof) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "connection closed during the opening handshake",
                )));
            }
        };
        match handshake.check_response(&response) {
            Ok(accepted) => Ok((response, accepted, leftover)),
            Err(_) if response.status() != http::StatusCode::SWITCHING_PROTOCOLS => {
                let body = read_body(&mut stream, &response, leftover).await;
                let (parts, ()) = response.into_parts();
                Err(Error::Handshake(Box::new(HandshakeFailure::Rejected(
                    Response::from_parts(parts, body),
                ))))
            }
            Err(e) => Err(e.into()),
        }
    };
    let (response, accepted, leftover) = tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Error::Timeout(Timeout::Handshake))??;
    let deflate = agree_deflate(offered_deflate.as_ref(), &accepted)?;
    // R-CV-09: bytes after the 101 head are frames already.
    let ws = WebSocket::from_raw(stream, Role::Client, config, leftover)
        .with_protocol(accepted.protocol)
        .with_deflate(deflate);
    Ok((ws, response))
}

/// The permessage-deflate settings the server's answer agreed to, if any.
pub(crate) fn agree_deflate(
    offered: Option<&DeflateConfig>,
    accepted: &Accepted,
) -> Result<Option<PerMessageDeflate>> {
    match accepted.extensions.as_slice() {
        [] => Ok(None),
        // PMD-03: one permessage-deflate, nothing else we could run.
        [only]
            if only
                .name
                .eq_ignore_ascii_case(sockeye_proto::deflate::EXTENSION_NAME) =>
        {
            match offered {
                Some(ours) => Ok(Some(ours.accept_response(only)?)),
                None => Err(HandshakeError::InvalidExtensionResponse.into()),
            }
        }
        _ => Err(HandshakeError::InvalidExtensionResponse.into()),
    }
}
