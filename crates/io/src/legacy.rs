//! Socket.IO protocol v4, spoken by socket.io-client 2.x over Engine.IO v3
//! sessions (`docs/socket.io-protocol/v4.md` in `socketio/socket.io`),
//! served when [`EngineConfig::allow_eio3`](crate::engine::EngineConfig::allow_eio3)
//! is on. The packets and their JSON encoding are v5's; what differs is
//! the connection to a namespace, and this module holds each difference
//! for the files that build those packets:
//!
//! - The server connects the client to `/` by itself when the session
//!   opens (the client sends no CONNECT for it); see `client.rs`.
//! - A CONNECT to another namespace carries the client's query in the
//!   namespace (`0/admin?token=abc,`), which becomes the socket's auth
//!   ([`connect_request`]).
//! - The server's CONNECT answer has no payload ([`connect_answer`]).
//! - A refusal's data is the middleware's data, or else its message as a
//!   plain string ([`connect_error`]).
//! - A socket's id is the session id on `/` and `<nsp>#<session id>`
//!   elsewhere ([`socket_id`]), as Node gives v3 clients.
//!
//! Every function here takes the session and does the v5 thing for a v4
//! session, so callers need no branch of their own.

use rmpv::Value;

use crate::engine::{EngineQuery, EngineSocket};
use crate::parser::{Packet, PacketKind};
use crate::sid::Sid;

/// A packet from the client, made v5-shaped: on a v3 session, a CONNECT's
/// namespace loses its query, which becomes the CONNECT's data (the
/// socket's auth) as a map of strings, as Node's `_parseNamespace`. Any
/// other packet is returned as it came.
pub(crate) fn connect_request<D>(conn: &EngineSocket<D>, mut packet: Packet) -> Packet {
    if !conn.is_eio3() || packet.kind != PacketKind::Connect {
        return packet;
    }
    let Some((path, query)) = packet.nsp.split_once('?') else {
        return packet;
    };
    let pairs = EngineQuery::parse(Some(query))
        .pairs
        .into_iter()
        .map(|(key, value)| (Value::from(key), Value::from(value)))
        .collect();
    packet.data = Some(Value::Map(pairs));
    packet.nsp.truncate(path.len());
    packet
}

/// The server's answer to a CONNECT that succeeded: `{sid}` in v5,
/// nothing in v4.
pub(crate) fn connect_answer<D>(conn: &EngineSocket<D>, nsp: &str, sid: &Sid) -> Packet {
    if conn.is_eio3() {
        Packet::connect(nsp, None)
    } else {
        Packet::connect_sid(nsp, sid.as_str())
    }
}

/// A refused CONNECT: `{message, data}` in v5; in v4 the middleware's
/// data if it gave some, else the message as a string (Node:
/// `err.data || err.message`).
pub(crate) fn connect_error<D>(
    conn: &EngineSocket<D>,
    nsp: &str,
    message: &str,
    data: Option<Value>,
) -> Packet {
    if !conn.is_eio3() {
        return Packet::connect_error(nsp, message, data);
    }
    Packet {
        kind: PacketKind::ConnectError,
        nsp: nsp.to_owned(),
        id: None,
        data: Some(data.unwrap_or_else(|| Value::from(message))),
    }
}

/// A new socket's id: random in v5 (the session id must stay secret
/// there); in v4 the session id on `/` and `<nsp>#<session id>` on other
/// namespaces, which is what socket.io-client 2.x shows as `socket.id`.
pub(crate) fn socket_id<D>(conn: &EngineSocket<D>, nsp: &str) -> Sid {
    if !conn.is_eio3() {
        return Sid::random();
    }
    if nsp == "/" {
        Sid::from(conn.id())
    } else {
        Sid::from(format!("{nsp}#{}", conn.id()).as_str())
    }
}
