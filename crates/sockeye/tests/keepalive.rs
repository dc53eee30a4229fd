//! Keepalive (ask 6 of `notes/user-asks.md`) and the idle timeout: a Ping after an interval of
//! silence, and the connection closed with 1011 when the peer shows no sign
//! of life within the timeout. Time is paused, so the intervals pass at
//! once and the timing checks are exact.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use sockeye::proto::frame::OpCode;
use sockeye::{ClientBuilder, Error, ServerBuilder, Timeout, WebSocketConfig};
use support::{RawPeer, op, raw_client_duplex, raw_server_duplex};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// A test's limit in virtual time: longer than every interval below, so a
/// hang shows up as this panic.
async fn within<F: Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(600), future)
        .await
        .expect("the test did not finish in time")
}

const INTERVAL: Duration = Duration::from_secs(5);
const TIMEOUT: Duration = Duration::from_secs(3);

/// Reads frames until one that is not a Ping, answering none of them;
/// returns the Pings' arrival times and that frame.
async fn pings_until_other<S>(raw: &mut RawPeer<S>) -> (Vec<Instant>, support::Frame)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut pings = Vec::new();
    loop {
        let frame = raw.expect_frame().await;
        if frame.opcode == OpCode::Ping {
            pings.push(Instant::now());
        } else {
            return (pings, frame);
        }
    }
}

#[test]
fn defaults_ping_every_20_s_and_wait_20_s() {
    let config = WebSocketConfig::default();
    assert_eq!(config.keepalive_interval, Some(Duration::from_secs(20)));
    assert_eq!(config.keepalive_timeout, Duration::from_secs(20));
    let client = WebSocketConfig::client();
    assert_eq!(client.keepalive_interval, Some(Duration::from_secs(20)));
}

