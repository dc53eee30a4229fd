//! sockeye-io: a Socket.IO server on sockeye.
//!
//! # Module map
//!
//! - `engine/`: Engine.IO v4: its packets and the polling payload,
//!   sessions over WebSocket or HTTP long-polling, the heartbeat, the
//!   upgrade from polling, and the HTTP service that serves them.
//! - `parser/`: Socket.IO v5 packets (CONNECT, DISCONNECT, EVENT, ACK,
//!   `CONNECT_ERROR`, `BINARY_EVENT`, `BINARY_ACK`) with the default JSON parser
//!   and binary attachments, and the msgpack parser.

pub mod engine;
pub mod parser;
