//! permessage-deflate (RFC 7692): negotiation and the compression of messages.
//!
//! Negotiation happens in the opening handshake: a client offers with
//! [`DeflateConfig::offer`], a server picks an offer with
//! [`DeflateConfig::negotiate`] and answers with
//! [`PerMessageDeflate::response`], and the client checks that answer with
//! [`DeflateConfig::accept_response`]. Both ends then pass the agreed
//! [`PerMessageDeflate`] to [`Connection::with_deflate`](crate::Connection::with_deflate).
//!
//! Compressor and decompressor state is created on first use, so a
//! connection that negotiated the extension but exchanges only small or
//! uncompressed messages costs nothing extra. An end that starts every
//! message with an empty window (its `*_no_context_takeover` was agreed)
//! compresses with one compressor per thread shared by all such
//! connections, and whole messages from a peer that does the same are
//! inflated with one decompressor per thread: 10 000 such connections hold
//! no zlib state at all while idle.
//!
//! The module is four files. `negotiation` holds the offer, the answer and
//! the agreed parameters; `shared` the sync-flush tail and the per-thread
//! zlib streams. On top of both sit `compress`, the sending side, and
//! `inflate`, the receiving side with its limits. A connection holds the
//! two sides together in one `Deflate`.

use crate::role::Role;

mod compress;
mod inflate;
mod negotiation;
mod shared;

pub(crate) use compress::Compressor;
pub(crate) use inflate::Inflater;
pub use negotiation::{DeflateConfig, EXTENSION_NAME, PerMessageDeflate};

/// A connection's permessage-deflate state: the agreed parameters and
/// both directions' codecs, each creating its zlib stream when first
/// needed. A connection keeps it boxed, and only once the extension was
/// agreed.
#[derive(Debug)]
pub(crate) struct Deflate {
    agreed: PerMessageDeflate,
    /// Our messages, compressed as they are sent.
    pub(crate) compressor: Compressor,
    /// The peer's messages, inflated as their frames arrive.
    pub(crate) inflater: Inflater,
}

impl Deflate {
    pub(crate) fn new(role: Role, agreed: PerMessageDeflate, config: &DeflateConfig) -> Self {
        Deflate {
            agreed,
            compressor: Compressor::new(role, agreed, config),
            inflater: Inflater::new(role, agreed),
        }
    }

    pub(crate) fn agreed(&self) -> &PerMessageDeflate {
        &self.agreed
    }
}

#[cfg(test)]
mod tests {
    use super::compress::{STORED_MAX, stored_len};
    use super::negotiation::tests::agreed;
    use super::*;
    use crate::error::Error;

