//! The adapter boundary: which sockets of a namespace are in which rooms,
//! what connection state recovery keeps, and what goes to the other
//! servers of a cluster.
//!
//! A namespace asks its [`Adapter`] which sockets a broadcast reaches and
//! tells it of every join and leave; with recovery on, it hands it every
//! packet sent and the session of every socket whose connection was lost,
//! and asks it for them when the client comes back. [`LocalAdapter`], the
//! default, keeps all that in memory for one server.
//!
//! An adapter shared by many servers (Redis, NATS) implements the same
//! trait and its cluster methods: the namespace does every operation on
//! its own sockets itself and then hands it to the adapter
//! ([`broadcast`](Adapter::broadcast), [`remote_join`](Adapter::remote_join),
//! [`fetch_remote_sockets`](Adapter::fetch_remote_sockets), ...) to carry to
//! the others; what the others send, the adapter performs here through the
//! [`LocalSide`] it is given by [`bind`](Adapter::bind). Their defaults are
//! those of one server alone. A server uses the adapters that
//! [`SocketIo::with_adapter`](crate::SocketIo::with_adapter) makes.
//!
//! Files: `local` (the in-memory adapter), `recovery` (its store),
//! `cluster` (the types the cluster methods speak in).

mod cluster;
mod local;
mod recovery;

use std::sync::Weak;

pub use self::cluster::{
    BroadcastFlags, BroadcastOptions, ClusterFuture, LocalSide, RemoteAcks, ServerSideReplies,
    ServerSideReply, SocketInfo,
};
pub use self::local::LocalAdapter;
pub use self::recovery::{RecoveryLimits, RecoveryStore, SentPacket, Session};
use crate::engine::Payload;
use crate::parser::Packet;
use crate::sid::Sid;

/// What [`Adapter::restore_session`] finds: the session and, in order, the
/// frames of each packet it missed; `None` when either is no longer kept.
pub type Restored = Option<(Session, Vec<Vec<Payload>>)>;

/// A room's name. Every socket is also in the room named by its own id.
pub type Room = std::sync::Arc<str>;

