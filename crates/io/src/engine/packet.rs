//! Engine.IO v4 packets and their two encodings: one packet per WebSocket
//! frame, and one packet per item of a long-polling payload
//! (`docs/engine.io-protocol/v4-current.md`, "Packet encoding").
//!
//! A text packet is its type digit followed by its data (`4hello`). A
//! binary packet is always a `message`: over WebSocket it is a binary frame
//! holding the raw bytes, over polling it is `b` followed by the base64 of
//! the bytes (`bAQIDBA==`), since a polling payload is text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use sockeye::{Message, Utf8Bytes};

/// The data of a `message` packet: text or binary.
///
/// Cloning is O(1) (a reference count), so one payload can be queued on
/// many sessions without copying it (a broadcast).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Payload {
    /// The length of the data in bytes (before any base64 encoding).
    pub fn len(&self) -> usize {
        match self {
            Payload::Text(text) => text.len(),
            Payload::Binary(bytes) => bytes.len(),
        }
    }

    /// Whether the data is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<&'static str> for Payload {
    fn from(text: &'static str) -> Self {
        Payload::Text(Utf8Bytes::from_static(text))
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Payload::Text(Utf8Bytes::from(text))
    }
}

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Self {
        Payload::Binary(bytes)
    }
}

/// An Engine.IO v4 packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet {
    /// `0`: the handshake, server to client, with its JSON.
    Open(Utf8Bytes),
    /// `1`: the end of the session, either way.
    Close,
    /// `2`: a heartbeat request from the server, or `2probe` from a client
    /// testing a new WebSocket during the upgrade.
    Ping(Utf8Bytes),
    /// `3`: the answer to a ping (`3probe` for the probe).
    Pong(Utf8Bytes),
    /// `4`: application data.
    Message(Payload),
    /// `5`: the client switches the session to the probed WebSocket.
    Upgrade,
    /// `6`: nothing; ends a pending poll during an upgrade or a close.
    Noop,
}

/// Why bytes are not an Engine.IO packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PacketError {
    /// An empty frame or payload item: there is no type digit.
    #[error("empty packet")]
    Empty,
    /// The first character is not a packet type (`0` to `6`, or `b` in a
    /// polling payload).
    #[error("unknown packet type")]
    UnknownType,
    /// A polling item marked `b` whose rest is not base64.
    #[error("invalid base64 in a binary packet")]
    InvalidBase64,
    /// A polling payload that is not UTF-8 text.
    #[error("payload is not utf-8")]
    InvalidUtf8,
    /// An Engine.IO v3 polling payload whose length prefix is missing,
    /// malformed, or runs past the end of the body.
    #[error("invalid length in a v3 payload")]
    InvalidLength,
}

impl Packet {
    /// The type digit of this packet, as sent on the wire.
    pub fn type_digit(&self) -> u8 {
        match self {
            Packet::Open(_) => b'0',
            Packet::Close => b'1',
            Packet::Ping(_) => b'2',
            Packet::Pong(_) => b'3',
            Packet::Message(_) => b'4',
            Packet::Upgrade => b'5',
            Packet::Noop => b'6',
        }
    }

    /// Decodes the packet a WebSocket message carries: a text frame is a
    /// type digit and its data, a binary frame is a binary `message`.
    ///
    /// # Errors
    ///
    /// [`PacketError::Empty`] for an empty text frame,
    /// [`PacketError::UnknownType`] when the first byte is no type digit.
    pub fn from_frame(message: Message) -> Result<Packet, PacketError> {
        match message {
            Message::Binary(bytes) => Ok(Packet::Message(Payload::Binary(bytes))),
            Message::Text(text) => decode_text_frame(text),
        }
    }

