//! [`RedisStreamsAdapters`] and [`RedisStreamsAdapter`]: broadcasts and
//! room operations through one Redis stream, as Node's
//! `@socket.io/redis-streams-adapter` writes and reads them, and sessions
//! kept in Redis so that a client recovers on any server.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::{Duration, Instant};

use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{
    Adapter, BroadcastOptions, ClusterFuture, LocalAdapter, LocalSide, Restored, Room, SentPacket,
    Session,
};
use sockeye_io::parser::{Packet, PacketKind};
use tokio::sync::mpsc;

use super::config::RedisStreamsConfig;
use super::entry::{BROADCAST, StreamEntry};
use super::offset::StreamId;
use super::reply::{range_entries, read_entries};
use super::session::StoredSession;
use crate::factory::SetupError;
use crate::fields;
use crate::link::Link;
use crate::opts::Opts;
use crate::packet::{packet_value, read_packet};
use crate::stats::{AdapterStats, Counters};
use crate::uid::{UID_LEN, uid};

/// `ClusterAdapter`'s message types this adapter writes and acts on.
const SOCKETS_JOIN: u64 = 4;
const SOCKETS_LEAVE: u64 = 5;
const DISCONNECT_SOCKETS: u64 = 6;

/// How long a restored socket's held packets wait for it to join; past
/// that (its connection failed before it joined) they are dropped, so
/// that held packets never pile up.
const PENDING_FOR: Duration = Duration::from_secs(30);

/// How many restored sockets of a namespace may wait to join at once; one
/// more connects afresh. 10,000: a whole server's clients coming back at
/// once after their server died, each holding what arrives while it
/// joins (milliseconds' worth), without letting restores pile up memory
/// without end.
const MAX_PENDING: usize = 10_000;

/// Makes the [`RedisStreamsAdapter`] of each namespace of a server: one
/// command connection, one writer task that keeps this server's entries
/// in order, and one reader task that follows the stream (`XREAD`) for
/// every namespace, resuming after the last entry it read when the broker
/// comes back.
///
/// Use it with connection state recovery on: the stream then orders every
/// broadcast of the cluster, its entry id is the offset clients get, and
/// a client whose server died comes back through any other with every
/// packet it missed, in order.
///
/// ```no_run
/// use sockeye_io::{RecoveryConfig, SocketIo, SocketIoConfig};
/// use sockeye_io_redis::streams::{RedisStreamsAdapters, RedisStreamsConfig};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let adapters = RedisStreamsAdapters::new("redis://127.0.0.1:6379", RedisStreamsConfig::default())?;
/// let mut config = SocketIoConfig::default();
/// config.recovery = Some(RecoveryConfig::default());
/// let factory = adapters.clone();
/// let io = SocketIo::with_adapter(config, move |nsp| factory.make(nsp));
/// io.emit("hello", "everyone, on every server")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisStreamsAdapters {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: Arc<RedisStreamsConfig>,
    uid: String,
    link: Arc<Link>,
    writes: mpsc::Sender<Write>,
    counters: Arc<Counters>,
    namespaces: Mutex<HashMap<String, Weak<Inner>>>,
    /// The last entry the reader handed out, held while it hands one out:
    /// a restore takes it to know where live delivery takes over.
    reader: Mutex<Option<StreamId>>,
}

/// A restored socket between its restore and its joining: what the reader
/// read after the restore's last entry, for it.
#[derive(Debug)]
struct Pending {
    rooms: Vec<Room>,
    after: StreamId,
    packets: Vec<(Packet, BroadcastOptions)>,
    since: Instant,
    overflowed: bool,
}

