//! [`Socket`]: a client's connection to one namespace: its id, its
//! handshake, its event handlers, emitting (with or without an
//! acknowledgement), rooms, per-socket data and disconnection.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::Duration;

use rmpv::Value;
use tokio::sync::oneshot;

use crate::adapter::{Room, SentPacket, Session, SocketInfo};
use crate::args::{Args, IntoArgs};
use crate::conn::ConnState;
use crate::engine::{EngineSocket, Handshake, Payload, PreparedPayload, SendError, TransportKind};
use crate::error::{AckError, DisconnectReason, EmitError};
use crate::legacy;
use crate::named;
use crate::ns_core::NsCore;
use crate::parser::{Frame, Packet, PacketKind, PacketRef, RESERVED_EVENTS};
use crate::sid::Sid;
use crate::task::run;

/// The Engine.IO session a socket runs on.
pub(crate) type Conn = Arc<EngineSocket<ConnState<Socket>>>;

/// A boxed future of a handler.
pub(crate) type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

/// An event handler of a socket, as registered by `Socket::on`.
pub(crate) trait EventHandler: Send + Sync + 'static {
    /// Handles one event; `ack` is the id to acknowledge, if the client
    /// asked for an acknowledgement.
    fn call(&self, socket: Socket, args: Args, ack: Option<u64>);
}

/// An event handler and the event it handles.
type Registered = (Box<str>, Arc<dyn EventHandler>);

/// A disconnect handler, run once.
type DisconnectFn = Box<dyn FnOnce(Socket, DisconnectReason) -> BoxFuture<()> + Send>;

/// A client connected to a namespace.
///
/// Cheap to clone: every clone is the same socket. Handlers receive it,
/// and it may be kept to emit later; once disconnected, emitting fails
/// with [`EmitError::Disconnected`].
#[derive(Clone)]
pub struct Socket {
    inner: Arc<SocketInner>,
}

struct SocketInner {
    id: Sid,
    /// With recovery on: the private id the client presents to come back.
    pid: Option<Sid>,
    /// Whether this socket came back with a lost one's state.
    recovered: bool,
    /// The rooms of a recovered socket, joined once it is connected.
    rejoin: Mutex<Vec<Room>>,
    ns: Arc<NsCore<Socket>>,
    conn: Conn,
    /// The CONNECT packet's payload (`{}` when it had none).
    auth: Value,
    handlers: RwLock<Vec<Registered>>,
    /// What handles the events no handler is registered for; its
    /// arguments start with the event's name.
    fallback: RwLock<Option<Arc<dyn EventHandler>>>,
    on_disconnect: Mutex<Vec<DisconnectFn>>,
    /// Acknowledgements awaited from the client, by id.
    acks: Mutex<HashMap<u64, oneshot::Sender<Args>>>,
    connected: AtomicBool,
    /// Per-socket data of the application (Node's `socket.data`).
    data: Mutex<http::Extensions>,
}

