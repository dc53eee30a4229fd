//! The payload of a Close frame (RFC 6455 §5.5.1): a close code and a reason.

use bytes::{BufMut, Bytes, BytesMut};

use crate::close_code::CloseCode;
use crate::error::{Error, UsageError};
use crate::message::Utf8Bytes;

/// The longest close reason that fits a control frame: 125 bytes less the 2-byte code.
pub const MAX_REASON_LEN: usize = 123;

/// The content of a Close frame: a status code and a UTF-8 reason.
///
/// A Close frame without a body is reported with
/// [`CloseCode::NO_STATUS_RECEIVED`] (1005) and an empty reason (RFC 6455 §7.1.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, at most [`MAX_REASON_LEN`] bytes of UTF-8.
    pub reason: Utf8Bytes,
}

impl CloseFrame {
    /// A close frame with the given code and reason.
    ///
    /// # Errors
    ///
    /// [`UsageError::InvalidCloseCode`] if the code may not be sent, and
    /// [`UsageError::CloseReasonTooLong`] if the reason is over 123 bytes.
    pub fn new(code: CloseCode, reason: impl Into<Utf8Bytes>) -> Result<Self, UsageError> {
        let reason = reason.into();
        if !code.is_sendable() {
            return Err(UsageError::InvalidCloseCode(code.as_u16()));
        }
        if reason.len() > MAX_REASON_LEN {
            return Err(UsageError::CloseReasonTooLong(reason.len()));
        }
        Ok(CloseFrame { code, reason })
    }

    /// Parses the payload of a received Close frame (R-CL-01, R-SC-02, R-SC-03).
    ///
    /// An empty payload gives code 1005 and no reason.
    ///
    /// # Errors
    ///
    /// A 1-byte payload and a code that may not be sent are protocol errors;
    /// a reason that is not UTF-8 is [`Error::InvalidUtf8`].
    pub fn parse(payload: &Bytes) -> Result<Self, Error> {
        match payload.len() {
            0 => Ok(CloseFrame {
                code: CloseCode::NO_STATUS_RECEIVED,
                reason: Utf8Bytes::new(),
            }),
            // R-CL-01: the body, if any, starts with a 2-byte code.
            1 => Err(Error::InvalidCloseFrame),
            _ => {
                let code = CloseCode::from(u16::from_be_bytes([payload[0], payload[1]]));
                // R-SC-02
                if !code.is_sendable() {
                    return Err(Error::InvalidCloseCode(code.as_u16()));
                }
                // R-SC-03
                let reason =
                    Utf8Bytes::try_from(payload.slice(2..)).map_err(|_| Error::InvalidUtf8)?;
                Ok(CloseFrame { code, reason })
            }
        }
    }

    /// Writes the payload of this Close frame: the code, then the reason.
    ///
    /// A 1005 code writes an empty payload, the frame that carries no status.
    pub fn encode(&self, dst: &mut BytesMut) {
        if self.code == CloseCode::NO_STATUS_RECEIVED {
            return;
        }
        dst.put_u16(self.code.as_u16());
        dst.extend_from_slice(self.reason.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sc_01_reserved_pseudo_codes_are_not_sendable() {
        for c in [1005, 1006, 1015] {
            let code = CloseCode::from(c);
            assert!(code.is_reserved());
            assert!(!code.is_sendable());
            assert!(CloseFrame::new(code, "").is_err());
        }
    }

    #[test]
    fn r_cl_01_one_byte_close_payload_is_a_protocol_error() {
        assert_eq!(
            CloseFrame::parse(&Bytes::from_static(&[0x03])),
            Err(Error::InvalidCloseFrame)
        );
    }

    #[test]
    fn r_cl_10_empty_close_payload_reports_1005() {
        let frame = CloseFrame::parse(&Bytes::new()).unwrap();
        assert_eq!(frame.code, CloseCode::NO_STATUS_RECEIVED);
        assert_eq!(frame.reason, "");
    }

    #[test]
    fn r_sc_03_close_reason_must_be_utf8() {
        let payload = Bytes::from_static(&[0x03, 0xe8, 0xff, 0xfe]);
        assert_eq!(CloseFrame::parse(&payload), Err(Error::InvalidUtf8));
    }

    #[test]
    fn r_sc_02_received_reserved_codes_fail() {
        for c in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let payload = Bytes::copy_from_slice(&c.to_be_bytes());
            assert_eq!(CloseFrame::parse(&payload), Err(Error::InvalidCloseCode(c)));
        }
    }

    #[test]
    fn close_frame_round_trip() {
        let frame = CloseFrame::new(CloseCode::GOING_AWAY, "bye").unwrap();
        let mut buf = BytesMut::new();
        frame.encode(&mut buf);
        assert_eq!(&buf[..], b"\x03\xe9bye");
        assert_eq!(CloseFrame::parse(&buf.freeze()).unwrap(), frame);
    }

    #[test]
    fn close_reason_longer_than_123_bytes_is_refused() {
        let long = "x".repeat(124);
        assert_eq!(
            CloseFrame::new(CloseCode::NORMAL, long),
            Err(UsageError::CloseReasonTooLong(124))
        );
        assert!(CloseFrame::new(CloseCode::NORMAL, "x".repeat(123)).is_ok());
    }
}