    #[test]
    fn compress_then_inflate_across_messages() {
        let (s, c) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut tx = Deflate::new(Role::Client, c, &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
        let msg = b"{\"hello\":\"world\",\"n\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}".repeat(4);
        for _ in 0..3 {
            let wire = tx.compressor.compress(&msg).expect("compressed");
            assert!(wire.len() < msg.len());
            let back = rx.inflater.inflate_whole(&wire, 1 << 20, None).unwrap();
            assert_eq!(&back[..], &msg[..]);
        }
    }

    #[test]
    fn pmd_26_vectors() {
        let (s, _) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Client, s, &DeflateConfig::default());
        let hello = rx
            .inflater
            .inflate_whole(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100, None)
            .unwrap();
        assert_eq!(&hello[..], b"Hello");
        let again = rx
            .inflater
            .inflate_whole(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100, None)
            .unwrap();
        assert_eq!(&again[..], b"Hello");
        let stored = rx
            .inflater
            .inflate_whole(
                &[
                    0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
                ],
                100,
                None,
            )
            .unwrap();
        assert_eq!(&stored[..], b"Hello");
        let bfinal = rx
            .inflater
            .inflate_whole(&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00], 100, None)
            .unwrap();
        assert_eq!(&bfinal[..], b"Hello");
        assert!(
            rx.inflater
                .inflate_whole(&[0x00], 100, None)
                .unwrap()
                .is_empty()
        );
        assert!(
            rx.inflater
                .inflate_whole(&[], 100, None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn empty_messages_keep_both_windows_in_step() {
        let (s, c) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut tx = Deflate::new(Role::Client, c, &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
        for m in [&b"a"[..], b"", b"b", b"", b"", b"cc", b"cc"] {
            let wire = tx.compressor.compress(m).expect("compressed");
            assert_eq!(&rx.inflater.inflate_whole(&wire, 100, None).unwrap()[..], m);
        }
        // A zero-length payload from a peer is an empty message too.
        assert!(
            rx.inflater
                .inflate_whole(&[], 100, None)
                .unwrap()
                .is_empty()
        );
        let wire = tx.compressor.compress(b"after").unwrap();
        assert_eq!(
            &rx.inflater.inflate_whole(&wire, 100, None).unwrap()[..],
            b"after"
        );
    }

    #[test]
    fn small_messages_without_context_takeover_go_as_stored_blocks() {
        let lean = DeflateConfig {
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        let (s, c) = agreed(&lean, &DeflateConfig::default());
        assert!(s.server_no_context_takeover);
        let mut tx = Deflate::new(Role::Server, s, &lean);
        let mut rx = Deflate::new(Role::Client, c, &DeflateConfig::default());
        for m in [&b"x"[..], b"{\"a\":1}", &[7u8; 256], &[9u8; 257], b"again"] {
            let wire = tx.compressor.compress(m).expect("compressed");
            if m.len() <= STORED_MAX {
                assert_eq!(wire.len(), m.len() + 6);
            }
            assert_eq!(
                &rx.inflater.inflate_whole(&wire, 1000, None).unwrap()[..],
                m
            );
        }
    }

    /// Random bytes: zlib's level 1 makes them 5% longer, so they go out in
    /// stored blocks, 5 bytes per 64 KiB, with or without context
    /// takeover, and the windows stay in step.
    #[test]
    fn incompressible_messages_go_as_stored_blocks() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let random: Vec<u8> = (0..200_000)
            .map(|_| {
                // xorshift64
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[3]
            })
            .collect();
        let text = b"compressible text, again and again. ".repeat(100);
        for lean in [false, true] {
            let config = DeflateConfig {
                client_no_context_takeover: lean,
                ..DeflateConfig::default()
            };
            let (s, c) = agreed(&DeflateConfig::default(), &config);
            let mut tx = Deflate::new(Role::Client, c, &config);
            let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
            for _ in 0..2 {
                let wire = tx.compressor.compress(&text).expect("compressed");
                assert!(wire.len() < text.len() / 4);
                assert_eq!(
                    &rx.inflater.inflate_whole(&wire, 1 << 20, None).unwrap()[..],
                    text
                );
                let wire = tx.compressor.compress(&random).expect("compressed");
                assert_eq!(
                    wire.len(),
                    stored_len(random.len()),
                    "context takeover: {}",
                    !lean
                );
                assert_eq!(
                    &rx.inflater.inflate_whole(&wire, 1 << 20, None).unwrap()[..],
                    random
                );
            }
        }
    }

    #[test]
    fn pmd_27_bomb_stops_at_the_limit() {
        let (s, c) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let strong = DeflateConfig {
            level: 9,
            ..DeflateConfig::default()
        };
        let mut tx = Deflate::new(Role::Client, c, &strong);
        let zeros = vec![0u8; 8 << 20];
        let wire = tx.compressor.compress(&zeros).unwrap();
        assert!(wire.len() < 64 << 10, "{}", wire.len());
        let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
        let err = rx.inflater.inflate_whole(&wire, 1 << 20, None).unwrap_err();
        assert!(matches!(err, Error::MessageTooBig { limit, .. } if limit == 1 << 20));
    }

    #[test]
    fn pmd_27_corrupt_stream_is_1007() {
        let (s, _) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Client, s, &DeflateConfig::default());
        let err = rx
            .inflater
            .inflate_whole(&[0xff, 0xff, 0xff, 0xff], 100, None)
            .unwrap_err();
        assert_eq!(err, Error::InvalidCompressedData);
        assert_eq!(err.close_code(), crate::CloseCode::INVALID_PAYLOAD);
    }
}
