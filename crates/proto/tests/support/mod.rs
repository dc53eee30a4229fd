//! Test harness for `sockeye-proto` behaviour tests.
//!
//! - [`RawFrame`] builds frames byte by byte, legal or not: any FIN, RSV,
//!   opcode, mask and length encoding, including non-minimal ones and lengths
//!   that do not match the payload.
//! - [`Pair`] runs a client and a server [`Connection`] against each other in
//!   memory, moving bytes in reads of a chosen size (quinn-proto's `Pair`).
//! - [`drain`], [`events`], [`parse_frames`] and [`sent_frames`] read what an
//!   engine reported and wrote, with a decoder independent of the engine's;
//!   [`assert_close_sent`] checks how a connection was failed or closed.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

pub(crate) mod alloc;

use bytes::Buf;
use sockeye_proto::{Config, Connection, Error, Event, EventRef, Role};

/// Wire opcodes, including reserved ones, as raw 4-bit values.
pub(crate) mod op {
    pub(crate) const CONTINUATION: u8 = 0x0;
    pub(crate) const TEXT: u8 = 0x1;
    pub(crate) const BINARY: u8 = 0x2;
    pub(crate) const CLOSE: u8 = 0x8;
    pub(crate) const PING: u8 = 0x9;
    pub(crate) const PONG: u8 = 0xa;
    /// Every opcode RFC 6455 §5.2 reserves.
    pub(crate) const RESERVED: [u8; 10] = [0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf];
}

/// The masking key of RFC 6455 §5.7, used wherever a test needs a fixed one.
pub(crate) const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// How a [`RawFrame`] writes its payload length (RFC 6455 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LenForm {
    /// The shortest form, as a conforming sender writes it.
    Minimal,
    /// The 7-bit field alone (the length must be under 126).
    Short,
    /// 126 and a 16-bit extended length.
    U16,
    /// 127 and a 64-bit extended length.
    U64,
}

/// A frame to put on the wire, built field by field.
#[derive(Clone, Debug)]
pub(crate) struct RawFrame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
    len_form: LenForm,
    declared_len: Option<u64>,
}

impl RawFrame {
    /// A final, unmasked frame with no RSV bits and the minimal length form.
    pub(crate) fn new(opcode: u8, payload: impl AsRef<[u8]>) -> Self {
        RawFrame {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload: payload.as_ref().to_vec(),
            len_form: LenForm::Minimal,
            declared_len: None,
        }
    }

    pub(crate) fn fin(mut self, fin: bool) -> Self {
        self.fin = fin;
        self
    }

    /// RSV1..3 as the low three bits (RSV1 is `0b100`).
    pub(crate) fn rsv(mut self, rsv: u8) -> Self {
        self.rsv = rsv;
        self
    }

    pub(crate) fn masked(mut self, key: [u8; 4]) -> Self {
        self.mask = Some(key);
        self
    }

    pub(crate) fn mask(mut self, key: Option<[u8; 4]>) -> Self {
        self.mask = key;
        self
    }

    /// Masked with [`KEY`] when the frame goes to a server, as a client sends
    /// it; unmasked when it goes to a client.
    pub(crate) fn to(self, receiver: Role) -> Self {
        match receiver {
            Role::Server => self.masked(KEY),
            Role::Client => self.mask(None),
        }
    }

    pub(crate) fn len_form(mut self, form: LenForm) -> Self {
        self.len_form = form;
        self
    }

    /// Writes `len` in the header whatever the payload's real length, to
    /// announce more than is sent.
    pub(crate) fn declared_len(mut self, len: u64) -> Self {
        self.declared_len = Some(len);
        self
    }

