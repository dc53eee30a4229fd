//! The Socket.IO v5 packet, as both parsers produce and consume it.

use std::fmt;

use rmpv::Value;

/// The namespace a packet belongs to when the wire names none.
pub const MAIN_NAMESPACE: &str = "/";

/// Event names the reference implementation keeps for itself: a peer may not send them
/// (`socket.io-parser` refuses an EVENT whose name is one of these).
pub const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// What a packet does (Socket.IO v5 "packet type").
///
/// `BINARY_EVENT` (5) and `BINARY_ACK` (6) are not kinds of their own here: they are an
/// [`Event`](PacketKind::Event) or an [`Ack`](PacketKind::Ack) whose data holds
/// [`Value::Binary`]. The JSON parser writes and reads the binary types; the msgpack parser
/// carries binary natively and never uses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `CONNECT` (0): a client asks to join a namespace, or the server grants it.
    Connect,
    /// `DISCONNECT` (1): one side leaves a namespace.
    Disconnect,
    /// `EVENT` (2), or `BINARY_EVENT` (5) on the JSON wire.
    Event,
    /// `ACK` (3), or `BINARY_ACK` (6) on the JSON wire.
    Ack,
    /// `CONNECT_ERROR` (4): the server refuses a namespace.
    ConnectError,
}

impl PacketKind {
    /// The packet type number on the wire (the non-binary one for events and acks).
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Connect => 0,
            Self::Disconnect => 1,
            Self::Event => 2,
            Self::Ack => 3,
            Self::ConnectError => 4,
        }
    }

    /// The kind for a packet type number of 0 to 4, `None` for any other number.
    #[must_use]
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Connect),
            1 => Some(Self::Disconnect),
            2 => Some(Self::Event),
            3 => Some(Self::Ack),
            4 => Some(Self::ConnectError),
            _ => None,
        }
    }

    /// The protocol document's name for the type (`CONNECT`, `EVENT`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::Disconnect => "DISCONNECT",
            Self::Event => "EVENT",
            Self::Ack => "ACK",
            Self::ConnectError => "CONNECT_ERROR",
        }
    }
}

impl fmt::Display for PacketKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One Socket.IO packet: its kind, namespace, acknowledgement id and payload.
///
/// `data` holds, by kind (Socket.IO v5 "Exchange protocol"):
///
/// | kind | data |
/// |---|---|
/// | `Connect` | `None`, or the client's auth object, or the server's `{"sid": ...}` |
/// | `Disconnect` | `None` |
/// | `Event` | `[name, args...]` |
/// | `Ack` | `[args...]` |
/// | `ConnectError` | `{"message": ..., "data"?: ...}` (or a plain string from older peers) |
///
/// A [`Value::Binary`] may stand anywhere in the data of an event or an ack.
///
/// # Examples
///
/// ```
/// use sockeye_io::parser::{Packet, PacketKind};
/// use rmpv::Value;
///
/// let packet = Packet::event("/chat", "message", vec![Value::from("hi")]);
/// assert_eq!(packet.kind, PacketKind::Event);
/// assert_eq!(packet.event_name(), Some("message"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// What the packet does.
    pub kind: PacketKind,
    /// The namespace, [`MAIN_NAMESPACE`] (`"/"`) when the wire omits it.
    pub nsp: String,
    /// The acknowledgement id: set on an event that asks for an ack, and on that ack.
    pub id: Option<u64>,
    /// The payload; see the table above.
    pub data: Option<Value>,
}

/// A packet by reference to its parts: what the encoders read, so that a
/// caller that holds the parts elsewhere (a socket's namespace name, an
/// ack's arguments) encodes without building an owned [`Packet`].
///
/// # Examples
///
/// ```
/// use rmpv::Value;
/// use sockeye_io::parser::{Frame, PacketKind, PacketRef, Parser};
///
/// let args = Value::Array(vec![Value::from("ok")]);
/// let ack = PacketRef { kind: PacketKind::Ack, nsp: "/", id: Some(7), data: Some(&args) };
/// let encoded = Parser::Json.encode_ref(ack).unwrap();
/// assert_eq!(encoded.head, Frame::Text(r#"37["ok"]"#.into()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacketRef<'a> {
    /// What the packet does.
    pub kind: PacketKind,
    /// The namespace.
    pub nsp: &'a str,
    /// The acknowledgement id.
    pub id: Option<u64>,
    /// The payload.
    pub data: Option<&'a Value>,
}

