//! The Streams adapter's shared state: the server's side ([`Shared`]: its
//! connection, its write queue, its namespaces, where its reader is) and
//! each namespace's ([`Inner`]: its rooms, its tracked sessions, its
//! restores waiting to join), and what a namespace does with an entry
//! read from the stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{BroadcastOptions, LocalAdapter, LocalSide, Room};
use sockeye_io::parser::{Packet, PacketKind};
use tokio::sync::mpsc;

use super::config::RedisStreamsConfig;
use super::entry::{BROADCAST, StreamEntry};
use super::offset::StreamId;
use super::session::StoredSession;
use crate::fields;
use crate::link::Link;
use crate::opts::Opts;
use crate::packet::read_packet;
use crate::stats::Counters;

/// `ClusterAdapter`'s message types this adapter writes and acts on.
pub(super) const SOCKETS_JOIN: u64 = 4;
pub(super) const SOCKETS_LEAVE: u64 = 5;
pub(super) const DISCONNECT_SOCKETS: u64 = 6;

/// How long a restored socket's held packets wait for it to join; past
/// that (its connection failed before it joined) they are dropped, so
/// that held packets never pile up.
pub(super) const PENDING_FOR: Duration = Duration::from_secs(30);

/// How many restored sockets of a namespace may wait to join at once; one
/// more connects afresh. 10,000: a whole server's clients coming back at
/// once after their server died, each holding what arrives while it
/// joins (milliseconds' worth), without letting restores pile up memory
/// without end.
pub(super) const MAX_PENDING: usize = 10_000;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) config: Arc<RedisStreamsConfig>,
    pub(super) uid: String,
    pub(super) link: Arc<Link>,
    pub(super) writes: mpsc::Sender<Write>,
    pub(super) counters: Arc<Counters>,
    pub(super) namespaces: Mutex<HashMap<String, Weak<Inner>>>,
    /// The last entry the reader handed out, held while it hands one out:
    /// a restore takes it to know where live delivery takes over.
    pub(super) reader: Mutex<Option<StreamId>>,
}

/// A restored socket between its restore and its joining: what the reader
/// read after the restore's last entry, for it.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) rooms: Vec<Room>,
    pub(super) after: StreamId,
    pub(super) packets: Vec<(Packet, BroadcastOptions)>,
    pub(super) since: Instant,
    pub(super) overflowed: bool,
}

/// One write to the broker, done in the order queued.
#[derive(Debug)]
pub(super) enum Write {
    /// An entry; for a broadcast this server sequences, where to deliver
    /// it at once if it cannot be written.
    Add {
        fields: Vec<(&'static str, String)>,
        fallback: Option<(Weak<Inner>, Packet, BroadcastOptions)>,
    },
    /// `SET key value PX ttl`; with `kept`, only over a session still
    /// there (`XX`), so that one another server took is not brought back.
    Set {
        key: String,
        value: String,
        kept: bool,
    },
    /// `DEL key`.
    Del { key: String },
}

pub(super) struct Inner {
    pub(super) nsp: String,
    pub(super) rooms: LocalAdapter,
    pub(super) local: OnceLock<Weak<dyn LocalSide>>,
    pub(super) shared: Weak<Shared>,
    /// Whether the namespace hands its broadcasts to be sequenced
    /// (recovery on): this server's own entries are then delivered here
    /// when read back.
    pub(super) sequenced: AtomicBool,
    /// The private ids of this server's connected sockets whose sessions
    /// are kept in Redis, by socket id.
    pub(super) tracked: Mutex<HashMap<Sid, Sid>>,
    /// Restored sockets not joined yet, by socket id.
    pub(super) pending: Mutex<HashMap<Sid, Pending>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsAdapter")
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    pub(super) fn local(&self) -> Option<Arc<dyn LocalSide>> {
        self.local.get()?.upgrade()
    }

    pub(super) fn queue(&self, write: Write) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if let Err(
            mpsc::error::TrySendError::Full(write) | mpsc::error::TrySendError::Closed(write),
        ) = shared.writes.try_send(write)
        {
            Counters::bump(&shared.counters.unpublished);
            tracing::warn!(nsp = %self.nsp, "redis streams adapter: write queue full; not written");
            drop(deliver_fallback(write));
        }
    }

