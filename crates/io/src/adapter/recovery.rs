//! [`RecoveryStore`]: what connection state recovery keeps in memory: the
//! sessions of sockets that lost their connection, and the packets sent
//! meanwhile, both bounded by age and by count.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::Room;
use crate::engine::Payload;
use crate::sid::Sid;

/// A socket's state, kept after its connection was lost so that it can
/// come back as it was.
#[derive(Clone, Debug)]
pub struct Session {
    /// The socket's id, which it gets back.
    pub sid: Sid,
    /// The private id the client presents to come back.
    pub pid: Sid,
    /// Its rooms, its own-id room included.
    pub rooms: Vec<Room>,
    /// Its data (`Socket::set_data`).
    pub data: http::Extensions,
}

/// A packet sent to sockets of a namespace, kept so that a socket that
/// comes back gets what it missed.
#[derive(Clone, Debug)]
pub struct SentPacket {
    /// The offset the packet carries as its last argument.
    pub offset: Box<str>,
    /// The rooms it went to (every socket when empty).
    pub rooms: Vec<Room>,
    /// The rooms it did not go to.
    pub except: Vec<Room>,
    /// Its frames, as sent.
    pub payloads: Vec<Payload>,
}

/// The bounds of the store.
#[derive(Clone, Copy, Debug)]
pub struct RecoveryLimits {
    /// How long a session and a packet are kept.
    pub max_age: Duration,
    /// How many packets are kept at most; the oldest go first.
    pub max_packets: usize,
    /// How many bytes of packets are kept at most; the oldest go first.
    pub max_packet_bytes: usize,
    /// How many sessions are kept at most; the oldest go first.
    pub max_sessions: usize,
}

/// Sessions and packets in memory for one namespace.
#[derive(Debug)]
pub struct RecoveryStore {
    limits: RecoveryLimits,
    state: Mutex<Stored>,
}

#[derive(Debug, Default)]
struct Stored {
    /// By private id, with when the connection was lost.
    sessions: HashMap<Sid, (Session, Instant)>,
    /// Private ids in the order their sessions were kept, to expire them.
    session_order: VecDeque<(Sid, Instant)>,
    /// Oldest first, with when each was sent.
    packets: VecDeque<(SentPacket, Instant)>,
    /// The bytes of their frames.
    packet_bytes: usize,
}

