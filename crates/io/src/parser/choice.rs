//! Picking a parser by configuration: one type for the layer above to hold.

use bytes::Bytes;

use super::error::{EncodeError, ParseError};
use super::frame::Encoded;
use super::limits::DecoderLimits;
use super::packet::{Packet, PacketRef};
use super::{json, msgpack};

/// Which wire form Socket.IO packets take on a server: both ends must use the same one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Parser {
    /// The default parser (`socket.io-parser`): JSON text plus binary attachments.
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: one msgpack binary frame per packet.
    Msgpack,
}

impl Parser {
    /// Encodes a packet in this parser's wire form.
    ///
    /// # Errors
    ///
    /// See [`json::encode`] and [`msgpack::encode`].
    pub fn encode(self, packet: &Packet) -> Result<Encoded, EncodeError> {
        self.encode_ref(packet.into())
    }

    /// Encodes a packet given by reference to its parts, as [`encode`](Self::encode) does.
    ///
    /// # Errors
    ///
    /// See [`json::encode`] and [`msgpack::encode`].
    pub fn encode_ref(self, packet: PacketRef<'_>) -> Result<Encoded, EncodeError> {
        match self {
            Self::Json => json::encode_ref(packet),
            Self::Msgpack => msgpack::encode_ref(packet),
        }
    }

    /// Encodes a packet it owns; the JSON parser then moves binary data into the attachments
    /// instead of copying it.
    ///
    /// # Errors
    ///
    /// See [`json::encode`] and [`msgpack::encode`].
    pub fn encode_owned(self, packet: Packet) -> Result<Encoded, EncodeError> {
        match self {
            Self::Json => json::encode_owned(packet),
            Self::Msgpack => msgpack::encode(&packet),
        }
    }

    /// A decoder for one connection, with the default [`DecoderLimits`].
    #[must_use]
    pub fn decoder(self) -> Decoder {
        self.decoder_with(DecoderLimits::default())
    }

    /// A decoder for one connection, enforcing `limits`.
    #[must_use]
    pub fn decoder_with(self, limits: DecoderLimits) -> Decoder {
        match self {
            Self::Json => Decoder::Json(json::Decoder::new(limits)),
            Self::Msgpack => Decoder::Msgpack(msgpack::Decoder::new()),
        }
    }
}

/// One connection's packet decoder, for whichever [`Parser`] the server uses.
///
/// # Examples
///
/// ```
/// use sockeye_io::parser::{PacketKind, Parser};
///
/// let mut decoder = Parser::Json.decoder();
/// let packet = decoder.text(r#"2/admin,["bar"]"#).unwrap().unwrap();
/// assert_eq!((packet.kind, packet.nsp.as_str()), (PacketKind::Event, "/admin"));
/// ```
#[derive(Debug)]
pub enum Decoder {
    /// The default parser's decoder.
    Json(json::Decoder),
    /// The msgpack parser's decoder.
    Msgpack(msgpack::Decoder),
}

impl Decoder {
    /// Feeds a text frame; see [`json::Decoder::text`] and [`msgpack::Decoder::text`].
    ///
    /// # Errors
    ///
    /// A [`ParseError`] when the frame is not (part of) a valid packet.
    pub fn text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        match self {
            Self::Json(d) => d.text(text),
            Self::Msgpack(d) => d.text(text),
        }
    }

    /// Feeds a binary frame; see [`json::Decoder::binary`] and [`msgpack::Decoder::binary`].
    ///
    /// # Errors
    ///
    /// A [`ParseError`] when the frame is not (part of) a valid packet.
    pub fn binary(&mut self, bytes: Bytes) -> Result<Option<Packet>, ParseError> {
        match self {
            Self::Json(d) => d.binary(bytes),
            Self::Msgpack(d) => d.binary(bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::frame::Frame;

    /// Public parser types can move between tasks and threads.
    #[test]
    fn public_types_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Parser>();
        send_sync::<Decoder>();
        send_sync::<Packet>();
        send_sync::<Encoded>();
        send_sync::<ParseError>();
        send_sync::<EncodeError>();
    }

    /// `Parser` dispatches to the parser it names, and both read what they wrote.
    #[test]
    fn parser_choice_round_trips() {
        let packet = Packet::event("/", "a", vec![rmpv::Value::Binary(vec![1])]);
        for parser in [Parser::Json, Parser::Msgpack] {
            let encoded = parser.encode(&packet).unwrap();
            assert_eq!(encoded.len(), if parser == Parser::Json { 2 } else { 1 });
            let mut decoder = parser.decoder();
            let mut out = None;
            for frame in encoded.into_frames() {
                out = match frame {
                    Frame::Text(t) => decoder.text(&t),
                    Frame::Binary(b) => decoder.binary(b),
                }
                .unwrap();
            }
            assert_eq!(out, Some(packet.clone()));
        }
    }
}
