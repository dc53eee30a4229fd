//! The process's allocator: mimalloc rather than the system's, and no
//! transparent huge pages, for servers that hold many small connections.
//!
//! The runtime allocates each task and each socket's registration aligned
//! to 128 bytes, which glibc serves with padding; mimalloc does not. The
//! feature `system-allocator` leaves mimalloc out, for heap profilers that
//! watch malloc (heaptrack, massif).

/// The global allocator.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process, unless the
/// environment asks for mimalloc's (`MIMALLOC_ALLOW_THP`).
///
/// Where the kernel gives huge pages on request (`madvise`, Debian's
/// default), mimalloc asks for them on its arenas, and the first touch of
/// each makes 2 MiB resident at once: about 2 MiB more for `serve` at
/// start and again when its reactor thread first allocates, or 200 bytes
/// per connection of 10,000 idle ones (BENCHMARKS.md). Small objects
/// gain little from huge pages, and servers holding many connections are
/// commonly run without them. A failure (an old kernel) changes nothing.
pub(crate) fn tune() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and sets
        // a flag of this process's memory map; no memory is touched.
        let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn huge_pages_are_off_after_tuning_unless_the_environment_chose() {
        tune();
        // SAFETY: PR_GET_THP_DISABLE takes no pointer and reads a flag.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        let chosen = std::env::var_os("MIMALLOC_ALLOW_THP").is_some();
        assert!(
            chosen || disabled == 1,
            "PR_GET_THP_DISABLE gave {disabled}"
        );
    }
}
