//! permessage-deflate (RFC 7692) through the tokio layer: what the client
//! offers and accepts, what the server answers (or declines) and how
//! `Accept::without_deflate` opts a connection out, seen from a raw peer
//! speaking hand-written handshakes and frames over `tokio::io::duplex`;
//! then sockeye client and server echoing large compressed messages in
//! fragments both ways.

mod support;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use futures_util::StreamExt;
use sockeye::proto::frame::OpCode;
use sockeye::proto::handshake::HandshakeError;
use sockeye::proto::{Config, DeflateConfig};
use sockeye::{
    Accept, ClientBuilder, Error, HandshakeFailure, Message, ServerBuilder, WebSocket,
    WebSocketConfig,
};
use support::{Head, KEY, RawPeer, bounded, duplex_pair, frame, op, request_head};
use tokio::io::DuplexStream;

/// What a sync flush ends with; removed by senders, appended by receivers.
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// "Hello" compressed, as in RFC 7692 §7.2.3.1.
const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

const MIB: usize = 1 << 20;

// ---- an independent codec and raw frames ----

/// Compresses `data` with a sync flush, keeping everything zlib wrote.
fn sync_flush(zlib: &mut Compress, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 64);
    let start = zlib.total_in();
    loop {
        let done = usize::try_from(zlib.total_in() - start).expect("fits");
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity() + 64);
        }
        zlib.compress_vec(&data[done..], &mut out, FlushCompress::Sync)
            .expect("compress");
        if zlib.total_in() - start == data.len() as u64 && out.len() < out.capacity() {
            assert!(out.ends_with(&TAIL));
            return out;
        }
    }
}

/// Inflates messages with one window kept between them (RFC 7692 §7.2.2).
struct Inflater(Decompress);

impl Inflater {
    fn new() -> Self {
        Inflater(Decompress::new_with_window_bits(false, 15))
    }

    fn message(&mut self, payload: &[u8]) -> Vec<u8> {
        let input = [payload, &TAIL[..]].concat();
        let mut out = Vec::with_capacity(4 * input.len());
        let start = self.0.total_in();
        loop {
            let done = usize::try_from(self.0.total_in() - start).expect("fits");
            if out.capacity() - out.len() < 1024 {
                out.reserve(out.capacity());
            }
            let status = self
                .0
                .decompress_vec(&input[done..], &mut out, FlushDecompress::Sync)
                .expect("valid compressed data");
            let all_in = self.0.total_in() - start == input.len() as u64;
            if status == Status::StreamEnd || (all_in && out.len() < out.capacity()) {
                return out;
            }
        }
    }
}

/// A compressed payload that inflates to `mib` MiB of zeros. Each MiB of
/// zeros after the first compresses to the same bytes once the window is
/// all zeros, so the stream is built from two compressed MiB instead of
/// compressing them all in a debug build.
fn zeros_bomb(mib: usize) -> Vec<u8> {
    let zeros = vec![0u8; MIB];
    let mut zlib = Compress::new_with_window_bits(Compression::new(9), false, 15);
    let mut out = sync_flush(&mut zlib, &zeros);
    let steady = sync_flush(&mut zlib, &zeros);
    assert_eq!(sync_flush(&mut zlib, &zeros), steady);
    for _ in 1..mib {
        out.extend_from_slice(&steady);
    }
    out.truncate(out.len() - TAIL.len());
    out
}

/// One frame with RSV1 set, masked when `mask` is given.
fn rsv1_frame(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut bytes = frame(fin, opcode, payload, mask);
    bytes[0] |= 0x40;
    bytes
}

