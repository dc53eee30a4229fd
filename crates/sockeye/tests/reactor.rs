//! The reactor (`sockeye::reactor`): connections handed over after their
//! opening handshake and served through callbacks, against sockeye's
//! client and a raw client over loopback TCP. Messages both ways (small,
//! large, many at once, and bytes that came with the handshake), the
//! closing handshake either way (R-CL-04, R-CL-05), protocol violations,
//! keepalive and idle timeouts, a shutdown, and a peer that never reads.
//! Then a client's connections handed to a reactor: echoes against a
//! sockeye server (R-MK-01), and the closing handshake either way, after
//! which the client waits for the server to close TCP (R-CL-06).
#![cfg(unix)]

mod support;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sockeye::proto::DeflateConfig;
use sockeye::proto::frame::OpCode;
use sockeye::reactor::{
    AddClientError, Conn, Ended, Handler, Reactor, ReactorHandle, ReactorThread,
};
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
    /// The reason in the peer's Close, if one came.
    reason: Option<String>,
}

impl Report {
    fn new(received: u64, ended: Ended) -> Self {
        let reason = ended.close_frame().map(|frame| frame.reason.to_string());
        Report {
            received,
            result: ended.into_result(),
            reason,
        }
    }
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
        if message.as_text() == Some("now") {
            // The turn's clock reading, in nanoseconds since `EPOCH`.
            let since = conn.now().saturating_duration_since(epoch());
            conn.send(Message::text(since.as_nanos().to_string()))
                .unwrap();
            return;
        }
        let _ = conn.send_ref(message);
    }

    fn on_end(&mut self, received: u64, ended: Ended) {
        let _ = self.ends.send(Report::new(received, ended));
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
enum Stopper<H = Echo> {
    Task(oneshot::Sender<()>, tokio::task::JoinHandle<()>),
    Thread(ReactorThread<H>),
}

/// Starts a reactor of `mode` for `handler`.
fn start_reactor<H>(
    mode: Mode,
    handler: H,
    config: &WebSocketConfig,
) -> (Stopper<H>, ReactorHandle<H::Data>)
where
    H: Handler + Send,
    H::Data: Send,
{
    match mode {
        Mode::Task => {
            let (reactor, handle) = Reactor::new(handler, config).unwrap();
            let (stop, stopped_rx) = oneshot::channel::<()>();
            let stopped = tokio::spawn(reactor.run(async move {
                let _ = stopped_rx.await;
            }));
            (Stopper::Task(stop, stopped), handle)
        }
        Mode::Thread => {
            let (reactor, handle) =
                ReactorThread::spawn(handler, config, "test-reactor".to_owned()).unwrap();
            (Stopper::Thread(reactor), handle)
        }
    }
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
        let (stopper, handle) = start_reactor(mode, Echo { ends: tx }, &config);
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

/// What the Echo handler's "now" replies count from.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `Conn::now` is the turn's clock reading: taken after the wait, shared
/// by the messages of one read, and later for a later read.
async fn the_turns_clock_reading_is_lent_to_the_handler(mode: Mode) {
    let mut served = Served::start(mode, WebSocketConfig::default()).await;
    let mut peer = served.raw_client().await;
    let mut readings = Vec::new();
    for _ in 0..2 {
        let before = epoch().elapsed().as_nanos();
        let three: Vec<u8> = (0..3)
            .flat_map(|_| support::frame(true, op::TEXT, b"now", Some(support::KEY)))
            .collect();
        peer.write(&three).await;
        let mut read = Vec::new();
        for _ in 0..3 {
            read.push(
                bounded(peer.expect_frame())
                    .await
                    .text()
                    .parse::<u128>()
                    .unwrap(),
            );
        }
        let after = epoch().elapsed().as_nanos();
        assert!(
            read.iter().all(|&t| before <= t && t <= after),
            "{before} {read:?} {after}"
        );
        readings.push(read);
    }
    assert!(readings[0][2] < readings[1][0], "{readings:?}");
    peer.send_close(1000, "").await;
    peer.expect_close(1000).await;
    assert_eq!(served.next_end().await.received, 6);
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

/// A client's side in a reactor: sends `script` when the connection
/// joins, hands every message that comes back to `got`, and once as many
/// came back as it sent, closes with 1000 "done" if told to.
struct Caller {
    script: Vec<Message>,
    close_when_done: bool,
    got: mpsc::UnboundedSender<Message>,
    ends: mpsc::UnboundedSender<Report>,
}

/// The messages a [`Caller`] got back, and its connections' ends.
struct Heard {
    got: mpsc::UnboundedReceiver<Message>,
    ends: mpsc::UnboundedReceiver<Report>,
}

impl Caller {
    fn new(script: Vec<Message>, close_when_done: bool) -> (Caller, Heard) {
        let (got_tx, got) = mpsc::unbounded_channel();
        let (ends_tx, ends) = mpsc::unbounded_channel();
        let caller = Caller {
            script,
            close_when_done,
            got: got_tx,
            ends: ends_tx,
        };
        (caller, Heard { got, ends })
    }

    fn close_if_done(&self, conn: &mut Conn<'_, u64>) {
        if self.close_when_done && *conn.data() == self.script.len() as u64 {
            conn.close(CloseCode::NORMAL, "done").unwrap();
        }
    }
}

impl Handler for Caller {
    type Data = u64;

    fn on_open(&mut self, conn: &mut Conn<'_, u64>) {
        for message in &self.script {
            conn.send(message.clone()).unwrap();
        }
        self.close_if_done(conn);
    }

    fn on_message(&mut self, conn: &mut Conn<'_, u64>, message: MessageRef<'_>) {
        *conn.data() += 1;
        let _ = self.got.send(message.into_message());
        self.close_if_done(conn);
    }

    fn on_end(&mut self, received: u64, ended: Ended) {
        let _ = self.ends.send(Report::new(received, ended));
    }
}

impl Heard {
    async fn next_end(&mut self) -> Report {
        bounded(self.ends.recv()).await.expect("a report")
    }
}

/// A loopback listener whose first connection gets a raw server's
/// handshake; its URL, and the raw server to come.
async fn raw_server() -> (String, tokio::task::JoinHandle<RawPeer<TcpStream>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut peer = RawPeer::server(tcp);
        peer.server_handshake().await;
        peer
    });
    (url, server)
}

/// A client's connection in a reactor, every size of message and
/// permessage-deflate included, against a sockeye server: that server
/// fails unmasked frames (R-MK-02), so the echoes show the engine masks
/// what the reactor writes (R-MK-01). The client closes; both sides see
/// the clean end.
async fn r_mk_01_a_clients_connection_echoes_against_a_sockeye_server(mode: Mode) {
    let server = sockeye::ServerBuilder::new().deflate(Some(DeflateConfig::default()));
    let (addr, mut reports) = support::servers::accept_server(server).await;
    let script = vec![
        Message::text("hello"),
        Message::binary(vec![1u8; 200_000]),
        Message::text(""),
        Message::binary(vec![7u8; 3 << 20]),
        Message::text("é".repeat(5000)),
    ];
    let (caller, mut heard) = Caller::new(script.clone(), true);
    let (_stopper, handle) = start_reactor(mode, caller, &WebSocketConfig::default());
    for deflate in [None, Some(DeflateConfig::default())] {
        let (ws, _) = sockeye::ClientBuilder::new(format!("ws://{addr}/"))
            .deflate(deflate.clone())
            .connect()
            .await
            .unwrap();
        assert_eq!(ws.deflate().is_some(), deflate.is_some());
        handle.add_client(ws, 0).unwrap();
        for message in &script {
            assert_eq!(&bounded(heard.got.recv()).await.unwrap(), message);
        }
        let report = heard.next_end().await;
        assert_eq!(report.received, 5);
        assert_eq!(report.result.unwrap(), Some(CloseCode::NORMAL));
        // R-CL-04: the server echoed the Close, reason and all.
        assert_eq!(report.reason.as_deref(), Some("done"));
        let seen = bounded(reports.recv()).await.unwrap();
        assert_eq!(seen.close, Some(CloseCode::NORMAL));
    }
}

/// R-CL-06: the client starts the closing handshake; once the server's
/// Close came, it waits for the server to close TCP rather than close
/// first, and then ends cleanly with the server's Close.
async fn r_cl_06_a_client_that_closed_waits_for_the_server_to_close_tcp(mode: Mode) {
    let (url, server) = raw_server().await;
    let (caller, mut heard) = Caller::new(Vec::new(), true);
    let (_stopper, handle) = start_reactor(mode, caller, &WebSocketConfig::default());
    let ws = sockeye::connect(&url).await.unwrap();
    let mut peer = server.await.unwrap();
    handle.add_client(ws, 0).unwrap();
    let close = bounded(peer.expect_close(1000)).await;
    assert!(close.masked, "R-MK-01: {close:?}");
    assert_eq!(close.close_reason(), "done");
    peer.send_close(1000, "bye").await;
    // The client holds TCP open: no end of stream comes, and the handler
    // has not heard of an end. (Waiting proves nothing if it passes early;
    // a client that closes first fails it.)
    let early = tokio::time::timeout(Duration::from_millis(200), peer.read_frame()).await;
    assert!(early.is_err(), "the client closed TCP first: {early:?}");
    assert!(heard.ends.try_recv().is_err());
    drop(peer);
    let report = heard.next_end().await;
    assert_eq!(report.result.unwrap(), Some(CloseCode::NORMAL));
    assert_eq!(report.reason.as_deref(), Some("bye"));
}

/// R-CL-04 and R-CL-06: a sockeye server sends a message and closes; the
/// client answers the Close, the server closes TCP, and both ends are
/// clean.
async fn r_cl_06_a_client_answers_the_servers_close_and_ends_when_tcp_closes(mode: Mode) {
    let (listener, url) = support::listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = sockeye::accept(tcp).await.unwrap();
        ws.send(Message::text("last words")).await.unwrap();
        ws.close(CloseCode::GOING_AWAY, "bye").await
    });
    let (caller, mut heard) = Caller::new(Vec::new(), false);
    let (_stopper, handle) = start_reactor(mode, caller, &WebSocketConfig::default());
    let ws = sockeye::connect(&url).await.unwrap();
    handle.add_client(ws, 0).unwrap();
    let message = bounded(heard.got.recv()).await.unwrap();
    assert_eq!(message, Message::text("last words"));
    // The server's closing handshake completed: the client answered.
    bounded(server).await.unwrap().unwrap();
    let report = heard.next_end().await;
    assert_eq!(report.received, 1);
    assert_eq!(report.result.unwrap(), Some(CloseCode::GOING_AWAY));
    assert_eq!(report.reason.as_deref(), Some("bye"));
}

