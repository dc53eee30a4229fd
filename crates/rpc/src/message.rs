//! [`Message`]: a request, a notification or a response (sections 4 and
//! 5), and how each is written.

use serde::Serialize;
use serde_json::value::RawValue;

use crate::error::ErrorObject;
use crate::id::Id;

/// A call that wants an answer.
#[derive(Clone, Debug)]
pub struct Request {
    /// Echoed by its response.
    pub id: Id,
    /// The method's name.
    pub method: String,
    /// Its parameters, an array (by position) or an object (by name), as
    /// JSON text; `None` when absent.
    pub params: Option<Box<RawValue>>,
}

/// A call that wants no answer (a request without `id`).
#[derive(Clone, Debug)]
pub struct Notification {
    /// The method's name.
    pub method: String,
    /// Its parameters, as [`Request::params`].
    pub params: Option<Box<RawValue>>,
}

/// The answer to a request: its result, or an error.
#[derive(Clone, Debug)]
pub struct Response {
    /// The request's id; null when it could not be read.
    pub id: Id,
    /// The result (JSON text) or the error.
    pub outcome: Result<Box<RawValue>, ErrorObject>,
}

/// One message of JSON-RPC 2.0.
#[derive(Clone, Debug)]
pub enum Message {
    /// A call that wants an answer.
    Request(Request),
    /// A call that wants none.
    Notification(Notification),
    /// An answer.
    Response(Response),
}

/// How a message is written: `jsonrpc` first, then the rest in the
/// specification's order.
#[derive(Serialize)]
struct Wire<'a> {
    jsonrpc: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    params: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ErrorObject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a Id>,
}

impl Message {
    fn wire(&self) -> Wire<'_> {
        let mut wire = Wire {
            jsonrpc: "2.0",
            method: None,
            params: None,
            result: None,
            error: None,
            id: None,
        };
        match self {
            Message::Request(r) => {
                wire.method = Some(&r.method);
                wire.params = r.params.as_deref();
                wire.id = Some(&r.id);
            }
            Message::Notification(n) => {
                wire.method = Some(&n.method);
                wire.params = n.params.as_deref();
            }
            Message::Response(r) => {
                match &r.outcome {
                    Ok(result) => wire.result = Some(result),
                    Err(error) => wire.error = Some(error),
                }
                wire.id = Some(&r.id);
            }
        }
        wire
    }

    /// The message as JSON text.
    pub fn to_json(&self) -> String {
        // Strings, ids and JSON text already checked: writing cannot fail.
        serde_json::to_string(&self.wire()).unwrap_or_default()
    }
}

impl Serialize for Message {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.wire().serialize(serializer)
    }
}

impl Response {
    /// An error response to the request with `id`.
    pub fn error(id: Id, error: ErrorObject) -> Response {
        Response {
            id,
            outcome: Err(error),
        }
    }
}
