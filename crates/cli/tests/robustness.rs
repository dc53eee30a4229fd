//! Robustness of `sockeye serve` against hostile peers (issue 6): slow and
//! silent clients, oversized and malformed handshakes, frames that break
//! the limits or the protocol, floods, clients that never read, connection
//! limits, keepalive, resets, shutdown and ten thousand connections.
//!
//! Each test starts its own `sockeye serve` child (killed by PID when the
//! test ends), attacks it over loopback with hand-written bytes, and checks
//! that a well-behaved client (the `sockeye` library) is still served.
//! Memory is read from `/proc/PID/status` and bounded generously: the
//! bounds are what an unbounded server would clearly exceed, never a
//! measure of speed. Requirement IDs are those of the spec checklist.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockeye::{CloseCode, Message};
use support::{Serve, TIMEOUT, sockeye};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type Ws = sockeye::WebSocket<sockeye::ClientStream>;

/// The mask key of every frame the raw clients send.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// The header fields of a valid opening handshake, after the request line.
const UPGRADE_FIELDS: [&str; 5] = [
    "Host: localhost",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// Frame opcodes, with FIN set unless named `_MORE`.
const TEXT: u8 = 0x81;
const TEXT_MORE: u8 = 0x01;
const BINARY: u8 = 0x82;
const BINARY_MORE: u8 = 0x02;
const CONTINUATION: u8 = 0x80;
const CONTINUATION_MORE: u8 = 0x00;
const CLOSE: u8 = 0x88;
const PING: u8 = 0x89;
const PONG: u8 = 0x8a;

// ---------------------------------------------------------------------
// Well-behaved clients

async fn connect(url: &str) -> Ws {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

/// Connects, retrying for a few seconds while the server turns the client
/// away (a limit's slot is released a moment after its connection ends).
async fn connect_eventually(url: &str) -> Ws {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout(TIMEOUT, sockeye::connect(url)).await {
            Ok(Ok(ws)) => return ws,
            Ok(Err(_)) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Err(e)) => panic!("still not accepted after 5 s: {e:?}"),
            Err(elapsed) => panic!("connect timed out: {elapsed}"),
        }
    }
}

async fn next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .map(|m| m.expect("receive"))
}

async fn echo(ws: &mut Ws, message: Message) {
    tokio::time::timeout(TIMEOUT, ws.send(message.clone()))
        .await
        .expect("send timed out")
        .expect("send");
    assert_eq!(next(ws).await, Some(message));
}

async fn close_normally(ws: &mut Ws) {
    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
        .await
        .expect("close timed out")
        .expect("close");
    assert_eq!(
        ws.close_frame().map(|frame| frame.code),
        Some(CloseCode::NORMAL),
        "the server echoes Close 1000 (R-CL-04)"
    );
}

/// A well-behaved client gets an echo and a clean close.
async fn assert_serves(server: &Serve, what: &str) {
    let mut ws = connect(&server.url("/")).await;
    echo(&mut ws, Message::text(format!("still serving {what}"))).await;
    echo(&mut ws, Message::binary(vec![0u8, 1, 2, 0xff])).await;
    close_normally(&mut ws).await;
}

// ---------------------------------------------------------------------
// Raw HTTP

/// A request head: the request line and fields, each ended by CRLF, then
/// the empty line.
fn head(request_line: &str, fields: &[&str]) -> Vec<u8> {
    let mut text = format!("{request_line}\r\n");
    for field in fields {
        text.push_str(field);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// A valid opening handshake for `/`.
fn upgrade_request() -> Vec<u8> {
    head("GET / HTTP/1.1", &UPGRADE_FIELDS)
}

/// The valid handshake's fields without those starting with `without`.
fn fields_without(without: &str) -> Vec<&'static str> {
    UPGRADE_FIELDS
        .iter()
        .copied()
        .filter(|field| !field.starts_with(without))
        .collect()
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
    )
}

/// Everything the server sends until it closes the connection (EOF or a
/// reset); fails if it does not close within `limit`.
async fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut received = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
                Err(e) if is_reset(&e) => return,
                Err(e) => panic!("read failed: {e}"),
            }
        }
    };
    let closed = tokio::time::timeout(limit, read).await;
    assert!(
        closed.is_ok(),
        "the server did not close within {limit:?}; it sent {:?}",
        String::from_utf8_lossy(&received)
    );
    received
}

/// Sends `request` on a new connection and returns what comes back before
/// the server closes it.
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    // The server may stop reading (and close) before taking all of it.
    let _ = tcp.write_all(request).await;
    let answer = read_until_closed(&mut tcp, TIMEOUT).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of an HTTP/1.1 answer.
fn status_of(answer: &str) -> Option<u16> {
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// Whether the answer's head has the field `name: value` (name compared
/// without regard to case).
fn has_field(answer: &str, name: &str, value: &str) -> bool {
    let head = answer.split("\r\n\r\n").next().unwrap_or("");
    head.lines().skip(1).any(|line| {
        line.split_once(':')
            .is_some_and(|(n, v)| n.trim().eq_ignore_ascii_case(name) && v.trim() == value)
    })
}

/// Reads a response head, byte by byte so nothing after it is taken.
async fn read_head(tcp: &mut TcpStream) -> String {
    let read = async {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match tcp.read(&mut byte).await {
                Ok(1) => head.push(byte[0]),
                _ => break,
            }
            assert!(head.len() < 4096, "endless head: {head:?}");
        }
        String::from_utf8_lossy(&head).into_owned()
    };
    tokio::time::timeout(TIMEOUT, read)
        .await
        .expect("no response head in time")
}

/// A raw WebSocket connection: the handshake done by hand, nothing else.
async fn raw_open(addr: SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(&upgrade_request())
        .await
        .expect("write request");
    let answer = read_head(&mut tcp).await;
    assert_eq!(
        status_of(&answer),
        Some(101),
        "handshake answered {answer:?}"
    );
    tcp
}

// ---------------------------------------------------------------------
// Raw frames

/// A frame header: first byte (FIN, RSV, opcode), then the length in the
/// shortest form, then the mask key if masked.
fn frame_header(first: u8, len: u64, masked: bool) -> Vec<u8> {
    let mask_bit = if masked { 0x80 } else { 0 };
    let mut out = vec![first];
    match len {
        0..=125 => out.push(mask_bit | u8::try_from(len).expect("short length")),
        126..=0xffff => {
            out.push(mask_bit | 0x7e);
            out.extend_from_slice(&u16::try_from(len).expect("16 bits").to_be_bytes());
        }
        _ => {
            out.push(mask_bit | 0x7f);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&MASK);
    }
    out
}

