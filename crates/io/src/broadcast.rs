//! [`BroadcastOperator`]: emitting to many sockets of a namespace at once
//! (all of them, some rooms, all but some rooms), encoded once for all,
//! with or without acknowledgements; and acting on the sockets it selects
//! (fetch, join, leave, disconnect).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{BroadcastFlags, BroadcastOptions, Room};
use crate::args::{Args, IntoArgs};
use crate::engine::{Payload, PreparedPayload};
use crate::error::{AckError, EmitError};
use crate::ns_core::NsCore;
use crate::sid::Sid;
use crate::socket::{Socket, encode, event_packet, prepare_event};

/// Selects sockets of a namespace, then emits to them or acts on them.
///
/// Made by [`Namespace::to`](crate::Namespace::to),
/// [`SocketIo::to`](crate::SocketIo::to), [`Socket::to`],
/// [`Socket::broadcast`] and their siblings; each method narrows or
/// changes the selection and gives it back.
#[derive(Clone, Debug)]
pub struct BroadcastOperator {
    ns: Arc<NsCore<Socket>>,
    rooms: Vec<Room>,
    except: Vec<Room>,
    volatile: bool,
    local: bool,
    timeout: Option<Duration>,
}

/// One socket's answer to a broadcast with acknowledgements.
#[derive(Debug)]
pub struct AckResponse {
    /// Which socket answered (or did not).
    pub socket: Sid,
    /// Its acknowledgement's arguments, or why there is none.
    pub result: Result<Args, AckError>,
}

/// One or more rooms: a `&str`, a `String`, a [`Sid`], or a list of them.
pub trait Rooms {
    /// The rooms, as names.
    fn into_rooms(self) -> Vec<Room>;
}

impl Rooms for &str {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.into()]
    }
}

impl Rooms for String {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.into()]
    }
}

impl Rooms for &Sid {
    fn into_rooms(self) -> Vec<Room> {
        vec![self.as_str().into()]
    }
}

impl<R: AsRef<str>> Rooms for Vec<R> {
    fn into_rooms(self) -> Vec<Room> {
        self.iter().map(|r| r.as_ref().into()).collect()
    }
}

impl<R: AsRef<str>, const N: usize> Rooms for [R; N] {
    fn into_rooms(self) -> Vec<Room> {
        self.iter().map(|r| r.as_ref().into()).collect()
    }
}

impl BroadcastOperator {
    /// Every socket of `ns`.
    pub(crate) fn new(ns: Arc<NsCore<Socket>>) -> BroadcastOperator {
        BroadcastOperator {
            ns,
            rooms: Vec::new(),
            except: Vec::new(),
            volatile: false,
            local: false,
            timeout: None,
        }
    }

    /// The namespace.
    pub(crate) fn ns(&self) -> &Arc<NsCore<Socket>> {
        &self.ns
    }

