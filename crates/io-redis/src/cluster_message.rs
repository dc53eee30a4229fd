//! The messages of Node's sharded adapter (`createShardedAdapter`), which
//! speaks `socket.io-adapter`'s `ClusterAdapter` protocol: `{type, data,
//! uid, nsp}` (notes §3c).

use rmpv::Value;

use crate::codec::Codec;
use crate::error::{Result, WireError};
use crate::fields;

/// `ClusterAdapter`'s message types, as numbered on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// A broadcast, with acks when its data has a `requestId`.
    Broadcast = 3,
    /// `{opts, rooms}`: the sockets selected join `rooms`.
    SocketsJoin = 4,
    /// `{opts, rooms}`: the sockets selected leave `rooms`.
    SocketsLeave = 5,
    /// `{opts, close}`: the sockets selected are disconnected.
    DisconnectSockets = 6,
    /// `{opts, requestId}`: the sockets selected, described.
    FetchSockets = 7,
    /// `{requestId, sockets}`.
    FetchSocketsResponse = 8,
    /// `{packet, requestId?}`: a server-side event, `packet` its name and
    /// arguments.
    ServerSideEmit = 9,
    /// `{requestId, packet}`: a server's reply.
    ServerSideEmitResponse = 10,
    /// `{requestId, clientCount}`.
    BroadcastClientCount = 11,
    /// `{requestId, packet}`: one client's ack.
    BroadcastAck = 12,
}

impl MessageType {
    fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            3 => Self::Broadcast,
            4 => Self::SocketsJoin,
            5 => Self::SocketsLeave,
            6 => Self::DisconnectSockets,
            7 => Self::FetchSockets,
            8 => Self::FetchSocketsResponse,
            9 => Self::ServerSideEmit,
            10 => Self::ServerSideEmitResponse,
            11 => Self::BroadcastClientCount,
            12 => Self::BroadcastAck,
            _ => return None,
        })
    }

    /// Whether its data may carry binary, so that it travels as msgpack
    /// when it does (the sharded adapter's `encode`).
    fn may_carry_binary(self) -> bool {
        matches!(
            self,
            Self::Broadcast
                | Self::BroadcastAck
                | Self::FetchSocketsResponse
                | Self::ServerSideEmit
                | Self::ServerSideEmitResponse
        )
    }
}

/// One message: its type, its data, and the node id and namespace of the
/// server that sent it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ClusterMessage {
    pub(crate) kind: MessageType,
    pub(crate) data: Value,
    pub(crate) uid: String,
    pub(crate) nsp: String,
}

impl ClusterMessage {
    /// Encodes it as the sharded adapter does: JSON, or msgpack when a
    /// type that may carry binary does.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let codec = if self.kind.may_carry_binary() && has_binary(&self.data) {
            Codec::Msgpack
        } else {
            Codec::Json
        };
        codec.encode(&self.object())
    }

    /// The message in msgpack, whatever it carries: the Streams adapter's
    /// pub/sub side reads nothing else (Node's 0.3 decodes every message
    /// there with `@msgpack/msgpack`).
    pub(crate) fn encode_msgpack(&self) -> Vec<u8> {
        Codec::Msgpack.encode(&self.object())
    }

    /// `{type, data, uid, nsp}`, in Node's key order.
    fn object(&self) -> Value {
        fields::object(vec![
            ("type", Value::from(self.kind as u64)),
            ("data", self.data.clone()),
            ("uid", Value::from(self.uid.as_str())),
            ("nsp", Value::from(self.nsp.as_str())),
        ])
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Option<Self>> {
        let value = Codec::decode(bytes)?;
        let entries = fields::map(&value, "message")?;
        let code = fields::uint(entries, "type")?;
        let Some(kind) = MessageType::from_code(code) else {
            return if (1..=13).contains(&code) {
                Ok(None)
            } else {
                Err(WireError::UnknownType(code))
            };
        };
        Ok(Some(Self {
            kind,
            data: fields::get(entries, "data")
                .cloned()
                .unwrap_or(Value::Map(Vec::new())),
            uid: fields::string(entries, "uid")?,
            nsp: fields::string(entries, "nsp")?,
        }))
    }

    /// The entries of its data (none when the data is not an object).
    pub(crate) fn entries(&self) -> &[(Value, Value)] {
        fields::map(&self.data, "data").unwrap_or(&[])
    }
}

/// Whether `value` holds binary anywhere.
fn has_binary(value: &Value) -> bool {
    match value {
        Value::Binary(_) | Value::Ext(..) => true,
        Value::Array(items) => items.iter().any(has_binary),
        Value::Map(entries) => entries.iter().any(|(k, v)| has_binary(k) || has_binary(v)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_unless_binary_and_back() {
        let message = ClusterMessage {
            kind: MessageType::ServerSideEmit,
            data: fields::object(vec![(
                "packet",
                Value::Array(vec!["hello".into(), 1.into()]),
            )]),
            uid: "a1b2".into(),
            nsp: "/".into(),
        };
        let bytes = message.encode();
        assert_eq!(
            bytes,
            br#"{"type":9,"data":{"packet":["hello",1]},"uid":"a1b2","nsp":"/"}"#
        );
        assert_eq!(
            ClusterMessage::decode(&bytes).unwrap(),
            Some(message.clone())
        );
        let binary = ClusterMessage {
            data: fields::object(vec![("packet", Value::Array(vec![Value::Binary(vec![1])]))]),
            ..message
        };
        let bytes = binary.encode();
        assert_ne!(bytes[0], b'{');
        assert_eq!(ClusterMessage::decode(&bytes).unwrap(), Some(binary));
        assert_eq!(
            ClusterMessage::decode(br#"{"type":2,"uid":"x","nsp":"/"}"#).unwrap(),
            None
        );
        assert!(ClusterMessage::decode(br#"{"type":99,"uid":"x","nsp":"/"}"#).is_err());
    }
}
