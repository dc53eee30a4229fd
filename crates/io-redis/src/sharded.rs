//! [`ShardedRedisAdapter`]: one namespace's adapter on Redis 7's sharded
//! pub/sub (`SSUBSCRIBE`/`SPUBLISH`), speaking the messages of Node's
//! `createShardedAdapter` (`socket.io-adapter`'s `ClusterAdapter`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, Weak};
use std::time::Duration;

use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{
    Adapter, BroadcastOptions, ClusterFuture, LocalAdapter, LocalSide, RemoteAcks, Room,
    ServerSideReplies, ServerSideReply, SocketInfo,
};
use sockeye_io::parser::{Packet, PacketKind};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::cluster_message::{ClusterMessage, MessageType};
use crate::config::{RedisAdapterConfig, SubscriptionMode};
use crate::error::WireError;
use crate::fields;
use crate::handshake::RemoteSocket;
use crate::kind::RequestKind;
use crate::link::Link;
use crate::opts::Opts;
use crate::packet::{packet_value, read_packet};
use crate::pending::Pending;
use crate::publisher::Publisher;
use crate::response::Response;
use crate::stats::{AckWait, Counters};
use crate::subscription::{self, Channels, Listener, RoomChange};
use crate::uid::{UID_LEN, uid};

/// How many room channel changes may wait for the subscription task; past
/// that a change is dropped (logged), and the next connection made holds
/// the right set anyway.
const ROOM_CHANGES: usize = 1024;

/// The adapter of one namespace on sharded pub/sub, made by
/// [`RedisAdapters::make`](crate::RedisAdapters::make) when the config's
/// [`mode`](RedisAdapterConfig::mode) is
/// [`Mode::Sharded`](crate::Mode::Sharded).
///
/// With key `k`, namespace `n` and node id `u`, it listens on `k#n#` and
/// `k#n#u#`, and in the dynamic modes on `k#n#room#` for each room it
/// holds; it publishes a broadcast to one room on that room's channel,
/// everything else on `k#n#`, and answers on the asker's `k#n#u#`. Servers
/// are counted by `PUBSUB SHARDNUMSUB k#n#`. It carries what
/// [`RedisAdapter`](crate::RedisAdapter) carries, but the rooms of every
/// server, which Node's sharded adapter does not ask for.
#[derive(Debug)]
pub struct ShardedRedisAdapter {
    inner: Arc<Inner>,
    subscription: AbortHandle,
}

