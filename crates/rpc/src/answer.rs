//! [`answer`]: what a peer sends back for a text message, by the
//! specification's rules (sections 5 and 6): a response per request,
//! none per notification, one Invalid Request per invalid member, the
//! batch's responses in an array, and nothing at all when there is
//! nothing to answer.

use serde_json::value::RawValue;

use crate::error::ErrorObject;
use crate::id::Id;
use crate::message::{Message, Notification, Request, Response};
use crate::parse::{Incoming, Parsed, parse};

/// What a peer does with the calls and answers in a message.
pub trait Handler {
    /// Answers a request: its result as JSON text, or an error.
    ///
    /// # Errors
    ///
    /// The [`ErrorObject`] the response carries.
    fn call(&mut self, request: &Request) -> Result<Box<RawValue>, ErrorObject>;
    /// Takes a notification; nothing goes back.
    fn notify(&mut self, notification: &Notification);
    /// Takes a response to one of this peer's own requests.
    fn response(&mut self, response: Response);
}

/// Whether batches are taken: peers whose protocol forbids them (LSP,
/// MCP) answer a batch with one Invalid Request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batches {
    /// Batches of at most this many members; a larger one is answered
    /// with one Invalid Request.
    Upto(usize),
    /// No batches.
    Refused,
}

/// The text to send back for `text`, or `None` when nothing is to be sent
/// (notifications and responses only).
pub fn answer(text: &str, batches: Batches, handler: &mut impl Handler) -> Option<String> {
    let incoming = match parse(text) {
        Ok(incoming) => incoming,
        Err(error) => return Some(reply(Response::error(Id::Null, error))),
    };
    match incoming {
        Incoming::One(parsed) => one(parsed, handler).map(reply),
        Incoming::Batch(members) => {
            let allowed = match batches {
                Batches::Upto(max) => members.len() <= max,
                Batches::Refused => false,
            };
            if !allowed {
                return Some(reply(Response::error(
                    Id::Null,
                    ErrorObject::invalid_request(),
                )));
            }
            let responses: Vec<Message> = members
                .into_iter()
                .filter_map(|parsed| one(parsed, handler))
                .map(Message::Response)
                .collect();
            (!responses.is_empty()).then(|| serde_json::to_string(&responses).unwrap_or_default())
        }
    }
}

/// The response one member gets, if any.
fn one(parsed: Parsed, handler: &mut impl Handler) -> Option<Response> {
    match parsed {
        Parsed::Invalid { id } => Some(Response::error(id, ErrorObject::invalid_request())),
        Parsed::Message(Message::Request(request)) => Some(Response {
            outcome: handler.call(&request),
            id: request.id,
        }),
        Parsed::Message(Message::Notification(notification)) => {
            handler.notify(&notification);
            None
        }
        Parsed::Message(Message::Response(response)) => {
            handler.response(response);
            None
        }
    }
}

fn reply(response: Response) -> String {
    Message::Response(response).to_json()
}
