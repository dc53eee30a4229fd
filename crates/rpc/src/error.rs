//! [`ErrorObject`]: the `error` member of a response, and the codes the
//! specification reserves (section 5.1).

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Invalid JSON was received (the whole message could not be parsed).
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal JSON-RPC error.
pub const INTERNAL_ERROR: i64 = -32603;
/// The request was cancelled by its caller (the Language Server
/// Protocol's code): what a request cancelled by
/// [`Config::cancel_notification`](crate::Config::cancel_notification) is
/// answered with.
pub const REQUEST_CANCELLED: i64 = -32800;
/// The lowest of the codes reserved for implementation-defined server
/// errors (`-32099..=-32000`).
pub const SERVER_ERROR_MIN: i64 = -32099;
/// The highest of the codes reserved for implementation-defined server
/// errors.
pub const SERVER_ERROR_MAX: i64 = -32000;

/// An error as a response carries it: a code, a short message, and
/// optionally data about it, kept as the JSON text it came in (or will go
/// out in).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorObject {
    /// What kind of error; `-32768..=-32000` are the specification's.
    pub code: i64,
    /// One sentence saying what went wrong.
    pub message: String,
    /// More about it, as JSON text; absent when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Box<RawValue>>,
}

impl ErrorObject {
    /// An error with `code` and `message` and no data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// -32700, "Parse error".
    pub fn parse_error() -> Self {
        Self::new(PARSE_ERROR, "Parse error")
    }

    /// -32600, "Invalid Request".
    pub fn invalid_request() -> Self {
        Self::new(INVALID_REQUEST, "Invalid Request")
    }

    /// -32601, "Method not found".
    pub fn method_not_found() -> Self {
        Self::new(METHOD_NOT_FOUND, "Method not found")
    }

    /// -32602, "Invalid params".
    pub fn invalid_params() -> Self {
        Self::new(INVALID_PARAMS, "Invalid params")
    }

    /// -32603, "Internal error".
    pub fn internal_error() -> Self {
        Self::new(INTERNAL_ERROR, "Internal error")
    }

    /// The same error carrying `data` (any serializable value).
    ///
    /// # Errors
    ///
    /// The serializer's error when `data` cannot be written as JSON.
    pub fn with_data<T: Serialize>(mut self, data: &T) -> Result<Self, serde_json::Error> {
        self.data = Some(serde_json::value::to_raw_value(data)?);
        Ok(self)
    }

    /// Whether the code is one the specification reserves
    /// (`-32768..=-32000`).
    pub fn is_reserved(&self) -> bool {
        (-32768..=-32000).contains(&self.code)
    }
}

impl PartialEq for ErrorObject {
    /// Equal codes, messages, and data of the same JSON text.
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
            && self.message == other.message
            && self.data.as_ref().map(|d| d.get()) == other.data.as_ref().map(|d| d.get())
    }
}

impl Eq for ErrorObject {}

impl std::fmt::Display for ErrorObject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for ErrorObject {}
