//! Which codec a request or response travels in: JSON when its first byte
//! is `{`, msgpack otherwise (notes §3b: "Request encoding").

use rmpv::Value;

use crate::error::Result;
use crate::{json, msgpack};

/// A message's encoding on the request and response channels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// `JSON.stringify`: most requests and responses.
    Json,
    /// notepack: broadcasts with acks and their acks.
    Msgpack,
}

impl Codec {
    /// The codec a received message is in, as the adapter tells: a first
    /// byte `0x7b` (`{`) is JSON (in msgpack it would be the lone number 123), anything
    /// else msgpack.
    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.first() == Some(&b'{') {
            Self::Json
        } else {
            Self::Msgpack
        }
    }

    /// Encodes a message tree.
    pub fn encode(self, value: &Value) -> Vec<u8> {
        match self {
            Self::Json => {
                let mut out = String::with_capacity(64);
                json::write_value(&mut out, value);
                out.into_bytes()
            }
            Self::Msgpack => {
                let mut buf = rmp::encode::ByteBuf::with_capacity(64);
                msgpack::write_value(&mut buf, value);
                buf.into_vec()
            }
        }
    }

    /// Decodes a received message in the codec its first byte names.
    ///
    /// # Errors
    ///
    /// [`WireError`](crate::WireError) when the value does not have the shape read.
    pub fn decode(bytes: &[u8]) -> Result<Value> {
        match Self::sniff(bytes) {
            Self::Json => json::read_value(bytes),
            Self::Msgpack => msgpack::read_value(bytes),
        }
    }
}
