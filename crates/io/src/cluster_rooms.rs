//! [`Namespace::all_rooms`]: the rooms of a namespace on every server of
//! the cluster.

use crate::adapter::Room;
use crate::namespace::Namespace;

impl Namespace {
    /// Every room with a socket on any server of the cluster, this one's
    /// included (Node's `io.of(nsp).adapter.allRooms()`); this server's
    /// alone without an adapter shared by several servers. Each socket's
    /// own room is one of them, as in Node.
    pub async fn all_rooms(&self) -> Vec<Room> {
        self.core().adapter.all_rooms().await
    }
}
