//! [`sockeye_conn`], the sans-I/O connection handle, and the state every
//! other file of the layer reads and changes: the phase (handshake or
//! open), the bytes waiting to be written, the event being handed out, the
//! last error and the timers.

use std::ffi::{CStr, CString};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use sockeye_proto::handshake::{ClientHandshake, ServerHandshake};
use sockeye_proto::{Config, Connection, Role, State};

use super::clock::{Clock, Timeouts, millis};
use crate::config::sockeye_config;
use crate::result::sockeye_result;

/// The opening handshake is under way: no message may be sent yet.
pub const SOCKEYE_CONN_HANDSHAKE: u32 = 0;
/// Open: messages go both ways.
pub const SOCKEYE_CONN_OPEN: u32 = 1;
/// This end sent a Close and waits for the peer's; messages may still
/// arrive, none may be sent.
pub const SOCKEYE_CONN_CLOSING: u32 = 2;
/// Both Close frames were exchanged: write out what is left, then close
/// the socket.
pub const SOCKEYE_CONN_CLOSED: u32 = 3;
/// The connection failed: a handshake refused or failed, a protocol error,
/// a timeout, or the peer's stream ended without a closing handshake.
pub const SOCKEYE_CONN_FAILED: u32 = 4;

/// One WebSocket connection, server or client, that does no I/O: the
/// caller feeds it the bytes it reads, takes events from it, queues
/// messages on it and writes out the bytes it produces.
///
/// Made by `sockeye_conn_new_server`, `sockeye_conn_new_client` or
/// `sockeye_conn_new_client_url`; freed by `sockeye_conn_free`. Opaque.
/// A connection is used by one thread at a time; different connections may
/// be used on different threads at once.
#[allow(non_camel_case_types)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about how the connection ends and is answered"
)]
#[derive(Debug)]
pub struct sockeye_conn {
    pub(super) role: Role,
    /// The engine's limits, shared with the connection once open.
    pub(super) proto: Arc<Config>,
    /// Subprotocols: a server picks the first of these the client offers.
    pub(super) subprotocols: Vec<String>,
    /// Queued output above which a send is refused.
    pub(super) max_buffered: usize,
    pub(super) timeouts: Timeouts,
    pub(super) phase: Phase,
    /// Handshake bytes to write (the request, the 101 or the refusal),
    /// before anything the engine queues.
    pub(super) pre: BytesMut,
    /// What a server learnt from the request, for the getters.
    pub(super) request: Option<Box<RequestInfo>>,
    /// The subprotocol agreed, NUL-terminated; empty when none.
    pub(super) protocol: CString,
    /// What the next `sockeye_conn_next_event` reports before asking the
    /// engine.
    pub(super) pending: Option<Pending>,
    /// The payload of the event last handed out, kept alive until the next
    /// call.
    pub(super) event_data: Bytes,
    /// Whether the end of the connection was reported (a Close event or an
    /// error), so it is reported once.
    pub(super) end_reported: bool,
    /// Whether a server hands a valid request to the caller instead of
    /// answering it by itself.
    pub(super) hold_request: bool,
    /// A timeout ended the connection: it counts as failed.
    pub(super) timed_out: bool,
    /// The close timer ran out: the socket is to be closed even with bytes
    /// still unwritten.
    pub(super) gave_up: bool,
    pub(super) clock: Clock,
    /// The message of the last failing call, for `sockeye_conn_last_error`.
    pub(super) last_error: CString,
}

/// Where the connection is.
#[derive(Debug)]
pub(super) enum Phase {
    /// A server waiting for the whole request, buffered here (at most
    /// `max_handshake_size` bytes).
    ServerHandshake(BytesMut),
    /// A client waiting for the whole response, buffered here.
    ClientHandshake(Box<ClientHandshake>, BytesMut),
    /// A server holding a whole, valid request for the caller to accept
    /// or refuse (`sockeye_conn_hold_request`), with the bytes that came
    /// after it (at most `max_handshake_size`).
    ServerRequest(Box<ServerHandshake>, BytesMut),
    /// The handshake succeeded.
    Open(Box<Connection>),
    /// The handshake failed or timed out; nothing more happens.
    Refused,
}

/// The request a server accepted, kept for the getters.
#[derive(Debug)]
pub(super) struct RequestInfo {
    /// The request target, path and query.
    pub(super) path: CString,
    /// Every header field: lower-case name, value.
    pub(super) headers: Vec<(String, CString)>,
}

/// An event or failure decided outside the engine.
#[derive(Debug)]
pub(super) enum Pending {
    /// A held request is whole and waits to be accepted or refused.
    Request,
    /// The handshake succeeded.
    Open,
    /// The call ends with this code and message, once.
    Error(sockeye_result, String),
}

