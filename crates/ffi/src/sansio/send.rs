//! Commands: messages, Pings, Pongs and the Close, queued as output.

use std::ffi::c_char;

use bytes::Bytes;
use sockeye_proto::{CloseCode, Connection, UsageError};

use super::conn::{Phase, sockeye_conn};
use crate::boundary::{self, guard};
use crate::message_kind;
use crate::result::sockeye_result;

impl sockeye_conn {
    /// The open engine for a command, or why there is none: the handshake
    /// is not done (`SOCKEYE_ERR_STATE`) or failed (`SOCKEYE_ERR_CLOSED`).
    fn commandable(&mut self) -> Result<&mut Connection, sockeye_result> {
        match self.phase {
            Phase::Open(_) => {}
            Phase::Refused => {
                return Err(self.fail_call(
                    sockeye_result::SOCKEYE_ERR_CLOSED,
                    "the opening handshake failed: nothing can be sent",
                ));
            }
            Phase::ServerHandshake(_) | Phase::ClientHandshake(..) | Phase::ServerRequest(..) => {
                return Err(self.fail_call(
                    sockeye_result::SOCKEYE_ERR_STATE,
                    "the opening handshake is not done: wait for SOCKEYE_CONN_EVENT_OPEN",
                ));
            }
        }
        if self.timed_out {
            return Err(self.fail_call(
                sockeye_result::SOCKEYE_ERR_CLOSED,
                "the connection timed out",
            ));
        }
        match &mut self.phase {
            Phase::Open(engine) => Ok(engine),
            // Checked above.
            _ => Err(sockeye_result::SOCKEYE_ERR_STATE),
        }
    }

    /// Runs `command` on the open engine, turning misuse into a code.
    fn command(
        &mut self,
        command: impl FnOnce(&mut Connection) -> Result<(), UsageError>,
    ) -> Result<(), sockeye_result> {
        let engine = self.commandable()?;
        match command(engine) {
            Ok(()) => Ok(()),
            Err(UsageError::Closed) => Err(self.fail_call(
                sockeye_result::SOCKEYE_ERR_CLOSED,
                "the connection is closing or closed",
            )),
            Err(error) => {
                Err(self.fail_call(sockeye_result::SOCKEYE_ERR_INVALID, &error.to_string()))
            }
        }
    }
}

/// Queues a message: `kind` is `SOCKEYE_TEXT` (the bytes must be UTF-8) or
/// `SOCKEYE_BINARY`. The bytes are copied; `data` may be NULL when `len`
/// is 0 (an empty message). With permessage-deflate agreed, the message is
/// compressed.
///
/// Returns `SOCKEYE_ERR_INVALID` for text that is not UTF-8 or an unknown
/// kind, `SOCKEYE_ERR_STATE` before `SOCKEYE_CONN_EVENT_OPEN`,
/// `SOCKEYE_ERR_CLOSED` once a Close was sent or the connection ended, and
/// `SOCKEYE_ERR_BACKPRESSURE` (the message not queued) while more than the
/// config's `max_buffered` bytes wait to be written.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; when `len > 0`, `data` is NULL or points to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_send(
    conn: *mut sockeye_conn,
    kind: u32,
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
        let message = match message_kind::message(kind, data) {
            Ok(message) => message,
            Err((code, why)) => return Err(conn.fail_call(code, why)),
        };
        let limit = conn.max_buffered;
        if conn.engine().is_some() && conn.output_len() > limit {
            return Err(conn.fail_call(
                sockeye_result::SOCKEYE_ERR_BACKPRESSURE,
                "more than max_buffered bytes wait to be written: write the output first",
            ));
        }
        conn.command(|engine| engine.send(message))?;
        conn.clock.messaged = true;
        Ok(())
    })
}

/// The control payload at `data`, at most 125 bytes.
///
/// # Safety
/// As `boundary::bytes`.
unsafe fn control_payload(
    conn: &mut sockeye_conn,
    data: *const u8,
    len: usize,
) -> Result<Bytes, sockeye_result> {
    // SAFETY: passed on from the caller's contract.
    match unsafe { boundary::bytes(data, len) } {
        Ok(data) if data.len() <= 125 => Ok(Bytes::copy_from_slice(data)),
        Ok(_) => Err(conn.fail_call(
            sockeye_result::SOCKEYE_ERR_INVALID,
            "a control frame payload is at most 125 bytes",
        )),
        Err(code) => Err(conn.fail_call(code, "data is NULL with len > 0")),
    }
}

/// Queues a Ping with up to 125 bytes of payload (copied; `data` may be
/// NULL when `len` is 0). The peer answers with a Pong event.
///
/// Returns `SOCKEYE_ERR_INVALID` above 125 bytes, `SOCKEYE_ERR_STATE`
/// before `SOCKEYE_CONN_EVENT_OPEN`, `SOCKEYE_ERR_CLOSED` once a Close was
/// sent or the connection ended.
///
/// # Safety
/// As `sockeye_conn_send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_ping(
    conn: *mut sockeye_conn,
    data: *const u8,
    len: usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        // SAFETY: `data` holds `len` readable bytes, by the contract.
        let payload = unsafe { control_payload(conn, data, len)? };
        conn.command(|engine| engine.send_ping(payload))
    })
}

/// Queues an unsolicited Pong (a one-way heartbeat), as
/// `sockeye_conn_ping` does. Pings from the peer are answered without it.
///
/// # Safety
/// As `sockeye_conn_send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_pong(
    conn: *mut sockeye_conn,
    data: *const u8,
    len: usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        // SAFETY: `data` holds `len` readable bytes, by the contract.
        let payload = unsafe { control_payload(conn, data, len)? };
        conn.command(|engine| engine.send_pong(payload))
    })
}

/// Starts the closing handshake: queues a Close with `code` and `reason`
/// (NUL-terminated UTF-8 of at most 123 bytes, copied; NULL for none). The
/// state becomes `SOCKEYE_CONN_CLOSING`; messages from the peer still
/// arrive until its Close does (`SOCKEYE_CONN_EVENT_CLOSE`).
///
/// `code` is 1000 (normal), 1001 (going away) or another code that may be
/// sent (1000-1003, 1007-1014, 3000-4999); 0 sends a Close without a code,
/// which the peer sees as 1005 (then `reason` must be NULL or empty).
/// Returns `SOCKEYE_ERR_INVALID` for another code or a bad reason,
/// `SOCKEYE_ERR_STATE` before `SOCKEYE_CONN_EVENT_OPEN`, and
/// `SOCKEYE_ERR_CLOSED` if a Close was already sent or received.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; `reason` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_close(
    conn: *mut sockeye_conn,
    code: u16,
    reason: *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        let reason = if reason.is_null() {
            ""
        } else {
            // SAFETY: a NUL-terminated string, by the contract.
            match unsafe { boundary::string(reason) } {
                Ok(reason) => reason,
                Err(code) => return Err(conn.fail_call(code, "reason is not UTF-8")),
            }
        };
        let code = if code == 0 {
            if !reason.is_empty() {
                return Err(conn.fail_call(
                    sockeye_result::SOCKEYE_ERR_INVALID,
                    "a Close without a code cannot carry a reason",
                ));
            }
            CloseCode::NO_STATUS_RECEIVED
        } else if code == CloseCode::NO_STATUS_RECEIVED.as_u16() {
            return Err(conn.fail_call(
                sockeye_result::SOCKEYE_ERR_INVALID,
                "close code 1005 may not be sent: pass 0 for a Close without a code",
            ));
        } else {
            CloseCode::from(code)
        };
        conn.command(|engine| engine.close(code, reason))
    })
}
