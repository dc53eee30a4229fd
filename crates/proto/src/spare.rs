//! Each thread's spare write queues.
//!
//! A connection gives its queue back once everything is written, so an
//! idle connection holds none; the queue goes here instead, its small
//! buffer kept, and the next write on this thread (on any connection)
//! takes it back, so a steady exchange of small messages allocates no
//! write state at all. Only queues with small buffers are kept, and only a
//! few, so what a thread holds here is bounded.

use std::cell::RefCell;

use crate::queue::Queue;

/// The most spare queues one thread keeps: enough for the connections one
/// turn of a busy runtime writes to, few enough to be negligible (each
/// holds at most 4 KiB).
const MAX_SPARES: usize = 32;

thread_local! {
    /// Boxed: the allocation an `Output` points to is what is reused.
    #[expect(clippy::vec_box, reason = "the boxes are what is reused: an Output holds one")]
    static SPARES: RefCell<Vec<Box<Queue>>> = const { RefCell::new(Vec::new()) };
}

/// Keeps `queue` for a later [`take`], emptied, if its buffer is small and
/// this thread has room; frees it otherwise.
pub(crate) fn put(mut queue: Box<Queue>) {
    if !queue.reset() {
        return;
    }
    SPARES.with(|spares| {
        if let Ok(mut spares) = spares.try_borrow_mut()
            && spares.len() < MAX_SPARES
        {
            spares.push(queue);
        }
    });
}

/// A spare queue of this thread, or a new empty one.
#[expect(
    clippy::unnecessary_box_returns,
    reason = "an Output holds a box: reusing one saves its allocation"
)]
pub(crate) fn take() -> Box<Queue> {
    SPARES
        .with(|spares| spares.try_borrow_mut().ok().and_then(|mut s| s.pop()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::frame::{FrameHeader, OpCode};

    /// The header of a final binary frame of `len` bytes from a server.
    fn binary(len: usize) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            masking_key: None,
            payload_len: len as u64,
        }
    }

    /// A queue holding one binary frame of `len` bytes.
    #[expect(clippy::unnecessary_box_returns, reason = "spares are boxes")]
    fn queue_with(len: usize) -> Box<Queue> {
        let mut queue = take();
        queue.push_small_frame(&binary(len), std::iter::once(&vec![0; len][..]));
        queue
    }

    #[test]
    fn a_queue_comes_back_empty_with_its_buffer() {
        let queue = queue_with(100);
        let at = queue.chunk().as_ptr();
        put(queue);
        let again = take();
        assert_eq!(again.len(), 0);
        assert!(again.chunk().is_empty());
        assert_eq!(again.chunk().as_ptr(), at, "the same buffer");
        assert!(take().chunk().is_empty(), "only one was kept");
    }

    #[test]
    fn large_buffers_and_too_many_queues_are_not_kept() {
        while SPARES.with(|s| s.borrow_mut().pop()).is_some() {}
        let mut big = take();
        big.push_frame(&binary(5000), Bytes::from(vec![0; 5000]));
        for _ in 0..6 {
            big.push_small_frame(&binary(900), std::iter::once(&[0u8; 900][..]));
        }
        put(big);
        assert_eq!(
            SPARES.with(|s| s.borrow().len()),
            0,
            "a 5,400-byte tail is freed"
        );
        let queues: Vec<_> = (0..MAX_SPARES + 5).map(|_| queue_with(64)).collect();
        for queue in queues {
            put(queue);
        }
        assert_eq!(SPARES.with(|s| s.borrow().len()), MAX_SPARES);
    }
}
