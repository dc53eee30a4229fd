//! [`AddClientError`]: why a client's connection did not join a reactor.

use std::fmt;

use crate::client::transport::ClientStream;
use crate::error::Error;
use crate::stream::WebSocket;

/// Why [`ReactorHandle::add_client`](super::handle::ReactorHandle::add_client)
/// did not add a connection.
///
/// A connection the reactor cannot serve is handed back untouched, with
/// its data, so that the caller can serve it another way (a task of its
/// own, as usual).
#[non_exhaustive]
pub enum AddClientError<D> {
    /// The connection runs over TLS or HTTP/2, which a reactor does not
    /// serve: here it is again, with its data, still open.
    NotPlainTcp(WebSocket<ClientStream>, D),
    /// The reactor stopped taking connections: here the connection is
    /// again, with its data, still open.
    Closed(WebSocket<ClientStream>, D),
    /// The socket could not leave the runtime's I/O driver
    /// ([`Error::Io`]); the connection is lost.
    Failed(Error),
}

impl<D> AddClientError<D> {
    /// The connection and its data, if they were handed back.
    pub fn into_inner(self) -> Option<(WebSocket<ClientStream>, D)> {
        match self {
            AddClientError::NotPlainTcp(ws, data) | AddClientError::Closed(ws, data) => {
                Some((ws, data))
            }
            AddClientError::Failed(_) => None,
        }
    }
}

// By hand: the data need not be `Debug`, and the connection says little.
impl<D> fmt::Debug for AddClientError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddClientError::NotPlainTcp(..) => f.write_str("NotPlainTcp(..)"),
            AddClientError::Closed(..) => f.write_str("Closed(..)"),
            AddClientError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
        }
    }
}

impl<D> fmt::Display for AddClientError<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddClientError::NotPlainTcp(..) => {
                f.write_str("a reactor serves plain TCP connections only")
            }
            AddClientError::Closed(..) => f.write_str("the reactor stopped"),
            AddClientError::Failed(_) => f.write_str("cannot hand the connection to the reactor"),
        }
    }
}

impl<D> std::error::Error for AddClientError<D> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AddClientError::Failed(e) => Some(e),
            _ => None,
        }
    }
}
