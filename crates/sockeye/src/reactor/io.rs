//! System calls on a reactor's sockets: reads into the thread's buffer or
//! straight into the engine's, and writes of the engine's output.

use std::io::{self, IoSlice};
use std::os::fd::AsRawFd;

use bytes::{Buf, BytesMut};
use mio::net::TcpStream;

use super::sys;

/// The most iovecs handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// Reads once into `buf`; `Ok(0)` at EOF.
pub(super) fn read(io: &TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length and borrowed mutably for
    // the call.
    retry(|| unsafe { sys::recv(io.as_raw_fd(), buf.as_mut_ptr(), buf.len()) })
}

/// Reads once, at most `max` bytes, into the spare capacity of `buf`
/// (which has some) and extends it by what came; `Ok(0)` at EOF.
///
/// For large frames, read straight into the engine's buffer: neither
/// copied from a buffer of our own nor zeroed first.
pub(super) fn read_spare(io: &TcpStream, buf: &mut BytesMut, max: usize) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    let len = spare.len().min(max);
    // SAFETY: `spare` is writable memory of at least `len` bytes that
    // nothing else refers to during the call; recv(2) only writes to it,
    // and at most `len` bytes.
    let n = retry(|| unsafe { sys::recv(io.as_raw_fd(), spare.as_mut_ptr().cast(), len) })?;
    // SAFETY: recv(2) initialized the first `n` bytes of the spare
    // capacity, and `n <= len <= capacity - len()`.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// Writes what `out` holds, in as few calls as the socket takes;
/// `Ok(true)` once all of it went, `Ok(false)` when the socket is full.
pub(super) fn write_out(io: &TcpStream, out: &mut impl Buf) -> io::Result<bool> {
    let fd = io.as_raw_fd();
    while out.has_remaining() {
        let written = if out.chunk().len() == out.remaining() {
            result(sys::send(fd, out.chunk()))
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let n = out.chunks_vectored(&mut slices);
            result(sys::send_vectored(fd, &slices[..n]))
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.advance(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Makes `call` until a signal does not interrupt it.
fn retry(mut call: impl FnMut() -> isize) -> io::Result<usize> {
    loop {
        match result(call()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// A system call's count, or the error it left in `errno`.
fn result(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// A connected pair: a mio stream and the std stream at its other end.
    fn pair() -> (TcpStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        (TcpStream::from_std(server), client)
    }

    /// Waits, at most 5 s, until `io` has something to read: data, or
    /// the end of the peer's stream.
    fn wait_readable(io: &TcpStream) {
        let mut fds = libc::pollfd {
            fd: io.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, borrowed mutably for the call.
        let n = unsafe { libc::poll(&raw mut fds, 1, 5000) };
        assert_eq!(n, 1, "nothing to read within 5 s");
    }

    #[test]
    fn read_spare_appends_what_arrived_and_respects_max() {
        let (io, mut peer) = pair();
        peer.write_all(b"hello world").unwrap();
        let mut buf = BytesMut::with_capacity(64);
        buf.extend_from_slice(b">");
        wait_readable(&io);
        assert_eq!(read_spare(&io, &mut buf, 5).unwrap(), 5);
        assert_eq!(&buf[..], b">hello");
        assert_eq!(read_spare(&io, &mut buf, 100).unwrap(), 6);
        assert_eq!(&buf[..], b">hello world");
        let e = read_spare(&io, &mut buf, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(peer);
        wait_readable(&io);
        assert_eq!(read_spare(&io, &mut buf, 100).unwrap(), 0);
    }

    #[test]
    fn write_out_sends_every_chunk_in_order() {
        let (io, mut peer) = pair();
        let mut out = bytes::Bytes::from_static(b"abc").chain(bytes::Bytes::from_static(b"def"));
        assert!(write_out(&io, &mut out).unwrap());
        let mut got = [0; 6];
        std::io::Read::read_exact(&mut peer, &mut got).unwrap();
        assert_eq!(&got, b"abcdef");
    }

    #[test]
    fn read_takes_what_arrived_then_would_block_then_sees_the_end() {
        let (io, mut peer) = pair();
        peer.write_all(b"ping").unwrap();
        wait_readable(&io);
        let mut buf = [0; 16];
        assert_eq!(read(&io, &mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"ping");
        let e = read(&io, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(peer);
        wait_readable(&io);
        assert_eq!(read(&io, &mut buf).unwrap(), 0);
    }

    #[test]
    fn write_out_sends_one_chunk_and_stops_when_the_socket_is_full() {
        let (io, mut peer) = pair();
        let mut out = bytes::Bytes::from_static(b"one chunk");
        assert!(write_out(&io, &mut out).unwrap());
        let mut got = [0; 9];
        std::io::Read::read_exact(&mut peer, &mut got).unwrap();
        assert_eq!(&got, b"one chunk");
        // A peer that reads nothing: the socket fills, and what is left
        // waits (EAGAIN comes back through errno).
        let mut big = bytes::Bytes::from(vec![7u8; 64 << 20]);
        assert!(!write_out(&io, &mut big).unwrap());
        assert!(!big.is_empty() && big.len() < 64 << 20);
    }

    #[test]
    fn write_out_fails_once_the_peer_is_gone() {
        let (io, peer) = pair();
        drop(peer);
        wait_readable(&io);
        // The first send may still be taken; the reset it draws makes a
        // later one fail (within 5 s).
        let failed = (0..1000).any(|_| {
            let mut out = bytes::Bytes::from_static(b"anyone?");
            let failed = write_out(&io, &mut out).is_err();
            std::thread::sleep(std::time::Duration::from_millis(5));
            failed
        });
        assert!(failed, "writes to a closed peer kept succeeding");
    }
}
