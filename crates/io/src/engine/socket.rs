//! One Engine.IO session: its public handle, [`EngineSocket`], and the
//! state its transports and its driver share.
//!
//! Everything that changes a session goes through one lock held for a few
//! instructions. The session's driver task (which also runs its WebSocket)
//! is woken through one [`AtomicWaker`]; a pending poll and an upgrade's
//! probe wait on [`Notify`]s, arming their wait before they look at the
//! state, so no change is missed.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use futures_util::task::AtomicWaker;
use sockeye::Utf8Bytes;
use tokio::sync::Notify;
use tokio::time::{Duration, Instant};

use super::close::{CloseReason, SendError};
use super::handshake::{Handshake, TransportKind};
use super::packet::{Packet, Payload};
use super::prepared::{Outgoing, PreparedPayload};

/// A session's WebSocket, as the HTTP side accepts it.
pub(crate) type Ws = sockeye::WebSocket<sockeye::hyper::UpgradedIo>;

/// Where an upgrade from polling to WebSocket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UpgradeState {
    /// No WebSocket is being tried.
    None,
    /// A WebSocket with this sid is open and has not sent `2probe` yet.
    Probing,
    /// `3probe` was answered: polls end at once (with `6` if nothing is
    /// queued) so the client can pause polling and send `5`.
    Probed,
    /// `5` came: the session runs on the WebSocket for good.
    Done,
}

/// How a session ended, for the transports still attached.
#[derive(Clone, Debug)]
pub(crate) struct Closing {
    /// Why, for `on_close`.
    pub(crate) reason: CloseReason,
    /// The last packet for the client (`1` or `6`), taken by the first
    /// transport that writes it; `None` when nothing more is sent.
    pub(crate) farewell: Option<Packet>,
    /// Whether the packets still queued go out before the farewell: a
    /// server-side close sends what it was given first.
    pub(crate) drain: bool,
}

/// How many packets' room an emptied outbox keeps (a few hundred bytes):
/// enough for the bursts of a busy session (an event with its attachments,
/// several emits in a row) to queue without allocating, small enough to
/// matter little on an idle one.
const KEPT_OUTBOX: usize = 16;

/// The mutable part of a session.
#[derive(Debug)]
pub(crate) struct State {
    /// Packets waiting for a transport, oldest first.
    pub(crate) outbox: VecDeque<Outgoing>,
    /// How many of them are messages (the bound applies to those only:
    /// pings and the open packet always fit).
    pub(crate) queued_messages: usize,
    /// The bytes of their payloads.
    pub(crate) queued_bytes: usize,
    /// The transport in use.
    pub(crate) transport: TransportKind,
    /// Whether a polling GET is waiting.
    pub(crate) polling: bool,
    /// Whether a polling POST is being read.
    pub(crate) posting: bool,
    /// The upgrade in progress, if any.
    pub(crate) upgrade: UpgradeState,
    /// Set once the session ended.
    pub(crate) closing: Option<Closing>,
    /// When the pong to the ping in flight is due, if one is; cleared by
    /// the transport that reads the pong. For an Engine.IO v3 session,
    /// where the client pings, when the client's next ping is due; pushed
    /// back by the transport that reads each ping.
    pub(crate) pong_due: Option<Instant>,
    /// A WebSocket that completed the upgrade, for the driver to take
    /// over.
    pub(crate) handover: Option<Box<Ws>>,
}

impl State {
    /// Takes the oldest queued packet. A queue that grew past
    /// [`KEPT_OUTBOX`] packets gives its memory back with its last packet;
    /// a smaller one keeps it for the next packets, which then need no
    /// allocation.
    pub(crate) fn pop_outbox(&mut self) -> Option<Outgoing> {
        let Some(entry) = self.outbox.pop_front() else {
            if self.outbox.capacity() > KEPT_OUTBOX {
                self.outbox = VecDeque::new();
            }
            return None;
        };
        if let Some(len) = entry.message_len() {
            self.queued_messages -= 1;
            self.queued_bytes -= len;
        }
        Some(entry)
    }

    /// Takes every queued packet, oldest first.
    pub(crate) fn take_outbox(&mut self) -> Vec<Packet> {
        self.queued_messages = 0;
        self.queued_bytes = 0;
        // The queue's memory goes with its packets: an idle session holds
        // none.
        std::mem::take(&mut self.outbox)
            .into_iter()
            .map(Outgoing::into_packet)
            .collect()
    }
}

/// The bounds on what one session queues for its client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueueLimits {
    /// [`EngineConfig::max_buffered_packets`](super::EngineConfig::max_buffered_packets).
    pub(crate) packets: usize,
    /// [`EngineConfig::max_buffered_bytes`](super::EngineConfig::max_buffered_bytes).
    pub(crate) bytes: usize,
}

