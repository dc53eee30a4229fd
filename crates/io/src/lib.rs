//! sockeye-io: a Socket.IO server on sockeye.
//!
//! # Module map
//!
//! - `engine/`: Engine.IO v4 (and v3): its packets and the polling
//!   payload, sessions over WebSocket or HTTP long-polling, the heartbeat,
//!   the upgrade from polling, and the HTTP service that serves them.
//! - `parser/`: Socket.IO v5 packets (CONNECT, DISCONNECT, EVENT, ACK,
//!   `CONNECT_ERROR`, `BINARY_EVENT`, `BINARY_ACK`) with the default JSON parser
//!   and binary attachments, and the msgpack parser.
//! - `value/`: event arguments as `rmpv::Value` trees, and their serde
//!   conversions to and from the caller's types.

pub mod engine;
pub mod parser;
pub mod value;

pub use value::{Value, ValueError, from_value, to_value};
