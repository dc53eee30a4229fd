//! The queue of encoded frames waiting to be written to the transport.

use std::io::IoSlice;

use bytes::{Buf, Bytes};

use crate::frame::FrameHeader;
use crate::queue::Queue;
use crate::spare;

/// Bytes ready to be written to the peer, in order.
///
/// Implements [`Buf`]: write [`chunk`](Buf::chunk) or
/// [`chunks_vectored`](Buf::chunks_vectored) to the transport, then
/// [`advance`](Buf::advance) by what was written. Everything queued between
/// two drains leaves together, so one write carries every frame that one read
/// caused.
///
/// An empty output is one pointer: the queue behind it (its buffers and
/// their bookkeeping) goes back to this thread's spares once everything is
/// written, and the next write on the thread, on any connection, takes it
/// again. An idle connection holds no write state.
#[derive(Debug, Default)]
pub struct Output {
    /// `None` while nothing is waiting.
    queue: Option<Box<Queue>>,
}

impl Output {
    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.queue.as_ref().map_or(0, |queue| queue.len())
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.queue.is_none()
    }

    /// The queue, taken from the thread's spares if there is none.
    fn queue(&mut self) -> &mut Queue {
        self.queue.get_or_insert_with(spare::take)
    }

    /// Queues one frame: its header, then its payload, masked if the header
    /// carries a key.
    pub(crate) fn push_frame(&mut self, header: &FrameHeader, payload: Bytes) {
        self.queue().push_frame(header, payload);
    }

    /// Queues one frame shorter than the copy threshold whose payload is
    /// `parts` one after the other, copied next to its header.
    pub(crate) fn push_small_frame<'a>(
        &mut self,
        header: &FrameHeader,
        parts: impl Iterator<Item = &'a [u8]>,
    ) {
        self.queue().push_small_frame(header, parts);
    }

    /// Appends bytes already encoded as frames (see
    /// [`Connection::send_raw`](crate::Connection::send_raw)).
    pub(crate) fn push_encoded(&mut self, frames: Bytes) {
        if !frames.is_empty() {
            self.queue().push_encoded(frames);
        }
    }
}

impl Buf for Output {
    fn remaining(&self) -> usize {
        self.len()
    }

    fn chunk(&self) -> &[u8] {
        self.queue.as_deref().map_or(&[], Queue::chunk)
    }

    fn advance(&mut self, cnt: usize) {
        let Some(queue) = self.queue.as_deref_mut() else {
            assert!(cnt == 0, "advanced past the end of the output");
            return;
        };
        assert!(cnt <= queue.len(), "advanced past the end of the output");
        queue.advance(cnt);
        if queue.len() == 0
            && let Some(queue) = self.queue.take()
        {
            spare::put(queue);
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.queue
            .as_deref()
            .map_or(0, |queue| queue.chunks_vectored(dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::OpCode;

    fn header(len: usize, key: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            masking_key: key,
            payload_len: len as u64,
        }
    }

    fn drain(out: &mut Output) -> Vec<u8> {
        let mut all = Vec::new();
        while out.has_remaining() {
            let c = out.chunk().to_vec();
            out.advance(c.len());
            all.extend(c);
        }
        all
    }

    #[test]
    fn small_frames_coalesce_into_one_chunk() {
        let mut out = Output::default();
        for _ in 0..10 {
            out.push_frame(&header(3, None), Bytes::from_static(b"abc"));
        }
        assert_eq!(out.chunk().len(), 50);
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(out.chunks_vectored(&mut slices), 1);
    }

    #[test]
    fn large_payloads_are_queued_by_reference() {
        let payload = Bytes::from(vec![7u8; 4096]);
        let mut out = Output::default();
        out.push_frame(&header(4096, None), payload.clone());
        out.push_frame(&header(1, None), Bytes::from_static(b"z"));
        let mut slices = [IoSlice::new(&[]); 4];
        assert_eq!(out.chunks_vectored(&mut slices), 3);
        assert_eq!(slices[1].as_ptr(), payload.as_ptr());
        let wire = drain(&mut out);
        assert_eq!(wire.len(), 4 + 4096 + 3);
        assert!(out.is_empty());
    }

    #[test]
    fn r_mk_07_masking_never_changes_a_shared_payload() {
        let payload = Bytes::from(vec![0u8; 2000]);
        let mut out = Output::default();
        out.push_frame(&header(2000, Some([1, 2, 3, 4])), payload.clone());
        assert!(payload.iter().all(|&b| b == 0));
        let wire = drain(&mut out);
        assert_eq!(&wire[8..12], &[1, 2, 3, 4]);
    }

    #[test]
    fn partial_advance_keeps_order() {
        let mut out = Output::default();
        out.push_frame(&header(2000, None), Bytes::from(vec![1u8; 2000]));
        out.push_frame(&header(2, None), Bytes::from_static(b"hi"));
        let total = out.len();
        out.advance(3);
        let rest = drain(&mut out);
        assert_eq!(rest.len(), total - 3);
        assert_eq!(&rest[rest.len() - 2..], b"hi");
    }

    #[test]
    fn an_empty_output_is_one_pointer_and_a_drained_one_holds_nothing() {
        assert_eq!(std::mem::size_of::<Output>(), std::mem::size_of::<usize>());
        let mut out = Output::default();
        out.push_frame(&header(3, None), Bytes::from_static(b"abc"));
        assert!(out.queue.is_some());
        assert_eq!(drain(&mut out).len(), 5);
        assert!(out.queue.is_none());
        assert!(out.is_empty());
        assert_eq!(out.chunk(), b"");
        out.advance(0);
    }

    #[test]
    fn the_next_output_on_the_thread_reuses_the_drained_queue() {
        let mut first = Output::default();
        first.push_frame(&header(3, None), Bytes::from_static(b"abc"));
        let at = first.chunk().as_ptr();
        drain(&mut first);
        let mut second = Output::default();
        second.push_frame(&header(2, None), Bytes::from_static(b"hi"));
        assert_eq!(second.chunk().as_ptr(), at, "the same buffer");
        assert_eq!(drain(&mut second), b"\x82\x02hi");
    }
}
