//! Each thread's spare small write buffers.
//!
//! A connection drops its write buffer once everything is written, so an
//! idle connection holds none; the buffer goes here instead, and the next
//! write on this thread (on any connection) takes it back, so a steady
//! exchange of small messages allocates no write buffer at all. Only small
//! buffers are kept, and only a few, so what a thread holds here is
//! bounded.

use std::cell::RefCell;

use bytes::BytesMut;

/// The most spare buffers one thread keeps: enough for the connections
/// one turn of a busy runtime writes to, few enough to be negligible.
const MAX_SPARES: usize = 32;

/// The largest buffer kept, in bytes: what small frames coalesce into.
/// Larger ones are freed, so a burst does not pin its memory.
const MAX_SPARE_CAPACITY: usize = 4096;

thread_local! {
    static SPARES: RefCell<Vec<BytesMut>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `buf` for a later [`take`], emptied, if it is small and this
/// thread has room; frees it otherwise.
pub(crate) fn put(mut buf: BytesMut) {
    buf.clear();
    // Moves the start back to the beginning of the allocation (nothing is
    // copied: the buffer is empty), so its whole capacity counts; a buffer
    // that cannot (it shares its allocation) keeps what it has.
    let _ = buf.try_reclaim(buf.capacity() + 1);
    if buf.capacity() == 0 || buf.capacity() > MAX_SPARE_CAPACITY {
        return;
    }
    SPARES.with(|spares| {
        if let Ok(mut spares) = spares.try_borrow_mut()
            && spares.len() < MAX_SPARES
        {
            spares.push(buf);
        }
    });
}

/// A spare buffer of this thread, or a new empty one.
pub(crate) fn take() -> BytesMut {
    SPARES
        .with(|spares| spares.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_buffer_comes_back_empty_with_its_room() {
        let mut buf = BytesMut::with_capacity(100);
        buf.extend_from_slice(b"written");
        let at = buf.as_ptr();
        put(buf);
        let again = take();
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), at, "the same allocation");
        assert!(again.capacity() >= 100);
        assert_eq!(take().capacity(), 0, "only one was kept");
    }

    #[test]
    fn large_buffers_and_too_many_are_not_kept() {
        put(BytesMut::with_capacity(MAX_SPARE_CAPACITY + 1));
        assert_eq!(take().capacity(), 0);
        for _ in 0..MAX_SPARES + 5 {
            put(BytesMut::with_capacity(64));
        }
        let kept = std::iter::from_fn(|| Some(take()))
            .take_while(|b| b.capacity() > 0)
            .count();
        assert_eq!(kept, MAX_SPARES);
    }

    #[test]
    fn a_buffer_advanced_to_its_end_is_kept_whole() {
        let mut buf = BytesMut::with_capacity(256);
        buf.extend_from_slice(&[1; 200]);
        bytes::Buf::advance(&mut buf, 200);
        put(buf);
        assert!(take().capacity() >= 256);
    }
}
