//! Reading a text message: one message or a batch, each member a valid
//! message or an invalid one whose id could (or could not) be read
//! (sections 4, 5 and 6).

use std::borrow::Cow;

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
#[derive(Clone, Copy, Deserialize)]
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
    Ok(match parse_borrowed(text)? {
        Items::One(item) => Incoming::One(item.into_owned()),
        Items::Batch(items) => Incoming::Batch(items.into_iter().map(Item::into_owned).collect()),
    })
}

/// One member of what arrived, borrowing its method name (when it has no
/// escapes), params and result from the text: what a connection reads
/// each message into, with no copy of the params.
#[derive(Debug)]
pub(crate) enum Item<'a> {
    /// A request: answered.
    Request {
        id: Id,
        method: Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// A notification: never answered.
    Notification {
        method: Cow<'a, str>,
        params: Option<&'a RawValue>,
    },
    /// A response to one of this side's requests.
    Response {
        id: Id,
        outcome: Result<&'a RawValue, ErrorObject>,
    },
    /// Meant as a response (it has `result` or `error`) but not a valid
    /// one: a connection does not answer it (the peer's answer to an
    /// answer could be taken for one of the peer's own calls); as a
    /// [`Parsed`] it is an invalid message, as the specification says of
    /// a server.
    BadResponse { id: Id },
    /// Not a valid message; answered with Invalid Request and this id.
    Invalid { id: Id },
}

/// What a text message held, borrowed.
#[derive(Debug)]
pub(crate) enum Items<'a> {
    One(Item<'a>),
    Batch(Vec<Item<'a>>),
}

impl Item<'_> {
    /// The same member, owning its parts.
    pub(crate) fn into_owned(self) -> Parsed {
        Parsed::Message(match self {
            Item::Request { id, method, params } => Message::Request(Request {
                id,
                method: method.into_owned(),
                params: params.map(RawValue::to_owned),
            }),
            Item::Notification { method, params } => Message::Notification(Notification {
                method: method.into_owned(),
                params: params.map(RawValue::to_owned),
            }),
            Item::Response { id, outcome } => Message::Response(Response {
                id,
                outcome: outcome.map(RawValue::to_owned),
            }),
            Item::Invalid { id } | Item::BadResponse { id } => return Parsed::Invalid { id },
        })
    }
}

impl Parsed {
    /// The member as a connection reads it, borrowing from this one.
    pub(crate) fn as_item(&self) -> Item<'_> {
        match self {
            Parsed::Invalid { id } => Item::Invalid { id: id.clone() },
            Parsed::Message(Message::Request(r)) => Item::Request {
                id: r.id.clone(),
                method: Cow::Borrowed(&r.method),
                params: r.params.as_deref(),
            },
            Parsed::Message(Message::Notification(n)) => Item::Notification {
                method: Cow::Borrowed(&n.method),
                params: n.params.as_deref(),
            },
            Parsed::Message(Message::Response(r)) => Item::Response {
                id: r.id.clone(),
                outcome: r.outcome.as_deref().map_err(Clone::clone),
            },
        }
    }
}

/// [`parse`], borrowing from `text`.
pub(crate) fn parse_borrowed(text: &str) -> Result<Items<'_>, ErrorObject> {
    let body = text.trim_start();
    if body.starts_with('[') {
        // Any JSON text that starts with `[` is an array: one pass reads
        // it, or finds it is not JSON.
        let members: Vec<&RawValue> =
            serde_json::from_str(body).map_err(|_| ErrorObject::parse_error())?;
        if members.is_empty() {
            return Err(ErrorObject::invalid_request());
        }
        return Ok(Items::Batch(members.into_iter().map(member).collect()));
    }
    // The usual case, an object, is read in one pass; only what fails
    // that is read again, to tell text that is not JSON (a parse error)
    // from a value that is not a message (an invalid request).
    if let Ok(members) = serde_json::from_str::<Members<'_>>(body) {
        return Ok(Items::One(message(members)));
    }
    serde_json::from_str::<&RawValue>(text).map_err(|_| ErrorObject::parse_error())?;
    Ok(Items::One(Item::Invalid { id: Id::Null }))
}

/// One value of what arrived, read as a message.
fn member(raw: &RawValue) -> Item<'_> {
    match serde_json::from_str::<Members<'_>>(raw.get()) {
        Ok(members) => message(members),
        Err(_) => Item::Invalid { id: Id::Null },
    }
}

/// The members of an object, read as a message.
fn message(members: Members<'_>) -> Item<'_> {
    let id = IdMember::read(members.id);
    let echoed = id.echoed();
    let invalid = move || Item::Invalid { id: echoed };
    if members.jsonrpc.and_then(string).as_deref() != Some("2.0") {
        return invalid();
    }
    if let Some(method) = members.method {
        return call(method, members.params, id).unwrap_or_else(invalid);
    }
    if members.result.is_none() && members.error.is_none() {
        return invalid();
    }
    let echoed = id.echoed();
    response(members.result, members.error, id).unwrap_or(Item::BadResponse { id: echoed })
}

/// A request or notification, if its members are valid.
fn call<'a>(method: &'a RawValue, params: Option<&'a RawValue>, id: IdMember) -> Option<Item<'a>> {
    let method = string(method)?;
    let params = match params {
        None => None,
        Some(p) if p.get().starts_with(['[', '{']) => Some(p),
        Some(_) => return None,
    };
    match id {
        IdMember::Absent => Some(Item::Notification { method, params }),
        IdMember::Invalid => None,
        IdMember::Valid(id) => Some(Item::Request { id, method, params }),
    }
}

/// A JSON string's value, borrowed when it has no escapes.
fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    match serde_json::from_str::<&str>(raw.get()) {
        Ok(s) => Some(Cow::Borrowed(s)),
        Err(_) => serde_json::from_str::<String>(raw.get())
            .ok()
            .map(Cow::Owned),
    }
}

/// A response, if its members are valid: an id that could be read and
/// exactly one of `result` and `error`.
fn response<'a>(
    result: Option<&'a RawValue>,
    error: Option<&'a RawValue>,
    id: IdMember,
) -> Option<Item<'a>> {
    let IdMember::Valid(id) = id else {
        return None;
    };
    let outcome = match (result, error) {
        (Some(result), None) => Ok(result),
        (None, Some(error)) => Err(serde_json::from_str::<ErrorObject>(error.get()).ok()?),
        _ => return None,
    };
    Some(Item::Response { id, outcome })
}
