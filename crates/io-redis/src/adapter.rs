//! [`RedisAdapter`]: one namespace's adapter, which makes this server one
//! of a cluster of sockeye-io and Node socket.io servers on Redis.

use std::collections::HashSet;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use sockeye_io::Value;
use sockeye_io::adapter::{
    Adapter, BroadcastOptions, ClusterFuture, LocalAdapter, LocalSide, RemoteAcks, Room,
    ServerSideReplies, ServerSideReply, SocketInfo,
};
use sockeye_io::parser::{Packet, PacketKind};
use tokio::task::AbortHandle;

use crate::broadcast::Broadcast;
use crate::channels::Channels;
use crate::config::RedisAdapterConfig;
use crate::handshake::RemoteSocket;
use crate::kind::RequestKind;
use crate::link::Link;
use crate::opts::Opts;
use crate::pending::Pending;
use crate::publisher::Publisher;
use crate::request::Request;
use crate::response::Response;
use crate::stats::{AckWait, Counters};
use crate::subscription::{self, Listener};
use crate::uid::{UID_LEN, uid};

/// The adapter of one namespace, made by
/// [`RedisAdapters::make`](crate::RedisAdapters::make).
///
/// Rooms live in memory, as with [`LocalAdapter`], to which it leaves them
/// (and recovery). What the namespace does to its own sockets it carries
/// to the other servers as Node's adapter does; what they send, it does
/// here:
///
/// | from this server | published as |
/// |---|---|
/// | a broadcast | `[uid, packet, opts]` on `key#nsp#` (`key#nsp#room#` for one room) |
/// | a broadcast with acks | a `BROADCAST` request (msgpack), gathering each server's client count and its clients' acks |
/// | join, leave, disconnect | `REMOTE_JOIN`, `REMOTE_LEAVE`, `REMOTE_DISCONNECT` requests |
/// | `fetch_sockets()` | a `REMOTE_FETCH` request, waiting for every other server's answer |
/// | a server-side emit | a `SERVER_SIDE_EMIT` request (with a `requestId` when it wants replies) |
/// | the server count | `PUBSUB NUMSUB key-request#nsp#` |
///
/// It answers `SOCKETS`, `ALL_ROOMS`, `REMOTE_FETCH` and `SERVER_SIDE_EMIT`
/// with acks (through the handler given to
/// [`Namespace::on_server_side_with_ack`](sockeye_io::Namespace::on_server_side_with_ack)),
/// and acts on `REMOTE_JOIN`, `REMOTE_LEAVE`, `REMOTE_DISCONNECT` and
/// `SERVER_SIDE_EMIT`. A broadcast with acks from another server
/// (`BROADCAST`) reaches this server's sockets, and it answers with their
/// count and then each one's ack (`BROADCAST_CLIENT_COUNT`,
/// `BROADCAST_ACK`); its own, sent with
/// [`emit_with_ack_everywhere`](sockeye_io::BroadcastOperator::emit_with_ack_everywhere),
/// is a `BROADCAST` request whose counts and acks it gathers.
#[derive(Debug)]
pub struct RedisAdapter {
    inner: Arc<Inner>,
    subscription: AbortHandle,
}

/// What the adapter and its subscription share.
pub(crate) struct Inner {
    nsp: Arc<str>,
    /// This adapter's node id: what the other servers know it by.
    uid: String,
    channels: Channels,
    rooms: LocalAdapter,
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

/// What a [`RedisAdapter`] is made of, from its factory.
pub(crate) struct Parts {
    /// A client speaking RESP3, for the subscription.
    pub(crate) client: redis::Client,
    pub(crate) link: Arc<Link>,
    pub(crate) publisher: Arc<Publisher>,
    pub(crate) config: Arc<RedisAdapterConfig>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) runtime: tokio::runtime::Handle,
}

