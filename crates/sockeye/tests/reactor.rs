//! The reactor (`sockeye::reactor`): connections handed over after their
//! opening handshake and served through callbacks, against sockeye's
//! client and a raw client over loopback TCP. Messages both ways (small,
//! large, many at once, and bytes that came with the handshake), the
//! closing handshake either way (R-CL-04, R-CL-05), protocol violations,
//! keepalive and idle timeouts, a shutdown, and a peer that never reads.
#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::frame::OpCode;
use sockeye::reactor::{Conn, Ended, Handler, Reactor, ReactorHandle, ReactorThread};
use sockeye::{CloseCode, Error, Message, MessageRef, Timeout, WebSocketConfig};
use support::{RawPeer, bounded, op, request_head};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// How a connection ended, as the handler saw it, with the messages it
/// received.
#[derive(Debug)]
struct Report {
    received: u64,
    result: sockeye::Result<Option<CloseCode>>,
}

/// Echoes every message (unless told to close on one saying "close"),
/// and reports each connection's end.
struct Echo {
    ends: mpsc::UnboundedSender<Report>,
}

impl Handler for Echo {
    type Data = u64;

    fn on_message(&mut self, conn: &mut Conn<'_, u64>, message: MessageRef<'_>) {
        *conn.data() += 1;
        if message.as_text() == Some("close") {
            conn.close(CloseCode::NORMAL, "asked to").unwrap();
            return;
        }
        let _ = conn.send_ref(message);
    }

    fn on_end(&mut self, received: u64, ended: Ended) {
        let _ = self.ends.send(Report {
            received,
            result: ended.into_result(),
        });
    }
}

/// Which kind of reactor serves.
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// A `Reactor`, a task of the test's runtime.
    Task,
    /// A `ReactorThread`.
    Thread,
}

/// How a test's reactor is told to stop, and waited for.
enum Stopper {
    Task(oneshot::Sender<()>, tokio::task::JoinHandle<()>),
    Thread(ReactorThread<Echo>),
}

/// A reactor serving a loopback listener, with its reports and a switch
/// that shuts it down.
struct Served {
    url: String,
    addr: SocketAddr,
    ends: mpsc::UnboundedReceiver<Report>,
    stopper: Option<Stopper>,
}

impl Served {
    async fn start(mode: Mode, config: WebSocketConfig) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, ends) = mpsc::unbounded_channel();
        let echo = Echo { ends: tx };
        let (stopper, handle) = match mode {
            Mode::Task => {
                let (reactor, handle) = Reactor::new(echo, &config).unwrap();
                let (stop, stopped_rx) = oneshot::channel::<()>();
                let stopped = tokio::spawn(reactor.run(async move {
                    let _ = stopped_rx.await;
                }));
                (Stopper::Task(stop, stopped), handle)
            }
            Mode::Thread => {
                let (reactor, handle) =
                    ReactorThread::spawn(echo, &config, "test-reactor".to_owned()).unwrap();
                (Stopper::Thread(reactor), handle)
            }
        };
        tokio::spawn(accept_into(listener, handle, config));
        Served {
            url: format!("ws://{addr}/"),
            addr,
            ends,
            stopper: Some(stopper),
        }
    }

    /// Tells the reactor to stop.
    fn stop(&mut self) -> Stopper {
        let stopper = self.stopper.take().expect("stopped once");
        match stopper {
            Stopper::Task(switch, run) => {
                switch.send(()).unwrap();
                Stopper::Task(oneshot::channel().0, run)
            }
            Stopper::Thread(reactor) => {
                reactor.stop();
                Stopper::Thread(reactor)
            }
        }
    }

    async fn next_end(&mut self) -> Report {
        bounded(self.ends.recv()).await.expect("a report")
    }

    async fn raw_client(&self) -> RawPeer<TcpStream> {
        let mut peer = RawPeer::client(TcpStream::connect(self.addr).await.unwrap());
        let head = peer.client_handshake().await;
        assert_eq!(head.status(), 101);
        peer
    }
}

async fn accept_into(listener: TcpListener, handle: ReactorHandle<u64>, config: WebSocketConfig) {
    let server = sockeye::ServerBuilder::new().config(config);
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            return;
        };
        let (server, handle) = (server.clone(), handle.clone());
        tokio::spawn(async move {
            if let Ok(ws) = server.accept(tcp).await {
                handle.add(ws, 0).unwrap();
            }
        });
    }
}