/// One write to the broker, done in the order queued.
#[derive(Debug)]
enum Write {
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

impl RedisStreamsAdapters {
    /// Adapters on the broker at `url` (`redis://host:port/db`), with
    /// `config`; their tasks run on the current tokio runtime and end when
    /// every clone of this and every adapter made is dropped.
    ///
    /// # Errors
    ///
    /// [`SetupError::Url`] when `url` is not a Redis URL;
    /// [`SetupError::NoRuntime`] outside a tokio runtime.
    pub fn new(url: &str, config: RedisStreamsConfig) -> Result<Self, SetupError> {
        let client = redis::Client::open(url).map_err(SetupError::Url)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SetupError::NoRuntime)?;
        let counters = Arc::new(Counters::default());
        let link_config = Arc::new(config.link.clone());
        let link = Arc::new(Link::new(
            client.clone(),
            Arc::clone(&link_config),
            Arc::clone(&counters),
        ));
        let reader = Link::new(client, link_config, Arc::clone(&counters));
        let (writes, queued) = mpsc::channel(config.write_queue.max(1));
        let shared = Arc::new(Shared {
            config: Arc::new(config),
            uid: uid(UID_LEN),
            link,
            writes,
            counters,
            namespaces: Mutex::new(HashMap::new()),
            reader: Mutex::new(None),
        });
        runtime.spawn(write_loop(Arc::downgrade(&shared), queued));
        runtime.spawn(read_loop(Arc::downgrade(&shared), reader));
        runtime.spawn(renew_loop(Arc::downgrade(&shared)));
        Ok(Self { shared })
    }

    /// The adapter of namespace `nsp`.
    pub fn make(&self, nsp: &str) -> Arc<dyn Adapter> {
        let inner = Arc::new(Inner {
            nsp: nsp.to_owned(),
            rooms: LocalAdapter::new(),
            local: OnceLock::new(),
            shared: Arc::downgrade(&self.shared),
            sequenced: AtomicBool::new(false),
            tracked: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
        });
        lock(&self.shared.namespaces).insert(nsp.to_owned(), Arc::downgrade(&inner));
        Arc::new(RedisStreamsAdapter { inner })
    }

    /// Faults counted so far: writes not made, reconnections, malformed
    /// entries.
    pub fn stats(&self) -> AdapterStats {
        self.shared.counters.snapshot()
    }
}

/// One namespace's adapter: its rooms here, its entries in the stream,
/// its sessions in Redis.
#[derive(Debug)]
pub struct RedisStreamsAdapter {
    inner: Arc<Inner>,
}

struct Inner {
    nsp: String,
    rooms: LocalAdapter,
    local: OnceLock<Weak<dyn LocalSide>>,
    shared: Weak<Shared>,
    /// Whether the namespace hands its broadcasts to be sequenced
    /// (recovery on): this server's own entries are then delivered here
    /// when read back.
    sequenced: AtomicBool,
    /// The private ids of this server's connected sockets whose sessions
    /// are kept in Redis, by socket id.
    tracked: Mutex<HashMap<Sid, Sid>>,
    /// Restored sockets not joined yet, by socket id.
    pending: Mutex<HashMap<Sid, Pending>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsAdapter")
            .field("nsp", &self.nsp)
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn local(&self) -> Option<Arc<dyn LocalSide>> {
        self.local.get()?.upgrade()
    }

    fn queue(&self, write: Write) {
        let Some(shared) = self.shared.upgrade() else {
            return;
        };
        if let Err(
            mpsc::error::TrySendError::Full(write) | mpsc::error::TrySendError::Closed(write),
        ) = shared.writes.try_send(write)
        {
            Counters::bump(&shared.counters.unpublished);
            tracing::warn!(nsp = %self.nsp, "redis streams adapter: write queue full; not written");
            deliver_fallback(write);
        }
    }

