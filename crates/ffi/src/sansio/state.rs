//! Getters: the connection's state, whether to close the socket, and what
//! the opening handshake settled (the request's path and headers, the
//! subprotocol).

use std::ffi::c_char;

use super::conn::{SOCKEYE_CONN_FAILED, sockeye_conn};
use crate::boundary::{self, guard, guard_value};
use crate::result::sockeye_result;

/// The connection's state: `SOCKEYE_CONN_HANDSHAKE`, `_OPEN`, `_CLOSING`,
/// `_CLOSED` or `_FAILED`. `SOCKEYE_CONN_FAILED` for NULL.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread changes during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_state(conn: *const sockeye_conn) -> u32 {
    guard_value(SOCKEYE_CONN_FAILED, || {
        // SAFETY: NULL or a live connection, by the contract.
        unsafe { conn.as_ref() }.map_or(SOCKEYE_CONN_FAILED, sockeye_conn::state)
    })
}

/// Whether to close the socket now: the connection is closed or failed and
/// all its output was taken (or the close timeout ran out with output still
/// unwritten). `false` for NULL.
///
/// A server closes the socket at once. A client should first wait for the
/// server to close the TCP connection (a read returning 0) for a while of
/// its choosing (a few seconds; no deadline of this connection covers
/// that wait, so use a timer of your own), and close it only then (RFC 6455
/// §7.1.1), so that the server, not the client, holds the `TIME_WAIT`
/// state.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread changes during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_should_close_transport(conn: *const sockeye_conn) -> bool {
    guard_value(false, || {
        // SAFETY: NULL or a live connection, by the contract.
        unsafe { conn.as_ref() }.is_some_and(sockeye_conn::should_close_transport)
    })
}

/// Writes to `*path` the request target the client asked for, such as
/// `"/chat?room=1"`: a NUL-terminated string owned by the connection,
/// valid until it is freed. For a server that has received a whole, valid
/// request (from `SOCKEYE_CONN_EVENT_REQUEST` or `SOCKEYE_CONN_EVENT_OPEN`
/// on, also after a refusal); `SOCKEYE_ERR_STATE` otherwise.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread changes during the
/// call; `path` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_request_path(
    conn: *const sockeye_conn,
    path: *mut *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection, by the contract.
        let conn = unsafe { boundary::shared(conn)? };
        if path.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let request = conn
            .request
            .as_ref()
            .ok_or(sockeye_result::SOCKEYE_ERR_STATE)?;
        // SAFETY: not NULL and writable, by the contract.
        unsafe { boundary::write_out(path, request.path.as_ptr()) }
    })
}

/// Writes to `*value` the value of the request's first header field named
/// `name` (compared without regard to case, e.g. `"Origin"`): a
/// NUL-terminated string owned by the connection, valid until it is freed.
/// `SOCKEYE_ERR_NOT_FOUND` when the request has no such field;
/// `SOCKEYE_ERR_STATE` unless this is a server that has received a whole,
/// valid request (held, accepted or refused).
///
/// # Safety
/// `conn` is NULL or a live connection no other thread changes during the
/// call; `name` is NULL or a NUL-terminated string; `value` is NULL or
/// points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_request_header(
    conn: *const sockeye_conn,
    name: *const c_char,
    value: *mut *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection, by the contract.
        let conn = unsafe { boundary::shared(conn)? };
        // SAFETY: NULL or a NUL-terminated string, by the contract.
        let name = unsafe { boundary::string(name)? };
        if value.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let request = conn
            .request
            .as_ref()
            .ok_or(sockeye_result::SOCKEYE_ERR_STATE)?;
        let found = request
            .headers
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .ok_or(sockeye_result::SOCKEYE_ERR_NOT_FOUND)?;
        // SAFETY: not NULL and writable, by the contract.
        unsafe { boundary::write_out(value, found.1.as_ptr()) }
    })
}

/// Writes to `*protocol` the subprotocol agreed in the opening handshake,
/// `""` when none: a NUL-terminated string owned by the connection, valid
/// until it is freed. `SOCKEYE_ERR_STATE` before the handshake succeeded.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread changes during the
/// call; `protocol` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_subprotocol(
    conn: *const sockeye_conn,
    protocol: *mut *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection, by the contract.
        let conn = unsafe { boundary::shared(conn)? };
        if protocol.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        if conn.engine().is_none() {
            return Err(sockeye_result::SOCKEYE_ERR_STATE);
        }
        // SAFETY: not NULL and writable, by the contract.
        unsafe { boundary::write_out(protocol, conn.protocol.as_ptr()) }
    })
}
