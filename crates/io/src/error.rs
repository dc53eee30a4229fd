//! The errors and reasons of the Socket.IO layer: why a connection was
//! refused, why a socket disconnected, why an emit or an acknowledgement
//! failed.

use rmpv::Value;

use crate::args::ArgsError;

/// A middleware's refusal of a socket: the client's `connect_error` event
/// gets an `Error` with this `message`, and `data` as its `data`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectRefusal {
    /// The message the client's error carries.
    pub message: String,
    /// Extra data for the client (`error.data`), if any.
    pub data: Option<Value>,
}

impl ConnectRefusal {
    /// A refusal with `message` and no data.
    pub fn new(message: impl Into<String>) -> ConnectRefusal {
        ConnectRefusal {
            message: message.into(),
            data: None,
        }
    }

    /// With `data` for the client.
    ///
    /// # Errors
    ///
    /// [`ArgsError::Encode`] if `data` cannot be serialized.
    pub fn with_data<T: serde::Serialize + ?Sized>(
        mut self,
        data: &T,
    ) -> Result<ConnectRefusal, ArgsError> {
        self.data = Some(crate::args::to_value(data)?);
        Ok(self)
    }
}

/// Why a socket left its namespace: the strings are those Node's
/// `socket.io` gives its `disconnect` listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The client left the namespace (`socket.disconnect()` on its side).
    ClientNamespaceDisconnect,
    /// The server called [`Socket::disconnect`](crate::Socket::disconnect).
    ServerNamespaceDisconnect,
    /// The server closed the whole connection.
    ServerShuttingDown,
    /// The client did not answer the heartbeat in time.
    PingTimeout,
    /// The connection was closed (the client left, or the network).
    TransportClose,
    /// The connection failed.
    TransportError,
    /// The client sent something that is not Socket.IO.
    ParseError,
    /// The underlying connection was closed on purpose: by the server, or
    /// after the client sent something that is not Socket.IO.
    ForcedClose,
    /// The server closed the connection because the client broke the
    /// protocol (a packet for a namespace it did not join) or joined no
    /// namespace within the connect timeout.
    ForcedServerClose,
}

impl DisconnectReason {
    /// Node's string for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ServerShuttingDown => "server shutting down",
            DisconnectReason::PingTimeout => "ping timeout",
            DisconnectReason::TransportClose => "transport close",
            DisconnectReason::TransportError => "transport error",
            DisconnectReason::ParseError => "parse error",
            DisconnectReason::ForcedClose => "forced close",
            DisconnectReason::ForcedServerClose => "forced server close",
        }
    }
}

impl DisconnectReason {
    /// Whether a socket that disconnected for this reason may come back
    /// with connection state recovery: the connection was lost, it did not
    /// leave on purpose. As Node's list.
    pub fn is_recoverable(self) -> bool {
        matches!(
            self,
            DisconnectReason::TransportError
                | DisconnectReason::TransportClose
                | DisconnectReason::ForcedClose
                | DisconnectReason::PingTimeout
                | DisconnectReason::ServerShuttingDown
                | DisconnectReason::ForcedServerClose
        )
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An emit that could not be queued.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmitError {
    /// The arguments could not be serialized.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// The packet could not be encoded (a map key the format cannot
    /// carry, for one).
    #[error(transparent)]
    Encode(#[from] crate::parser::EncodeError),
    /// The socket is disconnected.
    #[error("the socket is disconnected")]
    Disconnected,
    /// The connection's queue of packets to send is full: the client
    /// reads too slowly.
    #[error("the connection's send queue is full")]
    QueueFull,
    /// The event's name is one Socket.IO reserves (`connect`,
    /// `connect_error`, `disconnect`, `disconnecting`, `newListener`,
    /// `removeListener`).
    #[error("{0:?} is a reserved event name")]
    Reserved(String),
}

/// An acknowledgement that did not come.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AckError {
    /// The event could not be sent.
    #[error(transparent)]
    Emit(#[from] EmitError),
    /// The client did not acknowledge in time.
    #[error("no acknowledgement within the timeout")]
    Timeout,
    /// The socket disconnected before acknowledging.
    #[error("the socket disconnected before acknowledging")]
    Disconnected,
}
