//! Input and events: `sockeye_conn_feed`, `sockeye_conn_feed_eof` and
//! `sockeye_conn_next_event` with its `sockeye_conn_event`.

use bytes::Bytes;
use sockeye_proto::{CloseCode, Event, Message};

use super::conn::{Pending, Phase, sockeye_conn};
use crate::boundary::{self, guard};
use crate::result::sockeye_result;

/// The opening handshake succeeded; `data`/`len` hold the subprotocol
/// agreed (not NUL-terminated; `len` 0 when none).
pub const SOCKEYE_CONN_EVENT_OPEN: u32 = 1;
/// A whole text message; its bytes are valid UTF-8 (checked), not
/// NUL-terminated.
pub const SOCKEYE_CONN_EVENT_TEXT: u32 = 2;
/// A whole binary message.
pub const SOCKEYE_CONN_EVENT_BINARY: u32 = 3;
/// A Ping with its payload. The Pong is already queued as output.
pub const SOCKEYE_CONN_EVENT_PING: u32 = 4;
/// A Pong with its payload.
pub const SOCKEYE_CONN_EVENT_PONG: u32 = 5;
/// The connection ended: the peer's Close (its code in `close_code`, 1005
/// when it had none, its reason in `data`/`len`; the reply is already
/// queued if this end had not sent a Close), or the peer's stream ended
/// without one (`close_code` 1006). No event follows.
pub const SOCKEYE_CONN_EVENT_CLOSE: u32 = 6;

/// An event taken by `sockeye_conn_next_event`.
///
/// `data` points to `len` bytes owned by the connection, valid until the
/// next call on that connection (any `sockeye_conn_*` function taking it);
/// copy them to keep them. `data` is never NULL, even when `len` is 0.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug)]
pub struct sockeye_conn_event {
    /// One of the `SOCKEYE_CONN_EVENT_*` values.
    pub r#type: u32,
    /// The payload, the close reason or the subprotocol.
    pub data: *const u8,
    /// How many bytes `data` holds.
    pub len: usize,
    /// For `SOCKEYE_CONN_EVENT_CLOSE`, the close code; 0 for other events.
    pub close_code: u16,
}

/// Feeds `len` bytes read from the socket. They are copied; the buffer is
/// the caller's again when the call returns.
///
/// During the opening handshake at most the config's
/// `max_handshake_size` bytes of head are kept. After the connection ended
/// (closed or failed), bytes are dropped, as RFC 6455 §7.1.7 says. Then
/// call `sockeye_conn_next_event` until it returns `SOCKEYE_ERR_AGAIN`,
/// and write out the output. `data` may be NULL when `len` is 0.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; when `len > 0`, `data` is NULL or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_feed(
    conn: *mut sockeye_conn,
    data: *const u8,
    len: usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        // SAFETY: `data` holds `len` readable bytes, by the contract.
        let data = match unsafe { boundary::bytes(data, len) } {
            Ok(data) => data,
            Err(code) => return Err(conn.fail_call(code, "data is NULL with len > 0")),
        };
        if data.is_empty() {
            return Ok(());
        }
        conn.clock.received = true;
        match &mut conn.phase {
            Phase::Open(engine) => engine.receive(data),
            Phase::ServerHandshake(_) | Phase::ClientHandshake(..) => conn.handshake_input(data),
            Phase::ServerRequest(..) => conn.held_input(data),
            Phase::Refused => {}
        }
        Ok(())
    })
}

/// Says that the peer closed its side of the socket (a read returned 0).
///
/// Bytes fed before still give their events. If the closing handshake had
/// not completed, the connection failed: `sockeye_conn_next_event` then
/// gives a `SOCKEYE_CONN_EVENT_CLOSE` with code 1006 (or
/// `SOCKEYE_ERR_HANDSHAKE` during the opening handshake).
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_feed_eof(conn: *mut sockeye_conn) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        match &mut conn.phase {
            Phase::Open(engine) => engine.receive_eof(),
            _ => conn.handshake_eof(),
        }
        Ok(())
    })
}

/// A server made to hold its request (`sockeye_conn_hold_request`) has
/// the whole, valid request: look at it (`sockeye_conn_request_path`,
/// `sockeye_conn_request_header`; `data`/`len` hold the path), then call
/// `sockeye_conn_accept` or `sockeye_conn_refuse`.
pub const SOCKEYE_CONN_EVENT_REQUEST: u32 = 7;

