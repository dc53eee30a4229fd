//! [`Envelope`]: one message between servers, in `socket.io-adapter`'s
//! `ClusterAdapter` model `{type, data, uid, nsp}` (types 1 to 13), always
//! encoded as msgpack.
//!
//! The types that carry work (3 to 12) are sockeye-io-redis's
//! [`MessageType`]; the heartbeats (1, 2) and the goodbye (13) carry no
//! data and are read here.

use rmpv::Value;
use sockeye_io_redis::cluster_message::MessageType;
use sockeye_io_redis::fields;
use sockeye_io_redis::{Codec, WireError};

/// What an [`Envelope`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// 1: a server starts (or came back) and wants to be counted; the
    /// others answer with a [`Heartbeat`](Kind::Heartbeat) at once.
    InitialHeartbeat,
    /// 2: a server is alive.
    Heartbeat,
    /// 3 to 12: a broadcast, a request or an answer.
    Message(MessageType),
    /// 13: a server's adapter closes; it is no longer counted.
    AdapterClose,
}

impl Kind {
    /// Its number on the wire.
    pub fn code(self) -> u64 {
        match self {
            Self::InitialHeartbeat => 1,
            Self::Heartbeat => 2,
            Self::Message(kind) => kind as u64,
            Self::AdapterClose => 13,
        }
    }

    /// The kind numbered `code`, if any.
    pub fn from_code(code: u64) -> Option<Self> {
        match code {
            1 => Some(Self::InitialHeartbeat),
            2 => Some(Self::Heartbeat),
            13 => Some(Self::AdapterClose),
            3 => Some(Self::Message(MessageType::Broadcast)),
            4 => Some(Self::Message(MessageType::SocketsJoin)),
            5 => Some(Self::Message(MessageType::SocketsLeave)),
            6 => Some(Self::Message(MessageType::DisconnectSockets)),
            7 => Some(Self::Message(MessageType::FetchSockets)),
            8 => Some(Self::Message(MessageType::FetchSocketsResponse)),
            9 => Some(Self::Message(MessageType::ServerSideEmit)),
            10 => Some(Self::Message(MessageType::ServerSideEmitResponse)),
            11 => Some(Self::Message(MessageType::BroadcastClientCount)),
            12 => Some(Self::Message(MessageType::BroadcastAck)),
            _ => None,
        }
    }
}

/// One message: its kind, its data, and the node id and namespace of the
/// server that sent it.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// What it is.
    pub kind: Kind,
    /// Its data (`nil` for heartbeats).
    pub data: Value,
    /// The sender's node id.
    pub uid: String,
    /// The namespace it concerns.
    pub nsp: String,
}

impl Envelope {
    /// Encodes it as a msgpack map `{type, data, uid, nsp}`.
    pub fn encode(&self) -> Vec<u8> {
        Codec::Msgpack.encode(&fields::object(vec![
            ("type", Value::from(self.kind.code())),
            ("data", self.data.clone()),
            ("uid", Value::from(self.uid.as_str())),
            ("nsp", Value::from(self.nsp.as_str())),
        ]))
    }

    /// Decodes a message (msgpack, or JSON when its first byte is `{`).
    ///
    /// # Errors
    ///
    /// [`WireError`] when it is not a map with a known `type`, a string
    /// `uid` and a string `nsp`; decoding is bounded in depth and never
    /// allocates beyond a small multiple of the input.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let value = Codec::decode(bytes)?;
        let entries = fields::map(&value, "message")?;
        let code = fields::uint(entries, "type")?;
        let kind = Kind::from_code(code).ok_or(WireError::UnknownType(code))?;
        Ok(Self {
            kind,
            data: fields::get(entries, "data").cloned().unwrap_or(Value::Nil),
            uid: fields::string(entries, "uid")?,
            nsp: fields::string(entries, "nsp")?,
        })
    }

    /// The entries of its data (none when the data is not a map).
    pub fn entries(&self) -> &[(Value, Value)] {
        fields::map(&self.data, "data").unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_as_msgpack() {
        for code in 1..=13 {
            let kind = Kind::from_code(code).expect("known");
            assert_eq!(kind.code(), code);
            let envelope = Envelope {
                kind,
                data: fields::object(vec![("requestId", Value::from("r1"))]),
                uid: "node1".into(),
                nsp: "/chat".into(),
            };
            let bytes = envelope.encode();
            assert_ne!(bytes[0], b'{');
            assert_eq!(Envelope::decode(&bytes).unwrap(), envelope);
        }
    }

    #[test]
    fn reads_json_too() {
        let envelope = Envelope::decode(br#"{"type":2,"uid":"x","nsp":"/"}"#).expect("a heartbeat");
        assert_eq!(envelope.kind, Kind::Heartbeat);
        assert_eq!(envelope.data, Value::Nil);
    }

    #[test]
    fn garbage_is_refused() {
        for bad in [
            &b""[..],
            b"\xc1",
            br#"{"type":0,"uid":"x","nsp":"/"}"#,
            br#"{"type":14,"uid":"x","nsp":"/"}"#,
            br#"{"type":3,"nsp":"/"}"#,
            br#"{"type":3,"uid":1,"nsp":"/"}"#,
            b"[1,2,3]",
        ] {
            assert!(Envelope::decode(bad).is_err(), "{bad:?}");
        }
    }
}
