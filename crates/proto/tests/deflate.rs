//! permessage-deflate (RFC 7692) in the engine.
//!
//! - Negotiation, both roles (PMD-01..16): what a server answers to offers
//!   and which answers a client accepts, through the header text both ways.
//! - RSV1 (PMD-04..07) and the payload transformation (PMD-20..26) on the
//!   wire, checked against an independent codec: `flate2` driven directly,
//!   as RFC 7692 §7.2 describes, with no code from the engine.
//! - Bounds (PMD-27): the inflated size counts against the message limit,
//!   and a decompression bomb is stopped with 1009 in bounded memory.
//! - Messages sent uncompressed (PMD-28), and property tests of round trips
//!   over arbitrary messages, fragmentations and negotiated parameters.

mod support;

use std::fmt::Write as _;
use std::sync::OnceLock;

use bytes::BytesMut;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use http::HeaderValue;
use proptest::collection::vec;
use proptest::prelude::*;
use sockeye_proto::handshake::{ExtensionOffer, HandshakeError, parse_extensions};
use sockeye_proto::{
    Config, Connection, DeflateConfig, Error, Event, Message, PerMessageDeflate, Role,
};
use support::{
    RawFrame, SentFrame, alloc::peak_during, assert_close_sent, concat, drain, events, feed,
    feed_in_place, op, parse_frames, peer_of, sent_frames,
};

/// What a sync flush ends with; removed by senders, appended by receivers.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

const RSV1: u8 = 0b100;

const BOTH: [Role; 2] = [Role::Client, Role::Server];

// ---- an independent codec ----

/// Compresses messages as RFC 7692 §7.2.1 says: raw DEFLATE, a sync flush
/// at the end of each message, then the `00 00 ff ff` tail removed.
struct RefDeflate {
    stream: Compress,
    /// Start every message with an empty window (no context takeover).
    reset: bool,
}

impl RefDeflate {
    fn new(bits: u8, reset: bool) -> Self {
        RefDeflate {
            stream: Compress::new_with_window_bits(Compression::new(6), false, bits),
            reset,
        }
    }

    /// One message's payload.
    fn message(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = self.flushed(data, FlushCompress::Sync);
        if out.is_empty() {
            // zlib writes nothing for a second flush in a row; the first
            // byte of an empty stored block keeps the peer in step.
            out.push(0x00);
        } else {
            assert!(out.ends_with(&TAIL), "a sync flush ends with the tail");
            out.truncate(out.len() - TAIL.len());
        }
        if self.reset {
            self.stream.reset();
        }
        out
    }

    /// Compresses `data` and flushes with `flush`, keeping everything zlib
    /// wrote.
    fn flushed(&mut self, data: &[u8], flush: FlushCompress) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 64);
        let start = self.stream.total_in();
        for _ in 0..10_000 {
            let done = usize::try_from(self.stream.total_in() - start).expect("fits");
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity() + 64);
            }
            let status = self
                .stream
                .compress_vec(&data[done..], &mut out, flush)
                .expect("compress");
            let all_in = self.stream.total_in() - start == data.len() as u64;
            if status == Status::StreamEnd || (all_in && out.len() < out.capacity()) {
                return out;
            }
        }
        panic!("the reference compressor never finished");
    }
}

/// Inflates messages as RFC 7692 §7.2.2 says: the tail appended to the
/// payload, raw DEFLATE with a window kept between messages.
struct RefInflate {
    stream: Decompress,
}

impl RefInflate {
    fn new(bits: u8) -> Self {
        RefInflate {
            stream: Decompress::new_with_window_bits(false, bits),
        }
    }

    fn message(&mut self, payload: &[u8]) -> Result<Vec<u8>, flate2::DecompressError> {
        if payload.is_empty() {
            return Ok(Vec::new());
        }
        let input = [payload, &TAIL[..]].concat();
        let mut out = Vec::with_capacity(4 * input.len());
        let start = self.stream.total_in();
        loop {
            let done = usize::try_from(self.stream.total_in() - start).expect("fits");
            let before = (out.len(), self.stream.total_in());
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity());
            }
            let status =
                self.stream
                    .decompress_vec(&input[done..], &mut out, FlushDecompress::Sync)?;
            if status == Status::StreamEnd {
                // A final block ends the stream; the next message starts a
                // new one (PMD-25).
                self.stream.reset(false);
                return Ok(out);
            }
            let all_in = self.stream.total_in() - start == input.len() as u64;
            let stuck = (out.len(), self.stream.total_in()) == before;
            if (all_in && out.len() < out.capacity()) || stuck {
                return Ok(out);
            }
        }
    }
}

/// A small DEFLATE decoder (RFC 1951), written after zlib's `contrib/puff`,
/// that also reports how far back the stream referred: zlib-rs inflates
/// with a full window whatever it is told, so it cannot tell whether a
/// sender kept to the window it agreed to (PMD-24).
///
/// Messages are decoded one after the other with the output kept as the
/// window; a fresh `Puff` has none, so a message that refers to an earlier
/// one fails to decode.
#[derive(Default)]
struct Puff {
    history: Vec<u8>,
    /// The largest distance any match used.
    max_distance: usize,
}

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    count: u32,
}

impl Bits<'_> {
    fn need(&mut self, n: u32) -> Result<u32, &'static str> {
        while self.count < n {
            let byte = *self.data.get(self.pos).ok_or("out of input")?;
            self.pos += 1;
            self.buf |= u32::from(byte) << self.count;
            self.count += 8;
        }
        let value = self.buf & ((1u32 << n) - 1);
        self.buf >>= n;
        self.count -= n;
        Ok(value)
    }

    fn done(&self) -> bool {
        self.pos == self.data.len()
    }
}

/// A canonical Huffman code: how many codes of each length, and the
/// symbols ordered by code.
struct Huffman {
    count: [u16; 16],
    symbol: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Huffman {
        let mut count = [0u16; 16];
        for &len in lengths {
            count[usize::from(len)] += 1;
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + count[len];
        }
        let mut symbol = vec![0; lengths.len()];
        for (sym, &len) in lengths.iter().enumerate() {
            if len != 0 {
                symbol[usize::from(offsets[usize::from(len)])] =
                    u16::try_from(sym).expect("few symbols");
                offsets[usize::from(len)] += 1;
            }
        }
        Huffman { count, symbol }
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, &'static str> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..16 {
            code |= i32::try_from(bits.need(1)?).expect("one bit");
            let count = i32::from(self.count[len]);
            if code - count < first {
                return Ok(self.symbol[usize::try_from(index + code - first).expect("index")]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("invalid huffman code")
    }
}

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

impl Puff {
    /// Decodes one message: its payload with the tail appended.
    fn message(&mut self, payload: &[u8]) -> Result<Vec<u8>, &'static str> {
        if payload.is_empty() {
            return Ok(Vec::new());
        }
        let input = [payload, &TAIL[..]].concat();
        let mut bits = Bits {
            data: &input,
            pos: 0,
            buf: 0,
            count: 0,
        };
        let start = self.history.len();
        loop {
            let last = bits.need(1)? == 1;
            match bits.need(2)? {
                0 => self.stored(&mut bits)?,
                1 => self.fixed(&mut bits)?,
                2 => self.dynamic(&mut bits)?,
                _ => return Err("reserved block type"),
            }
            if last {
                let out = self.history.split_off(start);
                self.history.clear();
                return Ok(out);
            }
            if bits.done() && bits.count < 8 {
                let out = self.history[start..].to_vec();
                // Keep no more than the largest window.
                let excess = self.history.len().saturating_sub(1 << 15);
                self.history.drain(..excess);
                return Ok(out);
            }
        }
    }

    fn stored(&mut self, bits: &mut Bits<'_>) -> Result<(), &'static str> {
        bits.buf = 0;
        bits.count = 0;
        let len = bits.need(16)?;
        if bits.need(16)? != !len & 0xffff {
            return Err("stored block length check");
        }
        for _ in 0..len {
            let byte = u8::try_from(bits.need(8)?).expect("a byte");
            self.history.push(byte);
        }
        Ok(())
    }

    fn fixed(&mut self, bits: &mut Bits<'_>) -> Result<(), &'static str> {
        let mut lengths = [0u8; 288];
        lengths[..144].fill(8);
        lengths[144..256].fill(9);
        lengths[256..280].fill(7);
        lengths[280..].fill(8);
        self.codes(bits, &Huffman::new(&lengths), &Huffman::new(&[5; 30]))
    }

    fn dynamic(&mut self, bits: &mut Bits<'_>) -> Result<(), &'static str> {
        const ORDER: [usize; 19] = [
            16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
        ];
        let nlen = usize::try_from(bits.need(5)?).expect("small") + 257;
        let ndist = usize::try_from(bits.need(5)?).expect("small") + 1;
        let ncode = usize::try_from(bits.need(4)?).expect("small") + 4;
        let mut code_lengths = [0u8; 19];
        for &i in &ORDER[..ncode] {
            code_lengths[i] = u8::try_from(bits.need(3)?).expect("3 bits");
        }
        let lencode = Huffman::new(&code_lengths);
        let mut lengths = vec![0u8; nlen + ndist];
        let mut i = 0;
        while i < nlen + ndist {
            let sym = lencode.decode(bits)?;
            let (value, repeat) = match sym {
                0..=15 => (u8::try_from(sym).expect("small"), 1),
                16 => (
                    *lengths[..i].last().ok_or("repeat with no length")?,
                    3 + bits.need(2)?,
                ),
                17 => (0, 3 + bits.need(3)?),
                _ => (0, 11 + bits.need(7)?),
            };
            for _ in 0..repeat {
                *lengths.get_mut(i).ok_or("too many lengths")? = value;
                i += 1;
            }
        }
        let (lit, dist) = lengths.split_at(nlen);
        self.codes(bits, &Huffman::new(lit), &Huffman::new(dist))
    }

    fn codes(
        &mut self,
        bits: &mut Bits<'_>,
        lit: &Huffman,
        dist: &Huffman,
    ) -> Result<(), &'static str> {
        loop {
            let sym = usize::from(lit.decode(bits)?);
            match sym {
                0..=255 => self.history.push(u8::try_from(sym).expect("a byte")),
                256 => return Ok(()),
                _ => {
                    let i = sym - 257;
                    let len = usize::from(*LENGTH_BASE.get(i).ok_or("bad length")?)
                        + usize::try_from(bits.need(u32::from(LENGTH_EXTRA[i]))?).expect("small");
                    let d = usize::from(dist.decode(bits)?);
                    let distance = usize::from(*DIST_BASE.get(d).ok_or("bad distance")?)
                        + usize::try_from(bits.need(u32::from(DIST_EXTRA[d]))?).expect("small");
                    if distance > self.history.len() {
                        return Err("distance too far back");
                    }
                    self.max_distance = self.max_distance.max(distance);
                    for _ in 0..len {
                        self.history
                            .push(self.history[self.history.len() - distance]);
                    }
                }
            }
        }
    }
}

/// Bytes that do not compress: a linear congruential generator.
fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            state.to_be_bytes()[1]
        })
        .collect()
}

