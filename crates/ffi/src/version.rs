//! The library's version at run time, to compare with the header's
//! `SOCKEYE_MAJOR`/`SOCKEYE_MINOR`/`SOCKEYE_PATCH` at build time.

use std::ffi::c_char;

/// The version of the library, as a static NUL-terminated string such as
/// `"0.1.0"`. Never free it.
#[unsafe(no_mangle)]
pub extern "C" fn sockeye_version() -> *const c_char {
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_version_is_the_crates() {
        // SAFETY: `sockeye_version` returns a static NUL-terminated string.
        let v = unsafe { std::ffi::CStr::from_ptr(super::sockeye_version()) };
        assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    }
}
