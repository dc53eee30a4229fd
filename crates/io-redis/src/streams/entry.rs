//! [`StreamEntry`]: one entry of the Streams adapter's stream, with the
//! fields Node's `RedisStreamsAdapter.encode` writes: `uid`, `nsp`, `type`
//! (the `ClusterAdapter` message type, in decimal) and, when there is
//! data, `data`: a JSON object, or base64 of msgpack when the data of a
//! type that may carry binary does.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rmpv::Value;

use crate::codec::Codec;
use crate::error::{Result, WireError};

/// The stream's name unless configured: Node's `streamName` default.
pub const DEFAULT_STREAM_NAME: &str = "socket.io";

/// How many entries the stream keeps, roughly (`XADD ... MAXLEN ~`):
/// Node's `maxLen` default, 10,000. A client that missed more than that
/// (or was away while that many were added) connects afresh.
pub const DEFAULT_MAX_LEN: usize = 10_000;

/// The message types whose data may carry binary (Node's
/// `mayContainBinary`): broadcast, fetch-sockets response, server-side
/// emit and its response, broadcast ack.
const MAY_CARRY_BINARY: [u64; 5] = [3, 8, 9, 10, 12];

/// The type of a broadcast, the only entries a restore replays.
pub const BROADCAST: u64 = 3;

/// One entry: which server added it, for which namespace, its type and its
/// data.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamEntry {
    /// The adding server's node id.
    pub uid: String,
    /// The namespace it is for.
    pub nsp: String,
    /// The `ClusterAdapter` message type (3 is a broadcast).
    pub kind: u64,
    /// Its data, if any.
    pub data: Option<Value>,
    /// Whether the adding server already delivered it to its own sockets
    /// (it waited for the broker while that was away), so that it does
    /// not again when it reads the entry back. Written as the field
    /// `delivered: "1"`, which Node's adapter ignores.
    pub delivered: bool,
}

impl StreamEntry {
    /// The entry's fields, in Node's order, for `XADD`.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("uid", self.uid.clone()),
            ("nsp", self.nsp.clone()),
            ("type", self.kind.to_string()),
        ];
        if let Some(data) = &self.data {
            let text = if MAY_CARRY_BINARY.contains(&self.kind) && has_binary(data) {
                STANDARD.encode(Codec::Msgpack.encode(data))
            } else {
                String::from_utf8_lossy(&Codec::Json.encode(data)).into_owned()
            };
            fields.push(("data", text));
        }
        if self.delivered {
            fields.push(("delivered", "1".to_owned()));
        }
        fields
    }

    /// Reads an entry from its fields as `XREAD`/`XRANGE` give them.
    /// Unknown fields are ignored, as Node does; a missing `uid`, `nsp` or
    /// `type`, or data that is neither JSON nor base64 msgpack, is refused.
    ///
    /// # Errors
    ///
    /// [`WireError`] for an entry this crate cannot read.
    pub fn from_fields<'a>(fields: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Result<Self> {
        let (mut uid, mut nsp, mut kind, mut data) = (None, None, None, None);
        let mut delivered = false;
        for (name, value) in fields {
            match name {
                "uid" => uid = Some(text(value, "uid")?),
                "nsp" => nsp = Some(text(value, "nsp")?),
                "type" => {
                    let digits = text(value, "type")?;
                    kind = Some(
                        digits
                            .parse::<u64>()
                            .map_err(|_| WireError::Shape("type"))?,
                    );
                }
                "data" if !value.is_empty() => data = Some(decode_data(value)?),
                "delivered" => delivered = value == b"1",
                _ => {}
            }
        }
        Ok(StreamEntry {
            uid: uid.ok_or(WireError::Shape("uid"))?,
            nsp: nsp.ok_or(WireError::Shape("nsp"))?,
            kind: kind.ok_or(WireError::Shape("type"))?,
            data,
            delivered,
        })
    }
}

/// A field's bytes as text.
fn text(value: &[u8], what: &'static str) -> Result<String> {
    std::str::from_utf8(value)
        .map(str::to_owned)
        .map_err(|_| WireError::Shape(what))
}