impl RedisAdapter {
    /// The adapter of namespace `nsp`; its subscription starts at once on
    /// the factory's runtime.
    pub(crate) fn new(nsp: &str, parts: Parts) -> Self {
        let me = uid(UID_LEN);
        let channels = Channels::new(&parts.config.key, nsp, &me);
        let inner = Arc::new(Inner {
            nsp: nsp.into(),
            uid: me,
            channels: channels.clone(),
            rooms: LocalAdapter::new(),
            local: OnceLock::new(),
            link: parts.link,
            publisher: parts.publisher,
            pending: Pending::new(parts.config.max_in_flight),
            config: Arc::clone(&parts.config),
            counters: Arc::clone(&parts.counters),
        });
        let subscribed = Arc::new(subscription::Channels {
            fixed: vec![
                ("PSUBSCRIBE", channels.pattern()),
                ("SUBSCRIBE", channels.request().to_owned()),
                ("SUBSCRIBE", channels.response().to_owned()),
                ("SUBSCRIBE", channels.own_response().to_owned()),
            ],
            rooms: std::sync::Mutex::default(),
        });
        let subscription = parts
            .runtime
            .spawn(subscription::run(
                parts.client,
                subscribed,
                None,
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

    /// How many servers share the namespace, this one included (`PUBSUB
    /// NUMSUB` of the request channel, as Node counts); 1 when the broker
    /// cannot say.
    pub async fn server_count(&self) -> usize {
        self.inner.server_count().await
    }
}

impl Drop for RedisAdapter {
    fn drop(&mut self) {
        self.subscription.abort();
    }
}

impl Inner {
    /// This server's side of the namespace, while it is there.
    fn local(&self) -> Option<Arc<dyn LocalSide>> {
        self.local.get().and_then(Weak::upgrade)
    }

    async fn server_count(&self) -> usize {
        self.link
            .numsub(self.channels.request(), false)
            .await
            .unwrap_or(1)
            .max(1)
    }

    /// Sends the request `make` builds (given this node's id and a new
    /// request id) to the other servers and waits for each one's answer,
    /// up to the request timeout; gives what arrived, and whether it was
    /// every other server's answer.
    async fn request(
        self: Arc<Self>,
        kind: RequestKind,
        make: impl FnOnce(String, String) -> Request,
    ) -> (Vec<Response>, bool) {
        let timeout = self.config.request_timeout;
        self.request_within(kind, timeout, make).await
    }

    /// As [`request`](Self::request), waiting up to `timeout`.
    async fn request_within(
        self: Arc<Self>,
        kind: RequestKind,
        timeout: Duration,
        make: impl FnOnce(String, String) -> Request,
    ) -> (Vec<Response>, bool) {
        let others = self.server_count().await - 1;
        if others == 0 {
            return (Vec::new(), true);
        }
        let request_id = uid(UID_LEN);
        let Some(done) = self.pending.open(&request_id, kind, others) else {
            Counters::bump(&self.counters.refused_requests);
            tracing::warn!(nsp = %self.nsp, ?kind, limit = self.config.max_in_flight,
                "redis adapter: too many requests in flight; this one is not sent");
            return (Vec::new(), false);
        };
        let request = make(self.uid.clone(), request_id.clone());
        self.publisher
            .publish(self.channels.request().to_owned(), request.encode());
        let _ = tokio::time::timeout(timeout, done).await;
        let (answers, complete) = self.pending.close(&request_id);
        if !complete {
            Counters::bump(&self.counters.timed_out_requests);
            tracing::warn!(nsp = %self.nsp, ?kind, expected = others, received = answers.len(),
                "redis adapter: timeout reached while waiting for the other servers' answers");
        }
        (answers, complete)
    }

    /// Publishes a request that wants no answer.
    fn tell(&self, request: &Request) {
        self.publisher
            .publish(self.channels.request().to_owned(), request.encode());
    }

    /// Answers the server `to` (on the shared response channel unless
    /// configured otherwise, as Node does).
    fn respond(&self, to: &str, response: &Response) {
        self.publisher
            .publish(self.response_channel(to), response.encode());
    }

    /// Where answers to the server `to` go.
    fn response_channel(&self, to: &str) -> String {
        if self.config.publish_on_specific_response_channel {
            self.channels.response_to(to)
        } else {
            self.channels.response().to_owned()
        }
    }

    fn malformed(&self, what: &str, error: &crate::error::WireError) {
        Counters::bump(&self.counters.malformed);
        tracing::debug!(nsp = %self.nsp, %error, "redis adapter: a malformed {what} is dropped");
    }

    /// A broadcast from another server, received on the channel of `room`
    /// (`""` for the whole namespace).
    fn on_broadcast(&self, room: &str, payload: &[u8]) {
        // Node drops a one-room broadcast for a room it does not hold before
        // decoding it; so does this.
        if !room.is_empty() {
            let mut held = false;
            self.rooms
                .for_each_selected(&[Room::from(room)], &[], &mut |_| held = true);
            if !held {
                return;
            }
        }
        let mut broadcast = match Broadcast::decode(payload) {
            Ok(broadcast) => broadcast,
            Err(e) => return self.malformed("broadcast", &e),
        };
        if broadcast.uid == self.uid || !self.is_event_here(&mut broadcast.packet) {
            return;
        }
        if let Some(local) = self.local() {
            local.broadcast(&broadcast.packet, &broadcast.opts.to_broadcast_options());
        }
    }

    /// Whether `packet`, from another server, is an event of this
    /// namespace; its ack id, if any, is dropped. Only events are
    /// broadcast: another server must not make this server's clients see a
    /// CONNECT, a DISCONNECT or an ack they never asked for.
    fn is_event_here(&self, packet: &mut Packet) -> bool {
        packet.id = None;
        if packet.kind != PacketKind::Event {
            Counters::bump(&self.counters.malformed);
            tracing::debug!(nsp = %self.nsp, kind = ?packet.kind,
                "redis adapter: a broadcast of a packet that is no event is dropped");
            return false;
        }
        packet.nsp == *self.nsp
    }

    /// A request from another server.
    fn on_request(&self, payload: &[u8]) {
        let request = match Request::decode(payload) {
            Ok(request) => request,
            Err(e) => return self.malformed("request", &e),
        };
        if request.uid() == self.uid {
            return;
        }
        let Some(local) = self.local() else {
            return;
        };
        match request {
            Request::Sockets {
                uid,
                request_id,
                rooms,
            } => {
                let sockets = self
                    .rooms
                    .select(&rooms, &[])
                    .iter()
                    .map(|sid| sid.as_str().to_owned())
                    .collect();
                self.respond(
                    &uid,
                    &Response::Sockets {
                        request_id,
                        sockets,
                    },
                );
            }
            Request::AllRooms { uid, request_id } => {
                let rooms = self.rooms.rooms();
                self.respond(&uid, &Response::AllRooms { request_id, rooms });
            }
            Request::RemoteJoin { opts, rooms, .. } => {
                local.join(&opts.to_broadcast_options(), &rooms);
            }
            Request::RemoteLeave { opts, rooms, .. } => {
                local.leave(&opts.to_broadcast_options(), &rooms);
            }
            Request::RemoteDisconnect { opts, close, .. } => {
                local.disconnect(&opts.to_broadcast_options(), close);
            }
            Request::RemoteFetch {
                uid,
                request_id,
                opts,
            } => {
                let sockets = local
                    .sockets(&opts.to_broadcast_options())
                    .iter()
                    .map(|info| {
                        // Node's `socket.data` is `{}` until set.
                        let data = match &info.data {
                            Value::Nil => Value::Map(Vec::new()),
                            data => data.clone(),
                        };
                        RemoteSocket::new(info, data, false)
                    })
                    .collect();
                self.respond(
                    &uid,
                    &Response::RemoteFetch {
                        request_id,
                        sockets,
                    },
                );
            }
            Request::ServerSideEmit {
                uid,
                request_id,
                data,
            } => self.on_server_side_emit(&*local, &uid, request_id, data),
            Request::Broadcast {
                uid,
                request_id,
                packet,
                opts,
            } => self.on_broadcast_with_ack(&*local, &uid, request_id, packet, &opts),
        }
    }

    /// A server-side event from another server; with a request id, the
    /// handler's reply goes back to it.
    fn on_server_side_emit(
        &self,
        local: &dyn LocalSide,
        uid: &str,
        request_id: Option<String>,
        data: Vec<Value>,
    ) {
        let mut items = data.into_iter();
        let Some(Value::String(name)) = items.next() else {
            return;
        };
        let Some(name) = name.into_str() else {
            return;
        };
        let packet = Packet::event(&*self.nsp, &name, items.collect());
        let Some(request_id) = request_id else {
            return local.server_side_event(&packet);
        };
        let publisher = Arc::clone(&self.publisher);
        let channel = self.response_channel(uid);
        let reply = ServerSideReply::new(move |data| {
            let response = Response::ServerSideEmit {
                request_id,
                data: Some(data),
            };
            publisher.publish(channel, response.encode());
        });
        local.server_side_event_with_ack(&packet, reply);
    }

    /// Another server's broadcast with acks: delivered here with an ack id;
    /// the count of sockets, then each one's ack, go back to it.
    fn on_broadcast_with_ack(
        &self,
        local: &dyn LocalSide,
        uid: &str,
        request_id: String,
        mut packet: Packet,
        opts: &Opts,
    ) {
        if !self.is_event_here(&mut packet) {
            return;
        }
        let timeout = opts
            .flags
            .timeout
            .map_or(self.config.request_timeout, Duration::from_millis)
            .min(self.config.max_ack_wait);
        let channel = self.response_channel(uid);
        let Some(wait) = self
            .counters
            .enter_ack_wait(self.config.max_remote_ack_waits)
        else {
            tracing::warn!(nsp = %self.nsp, "redis adapter: too many broadcasts with acks waited on; one is delivered without");
            let response = Response::BroadcastClientCount {
                request_id,
                client_count: 0,
            };
            self.publisher.publish(channel, response.encode());
            local.broadcast(&packet, &opts.to_broadcast_options());
            return;
        };
        let (publisher, id, to) = (
            Arc::clone(&self.publisher),
            request_id.clone(),
            channel.clone(),
        );
        let on_count = Box::new(move |count: usize| {
            let response = Response::BroadcastClientCount {
                request_id: id,
                client_count: count as u64,
            };
            publisher.publish(to, response.encode());
        });
        let publisher = Arc::clone(&self.publisher);
        let on_ack = Arc::new(move |packet: Value| {
            // Held while acks may come; dropped with the last of them.
            let _held: &AckWait = &wait;
            let response = Response::BroadcastAck {
                request_id: request_id.clone(),
                packet,
            };
            publisher.publish(channel.clone(), response.encode());
        });
        local.broadcast_with_ack(
            &packet,
            &opts.to_broadcast_options(),
            timeout,
            on_count,
            on_ack,
        );
    }

    /// A response to one of this server's requests (or another's, which is
    /// ignored).
    fn on_response(&self, payload: &[u8]) {
        match Response::decode(payload, |id| self.pending.kind_of(id)) {
            Ok(Some(response)) => self.pending.answer(response),
            Ok(None) => {}
            Err(e) => self.malformed("response", &e),
        }
    }
}

impl Listener for Inner {
    fn on_message(&self, channel: &str, payload: &[u8]) {
        if channel == self.channels.request() {
            self.on_request(payload);
        } else if channel == self.channels.response() || channel == self.channels.own_response() {
            self.on_response(payload);
        } else if let Some(room) = self.channels.room_of(channel) {
            self.on_broadcast(room, payload);
        }
    }
}

impl Adapter for RedisAdapter {
    fn local_rooms(&self) -> &LocalAdapter {
        &self.inner.rooms
    }

    fn bind(&self, local: Weak<dyn LocalSide>) {
        let _ = self.inner.local.set(local);
    }

    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let channel = self.inner.channels.broadcast_to(&opts.rooms);
        let bytes = Broadcast::encode(&self.inner.uid, packet, &Opts::from(opts));
        self.inner.publisher.publish(channel, bytes);
    }

    fn broadcast_with_ack(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> ClusterFuture<RemoteAcks> {
        let inner = Arc::clone(&self.inner);
        let packet = packet.clone();
        let mut opts = Opts::from(opts);
        opts.flags.timeout = Some(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        Box::pin(async move {
            let (answers, complete) = inner
                .request_within(RequestKind::Broadcast, timeout, |uid, request_id| {
                    Request::Broadcast {
                        uid,
                        request_id,
                        packet,
                        opts,
                    }
                })
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
        self.inner.tell(&Request::RemoteJoin {
            uid: self.inner.uid.clone(),
            opts: Opts::from(opts),
            rooms: rooms.to_vec(),
        });
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.inner.tell(&Request::RemoteLeave {
            uid: self.inner.uid.clone(),
            opts: Opts::from(opts),
            rooms: rooms.to_vec(),
        });
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.inner.tell(&Request::RemoteDisconnect {
            uid: self.inner.uid.clone(),
            opts: Opts::from(opts),
            close,
        });
    }

    fn fetch_remote_sockets(&self, opts: &BroadcastOptions) -> ClusterFuture<Vec<SocketInfo>> {
        let inner = Arc::clone(&self.inner);
        let opts = Opts::from(opts);
        Box::pin(async move {
            let nsp = Arc::clone(&inner.nsp);
            let (answers, _) = inner
                .request(RequestKind::RemoteFetch, |uid, request_id| {
                    Request::RemoteFetch {
                        uid,
                        request_id,
                        opts,
                    }
                })
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
        match Request::server_side_emit(&self.inner.uid, None, packet) {
            Ok(request) => self.inner.tell(&request),
            Err(e) => self.inner.malformed("server-side emit", &e),
        }
    }

    fn server_side_emit_with_ack(&self, packet: &Packet) -> ClusterFuture<ServerSideReplies> {
        let inner = Arc::clone(&self.inner);
        let data = match &packet.data {
            Some(Value::Array(data)) => data.clone(),
            _ => Vec::new(),
        };
        Box::pin(async move {
            let (answers, complete) = inner
                .request(RequestKind::ServerSideEmit, |uid, request_id| {
                    Request::ServerSideEmit {
                        uid,
                        request_id: Some(request_id),
                        data,
                    }
                })
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

    /// An `ALL_ROOMS` request, waiting for each other server's answer up
    /// to the request timeout, merged with this server's rooms.
    fn all_rooms(&self) -> ClusterFuture<Vec<Room>> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let mut rooms = inner.rooms.rooms();
            let (answers, _) = Arc::clone(&inner)
                .request(RequestKind::AllRooms, |uid, request_id| Request::AllRooms {
                    uid,
                    request_id,
                })
                .await;
            let mut known: HashSet<Room> = rooms.iter().cloned().collect();
            for answer in answers {
                if let Response::AllRooms { rooms: theirs, .. } = answer {
                    for room in theirs {
                        if known.insert(room.clone()) {
                            rooms.push(room);
                        }
                    }
                }
            }
            rooms
        })
    }

    fn server_count(&self) -> ClusterFuture<usize> {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move { inner.server_count().await })
    }
}
