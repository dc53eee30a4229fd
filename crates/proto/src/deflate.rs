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

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::Error;
use crate::handshake::{ExtensionOffer, HandshakeError};
use crate::role::Role;
use crate::utf8::Validator;

/// The extension's registered name.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The four bytes a sync flush ends with, removed before sending and
/// appended before inflating (RFC 7692 §7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// zlib cannot compress with an 8-bit window (it uses 9), so the smallest
/// window this end can honour as a sender is 9 bits (PMD-15).
const MIN_COMPRESS_BITS: u8 = 9;

/// How one end wants permessage-deflate negotiated and used.
///
/// The same struct serves both roles; each field says what it means for a
/// client and for a server. Put it in
/// [`Config::deflate`](crate::Config::deflate) to offer (client) or accept
/// (server) the extension.
///
/// # Examples
///
/// ```
/// use sockeye_proto::DeflateConfig;
///
/// let config = DeflateConfig::default();
/// assert_eq!(config.offer(), "permessage-deflate; client_max_window_bits");
///
/// let lean = DeflateConfig {
///     client_no_context_takeover: true,
///     server_no_context_takeover: true,
///     ..DeflateConfig::default()
/// };
/// assert_eq!(
///     lean.offer(),
///     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
///      client_max_window_bits"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeflateConfig {
    /// The zlib compression level, 0 (store) to 9 (smallest). Default: 1.
    ///
    /// Level 1 gets most of the size reduction on the JSON and text that
    /// WebSocket applications send, at a fraction of level 6's CPU cost.
    pub level: u32,
    /// Messages shorter than this many bytes are sent uncompressed.
    /// Default: 0, every message is compressed.
    ///
    /// Uncompressed messages on a compressed connection are valid (RFC 7692
    /// §6), but some peers handle them badly, so nothing is left out unless
    /// asked. Below a few dozen bytes deflate's block overhead outweighs what
    /// it saves; a threshold also keeps short secrets out of compression
    /// (RFC 7692 §8).
    pub min_size: usize,
    /// Server: always reset the compression window between messages, and
    /// say so in the response; a client's request for it is honoured either
    /// way. Client: ask the server for it. Default: `false`.
    ///
    /// Without context takeover a server compresses with a compressor shared
    /// by all such connections on a thread, instead of ~256 KiB of zlib state
    /// per connection, at some cost in compression ratio.
    pub server_no_context_takeover: bool,
    /// Client: promise to reset the compression window between messages
    /// (sent as a hint in the offer). Server: require it of every client in
    /// the response; a client's own hint is confirmed either way.
    /// Default: `false`.
    ///
    /// Lets the receiving end inflate with a decompressor shared per thread.
    pub client_no_context_takeover: bool,
    /// Server: the largest window this end compresses with, 9–15; a client's
    /// smaller limit is honoured. Client: ask the server for at most this
    /// window (sent only when below 15). Default: 15.
    pub server_max_window_bits: u8,
    /// Client: the largest window this end compresses with, 9–15, sent in
    /// the offer when below 15 (the bare parameter is always sent, saying
    /// the client can honour a server's limit). Server: the window asked of
    /// clients that offer the parameter (sent when below 15). Default: 15.
    pub client_max_window_bits: u8,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        DeflateConfig {
            level: 1,
            min_size: 0,
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: 15,
            client_max_window_bits: 15,
        }
    }
}

/// The parameters both ends agreed on: the server's response (PMD-14).
///
/// Window sizes are in bits (8–15). An absent window parameter means 15
/// (PMD-13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the four RFC 7692 parameters and whether each window was stated"
)]
pub struct PerMessageDeflate {
    /// The server starts each message with an empty window.
    pub server_no_context_takeover: bool,
    /// The client starts each message with an empty window.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with.
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with.
    pub client_max_window_bits: u8,
    /// Whether the server wrote `server_max_window_bits` in its response.
    server_bits_sent: bool,
    /// Whether the server wrote `client_max_window_bits` in its response.
    client_bits_sent: bool,
}