/// One Engine.IO session, shared as `Arc<EngineSocket<D>>`.
///
/// `D` is the layer above's state for this session (Socket.IO keeps its
/// per-connection state there), created with `D::default()` at the open.
///
/// Sending never waits: [`send`](Self::send) queues the payload and wakes
/// the transport (the session's task, which writes its WebSocket, or a
/// pending poll, or the next poll to come).
#[derive(Debug)]
pub struct EngineSocket<D> {
    /// The session id.
    id: Box<str>,
    /// The layer above's state.
    data: D,
    /// The request that opened the session.
    handshake: Handshake,
    /// The bounds on queued messages.
    limits: QueueLimits,
    /// For an Engine.IO v3 session, how long the client may go without
    /// pinging (`ping_interval + ping_timeout`, as Node).
    ping_window: Duration,
    /// The shared state.
    state: Mutex<State>,
    /// Set, under the state's lock, when `closing` is: whether the session
    /// ended, read without the lock on every packet.
    closed: AtomicBool,
    /// Held while the handler is called for this session, so that its
    /// calls never overlap whichever transport read the packet.
    dispatch: Mutex<()>,
    /// Wakes the session's driver: on every change, and on packets queued
    /// once the session runs on a WebSocket (which the driver writes).
    /// Its waker stays registered between turns; see [`Self::wake_driver`].
    pub(crate) driver: AtomicWaker,
    /// Set while the driver works: it looks at the state before it waits,
    /// so it need not be woken meanwhile (its own sends, above all).
    pub(crate) driving: AtomicBool,
    /// Announces every change of `state` but one, to a pending poll and an
    /// upgrade's probe: packets added to the outbox.
    pub(crate) changed: Notify,
    /// Announces packets added to the outbox of a polling session, to its
    /// pending poll alone.
    pub(crate) queued: Notify,
}

impl<D> EngineSocket<D> {
    /// A new session on `transport`.
    pub(crate) fn new(
        id: Box<str>,
        data: D,
        handshake: Handshake,
        transport: TransportKind,
        limits: QueueLimits,
        ping_window: Duration,
    ) -> Self {
        EngineSocket {
            id,
            data,
            handshake,
            limits,
            ping_window,
            state: Mutex::new(State {
                outbox: VecDeque::new(),
                queued_messages: 0,
                queued_bytes: 0,
                transport,
                polling: false,
                posting: false,
                upgrade: UpgradeState::None,
                closing: None,
                pong_due: None,
                handover: None,
            }),
            closed: AtomicBool::new(false),
            dispatch: Mutex::new(()),
            driver: AtomicWaker::new(),
            driving: AtomicBool::new(false),
            changed: Notify::new(),
            queued: Notify::new(),
        }
    }

    /// The session id (`sid`): 20 URL-safe characters from 120 random bits.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The layer above's state for this session.
    pub fn data(&self) -> &D {
        &self.data
    }

    /// The request that opened the session.
    pub fn handshake(&self) -> &Handshake {
        &self.handshake
    }

    /// The transport the session runs on now.
    pub fn transport(&self) -> TransportKind {
        self.lock().transport
    }

    /// Queues a message for the client.
    ///
    /// # Errors
    ///
    /// [`SendError::Closed`] once the session ended;
    /// [`SendError::QueueFull`] when the queue holds
    /// [`EngineConfig::max_buffered_packets`](super::EngineConfig::max_buffered_packets)
    /// messages already (nothing is queued then).
    pub fn send(&self, payload: Payload) -> Result<(), SendError> {
        self.send_many([payload])
    }

    /// Queues several messages, all of them or none, adjacent and in
    /// order: Socket.IO sends an event and its binary attachments so.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); on an error nothing is queued.
    pub fn send_many(&self, payloads: impl IntoIterator<Item = Payload>) -> Result<(), SendError> {
        self.enqueue(
            payloads
                .into_iter()
                .map(|payload| Outgoing::Packet(Packet::Message(payload))),
        )
    }

    /// Queues messages shared with other sessions, as
    /// [`send_many`](Self::send_many) does: a WebSocket session writes
    /// their frames as they were encoded once for all.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send); on an error nothing is queued.
    pub fn send_prepared(&self, messages: &[PreparedPayload]) -> Result<(), SendError> {
        self.enqueue(messages.iter().cloned().map(Outgoing::Prepared))
    }