async fn messages_of_every_size_come_back_in_order(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut ws = sockeye::connect(&served.url).await.unwrap();
    let large = vec![7u8; 3 << 20];
    let sent = [
        Message::text("hello"),
        Message::binary(vec![1u8; 200_000]),
        Message::text(""),
        Message::binary(large),
        Message::text("é".repeat(5000)),
    ];
    for message in &sent {
        ws.feed(message.clone()).await.unwrap();
    }
    ws.flush().await.unwrap();
    for message in &sent {
        let echo = bounded(ws.next()).await.unwrap().unwrap();
        assert_eq!(&echo, message);
    }
    // R-CL-04: the reactor answers the client's Close.
    bounded(ws.close(CloseCode::NORMAL, "done")).await.unwrap();
    let report = served.next_end().await;
    assert_eq!(report.received, 5);
    assert_eq!(report.result.unwrap(), Some(CloseCode::NORMAL));
}

async fn many_messages_in_flight_on_many_connections(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut clients = Vec::new();
    for _ in 0..20 {
        clients.push(sockeye::connect(&served.url).await.unwrap());
    }
    for (c, ws) in clients.iter_mut().enumerate() {
        for i in 0..500 {
            ws.feed(Message::text(format!("{c}:{i}"))).await.unwrap();
        }
        ws.flush().await.unwrap();
    }
    for (c, ws) in clients.iter_mut().enumerate() {
        for i in 0..500 {
            let echo = bounded(ws.next()).await.unwrap().unwrap();
            assert_eq!(echo.as_text().unwrap(), format!("{c}:{i}"));
        }
    }
    for mut ws in clients {
        ws.close(CloseCode::NORMAL, "").await.unwrap();
    }
    for _ in 0..20 {
        assert_eq!(served.next_end().await.received, 500);
    }
}

/// Bytes that arrive with the handshake are in the engine when the
/// reactor takes the connection: they are served at once.
async fn a_frame_sent_with_the_handshake_is_echoed(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = RawPeer::client(TcpStream::connect(served.addr).await.unwrap());
    let mut bytes = request_head("/", "").into_bytes();
    bytes.extend(support::frame(true, op::TEXT, b"early", Some(support::KEY)));
    peer.write(&bytes).await;
    assert_eq!(peer.read_head().await.status(), 101);
    let echo = bounded(peer.expect_frame()).await;
    assert_eq!(echo.text(), "early");
    assert!(!echo.masked);
    peer.send_close(1000, "").await;
    peer.expect_close(1000).await;
    // R-CL-05: the server closes TCP once the handshake is over.
    bounded(peer.expect_eof()).await;
    assert_eq!(served.next_end().await.received, 1);
}

async fn the_handler_can_start_the_closing_handshake(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = served.raw_client().await;
    peer.send(op::TEXT, b"close").await;
    let close = bounded(peer.expect_close(1000)).await;
    assert_eq!(close.close_reason(), "asked to");
    peer.send_close(1000, "").await;
    bounded(peer.expect_eof()).await;
    assert_eq!(
        served.next_end().await.result.unwrap(),
        Some(CloseCode::NORMAL)
    );
}

async fn a_protocol_violation_fails_the_connection_with_1002(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = served.raw_client().await;
    // An unmasked frame from a client (R-MK-02).
    peer.write(&support::frame(true, op::TEXT, b"bare", None))
        .await;
    bounded(peer.expect_close(1002)).await;
    bounded(peer.expect_eof()).await;
    let report = served.next_end().await;
    assert!(
        matches!(report.result, Err(Error::Protocol(_))),
        "{report:?}"
    );
}

async fn invalid_utf8_fails_the_connection_with_1007(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = served.raw_client().await;
    peer.send(op::TEXT, &[0xff, 0xfe]).await;
    bounded(peer.expect_close(1007)).await;
    assert!(matches!(
        served.next_end().await.result,
        Err(Error::Protocol(_))
    ));
}

async fn a_peer_that_vanishes_is_an_abnormal_closure(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = served.raw_client().await;
    peer.send(op::TEXT, b"one").await;
    assert_eq!(bounded(peer.expect_frame()).await.text(), "one");
    drop(peer);
    let report = served.next_end().await;
    assert_eq!(report.received, 1);
    assert!(
        matches!(report.result, Err(Error::AbnormalClosure)),
        "{report:?}"
    );
}