/// JSON-like text that compresses well, `records` objects long.
fn json(records: usize) -> String {
    let mut out = String::from("[");
    for i in 0..records {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            "{{\"id\":{i},\"name\":\"user-{}\",\"active\":{},\"score\":{}.{}}}",
            i * 7 % 13,
            i % 3 == 0,
            i * 37 % 1000,
            i % 10
        );
    }
    out.push(']');
    out
}

// ---- negotiation helpers ----

fn extensions(value: &str) -> Vec<ExtensionOffer> {
    parse_extensions([&HeaderValue::from_str(value).expect("a header value")])
        .expect("a well-formed extension header")
}

/// What a server with `config` answers to the offer `offer`, as header
/// text; `None` when it declines.
fn answer(config: &DeflateConfig, offer: &str) -> Option<String> {
    config.negotiate(&extensions(offer)).map(|a| a.response())
}

/// What a client with `config` makes of the response element `response`.
fn judge(config: &DeflateConfig, response: &str) -> Result<PerMessageDeflate, HandshakeError> {
    let parsed = extensions(response);
    assert_eq!(parsed.len(), 1, "one element in {response:?}");
    config.accept_response(&parsed[0])
}

/// Negotiates as a handshake does, through the header text both ways:
/// (the server's view, the client's view).
fn negotiate(
    client: &DeflateConfig,
    server: &DeflateConfig,
) -> (PerMessageDeflate, PerMessageDeflate) {
    let on_server = server
        .negotiate(&extensions(&client.offer()))
        .unwrap_or_else(|| panic!("{server:?} declined {:?}", client.offer()));
    let on_client = judge(client, &on_server.response())
        .unwrap_or_else(|e| panic!("{client:?} refused {:?}: {e}", on_server.response()));
    (on_server, on_client)
}

/// The parameters a server answering `response` agreed on, as the default
/// client sees them (it accepts every valid response).
fn agreement(response: &str) -> PerMessageDeflate {
    judge(&DeflateConfig::default(), response).expect("a valid response")
}

/// One end with permessage-deflate agreed as `response` says.
fn end_with(role: Role, response: &str, settings: DeflateConfig, config: &Config) -> Connection {
    Connection::new(
        role,
        Config {
            deflate: Some(settings),
            ..config.clone()
        },
    )
    .with_deflate(agreement(response))
}

/// One end with the default agreement (`permessage-deflate`, no parameters).
fn end(role: Role) -> Connection {
    end_with(
        role,
        "permessage-deflate",
        DeflateConfig::default(),
        &Config::default(),
    )
}

/// A client and a server that negotiated with these settings.
fn pair(
    client: &DeflateConfig,
    server: &DeflateConfig,
    config: &Config,
) -> (Connection, Connection) {
    let (on_server, on_client) = negotiate(client, server);
    let c = Connection::new(
        Role::Client,
        Config {
            deflate: Some(client.clone()),
            ..config.clone()
        },
    )
    .with_deflate(on_client);
    let s = Connection::new(
        Role::Server,
        Config {
            deflate: Some(server.clone()),
            ..config.clone()
        },
    )
    .with_deflate(on_server);
    (c, s)
}

/// The end of `pair` that plays `role`, and the other one.
fn split_pair(
    pair: &mut (Connection, Connection),
    role: Role,
) -> (&mut Connection, &mut Connection) {
    match role {
        Role::Client => (&mut pair.0, &mut pair.1),
        Role::Server => (&mut pair.1, &mut pair.0),
    }
}

/// A compressed message as the peer of `receiver` sends it: RSV1 on the
/// first frame, the payload cut at `cuts` into fragments.
fn compressed_frames(receiver: Role, opcode: u8, payload: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().map(|&c| c.min(payload.len())));
    bounds.push(payload.len());
    let pieces = bounds.len() - 1;
    let frames = (0..pieces).map(|i| {
        let (first, last) = (i == 0, i == pieces - 1);
        RawFrame::new(
            if first { opcode } else { op::CONTINUATION },
            &payload[bounds[i]..bounds[i + 1]],
        )
        .fin(last)
        .rsv(if first { RSV1 } else { 0 })
        .to(receiver)
        .encode()
    });
    concat(frames)
}

/// Feeds `bytes` to `c` and expects exactly these messages, no error.
fn expect_messages(c: &mut Connection, bytes: &[u8], expected: &[Message]) {
    let (seen, err) = feed(c, bytes);
    assert_eq!(err, None, "after {seen:?}");
    let expected: Vec<Event> = expected.iter().cloned().map(Event::Message).collect();
    assert_eq!(seen, expected);
}

/// Feeds `bytes` to `c` and expects it to fail with `error` and close with
/// `code`, after the messages `before`.
fn expect_failure(c: &mut Connection, bytes: &[u8], before: usize, error: &Error, code: u16) {
    let (seen, err) = feed(c, bytes);
    assert_eq!(seen.len(), before, "events before the failure: {seen:?}");
    assert_eq!(err.as_ref(), Some(error));
    assert_close_sent(c, code);
}

// ======================================================================
// Negotiation: the server (PMD-01, PMD-02, PMD-10, PMD-15, PMD-16)
// ======================================================================

#[test]
fn pmd_16_server_accepts_the_browser_offer() {
    let offer = "permessage-deflate; client_max_window_bits";
    assert_eq!(
        answer(&DeflateConfig::default(), offer).as_deref(),
        Some("permessage-deflate")
    );
    let agreed = DeflateConfig::default()
        .negotiate(&extensions(offer))
        .expect("accepted");
    assert!(!agreed.server_no_context_takeover && !agreed.client_no_context_takeover);
    assert_eq!(
        (agreed.server_max_window_bits, agreed.client_max_window_bits),
        (15, 15)
    );
}

#[test]
fn pmd_01_server_accepts_an_offer_without_parameters() {
    assert_eq!(
        answer(&DeflateConfig::default(), "permessage-deflate").as_deref(),
        Some("permessage-deflate")
    );
    // The extension name is a token, compared without regard to case.
    assert_eq!(
        answer(&DeflateConfig::default(), "PerMessage-Deflate").as_deref(),
        Some("permessage-deflate")
    );
}

#[test]
fn pmd_01_server_takes_the_first_acceptable_offer_in_order() {
    let config = DeflateConfig::default();
    let cases = [
        (
            "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, \
             permessage-deflate",
            "permessage-deflate; server_max_window_bits=10",
        ),
        (
            "permessage-deflate; server_max_window_bits=8, permessage-deflate; unknown, \
             permessage-deflate; server_no_context_takeover; server_no_context_takeover, \
             permessage-deflate; client_max_window_bits=12, permessage-deflate",
            "permessage-deflate; client_max_window_bits=12",
        ),
        (
            "permessage-deflate; server_no_context_takeover, permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            "permessage-deflate, permessage-deflate; server_no_context_takeover",
            "permessage-deflate",
        ),
    ];
    for (offer, expected) in cases {
        assert_eq!(answer(&config, offer).as_deref(), Some(expected), "{offer}");
    }
}

#[test]
fn pmd_01_server_reads_offers_spread_over_several_header_fields() {
    // R-HV-04: several fields are one comma-joined list.
    let fields = [
        HeaderValue::from_static("x-foo, permessage-deflate; server_max_window_bits=8"),
        HeaderValue::from_static("permessage-deflate; server_max_window_bits=11"),
    ];
    let offers = parse_extensions(fields.iter()).expect("well-formed");
    let agreed = DeflateConfig::default()
        .negotiate(&offers)
        .expect("the second offer");
    assert_eq!(
        agreed.response(),
        "permessage-deflate; server_max_window_bits=11"
    );
}

#[test]
fn pmd_02_server_declines_when_no_offer_is_acceptable() {
    let config = DeflateConfig::default();
    for offer in [
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; foo, permessage-deflate; server_max_window_bits=16",
        "deflate-frame, x-foo; permessage-deflate",
    ] {
        assert_eq!(answer(&config, offer), None, "{offer}");
    }
}

#[test]
fn pmd_10_server_declines_repeated_parameters() {
    for offer in [
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=12",
        "permessage-deflate; client_max_window_bits; client_max_window_bits",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
        "permessage-deflate; server_no_context_takeover; client_max_window_bits; \
         server_no_context_takeover",
    ] {
        assert_eq!(answer(&DeflateConfig::default(), offer), None, "{offer}");
    }
}

#[test]
fn pmd_10_server_declines_invalid_values() {
    for offer in [
        // A value where none is allowed.
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        // server_max_window_bits needs a value, 8 to 15, no leading zero.
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=0",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=010",
        "permessage-deflate; server_max_window_bits=+10",
        "permessage-deflate; server_max_window_bits=10.0",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=4294967306",
        // client_max_window_bits: no value, or 8 to 15.
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=09",
        "permessage-deflate; client_max_window_bits=x",
    ] {
        assert_eq!(answer(&DeflateConfig::default(), offer), None, "{offer}");
    }
}

#[test]
fn r_hv_03_values_that_are_not_tokens_break_the_header_grammar() {
    // RFC 6455 §9.1: a quoted value must be a token once unquoted. Such a
    // header is malformed as a whole (R-HV-03, 400), before any parameter
    // is judged.
    for value in [
        "permessage-deflate; server_no_context_takeover=\"\"",
        "permessage-deflate; server_max_window_bits=\"\"",
        "permessage-deflate; server_max_window_bits=\"1 0\"",
        "permessage-deflate; server_max_window_bits=",
        "permessage-deflate;",
    ] {
        let header = HeaderValue::from_str(value).expect("a header value");
        assert_eq!(
            parse_extensions([&header]),
            Err(HandshakeError::InvalidExtensionHeader),
            "{value}"
        );
    }
}

#[test]
fn pmd_10_server_declines_unknown_parameters() {
    for offer in [
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_max_window_bit=10",
        "permessage-deflate; client_max_window_bits; x-custom",
        "permessage-deflate; mux",
    ] {
        assert_eq!(answer(&DeflateConfig::default(), offer), None, "{offer}");
    }
}

