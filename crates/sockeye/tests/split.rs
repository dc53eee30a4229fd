//! `WebSocket::split`: a reader and a writer on two tasks (ask 5 of
//! `notes/user-asks.md`). The reader answers pings and the peer's Close by
//! itself, whatever the writer is doing.

mod support;

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::frame::OpCode;
use sockeye::{
    ClientBuilder, CloseCode, Error, Message, ServerBuilder, WebSocketReader, WebSocketWriter,
};
use support::{
    RawPeer, bounded, duplex_pair, op, raw_client_duplex, raw_client_tcp, raw_server_duplex,
    tcp_pair,
};
use tokio::io::{AsyncRead, AsyncWrite};

/// Spawns a task that reads `reader` to its end and returns what it read
/// with the reader.
fn spawn_reader<S>(
    mut reader: WebSocketReader<S>,
) -> tokio::task::JoinHandle<(WebSocketReader<S>, Vec<sockeye::Result<Message>>)>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut items = Vec::new();
        while let Some(item) = reader.next().await {
            items.push(item);
        }
        (reader, items)
    })
}

/// Reads frames from `raw` until the Pong for `payload`, returning the
/// text messages read on the way.
async fn read_until_pong<S>(raw: &mut RawPeer<S>, payload: &[u8]) -> Vec<String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut texts = Vec::new();
    loop {
        let frame = raw.expect_frame().await;
        match frame.opcode {
            OpCode::Pong => {
                assert_eq!(frame.payload, payload, "R-CF-04: the Pong echoes the Ping");
                return texts;
            }
            OpCode::Text => texts.push(frame.text().to_owned()),
            other => panic!("unexpected {other:?}"),
        }
    }
}

// ---- pongs without user code (ask 5, R-CF-03, R-CF-04) ----

#[tokio::test]
async fn r_cf_03_server_reader_answers_ping_while_writer_idles() {
    bounded(async {
        let (mut raw, ws) = raw_client_tcp(ServerBuilder::new()).await;
        let (reader, writer) = ws.split();
        let reader = spawn_reader(reader);

        for payload in [&b"are you there"[..], b"", &[0xff; 125]] {
            raw.send(op::PING, payload).await;
            let texts = read_until_pong(&mut raw, payload).await;
            assert!(texts.is_empty());
        }

        raw.send(op::TEXT, b"hello").await;
        raw.send_close(1000, "").await;
        raw.expect_close(1000).await;
        raw.expect_eof().await;
        raw.shutdown().await;
        let (_, items) = reader.await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().as_text(), Some("hello"));
        drop(writer);
    })
    .await;
}

