//! Cancel safety (ask 14 of `notes/user-asks.md`): reads cancelled in
//! `tokio::select!` while frames arrive a few bytes at a time lose nothing,
//! and a send cancelled after its first poll still delivers its message.

mod support;

use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use sockeye::proto::frame::OpCode;
use sockeye::{ClientBuilder, Message, ServerBuilder, WebSocket, WebSocketConfig};
use support::{
    KEY, RawPeer, bounded, frame, op, raw_client_duplex, raw_server_duplex, request_head,
};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream};

/// Read sizes the trickling peer cycles through: mostly a few bytes, now
/// and then a larger piece so that big frames arrive in reasonable time.
const PIECES: [usize; 8] = [1, 2, 3, 5, 7, 11, 13, 997];

/// A payload where every byte depends on its position.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 7 + i / 253) % 256).unwrap())
        .collect()
}

/// The messages the trickling peer sends, and their frames (masked with
/// `mask`): empty, short, 16-bit and 64-bit lengths, a message in three
/// fragments with a Ping between them, and a UTF-8 sequence cut across
/// fragments.
fn traffic(mask: Option<[u8; 4]>) -> (Vec<Message>, Vec<u8>) {
    let messages = vec![
        Message::text(""),
        Message::text("hello"),
        Message::binary(pattern(200)),
        Message::text("κόσμε"),
        Message::binary(pattern(70_000)),
        Message::binary(Vec::new()),
        Message::text("end"),
    ];
    let mut bytes = Vec::new();
    bytes.extend(frame(true, op::TEXT, b"", mask));
    bytes.extend(frame(true, op::TEXT, b"hello", mask));
    bytes.extend(frame(true, op::BINARY, &pattern(200), mask));
    let text = "κόσμε".as_bytes();
    bytes.extend(frame(false, op::TEXT, &text[..3], mask));
    bytes.extend(frame(true, op::PING, b"mid", mask));
    bytes.extend(frame(false, op::CONTINUATION, &text[3..7], mask));
    bytes.extend(frame(true, op::CONTINUATION, &text[7..], mask));
    bytes.extend(frame(true, op::BINARY, &pattern(70_000), mask));
    bytes.extend(frame(true, op::BINARY, b"", mask));
    bytes.extend(frame(true, op::TEXT, b"end", mask));
    (messages, bytes)
}

/// Writes `bytes` in small pieces, pausing a millisecond between them,
/// then reads the Pong for the Ping in the traffic and hands the peer back.
fn spawn_trickle<S>(mut raw: RawPeer<S>, bytes: Vec<u8>) -> tokio::task::JoinHandle<RawPeer<S>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut rest = &bytes[..];
        for &piece in PIECES.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at(piece.min(rest.len()));
            raw.write(now).await;
            rest = later;
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let pong = raw.expect_frame().await;
        assert_eq!(pong.opcode, OpCode::Pong);
        assert_eq!(pong.payload, b"mid");
        raw
    })
}

/// Reads `count` messages, racing each `next()` against a timer shorter
/// than the peer's pauses so that most reads are cancelled mid-frame.
/// Returns the messages and how many reads were cancelled.
async fn read_with_cancellations<S>(ws: &mut WebSocket<S>, count: usize) -> (Vec<Message>, usize)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut messages = Vec::new();
    let mut cancelled = 0;
    while messages.len() < count {
        tokio::select! {
            item = ws.next() => messages.push(item.expect("a message").expect("no error")),
            () = tokio::time::sleep(Duration::from_micros(300)) => cancelled += 1,
        }
    }
    (messages, cancelled)
}

