//! A server that decides itself whether to accept a request: it holds the
//! request (`sockeye_conn_hold_request`), looks at it, then accepts or
//! refuses it with an HTTP answer of its choice (403 for an unwanted
//! `Origin`, 404 for an unknown path, 401 for missing credentials).

use std::ffi::c_char;

use bytes::{Bytes, BytesMut};
use http::header::{CONNECTION, CONTENT_TYPE};
use http::{HeaderValue, Response, StatusCode};
use sockeye_proto::handshake::write_response;

use super::conn::{Phase, sockeye_conn};
use crate::boundary::{self, guard};
use crate::result::sockeye_result;

/// Makes a server connection hold the client's request instead of
/// answering it by itself. Call it right after `sockeye_conn_new_server`,
/// before feeding anything.
///
/// Once a whole, valid request has arrived, `sockeye_conn_next_event`
/// gives `SOCKEYE_CONN_EVENT_REQUEST` (with the path as its data); look at
/// the request with `sockeye_conn_request_path` and
/// `sockeye_conn_request_header`, then call `sockeye_conn_accept` or
/// `sockeye_conn_refuse`. A request that breaks RFC 6455 is still answered
/// by itself with its HTTP error. While the request is held, at most the
/// config's `max_handshake_size` bytes that follow it are kept; more
/// refuses it with 400. The handshake timeout keeps running.
///
/// Returns `SOCKEYE_ERR_STATE` for a client, or once the request arrived.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_hold_request(conn: *mut sockeye_conn) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        if !matches!(conn.phase, Phase::ServerHandshake(_)) {
            return Err(conn.fail_call(
                sockeye_result::SOCKEYE_ERR_STATE,
                "only a server waiting for its request can hold it",
            ));
        }
        conn.hold_request = true;
        Ok(())
    })
}

/// The held request, or `SOCKEYE_ERR_STATE` when there is none.
fn held(conn: &mut sockeye_conn) -> Result<(), sockeye_result> {
    if matches!(conn.phase, Phase::ServerRequest(..)) {
        Ok(())
    } else {
        Err(conn.fail_call(
            sockeye_result::SOCKEYE_ERR_STATE,
            "no request is held: wait for SOCKEYE_CONN_EVENT_REQUEST",
        ))
    }
}

/// Accepts the held request: queues the 101 answer, with `subprotocol`
/// (one the client offered, NUL-terminated, copied) or, when it is NULL,
/// the first of the config's subprotocols the client offered, and
/// permessage-deflate as the config allows. `sockeye_conn_next_event` then
/// gives `SOCKEYE_CONN_EVENT_OPEN`.
///
/// Returns `SOCKEYE_ERR_INVALID` (the request still held) for a
/// subprotocol the client did not offer, `SOCKEYE_ERR_STATE` when no
/// request is held.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; `subprotocol` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_accept(
    conn: *mut sockeye_conn,
    subprotocol: *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        held(conn)?;
        let chosen = if subprotocol.is_null() {
            None
        } else {
            // SAFETY: a NUL-terminated string, by the contract.
            match unsafe { boundary::string(subprotocol) } {
                Ok(name) => Some(name.to_owned()),
                Err(code) => return Err(conn.fail_call(code, "subprotocol is not UTF-8")),
            }
        };
        let Phase::ServerRequest(handshake, rest) =
            std::mem::replace(&mut conn.phase, Phase::Refused)
        else {
            return Err(sockeye_result::SOCKEYE_ERR_STATE);
        };
        let protocol = match chosen {
            Some(name) if !handshake.protocols().contains(&name) => {
                conn.phase = Phase::ServerRequest(handshake, rest);
                return Err(conn.fail_call(
                    sockeye_result::SOCKEYE_ERR_INVALID,
                    "the client did not offer that subprotocol",
                ));
            }
            Some(name) => Some(name),
            None => conn.pick_protocol(&handshake),
        };
        conn.accept(&handshake, protocol.as_deref(), &rest, &[]);
        Ok(())
    })
}

/// Refuses the held request: queues an answer with `status` (400 to 599,
/// e.g. 403 or 404), `Connection: close` and `body` as a `text/plain`
/// body (NUL-terminated, copied; NULL for none). The state becomes
/// `SOCKEYE_CONN_FAILED`: write the output, then close the socket.
///
/// Returns `SOCKEYE_ERR_INVALID` for another status, `SOCKEYE_ERR_STATE`
/// when no request is held.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call; `body` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_refuse(
    conn: *mut sockeye_conn,
    status: u16,
    body: *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: NULL or a live connection used by this thread alone.
        let conn = unsafe { boundary::exclusive(conn)? };
        held(conn)?;
        let body = if body.is_null() {
            ""
        } else {
            // SAFETY: a NUL-terminated string, by the contract.
            match unsafe { boundary::string(body) } {
                Ok(body) => body,
                Err(code) => return Err(conn.fail_call(code, "body is not UTF-8")),
            }
        };
        let status = match StatusCode::from_u16(status) {
            Ok(status) if status.is_client_error() || status.is_server_error() => status,
            _ => {
                return Err(conn.fail_call(
                    sockeye_result::SOCKEYE_ERR_INVALID,
                    "a refusal's status is 400 to 599",
                ));
            }
        };
        let mut response = Response::new(Bytes::copy_from_slice(body.as_bytes()));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        if !body.is_empty() {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
        let mut answer = BytesMut::new();
        write_response(&response, &mut answer);
        conn.pre.extend_from_slice(&answer);
        conn.phase = Phase::Refused;
        // A REQUEST event not taken yet is over: nothing follows a refusal.
        conn.pending = None;
        conn.end_reported = true;
        Ok(())
    })
}