/// `data`: JSON when it starts with `{`, else base64 of msgpack. The
/// base64 decodes to at most three quarters of what arrived.
fn decode_data(value: &[u8]) -> Result<Value> {
    if value.first() == Some(&b'{') {
        return Codec::decode(value);
    }
    let bytes = STANDARD
        .decode(value)
        .map_err(|_| WireError::Shape("data"))?;
    if bytes.first() == Some(&b'{') {
        // A lone msgpack 123 is no message's data.
        return Err(WireError::Shape("data"));
    }
    Codec::decode(&bytes)
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
    use crate::fields;

    fn fields_of(entry: &StreamEntry) -> Vec<(&'static str, Vec<u8>)> {
        entry
            .to_fields()
            .into_iter()
            .map(|(name, value)| (name, value.into_bytes()))
            .collect()
    }

    fn read(fields: &[(&'static str, Vec<u8>)]) -> Result<StreamEntry> {
        StreamEntry::from_fields(fields.iter().map(|(n, v)| (*n, v.as_slice())))
    }

    #[test]
    fn a_broadcast_as_node_writes_it_and_back() {
        let entry = StreamEntry {
            uid: "ab12cd".into(),
            nsp: "/".into(),
            kind: BROADCAST,
            data: Some(fields::object(vec![
                (
                    "packet",
                    fields::object(vec![
                        ("type", Value::from(2)),
                        ("data", Value::Array(vec!["n".into(), 1.into()])),
                        ("nsp", Value::from("/")),
                    ]),
                ),
                (
                    "opts",
                    fields::object(vec![
                        ("rooms", Value::Array(vec!["r".into()])),
                        ("except", Value::Array(vec![])),
                        ("flags", fields::object(vec![])),
                    ]),
                ),
            ])),
            delivered: false,
        };
        let fields = fields_of(&entry);
        assert_eq!(
            fields[3].1,
            br#"{"packet":{"type":2,"data":["n",1],"nsp":"/"},"opts":{"rooms":["r"],"except":[],"flags":{}}}"#
        );
        assert_eq!(fields[2].1, b"3");
        assert_eq!(read(&fields).unwrap(), entry);
    }

    #[test]
    fn binary_data_travels_as_base64_msgpack() {
        let entry = StreamEntry {
            uid: "u".into(),
            nsp: "/chat".into(),
            kind: BROADCAST,
            data: Some(fields::object(vec![(
                "packet",
                Value::Array(vec![Value::Binary(vec![0, 1, 2])]),
            )])),
            delivered: true,
        };
        let fields = fields_of(&entry);
        assert_ne!(fields[3].1[0], b'{');
        assert_eq!(read(&fields).unwrap(), entry);
        let heartbeat = StreamEntry {
            uid: "u".into(),
            nsp: "/".into(),
            kind: 2,
            data: None,
            delivered: false,
        };
        assert_eq!(fields_of(&heartbeat).len(), 3);
        assert_eq!(read(&fields_of(&heartbeat)).unwrap(), heartbeat);
    }

    #[test]
    fn malformed_entries_are_refused() {
        let ok = |name: &'static str, v: &str| (name, v.as_bytes().to_vec());
        assert!(read(&[ok("nsp", "/"), ok("type", "3")]).is_err());
        assert!(read(&[ok("uid", "u"), ok("nsp", "/"), ok("type", "x")]).is_err());
        assert!(
            read(&[
                ok("uid", "u"),
                ok("nsp", "/"),
                ok("type", "3"),
                ok("data", "!!")
            ])
            .is_err()
        );
        assert!(
            read(&[
                ok("uid", "u"),
                ok("nsp", "/"),
                ok("type", "3"),
                ok("data", "{")
            ])
            .is_err()
        );
        assert!(read(&[("uid", vec![0xff]), ok("nsp", "/"), ok("type", "3")]).is_err());
        let extra = read(&[
            ok("uid", "u"),
            ok("nsp", "/"),
            ok("type", "2"),
            ok("x", "y"),
        ]);
        assert_eq!(extra.unwrap().kind, 2);
    }
}
