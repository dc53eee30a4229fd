//! Masking (RFC 6455 §5.3): `out[i] = in[i] XOR key[i mod 4]`, applied a
//! 32-byte block at a time so the compiler can use vector registers, with no
//! `unsafe`.

/// XORs `buf` in place with the masking key, as if `buf` began `offset` bytes
/// into the payload.
///
/// The same call masks and unmasks (R-MK-06). `offset` lets a payload that
/// arrives in pieces be unmasked piece by piece.
///
/// # Examples
///
/// ```
/// use sockeye_proto::frame::apply_mask;
///
/// // RFC 6455 §5.7: "Hello" masked with 37 fa 21 3d.
/// let mut data = *b"Hello";
/// apply_mask(&mut data, [0x37, 0xfa, 0x21, 0x3d], 0);
/// assert_eq!(data, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
/// apply_mask(&mut data[..2], [0x37, 0xfa, 0x21, 0x3d], 0);
/// apply_mask(&mut data[2..], [0x37, 0xfa, 0x21, 0x3d], 2);
/// assert_eq!(&data, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate(key, offset);
    let key64 = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    if buf.len() < 32 {
        // Short payloads (most requests) a word at a time as well: fewer
        // stores, and a reader of whole words right after (the UTF-8
        // check) gets them forwarded rather than waiting for eight byte
        // stores to land.
        let mut words = buf.chunks_exact_mut(8);
        for lane in &mut words {
            mask_word(lane, key64);
        }
        mask_bytes(words.into_remainder(), key);
        return;
    }
    let mut blocks = buf.chunks_exact_mut(32);
    for block in &mut blocks {
        // Four independent u64 lanes: LLVM turns this into two SSE2 or one
        // AVX2 XOR per block. Every 8-byte lane starts at a multiple of 4
        // bytes from the payload start, so the key lines up in each.
        for lane in block.chunks_exact_mut(8) {
            mask_word(lane, key64);
        }
    }
    // The tail starts at a multiple of 32, so the key is still aligned.
    mask_bytes(blocks.into_remainder(), key);
}

/// XORs one 8-byte lane with the key repeated twice.
#[inline]
fn mask_word(lane: &mut [u8], key64: u64) {
    let word = u64::from_ne_bytes(lane.try_into().unwrap_or([0; 8])) ^ key64;
    lane.copy_from_slice(&word.to_ne_bytes());
}

/// The key as seen from `offset` bytes into the payload.
#[inline]
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let mut k = key;
    k.rotate_left(offset % 4);
    k
}

/// The byte-at-a-time form, for short buffers and the tail.
#[inline]
fn mask_bytes(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(i + offset) % 4];
        }
    }

    proptest! {
        #[test]
        fn word_masking_agrees_with_bytewise(
            data in proptest::collection::vec(any::<u8>(), 0..300),
            key in any::<[u8; 4]>(),
            offset in 0usize..16,
        ) {
            let mut fast = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key, offset);
            reference(&mut slow, key, offset);
            prop_assert_eq!(&fast, &slow);
            apply_mask(&mut fast, key, offset);
            prop_assert_eq!(fast, data);
        }

        #[test]
        fn masking_in_pieces_equals_masking_whole(
            data in proptest::collection::vec(any::<u8>(), 0..200),
            key in any::<[u8; 4]>(),
            split in 0usize..200,
        ) {
            let split = split.min(data.len());
            let mut whole = data.clone();
            apply_mask(&mut whole, key, 0);
            let mut parts = data;
            let (a, b) = parts.split_at_mut(split);
            apply_mask(a, key, 0);
            apply_mask(b, key, split);
            prop_assert_eq!(parts, whole);
        }
    }
}
