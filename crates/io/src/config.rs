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
    /// Connection state recovery, off by default as in Node: a client
    /// whose connection was lost and that comes back in time gets its
    /// socket back (id, rooms, data) and the packets sent meanwhile.
    pub recovery: Option<RecoveryConfig>,
}

/// How connection state recovery (Node's `connectionStateRecovery`)
/// behaves.
///
/// With it on, the server keeps, per namespace, the session of each socket
/// whose connection was lost (not of one that left on purpose) and the
/// packets sent to the namespace, each event carrying an offset as its
/// last argument (the client returns the last one it saw when it
/// reconnects, as socket.io-client 4.6 and later do). Events that ask for
/// an acknowledgement and volatile ones are neither numbered nor kept.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct RecoveryConfig {
    /// How long a session and the packets it may miss are kept. Default
    /// 2 min, as Node's `maxDisconnectionDuration`.
    pub max_disconnection_duration: Duration,
    /// Whether a recovered socket skips the namespace's middleware: it
    /// passed it when it first connected. Default `true`, as Node.
    pub skip_middlewares: bool,
    /// How many sent packets a namespace keeps, oldest dropped first.
    /// Default 10,000: two minutes of about 80 events a second; a client
    /// that missed more than that connects afresh. Node bounds them by
    /// age alone; this count caps the memory a busy namespace spends.
    pub max_packets: usize,
    /// How many bytes of sent packets a namespace keeps, oldest dropped
    /// first. Default 64 MiB: the packets' frames are kept as sent, and an
    /// application that echoes what clients send must not let them fill
    /// memory through it.
    pub max_packet_bytes: usize,
    /// How many lost sessions a namespace keeps, oldest dropped first.
    /// Default 10,000: clients that never come back cost memory only
    /// up to this many.
    pub max_sessions: usize,
    /// How long a CONNECT waits for the adapter to find a lost session
    /// (a broker-backed store asks its broker). Default 5 s, as the Redis
    /// adapters' request timeout: past it the client connects afresh
    /// (`recovered` false) rather than hanging on a broker that does not
    /// answer. The in-memory store answers at once.
    pub restore_timeout: Duration,
}

impl Default for RecoveryConfig {
    fn default() -> RecoveryConfig {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_packets: 10_000,
            max_packet_bytes: 64 << 20,
            max_sessions: 10_000,
            restore_timeout: Duration::from_secs(5),
        }
    }
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
            recovery: None,
        }
    }
}
