//! [`NatsAdapter`]: one namespace's adapter: broadcasts and cluster
//! requests over core NATS in the `ClusterAdapter` message model, servers
//! counted by their heartbeats, and, with recovery, broadcasts through the
//! `JetStream` stream.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use rmpv::Value;
use sockeye_io::Sid;
use sockeye_io::adapter::{
    Adapter, BroadcastOptions, ClusterFuture, LocalAdapter, LocalSide, RemoteAcks, Restored, Room,
    SentPacket, ServerSideReplies, ServerSideReply, Session, SocketInfo,
};
use sockeye_io::parser::{Packet, PacketKind};
use sockeye_io_redis::cluster_message::MessageType;
use sockeye_io_redis::packet::{packet_value, read_packet};
use sockeye_io_redis::pending::Pending;
use sockeye_io_redis::{
    Opts, RemoteSocket, RequestKind, Response, UID_LEN, WireError, fields, uid,
};
use tokio::task::AbortHandle;

use crate::core::Core;
use crate::envelope::{Envelope, Kind};
use crate::nodes::Nodes;
use crate::recovery::{Sequenced, restore};
use crate::shared::Shared;
use crate::stats::{AckWait, Counters};
use crate::subject::Subjects;

/// The adapter of one namespace, made by
/// [`NatsAdapters::make`](crate::NatsAdapters::make).
///
/// Under prefix `p`, with the namespace's token `t` and this server's node
/// id `u`, it listens on `p.t.all` (broadcasts, requests, heartbeats) and
/// `p.t.resp.u` (answers to its requests). Servers are counted by their
/// heartbeats (every 5 s, forgotten after 10 s). With recovery on,
/// broadcasts go through the stream instead (`p.t.log`) and come back to
/// every server, this one included, in one order.
#[derive(Debug)]
pub struct NatsAdapter {
    inner: Arc<Inner>,
    listener: AbortHandle,
}

pub(crate) struct Inner {
    core: Arc<Core>,
    shared: Arc<Shared>,
    subjects: Subjects,
    all: String,
    pending: Pending,
    nodes: Nodes,
    recovery: Option<Arc<Sequenced>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsAdapter")
            .field("nsp", &self.core.nsp)
            .field("uid", &self.shared.uid)
            .finish_non_exhaustive()
    }
}

impl NatsAdapter {
    /// The adapter of namespace `nsp`; its subscriptions start at once.
    pub(crate) fn new(nsp: &str, shared: &Arc<Shared>) -> Self {
        let core = Arc::new(Core::new(nsp));
        let subjects = Subjects::new(&shared.config.prefix, nsp);
        let recovery = shared
            .log
            .as_ref()
            .map(|hub| hub.register(Arc::clone(&core)));
        let inner = Arc::new(Inner {
            all: subjects.all(),
            subjects,
            core,
            shared: Arc::clone(shared),
            pending: Pending::new(shared.config.max_in_flight),
            nodes: Nodes::new(shared.config.heartbeat_timeout),
            recovery,
        });
        let listener = shared
            .runtime
            .spawn(listen(Arc::downgrade(&inner)))
            .abort_handle();
        Self { inner, listener }
    }

    /// This server's node id.
    pub fn uid(&self) -> &str {
        &self.inner.shared.uid
    }
}

impl Drop for NatsAdapter {
    fn drop(&mut self) {
        self.listener.abort();
        self.inner.publish(Kind::AdapterClose, Value::Nil);
    }
}

/// Subscribes to the namespace's subjects (again, with backoff, until the
/// client manages; the client then keeps them across reconnections),
/// announces this server, and hands every message received to the
/// adapter, heartbeating meanwhile.
async fn listen(inner: Weak<Inner>) {
    let (client, all, own, config) = {
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let own = inner.subjects.response(&inner.shared.uid);
        (
            inner.shared.client.clone(),
            inner.all.clone(),
            own,
            Arc::clone(&inner.shared.config),
        )
    };
    let mut wait = config.reconnect_min;
    let (mut all, mut own) = loop {
        match (
            client.subscribe(all.clone()).await,
            client.subscribe(own.clone()).await,
        ) {
            (Ok(all), Ok(own)) => break (all, own),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "nats adapter: cannot subscribe; trying again");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(config.reconnect_max);
            }
        }
    };
    match inner.upgrade() {
        Some(inner) => inner.publish(Kind::InitialHeartbeat, Value::Nil),
        None => return,
    }
    let mut beat = tokio::time::interval(config.heartbeat_interval);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat.tick().await;
    loop {
        let (payload, response) = tokio::select! {
            Some(message) = all.next() => (message.payload, false),
            Some(message) = own.next() => (message.payload, true),
            _ = beat.tick() => {
                let Some(inner) = inner.upgrade() else { return };
                inner.publish(Kind::Heartbeat, Value::Nil);
                continue;
            }
            else => return,
        };
        let Some(inner) = inner.upgrade() else {
            return;
        };
        inner.on_message(&payload, response);
    }
}