impl PerMessageDeflate {
    /// The `Sec-WebSocket-Extensions` element a server answers with.
    ///
    /// # Examples
    ///
    /// ```
    /// use sockeye_proto::{DeflateConfig, handshake::ExtensionOffer};
    ///
    /// let offer = ExtensionOffer {
    ///     name: "permessage-deflate".into(),
    ///     params: vec![("server_max_window_bits".into(), Some("10".into()))],
    /// };
    /// let agreed = DeflateConfig::default().negotiate(&[offer]).unwrap();
    /// assert_eq!(agreed.response(), "permessage-deflate; server_max_window_bits=10");
    /// ```
    pub fn response(&self) -> String {
        let mut out = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        if self.server_bits_sent {
            let _ = write!(
                out,
                "; server_max_window_bits={}",
                self.server_max_window_bits
            );
        }
        if self.client_bits_sent {
            let _ = write!(
                out,
                "; client_max_window_bits={}",
                self.client_max_window_bits
            );
        }
        out
    }

    /// Whether `role`'s end resets its compression window per message.
    fn no_context_takeover(self, role: Role) -> bool {
        match role {
            Role::Client => self.client_no_context_takeover,
            Role::Server => self.server_no_context_takeover,
        }
    }

    /// The window `role`'s end compresses with.
    fn window_bits(self, role: Role) -> u8 {
        match role {
            Role::Client => self.client_max_window_bits,
            Role::Server => self.server_max_window_bits,
        }
    }
}

impl fmt::Display for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.response())
    }
}

/// The `client_max_window_bits` parameter as written.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum ClientBits {
    #[default]
    Absent,
    /// Present without a value: "I can honour a limit".
    Bare,
    Value(u8),
}

/// Parsed permessage-deflate parameters of one offer or response.
#[derive(Default)]
struct Params {
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    server_max_window_bits: Option<u8>,
    client_max_window_bits: ClientBits,
}

/// A window-bits value: 8–15 in decimal, no leading zeros (RFC 7692 §7.1.2).
fn window_bits(value: &str) -> Option<u8> {
    match value {
        "8" | "9" | "10" | "11" | "12" | "13" | "14" | "15" => value.parse().ok(),
        _ => None,
    }
}

/// Reads the parameters; `None` for an unknown or repeated parameter, or a
/// missing or invalid value (PMD-10, PMD-11).
fn parse_params(offer: &ExtensionOffer) -> Option<Params> {
    let mut params = Params::default();
    let mut seen = [false; 4];
    for (name, value) in &offer.params {
        let value = value.as_deref();
        let slot = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" => {
                value.is_none().then_some(())?;
                params.server_no_context_takeover = true;
                0
            }
            "client_no_context_takeover" => {
                value.is_none().then_some(())?;
                params.client_no_context_takeover = true;
                1
            }
            "server_max_window_bits" => {
                params.server_max_window_bits = Some(window_bits(value?)?);
                2
            }
            "client_max_window_bits" => {
                params.client_max_window_bits = match value {
                    None => ClientBits::Bare,
                    Some(v) => ClientBits::Value(window_bits(v)?),
                };
                3
            }
            _ => return None,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
    }
    Some(params)
}

impl DeflateConfig {
    fn checked_bits(bits: u8) -> u8 {
        bits.clamp(MIN_COMPRESS_BITS, 15)
    }

    /// The `Sec-WebSocket-Extensions` value a client offers.
    pub fn offer(&self) -> String {
        let mut out = String::from(EXTENSION_NAME);
        if self.server_no_context_takeover {
            out.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            out.push_str("; client_no_context_takeover");
        }
        let server_bits = Self::checked_bits(self.server_max_window_bits);
        if server_bits < 15 {
            let _ = write!(out, "; server_max_window_bits={server_bits}");
        }
        // The bare parameter says we can honour any limit the server sets.
        let client_bits = Self::checked_bits(self.client_max_window_bits);
        if client_bits < 15 {
            let _ = write!(out, "; client_max_window_bits={client_bits}");
        } else {
            out.push_str("; client_max_window_bits");
        }
        out
    }

    /// Server side: picks the first acceptable `permessage-deflate` offer
    /// (PMD-01) and returns the agreed parameters, or `None` to decline.
    ///
    /// Offers with unknown, repeated or invalid parameters are declined, and
    /// so is one that asks for `server_max_window_bits=8`, which zlib cannot
    /// honour (PMD-10, PMD-15). Declining never fails the handshake (PMD-02).
    pub fn negotiate(&self, offers: &[ExtensionOffer]) -> Option<PerMessageDeflate> {
        offers
            .iter()
            .filter(|offer| offer.name.eq_ignore_ascii_case(EXTENSION_NAME))
            .find_map(|offer| self.accept_offer(offer))
    }

