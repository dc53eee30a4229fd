//! Test harness for `sockeye` behaviour tests.
//!
//! - [`RawPeer`] plays the other end by hand over any byte stream (a
//!   `tokio::io::duplex` half or a loopback `TcpStream`): it writes raw bytes
//!   or frames, legal or not, and reads frames back, decoded with
//!   [`FrameHeader::decode`] and [`apply_mask`] (h2-support's `Handle`).
//! - [`RawPeer::client_handshake`] opens a connection against
//!   `sockeye::accept`; [`RawPeer::server_handshake`] answers a sockeye
//!   client with a hand-written 101.
//! - [`duplex_pair`] and [`tcp_pair`] give a sockeye client and server
//!   already connected to each other.
//! - [`bounded`] puts a time limit on every test, real or paused.
//! - [`servers`] runs each of sockeye's server entry points on a loopback
//!   port as an echo server that reports what it agreed.
#![allow(
    dead_code,
    unreachable_pub,
    reason = "each test binary uses a different part of the harness"
)]

use std::future::Future;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use sockeye::proto::frame::{FrameHeader, OpCode, apply_mask};
use sockeye::{ClientBuilder, ServerBuilder, WebSocket, WebSocketConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpStream};

pub mod servers;

/// How long any test step may take. Under paused time this is virtual, and
/// it is longer than every time limit the tests configure, so a hang shows
/// up as this panic rather than as a silent wait.
pub const BOUND: Duration = Duration::from_secs(5);

/// Capacity of each direction of the in-memory transports.
pub const DUPLEX_CAPACITY: usize = 64 << 10;

/// Runs `future` within [`BOUND`], panicking if it takes longer.
pub async fn bounded<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("the test step did not finish in time")
}

/// Wire opcodes as raw 4-bit values, reserved ones included.
pub mod op {
    pub const CONTINUATION: u8 = 0x0;
    pub const TEXT: u8 = 0x1;
    pub const BINARY: u8 = 0x2;
    pub const CLOSE: u8 = 0x8;
    pub const PING: u8 = 0x9;
    pub const PONG: u8 = 0xa;
}

/// The masking key of RFC 6455 §5.7, for frames a raw client sends.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The `Sec-WebSocket-Key` of RFC 6455 §1.3 and its accept value.
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Encodes one frame: any FIN, any opcode, minimal length, optional mask.
/// The payload is given in clear and masked here.
pub fn frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(if fin { 0x80 } else { 0 } | (opcode & 0x0f));
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | u8::try_from(len).expect("7-bit length"));
    } else if let Ok(len) = u16::try_from(len) {
        out.push(mask_bit | 0x7e);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(mask_bit | 0x7f);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let start = out.len() + if mask.is_some() { 4 } else { 0 };
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// A Close frame's body: the code, big-endian, then the reason.
pub fn close_body(code: u16, reason: &str) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason.as_bytes());
    body
}

/// A frame as the raw peer read it, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: OpCode,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The status code of a Close frame, `None` for an empty body.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, OpCode::Close, "not a Close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    /// The reason of a Close frame.
    pub fn close_reason(&self) -> &str {
        assert_eq!(self.opcode, OpCode::Close, "not a Close frame: {self:?}");
        std::str::from_utf8(self.payload.get(2..).unwrap_or_default()).expect("UTF-8 reason")
    }

    /// The payload of a text frame.
    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.payload).expect("UTF-8 text")
    }
}

/// A parsed HTTP head: the start line and the header fields in order.
#[derive(Clone, Debug)]
pub struct Head {
    pub start: String,
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Parses a head (without its final empty line, or with it).
    pub fn parse(text: &str) -> Head {
        let mut lines = text.split("\r\n").filter(|line| !line.is_empty());
        let start = lines.next().expect("a start line").to_owned();
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("a header field");
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        Head { start, headers }
    }

    /// The status code of a response head.
    pub fn status(&self) -> u16 {
        self.start
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("a status code")
    }

    /// The first value of a header field, case-insensitively by name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_all(name).into_iter().next()
    }

    /// Every value of a header field, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A valid client request head for `path`, with `extra` header lines