    /// Whether only this server's sockets are concerned.
    pub(crate) fn ack_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.ns.settings.ack_timeout)
    }

    pub(crate) fn is_local(&self) -> bool {
        self.local
    }

    /// The selection as the adapter's cluster methods take it.
    pub(crate) fn options(&self) -> BroadcastOptions {
        BroadcastOptions {
            rooms: self.rooms.clone(),
            except: self.except.clone(),
            flags: BroadcastFlags {
                volatile: self.volatile,
                local: self.local,
            },
        }
    }

    /// Only the sockets in `rooms` (added to those already named: a
    /// socket in any of them is selected once).
    #[must_use]
    pub fn to(mut self, rooms: impl Rooms) -> BroadcastOperator {
        self.rooms.extend(rooms.into_rooms());
        self
    }

    /// Not the sockets in `rooms`.
    #[must_use]
    pub fn except(mut self, rooms: impl Rooms) -> BroadcastOperator {
        self.except.extend(rooms.into_rooms());
        self
    }

    /// The event may be lost: a socket whose connection cannot take it
    /// now (packets already waiting to leave) does not get it. For
    /// frequent updates where only the latest matters.
    #[must_use]
    pub fn volatile(mut self) -> BroadcastOperator {
        self.volatile = true;
        self
    }

    /// How long [`emit_with_ack`](Self::emit_with_ack) waits; the
    /// configured `ack_timeout` otherwise.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> BroadcastOperator {
        self.timeout = Some(timeout);
        self
    }

    /// This server's sockets only: with an adapter shared by several
    /// servers, nothing goes to the others (Node's `local` flag).
    #[must_use]
    pub fn local(mut self) -> BroadcastOperator {
        self.local = true;
        self
    }

    /// The sockets selected, on this server.
    pub fn sockets(&self) -> Vec<Socket> {
        selected(&self.ns, &self.rooms, &self.except)
    }

    /// Emits `event` with `data` to every socket selected: encoded once,
    /// the same frames queued on each connection; then, unless local, the
    /// adapter carries it to the other servers.
    ///
    /// A socket whose queue is full misses it (logged); the others still
    /// get it. With connection state recovery on (and not volatile), the
    /// event is numbered and kept for the sockets that come back.
    ///
    /// # Errors
    ///
    /// [`EmitError`] when the event cannot be encoded (a reserved name,
    /// arguments that do not serialize).
    pub fn emit(&self, event: &str, data: impl IntoArgs) -> Result<(), EmitError> {
        if !self.local
            && self.ns.settings.recovery.is_some()
            && self.ns.adapter.sequences_broadcasts()
        {
            // The adapter orders it, gives it its offset (unless volatile)
            // and delivers it here as well.
            let packet = event_packet(&self.ns.name, event, data)?;
            self.ns.adapter.sequence_broadcast(&packet, &self.options());
            return Ok(());
        }
        let (packet, payloads) = prepare_event(
            &self.ns,
            event,
            data,
            &self.rooms,
            &self.except,
            !self.volatile,
        )?;
        self.deliver_all(payloads);
        if !self.local {
            self.ns.adapter.broadcast(&packet, &self.options());
        }
        Ok(())
    }

    /// Queues `payloads` on every socket selected here.
    fn deliver_all(&self, payloads: Vec<Payload>) {
        deliver(&self.ns, &self.rooms, &self.except, self.volatile, payloads);
    }

    /// Emits `event` to every socket selected, asking each for an
    /// acknowledgement; the future gives every socket's answer (or why
    /// there is none) once all answered or the timeout passed.
    ///
    /// # Errors
    ///
    /// [`EmitError`] when the event cannot be encoded.
    pub fn emit_with_ack(
        &self,
        event: &str,
        data: impl IntoArgs,
    ) -> Result<impl Future<Output = Vec<AckResponse>> + Send + 'static, EmitError> {
        let mut packet = event_packet(&self.ns.name, event, data)?;
        let id = self.ns.next_ack_id();
        packet.id = Some(id);
        let payloads = encode(self.ns.settings.parser, &packet)?;
        let timeout = self.timeout.unwrap_or(self.ns.settings.ack_timeout);
        let waits: Vec<_> = self
            .sockets()
            .into_iter()
            .map(|socket| {
                let answer = socket.expect_ack(id);
                let sent = socket.send_payloads(payloads.iter().cloned());
                async move {
                    let result = match sent {
                        Ok(()) => socket.await_ack(id, answer, timeout).await,
                        Err(e) => Err(AckError::Emit(e)),
                    };
                    AckResponse {
                        socket: socket.id().clone(),
                        result,
                    }
                }
            })
            .collect();
        Ok(futures_util::future::join_all(waits))
    }

    /// Makes every socket selected join `rooms`, on every server unless
    /// local.
    pub fn join(&self, rooms: impl Rooms) {
        let rooms = rooms.into_rooms();
        join_selected(&self.ns, &self.rooms, &self.except, &rooms);
        if !self.local {
            self.ns.adapter.remote_join(&self.options(), &rooms);
        }
    }

    /// Makes every socket selected leave `rooms`, on every server unless
    /// local.
    pub fn leave(&self, rooms: impl Rooms) {
        let rooms = rooms.into_rooms();
        leave_selected(&self.ns, &self.rooms, &self.except, &rooms);
        if !self.local {
            self.ns.adapter.remote_leave(&self.options(), &rooms);
        }
    }

    /// Disconnects every socket selected from the namespace, on every
    /// server unless local.
    pub fn disconnect(&self) {
        self.disconnect_sockets(false);
    }

    /// Disconnects every socket selected and closes its connection (the
    /// client's other namespaces with it), on every server unless local.
    pub fn disconnect_and_close(&self) {
        self.disconnect_sockets(true);
    }

    /// Disconnects the sockets selected, closing their connections when
    /// `close`.
    fn disconnect_sockets(&self, close: bool) {
        disconnect_selected(&self.ns, &self.rooms, &self.except, close);
        if !self.local {
            self.ns.adapter.remote_disconnect(&self.options(), close);
        }
    }
}

