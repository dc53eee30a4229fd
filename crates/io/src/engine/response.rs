//! The answers the engine writes: its body type, the plain answers of the
//! polling transport, and the Engine.IO error answers with Node's codes.

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

/// The body of every answer of an [`Engine`](super::Engine): the whole
/// body at once (polling payloads are complete when answered).
pub type EngineBody = Full<Bytes>;

/// An Engine.IO error, as Node's engine.io numbers and words them
/// (`Server.errors` and `Server.errorMessages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    /// 0: the `transport` is missing, unknown or not allowed.
    UnknownTransport,
    /// 1: no open session has this `sid`.
    UnknownSid,
    /// 2: a handshake that is not a GET.
    BadHandshakeMethod,
    /// 3: anything else wrong with the request.
    BadRequest,
    /// 4: refused by `allow_request`.
    Forbidden,
    /// 5: an `EIO` other than 4.
    UnsupportedProtocolVersion,
}

impl ErrorCode {
    /// The number in the JSON body.
    pub(crate) fn code(self) -> u8 {
        match self {
            ErrorCode::UnknownTransport => 0,
            ErrorCode::UnknownSid => 1,
            ErrorCode::BadHandshakeMethod => 2,
            ErrorCode::BadRequest => 3,
            ErrorCode::Forbidden => 4,
            ErrorCode::UnsupportedProtocolVersion => 5,
        }
    }

    /// Node's message for the code.
    pub(crate) fn message(self) -> &'static str {
        match self {
            ErrorCode::UnknownTransport => "Transport unknown",
            ErrorCode::UnknownSid => "Session ID unknown",
            ErrorCode::BadHandshakeMethod => "Bad handshake method",
            ErrorCode::BadRequest => "Bad request",
            ErrorCode::Forbidden => "Forbidden",
            ErrorCode::UnsupportedProtocolVersion => "Unsupported protocol version",
        }
    }

    /// The 400 answer with `{"code":N,"message":"..."}`.
    pub(crate) fn response(self) -> Response<EngineBody> {
        error_response(StatusCode::BAD_REQUEST, self.code(), self.message())
    }
}

/// An answer with status `status` and the JSON `{"code":..,"message":..}`.
pub(crate) fn error_response(status: StatusCode, code: u8, message: &str) -> Response<EngineBody> {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    with_body(status, "application/json", Bytes::from(body))
}

/// An answer with a body of type `content_type`.
pub(crate) fn with_body(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
) -> Response<EngineBody> {
    let length = body.len();
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    response
}

/// An empty answer.
pub(crate) fn empty(status: StatusCode) -> Response<EngineBody> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// Bad requests: 400 and Node's JSON, code and message.
    #[tokio::test]
    async fn error_answers_use_node_codes() {
        let response = ErrorCode::UnsupportedProtocolVersion.response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            &body[..],
            br#"{"code":5,"message":"Unsupported protocol version"}"#
        );
    }
}