    /// Encodes this packet as one WebSocket message: text for all but a
    /// binary `message`, which goes as a binary frame without a type digit.
    pub fn to_frame(&self) -> Message {
        match self {
            Packet::Message(Payload::Binary(bytes)) => Message::Binary(bytes.clone()),
            text => {
                let data = text.text_data();
                let mut out = String::with_capacity(1 + data.len());
                out.push(char::from(text.type_digit()));
                out.push_str(data);
                Message::Text(Utf8Bytes::from(out))
            }
        }
    }

    /// Decodes one item of a long-polling payload (the text between two
    /// `\x1e` separators): a type digit and its data, or `b` and base64.
    ///
    /// # Errors
    ///
    /// [`PacketError::Empty`], [`PacketError::UnknownType`],
    /// [`PacketError::InvalidBase64`], or [`PacketError::InvalidUtf8`] when
    /// the item is not text.
    pub fn from_polling_item(item: &Bytes) -> Result<Packet, PacketError> {
        if item.first() == Some(&b'b') {
            let data = BASE64
                .decode(&item[1..])
                .map_err(|_| PacketError::InvalidBase64)?;
            return Ok(Packet::Message(Payload::Binary(Bytes::from(data))));
        }
        decode_text(item.clone())
    }

    /// Appends this packet to a long-polling payload being built (without
    /// the separator; see [`super::payload::join`]).
    pub fn write_polling_item(&self, out: &mut BytesMut) {
        match self {
            Packet::Message(Payload::Binary(bytes)) => {
                out.put_u8(b'b');
                let start = out.len();
                out.resize(
                    start + base64::encoded_len(bytes.len(), true).unwrap_or(0),
                    0,
                );
                let written = BASE64.encode_slice(bytes, &mut out[start..]).unwrap_or(0);
                out.truncate(start + written);
            }
            text => {
                out.put_u8(text.type_digit());
                out.put_slice(text.text_data().as_bytes());
            }
        }
    }

    /// The data of a text packet (empty for those without data).
    fn text_data(&self) -> &str {
        match self {
            Packet::Open(data)
            | Packet::Ping(data)
            | Packet::Pong(data)
            | Packet::Message(Payload::Text(data)) => data.as_str(),
            Packet::Message(Payload::Binary(_))
            | Packet::Close
            | Packet::Upgrade
            | Packet::Noop => "",
        }
    }
}

/// Decodes a text packet: its type digit, then its data.
pub(crate) fn decode_text(mut bytes: Bytes) -> Result<Packet, PacketError> {
    let digit = bytes.first().copied();
    decode_typed(digit, || {
        // The digit is dropped in place: no second handle on the bytes.
        bytes.advance(1);
        Utf8Bytes::try_from(bytes).map_err(|_| PacketError::InvalidUtf8)
    })
}

/// Decodes a text WebSocket message, as [`decode_text`] does; its text was
/// checked when it was read, so it is not checked again.
fn decode_text_frame(text: Utf8Bytes) -> Result<Packet, PacketError> {
    let digit = text.as_bytes().first().copied();
    decode_typed(digit, || {
        text.into_tail(1).map_err(|_| PacketError::InvalidUtf8)
    })
}