/// R-CF-03: Pings are answered with the same payload.
async fn pings_are_answered(mode: Mode) {
    let served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = served.raw_client().await;
    peer.send(op::PING, b"are you there").await;
    let pong = bounded(peer.expect_frame()).await;
    assert_eq!(pong.opcode, OpCode::Pong);
    assert_eq!(pong.payload, b"are you there");
}

async fn keepalive_pings_a_silent_peer_then_gives_up_with_1011(mode: Mode) {
    let config = WebSocketConfig {
        keepalive_interval: Some(Duration::from_millis(200)),
        keepalive_timeout: Duration::from_millis(200),
        ..WebSocketConfig::default()
    };
    let mut served = Served::start(mode, config).await;
    let mut peer = served.raw_client().await;
    let ping = bounded(peer.expect_frame()).await;
    assert_eq!(ping.opcode, OpCode::Ping);
    // Answering keeps the connection: the next Ping comes an interval later.
    peer.send(op::PONG, &ping.payload).await;
    let ping = bounded(peer.expect_frame()).await;
    assert_eq!(ping.opcode, OpCode::Ping);
    // Silence now: the connection is failed.
    bounded(peer.expect_close(1011)).await;
    let report = served.next_end().await;
    assert!(
        matches!(report.result, Err(Error::Timeout(Timeout::Keepalive))),
        "{report:?}"
    );
}

async fn the_idle_timeout_closes_with_1001(mode: Mode) {
    let config = WebSocketConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..WebSocketConfig::default()
    };
    let mut served = Served::start(mode, config).await;
    let mut peer = served.raw_client().await;
    let started = std::time::Instant::now();
    peer.send(op::TEXT, b"hi").await;
    assert_eq!(bounded(peer.expect_frame()).await.text(), "hi");
    let close = bounded(peer.expect_close(1001)).await;
    assert_eq!(close.close_reason(), "idle timeout");
    assert!(started.elapsed() >= Duration::from_millis(300));
    peer.send_close(1001, "").await;
    bounded(peer.expect_eof()).await;
    let report = served.next_end().await;
    assert!(
        matches!(report.result, Err(Error::Timeout(Timeout::Idle))),
        "{report:?}"
    );
}

async fn a_peer_that_never_answers_our_close_is_cut_after_the_close_timeout(mode: Mode) {
    let config = WebSocketConfig {
        idle_timeout: Some(Duration::from_millis(100)),
        close_timeout: Duration::from_millis(200),
        ..WebSocketConfig::default()
    };
    let mut served = Served::start(mode, config).await;
    let mut peer = served.raw_client().await;
    bounded(peer.expect_close(1001)).await;
    bounded(peer.expect_eof()).await;
    let report = served.next_end().await;
    assert!(
        matches!(report.result, Err(Error::Timeout(Timeout::Idle))),
        "{report:?}"
    );
}

async fn a_shutdown_closes_every_connection_with_1001_and_ends_the_run(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut a = sockeye::connect(&served.url).await.unwrap();
    let mut b = served.raw_client().await;
    a.send(Message::text("x")).await.unwrap();
    assert_eq!(
        bounded(a.next()).await.unwrap().unwrap(),
        Message::text("x")
    );
    let stopper = served.stop();
    // The client answers the Close and its stream ends cleanly.
    assert!(bounded(a.next()).await.is_none());
    assert_eq!(a.close_frame().unwrap().code, CloseCode::GOING_AWAY);
    let close = bounded(b.expect_close(1001)).await;
    assert_eq!(close.close_reason(), "server shutting down");
    b.send_close(1001, "").await;
    bounded(b.expect_eof()).await;
    for _ in 0..2 {
        assert_eq!(
            served.next_end().await.result.unwrap(),
            Some(CloseCode::GOING_AWAY)
        );
    }
    match stopper {
        Stopper::Task(_, run) => bounded(run).await.unwrap(),
        Stopper::Thread(reactor) => {
            bounded(tokio::task::spawn_blocking(move || reactor.join()))
                .await
                .unwrap()
                .unwrap();
        }
    }
}

