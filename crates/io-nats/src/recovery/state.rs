//! [`Sequenced`]: one namespace's side of recovery: its broadcasts written
//! to the stream and delivered when read back, the sessions of its
//! sockets kept in the bucket, and the restored sockets waiting to join.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{BroadcastOptions, Room, Session};
use sockeye_io::parser::{Packet, PacketKind};
use sockeye_io_redis::cluster_message::MessageType;
use sockeye_io_redis::packet::{packet_value, read_packet};
use sockeye_io_redis::streams::StoredSession;
use sockeye_io_redis::{Opts, fields};

use super::log::{Entry, Log, SessionWrite, lock};
use super::session;
use crate::core::Core;
use crate::envelope::{Envelope, Kind};
use crate::stats::Counters;
use crate::subject::Subjects;

/// How long a restored socket's held packets wait for it to join; past
/// that (its connection failed before it joined) they are dropped, so
/// that held packets never pile up.
pub(crate) const PENDING_FOR: Duration = Duration::from_secs(30);

/// How many restored sockets of a namespace may wait to join at once; one
/// more connects afresh. 10,000: a whole server's clients coming back at
/// once after their server died, each holding what arrives while it
/// joins (milliseconds' worth).
pub(crate) const MAX_PENDING: usize = 10_000;

/// A restored socket between its restore and its joining: what the reader
/// read after the restore's last message, for it.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) rooms: Vec<Room>,
    pub(crate) after: u64,
    pub(crate) packets: Vec<(Packet, BroadcastOptions)>,
    pub(crate) since: Instant,
    pub(crate) overflowed: bool,
}

/// One namespace's recovery state.
#[derive(Debug)]
pub(crate) struct Sequenced {
    pub(crate) core: Arc<Core>,
    pub(crate) log: Arc<Log>,
    pub(crate) subject: String,
    /// The private ids of this server's connected sockets, by socket id.
    pub(crate) tracked: Mutex<HashMap<Sid, Sid>>,
    /// Restored sockets not joined yet, by socket id.
    pub(crate) pending: Mutex<HashMap<Sid, Pending>>,
    /// The sequence of the last message of this namespace the reader
    /// handed out (written under the reader's lock).
    pub(crate) last: AtomicU64,
}

impl Sequenced {
    /// The recovery state of `core`'s namespace on `log`.
    pub(crate) fn new(log: Arc<Log>, core: Arc<Core>) -> Self {
        let subject = Subjects::new(&log.prefix, &core.nsp).log();
        Self {
            core,
            log,
            subject,
            tracked: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            last: AtomicU64::new(0),
        }
    }

    /// Writes a broadcast to the stream; every server, this one included,
    /// delivers it when it reads it back.
    pub(crate) fn sequence(&self, packet: &Packet, opts: &BroadcastOptions) {
        let envelope = Envelope {
            kind: Kind::Message(MessageType::Broadcast),
            data: fields::object(vec![
                ("packet", packet_value(packet)),
                ("opts", Opts::from(opts).to_value()),
            ]),
            uid: self.log.uid.clone(),
            nsp: self.core.nsp.to_string(),
        };
        self.log.write(Entry {
            subject: self.subject.clone(),
            payload: envelope.encode().into(),
            fallback: Some((Arc::downgrade(&self.core), packet.clone(), opts.clone())),
        });
    }

    /// `sid` joins `rooms`; a restored socket then gets what was held for
    /// it.
    pub(crate) fn join(&self, sid: &Sid, rooms: &[Room]) {
        let pending = lock(&self.pending).contains_key(sid);
        if !(pending && self.join_pending(sid, rooms)) {
            self.core.rooms.join(sid, rooms);
        }
        self.rewrite_if_tracked(sid);
    }

    /// A socket connected (or came back): its session goes to the bucket.
    pub(crate) fn opened(&self, session: &Session) {
        lock(&self.tracked).insert(session.sid.clone(), session.pid.clone());
        self.write_session(
            &session.sid,
            &session.pid,
            self.core.rooms.rooms_of(&session.sid),
        );
    }

    /// A socket lost its connection: its session as it was then.
    pub(crate) fn persist(&self, session: Session) {
        lock(&self.tracked).remove(&session.sid);
        self.write_session(&session.sid, &session.pid, session.rooms);
    }

    /// A socket left for good: its session is forgotten (one whose
    /// connection was lost was persisted, and untracked, just before).
    pub(crate) fn forget(&self, sid: &Sid) {
        let pid = lock(&self.tracked).remove(sid);
        if let Some(key) = pid.as_ref().and_then(|pid| session::key(pid.as_str())) {
            self.log.write_session(SessionWrite::Delete {
                key: key.to_owned(),
            });
        }
    }

    /// Writes the session of a tracked socket again, with its rooms now.
    pub(crate) fn rewrite_if_tracked(&self, sid: &Sid) {
        let pid = lock(&self.tracked).get(sid).cloned();
        if let Some(pid) = pid {
            self.write_session(sid, &pid, self.core.rooms.rooms_of(sid));
        }
    }

    fn write_session(&self, sid: &Sid, pid: &Sid, rooms: Vec<Room>) {
        if let Some(write) = session_write(sid, pid, rooms) {
            self.log.write_session(write);
        }
    }

