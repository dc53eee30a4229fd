//! The sending side of permessage-deflate: compresses whole messages
//! (RFC 7692 §7.2.1).

use bytes::Bytes;
use flate2::{Compress, Compression, FlushCompress};

use super::negotiation::{DeflateConfig, MIN_COMPRESS_BITS, PerMessageDeflate};
use super::shared::{TAIL, with_shared_compressor};
use crate::role::Role;

/// Up to this size a message sent without context takeover goes out as
/// stored (uncompressed) DEFLATE blocks without calling zlib: deflate saves
/// almost nothing on so few bytes (a 100-byte JSON message shrinks by 2%),
/// and resetting a zlib stream for each message costs several microseconds.
pub(super) const STORED_MAX: usize = 256;

/// The largest stored block (RFC 1951 §3.2.4: a 16-bit length).
const STORED_BLOCK: usize = 0xffff;

/// This end's compression state, its zlib stream created on first use.
#[derive(Debug)]
pub(crate) struct Compressor {
    level: u32,
    min_size: usize,
    /// Our window in bits, at least 9; `None` if the peer allows only 8,
    /// in which case we never compress (always allowed, PMD-04).
    bits: Option<u8>,
    /// Every message starts with an empty window (our
    /// `*_no_context_takeover` was agreed): the thread's shared compressor
    /// serves, and `stream` stays `None`.
    reset: bool,
    /// Our own stream, for an end that keeps its context between messages.
    stream: Option<Box<Compress>>,
}

impl Compressor {
    pub(super) fn new(role: Role, agreed: PerMessageDeflate, config: &DeflateConfig) -> Self {
        let bits = agreed.window_bits(role);
        Compressor {
            level: config.level.min(9),
            min_size: config.min_size,
            bits: (bits >= MIN_COMPRESS_BITS).then_some(bits),
            reset: agreed.no_context_takeover(role),
            stream: None,
        }
    }

    /// Compresses a whole message, or returns `None` to send it as it is.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Option<Bytes> {
        let bits = self.bits?;
        if payload.len() < self.min_size {
            return None;
        }
        if payload.is_empty() {
            // An empty stored block's first byte: with the tail the peer
            // appends it is a whole block, so the peer's inflater stays in
            // step. (zlib emits nothing for an empty sync flush.)
            return Some(Bytes::from_static(&[0x00]));
        }
        if self.reset && payload.len() <= STORED_MAX {
            return Some(stored_message(payload));
        }
        let compressed = self.deflate(payload, bits);
        // Incompressible data comes out larger (zlib's fastest level codes
        // random bytes with fixed Huffman codes: +5.5%), and a peer whose
        // limit counts wire bytes would refuse a message that fits it. It
        // goes out in stored blocks instead: 5 bytes more per 64 KiB. The
        // peer's window then holds the same bytes as the compressor's, so a
        // compressor that keeps context goes on as it is.
        if compressed.len() > stored_len(payload.len()) {
            return Some(stored_message(payload));
        }
        Some(compressed)
    }

    /// Runs zlib over `payload`: with the thread's shared compressor when
    /// every message starts afresh, else with our own, made on first use.
    fn deflate(&mut self, payload: &[u8], bits: u8) -> Bytes {
        let level = self.level;
        if self.reset {
            return with_shared_compressor(level, bits, |compressor| {
                deflate_message(compressor, payload)
            });
        }
        let compressor = self.stream.get_or_insert_with(|| {
            Box::new(Compress::new_with_window_bits(
                Compression::new(level),
                false,
                bits,
            ))
        });
        deflate_message(compressor, payload)
    }
}

/// The length of [`stored_message`] for a payload of `len` bytes.
pub(super) fn stored_len(len: usize) -> usize {
    len + len.div_ceil(STORED_BLOCK).max(1) * 5 + 1
}

/// A message as stored DEFLATE blocks (RFC 1951 §3.2.4) plus the first byte
/// of the empty block that the receiver's `00 00 ff ff` completes. The
/// receiver's window takes these bytes as they are, as a compressor's that
/// consumed them does.
fn stored_message(payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(stored_len(payload.len()));
    for block in payload.chunks(STORED_BLOCK) {
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        // BFINAL=0, BTYPE=00 (stored), then padding to the byte boundary.
        out.push(0x00);
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.push(0x00);
    Bytes::from(out)
}

/// Compresses `payload` with a sync flush and removes the `00 00 ff ff`
/// tail (PMD-20).
fn deflate_message(compressor: &mut Compress, payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() / 2 + 64);
    let start_in = compressor.total_in();
    loop {
        let consumed = usize::try_from(compressor.total_in() - start_in).unwrap_or(usize::MAX);
        let input = payload.get(consumed..).unwrap_or(&[]);
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(1024));
        }
        // Errors come only from misuse of the stream, which this loop avoids.
        let _ = compressor.compress_vec(input, &mut out, FlushCompress::Sync);
        let consumed = usize::try_from(compressor.total_in() - start_in).unwrap_or(usize::MAX);
        // A sync flush is complete once all input is taken and zlib left
        // room in the output.
        if consumed >= payload.len() && out.len() < out.capacity() {
            break;
        }
    }
    if out.ends_with(&TAIL) {
        out.truncate(out.len() - TAIL.len());
    }
    Bytes::from(out)
}