#[test]
fn pmd_10_server_reads_quoted_values() {
    // RFC 6455 §9.1: a quoted-string value, once unquoted, follows the
    // parameter's own syntax.
    let config = DeflateConfig::default();
    assert_eq!(
        answer(&config, "permessage-deflate; server_max_window_bits=\"10\"").as_deref(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    assert_eq!(
        answer(&config, "permessage-deflate; client_max_window_bits=\"12\"").as_deref(),
        Some("permessage-deflate; client_max_window_bits=12")
    );
}

#[test]
fn server_honours_server_no_context_takeover_when_asked() {
    let agreed = DeflateConfig::default()
        .negotiate(&extensions(
            "permessage-deflate; server_no_context_takeover",
        ))
        .expect("accepted");
    assert!(agreed.server_no_context_takeover);
    assert_eq!(
        agreed.response(),
        "permessage-deflate; server_no_context_takeover"
    );
}

#[test]
fn server_sends_server_no_context_takeover_unasked_when_configured() {
    let config = DeflateConfig {
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    assert_eq!(
        answer(&config, "permessage-deflate").as_deref(),
        Some("permessage-deflate; server_no_context_takeover")
    );
}

#[test]
fn pmd_14_a_client_no_context_takeover_hint_is_agreed_by_repeating_it() {
    // The offer's client_no_context_takeover is a hint; only the response
    // binds. The server confirms it by repeating it, so both ends agree and
    // the server may inflate with a shared decompressor.
    let agreed = DeflateConfig::default()
        .negotiate(&extensions(
            "permessage-deflate; client_no_context_takeover",
        ))
        .expect("accepted");
    assert!(agreed.client_no_context_takeover);
    assert_eq!(
        agreed.response(),
        "permessage-deflate; client_no_context_takeover"
    );
}

#[test]
fn server_requires_client_no_context_takeover_when_configured() {
    let config = DeflateConfig {
        client_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    // Offered or not, the server may forbid it in its response.
    for offer in [
        "permessage-deflate",
        "permessage-deflate; client_no_context_takeover",
    ] {
        let agreed = config.negotiate(&extensions(offer)).expect("accepted");
        assert!(agreed.client_no_context_takeover, "{offer}");
        assert_eq!(
            agreed.response(),
            "permessage-deflate; client_no_context_takeover"
        );
    }
}

#[test]
fn server_answers_server_max_window_bits_with_the_offered_value() {
    for bits in 9..=15 {
        let offer = format!("permessage-deflate; server_max_window_bits={bits}");
        let agreed = DeflateConfig::default()
            .negotiate(&extensions(&offer))
            .expect("accepted");
        assert_eq!(agreed.server_max_window_bits, bits);
        assert_eq!(
            agreed.response(),
            format!("permessage-deflate; server_max_window_bits={bits}")
        );
    }
}

#[test]
fn pmd_15_server_declines_server_max_window_bits_8() {
    // zlib compresses with at least a 9-bit window, and 9 > 8.
    let config = DeflateConfig::default();
    assert_eq!(
        answer(&config, "permessage-deflate; server_max_window_bits=8"),
        None
    );
    // ... and moves on to the next offer.
    assert_eq!(
        answer(
            &config,
            "permessage-deflate; server_max_window_bits=8, \
             permessage-deflate; server_max_window_bits=9"
        )
        .as_deref(),
        Some("permessage-deflate; server_max_window_bits=9")
    );
}

#[test]
fn server_limits_its_window_to_its_own_setting() {
    let config = DeflateConfig {
        server_max_window_bits: 12,
        ..DeflateConfig::default()
    };
    let cases = [
        ("permessage-deflate; server_max_window_bits=14", 12),
        ("permessage-deflate; server_max_window_bits=10", 10),
        // Unasked: the server MAY include it.
        ("permessage-deflate", 12),
    ];
    for (offer, bits) in cases {
        let agreed = config.negotiate(&extensions(offer)).expect("accepted");
        assert_eq!(agreed.server_max_window_bits, bits, "{offer}");
        assert_eq!(
            agreed.response(),
            format!("permessage-deflate; server_max_window_bits={bits}")
        );
    }
    // A setting below what zlib can do is raised to 9.
    let tiny = DeflateConfig {
        server_max_window_bits: 8,
        ..DeflateConfig::default()
    };
    assert_eq!(
        answer(&tiny, "permessage-deflate").as_deref(),
        Some("permessage-deflate; server_max_window_bits=9")
    );
}

#[test]
fn pmd_11_server_never_sends_client_max_window_bits_unoffered() {
    let config = DeflateConfig {
        client_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    let agreed = config
        .negotiate(&extensions("permessage-deflate"))
        .expect("accepted");
    assert_eq!(agreed.response(), "permessage-deflate");
    assert_eq!(agreed.client_max_window_bits, 15);
}

#[test]
fn server_answers_client_max_window_bits() {
    let limited = DeflateConfig {
        client_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    let cases = [
        // Bare: the client can honour a limit, and the server has none.
        (
            DeflateConfig::default(),
            "client_max_window_bits",
            "permessage-deflate",
            15,
        ),
        // Bare: the server sets its limit.
        (
            limited.clone(),
            "client_max_window_bits",
            "permessage-deflate; client_max_window_bits=10",
            10,
        ),
        // The client's hint binds it; the server repeats the smaller value.
        (
            DeflateConfig::default(),
            "client_max_window_bits=12",
            "permessage-deflate; client_max_window_bits=12",
            12,
        ),
        (
            limited.clone(),
            "client_max_window_bits=12",
            "permessage-deflate; client_max_window_bits=10",
            10,
        ),
        (
            limited,
            "client_max_window_bits=9",
            "permessage-deflate; client_max_window_bits=9",
            9,
        ),
        // An 8-bit client window is fine for the server: it inflates.
        (
            DeflateConfig::default(),
            "client_max_window_bits=8",
            "permessage-deflate; client_max_window_bits=8",
            8,
        ),
    ];
    for (config, param, response, bits) in cases {
        let offer = format!("permessage-deflate; {param}");
        let agreed = config.negotiate(&extensions(&offer)).expect("accepted");
        assert_eq!(agreed.response(), response, "{config:?} {offer}");
        assert_eq!(agreed.client_max_window_bits, bits);
    }
}

#[test]
fn server_accepts_all_four_parameters_at_once() {
    let offer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits=11";
    let config = DeflateConfig {
        client_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    let agreed = config.negotiate(&extensions(offer)).expect("accepted");
    assert_eq!(
        agreed.response(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=11"
    );
    // The client agrees on the same.
    let on_client = judge(
        &DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 11,
            ..DeflateConfig::default()
        },
        &agreed.response(),
    )
    .expect("valid");
    assert_eq!(on_client, agreed);
}

// ======================================================================
// Negotiation: the client (PMD-11, PMD-12, PMD-13, PMD-14)
// ======================================================================

#[test]
fn client_offers_what_its_settings_say() {
    let cases = [
        (
            DeflateConfig::default(),
            "permessage-deflate; client_max_window_bits",
        ),
        (
            DeflateConfig {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: 10,
                client_max_window_bits: 12,
                ..DeflateConfig::default()
            },
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits=12",
        ),
        // Windows below zlib's 9 bits are raised to 9.
        (
            DeflateConfig {
                server_max_window_bits: 8,
                client_max_window_bits: 8,
                ..DeflateConfig::default()
            },
            "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9",
        ),
    ];
    for (config, offer) in cases {
        assert_eq!(config.offer(), offer);
        // Every offer we make is one our own server accepts.
        assert!(
            DeflateConfig::default()
                .negotiate(&extensions(offer))
                .is_some()
        );
    }
}

#[test]
fn pmd_13_client_accepts_a_response_without_parameters() {
    let agreed = judge(&DeflateConfig::default(), "permessage-deflate").expect("valid");
    assert!(!agreed.server_no_context_takeover && !agreed.client_no_context_takeover);
    // Absent windows mean 2^15 bytes.
    assert_eq!(
        (agreed.server_max_window_bits, agreed.client_max_window_bits),
        (15, 15)
    );
}

#[test]
fn client_accepts_every_parameter_a_server_may_add() {
    let config = DeflateConfig::default();
    let agreed = judge(
        &config,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=11",
    )
    .expect("valid");
    assert!(agreed.server_no_context_takeover && agreed.client_no_context_takeover);
    assert_eq!(
        (agreed.server_max_window_bits, agreed.client_max_window_bits),
        (10, 11)
    );
    // server_max_window_bits=8 limits the server, which the client can
    // inflate whatever zlib can compress.
    let agreed = judge(&config, "permessage-deflate; server_max_window_bits=8").expect("valid");
    assert_eq!(agreed.server_max_window_bits, 8);
    // Quoted values are read unquoted.
    let agreed = judge(&config, "permessage-deflate; client_max_window_bits=\"9\"").expect("valid");
    assert_eq!(agreed.client_max_window_bits, 9);
}

#[test]
fn pmd_11_client_refuses_malformed_responses() {
    let config = DeflateConfig::default();
    for response in [
        "permessage-deflate; foo",
        "permessage-deflate; foo=1",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=x",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=08",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
        // A response must give client_max_window_bits a value.
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=10; client_max_window_bits=10",
    ] {
        assert_eq!(
            judge(&config, response),
            Err(HandshakeError::InvalidExtensionResponse),
            "{response}"
        );
    }
}

#[test]
fn pmd_11_client_refuses_a_window_larger_than_it_asked() {
    let config = DeflateConfig {
        server_max_window_bits: 10,
        client_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    for (response, ok) in [
        ("server_max_window_bits=11", false),
        ("server_max_window_bits=15", false),
        ("server_max_window_bits=10", true),
        ("server_max_window_bits=9", true),
        (
            "server_max_window_bits=10; client_max_window_bits=11",
            false,
        ),
        ("server_max_window_bits=10; client_max_window_bits=10", true),
        ("server_max_window_bits=10; client_max_window_bits=8", true),
    ] {
        let response = format!("permessage-deflate; {response}");
        assert_eq!(judge(&config, &response).is_ok(), ok, "{response}");
    }
}

#[test]
fn pmd_11_client_refuses_a_response_without_the_window_it_asked_for() {
    let config = DeflateConfig {
        server_max_window_bits: 10,
        ..DeflateConfig::default()
    };
    assert_eq!(
        judge(&config, "permessage-deflate"),
        Err(HandshakeError::InvalidExtensionResponse)
    );
}

#[test]
fn pmd_12_client_refuses_a_response_without_the_server_no_context_takeover_it_asked_for() {
    let config = DeflateConfig {
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    };
    assert_eq!(
        judge(&config, "permessage-deflate"),
        Err(HandshakeError::InvalidExtensionResponse)
    );
    let agreed = judge(&config, "permessage-deflate; server_no_context_takeover").expect("valid");
    assert!(agreed.server_no_context_takeover);
}

#[test]
fn pmd_14_both_ends_agree_on_the_response() {
    let flags = [false, true];
    let bits = [9, 12, 15];
    for &snct in &flags {
        for &cnct in &flags {
            for &sb in &bits {
                for &cb in &bits {
                    let client = DeflateConfig {
                        server_no_context_takeover: snct,
                        client_no_context_takeover: cnct,
                        server_max_window_bits: sb,
                        client_max_window_bits: cb,
                        ..DeflateConfig::default()
                    };
                    let server = DeflateConfig {
                        server_no_context_takeover: cnct,
                        client_no_context_takeover: snct,
                        server_max_window_bits: cb,
                        client_max_window_bits: sb,
                        ..DeflateConfig::default()
                    };
                    let (s, c) = negotiate(&client, &server);
                    assert_eq!(s.server_no_context_takeover, c.server_no_context_takeover);
                    assert_eq!(s.server_max_window_bits, c.server_max_window_bits);
                    assert_eq!(s.client_max_window_bits, c.client_max_window_bits);
                    // The client's own hint may make it stricter than agreed.
                    assert!(c.client_no_context_takeover >= s.client_no_context_takeover);
                    // What the client asked of the server holds.
                    assert!(s.server_max_window_bits <= sb);
                    assert!(!snct || s.server_no_context_takeover);
                }
            }
        }
    }
}

// ======================================================================
// RSV1 and the payload on the wire (PMD-04..07, PMD-20, PMD-24)
// ======================================================================

fn sends_compressed_messages_with_rsv1(role: Role) {
    let mut c = end(role);
    let text = json(40);
    c.send(Message::text(text.clone())).expect("open");
    c.send(Message::binary(text.clone().into_bytes()))
        .expect("open");
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 2);
    let mut inflater = RefInflate::new(15);
    for (frame, opcode) in frames.iter().zip([op::TEXT, op::BINARY]) {
        assert!(frame.fin);
        assert_eq!((frame.rsv, frame.opcode), (RSV1, opcode));
        assert!(frame.payload.len() < text.len() / 2, "compressed");
        // PMD-20: the tail is removed, and appending it gives the message.
        assert!(!frame.payload.ends_with(&TAIL));
        assert_eq!(
            inflater.message(&frame.payload).expect("inflates"),
            text.as_bytes()
        );
    }
}

/// PMD-04: a text message given in parts is compressed as the parts
/// joined would be.
fn compresses_a_message_given_in_parts(role: Role) {
    let mut c = end(role);
    let text = json(40);
    let (head, rest) = text.split_at(1);
    c.send_text_parts(&[head, rest]).expect("open");
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].rsv, frames[0].opcode), (RSV1, op::TEXT));
    assert_eq!(
        RefInflate::new(15)
            .message(&frames[0].payload)
            .expect("inflates"),
        text.as_bytes()
    );
}

#[test]
fn pmd_04_a_message_in_parts_is_compressed_by_either_role() {
    compresses_a_message_given_in_parts(Role::Client);
    compresses_a_message_given_in_parts(Role::Server);
}

#[test]
fn pmd_04_client_sets_rsv1_on_compressed_messages() {
    sends_compressed_messages_with_rsv1(Role::Client);
}

#[test]
fn pmd_04_server_sets_rsv1_on_compressed_messages() {
    sends_compressed_messages_with_rsv1(Role::Server);
}

fn sets_rsv1_on_the_first_fragment_only(role: Role) {
    let config = Config {
        max_send_frame_size: Some(64),
        ..Config::default()
    };
    let mut c = end_with(
        role,
        "permessage-deflate",
        DeflateConfig::default(),
        &config,
    );
    // Letters that compress to several 64-byte frames.
    let text: String = noise(3000, 3)
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    c.send(Message::text(text.clone())).expect("open");
    let frames = sent_frames(&mut c);
    assert!(frames.len() > 3, "{} frames", frames.len());
    let (first, rest) = frames.split_first().expect("frames");
    assert_eq!(
        (first.fin, first.rsv, first.opcode),
        (false, RSV1, op::TEXT)
    );
    for (i, frame) in rest.iter().enumerate() {
        assert_eq!(frame.rsv, 0, "PMD-05: continuation {i}");
        assert_eq!(frame.opcode, op::CONTINUATION);
        assert_eq!(frame.fin, i == rest.len() - 1);
        assert!(frame.payload.len() <= 64);
    }
    // PMD-06: the payloads together are one compressed message.
    let joined = concat(frames.iter().map(|f| &f.payload));
    assert_eq!(
        RefInflate::new(15).message(&joined).expect("inflates"),
        text.as_bytes()
    );
}

#[test]
fn pmd_05_client_sets_rsv1_on_the_first_fragment_only() {
    sets_rsv1_on_the_first_fragment_only(Role::Client);
}

#[test]
fn pmd_05_server_sets_rsv1_on_the_first_fragment_only() {
    sets_rsv1_on_the_first_fragment_only(Role::Server);
}

fn never_compresses_control_frames(role: Role) {
    let mut c = end(role);
    let body = "a".repeat(100);
    c.send_ping(body.clone().into_bytes()).expect("open");
    c.send_pong(body.clone().into_bytes()).expect("open");
    // The automatic Pong to the peer's Ping, and the Close.
    let (seen, err) = feed(
        &mut c,
        &RawFrame::new(op::PING, body.as_bytes()).to(role).encode(),
    );
    assert_eq!((seen.len(), err), (1, None));
    c.close(sockeye_proto::CloseCode::NORMAL, &"b".repeat(100))
        .expect("open");
    let frames = sent_frames(&mut c);
    let opcodes: Vec<u8> = frames.iter().map(|f| f.opcode).collect();
    assert_eq!(opcodes, [op::PING, op::PONG, op::PONG, op::CLOSE]);
    for frame in &frames {
        assert_eq!(frame.rsv, 0, "{frame:?}");
    }
    assert_eq!(frames[0].payload, body.as_bytes());
    assert_eq!(frames[2].payload, body.as_bytes());
    assert_eq!(frames[3].close_reason(), "b".repeat(100));
}

#[test]
fn pmd_05_client_never_compresses_control_frames() {
    never_compresses_control_frames(Role::Client);
}

#[test]
fn pmd_05_server_never_compresses_control_frames() {
    never_compresses_control_frames(Role::Server);
}

fn fails_1002_on_rsv1_on_a_control_frame(role: Role) {
    for opcode in [op::PING, op::PONG, op::CLOSE] {
        let body = if opcode == op::CLOSE {
            vec![0x03, 0xe8]
        } else {
            b"hi".to_vec()
        };
        let mut c = end(role);
        let bytes = RawFrame::new(opcode, body).rsv(RSV1).to(role).encode();
        expect_failure(&mut c, &bytes, 0, &Error::ReservedBitsSet, 1002);
    }
}

#[test]
fn pmd_05_server_fails_1002_on_rsv1_on_a_control_frame() {
    fails_1002_on_rsv1_on_a_control_frame(Role::Server);
}

#[test]
fn pmd_05_client_fails_1002_on_rsv1_on_a_control_frame() {
    fails_1002_on_rsv1_on_a_control_frame(Role::Client);
}

fn fails_1002_on_rsv1_on_a_continuation(role: Role) {
    let payload = RefDeflate::new(15, false).message(b"Hello, Hello, Hello");
    let (head, tail) = payload.split_at(4);
    // After a compressed first fragment, and after an uncompressed one.
    for first_rsv in [RSV1, 0] {
        let first_payload: &[u8] = if first_rsv == RSV1 { head } else { b"plain" };
        let bytes = concat([
            RawFrame::new(op::TEXT, first_payload)
                .fin(false)
                .rsv(first_rsv)
                .to(role)
                .encode(),
            RawFrame::new(op::CONTINUATION, tail)
                .rsv(RSV1)
                .to(role)
                .encode(),
        ]);
        let mut c = end(role);
        expect_failure(&mut c, &bytes, 0, &Error::ReservedBitsSet, 1002);
    }
}

#[test]
fn pmd_05_server_fails_1002_on_rsv1_on_a_continuation() {
    fails_1002_on_rsv1_on_a_continuation(Role::Server);
}

#[test]
fn pmd_05_client_fails_1002_on_rsv1_on_a_continuation() {
    fails_1002_on_rsv1_on_a_continuation(Role::Client);
}

fn fails_1002_on_rsv1_without_deflate(role: Role) {
    // Settings alone do not turn the extension on: only an agreement does
    // (R-EX-02).
    let config = Config {
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    };
    let mut c = Connection::new(role, config.clone());
    assert_eq!(c.deflate(), None);
    c.send(Message::text(json(20))).expect("open");
    let frames = sent_frames(&mut c);
    assert_eq!(frames[0].rsv, 0, "R-EX-02: not compressed");
    assert_eq!(frames[0].payload, json(20).as_bytes());
    let payload = RefDeflate::new(15, false).message(b"Hello");
    let bytes = RawFrame::new(op::TEXT, payload).rsv(RSV1).to(role).encode();
    expect_failure(&mut c, &bytes, 0, &Error::ReservedBitsSet, 1002);
}

#[test]
fn pmd_07_server_fails_1002_on_rsv1_without_deflate() {
    fails_1002_on_rsv1_without_deflate(Role::Server);
}

#[test]
fn pmd_07_client_fails_1002_on_rsv1_without_deflate() {
    fails_1002_on_rsv1_without_deflate(Role::Client);
}

#[test]
fn r_fr_01_rsv2_and_rsv3_fail_1002_even_with_deflate() {
    for role in BOTH {
        for rsv in [0b010, 0b001, 0b110, 0b101, 0b111] {
            let mut c = end(role);
            let bytes = RawFrame::new(op::TEXT, b"x").rsv(rsv).to(role).encode();
            expect_failure(&mut c, &bytes, 0, &Error::ReservedBitsSet, 1002);
        }
    }
}

#[test]
fn pmd_04_uncompressed_messages_are_read_as_they_are() {
    for role in BOTH {
        let mut c = end(role);
        let plain = RawFrame::new(op::TEXT, "plain ünïcode").to(role).encode();
        let fragmented = concat([
            RawFrame::new(op::BINARY, [0xff, 0x00])
                .fin(false)
                .to(role)
                .encode(),
            RawFrame::new(op::CONTINUATION, [0xfe]).to(role).encode(),
        ]);
        let compressed = compressed_frames(
            role,
            op::TEXT,
            &RefDeflate::new(15, false).message(b"Hello"),
            &[],
        );
        expect_messages(
            &mut c,
            &concat([plain, fragmented, compressed]),
            &[
                Message::text("plain ünïcode"),
                Message::binary(vec![0xff, 0x00, 0xfe]),
                Message::text("Hello"),
            ],
        );
    }
}

/// Data with matches only at distance `period` (more than the window a
/// smaller-window sender may use): `period` noise bytes, repeated.
fn far_repeats(period: usize, times: usize) -> Vec<u8> {
    noise(period, 11).repeat(times)
}

fn sender_keeps_to_the_agreed_window(role: Role) {
    let window_param = match role {
        Role::Client => "client_max_window_bits",
        Role::Server => "server_max_window_bits",
    };
    for bits in 9..=15u8 {
        let response = format!("permessage-deflate; {window_param}={bits}");
        // Level 6 codes these 16 letters in 4 bits each, so the message
        // compresses (and goes out compressed) whatever the window.
        let strong = DeflateConfig {
            level: 6,
            ..DeflateConfig::default()
        };
        let mut c = end_with(role, &response, strong, &Config::default());
        let window = 1usize << bits;
        // Repeats just beyond the window, and within twice it.
        let data: Vec<u8> = far_repeats(window + 100, 3)
            .iter()
            .map(|b| b'a' + (b & 0x0f))
            .collect();
        c.send(Message::binary(data.clone())).expect("open");
        c.send(Message::binary(data.clone())).expect("open");
        let frames = sent_frames(&mut c);
        let mut puff = Puff::default();
        for frame in &frames {
            assert_eq!(frame.rsv, RSV1);
            assert_eq!(
                puff.message(&frame.payload),
                Ok(data.clone()),
                "{bits} bits"
            );
        }
        assert!(
            puff.max_distance <= window,
            "{role:?} looked back {} bytes with a {bits}-bit window",
            puff.max_distance
        );
    }
    // The check does catch a sender that uses a larger window.
    let mut puff = Puff::default();
    let wide = RefDeflate::new(15, false).message(&far_repeats(600, 3));
    assert_eq!(puff.message(&wide), Ok(far_repeats(600, 3)));
    assert!(puff.max_distance >= 600, "{}", puff.max_distance);
}

#[test]
fn pmd_24_client_keeps_to_the_agreed_window() {
    sender_keeps_to_the_agreed_window(Role::Client);
}

#[test]
fn pmd_24_server_keeps_to_the_agreed_window() {
    sender_keeps_to_the_agreed_window(Role::Server);
}

#[test]
fn pmd_15_client_told_8_bits_sends_uncompressed_and_still_inflates() {
    // zlib cannot compress with 8 bits: sending uncompressed is always
    // allowed (PMD-04).
    let response = "permessage-deflate; client_max_window_bits=8";
    let mut client = end_with(
        Role::Client,
        response,
        DeflateConfig::default(),
        &Config::default(),
    );
    assert_eq!(client.deflate().map(|d| d.client_max_window_bits), Some(8));
    client.send(Message::text(json(20))).expect("open");
    let frames = sent_frames(&mut client);
    assert_eq!(frames[0].rsv, 0);
    assert_eq!(frames[0].payload, json(20).as_bytes());
    let payload = RefDeflate::new(15, false).message(json(20).as_bytes());
    expect_messages(
        &mut client,
        &compressed_frames(Role::Client, op::TEXT, &payload, &[]),
        &[Message::text(json(20))],
    );
}

// ======================================================================
// Context takeover (PMD-22, PMD-23)
// ======================================================================

/// Sends the same message three times from `role` and returns the payloads.
fn payloads_of_repeats(role: Role, response: &str) -> Vec<Vec<u8>> {
    let mut c = end_with(role, response, DeflateConfig::default(), &Config::default());
    for _ in 0..3 {
        c.send(Message::text(json(10))).expect("open");
    }
    sent_frames(&mut c)
        .into_iter()
        .map(|f| {
            assert_eq!(f.rsv, RSV1);
            f.payload
        })
        .collect()
}

fn context_takeover_as_negotiated(role: Role) {
    let reset_param = match role {
        Role::Client => "client_no_context_takeover",
        Role::Server => "server_no_context_takeover",
    };
    // Kept: the repeats refer back to the first message and shrink.
    let kept = payloads_of_repeats(role, "permessage-deflate");
    assert!(kept[1].len() < kept[0].len() / 4, "{kept:?}");
    assert!(kept[2].len() < kept[0].len() / 4, "{kept:?}");
    // Reset: every message starts afresh, so each is the same bytes and
    // inflates on its own with a new inflater.
    let reset = payloads_of_repeats(role, &format!("permessage-deflate; {reset_param}"));
    assert_eq!(reset[0], reset[1]);
    assert_eq!(reset[1], reset[2]);
    for payload in &reset {
        assert_eq!(
            RefInflate::new(15)
                .message(payload)
                .expect("inflates alone"),
            json(10).as_bytes()
        );
    }
    // Only this end's own parameter makes it reset.
    let other = match role {
        Role::Client => "server_no_context_takeover",
        Role::Server => "client_no_context_takeover",
    };
    let kept = payloads_of_repeats(role, &format!("permessage-deflate; {other}"));
    assert!(kept[1].len() < kept[0].len() / 4);
}

#[test]
fn pmd_22_client_keeps_or_resets_its_window_as_negotiated() {
    context_takeover_as_negotiated(Role::Client);
}

#[test]
fn pmd_22_server_keeps_or_resets_its_window_as_negotiated() {
    context_takeover_as_negotiated(Role::Server);
}

fn keeps_the_peers_window_between_messages(role: Role) {
    let mut c = end(role);
    let mut sender = RefDeflate::new(15, false);
    let text = json(12);
    let first = sender.message(text.as_bytes());
    let second = sender.message(text.as_bytes());
    // The second message only makes sense with the first one's window.
    assert!(second.len() < first.len() / 4);
    assert_ne!(
        RefInflate::new(15).message(&second).ok().as_deref(),
        Some(text.as_bytes())
    );
    let third = sender.message(text.as_bytes());
    let fourth = sender.message(text.as_bytes());
    let bytes = concat([
        compressed_frames(role, op::TEXT, &first, &[]),
        // An uncompressed message and control frames leave the window be.
        RawFrame::new(op::TEXT, "between").to(role).encode(),
        RawFrame::new(op::PING, b"p").to(role).encode(),
        compressed_frames(role, op::TEXT, &second, &[]),
        // A fragmented message, with a Ping between its fragments.
        concat([
            RawFrame::new(op::BINARY, &third[..2])
                .fin(false)
                .rsv(RSV1)
                .to(role)
                .encode(),
            RawFrame::new(op::PING, b"q").to(role).encode(),
            RawFrame::new(op::CONTINUATION, &third[2..])
                .to(role)
                .encode(),
        ]),
        compressed_frames(role, op::TEXT, &fourth, &[1]),
    ]);
    let (seen, err) = feed(&mut c, &bytes);
    assert_eq!(err, None);
    let messages: Vec<Message> = seen
        .into_iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(
        messages,
        [
            Message::text(text.clone()),
            Message::text("between"),
            Message::text(text.clone()),
            Message::binary(text.clone().into_bytes()),
            Message::text(text),
        ]
    );
}

#[test]
fn pmd_23_server_keeps_the_clients_window_between_messages() {
    keeps_the_peers_window_between_messages(Role::Server);
}

#[test]
fn pmd_23_client_keeps_the_servers_window_between_messages() {
    keeps_the_peers_window_between_messages(Role::Client);
}

fn reads_a_peer_that_resets(role: Role) {
    let reset_param = match peer_of(role) {
        Role::Client => "client_no_context_takeover",
        Role::Server => "server_no_context_takeover",
    };
    let response = format!("permessage-deflate; {reset_param}");
    let mut c = end_with(
        role,
        &response,
        DeflateConfig::default(),
        &Config::default(),
    );
    let mut sender = RefDeflate::new(15, true);
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for i in 0..6 {
        let text = json(5 + i);
        let payload = sender.message(text.as_bytes());
        // Whole and fragmented messages take different paths.
        let cuts: &[usize] = if i % 2 == 0 { &[] } else { &[1, 5] };
        bytes.extend(compressed_frames(role, op::TEXT, &payload, cuts));
        expected.push(Message::text(text));
    }
    expect_messages(&mut c, &bytes, &expected);
}

#[test]
fn pmd_23_server_reads_a_client_without_context_takeover() {
    reads_a_peer_that_resets(Role::Server);
}

#[test]
fn pmd_23_client_reads_a_server_without_context_takeover() {
    reads_a_peer_that_resets(Role::Client);
}

// ======================================================================
// Test vectors and unusual streams (PMD-06, PMD-21, PMD-25, PMD-26)
// ======================================================================

const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
const HELLO_AGAIN: [u8; 5] = [0xf2, 0x00, 0x11, 0x00, 0x00];
const HELLO_STORED: [u8; 11] = [
    0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
];
const HELLO_BFINAL: [u8; 8] = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];

#[test]
fn pmd_26_client_reads_the_rfc_examples_byte_for_byte() {
    let mut c = end(Role::Client);
    let bytes = concat([
        // RFC 7692 §7.2.3.1, one frame.
        &[0xc1, 0x07, 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00][..],
        // §7.2.3.2, the same window.
        &[0xc1, 0x05, 0xf2, 0x00, 0x11, 0x00, 0x00][..],
        // §7.2.3.1, fragmented.
        &[0x41, 0x03, 0xf2, 0x48, 0xcd][..],
        &[0x80, 0x04, 0xc9, 0xc9, 0x07, 0x00][..],
        // §7.2.3.3, a stored block.
        &[0xc1, 0x0b][..],
        &HELLO_STORED[..],
        // §7.2.3.4, a final block.
        &[0xc1, 0x08][..],
        &HELLO_BFINAL[..],
        // An empty message, as one byte and as nothing.
        &[0xc1, 0x01, 0x00][..],
        &[0xc1, 0x00][..],
    ]);
    expect_messages(
        &mut c,
        &bytes,
        &[
            Message::text("Hello"),
            Message::text("Hello"),
            Message::text("Hello"),
            Message::text("Hello"),
            Message::text("Hello"),
            Message::text(""),
            Message::text(""),
        ],
    );
}

#[test]
fn pmd_26_server_reads_the_rfc_examples() {
    let role = Role::Server;
    let mut c = end(role);
    let bytes = concat([
        compressed_frames(role, op::TEXT, &HELLO, &[]),
        compressed_frames(role, op::TEXT, &HELLO_AGAIN, &[]),
        compressed_frames(role, op::TEXT, &HELLO, &[3]),
        compressed_frames(role, op::BINARY, &HELLO_STORED, &[]),
        compressed_frames(role, op::TEXT, &HELLO_BFINAL, &[]),
        compressed_frames(role, op::TEXT, &[0x00], &[]),
        compressed_frames(role, op::BINARY, &[], &[]),
        // After the empty ones, the window is still in step.
        compressed_frames(role, op::TEXT, &HELLO, &[]),
        compressed_frames(role, op::TEXT, &HELLO_AGAIN, &[]),
    ]);
    expect_messages(
        &mut c,
        &bytes,
        &[
            Message::text("Hello"),
            Message::text("Hello"),
            Message::text("Hello"),
            Message::binary(&b"Hello"[..]),
            Message::text("Hello"),
            Message::text(""),
            Message::binary(&b""[..]),
            Message::text("Hello"),
            Message::text("Hello"),
        ],
    );
}

fn reads_an_empty_fragmented_message_and_keeps_the_window(role: Role) {
    // PMD-06: the payloads together are empty, like a zero-length payload
    // in one frame (PMD-26), which inflates to nothing.
    let mut c = end(role);
    let bytes = concat([
        compressed_frames(role, op::TEXT, &HELLO, &[]),
        compressed_frames(role, op::TEXT, &[], &[0]),
        compressed_frames(role, op::TEXT, &HELLO_AGAIN, &[]),
    ]);
    expect_messages(
        &mut c,
        &bytes,
        &[
            Message::text("Hello"),
            Message::text(""),
            Message::text("Hello"),
        ],
    );
}

#[test]
fn pmd_26_server_reads_an_empty_fragmented_message_and_keeps_the_window() {
    reads_an_empty_fragmented_message_and_keeps_the_window(Role::Server);
}

#[test]
fn pmd_26_client_reads_an_empty_fragmented_message_and_keeps_the_window() {
    reads_an_empty_fragmented_message_and_keeps_the_window(Role::Client);
}

fn reads_fragments_cut_anywhere(role: Role) {
    // PMD-06: fragments are cut in the compressed bytes, anywhere,
    // including empty fragments.
    let text = json(30);
    let payload = RefDeflate::new(15, true).message(text.as_bytes());
    let n = payload.len();
    let cut_sets: [Vec<usize>; 6] = [
        vec![0],
        vec![n],
        vec![1],
        vec![n - 1],
        (1..n).collect(),
        vec![0, 0, n / 2, n / 2, n],
    ];
    for cuts in cut_sets {
        let mut c = end(role);
        expect_messages(
            &mut c,
            &compressed_frames(role, op::TEXT, &payload, &cuts),
            &[Message::text(text.clone())],
        );
    }
}

#[test]
fn pmd_06_server_reads_compressed_fragments_cut_anywhere() {
    reads_fragments_cut_anywhere(Role::Server);
}

#[test]
fn pmd_06_client_reads_compressed_fragments_cut_anywhere() {
    reads_fragments_cut_anywhere(Role::Client);
}

fn reads_several_blocks_and_a_final_block(role: Role) {
    let mut c = end(role);
    // Several blocks in one message: a full flush in the middle leaves an
    // empty stored block between two compressed ones.
    let mut sender = RefDeflate::new(15, false);
    let mut several = sender.flushed(b"first half, ", FlushCompress::Full);
    several.extend(sender.message(b"second half"));
    // A message that ends with a final block (BFINAL=1), as some
    // implementations send; the next message starts a new stream.
    let mut finisher = RefDeflate::new(15, false);
    let last = finisher.flushed(json(8).as_bytes(), FlushCompress::Finish);
    let after = RefDeflate::new(15, false).message(json(9).as_bytes());
    let stored = {
        let mut level0 = RefDeflate {
            stream: Compress::new_with_window_bits(Compression::new(0), false, 15),
            reset: false,
        };
        level0.message(&noise(70_000, 5))
    };
    let bytes = concat([
        compressed_frames(role, op::TEXT, &several, &[]),
        compressed_frames(role, op::TEXT, &last, &[]),
        compressed_frames(role, op::TEXT, &after, &[3]),
        // Stored blocks, more than one (each holds at most 65 535 bytes).
        compressed_frames(role, op::BINARY, &stored, &[40_000]),
    ]);
    expect_messages(
        &mut c,
        &bytes,
        &[
            Message::text("first half, second half"),
            Message::text(json(8)),
            Message::text(json(9)),
            Message::binary(noise(70_000, 5)),
        ],
    );
}

#[test]
fn pmd_25_server_reads_several_blocks_stored_blocks_and_final_blocks() {
    reads_several_blocks_and_a_final_block(Role::Server);
}

#[test]
fn pmd_25_client_reads_several_blocks_stored_blocks_and_final_blocks() {
    reads_several_blocks_and_a_final_block(Role::Client);
}

#[test]
fn pmd_20_empty_messages_are_sent_compressed_and_keep_the_window() {
    for role in BOTH {
        let mut c = end(role);
        for m in ["Hello", "", "", "Hello", ""] {
            c.send(Message::text(m)).expect("open");
        }
        let frames = sent_frames(&mut c);
        let mut inflater = RefInflate::new(15);
        for (frame, m) in frames.iter().zip(["Hello", "", "", "Hello", ""]) {
            assert_eq!(frame.rsv, RSV1);
            assert_eq!(
                inflater.message(&frame.payload).expect("inflates"),
                m.as_bytes()
            );
        }
    }
}

// ======================================================================
// Failures: invalid data (PMD-27, 1007)
// ======================================================================

fn fails_1007_on_invalid_compressed_data(role: Role) {
    let cases: [(&str, Vec<u8>); 5] = [
        ("garbage", vec![0xff, 0xff, 0xff, 0xff]),
        // BTYPE=11 is reserved.
        ("reserved block type", vec![0x06, 0x00]),
        // A stored block whose NLEN is not the complement of LEN.
        (
            "stored length check",
            vec![0x00, 0x05, 0x00, 0x00, 0x00, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        ),
        // A reference to a window that is empty.
        ("distance too far back", HELLO_AGAIN.to_vec()),
        ("huffman codes", vec![0x04, 0xff, 0xff, 0xff, 0xff, 0xff]),
    ];
    for (what, payload) in cases {
        for opcode in [op::TEXT, op::BINARY] {
            let mut c = end(role);
            let bytes = compressed_frames(role, opcode, &payload, &[]);
            let (seen, err) = feed(&mut c, &bytes);
            assert_eq!(seen, [], "{what}");
            assert_eq!(err, Some(Error::InvalidCompressedData), "{what}");
            assert_close_sent(&mut c, 1007);
        }
    }
    // In a later fragment, after a good one.
    let good = RefDeflate::new(15, false).message(json(5).as_bytes());
    let mut bytes = RawFrame::new(op::TEXT, &good[..good.len() - 1])
        .fin(false)
        .rsv(RSV1)
        .to(role)
        .encode();
    bytes.extend(RawFrame::new(op::CONTINUATION, [0xff; 8]).to(role).encode());
    let mut c = end(role);
    expect_failure(&mut c, &bytes, 0, &Error::InvalidCompressedData, 1007);
}

#[test]
fn pmd_27_server_fails_1007_on_invalid_compressed_data() {
    fails_1007_on_invalid_compressed_data(Role::Server);
}

#[test]
fn pmd_27_client_fails_1007_on_invalid_compressed_data() {
    fails_1007_on_invalid_compressed_data(Role::Client);
}

fn checks_utf8_after_inflating(role: Role) {
    let mut sender = RefDeflate::new(15, true);
    // Invalid text: 1007 as for an uncompressed message.
    let bad = sender.message(b"valid then \xc3\x28 invalid");
    let mut c = end(role);
    expect_failure(
        &mut c,
        &compressed_frames(role, op::TEXT, &bad, &[]),
        0,
        &Error::InvalidUtf8,
        1007,
    );
    // The same bytes are fine in a binary message.
    let mut c = end(role);
    expect_messages(
        &mut c,
        &compressed_frames(role, op::BINARY, &bad, &[]),
        &[Message::binary(&b"valid then \xc3\x28 invalid"[..])],
    );
    // A character cut by fragment boundaries in the compressed stream, and
    // in the inflated text, is fine.
    let text = "€".repeat(500);
    let payload = sender.message(text.as_bytes());
    let cuts: Vec<usize> = (1..payload.len()).step_by(3).collect();
    let mut c = end(role);
    expect_messages(
        &mut c,
        &compressed_frames(role, op::TEXT, &payload, &cuts),
        &[Message::text(text)],
    );
    // A text message that ends inside a character.
    let cut = sender.message(&"€".as_bytes()[..2]);
    let mut c = end(role);
    expect_failure(
        &mut c,
        &compressed_frames(role, op::TEXT, &cut, &[1]),
        0,
        &Error::InvalidUtf8,
        1007,
    );
}

#[test]
fn server_fails_1007_on_compressed_invalid_utf8() {
    checks_utf8_after_inflating(Role::Server);
}

#[test]
fn client_fails_1007_on_compressed_invalid_utf8() {
    checks_utf8_after_inflating(Role::Client);
}

// ======================================================================
// Bounds (PMD-27, 1009)
// ======================================================================

/// A compressed payload of about 1 MiB that inflates to 1 GiB of zeros.
///
/// Compressing 1 GiB in a debug build takes minutes, so the stream is
/// assembled from pieces. Once its window holds 32 KiB of zeros, zlib
/// compresses each further MiB of zeros to the same bytes (checked below),
/// and those bytes decode the same after any run of zeros: the first MiB's
/// output, then the steady MiB's output 1023 times, is the compression of
/// 1 GiB of zeros.
fn bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let zeros = vec![0u8; 1 << 20];
        let mut zlib = RefDeflate {
            stream: Compress::new_with_window_bits(Compression::new(9), false, 15),
            reset: false,
        };
        let mut first = zlib.flushed(&zeros, FlushCompress::Sync);
        let steady = zlib.flushed(&zeros, FlushCompress::Sync);
        assert_eq!(zlib.flushed(&zeros, FlushCompress::Sync), steady);
        assert_eq!(zlib.flushed(&zeros, FlushCompress::Sync), steady);
        // Three pieces inflate to three MiB of zeros.
        let mut three = first.clone();
        three.extend_from_slice(&steady);
        three.extend_from_slice(&steady);
        three.truncate(three.len() - TAIL.len());
        assert_eq!(
            RefInflate::new(15).message(&three).expect("inflates"),
            vec![0u8; 3 << 20]
        );
        first.reserve(steady.len() * 1023);
        for _ in 1..1024 {
            first.extend_from_slice(&steady);
        }
        first.truncate(first.len() - TAIL.len());
        first
    })
}

const MIB: usize = 1 << 20;

fn stops_a_decompression_bomb(role: Role, fragment: Option<usize>) {
    let bomb = bomb();
    assert!(
        (MIB * 9 / 10..MIB * 11 / 10).contains(&bomb.len()),
        "{} bytes",
        bomb.len()
    );
    let limit = MIB;
    let config = Config {
        max_message_size: limit,
        max_frame_size: 2 * MIB,
        ..Config::default()
    };
    let mut c = end_with(
        role,
        "permessage-deflate",
        DeflateConfig::default(),
        &config,
    );
    let cuts: Vec<usize> = match fragment {
        Some(size) => (size..bomb.len()).step_by(size).collect(),
        None => Vec::new(),
    };
    let wire = BytesMut::from(&compressed_frames(role, op::BINARY, bomb, &cuts)[..]);
    let ((seen, err), peak) = peak_during(|| {
        c.receive_buf(wire);
        events(&mut c)
    });
    assert_eq!(seen, []);
    match err {
        Some(Error::MessageTooBig { size, limit: l }) => {
            assert_eq!(l, limit);
            assert!(size > limit as u64 && size <= limit as u64 + 1, "{size}");
        }
        other => panic!("expected MessageTooBig, got {other:?}"),
    }
    assert_close_sent(&mut c, 1009);
    // The wire bytes were handed over without a copy; what the engine
    // allocated is the inflated message (up to the limit), zlib's state and
    // the growth of one buffer.
    assert!(
        peak < (limit + 2 * MIB) as u64,
        "peak heap {peak} bytes for a {limit}-byte limit"
    );
}

#[test]
fn pmd_27_server_stops_a_decompression_bomb_at_the_limit() {
    stops_a_decompression_bomb(Role::Server, None);
}

#[test]
fn pmd_27_client_stops_a_decompression_bomb_at_the_limit() {
    stops_a_decompression_bomb(Role::Client, None);
}

#[test]
fn pmd_27_server_stops_a_fragmented_decompression_bomb_at_the_limit() {
    stops_a_decompression_bomb(Role::Server, Some(256));
}

#[test]
fn pmd_27_client_stops_a_fragmented_decompression_bomb_at_the_limit() {
    stops_a_decompression_bomb(Role::Client, Some(1000));
}

fn counts_inflated_bytes_against_the_limit(role: Role) {
    let limit = 1000;
    let config = Config {
        max_message_size: limit,
        ..Config::default()
    };
    let fresh = || {
        end_with(
            role,
            "permessage-deflate",
            DeflateConfig::default(),
            &config,
        )
    };
    let at_limit = RefDeflate::new(15, true).message(&[b'a'; 1000]);
    let over = RefDeflate::new(15, true).message(&[b'a'; 1001]);
    assert!(at_limit.len() < 50 && over.len() < 50);
    for cuts in [vec![], vec![2, 5]] {
        let mut c = fresh();
        expect_messages(
            &mut c,
            &compressed_frames(role, op::TEXT, &at_limit, &cuts),
            &[Message::text("a".repeat(1000))],
        );
        let mut c = fresh();
        expect_failure(
            &mut c,
            &compressed_frames(role, op::TEXT, &over, &cuts),
            0,
            &Error::MessageTooBig {
                size: 1001,
                limit: 1000,
            },
            1009,
        );
    }
    // It is the inflated size that counts: stored blocks make the wire
    // payload larger than the message, which still fits.
    let mut level0 = RefDeflate {
        stream: Compress::new_with_window_bits(Compression::new(0), false, 15),
        reset: false,
    };
    let data = noise(1000, 9);
    let stored = level0.message(&data);
    assert!(stored.len() > limit);
    let mut c = fresh();
    expect_messages(
        &mut c,
        &compressed_frames(role, op::BINARY, &stored, &[]),
        &[Message::binary(data)],
    );
}

#[test]
fn pmd_27_server_counts_inflated_bytes_against_the_limit() {
    counts_inflated_bytes_against_the_limit(Role::Server);
}

#[test]
fn pmd_27_client_counts_inflated_bytes_against_the_limit() {
    counts_inflated_bytes_against_the_limit(Role::Client);
}

/// The limit of the tests at the limit: frames and messages of 64 KiB.
const AT_LIMIT: usize = 64 << 10;

/// An end of `role` that agreed permessage-deflate, with frames and
/// messages limited to [`AT_LIMIT`]: the frame limit equals the message
/// limit, as in the defaults.
fn limited_end(role: Role) -> Connection {
    end_with(
        role,
        "permessage-deflate",
        DeflateConfig::default(),
        &limited_config(),
    )
}

fn limited_config() -> Config {
    Config {
        max_frame_size: AT_LIMIT,
        max_message_size: AT_LIMIT,
        ..Config::default()
    }
}

/// A message of exactly `max_message_size` passes whatever the peer's
/// compressor made of it, though its frame is then longer than
/// `max_frame_size`; one byte more fails with 1009 (R-LM-01, PMD-27).
fn takes_a_compressed_message_at_the_limit(role: Role) {
    let (limit, config) = (AT_LIMIT, limited_config());
    let fresh = || limited_end(role);
    let compress = |level: u32, data: &[u8]| {
        RefDeflate {
            stream: Compress::new_with_window_bits(Compression::new(level), false, 15),
            reset: true,
        }
        .message(data)
    };
    let random = noise(limit, 27);
    let mut text = json(2000);
    text.truncate(limit);
    // Stored blocks (level 0) always lengthen random bytes; zlib's levels
    // 1 and 9 choose their own blocks.
    for level in [0, 1, 9] {
        let stored = compress(level, &random);
        if level == 0 {
            assert!(stored.len() > limit, "{} bytes", stored.len());
        }
        assert!(stored.len() <= config.max_compressed_frame_size());
        // Whole, and with a first frame of one byte: the continuation is
        // judged as part of the compressed message.
        for cuts in [vec![], vec![1]] {
            let mut c = fresh();
            expect_messages(
                &mut c,
                &compressed_frames(role, op::BINARY, &stored, &cuts),
                &[Message::binary(random.clone())],
            );
            let mut c = fresh();
            expect_messages(
                &mut c,
                &compressed_frames(role, op::TEXT, &compress(level, text.as_bytes()), &cuts),
                &[Message::text(text.clone())],
            );
        }
        let over = compress(level, &noise(limit + 1, 27));
        let mut c = fresh();
        expect_failure(
            &mut c,
            &compressed_frames(role, op::BINARY, &over, &[]),
            0,
            &Error::MessageTooBig {
                size: limit as u64 + 1,
                limit,
            },
            1009,
        );
    }
}

#[test]
fn r_lm_01_server_takes_a_compressed_message_at_the_limit() {
    takes_a_compressed_message_at_the_limit(Role::Server);
}

#[test]
fn r_lm_01_client_takes_a_compressed_message_at_the_limit() {
    takes_a_compressed_message_at_the_limit(Role::Client);
}

/// A compressed frame longer than deflate could make of the largest
/// message is refused from its header, before anything is buffered, and an
/// uncompressed one is still held to `max_frame_size`.
fn refuses_a_compressed_frame_past_the_bound(role: Role) {
    let limit = AT_LIMIT;
    let bound = limited_config().max_compressed_frame_size();
    assert!(bound > limit);
    for (rsv, declared, allowed) in [(RSV1, bound + 1, bound), (0, limit + 1, limit)] {
        let mut c = limited_end(role);
        let header = RawFrame::new(op::BINARY, b"")
            .rsv(rsv)
            .declared_len(declared as u64)
            .to(role)
            .header();
        let ((seen, err), heap) = peak_during(|| feed(&mut c, &header));
        assert_eq!(seen, []);
        assert_eq!(
            err,
            Some(Error::FrameTooBig {
                size: declared as u64,
                limit: allowed,
            })
        );
        assert!(heap < 4096, "{heap} bytes allocated");
        assert_close_sent(&mut c, 1009);
    }
}

#[test]
fn r_lm_01_server_refuses_a_compressed_frame_past_the_bound() {
    refuses_a_compressed_frame_past_the_bound(Role::Server);
}

#[test]
fn r_lm_01_client_refuses_a_compressed_frame_past_the_bound() {
    refuses_a_compressed_frame_past_the_bound(Role::Client);
}

/// A text frame with RSV1 inside a message in progress starts no
/// compressed message, so the plain frame limit judges it first: 1009 for
/// a length between `max_frame_size` and the compressed bound.
fn judges_rsv1_inside_a_message_by_the_plain_limit(role: Role) {
    let limit = AT_LIMIT;
    let mut c = limited_end(role);
    let first = RawFrame::new(op::BINARY, b"ab")
        .fin(false)
        .to(role)
        .encode();
    let header = RawFrame::new(op::TEXT, b"")
        .rsv(RSV1)
        .declared_len(limit as u64 + 1)
        .to(role)
        .header();
    let (seen, err) = feed(&mut c, &concat([first, header]));
    assert_eq!(seen, []);
    assert_eq!(
        err,
        Some(Error::FrameTooBig {
            size: limit as u64 + 1,
            limit,
        })
    );
    assert_close_sent(&mut c, 1009);
}

#[test]
fn r_lm_01_server_judges_rsv1_inside_a_message_by_the_plain_limit() {
    judges_rsv1_inside_a_message_by_the_plain_limit(Role::Server);
}

#[test]
fn r_lm_01_client_judges_rsv1_inside_a_message_by_the_plain_limit() {
    judges_rsv1_inside_a_message_by_the_plain_limit(Role::Client);
}

#[test]
fn compressed_messages_arrive_without_a_message_limit() {
    // `limit + 1` once overflowed here.
    for role in BOTH {
        let config = Config {
            max_message_size: usize::MAX,
            ..Config::default()
        };
        let mut c = end_with(
            role,
            "permessage-deflate",
            DeflateConfig::default(),
            &config,
        );
        expect_messages(
            &mut c,
            &compressed_frames(role, op::TEXT, &HELLO, &[]),
            &[Message::text("Hello")],
        );
    }
}

// ======================================================================
// Sending uncompressed (PMD-28), levels, and what is counted (PMD-29)
// ======================================================================

#[test]
fn pmd_28_messages_under_min_size_go_out_uncompressed() {
    let settings = DeflateConfig {
        min_size: 100,
        ..DeflateConfig::default()
    };
    for role in BOTH {
        let mut pair = pair(&settings, &settings, &Config::default());
        let (from, to) = split_pair(&mut pair, role);
        let short = "x".repeat(99);
        let long = "x".repeat(100);
        from.send(Message::text(short.clone())).expect("open");
        from.send(Message::text(long.clone())).expect("open");
        from.send(Message::text("")).expect("open");
        let wire = drain(from);
        let frames = parse_frames(&wire, role == Role::Client);
        assert_eq!(
            (frames[0].rsv, &frames[0].payload),
            (0, &short.clone().into_bytes())
        );
        assert_eq!(frames[1].rsv, RSV1);
        assert!(frames[1].payload.len() < 20);
        assert_eq!((frames[2].rsv, frames[2].payload.len()), (0, 0));
        expect_messages(
            to,
            &wire,
            &[Message::text(short), Message::text(long), Message::text("")],
        );
    }
}

#[test]
fn pmd_28_send_uncompressed_sends_as_is_and_keeps_the_window_in_step() {
    for role in BOTH {
        let settings = DeflateConfig::default();
        let config = Config {
            max_send_frame_size: Some(100),
            ..Config::default()
        };
        let mut pair = pair(&settings, &settings, &config);
        let (from, to) = split_pair(&mut pair, role);
        let secret = format!("token=s3cr3t {}", json(10));
        from.send(Message::text(json(10))).expect("open");
        from.send_uncompressed(Message::text(secret.clone()))
            .expect("open");
        from.send(Message::text(json(10))).expect("open");
        let wire = drain(from);
        let frames = parse_frames(&wire, role == Role::Client);
        // The compressed message, then the plain one in fragments of 100.
        let plain: Vec<&SentFrame> = frames
            .iter()
            .skip_while(|f| f.rsv == RSV1 || f.opcode == op::CONTINUATION)
            .take_while(|f| f.rsv == 0)
            .collect();
        assert!(plain.len() > 1);
        assert_eq!(
            concat(plain.iter().map(|f| &f.payload)),
            secret.as_bytes(),
            "sent as is"
        );
        // The last message refers back to the first.
        let last = frames.last().expect("frames");
        assert_eq!(last.rsv, RSV1);
        assert!(last.payload.len() < 20);
        expect_messages(
            to,
            &wire,
            &[
                Message::text(json(10)),
                Message::text(secret),
                Message::text(json(10)),
            ],
        );
    }
}

#[test]
fn every_compression_level_round_trips() {
    for level in [0, 1, 6, 9, 42] {
        let settings = DeflateConfig {
            level,
            ..DeflateConfig::default()
        };
        for role in BOTH {
            let mut pair = pair(&settings, &settings, &Config::default());
            let (from, to) = split_pair(&mut pair, role);
            let data = [json(50).into_bytes(), noise(3000, 1)].concat();
            from.send(Message::binary(data.clone())).expect("open");
            let wire = drain(from);
            let frames = parse_frames(&wire, role == Role::Client);
            assert_eq!(frames[0].rsv, RSV1);
            expect_messages(to, &wire, &[Message::binary(data)]);
        }
    }
}

#[test]
fn deflate_reports_the_agreement() {
    let settings = DeflateConfig {
        server_no_context_takeover: true,
        server_max_window_bits: 11,
        ..DeflateConfig::default()
    };
    let (client, server) = pair(&settings, &DeflateConfig::default(), &Config::default());
    let (on_client, on_server) = (client.deflate().copied(), server.deflate().copied());
    assert_eq!(on_client, on_server);
    let agreed = on_client.expect("negotiated");
    assert!(agreed.server_no_context_takeover);
    assert_eq!(agreed.server_max_window_bits, 11);
    assert_eq!(
        agreed.to_string(),
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=11"
    );
}

#[test]
fn output_len_counts_wire_bytes_after_compression() {
    // The engine reports what waits for the transport; the browser-shaped
    // API counts application bytes itself (PMD-29).
    let mut c = end(Role::Client);
    c.send(Message::text("x".repeat(10_000))).expect("open");
    assert!(c.output_len() < 200, "{}", c.output_len());
}

// ======================================================================
// Properties
// ======================================================================

fn deflate_config() -> impl Strategy<Value = DeflateConfig> {
    (
        0u32..=9,
        prop_oneof![Just(0usize), 0usize..64],
        any::<bool>(),
        any::<bool>(),
        8u8..=15,
        8u8..=15,
    )
        .prop_map(
            |(level, min_size, snct, cnct, sbits, cbits)| DeflateConfig {
                level,
                min_size,
                server_no_context_takeover: snct,
                client_no_context_takeover: cnct,
                server_max_window_bits: sbits,
                client_max_window_bits: cbits,
            },
        )
}

/// A message payload: noise, repetitive bytes, or text.
#[derive(Clone, Debug)]
struct Payload {
    text: bool,
    data: Vec<u8>,
}

impl Payload {
    fn message(&self) -> Message {
        if self.text {
            Message::text(String::from_utf8(self.data.clone()).expect("text"))
        } else {
            Message::binary(self.data.clone())
        }
    }
}

fn payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        vec(any::<u8>(), 0..1500).prop_map(|data| Payload { text: false, data }),
        (vec(any::<u8>(), 1..24), 1usize..300).prop_map(|(unit, n)| Payload {
            text: false,
            data: unit.repeat(n),
        }),
        (".{0,40}", 1usize..60).prop_map(|(s, n)| Payload {
            text: true,
            data: s.repeat(n).into_bytes(),
        }),
        (0usize..40).prop_map(|n| Payload {
            text: true,
            data: json(n).into_bytes(),
        }),
    ]
}

