//! [`SocketIoConfig`]: the Socket.IO layer's settings, and the Engine.IO
//! settings under it.

use std::time::Duration;

use crate::engine::EngineConfig;
use crate::parser::Parser;

/// The path Socket.IO clients connect to unless told otherwise.
pub const DEFAULT_PATH: &str = "/socket.io/";

/// How a Socket.IO server behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SocketIoConfig {
    /// The Engine.IO settings: path (default [`DEFAULT_PATH`]), heartbeat,
    /// payload and queue limits, CORS, transports, and
    /// [`allow_eio3`](EngineConfig::allow_eio3), which also serves
    /// socket.io-client 2.x (Socket.IO protocol v4) to every namespace.
    pub engine: EngineConfig,
    /// How long a client has, once its Engine.IO session opened, to
    /// connect to a namespace before the session is closed. Default 45 s,
    /// as Node's `connectTimeout`: a session that never joins a namespace
    /// holds memory for nothing.
    pub connect_timeout: Duration,
    /// How long [`Socket::emit_with_ack`](crate::Socket::emit_with_ack) and
    /// broadcasts with acks wait when no `timeout` is given. Default 5 s.
    /// Node waits for ever by default; an acknowledgement that never comes
    /// would then keep its entry for the connection's life, so here every
    /// wait ends.
    pub ack_timeout: Duration,
    /// The packet format: [`Parser::Json`] (socket.io-parser, the
    /// default) or [`Parser::Msgpack`] (socket.io-msgpack-parser); the
    /// clients must use the same.
    pub parser: Parser,
}

impl Default for SocketIoConfig {
    fn default() -> SocketIoConfig {
        SocketIoConfig {
            engine: EngineConfig {
                path: DEFAULT_PATH.into(),
                ..EngineConfig::default()
            },
            connect_timeout: Duration::from_secs(45),
            ack_timeout: Duration::from_secs(5),
            parser: Parser::default(),
        }
    }
}
