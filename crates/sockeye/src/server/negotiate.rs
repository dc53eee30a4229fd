//! The one negotiation of every server entry point: `accept` and
//! `accept_with` (HTTP/1.1 on a byte stream), `http2::serve_connection*`,
//! hyper's `upgrade`/`check_upgrade` and the axum extractor.
//!
//! Each entry point reads the request head its own way, then:
//!
//! 1. [`CheckedRequest::http1`] or [`CheckedRequest::extended_connect`]
//!    checks it (RFC 6455 §4.2.1, RFC 8441 §4): a [`Refusal`] carries the
//!    400, 426 (400 over HTTP/2), 431, 501 or 505 to send;
//! 2. [`CheckedRequest::check_origin`] applies the allow-list (403,
//!    R-SH-06);
//! 3. the caller's [`Accept`] (or [`ServerBuilder::default_accept`]) goes
//!    to [`CheckedRequest::agree`], which settles the subprotocol
//!    (R-SH-08) and permessage-deflate and builds the accepting response
//!    head (101, or 200 over HTTP/2);
//! 4. once that head is sent, [`Agreement::open`] makes the socket.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, HeaderValue, ORIGIN, SEC_WEBSOCKET_EXTENSIONS};
use http::{Request, Response, StatusCode};
use sockeye_proto::handshake::{HandshakeError, ServerHandshake};
use sockeye_proto::{PerMessageDeflate, Role};
use tokio::io::{AsyncRead, AsyncWrite};

use super::builder::ServerBuilder;
use super::request::{Accept, UpgradeRequest, select_protocol};
use crate::config::WebSocketConfig;
use crate::error::{Error, HandshakeFailure};
use crate::stream::WebSocket;

impl ServerBuilder {
    /// The answer [`accept`](Self::accept) gives a client that offered
    /// the subprotocols `offered`: the one [`protocols`](Self::protocols)
    /// picks, nothing else.
    pub(crate) fn default_accept(&self, offered: &[String]) -> Accept {
        match self.select_protocol(offered) {
            Some(protocol) => Accept::new().protocol(protocol),
            None => Accept::new(),
        }
    }

    /// The subprotocol [`protocols`](Self::protocols) picks among
    /// `offered`, if any.
    pub(crate) fn select_protocol<'a>(&self, offered: &'a [String]) -> Option<&'a str> {
        select_protocol(offered, &self.protocols)
    }
}

/// A WebSocket request found valid, not answered yet.
#[derive(Debug)]
pub(crate) struct CheckedRequest {
    /// The RFC 6455 view of the request: the offers, and the key for the
    /// HTTP/1.1 answer.
    handshake: ServerHandshake,
    /// Whether it came over HTTP/2, which shapes every answer.
    http2: bool,
}

impl CheckedRequest {
    /// Checks an HTTP/1.1 upgrade request (RFC 6455 §4.2.1).
    pub(crate) fn http1(request: Request<()>) -> Result<Self, Box<Refusal>> {
        match ServerHandshake::from_request(request) {
            Ok(handshake) => Ok(CheckedRequest {
                handshake,
                http2: false,
            }),
            Err(e) => Err(Refusal::invalid(e, false)),
        }
    }

    /// Checks an HTTP/2 extended CONNECT (RFC 8441 §4) whose `:protocol`
    /// pseudo-header is `protocol`.
    #[cfg(any(feature = "http2", feature = "hyper"))]
    pub(crate) fn extended_connect(
        request: Request<()>,
        protocol: Option<&str>,
    ) -> Result<Self, Box<Refusal>> {
        if request.method() != http::Method::CONNECT {
            return Err(Refusal::not_extended_connect());
        }
        match protocol {
            None => return Err(Refusal::not_extended_connect()),
            Some(protocol) if !protocol.eq_ignore_ascii_case("websocket") => {
                return Err(Refusal::plain(
                    Reason::OtherProtocol,
                    StatusCode::NOT_IMPLEMENTED,
                    "unsupported protocol\n",
                ));
            }
            Some(_) => {}
        }
        match ServerHandshake::from_extended_connect(request) {
            Ok(handshake) => Ok(CheckedRequest {
                handshake,
                http2: true,
            }),
            Err(e) => Err(Refusal::invalid(e, true)),
        }
    }

    /// The request as an accept callback sees it; a copy of its head.
    pub(crate) fn upgrade_request(&self) -> UpgradeRequest {
        UpgradeRequest::new(
            self.handshake.request().clone(),
            self.handshake.protocols().to_vec(),
        )
    }

    /// Refuses with 403 unless `server` allows the request's origin
    /// (R-SH-06).
    pub(crate) fn check_origin(&self, server: &ServerBuilder) -> Result<(), Box<Refusal>> {
        if server.origin_allowed(self.handshake.request().headers().get(ORIGIN)) {
            return Ok(());
        }
        tracing::debug!("refusing a request from an origin not allowed");
        Err(Box::new(Refusal {
            reason: Reason::OriginNotAllowed,
            response: forbidden(self.http2),
        }))
    }

