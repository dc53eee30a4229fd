//! [`sockeye_ctx`]: a context, its runtime thread(s), and its end.
//!
//! The runtime (tokio) runs on threads of the context's own: one thread
//! with a single-threaded runtime for `threads` 1 (no work stealing, no
//! cross-thread hand-offs), a thread pool otherwise. A thread named
//! `sockeye-ctx` owns the runtime and shuts it down when the context is
//! freed.

use std::ffi::c_char;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use sockeye::CloseCode;
use tokio::sync::oneshot;

use super::failure::{Failure, fail};
use super::queue::EventQueue;
use super::shared::Shared;
use super::wakeups::Wakeups;
use crate::boundary::{self, guard};
use crate::registry;
use crate::result::sockeye_result;

/// The most runtime threads a context may have: far more than cores on
/// any machine this runs on, and a bound on what a wrong argument costs.
const MAX_THREADS: u32 = 256;

/// How long `sockeye_ctx_free` waits for connections to finish their
/// closing handshakes (1001) before cutting them: long enough for peers
/// on a LAN or a good link to answer, short enough not to hold up a
/// program's exit.
const FREE_GRACE: Duration = Duration::from_secs(2);

/// How long freeing waits for the runtime's threads to stop after the
/// connections are gone (a DNS lookup in progress is not waited for).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// A context: runtime threads that run clients and servers, connections
/// and listeners addressed by integer ids, and an event queue. Made by
/// `sockeye_ctx_new`, freed by `sockeye_ctx_free`.
///
/// Every function taking a context may be called from any thread, at the
/// same time as the others, except `sockeye_ctx_free` (call it once no
/// other call on the context is running) and `sockeye_event_poll` (one
/// thread at a time).
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct sockeye_ctx {
    pub(crate) shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    owner: Option<JoinHandle<()>>,
    /// A context of no threads: its runtime, run by `sockeye_event_poll`.
    pub(crate) inline: Option<tokio::runtime::Runtime>,
}

impl sockeye_ctx {
    fn start(threads: u32) -> Result<sockeye_ctx, Failure> {
        let runtime = if threads <= 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads as usize)
                .thread_name("sockeye-worker")
                .enable_all()
                .build()
        }
        .map_err(|e| fail(sockeye_result::SOCKEYE_ERR_IO, format!("runtime: {e}")))?;
        let wakeups = Arc::new(Wakeups::default());
        let events = EventQueue::new(Arc::clone(&wakeups))
            .map_err(|e| fail(sockeye_result::SOCKEYE_ERR_IO, format!("wake fd: {e}")))?;
        runtime.spawn(Arc::clone(&wakeups).dispatch());
        let shared = Arc::new(Shared::new(events, runtime.handle().clone(), wakeups));
        if threads == 0 {
            return Ok(sockeye_ctx {
                shared,
                stop: None,
                owner: None,
                inline: Some(runtime),
            });
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let owner = std::thread::Builder::new()
            .name("sockeye-ctx".into())
            .spawn(move || {
                // The single-threaded runtime runs its tasks here; the
                // pool's threads run theirs while this one waits.
                let _ = runtime.block_on(stopped);
                runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
            })
            .map_err(|e| fail(sockeye_result::SOCKEYE_ERR_IO, format!("thread: {e}")))?;
        Ok(sockeye_ctx {
            shared,
            stop: Some(stop),
            owner: Some(owner),
            inline: None,
        })
    }
}