    /// The header alone: everything before the payload.
    pub(crate) fn header(&self) -> Vec<u8> {
        let len = self.declared_len.unwrap_or(self.payload.len() as u64);
        let mut out = vec![(u8::from(self.fin) << 7) | ((self.rsv & 7) << 4) | (self.opcode & 0xf)];
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let form = match self.len_form {
            LenForm::Minimal if len < 126 => LenForm::Short,
            LenForm::Minimal if len <= 0xffff => LenForm::U16,
            LenForm::Minimal => LenForm::U64,
            other => other,
        };
        match form {
            LenForm::Short => {
                assert!(len < 126, "a 7-bit length cannot hold {len}");
                out.push(mask_bit | u8::try_from(len).expect("7-bit length"));
            }
            LenForm::U16 => {
                out.push(mask_bit | 0x7e);
                out.extend_from_slice(&u16::try_from(len).expect("16-bit length").to_be_bytes());
            }
            LenForm::U64 | LenForm::Minimal => {
                out.push(mask_bit | 0x7f);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
        out
    }

    /// The whole frame: header, then the payload, masked if a key is set.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = self.header();
        let start = out.len();
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.mask {
            xor_mask(&mut out[start..], key);
        }
        out
    }
}

/// RFC 6455 §5.3, one byte at a time: the reference the engine is checked against.
pub(crate) fn xor_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// One frame as the peer would send it to `receiver`: final, masked towards
/// a server.
pub(crate) fn frame_to(receiver: Role, opcode: u8, payload: impl AsRef<[u8]>) -> Vec<u8> {
    RawFrame::new(opcode, payload).to(receiver).encode()
}

/// A Close frame body: the code, big-endian, then the reason.
pub(crate) fn close_body(code: u16, reason: &str) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason.as_bytes());
    body
}

/// Concatenates encoded frames into one byte stream.
pub(crate) fn concat<I, B>(frames: I) -> Vec<u8>
where
    I: IntoIterator<Item = B>,
    B: AsRef<[u8]>,
{
    let mut out = Vec::new();
    for f in frames {
        out.extend_from_slice(f.as_ref());
    }
    out
}

/// The other end's role.
pub(crate) fn peer_of(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

pub(crate) fn conn(role: Role) -> Connection {
    Connection::new(role, Config::default())
}

/// Everything the connection has queued to write, removed from its queue.
pub(crate) fn drain(conn: &mut Connection) -> Vec<u8> {
    let out = conn.output();
    let mut bytes = Vec::with_capacity(out.remaining());
    while out.has_remaining() {
        let chunk = out.chunk();
        assert!(
            !chunk.is_empty(),
            "Output::chunk() empty with {} bytes remaining",
            out.remaining()
        );
        bytes.extend_from_slice(chunk);
        let n = chunk.len();
        out.advance(n);
    }
    bytes
}

/// Calls `next_event` until it returns `Ok(None)` or an error.
pub(crate) fn events(conn: &mut Connection) -> (Vec<Event>, Option<Error>) {
    let mut seen = Vec::new();
    loop {
        match conn.next_event() {
            Ok(Some(event)) => seen.push(event),
            Ok(None) => return (seen, None),
            Err(e) => return (seen, Some(e)),
        }
    }
}

/// Feeds `read` to `conn` in place and returns what it reported, as owned
/// events; with `all`
/// false, only the first comes from the in-place reader.
pub(crate) fn feed_in_place(
    c: &mut Connection,
    read: &[u8],
    all: bool,
) -> (Vec<Event>, Option<Error>) {
    let mut read = read.to_vec();
    let mut got = Vec::new();
    let mut input = c.receive_in_place(&mut read);
    loop {
        match input.next_event() {
            Ok(Some(event)) => got.push(owned(event)),
            Ok(None) => return (got, None),
            Err(e) => return (got, Some(e)),
        }
        if !all {
            break;
        }
    }
    drop(input);
    let (rest, err) = events(c);
    got.extend(rest);
    (got, err)
}

/// An in-place event with its payload copied out.
pub(crate) fn owned(event: EventRef<'_>) -> Event {
    match event {
        EventRef::Message(message) => Event::Message(message.into_message()),
        EventRef::Ping(payload) => Event::Ping(payload),
        EventRef::Pong(payload) => Event::Pong(payload),
        EventRef::Close(frame) => Event::Close(frame),
    }
}

/// Feeds `bytes` to `conn` in one read and returns what it reported.
pub(crate) fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<Event>, Option<Error>) {
    conn.receive(bytes);
    events(conn)
}