pub(crate) struct Inner {
    nsp: Arc<str>,
    uid: String,
    /// `k#n#`.
    channel: String,
    own_channel: String,
    mode: SubscriptionMode,
    /// Sharded pub/sub, or plain (see [`ShardParts::sharded`]).
    sharded: bool,
    /// Every message in msgpack (see [`ShardParts::msgpack_only`]).
    msgpack_only: bool,
    rooms: LocalAdapter,
    /// How many sockets are in each room here, to know when one is made
    /// or emptied (and its channel subscribed or left).
    counts: Mutex<HashMap<Room, usize>>,
    channels: Arc<Channels>,
    changes: mpsc::Sender<RoomChange>,
    local: OnceLock<Weak<dyn LocalSide>>,
    link: Arc<Link>,
    publisher: Arc<Publisher>,
    pending: Pending,
    config: Arc<RedisAdapterConfig>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("nsp", &self.nsp)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

/// What a [`ShardedRedisAdapter`] is made of, from its factory.
pub(crate) struct ShardParts {
    /// A client speaking RESP3, for the subscription.
    pub(crate) client: redis::Client,
    pub(crate) link: Arc<Link>,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) config: Arc<RedisAdapterConfig>,
    pub(crate) mode: SubscriptionMode,
    /// Whether the channels are Redis 7's sharded ones (`SSUBSCRIBE`,
    /// `SHARDNUMSUB`) or plain pub/sub (`SUBSCRIBE`, `NUMSUB`), as the
    /// Streams adapter uses by default; the publisher must match.
    pub(crate) sharded: bool,
    /// Whether every message is written in msgpack (the Streams adapter's
    /// pub/sub side) instead of JSON unless it carries binary (the
    /// sharded adapter's).
    pub(crate) msgpack_only: bool,
    pub(crate) counters: Arc<Counters>,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl ShardedRedisAdapter {
    /// The adapter of namespace `nsp`; its subscription starts at once.
    pub(crate) fn new(nsp: &str, parts: ShardParts) -> Self {
        let me = uid(UID_LEN);
        let channel = format!("{}#{nsp}#", parts.config.key);
        let own_channel = format!("{channel}{me}#");
        let subscribe = if parts.sharded {
            "SSUBSCRIBE"
        } else {
            "SUBSCRIBE"
        };
        let channels = Arc::new(Channels {
            fixed: vec![
                (subscribe, channel.clone()),
                (subscribe, own_channel.clone()),
            ],
            rooms: Mutex::default(),
        });
        let (changes, changes_rx) = mpsc::channel(ROOM_CHANGES);
        let inner = Arc::new(Inner {
            nsp: nsp.into(),
            uid: me,
            channel,
            own_channel,
            mode: parts.mode,
            sharded: parts.sharded,
            msgpack_only: parts.msgpack_only,
            rooms: LocalAdapter::new(),
            counts: Mutex::default(),
            channels: Arc::clone(&channels),
            changes,
            local: OnceLock::new(),
            link: parts.link,
            publisher: parts.publisher,
            pending: Pending::new(parts.config.max_in_flight),
            config: Arc::clone(&parts.config),
            counters: Arc::clone(&parts.counters),
        });
        let subscription = parts
            .runtime
            .spawn(subscription::run(
                parts.client,
                channels,
                Some(changes_rx),
                Arc::downgrade(&inner),
                parts.config,
                parts.counters,
            ))
            .abort_handle();
        Self {
            inner,
            subscription,
        }
    }

    /// This server's node id for the namespace.
    pub fn uid(&self) -> &str {
        &self.inner.uid
    }
}

impl Drop for ShardedRedisAdapter {
    fn drop(&mut self) {
        self.subscription.abort();
    }
}

/// `message`'s bytes: msgpack with `msgpack_only`, else JSON unless it
/// carries binary.
fn encode(message: &ClusterMessage, msgpack_only: bool) -> Vec<u8> {
    if msgpack_only {
        message.encode_msgpack()
    } else {
        message.encode()
    }
}

/// Whether a room name looks like a Node socket id (20 characters), which
/// the dynamic mode keeps on the namespace's channel.
fn looks_like_a_socket_id(room: &str) -> bool {
    room.len() == 20
}

impl Inner {
    fn local(&self) -> Option<Arc<dyn LocalSide>> {
        self.local.get().and_then(Weak::upgrade)
    }

    /// Whether `room` has a channel of its own.
    ///
    /// In the dynamic mode, Node publishes a broadcast to one room on the
    /// room's channel unless the name looks like a Node socket id (20
    /// characters), and its servers listen to the rooms that are not
    /// their own sockets'. sockeye-io's socket ids have 22 characters, so
    /// a Node server sends a broadcast to one of them on its own channel:
    /// here every room but those that look like Node's ids has one, its
    /// sockets' own rooms included.
    fn has_own_channel(&self, room: &str) -> bool {
        match self.mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !looks_like_a_socket_id(room),
            SubscriptionMode::DynamicPrivate => true,
        }
    }

    fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Subscribes to or leaves a room's channel.
    fn change(&self, change: RoomChange) {
        {
            let mut rooms = self
                .channels
                .rooms
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match &change {
                RoomChange::Subscribe(channel) => rooms.insert(channel.clone()),
                RoomChange::Unsubscribe(channel) => rooms.remove(channel),
            };
        }
        if self.changes.try_send(change).is_err() {
            tracing::warn!(nsp = %self.nsp, "redis adapter: a room channel change is dropped (too many pending)");
        }
    }