impl Inner {
    fn counters(&self) -> &Counters {
        &self.shared.counters
    }

    fn envelope(&self, kind: Kind, data: Value) -> Envelope {
        Envelope {
            kind,
            data,
            uid: self.shared.uid.clone(),
            nsp: self.core.nsp.to_string(),
        }
    }

    /// Publishes a message of this server on the namespace's subject.
    fn publish(&self, kind: Kind, data: Value) {
        let bytes = self.envelope(kind, data).encode();
        self.shared.publisher.publish(self.all.clone(), bytes);
    }

    /// Answers server `to` on its own subject.
    fn respond(&self, to: &str, kind: MessageType, data: Value) {
        let bytes = self.envelope(Kind::Message(kind), data).encode();
        self.shared
            .publisher
            .publish(self.subjects.response(to), bytes);
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
        let others = self.nodes.alive();
        if others == 0 {
            return (Vec::new(), true);
        }
        let request_id = uid(UID_LEN);
        let Some(done) = self.pending.open(&request_id, kind, others) else {
            Counters::bump(&self.counters().refused_requests);
            tracing::warn!(nsp = %self.core.nsp, ?kind, "nats adapter: too many requests in flight; this one is not sent");
            return (Vec::new(), false);
        };
        self.publish(Kind::Message(message), data(request_id.clone()));
        let _ = tokio::time::timeout(timeout, done).await;
        let (answers, complete) = self.pending.close(&request_id);
        if !complete {
            Counters::bump(&self.counters().timed_out_requests);
            tracing::warn!(nsp = %self.core.nsp, ?kind, expected = others, received = answers.len(),
                "nats adapter: timeout reached while waiting for the other servers' answers");
        }
        (answers, complete)
    }

    fn malformed(&self, error: &WireError) {
        Counters::bump(&self.counters().malformed);
        tracing::debug!(nsp = %self.core.nsp, %error, "nats adapter: a malformed message is dropped");
    }

    /// A message received on the namespace's subject (`response`: on this
    /// server's own).
    fn on_message(&self, payload: &[u8], response: bool) {
        let envelope = match Envelope::decode(payload) {
            Ok(envelope) => envelope,
            Err(e) => return self.malformed(&e),
        };
        if envelope.uid == self.shared.uid || envelope.nsp != *self.core.nsp {
            return;
        }
        self.nodes.saw(&envelope.uid);
        match envelope.kind {
            Kind::InitialHeartbeat => self.publish(Kind::Heartbeat, Value::Nil),
            Kind::Heartbeat => {}
            Kind::AdapterClose => self.nodes.gone(&envelope.uid),
            Kind::Message(_) if response => self.on_response(&envelope),
            Kind::Message(kind) => self.on_cluster_message(kind, &envelope),
        }
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
        (packet.kind == PacketKind::Event && packet.nsp == *self.core.nsp).then_some(packet)
    }

    /// A broadcast or request from another server.
    fn on_cluster_message(&self, kind: MessageType, envelope: &Envelope) {
        let Some(local) = self.core.local() else {
            return;
        };
        let entries = envelope.entries();
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
        let result = match kind {
            MessageType::Broadcast => {
                let Some(packet) = self.event_here(fields::get(entries, "packet")) else {
                    return;
                };
                opts().map(|opts| match request_id {
                    None => local.broadcast(&packet, &opts),
                    Some(request_id) => self.broadcast_with_ack_here(
                        &*local,
                        &envelope.uid,
                        request_id,
                        &packet,
                        &opts,
                        entries,
                    ),
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
                    &envelope.uid,
                    MessageType::FetchSocketsResponse,
                    fields::object(vec![
                        ("requestId", Value::from(request_id.unwrap_or_default())),
                        ("sockets", Value::Array(sockets)),
                    ]),
                );
            }),
            MessageType::ServerSideEmit => {
                self.server_side_emit_here(&*local, &envelope.uid, request_id, entries);
                Ok(())
            }
            // Answers come on this server's own subject; one on the
            // namespace's is another server's business.
            MessageType::FetchSocketsResponse
            | MessageType::ServerSideEmitResponse
            | MessageType::BroadcastClientCount
            | MessageType::BroadcastAck => Ok(()),
        };
        if let Err(e) = result {
            self.malformed(&e);
        }
    }

