//! The server's negotiation: given a checked request and the
//! [`ServerBuilder`]'s settings, the subprotocol, permessage-deflate, the
//! origin check and the answer; then the open socket.

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use sockeye_proto::handshake::{ExtensionOffer, HandshakeError, ServerHandshake};
use sockeye_proto::{PerMessageDeflate, Role};
use tokio::io::{AsyncRead, AsyncWrite};

use super::builder::ServerBuilder;
use super::request::{Accept, UpgradeRequest, select_protocol};
use crate::stream::WebSocket;

impl ServerBuilder {
    /// The answer [`accept`](Self::accept) gives `request`: the subprotocol
    /// [`protocols`](Self::protocols) picks, nothing else.
    pub(crate) fn default_accept(&self, request: &UpgradeRequest) -> Accept {
        self.accept_offers(request.protocols())
    }

    /// [`default_accept`](Self::default_accept) for the subprotocols a
    /// client offered.
    pub(crate) fn accept_offers(&self, offered: &[String]) -> Accept {
        match select_protocol(offered, &self.protocols) {
            Some(protocol) => Accept::new().protocol(protocol),
            None => Accept::new(),
        }
    }

    /// Completes an accepting `response` with what `accept` adds (extra
    /// headers) and the permessage-deflate agreed for the client's
    /// extension `offers`, if any, which it returns.
    pub(crate) fn complete_response<B>(
        &self,
        response: &mut Response<B>,
        offers: &[ExtensionOffer],
        accept: &Accept,
    ) -> Option<PerMessageDeflate> {
        for (name, value) in &accept.headers {
            response.headers_mut().append(name, value.clone());
        }
        let deflate = match (&self.config.proto.deflate, accept.deflate) {
            (Some(ours), true) => ours.negotiate(offers),
            _ => None,
        };
        if let Some(agreed) = &deflate
            && let Ok(value) = HeaderValue::from_str(&agreed.response())
        {
            response
                .headers_mut()
                .insert(http::header::SEC_WEBSOCKET_EXTENSIONS, value);
        }
        deflate
    }

    /// Accepts a checked handshake without I/O, as `accept` would: the
    /// origin allow-list (403), the subprotocol of
    /// [`protocols`](Self::protocols), and permessage-deflate. For other
    /// transports (HTTP/2) that read requests and write answers themselves.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn agree(
        &self,
        handshake: &ServerHandshake,
    ) -> std::result::Result<Agreed, Box<Response<Bytes>>> {
        if !self.origin_allowed(handshake.request().headers().get(http::header::ORIGIN)) {
            return Err(Box::new(forbidden()));
        }
        let accept = self.accept_offers(handshake.protocols());
        let protocol = accept.protocol.clone();
        let mut response = handshake
            .response(protocol.as_deref())
            .map_err(|e| Box::new(e.to_response()))?;
        let deflate = self.complete_response(&mut response, handshake.extensions(), &accept);
        Ok(Agreed {
            response,
            protocol,
            deflate,
        })
    }

    /// A server-side socket over `stream`, open after `agreed`.
    #[cfg_attr(not(feature = "http2"), allow(dead_code))]
    pub(crate) fn open_socket<S>(
        &self,
        stream: S,
        leftover: BytesMut,
        agreed: Agreed,
    ) -> WebSocket<S>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        WebSocket::from_parts(
            stream,
            Role::Server,
            self.shared.get(&self.config),
            leftover,
        )
        .with_protocol(agreed.protocol)
        .with_deflate(agreed.deflate)
    }
}

/// The 403 for a request from an origin not allowed (R-SH-06).
pub(super) fn forbidden() -> Response<Bytes> {
    Response::builder()
        .status(StatusCode::FORBIDDEN)
        .body(Bytes::from_static(b"origin not allowed\n"))
        .unwrap_or_default()
}

/// Removes the fields HTTP/2 does not have (RFC 9113 §8.2.2), which an
/// answer written for HTTP/1.1 may carry; h2 refuses a response with one.
#[cfg_attr(not(any(feature = "http2", feature = "hyper")), allow(dead_code))]
pub(crate) fn strip_http1_fields(headers: &mut HeaderMap) {
    for name in [
        http::header::CONNECTION,
        http::header::TRANSFER_ENCODING,
        http::header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
}

/// The answer to a bad WebSocket request over HTTP/2: without the HTTP/1.1
/// connection fields, and 400 for 426, which would have to name the
/// protocol in `Upgrade`, a field HTTP/2 does not have;
/// `Sec-WebSocket-Version: 13` stays (R-SH-05).
#[cfg_attr(not(any(feature = "http2", feature = "hyper")), allow(dead_code))]
pub(crate) fn refusal_over_http2(error: &HandshakeError) -> Response<Bytes> {
    let mut response = error.to_response();
    strip_http1_fields(response.headers_mut());
    if response.status() == StatusCode::UPGRADE_REQUIRED {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    response
}

/// What [`ServerBuilder::agree`] settled: the answer to send and what the
/// connection then runs with.
#[cfg_attr(not(feature = "http2"), allow(dead_code))]
pub(crate) struct Agreed {
    pub(crate) response: Response<()>,
    pub(crate) protocol: Option<String>,
    pub(crate) deflate: Option<sockeye_proto::PerMessageDeflate>,
}