    fn add(
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
        };
        self.queue(Write::Add {
            fields: entry.to_fields(),
            fallback,
        });
    }

    /// Writes the session of tracked socket `sid` as it is now (`kept`:
    /// only over the one stored).
    fn write_session(&self, sid: &Sid, pid: &Sid, kept: bool) {
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

    fn rewrite_if_tracked(&self, sid: &Sid) {
        let pid = lock(&self.tracked).get(sid).cloned();
        if let Some(pid) = pid {
            self.write_session(sid, &pid, true);
        }
    }

    /// An entry read from the stream for this namespace.
    fn on_entry(&self, id: &str, entry: &StreamEntry, own: bool) {
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
                if own && !self.sequenced.load(Ordering::Relaxed) {
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
    fn hold_for_pending(&self, id: &str, packet: &Packet, opts: &BroadcastOptions) {
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
    fn join_pending(&self, sid: &Sid, rooms: &[Room]) -> bool {
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
fn reaches(opts: &BroadcastOptions, rooms: &[Room]) -> bool {
    let within = opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r));
    within && !opts.except.iter().any(|r| rooms.contains(r))
}

/// A sequenced broadcast that could not be written is delivered here at
/// once, without an offset: this server's sockets still get it.
fn deliver_fallback(write: Write) {
    if let Write::Add {
        fallback: Some((inner, packet, opts)),
        ..
    } = write
        && let Some(local) = inner.upgrade().and_then(|inner| inner.local())
    {
        local.broadcast(&packet, &opts);
    }
}

impl Adapter for RedisStreamsAdapter {
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        let pending = lock(&self.inner.pending).contains_key(sid);
        if !(pending && self.inner.join_pending(sid, rooms)) {
            self.inner.rooms.join(sid, rooms);
        }
        self.inner.rewrite_if_tracked(sid);
    }

    fn leave(&self, sid: &Sid, room: &str) {
        self.inner.rooms.leave(sid, room);
        self.inner.rewrite_if_tracked(sid);
    }

    fn leave_all(&self, sid: &Sid) {
        self.inner.rooms.leave_all(sid);
        // Still tracked: the socket left for good (a recoverable loss was
        // persisted, and untracked, just before).
        let pid = lock(&self.inner.tracked).remove(sid);
        if let (Some(pid), Some(shared)) = (pid, self.inner.shared.upgrade()) {
            self.inner.queue(Write::Del {
                key: StoredSession::key(&shared.config.session_key_prefix, pid.as_str()),
            });
        }
    }

    fn rooms_of(&self, sid: &Sid) -> Vec<Room> {
        self.inner.rooms.rooms_of(sid)
    }

    fn rooms(&self) -> Vec<Room> {
        self.inner.rooms.rooms()
    }

    fn select(&self, rooms: &[Room], except: &[Room]) -> Vec<Sid> {
        self.inner.rooms.select(rooms, except)
    }

    fn for_each_selected(&self, rooms: &[Room], except: &[Room], visit: &mut dyn FnMut(&Sid)) {
        self.inner.rooms.for_each_selected(rooms, except, visit);
    }

    fn record_packet(&self, packet: SentPacket) {
        // The stream keeps the packets; none comes here while broadcasts
        // are sequenced.
        let _ = packet;
    }

    fn session_opened(&self, session: &Session) {
        lock(&self.inner.tracked).insert(session.sid.clone(), session.pid.clone());
        self.inner.write_session(&session.sid, &session.pid, false);
    }

    fn persist_session(&self, session: Session) {
        lock(&self.inner.tracked).remove(&session.sid);
        let Some(shared) = self.inner.shared.upgrade() else {
            return;
        };
        let stored = StoredSession {
            sid: session.sid.as_str().to_owned(),
            pid: session.pid.as_str().to_owned(),
            rooms: session.rooms,
            data: Value::Nil,
        };
        self.inner.queue(Write::Set {
            key: StoredSession::key(&shared.config.session_key_prefix, session.pid.as_str()),
            value: stored.encode(),
            kept: false,
        });
    }

    fn restore_session(&self, pid: &str, offset: &str) -> ClusterFuture<Restored> {
        let (inner, pid, offset) = (Arc::clone(&self.inner), pid.to_owned(), offset.to_owned());
        Box::pin(async move { restore(&inner, &pid, &offset).await })
    }

    fn sequences_broadcasts(&self) -> bool {
        true
    }

    fn sequence_broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        self.inner.sequenced.store(true, Ordering::Relaxed);
        let data = fields::object(vec![
            ("packet", packet_value(packet)),
            ("opts", Opts::from(opts).to_value()),
        ]);
        let fallback = (Arc::downgrade(&self.inner), packet.clone(), opts.clone());
        self.inner.add(BROADCAST, data, Some(fallback));
    }

    fn bind(&self, local: Weak<dyn LocalSide>) {
        let _ = self.inner.local.set(local);
    }

    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let data = fields::object(vec![
            ("packet", packet_value(packet)),
            ("opts", Opts::from(opts).to_value()),
        ]);
        self.inner.add(BROADCAST, data, None);
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let data = fields::object(vec![
            ("opts", Opts::from(opts).to_value()),
            ("rooms", fields::room_array(rooms)),
        ]);
        self.inner.add(SOCKETS_JOIN, data, None);
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let data = fields::object(vec![
            ("opts", Opts::from(opts).to_value()),
            ("rooms", fields::room_array(rooms)),
        ]);
        self.inner.add(SOCKETS_LEAVE, data, None);
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        let data = fields::object(vec![
            ("opts", Opts::from(opts).to_value()),
            ("close", Value::from(close)),
        ]);
        self.inner.add(DISCONNECT_SOCKETS, data, None);
    }
}