impl fmt::Debug for Socket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.ns.name)
            .field("connected", &self.connected())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Socket {
    /// A socket about to connect to `ns` over `conn`: a new one, or the
    /// one of a lost `session` coming back.
    pub(crate) fn new(
        ns: Arc<NsCore<Socket>>,
        conn: Conn,
        auth: Value,
        session: Option<Session>,
    ) -> Socket {
        let recovered = session.is_some();
        let (id, pid, rooms, data) = match session {
            Some(session) => (session.sid, Some(session.pid), session.rooms, session.data),
            None => (
                legacy::socket_id(&conn, &ns.name),
                ns.settings
                    .recovery
                    .filter(|_| !conn.is_eio3())
                    .map(|_| Sid::random()),
                Vec::new(),
                http::Extensions::new(),
            ),
        };
        Socket {
            inner: Arc::new(SocketInner {
                id,
                pid,
                recovered,
                rejoin: Mutex::new(rooms),
                ns,
                conn,
                auth,
                handlers: RwLock::new(Vec::new()),
                fallback: RwLock::new(None),
                on_disconnect: Mutex::new(Vec::new()),
                acks: Mutex::new(HashMap::new()),
                connected: AtomicBool::new(false),
                data: Mutex::new(data),
            }),
        }
    }

    /// Whether this socket is one whose connection was lost, come back
    /// with its id, rooms and data, the packets it missed sent to it
    /// (connection state recovery).
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// The socket's id, distinct from the Engine.IO session's (protocol
    /// v5). It is also the name of a room only this socket is in. For a
    /// socket.io-client 2.x client (an Engine.IO v3 session) it is, as
    /// Node makes it, the session id on `/` and `<nsp>#<session id>` on
    /// other namespaces.
    pub fn id(&self) -> &Sid {
        &self.inner.id
    }

    /// The namespace's name, such as `/` or `/chat`.
    pub fn nsp(&self) -> &str {
        &self.inner.ns.name
    }

    /// The request that opened the connection: URI, query, headers, peer
    /// address, time.
    pub fn handshake(&self) -> &Handshake {
        self.inner.conn.handshake()
    }

    /// What the client sent with its CONNECT (its `auth` option): an
    /// empty map when it sent nothing. For a socket.io-client 2.x client
    /// it is the query of its CONNECT (`/admin?token=abc`) as a map of
    /// strings, as Node gives it.
    pub fn auth(&self) -> &Value {
        &self.inner.auth
    }

    /// The transport the connection uses now.
    pub fn transport(&self) -> TransportKind {
        self.inner.conn.transport()
    }

    /// Whether the socket is connected to its namespace.
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    pub(crate) fn ns(&self) -> &Arc<NsCore<Socket>> {
        &self.inner.ns
    }

    pub(crate) fn conn(&self) -> &Conn {
        &self.inner.conn
    }

    // ---- handlers ----

    /// Registers an event handler under `event`; a handler registered
    /// again under the same name replaces the first.
    pub(crate) fn add_handler(&self, event: &str, handler: Arc<dyn EventHandler>) {
        let mut handlers = self
            .inner
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        named::set(&mut handlers, event, handler);
    }

    /// Sets what handles events no handler is registered for.
    pub(crate) fn set_fallback(&self, handler: Arc<dyn EventHandler>) {
        *self
            .inner
            .fallback
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(handler);
    }

    /// Removes the handler of `event`.
    pub fn off(&self, event: &str) {
        self.inner
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(name, _)| &**name != event);
    }

    /// Runs `handler` once when the socket disconnects, with the reason.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: FnOnce(Socket, DisconnectReason) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let boxed: DisconnectFn = Box::new(move |socket, reason| Box::pin(handler(socket, reason)));
        lock(&self.inner.on_disconnect).push(boxed);
    }

    // ---- sending ----

    /// Emits `event` to this client with `data` as its arguments (see
    /// [`IntoArgs`]: `()` for none, [`Args`] for several, any other
    /// serializable value for one).
    ///
    /// # Errors
    ///
    /// [`EmitError`]: a reserved name, arguments that do not serialize, a
    /// disconnected socket, or a full send queue (the client is not
    /// reading).
    ///
    /// With connection state recovery on, the event is numbered and kept,
    /// so that the client gets it even if its connection is down now and
    /// comes back in time; emitting to a socket whose connection was lost
    /// is then not an error.
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        let ns = &self.inner.ns;
        if ns.settings.recovery.is_none() {
            let packet = event_packet(&ns.name, event, data)?;
            return self.send_packet(&packet);
        }
        let (_, payloads) = prepare_event(ns, event, data, &[self.inner.id.as_room()], &[], true)?;
        match self.send_payloads(payloads) {
            Err(EmitError::Disconnected) => Ok(()),
            sent => sent,
        }
    }

    /// Emits `event` and waits for the client's acknowledgement, at most
    /// the configured `ack_timeout` (see [`timeout`](Self::timeout)).
    ///
    /// # Errors
    ///
    /// [`AckError`]: the emit failed, no answer in time, or the socket
    /// disconnected first.
    pub fn emit_with_ack(
        &self,
        event: &str,
        data: impl IntoArgs,
    ) -> impl Future<Output = Result<Args, AckError>> + Send + 'static {
        self.emit_with_ack_within(event, data, self.inner.ns.settings.ack_timeout)
    }

    /// Sets how long the next [`emit_with_ack`](SocketTimeout::emit_with_ack)
    /// waits.
    pub fn timeout(&self, timeout: Duration) -> SocketTimeout<'_> {
        SocketTimeout {
            socket: self,
            timeout,
        }
    }

    fn emit_with_ack_within(
        &self,
        event: &str,
        data: impl IntoArgs,
        timeout: Duration,
    ) -> impl Future<Output = Result<Args, AckError>> + Send + 'static {
        let sent = event_packet(&self.inner.ns.name, event, data).and_then(|mut packet| {
            let id = self.inner.ns.next_ack_id();
            packet.id = Some(id);
            let answer = self.expect_ack(id);
            self.send_packet(&packet).map(|()| (id, answer))
        });
        let socket = self.clone();
        async move {
            let (id, answer) = sent?;
            socket.await_ack(id, answer, timeout).await
        }
    }

    /// Registers a wait for the acknowledgement `id`.
    pub(crate) fn expect_ack(&self, id: u64) -> oneshot::Receiver<Args> {
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.acks).insert(id, tx);
        rx
    }

    /// Waits for the acknowledgement `id` at most `timeout`; forgets it
    /// either way.
    pub(crate) async fn await_ack(
        &self,
        id: u64,
        answer: oneshot::Receiver<Args>,
        timeout: Duration,
    ) -> Result<Args, AckError> {
        match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(args)) => Ok(args),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                lock(&self.inner.acks).remove(&id);
                Err(AckError::Timeout)
            }
        }
    }

    /// Sends the acknowledgement `id` with `args`.
    pub(crate) fn send_ack(&self, id: u64, args: Args) -> Result<(), EmitError> {
        let data = Value::Array(args.into_values());
        self.send_packet_ref(PacketRef {
            kind: PacketKind::Ack,
            nsp: &self.inner.ns.name,
            id: Some(id),
            data: Some(&data),
        })
    }

    /// Encodes `packet` and queues its frames, all or none.
    pub(crate) fn send_packet(&self, packet: &Packet) -> Result<(), EmitError> {
        self.send_packet_ref(packet.into())
    }

    /// Encodes a packet given by its parts and queues its frames, all or
    /// none; only a CONNECT answer goes before the socket is connected.
    fn send_packet_ref(&self, packet: PacketRef<'_>) -> Result<(), EmitError> {
        if !self.connected() && packet.kind != PacketKind::Connect {
            return Err(EmitError::Disconnected);
        }
        let encoded = self.inner.ns.settings.parser.encode_ref(packet)?;
        self.send_payloads(encoded.into_frames().map(payload_of))
    }

    /// Queues frames already encoded (a broadcast's), all or none.
    pub(crate) fn send_payloads(
        &self,
        payloads: impl IntoIterator<Item = Payload>,
    ) -> Result<(), EmitError> {
        self.inner.conn.send_many(payloads).map_err(|e| match e {
            SendError::QueueFull { .. } | SendError::BytesFull { .. } => EmitError::QueueFull,
            _ => EmitError::Disconnected,
        })
    }

    /// Queues frames a broadcast encoded once for all its sockets.
    pub(crate) fn send_prepared(&self, messages: &[PreparedPayload]) -> Result<(), EmitError> {
        self.inner
            .conn
            .send_prepared(messages)
            .map_err(|e| match e {
                SendError::QueueFull { .. } | SendError::BytesFull { .. } => EmitError::QueueFull,
                _ => EmitError::Disconnected,
            })
    }

    // ---- rooms ----

    /// The socket as a cluster describes it.
    pub(crate) fn info(&self) -> SocketInfo {
        SocketInfo {
            id: self.inner.id.clone(),
            nsp: Arc::clone(&self.inner.ns.name),
            rooms: self.rooms(),
            handshake: self.handshake().clone(),
            auth: self.auth().clone(),
            data: self.data::<Value>().unwrap_or(Value::Nil),
        }
    }

    /// Joins `room`.
    pub fn join(&self, room: impl AsRef<str>) {
        self.inner
            .ns
            .adapter
            .join(&self.inner.id, &[room.as_ref().into()]);
    }

    /// Joins every room of `rooms`.
    pub fn join_all<R: AsRef<str>>(&self, rooms: impl IntoIterator<Item = R>) {
        let rooms: Vec<Room> = rooms.into_iter().map(|r| r.as_ref().into()).collect();
        self.inner.ns.adapter.join(&self.inner.id, &rooms);
    }

    /// Leaves `room`.
    pub fn leave(&self, room: impl AsRef<str>) {
        self.inner.ns.adapter.leave(&self.inner.id, room.as_ref());
    }

    /// The rooms the socket is in, its own-id room included.
    pub fn rooms(&self) -> Vec<Room> {
        self.inner.ns.adapter.rooms_of(&self.inner.id)
    }

    // ---- data ----

    /// Stores a value of type `T` with the socket (Node's `socket.data`),
    /// replacing any earlier `T`.
    pub fn set_data<T: Clone + Send + Sync + 'static>(&self, value: T) {
        lock(&self.inner.data).insert(value);
    }

    /// The stored `T`, if any.
    pub fn data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.data).get::<T>().cloned()
    }

    /// Removes and returns the stored `T`.
    pub fn remove_data<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        lock(&self.inner.data).remove::<T>()
    }

    // ---- disconnection ----

    /// Disconnects the socket from its namespace: the client gets a
    /// DISCONNECT (its reason: "io server disconnect") and the connection
    /// stays open for its other namespaces.
    pub fn disconnect(&self) {
        if self.connected() {
            let _ = self.send_packet(&Packet::disconnect(&*self.inner.ns.name));
        }
        self.inner.conn.data().remove(&self.inner.ns.name);
        self.disconnected(DisconnectReason::ServerNamespaceDisconnect);
    }

    /// Closes the whole connection: this socket disconnects as by
    /// [`disconnect`](Self::disconnect), then the connection closes and
    /// the client's other namespaces disconnect ("forced close").
    pub fn close_connection(&self) {
        self.disconnect();
        self.inner.conn.close();
    }

    // ---- what the client sends ----

    /// The socket is connected: it joins its rooms and the namespace, and
    /// the client gets its id. A recovered socket gets its CONNECT answer
    /// and then `missed` (the packets it missed, in order) before it joins
    /// its rooms, so that a broadcast that reaches it once it has joined
    /// comes after them.
    pub(crate) fn mark_connected(&self, missed: Vec<Vec<Payload>>) -> Result<(), EmitError> {
        self.inner.connected.store(true, Ordering::Release);
        let answer = legacy::connect_answer(
            &self.inner.conn,
            &self.inner.ns.name,
            &self.inner.id,
            self.inner.pid.as_ref(),
        );
        let recovered = self.recovered();
        if recovered {
            self.send_packet(&answer)?;
            for payloads in missed {
                self.send_payloads(payloads)?;
            }
        }
        let mut rooms = std::mem::take(&mut *lock(&self.inner.rejoin));
        rooms.push(self.inner.id.as_room());
        if recovered {
            // In the namespace before its rooms: what the adapter hands it
            // as it joins (what arrived since its restore) must find it.
            self.inner.ns.insert(self.inner.id.clone(), self.clone());
        }
        self.inner.ns.adapter.join(&self.inner.id, &rooms);
        if let Some(pid) = &self.inner.pid {
            self.inner.ns.adapter.session_opened(&Session {
                sid: self.inner.id.clone(),
                pid: pid.clone(),
                rooms: self.inner.ns.adapter.rooms_of(&self.inner.id),
                data: http::Extensions::new(),
            });
        }
        if recovered {
            Ok(())
        } else {
            self.inner.ns.insert(self.inner.id.clone(), self.clone());
            self.send_packet(&answer)
        }
    }

    /// An EVENT from the client: its handler runs, if it has one.
    pub(crate) fn on_event(&self, packet: Packet) {
        let Some((event, args)) = split_event(packet.data) else {
            return;
        };
        let handler = self
            .inner
            .handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(name, _)| **name == *event)
            .map(|(_, handler)| Arc::clone(handler));
        if let Some(handler) = handler {
            handler.call(self.clone(), args, packet.id);
            return;
        }
        let fallback = self
            .inner
            .fallback
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(fallback) = fallback {
            let mut values = args.into_values();
            values.insert(0, Value::from(event));
            fallback.call(self.clone(), Args::from_values(values), packet.id);
        } else {
            tracing::trace!(socket = %self.inner.id, event, "no handler");
        }
    }

    /// An ACK from the client: the wait for it ends.
    pub(crate) fn on_ack(&self, packet: Packet) {
        let Some(id) = packet.id else { return };
        let args = match packet.data {
            Some(Value::Array(values)) => Args::from_values(values),
            _ => Args::new(),
        };
        if let Some(waiting) = lock(&self.inner.acks).remove(&id) {
            let _ = waiting.send(args);
        }
    }

    /// The socket left its namespace for `reason`: it leaves its rooms,
    /// pending acknowledgements fail, and the disconnect handlers run.
    /// Only the first call does anything.
    pub(crate) fn disconnected(&self, reason: DisconnectReason) {
        if !self.inner.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        let ns = &self.inner.ns;
        if let Some(pid) = &self.inner.pid
            && reason.is_recoverable()
        {
            ns.adapter.persist_session(Session {
                sid: self.inner.id.clone(),
                pid: pid.clone(),
                rooms: ns.adapter.rooms_of(&self.inner.id),
                data: std::mem::take(&mut *lock(&self.inner.data)),
            });
        }
        ns.adapter.leave_all(&self.inner.id);
        ns.remove(&self.inner.id);
        lock(&self.inner.acks).clear();
        let handlers = std::mem::take(&mut *lock(&self.inner.on_disconnect));
        for handler in handlers {
            run(handler(self.clone(), reason));
        }
        // Handlers may hold this socket: drop them so nothing keeps it.
        self.inner
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.inner
            .fallback
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
    }
}