/// Feeds `bytes` to a fresh connection playing `role` and returns the error
/// it failed with, checking it reported no event first.
pub(crate) fn failure(role: Role, config: Config, bytes: &[u8]) -> (Connection, Error) {
    let mut c = Connection::new(role, config);
    let (seen, err) = feed(&mut c, bytes);
    assert!(seen.is_empty(), "events before the failure: {seen:?}");
    let err = err.unwrap_or_else(|| panic!("{role:?} did not fail on {bytes:02x?}"));
    (c, err)
}

/// A frame as an engine wrote it, decoded by [`parse_frames`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SentFrame {
    pub(crate) fin: bool,
    pub(crate) rsv: u8,
    pub(crate) opcode: u8,
    pub(crate) masking_key: Option<[u8; 4]>,
    /// Unmasked.
    pub(crate) payload: Vec<u8>,
    /// The encoded length field's size in bytes beyond the first two header
    /// bytes: 0, 2 or 8.
    pub(crate) ext_len_bytes: usize,
}

impl SentFrame {
    /// The status code of a Close frame with a body.
    pub(crate) fn close_code(&self) -> Option<u16> {
        (self.opcode == op::CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    /// The reason of a Close frame, as text.
    pub(crate) fn close_reason(&self) -> &str {
        std::str::from_utf8(self.payload.get(2..).unwrap_or_default())
            .expect("close reason is UTF-8")
    }
}

/// Decodes a byte stream an engine wrote, checking that it is whole frames,
/// each minimally encoded, masked exactly when `masked` is set.
pub(crate) fn parse_frames(mut bytes: &[u8], masked: bool) -> Vec<SentFrame> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        assert!(bytes.len() >= 2, "truncated frame header: {bytes:02x?}");
        let fin = bytes[0] & 0x80 != 0;
        let rsv = (bytes[0] >> 4) & 7;
        let opcode = bytes[0] & 0xf;
        let has_mask = bytes[1] & 0x80 != 0;
        assert_eq!(has_mask, masked, "mask bit of frame {}", frames.len());
        let (len, ext) = match bytes[1] & 0x7f {
            126 => {
                let len = u64::from(u16::from_be_bytes([bytes[2], bytes[3]]));
                assert!(len >= 126, "non-minimal 16-bit length {len}");
                (len, 2)
            }
            127 => {
                let len = u64::from_be_bytes(bytes[2..10].try_into().expect("8 bytes"));
                assert!(len > 0xffff && len >> 63 == 0, "bad 64-bit length {len}");
                (len, 8)
            }
            short => (u64::from(short), 0),
        };
        let mut pos = 2 + ext;
        let masking_key = has_mask.then(|| {
            let key: [u8; 4] = bytes[pos..pos + 4].try_into().expect("4 bytes");
            pos += 4;
            key
        });
        let len = usize::try_from(len).expect("length fits usize");
        assert!(bytes.len() >= pos + len, "truncated payload");
        let mut payload = bytes[pos..pos + len].to_vec();
        if let Some(key) = masking_key {
            xor_mask(&mut payload, key);
        }
        frames.push(SentFrame {
            fin,
            rsv,
            opcode,
            masking_key,
            payload,
            ext_len_bytes: ext,
        });
        bytes = &bytes[pos + len..];
    }
    frames
}

/// Drains `conn` and decodes what it wrote, masked if it is a client.
pub(crate) fn sent_frames(conn: &mut Connection) -> Vec<SentFrame> {
    let masked = conn.role() == Role::Client;
    parse_frames(&drain(conn), masked)
}

