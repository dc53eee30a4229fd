//! What a session remembers of the request that opened it.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::{HeaderMap, Uri};

/// The transport a session runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling: GET to receive, POST to send.
    Polling,
    /// One WebSocket connection.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// The handshake request of a session: its target, query, headers and
/// peer, kept for the layer above (Socket.IO exposes them as
/// `socket.handshake`).
#[derive(Clone, Debug)]
pub struct Handshake {
    /// The request target, path and query.
    pub uri: Uri,
    /// The query pairs, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// The request headers.
    pub headers: HeaderMap,
    /// The peer's address, when the server knows it (see
    /// [`serve`](super::serve), which records it).
    pub remote_addr: Option<SocketAddr>,
    /// The Engine.IO protocol version asked for (`EIO`): 4, or 3 when
    /// [`EngineConfig::allow_eio3`](super::EngineConfig::allow_eio3) allows it.
    pub protocol: u8,
    /// When the session opened.
    pub issued: SystemTime,
}

impl Handshake {
    /// The first value of a query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