    /// Accepts the request with `accept`: the response head to send (101
    /// with `Sec-WebSocket-Accept`, or 200 over HTTP/2; H2-07, H2-09) with
    /// the subprotocol, the permessage-deflate `server` allows and
    /// `accept`'s extra headers, and what the socket then runs with.
    ///
    /// Refuses when `accept` names a subprotocol the client did not offer
    /// (R-SH-08).
    pub(crate) fn agree(
        &self,
        server: &ServerBuilder,
        accept: Accept,
    ) -> Result<(Response<()>, Agreement), Box<Refusal>> {
        let mut response = self
            .handshake
            .response(accept.protocol.as_deref())
            .map_err(|e| Refusal::invalid(e, self.http2))?;
        let headers = response.headers_mut();
        for (name, value) in &accept.headers {
            headers.append(name, value.clone());
        }
        let deflate = match (&server.config.proto.deflate, accept.deflate) {
            (Some(ours), true) => ours.negotiate(self.handshake.extensions()),
            _ => None,
        };
        if let Some(agreed) = &deflate
            && let Ok(value) = HeaderValue::from_str(&agreed.response())
        {
            headers.insert(SEC_WEBSOCKET_EXTENSIONS, value);
        }
        let agreement = Agreement {
            config: server.connection_config(),
            protocol: accept.protocol,
            deflate,
        };
        Ok((response, agreement))
    }
}

/// What a negotiation settled, for the socket opened once the accepting
/// response is sent.
#[derive(Debug)]
pub(crate) struct Agreement {
    /// The settings, shared with the builder's other connections.
    config: (Arc<sockeye_proto::Config>, Arc<WebSocketConfig>),
    protocol: Option<String>,
    deflate: Option<PerMessageDeflate>,
}

impl Agreement {
    /// The subprotocol agreed, if any.
    #[cfg(feature = "hyper")]
    pub(crate) fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters agreed, if any.
    #[cfg(feature = "hyper")]
    pub(crate) fn deflate(&self) -> Option<&PerMessageDeflate> {
        self.deflate.as_ref()
    }

    /// The server's socket over `io`, with `leftover`: bytes the client
    /// sent after its request, already read.
    pub(crate) fn open<S>(self, io: S, leftover: BytesMut) -> WebSocket<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        WebSocket::from_parts(io, Role::Server, self.config, leftover)
            .with_protocol(self.protocol)
            .with_deflate(self.deflate)
    }
}

/// A request that is not accepted, with the answer that tells the client
/// why.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) reason: Reason,
    pub(crate) response: Response<Bytes>,
}

/// Why a request is not accepted.
#[derive(Debug)]
pub(crate) enum Reason {
    /// The request broke RFC 6455 §4.2.1, or the answer named a
    /// subprotocol the client did not offer (R-SH-08).
    Invalid(HandshakeError),
    /// An HTTP/2 request other than an extended CONNECT.
    #[cfg(any(feature = "http2", feature = "hyper"))]
    NotExtendedConnect,
    /// An extended CONNECT for a protocol other than `websocket`.
    #[cfg(any(feature = "http2", feature = "hyper"))]
    OtherProtocol,
    /// hyper left no upgrade in the request.
    #[cfg(feature = "hyper")]
    NotUpgradable,
    /// The `Origin` is not on the allow-list.
    OriginNotAllowed,
}

impl Refusal {
    /// A request that broke RFC 6455, answered as
    /// [`HandshakeError::to_response`] says; over HTTP/2 without the
    /// HTTP/1.1 connection fields, and 400 for 426.
    pub(crate) fn invalid(error: HandshakeError, http2: bool) -> Box<Self> {
        tracing::debug!(%error, status = %error.status(), "refusing a bad websocket request");
        let response = if http2 {
            refusal_over_http2(&error)
        } else {
            error.to_response()
        };
        Box::new(Refusal {
            reason: Reason::Invalid(error),
            response,
        })
    }

    /// A refusal answered with `status` and a short text.
    #[cfg(any(feature = "http2", feature = "hyper"))]
    pub(crate) fn plain(reason: Reason, status: StatusCode, text: &'static str) -> Box<Self> {
        let response = Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Bytes::from_static(text.as_bytes()))
            .unwrap_or_default();
        Box::new(Refusal { reason, response })
    }

    /// An HTTP/2 request other than an extended CONNECT.
    #[cfg(any(feature = "http2", feature = "hyper"))]
    fn not_extended_connect() -> Box<Self> {
        Refusal::plain(
            Reason::NotExtendedConnect,
            StatusCode::BAD_REQUEST,
            "websocket over http/2 takes an extended connect (rfc 8441)\n",
        )
    }

    /// The error an entry point that answers itself returns once the
    /// refusal is sent.
    pub(crate) fn into_error(self) -> Error {
        let status = self.response.status();
        if let Reason::Invalid(e) = self.reason {
            return e.into();
        }
        Error::Handshake(Box::new(HandshakeFailure::Refused(status)))
    }
}

/// The 403 for a request from an origin not allowed (R-SH-06); over
/// HTTP/1.1 the connection then closes.
fn forbidden(http2: bool) -> Response<Bytes> {
    let mut response = Response::builder()
        .status(StatusCode::FORBIDDEN)
        .body(Bytes::from_static(b"origin not allowed\n"))
        .unwrap_or_default();
    if !http2 {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Removes the fields HTTP/2 does not have (RFC 9113 §8.2.2), which an
/// answer written for HTTP/1.1 may carry; h2 refuses a response with one.
pub(crate) fn strip_http1_fields(headers: &mut http::HeaderMap) {
    for name in [
        CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        http::header::HeaderName::from_static("keep-alive"),
        http::header::HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

/// The answer to a bad WebSocket request over HTTP/2: without the HTTP/1.1
/// connection fields, and 400 for 426, which would have to name the
/// protocol in `Upgrade`, a field HTTP/2 does not have;
/// `Sec-WebSocket-Version: 13` stays (R-SH-05).
fn refusal_over_http2(error: &HandshakeError) -> Response<Bytes> {
    let mut response = error.to_response();
    strip_http1_fields(response.headers_mut());
    if response.status() == StatusCode::UPGRADE_REQUIRED {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}
