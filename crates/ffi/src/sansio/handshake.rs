//! The opening handshake (RFC 6455 §4) on a handle: a server reads the
//! request and answers it by itself, a client sends its request and judges
//! the answer. Input is bounded by `max_handshake_size`: a head that does
//! not end within it is refused (431 from a server).

use std::ffi::CString;

use bytes::BytesMut;
use http::header::{HOST, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_PROTOCOL};
use http::{HeaderValue, Request};
use sockeye_proto::deflate::EXTENSION_NAME;
use sockeye_proto::handshake::{
    Accepted, ClientHandshake, HandshakeError, ServerHandshake, write_response,
};
use sockeye_proto::{Connection, PerMessageDeflate};

use super::conn::{Pending, Phase, RequestInfo, c_string, sockeye_conn};
use crate::result::sockeye_result;

/// Why a held request is refused when the client sends too much before
/// its answer.
const HELD_TOO_MUCH: &str = "too much data before the handshake was answered";

/// The client's request for `path` on `host`, offering `subprotocols` and
/// permessage-deflate when `conn`'s config turns it on. `Err` says what is
/// wrong with the host or path.
pub(super) fn client_request(
    conn: &sockeye_conn,
    host: &str,
    path: &str,
) -> Result<ClientHandshake, String> {
    let host = HeaderValue::from_str(host).map_err(|_| format!("invalid host {host:?}"))?;
    let mut request = Request::get(path);
    request = request.header(HOST, host);
    if !conn.subprotocols.is_empty() {
        request = request.header(SEC_WEBSOCKET_PROTOCOL, conn.subprotocols.join(", "));
    }
    if let Some(deflate) = &conn.proto.deflate {
        request = request.header(SEC_WEBSOCKET_EXTENSIONS, deflate.offer());
    }
    let request = request
        .body(())
        .map_err(|_| format!("invalid path {path:?}: it must look like /chat?room=1"))?;
    ClientHandshake::new(request).map_err(|e| format!("invalid request: {e}"))
}

impl sockeye_conn {
    /// Takes handshake bytes; once the head is whole, finishes the
    /// handshake and hands what follows it to the engine.
    pub(super) fn handshake_input(&mut self, data: &[u8]) {
        let limit = self.proto.max_handshake_size;
        let (buf, is_server) = match &mut self.phase {
            Phase::ServerHandshake(buf) => (buf, true),
            Phase::ClientHandshake(_, buf) => (buf, false),
            _ => return,
        };
        // A head that has not ended within `limit` bytes is refused by the
        // parser, so never more than `limit` bytes are kept here.
        let take = data.len().min(limit.saturating_sub(buf.len()));
        buf.extend_from_slice(&data[..take]);
        let head = std::mem::take(buf);
        let rest = &data[take..];
        if is_server {
            self.server_input(head, rest);
        } else {
            self.client_input(head, rest);
        }
    }

    /// The peer's stream ended during the handshake.
    pub(super) fn handshake_eof(&mut self) {
        if matches!(
            self.phase,
            Phase::ServerHandshake(_) | Phase::ClientHandshake(..) | Phase::ServerRequest(..)
        ) {
            self.phase = Phase::Refused;
            self.pending = Some(Pending::Error(
                sockeye_result::SOCKEYE_ERR_HANDSHAKE,
                "the peer closed the connection during the opening handshake".to_owned(),
            ));
        }
    }

    /// A server's handshake input, `head` being all that was buffered.
    fn server_input(&mut self, mut head: BytesMut, rest: &[u8]) {
        match ServerHandshake::parse(&head, &self.proto) {
            Ok(None) => self.phase = Phase::ServerHandshake(head),
            Err(error) => self.refuse(&error),
            Ok(Some((handshake, used))) => {
                let mut leftover = head.split_off(used);
                self.record_request(&handshake);
                if self.hold_request {
                    leftover.extend_from_slice(rest);
                    self.phase = Phase::ServerRequest(Box::new(handshake), leftover);
                    self.pending = Some(Pending::Request);
                    if self.held_len() > self.proto.max_handshake_size {
                        self.refuse(&HandshakeError::MalformedHead(HELD_TOO_MUCH));
                    }
                } else {
                    let protocol = self.pick_protocol(&handshake);
                    self.accept(&handshake, protocol.as_deref(), &leftover, rest);
                }
            }
        }
    }

    /// Bytes that arrive while a request is held, kept for the connection
    /// once accepted; more than `max_handshake_size` of them refuse it.
    pub(super) fn held_input(&mut self, data: &[u8]) {
        let limit = self.proto.max_handshake_size;
        if let Phase::ServerRequest(_, held) = &mut self.phase {
            if held.len() + data.len() > limit {
                self.refuse(&HandshakeError::MalformedHead(HELD_TOO_MUCH));
            } else {
                held.extend_from_slice(data);
            }
        }
    }

    /// How many bytes wait behind a held request.
    fn held_len(&self) -> usize {
        match &self.phase {
            Phase::ServerRequest(_, held) => held.len(),
            _ => 0,
        }
    }