/// The packet of type `digit`, with the data `data` gives (asked only of
/// the types that carry data).
fn decode_typed(
    digit: Option<u8>,
    data: impl FnOnce() -> Result<Utf8Bytes, PacketError>,
) -> Result<Packet, PacketError> {
    let Some(digit) = digit else {
        return Err(PacketError::Empty);
    };
    Ok(match digit {
        b'0' => Packet::Open(data()?),
        b'1' => Packet::Close,
        b'2' => Packet::Ping(data()?),
        b'3' => Packet::Pong(data()?),
        b'4' => Packet::Message(Payload::Text(data()?)),
        b'5' => Packet::Upgrade,
        b'6' => Packet::Noop,
        _ => return Err(PacketError::UnknownType),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(s: &str) -> Utf8Bytes {
        Utf8Bytes::from(s.to_owned())
    }

    /// Packet encoding: each type digit maps to its packet over WebSocket.
    #[test]
    fn frame_decodes_each_type() {
        let cases = [
            ("0{}", Packet::Open(text("{}"))),
            ("1", Packet::Close),
            ("2probe", Packet::Ping(text("probe"))),
            ("3", Packet::Pong(text(""))),
            ("4hello", Packet::Message(Payload::Text(text("hello")))),
            ("5", Packet::Upgrade),
            ("6", Packet::Noop),
        ];
        for (wire, packet) in cases {
            assert_eq!(Packet::from_frame(Message::text(wire)), Ok(packet.clone()));
            assert_eq!(packet.to_frame(), Message::text(wire));
        }
    }

    /// Packet encoding: a binary frame is a binary message, without a digit.
    #[test]
    fn binary_frame_is_a_binary_message() {
        let bytes = Bytes::from_static(&[1, 2, 3, 4]);
        let packet = Packet::Message(Payload::Binary(bytes.clone()));
        assert_eq!(
            Packet::from_frame(Message::Binary(bytes.clone())),
            Ok(packet.clone())
        );
        assert_eq!(packet.to_frame(), Message::Binary(bytes));
    }

    /// Invalid packet: garbage and empty frames are refused.
    #[test]
    fn invalid_frames_are_refused() {
        assert_eq!(
            Packet::from_frame(Message::text("abc")),
            Err(PacketError::UnknownType)
        );
        assert_eq!(
            Packet::from_frame(Message::text("")),
            Err(PacketError::Empty)
        );
        assert_eq!(
            Packet::from_frame(Message::text("7")),
            Err(PacketError::UnknownType)
        );
    }

    /// Binary over polling: `b` and base64, as the test suite's `bAQIDBA==`.
    #[test]
    fn polling_binary_is_base64() {
        let packet = Packet::from_polling_item(&Bytes::from_static(b"bAQIDBA==")).unwrap();
        assert_eq!(
            packet,
            Packet::Message(Payload::Binary(Bytes::from_static(&[1, 2, 3, 4])))
        );
        let mut out = BytesMut::new();
        packet.write_polling_item(&mut out);
        assert_eq!(&out[..], b"bAQIDBA==");
        assert_eq!(
            Packet::from_polling_item(&Bytes::from_static(b"b!!")),
            Err(PacketError::InvalidBase64)
        );
    }

    /// Polling items must be UTF-8 text.
    #[test]
    fn polling_item_refuses_invalid_utf8() {
        assert_eq!(
            Packet::from_polling_item(&Bytes::from_static(b"4\xff")),
            Err(PacketError::InvalidUtf8)
        );
    }

    fn any_packet() -> impl Strategy<Value = Packet> {
        prop_oneof![
            any::<String>().prop_map(|s| Packet::Open(Utf8Bytes::from(s))),
            Just(Packet::Close),
            any::<String>().prop_map(|s| Packet::Ping(Utf8Bytes::from(s))),
            any::<String>().prop_map(|s| Packet::Pong(Utf8Bytes::from(s))),
            any::<String>().prop_map(|s| Packet::Message(Payload::Text(Utf8Bytes::from(s)))),
            proptest::collection::vec(any::<u8>(), 0..64)
                .prop_map(|v| Packet::Message(Payload::Binary(Bytes::from(v)))),
            Just(Packet::Upgrade),
            Just(Packet::Noop),
        ]
    }

    proptest! {
        /// Packet encoding round trip over WebSocket frames.
        #[test]
        fn frame_round_trip(packet in any_packet()) {
            prop_assert_eq!(Packet::from_frame(packet.to_frame()), Ok(packet));
        }

        /// Packet encoding round trip over polling items.
        #[test]
        fn polling_round_trip(packet in any_packet()) {
            let mut out = BytesMut::new();
            packet.write_polling_item(&mut out);
            prop_assert_eq!(Packet::from_polling_item(&out.freeze()), Ok(packet));
        }
    }
}
