//! sockeye-io: a Socket.IO server on sockeye, for the `socket.io-client`
//! apps of every language as they are: Engine.IO v4 over WebSocket and
//! HTTP long-polling, Socket.IO v5 with namespaces, rooms,
//! acknowledgements both ways, binary data, the JSON and msgpack parsers.
//!
//! A chat that broadcasts each message to the other clients and
//! acknowledges `echo` with its arguments:
//!
//! ```no_run
//! use sockeye_io::{Args, SocketIo};
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let io = SocketIo::new();
//! io.ns("/", |socket| async move {
//!     socket.on("chat", |socket, text: String| async move {
//!         let _ = socket.broadcast().emit("chat", text);
//!     });
//!     // What the handler gives is the acknowledgement.
//!     socket.on_args("echo", |_, args: Args| async move { args });
//! });
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! io.serve(listener).await // http://127.0.0.1:3000/socket.io/
//! # }
//! ```
//!
//! # Module map
//!
//! Bottom up; each file uses only those above it in this list.
//!
//! - `engine/`: Engine.IO v4: its packets and the polling payload,
//!   sessions over WebSocket or HTTP long-polling, the heartbeat, the
//!   upgrade from polling, and the HTTP service that serves them.
//! - `parser/`: Socket.IO v5 packets (CONNECT, DISCONNECT, EVENT, ACK,
//!   `CONNECT_ERROR`, `BINARY_EVENT`, `BINARY_ACK`) with the default JSON parser
//!   and binary attachments, and the msgpack parser.
//! - `value/`: event arguments as `rmpv::Value` trees, and their serde
//!   conversions to and from the caller's types.
//! - `sid.rs` ([`Sid`]): socket ids. `named.rs`: short lists by name. `task.rs`: runs a handler in place,
//!   spawning only what waits. `args.rs` ([`Args`], [`IntoArgs`]): event
//!   arguments and serde. `error.rs`: refusals, disconnect reasons, emit
//!   and ack errors. `adapter/` ([`Adapter`](adapter::Adapter),
//!   [`LocalAdapter`](adapter::LocalAdapter)): rooms, recovery, and the
//!   boundary for adapters shared by several servers.
//! - `config.rs` ([`SocketIoConfig`]). `conn.rs`: a session's decoder and
//!   joined namespaces. `ns_core.rs`: what a namespace's sockets share.
//! - `socket.rs` ([`Socket`]): one client in one namespace: emit, acks,
//!   rooms, data, disconnect. `handler.rs`: typed event handlers
//!   (`Socket::on`), connection handlers and middleware.
//!   `broadcast.rs` ([`BroadcastOperator`]): emitting to many.
//!   `remote.rs` ([`RemoteSocket`]): a socket `fetch_sockets()` found, on
//!   any server. `local_side.rs`: what other servers of a cluster ask of
//!   this one's namespace, done through its adapter.
//! - `namespace.rs` ([`Namespace`], [`DynamicNamespace`]): handlers,
//!   middleware and connecting a socket. `legacy.rs`: where Socket.IO
//!   protocol v4 (socket.io-client 2.x, on Engine.IO v3 sessions) differs
//!   from v5; the three files below it and `namespace.rs` call it. `registry.rs`: a server's
//!   namespaces. `client.rs`: the Socket.IO layer as an Engine.IO handler:
//!   decoding and routing packets. `io.rs` ([`SocketIo`]): the server.

pub mod adapter;
mod args;
mod broadcast;
mod client;
mod cluster_ack;
mod cluster_rooms;
mod config;
mod conn;
pub mod engine;
mod error;
mod handler;
mod io;
mod legacy;
mod local_side;
mod named;
mod namespace;
mod ns_core;
pub mod parser;
mod registry;
mod remote;
mod server_side;
mod sid;
mod socket;
mod task;
pub mod value;

pub use args::{Args, ArgsError, IntoArgs};
pub use broadcast::{AckResponse, BroadcastOperator, Rooms};
pub use client::Client;
pub use cluster_ack::ClusterAcks;
pub use config::{DEFAULT_PATH, RecoveryConfig, SocketIoConfig};
pub use conn::ConnState;
pub use error::{AckError, ConnectRefusal, DisconnectReason, EmitError};
pub use io::SocketIo;
pub use namespace::{DynamicNamespace, Namespace};
pub use remote::RemoteSocket;
pub use sid::Sid;
pub use socket::{Socket, SocketTimeout};
pub use value::{Value, ValueError, from_value, to_value};
