//! The receiving side of permessage-deflate: inflates messages as their
//! frames arrive (RFC 7692 §7.2.2), held to the message size limit and
//! checking text as it appears.

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};

use super::negotiation::{MIN_COMPRESS_BITS, PerMessageDeflate};
use super::shared::{TAIL, with_shared_decompressor};
use crate::error::Error;
use crate::role::Role;
use crate::utf8::Validator;

/// The most output room reserved at once while inflating, unless the
/// input left is larger.
const CHUNK: usize = 32 << 10;

/// The peer's compression as this end undoes it, its zlib stream created
/// on first use.
#[derive(Debug)]
pub(crate) struct Inflater {
    /// The peer's window in bits, at least 9: inflating with a larger
    /// window than the peer's is always safe.
    bits: u8,
    /// The peer starts every message with an empty window: a message that
    /// arrives in one frame is inflated by the thread's shared stream.
    reset: bool,
    /// Our own stream, for fragmented messages and for a peer that keeps
    /// its context between messages.
    stream: Option<Box<Decompress>>,
}

impl Inflater {
    pub(super) fn new(role: Role, agreed: PerMessageDeflate) -> Self {
        let peer = role.peer();
        Inflater {
            bits: agreed.window_bits(peer).max(MIN_COMPRESS_BITS),
            reset: agreed.no_context_takeover(peer),
            stream: None,
        }
    }

    /// Inflates a whole compressed message that arrived in one frame.
    pub(crate) fn inflate_whole(
        &mut self,
        payload: &[u8],
        limit: usize,
        text: Option<&mut Validator>,
    ) -> Result<Bytes, Error> {
        let mut out = Vec::new();
        if payload.is_empty() {
            // PMD-26: an empty payload is an empty message. Feeding the
            // inflater only the tail would leave it inside a stored block.
            return finish_text(text, true).map(|()| Bytes::new());
        }
        if self.reset && self.stream.is_none() {
            with_shared_decompressor(self.bits, |decompressor| {
                inflate_into(decompressor, payload, true, &mut out, limit, text)
            })?;
        } else {
            self.inflate_part(payload, true, &mut out, limit, text)?;
        }
        Ok(Bytes::from(out))
    }

    /// Inflates the next frame of a compressed message into `out`; `last`
    /// marks its final frame.
    pub(crate) fn inflate_part(
        &mut self,
        payload: &[u8],
        last: bool,
        out: &mut Vec<u8>,
        limit: usize,
        text: Option<&mut Validator>,
    ) -> Result<(), Error> {
        if payload.is_empty() && !last {
            return Ok(());
        }
        let bits = self.bits;
        let decompressor = self
            .stream
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        let result = inflate_into(decompressor, payload, last, out, limit, text);
        if result.is_err() {
            self.stream = None;
        } else if last && self.reset {
            // PMD-23: the peer starts afresh, so our window need not live on.
            self.stream = None;
        }
        result
    }
}

/// Inflates `input` (plus the tail, when `last`) into `out`, never letting
/// `out` grow past `limit` (PMD-27), and checks new text as it appears.
fn inflate_into(
    decompressor: &mut Decompress,
    input: &[u8],
    last: bool,
    out: &mut Vec<u8>,
    limit: usize,
    mut text: Option<&mut Validator>,
) -> Result<(), Error> {
    let pieces: [&[u8]; 2] = [input, if last { &TAIL } else { &[] }];
    for piece in pieces {
        if inflate_piece(decompressor, piece, out, limit, text.as_deref_mut())? {
            // PMD-25: a final block ends this stream; what follows is at
            // most our tail.
            decompressor.reset(false);
            break;
        }
    }
    finish_text(text, last)
}

/// Feeds one piece of input to zlib until it has taken all of it, and
/// checks the new text. Returns whether a final block ended the stream.
fn inflate_piece(
    decompressor: &mut Decompress,
    piece: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
    mut text: Option<&mut Validator>,
) -> Result<bool, Error> {
    let start_in = decompressor.total_in();
    loop {
        let consumed = usize::try_from(decompressor.total_in() - start_in).unwrap_or(usize::MAX);
        let rest = piece.get(consumed..).unwrap_or(&[]);
        let room = output_room(out.len(), limit, rest.len());
        if room == 0 {
            return Err(too_big(out, limit));
        }
        out.reserve_exact(room);
        let (before_out, before_in) = (out.len(), decompressor.total_in());
        let status = decompressor
            .decompress_vec(rest, out, FlushDecompress::Sync)
            .map_err(|_| Error::InvalidCompressedData)?;
        // PMD-27
        if out.len() > limit {
            return Err(too_big(out, limit));
        }
        if let Some(validator) = text.as_deref_mut() {
            validator
                .feed(&out[before_out..], false)
                .map_err(|_| Error::InvalidUtf8)?;
        }
        if status == Status::StreamEnd {
            return Ok(true);
        }
        let all_in = decompressor.total_in() - start_in >= piece.len() as u64;
        let progressed = out.len() > before_out || decompressor.total_in() > before_in;
        // Done once zlib took all the input and stopped short of
        // filling the room it had; stuck if it did nothing at all.
        if (all_in && out.len() < out.capacity()) || !progressed {
            return Ok(false);
        }
    }
}

/// The output room to reserve before the next call into zlib: what the
/// limit still allows plus one byte, so that a breach shows without the
/// output ever growing past it, and at most a chunk (or twice the input
/// left, if larger).
#[inline]
fn output_room(out_len: usize, limit: usize, input_left: usize) -> usize {
    limit
        .saturating_add(1)
        .saturating_sub(out_len)
        .min(CHUNK.max(input_left * 2))
}

/// The error for an inflated message that reached `limit` (PMD-27).
fn too_big(out: &[u8], limit: usize) -> Error {
    Error::MessageTooBig {
        size: out.len() as u64,
        limit,
    }
}

/// Ends the check of a text message after its last frame: a message may
/// not stop inside a UTF-8 sequence.
fn finish_text(text: Option<&mut Validator>, last: bool) -> Result<(), Error> {
    match text {
        Some(validator) if last => validator.feed(&[], true).map_err(|_| Error::InvalidUtf8),
        _ => Ok(()),
    }
}
