//! The file descriptor a host's own `poll`/`epoll`/`select` loop waits on:
//! readable while events wait in the queue.
//!
//! A connected pair of Unix sockets, both non-blocking: the queue writes
//! one byte to the write end when it goes from empty to holding events,
//! and reads everything back when a poll finds it empty again. At most one
//! byte is ever in flight, so the writes never block.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;

/// The two ends of the wake-up pipe.
#[derive(Debug)]
pub(crate) struct WakeFd {
    read: UnixStream,
    write: UnixStream,
}

impl WakeFd {
    /// A new pair, not readable.
    pub(crate) fn new() -> io::Result<WakeFd> {
        let (read, write) = UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        Ok(WakeFd { read, write })
    }

    /// The end the host waits on.
    pub(crate) fn raw(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Makes the fd readable.
    pub(crate) fn signal(&self) {
        // A full socket buffer (impossible with one byte in flight) would
        // leave it readable anyway, which is all a signal needs.
        let _ = (&self.write).write(&[1]);
    }

    /// Makes the fd unreadable again.
    pub(crate) fn reset(&self) {
        let mut sink = [0u8; 16];
        while matches!((&self.read).read(&mut sink), Ok(n) if n > 0) {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether a byte waits; reading it takes it, so it is put back.
    fn readable(fd: &WakeFd) -> bool {
        let mut byte = [0u8; 1];
        let got = matches!((&fd.read).read(&mut byte), Ok(1));
        if got {
            fd.signal();
        }
        got
    }

    #[test]
    fn a_signal_makes_it_readable_until_reset() {
        let fd = WakeFd::new().unwrap();
        assert!(!readable(&fd));
        fd.signal();
        assert!(readable(&fd));
        fd.reset();
        assert!(!readable(&fd));
        assert!(fd.raw() >= 0);
    }
}
