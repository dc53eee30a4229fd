//! Engine.IO v4: the transport under Socket.IO
//! (`docs/engine.io-protocol/v4-current.md` in `socketio/socket.io`).
//!
//! A session opens over HTTP long-polling (and may upgrade to a
//! WebSocket) or directly over a WebSocket. The server pings every
//! `ping_interval` and ends sessions that do not answer within
//! `ping_timeout`. Messages are text or binary [`Payload`]s.
//!
//! - [`Engine`] is the HTTP side: a tower service for hyper or axum;
//!   [`EngineLayer`] puts it in front of another service; [`serve`] runs
//!   it on a listener.
//! - [`EngineHandler`] is what the layer above gives: `on_open`,
//!   `on_message`, `on_close`, with the ordering guarantees it documents.
//! - [`EngineSocket`] is one session: `send`, `send_many`, `close`.
//!
//! Files: `packet` and `payload` (the wire formats), `config`, `close`,
//! `handshake` (the public data types), `socket` (a session's state),
//! `sessions`, `state`, `driver` (a session's task: dispatch and
//! heartbeat), `polling` and `websocket` (the transports), `cors`,
//! `request`, `response`, `service`, `layer` and `serve` (HTTP).

mod close;
mod config;
mod cors;
mod driver;
mod handler;
mod handshake;
mod layer;
mod packet;
mod payload;
mod polling;
mod request;
mod response;
mod serve;
mod service;
mod sessions;
mod socket;
mod state;
mod websocket;

pub use close::{CloseReason, SendError};
pub use config::{AllowRequest, Cors, CorsOrigins, EngineConfig, Refusal, Transports};
pub use handler::EngineHandler;
pub use handshake::{Handshake, TransportKind};
pub use layer::{EngineLayer, EngineService};
pub use packet::{Packet, PacketError, Payload};
pub use payload::{SEPARATOR, join as join_payload, split as split_payload};
pub use response::EngineBody;
pub use serve::serve;
pub use service::Engine;
pub use socket::EngineSocket;