/// Takes the session out of Redis and reads the stream after `offset`:
/// `None` when the session, or the offset's entry, is gone, when more than
/// the configured number of entries follow, or when the broker fails.
/// Then hands over to the reader: reads on until where the reader is, and,
/// under its lock, has it hold for this socket what it reads next, until
/// the socket joins.
async fn restore(inner: &Inner, pid: &str, offset: &str) -> Restored {
    let shared = inner.shared.upgrade()?;
    let local = inner.local()?;
    let from: StreamId = offset.parse().ok()?;
    let config = &shared.config;
    let mut conn = shared.link.connection().await?;
    let key = StoredSession::key(&config.session_key_prefix, pid);
    let found: redis::RedisResult<(Option<Vec<u8>>, redis::Value)> = redis::pipe()
        .cmd("GETDEL")
        .arg(&key)
        .cmd("XRANGE")
        .arg(&config.stream_name)
        .arg(from.to_string())
        .arg(from.to_string())
        .query_async(&mut conn)
        .await;
    let (stored, at) = match found {
        Ok(found) => found,
        Err(e) => {
            shared.link.lost(&e).await;
            return None;
        }
    };
    let session = StoredSession::decode(&stored?).ok()?;
    if range_entries(at).0.is_empty() {
        return None;
    }
    let mut missed = Missed {
        inner,
        local: &*local,
        rooms: session.rooms.clone(),
        packets: Vec::new(),
        last: from,
        read: 0,
    };
    // Up to the stream's end, then up to where the reader is.
    while missed.more(&shared, &mut conn, "+").await? {}
    let sid = Sid::from(session.sid.as_str());
    let mut waits = 0;
    loop {
        let at = *lock(&shared.reader);
        match at {
            None if waits < 100 => {
                waits += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            None => return None,
            Some(at) if at > missed.last => {
                if !missed.more(&shared, &mut conn, &at.to_string()).await? {
                    return None;
                }
            }
            Some(_) => {
                let reader = lock(&shared.reader);
                if reader.is_some_and(|at| at > missed.last) {
                    continue;
                }
                let mut pending = lock(&inner.pending);
                pending.retain(|_, held| held.since.elapsed() < PENDING_FOR);
                if pending.len() >= MAX_PENDING {
                    tracing::warn!(nsp = %inner.nsp, "redis streams adapter: too many restores at once; connecting afresh");
                    return None;
                }
                pending.insert(
                    sid.clone(),
                    Pending {
                        rooms: missed.rooms.clone(),
                        after: missed.last,
                        packets: Vec::new(),
                        since: Instant::now(),
                        overflowed: false,
                    },
                );
                break;
            }
        }
    }
    let session = Session {
        sid,
        pid: Sid::from(session.pid.as_str()),
        rooms: session.rooms,
        data: http::Extensions::new(),
    };
    Some((session, missed.packets))
}

/// What a restore has read so far.
struct Missed<'a> {
    inner: &'a Inner,
    local: &'a dyn LocalSide,
    rooms: Vec<Room>,
    packets: Vec<Vec<sockeye_io::engine::Payload>>,
    /// The last entry read.
    last: StreamId,
    /// How many entries were read.
    read: usize,
}