/// (each ending in CRLF) before the final empty line.
pub fn request_head(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\n\
         Host: localhost\r\n\
         Upgrade: websocket\r\n\
         Connection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\n\
         Sec-WebSocket-Version: 13\r\n\
         {extra}\r\n"
    )
}

/// One end of a connection played by hand.
#[derive(Debug)]
pub struct RawPeer<S> {
    io: S,
    buf: BytesMut,
    /// Whether frames sent with [`send`](Self::send) are masked (a client).
    masks: bool,
}

impl<S> RawPeer<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// A raw client: its frames are masked with [`KEY`].
    pub fn client(io: S) -> Self {
        RawPeer {
            io,
            buf: BytesMut::new(),
            masks: true,
        }
    }

    /// A raw server: its frames are not masked.
    pub fn server(io: S) -> Self {
        RawPeer {
            io,
            buf: BytesMut::new(),
            masks: false,
        }
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    pub fn into_inner(self) -> S {
        self.io
    }

    /// Writes bytes as they are.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.io.write_all(bytes).await.expect("raw write");
        self.io.flush().await.expect("raw flush");
    }

    /// Sends one final frame, masked if this is a client.
    pub async fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mask = self.masks.then_some(KEY);
        self.write(&frame(true, opcode, payload, mask)).await;
    }

    /// Sends a Close frame with a code and reason.
    pub async fn send_close(&mut self, code: u16, reason: &str) {
        self.send(op::CLOSE, &close_body(code, reason)).await;
    }

    /// Closes the writing direction (TCP FIN, or EOF on a duplex).
    pub async fn shutdown(&mut self) {
        // The peer may be gone already; either way nothing more is written.
        let _ = self.io.shutdown().await;
    }

    /// Reads more bytes; `false` at EOF.
    async fn fill(&mut self) -> bool {
        self.buf.reserve(8 << 10);
        match self.io.read_buf(&mut self.buf).await {
            Ok(0) => false,
            Ok(_) => true,
            // A reset counts as the end of the stream for these tests.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => false,
            Err(e) => panic!("raw read failed: {e}"),
        }
    }

    /// Reads the next frame, or `None` at EOF between frames.
    pub async fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((header, header_len)) =
                FrameHeader::decode(&self.buf, true).expect("a decodable frame header")
            {
                let len = usize::try_from(header.payload_len).expect("length fits usize");
                if self.buf.len() >= header_len + len {
                    self.buf.advance(header_len);
                    let mut payload = self.buf.split_to(len).to_vec();
                    if let Some(key) = header.masking_key {
                        apply_mask(&mut payload, key, 0);
                    }
                    return Some(Frame {
                        fin: header.fin,
                        rsv: header.rsv,
                        opcode: header.opcode,
                        masked: header.masking_key.is_some(),
                        payload,
                    });
                }
            }
            if !self.fill().await {
                assert!(
                    self.buf.is_empty(),
                    "EOF in the middle of a frame: {:?}",
                    &self.buf[..]
                );
                return None;
            }
        }
    }

    /// Reads the next frame, which must be there.
    pub async fn expect_frame(&mut self) -> Frame {
        self.read_frame().await.expect("a frame, not EOF")
    }

    /// Reads a Close frame (skipping nothing) and checks its code.
    pub async fn expect_close(&mut self, code: u16) -> Frame {
        let frame = self.expect_frame().await;
        assert_eq!(frame.opcode, OpCode::Close, "{frame:?}");
        assert_eq!(frame.close_code(), Some(code), "{frame:?}");
        frame
    }

    /// Checks that the stream ends with no more frames.
    pub async fn expect_eof(&mut self) {
        if let Some(frame) = self.read_frame().await {
            panic!("expected EOF, got {frame:?}");
        }
    }

    /// Reads an HTTP head up to and including the empty line; what follows
    /// stays buffered for [`read_frame`](Self::read_frame).
    pub async fn read_head(&mut self) -> Head {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = self.buf.split_to(end + 4);
                return Head::parse(std::str::from_utf8(&head).expect("an ASCII head"));
            }
            assert!(self.fill().await, "EOF before the end of the head");
        }
    }

    /// Reads everything up to EOF (what was buffered included).
    pub async fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill().await {}
        self.buf.split().to_vec()
    }

    /// Bytes read and not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// Opens a connection against `sockeye::accept` with a standard request
    /// for `/`, and checks the 101.
    pub async fn client_handshake(&mut self) -> Head {
        self.write(request_head("/", "").as_bytes()).await;
        let head = self.read_head().await;
        assert_eq!(head.status(), 101, "{head:?}");
        assert_eq!(head.get("sec-websocket-accept"), Some(SAMPLE_ACCEPT));
        head
    }

    /// Reads a client's request and answers 101, followed in the same write
    /// by `extra` (frames, for R-CV-09). Returns the request.
    pub async fn server_handshake_with(&mut self, headers: &str, extra: &[u8]) -> Head {
        let request = self.read_head().await;
        let key = request.get("sec-websocket-key").expect("a key");
        let accept = sockeye::proto::handshake::accept_key(key.as_bytes());
        let mut answer = format!(
            "HTTP/1.1 101 Switching Protocols\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\
             {headers}\r\n"
        )
        .into_bytes();
        answer.extend_from_slice(extra);
        self.write(&answer).await;
        request
    }

    /// Reads a client's request and answers a plain 101.
    pub async fn server_handshake(&mut self) -> Head {
        self.server_handshake_with("", &[]).await
    }
}

