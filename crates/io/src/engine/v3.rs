//! The Engine.IO v3 wire formats (`docs/engine.io-protocol/v3.md` in
//! `socketio/socket.io`), served when
//! [`EngineConfig::allow_eio3`](super::EngineConfig::allow_eio3) is on.
//!
//! The packets are v4's; what differs is how they are framed:
//!
//! - A polling body of text is `<length>:<packet>` repeated, the length
//!   counted as JavaScript counts a string's length (UTF-16 code units),
//!   and a binary packet in it is `b4` and the base64 of its data.
//! - A client that can take binary (no `b64` in its query) gets a body
//!   holding any binary packet in the binary payload format instead: per
//!   packet, a `0` (text) or `1` (binary) byte, the length as one byte per
//!   decimal digit, `0xff`, then the packet (UTF-8 text, or the type byte
//!   `4` and the data).
//! - A binary WebSocket frame starts with the type byte `4`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{BufMut, Bytes, BytesMut};
use sockeye::Message;

use super::packet::{Packet, PacketError, Payload, decode_text};

/// The type byte of a `message` packet in the binary forms.
const MESSAGE_TYPE: u8 = 4;

/// The end of a length in the binary payload format.
const LENGTH_END: u8 = 0xff;

/// The most digits a length may have. A body is at most
/// [`EngineConfig::max_payload`](super::EngineConfig::max_payload) bytes,
/// so longer lengths are malformed; 20 digits still hold any `u64`.
const MAX_LENGTH_DIGITS: usize = 20;

/// Encodes the packets of one poll answer: the binary payload format when
/// `supports_binary` and one of them is binary, text otherwise. Returns
/// the body and its content type.
pub fn encode_payload(packets: &[Packet], supports_binary: bool) -> (Bytes, &'static str) {
    let has_binary = packets
        .iter()
        .any(|p| matches!(p, Packet::Message(Payload::Binary(_))));
    if supports_binary && has_binary {
        (encode_binary_payload(packets), "application/octet-stream")
    } else {
        (encode_text_payload(packets), "text/plain; charset=UTF-8")
    }
}

/// `<length>:<packet>` per packet; `0:` when there are none, as Node.
fn encode_text_payload(packets: &[Packet]) -> Bytes {
    if packets.is_empty() {
        return Bytes::from_static(b"0:");
    }
    let mut out = BytesMut::new();
    let mut item = BytesMut::new();
    for packet in packets {
        item.clear();
        write_text_item(packet, &mut item);
        // Items are UTF-8 text: the base64 of a binary one, or a string.
        let units = std::str::from_utf8(&item).map_or(item.len(), |s| s.encode_utf16().count());
        out.put_slice(units.to_string().as_bytes());
        out.put_u8(b':');
        out.put_slice(&item);
    }
    out.freeze()
}

/// One packet as a text payload item: its type digit and data, or `b4`
/// and base64 for binary.
fn write_text_item(packet: &Packet, out: &mut BytesMut) {
    match packet {
        Packet::Message(Payload::Binary(bytes)) => {
            out.put_slice(b"b4");
            out.put_slice(BASE64.encode(bytes).as_bytes());
        }
        text => text.write_polling_item(out),
    }
}

/// The binary payload format (XHR2): each packet after its kind byte and
/// its length in decimal digits, one byte each, ended by `0xff`.
fn encode_binary_payload(packets: &[Packet]) -> Bytes {
    let mut out = BytesMut::new();
    for packet in packets {
        match packet {
            Packet::Message(Payload::Binary(bytes)) => {
                write_binary_length(&mut out, 1, bytes.len() + 1);
                out.put_u8(MESSAGE_TYPE);
                out.put_slice(bytes);
            }
            text => {
                let mut item = BytesMut::new();
                text.write_polling_item(&mut item);
                write_binary_length(&mut out, 0, item.len());
                out.put_slice(&item);
            }
        }
    }
    out.freeze()
}

/// The kind byte, the decimal digits of `length` as bytes 0 to 9, `0xff`.
fn write_binary_length(out: &mut BytesMut, kind: u8, length: usize) {
    out.put_u8(kind);
    for digit in length.to_string().bytes() {
        out.put_u8(digit - b'0');
    }
    out.put_u8(LENGTH_END);
}

/// Decodes a POST body: the binary payload format when the client sent it
/// as `application/octet-stream`, the text format otherwise.
///
/// Decodes every packet before returning any, so a body with one bad
/// packet is refused whole.
///
/// # Errors
///
/// [`PacketError`] for a malformed length, a length past the body's end,
/// or a bad packet.
pub fn decode_payload(body: &Bytes, binary: bool) -> Result<Vec<Packet>, PacketError> {
    if binary {
        decode_binary_payload(body)
    } else {
        decode_text_payload(body)
    }
}

