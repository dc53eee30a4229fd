//! [`RedisStreamsAdapters`] and [`RedisStreamsAdapter`]: broadcasts and
//! room operations through one Redis stream, as Node's
//! `@socket.io/redis-streams-adapter` writes and reads them, sessions
//! kept in Redis so that a client recovers on any server, and the
//! requests that need answers (fetching sockets, server-side events,
//! broadcasts with acks, the server count) over pub/sub, as Node's 0.3
//! sends them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{
    Adapter, BroadcastOptions, ClusterFuture, LocalAdapter, LocalSide, RemoteAcks, Restored, Room,
    SentPacket, ServerSideReplies, Session, SocketInfo,
};
use sockeye_io::parser::Packet;
use tokio::sync::mpsc;

use super::config::RedisStreamsConfig;
use super::entry::BROADCAST;
use super::restore::restore;
use super::session::StoredSession;
use super::state::{DISCONNECT_SOCKETS, Inner, SOCKETS_JOIN, SOCKETS_LEAVE, Shared, Write, lock};
use super::tasks::{read_loop, renew_loop, write_loop};
use crate::config::{RedisAdapterConfig, SubscriptionMode};
use crate::factory::SetupError;
use crate::fields;
use crate::link::Link;
use crate::opts::Opts;
use crate::packet::packet_value;
use crate::publisher::Publisher;
use crate::sharded::{ShardParts, ShardedRedisAdapter};
use crate::stats::{AdapterStats, Counters};
use crate::uid::{UID_LEN, uid};

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
/// What waits for answers does not go through the stream: each namespace
/// also listens on `k#n#` and `k#n#uid#` (key `k` from
/// [`link`](RedisStreamsConfig::link), Node's `channelPrefix`) with plain
/// pub/sub, or sharded with
/// [`use_sharded_pub_sub`](RedisStreamsConfig::use_sharded_pub_sub), and
/// counts servers by the subscribers of `k#n#`.
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
    requests: Arc<Requests>,
}

/// What each namespace's pub/sub side is made of: the requests that wait
/// for answers, as Node's 0.3 sends them.
#[derive(Debug)]
struct Requests {
    /// The broker over RESP3, on which subscriptions push their messages.
    resp3: redis::Client,
    publisher: Arc<Publisher>,
    config: Arc<RedisAdapterConfig>,
    sharded: bool,
    runtime: tokio::runtime::Handle,
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
        let mut info = client.get_connection_info().clone();
        info.redis.protocol = redis::ProtocolVersion::RESP3;
        let resp3 = redis::Client::open(info).map_err(SetupError::Url)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SetupError::NoRuntime)?;
        let counters = Arc::new(Counters::default());
        let link_config = Arc::new(config.link.clone());
        let link = Arc::new(Link::new(
            client.clone(),
            Arc::clone(&link_config),
            Arc::clone(&counters),
        ));
        let reader = Link::new(client, Arc::clone(&link_config), Arc::clone(&counters));
        let sharded_pub_sub = config.use_sharded_pub_sub;
        let publisher = Arc::new(Publisher::new(
            Arc::clone(&link),
            if sharded_pub_sub {
                "SPUBLISH"
            } else {
                "PUBLISH"
            },
            link_config.publish_queue,
            Arc::clone(&counters),
            &runtime,
        ));
        let requests = Arc::new(Requests {
            resp3,
            publisher,
            config: link_config,
            sharded: sharded_pub_sub,
            runtime: runtime.clone(),
        });
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
        Ok(Self { shared, requests })
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
        let requests = &self.requests;
        let requests = ShardedRedisAdapter::new(
            nsp,
            ShardParts {
                client: requests.resp3.clone(),
                link: Arc::clone(&self.shared.link),
                publisher: Arc::clone(&requests.publisher),
                config: Arc::clone(&requests.config),
                mode: SubscriptionMode::Static,
                sharded: requests.sharded,
                msgpack_only: true,
                counters: Arc::clone(&self.shared.counters),
                runtime: requests.runtime.clone(),
            },
        );
        Arc::new(RedisStreamsAdapter { inner, requests })
    }

    /// Faults counted so far: writes not made, reconnections, malformed
    /// entries.
    pub fn stats(&self) -> AdapterStats {
        self.shared.counters.snapshot()
    }

    /// The time of one `PING` to the broker and back, on the connection
    /// the adapters write on; `None` when the broker cannot be reached
    /// within the link's command timeout.
    pub async fn round_trip(&self) -> Option<Duration> {
        self.shared.link.round_trip().await
    }
}

/// One namespace's adapter: its rooms here, its entries in the stream,
/// its sessions in Redis, its requests over pub/sub.
#[derive(Debug)]
pub struct RedisStreamsAdapter {
    inner: Arc<Inner>,
    /// The pub/sub side, for what waits for answers; its rooms are unused
    /// (the stream's side holds them).
    requests: ShardedRedisAdapter,
}

impl Adapter for RedisStreamsAdapter {
    fn local_rooms(&self) -> &LocalAdapter {
        &self.inner.rooms
    }
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
        self.requests.bind(local.clone());
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

    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> ClusterFuture<RemoteAcks> {
        self.requests.broadcast_with_ack(packet, opts, timeout)
    }

    fn fetch_remote_sockets(&self, opts: &BroadcastOptions) -> ClusterFuture<Vec<SocketInfo>> {
        self.requests.fetch_remote_sockets(opts)
    }

    fn server_side_emit(&self, packet: &Packet) {
        self.requests.server_side_emit(packet);
    }

    fn server_side_emit_with_ack(&self, packet: &Packet) -> ClusterFuture<ServerSideReplies> {
        self.requests.server_side_emit_with_ack(packet)
    }

    fn server_count(&self) -> ClusterFuture<usize> {
        self.requests.server_count()
    }
}
