//! [`LocalAdapter`]: rooms in memory, for one server.

use std::collections::{HashMap, HashSet};
use std::sync::{PoisonError, RwLock};

use super::{
    Adapter, ClusterFuture, RecoveryLimits, RecoveryStore, Restored, Room, SentPacket, Session,
};
use crate::sid::Sid;

/// Rooms in memory, and with connection state recovery on, sessions and
/// sent packets: the default adapter, for a single server.
#[derive(Debug, Default)]
pub struct LocalAdapter {
    state: RwLock<Rooms>,
    recovery: Option<RecoveryStore>,
}

#[derive(Debug, Default)]
struct Rooms {
    /// Room -> its sockets.
    members: HashMap<Room, HashSet<Sid>>,
    /// Socket -> its rooms.
    of: HashMap<Sid, HashSet<Room>>,
}

impl LocalAdapter {
    /// An empty adapter, without recovery.
    pub fn new() -> LocalAdapter {
        LocalAdapter::default()
    }

    /// An empty adapter keeping sessions and packets for recovery within
    /// `limits`.
    pub fn with_recovery(limits: RecoveryLimits) -> LocalAdapter {
        LocalAdapter {
            state: RwLock::default(),
            recovery: Some(RecoveryStore::new(limits)),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Rooms> {
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Rooms> {
        self.state.write().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Rooms {
    /// Whether `sid` is in any of `rooms`.
    fn in_any(&self, sid: &Sid, rooms: &[Room]) -> bool {
        rooms.iter().any(|room| {
            self.members
                .get(room)
                .is_some_and(|members| members.contains(sid))
        })
    }

    fn remove_member(&mut self, room: &str, sid: &Sid) {
        if let Some(members) = self.members.get_mut(room) {
            members.remove(sid);
            if members.is_empty() {
                self.members.remove(room);
            }
        }
    }
}

impl Adapter for LocalAdapter {
    fn local_rooms(&self) -> &LocalAdapter {
        self
    }
}

/// The room and recovery operations themselves, which [`Adapter`]'s
/// provided methods call through [`Adapter::local_rooms`].
impl LocalAdapter {
    /// As [`Adapter::join`].
    pub fn join(&self, sid: &Sid, rooms: &[Room]) {
        let mut state = self.write();
        let state = &mut *state;
        let of = state.of.entry(sid.clone()).or_default();
        for room in rooms {
            if of.insert(room.clone()) {
                state
                    .members
                    .entry(room.clone())
                    .or_default()
                    .insert(sid.clone());
            }
        }
    }

    /// As [`Adapter::leave`].
    pub fn leave(&self, sid: &Sid, room: &str) {
        let mut state = self.write();
        if let Some(of) = state.of.get_mut(sid)
            && of.remove(room)
        {
            state.remove_member(room, sid);
        }
    }

    /// As [`Adapter::leave_all`].
    pub fn leave_all(&self, sid: &Sid) {
        let mut state = self.write();
        if let Some(rooms) = state.of.remove(sid) {
            for room in &rooms {
                state.remove_member(room, sid);
            }
        }
    }

    /// As [`Adapter::rooms_of`].
    pub fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        self.read()
            .of
            .get(sid)
            .map(|rooms| rooms.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// As [`Adapter::rooms`].
    pub fn rooms(&self) -> Vec<Room> {
        self.read().members.keys().cloned().collect()
    }

    /// As [`Adapter::select`].
    pub fn select(&self, rooms: &[Room], except: &[Room]) -> Vec<Sid> {
        let state = self.read();
        let excluded = |sid: &Sid| state.in_any(sid, except);
        if rooms.is_empty() {
            return state
                .of
                .keys()
                .filter(|sid| !excluded(sid))
                .cloned()
                .collect();
        }
        let mut seen = HashSet::new();
        for room in rooms {
            for sid in state.members.get(room).into_iter().flatten() {
                if !excluded(sid) {
                    seen.insert(sid);
                }
            }
        }
        seen.into_iter().cloned().collect()
    }

    /// As [`Adapter::for_each_selected`].
    pub fn for_each_selected(&self, rooms: &[Room], except: &[Room], visit: &mut dyn FnMut(&Sid)) {
        let [room] = rooms else {
            // Several rooms may share members: `select` counts each once.
            // No rooms means every socket, which `select` walks too.
            for sid in self.select(rooms, except) {
                visit(&sid);
            }
            return;
        };
        let state = self.read();
        let excluded = |sid: &Sid| state.in_any(sid, except);
        for sid in state.members.get(room).into_iter().flatten() {
            if !excluded(sid) {
                visit(sid);
            }
        }
    }

    /// As [`Adapter::record_packet`].
    pub fn record_packet(&self, packet: SentPacket) {
        if let Some(store) = &self.recovery {
            store.record(packet);
        }
    }

    /// As [`Adapter::persist_session`].
    pub fn persist_session(&self, session: Session) {
        if let Some(store) = &self.recovery {
            store.persist(session);
        }
    }

    /// As [`Adapter::restore_session`].
    pub fn restore_session(&self, pid: &str, offset: &str) -> ClusterFuture<Restored> {
        let restored = self
            .recovery
            .as_ref()
            .and_then(|store| store.restore(pid, offset));
        Box::pin(std::future::ready(restored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Room {
        name.into()
    }

    #[test]
    fn select_unites_rooms_and_removes_excepted_ones() {
        let adapter = LocalAdapter::new();
        let (a, b, c) = (Sid::from("a"), Sid::from("b"), Sid::from("c"));
        adapter.join(&a, &[room("a"), room("red")]);
        adapter.join(&b, &[room("b"), room("red"), room("blue")]);
        adapter.join(&c, &[room("c"), room("blue")]);
        let mut red_or_blue = adapter.select(&[room("red"), room("blue")], &[]);
        red_or_blue.sort();
        assert_eq!(red_or_blue, [a.clone(), b.clone(), c.clone()]);
        let mut not_blue = adapter.select(&[], &[room("blue")]);
        not_blue.sort();
        assert_eq!(not_blue, std::slice::from_ref(&a));
        adapter.leave(&b, "red");
        assert_eq!(
            adapter.select(&[room("red")], &[]),
            std::slice::from_ref(&a)
        );
        adapter.leave_all(&a);
        assert!(adapter.select(&[room("red")], &[]).is_empty());
        assert!(!adapter.rooms().contains(&room("red")));
        assert_eq!(adapter.rooms_of(&c).len(), 2);
    }
}