    /// The sessions of this namespace's connected sockets, to renew.
    pub(crate) fn tracked_sessions(&self) -> Vec<(Sid, Sid)> {
        lock(&self.tracked)
            .iter()
            .map(|(sid, pid)| (sid.clone(), pid.clone()))
            .collect()
    }

    /// The session of `sid` as it is now, to write again, if it is still
    /// tracked.
    pub(crate) fn renewal(&self, sid: &Sid, pid: &Sid) -> Option<SessionWrite> {
        if lock(&self.tracked).get(sid) != Some(pid) {
            return None;
        }
        session_write(sid, pid, self.core.rooms.rooms_of(sid))
    }

    /// A message of this namespace read from the stream, with its
    /// sequence; called under the reader's lock. One this server wrote
    /// after delivering it here (`delivered_here`: it waited for the
    /// broker) is kept for restored sockets still joining, and not
    /// delivered again.
    pub(crate) fn on_entry(&self, seq: u64, envelope: &Envelope, delivered_here: bool) {
        self.last.store(seq, Ordering::Relaxed);
        let Some(local) = self.core.local() else {
            return;
        };
        match broadcast_of(envelope, seq, self.log.config.offsets) {
            Ok(Some((packet, opts))) => {
                self.hold_for_pending(seq, &packet, &opts);
                if !delivered_here {
                    local.broadcast(&packet, &opts);
                }
            }
            Ok(None) => {}
            Err(()) => {
                Counters::bump(&self.log.counters.malformed);
                tracing::debug!(nsp = %self.core.nsp, "nats adapter: a malformed stream message is dropped");
            }
        }
    }

    /// Keeps a broadcast read after a pending restore's last message for
    /// the restored socket it reaches, until that socket joins.
    fn hold_for_pending(&self, seq: u64, packet: &Packet, opts: &BroadcastOptions) {
        let mut pending = lock(&self.pending);
        if pending.is_empty() || opts.flags.volatile {
            return;
        }
        let limit = self.log.config.restore_max_entries;
        for (sid, held) in pending.iter_mut() {
            if seq <= held.after || !reaches(opts, &held.rooms) {
                continue;
            }
            if held.packets.len() >= limit {
                held.overflowed = true;
                continue;
            }
            let mut one = opts.clone();
            one.rooms = vec![Room::from(sid.as_str())];
            one.except = Vec::new();
            held.packets.push((packet.clone(), one));
        }
    }

    /// A restored socket joins: under the reader's lock (nothing is handed
    /// out meanwhile) it joins, then gets what was held for it; later
    /// broadcasts reach it as any socket.
    fn join_pending(&self, sid: &Sid, rooms: &[Room]) -> bool {
        let _reader = lock(&self.log.reader);
        let Some(held) = lock(&self.pending).remove(sid) else {
            return false;
        };
        self.core.rooms.join(sid, rooms);
        if held.overflowed {
            Counters::bump(&self.log.counters.overflowed);
            tracing::warn!(nsp = %self.core.nsp, socket = %sid, "nats adapter: a restored socket missed packets while it joined");
        }
        if let Some(local) = self.core.local() {
            for (packet, opts) in held.packets {
                local.broadcast(&packet, &opts);
            }
        }
        true
    }
}

/// The write that stores the session of `sid` (private id `pid`) in
/// `rooms`; `None` for a private id that cannot be a key.
fn session_write(sid: &Sid, pid: &Sid, rooms: Vec<Room>) -> Option<SessionWrite> {
    let key = session::key(pid.as_str())?;
    let stored = StoredSession {
        sid: sid.as_str().to_owned(),
        pid: pid.as_str().to_owned(),
        rooms,
        data: Value::Nil,
    };
    Some(SessionWrite::Put {
        key: key.to_owned(),
        value: session::value(&stored),
    })
}

/// Whether a broadcast with `opts` reaches a socket in `rooms`.
pub(crate) fn reaches(opts: &BroadcastOptions, rooms: &[Room]) -> bool {
    let within = opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r));
    within && !opts.except.iter().any(|r| rooms.contains(r))
}

/// The broadcast a stream message carries, its packet an EVENT of the
/// message's namespace with the sequence `seq` as its last argument when
/// `offsets` (unless volatile or with an ack id); `Ok(None)` for a message
/// that is no broadcast to deliver, `Err` for a malformed one.
pub(crate) fn broadcast_of(
    envelope: &Envelope,
    seq: u64,
    offsets: bool,
) -> Result<Option<(Packet, BroadcastOptions)>, ()> {
    if envelope.kind != Kind::Message(MessageType::Broadcast) {
        return Ok(None);
    }
    let entries = envelope.entries();
    if fields::get(entries, "requestId").is_some() {
        return Ok(None);
    }
    let Some(packet) = fields::get(entries, "packet") else {
        return Err(());
    };
    let mut packet = read_packet(packet).map_err(|_| ())?;
    let opts = fields::get(entries, "opts")
        .map(Opts::read)
        .transpose()
        .map_err(|_| ())?
        .unwrap_or_default()
        .to_broadcast_options();
    if packet.kind != PacketKind::Event || *packet.nsp != *envelope.nsp {
        return Ok(None);
    }
    if offsets
        && packet.id.is_none()
        && !opts.flags.volatile
        && let Some(Value::Array(args)) = &mut packet.data
    {
        args.push(Value::from(seq.to_string()));
    }
    Ok(Some((packet, opts)))
}
