//! The closing handshake over a real transport (RFC 6455 §5.5.1, §7): how
//! the stream ends, who shuts TCP first, close timeouts, and how protocol
//! violations fail the connection (ask 2 of `notes/user-asks.md`).

mod support;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::frame::OpCode;
use sockeye::{
    ClientBuilder, CloseCode, Error, Message, ServerBuilder, State, Timeout, WebSocket,
    WebSocketConfig,
};
use support::{
    KEY, bounded, close_body, duplex_pair, frame, op, raw_client_duplex, raw_client_tcp,
    raw_server_duplex, tcp_pair,
};
use tokio::io::{AsyncRead, AsyncWrite};

/// Reads until the stream ends, returning every item.
async fn drain<S>(ws: &mut WebSocket<S>) -> Vec<sockeye::Result<Message>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut items = Vec::new();
    while let Some(item) = ws.next().await {
        items.push(item);
    }
    items
}

fn code(n: u16) -> CloseCode {
    CloseCode::from(n)
}

// ---- clean closes end the stream with `None` (ask 2) ----

#[tokio::test]
async fn client_ends_stream_with_none_when_it_closes_first() {
    bounded(async {
        let (mut client, mut server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let server = tokio::spawn(async move {
            let items = drain(&mut server).await;
            (server, items)
        });

        client.start_close(code(4000), "done").unwrap();
        assert!(client.next().await.is_none(), "a clean close is no error");
        let echo = client.close_frame().expect("the server's Close");
        assert_eq!(echo.code, code(4000), "R-CL-04: the code is echoed");
        assert_eq!(client.state(), State::Closed);

        let (server, items) = server.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        let received = server.close_frame().expect("the client's Close");
        assert_eq!(received.code, code(4000));
        assert_eq!(received.reason.as_str(), "done");
        assert_eq!(server.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn server_ends_stream_with_none_when_it_closes_first() {
    bounded(async {
        let (mut client, mut server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let client = tokio::spawn(async move {
            let items = drain(&mut client).await;
            (client, items)
        });

        server
            .close(CloseCode::GOING_AWAY, "restart")
            .await
            .unwrap();
        assert_eq!(server.close_frame().unwrap().code, CloseCode::GOING_AWAY);

        let (client, items) = client.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        let received = client.close_frame().expect("the server's Close");
        assert_eq!(received.code, CloseCode::GOING_AWAY);
        assert_eq!(received.reason.as_str(), "restart");
    })
    .await;
}

#[tokio::test]
async fn client_close_completes_when_server_answers() {
    bounded(async {
        let (mut client, mut server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let server = tokio::spawn(async move { drain(&mut server).await });
        client.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert_eq!(client.close_frame().unwrap().code, CloseCode::NORMAL);
        assert!(server.await.unwrap().is_empty());
        // The stream stays ended.
        assert!(client.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn client_receives_messages_sent_before_server_close() {
    bounded(async {
        let (mut client, mut server) =
            duplex_pair(WebSocketConfig::default(), WebSocketConfig::default()).await;
        let server = tokio::spawn(async move {
            server.feed(Message::text("last words")).await.unwrap();
            server.close(CloseCode::NORMAL, "").await
        });
        let items = drain(&mut client).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().as_text(), Some("last words"));
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test]
async fn server_reports_1005_for_close_without_body() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        let server = tokio::spawn(async move {
            let items = drain(&mut ws).await;
            (ws, items)
        });
        raw.send(op::CLOSE, &[]).await;
        let reply = raw.expect_frame().await;
        assert_eq!(reply.opcode, OpCode::Close);
        assert_eq!(reply.payload, b"", "1005 is echoed as an empty body");
        raw.expect_eof().await;
        raw.shutdown().await;
        let (ws, items) = server.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        assert_eq!(
            ws.close_frame().unwrap().code,
            CloseCode::NO_STATUS_RECEIVED
        );
    })
    .await;
}

// ---- who closes TCP first (R-CL-05, R-CL-06) ----

#[tokio::test]
async fn r_cl_05_server_shuts_tcp_first_after_client_close() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_tcp(ServerBuilder::new()).await;
        let server = tokio::spawn(async move {
            let items = drain(&mut ws).await;
            (ws, items)
        });
        raw.send_close(1000, "bye").await;
        let echo = raw.expect_close(1000).await;
        assert!(!echo.masked, "R-MK-03");
        // The server closes its side while ours is still open.
        raw.expect_eof().await;
        raw.shutdown().await;
        let (ws, items) = server.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        assert_eq!(ws.close_frame().unwrap().reason.as_str(), "bye");
    })
    .await;
}

#[tokio::test]
async fn r_cl_05_server_shuts_tcp_first_after_its_own_close() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_tcp(ServerBuilder::new()).await;
        let server = tokio::spawn(async move { ws.close(code(4001), "later").await });
        let close = raw.expect_close(4001).await;
        assert_eq!(close.close_reason(), "later");
        raw.send_close(4001, "").await;
        raw.expect_eof().await;
        raw.shutdown().await;
        server.await.unwrap().unwrap();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn r_cl_06_client_waits_for_server_eof_after_server_close() {
    bounded(async {
        let (mut raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let client = tokio::spawn(async move {
            let items = drain(&mut ws).await;
            (ws, items)
        });
        raw.send_close(1000, "done").await;
        let echo = raw.expect_close(1000).await;
        assert!(echo.masked, "R-MK-01");
        // The client must leave the TCP close to the server: within a
        // second (well under the close timeout) it sends nothing, not even EOF.
        let early = tokio::time::timeout(Duration::from_secs(1), raw.read_frame()).await;
        assert!(early.is_err(), "the client closed first: {early:?}");
        raw.shutdown().await;
        let (ws, items) = client.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        assert_eq!(ws.close_frame().unwrap().reason.as_str(), "done");
        // Now the client closes its side too.
        raw.expect_eof().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn r_cl_06_client_close_waits_for_server_eof() {
    bounded(async {
        let (mut raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let client = tokio::spawn(async move { ws.close(CloseCode::NORMAL, "").await });
        raw.expect_close(1000).await;
        raw.send_close(1000, "").await;
        let early = tokio::time::timeout(Duration::from_secs(1), raw.read_frame()).await;
        assert!(early.is_err(), "the client closed first: {early:?}");
        assert!(
            !client.is_finished(),
            "close() returned before the server's EOF"
        );
        raw.shutdown().await;
        client.await.unwrap().unwrap();
        raw.expect_eof().await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn r_cl_06_client_ends_cleanly_when_server_keeps_tcp_open() {
    bounded(async {
        let builder = ClientBuilder::new("ws://localhost/").close_timeout(Duration::from_secs(2));
        let (mut raw, mut ws) = raw_server_duplex(builder).await;
        let client = tokio::spawn(async move {
            let items = drain(&mut ws).await;
            (ws, items)
        });
        raw.send_close(1000, "").await;
        raw.expect_close(1000).await;
        // Both Close frames were exchanged, so once the client stops
        // waiting for the server's EOF (R-CL-06 allows a timeout) the
        // connection closed cleanly (RFC 6455 §7.1.4): `None`, not an error.
        let (ws, items) = client.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn r_cl_06_client_closes_tcp_after_close_timeout() {
    bounded(async {
        let builder = ClientBuilder::new("ws://localhost/").close_timeout(Duration::from_secs(2));
        let (mut raw, mut ws) = raw_server_duplex(builder).await;
        raw.send_close(1000, "").await;
        assert!(ws.next().await.is_none());
        raw.expect_close(1000).await;
        // The client gave up waiting: it closes TCP itself (R-CL-06 "MAY
        // close after a timeout"; `WebSocketConfig::close_timeout`: "the
        // connection is cut"), while `ws` is still alive.
        raw.expect_eof().await;
        drop(ws);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_closes_tcp_after_close_timeout() {
    bounded(async {
        let server = ServerBuilder::new().close_timeout(Duration::from_secs(2));
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let err = ws.close(CloseCode::NORMAL, "").await.unwrap_err();
        assert!(matches!(err, Error::Timeout(Timeout::Close)), "{err:?}");
        raw.expect_close(1000).await;
        raw.expect_eof().await;
        drop(ws);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn r_cl_05_server_ends_cleanly_when_client_keeps_tcp_open() {
    bounded(async {
        let server = ServerBuilder::new().close_timeout(Duration::from_secs(2));
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let server = tokio::spawn(async move {
            let items = drain(&mut ws).await;
            (ws, items)
        });
        raw.send_close(1000, "").await;
        raw.expect_close(1000).await;
        raw.expect_eof().await;
        // The client never closes its side; the server stops waiting after
        // the close timeout, and the close was still clean.
        let (ws, items) = server.await.unwrap();
        assert!(items.is_empty(), "{items:?}");
        assert_eq!(ws.close_frame().unwrap().code, CloseCode::NORMAL);
    })
    .await;
}

#[tokio::test]
async fn r_cl_07_client_and_server_close_at_once() {
    bounded(async {
        let (mut client, mut server) = tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        // Both Close frames cross on the wire: each side has sent and
        // received one, and each reports the code it received.
        client.start_close(code(4001), "client").unwrap();
        server.start_close(code(4002), "server").unwrap();
        let (c, s) = tokio::join!(
            client.close(CloseCode::NORMAL, ""),
            server.close(CloseCode::NORMAL, "")
        );
        c.unwrap();
        s.unwrap();
        let at_client = client.close_frame().unwrap();
        assert_eq!(
            (at_client.code, at_client.reason.as_str()),
            (code(4002), "server")
        );
        let at_server = server.close_frame().unwrap();
        assert_eq!(
            (at_server.code, at_server.reason.as_str()),
            (code(4001), "client")
        );
    })
    .await;
}

// ---- abnormal closure: EOF without a Close (ask 2, R-CL-10, R-CL-13) ----

#[tokio::test]
async fn r_cl_10_server_yields_one_abnormal_closure_on_eof() {
    bounded(async {
        let (raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        drop(raw);
        let err = ws.next().await.expect("an error").unwrap_err();
        assert!(matches!(err, Error::AbnormalClosure), "{err:?}");
        assert_eq!(err.close_code(), Some(CloseCode::ABNORMAL));
        assert!(err.is_closed());
        assert!(ws.next().await.is_none());
        assert!(ws.next().await.is_none());
        assert!(ws.close_frame().is_none());
    })
    .await;
}

#[tokio::test]
async fn r_cl_13_client_yields_one_abnormal_closure_on_eof() {
    bounded(async {
        let (raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        drop(raw);
        let err = ws.next().await.expect("an error").unwrap_err();
        assert!(matches!(err, Error::AbnormalClosure), "{err:?}");
        assert!(ws.next().await.is_none());
        assert!(ws.close_frame().is_none());
    })
    .await;
}

#[tokio::test]
async fn r_cl_13_server_reports_reset_as_abnormal_closure() {
    bounded(async {
        let (raw, mut ws) = raw_client_tcp(ServerBuilder::new()).await;
        // Closing with a zero linger sends RST instead of FIN.
        let tcp = raw.into_inner();
        tcp.set_zero_linger().unwrap();
        drop(tcp);
        let err = ws.next().await.expect("an error").unwrap_err();
        // `Error::AbnormalClosure`: "The peer's byte stream ended, or the
        // transport was cut, before the closing handshake completed".
        assert!(matches!(err, Error::AbnormalClosure), "{err:?}");
        assert!(ws.next().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn client_yields_abnormal_closure_on_eof_mid_frame() {
    bounded(async {
        let (mut raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let whole = frame(true, op::TEXT, b"hello", None);
        raw.write(&whole[..4]).await;
        drop(raw);
        let items = drain(&mut ws).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(matches!(items[0], Err(Error::AbnormalClosure)), "{items:?}");
    })
    .await;
}

#[tokio::test]
async fn server_yields_abnormal_closure_on_eof_after_its_close() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        ws.start_close(CloseCode::NORMAL, "").unwrap();
        let server = tokio::spawn(async move { drain(&mut ws).await });
        raw.expect_close(1000).await;
        // R-CL-10 (WPT passive-close-abort): the peer drops TCP without
        // answering our Close.
        drop(raw);
        let items = server.await.unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert!(matches!(items[0], Err(Error::AbnormalClosure)), "{items:?}");
    })
    .await;
}

// ---- WebSocket::close and its time limit ----

#[tokio::test]
async fn client_close_returns_when_raw_server_answers() {
    bounded(async {
        let (mut raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let peer = async {
            let close = raw.expect_close(4002).await;
            assert_eq!(close.close_reason(), "enough");
            raw.send_close(4002, "").await;
            raw.shutdown().await;
            raw.expect_eof().await;
        };
        let (closed, ()) = tokio::join!(ws.close(code(4002), "enough"), peer);
        closed.unwrap();
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn client_close_times_out_when_server_is_silent() {
    bounded(async {
        let builder = ClientBuilder::new("ws://localhost/").close_timeout(Duration::from_secs(2));
        let (raw, mut ws) = raw_server_duplex(builder).await;
        // The peer holds the connection and never reads nor answers.
        let err = ws.close(CloseCode::NORMAL, "").await.unwrap_err();
        assert!(matches!(err, Error::Timeout(Timeout::Close)), "{err:?}");
        assert!(err.is_timeout());
        drop(raw);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_close_times_out_when_client_is_silent() {
    bounded(async {
        let server = ServerBuilder::new().close_timeout(Duration::from_secs(3));
        let (mut raw, mut ws) = raw_client_duplex(server).await;
        let err = ws.close(CloseCode::NORMAL, "").await.unwrap_err();
        assert!(matches!(err, Error::Timeout(Timeout::Close)), "{err:?}");
        assert!(ws.next().await.is_none(), "the stream stays ended");
        // The Close went out; dropping the connection cuts it.
        raw.expect_close(1000).await;
        drop(ws);
        raw.expect_eof().await;
    })
    .await;
}

#[tokio::test]
async fn client_close_refuses_reserved_code_and_long_reason() {
    bounded(async {
        let (_raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        let err = ws.close(CloseCode::ABNORMAL, "").await.unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "R-SC-01: {err:?}");
        let err = ws
            .close(CloseCode::NORMAL, &"x".repeat(124))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        // Misuse does not close the connection.
        assert_eq!(ws.state(), State::Open);
        ws.send(Message::text("still open")).await.unwrap();
    })
    .await;
}

// ---- the Sink's close, and sending after close (R-CL-03) ----

#[tokio::test]
async fn client_sink_close_sends_1000() {
    bounded(async {
        let (mut raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        SinkExt::close(&mut ws).await.unwrap();
        let close = raw.expect_close(1000).await;
        assert_eq!(close.close_reason(), "");
        assert_eq!(ws.state(), State::CloseSent);
        // The stream goes on until the server's Close.
        raw.send(op::TEXT, b"late").await;
        raw.send_close(1000, "").await;
        raw.shutdown().await;
        let items = drain(&mut ws).await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0].as_ref().unwrap().as_text(), Some("late"));
        assert_eq!(ws.state(), State::Closed);
    })
    .await;
}

#[tokio::test]
async fn server_sink_close_sends_1000() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        SinkExt::close(&mut ws).await.unwrap();
        raw.expect_close(1000).await;
    })
    .await;
}

#[tokio::test]
async fn r_cl_03_client_send_after_close_fails_with_closed() {
    bounded(async {
        let (mut raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://localhost/")).await;
        ws.start_close(CloseCode::NORMAL, "").unwrap();
        let err = ws.send(Message::text("too late")).await.unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
        assert!(err.is_closed());
        let err = ws.feed(Message::binary(vec![1])).await.unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
        assert!(matches!(ws.ping("p"), Err(Error::Closed)));
        ws.flush().await.unwrap();
        // Only the Close went out.
        raw.expect_close(1000).await;
        raw.send_close(1000, "").await;
        raw.shutdown().await;
        assert!(ws.next().await.is_none());
        raw.expect_eof().await;
    })
    .await;
}

#[tokio::test]
async fn server_send_after_peer_close_fails_with_closed() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        raw.send_close(1000, "").await;
        raw.shutdown().await;
        assert!(ws.next().await.is_none());
        let err = ws.send(Message::text("too late")).await.unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
        raw.expect_close(1000).await;
        raw.expect_eof().await;
    })
    .await;
}

// ---- failing the connection (R-CL-12) ----

/// Sends `bytes` from a raw client and checks that the server fails with
/// `code`: one `Error::Protocol` after the messages in `before`, a Close
/// with `code` on the wire, then the server's EOF.
async fn server_fails_with(config: WebSocketConfig, bytes: Vec<u8>, before: &[&str], code: u16) {
    let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new().config(config)).await;
    let server = tokio::spawn(async move { drain(&mut ws).await });
    raw.write(&bytes).await;
    let close = raw.expect_close(code).await;
    assert!(!close.masked);
    raw.expect_eof().await;
    drop(raw);
    let items = server.await.unwrap();
    assert_eq!(items.len(), before.len() + 1, "{items:?}");
    for (item, text) in items.iter().zip(before) {
        assert_eq!(item.as_ref().unwrap().as_text(), Some(*text));
    }
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert!(err.is_protocol());
    assert_eq!(err.close_code(), Some(CloseCode::from(code)));
}

/// As [`server_fails_with`], for a sockeye client and a raw server.
async fn client_fails_with(config: WebSocketConfig, bytes: Vec<u8>, before: &[&str], code: u16) {
    let builder = ClientBuilder::new("ws://localhost/").config(config);
    let (mut raw, mut ws) = raw_server_duplex(builder).await;
    let client = tokio::spawn(async move { drain(&mut ws).await });
    raw.write(&bytes).await;
    let close = raw.expect_close(code).await;
    assert!(close.masked, "R-MK-01");
    // A failing client closes TCP without waiting (R-CL-12).
    raw.expect_eof().await;
    drop(raw);
    let items = client.await.unwrap();
    assert_eq!(items.len(), before.len() + 1, "{items:?}");
    for (item, text) in items.iter().zip(before) {
        assert_eq!(item.as_ref().unwrap().as_text(), Some(*text));
    }
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    assert_eq!(err.close_code(), Some(CloseCode::from(code)));
}

#[tokio::test]
async fn r_mk_02_server_fails_1002_on_unmasked_frame() {
    let bytes = frame(true, op::TEXT, b"plain", None);
    bounded(server_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1002,
    ))
    .await;
}

#[tokio::test]
async fn r_mk_04_client_fails_1002_on_masked_frame() {
    let bytes = frame(true, op::TEXT, b"masked", Some(KEY));
    bounded(client_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1002,
    ))
    .await;
}

#[tokio::test]
async fn r_fr_02_server_fails_1002_on_reserved_opcode() {
    let bytes = frame(true, 0x3, b"", Some(KEY));
    bounded(server_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1002,
    ))
    .await;
}

#[tokio::test]
async fn r_fr_01_client_fails_1002_on_rsv_bit() {
    let mut bytes = frame(true, op::TEXT, b"x", None);
    bytes[0] |= 0x40;
    bounded(client_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1002,
    ))
    .await;
}

#[tokio::test]
async fn r_u8_02_server_fails_1007_on_invalid_utf8() {
    let bytes = frame(true, op::TEXT, b"ok \xff", Some(KEY));
    bounded(server_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1007,
    ))
    .await;
}

#[tokio::test]
async fn r_u8_02_client_fails_1007_on_invalid_utf8() {
    let bytes = frame(true, op::TEXT, b"\xed\xa0\x80", None);
    bounded(client_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1007,
    ))
    .await;
}

#[tokio::test]
async fn r_sc_03_server_fails_1007_on_invalid_utf8_close_reason() {
    let mut body = close_body(1000, "");
    body.push(0xff);
    let bytes = frame(true, op::CLOSE, &body, Some(KEY));
    bounded(server_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1007,
    ))
    .await;
}

#[tokio::test]
async fn r_lm_01_server_fails_1009_over_message_limit() {
    let mut config = WebSocketConfig::default();
    config.proto.max_message_size = 16;
    let mut bytes = frame(true, op::TEXT, b"sixteen bytes ok", Some(KEY));
    bytes.extend(frame(true, op::TEXT, b"seventeen bytes!!", Some(KEY)));
    bounded(server_fails_with(
        config,
        bytes,
        &["sixteen bytes ok"],
        1009,
    ))
    .await;
}

#[tokio::test]
async fn r_lm_01_client_fails_1009_over_fragmented_message_limit() {
    let config = WebSocketConfig {
        proto: sockeye::proto::Config {
            max_message_size: 8,
            ..Default::default()
        },
        ..Default::default()
    };
    let mut bytes = frame(false, op::TEXT, b"12345", None);
    bytes.extend(frame(true, op::CONTINUATION, b"6789", None));
    bounded(client_fails_with(config, bytes, &[], 1009)).await;
}

#[tokio::test]
async fn server_delivers_messages_received_before_a_violation() {
    let mut bytes = frame(true, op::TEXT, b"one", Some(KEY));
    bytes.extend(frame(false, op::TEXT, b"t", Some(KEY)));
    bytes.extend(frame(true, op::PING, b"between", Some(KEY)));
    bytes.extend(frame(true, op::CONTINUATION, b"wo", Some(KEY)));
    bytes.extend(frame(true, op::TEXT, b"unmasked", None));
    bytes.extend(frame(true, op::TEXT, b"never seen", Some(KEY)));
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        let server = tokio::spawn(async move { drain(&mut ws).await });
        raw.write(&bytes).await;
        // The Pong for the ping that came before the violation may precede
        // the Close; nothing follows the Close.
        let mut frame = raw.expect_frame().await;
        if frame.opcode == OpCode::Pong {
            assert_eq!(frame.payload, b"between");
            frame = raw.expect_frame().await;
        }
        assert_eq!(frame.close_code(), Some(1002));
        raw.expect_eof().await;
        drop(raw);
        let items = server.await.unwrap();
        let texts: Vec<_> = items
            .iter()
            .filter_map(|item| item.as_ref().ok()?.as_text())
            .collect();
        assert_eq!(texts, ["one", "two"]);
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(
            items[2].as_ref().unwrap_err().close_code(),
            Some(CloseCode::PROTOCOL_ERROR)
        );
    })
    .await;
}

#[tokio::test]
async fn server_fails_1002_on_invalid_close_code() {
    let bytes = frame(true, op::CLOSE, &close_body(1006, ""), Some(KEY));
    bounded(server_fails_with(
        WebSocketConfig::default(),
        bytes,
        &[],
        1002,
    ))
    .await;
}

#[tokio::test]
async fn server_stream_ends_after_protocol_error() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        raw.write(&frame(true, op::BINARY, b"x", None)).await;
        raw.shutdown().await;
        let err = ws.next().await.unwrap().unwrap_err();
        assert!(err.is_protocol(), "{err:?}");
        assert!(ws.next().await.is_none());
        assert!(matches!(
            ws.send(Message::text("x")).await,
            Err(Error::Closed)
        ));
        assert_eq!(ws.state(), State::Failed);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn server_drop_sends_close_going_away() {
    bounded(async {
        let (mut raw, ws) = raw_client_duplex(ServerBuilder::new()).await;
        // Ask 2: "dropping the handle closes in the background with a
        // bounded wait"; the peer should see a Close, not a bare EOF.
        drop(ws);
        let close = raw.expect_frame().await;
        assert_eq!(close.opcode, OpCode::Close, "{close:?}");
        assert_eq!(close.close_code(), Some(1001));
    })
    .await;
}

#[tokio::test]
async fn a_panicking_handler_closes_its_connection_with_1011_and_nothing_else() {
    bounded(async {
        let (mut failing_client, failing_server) =
            tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        let (mut other_client, mut other_server) =
            tcp_pair(ClientBuilder::new, ServerBuilder::new()).await;
        // A handler that panics while it holds its connection.
        let handler = tokio::spawn(async move {
            let _ws = failing_server;
            panic!("a bug in the handler");
        });
        assert!(handler.await.unwrap_err().is_panic());
        // Its peer hears 1011 (internal error), not a bare EOF.
        let ended = failing_client.next().await;
        assert!(ended.is_none(), "{ended:?}");
        assert_eq!(
            failing_client.close_frame().map(|frame| frame.code),
            Some(CloseCode::INTERNAL_ERROR)
        );
        // Nothing else is touched: the other connection still echoes.
        other_client
            .send(Message::text("still here"))
            .await
            .unwrap();
        let message = other_server.next().await.unwrap().unwrap();
        other_server.send(message).await.unwrap();
        let echo = other_client.next().await.unwrap().unwrap();
        assert_eq!(echo, Message::text("still here"));
    })
    .await;
}
