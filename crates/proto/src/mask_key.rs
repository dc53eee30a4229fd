//! Masking keys for a client's frames: a fresh one from a CSPRNG for every
//! frame (R-MK-01, R-MK-05), taken from a per-thread block of the
//! generator's output, so that a frame's key costs a copy rather than a
//! call into the generator.

use std::cell::RefCell;

use rand::RngCore as _;

/// Bytes drawn from the generator at once: 16 keys.
const BLOCK: usize = 64;

/// Generator output not yet handed out.
struct Keys {
    block: [u8; BLOCK],
    /// Bytes of `block` already handed out (and wiped).
    used: usize,
}

thread_local! {
    static KEYS: RefCell<Keys> = const {
        RefCell::new(Keys {
            block: [0; BLOCK],
            used: BLOCK,
        })
    };
}

/// A fresh masking key: four bytes of the thread's CSPRNG
/// ([`rand::rng`], reseeded from the operating system), each handed out
/// once and wiped from the block as it is.
pub(crate) fn fresh() -> [u8; 4] {
    KEYS.with_borrow_mut(|keys| {
        if keys.used == BLOCK {
            rand::rng().fill_bytes(&mut keys.block);
            keys.used = 0;
        }
        let at = keys.used;
        let mut key = [0; 4];
        key.copy_from_slice(&keys.block[at..at + 4]);
        keys.block[at..at + 4].fill(0);
        keys.used += 4;
        key
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys differ from frame to frame, across refills, and are not the
    /// wiped zeros: 1,000 keys, all distinct (a repeat among 2^32 values
    /// would be a one-in-8,600 chance).
    #[test]
    fn r_mk_05_every_key_is_fresh() {
        let keys: Vec<[u8; 4]> = (0..1000).map(|_| fresh()).collect();
        let mut distinct = keys.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert!(distinct.len() >= 999, "keys repeat: {}", distinct.len());
        assert!(keys.iter().filter(|k| **k == [0; 4]).count() <= 1);
    }

    /// Another thread draws its own keys.
    #[test]
    fn threads_draw_their_own_keys() {
        let here: Vec<[u8; 4]> = (0..32).map(|_| fresh()).collect();
        let there = std::thread::spawn(|| (0..32).map(|_| fresh()).collect::<Vec<_>>())
            .join()
            .expect("the thread ran");
        assert_ne!(here, there);
    }
}