/// A peer that sends without reading: once the replies fill the socket
/// and the write buffer, the reactor stops reading it, and what it holds
/// stays bounded. Once the peer reads, everything comes back.
async fn a_peer_that_never_reads_is_not_read_either(mode: Mode) {
    let config = WebSocketConfig {
        write_buffer_size: 64 << 10,
        ..WebSocketConfig::default()
    };
    let served = Served::start(mode, config).await;
    let peer = served.raw_client().await;
    let mut tcp = peer.into_inner();
    let chunk = support::frame(true, op::BINARY, &[0u8; 16 << 10], Some(support::KEY));
    // Write until the kernel's buffers are full both ways: the writes
    // stop completing once the reactor stops reading.
    let mut written = 0usize;
    let stalled = loop {
        let write = tokio::io::AsyncWriteExt::write_all(&mut tcp, &chunk);
        match tokio::time::timeout(Duration::from_millis(500), write).await {
            Ok(result) => {
                result.unwrap();
                written += chunk.len();
                assert!(
                    written < 1 << 30,
                    "a gigabyte went in: the reactor never stopped reading"
                );
            }
            Err(_) => break written,
        }
    };
    assert!(stalled > 0);
    let mut peer = RawPeer::client(tcp);
    let mut echoed = 0;
    while echoed < stalled {
        let frame = bounded(peer.expect_frame()).await;
        assert_eq!(frame.opcode, OpCode::Binary);
        echoed += chunk.len();
    }
    assert_eq!(echoed, stalled);
}

#[tokio::test]
async fn a_closed_reactor_refuses_connections() {
    let (tx, _ends) = mpsc::unbounded_channel();
    let (reactor, handle) = Reactor::new(Echo { ends: tx }, &WebSocketConfig::default()).unwrap();
    assert!(reactor.is_empty());
    drop(reactor);
    assert!(handle.is_closed());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::spawn(async move { sockeye::connect(&format!("ws://{addr}/")).await });
    let (tcp, _) = listener.accept().await.unwrap();
    let ws = sockeye::accept(tcp).await.unwrap();
    assert!(matches!(handle.add(ws, 0), Err(Error::Closed)));
    // The connection was dropped while open: it said goodbye.
    let mut ws = client.await.unwrap().unwrap();
    assert!(bounded(ws.next()).await.is_none());
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::GOING_AWAY);
}

/// Half a frame, then the end of the stream, arriving together: the
/// event that brings them is the last one, so the reactor reads on to
/// the end instead of stopping at the short read.
async fn half_a_frame_then_the_end_of_the_stream_ends_the_connection(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    for reset in [false, true] {
        let peer = served.raw_client().await;
        let tcp = peer.into_inner();
        let mut half = support::frame(true, op::BINARY, &[7; 1000], Some(support::KEY));
        half.truncate(200);
        let std = tcp.into_std().unwrap();
        std.set_nonblocking(false).unwrap();
        std::io::Write::write_all(&mut &std, &half).unwrap();
        if reset {
            socket_reset(std);
        } else {
            drop(std);
        }
        let report = served.next_end().await;
        assert!(report.result.is_err(), "{report:?}");
    }
}

/// Closes `tcp` with a reset (`SO_LINGER` of zero).
fn socket_reset(tcp: std::net::TcpStream) {
    let tcp = TcpStream::from_std({
        tcp.set_nonblocking(true).unwrap();
        tcp
    })
    .unwrap();
    #[expect(deprecated, reason = "a zero linger is what sends the reset")]
    tcp.set_linger(Some(Duration::ZERO)).unwrap();
    drop(tcp);
}

/// Each test above, against a `Reactor` task and against a
/// `ReactorThread`.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {
        mod task {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Mode::Task).await;
            })*
        }
        mod thread {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Mode::Thread).await;
            })*
        }
    };
}

in_both_modes!(
    messages_of_every_size_come_back_in_order,
    many_messages_in_flight_on_many_connections,
    a_frame_sent_with_the_handshake_is_echoed,
    the_handler_can_start_the_closing_handshake,
    a_protocol_violation_fails_the_connection_with_1002,
    invalid_utf8_fails_the_connection_with_1007,
    a_peer_that_vanishes_is_an_abnormal_closure,
    pings_are_answered,
    keepalive_pings_a_silent_peer_then_gives_up_with_1011,
    the_idle_timeout_closes_with_1001,
    a_peer_that_never_answers_our_close_is_cut_after_the_close_timeout,
    a_shutdown_closes_every_connection_with_1001_and_ends_the_run,
    a_peer_that_never_reads_is_not_read_either,
    half_a_frame_then_the_end_of_the_stream_ends_the_connection,
);