    /// A socket is now in `rooms` (it was not before): rooms made here get
    /// their channel.
    fn rooms_joined(&self, rooms: &[Room]) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for room in rooms {
            let count = counts.entry(room.clone()).or_insert(0);
            *count += 1;
            if *count == 1 && self.has_own_channel(room) {
                self.change(RoomChange::Subscribe(self.room_channel(room)));
            }
        }
    }

    /// A socket left `rooms` (it was in them): rooms emptied here lose
    /// their channel.
    fn rooms_left(&self, rooms: &[Room]) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for room in rooms {
            let Some(count) = counts.get_mut(room) else {
                continue;
            };
            *count -= 1;
            if *count == 0 {
                counts.remove(room);
                if self.has_own_channel(room) {
                    self.change(RoomChange::Unsubscribe(self.room_channel(room)));
                }
            }
        }
    }

    async fn server_count(&self) -> usize {
        self.link
            .numsub(&self.channel, self.sharded)
            .await
            .unwrap_or(1)
            .max(1)
    }

    /// Publishes a message of this server on `channel`.
    fn publish_on(&self, channel: String, kind: MessageType, data: Value) {
        let message = ClusterMessage {
            kind,
            data,
            uid: self.uid.clone(),
            nsp: self.nsp.to_string(),
        };
        self.publisher
            .publish(channel, encode(&message, self.msgpack_only));
    }

    /// Publishes a message of this server on the namespace's channel.
    fn publish(&self, kind: MessageType, data: Value) {
        self.publish_on(self.channel.clone(), kind, data);
    }

    /// Answers the server `to` on its own channel.
    fn respond(&self, to: &str, kind: MessageType, data: Value) {
        self.publish_on(format!("{}{to}#", self.channel), kind, data);
    }

    /// Sends the request `data` (given a new request id) and waits for
    /// each other server's answers, up to `timeout`.
    async fn request(
        self: Arc<Self>,
        kind: RequestKind,
        message: MessageType,
        timeout: Duration,
        data: impl FnOnce(String) -> Value,
    ) -> (Vec<Response>, bool) {
        let others = self.server_count().await - 1;
        if others == 0 {
            return (Vec::new(), true);
        }
        let request_id = uid(UID_LEN);
        let Some(done) = self.pending.open(&request_id, kind, others) else {
            Counters::bump(&self.counters.refused_requests);
            tracing::warn!(nsp = %self.nsp, ?kind, "redis adapter: too many requests in flight; this one is not sent");
            return (Vec::new(), false);
        };
        self.publish(message, data(request_id.clone()));
        let _ = tokio::time::timeout(timeout, done).await;
        let (answers, complete) = self.pending.close(&request_id);
        if !complete {
            Counters::bump(&self.counters.timed_out_requests);
            tracing::warn!(nsp = %self.nsp, ?kind, expected = others, received = answers.len(),
                "redis adapter: timeout reached while waiting for the other servers' answers");
        }
        (answers, complete)
    }

    fn malformed(&self, error: &WireError) {
        Counters::bump(&self.counters.malformed);
        tracing::debug!(nsp = %self.nsp, %error, "redis adapter: a malformed message is dropped");
    }

    /// A packet from another server, checked as an event of this
    /// namespace, its ack id dropped.
    fn event_here(&self, value: Option<&Value>) -> Option<Packet> {
        let mut packet = match value.map(read_packet) {
            Some(Ok(packet)) => packet,
            Some(Err(e)) => {
                self.malformed(&e);
                return None;
            }
            None => return None,
        };
        packet.id = None;
        (packet.kind == PacketKind::Event && packet.nsp == *self.nsp).then_some(packet)
    }

    /// A message from another server on the namespace's or a room's
    /// channel.
    fn on_cluster_message(&self, message: &ClusterMessage) {
        let Some(local) = self.local() else {
            return;
        };
        let entries = message.entries();
        let opts = || {
            fields::get(entries, "opts")
                .map(Opts::read)
                .transpose()
                .map(|o| o.unwrap_or_default().to_broadcast_options())
        };
        let request_id = fields::get(entries, "requestId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let rooms = || fields::rooms(entries, "rooms");
        let result = match message.kind {
            MessageType::Broadcast => {
                let Some(packet) = self.event_here(fields::get(entries, "packet")) else {
                    return;
                };
                opts().map(|opts| match request_id {
                    None => local.broadcast(&packet, &opts),
                    Some(request_id) => {
                        self.broadcast_with_ack_here(
                            &*local,
                            &message.uid,
                            request_id,
                            &packet,
                            &opts,
                            entries,
                        );
                    }
                })
            }
            MessageType::SocketsJoin => opts().and_then(|o| rooms().map(|r| local.join(&o, &r))),
            MessageType::SocketsLeave => opts().and_then(|o| rooms().map(|r| local.leave(&o, &r))),
            MessageType::DisconnectSockets => opts().map(|o| {
                let close = fields::get(entries, "close")
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                local.disconnect(&o, close);
            }),
            MessageType::FetchSockets => opts().map(|o| {
                let sockets = local
                    .sockets(&o)
                    .iter()
                    .map(|info| {
                        let data = match &info.data {
                            Value::Nil => Value::Map(Vec::new()),
                            data => data.clone(),
                        };
                        RemoteSocket::new(info, data, false).to_value()
                    })
                    .collect();
                self.respond(
                    &message.uid,
                    MessageType::FetchSocketsResponse,
                    fields::object(vec![
                        ("requestId", Value::from(request_id.unwrap_or_default())),
                        ("sockets", Value::Array(sockets)),
                    ]),
                );
            }),
            MessageType::ServerSideEmit => {
                self.server_side_emit_here(&*local, &message.uid, request_id, entries);
                Ok(())
            }
            MessageType::FetchSocketsResponse
            | MessageType::ServerSideEmitResponse
            | MessageType::BroadcastClientCount
            | MessageType::BroadcastAck => {
                self.on_response(message);
                Ok(())
            }
        };
        if let Err(e) = result {
            self.malformed(&e);
        }
    }

    fn server_side_emit_here(
        &self,
        local: &dyn LocalSide,
        from: &str,
        request_id: Option<String>,
        entries: &[(Value, Value)],
    ) {
        let Some(Value::Array(items)) = fields::get(entries, "packet") else {
            return;
        };
        let mut items = items.clone().into_iter();
        let Some(name) = items.next().and_then(|v| v.as_str().map(str::to_owned)) else {
            return;
        };
        let packet = Packet::event(&*self.nsp, &name, items.collect());
        let Some(request_id) = request_id else {
            return local.server_side_event(&packet);
        };
        let publisher = Arc::clone(&self.publisher);
        let (uid, nsp) = (self.uid.clone(), self.nsp.to_string());
        let channel = format!("{}{from}#", self.channel);
        let msgpack_only = self.msgpack_only;
        let reply = ServerSideReply::new(move |answer| {
            let message = ClusterMessage {
                kind: MessageType::ServerSideEmitResponse,
                data: fields::object(vec![
                    ("requestId", Value::from(request_id)),
                    ("packet", answer),
                ]),
                uid,
                nsp,
            };
            publisher.publish(channel, encode(&message, msgpack_only));
        });
        local.server_side_event_with_ack(&packet, reply);
    }

    fn broadcast_with_ack_here(
        &self,
        local: &dyn LocalSide,
        from: &str,
        request_id: String,
        packet: &Packet,
        opts: &BroadcastOptions,
        entries: &[(Value, Value)],
    ) {
        let timeout = fields::get(entries, "opts")
            .and_then(|o| fields::map(o, "opts").ok())
            .and_then(|o| fields::get(o, "flags"))
            .and_then(|f| fields::map(f, "flags").ok())
            .and_then(|f| fields::get(f, "timeout"))
            .and_then(fields::as_uint)
            .map_or(self.config.request_timeout, Duration::from_millis)
            .min(self.config.max_ack_wait);
        let channel = format!("{}{from}#", self.channel);
        let Some(wait) = self
            .counters
            .enter_ack_wait(self.config.max_remote_ack_waits)
        else {
            tracing::warn!(nsp = %self.nsp, "redis adapter: too many broadcasts with acks waited on; one is delivered without");
            self.publish_on(
                channel,
                MessageType::BroadcastClientCount,
                fields::object(vec![
                    ("requestId", Value::from(request_id)),
                    ("clientCount", Value::from(0_u64)),
                ]),
            );
            local.broadcast(packet, opts);
            return;
        };
        let message = |kind, data| ClusterMessage {
            kind,
            data,
            uid: self.uid.clone(),
            nsp: self.nsp.to_string(),
        };
        let msgpack_only = self.msgpack_only;
        let count_message = message(MessageType::BroadcastClientCount, Value::Nil);
        let ack_message = message(MessageType::BroadcastAck, Value::Nil);
        let (publisher, id, to) = (
            Arc::clone(&self.publisher),
            request_id.clone(),
            channel.clone(),
        );
        let on_count = Box::new(move |count: usize| {
            let mut message = count_message;
            message.data = fields::object(vec![
                ("requestId", Value::from(id)),
                ("clientCount", Value::from(count as u64)),
            ]);
            publisher.publish(to, encode(&message, msgpack_only));
        });
        let publisher = Arc::clone(&self.publisher);
        let on_ack = Arc::new(move |answer: Value| {
            // Held while acks may come; dropped with the last of them.
            let _held: &AckWait = &wait;
            let mut message = ack_message.clone();
            message.data = fields::object(vec![
                ("requestId", Value::from(request_id.as_str())),
                ("packet", answer),
            ]);
            publisher.publish(channel.clone(), encode(&message, msgpack_only));
        });
        local.broadcast_with_ack(packet, opts, timeout, on_count, on_ack);
    }

    /// An answer to one of this server's requests.
    fn on_response(&self, message: &ClusterMessage) {
        let entries = message.entries();
        let Some(request_id) = fields::get(entries, "requestId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let response = match message.kind {
            MessageType::FetchSocketsResponse => {
                let sockets = match fields::get(entries, "sockets") {
                    Some(Value::Array(items)) => items.iter().map(RemoteSocket::read).collect(),
                    _ => Ok(Vec::new()),
                };
                match sockets {
                    Ok(sockets) => Response::RemoteFetch {
                        request_id,
                        sockets,
                    },
                    Err(e) => return self.malformed(&e),
                }
            }
            MessageType::ServerSideEmitResponse => Response::ServerSideEmit {
                request_id,
                data: fields::get(entries, "packet").cloned(),
            },
            MessageType::BroadcastClientCount => Response::BroadcastClientCount {
                request_id,
                client_count: fields::get(entries, "clientCount")
                    .and_then(fields::as_uint)
                    .unwrap_or(0),
            },
            MessageType::BroadcastAck => Response::BroadcastAck {
                request_id,
                packet: fields::get(entries, "packet")
                    .cloned()
                    .unwrap_or(Value::Nil),
            },
            _ => return,
        };
        self.pending.answer(response);
    }
}

