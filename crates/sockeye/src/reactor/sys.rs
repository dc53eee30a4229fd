//! The three system calls a reactor makes on a socket per turn: receive,
//! send, and send several buffers at once.
//!
//! On Linux they go through `syscall(2)` rather than the C library's
//! `recv`, `send` and `sendmsg`. Those wrappers are cancellation points:
//! in a process with more than one thread (a reactor thread beside a tokio
//! runtime), glibc brackets each call with enabling and disabling
//! asynchronous cancellation, which took 1.8% of the reactor's time in
//! the pipelined small-message echo (BENCHMARKS.md), more than the calls'
//! own wrappers. Nothing here cancels threads, so the bracketing buys
//! nothing. Elsewhere the C library's calls are used. (On 32-bit x86 the
//! direct socket calls need Linux 4.3 or later, where glibc falls back to
//! `socketcall`; every supported distribution's kernel is newer.)
//!
//! Each returns what the system call returns: a count, or -1 with the
//! error in `errno` (read it with `io::Error::last_os_error`).

use std::io::IoSlice;
use std::os::fd::RawFd;

/// recv(2) of at most `len` bytes into `buf`.
///
/// # Safety
///
/// `buf` must be valid for writes of `len` bytes, and nothing else may
/// read or write them during the call.
pub(super) unsafe fn recv(fd: RawFd, buf: *mut u8, len: usize) -> isize {
    #[cfg(target_os = "linux")]
    // SAFETY: recvfrom(2) with no source address writes at most `len`
    // bytes at `buf`, which the caller guarantees may be written.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd,
            buf,
            len,
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above, through the C library's wrapper.
    let n = unsafe { libc::recv(fd, buf.cast(), len, 0) };
    count(n)
}

/// send(2) of `buf`, without SIGPIPE when the peer is gone (EPIPE comes
/// back instead).
pub(super) fn send(fd: RawFd, buf: &[u8]) -> isize {
    #[cfg(target_os = "linux")]
    // SAFETY: sendto(2) with no destination only reads `buf.len()` bytes
    // at `buf`, a live slice.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd,
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0,
        )
    };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above, through the C library's wrapper.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), NO_SIGNAL) };
    count(n)
}

/// sendmsg(2) of `slices`, one after the other, without SIGPIPE.
pub(super) fn send_vectored(fd: RawFd, slices: &[IoSlice<'_>]) -> isize {
    // SAFETY: an all-zero msghdr is a valid one (no address, no control
    // data); the fields set below point at live memory.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec` on Unix (its documented
    // guarantee), and sendmsg(2) only reads the iovecs and their bytes.
    msg.msg_iov = slices.as_ptr().cast_mut().cast();
    msg.msg_iovlen = slices.len() as _;
    #[cfg(target_os = "linux")]
    // SAFETY: `msg` describes `slices`, live for the call, which only
    // reads them.
    let n = unsafe { libc::syscall(libc::SYS_sendmsg, fd, &raw const msg, libc::MSG_NOSIGNAL) };
    #[cfg(not(target_os = "linux"))]
    // SAFETY: as above, through the C library's wrapper.
    let n = unsafe { libc::sendmsg(fd, &raw const msg, NO_SIGNAL) };
    count(n)
}

/// What `syscall(2)` returned for one of these calls, as the count (or
/// -1) it is: a `long`, as wide as `isize` on Linux.
#[cfg(target_os = "linux")]
fn count(n: libc::c_long) -> isize {
    isize::try_from(n).unwrap_or(-1)
}

/// The C library's calls return the count as it is.
#[cfg(not(target_os = "linux"))]
fn count(n: isize) -> isize {
    n
}

/// The flag of the C library's sends elsewhere that turns SIGPIPE into
/// EPIPE, as the standard library passes it.
#[cfg(not(any(target_os = "linux", target_vendor = "apple")))]
const NO_SIGNAL: libc::c_int = libc::MSG_NOSIGNAL;

/// Apple's systems have no such flag: the standard library and mio set
/// `SO_NOSIGPIPE` on the socket instead.
#[cfg(target_vendor = "apple")]
const NO_SIGNAL: libc::c_int = 0;