    /// Our first preference among the subprotocols offered (R-SH-08).
    pub(super) fn pick_protocol(&self, handshake: &ServerHandshake) -> Option<String> {
        self.subprotocols
            .iter()
            .find(|ours| handshake.protocols().contains(ours))
            .cloned()
    }

    /// Keeps the request's path and headers for the getters.
    fn record_request(&mut self, handshake: &ServerHandshake) {
        let request = handshake.request();
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| {
                let value = CString::new(value.as_bytes()).unwrap_or_default();
                (name.as_str().to_owned(), value)
            })
            .collect();
        self.request = Some(Box::new(RequestInfo {
            path: c_string(path),
            headers,
        }));
    }

    /// Answers a request that broke the rules with its HTTP error (400,
    /// 426, 431 or 505), then the server closes (R-SH-15).
    pub(super) fn refuse(&mut self, error: &HandshakeError) {
        write_response(&error.to_response(), &mut self.pre);
        self.phase = Phase::Refused;
        self.pending = Some(Pending::Error(
            sockeye_result::SOCKEYE_ERR_HANDSHAKE,
            format!("refused the opening handshake: {error}"),
        ));
    }

    /// Answers a valid request with 101, `protocol` and the
    /// permessage-deflate agreed, and opens the connection.
    pub(super) fn accept(
        &mut self,
        handshake: &ServerHandshake,
        protocol: Option<&str>,
        leftover: &[u8],
        rest: &[u8],
    ) {
        let mut response = match handshake.response(protocol) {
            Ok(response) => response,
            Err(error) => return self.refuse(&error),
        };
        let deflate = self
            .proto
            .deflate
            .as_ref()
            .and_then(|ours| ours.negotiate(handshake.extensions()));
        if let Some(agreed) = &deflate
            && let Ok(value) = HeaderValue::from_str(&agreed.response())
        {
            response
                .headers_mut()
                .insert(SEC_WEBSOCKET_EXTENSIONS, value);
        }
        write_response(&response, &mut self.pre);
        self.open(protocol, deflate, leftover, rest);
    }

    /// A client's handshake input, `head` being all that was buffered.
    fn client_input(&mut self, mut head: BytesMut, rest: &[u8]) {
        let Phase::ClientHandshake(handshake, _) =
            std::mem::replace(&mut self.phase, Phase::Refused)
        else {
            return;
        };
        match ClientHandshake::parse_response(&head, &self.proto) {
            Ok(None) => self.phase = Phase::ClientHandshake(handshake, head),
            Err(error) => {
                self.handshake_failed(&format!("invalid answer from the server: {error}"));
            }
            Ok(Some((response, used))) => {
                let agreed = handshake
                    .check_response(&response)
                    .and_then(|accepted| self.agree_deflate(&accepted).map(|d| (accepted, d)));
                match agreed {
                    Ok((accepted, deflate)) => {
                        let leftover = head.split_off(used);
                        self.open(accepted.protocol.as_deref(), deflate, &leftover, rest);
                    }
                    Err(HandshakeError::UnexpectedStatus(status)) => {
                        self.handshake_failed(&format!("the server answered {status}"));
                    }
                    Err(error) => self.handshake_failed(&format!("the server's answer: {error}")),
                }
            }
        }
    }

    /// The permessage-deflate the server's answer agreed to, if any
    /// (RFC 7692 §5, PMD-03: one permessage-deflate and nothing else).
    fn agree_deflate(
        &self,
        accepted: &Accepted,
    ) -> Result<Option<PerMessageDeflate>, HandshakeError> {
        match (accepted.extensions.as_slice(), &self.proto.deflate) {
            ([], _) => Ok(None),
            ([only], Some(ours)) if only.name.eq_ignore_ascii_case(EXTENSION_NAME) => {
                ours.accept_response(only).map(Some)
            }
            _ => Err(HandshakeError::InvalidExtensionResponse),
        }
    }

    /// A client's handshake failed: no Close frame, nothing to write.
    fn handshake_failed(&mut self, message: &str) {
        self.phase = Phase::Refused;
        self.pending = Some(Pending::Error(
            sockeye_result::SOCKEYE_ERR_HANDSHAKE,
            message.to_owned(),
        ));
    }

    /// Opens the connection; the bytes after the head are frames already
    /// (R-CV-09).
    fn open(
        &mut self,
        protocol: Option<&str>,
        deflate: Option<PerMessageDeflate>,
        leftover: &[u8],
        rest: &[u8],
    ) {
        let role = self.role;
        let mut engine = Connection::new(role, std::sync::Arc::clone(&self.proto));
        if let Some(agreed) = deflate {
            engine.set_deflate(agreed);
        }
        engine.receive(leftover);
        engine.receive(rest);
        self.protocol = c_string(protocol.unwrap_or(""));
        self.phase = Phase::Open(Box::new(engine));
        self.pending = Some(Pending::Open);
        self.clock.messaged = true;
    }
}
