//! How much a peer can make a packet decoder hold.

/// The deepest nesting of arrays and maps a decoded payload may have.
///
/// 128 is `serde_json`'s own recursion limit, which the JSON parser inherits; the msgpack
/// parser uses the same number so both refuse the same trees, and so that walking a decoded
/// tree (placeholders, re-encoding, dropping) never runs deep enough to exhaust a stack.
pub const MAX_DEPTH: usize = 128;

/// Limits a [`Decoder`](super::Decoder) enforces on what one peer sends.
///
/// Text and binary frames are already bounded by the Engine.IO layer's maximum payload; these
/// limits bound what a binary packet collects across frames.
///
/// # Examples
///
/// ```
/// use sockeye_io::parser::DecoderLimits;
///
/// let limits = DecoderLimits { max_attachment_bytes: 4 << 20, ..DecoderLimits::default() };
/// assert_eq!(limits.max_attachments, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderLimits {
    /// The most attachments one `BINARY_EVENT` or `BINARY_ACK` may announce.
    ///
    /// Default 10: `socket.io-parser`'s `maxAttachments` default, so we accept what a Node
    /// server accepts.
    pub max_attachments: usize,
    /// The most bytes the attachments of one packet may add up to.
    ///
    /// Default 1,000,000: Engine.IO's default maximum payload (Node's `maxHttpBufferSize`), so
    /// a packet with attachments holds no more than one message may. Set it to the engine's
    /// maximum payload when that is configured differently.
    pub max_attachment_bytes: usize,
}

impl Default for DecoderLimits {
    fn default() -> Self {
        Self {
            max_attachments: 10,
            max_attachment_bytes: 1_000_000,
        }
    }
}
