//! Handshake failures, each with the HTTP answer a server gives for it.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, SEC_WEBSOCKET_VERSION, UPGRADE};
use http::{HeaderName, HeaderValue, Response, StatusCode};

/// Why an opening handshake (RFC 6455 §4) failed.
///
/// One type serves both sides. A server that fails to parse or validate a
/// request answers with [`to_response`](HandshakeError::to_response) (400, 426,
/// 431 or 505, RFC 6455 §4.2.1, R-SH-01) and closes the connection. A client
/// that gets one from [`ClientHandshake::check_response`] fails the
/// connection without sending a Close frame (RFC 6455 §4.1).
///
/// A few variants report misuse by our own caller rather than by the peer:
/// [`ConflictingHeader`](HandshakeError::ConflictingHeader) from
/// [`ClientHandshake::new`] and
/// [`ProtocolNotOffered`](HandshakeError::ProtocolNotOffered) from
/// [`ServerHandshake::response`]. Their documentation says so.
///
/// `Display` never repeats header values or other text the peer sent (a
/// status code at most), so it is safe to send back in a rejection body.
///
/// [`ClientHandshake::check_response`]: super::ClientHandshake::check_response
/// [`ClientHandshake::new`]: super::ClientHandshake::new
/// [`ServerHandshake::response`]: super::ServerHandshake::response
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head (start line and header fields) is longer than
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size).
    /// Server answer: 431.
    #[error("handshake head is over the limit of {limit} bytes (Config::max_handshake_size)")]
    HeadTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The head has more header fields than
    /// [`Config::max_headers`](crate::Config::max_headers). Server answer: 431.
    #[error("handshake head has more than {limit} header fields (Config::max_headers)")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
    },
    /// The head is not valid HTTP/1.x: a bad start line, header name or
    /// value, or line ending (R-SH-01). Server answer: 400.
    #[error("malformed http head: {0}")]
    MalformedHead(&'static str),
    /// The start line names an HTTP version other than 1.0 or 1.1, such as
    /// `HTTP/2.0`. Server answer: 505.
    #[error("http version not supported")]
    HttpVersionNotSupported,
    /// The message is HTTP/1.0, which cannot switch protocols; RFC 6455
    /// §4.1 requires HTTP/1.1 (R-SH-02, R-CH-04). Server answer: 400.
    #[error("websocket requires http/1.1")]
    OldHttpVersion,
    /// The request method is not `GET` (R-SH-02, R-CH-04). Server answer: 400
    /// (the checklist's `Reject(400)`, rather than 405).
    #[error("request method is not GET")]
    MethodNotGet,
    /// The request target is neither origin-form (`/path?query`) nor, on a
    /// server, an absolute `http` or `https` URI (RFC 6455 §4.1, R-CH-05).
    /// Server answer: 400.
    #[error("invalid request target")]
    InvalidRequestTarget,
    /// The request has no `Host` header field (R-SH-03, R-CH-06).
    /// Server answer: 400.
    #[error("missing host header")]
    MissingHost,
    /// A header field that may appear only once appears several times:
    /// `Host`, `Sec-WebSocket-Key` or `Sec-WebSocket-Version` in a request
    /// (R-SH-13, R-CH-14), `Sec-WebSocket-Accept` or `Sec-WebSocket-Protocol`
    /// in a response (R-CV-07). Server answer: 400.
    #[error("duplicate {0} header")]
    DuplicateHeader(HeaderName),
    /// The `Upgrade` header field is missing or does not list `websocket`
    /// (R-SH-03, R-CV-02). Server answer: 426 with `Upgrade: websocket`.
    #[error("upgrade header does not name websocket")]
    MissingUpgrade,
    /// The `Connection` header field is missing or lacks the `Upgrade` token
    /// (R-SH-03, R-CV-03). Server answer: 400.
    #[error("connection header lacks the upgrade token")]
    MissingConnectionUpgrade,
    /// The request has no `Sec-WebSocket-Key` header field (R-SH-04).
    /// Server answer: 400.
    #[error("missing sec-websocket-key header")]
    MissingKey,
    /// `Sec-WebSocket-Key` is not the base64 encoding of 16 bytes (R-SH-04).
    /// Server answer: 400.
    #[error("sec-websocket-key is not base64 of 16 bytes")]
    InvalidKey,
    /// The request has no `Sec-WebSocket-Version` header field (R-SH-05).
    /// Server answer: 426 with `Sec-WebSocket-Version: 13`.
    #[error("missing sec-websocket-version header")]
    MissingVersion,
    /// `Sec-WebSocket-Version` is not 13 (R-SH-05, RFC 6455 §4.4).
    /// Server answer: 426 with `Sec-WebSocket-Version: 13`.
    #[error("unsupported websocket version (only 13 is supported)")]
    UnsupportedVersion,
    /// `Sec-WebSocket-Protocol` is not a list of unique tokens in a request
    /// (R-HV-01, R-CH-11), or not a single token in a response. Server
    /// answer: 400.
    #[error("malformed sec-websocket-protocol header")]
    InvalidProtocolHeader,
    /// `Sec-WebSocket-Extensions` does not follow the grammar of RFC 6455
    /// §9.1 (R-HV-02, R-HV-03). Server answer: 400.
    #[error("malformed sec-websocket-extensions header")]
    InvalidExtensionHeader,
    /// A subprotocol was chosen that the client did not offer. From
    /// [`ServerHandshake::response`](super::ServerHandshake::response) this
    /// is our caller's mistake (R-SH-08); from
    /// [`ClientHandshake::check_response`](super::ClientHandshake::check_response)
    /// it is the server's (R-CV-06). Server answer: 500.
    #[error("subprotocol was not offered by the client")]
    ProtocolNotOffered,
    /// The server accepted an extension the client did not offer (R-CV-05).
    /// Client side only.
    #[error("server accepted an extension that was not offered")]
    ExtensionNotOffered,
    /// The server accepted an offered extension with parameters the client
    /// cannot use: unknown, repeated or out of range, or not what it asked
    /// for (RFC 7692 §7, PMD-03, PMD-11). Client side only.
    #[error("server accepted an extension with parameters that were not offered")]
    InvalidExtensionResponse,
    /// The request given to
    /// [`ClientHandshake::new`](super::ClientHandshake::new) carries a header
    /// field that the handshake sets itself and that contradicts it: a
    /// `Sec-WebSocket-Key` or `Sec-WebSocket-Accept`, a version other than 13,
    /// an `Upgrade` other than `websocket` or a `Connection` without
    /// `Upgrade`. Our caller's mistake. Server answer: 500.
    #[error("conflicting {0} header in the request")]
    ConflictingHeader(HeaderName),
    /// The response status is not 101 Switching Protocols (R-CV-01). The
    /// caller still holds the response and may read its headers and body.
    /// Client side only.
    #[error("unexpected status {0} (expected 101)")]
    UnexpectedStatus(StatusCode),
    /// The 101 response has no `Sec-WebSocket-Accept` header field (R-CV-04).
    /// Client side only.
    #[error("missing sec-websocket-accept header")]
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key the client sent
    /// (R-CV-04). Client side only.
    #[error("sec-websocket-accept does not match the key")]
    AcceptMismatch,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with.
    ///
    /// 431 for broken size limits, 426 for a missing or unsupported
    /// WebSocket version or upgrade token (RFC 6455 §4.4), 505 for an HTTP
    /// version other than 1.x, 500 for our caller's own mistakes, and 400 for
    /// everything else (RFC 6455 §4.2.1). Errors only a client reports map to
    /// 400 as well; they never come out of
    /// [`ServerHandshake::parse`](super::ServerHandshake::parse).
    ///
    /// # Examples
    ///
    /// ```
    /// use http::StatusCode;
    /// use sockeye_proto::handshake::HandshakeError;
    ///
    /// assert_eq!(HandshakeError::UnsupportedVersion.status(), StatusCode::UPGRADE_REQUIRED);
    /// assert_eq!(HandshakeError::InvalidKey.status(), StatusCode::BAD_REQUEST);
    /// ```
    pub fn status(&self) -> StatusCode {
        match self {
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            HandshakeError::HttpVersionNotSupported => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            HandshakeError::MissingUpgrade
            | HandshakeError::MissingVersion
            | HandshakeError::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            HandshakeError::ProtocolNotOffered | HandshakeError::ConflictingHeader(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            HandshakeError::MalformedHead(_)
            | HandshakeError::OldHttpVersion
            | HandshakeError::MethodNotGet
            | HandshakeError::InvalidRequestTarget
            | HandshakeError::MissingHost
            | HandshakeError::DuplicateHeader(_)
            | HandshakeError::MissingConnectionUpgrade
            | HandshakeError::MissingKey
            | HandshakeError::InvalidKey
            | HandshakeError::InvalidProtocolHeader
            | HandshakeError::InvalidExtensionHeader
            | HandshakeError::ExtensionNotOffered
            | HandshakeError::InvalidExtensionResponse
            | HandshakeError::UnexpectedStatus(_)
            | HandshakeError::MissingAccept
            | HandshakeError::AcceptMismatch => StatusCode::BAD_REQUEST,
        }
    }

    /// The rejection a server sends for this error.
    ///
    /// The response has [`status`](HandshakeError::status), a short
    /// `text/plain` body (this error's `Display`, or the status's reason
    /// phrase for a 5xx so that nothing internal leaks), `Content-Length`
    /// and `Connection: close`: the server closes the connection after
    /// writing it (R-SH-15). A 426 also carries `Upgrade: websocket` (RFC
    /// 9110 §15.5.22) and `Sec-WebSocket-Version: 13`, the versions this
    /// server speaks (RFC 6455 §4.4, R-SH-05).
    ///
    /// Allocates the body. Write it with [`write_response`](super::write_response).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_proto::handshake::HandshakeError;
    ///
    /// let response = HandshakeError::UnsupportedVersion.to_response();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// assert_eq!(response.headers()["connection"], "close");
    /// ```
    pub fn to_response(&self) -> Response<Bytes> {
        let status = self.status();
        let text = if status.is_server_error() {
            format!("{}\n", status.canonical_reason().unwrap_or("server error"))
        } else {
            format!("{self}\n")
        };
        let length = HeaderValue::from(text.len());
        let mut response = Response::new(Bytes::from(text));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CONTENT_LENGTH, length);
        if status == StatusCode::UPGRADE_REQUIRED {
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            // R-SH-05: list every version we speak.
            headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_do_not_leak_details() {
        let response = HandshakeError::ProtocolNotOffered.to_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(&response.body()[..], b"Internal Server Error\n");
    }

    #[test]
    fn body_length_matches_content_length() {
        let response = HandshakeError::InvalidKey.to_response();
        let len: usize = response.headers()[CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, response.body().len());
        assert!(response.headers().get(UPGRADE).is_none());
    }

    #[test]
    fn display_is_lowercase_without_final_period() {
        for e in [
            HandshakeError::HeadTooLarge { limit: 1 },
            HandshakeError::MissingHost,
            HandshakeError::DuplicateHeader(http::header::SEC_WEBSOCKET_KEY),
            HandshakeError::UnexpectedStatus(StatusCode::NOT_FOUND),
        ] {
            let text = e.to_string();
            assert!(!text.ends_with('.'), "{text}");
            assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
        }
    }
}