    /// Another server's server-side event: run here, and answered when it
    /// wants a reply.
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
        let packet = Packet::event(&*self.core.nsp, &name, items.collect());
        let Some(request_id) = request_id else {
            return local.server_side_event(&packet);
        };
        let shared = Arc::clone(&self.shared);
        let message = self.envelope(
            Kind::Message(MessageType::ServerSideEmitResponse),
            Value::Nil,
        );
        let to = self.subjects.response(from);
        let reply = ServerSideReply::new(move |answer| {
            let mut message = message;
            message.data = fields::object(vec![
                ("requestId", Value::from(request_id)),
                ("packet", answer),
            ]);
            shared.publisher.publish(to, message.encode());
        });
        local.server_side_event_with_ack(&packet, reply);
    }

    /// Another server's broadcast with acks: delivered here, the count of
    /// sockets reached and each acknowledgement sent back to it.
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
            .map_or(self.shared.config.request_timeout, Duration::from_millis)
            .min(self.shared.config.max_ack_wait);
        let to = self.subjects.response(from);
        let Some(wait) = self
            .shared
            .counters
            .enter_ack_wait(self.shared.config.max_remote_ack_waits)
        else {
            tracing::warn!(nsp = %self.core.nsp, "nats adapter: too many broadcasts with acks waited on; one is delivered without");
            let mut refused =
                self.envelope(Kind::Message(MessageType::BroadcastClientCount), Value::Nil);
            refused.data = fields::object(vec![
                ("requestId", Value::from(request_id)),
                ("clientCount", Value::from(0_u64)),
            ]);
            self.shared.publisher.publish(to, refused.encode());
            local.broadcast(packet, opts);
            return;
        };
        let count_message =
            self.envelope(Kind::Message(MessageType::BroadcastClientCount), Value::Nil);
        let ack_message = self.envelope(Kind::Message(MessageType::BroadcastAck), Value::Nil);
        let (shared, id, count_to) = (Arc::clone(&self.shared), request_id.clone(), to.clone());
        let on_count = Box::new(move |count: usize| {
            let mut message = count_message;
            message.data = fields::object(vec![
                ("requestId", Value::from(id)),
                ("clientCount", Value::from(count as u64)),
            ]);
            shared.publisher.publish(count_to, message.encode());
        });
        let shared = Arc::clone(&self.shared);
        let on_ack = Arc::new(move |answer: Value| {
            // Held while acks may come; dropped with the last of them.
            let _held: &AckWait = &wait;
            let mut message = ack_message.clone();
            message.data = fields::object(vec![
                ("requestId", Value::from(request_id.as_str())),
                ("packet", answer),
            ]);
            shared.publisher.publish(to.clone(), message.encode());
        });
        local.broadcast_with_ack(packet, opts, timeout, on_count, on_ack);
    }

    /// An answer to one of this server's requests.
    fn on_response(&self, envelope: &Envelope) {
        let entries = envelope.entries();
        let Some(request_id) = fields::get(entries, "requestId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let Kind::Message(kind) = envelope.kind else {
            return;
        };
        let response = match kind {
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

    /// The sockets `opts` selects on the other servers.
    async fn fetch_remote(self: Arc<Self>, opts: Value) -> Vec<SocketInfo> {
        let nsp = Arc::clone(&self.core.nsp);
        let timeout = self.shared.config.request_timeout;
        let (answers, _) = self
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
    }
}

impl Adapter for NatsAdapter {
    fn local_rooms(&self) -> &LocalAdapter {
        &self.inner.core.rooms
    }

    fn join(&self, sid: &Sid, rooms: &[Room]) {
        match &self.inner.recovery {
            Some(recovery) => recovery.join(sid, rooms),
            None => self.inner.core.rooms.join(sid, rooms),
        }
    }

    fn leave(&self, sid: &Sid, room: &str) {
        self.inner.core.rooms.leave(sid, room);
        if let Some(recovery) = &self.inner.recovery {
            recovery.rewrite_if_tracked(sid);
        }
    }

    fn leave_all(&self, sid: &Sid) {
        self.inner.core.rooms.leave_all(sid);
        if let Some(recovery) = &self.inner.recovery {
            recovery.forget(sid);
        }
    }

    fn record_packet(&self, packet: SentPacket) {
        // With recovery, the stream keeps the packets (none comes here
        // while broadcasts are sequenced).
        if self.inner.recovery.is_none() {
            self.inner.core.rooms.record_packet(packet);
        }
    }

    fn persist_session(&self, session: Session) {
        match &self.inner.recovery {
            Some(recovery) => recovery.persist(session),
            None => self.inner.core.rooms.persist_session(session),
        }
    }

    fn restore_session(&self, pid: &str, offset: &str) -> ClusterFuture<Restored> {
        match &self.inner.recovery {
            Some(recovery) => restore(Arc::clone(recovery), pid, offset),
            None => self.inner.core.rooms.restore_session(pid, offset),
        }
    }

    fn session_opened(&self, session: &Session) {
        if let Some(recovery) = &self.inner.recovery {
            recovery.opened(session);
        }
    }

    fn sequences_broadcasts(&self) -> bool {
        self.inner.recovery.is_some()
    }

    fn sequence_broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        match &self.inner.recovery {
            Some(recovery) => recovery.sequence(packet, opts),
            None => self.broadcast(packet, opts),
        }
    }

    fn bind(&self, local: Weak<dyn LocalSide>) {
        let _ = self.inner.core.local.set(local);
    }

    fn broadcast(&self, packet: &Packet, opts: &BroadcastOptions) {
        let data = fields::object(vec![
            ("packet", packet_value(packet)),
            ("opts", Opts::from(opts).to_value()),
        ]);
        self.inner
            .publish(Kind::Message(MessageType::Broadcast), data);
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
            Kind::Message(MessageType::SocketsJoin),
            fields::object(vec![
                ("opts", Opts::from(opts).to_value()),
                ("rooms", fields::room_array(rooms)),
            ]),
        );
    }

    fn remote_leave(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.inner.publish(
            Kind::Message(MessageType::SocketsLeave),
            fields::object(vec![
                ("opts", Opts::from(opts).to_value()),
                ("rooms", fields::room_array(rooms)),
            ]),
        );
    }

    fn remote_disconnect(&self, opts: &BroadcastOptions, close: bool) {
        self.inner.publish(
            Kind::Message(MessageType::DisconnectSockets),
            fields::object(vec![
                ("opts", Opts::from(opts).to_value()),
                ("close", Value::Boolean(close)),
            ]),
        );
    }

    fn fetch_remote_sockets(&self, opts: &BroadcastOptions) -> ClusterFuture<Vec<SocketInfo>> {
        let inner = Arc::clone(&self.inner);
        let opts = Opts::from(opts).to_value();
        Box::pin(inner.fetch_remote(opts))
    }

    fn server_side_emit(&self, packet: &Packet) {
        if let Some(data) = packet.data.clone() {
            self.inner.publish(
                Kind::Message(MessageType::ServerSideEmit),
                fields::object(vec![("packet", data)]),
            );
        }
    }

    fn server_side_emit_with_ack(&self, packet: &Packet) -> ClusterFuture<ServerSideReplies> {
        let inner = Arc::clone(&self.inner);
        let data = packet.data.clone().unwrap_or(Value::Array(Vec::new()));
        Box::pin(async move {
            let timeout = inner.shared.config.request_timeout;
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

    /// Every room of every server: this server's, and those of the sockets
    /// the others describe (the `ClusterAdapter` model has no request of
    /// its own for rooms, so this asks for every socket).
    fn all_rooms(&self) -> ClusterFuture<Vec<Room>> {
        let inner = Arc::clone(&self.inner);
        let mut rooms = self.inner.core.rooms.rooms();
        Box::pin(async move {
            let opts = Opts::from(&BroadcastOptions::default()).to_value();
            for socket in inner.fetch_remote(opts).await {
                rooms.extend(socket.rooms);
            }
            rooms.sort_unstable();
            rooms.dedup();
            rooms
        })
    }

    fn server_count(&self) -> ClusterFuture<usize> {
        let count = self.inner.nodes.alive() + 1;
        Box::pin(std::future::ready(count))
    }
}
