//! Accepting over HTTP/1.1 on a byte stream: [`ServerBuilder::accept`] and
//! [`ServerBuilder::accept_with`] read the request, let the callback decide
//! and write the answer.

use std::future::Future;

use bytes::{Bytes, BytesMut};
use http::{Request, Response, StatusCode};
use sockeye_proto::handshake::{ServerHandshake, header_has_token, write_response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::builder::ServerBuilder;
use super::negotiate::{CheckedRequest, Refusal};
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
            let accept = self.default_accept(request.protocols());
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
        if !header_has_token(request.headers(), http::header::UPGRADE, "websocket")
            && let Some(answer) = self.plain_answer(&request)
        {
            return Err(self.send_plain_answer(&mut stream, &request, &answer).await);
        }
        let checked = CheckedRequest::http1(request).and_then(|checked| {
            checked.check_origin(self)?;
            Ok(checked)
        });
        let checked = match checked {
            Ok(checked) => checked,
            Err(refusal) => return Err(self.refuse(&mut stream, *refusal).await),
        };
        let accept = match callback(checked.upgrade_request()).await {
            Ok(accept) => accept,
            Err(refusal) => {
                let status = refusal.status();
                self.answer_and_close(&mut stream, &refusal).await;
                return Err(Error::Handshake(Box::new(HandshakeFailure::Refused(
                    status,
                ))));
            }
        };
        let (response, agreement) = match checked.agree(self, accept) {
            Ok(agreed) => agreed,
            Err(refusal) => {
                // The callback's mistake, not the client's (R-SH-08).
                let error = Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .header(http::header::CONNECTION, "close")
                    .body(Bytes::new())
                    .unwrap_or_default();
                self.answer_and_close(&mut stream, &error).await;
                return Err(refusal.into_error());
            }
        };
        let mut out = BytesMut::with_capacity(256);
        write_response(&response, &mut out);
        tokio::time::timeout(self.handshake_limit(), async {
            stream.write_all(&out).await?;
            stream.flush().await
        })
        .await
        .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        Ok(agreement.open(stream, leftover))
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
        let parsed = tokio::time::timeout(self.handshake_limit(), read)
            .await
            .map_err(|_| Error::Timeout(Timeout::Handshake))??;
        match parsed {
            Ok(parsed) => Ok(parsed),
            Err(e) => Err(self.refuse(stream, *Refusal::invalid(e, false)).await),
        }
    }

    /// Sends `refusal`'s answer and closes; the error to return.
    async fn refuse<S>(&self, stream: &mut S, refusal: Refusal) -> Error
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.answer_and_close(stream, &refusal.response).await;
        refusal.into_error()
    }
}