/// R-CL-06: a server that answers the Close but never closes TCP: the
/// client closes it after the close timeout, and the end is still clean
/// (the closing handshake was).
async fn r_cl_06_a_client_closes_tcp_itself_after_the_close_timeout(mode: Mode) {
    let (url, server) = raw_server().await;
    let config = WebSocketConfig {
        close_timeout: Duration::from_millis(200),
        ..WebSocketConfig::default()
    };
    let (caller, mut heard) = Caller::new(Vec::new(), true);
    let (_stopper, handle) = start_reactor(mode, caller, &config);
    let ws = sockeye::connect(&url).await.unwrap();
    let mut peer = server.await.unwrap();
    handle.add_client(ws, 0).unwrap();
    bounded(peer.expect_close(1000)).await;
    peer.send_close(1000, "").await;
    let report = heard.next_end().await;
    assert_eq!(report.result.unwrap(), Some(CloseCode::NORMAL));
    bounded(peer.expect_eof()).await;
}

/// A client's connection over TLS is handed back, open, with its data.
#[cfg(feature = "tls")]
#[tokio::test]
async fn a_clients_connection_over_tls_is_handed_back() {
    use sockeye::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let key = PrivatePkcs8KeyDer::from(made.signing_key.serialize_der());
    let certificate = made.cert.der().clone();
    let config =
        sockeye::tls::server_config(vec![certificate.clone()], PrivateKeyDer::Pkcs8(key)).unwrap();
    let acceptor = sockeye::tokio_rustls::TlsAcceptor::from(config);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        let mut ws = sockeye::accept(tls).await.unwrap();
        while let Some(Ok(message)) = ws.next().await {
            ws.send(message).await.unwrap();
        }
    });
    let (caller, _heard) = Caller::new(Vec::new(), true);
    let (reactor, handle) = Reactor::new(caller, &WebSocketConfig::default()).unwrap();
    let (ws, _) = sockeye::ClientBuilder::new(format!("wss://localhost:{port}/"))
        .add_root_certificate(certificate)
        .connect()
        .await
        .unwrap();
    let Err(AddClientError::NotPlainTcp(mut ws, data)) = handle.add_client(ws, 7) else {
        panic!("a TLS connection was taken");
    };
    assert_eq!(data, 7);
    assert!(reactor.is_empty());
    ws.send(Message::text("still open")).await.unwrap();
    assert_eq!(
        bounded(ws.next()).await.unwrap().unwrap(),
        Message::text("still open")
    );
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();
}

/// A client's connection given to a reactor that stopped is handed back,
/// open.
#[tokio::test]
async fn a_stopped_reactor_hands_a_clients_connection_back() {
    let (addr, _served) = support::servers::accept_server(sockeye::ServerBuilder::new()).await;
    let (caller, _heard) = Caller::new(Vec::new(), true);
    let (reactor, handle) = Reactor::new(caller, &WebSocketConfig::default()).unwrap();
    drop(reactor);
    let ws = sockeye::connect(&format!("ws://{addr}/")).await.unwrap();
    let Err(AddClientError::Closed(mut ws, 3)) = handle.add_client(ws, 3) else {
        panic!("a stopped reactor took a connection");
    };
    bounded(ws.close(CloseCode::NORMAL, "")).await.unwrap();
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
    the_turns_clock_reading_is_lent_to_the_handler,
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
    r_mk_01_a_clients_connection_echoes_against_a_sockeye_server,
    r_cl_06_a_client_that_closed_waits_for_the_server_to_close_tcp,
    r_cl_06_a_client_answers_the_servers_close_and_ends_when_tcp_closes,
    r_cl_06_a_client_closes_tcp_itself_after_the_close_timeout,
);
