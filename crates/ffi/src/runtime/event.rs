//! [`sockeye_event`], what [`sockeye_event_poll`](super::sockeye_event_poll)
//! hands out, its `SOCKEYE_EVENT_*` types, and the owned form the runtime
//! queues.

use bytes::Bytes;

use crate::result::sockeye_result;

/// A connection opened: accepted by a listener (`listener` says which) or
/// connected by `sockeye_ctx_connect` (`listener` is 0). `data`/`len` hold
/// the subprotocol agreed in the opening handshake, NUL-terminated, or
/// `len` 0 when none was.
pub const SOCKEYE_EVENT_OPEN: u32 = 1;
/// A text message arrived: `data`/`len` is its payload, valid UTF-8 (the
/// library checks), not NUL-terminated.
pub const SOCKEYE_EVENT_TEXT: u32 = 2;
/// A binary message arrived: `data`/`len` is its payload.
pub const SOCKEYE_EVENT_BINARY: u32 = 3;
/// The connection ended: `close_code` is the peer's close code (1005 when
/// its Close frame had none, 1006 when the connection was cut without a
/// closing handshake) and `data`/`len` its reason, NUL-terminated. The id
/// is forgotten: later calls with it give `SOCKEYE_ERR_NOT_FOUND`.
pub const SOCKEYE_EVENT_CLOSE: u32 = 4;
/// The connection failed: `error` is a `sockeye_result` saying how
/// (`SOCKEYE_ERR_IO` for a refused connect, `SOCKEYE_ERR_PROTOCOL` or
/// `SOCKEYE_ERR_TOO_LARGE` for a peer that broke the rules, then
/// `close_code` is the code sent to it, `SOCKEYE_ERR_HANDSHAKE`,
/// `SOCKEYE_ERR_TLS`, `SOCKEYE_ERR_TIMEOUT`), and `data`/`len` a message
/// for people, NUL-terminated. The id is forgotten: later calls with it
/// give `SOCKEYE_ERR_NOT_FOUND`.
pub const SOCKEYE_EVENT_ERROR: u32 = 5;

/// One event from `sockeye_event_poll`.
///
/// `data` points into memory the context owns: it stays valid until the
/// next `sockeye_event_poll` on the same context (or `sockeye_ctx_free`),
/// so copy what you keep. It is never NULL; with `len` 0 it points to an
/// empty string.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct sockeye_event {
    /// One of the `SOCKEYE_EVENT_*` constants.
    pub r#type: u32,
    /// The connection's id.
    pub conn: u64,
    /// The listener that accepted the connection; 0 for connections made
    /// with `sockeye_ctx_connect`.
    pub listener: u64,
    /// The payload, reason, subprotocol or message (see the event type).
    pub data: *const u8,
    /// Bytes at `data`, not counting the NUL that some types add.
    pub len: usize,
    /// For `SOCKEYE_EVENT_CLOSE` and `SOCKEYE_EVENT_ERROR`: the close code,
    /// or 0 when none applies; 0 for the other types.
    pub close_code: u16,
    /// For `SOCKEYE_EVENT_ERROR`: a `sockeye_result`; 0 (`SOCKEYE_OK`) for
    /// the other types.
    pub error: i32,
}

/// What an event costs in the queue beyond its payload, for the queue's
/// bound: the struct and its share of the queue's memory.
pub(crate) const EVENT_OVERHEAD: usize = 64;

/// An event as the runtime queues it: it owns its payload.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) kind: u32,
    pub(crate) conn: u64,
    pub(crate) listener: u64,
    /// For the types whose data is NUL-terminated, the NUL is the last
    /// byte here and not counted in `len`.
    pub(crate) data: Bytes,
    pub(crate) len: usize,
    pub(crate) close_code: u16,
    pub(crate) error: sockeye_result,
    /// Its place in the queue, from 1, given when it is pushed.
    pub(crate) seq: u64,
}

impl Event {
    /// A message event: the payload as it came, shared, not copied.
    pub(crate) fn message(conn: u64, listener: u64, text: bool, payload: Bytes) -> Event {
        Event {
            kind: if text {
                SOCKEYE_EVENT_TEXT
            } else {
                SOCKEYE_EVENT_BINARY
            },
            conn,
            listener,
            len: payload.len(),
            data: payload,
            close_code: 0,
            error: sockeye_result::SOCKEYE_OK,
            seq: 0,
        }
    }

    /// An event whose data is a string, stored NUL-terminated for C.
    pub(crate) fn with_text(
        kind: u32,
        conn: u64,
        listener: u64,
        text: &str,
        close_code: u16,
        error: sockeye_result,
    ) -> Event {
        let mut data = Vec::with_capacity(text.len() + 1);
        data.extend_from_slice(text.as_bytes());
        data.push(0);
        Event {
            kind,
            conn,
            listener,
            len: text.len(),
            data: Bytes::from(data),
            close_code,
            error,
            seq: 0,
        }
    }

    /// The bytes this event holds in the queue, for its bound.
    pub(crate) fn cost(&self) -> usize {
        self.data.len() + EVENT_OVERHEAD
    }

    /// Whether this is the connection's last event.
    pub(crate) fn is_final(&self) -> bool {
        matches!(self.kind, SOCKEYE_EVENT_CLOSE | SOCKEYE_EVENT_ERROR)
    }

    /// The C view, borrowing this event's data.
    pub(crate) fn view(&self) -> sockeye_event {
        const EMPTY: &[u8] = b"\0";
        let data = if self.data.is_empty() {
            EMPTY.as_ptr()
        } else {
            self.data.as_ptr()
        };
        sockeye_event {
            r#type: self.kind,
            conn: self.conn,
            listener: self.listener,
            data,
            len: self.len,
            close_code: self.close_code,
            error: self.error as i32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_data_is_nul_terminated_and_messages_are_not_copied() {
        let close = Event::with_text(
            SOCKEYE_EVENT_CLOSE,
            7,
            0,
            "bye",
            1000,
            sockeye_result::SOCKEYE_OK,
        );
        let view = close.view();
        assert_eq!(view.len, 3);
        assert!(close.is_final());
        // SAFETY: `view.data` points at `close.data`, 4 bytes long.
        let bytes = unsafe { std::slice::from_raw_parts(view.data, 4) };
        assert_eq!(bytes, b"bye\0");

        let payload = Bytes::from_static(b"hi");
        let message = Event::message(7, 3, true, payload.clone());
        assert_eq!(message.view().data, payload.as_ptr());
        assert_eq!(message.view().r#type, SOCKEYE_EVENT_TEXT);
        assert!(!message.is_final());
        assert_eq!(message.cost(), 2 + EVENT_OVERHEAD);

        let empty = Event::message(7, 3, false, Bytes::new());
        assert!(!empty.view().data.is_null());
    }
}
