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

/// The server's answer to a CONNECT that succeeded: `{sid}` in v5, with
/// the private id `pid` when connection state recovery is on; nothing in
/// v4.
pub(crate) fn connect_answer<D>(
    conn: &EngineSocket<D>,
    nsp: &str,
    sid: &Sid,
    pid: Option<&Sid>,
) -> Packet {
    if conn.is_eio3() {
        return Packet::connect(nsp, None);
    }
    let mut answer = vec![(Value::from("sid"), Value::from(sid.as_str()))];
    if let Some(pid) = pid {
        answer.push((Value::from("pid"), Value::from(pid.as_str())));
    }
    Packet::connect(nsp, Some(Value::Map(answer)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Handshake, TransportKind};
    use std::time::Duration;

    fn session(protocol: u8) -> EngineSocket<()> {
        let handshake = Handshake::new("/socket.io/", &http::HeaderMap::new(), None, protocol);
        EngineSocket::new(
            "engine-sid".into(),
            (),
            handshake,
            TransportKind::WebSocket,
            crate::engine::QueueLimits {
                packets: 8,
                bytes: usize::MAX,
            },
            Duration::from_secs(45),
        )
    }

    /// v4 CONNECT: the namespace's query becomes the auth, on v3 sessions
    /// only and on CONNECT packets only.
    #[test]
    fn connect_query_becomes_auth_on_v3_only() {
        let v3 = session(3);
        let packet = connect_request(&v3, Packet::connect("/admin?token=a%2Bb&x", None));
        assert_eq!(packet.nsp, "/admin");
        assert_eq!(
            packet.data,
            Some(Value::Map(vec![
                (Value::from("token"), Value::from("a+b")),
                (Value::from("x"), Value::from("")),
            ]))
        );
        let plain = connect_request(&v3, Packet::connect("/admin", None));
        assert_eq!((plain.nsp.as_str(), plain.data), ("/admin", None));
        let event = Packet::event("/a?b", "e", vec![]);
        assert_eq!(connect_request(&v3, event.clone()), event);
        let v5 = Packet::connect("/admin?token=a", None);
        assert_eq!(connect_request(&session(4), v5.clone()), v5);
    }

    /// v4 ids and answers: the session id (`nsp#sid` off `/`), a CONNECT
    /// without payload, and refusals as a string or the data; v5 keeps
    /// random ids, `{sid}` and `{message, data}`.
    #[test]
    fn ids_and_answers_follow_the_session_version() {
        let (v3, v5) = (session(3), session(4));
        assert_eq!(socket_id(&v3, "/").as_str(), "engine-sid");
        assert_eq!(socket_id(&v3, "/admin").as_str(), "/admin#engine-sid");
        assert_ne!(socket_id(&v5, "/").as_str(), "engine-sid");
        let sid = Sid::from("abc");
        assert_eq!(connect_answer(&v3, "/", &sid, None).data, None);
        assert_eq!(
            connect_answer(&v5, "/", &sid, None),
            Packet::connect_sid("/", "abc")
        );
        assert_eq!(
            connect_error(&v3, "/", "no", None).data,
            Some(Value::from("no"))
        );
        assert_eq!(
            connect_error(&v3, "/", "no", Some(Value::from(403))).data,
            Some(Value::from(403))
        );
        assert_eq!(
            connect_error(&v5, "/", "no", None),
            Packet::connect_error("/", "no", None)
        );
    }
}