/// Which sockets of one namespace are in which rooms.
///
/// Calls come from many tasks at once; an implementation keeps its own
/// locks short (no call awaits).
pub trait Adapter: Send + Sync + 'static {
    /// The rooms of this server's sockets, and its recovery store: what
    /// the room and recovery methods below act on unless an adapter
    /// overrides them. An adapter for a cluster keeps a [`LocalAdapter`]
    /// for them (as Node's cluster adapters extend its in-memory one) and
    /// overrides only what it does more.
    fn local_rooms(&self) -> &LocalAdapter;

    /// `sid` joins `rooms` (a socket's first call adds it to the adapter).
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        self.local_rooms().join(sid, rooms);
    }
    /// `sid` leaves `room`.
    fn leave(&self, sid: &Sid, room: &str) {
        self.local_rooms().leave(sid, room);
    }
    /// `sid` leaves every room and is forgotten.
    fn leave_all(&self, sid: &Sid) {
        self.local_rooms().leave_all(sid);
    }
    /// The rooms `sid` is in.
    fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        self.local_rooms().rooms_of(sid)
    }
    /// Every room with at least one socket.
    fn rooms(&self) -> Vec<Room> {
        self.local_rooms().rooms()
    }
    /// The sockets in any of `rooms` (every socket when `rooms` is empty)
    /// and in none of `except`.
    fn select(&self, rooms: &[Room], except: &[Room]) -> Vec<Sid> {
        self.local_rooms().select(rooms, except)
    }
    /// Calls `visit` once with each socket [`select`](Self::select) would
    /// give, in no particular order. A broadcast goes through here, so an
    /// adapter that can walk its rooms in place (as [`LocalAdapter`] does)
    /// spares every emit a list of its recipients. `visit` must not call
    /// the adapter.
    fn for_each_selected(&self, rooms: &[Room], except: &[Room], visit: &mut dyn FnMut(&Sid)) {
        self.local_rooms().for_each_selected(rooms, except, visit);
    }

    /// With recovery on: keeps a packet sent to sockets of the namespace.
    fn record_packet(&self, packet: SentPacket) {
        self.local_rooms().record_packet(packet);
    }
    /// With recovery on: keeps the session of a socket whose connection
    /// was lost.
    fn persist_session(&self, session: Session) {
        self.local_rooms().persist_session(session);
    }
    /// With recovery on: the session with private id `pid` and the frames
    /// of the packets it missed after `offset`, if both are still kept;
    /// the session is taken out. A store in memory answers at once (a
    /// ready future); one in a broker answers when the broker does. The
    /// namespace waits for it at most
    /// [`RecoveryConfig::restore_timeout`](crate::RecoveryConfig::restore_timeout),
    /// then connects the client afresh.
    fn restore_session(&self, pid: &str, offset: &str) -> ClusterFuture<Restored> {
        self.local_rooms().restore_session(pid, offset)
    }

    /// With recovery on: a socket with a private id connected (or came
    /// back); `session` is its id, private id and rooms (its data is not
    /// given). An adapter whose sessions live in a broker keeps it there
    /// now, so that the client can come back through another server even
    /// if this one dies without a word; the in-memory store needs nothing.
    fn session_opened(&self, session: &Session) {
        let _ = session;
    }

    /// Whether the adapter orders the namespace's broadcasts across the
    /// cluster and gives them their recovery offsets (a log such as a
    /// Redis stream). With recovery on, a broadcast that is neither
    /// volatile nor local is then not delivered here by the namespace:
    /// [`broadcast`](Self::broadcast) gets it without an offset, and the
    /// adapter delivers it to this server's sockets too, through its
    /// [`LocalSide`], in the cluster's order and with its offset (or at
    /// once, without one, when the log cannot be reached). Packets sent to
    /// one socket then carry no offset. Default `false`.
    fn sequences_broadcasts(&self) -> bool {
        false
    }

    /// With recovery on, for an adapter that
    /// [sequences broadcasts](Self::sequences_broadcasts): `packet` (an
    /// EVENT without an offset) goes to the sockets `opts` selects on every
    /// server, this one's included, which the adapter reaches through its
    /// [`LocalSide`]. An adapter that sequences must deliver here too; the
    /// default, for one that does not (never called then), carries it to
    /// the others as [`broadcast`](Self::broadcast) does.
    fn sequence_broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.broadcast(packet, opts);
    }

    /// Cluster: takes this server's side of the namespace, to act on its
    /// sockets when other servers ask. Called once, when the namespace is
    /// made.
    fn bind(&self, local: Weak<dyn LocalSide>) {
        let _ = local;
    }

    /// Cluster: this server delivered `packet` (an EVENT) to its own
    /// sockets that `opts` selects; carry it to the other servers, which
    /// deliver it to theirs. Not called for a broadcast with the local
    /// flag.
    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let _ = (packet, opts);
    }

    /// Cluster: this server sent `packet` (an EVENT, without an ack id)
    /// with acks to its own sockets that `opts` selects; carry it to the
    /// other servers and gather their sockets' acknowledgements, until
    /// every other server said how many sockets it sent to and all of them
    /// answered, or `timeout`. Alone: none, complete.
    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: std::time::Duration,
    ) -> ClusterFuture<RemoteAcks> {
        let _ = (packet, opts, timeout);
        Box::pin(std::future::ready(RemoteAcks {
            acks: Vec::new(),
            complete: true,
        }))
    }

    /// Cluster: make the sockets `opts` selects on the other servers join
    /// `rooms` (this server's did).
    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let _ = (opts, rooms);
    }

    /// Cluster: make the sockets `opts` selects on the other servers leave
    /// `rooms` (this server's did).
    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let _ = (opts, rooms);
    }

    /// Cluster: disconnect the sockets `opts` selects on the other servers
    /// (closing their connections when `close`); this server's were.
    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        let _ = (opts, close);
    }

    /// Cluster: the sockets `opts` selects on the other servers.
    fn fetch_remote_sockets(&self, opts: &BroadcastOptions) -> ClusterFuture<Vec<SocketInfo>> {
        let _ = opts;
        Box::pin(std::future::ready(Vec::new()))
    }

    /// Cluster: an event for the other servers' server-side handlers
    /// (`packet` is an EVENT of this namespace).
    fn server_side_emit(&self, packet: &Packet) {
        let _ = packet;
    }

    /// Cluster: an event for the other servers' server-side handlers that
    /// wants each one's reply; resolves with the replies once every other
    /// server gave one, or at the adapter's request timeout with those that
    /// came. Alone, there is nobody to ask: no replies, complete.
    fn server_side_emit_with_ack(&self, packet: &Packet) -> ClusterFuture<ServerSideReplies> {
        let _ = packet;
        Box::pin(std::future::ready(ServerSideReplies {
            replies: Vec::new(),
            complete: true,
        }))
    }

    /// Cluster: every room with a socket on any server of the cluster,
    /// this one's included (Node's `adapter.allRooms()`). Alone: this
    /// server's [`rooms`](Self::rooms).
    fn all_rooms(&self) -> ClusterFuture<Vec<Room>> {
        Box::pin(std::future::ready(self.rooms()))
    }

    /// Cluster: how many servers share the namespace, this one included.
    fn server_count(&self) -> ClusterFuture<usize> {
        Box::pin(std::future::ready(1))
    }
}
