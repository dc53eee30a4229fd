//! The handles alive now. Every handle the library gives out is recorded
//! here with its type, so that freeing one twice, or freeing a pointer the
//! library never made, is refused with `SOCKEYE_ERR_BAD_HANDLE` instead of
//! corrupting memory: the pointer is looked up before it is touched. The
//! memory of the last freed handles is held back (see [`QUARANTINE`]), so
//! a stale pointer cannot name a newer handle the allocator put at the same
//! address.
//!
//! Only creation and freeing take the registry's lock; calls in between do
//! not, so the per-message paths pay nothing for it.

use std::any::TypeId;
use std::collections::{HashMap, VecDeque};
use std::mem::MaybeUninit;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::boundary::Outcome;
use crate::result::sockeye_result;

/// How many freed handles keep their memory: 256. While a freed handle's
/// memory is held, no new handle can get its address, so a second free of
/// a stale pointer is refused rather than freeing whatever handle the
/// allocator put there since. Beyond the last 256 frees, detection is best
/// effort. The memory held is the handles' own structs only (what they
/// point to is freed at once): a few hundred KiB at most.
const QUARANTINE: usize = 256;

/// The live handles, and the memory of the last freed ones.
#[derive(Default)]
struct Registry {
    /// Address to type of every live handle.
    live: HashMap<usize, TypeId>,
    /// Freed handles' memory, oldest first.
    quarantine: VecDeque<Shell>,
}

/// The memory of a freed handle, its value already moved out.
struct Shell {
    addr: usize,
    release: unsafe fn(usize),
}

/// Gives back the memory of a freed `T` handle.
///
/// # Safety
/// `addr` came from `Box::<T>::into_raw` in [`create`], its value was moved
/// out, and it is released once.
unsafe fn release<T>(addr: usize) {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, so this frees the box
    // `create` made without dropping the value, which was moved out.
    drop(unsafe { Box::from_raw(addr as *mut MaybeUninit<T>) });
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

fn registry() -> MutexGuard<'static, Option<Registry>> {
    // A panic while holding the lock cannot leave the map half-changed
    // (insert and remove are single steps), so a poisoned lock is usable.
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Moves `value` to the heap and records it as a live handle.
pub(crate) fn create<T: 'static>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    registry()
        .get_or_insert_with(Registry::default)
        .live
        .insert(ptr as usize, TypeId::of::<T>());
    ptr
}

/// Whether `ptr` is a live handle of type `T`.
#[cfg(test)]
pub(crate) fn is_live<T: 'static>(ptr: *const T) -> bool {
    registry()
        .as_ref()
        .and_then(|r| r.live.get(&(ptr as usize)))
        .is_some_and(|ty| *ty == TypeId::of::<T>())
}

/// Forgets the handle and gives its value back, to be dropped by the
/// caller; the handle's memory goes into quarantine. NULL gives
/// `SOCKEYE_ERR_NULL`; a pointer that is not a live `T` handle (freed
/// already, or never made here) gives `SOCKEYE_ERR_BAD_HANDLE`, and its
/// memory is not touched.
pub(crate) fn destroy<T: 'static>(ptr: *mut T) -> Result<T, sockeye_result> {
    if ptr.is_null() {
        return Err(sockeye_result::SOCKEYE_ERR_NULL);
    }
    let (value, evicted) = {
        let mut guard = registry();
        let registry = guard
            .as_mut()
            .ok_or(sockeye_result::SOCKEYE_ERR_BAD_HANDLE)?;
        match registry.live.get(&(ptr as usize)) {
            Some(ty) if *ty == TypeId::of::<T>() => {
                registry.live.remove(&(ptr as usize));
            }
            _ => return Err(sockeye_result::SOCKEYE_ERR_BAD_HANDLE),
        }
        // SAFETY: `ptr` was recorded by `create::<T>` (same address and
        // type) and has just been removed from the registry under its
        // lock, so it points to a live `T` in a box from `Box::into_raw`,
        // and no other `destroy` can take it again. The value is moved out
        // once; the box's memory is released later by `release::<T>`.
        let value = unsafe { ptr.read() };
        registry.quarantine.push_back(Shell {
            addr: ptr as usize,
            release: release::<T>,
        });
        let evicted = (registry.quarantine.len() > QUARANTINE)
            .then(|| registry.quarantine.pop_front())
            .flatten();
        (value, evicted)
    };
    if let Some(shell) = evicted {
        // SAFETY: the shell left the quarantine and the registry: its
        // address is released this once, with the type it was made with.
        unsafe { (shell.release)(shell.addr) };
    }
    Ok(value)
}

/// Drops the handle's value; the `_free` exports end here.
pub(crate) fn free<T: 'static>(ptr: *mut T) -> Outcome {
    drop(destroy(ptr)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handle_frees_once_and_a_second_free_is_refused() {
        let handle = create(String::from("x"));
        assert!(is_live(handle));
        assert_eq!(free(handle), Ok(()));
        assert!(!is_live(handle));
        assert_eq!(free(handle), Err(sockeye_result::SOCKEYE_ERR_BAD_HANDLE));
    }

    #[test]
    fn a_stale_pointer_cannot_free_a_newer_handle() {
        // Freed handles keep their memory for a while, so handles made
        // after a free never get its address, and a second free of it is
        // refused even with many handles made and freed in between.
        let first = create([0u8; 48]);
        assert_eq!(free(first), Ok(()));
        let newer: Vec<_> = (0..QUARANTINE / 2).map(|_| create([1u8; 48])).collect();
        assert!(newer.iter().all(|&h| h != first));
        assert_eq!(free(first), Err(sockeye_result::SOCKEYE_ERR_BAD_HANDLE));
        for handle in newer {
            assert_eq!(free(handle), Ok(()));
        }
    }

    #[test]
    fn foreign_null_and_mistyped_pointers_are_refused() {
        let mut local = 5u64;
        assert_eq!(
            free(&raw mut local),
            Err(sockeye_result::SOCKEYE_ERR_BAD_HANDLE)
        );
        assert_eq!(
            free::<u64>(std::ptr::null_mut()),
            Err(sockeye_result::SOCKEYE_ERR_NULL)
        );
        let handle = create(7u64);
        assert_eq!(
            free(handle.cast::<i64>()),
            Err(sockeye_result::SOCKEYE_ERR_BAD_HANDLE)
        );
        assert_eq!(free(handle), Ok(()));
    }
}