/// A sockeye server that a [`RawPeer`] client has opened over a duplex.
pub async fn raw_client_duplex(
    server: ServerBuilder,
) -> (RawPeer<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(DUPLEX_CAPACITY);
    let mut raw = RawPeer::client(a);
    // The request fits the duplex buffer, so no task is needed.
    raw.write(request_head("/", "").as_bytes()).await;
    let ws = server.accept(b).await.expect("the server accepts");
    let head = raw.read_head().await;
    assert_eq!(head.status(), 101, "{head:?}");
    (raw, ws)
}

/// A sockeye client that a [`RawPeer`] server has accepted over a duplex.
pub async fn raw_server_duplex(
    client: ClientBuilder,
) -> (RawPeer<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(DUPLEX_CAPACITY);
    let mut raw = RawPeer::server(a);
    let (ws, _) = tokio::join!(client.connect_on(b), raw.server_handshake());
    let (ws, response) = ws.expect("the client connects");
    assert_eq!(response.status(), 101);
    (raw, ws)
}

/// A sockeye server that a [`RawPeer`] client has opened over loopback TCP.
pub async fn raw_client_tcp(server: ServerBuilder) -> (RawPeer<TcpStream>, WebSocket<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let (raw, accepted) = tokio::join!(TcpStream::connect(address), listener.accept());
    let mut raw = RawPeer::client(raw.expect("connect"));
    let (tcp, _) = accepted.expect("accept");
    let (ws, _) = tokio::join!(server.accept(tcp), raw.client_handshake());
    (raw, ws.expect("the server accepts"))
}

/// A sockeye client connected to a sockeye server over a duplex.
pub async fn duplex_pair(
    client: WebSocketConfig,
    server: WebSocketConfig,
) -> (WebSocket<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(DUPLEX_CAPACITY);
    let server = ServerBuilder::new().config(server);
    let (c, s) = tokio::join!(
        ClientBuilder::new("ws://localhost/")
            .config(client)
            .connect_on(a),
        server.accept(b),
    );
    (
        c.expect("the client connects").0,
        s.expect("the server accepts"),
    )
}

/// A sockeye client connected to a sockeye server over loopback TCP.
/// `client` makes the builder from the server's `ws://` URL.
pub async fn tcp_pair(
    client: impl FnOnce(String) -> ClientBuilder,
    server: ServerBuilder,
) -> (WebSocket<sockeye::ClientStream>, WebSocket<TcpStream>) {
    let (listener, url) = listener().await;
    let server = async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        server.accept(tcp).await.expect("the server accepts")
    };
    let client = async move { client(url).connect().await.expect("the client connects").0 };
    tokio::join!(client, server)
}

/// A loopback listener and its `ws://` URL.
pub async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("local address"));
    (listener, url)
}
