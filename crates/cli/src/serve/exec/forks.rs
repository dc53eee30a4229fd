//! `--max-forks`: how many programs may run at once, counted from the
//! request that would start one to the reaping of its process.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The default of `--max-forks`. Each program is a process of its own (a
/// few MiB at least) with three pipes: 512 stays well under the usual
/// per-user process limit and the server's descriptor limit, so that a
/// flood of connections cannot exhaust the machine, while a server of
/// scripts rarely needs more at once. 0 lifts the limit.
pub(in crate::serve) const DEFAULT_MAX_FORKS: usize = 512;

/// The limit in force; 0: none.
static MAX_FORKS: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_FORKS);

/// Programs counted now, running or about to start.
static FORKS: AtomicUsize = AtomicUsize::new(0);

/// Sets the limit from the flags (0: none), before the first connection.
pub(in crate::serve) fn set_max_forks(max: usize) {
    MAX_FORKS.store(max, Ordering::Relaxed);
}

/// A place for one program under `--max-forks`, given back when dropped:
/// once its process has been reaped, or when the connection never opened.
#[derive(Debug)]
pub(super) struct ForkSlot(());

impl ForkSlot {
    /// A place, or `None` when `--max-forks` programs already run.
    pub(super) fn take() -> Option<Self> {
        let max = MAX_FORKS.load(Ordering::Relaxed);
        if FORKS.fetch_add(1, Ordering::AcqRel) >= max && max != 0 {
            FORKS.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(ForkSlot(()))
    }
}

impl Drop for ForkSlot {
    fn drop(&mut self) {
        FORKS.fetch_sub(1, Ordering::AcqRel);
    }
}