impl Listener for Inner {
    fn on_message(&self, channel: &str, payload: &[u8]) {
        let message = match ClusterMessage::decode(payload) {
            Ok(Some(message)) => message,
            Ok(None) => return,
            Err(e) => return self.malformed(&e),
        };
        if message.uid == self.uid || message.nsp != *self.nsp {
            return;
        }
        if channel == self.own_channel {
            self.on_response(&message);
        } else {
            self.on_cluster_message(&message);
        }
    }
}

impl Adapter for ShardedRedisAdapter {
    fn local_rooms(&self) -> &LocalAdapter {
        &self.inner.rooms
    }
    fn join(&self, sid: &Sid, rooms: &[Room]) {
        let held = self.inner.rooms.rooms_of(sid);
        let new: Vec<Room> = rooms
            .iter()
            .filter(|room| !held.contains(room))
            .cloned()
            .collect();
        self.inner.rooms.join(sid, rooms);
        self.inner.rooms_joined(&new);
    }

    fn leave(&self, sid: &Sid, room: &str) {
        let held = self.inner.rooms.rooms_of(sid);
        self.inner.rooms.leave(sid, room);
        if let Some(room) = held.into_iter().find(|r| &**r == room) {
            self.inner.rooms_left(&[room]);
        }
    }

    fn leave_all(&self, sid: &Sid) {
        let held = self.inner.rooms.rooms_of(sid);
        self.inner.rooms.leave_all(sid);
        self.inner.rooms_left(&held);
    }

