//! sockeye-rpc: JSON-RPC 2.0 in both directions on one WebSocket. Each
//! side of a connection is a [`Peer`]: it serves [`Methods`] and calls the
//! other side's, with requests in flight both ways at once and each
//! direction numbering its own ids. The same on a client and a server.
//!
//! A server whose method calls the client back before it answers, and a
//! client that serves what the server calls:
//!
//! ```
//! use sockeye_rpc::{Config, Cx, ErrorObject, Methods};
//! use tokio::net::TcpListener;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The server: `greet` asks the client for a title, then answers.
//! let mut server_methods = Methods::<()>::new();
//! server_methods.method("greet", |cx: Cx<()>, (name,): (String,)| async move {
//!     let title: String = cx
//!         .peer()
//!         .call("title", &(&name,))
//!         .await
//!         .map_err(|_| ErrorObject::internal_error())?;
//!     Ok(format!("hello, {title} {name}"))
//! });
//! let listener = TcpListener::bind("127.0.0.1:0").await?;
//! let url = format!("ws://{}/", listener.local_addr()?);
//! tokio::spawn(async move {
//!     while let Ok((tcp, _)) = listener.accept().await {
//!         if let Ok(ws) = sockeye::accept(tcp).await {
//!             sockeye_rpc::spawn(ws, server_methods.clone(), (), Config::default());
//!         }
//!     }
//! });
//!
//! // The client serves `title`, and calls `greet`.
//! let mut client_methods = Methods::<()>::new();
//! client_methods.sync_method("title", |_, (_name,): (String,)| Ok::<_, ErrorObject>("Dr."));
//! let server = sockeye_rpc::connect(&url, client_methods, (), Config::default()).await?;
//! let greeting: String = server.call("greet", &("Who",)).await?;
//! assert_eq!(greeting, "hello, Dr. Who");
//! # Ok(())
//! # }
//! ```
//!
//! # Concepts
//!
//! - [`Methods<C>`](Methods): handlers by name, registered at run time;
//!   params deserialized with serde (positional into tuples and structs,
//!   named into structs and maps). Each connection has a context `C`
//!   (who the peer is, its state), which every handler reaches through
//!   its [`Cx`], with the [`Peer`] to call back.
//! - Requests run concurrently, up to [`Config::max_in_flight`];
//!   notifications are handled one at a time, in the order they came,
//!   and a request starts only once the notifications sent before it
//!   are handled (as the Language Server Protocol needs: a change, then
//!   a question about it).
//! - [`Peer`]: [`call`](Peer::call), [`notify`](Peer::notify),
//!   [`batch`](Peer::batch), [`subscribe`](Peer::subscribe). A call that
//!   waits past its timeout fails with [`CallError::Timeout`] and the
//!   peer is told (`$/cancelRequest`); when the connection ends, every
//!   waiting call fails at once with [`CallError::Disconnected`].
//! - Subscriptions: [`Methods::subscription`] on the serving side (its
//!   items go out as notifications `{"subscription": ID, "result":
//!   ITEM}`, jsonrpsee's and Ethereum's form), [`Subscription`] on the
//!   subscribing side, with a bounded buffer: a subscriber that does not
//!   keep up is ended with [`SubscriptionError::Lagged`].
//! - [`Client`] ([`ClientOptions`]): a client connection that comes back
//!   after it is lost, and subscribes its subscriptions again.
//! - The specification to the letter: ids echoed exactly as they came,
//!   notifications never answered, the reserved error codes where it puts
//!   them, batches with all their edge cases, or refused
//!   ([`Batches::Refused`]) for protocols that forbid them.
//! - Runs on any open sockeye WebSocket ([`Transport`]): a client's, a
//!   server's, one from the axum or hyper integration.
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
//!   [`Response`]): the messages as values, and how they are written.
//! - `parse.rs` ([`parse`], [`Incoming`], [`Parsed`]): reading a text
//!   message, one or a batch; a borrowing form for connections.
//! - `answer.rs` ([`answer`], [`Handler`], [`Batches`]): what goes back
//!   for a text message, for a synchronous handler with no connection.
//! - `config.rs` ([`Config`]): a connection's limits and their defaults.
//! - `call_error.rs` ([`CallError`], [`SubscriptionError`]).
//! - `transport.rs` ([`Transport`]): what a connection runs on.
//! - `wire.rs`: writing requests and answers into one buffer each.
//! - `shared.rs` ([`Ended`]): what a connection's handles and its task
//!   share: the outgoing queue, calls waiting for answers, subscriptions.
//! - `subscription.rs` ([`Subscription`]), `sink.rs`
//!   ([`PendingSubscription`], [`SubscriptionSink`]): the two ends of a
//!   subscription.
//! - `peer.rs` ([`Peer`], [`Batch`]): calling the other side.
//! - `methods.rs` ([`Methods`], [`Cx`]): serving it.
//! - `driver.rs` ([`Connection`]): the future that runs a connection.
//! - `open.rs` ([`spawn`], [`connection`], [`connect`]).
//! - `reconnect.rs` ([`Client`], [`ClientOptions`], [`Backoff`],
//!   [`ClientSubscription`]).
//! - `caller.rs` ([`Caller`]): a [`Peer`] or a [`Client`], for the typed
//!   clients to call through.
//! - `web.rs` ([`WebTransport`]): a connection on sockeye's
//!   browser-shaped [`sockeye::web::WebSocket`].

mod answer;
mod call_error;
mod caller;
mod config;
mod driver;
mod error;
mod id;
mod message;
mod methods;
mod open;
mod parse;
mod peer;
mod reconnect;
mod shared;
mod sink;
mod subscription;
mod transport;
mod web;
mod wire;

pub use answer::{Batches, Handler, answer};
pub use call_error::{CallError, SubscriptionError};
pub use caller::Caller;
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
pub use reconnect::{Backoff, Client, ClientOptions, ClientSubscription};
pub use shared::Ended;
pub use sink::{PendingSubscription, SinkError, SubscriptionSink};
pub use subscription::Subscription;
pub use transport::Transport;
pub use web::WebTransport;

/// Typed servers and clients from a trait of `async fn`s: see the
/// [`sockeye-rpc-macros`](sockeye_rpc_macros) crate docs.
#[cfg(feature = "macros")]
pub use sockeye_rpc_macros::service;

/// What the code of [`service`] names; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use serde;
}
