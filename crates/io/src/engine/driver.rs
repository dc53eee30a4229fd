//! The driver of a session: the one task that opens it, calls the
//! handler for what the client sent, runs the heartbeat and ends it.
//!
//! Every packet from the client, whichever transport read it, reaches the
//! handler through this task's channel, so `on_message` calls never
//! overlap and keep the client's order, and `on_close` comes last.

use std::sync::Arc;

use sockeye::Utf8Bytes;
use tokio::sync::mpsc;
use tokio::time::{Duration, Instant};

use super::close::CloseReason;
use super::handler::EngineHandler;
use super::handshake::{Handshake, TransportKind};
use super::packet::Packet;
use super::sessions::new_sid;
use super::socket::{EngineSocket, QueueLimits};
use super::state::EngineState;

/// Packets read from the client and not yet handled, per session. A
/// reader that gets this far ahead of the handler waits, so a fast client
/// cannot fill the server's memory; 64 keeps a burst of small packets
/// from making the reader wait at all.
const INBOUND_CAPACITY: usize = 64;

/// Opens a session on `transport`: registers it, queues the open packet,
/// calls `on_open` and starts its driver task.
pub(crate) fn open<H: EngineHandler>(
    engine: &Arc<EngineState<H>>,
    handshake: Handshake,
    transport: TransportKind,
) -> Arc<EngineSocket<H::Data>> {
    let (inbound, packets) = mpsc::channel(INBOUND_CAPACITY);
    let config = &engine.config;
    let ping_window = config.ping_interval + config.ping_timeout;
    let socket = Arc::new(EngineSocket::new(
        new_sid(),
        H::Data::default(),
        handshake,
        transport,
        QueueLimits {
            packets: config.max_buffered_packets,
            bytes: config.max_buffered_bytes,
        },
        ping_window,
        inbound,
    ));
    if socket.is_eio3() {
        // v3: the client pings, the first time within the window.
        socket.lock().pong_due = Some(Instant::now() + ping_window);
    }
    socket.push_control(Packet::Open(open_json(engine, &socket, transport)));
    engine.sessions.insert(Arc::clone(&socket));
    engine.handler.on_open(&socket);
    tokio::spawn(drive(Arc::clone(engine), Arc::clone(&socket), packets));
    socket
}

/// The handshake JSON: exactly `sid`, `upgrades`, `pingInterval`,
/// `pingTimeout` and `maxPayload`, in Node's order. A session opened on
/// WebSocket has nothing to upgrade to.
fn open_json<H: EngineHandler>(
    engine: &EngineState<H>,
    socket: &EngineSocket<H::Data>,
    transport: TransportKind,
) -> Utf8Bytes {
    let config = &engine.config;
    let upgrades = if transport == TransportKind::Polling && config.transports.websocket {
        r#"["websocket"]"#
    } else {
        "[]"
    };
    // The sid is URL-safe base64: nothing in it needs JSON escaping.
    if socket.is_eio3() {
        // The v3 handshake has no `maxPayload`.
        return Utf8Bytes::from(format!(
            r#"{{"sid":"{}","upgrades":{},"pingInterval":{},"pingTimeout":{}}}"#,
            socket.id(),
            upgrades,
            config.ping_interval.as_millis(),
            config.ping_timeout.as_millis(),
        ));
    }
    Utf8Bytes::from(format!(
        r#"{{"sid":"{}","upgrades":{},"pingInterval":{},"pingTimeout":{},"maxPayload":{}}}"#,
        socket.id(),
        upgrades,
        config.ping_interval.as_millis(),
        config.ping_timeout.as_millis(),
        config.max_payload,
    ))
}

/// The heartbeat: a ping `ping_interval` after the open and after each
/// pong, and the end of the session when no pong follows a ping within
/// `ping_timeout` (as Node's `schedulePing`: no ping at the open).
#[derive(Debug)]
struct Heartbeat {
    /// When to act next.
    deadline: Instant,
    /// Whether a ping is out and unanswered.
    awaiting_pong: bool,
    /// `ping_interval`.
    interval: Duration,
    /// `ping_timeout`.
    timeout: Duration,
    /// Engine.IO v3: the client pings and the server only watches that
    /// the pings keep coming (`EngineSocket::pong_due` holds when the next
    /// is due).
    client_pings: bool,
}

impl Heartbeat {
    /// The heartbeat of a session opening now.
    fn new(interval: Duration, timeout: Duration, client_pings: bool) -> Self {
        let wait = if client_pings {
            interval + timeout
        } else {
            interval
        };
        Heartbeat {
            deadline: Instant::now() + wait,
            awaiting_pong: false,
            interval,
            timeout,
            client_pings,
        }
    }