/// Asserts that `conn` wrote exactly one Close frame, last, with `code`, and
/// returns it. Other frames before it are allowed.
pub(crate) fn assert_close_sent(conn: &mut Connection, code: u16) -> SentFrame {
    let frames = sent_frames(conn);
    let closes: Vec<_> = frames.iter().filter(|f| f.opcode == op::CLOSE).collect();
    assert_eq!(closes.len(), 1, "expected one Close frame, sent {frames:?}");
    let last = frames.last().expect("a frame");
    assert_eq!(
        last.opcode,
        op::CLOSE,
        "Close is not the last frame: {frames:?}"
    );
    assert_eq!(last.close_code(), Some(code), "close code of {last:?}");
    assert!(last.fin && last.rsv == 0);
    assert!(last.payload.len() <= 125);
    last.clone()
}

/// Asserts that `conn` has nothing to write.
pub(crate) fn assert_nothing_sent(conn: &mut Connection) {
    assert!(!conn.wants_write(), "wants to write");
    let frames = sent_frames(conn);
    assert!(frames.is_empty(), "sent {frames:?}");
}

/// What one side of a [`Pair`] reported.
#[derive(Debug, Default)]
pub(crate) struct Log {
    pub(crate) events: Vec<Event>,
    pub(crate) error: Option<Error>,
}

/// A client and a server connected in memory.
///
/// Bytes move only when a test calls [`deliver_to_server`](Pair::deliver_to_server),
/// [`deliver_to_client`](Pair::deliver_to_client) or [`drive`](Pair::drive), so a test can
/// hold a direction back. Each transfer is cut into reads of at most
/// `chunk` bytes, and after each read the receiver's events are collected
/// into its [`Log`], so its automatic replies are queued as they would be.
#[derive(Debug)]
pub(crate) struct Pair {
    pub(crate) client: Connection,
    pub(crate) server: Connection,
    pub(crate) client_log: Log,
    pub(crate) server_log: Log,
    /// The largest read a transfer delivers at once.
    pub(crate) chunk: usize,
}

impl Default for Pair {
    fn default() -> Self {
        Pair::new()
    }
}

impl Pair {
    pub(crate) fn new() -> Self {
        Pair::with_configs(Config::default(), Config::default())
    }

    pub(crate) fn with_configs(client: Config, server: Config) -> Self {
        Pair {
            client: Connection::new(Role::Client, client),
            server: Connection::new(Role::Server, server),
            client_log: Log::default(),
            server_log: Log::default(),
            chunk: usize::MAX,
        }
    }

    /// Reads of at most `chunk` bytes.
    pub(crate) fn chunked(mut self, chunk: usize) -> Self {
        assert!(chunk > 0);
        self.chunk = chunk;
        self
    }

    /// Moves what the client queued into the server; returns the byte count.
    pub(crate) fn deliver_to_server(&mut self) -> usize {
        transfer(
            &mut self.client,
            &mut self.server,
            &mut self.server_log,
            self.chunk,
        )
    }

    /// Moves what the server queued into the client; returns the byte count.
    pub(crate) fn deliver_to_client(&mut self) -> usize {
        transfer(
            &mut self.server,
            &mut self.client,
            &mut self.client_log,
            self.chunk,
        )
    }

    /// Moves bytes both ways until neither side has anything to write.
    pub(crate) fn drive(&mut self) {
        for _ in 0..1000 {
            if self.deliver_to_server() + self.deliver_to_client() == 0
                && !self.client.wants_write()
                && !self.server.wants_write()
            {
                return;
            }
        }
        panic!("the pair never went quiet");
    }

    /// Takes the events the server reported so far.
    pub(crate) fn server_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.server_log.events)
    }

    /// Takes the events the client reported so far.
    pub(crate) fn client_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.client_log.events)
    }
}

fn transfer(from: &mut Connection, to: &mut Connection, log: &mut Log, chunk: usize) -> usize {
    let bytes = drain(from);
    for piece in bytes.chunks(chunk.min(bytes.len()).max(1)) {
        to.receive(piece);
        let (seen, err) = events(to);
        log.events.extend(seen);
        if let Some(e) = err {
            assert!(
                log.error.is_none(),
                "a second error after {:?}: {e:?}",
                log.error
            );
            log.error = Some(e);
        }
    }
    bytes.len()
}
