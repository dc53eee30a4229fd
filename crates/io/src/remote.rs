//! [`RemoteSocket`]: a socket found by `fetch_sockets()`, on this server or
//! another of the cluster, with what can still be done to it from here;
//! and [`BroadcastOperator::fetch_sockets`], which finds them.

use std::sync::Arc;

use crate::adapter::{Room, SocketInfo};
use crate::args::IntoArgs;
use crate::broadcast::BroadcastOperator;
use crate::engine::Handshake;
use crate::error::EmitError;
use crate::ns_core::NsCore;
use crate::sid::Sid;
use crate::socket::Socket;
use crate::value::Value;

/// A socket of any server of the cluster, as
/// [`BroadcastOperator::fetch_sockets`] found it: a description (its rooms
/// as they were then), and operations that reach it wherever it is, as
/// Node's `RemoteSocket`: each goes through the namespace's adapter,
/// addressed to the socket's own room.
#[derive(Clone, Debug)]
pub struct RemoteSocket {
    /// The namespace it was found in.
    ns: Arc<NsCore<Socket>>,
    /// What its server said of it.
    info: SocketInfo,
}

impl RemoteSocket {
    /// The socket `info` describes, in `ns`.
    pub(crate) fn new(ns: Arc<NsCore<Socket>>, info: SocketInfo) -> RemoteSocket {
        RemoteSocket { ns, info }
    }

    /// Its id.
    pub fn id(&self) -> &Sid {
        &self.info.id
    }

    /// Its namespace.
    pub fn nsp(&self) -> &str {
        &self.info.nsp
    }

    /// The rooms it was in when found, its own included.
    pub fn rooms(&self) -> &[Room] {
        &self.info.rooms
    }

    /// The request that opened its connection.
    pub fn handshake(&self) -> &Handshake {
        &self.info.handshake
    }

    /// The auth payload of its CONNECT.
    pub fn auth(&self) -> &Value {
        &self.info.auth
    }

    /// The application's data for it (Node's `socket.data`): the
    /// [`Value`] its server stored with
    /// [`Socket::set_data`](crate::Socket::set_data), `Nil` when none.
    pub fn data(&self) -> &Value {
        &self.info.data
    }

    /// The socket alone, wherever it is.
    fn only(&self) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(&self.ns)).to(&self.info.id)
    }

    /// Emits `event` to it.
    ///
    /// # Errors
    ///
    /// As [`BroadcastOperator::emit`].
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        self.only().emit(event, data)
    }

    /// Makes it join `room`.
    pub fn join(&self, room: impl AsRef<str>) {
        self.only().join(room.as_ref());
    }

    /// Makes it leave `room`.
    pub fn leave(&self, room: impl AsRef<str>) {
        self.only().leave(room.as_ref());
    }

    /// Disconnects it from the namespace; with `close`, closes its
    /// connection too.
    pub fn disconnect(&self, close: bool) {
        if close {
            self.only().disconnect_and_close();
        } else {
            self.only().disconnect();
        }
    }
}

impl BroadcastOperator {
    /// The sockets selected on every server of the cluster (this one's
    /// alone with the local flag or without a shared adapter), described
    /// as [`RemoteSocket`]s, which can still join, leave, be emitted to and
    /// be disconnected wherever they are.
    pub async fn fetch_sockets(&self) -> Vec<RemoteSocket> {
        let ns = self.ns();
        let mut found: Vec<RemoteSocket> = self
            .sockets()
            .iter()
            .map(|socket| RemoteSocket::new(Arc::clone(ns), socket.info()))
            .collect();
        if !self.is_local() {
            let remote = ns.adapter.fetch_remote_sockets(&self.options()).await;
            found.extend(
                remote
                    .into_iter()
                    .map(|info| RemoteSocket::new(Arc::clone(ns), info)),
            );
        }
        found
    }
}