    pub(super) fn add(
        &self,
        kind: u64,
        data: Value,
        fallback: Option<(Weak<Inner>, Packet, BroadcastOptions)>,
    ) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let entry = StreamEntry {
            uid: shared.uid.clone(),
            nsp: self.nsp.clone(),
            kind,
            data: Some(data),
            delivered: false,
        };
        self.queue(Write::Add {
            fields: entry.to_fields(),
            fallback,
        });
    }

    /// Writes the session of tracked socket `sid` as it is now (`kept`:
    /// only over the one stored).
    pub(super) fn write_session(&self, sid: &Sid, pid: &Sid, kept: bool) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        let stored = StoredSession {
            sid: sid.as_str().to_owned(),
            pid: pid.as_str().to_owned(),
            rooms: self.rooms.rooms_of(sid),
            data: Value::Nil,
        };
        self.queue(Write::Set {
            key: StoredSession::key(&shared.config.session_key_prefix, pid.as_str()),
            value: stored.encode(),
            kept,
        });
    }

    pub(super) fn rewrite_if_tracked(&self, sid: &Sid) {
        let pid = lock(&self.tracked).get(sid).cloned();
        if let Some(pid) = pid {
            self.write_session(sid, &pid, true);
        }
    }

    /// An entry read from the stream for this namespace.
    pub(super) fn on_entry(&self, id: &str, entry: &StreamEntry, own: bool) {
        let Some(local) = self.local() else {
            return;
        };
        let data = entry.data.as_ref().unwrap_or(&Value::Nil);
        let entries = fields::map(data, "data").unwrap_or(&[]);
        let opts = || {
            fields::get(entries, "opts")
                .map(Opts::read)
                .transpose()
                .map(|o| o.unwrap_or_default().to_broadcast_options())
        };
        let result = match entry.kind {
            BROADCAST => {
                if own && (entry.delivered || !self.sequenced.load(Ordering::Relaxed)) {
                    return;
                }
                if fields::get(entries, "requestId").is_some() {
                    // Broadcasts with acks are not carried by this adapter.
                    return;
                }
                let Some(packet) = fields::get(entries, "packet").map(read_packet) else {
                    return;
                };
                packet.and_then(|mut packet| {
                    let opts = opts()?;
                    if packet.kind != PacketKind::Event || packet.nsp != self.nsp {
                        return Ok(());
                    }
                    let offsets = self.shared.upgrade().is_some_and(|s| s.config.offsets);
                    if offsets
                        && packet.id.is_none()
                        && !opts.flags.volatile
                        && let Some(Value::Array(args)) = &mut packet.data
                    {
                        args.push(Value::from(id));
                    }
                    self.hold_for_pending(id, &packet, &opts);
                    local.broadcast(&packet, &opts);
                    Ok(())
                })
            }
            _ if own => return,
            SOCKETS_JOIN => {
                opts().and_then(|o| fields::rooms(entries, "rooms").map(|r| local.join(&o, &r)))
            }
            SOCKETS_LEAVE => {
                opts().and_then(|o| fields::rooms(entries, "rooms").map(|r| local.leave(&o, &r)))
            }
            DISCONNECT_SOCKETS => opts().map(|o| {
                let close = fields::get(entries, "close")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                local.disconnect(&o, close);
            }),
            _ => return,
        };
        if let Err(e) = result {
            if let Some(shared) = self.shared.upgrade() {
                Counters::bump(&shared.counters.malformed);
            }
            tracing::debug!(nsp = %self.nsp, error = %e, "redis streams adapter: malformed entry");
        }
    }
}

impl Inner {
    /// Keeps a broadcast read after a pending restore's last entry for
    /// the restored socket it reaches, until that socket joins.
    pub(super) fn hold_for_pending(&self, id: &str, packet: &Packet, opts: &BroadcastOptions) {
        let mut pending = lock(&self.pending);
        if pending.is_empty() || opts.flags.volatile {
            return;
        }
        let Ok(id) = id.parse::<StreamId>() else {
            return;
        };
        let limit = self
            .shared
            .upgrade()
            .map_or(0, |s| s.config.restore_max_entries);
        for (sid, held) in pending.iter_mut() {
            if id <= held.after || !reaches(opts, &held.rooms) {
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
    pub(super) fn join_pending(&self, sid: &Sid, rooms: &[Room]) -> bool {
        let Some(shared) = self.shared.upgrade() else {
            return false;
        };
        let _reader = lock(&shared.reader);
        let Some(held) = lock(&self.pending).remove(sid) else {
            return false;
        };
        self.rooms.join(sid, rooms);
        if held.overflowed {
            Counters::bump(&shared.counters.overflowed);
            tracing::warn!(nsp = %self.nsp, socket = %sid, "redis streams adapter: a restored socket missed packets while it joined");
        }
        if let Some(local) = self.local() {
            for (packet, opts) in held.packets {
                local.broadcast(&packet, &opts);
            }
        }
        true
    }
}

/// Whether a broadcast with `opts` reaches a socket in `rooms`.
pub(super) fn reaches(opts: &BroadcastOptions, rooms: &[Room]) -> bool {
    let within = opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r));
    within && !opts.except.iter().any(|r| rooms.contains(r))
}

/// A sequenced broadcast that cannot be written now is delivered here at
/// once, without an offset: this server's sockets still get it. What is
/// left to write is marked delivered, so that it is not delivered here
/// again when read back.
pub(super) fn deliver_fallback(write: Write) -> Write {
    match write {
        Write::Add {
            mut fields,
            fallback: Some((inner, packet, opts)),
        } => {
            if let Some(local) = inner.upgrade().and_then(|inner| inner.local()) {
                local.broadcast(&packet, &opts);
            }
            fields.push(("delivered", "1".to_owned()));
            Write::Add {
                fields,
                fallback: None,
            }
        }
        other => other,
    }
}