    fn bind(&self, local: Weak<dyn LocalSide>) {
        let _ = self.inner.local.set(local);
    }

    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let inner = &self.inner;
        let channel = match (inner.mode, opts.rooms.as_slice()) {
            (SubscriptionMode::Dynamic, [room]) if !looks_like_a_socket_id(room) => {
                inner.room_channel(room)
            }
            (SubscriptionMode::DynamicPrivate, [room]) => inner.room_channel(room),
            _ => inner.channel.clone(),
        };
        let data = fields::object(vec![
            ("packet", packet_value(packet)),
            ("opts", Opts::from(opts).to_value()),
        ]);
        inner.publish_on(channel, MessageType::Broadcast, data);
    }

    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> ClusterFuture<RemoteAcks> {
        let inner = Arc::clone(&self.inner);
        let packet = packet_value(packet);
        let mut opts = Opts::from(opts);
        opts.flags.timeout = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        Box::pin(async move {
            let (answers, complete) = inner
                .request(
                    RequestKind::Broadcast,
                    MessageType::Broadcast,
                    timeout,
                    |id| {
                        fields::object(vec![
                            ("packet", packet),
                            ("requestId", Value::from(id)),
                            ("opts", opts.to_value()),
                        ])
                    },
                )
                .await;
            let acks = answers
                .into_iter()
                .filter_map(|answer| match answer {
                    Response::BroadcastAck { packet, .. } => Some(packet),
                    _ => None,
                })
                .collect();
            RemoteAcks { acks, complete }
        })
    }

    fn remote_join(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.inner.publish(
            MessageType::SocketsJoin,
            fields::object(vec![
                ("opts", Opts::from(opts).to_value()),
                ("rooms", fields::room_array(rooms)),
            ]),
        );
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.inner.publish(
            MessageType::SocketsLeave,
            fields::object(vec![
                ("opts", Opts::from(opts).to_value()),
                ("rooms", fields::room_array(rooms)),
            ]),
        );
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.inner.publish(
            MessageType::DisconnectSockets,
            fields::object(vec![
                ("opts", Opts::from(opts).to_value()),
                ("close", Value::Boolean(close)),
            ]),
        );
    }

    fn fetch_remote_sockets(&self, opts: &BroadcastOptions) -> ClusterFuture<Vec<SocketInfo>> {
        let inner = Arc::clone(&self.inner);
        let opts = Opts::from(opts).to_value();
        Box::pin(async move {
            let nsp = Arc::clone(&inner.nsp);
            let timeout = inner.config.request_timeout;
            let (answers, _) = inner
                .request(
                    RequestKind::RemoteFetch,
                    MessageType::FetchSockets,
                    timeout,
                    |id| fields::object(vec![("opts", opts), ("requestId", Value::from(id))]),
                )
                .await;
            answers
                .into_iter()
                .filter_map(|answer| match answer {
                    Response::RemoteFetch { sockets, .. } => Some(sockets),
                    _ => None,
                })
                .flatten()
                .map(|socket| socket.to_info(&nsp))
                .collect()
        })
    }

    fn server_side_emit(&self, packet: &Packet) {
        if let Some(data) = packet.data.clone() {
            self.inner.publish(
                MessageType::ServerSideEmit,
                fields::object(vec![("packet", data)]),
            );
        }
    }

    fn server_side_emit_with_ack(&self, packet: &Packet) -> ClusterFuture<ServerSideReplies> {
        let inner = Arc::clone(&self.inner);
        let data = packet.data.clone().unwrap_or(Value::Array(Vec::new()));
        Box::pin(async move {
            let timeout = inner.config.request_timeout;
            let (answers, complete) = inner
                .request(
                    RequestKind::ServerSideEmit,
                    MessageType::ServerSideEmit,
                    timeout,
                    |id| fields::object(vec![("packet", data), ("requestId", Value::from(id))]),
                )
                .await;
            let replies = answers
                .into_iter()
                .filter_map(|answer| match answer {
                    Response::ServerSideEmit { data, .. } => Some(data.unwrap_or(Value::Nil)),
                    _ => None,
                })
                .collect();
            ServerSideReplies { replies, complete }
        })
    }

    fn server_count(&self) -> ClusterFuture<usize> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.server_count().await })
    }
}
