//! Taking events: [`sockeye_event_poll`], [`sockeye_ctx_fd`] for hosts
//! that wait in their own `poll`/`epoll`/`select` loop, and
//! [`sockeye_ctx_run`], which serves the sockets of a context of no threads
//! without taking events.

use std::time::Duration;

use super::context::sockeye_ctx;
use super::event::{Event, sockeye_event};
use crate::boundary::{self, guard, guard_value};
use crate::result::sockeye_result;

/// Takes the next event into `*out`, waiting up to `timeout_ms`
/// milliseconds for one: 0 does not wait, -1 waits until one comes.
///
/// Returns `SOCKEYE_OK` with an event, `SOCKEYE_ERR_AGAIN` when none came
/// in time, `SOCKEYE_ERR_STATE` when another thread is polling this
/// context at the same moment (one thread polls at a time; any thread may
/// be that one), `SOCKEYE_ERR_INVALID` for a timeout below -1.
///
/// `out->data` stays valid until the next `sockeye_event_poll` on this
/// context or `sockeye_ctx_free`: copy what you keep. After a
/// `SOCKEYE_EVENT_CLOSE` or `SOCKEYE_EVENT_ERROR` the connection's id is
/// forgotten.
///
/// Events are handed over in batches: this call takes all that wait at
/// once, then hands them out with no lock each. Events of one connection
/// come in order, and a connection parses no more of its input until this
/// function is called again after its last event: what you send in answer
/// to a message (from this thread, before polling again) is queued before
/// anything the peer sent after it is looked at, as in a callback. While the queue holds
/// more than 8 MiB (payloads and 64 bytes per event), connections stop
/// reading from their sockets until it is polled, so a host that stops
/// polling does not make the context hold more.
///
/// # Safety
/// `ctx` is NULL or a live context; `out` is NULL or points to a writable
/// `sockeye_event`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_event_poll(
    ctx: *mut sockeye_ctx,
    out: *mut sockeye_event,
    timeout_ms: i32,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        if out.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let timeout = match timeout_ms {
            -1 => None,
            ms if ms >= 0 => Some(Duration::from_millis(ms.unsigned_abs().into())),
            _ => return Err(sockeye_result::SOCKEYE_ERR_INVALID),
        };
        let shared = &ctx.shared;
        let on_final = |last: &Event| shared.conns.remove(last.conn);
        let event = match &ctx.inline {
            Some(runtime) => shared.events.poll_inline(runtime, timeout, on_final)?,
            None => shared.events.poll(timeout, on_final)?,
        };
        // SAFETY: `out` is not NULL and points to a writable event.
        unsafe { boundary::write_out(out, event) }
    })
}

/// A file descriptor that is readable while events wait, for a host's own
/// `poll`, `epoll` or `select` loop: wait for it to be readable, then call
/// `sockeye_event_poll(ctx, &ev, 0)` until it returns `SOCKEYE_ERR_AGAIN`,
/// which makes it unreadable again. It may now and then be readable with
/// no event waiting; the poll then just returns `SOCKEYE_ERR_AGAIN`.
///
/// The context owns the descriptor: do not read, write or close it. It
/// is valid until `sockeye_ctx_free`. Returns -1 for a NULL context and
/// for a context of no threads (see `sockeye_ctx_new`), whose events only
/// come while it is polled.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_fd(ctx: *const sockeye_ctx) -> i32 {
    guard_value(-1, || {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        match unsafe { boundary::shared(ctx) } {
            Ok(ctx) if ctx.inline.is_some() => -1,
            Ok(ctx) => ctx.shared.events.fd(),
            Err(_) => -1,
        }
    })
}

/// Serves the sockets for `timeout_ms` milliseconds (0: one turn) without
/// taking any event, for a context of no threads (`sockeye_ctx_new` with
/// 0), where nothing moves between polls: call it after
/// `SOCKEYE_ERR_BACKPRESSURE` so the queued data can leave, then send
/// again. Events that arrive meanwhile wait for the next
/// `sockeye_event_poll`; the data of the last event taken stays valid. For
/// a context with threads, which serve the sockets anyway, it only waits.
///
/// Returns `SOCKEYE_ERR_STATE` while another thread is in
/// `sockeye_event_poll` or `sockeye_ctx_run` on this context, and
/// `SOCKEYE_ERR_INVALID` for a negative timeout.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_run(ctx: *mut sockeye_ctx, timeout_ms: i32) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        let timeout = u64::try_from(timeout_ms)
            .map(Duration::from_millis)
            .map_err(|_| sockeye_result::SOCKEYE_ERR_INVALID)?;
        if let Some(runtime) = &ctx.inline {
            ctx.shared.events.run_inline(runtime, timeout)
        } else {
            std::thread::sleep(timeout);
            Ok(())
        }
    })
}
