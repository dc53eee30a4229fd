//! Sending and closing by id, from any thread: [`sockeye_send`],
//! [`sockeye_buffered_amount`], [`sockeye_close`].

use std::ffi::c_char;

use sockeye::CloseCode;

use super::context::sockeye_ctx;
use super::failure::fail;
use crate::boundary::{self, guard};
use crate::message_kind;
use crate::result::sockeye_result;

/// The longest close reason, in bytes: a Close frame's payload is at most
/// 125 bytes, two of them the code (RFC 6455 §5.5).
const MAX_REASON: usize = 123;

/// Queues a message on connection `conn`, from any thread, without
/// blocking; it leaves with the connection's next write.
///
/// `kind` is `SOCKEYE_TEXT` (the bytes must be UTF-8, else
/// `SOCKEYE_ERR_INVALID`) or `SOCKEYE_BINARY`; any other value gives
/// `SOCKEYE_ERR_INVALID`. The `len` bytes at `data` are copied: the buffer
/// is yours again when the call returns (`data` may be NULL when `len` is
/// 0). Needs no headroom or alignment.
///
/// When `buffered_amount` is not NULL, the connection's buffered amount
/// (bytes queued and not yet written to the socket, this message
/// included) is written to it.
///
/// Errors: `SOCKEYE_ERR_BACKPRESSURE` when the buffered amount is already
/// at or over the config's `max_buffered`: the message is not queued (never
/// dropped silently); wait until the amount falls. `SOCKEYE_ERR_STATE`
/// before the connection's OPEN event, `SOCKEYE_ERR_CLOSED` once
/// `sockeye_close` was called or the connection ended,
/// `SOCKEYE_ERR_NOT_FOUND` for an id that is unknown or forgotten (after
/// its CLOSE or ERROR event was polled).
///
/// # Safety
/// `ctx` is NULL or a live context; `data` is NULL or points to `len`
/// readable bytes; `buffered_amount` is NULL or points to a writable
/// `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_send(
    ctx: *mut sockeye_ctx,
    conn: u64,
    kind: u32,
    data: *const u8,
    len: usize,
    buffered_amount: *mut usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        ctx.shared.report((|| {
            // SAFETY: `data` is NULL or points to `len` readable bytes.
            let payload = unsafe { boundary::bytes(data, len)? };
            let message =
                message_kind::message(kind, payload).map_err(|(code, why)| fail(code, why))?;
            let amount = ctx.shared.conns.get(conn)?.send(message)?;
            if !buffered_amount.is_null() {
                // SAFETY: `buffered_amount` is not NULL and writable.
                unsafe { boundary::write_out(buffered_amount, amount)? };
            }
            Ok(())
        })())
    })
}

/// Writes connection `conn`'s buffered amount to `*out`: bytes queued by
/// `sockeye_send` (and the connection's own replies) not yet written to
/// the socket. Callable from any thread. `SOCKEYE_ERR_NOT_FOUND` for an
/// unknown id.
///
/// # Safety
/// `ctx` is NULL or a live context; `out` is NULL or points to a writable
/// `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_buffered_amount(
    ctx: *mut sockeye_ctx,
    conn: u64,
    out: *mut usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        if out.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let amount = ctx
            .shared
            .report(ctx.shared.conns.get(conn).map_err(Into::into))?
            .buffered_amount();
        // SAFETY: `out` is not NULL and writable.
        unsafe { boundary::write_out(out, amount) }
    })
}

/// Starts closing connection `conn` with `code` and `reason`, from any
/// thread, without blocking: messages queued before it are sent first,
/// then the Close frame. The connection's `SOCKEYE_EVENT_CLOSE` follows
/// once the peer answered (or `SOCKEYE_EVENT_ERROR` if it did not, within
/// the close timeout). Messages that arrive meanwhile are still delivered.
///
/// `code` must be one that may be sent: 1000–1003, 1007–1014 or
/// 3000–4999, else `SOCKEYE_ERR_INVALID`. `reason` may be NULL (no
/// reason); it is copied, and must be UTF-8 of at most 123 bytes, else
/// `SOCKEYE_ERR_INVALID`. On a client still connecting, the close is sent
/// right after the opening handshake. A second close does nothing and
/// returns `SOCKEYE_OK`; `SOCKEYE_ERR_CLOSED` once the connection ended,
/// `SOCKEYE_ERR_NOT_FOUND` for an unknown id.
///
/// # Safety
/// `ctx` is NULL or a live context; `reason` is NULL or a NUL-terminated
/// string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_close(
    ctx: *mut sockeye_ctx,
    conn: u64,
    code: u16,
    reason: *const c_char,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        ctx.shared.report((|| {
            let reason = if reason.is_null() {
                ""
            } else {
                // SAFETY: `reason` is a NUL-terminated string.
                unsafe { boundary::string(reason)? }
            };
            let code = CloseCode::from(code);
            if !code.is_sendable() {
                return Err(fail(
                    sockeye_result::SOCKEYE_ERR_INVALID,
                    format!("close code {code} may not be sent"),
                ));
            }
            if reason.len() > MAX_REASON {
                return Err(fail(
                    sockeye_result::SOCKEYE_ERR_INVALID,
                    "close reason over 123 bytes",
                ));
            }
            ctx.shared.conns.get(conn)?.close(code, reason.to_owned())?;
            Ok(())
        })())
    })
}