impl sockeye_conn {
    /// A connection in its handshake phase with `config`'s settings.
    pub(super) fn new(role: Role, config: Option<&sockeye_config>, phase: Phase) -> sockeye_conn {
        let config = sockeye_config::or_default(config);
        let ws = &config.websocket;
        let timeouts = Timeouts {
            handshake: millis(config.handshake_timeout),
            close: millis(ws.close_timeout),
            keepalive_interval: ws.keepalive_interval.map(millis),
            keepalive_timeout: millis(ws.keepalive_timeout),
            idle: ws.idle_timeout.map(millis),
        };
        sockeye_conn {
            role,
            proto: Arc::new(ws.proto.clone()),
            subprotocols: config.subprotocols,
            max_buffered: config.max_buffered,
            timeouts,
            phase,
            pre: BytesMut::new(),
            request: None,
            protocol: CString::default(),
            pending: None,
            event_data: Bytes::new(),
            end_reported: false,
            hold_request: false,
            timed_out: false,
            gave_up: false,
            clock: Clock::default(),
            last_error: CString::default(),
        }
    }

    /// Records `message` as the last error and returns `code`, for
    /// `return Err(conn.fail_call(..))`.
    pub(super) fn fail_call(&mut self, code: sockeye_result, message: &str) -> sockeye_result {
        self.last_error = c_string(message);
        code
    }

    /// The last error message.
    pub(super) fn last_error(&self) -> &CStr {
        &self.last_error
    }

    /// The engine, once the handshake succeeded.
    pub(super) fn engine(&self) -> Option<&Connection> {
        match &self.phase {
            Phase::Open(conn) => Some(conn),
            _ => None,
        }
    }

    /// One of the `SOCKEYE_CONN_*` states.
    pub(super) fn state(&self) -> u32 {
        if self.timed_out || self.gave_up {
            return SOCKEYE_CONN_FAILED;
        }
        match &self.phase {
            Phase::ServerHandshake(_) | Phase::ClientHandshake(..) | Phase::ServerRequest(..) => {
                SOCKEYE_CONN_HANDSHAKE
            }
            Phase::Refused => SOCKEYE_CONN_FAILED,
            Phase::Open(conn) => match conn.state() {
                State::Open => SOCKEYE_CONN_OPEN,
                State::CloseSent => SOCKEYE_CONN_CLOSING,
                State::Closed => SOCKEYE_CONN_CLOSED,
                State::Failed => SOCKEYE_CONN_FAILED,
            },
        }
    }

    /// Bytes waiting to be written.
    pub(super) fn output_len(&self) -> usize {
        self.pre.len() + self.engine().map_or(0, Connection::output_len)
    }

    /// Whether the socket should be closed now.
    pub(super) fn should_close_transport(&self) -> bool {
        if self.gave_up {
            return true;
        }
        let state = self.state();
        (state == SOCKEYE_CONN_CLOSED || state == SOCKEYE_CONN_FAILED) && self.output_len() == 0
    }

    /// Whether the connection is on its way out: the close timer runs.
    pub(super) fn ending(&self) -> bool {
        match self.state() {
            SOCKEYE_CONN_CLOSING => true,
            SOCKEYE_CONN_CLOSED | SOCKEYE_CONN_FAILED => self.output_len() > 0,
            _ => false,
        }
    }

    /// The first contiguous bytes to write, maybe empty.
    pub(super) fn output_chunk(&mut self) -> &[u8] {
        if !self.pre.is_empty() {
            return &self.pre;
        }
        match &mut self.phase {
            Phase::Open(conn) => {
                let out: &sockeye_proto::Output = conn.output();
                out.chunk()
            }
            _ => &[],
        }
    }

    /// Forgets the first `n` bytes to write; `n` is at most `output_len`.
    pub(super) fn consume(&mut self, mut n: usize) {
        let from_pre = n.min(self.pre.len());
        self.pre.advance(from_pre);
        if self.pre.is_empty() {
            // Hold no buffer once the handshake bytes are out.
            self.pre = BytesMut::new();
        }
        n -= from_pre;
        if n > 0
            && let Phase::Open(conn) = &mut self.phase
        {
            conn.output().advance(n);
        }
        if let Phase::Open(conn) = &mut self.phase {
            // A Pong held back while the queue was long joins it once the
            // queue is short again.
            let _ = conn.output();
        }
    }
}

/// `text` as a C string, any NUL in it cut off there.
pub(super) fn c_string(text: &str) -> CString {
    let end = text.find('\0').unwrap_or(text.len());
    CString::new(&text[..end]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_strings_stop_at_a_nul() {
        assert_eq!(c_string("ab\0cd").as_bytes(), b"ab");
        assert_eq!(c_string("").as_bytes(), b"");
    }

    #[test]
    fn a_new_connection_is_in_its_handshake_with_nothing_to_write() {
        let conn = sockeye_conn::new(Role::Server, None, Phase::ServerHandshake(BytesMut::new()));
        assert_eq!(conn.state(), SOCKEYE_CONN_HANDSHAKE);
        assert_eq!(conn.output_len(), 0);
        assert!(!conn.should_close_transport());
        assert!(!conn.ending());
    }
}
