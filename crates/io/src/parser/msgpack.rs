//! The msgpack parser (`socket.io-msgpack-parser` 3.x): one binary frame per packet.
//!
//! A packet is a msgpack map with the keys `type` (0 to 4: the binary types are never used,
//! since msgpack carries binary natively), `nsp` (always present), `data` (when the packet
//! has a payload) and `id` (when it has an ack id). On decoding, other keys are ignored: the
//! JavaScript client adds `options` (`{"compress": true}`) to the packets it emits.

use std::convert::Infallible;

use bytes::Bytes;
use rmp::encode::{ByteBuf, ValueWriteError};
use rmpv::Value;

use crate::parser::error::{EncodeError, ParseError};
use crate::parser::frame::{Encoded, Frame};
use crate::parser::limits::MAX_DEPTH;
use crate::parser::packet::{Packet, PacketKind, PacketRef};
use crate::parser::payload::check_payload;

/// Encodes a packet as one msgpack map in a binary frame.
///
/// Keys come in the order `type`, `nsp`, `data`, `id`; integers take their smallest msgpack
/// form and binary data is msgpack `bin`, as `notepack.io` writes them.
///
/// # Errors
///
/// [`EncodeError::TooLong`] when an array, map, string or binary value in the data is longer
/// than msgpack can express.
///
/// # Examples
///
/// ```
/// use sockeye_io::parser::{Packet, msgpack};
///
/// let encoded = msgpack::encode(&Packet::disconnect("/")).unwrap();
/// assert!(encoded.attachments.is_empty());
/// ```
pub fn encode(packet: &Packet) -> Result<Encoded, EncodeError> {
    encode_ref(packet.into())
}

/// Encodes a packet given by reference to its parts, as [`encode`] does.
///
/// # Errors
///
/// As [`encode`].
pub fn encode_ref(packet: PacketRef<'_>) -> Result<Encoded, EncodeError> {
    let mut buf = ByteBuf::with_capacity(32);
    let fields = 2 + u32::from(packet.data.is_some()) + u32::from(packet.id.is_some());
    ok(rmp::encode::write_map_len(&mut buf, fields));
    write_str(&mut buf, "type")?;
    ok(rmp::encode::write_uint(
        &mut buf,
        u64::from(packet.kind.code()),
    ));
    write_str(&mut buf, "nsp")?;
    write_str(&mut buf, packet.nsp)?;
    if let Some(data) = packet.data {
        write_str(&mut buf, "data")?;
        write_value(&mut buf, data)?;
    }
    if let Some(id) = packet.id {
        write_str(&mut buf, "id")?;
        ok(rmp::encode::write_uint(&mut buf, id));
    }
    Ok(Encoded {
        head: Frame::Binary(Bytes::from(buf.into_vec())),
        attachments: Vec::new(),
    })
}

/// Decodes the msgpack parser's packets; it keeps no state between frames, but has the same
/// shape as the JSON [`Decoder`](crate::parser::json::Decoder) so the layer above can hold
/// either.
#[derive(Debug, Default, Clone, Copy)]
pub struct Decoder {
    _private: (),
}

impl Decoder {
    /// A new decoder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Refuses a text frame: msgpack packets are binary frames.
    ///
    /// # Errors
    ///
    /// Always [`ParseError::UnexpectedText`].
    pub fn text(&mut self, _text: &str) -> Result<Option<Packet>, ParseError> {
        Err(ParseError::UnexpectedText)
    }

    /// Decodes one binary frame as a packet.
    ///
    /// # Errors
    ///
    /// See [`decode`].
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the JSON decoder's signature, which keeps its frames"
    )]
    pub fn binary(&mut self, bytes: Bytes) -> Result<Option<Packet>, ParseError> {
        decode(&bytes).map(Some)
    }
}

/// Decodes one msgpack packet.
///
/// # Errors
///
/// A [`ParseError`] when the bytes are not exactly one msgpack value (nested at most
/// [`MAX_DEPTH`] deep), not a map, have no integer `type` of 0 to 4, no string `nsp`, an `id`
/// that is not an unsigned integer, or a `data` the type does not allow.
pub fn decode(bytes: &[u8]) -> Result<Packet, ParseError> {
    let mut rest = bytes;
    // rmpv counts a container and its elements as two levels each.
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH * 2 + 2)
        .map_err(ParseError::InvalidMsgpack)?;
    if !rest.is_empty() {
        return Err(ParseError::TrailingBytes);
    }
    let Value::Map(entries) = value else {
        return Err(ParseError::NotAPacketMap);
    };
    let fields = Fields::collect(entries);
    let kind = fields
        .kind
        .as_ref()
        .and_then(Value::as_u64)
        .and_then(PacketKind::from_code)
        .ok_or(ParseError::UnknownPacketType)?;
    let nsp = match fields.nsp {
        Some(Value::String(s)) => s.into_str().ok_or(ParseError::InvalidNamespace)?,
        _ => return Err(ParseError::InvalidNamespace),
    };
    let id = match fields.id {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(ParseError::InvalidAckId)?),
    };
    check_payload(kind, fields.data.as_ref())?;
    Ok(Packet {
        kind,
        nsp,
        id,
        data: fields.data,
    })
}

