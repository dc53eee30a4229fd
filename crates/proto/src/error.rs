//! Errors: what the peer did wrong ([`Error`], each with the close code the
//! RFC asks for) and what our caller did wrong ([`UsageError`]).

use crate::close_code::CloseCode;

/// A protocol violation by the peer, or a limit it broke.
///
/// Each variant is named for what went wrong and knows the close code that
/// fails the connection ([`close_code`](Error::close_code)). When the engine
/// returns one, it has already queued the Close frame with that code (RFC 6455
/// §7.1.7) and drops all further input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An RSV bit was set that no negotiated extension defines (R-FR-01).
    #[error("reserved bits set without a negotiated extension")]
    ReservedBitsSet,
    /// A reserved opcode (R-FR-02).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame with FIN clear (R-CF-02).
    #[error("fragmented control frame")]
    FragmentedControlFrame,
    /// A control frame whose payload is over 125 bytes (R-CF-01).
    #[error("control frame payload of {0} bytes is over 125")]
    ControlFrameTooLong(u64),
    /// A client frame without a mask, received by a server (R-MK-02).
    #[error("unmasked frame from client")]
    UnmaskedFrameFromClient,
    /// A server frame with a mask, received by a client (R-MK-04).
    #[error("masked frame from server")]
    MaskedFrameFromServer,
    /// A 64-bit payload length with its most significant bit set (R-FR-03).
    #[error("payload length with the most significant bit set")]
    InvalidPayloadLength,
    /// A payload length not in its shortest encoding (R-FR-04, strict mode).
    #[error("payload length not minimally encoded")]
    NonMinimalLength,
    /// A continuation frame with no fragmented message in progress (R-FG-02).
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is unfinished (R-FG-03).
    #[error("new data frame while a fragmented message is unfinished")]
    ExpectedContinuation,
    /// Text (or a close reason) that is not valid UTF-8 (R-U8-02, R-SC-03).
    #[error("invalid utf-8 in text")]
    InvalidUtf8,
    /// A compressed message that does not inflate (PMD-27).
    #[error("invalid compressed data")]
    InvalidCompressedData,
    /// A Close frame with a 1-byte payload (R-CL-01).
    #[error("close frame payload of 1 byte")]
    InvalidCloseFrame,
    /// A Close frame carrying a code that may not be sent (R-SC-02).
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A frame over [`Config::max_frame_size`](crate::Config::max_frame_size),
    /// or, in a compressed message, over
    /// [`Config::max_compressed_frame_size`](crate::Config::max_compressed_frame_size)
    /// (R-LM-01).
    #[error(
        "frame of {size} bytes is over the limit of {limit} (Config::max_frame_size, or max_compressed_frame_size when compressed)"
    )]
    FrameTooBig {
        /// The declared frame payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message over [`Config::max_message_size`](crate::Config::max_message_size) (R-LM-01).
    #[error(
        "message of {size} bytes or more is over the limit of {limit} (Config::max_message_size)"
    )]
    MessageTooBig {
        /// The size the message has reached, at least.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message in more fragments than
    /// [`Config::max_fragments`](crate::Config::max_fragments) allows.
    #[error("message in more than {limit} fragments (Config::max_fragments)")]
    TooManyFragments {
        /// The configured limit.
        limit: usize,
    },
}

impl Error {
    /// The close code this violation fails the connection with.
    ///
    /// 1007 for invalid UTF-8 or compressed data, 1009 for broken size limits, and 1002 for
    /// every other protocol error (RFC 6455 §7.4.1).
    pub fn close_code(&self) -> CloseCode {
        match self {
            Error::InvalidUtf8 | Error::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            Error::FrameTooBig { .. }
            | Error::MessageTooBig { .. }
            | Error::TooManyFragments { .. } => CloseCode::MESSAGE_TOO_BIG,
            Error::ReservedBitsSet
            | Error::ReservedOpcode(_)
            | Error::FragmentedControlFrame
            | Error::ControlFrameTooLong(_)
            | Error::UnmaskedFrameFromClient
            | Error::MaskedFrameFromServer
            | Error::InvalidPayloadLength
            | Error::NonMinimalLength
            | Error::UnexpectedContinuation
            | Error::ExpectedContinuation
            | Error::InvalidCloseFrame
            | Error::InvalidCloseCode(_) => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason for the Close frame: fixed text, never peer bytes.
    pub(crate) fn close_reason(&self) -> &'static str {
        match self {
            Error::InvalidUtf8 => "invalid utf-8",
            Error::InvalidCompressedData => "invalid compressed data",
            Error::FrameTooBig { .. } => "frame too big",
            Error::MessageTooBig { .. } => "message too big",
            Error::TooManyFragments { .. } => "too many fragments",
            _ => "protocol error",
        }
    }
}

/// Misuse of the engine by its caller. It never fails the connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A message or ping after our Close was queued, or after the connection
    /// failed or closed (R-CL-03).
    #[error("the connection is closing or closed")]
    Closed,
    /// A ping or pong payload over 125 bytes (R-CF-01).
    #[error("control frame payload of {0} bytes is over 125")]
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (R-SC-01).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// A close reason over 123 bytes.
    #[error("close reason of {0} bytes is over 123")]
    CloseReasonTooLong(usize),
    /// Unmasked, pre-encoded frames given to a client connection, which
    /// must mask every frame it sends (R-MK-01).
    #[error("pre-encoded server frames cannot be sent by a client")]
    PreparedFrameFromClient,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_by_kind() {
        assert_eq!(Error::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
        assert_eq!(
            Error::MessageTooBig { size: 10, limit: 5 }.close_code(),
            CloseCode::MESSAGE_TOO_BIG
        );
        assert_eq!(
            Error::ReservedBitsSet.close_code(),
            CloseCode::PROTOCOL_ERROR
        );
    }

    #[test]
    fn close_reasons_fit_a_control_frame() {
        for e in [
            Error::InvalidUtf8,
            Error::FrameTooBig { size: 1, limit: 0 },
            Error::MessageTooBig { size: 1, limit: 0 },
            Error::TooManyFragments { limit: 0 },
            Error::ReservedBitsSet,
        ] {
            assert!(e.close_reason().len() <= crate::close::MAX_REASON_LEN);
        }
    }
}
