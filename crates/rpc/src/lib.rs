//! sockeye-rpc: JSON-RPC 2.0 for peers that call each other over one
//! WebSocket. This is its message layer: reading and writing requests,
//! notifications, responses and batches exactly as the specification
//! puts them, and answering a text message by its rules.
//!
//! ```
//! use serde_json::value::{RawValue, to_raw_value};
//! use sockeye_rpc::{Batches, ErrorObject, Handler, Notification, Request, Response, answer};
//!
//! struct Calculator;
//!
//! impl Handler for Calculator {
//!     fn call(&mut self, request: &Request) -> Result<Box<RawValue>, ErrorObject> {
//!         match request.method.as_str() {
//!             "subtract" => {
//!                 let params = request.params.as_ref().ok_or_else(ErrorObject::invalid_params)?;
//!                 let (a, b): (i64, i64) =
//!                     serde_json::from_str(params.get()).map_err(|_| ErrorObject::invalid_params())?;
//!                 Ok(to_raw_value(&(a - b)).unwrap())
//!             }
//!             _ => Err(ErrorObject::method_not_found()),
//!         }
//!     }
//!     fn notify(&mut self, _: &Notification) {}
//!     fn response(&mut self, _: Response) {}
//! }
//!
//! let text = r#"{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}"#;
//! let reply = answer(text, Batches::Upto(100), &mut Calculator);
//! assert_eq!(reply.as_deref(), Some(r#"{"jsonrpc":"2.0","result":19,"id":1}"#));
//! ```
//!
//! # Typed services
//!
//! With the `macros` feature (on by default), the [`service`] attribute
//! turns a trait of `async fn`s into the [`Methods`] one side serves
//! (`Trait::into_methods`) and a typed client of any [`Peer`]
//! (`TraitClient`), so that both ends share one declaration, and a
//! handler can call its caller back through the caller's trait. The
//! shapes it takes and what it generates are in the crate docs of
//! [`sockeye-rpc-macros`](sockeye_rpc_macros).
//!
//! # Module map
//!
//! Bottom up; each file uses only those above it.
//!
//! - `error.rs` ([`ErrorObject`], the reserved codes): the `error` member.
//! - `id.rs` ([`Id`]): ids, echoed to the letter.
//! - `message.rs` ([`Message`], [`Request`], [`Notification`],
//!   [`Response`]): the messages and how they are written.
//! - `parse.rs` ([`parse`], [`Incoming`], [`Parsed`]): reading a text
//!   message, one or a batch.
//! - `answer.rs` ([`answer`], [`Handler`], [`Batches`]): what goes back.

mod answer;
mod call_error;
mod config;
mod driver;
mod error;
mod id;
mod message;
mod methods;
mod open;
mod parse;
mod peer;
mod shared;
mod sink;
mod subscription;
mod transport;
mod wire;

pub use answer::{Batches, Handler, answer};
pub use call_error::{CallError, SubscriptionError};
pub use config::Config;
pub use driver::Connection;
pub use error::{
    ErrorObject, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND, PARSE_ERROR,
    REQUEST_CANCELLED, SERVER_ERROR_MAX, SERVER_ERROR_MIN,
};
pub use id::Id;
pub use message::{Message, Notification, Request, Response};
pub use methods::{Cx, Methods};
pub use open::{connect, connection, spawn};
pub use parse::{Incoming, Parsed, parse};
pub use peer::{Batch, Peer};
pub use shared::Ended;
pub use sink::{PendingSubscription, SinkError, SubscriptionSink};
pub use subscription::Subscription;
pub use transport::Transport;

/// Typed servers and clients from a trait of `async fn`s: see the
/// [`sockeye-rpc-macros`](sockeye_rpc_macros) crate docs.
#[cfg(feature = "macros")]
pub use sockeye_rpc_macros::service;

/// What the code of [`service`] names; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
