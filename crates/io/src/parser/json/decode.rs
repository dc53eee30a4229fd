//! Text and binary frames → packets, one connection's decoder.

use bytes::Bytes;
use rmpv::Value;

use super::attachments::{count_placeholders, fill_placeholders};
use super::header::parse_header;
use super::surrogates::replace_lone_surrogates;
use crate::parser::error::ParseError;
use crate::parser::limits::DecoderLimits;
use crate::parser::packet::Packet;
use crate::parser::payload::check_payload;

/// Decodes the default parser's wire form; one per connection, as it keeps a binary packet
/// while its attachments arrive.
///
/// Feed it every text frame with [`text`](Decoder::text) and every binary frame with
/// [`binary`](Decoder::binary), in order. A `BINARY_EVENT` or `BINARY_ACK` header yields nothing
/// until the last of its attachments arrives; then the packet comes out with each
/// placeholder replaced by its attachment as [`Value::Binary`].
///
/// After an error the peer is broken: close the connection. The decoder has dropped any
/// partial packet and would decode a new one.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use rmpv::Value;
/// use sockeye_io::parser::json::Decoder;
///
/// let mut decoder = Decoder::default();
/// assert!(decoder.text(r#"51-["baz",{"_placeholder":true,"num":0}]"#).unwrap().is_none());
/// let packet = decoder.binary(Bytes::from_static(&[1, 2, 3, 4])).unwrap().unwrap();
/// assert_eq!(packet.data.unwrap()[1], Value::Binary(vec![1, 2, 3, 4]));
/// ```
#[derive(Debug, Default)]
pub struct Decoder {
    limits: DecoderLimits,
    pending: Option<Pending>,
}

/// A binary packet waiting for its attachments.
#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
    buffers: Vec<Bytes>,
    /// `uses[num]`: how many placeholders name attachment `num`.
    uses: Vec<u32>,
    size: usize,
}

impl Decoder {
    /// A decoder enforcing `limits`.
    #[must_use]
    pub fn new(limits: DecoderLimits) -> Self {
        Self {
            limits,
            pending: None,
        }
    }

    /// The limits this decoder enforces.
    #[must_use]
    pub fn limits(&self) -> &DecoderLimits {
        &self.limits
    }

    /// How many attachments the packet being collected still waits for (0 when none is).
    #[must_use]
    pub fn awaiting(&self) -> usize {
        self.pending
            .as_ref()
            .map_or(0, |p| p.expected - p.buffers.len())
    }

    /// Decodes a text frame: a whole packet, or the head of a binary one (then `Ok(None)`).
    ///
    /// # Errors
    ///
    /// A [`ParseError`] for a malformed header (type, attachment count, ack id), invalid
    /// JSON or trailing text after it, a payload the type does not allow, a placeholder that
    /// names no attachment, or a text frame while attachments are awaited.
    pub fn text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        if self.pending.take().is_some() {
            return Err(ParseError::UnexpectedText);
        }
        let header = parse_header(text, &self.limits)?;
        let data = parse_payload(header.payload)?;
        check_payload(header.kind, data.as_ref())?;
        let mut uses = vec![0; header.attachments];
        if header.binary {
            if let Some(data) = &data {
                count_placeholders(data, &mut uses)?;
            }
        }
        let packet = Packet {
            kind: header.kind,
            nsp: header.nsp.to_owned(),
            id: header.id,
            data,
        };
        if header.attachments == 0 {
            return Ok(Some(packet));
        }
        self.pending = Some(Pending {
            packet,
            expected: header.attachments,
            buffers: Vec::with_capacity(header.attachments),
            uses,
            size: 0,
        });
        Ok(None)
    }

    /// Takes a binary frame: the next attachment of the packet being collected. Yields the
    /// packet when this was its last attachment.
    ///
    /// # Errors
    ///
    /// [`ParseError::UnexpectedBinary`] when no packet waits for attachments,
    /// [`ParseError::AttachmentsTooLarge`] past
    /// [`DecoderLimits::max_attachment_bytes`].
    pub fn binary(&mut self, bytes: Bytes) -> Result<Option<Packet>, ParseError> {
        let Some(pending) = self.pending.as_mut() else {
            return Err(ParseError::UnexpectedBinary);
        };
        let size = pending.size.saturating_add(bytes.len());
        if size > self.limits.max_attachment_bytes {
            self.pending = None;
            return Err(ParseError::AttachmentsTooLarge {
                size,
                limit: self.limits.max_attachment_bytes,
            });
        }
        pending.size = size;
        pending.buffers.push(bytes);
        if pending.buffers.len() < pending.expected {
            return Ok(None);
        }
        Ok(self.pending.take().map(Pending::finish))
    }

    /// Drops a partially received binary packet, if any.
    pub fn reset(&mut self) {
        self.pending = None;
    }
}

impl Pending {
    fn finish(mut self) -> Packet {
        if let Some(data) = &mut self.packet.data {
            fill_placeholders(data, &mut self.buffers, &mut self.uses);
        }
        self.packet
    }
}

