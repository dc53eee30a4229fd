//! Plain HTTP answers: deciding the answer to a request that is no
//! WebSocket handshake ([`http_fallback`](ServerBuilder::http_fallback)),
//! and writing an answer to a connection before closing it.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Method, Request, Response};
use sockeye_proto::handshake::{ResponseBody, write_response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::builder::ServerBuilder;
use crate::error::{Error, HandshakeFailure};

impl ServerBuilder {
    /// Decides the answer to a request that does not ask for a WebSocket:
    /// the [`http_fallback`](Self::http_fallback) handler's, or `None`
    /// without one (the request then goes on to be refused as a bad
    /// handshake).
    pub(crate) fn plain_answer(&self, request: &Request<()>) -> Option<Response<Bytes>> {
        self.http_fallback
            .as_ref()
            .map(|fallback| (fallback.0)(request))
    }

    /// Writes `answer` to a plain HTTP `request` on the connection and
    /// closes it; the error to return.
    pub(super) async fn send_plain_answer<S>(
        &self,
        stream: &mut S,
        request: &Request<()>,
        answer: &Response<Bytes>,
    ) -> Error
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let status = answer.status();
        tracing::debug!(%status, path = request.uri().path(), "answering a plain http request");
        let head_only = request.method() == Method::HEAD;
        self.answer_and_close_with(stream, answer, head_only).await;
        Error::Handshake(Box::new(HandshakeFailure::PlainHttp(status)))
    }

    /// Writes a refusal and closes the stream, within the handshake time
    /// limit. Errors are dropped: the peer is being turned away anyway.
    ///
    /// After shutting down our side it reads what the client still sends
    /// (a bounded amount, for at most a second): closing a socket with
    /// unread bytes resets the connection, which can destroy the answer
    /// before the client reads it.
    pub(super) async fn answer_and_close<S, B>(&self, stream: &mut S, response: &Response<B>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
        B: ResponseBody,
    {
        self.answer_and_close_with(stream, response, false).await;
    }

    /// As [`answer_and_close`](Self::answer_and_close); with `head_only`,
    /// the body is left out (the answer to `HEAD`) and `Content-Length`
    /// still gives its length.
    async fn answer_and_close_with<S, B>(
        &self,
        stream: &mut S,
        response: &Response<B>,
        head_only: bool,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
        B: ResponseBody,
    {
        const DRAIN_LIMIT: u64 = 64 << 10;
        let mut out = BytesMut::with_capacity(256);
        write_response(response, &mut out);
        if head_only {
            out.truncate(out.len() - response.body().as_body_bytes().len());
        }
        let _ = tokio::time::timeout(self.handshake_limit(), async {
            stream.write_all(&out).await?;
            stream.shutdown().await
        })
        .await;
        let drain = self.handshake_limit().min(Duration::from_secs(1));
        let _ = tokio::time::timeout(drain, async {
            let mut sink = tokio::io::sink();
            tokio::io::copy(&mut (&mut *stream).take(DRAIN_LIMIT), &mut sink).await
        })
        .await;
    }
}
