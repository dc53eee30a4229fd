//! Accepting over HTTP/1.1 on a byte stream: [`ServerBuilder::accept`] and
//! [`ServerBuilder::accept_with`] read the request, let the callback decide
//! and write the answer.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use http::header::HeaderValue;
use http::{Request, Response, StatusCode};
use sockeye_proto::Role;
use sockeye_proto::handshake::{ServerHandshake, header_has_token, write_response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::builder::ServerBuilder;
use super::negotiate::forbidden;
use super::request::{Accept, UpgradeRequest};
use crate::error::{Error, HandshakeFailure, Result, Timeout};
use crate::stream::WebSocket;

impl ServerBuilder {
    /// Accepts any valid request, with the subprotocol chosen as
    /// [`protocols`](Self::protocols) says (none by default).
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] for a bad request, after answering it with the
    /// right status (400, 426 with `Sec-WebSocket-Version: 13`, 431, 505);
    /// [`Error::Timeout`] for a client too slow; [`Error::Io`].
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the handshake.
    pub async fn accept<S>(&self, stream: S) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.accept_with(stream, |request| {
            let accept = self.default_accept(&request);
            async move { Ok(accept) }
        })
        .await
    }

    /// Reads the request, lets `callback` decide, and answers.
    ///
    /// The callback gets the validated request and may take its time (look
    /// up a session, check a token). It returns an [`Accept`] (subprotocol,
    /// extra headers) or any HTTP response to refuse with (401, 403, 404, a
    /// redirect), which is sent as it is.
    ///
    /// # Errors
    ///
    /// As [`accept`](Self::accept), and [`HandshakeFailure::Refused`] when
    /// the callback refused; [`HandshakeFailure::Invalid`] when it picked a
    /// subprotocol the client did not offer (R-SH-08), after answering 500.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future abandons the handshake.
    pub async fn accept_with<S, F, Fut>(&self, stream: S, callback: F) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(UpgradeRequest) -> Fut,
        Fut: Future<Output = std::result::Result<Accept, Response<Bytes>>>,
    {
        // On the heap: the handshake's state is large and short-lived, and
        // inline it would stay in the caller's task for the connection's
        // whole life (about 1.6 KiB per idle connection).
        Box::pin(self.handshake(stream, callback)).await
    }

    async fn handshake<S, F, Fut>(&self, mut stream: S, callback: F) -> Result<WebSocket<S>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
        F: FnOnce(UpgradeRequest) -> Fut,
        Fut: Future<Output = std::result::Result<Accept, Response<Bytes>>>,
    {
        let (request, leftover) = self.read_request(&mut stream).await?;
        if let Some(fallback) = &self.http_fallback
            && !header_has_token(request.headers(), http::header::UPGRADE, "websocket")
        {
            return Err(self.answer_plain(&mut stream, &request, fallback).await);
        }
        let handshake = match ServerHandshake::from_request(request) {
            Ok(handshake) => handshake,
            Err(e) => {
                tracing::debug!(error = %e, status = %e.status(), "refusing a bad handshake");
                self.answer_and_close(&mut stream, &e.to_response()).await;
                return Err(e.into());
            }
        };

        if !self.origin_allowed(handshake.request().headers().get(http::header::ORIGIN)) {
            tracing::debug!("refusing a request from an origin not allowed");
            return Err(self.forbid(&mut stream).await);
        }
        let request =
            UpgradeRequest::new(handshake.request().clone(), handshake.protocols().to_vec());
        let accept = match callback(request).await {
            Ok(accept) => accept,
            Err(refusal) => {
                let status = refusal.status();
                self.answer_and_close(&mut stream, &refusal).await;
                return Err(Error::Handshake(Box::new(HandshakeFailure::Refused(
                    status,
                ))));
            }
        };
        let mut response = match handshake.response(accept.protocol.as_deref()) {
            Ok(response) => response,
            Err(e) => {
                let error = Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .header(http::header::CONNECTION, "close")
                    .body(Bytes::new())
                    .unwrap_or_default();
                self.answer_and_close(&mut stream, &error).await;
                return Err(e.into());
            }
        };
        let deflate = self.complete_response(&mut response, handshake.extensions(), &accept);
        let mut out = BytesMut::with_capacity(256);
        write_response(&response, &mut out);
        tokio::time::timeout(self.handshake_timeout, async {
            stream.write_all(&out).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        Ok(
            WebSocket::from_parts(stream, Role::Server, self.connection_config(), leftover)
                .with_protocol(accept.protocol)
                .with_deflate(deflate),
        )
    }

    /// Reads a request head within the handshake time limit; answers and
    /// closes when it is not valid HTTP/1.1 or over the limits. Returns it
    /// with the bytes that came after it.
    async fn read_request<S>(&self, stream: &mut S) -> Result<(Request<()>, BytesMut)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let proto = &self.config.proto;
        let read = async {
            let mut buf = BytesMut::with_capacity(1024);
            loop {
                match ServerHandshake::parse_request(&buf, proto) {
                    Ok(Some((request, head_len))) => {
                        let _ = buf.split_to(head_len);
                        return Ok(Ok((request, buf)));
                    }
                    Ok(None) => {}
                    Err(e) => return Ok(Err(e)),
                }
                let room = proto.max_handshake_size.saturating_sub(buf.len()).max(1);
                if (&mut *stream).take(room as u64).read_buf(&mut buf).await? == 0 {
                    return Err(Error::Io(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed during the opening handshake",
                    )));
                }
            }
        };
        let parsed = tokio::time::timeout(self.handshake_timeout, read)
            .await
            .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        match parsed {
            Ok(parsed) => Ok(parsed),
            Err(e) => {
                tracing::debug!(error = %e, status = %e.status(), "refusing a bad handshake");
                self.answer_and_close(stream, &e.to_response()).await;
                Err(e.into())
            }
        }
    }

    /// Answers 403 to an origin not allowed; the error to return.
    async fn forbid<S>(&self, stream: &mut S) -> Error
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let mut refusal = forbidden();
        refusal
            .headers_mut()
            .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
        self.answer_and_close(stream, &refusal).await;
        Error::Handshake(Box::new(HandshakeFailure::Refused(StatusCode::FORBIDDEN)))
    }
}