/// [`Socket::timeout`]: an emit that waits for its acknowledgement at most
/// this long.
#[derive(Debug)]
pub struct SocketTimeout<'a> {
    socket: &'a Socket,
    timeout: Duration,
}

impl SocketTimeout<'_> {
    /// As [`Socket::emit_with_ack`], waiting at most the timeout given.
    ///
    /// # Errors
    ///
    /// As [`Socket::emit_with_ack`].
    pub fn emit_with_ack(
        &self,
        event: &str,
        data: impl IntoArgs,
    ) -> impl Future<Output = Result<Args, AckError>> + Send + 'static {
        self.socket.emit_with_ack_within(event, data, self.timeout)
    }
}

/// An EVENT packet for `event` with `data`; refuses reserved names.
pub(crate) fn event_packet(
    nsp: &str,
    event: &str,
    data: impl IntoArgs,
) -> Result<Packet, EmitError> {
    if RESERVED_EVENTS.contains(&event) {
        return Err(EmitError::Reserved(event.to_owned()));
    }
    let args = data.into_args()?;
    Ok(Packet::event(nsp, event, args.into_values()))
}

/// An EVENT for sockets of `ns` in `rooms` but not in `except`, encoded.
/// With recovery on and `kept` (not volatile), it carries a fresh offset
/// as its last argument and the adapter keeps it for sockets that come
/// back.
pub(crate) fn prepare_event(
    ns: &NsCore<Socket>,
    event: &str,
    data: impl IntoArgs,
    rooms: &[Room],
    except: &[Room],
    kept: bool,
) -> Result<(Packet, Vec<Payload>), EmitError> {
    let mut packet = event_packet(&ns.name, event, data)?;
    // An adapter that sequences broadcasts gives offsets itself; a packet
    // that does not go through it carries none.
    let offset = (kept && ns.settings.recovery.is_some() && !ns.adapter.sequences_broadcasts())
        .then(|| ns.next_offset());
    if let (Some(offset), Some(Value::Array(values))) = (&offset, &mut packet.data) {
        values.push(Value::from(offset.as_str()));
    }
    let payloads = encode(ns.settings.parser, &packet)?;
    if let Some(offset) = offset {
        ns.adapter.record_packet(SentPacket {
            offset: offset.into(),
            rooms: rooms.to_vec(),
            except: except.to_vec(),
            payloads: payloads.clone(),
        });
    }
    Ok((packet, payloads))
}

/// `packet` as the Engine.IO messages that carry it.
pub(crate) fn encode(
    parser: crate::parser::Parser,
    packet: &Packet,
) -> Result<Vec<Payload>, EmitError> {
    let encoded = parser.encode(packet)?;
    Ok(encoded.into_frames().map(payload_of).collect())
}

/// An encoded frame as the Engine.IO message that carries it.
fn payload_of(frame: Frame) -> Payload {
    match frame {
        Frame::Text(text) => Payload::Text(text.into()),
        Frame::Binary(data) => Payload::Binary(data),
    }
}

/// An EVENT's data as its name and its arguments. The parser has checked
/// that the name is there (a string, or a number taken as its digits).
pub(crate) fn split_event(data: Option<Value>) -> Option<(String, Args)> {
    let Some(Value::Array(mut values)) = data else {
        return None;
    };
    if values.is_empty() {
        return None;
    }
    let name = match values.remove(0) {
        Value::String(name) => name.into_str()?,
        Value::Integer(n) => n.to_string(),
        Value::F64(n) => n.to_string(),
        _ => return None,
    };
    Some((name, Args::from_values(values)))
}