/// The packet's fields found in the map; a key given twice keeps its last value, as a
/// JavaScript object does.
#[derive(Default)]
struct Fields {
    kind: Option<Value>,
    nsp: Option<Value>,
    data: Option<Value>,
    id: Option<Value>,
}

impl Fields {
    fn collect(entries: Vec<(Value, Value)>) -> Self {
        let mut fields = Self::default();
        for (key, value) in entries {
            let slot = match key.as_str() {
                Some("type") => &mut fields.kind,
                Some("nsp") => &mut fields.nsp,
                Some("data") => &mut fields.data,
                Some("id") => &mut fields.id,
                _ => continue,
            };
            // A field set to JavaScript's `undefined` is absent, as
            // `JSON.stringify` would leave it out.
            *slot = (!is_undefined(&value)).then(|| undefined_to_nil(value));
        }
        fields
    }
}

/// JavaScript's `undefined` as `notepack.io` (the msgpack parser's
/// codec) writes it: the extension of type 0 holding one zero byte. A
/// client sends it for an option left unset, such as a CONNECT without
/// `auth`.
fn is_undefined(value: &Value) -> bool {
    matches!(value, Value::Ext(0, data) if data.as_slice() == [0])
}

/// `value` with every `undefined` inside it made `null`, as
/// `JSON.stringify` does in arrays.
fn undefined_to_nil(value: Value) -> Value {
    match value {
        value if is_undefined(&value) => Value::Nil,
        Value::Array(items) => Value::Array(items.into_iter().map(undefined_to_nil).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .filter(|(_, v)| !is_undefined(v))
                .map(|(k, v)| (k, undefined_to_nil(v)))
                .collect(),
        ),
        value => value,
    }
}

fn write_value(buf: &mut ByteBuf, value: &Value) -> Result<(), EncodeError> {
    match value {
        Value::Nil => ok(rmp::encode::write_nil(buf)),
        Value::Boolean(b) => ok(rmp::encode::write_bool(buf, *b)),
        Value::Integer(n) => {
            if let Some(u) = n.as_u64() {
                ok(rmp::encode::write_uint(buf, u));
            } else if let Some(i) = n.as_i64() {
                ok(rmp::encode::write_sint(buf, i));
            }
        }
        Value::F32(f) => ok(rmp::encode::write_f32(buf, *f)),
        Value::F64(f) => ok(rmp::encode::write_f64(buf, *f)),
        Value::String(s) => {
            ok(rmp::encode::write_str_len(buf, len32(s.as_bytes().len())?));
            ok(rmp::encode::RmpWrite::write_bytes(buf, s.as_bytes()));
        }
        Value::Binary(b) => {
            ok(rmp::encode::write_bin_len(buf, len32(b.len())?));
            ok(rmp::encode::RmpWrite::write_bytes(buf, b));
        }
        Value::Array(items) => {
            ok(rmp::encode::write_array_len(buf, len32(items.len())?));
            for item in items {
                write_value(buf, item)?;
            }
        }
        Value::Map(entries) => {
            ok(rmp::encode::write_map_len(buf, len32(entries.len())?));
            for (key, value) in entries {
                write_value(buf, key)?;
                write_value(buf, value)?;
            }
        }
        Value::Ext(ty, data) => {
            ok(rmp::encode::write_ext_meta(buf, len32(data.len())?, *ty));
            ok(rmp::encode::RmpWrite::write_bytes(buf, data));
        }
    }
    Ok(())
}

fn write_str(buf: &mut ByteBuf, s: &str) -> Result<(), EncodeError> {
    ok(rmp::encode::write_str_len(buf, len32(s.len())?));
    ok(rmp::encode::RmpWrite::write_bytes(buf, s.as_bytes()));
    Ok(())
}

fn len32(len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::TooLong)
}

/// Writing to a [`ByteBuf`] cannot fail: its error types are uninhabited.
fn ok<T, E: Uninhabited>(result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => e.absurd(),
    }
}

/// An error type with no values.
trait Uninhabited {
    fn absurd(self) -> !;
}

impl Uninhabited for Infallible {
    fn absurd(self) -> ! {
        match self {}
    }
}