/// The JSON payload as a value tree, `None` when the frame has no payload. Integers stay
/// integers (`Value::Integer`), numbers with a fraction or an exponent become `Value::F64`,
/// and a lone surrogate escape in a string reads as U+FFFD (see [`replace_lone_surrogates`]).
fn parse_payload(payload: &str) -> Result<Option<Value>, ParseError> {
    if payload.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str(payload) {
        Ok(value) => Ok(Some(value)),
        Err(err) => match replace_lone_surrogates(payload) {
            Some(fixed) => serde_json::from_str(&fixed)
                .map(Some)
                .map_err(ParseError::InvalidJson),
            None => Err(ParseError::InvalidJson(err)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::packet::PacketKind;

    /// A binary frame when no packet awaits attachments is refused.
    #[test]
    fn binary_without_pending_packet_is_refused() {
        let mut d = Decoder::default();
        assert!(matches!(
            d.binary(Bytes::from_static(b"x")),
            Err(ParseError::UnexpectedBinary)
        ));
    }

    /// A text frame while attachments are awaited is refused, and the partial packet dropped.
    #[test]
    fn text_while_awaiting_attachments_is_refused() {
        let mut d = Decoder::default();
        assert!(
            d.text(r#"51-["a",{"_placeholder":true,"num":0}]"#)
                .unwrap()
                .is_none()
        );
        assert_eq!(d.awaiting(), 1);
        assert!(matches!(
            d.text(r#"2["a"]"#),
            Err(ParseError::UnexpectedText)
        ));
        assert_eq!(d.awaiting(), 0);
    }

    /// The attachments of one packet are bounded in total size.
    #[test]
    fn attachments_over_the_byte_limit_are_refused() {
        let mut d = Decoder::new(DecoderLimits {
            max_attachment_bytes: 4,
            ..DecoderLimits::default()
        });
        d.text(r#"52-["a",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
            .unwrap();
        assert!(d.binary(Bytes::from_static(b"abc")).unwrap().is_none());
        assert!(matches!(
            d.binary(Bytes::from_static(b"de")),
            Err(ParseError::AttachmentsTooLarge { size: 5, limit: 4 })
        ));
        assert_eq!(d.awaiting(), 0);
    }

    /// Invalid JSON and trailing garbage after the JSON are refused.
    #[test]
    fn invalid_json_and_trailing_garbage_are_refused() {
        let mut d = Decoder::default();
        for text in [r#"2["a""#, r#"2["a"]x"#, "2abc", r#"2["a"]]"#] {
            assert!(
                matches!(d.text(text), Err(ParseError::InvalidJson(_))),
                "{text}"
            );
        }
    }

    /// A payload the type does not allow is refused (the suite's `42{}`).
    #[test]
    fn payload_not_allowed_by_type_is_refused() {
        let mut d = Decoder::default();
        for text in ["2{}", "1{}", "0[]", "3{}", "2", "4", "4[]"] {
            assert!(
                matches!(d.text(text), Err(ParseError::InvalidPayload { .. })),
                "{text}"
            );
        }
    }

    /// `BINARY_EVENT` with 0 attachments yields at once, a placeholder in it is out of range.
    #[test]
    fn binary_packet_with_zero_attachments() {
        let mut d = Decoder::default();
        let p = d.text(r#"50-["a"]"#).unwrap().unwrap();
        assert_eq!(p.kind, PacketKind::Event);
        assert!(matches!(
            d.text(r#"50-["a",{"_placeholder":true,"num":0}]"#),
            Err(ParseError::PlaceholderOutOfRange { count: 0 })
        ));
    }

    /// A placeholder in a plain EVENT (type 2) is ordinary data, as in the reference parser.
    #[test]
    fn placeholder_in_plain_event_is_data() {
        let mut d = Decoder::default();
        let p = d
            .text(r#"2["a",{"_placeholder":true,"num":0}]"#)
            .unwrap()
            .unwrap();
        assert!(p.data.unwrap()[1].is_map());
    }

    /// A lone surrogate escape, which a JavaScript string may hold, reads as U+FFFD instead
    /// of failing the packet.
    #[test]
    fn lone_surrogate_escape_reads_as_replacement_character() {
        let mut d = Decoder::default();
        let p = d
            .text(r#"2["a","x\ud83d","\ud83d\ude00"]"#)
            .unwrap()
            .unwrap();
        let data = p.data.unwrap();
        assert_eq!(data[1].as_str(), Some("x\u{fffd}"));
        assert_eq!(data[2].as_str(), Some("\u{1f600}"));
        assert!(matches!(
            d.text(r#"2["a","\ud83d"#),
            Err(ParseError::InvalidJson(_))
        ));
    }

    /// JSON numbers: integers stay integers, fractions are floats.
    #[test]
    fn json_numbers_keep_integer_or_float() {
        let mut d = Decoder::default();
        let p = d
            .text(r#"2["n",1,-2,1.5,1e3,18446744073709551615]"#)
            .unwrap()
            .unwrap();
        let data = p.data.unwrap();
        assert_eq!(data[1], Value::from(1));
        assert_eq!(data[2], Value::from(-2));
        assert_eq!(data[3], Value::F64(1.5));
        assert_eq!(data[4], Value::F64(1000.0));
        assert_eq!(data[5], Value::from(u64::MAX));
    }
}