impl<'a> From<&'a Packet> for PacketRef<'a> {
    fn from(packet: &'a Packet) -> Self {
        Self {
            kind: packet.kind,
            nsp: &packet.nsp,
            id: packet.id,
            data: packet.data.as_ref(),
        }
    }
}

impl Packet {
    /// A `CONNECT` packet; `data` is the client's auth object or the server's `{"sid": ...}`.
    #[must_use]
    pub fn connect(nsp: impl Into<String>, data: Option<Value>) -> Self {
        Self {
            kind: PacketKind::Connect,
            nsp: nsp.into(),
            id: None,
            data,
        }
    }

    /// The server's `CONNECT` reply granting `nsp` to the socket `sid`: data `{"sid": sid}`.
    #[must_use]
    pub fn connect_sid(nsp: impl Into<String>, sid: &str) -> Self {
        Self::connect(
            nsp,
            Some(Value::Map(vec![(Value::from("sid"), Value::from(sid))])),
        )
    }

    /// A `DISCONNECT` packet for `nsp`.
    #[must_use]
    pub fn disconnect(nsp: impl Into<String>) -> Self {
        Self {
            kind: PacketKind::Disconnect,
            nsp: nsp.into(),
            id: None,
            data: None,
        }
    }

    /// An `EVENT` packet: data `[name, args...]`, no ack id (set [`Packet::id`] to ask for one).
    #[must_use]
    pub fn event(nsp: impl Into<String>, name: &str, args: Vec<Value>) -> Self {
        let mut items = Vec::with_capacity(args.len() + 1);
        items.push(Value::from(name));
        items.extend(args);
        Self {
            kind: PacketKind::Event,
            nsp: nsp.into(),
            id: None,
            data: Some(Value::Array(items)),
        }
    }

    /// An `ACK` packet answering the event whose ack id is `id`: data `[args...]`.
    #[must_use]
    pub fn ack(nsp: impl Into<String>, id: u64, args: Vec<Value>) -> Self {
        Self {
            kind: PacketKind::Ack,
            nsp: nsp.into(),
            id: Some(id),
            data: Some(Value::Array(args)),
        }
    }

    /// A `CONNECT_ERROR` packet: data `{"message": message}`, plus `"data": data` when given
    /// (what Node's server sends when a middleware refuses with `err.data`).
    #[must_use]
    pub fn connect_error(nsp: impl Into<String>, message: &str, data: Option<Value>) -> Self {
        let mut map = vec![(Value::from("message"), Value::from(message))];
        if let Some(data) = data {
            map.push((Value::from("data"), data));
        }
        Self {
            kind: PacketKind::ConnectError,
            nsp: nsp.into(),
            id: None,
            data: Some(Value::Map(map)),
        }
    }

    /// The event's name: the first element of an `EVENT`'s data when it is a string.
    #[must_use]
    pub fn event_name(&self) -> Option<&str> {
        match (&self.kind, &self.data) {
            (PacketKind::Event, Some(Value::Array(items))) => items.first()?.as_str(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::payload::check_payload;

    /// The constructors build the data shapes the table on `Packet` documents.
    #[test]
    fn constructors_build_documented_shapes() {
        let p = Packet::connect_error("/", "Not authorized", None);
        assert!(check_payload(p.kind, p.data.as_ref()).is_ok());
        let p = Packet::ack("/", 3, vec![]);
        assert_eq!(p.id, Some(3));
        let p = Packet::connect_sid("/admin", "abc");
        assert_eq!(p.data.unwrap()["sid"].as_str(), Some("abc"));
        assert_eq!(Packet::disconnect("/").kind.code(), 1);
    }
}