impl Uninhabited for ValueWriteError<Infallible> {
    fn absurd(self) -> ! {
        match self {
            ValueWriteError::InvalidMarkerWrite(e) | ValueWriteError::InvalidDataWrite(e) => {
                match e {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: Vec<(&str, Value)>) -> Vec<u8> {
        let value = Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        );
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &value).unwrap();
        out
    }

    /// A CONNECT without auth, as socket.io-client and notepack.io send
    /// it: `data` is `undefined` (ext 0). It counts as absent; inside
    /// arrays `undefined` is `null`, and in maps its key is left out.
    #[test]
    fn undefined_is_absent() {
        let undefined = || Value::Ext(0, vec![0]);
        let bytes = map(vec![
            ("type", Value::from(0)),
            ("nsp", Value::from("/")),
            ("data", undefined()),
        ]);
        let packet = decode(&bytes).unwrap();
        assert_eq!((packet.kind, packet.data), (PacketKind::Connect, None));
        let bytes = map(vec![
            ("type", Value::from(2)),
            ("nsp", Value::from("/")),
            (
                "data",
                Value::Array(vec![
                    Value::from("ev"),
                    undefined(),
                    Value::Map(vec![(Value::from("a"), undefined())]),
                ]),
            ),
        ]);
        let packet = decode(&bytes).unwrap();
        assert_eq!(
            packet.data,
            Some(Value::Array(vec![
                Value::from("ev"),
                Value::Nil,
                Value::Map(Vec::new())
            ]))
        );
    }

    /// The JavaScript client's `options` key (and any other unknown key) is ignored.
    #[test]
    fn unknown_keys_are_ignored() {
        let bytes = map(vec![
            ("type", Value::from(2)),
            ("data", Value::Array(vec![Value::from("hi")])),
            (
                "options",
                Value::Map(vec![(Value::from("compress"), Value::Boolean(true))]),
            ),
            ("id", Value::from(3)),
            ("nsp", Value::from("/")),
        ]);
        let p = decode(&bytes).unwrap();
        assert_eq!(p.kind, PacketKind::Event);
        assert_eq!(p.id, Some(3));
        assert_eq!(p.event_name(), Some("hi"));
    }

    /// Binary types 5 and 6, and other numbers, are not msgpack packet types.
    #[test]
    fn binary_and_unknown_types_are_refused() {
        for ty in [
            Value::from(5),
            Value::from(-1),
            Value::from("2"),
            Value::F64(2.0),
        ] {
            let bytes = map(vec![
                ("type", ty),
                ("nsp", Value::from("/")),
                ("data", Value::Array(vec![])),
            ]);
            assert!(matches!(decode(&bytes), Err(ParseError::UnknownPacketType)));
        }
        let no_type = map(vec![("nsp", Value::from("/"))]);
        assert!(matches!(
            decode(&no_type),
            Err(ParseError::UnknownPacketType)
        ));
    }

    /// The namespace is required and must be a string.
    #[test]
    fn namespace_is_required() {
        let bytes = map(vec![("type", Value::from(1))]);
        assert!(matches!(decode(&bytes), Err(ParseError::InvalidNamespace)));
        let bytes = map(vec![("type", Value::from(1)), ("nsp", Value::from(1))]);
        assert!(matches!(decode(&bytes), Err(ParseError::InvalidNamespace)));
    }

    /// The ack id is an unsigned integer.
    #[test]
    fn ack_id_must_be_unsigned() {
        for id in [
            Value::from(-1),
            Value::F64(1.5),
            Value::Nil,
            Value::from("1"),
        ] {
            let bytes = map(vec![
                ("type", Value::from(3)),
                ("nsp", Value::from("/")),
                ("data", Value::Array(vec![])),
                ("id", id),
            ]);
            assert!(matches!(decode(&bytes), Err(ParseError::InvalidAckId)));
        }
    }

    /// Bytes after the packet, a non-map and truncated input are refused.
    #[test]
    fn malformed_frames_are_refused() {
        let mut bytes = map(vec![("type", Value::from(1)), ("nsp", Value::from("/"))]);
        assert!(decode(&bytes).is_ok());
        bytes.push(0xc0);
        assert!(matches!(decode(&bytes), Err(ParseError::TrailingBytes)));
        assert!(matches!(decode(&[0x90]), Err(ParseError::NotAPacketMap)));
        assert!(matches!(
            decode(&[0x82]),
            Err(ParseError::InvalidMsgpack(_))
        ));
        assert!(matches!(decode(&[]), Err(ParseError::InvalidMsgpack(_))));
        assert!(matches!(
            Decoder::new().text("2[]"),
            Err(ParseError::UnexpectedText)
        ));
    }

    /// A huge declared length with no bytes behind it fails without allocating it.
    #[test]
    fn huge_declared_length_fails_cleanly() {
        // map32 of 2^32 - 1 entries, then nothing.
        assert!(matches!(
            decode(&[0xdf, 0xff, 0xff, 0xff, 0xff]),
            Err(ParseError::InvalidMsgpack(_))
        ));
        // bin32 of 4 GiB, then nothing.
        assert!(decode(&[0xc6, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    /// Our encoding is the map notepack.io writes for the same packet.
    #[test]
    fn encoding_matches_notepack_layout() {
        let mut p = Packet::event("/", "a", vec![Value::Binary(vec![1])]);
        p.id = Some(1);
        let Frame::Binary(bytes) = encode(&p).unwrap().head else {
            unreachable!("msgpack heads are binary")
        };
        let expected = [
            0x84, 0xa4, b't', b'y', b'p', b'e', 0x02, 0xa3, b'n', b's', b'p', 0xa1, b'/', 0xa4,
            b'd', b'a', b't', b'a', 0x92, 0xa1, b'a', 0xc4, 0x01, 0x01, 0xa2, b'i', b'd', 0x01,
        ];
        assert_eq!(&bytes[..], &expected[..]);
        assert_eq!(decode(&bytes).unwrap(), p);
    }
}