#[derive(Clone, Debug)]
struct Send {
    from: Role,
    payload: Payload,
    uncompressed: bool,
}

fn sends() -> impl Strategy<Value = Vec<Send>> {
    vec(
        (
            prop_oneof![Just(Role::Client), Just(Role::Server)],
            payload(),
            prop::bool::weighted(0.15),
        )
            .prop_map(|(from, payload, uncompressed)| Send {
                from,
                payload,
                uncompressed,
            }),
        1..10,
    )
}

fn frame_limit() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (1usize..400).prop_map(Some)]
}

/// The window the sender of `role` compresses with, and whether it resets.
fn sender_window(agreed: PerMessageDeflate, role: Role) -> (u8, bool) {
    match role {
        Role::Client => (
            agreed.client_max_window_bits,
            agreed.client_no_context_takeover,
        ),
        Role::Server => (
            agreed.server_max_window_bits,
            agreed.server_no_context_takeover,
        ),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Any messages, sent either way under any negotiated parameters, with
    /// any frame size and cut into reads anywhere, arrive intact; on the
    /// wire RSV1 is on first frames only and exactly when the message was
    /// compressed, and the compressed bytes inflate with an independent
    /// inflater that looks back no further than the agreed window.
    #[test]
    fn prop_messages_round_trip_under_any_agreement(
        client_settings in deflate_config(),
        server_settings in deflate_config(),
        client_frames in frame_limit(),
        server_frames in frame_limit(),
        read in prop_oneof![Just(usize::MAX), 1usize..2000],
        in_place in any::<bool>(),
        sends in sends(),
    ) {
        let (on_server, on_client) = negotiate(&client_settings, &server_settings);
        let config = |frames| Config { max_send_frame_size: frames, ..Config::default() };
        let mut client = Connection::new(
            Role::Client,
            Config { deflate: Some(client_settings.clone()), ..config(client_frames) },
        ).with_deflate(on_client);
        let mut server = Connection::new(
            Role::Server,
            Config { deflate: Some(server_settings.clone()), ..config(server_frames) },
        ).with_deflate(on_server);
        // An independent decoder per direction, which keeps the window.
        let mut decoders = [Puff::default(), Puff::default()];
        for send in &sends {
            let (from, to, settings, agreed, limit) = match send.from {
                Role::Client => (&mut client, &mut server, &client_settings, on_client, client_frames),
                Role::Server => (&mut server, &mut client, &server_settings, on_server, server_frames),
            };
            let message = send.payload.message();
            if send.uncompressed {
                from.send_uncompressed(message.clone()).expect("open");
            } else {
                from.send(message.clone()).expect("open");
            }
            let wire = drain(from);
            let frames = parse_frames(&wire, send.from == Role::Client);
            let (bits, reset) = sender_window(agreed, send.from);
            let may_compress = !send.uncompressed
                && send.payload.data.len() >= settings.min_size
                && bits >= 9;
            let compressed = may_compress;
            prop_assert_eq!(frames[0].rsv, if compressed { RSV1 } else { 0 });
            if compressed {
                // Never more than stored blocks cost: 5 bytes per 64 KiB.
                let wire_len: usize = frames.iter().map(|f| f.payload.len()).sum();
                let len = send.payload.data.len();
                prop_assert!(wire_len <= len + len.div_ceil(0xffff).max(1) * 5 + 1);
            }
            for (i, frame) in frames.iter().enumerate() {
                prop_assert_eq!(frame.fin, i == frames.len() - 1);
                if i > 0 {
                    prop_assert_eq!((frame.rsv, frame.opcode), (0, op::CONTINUATION));
                }
                if let (Some(limit), false) = (limit, frames.len() == 1) {
                    prop_assert!(frame.payload.len() <= limit);
                }
            }
            let joined = concat(frames.iter().map(|f| &f.payload));
            if compressed {
                let decoder = &mut decoders[usize::from(send.from == Role::Server)];
                if reset {
                    // PMD-22: the message must decode with an empty window.
                    *decoder = Puff::default();
                }
                prop_assert_eq!(decoder.message(&joined), Ok(send.payload.data.clone()));
                // PMD-24: no match reaches past the agreed window.
                prop_assert!(decoder.max_distance <= 1 << bits);
            } else {
                prop_assert_eq!(&joined, &send.payload.data);
            }
            let mut seen = Vec::new();
            for piece in wire.chunks(read.min(wire.len()).max(1)) {
                let (events, err) = if in_place {
                    feed_in_place(to, piece, true)
                } else {
                    feed(to, piece)
                };
                prop_assert_eq!(err, None);
                seen.extend(events);
            }
            prop_assert_eq!(seen, vec![Event::Message(message)]);
        }
    }

    /// Messages an independent compressor produced, cut into fragments
    /// anywhere and read in chunks of any size, arrive intact, with or
    /// without context takeover and for every window size.
    #[test]
    fn prop_zlib_messages_inflate_in_any_fragmentation(
        role in prop_oneof![Just(Role::Client), Just(Role::Server)],
        bits in 9u8..=15,
        reset in any::<bool>(),
        messages in vec((payload(), vec(any::<prop::sample::Index>(), 0..4)), 1..8),
        read in prop_oneof![Just(usize::MAX), 1usize..700],
    ) {
        let (peer_bits, peer_reset) = match peer_of(role) {
            Role::Client => ("client_max_window_bits", "client_no_context_takeover"),
            Role::Server => ("server_max_window_bits", "server_no_context_takeover"),
        };
        let mut response = format!("permessage-deflate; {peer_bits}={bits}");
        if reset {
            response.push_str("; ");
            response.push_str(peer_reset);
        }
        let mut c = end_with(role, &response, DeflateConfig::default(), &Config::default());
        let mut sender = RefDeflate::new(bits, reset);
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (payload, cuts) in &messages {
            let compressed = sender.message(&payload.data);
            let mut cuts: Vec<usize> = cuts.iter().map(|i| i.index(compressed.len() + 1)).collect();
            cuts.sort_unstable();
            let opcode = if payload.text { op::TEXT } else { op::BINARY };
            wire.extend(compressed_frames(role, opcode, &compressed, &cuts));
            expected.push(Event::Message(payload.message()));
        }
        let mut seen = Vec::new();
        for piece in wire.chunks(read.min(wire.len()).max(1)) {
            let (events, err) = feed(&mut c, piece);
            prop_assert_eq!(err, None);
            seen.extend(events);
        }
        prop_assert_eq!(seen, expected);
    }

    /// Whatever a peer sends with RSV1, the engine never panics, fails
    /// with 1002, 1007 or 1009 if at all, and holds no more than the limit.
    #[test]
    fn prop_arbitrary_compressed_payloads_fail_cleanly(
        role in prop_oneof![Just(Role::Client), Just(Role::Server)],
        payloads in vec(vec(any::<u8>(), 0..300), 1..6),
        fin_first in any::<bool>(),
    ) {
        let config = Config { max_message_size: 4096, ..Config::default() };
        let mut c = end_with(role, "permessage-deflate", DeflateConfig::default(), &config);
        let frames = payloads.iter().enumerate().map(|(i, p)| {
            let first = i == 0;
            RawFrame::new(if first { op::BINARY } else { op::CONTINUATION }, p)
                .fin(if first { fin_first } else { i == payloads.len() - 1 })
                .rsv(if first { RSV1 } else { 0 })
                .to(role)
                .encode()
        });
        let (seen, err) = feed(&mut c, &concat(frames));
        for event in &seen {
            if let Event::Message(m) = event {
                prop_assert!(m.len() <= 4096);
            }
        }
        if let Some(err) = err {
            let code = err.close_code().as_u16();
            prop_assert!([1002, 1007, 1009].contains(&code), "{err:?}");
            assert_close_sent(&mut c, code);
        }
    }
}
