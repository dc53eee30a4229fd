//! A global allocator that counts, per thread, the bytes live on the heap and
//! their peak, so a test can check that a hostile length is refused before
//! anything is reserved (R-LM-01) and that an engine's memory stays bounded.
//!
//! Counting is per thread because the test harness runs tests in parallel:
//! each test sees only its own allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

thread_local! {
    // `const` initialisers and no destructors: touching these never allocates
    // and stays valid while a thread is torn down.
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

fn as_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn grow(n: usize) {
    let _ = CALLS.try_with(|calls| calls.set(calls.get() + 1));
    let _ = LIVE.try_with(|live| {
        let now = live.get().wrapping_add(as_i64(n));
        live.set(now);
        let _ = PEAK.try_with(|peak| {
            if now > peak.get() {
                peak.set(now);
            }
        });
    });
}

fn shrink(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().wrapping_sub(as_i64(n))));
}

// SAFETY: every method forwards to `System` with the caller's arguments
// unchanged, so `System`'s guarantees carry over; the counters only observe.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grow(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from this allocator, i.e. `System`.
        unsafe { System.dealloc(ptr, layout) };
        shrink(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            grow(new_size);
            shrink(layout.size());
        }
        new
    }
}

/// Bytes this thread has allocated and not freed (may be negative if it
/// freed memory another thread allocated).
pub(crate) fn live() -> i64 {
    LIVE.with(Cell::get)
}

/// Runs `f` and returns its result with the most heap it had live at once
/// beyond what was live when it started.
pub(crate) fn peak_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let start = live();
    PEAK.with(|peak| peak.set(start));
    let result = f();
    let peak = PEAK.with(Cell::get);
    (result, u64::try_from(peak - start).unwrap_or(0))
}

/// Runs `f` and returns its result with how many allocations (and
/// reallocations) this thread made meanwhile.
#[allow(dead_code)]
pub(crate) fn allocations_during<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let start = CALLS.with(Cell::get);
    let result = f();
    (result, CALLS.with(Cell::get) - start)
}
