//! The client's side of HTTP/1.1: reading a response head and a bounded
//! body, for the opening handshake and for a proxy's answer to `CONNECT`.

use std::io;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::Response;
use http::header;
use sockeye_proto::handshake::{ClientHandshake, HandshakeError};
use tokio::io::{AsyncRead, AsyncReadExt};

/// The most body bytes read from an answer that is not the one hoped for
/// (a non-101 to the handshake, a non-2xx to `CONNECT`).
const MAX_BODY: usize = 64 << 10;

/// How long the body of such an answer without a length is read at most.
const BODY_WAIT: Duration = Duration::from_secs(1);

/// Why no response head could be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// Reading failed.
    Io(io::Error),
    /// The peer closed the connection before a whole head arrived.
    Eof,
    /// What arrived is not a valid HTTP/1.1 response head, or is over the
    /// limits of `config`.
    Invalid(HandshakeError),
}

/// Reads a response head from `stream` into `buf` (empty; its capacity is
/// reused) and returns it with the bytes that came after it.
pub(crate) async fn read_response_head<S>(
    stream: &mut S,
    mut buf: BytesMut,
    config: &sockeye_proto::Config,
) -> Result<(Response<()>, BytesMut), HeadError>
where
    S: AsyncRead + Unpin,
{
    let (response, head_len) = loop {
        if let Some(parsed) =
            ClientHandshake::parse_response(&buf, config).map_err(HeadError::Invalid)?
        {
            break parsed;
        }
        if stream.read_buf(&mut buf).await.map_err(HeadError::Io)? == 0 {
            return Err(HeadError::Eof);
        }
    };
    let _ = buf.split_to(head_len);
    Ok((response, buf))
}

/// Reads the body of `response`, at most 64 KiB, by `Content-Length` or
/// until EOF, starting with the bytes already in `buf`. Errors end the body
/// early.
pub(crate) async fn read_body<S>(
    stream: &mut S,
    response: &Response<()>,
    mut buf: BytesMut,
) -> Bytes
where
    S: AsyncRead + Unpin,
{
    let length = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    let limit = length.unwrap_or(MAX_BODY).min(MAX_BODY);
    // A server that gives no length and keeps the connection open would
    // hold the answer back until the caller's time limit, and lose it: the
    // body is read for a while at most, and what came is the body.
    let read = async {
        while buf.len() < limit {
            let mut chunk = (&mut *stream).take((limit - buf.len()) as u64);
            match chunk.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    if length.is_some() {
        // Within the caller's own time limit.
        read.await;
    } else {
        let _ = tokio::time::timeout(BODY_WAIT, read).await;
    }
    buf.truncate(limit);
    buf.freeze()
}