impl Missed<'_> {
    /// Reads the entries after the last one, up to `end`, at most one
    /// reply's worth: `Some(true)` if any came, `Some(false)` if none;
    /// `None` when the broker failed or the entries are over the limit.
    async fn more(
        &mut self,
        shared: &Shared,
        conn: &mut redis::aio::MultiplexedConnection,
        end: &str,
    ) -> Option<bool> {
        let config = &shared.config;
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XRANGE")
            .arg(&config.stream_name)
            .arg(self.last.next().to_string())
            .arg(end)
            .arg("COUNT")
            .arg(config.read_count.max(1))
            .query_async(conn)
            .await;
        let entries = match reply {
            Ok(reply) => range_entries(reply).0,
            Err(e) => {
                shared.link.lost(&e).await;
                return None;
            }
        };
        self.read += entries.len();
        if self.read > config.restore_max_entries {
            tracing::info!(nsp = %self.inner.nsp, "redis streams adapter: too much missed to restore a session");
            return None;
        }
        let any = !entries.is_empty();
        for (id, fields) in entries {
            self.last = id.parse().ok()?;
            if let Some(packet) = missed_packet(self.inner, &id, &fields, &self.rooms) {
                self.packets.push(self.local.encode(&packet)?);
            }
        }
        Some(any)
    }
}

/// The packet of a broadcast entry of this namespace that reached a socket
/// in `rooms`, with its offset; `None` for any other entry.
fn missed_packet(
    inner: &Inner,
    id: &str,
    fields: &[(String, Vec<u8>)],
    rooms: &[Room],
) -> Option<Packet> {
    let entry =
        StreamEntry::from_fields(fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))).ok()?;
    if entry.kind != BROADCAST || entry.nsp != inner.nsp {
        return None;
    }
    let data = entry.data?;
    let entries = fields::map(&data, "data").ok()?;
    if fields::get(entries, "requestId").is_some() {
        return None;
    }
    let opts = fields::get(entries, "opts")
        .map(Opts::read)
        .transpose()
        .ok()?
        .unwrap_or_default()
        .to_broadcast_options();
    let within = opts.rooms.is_empty() || opts.rooms.iter().any(|r| rooms.contains(r));
    if !within || opts.except.iter().any(|r| rooms.contains(r)) || opts.flags.volatile {
        return None;
    }
    let mut packet = read_packet(fields::get(entries, "packet")?).ok()?;
    if packet.kind != PacketKind::Event || packet.id.is_some() {
        return None;
    }
    if let Some(Value::Array(args)) = &mut packet.data {
        args.push(Value::from(id));
    }
    Some(packet)
}