    fn accept_offer(&self, offer: &ExtensionOffer) -> Option<PerMessageDeflate> {
        let params = parse_params(offer)?;
        let ours = Self::checked_bits(self.server_max_window_bits);
        let (server_max_window_bits, server_bits_sent) = match params.server_max_window_bits {
            // PMD-15: we cannot compress with a window below 9 bits.
            Some(asked) if asked < MIN_COMPRESS_BITS => return None,
            Some(asked) => (asked.min(ours), true),
            None => (ours, ours < 15),
        };
        let wanted = Self::checked_bits(self.client_max_window_bits);
        let (client_max_window_bits, client_bits_sent) = match params.client_max_window_bits {
            // The client can honour a limit: ask for ours if it is lower.
            ClientBits::Bare => (wanted, wanted < 15),
            // A client's own limit binds it; repeat the smaller one.
            ClientBits::Value(hint) => (hint.min(wanted), true),
            // Without the parameter we may not limit the client (PMD-11).
            ClientBits::Absent => (15, false),
        };
        Some(PerMessageDeflate {
            server_no_context_takeover: params.server_no_context_takeover
                || self.server_no_context_takeover,
            // A client's hint is confirmed (RFC 7692 §7.1.1.2), which lets
            // us inflate its messages with a shared decompressor.
            client_no_context_takeover: params.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            server_bits_sent,
            client_bits_sent,
        })
    }

    /// Client side: checks the server's answer to [`offer`](Self::offer)
    /// and returns the agreed parameters (PMD-11, PMD-12).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::InvalidExtensionResponse`] for an unknown,
    /// repeated or invalid parameter, a window larger than asked, or no
    /// `server_no_context_takeover` when it was asked for.
    pub fn accept_response(
        &self,
        response: &ExtensionOffer,
    ) -> Result<PerMessageDeflate, HandshakeError> {
        let invalid = HandshakeError::InvalidExtensionResponse;
        let params = parse_params(response).ok_or(invalid.clone())?;
        let asked_server_bits = Self::checked_bits(self.server_max_window_bits);
        let server_max_window_bits = match params.server_max_window_bits {
            Some(bits) if bits > asked_server_bits => return Err(invalid),
            Some(bits) => bits,
            None if asked_server_bits < 15 => return Err(invalid),
            None => 15,
        };
        let offered_client_bits = Self::checked_bits(self.client_max_window_bits);
        let client_max_window_bits = match params.client_max_window_bits {
            // A response must give the value (PMD-11), no larger than our hint.
            ClientBits::Bare => return Err(invalid),
            ClientBits::Value(bits) if bits > offered_client_bits => return Err(invalid),
            ClientBits::Value(bits) => bits,
            ClientBits::Absent => offered_client_bits,
        };
        // PMD-12: we asked for it and cannot do without it.
        if self.server_no_context_takeover && !params.server_no_context_takeover {
            return Err(invalid);
        }
        Ok(PerMessageDeflate {
            server_no_context_takeover: params.server_no_context_takeover,
            // Our hint binds us even when the server does not repeat it.
            client_no_context_takeover: params.client_no_context_takeover
                || self.client_no_context_takeover,
            server_max_window_bits,
            client_max_window_bits,
            server_bits_sent: params.server_max_window_bits.is_some(),
            client_bits_sent: params.client_max_window_bits != ClientBits::Absent,
        })
    }
}

// ---- the codec ----