/// `<length>:<packet>` repeated; lengths in UTF-16 code units; an empty
/// item is skipped, as Node does.
fn decode_text_payload(body: &Bytes) -> Result<Vec<Packet>, PacketError> {
    let text = std::str::from_utf8(body).map_err(|_| PacketError::InvalidUtf8)?;
    if text.is_empty() {
        return Err(PacketError::Empty);
    }
    let mut packets = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let colon = rest.find(':').ok_or(PacketError::InvalidLength)?;
        let units = parse_length(rest[..colon].bytes().map(|b| b.wrapping_sub(b'0')))?;
        rest = &rest[colon + 1..];
        let end = utf16_prefix(rest, units).ok_or(PacketError::InvalidLength)?;
        if end > 0 {
            let start = text.len() - rest.len();
            packets.push(decode_text_item(&body.slice(start..start + end))?);
        }
        rest = &rest[end..];
    }
    Ok(packets)
}

/// A length from its decimal digits (values 0 to 9); at most
/// [`MAX_LENGTH_DIGITS`] of them and at least one.
fn parse_length(digits: impl ExactSizeIterator<Item = u8>) -> Result<usize, PacketError> {
    if digits.len() == 0 || digits.len() > MAX_LENGTH_DIGITS {
        return Err(PacketError::InvalidLength);
    }
    digits.into_iter().try_fold(0_usize, |n, digit| {
        if digit > 9 {
            return Err(PacketError::InvalidLength);
        }
        n.checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(digit)))
            .ok_or(PacketError::InvalidLength)
    })
}

/// The byte length of the first `units` UTF-16 code units of `text`, or
/// `None` if it is shorter or the count ends inside a surrogate pair.
fn utf16_prefix(text: &str, units: usize) -> Option<usize> {
    let mut counted = 0;
    for (index, ch) in text.char_indices() {
        if counted == units {
            return Some(index);
        }
        counted += ch.len_utf16();
        if counted > units {
            return None;
        }
    }
    (counted == units).then_some(text.len())
}

/// One text item: `b4` and base64 for binary, else a type digit and data.
fn decode_text_item(item: &Bytes) -> Result<Packet, PacketError> {
    match item.strip_prefix(b"b") {
        Some(rest) => match rest.split_first() {
            Some((&b'4', data)) => BASE64
                .decode(data)
                .map(|data| Packet::Message(Payload::Binary(Bytes::from(data))))
                .map_err(|_| PacketError::InvalidBase64),
            _ => Err(PacketError::UnknownType),
        },
        None => decode_text(item.clone()),
    }
}

/// The binary payload format: kind byte, length digits, `0xff`, packet.
fn decode_binary_payload(body: &Bytes) -> Result<Vec<Packet>, PacketError> {
    if body.is_empty() {
        return Err(PacketError::Empty);
    }
    let mut packets = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let kind = body[at];
        let digits_end = body[at + 1..]
            .iter()
            .position(|&b| b == LENGTH_END)
            .map(|offset| at + 1 + offset)
            .ok_or(PacketError::InvalidLength)?;
        let length = parse_length(body[at + 1..digits_end].iter().copied())?;
        let start = digits_end + 1;
        let end = start
            .checked_add(length)
            .filter(|&end| end <= body.len())
            .ok_or(PacketError::InvalidLength)?;
        let item = body.slice(start..end);
        packets.push(match kind {
            0 => decode_text(item)?,
            1 => decode_binary_item(&item)?,
            _ => return Err(PacketError::UnknownType),
        });
        at = end;
    }
    Ok(packets)
}

/// A binary packet: its type byte, then its data; only `message` carries
/// binary data.
fn decode_binary_item(item: &Bytes) -> Result<Packet, PacketError> {
    match item.first() {
        Some(&MESSAGE_TYPE) => Ok(Packet::Message(Payload::Binary(item.slice(1..)))),
        Some(_) => Err(PacketError::UnknownType),
        None => Err(PacketError::Empty),
    }
}

/// Encodes a packet as a v3 WebSocket message: as v4, except that a
/// binary message's frame starts with its type byte.
pub(crate) fn to_frame(packet: &Packet) -> Message {
    match packet {
        Packet::Message(Payload::Binary(bytes)) => {
            let mut out = BytesMut::with_capacity(bytes.len() + 1);
            out.put_u8(MESSAGE_TYPE);
            out.put_slice(bytes);
            Message::Binary(out.freeze())
        }
        other => other.to_frame(),
    }
}

