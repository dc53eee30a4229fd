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
//! - [`EngineSocket`] is one session: `send`, `send_many`, `close`;
//!   `send_prepared` queues a [`PreparedPayload`], a message whose
//!   WebSocket frame a broadcast encodes once for all its sessions.
//!
//! # Behaviour worth knowing
//!
//! - Sends queue; they never wait. A session holds at most
//!   [`EngineConfig::max_buffered_packets`] messages not yet written;
//!   past it [`EngineSocket::send`] fails with [`SendError::QueueFull`]
//!   and the caller decides what to do.
//! - A poll returns everything queued when it is answered, in one body
//!   (as Node does); the queue bound bounds it.
//! - A bad packet ends the session ("parse error"); so does a second poll
//!   while one waits (the first gets `1`, the second 400), a poll the
//!   client gives up on, or a missing pong.
//! - [`EngineSocket::close`] sends what is queued, then `1`. For a
//!   polling session without a waiting poll, the session stays reachable
//!   for one heartbeat period (`ping_interval + ping_timeout`) so that the
//!   next poll gets them.
//! - Only `EIO=4` is served by default; other versions get 400 with code
//!   5. With [`EngineConfig::allow_eio3`], `EIO=3` sessions are served
//!   too, as Node's `allowEIO3`: the client pings and the server answers,
//!   the polling payloads and binary WebSocket frames take their v3 forms
//!   (`v3`), and the handshake has no `maxPayload`. JSONP polling (`j=`),
//!   which Node still serves to v3 clients, is not: such a handshake gets
//!   400 with code 3.
//!
//! Files: `packet` and `payload` (the wire formats), `config`, `close`,
//! `handshake` (the public data types), `v3` (the Engine.IO v3 wire
//! formats), `socket` (a session's state), `opening`, `sessions`,
//! `state`, `driver` (a session's one task: the heartbeat, and the
//! reading and writing of its WebSocket), `heartbeat`, `inbound` (what
//! becomes of a packet from the client), `prepared` (messages shared by
//! many sessions, and the queue's entries), `polling` and `websocket` (the
//! transports), `cors`,
//! `request`, `response`, `service`, `layer` and `serve` (HTTP), `rate`
//! (the handshake rate).

mod close;
mod config;
mod cors;
mod driver;
mod handler;
mod handshake;
mod heartbeat;
mod inbound;
mod layer;
mod opening;
mod packet;
mod payload;
mod polling;
mod prepared;
mod rate;
mod request;
mod response;
mod serve;
mod service;
mod sessions;
mod socket;
mod state;
mod v3;
mod websocket;

pub use close::{CloseReason, SendError};
pub use config::{AllowRequest, Cors, CorsOrigins, EngineConfig, Refusal, Transports};
pub use handler::EngineHandler;
pub use handshake::{Handshake, TransportKind};
pub use layer::{EngineLayer, EngineService};
pub use packet::{Packet, PacketError, Payload};
pub use payload::{SEPARATOR, join as join_payload, split as split_payload};
pub use prepared::PreparedPayload;
pub(crate) use request::EngineQuery;
pub use response::EngineBody;
pub use serve::serve;
pub use service::Engine;
pub use socket::EngineSocket;
#[cfg(test)]
pub(crate) use socket::QueueLimits;
pub use v3::{decode_payload as decode_v3_payload, encode_payload as encode_v3_payload};