impl RecoveryStore {
    /// An empty store with `limits`.
    pub fn new(limits: RecoveryLimits) -> RecoveryStore {
        RecoveryStore {
            limits,
            state: Mutex::new(Stored::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Stored> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps a packet that was sent.
    pub fn record(&self, packet: SentPacket) {
        let now = Instant::now();
        let mut stored = self.lock();
        stored.packet_bytes += packet.size();
        stored.packets.push_back((packet, now));
        self.expire(&mut stored, now);
    }

    /// Keeps the session of a socket whose connection was lost.
    pub fn persist(&self, session: Session) {
        let now = Instant::now();
        let mut stored = self.lock();
        stored.session_order.push_back((session.pid.clone(), now));
        stored.sessions.insert(session.pid.clone(), (session, now));
        self.expire(&mut stored, now);
    }

    /// The session with private id `pid` and the packets sent to it after
    /// `offset`, if both are still kept; the session is taken out.
    pub fn restore(&self, pid: &str, offset: &str) -> Option<(Session, Vec<Vec<Payload>>)> {
        let now = Instant::now();
        let mut stored = self.lock();
        self.expire(&mut stored, now);
        let after = stored
            .packets
            .iter()
            .position(|(packet, _)| &*packet.offset == offset)?;
        let (session, _) = stored.sessions.remove(&Sid::from(pid))?;
        let missed = stored
            .packets
            .iter()
            .skip(after + 1)
            .filter(|(packet, _)| reaches(packet, &session.rooms))
            .map(|(packet, _)| packet.payloads.clone())
            .collect();
        Some((session, missed))
    }

    /// Drops what is too old or over the counts.
    fn expire(&self, stored: &mut Stored, now: Instant) {
        let expired = |at: Instant| now.duration_since(at) > self.limits.max_age;
        while let Some((packet, at)) = stored.packets.front() {
            let over = stored.packets.len() > self.limits.max_packets
                || stored.packet_bytes > self.limits.max_packet_bytes;
            if expired(*at) || over {
                stored.packet_bytes -= packet.size();
                stored.packets.pop_front();
            } else {
                break;
            }
        }
        while let Some((pid, at)) = stored.session_order.front() {
            let over = stored.sessions.len() > self.limits.max_sessions;
            // An entry whose session was restored, or kept again later,
            // is stale: drop it without touching the session.
            let current = stored.sessions.get(pid).is_some_and(|(_, kept)| kept == at);
            if !current {
                stored.session_order.pop_front();
            } else if expired(*at) || over {
                let pid = pid.clone();
                stored.sessions.remove(&pid);
                stored.session_order.pop_front();
            } else {
                break;
            }
        }
    }
}

impl SentPacket {
    /// The bytes of its frames.
    fn size(&self) -> usize {
        self.payloads.iter().map(Payload::len).sum()
    }
}

/// Whether a packet sent to `packet.rooms` except `packet.except` reached a
/// socket in `rooms`.
fn reaches(packet: &SentPacket, rooms: &[Room]) -> bool {
    let within = packet.rooms.is_empty() || packet.rooms.iter().any(|r| rooms.contains(r));
    within && !packet.except.iter().any(|r| rooms.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max_packets: usize, max_sessions: usize) -> RecoveryStore {
        RecoveryStore::new(RecoveryLimits {
            max_age: Duration::from_secs(60),
            max_packets,
            max_packet_bytes: usize::MAX,
            max_sessions,
        })
    }

    fn session(pid: &str, rooms: &[&str]) -> Session {
        Session {
            sid: Sid::from("s"),
            pid: Sid::from(pid),
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            data: http::Extensions::new(),
        }
    }

    fn packet(offset: &str, rooms: &[&str], except: &[&str]) -> SentPacket {
        SentPacket {
            offset: offset.into(),
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            except: except.iter().map(|r| Room::from(*r)).collect(),
            payloads: vec![Payload::Text(offset.to_owned().into())],
        }
    }

    fn texts(missed: &[Vec<Payload>]) -> Vec<String> {
        missed
            .iter()
            .map(|frames| match &frames[0] {
                Payload::Text(text) => text.to_string(),
                Payload::Binary(_) => "binary".to_owned(),
            })
            .collect()
    }

    #[test]
    fn restore_gives_the_packets_after_the_offset_that_reached_the_rooms() {
        let store = store(100, 100);
        store.record(packet("1", &[], &[]));
        store.persist(session("p", &["s", "red"]));
        store.record(packet("2", &["red"], &[]));
        store.record(packet("3", &["blue"], &[]));
        store.record(packet("4", &[], &["red"]));
        store.record(packet("5", &["s"], &[]));
        let (session, missed) = store.restore("p", "1").expect("kept");
        assert_eq!(session.sid.as_str(), "s");
        assert_eq!(texts(&missed), ["2", "5"]);
        assert!(store.restore("p", "1").is_none(), "taken out");
    }

    #[test]
    fn an_unknown_offset_or_session_restores_nothing() {
        let store = store(100, 100);
        store.record(packet("1", &[], &[]));
        store.persist(session("p", &["s"]));
        assert!(store.restore("p", "0").is_none());
        assert!(store.restore("q", "1").is_none());
    }

    #[test]
    fn counts_are_bounded_oldest_first() {
        let store = store(2, 1);
        store.record(packet("1", &[], &[]));
        store.record(packet("2", &[], &[]));
        store.record(packet("3", &[], &[]));
        store.persist(session("old", &["s"]));
        store.persist(session("new", &["s"]));
        assert!(store.restore("new", "1").is_none(), "packet 1 is gone");
        store.persist(session("new", &["s"]));
        assert!(
            store.restore("old", "2").is_none(),
            "the older session is gone"
        );
        assert!(store.restore("new", "2").is_some());
    }

    #[test]
    fn packet_bytes_are_bounded_oldest_first() {
        let store = RecoveryStore::new(RecoveryLimits {
            max_age: Duration::from_secs(60),
            max_packets: 100,
            max_packet_bytes: 2,
            max_sessions: 100,
        });
        store.persist(session("p", &["s"]));
        for offset in ["1", "2", "3"] {
            store.record(packet(offset, &[], &[]));
        }
        assert_eq!(store.lock().packet_bytes, 2);
        assert!(store.restore("p", "1").is_none(), "packet 1 is gone");
        let (_, missed) = store.restore("p", "2").expect("kept");
        assert_eq!(texts(&missed), ["3"]);
    }

    #[test]
    fn old_entries_expire() {
        let store = RecoveryStore::new(RecoveryLimits {
            max_age: Duration::ZERO,
            max_packets: 100,
            max_packet_bytes: usize::MAX,
            max_sessions: 100,
        });
        store.record(packet("1", &[], &[]));
        store.persist(session("p", &["s"]));
        std::thread::sleep(Duration::from_millis(2));
        assert!(store.restore("p", "1").is_none());
        assert!(store.lock().sessions.is_empty());
        assert!(store.lock().packets.is_empty());
    }
}