/// Decodes a v3 WebSocket message: a binary frame is a type byte and the
/// data.
///
/// # Errors
///
/// As [`Packet::from_frame`], and [`PacketError::UnknownType`] for a
/// binary frame not marked as a message.
pub(crate) fn from_frame(message: Message) -> Result<Packet, PacketError> {
    match message {
        Message::Binary(bytes) => decode_binary_item(&bytes),
        text @ Message::Text(_) => Packet::from_frame(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sockeye::Utf8Bytes;

    fn message(s: &str) -> Packet {
        Packet::Message(Payload::Text(Utf8Bytes::from(s.to_owned())))
    }

    fn binary(b: &'static [u8]) -> Packet {
        Packet::Message(Payload::Binary(Bytes::from_static(b)))
    }

    /// v3 polling payload: lengths prefix each packet, binary as `b4`.
    #[test]
    fn text_payload_as_the_test_suite() {
        let packets = [message("hello"), binary(&[1, 2, 3, 4])];
        let (body, kind) = encode_payload(&packets, false);
        assert_eq!(&body[..], b"6:4hello10:b4AQIDBA==");
        assert_eq!(kind, "text/plain; charset=UTF-8");
        assert_eq!(decode_payload(&body, false), Ok(packets.to_vec()));
        assert_eq!(&encode_payload(&[], false).0[..], b"0:");
    }

    /// v3 polling payload: lengths count UTF-16 code units, not bytes.
    #[test]
    fn text_lengths_count_utf16_units() {
        // "é" is 2 bytes and 1 unit; "😀" is 4 bytes and 2 units.
        let packets = [message("é😀")];
        let (body, _) = encode_payload(&packets, false);
        assert_eq!(std::str::from_utf8(&body).unwrap(), "4:4é😀");
        assert_eq!(decode_payload(&body, false), Ok(packets.to_vec()));
        // A count that ends inside the surrogate pair is refused.
        assert_eq!(
            decode_payload(&Bytes::from("3:4é😀"), false),
            Err(PacketError::InvalidLength)
        );
    }

    /// v3 binary payload (XHR2), byte for byte as the test suite expects.
    #[test]
    fn binary_payload_as_the_test_suite() {
        let packets = [message("hello"), binary(&[1, 2, 3, 4])];
        let (body, kind) = encode_payload(&packets, true);
        assert_eq!(
            &body[..],
            &[
                0, 6, 255, 52, 104, 101, 108, 108, 111, 1, 5, 255, 4, 1, 2, 3, 4
            ]
        );
        assert_eq!(kind, "application/octet-stream");
        assert_eq!(decode_payload(&body, true), Ok(packets.to_vec()));
        // Without binary packets the text format is used even so.
        assert_eq!(&encode_payload(&[message("a")], true).0[..], b"2:4a");
    }

    /// Invalid v3 payloads: bad or missing lengths, overruns, bad types.
    #[test]
    fn malformed_payloads_are_refused() {
        for (body, binary) in [
            (&b"abc"[..], false),
            (b"", false),
            (b"5:4ab", false),
            (b"x:4a", false),
            (b"2:4a1", false),
            (b"2:b5AA", false),
            (b"99999999999999999999999:4", false),
            (&[0, 9, 255, 52][..], true),
            (&[2, 1, 255, 52][..], true),
            (&[0, 1, 2][..], true),
            (&[0, 12, 255, 52][..], true),
            (&[1, 1, 255, 3][..], true),
        ] {
            assert!(
                decode_payload(&Bytes::copy_from_slice(body), binary).is_err(),
                "{body:?}"
            );
        }
    }

    /// v3 WebSocket: a binary frame carries the type byte 4 first.
    #[test]
    fn websocket_binary_has_type_byte() {
        let packet = binary(&[1, 2, 3]);
        assert_eq!(
            to_frame(&packet),
            Message::Binary(Bytes::from_static(&[4, 1, 2, 3]))
        );
        assert_eq!(from_frame(to_frame(&packet)), Ok(packet));
        assert_eq!(
            from_frame(Message::Binary(Bytes::from_static(&[2, 1]))),
            Err(PacketError::UnknownType)
        );
        assert_eq!(
            from_frame(Message::text("2")),
            Ok(Packet::Ping(Utf8Bytes::new()))
        );
    }

    proptest! {
        /// v3 payload round trip in both formats, for any text and bytes.
        #[test]
        fn payload_round_trip(
            texts in proptest::collection::vec(any::<String>(), 1..4),
            data in proptest::collection::vec(any::<u8>(), 0..32),
            supports_binary in any::<bool>(),
        ) {
            let mut packets: Vec<Packet> = texts.iter().map(|t| message(t)).collect();
            packets.push(Packet::Message(Payload::Binary(Bytes::from(data))));
            let (body, kind) = encode_payload(&packets, supports_binary);
            let binary = kind == "application/octet-stream";
            prop_assert_eq!(decode_payload(&body, binary), Ok(packets));
        }
    }
}
