//! Reading a text message: one message or a batch, each member a valid
//! message or an invalid one whose id could (or could not) be read
//! (sections 4, 5 and 6).

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::ErrorObject;
use crate::id::Id;
use crate::message::{Message, Notification, Request, Response};

/// A member of what arrived: a message, or something that is not one.
#[derive(Clone, Debug)]
pub enum Parsed {
    /// A valid message.
    Message(Message),
    /// Not a valid request or response; `id` is the id it carried when
    /// that could be read (else null), for the Invalid Request answer.
    Invalid {
        /// The id to answer with.
        id: Id,
    },
}

/// What a text message held.
#[derive(Clone, Debug)]
pub enum Incoming {
    /// One message (or one invalid value).
    One(Parsed),
    /// A batch: an array of at least one value, each read on its own.
    Batch(Vec<Parsed>),
}

/// The members of an object this crate reads, each kept as it came;
/// present-but-null is told apart from absent.
#[derive(Deserialize)]
struct Members<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    jsonrpc: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// A message's `id` member.
#[derive(Clone, Debug)]
enum IdMember {
    /// None: a notification (or an invalid response).
    Absent,
    /// One that is not a string, a number or null.
    Invalid,
    /// A valid id.
    Valid(Id),
}

impl IdMember {
    fn read(raw: Option<&RawValue>) -> IdMember {
        match raw.map(Id::from_raw) {
            None => IdMember::Absent,
            Some(None) => IdMember::Invalid,
            Some(Some(id)) => IdMember::Valid(id),
        }
    }

    /// The id an Invalid Request answer carries: this one when valid,
    /// else null.
    fn echoed(&self) -> Id {
        match self {
            IdMember::Valid(id) => id.clone(),
            _ => Id::Null,
        }
    }
}

/// A member that is there, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Reads a text message.
///
/// # Errors
///
/// -32700 (Parse error) when the text is not JSON; -32600 (Invalid
/// Request) for an empty batch. Either is answered once, with a null id.
pub fn parse(text: &str) -> Result<Incoming, ErrorObject> {
    let raw: &RawValue = serde_json::from_str(text).map_err(|_| ErrorObject::parse_error())?;
    let body = raw.get().trim_start();
    if body.starts_with('[') {
        let members: Vec<&RawValue> =
            serde_json::from_str(body).map_err(|_| ErrorObject::parse_error())?;
        if members.is_empty() {
            return Err(ErrorObject::invalid_request());
        }
        return Ok(Incoming::Batch(members.into_iter().map(member).collect()));
    }
    Ok(Incoming::One(member(raw)))
}

/// One value: a message, or an invalid one.
fn member(raw: &RawValue) -> Parsed {
    let Ok(members) = serde_json::from_str::<Members<'_>>(raw.get()) else {
        // Not an object (or one with a member given twice).
        return Parsed::Invalid { id: Id::Null };
    };
    let id = IdMember::read(members.id);
    let echoed = id.echoed();
    let invalid = move || Parsed::Invalid { id: echoed };
    let version: Option<String> = members
        .jsonrpc
        .and_then(|v| serde_json::from_str(v.get()).ok());
    if version.as_deref() != Some("2.0") {
        return invalid();
    }
    if let Some(method) = members.method {
        return call(method, members.params, id).unwrap_or_else(invalid);
    }
    response(members.result, members.error, id).unwrap_or_else(invalid)
}

/// A request or notification, if its members are valid.
fn call(method: &RawValue, params: Option<&RawValue>, id: IdMember) -> Option<Parsed> {
    let method: String = serde_json::from_str(method.get()).ok()?;
    let params = match params {
        None => None,
        Some(p) if p.get().starts_with(['[', '{']) => Some(p.to_owned()),
        Some(_) => return None,
    };
    Some(Parsed::Message(match id {
        IdMember::Absent => Message::Notification(Notification { method, params }),
        IdMember::Invalid => return None,
        IdMember::Valid(id) => Message::Request(Request { id, method, params }),
    }))
}

/// A response, if it has an id and exactly one of a result and a valid
/// error.
fn response(result: Option<&RawValue>, error: Option<&RawValue>, id: IdMember) -> Option<Parsed> {
    let IdMember::Valid(id) = id else {
        return None;
    };
    let outcome = match (result, error) {
        (Some(result), None) => Ok(result.to_owned()),
        (None, Some(error)) => Err(serde_json::from_str::<ErrorObject>(error.get()).ok()?),
        _ => return None,
    };
    Some(Parsed::Message(Message::Response(Response { id, outcome })))
}
