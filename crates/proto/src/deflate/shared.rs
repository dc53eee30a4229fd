//! What the compressor and the inflater share: the tail a sync flush ends
//! with, and the zlib streams each thread keeps for ends without context
//! takeover.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress};

/// The four bytes a sync flush ends with, removed before sending and
/// appended before inflating (RFC 7692 §7.2.1, §7.2.2).
pub(super) const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

thread_local! {
    /// Compressors for ends without context takeover, by (level, bits):
    /// each message starts from a reset state, so any connection on this
    /// thread can use them in turn.
    static SHARED_COMPRESSORS: RefCell<Vec<((u32, u8), Compress)>> = const { RefCell::new(Vec::new()) };
    /// Decompressors for whole messages from peers without context takeover.
    static SHARED_DECOMPRESSORS: RefCell<Vec<(u8, Decompress)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's compressor for `level` and `bits`, made on
/// first use, and resets it afterwards so the next message, from any
/// connection, starts with an empty window.
pub(super) fn with_shared_compressor<R>(
    level: u32,
    bits: u8,
    f: impl FnOnce(&mut Compress) -> R,
) -> R {
    SHARED_COMPRESSORS.with(|shared| {
        let mut shared = shared.borrow_mut();
        let compressor = shared_slot(&mut shared, (level, bits), || {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let out = f(compressor);
        compressor.reset();
        out
    })
}

/// Runs `f` with this thread's decompressor for a `bits` window, made on
/// first use, and resets it afterwards, whatever `f` made of the stream.
pub(super) fn with_shared_decompressor<R>(bits: u8, f: impl FnOnce(&mut Decompress) -> R) -> R {
    SHARED_DECOMPRESSORS.with(|shared| {
        let mut shared = shared.borrow_mut();
        let decompressor = shared_slot(&mut shared, bits, || {
            Decompress::new_with_window_bits(false, bits)
        });
        let out = f(decompressor);
        decompressor.reset(false);
        out
    })
}

/// The entry for `key` in a thread's small list of shared zlib streams,
/// made on first use. The lists hold one entry per level and window size in
/// use, a handful at most.
fn shared_slot<K: PartialEq, V>(
    list: &mut Vec<(K, V)>,
    key: K,
    make: impl FnOnce() -> V,
) -> &mut V {
    let index = if let Some(index) = list.iter().position(|(k, _)| *k == key) {
        index
    } else {
        list.push((key, make()));
        list.len() - 1
    };
    &mut list[index].1
}
