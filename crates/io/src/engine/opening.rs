//! The opening of a session: its id, its state, the handshake packet the
//! client reads first, and `on_open`.

use std::sync::Arc;

use sockeye::Utf8Bytes;
use tokio::time::Instant;

use super::handler::EngineHandler;
use super::handshake::{Handshake, TransportKind};
use super::packet::Packet;
use super::sessions::new_sid;
use super::socket::{EngineSocket, QueueLimits};
use super::state::EngineState;

/// A new session on `transport`, not open yet: nobody knows of it until
/// [`start`].
pub(crate) fn create<H: EngineHandler>(
    engine: &EngineState<H>,
    handshake: Handshake,
    transport: TransportKind,
) -> Arc<EngineSocket<H::Data>> {
    let config = &engine.config;
    Arc::new(EngineSocket::new(
        new_sid(),
        H::Data::default(),
        handshake,
        transport,
        QueueLimits {
            packets: config.max_buffered_packets,
            bytes: config.max_buffered_bytes,
        },
        config.ping_interval + config.ping_timeout,
    ))
}

/// Opens a session [`create`] made: queues the open packet, registers it
/// and calls `on_open`. The caller then runs its driver
/// ([`drive`](super::driver::drive)).
pub(crate) fn start<H: EngineHandler>(
    engine: &EngineState<H>,
    socket: &Arc<EngineSocket<H::Data>>,
    transport: TransportKind,
) {
    let config = &engine.config;
    if socket.is_eio3() {
        // v3: the client pings, the first time within the window.
        socket.lock().pong_due = Some(Instant::now() + config.ping_interval + config.ping_timeout);
    }
    socket.push_control(Packet::Open(open_json(engine, socket, transport)));
    engine.sessions.insert(Arc::clone(socket));
    engine.handler.on_open(socket);
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