#[tokio::test(start_paused = true)]
async fn server_pings_a_silent_client_then_closes_with_1011() {
    within(async {
        let server = ServerBuilder::new().keepalive(Some(INTERVAL), TIMEOUT);
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let start = Instant::now();
        let server = tokio::spawn(async move { ws.next().await });

        let (pings, close) = pings_until_other(&mut raw).await;
        assert_eq!(pings.len(), 1, "one Ping, then the close");
        let ping_after = pings[0] - start;
        assert!(
            ping_after >= INTERVAL && ping_after <= 2 * INTERVAL,
            "the Ping left {ping_after:?} into the silence"
        );
        assert_eq!(close.opcode, OpCode::Close);
        assert_eq!(close.close_code(), Some(1011));
        assert_eq!(close.close_reason(), "keepalive timeout");
        let waited = Instant::now() - pings[0];
        assert!(
            waited >= TIMEOUT && waited < TIMEOUT + Duration::from_secs(1),
            "closed {waited:?} after the Ping"
        );
        // No answer is awaited from a peer that gave none: TCP is closed.
        raw.expect_eof().await;
        let ended = server.await.unwrap();
        assert!(
            matches!(ended, Some(Err(Error::Timeout(Timeout::Keepalive)))),
            "{ended:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn client_pings_a_silent_server_then_closes_with_1011() {
    within(async {
        let builder = ClientBuilder::new("ws://localhost/").keepalive(Some(INTERVAL), TIMEOUT);
        let (mut raw, mut ws) = raw_server_duplex(builder).await;
        let client = tokio::spawn(async move { ws.next().await });

        let (pings, close) = pings_until_other(&mut raw).await;
        assert_eq!(pings.len(), 1);
        assert_eq!(close.close_code(), Some(1011));
        assert!(close.masked, "R-MK-01: the client masks its Close");
        let ended = client.await.unwrap();
        let err = ended.expect("an item").expect_err("an error");
        assert!(matches!(err, Error::Timeout(Timeout::Keepalive)), "{err:?}");
        assert!(err.to_string().contains("keepalive"), "{err}");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_peer_that_answers_pings_stays_connected() {
    within(async {
        let server = ServerBuilder::new().keepalive(Some(INTERVAL), TIMEOUT);
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let server = tokio::spawn(async move { ws.next().await });

        // Ten Pings over at least fifty seconds, each answered.
        for _ in 0..10 {
            let frame = raw.expect_frame().await;
            assert_eq!(frame.opcode, OpCode::Ping, "{frame:?}");
            raw.send(op::PONG, &frame.payload).await;
        }
        assert!(!server.is_finished(), "the connection ended: {server:?}");
        raw.send_close(1000, "").await;
        raw.expect_close(1000).await;
        assert!(server.await.unwrap().is_none(), "a clean close");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn any_traffic_counts_as_a_sign_of_life() {
    within(async {
        let server = ServerBuilder::new().keepalive(Some(INTERVAL), TIMEOUT);
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let server = tokio::spawn(async move {
            let mut received = 0;
            while let Some(Ok(_)) = ws.next().await {
                received += 1;
            }
            received
        });

        // A message every 2 s for a minute: never an interval of silence,
        // so never a Ping.
        for i in 0..30 {
            raw.send(op::TEXT, format!("tick {i}").as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
        raw.send_close(1000, "").await;
        let frame = raw.expect_frame().await;
        assert_eq!(frame.opcode, OpCode::Close, "no Ping expected: {frame:?}");
        assert_eq!(server.await.unwrap(), 30);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn keepalive_off_sends_no_ping() {
    within(async {
        let server = ServerBuilder::new().keepalive(None, TIMEOUT);
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let server = tokio::spawn(async move { ws.next().await });

        tokio::time::sleep(Duration::from_secs(300)).await;
        assert!(!server.is_finished());
        raw.send_close(1000, "").await;
        let frame = raw.expect_frame().await;
        assert_eq!(frame.opcode, OpCode::Close, "no Ping expected: {frame:?}");
        assert!(server.await.unwrap().is_none());
    })
    .await;
}

// ---- idle timeout ----

const IDLE: Duration = Duration::from_secs(8);

#[test]
fn idle_timeout_is_off_by_default() {
    assert_eq!(WebSocketConfig::default().idle_timeout, None);
    assert_eq!(WebSocketConfig::client().idle_timeout, None);
}

#[tokio::test(start_paused = true)]
async fn idle_connection_is_closed_with_1001_though_pings_are_answered() {
    within(async {
        let server = ServerBuilder::new()
            .keepalive(Some(Duration::from_secs(1)), TIMEOUT)
            .idle_timeout(Some(IDLE));
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let start = Instant::now();
        let server = tokio::spawn(async move { ws.next().await });

        // Pings come and are answered; they do not count as activity.
        let close = loop {
            let frame = raw.expect_frame().await;
            match frame.opcode {
                OpCode::Ping => raw.send(op::PONG, &frame.payload).await,
                _ => break frame,
            }
        };
        let after = Instant::now() - start;
        assert_eq!(close.close_code(), Some(1001));
        assert_eq!(close.close_reason(), "idle timeout");
        assert!(
            after >= IDLE && after <= IDLE + IDLE / 4 + Duration::from_millis(10),
            "closed after {after:?}"
        );
        // A clean closing handshake, reported as the idle timeout.
        raw.send_close(1001, "").await;
        let ended = server.await.unwrap();
        assert!(
            matches!(ended, Some(Err(Error::Timeout(Timeout::Idle)))),
            "{ended:?}"
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn messages_either_way_keep_an_idle_timeout_away() {
    within(async {
        let server = ServerBuilder::new().idle_timeout(Some(IDLE));
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        // The server pushes a message every 3 s while it reads; the client
        // only reads at first.
        let server = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(Duration::from_secs(3));
            let (mut sent, mut received) = (0, 0);
            loop {
                tokio::select! {
                    _ = ticks.tick(), if sent < 10 => {
                        ws.send(sockeye::Message::text(format!("event {sent}")))
                            .await
                            .unwrap();
                        sent += 1;
                    }
                    item = ws.next() => match item {
                        Some(Ok(_)) => received += 1,
                        other => {
                            assert!(other.is_none(), "{other:?}");
                            return received;
                        }
                    },
                }
            }
        });
        let mut events = 0;
        while events < 10 {
            let frame = raw.expect_frame().await;
            match frame.opcode {
                // Keepalive, on by default: answered, and not activity.
                OpCode::Ping => raw.send(op::PONG, &frame.payload).await,
                OpCode::Text => events += 1,
                _ => panic!("closed while messages flowed: {frame:?}"),
            }
        }
        // Then the client talks, every 3 s, for as long again.
        for i in 0..10 {
            raw.send(op::TEXT, format!("reply {i}").as_bytes()).await;
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
        raw.send_close(1000, "").await;
        raw.expect_close(1000).await;
        assert_eq!(server.await.unwrap(), 10);
    })
    .await;
}