/// Writes queued entries and sessions in order, one at a time; a write
/// that fails is counted (a broadcast's is delivered here at once) and
/// the connection made again with backoff.
async fn write_loop(shared: Weak<Shared>, mut queued: mpsc::Receiver<Write>) {
    while let Some(write) = queued.recv().await {
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let config = &shared.config;
        let Some(mut conn) = shared.link.connection().await else {
            Counters::bump(&shared.counters.unpublished);
            deliver_fallback(write);
            continue;
        };
        let ttl = u64::try_from(config.max_disconnection_duration.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let cmd = match &write {
            Write::Add { fields, .. } => {
                let mut cmd = redis::cmd("XADD");
                cmd.arg(&config.stream_name)
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(config.max_len)
                    .arg("*");
                for (name, value) in fields {
                    cmd.arg(*name).arg(value);
                }
                cmd
            }
            Write::Set { key, value, kept } => {
                let mut cmd = redis::cmd("SET");
                cmd.arg(key).arg(value).arg("PX").arg(ttl);
                if *kept {
                    cmd.arg("XX");
                }
                cmd
            }
            Write::Del { key } => {
                let mut cmd = redis::cmd("DEL");
                cmd.arg(key);
                cmd
            }
        };
        let done: redis::RedisResult<redis::Value> = cmd.query_async(&mut conn).await;
        if let Err(e) = done {
            Counters::bump(&shared.counters.unpublished);
            shared.link.lost(&e).await;
            deliver_fallback(write);
        }
        drop(cmd);
    }
}

/// Follows the stream from its end when first connected, then from the
/// last entry read, also across a lost broker: what was added meanwhile
/// is read once the broker is back (as long as the stream still holds it).
async fn read_loop(shared: Weak<Shared>, link: Link) {
    let mut last: Option<String> = None;
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let config = Arc::clone(&strong.config);
        let Some(mut conn) = link.connection().await else {
            drop(strong);
            tokio::time::sleep(config.link.reconnect_min).await;
            continue;
        };
        let Some(from) = last.clone() else {
            let top: redis::RedisResult<redis::Value> = redis::cmd("XREVRANGE")
                .arg(&config.stream_name)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await;
            match top {
                Ok(top) => {
                    let top = range_entries(top)
                        .0
                        .into_iter()
                        .next()
                        .map_or_else(|| "0-0".to_owned(), |(id, _)| id);
                    *lock(&strong.reader) = top.parse().ok();
                    last = Some(top);
                }
                Err(e) => link.lost(&e).await,
            }
            continue;
        };
        drop(strong);
        let block = u64::try_from(config.block.as_millis()).unwrap_or(1000);
        let reply: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(config.read_count.max(1))
            .arg("BLOCK")
            .arg(block)
            .arg("STREAMS")
            .arg(&config.stream_name)
            .arg(&from)
            .query_async(&mut conn)
            .await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        match reply {
            Ok(reply) => {
                let (entries, bad) = read_entries(reply);
                for _ in 0..bad {
                    Counters::bump(&strong.counters.malformed);
                }
                for (id, fields) in entries {
                    let mut reader = lock(&strong.reader);
                    dispatch(&strong, &id, &fields);
                    if let Ok(at) = id.parse() {
                        *reader = Some(at);
                    }
                    drop(reader);
                    last = Some(id);
                }
            }
            Err(e) => {
                link.lost(&e).await;
                tokio::time::sleep(config.link.reconnect_min).await;
            }
        }
    }
}

/// Hands an entry to its namespace's adapter.
fn dispatch(shared: &Shared, id: &str, fields: &[(String, Vec<u8>)]) {
    let entry =
        match StreamEntry::from_fields(fields.iter().map(|(n, v)| (n.as_str(), v.as_slice()))) {
            Ok(entry) => entry,
            Err(e) => {
                Counters::bump(&shared.counters.malformed);
                tracing::debug!(error = %e, "redis streams adapter: malformed entry");
                return;
            }
        };
    let inner = lock(&shared.namespaces)
        .get(&entry.nsp)
        .and_then(Weak::upgrade);
    if let Some(inner) = inner {
        inner.on_entry(id, &entry, entry.uid == shared.uid);
    }
}

/// Renews the sessions of connected sockets every third of their
/// lifetime (`PEXPIRE`, pipelined a thousand at a time), so that they
/// outlive their server by that lifetime at most. A session another
/// server took meanwhile (its client came back there) is not brought back.
async fn renew_loop(shared: Weak<Shared>) {
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let every = (strong.config.max_disconnection_duration / 3).max(Duration::from_secs(1));
        drop(strong);
        tokio::time::sleep(every).await;
        let Some(strong) = shared.upgrade() else {
            return;
        };
        let config = Arc::clone(&strong.config);
        let keys: Vec<String> = lock(&strong.namespaces)
            .values()
            .filter_map(Weak::upgrade)
            .flat_map(|inner| {
                lock(&inner.tracked)
                    .values()
                    .map(|pid| StoredSession::key(&config.session_key_prefix, pid.as_str()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let ttl = u64::try_from(config.max_disconnection_duration.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        for chunk in keys.chunks(1000) {
            let Some(mut conn) = strong.link.connection().await else {
                break;
            };
            let mut pipe = redis::pipe();
            for key in chunk {
                pipe.cmd("PEXPIRE").arg(key).arg(ttl).ignore();
            }
            let done: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
            if let Err(e) = done {
                strong.link.lost(&e).await;
                break;
            }
        }
    }
}
