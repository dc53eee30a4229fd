//! The queue of encoded frames waiting to be written to the transport.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{FrameHeader, MAX_HEADER_LEN, apply_mask};
use crate::spare;

/// Payloads shorter than this are copied next to their header, so many small
/// frames leave in one contiguous chunk; longer ones are queued by reference
/// and go out with vectored writes, never copied (unless a client must mask a
/// shared buffer). 1 KiB is where a copy starts to cost more than an extra
/// iovec on these machines' loopback.
pub(crate) const COPY_THRESHOLD: usize = 1024;

/// Bytes ready to be written to the peer, in order.
///
/// Implements [`Buf`]: write [`chunk`](Buf::chunk) or
/// [`chunks_vectored`](Buf::chunks_vectored) to the transport, then
/// [`advance`](Buf::advance) by what was written. Everything queued between
/// two drains leaves together, so one write carries every frame that one read
/// caused. An empty queue holds no buffer.
#[derive(Debug, Default)]
pub struct Output {
    /// Frozen chunks, in order before `tail`.
    chunks: VecDeque<Bytes>,
    /// Small frames being coalesced.
    tail: BytesMut,
    /// Total bytes in `chunks` and `tail`.
    len: usize,
}

impl Output {
    /// Bytes waiting to be written.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Queues one frame: its header, then its payload, masked if the header
    /// carries a key.
    pub(crate) fn push_frame(&mut self, header: &FrameHeader, payload: Bytes) {
        if payload.len() < COPY_THRESHOLD {
            self.push_small_frame(header, std::iter::once(&payload[..]));
        } else {
            let mut head = [0; MAX_HEADER_LEN];
            let head_len = header.encode(&mut head);
            self.len += head_len + payload.len();
            self.tail.extend_from_slice(&head[..head_len]);
            self.chunks.push_back(self.tail.split().freeze());
            let payload = match header.masking_key {
                None => payload,
                Some(key) => {
                    // R-MK-07: mask a private copy unless nobody else can see
                    // these bytes, so the caller's buffer never changes.
                    let mut owned = payload
                        .try_into_mut()
                        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                    apply_mask(&mut owned, key, 0);
                    owned.freeze()
                }
            };
            self.chunks.push_back(payload);
        }
    }

    /// Queues one frame shorter than [`COPY_THRESHOLD`] whose payload is
    /// `parts` one after the other, copied next to its header and masked
    /// there if the header carries a key.
    pub(crate) fn push_small_frame<'a>(
        &mut self,
        header: &FrameHeader,
        parts: impl Iterator<Item = &'a [u8]>,
    ) {
        let mut head = [0; MAX_HEADER_LEN];
        let head_len = header.encode(&mut head);
        let payload_len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        debug_assert!(payload_len < COPY_THRESHOLD);
        self.len += head_len + payload_len;
        self.reserve_tail(head_len + payload_len);
        self.tail.extend_from_slice(&head[..head_len]);
        let start = self.tail.len();
        for part in parts {
            self.tail.extend_from_slice(part);
        }
        if let Some(key) = header.masking_key {
            apply_mask(&mut self.tail[start..], key, 0);
        }
    }

    /// Makes room for `additional` bytes in the tail, starting from a spare
    /// buffer when the tail has none.
    fn reserve_tail(&mut self, additional: usize) {
        if self.tail.capacity() == 0 {
            self.tail = spare::take();
        }
        self.tail.reserve(additional);
    }

    /// Appends bytes already encoded as frames (see
    /// [`Connection::send_raw`](crate::Connection::send_raw)).
    pub(crate) fn push_encoded(&mut self, frames: Bytes) {
        if frames.is_empty() {
            return;
        }
        self.len += frames.len();
        if frames.len() < COPY_THRESHOLD {
            self.reserve_tail(frames.len());
            self.tail.extend_from_slice(&frames);
        } else {
            if !self.tail.is_empty() {
                self.chunks.push_back(self.tail.split().freeze());
            }
            self.chunks.push_back(frames);
        }
    }
}

impl Buf for Output {
    fn remaining(&self) -> usize {
        self.len
    }

    fn chunk(&self) -> &[u8] {
        match self.chunks.front() {
            Some(chunk) => chunk,
            None => &self.tail,
        }
    }

    fn advance(&mut self, mut cnt: usize) {
        assert!(cnt <= self.len, "advanced past the end of the output");
        self.len -= cnt;
        while cnt > 0 {
            if let Some(front) = self.chunks.front_mut() {
                if cnt >= front.len() {
                    cnt -= front.len();
                    self.chunks.pop_front();
                } else {
                    front.advance(cnt);
                    cnt = 0;
                }
            } else {
                self.tail.advance(cnt);
                cnt = 0;
            }
        }
        if self.len == 0 {
            // An idle connection keeps no write buffer: a small one goes
            // back to this thread's spares for the next write.
            self.chunks = VecDeque::new();
            spare::put(std::mem::take(&mut self.tail));
        }
    }

    fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for chunk in self.chunks.iter().map(|c| &c[..]).chain([&self.tail[..]]) {
            if n == dst.len() {
                break;
            }
            if !chunk.is_empty() {
                dst[n] = IoSlice::new(chunk);
                n += 1;
            }
        }
        n
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
}
