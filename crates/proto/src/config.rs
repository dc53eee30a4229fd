//! Limits and switches for one connection.

/// Settings for a [`Connection`](crate::Connection) and its handshake.
///
/// A plain struct: start from [`Config::default()`] and change the fields you
/// need. Every limit guards memory or CPU against a hostile peer; each field
/// says its default and why.
///
/// # Examples
///
/// ```
/// use sockeye_proto::Config;
///
/// let config = Config {
///     max_message_size: 1 << 20,
///     ..Config::default()
/// };
/// assert_eq!(config.max_frame_size, 16 << 20);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The largest frame payload accepted, in bytes. Default: 16 MiB.
    ///
    /// Checked against the length a frame header declares, before any of its
    /// payload is buffered, so a header that claims 2^63 bytes is refused at
    /// once with 1009 (R-LM-01). A frame of a compressed message may be a
    /// little longer, by deflate's worst-case expansion: see
    /// [`Config::max_compressed_frame_size`].
    pub max_frame_size: usize,
    /// The largest message accepted, in bytes, all fragments together.
    /// Default: 16 MiB.
    ///
    /// This bounds the memory one connection can be made to hold for a
    /// message (R-LM-01): a breach fails the connection with 1009 as soon as
    /// a frame header announces it, not after buffering, and in a compressed
    /// message as soon as the inflated bytes pass it. 16 MiB is the size of
    /// the largest messages the `Autobahn` `TestSuite` sends (9.x); between the 64
    /// KiB that breaks ordinary apps and the 64 MiB that invites exhaustion.
    pub max_message_size: usize,
    /// The most frames one message may arrive in, or `None` for no cap.
    /// Default: `None`.
    ///
    /// Fragments are copied into one buffer as they arrive, so their count
    /// costs no memory beyond `max_message_size`; set a cap only to refuse
    /// peers that trickle data in tiny frames. A cap must allow at least
    /// 65 536 to pass a 4 MiB message in 64-byte fragments (Autobahn 9.3.1).
    pub max_fragments: Option<usize>,
    /// Whether a server accepts unmasked frames from a client. Default: `false`.
    ///
    /// RFC 6455 §5.1 requires the server to fail such a connection (R-MK-02);
    /// turn this on only for known non-conforming peers.
    pub accept_unmasked_frames: bool,
    /// Whether a payload length that is not minimally encoded fails the
    /// connection with 1002. Default: `true`.
    ///
    /// RFC 6455 §5.2 requires senders to use the shortest form (R-FR-04) but
    /// gives receivers no rule; strict is the safer reading.
    pub strict_length_encoding: bool,
    /// The largest opening-handshake head (request or response line plus
    /// headers), in bytes. Default: 16 KiB.
    ///
    /// A server answers a larger request with 431; a client fails. Large
    /// enough for browsers with many cookies, small enough that an idle
    /// handshake cannot pin much memory.
    pub max_handshake_size: usize,
    /// The most header fields an opening handshake may carry. Default: 64.
    ///
    /// A server answers more with 431. Browsers send about 15.
    pub max_headers: usize,
    /// The largest frame this end sends, or `None` to send each message in
    /// one frame. Default: `None`.
    ///
    /// Larger messages go out in fragments of this size (RFC 6455 §5.4), for
    /// peers or intermediaries with a small frame limit. The fragments are
    /// slices of the message, not copies.
    pub max_send_frame_size: Option<usize>,
    /// permessage-deflate (RFC 7692): offered by a client and accepted by a
    /// server when `Some`. Default: `None`.
    ///
    /// Off by default in the engine: compression costs CPU and, per
    /// connection that keeps its context, about 300 KiB of zlib state once
    /// used. The tokio layer turns it on for clients by default.
    pub deflate: Option<crate::deflate::DeflateConfig>,
}

impl Config {
    /// The largest frame payload accepted in a compressed message
    /// (permessage-deflate, RFC 7692), in bytes.
    ///
    /// A peer's compressor may lengthen data it cannot compress: stored
    /// blocks add 5 bytes per block, fixed Huffman codes up to one bit per
    /// byte. A message of exactly [`max_message_size`](Config::max_message_size)
    /// must still pass whatever a zlib-style compressor made of it, so a compressed
    /// frame is allowed deflate's worst-case output for the largest payload
    /// it may carry, the smaller of `max_frame_size` and `max_message_size`,
    /// and never less than `max_frame_size`. The bound is zlib's conservative
    /// one, `n + n/8 + n/64 + 5` rounded up: 18.25 MiB for the 16 MiB defaults.
    /// The inflated message is still held to `max_message_size` as it is
    /// produced, so memory stays bounded by the two limits.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_proto::Config;
    ///
    /// let config = Config::default();
    /// assert_eq!(config.max_compressed_frame_size(), (16 << 20) + (2 << 20) + (256 << 10) + 5);
    ///
    /// let small_frames = Config { max_frame_size: 1 << 20, ..Config::default() };
    /// assert_eq!(small_frames.max_compressed_frame_size(), (1 << 20) + (128 << 10) + (16 << 10) + 5);
    /// ```
    pub fn max_compressed_frame_size(&self) -> usize {
        let carried = self.max_frame_size.min(self.max_message_size);
        deflate_bound(carried).max(self.max_frame_size)
    }
}

/// The most bytes deflate can turn `len` bytes into: zlib's conservative
/// bound for any level, window and memory setting (`deflateBound` without
/// the zlib wrapper), saturating.
fn deflate_bound(len: usize) -> usize {
    len.saturating_add(len.div_ceil(8))
        .saturating_add(len.div_ceil(64))
        .saturating_add(5)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            max_fragments: None,
            accept_unmasked_frames: false,
            strict_length_encoding: true,
            max_handshake_size: 16 << 10,
            max_headers: 64,
            max_send_frame_size: None,
            deflate: None,
        }
    }
}
