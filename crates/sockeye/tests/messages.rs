//! Messages end to end: echo round trips between a sockeye client and
//! server, batching of fed messages into few writes, and `buffered_amount`.

mod support;

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use sockeye::proto::frame::OpCode;
use sockeye::{
    ClientBuilder, CloseCode, Incoming, Message, ServerBuilder, WebSocket, WebSocketConfig,
};
use support::{KEY, bounded, duplex_pair, frame, op, raw_client_duplex, tcp_pair};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};

/// Spawns an echo loop on `ws` that ends when the peer closes.
fn spawn_echo<S>(mut ws: WebSocket<S>) -> tokio::task::JoinHandle<sockeye::Result<usize>>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut count = 0;
        while let Some(message) = ws.next().await {
            ws.send(message?).await?;
            count += 1;
        }
        Ok(count)
    })
}

async fn echo_pair() -> (
    WebSocket<sockeye::ClientStream>,
    tokio::task::JoinHandle<sockeye::Result<usize>>,
) {
    let (client, server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
    (client, spawn_echo(server))
}

/// A payload where every byte depends on its position, so that a shifted
/// or misordered chunk cannot go unnoticed.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| u8::try_from((i * 31 + i / 251) % 256).unwrap())
        .collect()
}

// ---- echo round trips ----

#[tokio::test]
async fn client_and_server_echo_text_and_binary() {
    bounded(async {
        let (mut client, echo) = echo_pair().await;
        let messages = [
            Message::text("hello"),
            Message::text(""),
            Message::binary(Vec::new()),
            Message::binary(vec![0, 1, 2, 255]),
            Message::text("κόσμε — 世界 — 🦀"),
        ];
        for message in &messages {
            client.send(message.clone()).await.unwrap();
            let echoed = client.next().await.unwrap().unwrap();
            assert_eq!(&echoed, message);
        }
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(echo.await.unwrap().unwrap(), messages.len());
    })
    .await;
}