#[tokio::test]
async fn r_cf_03_client_reader_answers_ping_while_writer_idles() {
    bounded(async {
        let (mut raw, ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let (reader, _writer) = ws.split();
        let _reader = spawn_reader(reader);
        raw.send(op::PING, b"1234").await;
        let pong = raw.expect_frame().await;
        assert_eq!(pong.opcode, OpCode::Pong);
        assert!(pong.masked, "R-MK-01");
        assert_eq!(pong.payload, b"1234");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn r_cf_03_server_reader_answers_pings_while_writer_sends() {
    const MESSAGES: usize = 2000;
    bounded(async {
        let (mut raw, ws) = raw_client_tcp(ServerBuilder::new()).await;
        let (reader, mut writer) = ws.split();
        let reader = spawn_reader(reader);
        let writer = tokio::spawn(async move {
            for i in 0..MESSAGES {
                writer
                    .send(Message::text(format!("message {i}")))
                    .await
                    .unwrap();
                if i % 100 == 0 {
                    tokio::task::yield_now().await;
                }
            }
            writer
        });

        // Pings go out while the writer is busy; each Pong comes back among
        // the messages, and no message is lost or reordered.
        let mut texts = Vec::new();
        for k in 0u8..20 {
            let payload = [k; 10];
            raw.send(op::PING, &payload).await;
            texts.extend(read_until_pong(&mut raw, &payload).await);
        }
        while texts.len() < MESSAGES {
            let frame = raw.expect_frame().await;
            assert_eq!(frame.opcode, OpCode::Text, "{frame:?}");
            texts.push(frame.text().to_owned());
        }
        let expected: Vec<String> = (0..MESSAGES).map(|i| format!("message {i}")).collect();
        assert_eq!(texts, expected);

        let mut writer = writer.await.unwrap();
        writer.close(CloseCode::NORMAL, "").await.unwrap();
        raw.expect_close(1000).await;
        raw.send_close(1000, "").await;
        raw.expect_eof().await;
        raw.shutdown().await;
        let (_, items) = reader.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
    })
    .await;
}

#[tokio::test]
async fn server_reader_answers_ping_queued_behind_a_large_message() {
    bounded(async {
        let (mut raw, ws) = raw_client_duplex(ServerBuilder::new()).await;
        let (reader, mut writer) = ws.split();
        let _reader = spawn_reader(reader);
        // 1 MiB cannot fit the 64 KiB duplex: the writer waits on the
        // transport while the raw peer pings before reading anything.
        let big = vec![7u8; 1 << 20];
        let writer = tokio::spawn(async move {
            writer.send(Message::binary(big)).await.unwrap();
            writer
        });
        // Let the writer fill the transport and wait on it.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        raw.send(op::PING, b"behind").await;
        let first = raw.expect_frame().await;
        assert_eq!(first.opcode, OpCode::Binary);
        assert_eq!(first.payload.len(), 1 << 20);
        assert!(first.payload.iter().all(|&b| b == 7));
        let pong = raw.expect_frame().await;
        assert_eq!(pong.opcode, OpCode::Pong);
        assert_eq!(pong.payload, b"behind");
        let _writer = writer.await.unwrap();
    })
    .await;
}

// ---- the peer's Close, answered by the reader (ask 5, R-CL-04) ----

#[tokio::test]
async fn r_cl_04_server_reader_answers_close_without_user_code() {
    bounded(async {
        let (mut raw, ws) = raw_client_tcp(ServerBuilder::new()).await;
        let (reader, mut writer) = ws.split();
        let reader = spawn_reader(reader);
        raw.send_close(4000, "bye").await;
        let echo = raw.expect_close(4000).await;
        assert_eq!(echo.close_reason(), "bye");
        raw.expect_eof().await; // R-CL-05
        raw.shutdown().await;
        let (reader, items) = reader.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        let frame = reader.close_frame().expect("the client's Close");
        assert_eq!(frame.code, CloseCode::from(4000));
        assert_eq!(frame.reason.as_str(), "bye");
        let err = writer.send(Message::text("too late")).await.unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn client_writer_close_ends_reader_stream() {
    bounded(async {
        let (mut raw, ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let (reader, mut writer) = ws.split();
        let reader = spawn_reader(reader);
        writer
            .close(CloseCode::GOING_AWAY, "leaving")
            .await
            .unwrap();
        let close = raw.expect_close(1001).await;
        assert_eq!(close.close_reason(), "leaving");
        raw.send(op::TEXT, b"in flight").await;
        raw.send_close(1001, "").await;
        raw.shutdown().await;
        raw.expect_eof().await; // the client closes after the server's EOF
        let (reader, items) = reader.await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().as_text(), Some("in flight"));
        assert_eq!(reader.close_frame().unwrap().code, CloseCode::GOING_AWAY);
        assert!(matches!(
            writer.send(Message::text("x")).await,
            Err(Error::Closed)
        ));
    })
    .await;
}

#[tokio::test]
async fn server_reader_reports_abnormal_closure_once() {
    bounded(async {
        let (raw, ws) = raw_client_duplex(ServerBuilder::new()).await;
        let (reader, _writer) = ws.split();
        let reader = spawn_reader(reader);
        drop(raw);
        let (_, items) = reader.await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(matches!(items[0], Err(Error::AbnormalClosure)));
    })
    .await;
}

// ---- reunite ----

#[tokio::test]
async fn split_halves_reunite_into_a_working_socket() {
    bounded(async {
        let (client, mut server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let (reader, mut writer) = client.split();
        writer.send(Message::text("from the writer")).await.unwrap();
        let mut client = reader.reunite(writer).expect("halves of one socket");
        client.send(Message::text("reunited")).await.unwrap();
        assert_eq!(
            server.next().await.unwrap().unwrap().as_text(),
            Some("from the writer")
        );
        assert_eq!(
            server.next().await.unwrap().unwrap().as_text(),
            Some("reunited")
        );
        server.send(Message::text("back")).await.unwrap();
        assert_eq!(
            client.next().await.unwrap().unwrap().as_text(),
            Some("back")
        );
        let server = tokio::spawn(async move { server.next().await.is_none() });
        client.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(server.await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn split_refuses_to_reunite_halves_of_different_sockets() {
    bounded(async {
        let config = sockeye::WebSocketConfig::default;
        let (a, _a_peer) = duplex_pair(config(), config()).await;
        let (b, _b_peer) = duplex_pair(config(), config()).await;
        let (a_reader, a_writer) = a.split();
        let (b_reader, b_writer) = b.split();
        let Err((a_reader, b_writer)) = a_reader.reunite(b_writer) else {
            panic!("halves of two sockets were reunited");
        };
        assert!(a_reader.reunite(a_writer).is_ok());
        assert!(b_reader.reunite(b_writer).is_ok());
    })
    .await;
}

// ---- many senders ----

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_writer_carries_many_concurrent_senders() {
    const TASKS: usize = 8;
    const EACH: usize = 100;
    bounded(async {
        let (mut client, server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let (reader, writer) = server.split();
        let _reader = spawn_reader(reader);
        let writer: Arc<tokio::sync::Mutex<WebSocketWriter<_>>> =
            Arc::new(tokio::sync::Mutex::new(writer));
        let senders: Vec<_> = (0..TASKS)
            .map(|task| {
                let writer = Arc::clone(&writer);
                tokio::spawn(async move {
                    for i in 0..EACH {
                        let message = Message::text(format!("{task}:{i}"));
                        writer.lock().await.send(message).await.unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();

        let mut next = [0usize; TASKS];
        for _ in 0..TASKS * EACH {
            let message = client.next().await.unwrap().unwrap();
            let (task, i) = message.as_text().unwrap().split_once(':').unwrap();
            let (task, i): (usize, usize) = (task.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[task], "messages of one sender stay in order");
            next[task] += 1;
        }
        assert_eq!(next, [EACH; TASKS]);
        for sender in senders {
            sender.await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_writer_feeds_while_reader_receives() {
    bounded(async {
        let (mut client, server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let (mut reader, mut writer) = server.split();
        // An echo through two tasks and a channel, as an application would.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Message>(4);
        let reading = tokio::spawn(async move {
            while let Some(Ok(message)) = reader.next().await {
                if tx.send(message).await.is_err() {
                    break;
                }
            }
            reader
        });
        let writing = tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                writer.feed(message).await.unwrap();
                if rx.is_empty() {
                    writer.flush().await.unwrap();
                }
            }
            writer
        });
        for i in 0..200 {
            client.feed(Message::text(format!("{i}"))).await.unwrap();
        }
        client.flush().await.unwrap();
        for i in 0..200 {
            let echo = client.next().await.unwrap().unwrap();
            assert_eq!(echo.as_text(), Some(format!("{i}").as_str()));
        }
        client.close(CloseCode::NORMAL, "").await.unwrap();
        let reader = reading.await.unwrap();
        assert_eq!(reader.close_frame().unwrap().code, CloseCode::NORMAL);
        let _writer = writing.await.unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn server_writer_clones_send_from_many_tasks() {
    const TASKS: usize = 8;
    const EACH: usize = 100;
    bounded(async {
        // A small write buffer makes the clones wait on each other.
        let config = sockeye::WebSocketConfig {
            write_buffer_size: 256,
            ..Default::default()
        };
        let server = ServerBuilder::new().config(config);
        let (mut client, server) = tcp_pair(ClientBuilder::new, server).await;
        let (reader, writer) = server.split();
        let _reader = spawn_reader(reader);
        let senders: Vec<_> = (0..TASKS)
            .map(|task| {
                let mut writer = writer.clone();
                tokio::spawn(async move {
                    for i in 0..EACH {
                        let message = Message::text(format!("{task}:{i}"));
                        writer.send(message).await.unwrap();
                    }
                })
            })
            .collect();

        let mut next = [0usize; TASKS];
        for _ in 0..TASKS * EACH {
            let message = client.next().await.unwrap().unwrap();
            let (task, i) = message.as_text().unwrap().split_once(':').unwrap();
            let (task, i): (usize, usize) = (task.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[task], "messages of one sender stay in order");
            next[task] += 1;
        }
        for sender in senders {
            sender.await.unwrap();
        }
        assert_eq!(writer.buffered_amount(), 0);
    })
    .await;
}

#[tokio::test]
async fn split_refuses_to_reunite_while_a_writer_clone_lives() {
    bounded(async {
        let config = sockeye::WebSocketConfig::default;
        let (ws, _peer) = duplex_pair(config(), config()).await;
        let (reader, writer) = ws.split();
        let clone = writer.clone();
        let Err((reader, writer)) = reader.reunite(writer) else {
            panic!("reunited while a clone of the writer was alive");
        };
        drop(clone);
        assert!(reader.reunite(writer).is_ok());
    })
    .await;
}

#[tokio::test]
async fn client_and_server_send_large_messages_at_once() {
    bounded(async {
        let config = sockeye::WebSocketConfig::default;
        let (client, server) = duplex_pair(config(), config()).await;
        // Each side writes 1 MiB (more than `write_buffer_size` and the
        // transport hold) while its reader waits for the other's message.
        let sides: Vec<_> = [client, server]
            .into_iter()
            .map(|ws| {
                let (mut reader, mut writer) = ws.split();
                tokio::spawn(async move {
                    let (sent, received) = tokio::join!(
                        writer.send(Message::binary(vec![1u8; 1 << 20])),
                        reader.next()
                    );
                    sent.unwrap();
                    received.unwrap().unwrap().len()
                })
            })
            .collect();
        for side in sides {
            assert_eq!(side.await.unwrap(), 1 << 20);
        }
    })
    .await;
}