/// JSON-like text that compresses well, `records` objects long.
fn json(records: usize) -> String {
    let mut out = String::from("[");
    for i in 0..records {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"id":"#);
        out.push_str(&i.to_string());
        out.push_str(r#","name":"user-"#);
        out.push_str(&(i * 7 % 13).to_string());
        out.push_str(r#"","active":"#);
        out.push_str(if i % 3 == 0 { "true" } else { "false" });
        out.push('}');
    }
    out.push(']');
    out
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

fn invalid_handshake(err: &Error) -> &HandshakeError {
    match err {
        Error::Handshake(failure) => match &**failure {
            HandshakeFailure::Invalid(e) => e,
            other => panic!("expected an invalid handshake, got {other:?}"),
        },
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

fn protocol_error(result: Option<sockeye::Result<Message>>) -> sockeye::proto::Error {
    match result {
        Some(Err(Error::Protocol(e))) => e,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Writes `bytes` from the raw peer while `ws` reads, and expects `ws` to
/// fail the connection: a Close with `code` on the wire, then its EOF (the
/// failing end closes first), then one protocol error from the stream once
/// the peer's side is closed too. Returns that error.
async fn expect_failure(
    mut raw: RawPeer<DuplexStream>,
    ws: &mut WebSocket<DuplexStream>,
    bytes: &[u8],
    code: u16,
) -> sockeye::proto::Error {
    let peer = async move {
        raw.write(bytes).await;
        raw.expect_close(code).await;
        raw.expect_eof().await;
    };
    let ((), next) = tokio::join!(peer, ws.next());
    let err = protocol_error(next);
    assert_eq!(err.close_code().as_u16(), code, "{err:?}");
    err
}

fn deflating_server() -> ServerBuilder {
    ServerBuilder::new().deflate(Some(DeflateConfig::default()))
}

// ---- a raw client against a sockeye server ----
//
// Which offers are accepted and what is answered (PMD-01, PMD-02, PMD-16) is
// checked over every server entry point by the table in `negotiation.rs`.

/// A raw client sends a request with `extra` header lines to `server`;
/// returns the 101 head, the raw client and the server's socket.
async fn raw_client_with(
    server: &ServerBuilder,
    extra: &str,
) -> (Head, RawPeer<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
    let mut raw = RawPeer::client(a);
    // The request fits the duplex buffer, so no task is needed.
    raw.write(request_head("/", extra).as_bytes()).await;
    let ws = server.accept(b).await.expect("the server accepts");
    let head = raw.read_head().await;
    assert_eq!(head.status(), 101, "{head:?}");
    (head, raw, ws)
}

/// A raw client offering `offer` in one `Sec-WebSocket-Extensions` field.
async fn offer_to(
    server: &ServerBuilder,
    offer: &str,
) -> (Head, RawPeer<DuplexStream>, WebSocket<DuplexStream>) {
    raw_client_with(server, &format!("Sec-WebSocket-Extensions: {offer}\r\n")).await
}

#[tokio::test]
async fn pmd_10_server_declines_malformed_offers_and_completes_the_handshake() {
    bounded(async {
        for offer in [
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=010",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; client_no_context_takeover=1",
            "permessage-deflate; x-unknown",
            // PMD-15: zlib cannot compress with 8 bits.
            "permessage-deflate; server_max_window_bits=8",
        ] {
            let (head, mut raw, mut ws) = offer_to(&deflating_server(), offer).await;
            assert_eq!(head.get("sec-websocket-extensions"), None, "{offer}");
            assert_eq!(ws.deflate(), None);
            // The connection works, uncompressed.
            raw.send(op::TEXT, b"plain").await;
            assert_eq!(
                ws.next().await.expect("a message").expect("valid"),
                Message::text("plain")
            );
            ws.send(Message::text(json(20))).await.expect("open");
            let sent = raw.expect_frame().await;
            assert_eq!((sent.rsv, sent.text()), (0, json(20).as_str()));
            // PMD-07: RSV1 is now a protocol error.
            let rsv1 = rsv1_frame(true, op::TEXT, &HELLO, Some(KEY));
            let err = expect_failure(raw, &mut ws, &rsv1, 1002).await;
            assert_eq!(err, sockeye::proto::Error::ReservedBitsSet);
        }
    })
    .await;
}

#[tokio::test]
async fn r_hv_03_server_refuses_a_malformed_extension_header_with_400() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::client(a);
        let extra = "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\r\n";
        raw.write(request_head("/", extra).as_bytes()).await;
        let server = deflating_server();
        let (result, head) = tokio::join!(server.accept(b), raw.read_head());
        assert_eq!(head.status(), 400, "{head:?}");
        let err = result.expect_err("refused");
        assert_eq!(
            *invalid_handshake(&err),
            HandshakeError::InvalidExtensionHeader
        );
    })
    .await;
}

#[tokio::test]
async fn accept_without_deflate_declines_on_one_connection() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::client(a);
        let extra = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        raw.write(request_head("/", extra).as_bytes()).await;
        let ws = deflating_server()
            .accept_with(b, |_| async { Ok(Accept::new().without_deflate()) })
            .await
            .expect("accepted");
        let head = raw.read_head().await;
        assert_eq!(head.status(), 101);
        assert_eq!(head.get("sec-websocket-extensions"), None);
        assert_eq!(ws.deflate(), None);
        // The same server still accepts it on the next connection.
        let (head, _raw, ws) = offer_to(&deflating_server(), "permessage-deflate").await;
        assert_eq!(
            head.get("sec-websocket-extensions"),
            Some("permessage-deflate")
        );
        assert!(ws.deflate().is_some());
    })
    .await;
}

#[tokio::test]
async fn server_reads_and_sends_compressed_messages() {
    bounded(async {
        let (_, mut raw, mut ws) = offer_to(&deflating_server(), "permessage-deflate").await;
        // The RFC's example, then the same text again with the window
        // shared, then fragmented with a Ping between the fragments.
        raw.write(&rsv1_frame(true, op::TEXT, &HELLO, Some(KEY)))
            .await;
        raw.write(&rsv1_frame(
            true,
            op::TEXT,
            &[0xf2, 0x00, 0x11, 0x00, 0x00],
            Some(KEY),
        ))
        .await;
        raw.write(&rsv1_frame(false, op::TEXT, &HELLO[..3], Some(KEY)))
            .await;
        raw.send(op::PING, b"ping").await;
        raw.write(&frame(true, op::CONTINUATION, &HELLO[3..], Some(KEY)))
            .await;
        for _ in 0..3 {
            assert_eq!(
                ws.next().await.expect("a message").expect("valid"),
                Message::text("Hello")
            );
        }
        ws.send(Message::text(json(50))).await.expect("open");
        let pong = raw.expect_frame().await;
        assert_eq!((pong.opcode, pong.rsv), (OpCode::Pong, 0), "PMD-05");
        let sent = raw.expect_frame().await;
        assert_eq!(
            (sent.opcode, sent.rsv, sent.fin),
            (OpCode::Text, 0b100, true)
        );
        assert!(!sent.masked);
        assert_eq!(Inflater::new().message(&sent.payload), json(50).as_bytes());
    })
    .await;
}

#[tokio::test]
async fn pmd_05_server_fails_1002_on_rsv1_on_a_control_frame_or_continuation() {
    bounded(async {
        let cases = [
            rsv1_frame(true, op::PING, b"hi", Some(KEY)),
            rsv1_frame(true, op::PONG, b"hi", Some(KEY)),
            rsv1_frame(true, op::CLOSE, &[0x03, 0xe8], Some(KEY)),
            [
                rsv1_frame(false, op::TEXT, &HELLO[..3], Some(KEY)),
                rsv1_frame(true, op::CONTINUATION, &HELLO[3..], Some(KEY)),
            ]
            .concat(),
        ];
        for bytes in cases {
            let (_, raw, mut ws) = offer_to(&deflating_server(), "permessage-deflate").await;
            let err = expect_failure(raw, &mut ws, &bytes, 1002).await;
            assert_eq!(err, sockeye::proto::Error::ReservedBitsSet);
        }
    })
    .await;
}

#[tokio::test]
async fn pmd_27_server_fails_1007_on_invalid_compressed_data() {
    bounded(async {
        let (_, raw, mut ws) = offer_to(&deflating_server(), "permessage-deflate").await;
        let bytes = rsv1_frame(true, op::BINARY, &[0xff; 6], Some(KEY));
        let err = expect_failure(raw, &mut ws, &bytes, 1007).await;
        assert_eq!(err, sockeye::proto::Error::InvalidCompressedData);
    })
    .await;
}

#[tokio::test]
async fn pmd_27_server_fails_1009_on_a_decompression_bomb() {
    bounded(async {
        let server = deflating_server().max_message_size(MIB);
        let (_, raw, mut ws) = offer_to(&server, "permessage-deflate").await;
        // 64 MiB of zeros in about 64 KiB, fragmented.
        let bomb = zeros_bomb(64);
        let (head, tail) = bomb.split_at(bomb.len() / 2);
        let bytes = [
            rsv1_frame(false, op::BINARY, head, Some(KEY)),
            frame(true, op::CONTINUATION, tail, Some(KEY)),
        ]
        .concat();
        let err = expect_failure(raw, &mut ws, &bytes, 1009).await;
        assert!(
            matches!(err, sockeye::proto::Error::MessageTooBig { limit, .. } if limit == MIB),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn server_fragments_compressed_messages_with_rsv1_on_the_first_frame() {
    bounded(async {
        let config = WebSocketConfig {
            proto: Config {
                max_send_frame_size: Some(4096),
                deflate: Some(DeflateConfig::default()),
                ..Config::default()
            },
            ..WebSocketConfig::default()
        };
        let server = ServerBuilder::new().config(config);
        let (_, mut raw, mut ws) = offer_to(&server, "permessage-deflate").await;
        let text: String = noise(100_000, 4)
            .iter()
            .map(|b| char::from(b'a' + b % 16))
            .collect();
        let (sent, payload) = tokio::join!(ws.send(Message::text(text.clone())), async {
            let mut frames = vec![raw.expect_frame().await];
            while !frames.last().expect("a frame").fin {
                frames.push(raw.expect_frame().await);
            }
            assert!(frames.len() > 2);
            assert_eq!((frames[0].opcode, frames[0].rsv), (OpCode::Text, 0b100));
            for f in &frames[1..] {
                assert_eq!((f.opcode, f.rsv), (OpCode::Continuation, 0), "PMD-05");
            }
            assert!(frames.iter().all(|f| f.payload.len() <= 4096));
            frames.concat_payloads()
        });
        sent.expect("open");
        assert_eq!(Inflater::new().message(&payload), text.as_bytes());
    })
    .await;
}

trait Payloads {
    fn concat_payloads(&self) -> Vec<u8>;
}

impl Payloads for Vec<support::Frame> {
    fn concat_payloads(&self) -> Vec<u8> {
        self.iter()
            .flat_map(|f| f.payload.iter().copied())
            .collect()
    }
}

// ---- a sockeye client against a raw server ----

/// A sockeye client built as `client` against a raw server that answers
/// 101 with `headers`; returns what the client's handshake gave, the
/// request the server read, and the raw server.
async fn answer_client(
    client: ClientBuilder,
    headers: &str,
) -> (
    sockeye::Result<WebSocket<DuplexStream>>,
    Head,
    RawPeer<DuplexStream>,
) {
    let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
    let mut raw = RawPeer::server(a);
    let (ws, request) = tokio::join!(
        client.connect_on(b),
        raw.server_handshake_with(headers, &[])
    );
    (ws.map(|(ws, _)| ws), request, raw)
}

fn client() -> ClientBuilder {
    ClientBuilder::new("ws://localhost/")
}

#[tokio::test]
async fn r_ex_02_client_offers_deflate_by_default_and_never_compresses_when_declined() {
    bounded(async {
        let (ws, request, mut raw) = answer_client(client(), "").await;
        assert_eq!(
            request.get_all("sec-websocket-extensions"),
            ["permessage-deflate; client_max_window_bits"]
        );
        let mut ws = ws.expect("connected");
        assert_eq!(ws.deflate(), None);
        ws.send(Message::text(json(30))).await.expect("open");
        let sent = raw.expect_frame().await;
        assert_eq!((sent.rsv, sent.text()), (0, json(30).as_str()));
        // Without the extension, RSV1 from the server is a protocol error.
        let rsv1 = rsv1_frame(true, op::TEXT, &HELLO, None);
        let err = expect_failure(raw, &mut ws, &rsv1, 1002).await;
        assert_eq!(err, sockeye::proto::Error::ReservedBitsSet);
    })
    .await;
}

#[tokio::test]
async fn client_offers_nothing_with_deflate_off() {
    bounded(async {
        let (ws, request, _raw) = answer_client(client().deflate(None), "").await;
        assert_eq!(request.get("sec-websocket-extensions"), None);
        assert_eq!(ws.expect("connected").deflate(), None);
    })
    .await;
}

#[tokio::test]
async fn client_offers_its_settings() {
    bounded(async {
        let settings = DeflateConfig {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 10,
            client_max_window_bits: 12,
            ..DeflateConfig::default()
        };
        let response = "Sec-WebSocket-Extensions: permessage-deflate; \
                        server_no_context_takeover; server_max_window_bits=10\r\n";
        let (ws, request, _raw) = answer_client(client().deflate(Some(settings)), response).await;
        assert_eq!(
            request.get_all("sec-websocket-extensions"),
            [
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
                 server_max_window_bits=10; client_max_window_bits=12"
            ]
        );
        let ws = ws.expect("connected");
        let agreed = ws.deflate().expect("negotiated");
        assert!(agreed.server_no_context_takeover);
        // Its own hint binds the client even though the server left it out.
        assert!(agreed.client_no_context_takeover);
        assert_eq!(
            (agreed.server_max_window_bits, agreed.client_max_window_bits),
            (10, 12)
        );
    })
    .await;
}

#[tokio::test]
async fn client_runs_what_the_server_agreed() {
    bounded(async {
        let response = "Sec-WebSocket-Extensions: permessage-deflate; \
                        client_no_context_takeover; client_max_window_bits=10\r\n";
        let (ws, _, mut raw) = answer_client(client(), response).await;
        let mut ws = ws.expect("connected");
        let agreed = *ws.deflate().expect("negotiated");
        assert!(agreed.client_no_context_takeover);
        assert_eq!(agreed.client_max_window_bits, 10);
        raw.write(&rsv1_frame(true, op::TEXT, &HELLO, None)).await;
        assert_eq!(
            ws.next().await.expect("a message").expect("valid"),
            Message::text("Hello")
        );
        // Without context takeover, the same message compresses to the
        // same bytes each time, and each inflates on its own.
        ws.send(Message::text(json(40))).await.expect("open");
        ws.send(Message::text(json(40))).await.expect("open");
        let first = raw.expect_frame().await;
        let second = raw.expect_frame().await;
        for sent in [&first, &second] {
            assert_eq!((sent.rsv, sent.masked), (0b100, true));
            assert_eq!(Inflater::new().message(&sent.payload), json(40).as_bytes());
        }
        assert_eq!(first.payload, second.payload);
    })
    .await;
}

#[tokio::test]
async fn pmd_11_client_fails_on_a_response_it_did_not_allow() {
    bounded(async {
        let default = DeflateConfig::default;
        let cases = [
            // A parameter not defined for permessage-deflate.
            (
                default(),
                "permessage-deflate; foo",
                HandshakeError::InvalidExtensionResponse,
            ),
            // client_max_window_bits without a value.
            (
                default(),
                "permessage-deflate; client_max_window_bits",
                HandshakeError::InvalidExtensionResponse,
            ),
            (
                default(),
                "permessage-deflate; server_max_window_bits=16",
                HandshakeError::InvalidExtensionResponse,
            ),
            (
                default(),
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                HandshakeError::InvalidExtensionResponse,
            ),
            // PMD-03: two accepted elements.
            (
                default(),
                "permessage-deflate, permessage-deflate",
                HandshakeError::InvalidExtensionResponse,
            ),
            // R-CV-05: an extension that was not offered.
            (default(), "x-foo", HandshakeError::ExtensionNotOffered),
            (
                default(),
                "permessage-deflate, x-foo",
                HandshakeError::ExtensionNotOffered,
            ),
            // A window larger than asked, or not the one asked for.
            (
                DeflateConfig {
                    server_max_window_bits: 10,
                    ..default()
                },
                "permessage-deflate; server_max_window_bits=12",
                HandshakeError::InvalidExtensionResponse,
            ),
            (
                DeflateConfig {
                    client_max_window_bits: 10,
                    ..default()
                },
                "permessage-deflate; client_max_window_bits=11",
                HandshakeError::InvalidExtensionResponse,
            ),
            // PMD-12: asked for server_no_context_takeover, not given.
            (
                DeflateConfig {
                    server_no_context_takeover: true,
                    ..default()
                },
                "permessage-deflate",
                HandshakeError::InvalidExtensionResponse,
            ),
        ];
        for (settings, response, expected) in cases {
            let headers = format!("Sec-WebSocket-Extensions: {response}\r\n");
            let (ws, _, _raw) = answer_client(client().deflate(Some(settings)), &headers).await;
            let err = ws.expect_err(response);
            assert!(err.is_handshake(), "{err:?}");
            assert_eq!(*invalid_handshake(&err), expected, "{response}");
        }
    })
    .await;
}

#[tokio::test]
async fn client_fails_when_deflate_is_accepted_but_was_not_offered() {
    bounded(async {
        let headers = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        let (ws, request, _raw) = answer_client(client().deflate(None), headers).await;
        assert_eq!(request.get("sec-websocket-extensions"), None);
        let err = ws.expect_err("not offered");
        assert_eq!(
            *invalid_handshake(&err),
            HandshakeError::ExtensionNotOffered
        );
    })
    .await;
}

#[tokio::test]
async fn client_runs_no_extension_when_its_caller_writes_the_header() {
    bounded(async {
        let own = || client().header("sec-websocket-extensions", "permessage-deflate");
        let (ws, request, _raw) = answer_client(own(), "").await;
        assert_eq!(
            request.get_all("sec-websocket-extensions"),
            ["permessage-deflate"]
        );
        assert_eq!(ws.expect("connected").deflate(), None);
        // It cannot run what the server then accepts, so it fails.
        let headers = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        let (ws, _, _raw) = answer_client(own(), headers).await;
        assert!(ws.expect_err("cannot run it").is_handshake());
    })
    .await;
}

#[tokio::test]
async fn pmd_15_client_told_8_bits_sends_uncompressed() {
    bounded(async {
        let headers = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=8\r\n";
        let (ws, _, mut raw) = answer_client(client(), headers).await;
        let mut ws = ws.expect("connected");
        assert_eq!(ws.deflate().map(|d| d.client_max_window_bits), Some(8));
        ws.send(Message::text(json(30))).await.expect("open");
        let sent = raw.expect_frame().await;
        assert_eq!((sent.rsv, sent.text()), (0, json(30).as_str()));
        // It still reads compressed messages.
        raw.write(&rsv1_frame(true, op::TEXT, &HELLO, None)).await;
        assert_eq!(
            ws.next().await.expect("a message").expect("valid"),
            Message::text("Hello")
        );
    })
    .await;
}

#[tokio::test]
async fn pmd_28_client_sends_messages_under_min_size_uncompressed() {
    bounded(async {
        let settings = DeflateConfig {
            min_size: 64,
            ..DeflateConfig::default()
        };
        let headers = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        let (ws, _, mut raw) = answer_client(client().deflate(Some(settings)), headers).await;
        let mut ws = ws.expect("connected");
        ws.send(Message::text("a".repeat(63))).await.expect("open");
        ws.send(Message::text("a".repeat(64))).await.expect("open");
        let short = raw.expect_frame().await;
        assert_eq!((short.rsv, short.text()), (0, "a".repeat(63).as_str()));
        let long = raw.expect_frame().await;
        assert_eq!(long.rsv, 0b100);
        assert_eq!(
            Inflater::new().message(&long.payload),
            "a".repeat(64).as_bytes()
        );
    })
    .await;
}

#[tokio::test]
async fn client_fails_1002_1007_and_1009_on_bad_compressed_input() {
    bounded(async {
        let headers = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
        let bomb = zeros_bomb(16);
        let cases = [
            (rsv1_frame(true, op::PING, b"", None), 1002),
            (
                [
                    rsv1_frame(false, op::TEXT, &HELLO[..3], None),
                    rsv1_frame(true, op::CONTINUATION, &HELLO[3..], None),
                ]
                .concat(),
                1002,
            ),
            (rsv1_frame(true, op::TEXT, &[0xff; 6], None), 1007),
            (rsv1_frame(true, op::BINARY, &bomb, None), 1009),
        ];
        for (bytes, code) in cases {
            let client = client().max_message_size(MIB);
            let (ws, _, raw) = answer_client(client, headers).await;
            let mut ws = ws.expect("connected");
            expect_failure(raw, &mut ws, &bytes, code).await;
        }
    })
    .await;
}

// ---- sockeye client and server ----

fn server_config(deflate: DeflateConfig, frame: Option<usize>) -> WebSocketConfig {
    WebSocketConfig {
        proto: Config {
            deflate: Some(deflate),
            max_send_frame_size: frame,
            ..Config::default()
        },
        ..WebSocketConfig::default()
    }
}

fn client_config(deflate: DeflateConfig, frame: Option<usize>) -> WebSocketConfig {
    // The client's own defaults, with its deflate settings replaced.
    let mut config = WebSocketConfig::client();
    config.proto.deflate = Some(deflate);
    config.proto.max_send_frame_size = frame;
    config
}

#[tokio::test]
async fn sockeye_pair_negotiates_by_default_when_the_server_allows_it() {
    bounded(async {
        let (client, server) = duplex_pair(
            WebSocketConfig::client(),
            server_config(DeflateConfig::default(), None),
        )
        .await;
        let agreed = client.deflate().copied().expect("negotiated");
        assert_eq!(server.deflate().copied(), Some(agreed));
        // A server with default settings declines.
        let (client, server) =
            duplex_pair(WebSocketConfig::client(), WebSocketConfig::default()).await;
        assert_eq!((client.deflate(), server.deflate()), (None, None));
    })
    .await;
}

/// Spawns an echo loop on `ws` that ends when the peer closes.
fn spawn_echo(mut ws: WebSocket<DuplexStream>) -> tokio::task::JoinHandle<usize> {
    tokio::spawn(async move {
        let mut count = 0;
        while let Some(message) = ws.next().await {
            ws.send(message.expect("a valid message"))
                .await
                .expect("echo");
            count += 1;
        }
        count
    })
}

#[tokio::test]
async fn large_compressed_messages_echo_both_ways_in_fragments() {
    bounded(async {
        let agreements = [
            (DeflateConfig::default(), DeflateConfig::default()),
            (
                DeflateConfig {
                    server_no_context_takeover: true,
                    client_no_context_takeover: true,
                    ..DeflateConfig::default()
                },
                DeflateConfig::default(),
            ),
            (
                DeflateConfig {
                    server_max_window_bits: 12,
                    client_max_window_bits: 11,
                    ..DeflateConfig::default()
                },
                DeflateConfig {
                    client_max_window_bits: 10,
                    min_size: 100,
                    ..DeflateConfig::default()
                },
            ),
        ];
        let messages = [
            Message::text(json(12_000)),
            Message::binary(noise(200_000, 2)),
            Message::text(""),
            Message::text("short"),
            Message::binary([json(2000).into_bytes(), noise(50_000, 3)].concat()),
            Message::text(json(12_000)),
        ];
        for (on_client, on_server) in agreements {
            let (mut client, server) = duplex_pair(
                client_config(on_client.clone(), Some(16 << 10)),
                server_config(on_server.clone(), Some(10_000)),
            )
            .await;
            assert!(client.deflate().is_some() && server.deflate().is_some());
            let echo = spawn_echo(server);
            for message in &messages {
                client.send(message.clone()).await.expect("open");
                let back = client.next().await.expect("an echo").expect("valid");
                assert_eq!(&back, message, "{on_client:?} {on_server:?}");
            }
            client
                .close(sockeye::CloseCode::NORMAL, "")
                .await
                .expect("clean close");
            assert_eq!(echo.await.expect("echo task"), messages.len());
        }
    })
    .await;
}

#[tokio::test]
async fn send_uncompressed_goes_out_without_rsv1() {
    bounded(async {
        let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
        let mut raw = RawPeer::server(a);
        let client = ClientBuilder::new("ws://h/");
        let (ws, _) = tokio::join!(
            client.connect_on(b),
            raw.server_handshake_with("Sec-WebSocket-Extensions: permessage-deflate\r\n", &[])
        );
        let (mut ws, _) = ws.expect("the client connects");
        assert!(ws.deflate().is_some());
        ws.send_uncompressed(Message::text("secret=1234"))
            .await
            .expect("send");
        ws.send(Message::text("secret=1234")).await.expect("send");
        let plain = raw.read_frame().await.expect("a frame");
        let packed = raw.read_frame().await.expect("a frame");
        assert_eq!(plain.rsv & 0b100, 0, "{plain:?}");
        assert_eq!(packed.rsv & 0b100, 0b100, "{packed:?}");
    })
    .await;
}
