//! What a transport does with a packet it read from the client, whichever
//! transport it is: a message goes to the handler, a pong to the
//! heartbeat, a close ends the session, and a ping is answered (v3) or
//! refused (v4).

use std::sync::Arc;

use super::close::CloseReason;
use super::handler::EngineHandler;
use super::handshake::TransportKind;
use super::packet::Packet;
use super::socket::EngineSocket;
use super::state::EngineState;

/// What became of a packet handed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Delivered {
    /// Taken; read on.
    Taken,
    /// The session ended (now or before): read no more.
    Ended,
    /// A v4 client pinged, which only the server does: the session ended,
    /// and a POST that carried it is answered 400.
    Refused,
}

/// Hands one packet from the client on. `on_message` is called on the
/// caller's task, under the session's dispatch lock, so the calls never
/// overlap and keep the order the transports read them in.
pub(crate) fn deliver<H: EngineHandler>(
    engine: &EngineState<H>,
    socket: &Arc<EngineSocket<H::Data>>,
    packet: Packet,
    transport: TransportKind,
) -> Delivered {
    match packet {
        Packet::Message(payload) => {
            if socket.dispatch(|| engine.handler.on_message(socket, payload)) {
                Delivered::Taken
            } else {
                Delivered::Ended
            }
        }
        Packet::Pong(_) => {
            socket.pong_received();
            Delivered::Taken
        }
        // The client leaves: a pending poll ends with a noop, as Node does.
        Packet::Close => {
            socket.terminate(CloseReason::TransportClose, Some(Packet::Noop), false);
            Delivered::Ended
        }
        // A v3 client pings; its pong goes out with what is queued.
        Packet::Ping(data) if socket.is_eio3() => {
            socket.client_pinged(data);
            Delivered::Taken
        }
        // A v4 client never pings: Node calls it "invalid heartbeat
        // direction" and ends the session (a polling client hears `1`).
        Packet::Ping(_) => {
            let farewell = (transport == TransportKind::Polling).then_some(Packet::Close);
            socket.terminate(CloseReason::TransportError, farewell, false);
            Delivered::Refused
        }
        Packet::Open(_) | Packet::Upgrade | Packet::Noop => Delivered::Taken,
    }
}