    /// Queues messages, all or none, and wakes whoever writes them.
    fn enqueue(&self, messages: impl Iterator<Item = Outgoing>) -> Result<(), SendError> {
        let transport = {
            let mut state = self.lock();
            if state.closing.is_some() {
                return Err(SendError::Closed);
            }
            // Queued in place, then taken back if past a bound: no list of
            // its own per call.
            let before = state.outbox.len();
            let (mut count, mut bytes) = (0, 0);
            for message in messages {
                count += 1;
                bytes += message.message_len().unwrap_or_default();
                state.outbox.push_back(message);
            }
            let refused = if state.queued_messages + count > self.limits.packets {
                Some(SendError::QueueFull {
                    queued: state.queued_messages,
                    limit: self.limits.packets,
                })
            } else if state.queued_bytes > 0 && state.queued_bytes + bytes > self.limits.bytes {
                // One message larger than the bound still goes when nothing
                // waits: the bound is on what piles up.
                Some(SendError::BytesFull {
                    queued: state.queued_bytes,
                    limit: self.limits.bytes,
                })
            } else {
                None
            };
            if let Some(refused) = refused {
                state.outbox.truncate(before);
                return Err(refused);
            }
            state.queued_messages += count;
            state.queued_bytes += bytes;
            state.transport
        };
        self.announce_queued(transport);
        Ok(())
    }

    /// Closes the session from the server: what is queued goes out, then
    /// a `1` packet, and the transport closes. `on_close` follows with
    /// [`CloseReason::ForcedClose`]. Does nothing once closed.
    pub fn close(&self) {
        self.terminate(CloseReason::ForcedClose, Some(Packet::Close), true);
    }

    /// Whether a message sent now would leave at once: nothing waits in
    /// the queue and the transport can write (a WebSocket, or a poll the
    /// client has pending). Socket.IO's volatile emits skip a session that
    /// is not writable, as Node's check `transport.writable`.
    pub fn is_writable(&self) -> bool {
        let state = self.lock();
        state.closing.is_none()
            && state.outbox.is_empty()
            && (state.transport == TransportKind::WebSocket || state.polling)
    }

    /// Whether the session ended.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Ends the session once: records why and what the client is told last
    /// (`farewell`), and wakes everyone. Returns whether this call ended it.
    pub(crate) fn terminate(
        &self,
        reason: CloseReason,
        farewell: Option<Packet>,
        drain: bool,
    ) -> bool {
        {
            let mut state = self.lock();
            if state.closing.is_some() {
                return false;
            }
            state.closing = Some(Closing {
                reason,
                farewell,
                drain,
            });
            self.closed.store(true, Ordering::Release);
        }
        self.announce_change();
        true
    }

    /// Whether the pong is overdue: the session is ending with "ping
    /// timeout", even if the driver's timer has not fired yet. Checked when
    /// a request comes, so that one arriving just after the deadline is
    /// refused as it would be a moment later.
    pub(crate) fn pong_overdue(&self) -> bool {
        let overdue = self
            .lock()
            .pong_due
            .is_some_and(|due| Instant::now() >= due);
        if overdue {
            self.terminate(CloseReason::PingTimeout, Some(Packet::Close), false);
        }
        overdue
    }

    /// Whether the session speaks Engine.IO v3 (the client asked for
    /// `EIO=3`, which [`EngineConfig::allow_eio3`](super::EngineConfig::allow_eio3)
    /// allows).
    pub fn is_eio3(&self) -> bool {
        self.handshake.protocol == 3
    }

    /// Whether a v3 polling client takes binary payloads: it did not ask
    /// for base64 with `b64` in its handshake query.
    pub(crate) fn supports_binary(&self) -> bool {
        self.handshake.query_value("b64").is_none()
    }

    /// An Engine.IO v3 client pinged: the pong is queued (ahead of the
    /// bound, as every control packet) and the next ping is due within
    /// the ping window.
    pub(crate) fn client_pinged(&self, data: Utf8Bytes) {
        let transport = {
            let mut state = self.lock();
            state.pong_due = Some(Instant::now() + self.ping_window);
            state.outbox.push_back(Outgoing::Packet(Packet::Pong(data)));
            state.transport
        };
        self.announce_queued(transport);
    }

    /// Records that the client answered the ping, and tells the driver,
    /// whose next ping counts from now.
    pub(crate) fn pong_received(&self) {
        self.lock().pong_due = None;
        self.wake_driver();
    }

    /// Queues a control packet (ping, open) regardless of the bound.
    pub(crate) fn push_control(&self, packet: Packet) {
        let transport = {
            let mut state = self.lock();
            state.outbox.push_back(Outgoing::Packet(packet));
            state.transport
        };
        self.announce_queued(transport);
    }