thread_local! {
    /// Compressors for ends without context takeover, by (level, bits):
    /// each message starts from a reset state, so any connection on this
    /// thread can use them in turn.
    static SHARED_COMPRESSORS: RefCell<Vec<((u32, u8), Compress)>> = const { RefCell::new(Vec::new()) };
    /// Decompressors for whole messages from peers without context takeover.
    static SHARED_DECOMPRESSORS: RefCell<Vec<(u8, Decompress)>> = const { RefCell::new(Vec::new()) };
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

/// Per-connection deflate state, created lazily.
#[derive(Debug)]
pub(crate) struct Deflate {
    agreed: PerMessageDeflate,
    level: u32,
    min_size: usize,
    /// Our window in bits, at least 9; `None` if the peer allows only 8,
    /// in which case we never compress (always allowed, PMD-04).
    send_bits: Option<u8>,
    send_reset: bool,
    recv_bits: u8,
    recv_reset: bool,
    compressor: Option<Box<Compress>>,
    decompressor: Option<Box<Decompress>>,
}

impl Deflate {
    pub(crate) fn new(role: Role, agreed: PerMessageDeflate, config: &DeflateConfig) -> Self {
        let peer = role.peer();
        let send_bits = agreed.window_bits(role);
        Deflate {
            agreed,
            level: config.level.min(9),
            min_size: config.min_size,
            send_bits: (send_bits >= MIN_COMPRESS_BITS).then_some(send_bits),
            send_reset: agreed.no_context_takeover(role),
            // Inflating with a larger window is always safe.
            recv_bits: agreed.window_bits(peer).max(MIN_COMPRESS_BITS),
            recv_reset: agreed.no_context_takeover(peer),
            compressor: None,
            decompressor: None,
        }
    }

    pub(crate) fn agreed(&self) -> &PerMessageDeflate {
        &self.agreed
    }

    /// Compresses a whole message, or returns `None` to send it as it is.
    pub(crate) fn compress(&mut self, payload: &[u8]) -> Option<Bytes> {
        let bits = self.send_bits?;
        if payload.len() < self.min_size {
            return None;
        }
        if payload.is_empty() {
            // An empty stored block's first byte: with the tail the peer
            // appends it is a whole block, so the peer's inflater stays in
            // step. (zlib emits nothing for an empty sync flush.)
            return Some(Bytes::from_static(&[0x00]));
        }
        if self.send_reset && payload.len() <= STORED_MAX {
            return Some(stored_message(payload));
        }
        let compressed = if self.send_reset {
            let key = (self.level, bits);
            SHARED_COMPRESSORS.with(|shared| {
                let mut shared = shared.borrow_mut();
                let level = self.level;
                let compressor = shared_slot(&mut shared, key, || {
                    Compress::new_with_window_bits(Compression::new(level), false, bits)
                });
                let out = deflate_message(compressor, payload);
                compressor.reset();
                out
            })
        } else {
            let (level, bits) = (self.level, bits);
            let compressor = self.compressor.get_or_insert_with(|| {
                Box::new(Compress::new_with_window_bits(
                    Compression::new(level),
                    false,
                    bits,
                ))
            });
            deflate_message(compressor, payload)
        };
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
        if self.recv_reset && self.decompressor.is_none() {
            let bits = self.recv_bits;
            SHARED_DECOMPRESSORS.with(|shared| {
                let mut shared = shared.borrow_mut();
                let decompressor = shared_slot(&mut shared, bits, || {
                    Decompress::new_with_window_bits(false, bits)
                });
                let result = inflate_into(decompressor, payload, true, &mut out, limit, text);
                decompressor.reset(false);
                result
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
        let bits = self.recv_bits;
        let decompressor = self
            .decompressor
            .get_or_insert_with(|| Box::new(Decompress::new_with_window_bits(false, bits)));
        let result = inflate_into(decompressor, payload, last, out, limit, text);
        if result.is_err() {
            self.decompressor = None;
        } else if last && self.recv_reset {
            // PMD-23: the peer starts afresh, so our window need not live on.
            self.decompressor = None;
        }
        result
    }
}

/// Up to this size a message sent without context takeover goes out as
/// stored (uncompressed) DEFLATE blocks without calling zlib: deflate saves
/// almost nothing on so few bytes (a 100-byte JSON message shrinks by 2%),
/// and resetting a zlib stream for each message costs several microseconds.
const STORED_MAX: usize = 256;

/// The largest stored block (RFC 1951 §3.2.4: a 16-bit length).
const STORED_BLOCK: usize = 0xffff;

/// The length of [`stored_message`] for a payload of `len` bytes.
fn stored_len(len: usize) -> usize {
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
    const CHUNK: usize = 32 << 10;
    let too_big = |out: &Vec<u8>| Error::MessageTooBig {
        size: out.len() as u64,
        limit,
    };
    let pieces: [&[u8]; 2] = [input, if last { &TAIL } else { &[] }];
    for piece in pieces {
        let start_in = decompressor.total_in();
        loop {
            let consumed =
                usize::try_from(decompressor.total_in() - start_in).unwrap_or(usize::MAX);
            let rest = piece.get(consumed..).unwrap_or(&[]);
            // Room for what the limit still allows plus one byte, so that a
            // breach shows without the output ever growing past it.
            let room = limit
                .saturating_add(1)
                .saturating_sub(out.len())
                .min(CHUNK.max(rest.len() * 2));
            if room == 0 {
                return Err(too_big(out));
            }
            out.reserve_exact(room);
            let (before_out, before_in) = (out.len(), decompressor.total_in());
            let status = decompressor
                .decompress_vec(rest, out, FlushDecompress::Sync)
                .map_err(|_| Error::InvalidCompressedData)?;
            if out.len() > limit {
                return Err(too_big(out));
            }
            if let Some(validator) = text.as_deref_mut() {
                validator
                    .feed(&out[before_out..], false)
                    .map_err(|_| Error::InvalidUtf8)?;
            }
            if status == Status::StreamEnd {
                // PMD-25: a final block ends this stream; what follows is at
                // most our tail.
                decompressor.reset(false);
                return finish_text(text, last);
            }
            let all_in = decompressor.total_in() - start_in >= piece.len() as u64;
            let progressed = out.len() > before_out || decompressor.total_in() > before_in;
            // Done once zlib took all the input and stopped short of
            // filling the room it had; stuck if it did nothing at all.
            if (all_in && out.len() < out.capacity()) || !progressed {
                break;
            }
        }
    }
    finish_text(text, last)
}

fn finish_text(text: Option<&mut Validator>, last: bool) -> Result<(), Error> {
    match text {
        Some(validator) if last => validator.feed(&[], true).map_err(|_| Error::InvalidUtf8),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: EXTENSION_NAME.into(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.map(str::to_owned)))
                .collect(),
        }
    }

    fn agreed(
        server: &DeflateConfig,
        client: &DeflateConfig,
    ) -> (PerMessageDeflate, PerMessageDeflate) {
        let offers =
            crate::handshake::parse_extensions([
                &http::HeaderValue::from_str(&client.offer()).unwrap()
            ])
            .unwrap();
        let on_server = server.negotiate(&offers).expect("accepted");
        let response = crate::handshake::parse_extensions([&http::HeaderValue::from_str(
            &on_server.response(),
        )
        .unwrap()])
        .unwrap();
        let on_client = client
            .accept_response(&response[0])
            .expect("valid response");
        (on_server, on_client)
    }

    #[test]
    fn pmd_16_browser_offer_is_accepted() {
        let got = DeflateConfig::default()
            .negotiate(&[offer(&[("client_max_window_bits", None)])])
            .unwrap();
        assert_eq!(got.response(), "permessage-deflate");
        assert_eq!(
            (got.server_max_window_bits, got.client_max_window_bits),
            (15, 15)
        );
    }

    #[test]
    fn pmd_10_bad_offers_are_declined_and_the_next_one_taken() {
        let bad = [
            offer(&[("unknown", None)]),
            offer(&[
                ("server_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ]),
            offer(&[("server_max_window_bits", None)]),
            offer(&[("server_max_window_bits", Some("16"))]),
            offer(&[("server_max_window_bits", Some("08"))]),
            offer(&[("client_max_window_bits", Some("7"))]),
            offer(&[("client_no_context_takeover", Some("1"))]),
            offer(&[("server_max_window_bits", Some("8"))]),
        ];
        for o in &bad {
            assert_eq!(
                DeflateConfig::default().negotiate(std::slice::from_ref(o)),
                None,
                "{o:?}"
            );
        }
        let mut offers = bad.to_vec();
        offers.push(offer(&[("server_no_context_takeover", None)]));
        let got = DeflateConfig::default().negotiate(&offers).unwrap();
        assert!(got.server_no_context_takeover);
    }

    #[test]
    fn pmd_11_client_refuses_bad_responses() {
        let config = DeflateConfig::default();
        for r in [
            offer(&[("client_max_window_bits", None)]),
            offer(&[("server_max_window_bits", Some("7"))]),
            offer(&[("bogus", None)]),
            offer(&[
                ("server_no_context_takeover", None),
                ("server_no_context_takeover", None),
            ]),
        ] {
            assert!(config.accept_response(&r).is_err(), "{r:?}");
        }
        let limited = DeflateConfig {
            client_max_window_bits: 10,
            server_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        assert!(
            limited
                .accept_response(&offer(&[("client_max_window_bits", Some("11"))]))
                .is_err()
        );
        assert!(
            limited
                .accept_response(&offer(&[("server_max_window_bits", Some("13"))]))
                .is_err()
        );
        // Asked for a window but the server did not confirm it.
        assert!(limited.accept_response(&offer(&[])).is_err());
    }

    #[test]
    fn pmd_12_asked_for_server_no_context_takeover_and_not_given() {
        let config = DeflateConfig {
            server_no_context_takeover: true,
            ..DeflateConfig::default()
        };
        assert!(config.accept_response(&offer(&[])).is_err());
        assert!(
            config
                .accept_response(&offer(&[("server_no_context_takeover", None)]))
                .is_ok()
        );
    }

    #[test]
    fn negotiation_round_trips() {
        let server = DeflateConfig {
            client_max_window_bits: 10,
            ..DeflateConfig::default()
        };
        let client = DeflateConfig {
            server_no_context_takeover: true,
            server_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        let (s, c) = agreed(&server, &client);
        assert_eq!(s, c);
        assert!(s.server_no_context_takeover);
        assert_eq!(
            (s.server_max_window_bits, s.client_max_window_bits),
            (12, 10)
        );
    }

    #[test]
    fn compress_then_inflate_across_messages() {
        let (s, c) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut tx = Deflate::new(Role::Client, c, &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
        let msg = b"{\"hello\":\"world\",\"n\":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16]}".repeat(4);
        for _ in 0..3 {
            let wire = tx.compress(&msg).expect("compressed");
            assert!(wire.len() < msg.len());
            let back = rx.inflate_whole(&wire, 1 << 20, None).unwrap();
            assert_eq!(&back[..], &msg[..]);
        }
    }

    #[test]
    fn pmd_26_vectors() {
        let (s, _) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Client, s, &DeflateConfig::default());
        let hello = rx
            .inflate_whole(&[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 100, None)
            .unwrap();
        assert_eq!(&hello[..], b"Hello");
        let again = rx
            .inflate_whole(&[0xf2, 0x00, 0x11, 0x00, 0x00], 100, None)
            .unwrap();
        assert_eq!(&again[..], b"Hello");
        let stored = rx
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
            .inflate_whole(&[0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00], 100, None)
            .unwrap();
        assert_eq!(&bfinal[..], b"Hello");
        assert!(rx.inflate_whole(&[0x00], 100, None).unwrap().is_empty());
        assert!(rx.inflate_whole(&[], 100, None).unwrap().is_empty());
    }

    #[test]
    fn empty_messages_keep_both_windows_in_step() {
        let (s, c) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut tx = Deflate::new(Role::Client, c, &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
        for m in [&b"a"[..], b"", b"b", b"", b"", b"cc", b"cc"] {
            let wire = tx.compress(m).expect("compressed");
            assert_eq!(&rx.inflate_whole(&wire, 100, None).unwrap()[..], m);
        }
        // A zero-length payload from a peer is an empty message too.
        assert!(rx.inflate_whole(&[], 100, None).unwrap().is_empty());
        let wire = tx.compress(b"after").unwrap();
        assert_eq!(&rx.inflate_whole(&wire, 100, None).unwrap()[..], b"after");
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
            let wire = tx.compress(m).expect("compressed");
            if m.len() <= STORED_MAX {
                assert_eq!(wire.len(), m.len() + 6);
            }
            assert_eq!(&rx.inflate_whole(&wire, 1000, None).unwrap()[..], m);
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
                let wire = tx.compress(&text).expect("compressed");
                assert!(wire.len() < text.len() / 4);
                assert_eq!(&rx.inflate_whole(&wire, 1 << 20, None).unwrap()[..], text);
                let wire = tx.compress(&random).expect("compressed");
                assert_eq!(
                    wire.len(),
                    stored_len(random.len()),
                    "context takeover: {}",
                    !lean
                );
                assert_eq!(&rx.inflate_whole(&wire, 1 << 20, None).unwrap()[..], random);
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
        let wire = tx.compress(&zeros).unwrap();
        assert!(wire.len() < 64 << 10, "{}", wire.len());
        let mut rx = Deflate::new(Role::Server, s, &DeflateConfig::default());
        let err = rx.inflate_whole(&wire, 1 << 20, None).unwrap_err();
        assert!(matches!(err, Error::MessageTooBig { limit, .. } if limit == 1 << 20));
    }

    #[test]
    fn pmd_27_corrupt_stream_is_1007() {
        let (s, _) = agreed(&DeflateConfig::default(), &DeflateConfig::default());
        let mut rx = Deflate::new(Role::Client, s, &DeflateConfig::default());
        let err = rx
            .inflate_whole(&[0xff, 0xff, 0xff, 0xff], 100, None)
            .unwrap_err();
        assert_eq!(err, Error::InvalidCompressedData);
        assert_eq!(err.close_code(), crate::CloseCode::INVALID_PAYLOAD);
    }
}