fn length(payload: &[u8]) -> u64 {
    u64::try_from(payload.len()).expect("length fits 64 bits")
}

/// A masked client frame, as RFC 6455 §5.3 requires (R-MK-01, R-MK-06).
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = frame_header(first, length(payload), true);
    out.extend(payload.iter().zip(MASK.iter().cycle()).map(|(b, m)| b ^ m));
    out
}

/// An unmasked frame, which no client may send (R-MK-02).
fn unmasked_frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = frame_header(first, length(payload), false);
    out.extend_from_slice(payload);
    out
}

/// A Close frame body: the code, then the reason.
fn close_body(code: u16, reason: &str) -> Vec<u8> {
    let mut body = code.to_be_bytes().to_vec();
    body.extend_from_slice(reason.as_bytes());
    body
}

#[derive(Debug)]
struct Frame {
    first: u8,
    payload: Vec<u8>,
}

impl Frame {
    fn close_code(&self) -> Option<u16> {
        (self.first == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Reads one frame from the server, which must not be masked (R-MK-03).
async fn read_frame(tcp: &mut TcpStream) -> std::io::Result<Frame> {
    let mut start = [0u8; 2];
    tcp.read_exact(&mut start).await?;
    assert_eq!(start[1] & 0x80, 0, "the server masked a frame (R-MK-03)");
    let len = match start[1] & 0x7f {
        126 => u64::from(tcp.read_u16().await?),
        127 => tcp.read_u64().await?,
        n => u64::from(n),
    };
    let mut payload = vec![0u8; usize::try_from(len).expect("frame fits in memory")];
    tcp.read_exact(&mut payload).await?;
    Ok(Frame {
        first: start[0],
        payload,
    })
}

/// Reads the server's frames until its Close, which must carry `code`
/// and come before any echo; then the server must close TCP with nothing
/// more sent (R-CL-03).
async fn expect_close(tcp: &mut TcpStream, code: u16, what: &str) {
    let close = tokio::time::timeout(TIMEOUT, read_frame(tcp))
        .await
        .unwrap_or_else(|_| panic!("{what}: no Close within {TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what}: the connection ended without a Close: {e}"));
    assert_eq!(
        close.close_code(),
        Some(code),
        "{what}: expected Close {code}, got {close:?}"
    );
    let rest = read_until_closed(tcp, TIMEOUT).await;
    assert!(rest.is_empty(), "{what}: bytes after the Close: {rest:?}");
}

/// Sends `bytes` on a fresh WebSocket and expects the server to fail the
/// connection with `code`.
async fn expect_failure(addr: SocketAddr, bytes: &[u8], code: u16, what: &str) {
    let mut tcp = raw_open(addr).await;
    tcp.write_all(bytes).await.expect("write frames");
    expect_close(&mut tcp, code, what).await;
}

// ---------------------------------------------------------------------
// The server's process

/// A field of `/proc/PID/status` in KiB: `VmRSS` (resident memory now) or
/// `VmHWM` (its peak so far).
fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    status
        .lines()
        .find_map(|line| {
            let value = line.strip_prefix(field)?.strip_prefix(':')?;
            value.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .unwrap_or_else(|| panic!("no {field} in {path}: {status:?}"))
}

/// How many file descriptors a process has open, from `/proc/PID/fd`.
fn open_fds(pid: u32) -> usize {
    let path = format!("/proc/{pid}/fd");
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .count()
}

fn rss_kib(server: &Serve) -> u64 {
    proc_status_kib(server.child.pid(), "VmRSS")
}

fn peak_rss_kib(server: &Serve) -> u64 {
    proc_status_kib(server.child.pid(), "VmHWM")
}

/// The server's resident memory once it has served one client, so that
/// the buffers every connection shares exist.
async fn warm_baseline(server: &Serve) -> u64 {
    assert_serves(server, "before the attack").await;
    rss_kib(server)
}

/// Fails if the server's peak memory went more than `bound_mib` over
/// `baseline_kib`.
fn assert_memory_bounded(server: &Serve, baseline_kib: u64, bound_mib: u64, what: &str) {
    let peak = peak_rss_kib(server);
    let now = rss_kib(server);
    println!("{what}: server RSS {baseline_kib} KiB before, peak {peak} KiB, now {now} KiB");
    assert!(
        peak <= baseline_kib + bound_mib * 1024,
        "{what}: the server's memory grew from {baseline_kib} KiB to a peak of {peak} KiB \
         (bound: {bound_mib} MiB more)"
    );
}

// ---------------------------------------------------------------------
// 1. Slowloris (R-LM-02: handshake timeout)

/// The shortest time before a 1 s handshake timeout may plausibly fire,
/// measured from before the client connected.
const PLAUSIBLE: Duration = Duration::from_millis(900);

/// How long after the timeout the drop may come.
const TIMEOUT_SLACK: Duration = Duration::from_secs(4);

#[tokio::test]
async fn r_lm_02_slowloris_a_silent_client_is_dropped_after_the_handshake_timeout() {
    let server = Serve::start(&["--handshake-timeout", "1"]);
    let started = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    // Others are served while it sits there.
    assert_serves(&server, "beside a silent client").await;
    let answer = read_until_closed(&mut silent, TIMEOUT).await;
    let elapsed = started.elapsed();
    assert!(
        answer.is_empty(),
        "a silent client got {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        elapsed >= PLAUSIBLE,
        "dropped after {elapsed:?}, before the 1 s handshake timeout"
    );
    assert!(
        elapsed <= Duration::from_secs(1) + TIMEOUT_SLACK,
        "dropped only after {elapsed:?} with a 1 s handshake timeout"
    );
    assert_serves(&server, "after a silent client").await;
}

#[tokio::test]
async fn r_lm_02_slowloris_a_trickling_client_is_dropped_after_the_handshake_timeout() {
    let server = Serve::start(&["--handshake-timeout", "1"]);
    let request = upgrade_request();
    let started = Instant::now();
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let (mut reader, mut writer) = tcp.into_split();
    // One byte every 200 ms: the whole request would take over 30 s.
    let total = request.len();
    let trickle = tokio::spawn(async move {
        let mut sent = 0usize;
        for byte in request {
            if writer.write_all(&[byte]).await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sent
    });
    assert_serves(&server, "beside a trickling client").await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(TIMEOUT, async {
        let mut chunk = [0u8; 1024];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
                Err(e) if is_reset(&e) => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    })
    .await;
    let elapsed = started.elapsed();
    trickle.abort();
    let sent = trickle.await.unwrap_or(0);
    assert!(
        read.is_ok(),
        "a trickling client was not dropped in {TIMEOUT:?}"
    );
    assert!(
        answer.is_empty() || !String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 101"),
        "a trickling client was answered {:?}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        elapsed >= PLAUSIBLE,
        "dropped after {elapsed:?}, before the 1 s handshake timeout"
    );
    assert!(
        elapsed <= Duration::from_secs(1) + TIMEOUT_SLACK,
        "dropped only after {elapsed:?} with a 1 s handshake timeout"
    );
    assert!(sent < total, "the whole request went out ({sent} bytes)");
    assert_serves(&server, "after a trickling client").await;
}

// ---------------------------------------------------------------------
// 2. Oversized handshake heads (R-LM-02: 431)

/// A valid handshake padded with `X-Pad-N` fields to `fields` fields.
fn request_with_fields(fields: usize) -> Vec<u8> {
    let padding: Vec<String> = (UPGRADE_FIELDS.len()..fields)
        .map(|i| format!("X-Pad-{i}: {i}"))
        .collect();
    let mut all: Vec<&str> = UPGRADE_FIELDS.to_vec();
    all.extend(padding.iter().map(String::as_str));
    head("GET / HTTP/1.1", &all)
}

/// A valid handshake with one `X-Pad` field sized so the head is exactly
/// `len` bytes.
fn request_of_length(len: usize) -> Vec<u8> {
    let short = request_with_fields(UPGRADE_FIELDS.len());
    let overhead = short.len() + "X-Pad: \r\n".len();
    let pad = "a".repeat(len - overhead);
    let field = format!("X-Pad: {pad}");
    let mut all: Vec<&str> = UPGRADE_FIELDS.to_vec();
    all.push(&field);
    let request = head("GET / HTTP/1.1", &all);
    assert_eq!(request.len(), len);
    request
}

#[tokio::test]
async fn r_lm_02_a_head_over_16_kib_is_answered_431() {
    let server = Serve::start(&[]);
    // The limit itself is allowed.
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    tcp.write_all(&request_of_length(16 << 10))
        .await
        .expect("write");
    let answer = read_head(&mut tcp).await;
    assert_eq!(status_of(&answer), Some(101), "a 16 KiB head: {answer:?}");
    drop(tcp);

    let answer = exchange(server.addr, &request_of_length((16 << 10) + 1)).await;
    assert_eq!(status_of(&answer), Some(431), "16 KiB + 1: {answer:?}");
    let answer = exchange(server.addr, &request_of_length(17 << 10)).await;
    assert_eq!(status_of(&answer), Some(431), "17 KiB: {answer:?}");
    // A head that never ends is cut at the limit too.
    let mut endless = b"GET / HTTP/1.1\r\nHost: localhost\r\n".to_vec();
    while endless.len() < 20 << 10 {
        endless.extend_from_slice(
            b"X-Endless: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        );
    }
    let answer = exchange(server.addr, &endless).await;
    assert_eq!(
        status_of(&answer),
        Some(431),
        "an endless field: {answer:?}"
    );
    assert_serves(&server, "after oversized heads").await;
}

#[tokio::test]
async fn r_lm_02_more_than_64_header_fields_are_answered_431() {
    let server = Serve::start(&[]);
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    tcp.write_all(&request_with_fields(64))
        .await
        .expect("write");
    let answer = read_head(&mut tcp).await;
    assert_eq!(status_of(&answer), Some(101), "64 fields: {answer:?}");
    drop(tcp);

    for fields in [65, 100, 1000] {
        let answer = exchange(server.addr, &request_with_fields(fields)).await;
        assert_eq!(status_of(&answer), Some(431), "{fields} fields: {answer:?}");
    }
    assert_serves(&server, "after too many fields").await;
}

#[tokio::test]
async fn r_lm_02_handshake_limits_follow_their_flags() {
    let server = Serve::start(&["--max-handshake-size", "1024", "--max-headers", "10"]);
    let mut tcp = TcpStream::connect(server.addr).await.expect("connect");
    tcp.write_all(&request_of_length(1024))
        .await
        .expect("write");
    let answer = read_head(&mut tcp).await;
    assert_eq!(status_of(&answer), Some(101), "a 1 KiB head: {answer:?}");
    drop(tcp);
    let answer = exchange(server.addr, &request_of_length(1025)).await;
    assert_eq!(status_of(&answer), Some(431), "1 KiB + 1: {answer:?}");
    let answer = exchange(server.addr, &request_with_fields(11)).await;
    assert_eq!(status_of(&answer), Some(431), "11 fields: {answer:?}");
    assert_serves(&server, "after small limits").await;
}

#[tokio::test]
async fn r_lm_03_max_fragments_follows_its_flag() {
    let server = Serve::start(&["--max-fragments", "3"]);
    let piece = [b'x'; 10];
    // Three frames are allowed...
    let mut tcp = raw_open(server.addr).await;
    let mut three = frame(BINARY_MORE, &piece);
    three.extend(frame(CONTINUATION_MORE, &piece));
    three.extend(frame(CONTINUATION, &piece));
    tcp.write_all(&three).await.expect("write");
    let echo = read_frame(&mut tcp).await.expect("the echo");
    assert_eq!(echo.payload.len(), 30, "{echo:?}");
    drop(tcp);
    // ...a fourth is refused with 1009.
    let mut four = frame(BINARY_MORE, &piece);
    for _ in 0..2 {
        four.extend(frame(CONTINUATION_MORE, &piece));
    }
    four.extend(frame(CONTINUATION, &piece));
    expect_failure(server.addr, &four, 1009, "4 fragments over a limit of 3").await;
}

// ---------------------------------------------------------------------
// 3. HTTP edge cases (R-SH-01 .. R-SH-13)

#[tokio::test]
async fn r_sh_05_a_missing_or_wrong_version_is_answered_426_with_version_13() {
    let server = Serve::start(&[]);
    let missing = head("GET / HTTP/1.1", &fields_without("Sec-WebSocket-Version"));
    let mut wrong = fields_without("Sec-WebSocket-Version");
    wrong.push("Sec-WebSocket-Version: 8");
    let wrong = head("GET / HTTP/1.1", &wrong);
    let mut words = fields_without("Sec-WebSocket-Version");
    words.push("Sec-WebSocket-Version: thirteen");
    let words = head("GET / HTTP/1.1", &words);
    for (what, request) in [("missing", missing), ("8", wrong), ("thirteen", words)] {
        let answer = exchange(server.addr, &request).await;
        assert_eq!(status_of(&answer), Some(426), "version {what}: {answer:?}");
        assert!(
            has_field(&answer, "Sec-WebSocket-Version", "13"),
            "426 without Sec-WebSocket-Version: 13 for version {what}: {answer:?}"
        );
    }
    assert_serves(&server, "after bad versions").await;
}

#[tokio::test]
async fn r_sh_01_bad_requests_are_answered_with_the_right_http_error() {
    let server = Serve::start(&[]);
    let mut two_keys = UPGRADE_FIELDS.to_vec();
    two_keys.push("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==");
    let mut two_versions = UPGRADE_FIELDS.to_vec();
    two_versions.push("Sec-WebSocket-Version: 13");
    let mut short_key = fields_without("Sec-WebSocket-Key");
    short_key.push("Sec-WebSocket-Key: c2hvcnQ=");
    let mut long_key = fields_without("Sec-WebSocket-Key");
    long_key.push("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBES");
    let mut not_base64 = fields_without("Sec-WebSocket-Key");
    not_base64.push("Sec-WebSocket-Key: not*base64*at*all*!!!!!");
    let cases: [(&str, Vec<u8>, &[u16]); 8] = [
        // R-SH-03
        (
            "no Host",
            head("GET / HTTP/1.1", &fields_without("Host")),
            &[400],
        ),
        // R-SH-02
        (
            "HTTP/1.0",
            head("GET / HTTP/1.0", &UPGRADE_FIELDS),
            &[400, 505],
        ),
        (
            "POST",
            head("POST / HTTP/1.1", &UPGRADE_FIELDS),
            &[400, 405],
        ),
        // R-SH-13
        ("two keys", head("GET / HTTP/1.1", &two_keys), &[400]),
        (
            "two versions",
            head("GET / HTTP/1.1", &two_versions),
            &[400],
        ),
        // R-SH-04
        ("a 6-byte key", head("GET / HTTP/1.1", &short_key), &[400]),
        ("an 18-byte key", head("GET / HTTP/1.1", &long_key), &[400]),
        (
            "a key not in base64",
            head("GET / HTTP/1.1", &not_base64),
            &[400],
        ),
    ];
    for (what, request, expected) in cases {
        let answer = exchange(server.addr, &request).await;
        let status = status_of(&answer);
        println!("{what}: answered {status:?}");
        assert!(
            status.is_some_and(|s| expected.contains(&s)),
            "{what}: expected one of {expected:?}, got {answer:?}"
        );
    }
    assert_serves(&server, "after bad requests").await;
}

/// The start of a TLS 1.2 `ClientHello` record, as a browser sends to a
/// port it believes speaks TLS.
fn tls_client_hello() -> Vec<u8> {
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    hello.extend((0u8..32).map(|i| i.wrapping_mul(37)));
    hello.extend_from_slice(&[0x00, 0x00, 0x04, 0x13, 0x01, 0xc0, 0x2f, 0x01, 0x00]);
    hello.resize(5 + 0xc8, 0);
    hello
}

#[tokio::test]
async fn tls_and_http2_on_the_plain_port_are_turned_away_harmlessly() {
    let server = Serve::start(&[]);
    // The HTTP/2 connection preface (RFC 9113 §3.4), then an empty SETTINGS.
    let mut h2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    h2.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    for (what, bytes) in [
        ("a TLS ClientHello", tls_client_hello()),
        ("an HTTP/2 preface", h2),
    ] {
        let answer = exchange(server.addr, &bytes).await;
        let status = status_of(&answer);
        println!("{what}: answered {status:?}");
        assert!(
            answer.is_empty() || status.is_some_and(|s| (400..600).contains(&s)),
            "{what}: expected an HTTP error or a close, got {answer:?}"
        );
    }
    assert_serves(&server, "after TLS and HTTP/2").await;
}

// ---------------------------------------------------------------------
// 4. Frame and message limits, protocol errors (R-LM-01, R-MK-02, R-FR-01,
//    R-FR-03, R-U8-02, R-CF-01, R-CF-02)

/// A server whose frames may be 1 KiB and messages 4 KiB.
fn small_limits_server() -> Serve {
    Serve::start(&["--max-frame-size", "1024", "--max-message-size", "4096"])
}

#[tokio::test]
async fn r_lm_01_limits_hold_exactly_at_their_size() {
    let server = small_limits_server();
    let mut tcp = raw_open(server.addr).await;
    let payload: Vec<u8> = (0..1024u16)
        .map(|i| u8::try_from(i % 251).expect("byte"))
        .collect();
    tcp.write_all(&frame(BINARY, &payload))
        .await
        .expect("write");
    let echoed = tokio::time::timeout(TIMEOUT, read_frame(&mut tcp))
        .await
        .expect("no echo")
        .expect("read echo");
    assert_eq!((echoed.first, echoed.payload.len()), (BINARY, 1024));
    assert_eq!(echoed.payload, payload);
    // 4 KiB in four 1 KiB fragments.
    let mut fragments = frame(BINARY_MORE, &payload);
    fragments.extend(frame(CONTINUATION_MORE, &payload));
    fragments.extend(frame(CONTINUATION_MORE, &payload));
    fragments.extend(frame(CONTINUATION, &payload));
    tcp.write_all(&fragments).await.expect("write");
    let echoed = tokio::time::timeout(TIMEOUT, read_frame(&mut tcp))
        .await
        .expect("no echo")
        .expect("read echo");
    assert_eq!((echoed.first, echoed.payload.len()), (BINARY, 4096));
    tcp.write_all(&frame(CLOSE, &close_body(1000, "")))
        .await
        .expect("write Close");
    expect_close(&mut tcp, 1000, "a clean close").await;
}

#[tokio::test]
async fn r_lm_01_a_frame_announcing_more_than_max_frame_size_gets_1009_before_its_payload() {
    let server = small_limits_server();
    // Headers alone: not one byte of payload is sent.
    for len in [1025, 1 << 20, 1 << 40, (1 << 63) - 1] {
        let header = frame_header(BINARY, len, true);
        expect_failure(server.addr, &header, 1009, &format!("a {len}-byte frame")).await;
    }
    let header = frame_header(TEXT, 2000, true);
    expect_failure(server.addr, &header, 1009, "a 2000-byte text frame").await;
    assert_serves(&server, "after oversized frames").await;
}

#[tokio::test]
async fn r_fr_03_a_64_bit_length_with_its_top_bit_set_is_refused() {
    let server = small_limits_server();
    let mut header = frame_header(BINARY, 1 << 20, true);
    // The length's first byte: its top bit MUST be 0 (§5.2).
    header[2] = 0x80;
    let mut tcp = raw_open(server.addr).await;
    tcp.write_all(&header).await.expect("write");
    let close = tokio::time::timeout(TIMEOUT, read_frame(&mut tcp))
        .await
        .expect("no Close in time")
        .expect("read Close");
    let code = close.close_code();
    println!("a length with its top bit set: Close {code:?}");
    // Either reading is defensible: a protocol error or a frame too big.
    assert!(
        matches!(code, Some(1002 | 1009)),
        "expected Close 1002 or 1009, got {close:?}"
    );
    let rest = read_until_closed(&mut tcp, TIMEOUT).await;
    assert!(rest.is_empty(), "bytes after the Close: {rest:?}");
}

#[tokio::test]
async fn r_lm_01_fragments_adding_up_over_max_message_size_get_1009() {
    let server = small_limits_server();
    let piece = vec![b'x'; 1000];
    let mut fragments = frame(BINARY_MORE, &piece);
    for _ in 0..3 {
        fragments.extend(frame(CONTINUATION_MORE, &piece));
    }
    // 5000 bytes with this one, over 4096: refused on its header.
    fragments.extend(frame(CONTINUATION, &piece));
    expect_failure(server.addr, &fragments, 1009, "5 fragments of 1000 bytes").await;
    // Also when the message never ends.
    let mut endless = frame(TEXT_MORE, &piece);
    for _ in 0..10 {
        endless.extend(frame(CONTINUATION_MORE, &piece));
    }
    expect_failure(server.addr, &endless, 1009, "an endless text message").await;
    assert_serves(&server, "after oversized messages").await;
}

#[tokio::test]
async fn r_mk_02_r_fr_01_r_u8_02_r_cf_01_protocol_violations_fail_with_the_right_code() {
    let server = small_limits_server();
    let cases: [(&str, Vec<u8>, u16); 9] = [
        // R-MK-02
        ("an unmasked frame", unmasked_frame(TEXT, b"hello"), 1002),
        // R-FR-01
        ("RSV2 set", frame(TEXT | 0x20, b"hello"), 1002),
        ("RSV3 set", frame(BINARY | 0x10, b"hello"), 1002),
        // PMD-07: RSV1 without permessage-deflate negotiated.
        (
            "RSV1 set without deflate",
            frame(TEXT | 0x40, b"hello"),
            1002,
        ),
        // R-U8-02
        (
            "invalid UTF-8",
            frame(TEXT, &[b'a', 0xff, 0xfe, b'b']),
            1007,
        ),
        ("a UTF-16 surrogate", frame(TEXT, &[0xed, 0xa0, 0x80]), 1007),
        // R-CF-01
        ("a 126-byte Ping", frame(PING, &[b'p'; 126]), 1002),
        (
            "a 126-byte Close",
            frame(CLOSE, &close_body(1000, &"r".repeat(124))),
            1002,
        ),
        // R-CF-02
        ("a fragmented Ping", frame(PING & 0x7f, b"ping"), 1002),
    ];
    for (what, bytes, code) in cases {
        expect_failure(server.addr, &bytes, code, what).await;
    }
    assert_serves(&server, "after protocol violations").await;
}

// ---------------------------------------------------------------------
// 5. Floods (R-CF-04, R-LM-01)

/// Pings sent by the flood: 400k of 125 bytes, about 52 MB on the wire
/// and as much again in Pongs if the server queued one for each (less
/// what the kernel's socket buffers hold, a few MB).
const PING_FLOOD: usize = 400_000;

/// How much more memory than before an attack the server may reach.
const MEMORY_BOUND_MIB: u64 = 12;

#[tokio::test]
async fn r_cf_04_a_ping_flood_from_a_client_that_never_reads_costs_bounded_memory() {
    let server = Serve::start(&[]);
    let baseline = warm_baseline(&server).await;
    let mut attacker = raw_open(server.addr).await;
    let chunk = frame(PING, &[b'p'; 125]).repeat(1000);
    let started = Instant::now();
    let mut sent = 0;
    while sent < PING_FLOOD {
        match tokio::time::timeout(TIMEOUT, attacker.write_all(&chunk)).await {
            Ok(Ok(())) => sent += 1000,
            Ok(Err(e)) => panic!("the server cut the flood after {sent} pings: {e}"),
            // It stopped reading: backpressure, which bounds memory too.
            Err(_) => break,
        }
    }
    println!("{sent} pings sent in {:?}", started.elapsed());
    // Others are served while the flooder still has not read anything.
    assert_serves(&server, "during a ping flood").await;
    assert_memory_bounded(&server, baseline, MEMORY_BOUND_MIB, "ping flood");
    // What it gets is Pongs with the Pings' payload (R-CF-03, R-CF-04).
    let pong = tokio::time::timeout(TIMEOUT, read_frame(&mut attacker))
        .await
        .expect("no Pong in time")
        .expect("read Pong");
    assert_eq!(pong.first, PONG, "{pong:?}");
    assert_eq!(pong.payload, vec![b'p'; 125]);
}

/// Fragments in the fragment floods: a million, ten times what a per-
/// fragment cost of a few dozen bytes needs to show in the server's memory
/// (which moves in steps of a few MB).
const FRAGMENT_FLOOD: usize = 1_000_000;

#[tokio::test]
async fn r_lm_01_a_message_in_a_million_one_byte_fragments_costs_no_more_than_in_one_frame() {
    let server = Serve::start(&[]);
    assert_serves(&server, "before the attack").await;
    let mut attacker = raw_open(server.addr).await;
    let message: Vec<u8> = (0..FRAGMENT_FLOOD)
        .map(|i| u8::try_from(i % 251).expect("below 251"))
        .collect();
    let expect_echo = async |tcp: &mut TcpStream, what: &str| {
        let echoed = tokio::time::timeout(TIMEOUT, read_frame(tcp))
            .await
            .unwrap_or_else(|_| panic!("{what}: no echo in time"))
            .expect("read echo");
        assert_eq!(echoed.first, BINARY, "{what}");
        assert!(
            echoed.payload == message,
            "{what}: the message came back altered"
        );
    };
    // What the message itself costs: the same bytes in one frame.
    attacker
        .write_all(&frame(BINARY, &message))
        .await
        .expect("write");
    expect_echo(&mut attacker, "one frame").await;
    let one_frame = peak_rss_kib(&server);

    let mut flood = Vec::with_capacity(FRAGMENT_FLOOD * 7);
    flood.extend(frame(BINARY_MORE, &message[..1]));
    for byte in &message[1..FRAGMENT_FLOOD - 1] {
        flood.extend(frame(CONTINUATION_MORE, std::slice::from_ref(byte)));
    }
    flood.extend(frame(CONTINUATION, &message[FRAGMENT_FLOOD - 1..]));
    let write = tokio::time::timeout(TIMEOUT, attacker.write_all(&flood)).await;
    assert!(
        matches!(write, Ok(Ok(()))),
        "writing the fragments: {write:?}"
    );
    expect_echo(&mut attacker, "a million fragments").await;
    assert_serves(&server, "after a fragment flood").await;
    // A few dozen bytes per fragment would be tens of MB.
    assert_memory_bounded(&server, one_frame, 8, "1-byte fragments, over one frame");
}

#[tokio::test]
async fn r_fg_05_a_message_with_a_million_empty_fragments_costs_bounded_memory() {
    let server = Serve::start(&[]);
    let baseline = warm_baseline(&server).await;
    let mut attacker = raw_open(server.addr).await;
    let empty = frame(CONTINUATION_MORE, &[]);
    let mut flood = frame(TEXT_MORE, b"a");
    flood.extend(empty.repeat(FRAGMENT_FLOOD));
    flood.extend(frame(CONTINUATION, b"b"));
    let write = tokio::time::timeout(TIMEOUT, attacker.write_all(&flood)).await;
    assert!(
        matches!(write, Ok(Ok(()))),
        "writing the fragments: {write:?}"
    );
    assert_serves(&server, "during an empty-fragment flood").await;
    let echoed = tokio::time::timeout(TIMEOUT, read_frame(&mut attacker))
        .await
        .expect("no echo in time")
        .expect("read echo");
    assert_eq!((echoed.first, &echoed.payload[..]), (TEXT, &b"ab"[..]));
    assert_memory_bounded(&server, baseline, MEMORY_BOUND_MIB, "empty fragments");
}

// ---------------------------------------------------------------------
// 6. A client that never reads (R-LM-02: cap on queued output)

#[tokio::test]
async fn r_lm_02_a_client_that_never_reads_its_echoes_costs_bounded_memory() {
    const MESSAGE: usize = 64 << 10;
    const MESSAGES: usize = 1024; // 64 MiB
    let server = Serve::start(&["--write-buffer-size", "65536"]);
    let baseline = warm_baseline(&server).await;
    let mut attacker = raw_open(server.addr).await;
    let message = frame(BINARY, &vec![0x5a; MESSAGE]);
    let mut sent = 0;
    while sent < MESSAGES {
        // Two seconds without progress: the server stopped reading.
        match tokio::time::timeout(Duration::from_secs(2), attacker.write_all(&message)).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(e)) => panic!("the server cut the connection after {sent} messages: {e}"),
            Err(_) => break,
        }
    }
    println!("{sent} of {MESSAGES} messages of 64 KiB went out before the server stopped reading");
    // The stalled connection holds nobody else up.
    assert_serves(&server, "beside a client that never reads").await;
    assert_memory_bounded(&server, baseline, 24, "a client that never reads");
    // Nothing was lost: once it reads, every whole message comes back.
    let drained = tokio::time::timeout(Duration::from_secs(30), async {
        for i in 0..sent {
            let echoed = read_frame(&mut attacker).await.expect("read echo");
            assert_eq!(
                (echoed.first, echoed.payload.len()),
                (BINARY, MESSAGE),
                "echo {i}"
            );
        }
    })
    .await;
    assert!(drained.is_ok(), "the echoes did not all come back");
}

// ---------------------------------------------------------------------
// 7. Connection limits

#[tokio::test]
async fn max_connections_answers_503_with_retry_after_and_frees_the_slot_on_close() {
    let server = Serve::start(&["--max-connections", "5"]);
    let url = server.url("/");
    let mut open = Vec::new();
    for i in 0..5 {
        let mut ws = connect(&url).await;
        echo(&mut ws, Message::text(format!("client {i}"))).await;
        open.push(ws);
    }
    let answer = exchange(server.addr, &upgrade_request()).await;
    assert_eq!(status_of(&answer), Some(503), "the 6th: {answer:?}");
    assert!(
        answer
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
            .contains("\r\nretry-after:"),
        "503 without Retry-After: {answer:?}"
    );
    let mut first = open.remove(0);
    close_normally(&mut first).await;
    let mut again = connect_eventually(&url).await;
    echo(&mut again, Message::text("in the freed slot")).await;
    for ws in &mut open {
        echo(ws, Message::text("still here")).await;
    }
}

#[tokio::test]
async fn max_per_ip_answers_429_with_retry_after() {
    let server = Serve::start(&["--max-per-ip", "2"]);
    let url = server.url("/");
    let mut first = connect(&url).await;
    let mut second = connect(&url).await;
    echo(&mut first, Message::text("one")).await;
    echo(&mut second, Message::text("two")).await;
    let answer = exchange(server.addr, &upgrade_request()).await;
    assert_eq!(status_of(&answer), Some(429), "the 3rd: {answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\nretry-after:"),
        "429 without Retry-After: {answer:?}"
    );
    close_normally(&mut first).await;
    let mut third = connect_eventually(&url).await;
    echo(&mut third, Message::text("three")).await;
    echo(&mut second, Message::text("two again")).await;
}

#[tokio::test]
async fn max_handshakes_closes_extra_connections_unanswered_until_handshakes_end() {
    let mut command = sockeye();
    command.env("RUST_LOG", "debug");
    let server = Serve::start_with(
        command,
        &["--max-handshakes", "2", "--handshake-timeout", "1"],
    );
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    let deadline = Instant::now() + TIMEOUT;
    while server.log().matches("connection accepted").count() < 2 {
        assert!(Instant::now() < deadline, "log: {}", server.log());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = exchange(server.addr, &upgrade_request()).await;
    assert!(
        answer.is_empty(),
        "a third handshake was answered: {answer:?}"
    );
    assert!(
        server.wait_for_log("too many handshakes").await,
        "log: {}",
        server.log()
    );
    // The silent ones time out, then handshakes are taken again.
    for tcp in &mut silent {
        let got = read_until_closed(tcp, TIMEOUT).await;
        assert!(got.is_empty(), "a silent client got {got:?}");
    }
    let mut ws = connect_eventually(&server.url("/")).await;
    echo(&mut ws, Message::text("after the slowloris")).await;
    close_normally(&mut ws).await;
}

// ---------------------------------------------------------------------
// 8. Keepalive (W-PP-01 on the client side: pings answered keep it open)

#[tokio::test]
async fn keepalive_pings_a_silent_peer_then_closes_it_with_1011_but_keeps_a_live_one() {
    let server = Serve::start(&["--keepalive", "1", "--keepalive-timeout", "1"]);
    let silent = async {
        let mut tcp = raw_open(server.addr).await;
        let opened = Instant::now();
        let ping = tokio::time::timeout(TIMEOUT, read_frame(&mut tcp))
            .await
            .expect("no Ping in time")
            .expect("read Ping");
        let pinged = opened.elapsed();
        assert_eq!(ping.first, PING, "{ping:?}");
        assert!(pinged >= PLAUSIBLE, "pinged after only {pinged:?}");
        let close = tokio::time::timeout(TIMEOUT, read_frame(&mut tcp))
            .await
            .expect("no Close in time")
            .expect("read Close");
        let closed = opened.elapsed();
        assert_eq!(close.close_code(), Some(1011), "{close:?}");
        // The Ping leaves 1 s after the open, the Close 1 s after it.
        assert!(
            closed >= 2 * PLAUSIBLE,
            "closed {closed:?} after the open, before interval and timeout passed"
        );
        let rest = read_until_closed(&mut tcp, TIMEOUT).await;
        assert!(rest.is_empty(), "bytes after the Close: {rest:?}");
        let ended = opened.elapsed();
        println!(
            "silent peer: Ping after {pinged:?}, Close 1011 after {closed:?}, EOF after {ended:?}"
        );
        assert!(ended <= Duration::from_secs(6), "EOF only after {ended:?}");
    };
    let live = async {
        let mut ws = connect(&server.url("/")).await;
        // Reading answers the server's Pings: several intervals pass.
        let quiet = tokio::time::timeout(Duration::from_millis(3500), ws.next()).await;
        assert!(quiet.is_err(), "expected silence, got {quiet:?}");
        echo(&mut ws, Message::text("still connected")).await;
        close_normally(&mut ws).await;
    };
    tokio::join!(silent, live);
}

// ---------------------------------------------------------------------
// 9. Resets leak nothing

/// Closes with a reset (`SO_LINGER` 0) instead of a FIN.
fn reset(tcp: TcpStream) {
    tcp.set_zero_linger().expect("SO_LINGER 0");
    drop(tcp);
}

/// One of the ways a connection can be cut; returns whether the server
/// had answered 101 before.
async fn cut(addr: SocketAddr, how: usize) -> bool {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let request = upgrade_request();
    match how {
        // Reset before a byte.
        0 => {
            reset(tcp);
            return false;
        }
        // Reset or FIN in the middle of the request.
        1 | 2 => {
            tcp.write_all(&request[..request.len() / 2])
                .await
                .expect("write");
            if how == 1 {
                reset(tcp);
            }
            return false;
        }
        _ => {}
    }
    tcp.write_all(&request).await.expect("write");
    let opened = status_of(&read_head(&mut tcp).await) == Some(101);
    match how {
        // Reset once open.
        3 => {}
        // Reset or FIN in the middle of a frame.
        4 | 5 => {
            let mut half = frame_header(BINARY, 1000, true);
            half.extend_from_slice(&[7; 100]);
            let _ = tcp.write_all(&half).await;
            if how == 5 {
                drop(tcp);
                return opened;
            }
        }
        // Reset with an echo unread.
        _ => {
            let _ = tcp.write_all(&frame(TEXT, b"never read")).await;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    reset(tcp);
    opened
}

#[tokio::test]
async fn five_hundred_reset_connections_leak_no_descriptors_or_slots() {
    const CUTS: usize = 500;
    const LIMIT: usize = 30;
    let server = Serve::start(&["--max-connections", &LIMIT.to_string()]);
    assert_serves(&server, "before the resets").await;
    let baseline = open_fds(server.child.pid());
    let addr = server.addr;
    let opened: Vec<bool> = futures_util::stream::iter(0..CUTS)
        .map(|i| cut(addr, i % 7))
        .buffer_unordered(10)
        .collect()
        .await;
    let opened = opened.iter().filter(|&&o| o).count();
    println!("{opened} of the {CUTS} cut connections were open first");
    assert!(opened >= CUTS * 4 / 7 / 2, "only {opened} got a 101");
    // The descriptors go back to their number before (a little slack for
    // connections in their last steps).
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut fds = open_fds(server.child.pid());
    while fds > baseline + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        fds = open_fds(server.child.pid());
    }
    println!("server descriptors: {baseline} before, {fds} after");
    assert!(
        fds <= baseline + 2,
        "{fds} descriptors open after the resets, {baseline} before"
    );
    // Every slot under --max-connections came back: all of them at once.
    let url = server.url("/");
    let mut clients = Vec::new();
    for i in 0..LIMIT {
        let mut ws = connect_eventually(&url).await;
        echo(&mut ws, Message::text(format!("slot {i}"))).await;
        clients.push(ws);
    }
    for ws in &mut clients {
        close_normally(ws).await;
    }
}

// ---------------------------------------------------------------------
// 10. Graceful shutdown (R-CL-16: the server closes with 1001)

/// How long after SIGTERM the server must have exited.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(8);

#[tokio::test]
async fn sigterm_closes_every_connection_with_1001_and_exits_0() {
    // A short handshake timeout: a client stuck in its handshake ends
    // within it, not in the default 10 s.
    let mut server = Serve::start(&["--handshake-timeout", "2"]);
    let url = server.url("/");
    let mut clients = Vec::new();
    for i in 0..3 {
        let mut ws = connect(&url).await;
        echo(&mut ws, Message::text(format!("client {i}"))).await;
        clients.push(ws);
    }
    // One in the middle of a fragmented message, one mid-handshake.
    let mut fragmenting = raw_open(server.addr).await;
    fragmenting
        .write_all(&frame(TEXT_MORE, b"half a mess"))
        .await
        .expect("write");
    let mut handshaking = TcpStream::connect(server.addr).await.expect("connect");
    handshaking
        .write_all(&upgrade_request()[..20])
        .await
        .expect("write");
    // Everyone is in: the fragment was read before the next echo.
    assert_serves(&server, "before the signal").await;

    let signalled = Instant::now();
    server.child.signal("TERM");
    for (i, ws) in clients.iter_mut().enumerate() {
        assert_eq!(next(ws).await, None, "client {i}: the stream ends");
        assert_eq!(
            ws.close_frame().map(|frame| frame.code),
            Some(CloseCode::GOING_AWAY),
            "client {i}"
        );
    }
    let close = tokio::time::timeout(TIMEOUT, read_frame(&mut fragmenting))
        .await
        .expect("no Close in time")
        .expect("read Close");
    assert_eq!(close.close_code(), Some(1001), "{close:?}");
    fragmenting
        .write_all(&frame(CLOSE, &close_body(1001, "")))
        .await
        .expect("answer the Close");
    let rest = read_until_closed(&mut fragmenting, TIMEOUT).await;
    assert!(rest.is_empty(), "bytes after the Close: {rest:?}");
    // The server closed TCP first (R-CL-05) and waits for our FIN.
    drop(fragmenting);

    let status = server
        .child
        .try_wait_for_async(SHUTDOWN_LIMIT)
        .await
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", signalled.elapsed()));
    println!("exited {:?} after SIGTERM", signalled.elapsed());
    assert_eq!(status.code(), Some(0));
    let got = read_until_closed(&mut handshaking, TIMEOUT).await;
    assert!(
        !String::from_utf8_lossy(&got).starts_with("HTTP/1.1 101"),
        "a handshake completed during shutdown"
    );
}

#[tokio::test]
async fn sigterm_is_not_held_up_by_a_client_stuck_in_its_handshake() {
    // The default handshake timeout, 10 s.
    let mut server = Serve::start(&[]);
    assert_serves(&server, "before the signal").await;
    let mut stuck = TcpStream::connect(server.addr).await.expect("connect");
    stuck
        .write_all(&upgrade_request()[..20])
        .await
        .expect("write");
    // Let the server take it in.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let signalled = Instant::now();
    server.child.signal("TERM");
    let status = server
        .child
        .try_wait_for_async(Duration::from_secs(15))
        .await
        .expect("no exit 15 s after SIGTERM");
    let took = signalled.elapsed();
    println!("exited {took:?} after SIGTERM with a client mid-handshake");
    assert_eq!(status.code(), Some(0));
    assert!(
        took <= SHUTDOWN_LIMIT,
        "a client mid-handshake held shutdown up for {took:?}"
    );
    let _ = read_until_closed(&mut stuck, TIMEOUT).await;
}

// ---------------------------------------------------------------------
// 11. Ten thousand connections

/// Connections held at once.
const MANY: usize = 10_000;

/// Connections opened or closed at once.
const CONCURRENCY: usize = 200;

/// Raises this process's limit on open files to its hard limit (children
/// started afterwards inherit it); `None` if that is below `needed`.
fn raise_nofile_limit(needed: u64) -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit >= needed => Some(limit),
        Ok(limit) => {
            println!(
                "SKIPPED: {MANY} connections need {needed} open files per process; \
                 the hard limit allows {limit}"
            );
            None
        }
        Err(e) => {
            println!("SKIPPED: cannot raise the open-file limit: {e}");
            None
        }
    }
}

/// The soft open-file limit of a process, from `/proc/PID/limits`.
fn nofile_limit_of(pid: u32) -> Option<u64> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_connections_are_held_and_closed_cleanly() {
    let needed = u64::try_from(MANY).expect("fits") + 1000;
    let Some(limit) = raise_nofile_limit(needed) else {
        return;
    };
    // No keepalive: the clients are not read while held, and the test must
    // not depend on how long opening them takes.
    let server = Serve::start(&["--keepalive", "0"]);
    let pid = server.child.pid();
    let server_limit = nofile_limit_of(pid);
    if server_limit.is_some_and(|l| l < needed) {
        println!("SKIPPED: the server may open only {server_limit:?} files");
        return;
    }
    println!("open-file limit {limit}, the server's {server_limit:?}");
    assert_serves(&server, "before the crowd").await;
    let fds_before = open_fds(pid);
    let rss_before = rss_kib(&server);
    let started = Instant::now();
    let url = server.url("/");

    let opening = futures_util::stream::iter(0..MANY)
        .map(|_| {
            let url = url.clone();
            async move {
                tokio::time::timeout(TIMEOUT, sockeye::connect(&url))
                    .await
                    .map_err(|_| "connect timed out".to_owned())?
                    .map_err(|e| format!("{e:?}"))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>();
    let opened = tokio::time::timeout(Duration::from_secs(40), opening)
        .await
        .expect("opening did not finish in 40 s");
    let mut clients = Vec::with_capacity(MANY);
    let mut failures = Vec::new();
    for result in opened {
        match result {
            Ok(ws) => clients.push(ws),
            Err(e) => failures.push(e),
        }
    }
    println!(
        "{} connections open after {:?}; server RSS {} KiB (from {rss_before} KiB), {} descriptors",
        clients.len(),
        started.elapsed(),
        rss_kib(&server),
        open_fds(pid)
    );
    assert!(
        failures.is_empty(),
        "{} connections failed, the first: {:?}",
        failures.len(),
        failures.first()
    );
    // One per connection (the count before may still include the closing
    // connection of the check above).
    assert!(
        open_fds(pid) >= MANY,
        "the server holds {} descriptors for {MANY} connections",
        open_fds(pid)
    );
    // A sample echoes while all are open.
    for (i, ws) in clients.iter_mut().enumerate().step_by(100) {
        echo(ws, Message::text(format!("connection {i}"))).await;
    }
    assert_serves(&server, "with 10,000 connections open").await;

    let closing = futures_util::stream::iter(clients)
        .map(|mut ws| async move {
            let closed = tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, "")).await;
            match closed {
                Ok(Ok(())) => ws.close_frame().map(|frame| frame.code),
                _ => None,
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>();
    let codes = tokio::time::timeout(Duration::from_secs(40), closing)
        .await
        .expect("closing did not finish in 40 s");
    let unclean = codes
        .iter()
        .filter(|&&code| code != Some(CloseCode::NORMAL))
        .count();
    println!("{} closed after {:?}", codes.len(), started.elapsed());
    assert_eq!(
        unclean, 0,
        "{unclean} connections did not get Close 1000 back"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds(pid) > fds_before + 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        open_fds(pid) <= fds_before + 2,
        "{} descriptors after closing, {fds_before} before",
        open_fds(pid)
    );
}
