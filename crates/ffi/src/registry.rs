//! The handles alive now. Every handle the library gives out is recorded
//! here with its type, so that freeing one twice, or freeing a pointer the
//! library never made, is refused with `SOCKEYE_ERR_BAD_HANDLE` instead of
//! corrupting memory: the pointer is looked up before it is touched.
//!
//! Only creation and freeing take the registry's lock; calls in between do
//! not, so the per-message paths pay nothing for it.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::boundary::Outcome;
use crate::result::sockeye_result;

/// Address to type of every live handle.
static LIVE: Mutex<Option<HashMap<usize, TypeId>>> = Mutex::new(None);

fn live() -> MutexGuard<'static, Option<HashMap<usize, TypeId>>> {
    // A panic while holding the lock cannot leave the map half-changed
    // (insert and remove are single steps), so a poisoned lock is usable.
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Moves `value` to the heap and records it as a live handle.
pub(crate) fn create<T: 'static>(value: T) -> *mut T {
    let ptr = Box::into_raw(Box::new(value));
    live()
        .get_or_insert_with(HashMap::new)
        .insert(ptr as usize, TypeId::of::<T>());
    ptr
}

/// Whether `ptr` is a live handle of type `T`.
#[cfg(test)]
pub(crate) fn is_live<T: 'static>(ptr: *const T) -> bool {
    live()
        .as_ref()
        .and_then(|map| map.get(&(ptr as usize)))
        .is_some_and(|ty| *ty == TypeId::of::<T>())
}

/// Forgets the handle and gives its value back, to be dropped by the
/// caller. NULL gives `SOCKEYE_ERR_NULL`; a pointer that is not a live `T`
/// handle (freed already, or never made here) gives
/// `SOCKEYE_ERR_BAD_HANDLE`, and its memory is not touched.
pub(crate) fn destroy<T: 'static>(ptr: *mut T) -> Result<Box<T>, sockeye_result> {
    if ptr.is_null() {
        return Err(sockeye_result::SOCKEYE_ERR_NULL);
    }
    {
        let mut guard = live();
        let map = guard
            .as_mut()
            .ok_or(sockeye_result::SOCKEYE_ERR_BAD_HANDLE)?;
        match map.get(&(ptr as usize)) {
            Some(ty) if *ty == TypeId::of::<T>() => {
                map.remove(&(ptr as usize));
            }
            _ => return Err(sockeye_result::SOCKEYE_ERR_BAD_HANDLE),
        }
    }
    // SAFETY: `ptr` was recorded by `create::<T>` (same address and type)
    // and has just been removed from the registry under its lock, so it
    // came from `Box::into_raw`, is still live, and no other `destroy` can
    // take it again.
    Ok(unsafe { Box::from_raw(ptr) })
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
