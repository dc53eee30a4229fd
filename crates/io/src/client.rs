//! [`Client`]: the Socket.IO layer as an Engine.IO handler. It decodes
//! each session's packets, connects sockets to namespaces, routes events
//! and acknowledgements to them, and disconnects them when the session
//! ends.

use std::sync::Arc;
use std::time::Duration;

use rmpv::Value;

use crate::conn::ConnState;
use crate::engine::{CloseReason, EngineHandler, Payload};
use crate::error::DisconnectReason;
use crate::legacy;
use crate::parser::{MAIN_NAMESPACE, Packet, PacketKind, Parser};
use crate::registry::Registry;
use crate::socket::{Conn, Socket, encode};

/// The Socket.IO layer as an Engine.IO handler: what
/// [`SocketIo::service`](crate::SocketIo::service) serves. Made only by
/// [`SocketIo`](crate::SocketIo).
#[derive(Debug)]
pub struct Client {
    pub(crate) registry: Arc<Registry>,
    pub(crate) parser: Parser,
    pub(crate) connect_timeout: Duration,
}

impl EngineHandler for Client {
    type Data = ConnState<Socket>;

    fn on_open(&self, conn: &Conn) {
        conn.data().set_decoder(self.parser.decoder());
        close_unless_connected(conn, self.connect_timeout);
        // Socket.IO protocol v4: the server connects the client to `/`
        // unasked (see `legacy.rs`).
        if conn.is_eio3() {
            self.connect(conn, Packet::connect(MAIN_NAMESPACE, None));
        }
    }

    fn on_message(&self, conn: &Conn, payload: Payload) {
        match conn.data().decode(payload) {
            Ok(Some((packet, joined))) => self.on_packet(conn, packet, joined),
            Ok(None) => {}
            Err(e) => {
                tracing::debug!(session = conn.id(), error = %e, "closing: not a Socket.IO packet");
                disconnect_all(conn, DisconnectReason::ForcedClose);
                conn.close();
            }
        }
    }

    fn on_close(&self, conn: &Conn, reason: CloseReason) {
        disconnect_all(conn, disconnect_reason(reason));
    }
}

impl Client {
    /// Routes a packet as Node's server does: a CONNECT to a namespace not
    /// joined yet connects; any other packet goes to the namespace's
    /// socket; anything else (a packet for a namespace not joined, a
    /// second CONNECT, a `CONNECT_ERROR` from the client) breaks the
    /// protocol and closes the connection.
    /// `joined` is the socket of the packet's namespace on this session.
    fn on_packet(&self, conn: &Conn, packet: Packet, joined: Option<Socket>) {
        let (packet, joined) = if packet.kind == PacketKind::Connect {
            // A v3 client's CONNECT carries its query in the namespace's
            // name: the namespace is the name without it.
            let packet = legacy::connect_request(conn, packet);
            let joined = conn.data().socket_in(&packet.nsp);
            (packet, joined)
        } else {
            (packet, joined)
        };
        match (packet.kind, joined) {
            (PacketKind::Connect, None) => self.connect(conn, packet),
            (PacketKind::Event | PacketKind::Ack | PacketKind::Disconnect, Some(socket)) => {
                // One that left its namespace meanwhile hears nothing more.
                if !socket.connected() {
                    return;
                }
                match packet.kind {
                    PacketKind::Event => socket.on_event(packet),
                    PacketKind::Ack => socket.on_ack(packet),
                    _ => {
                        conn.data().remove(&packet.nsp);
                        socket.disconnected(DisconnectReason::ClientNamespaceDisconnect);
                    }
                }
            }
            (kind, _) => {
                tracing::debug!(
                    session = conn.id(),
                    ?kind,
                    nsp = packet.nsp,
                    "closing: packet out of place"
                );
                disconnect_all(conn, DisconnectReason::ForcedServerClose);
                conn.close();
            }
        }
    }

    /// A CONNECT: to the namespace if it exists (or a dynamic namespace
    /// makes it), or a `CONNECT_ERROR` "Invalid namespace".
    fn connect(&self, conn: &Conn, packet: Packet) {
        let auth = packet.data.unwrap_or_else(|| Value::Map(Vec::new()));
        if let Some(ns) = self.registry.resolve(&packet.nsp, &auth) {
            ns.connect(Arc::clone(conn), auth);
            return;
        }
        let refusal = legacy::connect_error(conn, &packet.nsp, "Invalid namespace", None);
        let sent = encode(self.parser, &refusal).map(|payloads| conn.send_many(payloads));
        if !matches!(sent, Ok(Ok(()))) {
            tracing::debug!(session = conn.id(), "invalid namespace answer not sent");
        }
    }
}

/// Every socket of the session leaves its namespace for `reason`.
fn disconnect_all(conn: &Conn, reason: DisconnectReason) {
    for (_, socket) in conn.data().close() {
        socket.disconnected(reason);
    }
}

/// Closes the session if no namespace is joined within `timeout` (Node's
/// `connectTimeout`). The wait holds the session weakly: it keeps nothing
/// alive.
fn close_unless_connected(conn: &Conn, timeout: Duration) {
    let session = Arc::downgrade(conn);
    let timer = tokio::spawn(async move {
        tokio::time::sleep(timeout).await;
        if let Some(conn) = session.upgrade()
            && conn.data().is_empty()
        {
            tracing::debug!(session = conn.id(), "closing: no namespace joined in time");
            conn.close();
        }
    });
    conn.data().set_connect_timer(timer.abort_handle());
}

/// The socket's reason for the session's end.
fn disconnect_reason(reason: CloseReason) -> DisconnectReason {
    match reason {
        CloseReason::PingTimeout => DisconnectReason::PingTimeout,
        CloseReason::TransportError => DisconnectReason::TransportError,
        CloseReason::ParseError => DisconnectReason::ParseError,
        CloseReason::ForcedClose => DisconnectReason::ForcedClose,
        _ => DisconnectReason::TransportClose,
    }
}
