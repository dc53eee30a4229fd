//! The long-polling payload: the packets of one HTTP body, joined by the
//! record separator `\x1e` (`docs/engine.io-protocol/v4-current.md`,
//! "HTTP long-polling": "packets are separated by the record separator").

use bytes::{BufMut, Bytes, BytesMut};

use super::packet::{Packet, PacketError};

/// The separator between two packets of a polling payload (ASCII RS).
pub const SEPARATOR: u8 = 0x1e;

/// Splits a polling body into its packets, in order.
///
/// Decodes every item before returning any, so a body with one bad packet
/// is refused whole: none of its packets reach the session.
///
/// # Errors
///
/// The first item's [`PacketError`]; an empty body is
/// [`PacketError::Empty`].
pub fn split(body: &Bytes) -> Result<Vec<Packet>, PacketError> {
    body.split(|&byte| byte == SEPARATOR)
        .map(|item| Packet::from_polling_item(&body.slice_ref(item)))
        .collect()
}

/// Joins packets into one polling body: each packet's polling form,
/// separated by [`SEPARATOR`].
pub fn join<'a>(packets: impl IntoIterator<Item = &'a Packet>) -> Bytes {
    let mut out = BytesMut::new();
    for (index, packet) in packets.into_iter().enumerate() {
        if index > 0 {
            out.put_u8(SEPARATOR);
        }
        packet.write_polling_item(&mut out);
    }
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::packet::Payload;
    use sockeye::Utf8Bytes;

    fn message(s: &'static str) -> Packet {
        Packet::Message(Payload::Text(Utf8Bytes::from_static(s)))
    }

    /// Polling POST: several packets joined with `\x1e` split back in order.
    #[test]
    fn splits_several_packets() {
        let body = Bytes::from_static(b"4test1\x1e4test2\x1e4test3");
        assert_eq!(
            split(&body),
            Ok(vec![message("test1"), message("test2"), message("test3")])
        );
    }

    /// Polling GET: queued packets leave as one body joined with `\x1e`.
    #[test]
    fn joins_text_and_binary() {
        let packets = [
            message("hello"),
            Packet::Message(Payload::Binary(Bytes::from_static(&[1, 2, 3, 4]))),
        ];
        assert_eq!(&join(&packets)[..], b"4hello\x1ebAQIDBA==");
        assert_eq!(&join(&[Packet::Noop])[..], b"6");
    }

    /// Invalid packet: one bad item refuses the whole body.
    #[test]
    fn one_bad_item_refuses_the_body() {
        assert_eq!(
            split(&Bytes::from_static(b"4ok\x1eabc")),
            Err(PacketError::UnknownType)
        );
        assert_eq!(split(&Bytes::from_static(b"")), Err(PacketError::Empty));
        assert_eq!(
            split(&Bytes::from_static(b"4a\x1e")),
            Err(PacketError::Empty)
        );
    }
}
