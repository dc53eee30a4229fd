//! Close status codes (RFC 6455 §7.4): the `u16` newtype and its registry
//! names. The most basic type of the crate: errors and Close frames both
//! build on it.

use std::fmt;

/// A WebSocket close status code (RFC 6455 §7.4), a `u16` newtype.
///
/// The constants carry the names of the IANA registry. Any `u16` can be held,
/// so codes read from the wire can be reported as they were; [`is_sendable`]
/// tells which may appear in a Close frame.
///
/// [`is_sendable`]: CloseCode::is_sendable
///
/// # Examples
///
/// ```
/// use sockeye_proto::CloseCode;
///
/// assert_eq!(u16::from(CloseCode::NORMAL), 1000);
/// assert!(CloseCode::from(4000).is_sendable());
/// assert!(!CloseCode::NO_STATUS_RECEIVED.is_sendable());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: an endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: reserved pseudo-code for "the Close frame had no status code"; never sent.
    pub const NO_STATUS_RECEIVED: CloseCode = CloseCode(1005);
    /// 1006: reserved pseudo-code for "no Close frame was received"; never sent.
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: data inconsistent with the message type, such as invalid UTF-8 in text.
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: a message is too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the server did not negotiate an extension the client requires (client only).
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the endpoint met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (temporary overload).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: a gateway or proxy got an invalid answer upstream.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: reserved pseudo-code for a TLS handshake failure; never sent.
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may be put in a Close frame, by us or by the peer.
    ///
    /// True for 1000–1003, 1007–1014 and 3000–4999 (R-SC-01, R-SC-02). 1004,
    /// 1005, 1006, 1015, the other 1xxx codes, codes below 1000 and codes from
    /// 5000 up are reserved or unassigned and fail the connection when received.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// Whether this is one of the pseudo-codes an endpoint reports locally but
    /// must never send: 1005, 1006 and 1015 (RFC 6455 §7.4.1).
    pub const fn is_reserved(self) -> bool {
        matches!(self.0, 1005 | 1006 | 1015)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Debug for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CloseCode({})", self.0)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_sc_02_sendable_codes() {
        for code in 0..=u16::MAX {
            let ok = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            assert_eq!(CloseCode::from(code).is_sendable(), ok, "code {code}");
        }
    }
}
