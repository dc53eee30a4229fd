//! The half of the adapter boundary that concerns the other servers of a
//! cluster: what an operation targets ([`BroadcastOptions`]), what a
//! socket looks like from another server ([`SocketInfo`]), and what an
//! adapter may do to this server's namespace when another server asks
//! ([`LocalSide`]).
//!
//! The shapes follow Node's `socket.io-adapter`, whose cluster adapters
//! (Redis, Redis Streams, the cluster adapter) carry exactly these: a
//! broadcast is the unencoded packet with `{rooms, except, flags}`, and
//! the cluster requests name their targets the same way.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Room;
use crate::engine::Handshake;
use crate::parser::Packet;
use crate::sid::Sid;
use crate::value::Value;

/// A future an adapter gives back for a cluster request.
pub type ClusterFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Which sockets of a namespace an operation targets, on every server:
/// those in any of `rooms` (all when empty) and in none of `except`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BroadcastOptions {
    /// The rooms; none means every socket.
    pub rooms: Vec<Room>,
    /// The rooms whose sockets are left out.
    pub except: Vec<Room>,
    /// How the operation goes.
    pub flags: BroadcastFlags,
}

/// How a broadcast goes (Node's `BroadcastFlags`, as far as a server here
/// acts on them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BroadcastFlags {
    /// A socket that cannot take the event at once does not get it.
    pub volatile: bool,
    /// This server's sockets only: nothing goes to the other servers.
    pub local: bool,
}

/// A socket as any server of the cluster describes it (what Node's
/// `fetchSockets()` answers with).
#[derive(Clone, Debug)]
pub struct SocketInfo {
    /// Its id.
    pub id: Sid,
    /// Its namespace.
    pub nsp: Arc<str>,
    /// The rooms it is in, its own included.
    pub rooms: Vec<Room>,
    /// The request that opened its connection.
    pub handshake: Handshake,
    /// The auth payload of its CONNECT.
    pub auth: Value,
    /// The application's data for it that other servers see (Node's
    /// `socket.data`): the [`Value`] stored with
    /// [`Socket::set_data`](crate::Socket::set_data), `Nil` when none is.
    pub data: Value,
}

/// This server's side of a namespace, for an adapter that carries the
/// other servers' broadcasts and requests to it: each call acts on this
/// server's sockets only, as if made here with the local flag.
///
/// An adapter gets it once, through [`Adapter::bind`](super::Adapter::bind),
/// as a weak reference: it goes away with the namespace.
pub trait LocalSide: Send + Sync {
    /// Delivers `packet` (an EVENT of this namespace) to the sockets
    /// `opts` selects here.
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions);
    /// Makes the sockets `opts` selects here join `rooms`.
    fn join(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Makes the sockets `opts` selects here leave `rooms`.
    fn leave(&self, opts: &BroadcastOptions, rooms: &[Room]);
    /// Disconnects the sockets `opts` selects here (and closes their
    /// connections when `close`).
    fn disconnect(&self, opts: &BroadcastOptions, close: bool);
    /// Describes the sockets `opts` selects here.
    fn sockets(&self, opts: &BroadcastOptions) -> Vec<SocketInfo>;
    /// Runs this server's handlers of a server-side event (`packet` is an
    /// EVENT: its name, then its arguments).
    fn server_side_event(&self, packet: &Packet);
    /// `packet` as the frames this namespace's sockets are sent (its
    /// parser's encoding), for an adapter that hands a restored session
    /// the packets it missed; `None` when it cannot be encoded.
    fn encode(&self, packet: &Packet) -> Option<Vec<crate::engine::Payload>>;
    /// Delivers `packet` (an EVENT of this namespace, without an ack id)
    /// to the sockets `opts` selects here, asking each for an
    /// acknowledgement, for another server's broadcast with acks: calls
    /// `on_count` with how many sockets it went to, then `on_ack` with the
    /// first argument of each acknowledgement that comes within `timeout`.
    /// By default nothing is delivered and the count is 0.
    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
        on_count: Box<dyn FnOnce(usize) + Send>,
        on_ack: Arc<dyn Fn(Value) + Send + Sync>,
    ) {
        let _ = (packet, opts, timeout, on_ack);
        on_count(0);
    }
    /// Runs this server's handler of a server-side event whose sender wants
    /// a reply, which the handler gives through `reply`. A handler that
    /// gives none (or no handler) leaves the sender waiting until its
    /// timeout, as with Node. By default, no reply is given.
    fn server_side_event_with_ack(&self, packet: &Packet, reply: ServerSideReply) {
        let _ = reply;
        self.server_side_event(packet);
    }
}

/// How a server-side handler answers an event whose sender wants replies
/// (Node's callback, the last argument of the handler): called at most
/// once, with the handler's reply.
pub struct ServerSideReply(Box<dyn FnOnce(Value) + Send>);

impl ServerSideReply {
    /// A reply that hands the handler's answer to `send`.
    pub fn new(send: impl FnOnce(Value) + Send + 'static) -> Self {
        Self(Box::new(send))
    }

    /// Answers with `value`.
    pub fn send(self, value: Value) {
        (self.0)(value);
    }
}

impl std::fmt::Debug for ServerSideReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSideReply").finish_non_exhaustive()
    }
}

/// The other servers' sockets' acknowledgements of a broadcast with acks
/// ([`Adapter::broadcast_with_ack`](super::Adapter::broadcast_with_ack)).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RemoteAcks {
    /// The first argument of each acknowledgement, in the order they came
    /// (the other servers do not say which socket gave which).
    pub acks: Vec<Value>,
    /// Whether every other server said how many sockets it sent to, and
    /// all of those answered, before the timeout.
    pub complete: bool,
}

/// What the other servers replied to a server-side event sent with
/// [`Namespace::server_side_emit_with_ack`](crate::Namespace::server_side_emit_with_ack).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ServerSideReplies {
    /// One reply per server that answered, in the order they came.
    pub replies: Vec<Value>,
    /// Whether every other server answered before the adapter's request
    /// timeout (Node's callback gets an error otherwise).
    pub complete: bool,
}