    /// The v3 deadline passed: the session ends unless a ping came
    /// meanwhile and moved the deadline on (Node: "ping timeout" after
    /// `ping_interval + ping_timeout` without a ping).
    fn on_client_deadline<D>(&mut self, socket: &EngineSocket<D>) {
        let due = socket.lock().pong_due;
        match due {
            Some(due) if due > Instant::now() => self.deadline = due,
            _ => {
                socket.terminate(CloseReason::PingTimeout, Some(Packet::Close), false);
            }
        }
    }

    /// The deadline passed: ping, or end the session if the last ping got
    /// no answer. The pong's deadline counts from when the ping was due,
    /// not from when this timer fired, so a late timer gives no extra time.
    fn on_deadline<D>(&mut self, socket: &EngineSocket<D>) {
        if self.client_pings {
            self.on_client_deadline(socket);
        } else if self.awaiting_pong {
            if socket.lock().pong_due.is_none() {
                // A transport read the pong; it is on its way here.
                self.on_pong();
            } else {
                socket.terminate(CloseReason::PingTimeout, Some(Packet::Close), false);
            }
        } else {
            self.awaiting_pong = true;
            self.deadline += self.timeout;
            socket.lock().pong_due = Some(self.deadline);
            socket.push_control(Packet::Ping(Utf8Bytes::new()));
        }
    }

    /// A pong came: the next ping is due `ping_interval` from now.
    fn on_pong(&mut self) {
        if self.awaiting_pong {
            self.awaiting_pong = false;
            self.deadline = Instant::now() + self.interval;
        }
    }
}

/// Runs a session until it ends, then calls `on_close` and unregisters it.
///
/// `on_close` is called once, here, after the last `on_message`.
async fn drive<H: EngineHandler>(
    engine: Arc<EngineState<H>>,
    socket: Arc<EngineSocket<H::Data>>,
    mut packets: mpsc::Receiver<Packet>,
) {
    let _unregister = Unregister {
        engine: &engine,
        socket: &socket,
    };
    let config = &engine.config;
    let mut heartbeat = Heartbeat::new(config.ping_interval, config.ping_timeout, socket.is_eio3());
    let (reason, drain) = loop {
        let changed = socket.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if let Some(closing) = socket.lock().closing.as_ref() {
            break (closing.reason, closing.drain);
        }
        tokio::select! {
            biased;
            () = &mut changed => {}
            packet = packets.recv() => match packet {
                Some(packet) => dispatch(&engine, &socket, &mut heartbeat, packet),
                // The socket holds a sender while this task holds the
                // socket, so the channel cannot end first.
                None => {
                    socket.terminate(CloseReason::TransportError, None, false);
                }
            },
            () = tokio::time::sleep_until(heartbeat.deadline) => heartbeat.on_deadline(&socket),
        }
    };
    engine.handler.on_close(&socket, reason);
    if drain {
        // A live client polls or reads at least once per heartbeat period:
        // past it, the farewell would never be fetched.
        wait_for_farewell(&socket, config.ping_interval + config.ping_timeout).await;
    }
}

/// Ends and unregisters a session when its driver stops, however it stops:
/// a handler that panics loses its session, not the server's memory.
struct Unregister<'a, H: EngineHandler> {
    /// The engine holding the session.
    engine: &'a EngineState<H>,
    /// The session.
    socket: &'a EngineSocket<H::Data>,
}

impl<H: EngineHandler> Drop for Unregister<'_, H> {
    fn drop(&mut self) {
        self.socket
            .terminate(CloseReason::TransportError, None, false);
        self.engine.sessions.remove(self.socket.id());
    }
}

/// Hands one packet from the client to the handler or the heartbeat.
fn dispatch<H: EngineHandler>(
    engine: &EngineState<H>,
    socket: &Arc<EngineSocket<H::Data>>,
    heartbeat: &mut Heartbeat,
    packet: Packet,
) {
    match packet {
        Packet::Message(payload) => engine.handler.on_message(socket, payload),
        Packet::Pong(_) => heartbeat.on_pong(),
        // The client leaves: a pending poll ends with a noop, as Node does.
        Packet::Close => {
            socket.terminate(CloseReason::TransportClose, Some(Packet::Noop), false);
        }
        // The transports keep every other packet to themselves.
        Packet::Open(_) | Packet::Ping(_) | Packet::Upgrade | Packet::Noop => {}
    }
}

/// Waits until a transport took the closing session's last packets, or
/// `limit` passed.
async fn wait_for_farewell<D>(socket: &EngineSocket<D>, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let changed = socket.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let pending = socket
            .lock()
            .closing
            .as_ref()
            .is_some_and(|closing| closing.farewell.is_some());
        if !pending {
            return;
        }
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(deadline) => return,
        }
    }
}
