//! Why a session ended, and why a send was refused.

/// Why a session ended: the reason given to
/// [`EngineHandler::on_close`](super::EngineHandler::on_close).
///
/// The names and [`as_str`](Self::as_str) strings are Node engine.io's, so
/// a Socket.IO layer can report them as Node does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The client closed: a `1` packet, or its WebSocket closed cleanly.
    TransportClose,
    /// The transport failed: a WebSocket error, a cancelled or overlapping
    /// poll, a packet the server does not accept in that direction.
    TransportError,
    /// No pong came within `ping_timeout` of a ping.
    PingTimeout,
    /// The server closed the session ([`EngineSocket::close`](super::EngineSocket::close)).
    ForcedClose,
    /// The client sent something that is not an Engine.IO packet.
    ParseError,
}

impl CloseReason {
    /// Node engine.io's name for this reason (`"ping timeout"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ForcedClose => "forced close",
            CloseReason::ParseError => "parse error",
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why [`EngineSocket::send`](super::EngineSocket::send) queued nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The session is closed (or closing): nothing more goes out.
    #[error("session closed")]
    Closed,
    /// The outgoing queue would pass
    /// [`EngineConfig::max_buffered_packets`](super::EngineConfig::max_buffered_packets).
    #[error("outgoing queue full ({queued} of {limit} packets)")]
    QueueFull {
        /// Packets queued now.
        queued: usize,
        /// The bound.
        limit: usize,
    },
    /// The outgoing queue would pass
    /// [`EngineConfig::max_buffered_bytes`](super::EngineConfig::max_buffered_bytes).
    #[error("outgoing queue full ({queued} of {limit} bytes)")]
    BytesFull {
        /// Bytes queued now.
        queued: usize,
        /// The bound.
        limit: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Close reasons: Node's strings.
    #[test]
    fn reasons_use_node_strings() {
        assert_eq!(CloseReason::PingTimeout.as_str(), "ping timeout");
        assert_eq!(CloseReason::ForcedClose.to_string(), "forced close");
        assert_eq!(CloseReason::ParseError.as_str(), "parse error");
    }
}
