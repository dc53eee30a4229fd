//! The text before a packet's JSON: `<type>[<attachments>-][<nsp>,][<id>]`.

use crate::parser::error::ParseError;
use crate::parser::limits::DecoderLimits;
use crate::parser::packet::{MAIN_NAMESPACE, PacketKind};

/// A parsed header and the payload text after it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Header<'a> {
    pub(crate) kind: PacketKind,
    /// Set for `BINARY_EVENT` (5) and `BINARY_ACK` (6), even when the count is 0.
    pub(crate) binary: bool,
    pub(crate) attachments: usize,
    pub(crate) nsp: &'a str,
    pub(crate) id: Option<u64>,
    /// The JSON payload, empty when the packet has none.
    pub(crate) payload: &'a str,
}

/// Splits a text frame into its header fields and its payload text.
///
/// The namespace is present when the character after the type (and count) is `/`, and runs
/// to the first `,` (or to the end of the frame, as in `40/admin`); the ack id is the run of
/// digits that follows.
pub(crate) fn parse_header<'a>(
    text: &'a str,
    limits: &DecoderLimits,
) -> Result<Header<'a>, ParseError> {
    let (&first, _) = text
        .as_bytes()
        .split_first()
        .ok_or(ParseError::EmptyPacket)?;
    let (kind, binary) = packet_type(first)?;
    let mut rest = &text[1..];
    let mut attachments = 0;
    if binary {
        let (count, after) = attachment_count(rest, limits)?;
        attachments = count;
        rest = after;
    }
    let (nsp, rest) = namespace(rest);
    let (id, payload) = ack_id(rest)?;
    Ok(Header {
        kind,
        binary,
        attachments,
        nsp,
        id,
        payload,
    })
}

fn packet_type(byte: u8) -> Result<(PacketKind, bool), ParseError> {
    match byte {
        b'5' => Ok((PacketKind::Event, true)),
        b'6' => Ok((PacketKind::Ack, true)),
        b'0'..=b'4' => Ok((
            PacketKind::from_code(u64::from(byte - b'0')).ok_or(ParseError::UnknownPacketType)?,
            false,
        )),
        _ => Err(ParseError::UnknownPacketType),
    }
}

/// `<digits>-`: the number of binary attachments of a `BINARY_EVENT` or `BINARY_ACK`.
fn attachment_count<'a>(
    text: &'a str,
    limits: &DecoderLimits,
) -> Result<(usize, &'a str), ParseError> {
    let digits = leading_digits(text);
    if digits == 0 || text.as_bytes().get(digits) != Some(&b'-') {
        return Err(ParseError::InvalidAttachmentCount);
    }
    // A count too large for u64 is certainly over the limit.
    let count = parse_digits(&text[..digits]).unwrap_or(u64::MAX);
    match usize::try_from(count) {
        Ok(n) if n <= limits.max_attachments => Ok((n, &text[digits + 1..])),
        _ => Err(ParseError::TooManyAttachments {
            count,
            limit: limits.max_attachments,
        }),
    }
}

fn namespace(text: &str) -> (&str, &str) {
    if !text.starts_with('/') {
        return (MAIN_NAMESPACE, text);
    }
    match text.find(',') {
        Some(comma) => (&text[..comma], &text[comma + 1..]),
        None => (text, ""),
    }
}

fn ack_id(text: &str) -> Result<(Option<u64>, &str), ParseError> {
    let digits = leading_digits(text);
    if digits == 0 {
        return Ok((None, text));
    }
    let id = parse_digits(&text[..digits]).ok_or(ParseError::InvalidAckId)?;
    Ok((Some(id), &text[digits..]))
}

fn leading_digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// ASCII digits to a number, `None` when it does not fit 64 bits.
fn parse_digits(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> Result<Header<'_>, ParseError> {
        parse_header(text, &DecoderLimits::default())
    }

    /// Format: every optional field, in order.
    #[test]
    fn full_header_is_split_into_fields() {
        let h = header(r#"52-/admin,7["a"]"#).unwrap();
        assert_eq!(h.kind, PacketKind::Event);
        assert!(h.binary);
        assert_eq!(h.attachments, 2);
        assert_eq!(h.nsp, "/admin");
        assert_eq!(h.id, Some(7));
        assert_eq!(h.payload, r#"["a"]"#);
    }

    /// The namespace runs to the end of the frame when no comma follows it.
    #[test]
    fn namespace_without_comma_ends_the_frame() {
        let h = header("0/random").unwrap();
        assert_eq!(h.nsp, "/random");
        assert_eq!(h.payload, "");
        assert_eq!(header("1/admin,").unwrap().nsp, "/admin");
        assert_eq!(header("2[1]").unwrap().nsp, "/");
    }

    /// Unknown packet types and empty frames are refused.
    #[test]
    fn unknown_type_is_refused() {
        assert!(matches!(header("7"), Err(ParseError::UnknownPacketType)));
        assert!(matches!(header("a"), Err(ParseError::UnknownPacketType)));
        assert!(matches!(header(""), Err(ParseError::EmptyPacket)));
    }

    /// The attachment count is digits and a dash, within the limit.
    #[test]
    fn attachment_count_is_checked() {
        assert!(matches!(
            header("5-[]"),
            Err(ParseError::InvalidAttachmentCount)
        ));
        assert!(matches!(
            header("51[]"),
            Err(ParseError::InvalidAttachmentCount)
        ));
        assert!(matches!(
            header("511-[]"),
            Err(ParseError::TooManyAttachments {
                count: 11,
                limit: 10
            })
        ));
        assert!(matches!(
            header("599999999999999999999999-[]"),
            Err(ParseError::TooManyAttachments { .. })
        ));
        assert_eq!(header("510-[]").unwrap().attachments, 10);
    }

    /// Ack ids that do not fit 64 bits are refused.
    #[test]
    fn ack_id_overflow_is_refused() {
        assert_eq!(
            header("318446744073709551615[]").unwrap().id,
            Some(u64::MAX)
        );
        assert!(matches!(
            header("318446744073709551616[]"),
            Err(ParseError::InvalidAckId)
        ));
    }
}
