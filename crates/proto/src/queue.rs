//! The frames of an [`Output`](crate::Output) while any are waiting: small
//! ones coalesced in one buffer, large payloads queued by reference.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

use crate::frame::{FrameHeader, MAX_HEADER_LEN, apply_mask};

/// Payloads shorter than this are copied next to their header, so many small
/// frames leave in one contiguous chunk; longer ones are queued by reference
/// and go out with vectored writes, never copied (unless a client must mask a
/// shared buffer). 1 KiB is where a copy starts to cost more than an extra
/// iovec on these machines' loopback.
pub(crate) const COPY_THRESHOLD: usize = 1024;

/// The largest tail a queue keeps for reuse, in bytes: what small frames
/// coalesce into. A burst's larger buffer is freed, not pinned.
const MAX_KEPT_TAIL: usize = 4096;

/// The most chunk places a queue keeps for reuse.
const MAX_KEPT_CHUNKS: usize = 16;

/// Frames waiting to be written, in order.
#[derive(Debug, Default)]
pub(crate) struct Queue {
    /// Frozen chunks, in order before `tail`.
    chunks: VecDeque<Bytes>,
    /// Small frames being coalesced.
    tail: BytesMut,
    /// Total bytes in `chunks` and `tail`.
    len: usize,
}

impl Queue {
    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.len
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

    /// Makes room for `additional` bytes in the tail (a recycled queue
    /// usually has it already).
    fn reserve_tail(&mut self, additional: usize) {
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

impl Queue {
    /// The first bytes to write.
    pub(crate) fn chunk(&self) -> &[u8] {
        match self.chunks.front() {
            Some(chunk) => chunk,
            None => &self.tail,
        }
    }

    /// Drops the first `cnt` bytes, written.
    pub(crate) fn advance(&mut self, mut cnt: usize) {
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
    }

    /// Up to `dst.len()` chunks, in order.
    pub(crate) fn chunks_vectored<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
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

    /// Empties the queue for reuse, keeping a small tail's room and a
    /// short chunk list's; whether it is worth keeping at all.
    pub(crate) fn reset(&mut self) -> bool {
        self.len = 0;
        self.chunks.clear();
        if self.chunks.capacity() > MAX_KEPT_CHUNKS {
            self.chunks = VecDeque::new();
        }
        self.tail.clear();
        // Moves the start back to the beginning of the allocation (nothing
        // is copied: it is empty), so its whole capacity counts; a buffer
        // that cannot (it shares its allocation) keeps what it has.
        let _ = self.tail.try_reclaim(self.tail.capacity() + 1);
        if self.tail.capacity() > MAX_KEPT_TAIL {
            self.tail = BytesMut::new();
        }
        self.tail.capacity() > 0
    }
}