#[tokio::test(start_paused = true)]
async fn client_next_cancelled_mid_frame_loses_nothing() {
    bounded(async {
        let (raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://h/")).await;
        let (expected, bytes) = traffic(None);
        let peer = spawn_trickle(raw, bytes);
        let (messages, cancelled) = read_with_cancellations(&mut ws, expected.len()).await;
        assert_eq!(messages, expected);
        assert!(cancelled > 100, "only {cancelled} reads were cancelled");
        // The Pong leaves with the next write.
        ws.flush().await.unwrap();
        peer.await.unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_next_cancelled_mid_frame_loses_nothing() {
    bounded(async {
        let (raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        // Masked frames cut anywhere: unmasking must resume at the right
        // key offset after every partial read.
        let (expected, bytes) = traffic(Some(KEY));
        let peer = spawn_trickle(raw, bytes);
        let (messages, cancelled) = read_with_cancellations(&mut ws, expected.len()).await;
        assert_eq!(messages, expected);
        assert!(cancelled > 100, "only {cancelled} reads were cancelled");
        ws.flush().await.unwrap();
        peer.await.unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_reader_next_cancelled_mid_frame_loses_nothing() {
    bounded(async {
        let (raw, ws) = raw_client_duplex(ServerBuilder::new()).await;
        let (mut reader, _writer) = ws.split();
        let (expected, bytes) = traffic(Some(KEY));
        let peer = spawn_trickle(raw, bytes);
        let mut messages = Vec::new();
        let mut cancelled = 0;
        while messages.len() < expected.len() {
            tokio::select! {
                item = reader.next() => messages.push(item.unwrap().unwrap()),
                () = tokio::time::sleep(Duration::from_micros(300)) => cancelled += 1,
            }
        }
        assert_eq!(messages, expected);
        assert!(cancelled > 100, "only {cancelled} reads were cancelled");
        peer.await.unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn client_recv_cancelled_by_interval_loses_nothing() {
    bounded(async {
        let (raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://h/")).await;
        let (expected, bytes) = traffic(None);
        let peer = spawn_trickle(raw, bytes);
        // The usual shape of an event loop: a ticker and the socket.
        let mut ticker = tokio::time::interval(Duration::from_micros(700));
        let mut messages = Vec::new();
        let mut ticks = 0;
        while messages.len() < expected.len() {
            tokio::select! {
                item = ws.recv() => messages.push(item.unwrap().unwrap()),
                _ = ticker.tick() => ticks += 1,
            }
        }
        assert_eq!(messages, expected);
        assert!(ticks > 50, "{ticks}");
        ws.flush().await.unwrap();
        peer.await.unwrap();
    })
    .await;
}

// ---- sends cancelled after their first poll ----

/// A sockeye server on a duplex that holds only `capacity` bytes each way,
/// and the raw client at the other end.
async fn narrow_server(
    capacity: usize,
    config: WebSocketConfig,
) -> (RawPeer<DuplexStream>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(capacity);
    let mut raw = RawPeer::client(a);
    let request = request_head("/", "");
    let server = ServerBuilder::new().config(config);
    let (ws, ()) = tokio::join!(server.accept(b), raw.write(request.as_bytes()));
    let ws = ws.unwrap();
    assert_eq!(raw.read_head().await.status(), 101);
    (raw, ws)
}

#[tokio::test]
async fn server_send_cancelled_after_first_poll_still_delivers() {
    bounded(async {
        let (mut raw, mut ws) = narrow_server(1024, WebSocketConfig::default()).await;
        let big = pattern(10_000);
        // The first poll queues the message and writes what fits; the
        // future is then dropped before the flush can finish.
        let first = ws.send(Message::binary(big.clone())).now_or_never();
        assert!(first.is_none(), "the transport cannot take 10 kB at once");
        assert!(ws.buffered_amount() > 0);
        // A later flush writes the rest.
        let (flushed, frame) = tokio::join!(ws.flush(), raw.expect_frame());
        flushed.unwrap();
        assert_eq!(frame.opcode, OpCode::Binary);
        assert_eq!(frame.payload, big);
        assert_eq!(ws.buffered_amount(), 0);
    })
    .await;
}

#[tokio::test]
async fn server_writer_send_cancelled_after_first_poll_still_delivers() {
    bounded(async {
        let (mut raw, ws) = narrow_server(1024, WebSocketConfig::default()).await;
        let (_reader, mut writer) = ws.split();
        let big = pattern(10_000);
        let first = writer.send(Message::binary(big.clone())).now_or_never();
        assert!(first.is_none());
        let (flushed, frame) = tokio::join!(writer.flush(), raw.expect_frame());
        flushed.unwrap();
        assert_eq!(frame.payload, big);
    })
    .await;
}

#[tokio::test]
async fn server_send_cancelled_in_select_still_delivers_in_order() {
    bounded(async {
        let (mut raw, mut ws) = narrow_server(512, WebSocketConfig::default()).await;
        // Each send is raced against a ready branch, so it is polled once
        // and dropped; the messages still leave, in order.
        for i in 0..20u8 {
            tokio::select! {
                biased;
                result = ws.send(Message::binary(vec![i; 300])) => result.unwrap(),
                () = std::future::ready(()) => {}
            }
        }
        let reader = async {
            for i in 0..20u8 {
                let frame = raw.expect_frame().await;
                assert_eq!(frame.payload, vec![i; 300]);
            }
        };
        let (flushed, ()) = tokio::join!(ws.flush(), reader);
        flushed.unwrap();
    })
    .await;
}

#[tokio::test]
async fn server_send_cancelled_while_buffer_full_still_delivers() {
    bounded(async {
        let config = WebSocketConfig {
            write_buffer_size: 2048,
            ..WebSocketConfig::default()
        };
        let (mut raw, mut ws) = narrow_server(1024, config).await;
        // Fill the queue past `write_buffer_size` without writing.
        ws.feed(Message::binary(pattern(8000))).await.unwrap();
        // `send` says: "Once this future has been polled the message is
        // queued: dropping it does not unqueue the message".
        let second = ws.send(Message::text("second")).now_or_never();
        assert!(second.is_none());
        let reader = async {
            assert_eq!(raw.expect_frame().await.payload.len(), 8000);
            raw
        };
        let (flushed, mut raw) = tokio::join!(ws.flush(), reader);
        flushed.unwrap();
        drop(ws);
        let frame = raw.read_frame().await.expect("the second message");
        assert_eq!(frame.text(), "second");
    })
    .await;
}
