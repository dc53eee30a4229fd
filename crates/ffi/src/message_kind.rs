//! The kinds of data message a caller sends: `SOCKEYE_TEXT` and
//! `SOCKEYE_BINARY`, taken as a `uint32_t` so that any value is safe to
//! pass.

use bytes::Bytes;
use sockeye_proto::{Message, Utf8Bytes};

use crate::result::sockeye_result;

/// A text message: its bytes must be UTF-8.
pub const SOCKEYE_TEXT: u32 = 1;
/// A binary message: any bytes.
pub const SOCKEYE_BINARY: u32 = 2;

/// The message of kind `kind` holding a copy of `data`: text that is not
/// UTF-8 and unknown kinds give `SOCKEYE_ERR_INVALID`, with what is wrong.
pub(crate) fn message(kind: u32, data: &[u8]) -> Result<Message, (sockeye_result, &'static str)> {
    match kind {
        SOCKEYE_TEXT => match std::str::from_utf8(data) {
            Ok(text) => Ok(Message::Text(Utf8Bytes::from(text.to_owned()))),
            Err(_) => Err((
                sockeye_result::SOCKEYE_ERR_INVALID,
                "text message is not valid UTF-8",
            )),
        },
        SOCKEYE_BINARY => Ok(Message::Binary(Bytes::copy_from_slice(data))),
        _ => Err((
            sockeye_result::SOCKEYE_ERR_INVALID,
            "unknown message kind: pass SOCKEYE_TEXT or SOCKEYE_BINARY",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_checked_and_text_must_be_utf8() {
        assert_eq!(message(SOCKEYE_TEXT, b"hi"), Ok(Message::text("hi")));
        assert_eq!(
            message(SOCKEYE_BINARY, b"\xff"),
            Ok(Message::binary(&b"\xff"[..]))
        );
        assert_eq!(
            message(SOCKEYE_TEXT, b"\xff").unwrap_err().0,
            sockeye_result::SOCKEYE_ERR_INVALID
        );
        assert_eq!(
            message(0, b"").unwrap_err().0,
            sockeye_result::SOCKEYE_ERR_INVALID
        );
    }
}
