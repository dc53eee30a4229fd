//! The adapter boundary: which sockets of a namespace are in which rooms,
//! and what connection state recovery keeps.
//!
//! A namespace asks its [`Adapter`] which sockets a broadcast reaches and
//! tells it of every join and leave; with recovery on, it hands it every
//! packet sent and the session of every socket whose connection was lost,
//! and asks it for them when the client comes back. [`LocalAdapter`], the
//! default, keeps all that in memory for one server; an adapter shared by
//! many servers (Redis, NATS) implements the same trait and also carries
//! broadcasts and cluster requests to the other servers.

mod local;
mod recovery;

pub use self::local::LocalAdapter;
pub use self::recovery::{RecoveryLimits, RecoveryStore, SentPacket, Session};
use crate::engine::Payload;
use crate::sid::Sid;

/// A room's name. Every socket is also in the room named by its own id.
pub type Room = std::sync::Arc<str>;

/// Which sockets of one namespace are in which rooms.
///
/// Calls come from many tasks at once; an implementation keeps its own
/// locks short (no call awaits).
pub trait Adapter: Send + Sync + 'static {
    /// `sid` joins `rooms` (a socket's first call adds it to the adapter).
    fn join(&self, sid: &Sid, rooms: &[Room]);
    /// `sid` leaves `room`.
    fn leave(&self, sid: &Sid, room: &str);
    /// `sid` leaves every room and is forgotten.
    fn leave_all(&self, sid: &Sid);
    /// The rooms `sid` is in.
    fn rooms_of(&self, sid: &Sid) -> Vec<Room>;
    /// Every room with at least one socket.
    fn rooms(&self) -> Vec<Room>;
    /// The sockets in any of `rooms` (every socket when `rooms` is empty)
    /// and in none of `except`.
    fn select(&self, rooms: &[Room], except: &[Room]) -> Vec<Sid>;
    /// Calls `visit` once with each socket [`select`](Self::select) would
    /// give, in no particular order. A broadcast goes through here, so an
    /// adapter that can walk its rooms in place (as [`LocalAdapter`] does)
    /// spares every emit a list of its recipients. `visit` must not call
    /// the adapter.
    fn for_each_selected(&self, rooms: &[Room], except: &[Room], visit: &mut dyn FnMut(&Sid)) {
        for sid in self.select(rooms, except) {
            visit(&sid);
        }
    }

    /// With recovery on: keeps a packet sent to sockets of the namespace.
    fn record_packet(&self, packet: SentPacket);
    /// With recovery on: keeps the session of a socket whose connection
    /// was lost.
    fn persist_session(&self, session: Session);
    /// With recovery on: the session with private id `pid` and the frames
    /// of the packets it missed after `offset`, if both are still kept.
    fn restore_session(&self, pid: &str, offset: &str) -> Option<(Session, Vec<Vec<Payload>>)>;
}
