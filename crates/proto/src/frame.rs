//! The base framing protocol (RFC 6455 §5.2): opcodes, frame headers and masking.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Most users never touch this module: [`Connection`](crate::Connection)
//! encodes and decodes frames. It is public for those who write their own
//! framing layer, tests or tools.

pub use crate::mask::apply_mask;

use crate::error::Error;

/// The longest frame header: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: Close (§5.5.1).
    Close,
    /// 0x9: Ping (§5.5.2).
    Ping,
    /// 0xA: Pong (§5.5.3).
    Pong,
}

impl OpCode {
    /// Whether this is a control opcode (Close, Ping, Pong).
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xa,
        }
    }
}

impl TryFrom<u8> for OpCode {
    type Error = Error;

    /// Reads a 4-bit opcode; 0x3–0x7 and 0xB–0xF are reserved (R-FR-02).
    fn try_from(value: u8) -> Result<Self, Error> {
        Ok(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xa => OpCode::Pong,
            other => return Err(Error::ReservedOpcode(other)),
        })
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low 3 bits (RSV1 is `0b100`).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if MASK is set.
    pub masking_key: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds less than the whole header, and the
    /// header with its encoded length otherwise. Checks only what the header
    /// alone can show: reserved opcodes, the 64-bit length's top bit (R-FR-03)
    /// and, if `strict_length` is set, minimal length encoding (R-FR-04). RSV
    /// bits, masking and sizes are the caller's to judge.
    ///
    /// # Errors
    ///
    /// [`Error::ReservedOpcode`], [`Error::InvalidPayloadLength`] and
    /// [`Error::NonMinimalLength`].
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_proto::frame::{FrameHeader, OpCode};
    ///
    /// // RFC 6455 §5.7: a masked "Hello" from a client.
    /// let wire = [0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    /// let (header, len) = FrameHeader::decode(&wire, true).unwrap().unwrap();
    /// assert_eq!(len, 6);
    /// assert_eq!(header.opcode, OpCode::Text);
    /// assert_eq!(header.payload_len, 5);
    /// assert_eq!(header.masking_key, Some([0x37, 0xfa, 0x21, 0x3d]));
    /// ```
    pub fn decode(buf: &[u8], strict_length: bool) -> Result<Option<(FrameHeader, usize)>, Error> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x07;
        let opcode = OpCode::try_from(b0 & 0x0f)?;
        let masked = b1 & 0x80 != 0;
        let (payload_len, mut pos) = match b1 & 0x7f {
            126 => {
                let Some(ext) = buf.get(2..4) else {
                    return Ok(None);
                };
                let len = u64::from(u16::from_be_bytes([ext[0], ext[1]]));
                if strict_length && len < 126 {
                    return Err(Error::NonMinimalLength);
                }
                (len, 4)
            }
            127 => {
                let Some(ext) = buf.get(2..10) else {
                    return Ok(None);
                };
                let mut bytes = [0; 8];
                bytes.copy_from_slice(ext);
                let len = u64::from_be_bytes(bytes);
                if len >> 63 != 0 {
                    return Err(Error::InvalidPayloadLength);
                }
                if strict_length && len <= 0xffff {
                    return Err(Error::NonMinimalLength);
                }
                (len, 10)
            }
            short => (u64::from(short), 2),
        };
        let masking_key = if masked {
            let Some(key) = buf.get(pos..pos + 4) else {
                return Ok(None);
            };
            pos += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv,
                opcode,
                masking_key,
                payload_len,
            },
            pos,
        )))
    }

    /// Encodes this header into `dst`, in the shortest length form, and
    /// returns how many bytes it wrote (2 to 14).
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_proto::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
    ///
    /// let header = FrameHeader {
    ///     fin: true,
    ///     rsv: 0,
    ///     opcode: OpCode::Binary,
    ///     masking_key: None,
    ///     payload_len: 256,
    /// };
    /// let mut buf = [0; MAX_HEADER_LEN];
    /// let n = header.encode(&mut buf);
    /// assert_eq!(&buf[..n], &[0x82, 0x7e, 0x01, 0x00]); // R-FR-05
    /// ```
    pub fn encode(&self, dst: &mut [u8; MAX_HEADER_LEN]) -> usize {
        dst[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0x07) << 4) | self.opcode.as_u8();
        let mask_bit = if self.masking_key.is_some() { 0x80 } else { 0 };
        let len = self.payload_len;
        let mut pos = if let Ok(short @ 0..=125) = u8::try_from(len) {
            dst[1] = mask_bit | short;
            2
        } else if let Ok(medium) = u16::try_from(len) {
            dst[1] = mask_bit | 0x7e;
            dst[2..4].copy_from_slice(&medium.to_be_bytes());
            4
        } else {
            dst[1] = mask_bit | 0x7f;
            dst[2..10].copy_from_slice(&len.to_be_bytes());
            10
        };
        if let Some(key) = self.masking_key {
            dst[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(opcode: OpCode, len: u64, key: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            masking_key: key,
            payload_len: len,
        }
    }

    #[test]
    fn r_fr_05_length_encoding_boundaries() {
        for (len, expect) in [(125u64, 2usize), (126, 4), (65535, 4), (65536, 10)] {
            let mut buf = [0; MAX_HEADER_LEN];
            assert_eq!(header(OpCode::Binary, len, None).encode(&mut buf), expect);
        }
        let (h, n) = FrameHeader::decode(&[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0], true)
            .unwrap()
            .unwrap();
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn r_fr_07_rfc_examples() {
        let mut buf = [0; MAX_HEADER_LEN];
        let n = header(OpCode::Text, 5, None).encode(&mut buf);
        assert_eq!(&buf[..n], &[0x81, 0x05]);
        let n = header(OpCode::Pong, 5, Some([0x37, 0xfa, 0x21, 0x3d])).encode(&mut buf);
        assert_eq!(&buf[..n], &[0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d]);
        let (h, _) = FrameHeader::decode(&[0x01, 0x03], true).unwrap().unwrap();
        assert!(!h.fin);
        assert_eq!(h.opcode, OpCode::Text);
    }

    #[test]
    fn r_fr_03_length_with_top_bit_set_is_refused_from_the_header() {
        let wire = [0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(
            FrameHeader::decode(&wire, true),
            Err(Error::InvalidPayloadLength)
        );
    }

    #[test]
    fn r_fr_04_non_minimal_lengths() {
        let short_in_16 = [0x82, 0x7e, 0x00, 0x05];
        let short_in_64 = [0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
        assert_eq!(
            FrameHeader::decode(&short_in_16, true),
            Err(Error::NonMinimalLength)
        );
        assert_eq!(
            FrameHeader::decode(&short_in_64, true),
            Err(Error::NonMinimalLength)
        );
        assert!(FrameHeader::decode(&short_in_16, false).unwrap().is_some());
        assert!(FrameHeader::decode(&short_in_64, false).unwrap().is_some());
    }

    #[test]
    fn r_fr_02_reserved_opcodes() {
        for op in (0x3..=0x7).chain(0xb..=0xf) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0], true),
                Err(Error::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn partial_headers_ask_for_more() {
        let mut buf = [0; MAX_HEADER_LEN];
        let n = header(OpCode::Binary, 70_000, Some([1, 2, 3, 4])).encode(&mut buf);
        for cut in 0..n {
            assert_eq!(FrameHeader::decode(&buf[..cut], true), Ok(None));
        }
    }

    fn any_opcode() -> impl Strategy<Value = OpCode> {
        prop_oneof![
            Just(OpCode::Continuation),
            Just(OpCode::Text),
            Just(OpCode::Binary),
            Just(OpCode::Close),
            Just(OpCode::Ping),
            Just(OpCode::Pong),
        ]
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(
            fin in any::<bool>(),
            rsv in 0u8..8,
            opcode in any_opcode(),
            key in proptest::option::of(any::<[u8; 4]>()),
            len in prop_oneof![0u64..130, 65_530u64..65_540, 0u64..(1 << 63)],
        ) {
            let h = FrameHeader { fin, rsv, opcode, masking_key: key, payload_len: len };
            let mut buf = [0; MAX_HEADER_LEN];
            let n = h.encode(&mut buf);
            prop_assert_eq!(FrameHeader::decode(&buf[..n], true), Ok(Some((h, n))));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..20), strict in any::<bool>()) {
            let _ = FrameHeader::decode(&bytes, strict);
        }
    }
}
