//! [`sockeye_result`], the code every fallible export returns, and its names.

use std::ffi::c_char;

/// What a call did. `SOCKEYE_OK` is 0; every other value is a reason it did
/// not. Codes are stable: new ones are added at the end, none is reused.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum sockeye_result {
    /// The call did what it says.
    SOCKEYE_OK = 0,
    /// A pointer argument was NULL.
    SOCKEYE_ERR_NULL = 1,
    /// An argument is out of its range: an unknown kind, a close code that
    /// may not be sent, text that is not UTF-8, an address or URL that does
    /// not parse.
    SOCKEYE_ERR_INVALID = 2,
    /// The handle is not a live one: freed already, or not made by this
    /// library. Detected when a handle is freed twice.
    SOCKEYE_ERR_BAD_HANDLE = 3,
    /// The library panicked; the handle involved must not be used again
    /// except to free it.
    SOCKEYE_ERR_PANIC = 4,
    /// Nothing to take now: no event, no output, or the wait timed out.
    /// Not a failure; try again after more input or time.
    SOCKEYE_ERR_AGAIN = 5,
    /// The connection is closing or closed: nothing more can be sent.
    SOCKEYE_ERR_CLOSED = 6,
    /// No connection or listener has that id (it may have ended and been
    /// forgotten).
    SOCKEYE_ERR_NOT_FOUND = 7,
    /// The peer broke RFC 6455; the Close frame that says so is queued.
    SOCKEYE_ERR_PROTOCOL = 8,
    /// The opening handshake failed or was refused.
    SOCKEYE_ERR_HANDSHAKE = 9,
    /// A message or frame is larger than the configured limit.
    SOCKEYE_ERR_TOO_LARGE = 10,
    /// The caller's buffer cannot hold what the call has to write.
    SOCKEYE_ERR_BUFFER_TOO_SMALL = 11,
    /// The connection's send buffer is over its limit: the message was not
    /// queued. Wait until the buffered amount falls.
    SOCKEYE_ERR_BACKPRESSURE = 12,
    /// A socket operation failed (bind, connect, read, write).
    SOCKEYE_ERR_IO = 13,
    /// TLS failed: a certificate, a key, or the TLS handshake.
    SOCKEYE_ERR_TLS = 14,
    /// A time limit passed (connect, handshake, close).
    SOCKEYE_ERR_TIMEOUT = 15,
    /// The call is not allowed in the handle's current state, such as
    /// sending before the opening handshake is done.
    SOCKEYE_ERR_STATE = 16,
}

impl sockeye_result {
    /// The code's name and meaning, as a static NUL-terminated string.
    pub(crate) fn describe(self) -> &'static std::ffi::CStr {
        match self {
            Self::SOCKEYE_OK => c"SOCKEYE_OK: success",
            Self::SOCKEYE_ERR_NULL => c"SOCKEYE_ERR_NULL: a pointer argument was NULL",
            Self::SOCKEYE_ERR_INVALID => c"SOCKEYE_ERR_INVALID: an argument is out of range",
            Self::SOCKEYE_ERR_BAD_HANDLE => {
                c"SOCKEYE_ERR_BAD_HANDLE: the handle was freed already or was not made by sockeye"
            }
            Self::SOCKEYE_ERR_PANIC => c"SOCKEYE_ERR_PANIC: internal error (a panic was caught)",
            Self::SOCKEYE_ERR_AGAIN => c"SOCKEYE_ERR_AGAIN: nothing available yet",
            Self::SOCKEYE_ERR_CLOSED => c"SOCKEYE_ERR_CLOSED: the connection is closing or closed",
            Self::SOCKEYE_ERR_NOT_FOUND => {
                c"SOCKEYE_ERR_NOT_FOUND: no connection or listener has that id"
            }
            Self::SOCKEYE_ERR_PROTOCOL => {
                c"SOCKEYE_ERR_PROTOCOL: the peer broke the WebSocket protocol"
            }
            Self::SOCKEYE_ERR_HANDSHAKE => c"SOCKEYE_ERR_HANDSHAKE: the opening handshake failed",
            Self::SOCKEYE_ERR_TOO_LARGE => {
                c"SOCKEYE_ERR_TOO_LARGE: larger than the configured limit"
            }
            Self::SOCKEYE_ERR_BUFFER_TOO_SMALL => {
                c"SOCKEYE_ERR_BUFFER_TOO_SMALL: the buffer is too small"
            }
            Self::SOCKEYE_ERR_BACKPRESSURE => {
                c"SOCKEYE_ERR_BACKPRESSURE: the send buffer is full; the message was not queued"
            }
            Self::SOCKEYE_ERR_IO => c"SOCKEYE_ERR_IO: a socket operation failed",
            Self::SOCKEYE_ERR_TLS => c"SOCKEYE_ERR_TLS: TLS failed",
            Self::SOCKEYE_ERR_TIMEOUT => c"SOCKEYE_ERR_TIMEOUT: a time limit passed",
            Self::SOCKEYE_ERR_STATE => c"SOCKEYE_ERR_STATE: not allowed in the current state",
        }
    }
}

/// The name of a result code and what it means, e.g.
/// `"SOCKEYE_ERR_NULL: a pointer argument was NULL"`.
///
/// Takes the code as an `int` so that any value is safe to pass: a value
/// that is no code gives `"unknown sockeye_result"`. The string is static:
/// never free it.
#[unsafe(no_mangle)]
pub extern "C" fn sockeye_result_str(code: i32) -> *const c_char {
    from_code(code)
        .map_or(c"unknown sockeye_result", sockeye_result::describe)
        .as_ptr()
}

/// The result with this number, if there is one.
pub(crate) fn from_code(code: i32) -> Option<sockeye_result> {
    #[allow(clippy::enum_glob_use)]
    use sockeye_result::*;
    const ALL: [sockeye_result; 17] = [
        SOCKEYE_OK,
        SOCKEYE_ERR_NULL,
        SOCKEYE_ERR_INVALID,
        SOCKEYE_ERR_BAD_HANDLE,
        SOCKEYE_ERR_PANIC,
        SOCKEYE_ERR_AGAIN,
        SOCKEYE_ERR_CLOSED,
        SOCKEYE_ERR_NOT_FOUND,
        SOCKEYE_ERR_PROTOCOL,
        SOCKEYE_ERR_HANDSHAKE,
        SOCKEYE_ERR_TOO_LARGE,
        SOCKEYE_ERR_BUFFER_TOO_SMALL,
        SOCKEYE_ERR_BACKPRESSURE,
        SOCKEYE_ERR_IO,
        SOCKEYE_ERR_TLS,
        SOCKEYE_ERR_TIMEOUT,
        SOCKEYE_ERR_STATE,
    ];
    usize::try_from(code).ok().and_then(|i| ALL.get(i).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_names_itself_and_unknown_codes_are_safe() {
        for code in 0..17 {
            let result = from_code(code).expect("a code");
            assert_eq!(result as i32, code);
            let name = result.describe().to_str().unwrap();
            assert!(name.starts_with("SOCKEYE_"), "{name}");
        }
        assert_eq!(from_code(17), None);
        assert_eq!(from_code(-1), None);
        assert!(!sockeye_result_str(99).is_null());
    }
}