#[tokio::test]
async fn client_and_server_echo_one_mebibyte_messages() {
    bounded(async {
        let (mut client, echo) = echo_pair().await;
        let binary = Message::binary(pattern(1 << 20));
        let text = Message::text("é".repeat(1 << 19));
        assert_eq!(text.len(), 1 << 20);
        for message in [binary, text] {
            client.send(message.clone()).await.unwrap();
            let echoed = client.next().await.unwrap().unwrap();
            assert_eq!(echoed.is_text(), message.is_text());
            assert!(echoed.payload() == message.payload(), "payload differs");
        }
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(echo.await.unwrap().unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn r_fr_05_client_and_server_echo_length_boundaries() {
    bounded(async {
        let (mut client, echo) = echo_pair().await;
        let sizes = [125, 126, 127, 65_535, 65_536, 65_537];
        for &size in &sizes {
            client.feed(Message::binary(pattern(size))).await.unwrap();
        }
        client.flush().await.unwrap();
        for &size in &sizes {
            let echoed = client.next().await.unwrap().unwrap();
            assert_eq!(echoed.payload(), &pattern(size)[..], "size {size}");
        }
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert_eq!(echo.await.unwrap().unwrap(), sizes.len());
    })
    .await;
}

#[tokio::test]
async fn server_sends_many_messages_to_slow_reading_client() {
    bounded(async {
        // More than the write buffer and the duplex hold together: sending
        // waits for the client to read, and nothing is lost.
        let server_config = WebSocketConfig {
            write_buffer_size: 4 << 10,
            ..WebSocketConfig::default()
        };
        let (mut client, mut server) = duplex_pair(WebSocketConfig::default(), server_config).await;
        let sender = tokio::spawn(async move {
            for i in 0..500u32 {
                server
                    .send(Message::binary(i.to_be_bytes().repeat(256)))
                    .await
                    .unwrap();
            }
            server
        });
        for i in 0..500u32 {
            let message = client.next().await.unwrap().unwrap();
            assert_eq!(message.payload(), &i.to_be_bytes().repeat(256)[..]);
        }
        let _server = sender.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn r_fg_04_server_assembles_fragments_around_a_ping() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        let mut bytes = frame(false, op::TEXT, "κό".as_bytes(), Some(KEY));
        // A code point cut between fragments (R-U8-01).
        bytes.extend(frame(
            false,
            op::CONTINUATION,
            &"σ".as_bytes()[..1],
            Some(KEY),
        ));
        bytes.extend(frame(true, op::PING, b"mid", Some(KEY)));
        bytes.extend(frame(
            false,
            op::CONTINUATION,
            &"σ".as_bytes()[1..],
            Some(KEY),
        ));
        bytes.extend(frame(false, op::CONTINUATION, b"", Some(KEY)));
        bytes.extend(frame(true, op::CONTINUATION, "με".as_bytes(), Some(KEY)));
        raw.write(&bytes).await;
        let message = ws.next().await.unwrap().unwrap();
        assert_eq!(message, Message::text("κόσμε"));
        // The Pong was queued by the read that returned the message; it
        // leaves at the next flush or read.
        ws.flush().await.unwrap();
        let pong = raw.expect_frame().await;
        assert_eq!(pong.opcode, OpCode::Pong);
        assert_eq!(pong.payload, b"mid");
    })
    .await;
}

// ---- batching and buffered_amount ----

/// A transport that counts the writes that reach it.
#[derive(Debug)]
struct Counting<S> {
    inner: S,
    writes: usize,
    bytes: usize,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = result {
            self.writes += 1;
            self.bytes += n;
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = result {
            self.writes += 1;
            self.bytes += n;
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A sockeye client on a counting transport, and a sockeye server.
async fn counted_pair() -> (WebSocket<Counting<DuplexStream>>, WebSocket<DuplexStream>) {
    let (a, b) = tokio::io::duplex(support::DUPLEX_CAPACITY);
    let counting = Counting {
        inner: a,
        writes: 0,
        bytes: 0,
    };
    let server = ServerBuilder::new();
    let (client, server) = tokio::join!(
        ClientBuilder::new("ws://h/").connect_on(counting),
        server.accept(b)
    );
    (client.unwrap().0, server.unwrap())
}

#[tokio::test]
async fn client_flushes_fed_messages_in_order_in_one_write() {
    bounded(async {
        let (mut client, mut server) = counted_pair().await;
        let before = client.get_ref().writes;
        for i in 0..100 {
            client.feed(Message::text(format!("m{i}"))).await.unwrap();
        }
        assert_eq!(client.get_ref().writes, before, "feed writes nothing");
        client.flush().await.unwrap();
        let writes = client.get_ref().writes - before;
        assert_eq!(writes, 1, "100 small messages leave in one write");
        for i in 0..100 {
            let message = server.next().await.unwrap().unwrap();
            assert_eq!(message.as_text(), Some(format!("m{i}").as_str()));
        }
    })
    .await;
}

#[tokio::test]
async fn client_flushes_large_fed_messages_in_few_writes() {
    bounded(async {
        let (mut client, mut server) = counted_pair().await;
        let before = client.get_ref().writes;
        // Large payloads are queued by reference, not copied: several
        // chunks, yet still far fewer writes than messages on a transport
        // that takes them all at once.
        let reader = tokio::spawn(async move {
            for i in 0..10u8 {
                let message = server.next().await.unwrap().unwrap();
                assert_eq!(message.payload(), &[i; 2000][..]);
            }
        });
        for i in 0..10u8 {
            client.feed(Message::binary(vec![i; 2000])).await.unwrap();
        }
        client.flush().await.unwrap();
        let writes = client.get_ref().writes - before;
        assert!(writes <= 20, "{writes} writes for 10 messages");
        reader.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn client_buffered_amount_grows_with_fed_messages_and_drains_on_flush() {
    bounded(async {
        let (mut client, mut server) = counted_pair().await;
        assert_eq!(client.buffered_amount(), 0);
        let mut expected = 0;
        for i in 0..10 {
            client.feed(Message::binary(vec![i; 100])).await.unwrap();
            // A masked frame of 100 bytes: 2 header bytes, 4 of mask.
            expected += 106;
            assert_eq!(client.buffered_amount(), expected);
        }
        client.flush().await.unwrap();
        assert_eq!(client.buffered_amount(), 0);
        assert_eq!(server.next().await.unwrap().unwrap().len(), 100);
    })
    .await;
}

#[tokio::test]
async fn server_buffered_amount_counts_unmasked_frames() {
    bounded(async {
        let (_raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        ws.feed(Message::text("abc")).await.unwrap();
        assert_eq!(ws.buffered_amount(), 5);
        ws.feed(Message::binary(vec![0; 200])).await.unwrap();
        assert_eq!(ws.buffered_amount(), 5 + 4 + 200);
        ws.flush().await.unwrap();
        assert_eq!(ws.buffered_amount(), 0);
    })
    .await;
}

#[tokio::test]
async fn server_next_writes_fed_messages_before_reading() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        ws.feed(Message::text("queued")).await.unwrap();
        // No flush: reading writes what is queued first.
        let server = tokio::spawn(async move { ws.next().await.map(|m| m.unwrap()) });
        let frame = raw.expect_frame().await;
        assert_eq!(frame.text(), "queued");
        raw.send(op::TEXT, b"answer").await;
        assert_eq!(server.await.unwrap(), Some(Message::text("answer")));
    })
    .await;
}

#[tokio::test]
async fn client_ping_leaves_at_flush_and_pong_is_no_message() {
    bounded(async {
        let (mut raw, mut ws) = support::raw_server_duplex(ClientBuilder::new("ws://h/")).await;
        ws.ping("latency").unwrap();
        ws.flush().await.unwrap();
        let ping = raw.expect_frame().await;
        assert_eq!(ping.opcode, OpCode::Ping);
        assert!(ping.masked);
        assert_eq!(ping.payload, b"latency");
        raw.send(op::PONG, b"latency").await;
        raw.send(op::TEXT, b"after").await;
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("after"));
        assert!(matches!(
            ws.ping(vec![0; 126]),
            Err(sockeye::Error::Usage(_))
        ));
    })
    .await;
}

#[tokio::test]
async fn client_and_server_feed_large_messages_then_read() {
    bounded(async {
        let (mut client, mut server) =
            duplex_pair(WebSocketConfig::default(), WebSocketConfig::default()).await;
        // Each side queues 1 MiB, then reads: reading writes the queue out
        // and must keep reading while the peer does the same.
        client
            .feed(Message::binary(vec![1; 1 << 20]))
            .await
            .unwrap();
        server
            .feed(Message::binary(vec![2; 1 << 20]))
            .await
            .unwrap();
        let (from_server, from_client) = tokio::join!(client.next(), server.next());
        let (from_server, from_client) =
            (from_server.unwrap().unwrap(), from_client.unwrap().unwrap());
        assert_eq!((from_server.len(), from_client.len()), (1 << 20, 1 << 20));
        assert!(from_server.payload().iter().all(|&b| b == 2));
        assert!(from_client.payload().iter().all(|&b| b == 1));
    })
    .await;
}

/// Ask 6: the time a Ping took to come back is there once its Pong was
/// read, on a whole socket and through split halves.
#[tokio::test]
async fn round_trip_time_of_a_ping() {
    bounded(async {
        let (mut client, _echo) = echo_pair().await;
        assert_eq!(client.round_trip_time(), None);
        client.ping("probe").unwrap();
        client.send(Message::text("after the ping")).await.unwrap();
        // The server answers the Ping before it echoes: both come in one read.
        assert_eq!(
            client.next().await.unwrap().unwrap(),
            Message::text("after the ping")
        );
        let rtt = client.round_trip_time().expect("the pong was read");
        assert!(rtt < std::time::Duration::from_secs(5), "{rtt:?}");

        // Through the split halves: the writer pings, the reader times it.
        let (client, _echo) = echo_pair().await;
        let (mut reader, mut writer) = client.split();
        assert_eq!(reader.round_trip_time(), None);
        writer.ping("second").unwrap();
        writer.send(Message::text("again")).await.unwrap();
        assert_eq!(
            reader.next().await.unwrap().unwrap(),
            Message::text("again")
        );
        assert!(reader.round_trip_time().is_some());
    })
    .await;
}

/// Plays `raw`'s side of the control-frame script: a Ping, a message, an
/// unsolicited Pong, then the closing handshake; and checks the Pong that
/// answers the Ping (R-CF-03, R-CF-04).
async fn control_frame_script<S>(raw: &mut support::RawPeer<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    raw.send(op::PING, b"are you there").await;
    raw.send(op::TEXT, b"between").await;
    raw.send(op::PONG, b"unasked").await;
    let pong = raw.expect_frame().await;
    assert_eq!(pong.opcode, OpCode::Pong);
    assert_eq!(pong.payload, b"are you there");
    raw.send_close(1000, "done").await;
    assert_eq!(raw.expect_close(1000).await.close_reason(), "done");
    raw.shutdown().await;
}

/// What `recv_incoming` gives for [`control_frame_script`], in order.
async fn incoming_until_closed<S>(ws: &mut WebSocket<S>) -> Vec<Incoming>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut seen = Vec::new();
    while let Some(item) = ws.recv_incoming().await {
        seen.push(item.expect("a clean connection"));
    }
    seen
}

fn script_as_incoming() -> Vec<Incoming> {
    vec![
        Incoming::Ping(Bytes::from_static(b"are you there")),
        Incoming::Message(Message::text("between")),
        Incoming::Pong(Bytes::from_static(b"unasked")),
    ]
}

/// R-CF-03, R-CF-05: `recv_incoming` shows the peer's Pings and Pongs in
/// order with its messages, in both roles, while the Ping is still
/// answered by itself and the closing handshake still completes.
#[tokio::test]
async fn recv_incoming_shows_pings_and_pongs_in_both_roles() {
    bounded(async {
        let (mut raw, mut server) = raw_client_duplex(ServerBuilder::new()).await;
        let (seen, ()) = tokio::join!(
            incoming_until_closed(&mut server),
            control_frame_script(&mut raw)
        );
        assert_eq!(seen, script_as_incoming());

        let (mut raw, mut client) = support::raw_server_duplex(ClientBuilder::new("ws://h/")).await;
        let (seen, ()) = tokio::join!(
            incoming_until_closed(&mut client),
            control_frame_script(&mut raw)
        );
        assert_eq!(seen, script_as_incoming());
        assert_eq!(client.close_frame().unwrap().code, CloseCode::NORMAL);
    })
    .await;
}

/// The message stream skips the same control frames: only the message
/// comes out, and the Ping is answered all the same.
#[tokio::test]
async fn message_stream_skips_pings_and_pongs() {
    bounded(async {
        let (mut raw, mut server) = raw_client_duplex(ServerBuilder::new()).await;
        let collect = async {
            let mut messages = Vec::new();
            while let Some(message) = server.next().await {
                messages.push(message.unwrap());
            }
            messages
        };
        let (messages, ()) = tokio::join!(collect, control_frame_script(&mut raw));
        assert_eq!(messages, vec![Message::text("between")]);
    })
    .await;
}

/// A Pong given by `recv_incoming` has also timed our Ping, and the split
/// reader gives the same events as the whole socket.
#[tokio::test]
async fn split_reader_recv_incoming_times_and_shows_the_pong() {
    bounded(async {
        let (client, _echo) = echo_pair().await;
        let (mut reader, writer) = client.split();
        writer.ping("probe").unwrap();
        let mut writer = writer;
        writer.flush().await.unwrap();
        let pong = reader.recv_incoming().await.unwrap().unwrap();
        assert_eq!(pong, Incoming::Pong(Bytes::from_static(b"probe")));
        assert!(reader.round_trip_time().is_some());
        writer.send(Message::text("echoed")).await.unwrap();
        let echoed = reader.recv_incoming().await.unwrap().unwrap();
        assert_eq!(echoed.into_message(), Some(Message::text("echoed")));
    })
    .await;
}
