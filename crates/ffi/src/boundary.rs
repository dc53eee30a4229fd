//! The edge between C and Rust: every export runs inside [`guard`], which
//! turns a panic into `SOCKEYE_ERR_PANIC`, and reads its pointer arguments
//! through the checked helpers here, which turn NULL into `SOCKEYE_ERR_NULL`.
//!
//! All the raw-pointer reading of the crate's argument handling is in this
//! file, so each rule is stated once.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::result::sockeye_result;

/// What the body of an export returns: `Ok` becomes `SOCKEYE_OK`.
pub(crate) type Outcome = Result<(), sockeye_result>;

/// Runs an export's body; a panic inside it becomes `SOCKEYE_ERR_PANIC`.
///
/// The closure is asserted unwind-safe: after a panic the caller is told
/// the handle may be inconsistent and must only be freed.
pub(crate) fn guard(body: impl FnOnce() -> Outcome) -> sockeye_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => sockeye_result::SOCKEYE_OK,
        Ok(Err(code)) => code,
        Err(_) => sockeye_result::SOCKEYE_ERR_PANIC,
    }
}

/// Runs an export that returns a value rather than a code; a panic gives
/// `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// A shared reference from a pointer the caller promises is a live handle.
///
/// # Safety
/// `ptr` is NULL or points to a live, properly aligned `T` that no one
/// mutates for `'a`.
pub(crate) unsafe fn shared<'a, T>(ptr: *const T) -> Result<&'a T, sockeye_result> {
    // SAFETY: the caller guarantees a non-NULL `ptr` points to a live `T`
    // not mutated for 'a; NULL is refused by `as_ref`.
    unsafe { ptr.as_ref() }.ok_or(sockeye_result::SOCKEYE_ERR_NULL)
}

/// An exclusive reference from a pointer the caller promises is a live
/// handle used by this thread alone for the call.
///
/// # Safety
/// `ptr` is NULL or points to a live, properly aligned `T` that nothing
/// else reads or writes for `'a`.
pub(crate) unsafe fn exclusive<'a, T>(ptr: *mut T) -> Result<&'a mut T, sockeye_result> {
    // SAFETY: the caller guarantees a non-NULL `ptr` points to a live `T`
    // with no other access for 'a; NULL is refused by `as_mut`.
    unsafe { ptr.as_mut() }.ok_or(sockeye_result::SOCKEYE_ERR_NULL)
}

/// The `len` bytes at `data`. A zero length needs no pointer: `data` may
/// then be NULL.
///
/// # Safety
/// When `len > 0`, `data` is NULL or points to `len` readable bytes that
/// stay unchanged for `'a`.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], sockeye_result> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(sockeye_result::SOCKEYE_ERR_NULL);
    }
    if isize::try_from(len).is_err() {
        return Err(sockeye_result::SOCKEYE_ERR_INVALID);
    }
    // SAFETY: `data` is not NULL and the caller guarantees `len` readable,
    // unchanging bytes there; `len` fits `isize` as `from_raw_parts` needs.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// A writable buffer of `cap` bytes at `buf`; a zero capacity needs no
/// pointer.
///
/// # Safety
/// When `cap > 0`, `buf` is NULL or points to `cap` writable bytes that
/// nothing else touches for `'a`.
pub(crate) unsafe fn buffer<'a>(buf: *mut u8, cap: usize) -> Result<&'a mut [u8], sockeye_result> {
    if cap == 0 {
        return Ok(&mut []);
    }
    if buf.is_null() {
        return Err(sockeye_result::SOCKEYE_ERR_NULL);
    }
    if isize::try_from(cap).is_err() {
        return Err(sockeye_result::SOCKEYE_ERR_INVALID);
    }
    // SAFETY: `buf` is not NULL and the caller guarantees `cap` writable
    // bytes there, untouched by others; `cap` fits `isize`.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf, cap) })
}

/// A NUL-terminated UTF-8 string argument. Not UTF-8 gives
/// `SOCKEYE_ERR_INVALID`.
///
/// # Safety
/// `s` is NULL or points to a NUL-terminated string that stays unchanged
/// for `'a`.
pub(crate) unsafe fn string<'a>(s: *const c_char) -> Result<&'a str, sockeye_result> {
    if s.is_null() {
        return Err(sockeye_result::SOCKEYE_ERR_NULL);
    }
    // SAFETY: `s` is not NULL and the caller guarantees a NUL-terminated
    // string that does not change for 'a.
    let c = unsafe { CStr::from_ptr(s) };
    c.to_str().map_err(|_| sockeye_result::SOCKEYE_ERR_INVALID)
}

/// Writes an output argument.
///
/// # Safety
/// `out` is NULL or points to writable, aligned memory for a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> Outcome {
    if out.is_null() {
        return Err(sockeye_result::SOCKEYE_ERR_NULL);
    }
    // SAFETY: `out` is not NULL and the caller guarantees it is writable and
    // aligned for a `T`; `write` does not drop the old (maybe uninitialised)
    // contents.
    unsafe { out.write(value) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_result::*;

    #[test]
    fn null_pointers_are_refused_and_empty_slices_need_none() {
        unsafe {
            assert_eq!(shared::<u8>(std::ptr::null()), Err(SOCKEYE_ERR_NULL));
            assert_eq!(
                exclusive::<u8>(std::ptr::null_mut()).err(),
                Some(SOCKEYE_ERR_NULL)
            );
            assert_eq!(bytes(std::ptr::null(), 0), Ok(&[][..]));
            assert_eq!(bytes(std::ptr::null(), 3), Err(SOCKEYE_ERR_NULL));
            assert_eq!(
                buffer(std::ptr::null_mut(), 1).err(),
                Some(SOCKEYE_ERR_NULL)
            );
            assert_eq!(string(std::ptr::null()), Err(SOCKEYE_ERR_NULL));
            assert_eq!(
                write_out::<u32>(std::ptr::null_mut(), 1),
                Err(SOCKEYE_ERR_NULL)
            );
        }
    }

    #[test]
    fn live_pointers_read_and_write() {
        let data = *b"hello";
        let mut out = 0u32;
        let mut x = 5u8;
        unsafe {
            assert_eq!(bytes(data.as_ptr(), 5), Ok(&b"hello"[..]));
            assert_eq!(string(c"ws://x".as_ptr()), Ok("ws://x"));
            assert_eq!(string(c"\xff".as_ptr()), Err(SOCKEYE_ERR_INVALID));
            write_out(&raw mut out, 7).unwrap();
            *exclusive(&raw mut x).unwrap() += 1;
            assert_eq!(*shared(&raw const x).unwrap(), 6);
        }
        assert_eq!(out, 7);
    }

    #[test]
    fn a_panic_becomes_a_code() {
        assert_eq!(guard(|| panic!("boom")), SOCKEYE_ERR_PANIC);
        assert_eq!(guard(|| Err(SOCKEYE_ERR_STATE)), SOCKEYE_ERR_STATE);
        assert_eq!(guard(|| Ok(())), SOCKEYE_OK);
        assert_eq!(guard_value(0, || panic!("boom")), 0);
    }
}