/// Takes the next event into `*out`.
///
/// Returns `SOCKEYE_OK` with an event; `SOCKEYE_ERR_AGAIN` when there is
/// none until more bytes are fed (or after the end). When the peer broke
/// the rules it returns, once, `SOCKEYE_ERR_PROTOCOL` (a protocol
/// violation, closing with 1002, or invalid UTF-8 or compressed data, 1007),
/// `SOCKEYE_ERR_TOO_LARGE` (over `max_message_size` or `max_frame_size`,
/// 1009) or `SOCKEYE_ERR_HANDSHAKE` (the opening handshake failed): the
/// Close frame or HTTP error that says so is already queued as output, and
/// `sockeye_conn_last_error` says what happened. `SOCKEYE_ERR_TIMEOUT`
/// comes once after `sockeye_conn_on_timeout` ended the connection.
///
/// The event's data belongs to the connection and stays valid until the
/// next call on it. Call this until it returns something other than
/// `SOCKEYE_OK` after each feed, then write out the output.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; `out` is NULL or points to writable memory for a
/// `sockeye_conn_event`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_next_event(
    conn: *mut sockeye_conn,
    out: *mut sockeye_conn_event,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        if out.is_null() {
            return Err(conn.fail_call(sockeye_result::SOCKEYE_ERR_NULL, "out is NULL"));
        }
        conn.event_data = Bytes::new();
        let event = conn.next()?;
        // SAFETY: `out` is not NULL and writable, by the contract.
        unsafe { boundary::write_out(out, event) }
    })
}

/// Never NULL, for events without data.
static EMPTY: [u8; 1] = [0];

impl sockeye_conn {
    /// The next event, or why there is none.
    fn next(&mut self) -> Result<sockeye_conn_event, sockeye_result> {
        if let Some(pending) = self.pending.take() {
            return match pending {
                Pending::Request => {
                    let path = self
                        .request
                        .as_ref()
                        .map(|request| Bytes::copy_from_slice(request.path.as_bytes()))
                        .unwrap_or_default();
                    Ok(self.event(SOCKEYE_CONN_EVENT_REQUEST, path, 0))
                }
                Pending::Open => {
                    let protocol = Bytes::copy_from_slice(self.protocol.as_bytes());
                    Ok(self.event(SOCKEYE_CONN_EVENT_OPEN, protocol, 0))
                }
                Pending::Error(code, message) => {
                    self.end_reported = true;
                    Err(self.fail_call(code, &message))
                }
            };
        }
        let Phase::Open(engine) = &mut self.phase else {
            return Err(sockeye_result::SOCKEYE_ERR_AGAIN);
        };
        match engine.next_event() {
            Ok(Some(Event::Message(message))) => {
                self.clock.messaged = true;
                Ok(match message {
                    Message::Text(text) => {
                        self.event(SOCKEYE_CONN_EVENT_TEXT, text.into_bytes(), 0)
                    }
                    Message::Binary(data) => self.event(SOCKEYE_CONN_EVENT_BINARY, data, 0),
                })
            }
            Ok(Some(Event::Ping(payload))) => Ok(self.event(SOCKEYE_CONN_EVENT_PING, payload, 0)),
            Ok(Some(Event::Pong(payload))) => Ok(self.event(SOCKEYE_CONN_EVENT_PONG, payload, 0)),
            Ok(Some(Event::Close(frame))) => {
                self.end_reported = true;
                let code = frame.code.as_u16();
                Ok(self.event(SOCKEYE_CONN_EVENT_CLOSE, frame.reason.into_bytes(), code))
            }
            Ok(None) if !self.end_reported && engine.state() == sockeye_proto::State::Failed => {
                // The stream ended before the closing handshake did (§7.1.5).
                self.end_reported = true;
                let code = CloseCode::ABNORMAL.as_u16();
                Ok(self.event(SOCKEYE_CONN_EVENT_CLOSE, Bytes::new(), code))
            }
            Ok(None) => Err(sockeye_result::SOCKEYE_ERR_AGAIN),
            Err(error) => {
                self.end_reported = true;
                let close = error.close_code();
                let code = if close == CloseCode::MESSAGE_TOO_BIG {
                    sockeye_result::SOCKEYE_ERR_TOO_LARGE
                } else {
                    sockeye_result::SOCKEYE_ERR_PROTOCOL
                };
                let message = format!("{error} (closing with {})", close.as_u16());
                Err(self.fail_call(code, &message))
            }
        }
    }

    /// An event whose data is `data`, kept until the next call.
    fn event(&mut self, kind: u32, data: Bytes, close_code: u16) -> sockeye_conn_event {
        self.event_data = data;
        let ptr = if self.event_data.is_empty() {
            EMPTY.as_ptr()
        } else {
            self.event_data.as_ptr()
        };
        sockeye_conn_event {
            r#type: kind,
            data: ptr,
            len: self.event_data.len(),
            close_code,
        }
    }
}