impl Socket {
    /// The other sockets in `rooms` (not this one), as Node's
    /// `socket.to(room)`.
    pub fn to(&self, rooms: impl Rooms) -> BroadcastOperator {
        self.broadcast().to(rooms)
    }

    /// Every other socket of the namespace, not those in `rooms`.
    pub fn except(&self, rooms: impl Rooms) -> BroadcastOperator {
        self.broadcast().except(rooms)
    }

    /// This socket alone, for an emit that may be lost: when its
    /// connection cannot take the event at once, it is dropped (see
    /// [`BroadcastOperator::volatile`]).
    pub fn volatile(&self) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(self.ns()))
            .to(self.id())
            .volatile()
    }

    /// Every other socket of the namespace.
    pub fn broadcast(&self) -> BroadcastOperator {
        BroadcastOperator::new(Arc::clone(self.ns())).except(self.id())
    }
}

/// Queues `payloads` on every socket of `ns` in any of `rooms` (all when
/// empty) and none of `except`: each frame encoded once for every
/// WebSocket, the rooms walked in place (no list of recipients per emit).
/// A volatile emit skips a socket that cannot take it now; a socket whose
/// queue is full misses it.
pub(crate) fn deliver(
    ns: &NsCore<Socket>,
    rooms: &[Room],
    except: &[Room],
    volatile: bool,
    payloads: Vec<Payload>,
) {
    let payloads: Vec<PreparedPayload> = payloads.into_iter().map(PreparedPayload::new).collect();
    ns.with_members(|members| {
        ns.adapter.for_each_selected(rooms, except, &mut |sid| {
            let Some(socket) = members.get(sid) else {
                return;
            };
            if volatile && !socket.conn().is_writable() {
                return;
            }
            if let Err(e) = socket.send_prepared(&payloads) {
                tracing::debug!(socket = %socket.id(), error = %e, "broadcast not delivered");
            }
        });
    });
}

/// The sockets of `ns` on this server in any of `rooms` (all when empty)
/// and in none of `except`.
pub(crate) fn selected(ns: &NsCore<Socket>, rooms: &[Room], except: &[Room]) -> Vec<Socket> {
    let sids = ns.adapter.select(rooms, except);
    ns.get_all(&sids)
}

/// Makes the sockets [`selected`] names join `joined`.
pub(crate) fn join_selected(ns: &NsCore<Socket>, rooms: &[Room], except: &[Room], joined: &[Room]) {
    for socket in selected(ns, rooms, except) {
        ns.adapter.join(socket.id(), joined);
    }
}

/// Makes the sockets [`selected`] names leave `left`.
pub(crate) fn leave_selected(ns: &NsCore<Socket>, rooms: &[Room], except: &[Room], left: &[Room]) {
    for socket in selected(ns, rooms, except) {
        for room in left {
            ns.adapter.leave(socket.id(), room);
        }
    }
}

/// Disconnects the sockets [`selected`] names from the namespace, closing
/// their connections when `close`.
pub(crate) fn disconnect_selected(
    ns: &NsCore<Socket>,
    rooms: &[Room],
    except: &[Room],
    close: bool,
) {
    for socket in selected(ns, rooms, except) {
        if close {
            socket.close_connection();
        } else {
            socket.disconnect();
        }
    }
}