impl Drop for sockeye_ctx {
    /// Stops listening, closes every connection with 1001 and waits a
    /// little for the closing handshakes, then stops and joins the
    /// threads.
    fn drop(&mut self) {
        let shared = &self.shared;
        shared.events.discard();
        for (_, listener) in shared.listeners().drain() {
            listener.task.abort();
        }
        for conn in shared.conns.all() {
            let _ = conn.close(CloseCode::GOING_AWAY, String::new());
        }
        if let Some(runtime) = self.inline.take() {
            // Nothing runs between polls: run the closing handshakes here.
            runtime.block_on(shared.wait_for_tasks_inline(FREE_GRACE));
            runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
        } else {
            shared.wait_for_tasks(FREE_GRACE);
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(owner) = self.owner.take() {
            let _ = owner.join();
        }
    }
}

/// Makes a context and starts its runtime thread(s); writes it to `*out`.
///
/// `threads` is the number of threads that run connections: 1 for one
/// (no hand-offs between runtime threads), more to spread TLS and
/// compression over several cores; at most 256 (`SOCKEYE_ERR_INVALID`
/// above). The thread that polls events is yours, not one of these.
///
/// With 0 the context has no thread of its own: its sockets are served
/// inside `sockeye_event_poll`, on the polling thread, as a
/// single-threaded event loop does (libwebsockets' `lws_service`). No
/// thread hand-off per message makes this the fastest on one core, but
/// nothing moves between polls, so poll often (a game loop's every
/// frame, or with a timeout); `sockeye_ctx_fd` then returns -1, and sends
/// and closes from other threads leave at the next poll.
///
/// Free it with `sockeye_ctx_free`.
///
/// # Safety
/// `out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_new(
    threads: u32,
    out: *mut *mut sockeye_ctx,
) -> sockeye_result {
    guard(|| {
        if out.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        if threads > MAX_THREADS {
            return Err(sockeye_result::SOCKEYE_ERR_INVALID);
        }
        let ctx = sockeye_ctx::start(threads).map_err(|f| f.code)?;
        let ctx = registry::create(ctx);
        // SAFETY: `out` is not NULL; the caller gives a writable pointer slot.
        unsafe { boundary::write_out(out, ctx) }
    })
}

/// Frees a context: stops its listeners, closes every connection with
/// 1001 (going away), waits up to 2 s for their closing handshakes, then
/// stops and joins its threads and frees everything, including the data
/// of the last event polled.
///
/// Call it once no other call on this context is running and none will
/// start. A second free of the same pointer returns
/// `SOCKEYE_ERR_BAD_HANDLE` and touches nothing (certain within the next
/// 256 frees of any handle, whose memory the library holds back; best
/// effort after); NULL returns `SOCKEYE_ERR_NULL`.
///
/// # Safety
/// `ctx` is any pointer: it is looked up among the live contexts before it
/// is touched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_free(ctx: *mut sockeye_ctx) -> sockeye_result {
    guard(|| registry::free(ctx))
}

/// Copies the calling thread's last failure message on this context into
/// `buf` (NUL-terminated, cut to fit `cap` at a UTF-8 boundary) and its
/// length without the NUL into `*len`: an empty string when this thread
/// had no failure on this context.
///
/// Each thread has its own message, so that threads sharing a context do
/// not overwrite each other's: the message is that of the last call made
/// by the calling thread on this context that failed, with details such
/// as the OS's reason for a bind error. Failures of connections arrive as
/// `SOCKEYE_EVENT_ERROR` events with their own message instead.
///
/// `SOCKEYE_ERR_BUFFER_TOO_SMALL` when `cap` is 0.
///
/// # Safety
/// `ctx` is NULL or a live context; `buf` is NULL or points to `cap`
/// writable bytes; `len` is NULL or points to a writable `size_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_last_error(
    ctx: *const sockeye_ctx,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx)? };
        if buf.is_null() || len.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        if cap == 0 {
            return Err(sockeye_result::SOCKEYE_ERR_BUFFER_TOO_SMALL);
        }
        // SAFETY: `buf` is not NULL and points to `cap` writable bytes.
        let out = unsafe { boundary::buffer(buf.cast::<u8>(), cap)? };
        let message = ctx.shared.errors.get();
        let mut n = message.len().min(cap - 1);
        while !message.is_char_boundary(n) {
            n -= 1;
        }
        out[..n].copy_from_slice(&message.as_bytes()[..n]);
        out[n] = 0;
        // SAFETY: `len` is not NULL and points to a writable `size_t`.
        unsafe { boundary::write_out(len, n) }
    })
}