    /// Runs `f` on the state, then wakes everyone waiting on a change.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.announce_change();
        result
    }

    /// Calls the handler through `call` unless the session ended, never
    /// two calls at once; false when it had ended. The check is made under
    /// the same lock as the call, so once the driver called `on_close`
    /// (through [`dispatch_last`](Self::dispatch_last)) no message follows
    /// it.
    ///
    /// A handler that panics loses its session (ended as a transport
    /// error), not the task it runs on: that may be the task answering an
    /// HTTP request, which still gets its answer.
    pub(crate) fn dispatch(&self, call: impl FnOnce()) -> bool {
        let _turn = self.dispatch.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_closed() {
            return false;
        }
        if std::panic::catch_unwind(AssertUnwindSafe(call)).is_err() {
            self.terminate(CloseReason::TransportError, None, false);
            return false;
        }
        true
    }

    /// Runs `call` (the handler's `on_close`) under the dispatch lock, after
    /// any call to the handler already under way.
    pub(crate) fn dispatch_last(&self, call: impl FnOnce()) {
        let _turn = self.dispatch.lock().unwrap_or_else(PoisonError::into_inner);
        call();
    }

    /// Wakes whoever writes packets just queued: the driver of a session on
    /// a WebSocket, or the pending poll of one on polling (which, during an
    /// upgrade, the driver does not write yet).
    fn announce_queued(&self, transport: TransportKind) {
        match transport {
            TransportKind::WebSocket => self.wake_driver(),
            TransportKind::Polling => self.queued.notify_waiters(),
        }
    }

    /// Wakes everyone who waits on a change of the state.
    fn announce_change(&self) {
        self.changed.notify_waiters();
        self.wake_driver();
    }

    /// Wakes the driver, unless it is working: then the look it takes at
    /// the state before it waits finds the change. (The change was made
    /// under the state's lock before this is called, and the driver clears
    /// `driving` before it takes that lock for its look, so one of the two
    /// sees the other.)
    fn wake_driver(&self) {
        if !self.driving.load(Ordering::SeqCst) {
            self.driver.wake();
        }
    }

    /// Locks the state. A poisoned lock (a panic while it was held, which
    /// no code here does) still holds consistent data: every update is a
    /// few field writes.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(max: usize) -> EngineSocket<()> {
        let handshake = Handshake::new("/engine.io/", &http::HeaderMap::new(), None, 4);
        EngineSocket::new(
            "sid".into(),
            (),
            handshake,
            TransportKind::Polling,
            QueueLimits {
                packets: max,
                bytes: usize::MAX,
            },
            Duration::from_secs(45),
        )
    }

    /// `send_many` atomicity: all or none against the queue bound.
    #[test]
    fn send_many_queues_all_or_none() {
        let socket = socket(3);
        socket.send_many(["a".into(), "b".into()]).unwrap();
        assert_eq!(
            socket.send_many(["c".into(), "d".into()]),
            Err(SendError::QueueFull {
                queued: 2,
                limit: 3
            })
        );
        assert_eq!(socket.lock().outbox.len(), 2);
        socket.send("c".into()).unwrap();
        assert_eq!(socket.lock().outbox.len(), 3);
    }

    /// Queue bound: control packets do not count against it.
    #[test]
    fn control_packets_bypass_the_bound() {
        let socket = socket(1);
        socket.push_control(Packet::Ping(sockeye::Utf8Bytes::new()));
        socket.send("a".into()).unwrap();
        assert!(matches!(
            socket.send("b".into()),
            Err(SendError::QueueFull { .. })
        ));
    }

    /// Heartbeat: a request after the pong's deadline finds the session
    /// ended with "ping timeout", and a pong read in time clears it.
    #[test]
    fn overdue_pong_ends_the_session() {
        let socket = socket(8);
        socket.lock().pong_due = Some(Instant::now() + std::time::Duration::from_secs(60));
        assert!(!socket.pong_overdue());
        socket.pong_received();
        assert!(!socket.pong_overdue());
        socket.lock().pong_due = Some(Instant::now());
        assert!(socket.pong_overdue());
        assert_eq!(
            socket.lock().closing.as_ref().map(|c| c.reason),
            Some(CloseReason::PingTimeout)
        );
    }

    /// Close: a closed session refuses sends, and closes once.
    #[test]
    fn closed_session_refuses_sends() {
        let socket = socket(8);
        socket.close();
        assert!(socket.is_closed());
        assert_eq!(socket.send("a".into()), Err(SendError::Closed));
        assert!(!socket.terminate(CloseReason::ParseError, None, false));
        assert_eq!(
            socket.lock().closing.as_ref().map(|c| c.reason),
            Some(CloseReason::ForcedClose)
        );
    }
}
