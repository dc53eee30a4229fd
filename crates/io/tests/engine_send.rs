//! Sending from the server: `send_many` keeps a group adjacent and whole,
//! and the queue bound refuses sends instead of growing.

mod support;

use bytes::Bytes;
use sockeye_io::engine::{Payload, SendError};
use support::{bounded, quiet_config, start};

/// `send_many` atomicity: an event and its binary attachments leave
/// together and in order, in one poll.
#[tokio::test]
async fn send_many_keeps_a_group_adjacent() {
    bounded(async {
        let server = start(quiet_config()).await;
        let sid = server.open_polling().await;
        let socket = server.engine.socket(&sid).unwrap();
        socket
            .send_many([
                Payload::from("event"),
                Payload::Binary(Bytes::from_static(&[1])),
                Payload::Binary(Bytes::from_static(&[2])),
            ])
            .unwrap();
        assert_eq!(server.poll(&sid).await.text(), "4event\x1ebAQ==\x1ebAg==");
    })
    .await;
}

/// Queue bound: past `max_buffered_packets` a send fails and queues
/// nothing; a group that does not fit is refused whole; once a poll takes
/// the queue, sending works again.
#[tokio::test]
async fn send_refuses_past_the_queue_bound() {
    bounded(async {
        let mut config = quiet_config();
        config.max_buffered_packets = 3;
        let server = start(config).await;
        let sid = server.open_polling().await;
        let socket = server.engine.socket(&sid).unwrap();
        socket
            .send_many([Payload::from("a"), Payload::from("b")])
            .unwrap();
        assert_eq!(
            socket.send_many([Payload::from("c"), Payload::from("d")]),
            Err(SendError::QueueFull {
                queued: 2,
                limit: 3
            })
        );
        socket.send(Payload::from("c")).unwrap();
        assert!(matches!(
            socket.send(Payload::from("d")),
            Err(SendError::QueueFull { .. })
        ));
        assert_eq!(server.poll(&sid).await.text(), "4a\x1e4b\x1e4c");
        socket.send(Payload::from("e")).unwrap();
        assert_eq!(server.poll(&sid).await.text(), "4e");
    })
    .await;
}

/// Byte bound: past `max_buffered_bytes` a send fails and queues nothing;
/// one message larger than the bound still goes when nothing waits.
#[tokio::test]
async fn send_refuses_past_the_byte_bound() {
    bounded(async {
        let mut config = quiet_config();
        config.max_buffered_bytes = 10;
        let server = start(config).await;
        let sid = server.open_polling().await;
        let socket = server.engine.socket(&sid).unwrap();
        socket.send(Payload::from("123456")).unwrap();
        assert_eq!(
            socket.send(Payload::from("7890x")),
            Err(SendError::BytesFull {
                queued: 6,
                limit: 10
            })
        );
        socket.send(Payload::from("7890")).unwrap();
        assert_eq!(server.poll(&sid).await.text(), "4123456\x1e47890");
        let large = "x".repeat(100);
        socket.send(Payload::Text(large.clone().into())).unwrap();
        assert!(matches!(
            socket.send(Payload::from("y")),
            Err(SendError::BytesFull { .. })
        ));
        assert_eq!(server.poll(&sid).await.text(), format!("4{large}"));
    })
    .await;
}

/// A handler that panics loses its session: it is unregistered and
/// further polls are refused; other sessions go on.
#[tokio::test]
async fn panicking_handler_loses_only_its_session() {
    bounded(async {
        let server = start(quiet_config()).await;
        let doomed = server.open_polling().await;
        let other = server.open_polling().await;
        let body = format!("4{}", support::PANIC_MESSAGE);
        assert_eq!(server.push(&doomed, body.as_bytes()).await.text(), "ok");
        while server.engine.socket(&doomed).is_some() {
            tokio::task::yield_now().await;
        }
        assert_eq!(server.poll(&doomed).await.status, 400);
        assert_eq!(server.push(&other, b"4fine").await.text(), "ok");
        assert_eq!(server.poll(&other).await.text(), "4fine");
    })
    .await;
}
