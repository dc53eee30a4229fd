//! `sockeye bridge A B` end to end: the real binary between websocat (or
//! plain sockets) on loopback, every endpoint family, both directions and
//! closes from either side.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use futures_util::StreamExt;
use sockeye::{CloseCode, Message};
use support::{ChildGuard, OneShot, Running, TIMEOUT, run, sockeye, unused_addr};

/// A `sockeye bridge` child with one listening endpoint, and where it
/// listens, read from its "bridge listening on ..." line.
struct Bridge {
    child: ChildGuard,
    /// The address as logged: `127.0.0.1:PORT` or a path.
    addr: String,
    log: Arc<Mutex<String>>,
    /// Its stdin and stdout, when piped.
    stdio: Option<(
        std::process::ChildStdin,
        BufReader<std::process::ChildStdout>,
    )>,
}

impl Bridge {
    fn start(args: &[&str]) -> Self {
        Self::spawn(args, false)
    }

    /// As [`start`](Self::start), with stdin and stdout piped to the test.
    fn start_with_stdio(args: &[&str]) -> Self {
        Self::spawn(args, true)
    }

    fn spawn(args: &[&str], piped: bool) -> Self {
        let pipe = || if piped { Stdio::piped() } else { Stdio::null() };
        let mut child = sockeye()
            .arg("bridge")
            .args(args)
            .stdin(pipe())
            .stdout(pipe())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockeye bridge");
        let stderr = child.stderr.take().expect("piped stderr");
        let stdio = child
            .stdin
            .take()
            .zip(child.stdout.take().map(BufReader::new));
        let child = ChildGuard::new(child);
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                shared.lock().expect("log").push_str(&line);
                shared.lock().expect("log").push('\n');
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = rx.recv_timeout(left) else {
                panic!(
                    "the bridge did not say where it listens; log: {:?}",
                    log.lock().expect("log")
                );
            };
            if let Some(at) = line.find("bridge listening on ") {
                let address = &line[at + "bridge listening on ".len()..];
                let address = address.split_whitespace().next().unwrap_or("");
                let address = address
                    .trim_start_matches("ws://")
                    .trim_start_matches("tcp:")
                    .trim_start_matches("udp:")
                    .trim_start_matches("unix:");
                break address.to_owned();
            }
        };
        Bridge {
            child,
            addr,
            log,
            stdio,
        }
    }

    fn socket_addr(&self) -> SocketAddr {
        self.addr.parse().expect("a socket address")
    }

    /// Waits until the log contains `needle`.
    fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if self.log.lock().expect("log").contains(needle) {
                return true;
            }
            thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }
}

/// Waits until something accepts TCP connections on `addr`.
fn wait_until_listening(addr: SocketAddr) {
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A websocat command.
fn websocat() -> Command {
    Command::new(support::peer_tool("websocat"))
}

/// websocat as a WebSocket server sending every message back
/// (`ws-l:ADDR mirror:`), and its URL.
fn websocat_mirror() -> (ChildGuard, String) {
    let addr = unused_addr();
    let child = websocat()
        .args(["-b", &format!("ws-l:{addr}"), "mirror:"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn websocat");
    let child = ChildGuard::new(child);
    wait_until_listening(addr);
    (child, format!("ws://{addr}/"))
}

/// A TCP connection with bounded reads.
fn tcp_connect(addr: SocketAddr) -> TcpStream {
    let tcp = TcpStream::connect(addr).expect("connect to the bridge");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    tcp
}

/// Reads exactly `n` bytes.
fn read_n(stream: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream
        .read_exact(&mut buf)
        .expect("read the expected bytes");
    buf
}

/// Reads until the end of the stream; fails on a timeout.
fn read_to_end(stream: &mut impl Read) -> Vec<u8> {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).expect("the stream ends");
    rest
}

/// Calls a non-blocking `accept` until it gives a connection; fails the
/// test after [`TIMEOUT`].
fn accept_within_timeout<T>(mut accept: impl FnMut() -> std::io::Result<T>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match accept() {
            Ok(stream) => return stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < deadline, "no connection came");
                thread::sleep(std::time::Duration::from_millis(10));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Serves one TCP connection: reads a line, answers it in capitals, then
/// closes.
fn tcp_shouting_server() -> (SocketAddr, thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    let handle = thread::spawn(move || {
        listener.set_nonblocking(true).expect("non-blocking");
        let tcp = accept_within_timeout(|| listener.accept().map(|(tcp, _)| tcp));
        tcp.set_nonblocking(false).expect("blocking");
        tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
        let mut line = String::new();
        BufReader::new(&tcp)
            .read_line(&mut line)
            .expect("read a line");
        (&tcp)
            .write_all(line.to_uppercase().as_bytes())
            .expect("answer");
        line
    });
    (addr, handle)
}

/// websocat as a client of `url` that sends `input` and does not close at
/// its end of input (`-n`), so it waits for the bridge's close; its
/// output and status.
fn websocat_client(url: &str, args: &[&str], input: &[u8]) -> (String, bool) {
    let mut command = websocat();
    command.args(args).arg("-n").arg(url);
    let mut client = Running::spawn(command);
    client.write_stdin(input);
    client.close_stdin();
    let finished = client.finish();
    (finished.stdout, finished.status.success())
}

#[test]
fn tcp_listen_relays_bytes_through_a_websocket_and_a_fin_closes_it() {
    let (_mirror, url) = websocat_mirror();
    let bridge = Bridge::start(&["tcp-listen:127.0.0.1:0", &url]);
    let mut tcp = tcp_connect(bridge.socket_addr());
    tcp.write_all(b"hello").expect("write");
    assert_eq!(read_n(&mut tcp, 5), b"hello");
    tcp.write_all(b"again").expect("write");
    assert_eq!(read_n(&mut tcp, 5), b"again");
    // Our FIN becomes a Close; websocat answers it, and the bridge ends
    // the TCP connection.
    tcp.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(read_to_end(&mut tcp), b"");
}

#[test]
fn tcp_listen_serves_two_clients_at_once_each_with_its_own_websocket() {
    let (_mirror, url) = websocat_mirror();
    let bridge = Bridge::start(&["tcp-listen:127.0.0.1:0", &url]);
    let mut one = tcp_connect(bridge.socket_addr());
    let mut two = tcp_connect(bridge.socket_addr());
    one.write_all(b"first").expect("write");
    two.write_all(b"second").expect("write");
    assert_eq!(read_n(&mut two, 6), b"second");
    assert_eq!(read_n(&mut one, 5), b"first");
    two.write_all(b"2").expect("write");
    one.write_all(b"1").expect("write");
    assert_eq!(read_n(&mut one, 1), b"1");
    assert_eq!(read_n(&mut two, 1), b"2");
    // One client leaving does not end the other.
    drop(one);
    two.write_all(b"still").expect("write");
    assert_eq!(read_n(&mut two, 5), b"still");
}

#[test]
fn ws_listen_relays_to_tcp_and_the_tcp_close_reaches_websocat() {
    let (server, answered) = tcp_shouting_server();
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &format!("tcp:{server}")]);
    let url = format!("ws://{}/", bridge.addr);
    let (output, clean) = websocat_client(&url, &["-b"], b"hello\n");
    assert_eq!(answered.join().expect("server"), "hello\n");
    assert_eq!(output, "HELLO\n");
    assert!(clean, "websocat saw the close as clean");
}

#[test]
fn ws_listen_closes_1000_after_the_tcp_peer_closes() {
    let (server, _answered) = tcp_shouting_server();
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &format!("tcp:{server}")]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut ws = sockeye::connect(&url).await.expect("connect");
        ws.send(Message::text("quiet\n")).await.expect("send");
        let answer = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("an answer in time")
            .expect("an answer")
            .expect("no error");
        assert_eq!(answer.payload(), b"QUIET\n");
        let end = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("the close in time");
        assert!(end.is_none(), "a clean close, got {end:?}");
        assert_eq!(ws.close_frame().map(|f| f.code), Some(CloseCode::NORMAL));
    });
}

#[test]
fn a_websocket_close_ends_the_tcp_client_after_its_last_message() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        ws.send(Message::binary(&b"last words"[..]))
            .await
            .expect("send");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    });
    let bridge = Bridge::start(&["tcp-listen:127.0.0.1:0", &server.url("/")]);
    let mut tcp = tcp_connect(bridge.socket_addr());
    assert_eq!(read_to_end(&mut tcp), b"last words");
    server.join();
}

#[test]
fn a_peer_that_cannot_be_reached_closes_the_websocket_client_with_1011() {
    let nobody = unused_addr();
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &format!("tcp:{nobody}")]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut ws = sockeye::connect(&url).await.expect("connect");
        let end = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("the close in time");
        assert!(end.is_none(), "a clean close, got {end:?}");
        assert_eq!(
            ws.close_frame().map(|f| f.code),
            Some(CloseCode::INTERNAL_ERROR)
        );
    });
    assert!(bridge.wait_for_log("cannot connect"));
}

/// A fresh directory for sockets, removed with its content at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("sockeye-bridge-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unix_listen_relays_through_a_websocket_and_removes_its_socket_at_exit() {
    let (_mirror, url) = websocat_mirror();
    let dir = TempDir::new("unix-listen");
    let path = dir.0.join("bridge.sock");
    let spec = format!("unix-listen:{}", path.display());
    let bridge = Bridge::start(&[&spec, &url]);
    assert_eq!(bridge.addr, path.display().to_string());
    let mut stream = UnixStream::connect(&path).expect("connect");
    stream
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    stream.write_all(b"over unix").expect("write");
    assert_eq!(read_n(&mut stream, 9), b"over unix");
    stream.shutdown(Shutdown::Write).expect("shutdown");
    assert_eq!(read_to_end(&mut stream), b"");
    let Bridge { mut child, .. } = bridge;
    child.signal("TERM");
    let status = child.try_wait_for(TIMEOUT).expect("the bridge exits");
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "the socket file is removed");
}

#[test]
fn ws_listen_relays_to_a_unix_socket() {
    let dir = TempDir::new("unix");
    let path = dir.0.join("server.sock");
    let listener = UnixListener::bind(&path).expect("bind");
    let server = thread::spawn(move || {
        listener.set_nonblocking(true).expect("non-blocking");
        let stream = accept_within_timeout(|| listener.accept().map(|(stream, _)| stream));
        stream.set_nonblocking(false).expect("blocking");
        stream
            .set_read_timeout(Some(TIMEOUT))
            .expect("read timeout");
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).expect("read");
        (&stream)
            .write_all(line.to_uppercase().as_bytes())
            .expect("answer");
    });
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &format!("unix:{}", path.display())]);
    let url = format!("ws://{}/", bridge.addr);
    let (output, clean) = websocat_client(&url, &["-b"], b"unix socket\n");
    server.join().expect("server");
    assert_eq!(output, "UNIX SOCKET\n");
    assert!(clean);
}

#[test]
fn udp_listen_turns_each_datagram_into_one_message_and_back() {
    let (_mirror, url) = websocat_mirror();
    let bridge = Bridge::start(&["udp-listen:127.0.0.1:0", &url]);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(TIMEOUT))
        .expect("read timeout");
    socket.connect(bridge.socket_addr()).expect("connect");
    let mut buf = [0; 100];
    for datagram in [&b"one"[..], b"two and more", b"3"] {
        socket.send(datagram).expect("send");
        let n = socket.recv(&mut buf).expect("the datagram comes back");
        assert_eq!(&buf[..n], datagram);
    }
    // A second source address is a second client.
    let other = UdpSocket::bind("127.0.0.1:0").expect("bind");
    other.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    other.connect(bridge.socket_addr()).expect("connect");
    other.send(b"other").expect("send");
    let n = other.recv(&mut buf).expect("its own answer");
    assert_eq!(&buf[..n], b"other");
}

#[test]
fn ws_listen_sends_each_message_to_a_udp_peer_as_one_datagram() {
    let peer = UdpSocket::bind("127.0.0.1:0").expect("bind");
    peer.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    let peer_addr = peer.local_addr().expect("address");
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &format!("udp:{peer_addr}")]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut ws = runtime.block_on(sockeye::connect(&url)).expect("connect");
    let mut buf = [0; 100];
    runtime
        .block_on(ws.send(Message::binary(&b"ping me"[..])))
        .expect("send");
    let (n, from) = peer.recv_from(&mut buf).expect("a datagram");
    assert_eq!(&buf[..n], b"ping me");
    peer.send_to(b"PONG", from).expect("answer");
    let answer = runtime
        .block_on(async { tokio::time::timeout(TIMEOUT, ws.next()).await })
        .expect("an answer in time")
        .expect("an answer")
        .expect("no error");
    assert_eq!(answer, Message::binary(&b"PONG"[..]));
    // And websocat, which sends each line as a message.
    let mut command = websocat();
    command.args(["-n", &url]);
    let mut client = Running::spawn(command);
    client.write_stdin(b"from websocat\n");
    let (n, _) = peer.recv_from(&mut buf).expect("a datagram from websocat");
    assert!(
        buf[..n].starts_with(b"from websocat"),
        "{:?}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[test]
fn stdio_relays_through_a_websocket_and_its_end_closes() {
    let (_mirror, url) = websocat_mirror();
    let mut command = sockeye();
    command.args(["bridge", "-", &url]);
    let mut bridge = Running::spawn(command);
    bridge.write_stdin(b"through stdio\n");
    assert_eq!(
        bridge.next_stdout_line().as_deref(),
        Some("through stdio\n")
    );
    bridge.close_stdin();
    let finished = bridge.finish();
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr);
}

#[test]
fn exec_runs_one_program_per_websocket_client() {
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", "exec:head -c 6 | tr a-z A-Z"]);
    let url = format!("ws://{}/", bridge.addr);
    // The program exits after six bytes: its end closes the connection.
    let (output, clean) = websocat_client(&url, &["-b"], b"first\n");
    assert_eq!(output, "FIRST\n");
    assert!(clean);
    let (output, clean) = websocat_client(&url, &["-b"], b"again\n");
    assert_eq!(output, "AGAIN\n");
    assert!(clean);
}

#[test]
fn lines_mode_sends_one_text_message_per_line() {
    // Each stdin line is a text message without its newline; each message
    // coming back is written with a newline.
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let mut got = Vec::new();
        while let Some(message) = ws.next().await {
            let message = message.expect("a message");
            got.push(message.clone());
            ws.send(message).await.expect("echo");
            if got.len() == 3 {
                ws.close(CloseCode::NORMAL, "").await.expect("close");
                break;
            }
        }
        got
    });
    let mut command = sockeye();
    command.args(["bridge", "--lines", "-", &server.url("/")]);
    let mut bridge = Running::spawn(command);
    bridge.write_stdin(b"one\ntwo\r\nthree\n");
    assert_eq!(bridge.next_stdout_line().as_deref(), Some("one\n"));
    assert_eq!(bridge.next_stdout_line().as_deref(), Some("two\n"));
    assert_eq!(bridge.next_stdout_line().as_deref(), Some("three\n"));
    let got = server.join();
    assert_eq!(
        got,
        vec![
            Message::text("one"),
            Message::text("two"),
            Message::text("three")
        ]
    );
    bridge.close_stdin();
    let finished = bridge.finish();
    assert_eq!(finished.code(), Some(0), "{}", finished.stderr);
}

#[test]
fn lines_mode_feeds_a_program_line_by_line_for_websocat() {
    let bridge = Bridge::start(&[
        "--lines",
        "ws-listen:127.0.0.1:0",
        "exec:read a; read b; echo \"got $a and $b\"",
    ]);
    let url = format!("ws://{}/", bridge.addr);
    // websocat sends each line with its newline: no blank line between.
    let (output, clean) = websocat_client(&url, &["-t"], b"hello\nworld\n");
    assert_eq!(output.trim_end(), "got hello and world");
    assert!(clean);
}

#[test]
fn a_bad_endpoint_is_a_usage_error() {
    let finished = run(&["bridge", "tcp-listen:127.0.0.1:0", "smoke-signals:hill"]);
    assert_eq!(finished.code(), Some(2));
    assert!(
        finished.stderr.contains("unknown endpoint type"),
        "{}",
        finished.stderr
    );
    let finished = run(&["bridge", "tcp:localhost", "-"]);
    assert_eq!(finished.code(), Some(2));
    assert!(finished.stderr.contains("HOST:PORT"), "{}", finished.stderr);
}

#[test]
fn two_listening_endpoints_are_a_usage_error() {
    let finished = run(&["bridge", "tcp-listen:127.0.0.1:0", "ws-listen:127.0.0.1:0"]);
    assert_eq!(finished.code(), Some(2));
    assert!(
        finished.stderr.contains("at most one endpoint"),
        "{}",
        finished.stderr
    );
}

#[test]
fn ws_listen_relays_to_another_websocket_and_back() {
    let (_mirror, mirror_url) = websocat_mirror();
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &mirror_url]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut ws = sockeye::connect(&url).await.expect("connect");
        for message in [
            Message::text("text stays text"),
            Message::binary(&b"\x00\xff"[..]),
        ] {
            ws.send(message.clone()).await.expect("send");
            let echo = tokio::time::timeout(TIMEOUT, ws.next())
                .await
                .expect("an echo in time")
                .expect("an echo")
                .expect("no error");
            assert_eq!(echo.payload(), message.payload());
        }
        tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
            .await
            .expect("the close in time")
            .expect("a clean close");
    });
}

/// The PIDs of a process's children, from `/proc`.
fn children(pid: u32) -> Vec<String> {
    let mut all = Vec::new();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read /proc");
    for task in tasks {
        let path = task.expect("task").path().join("children");
        if let Ok(text) = std::fs::read_to_string(path) {
            all.extend(text.split_whitespace().map(str::to_owned));
        }
    }
    all
}

#[test]
fn exec_program_gets_the_end_of_input_when_its_client_leaves_and_is_reaped() {
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", "exec:cat"]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut ws = sockeye::connect(&url).await.expect("connect");
        ws.send(Message::binary(&b"meow"[..])).await.expect("send");
        let echo = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("an echo in time")
            .expect("an echo")
            .expect("no error");
        assert_eq!(echo.payload(), b"meow");
        assert_eq!(children(bridge.child.pid()).len(), 1, "cat runs");
        tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
            .await
            .expect("the close in time")
            .expect("a clean close");
    });
    // cat reads the end of its input, exits and is reaped: no zombie.
    let deadline = Instant::now() + TIMEOUT;
    while !children(bridge.child.pid()).is_empty() {
        assert!(Instant::now() < deadline, "the program is still there");
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn lines_mode_closes_1009_on_a_line_over_the_limit() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        while let Some(Ok(_)) = ws.next().await {}
        ws.close_frame().map(|f| f.code)
    });
    let mut command = sockeye();
    command.args([
        "bridge",
        "--lines",
        "--max-message-size",
        "8",
        "-",
        &server.url("/"),
    ]);
    let mut bridge = Running::spawn(command);
    bridge.write_stdin(b"short\nthis line is far too long\n");
    assert_eq!(server.join(), Some(CloseCode::MESSAGE_TOO_BIG));
    bridge.close_stdin();
    let finished = bridge.finish();
    assert_eq!(finished.code(), Some(1));
    assert!(
        finished.stderr.contains("longer than 8 bytes"),
        "{}",
        finished.stderr
    );
}

/// A process's resident memory in bytes, from `/proc`.
fn rss(pid: u32) -> usize {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc");
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .expect("a VmRSS line");
    let kib: usize = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("a number");
    kib * 1024
}

#[test]
fn a_client_that_does_not_read_stalls_the_websocket_sender_with_bounded_memory() {
    const MESSAGE: usize = 512 << 10;
    const MESSAGES: usize = 400; // 200 MiB, far more than any buffer
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    let server = OneShot::start(move |tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let payload = bytes::Bytes::from(vec![b'x'; MESSAGE]);
        for _ in 0..MESSAGES {
            if ws.send(Message::binary(payload.clone())).await.is_err() {
                break;
            }
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let bridge = Bridge::start(&["tcp-listen:127.0.0.1:0", &server.url("/")]);
    // Connected, and never read.
    let tcp = tcp_connect(bridge.socket_addr());
    // Wait until the flood stops moving: the sender is stalled.
    let deadline = Instant::now() + TIMEOUT;
    let mut last = usize::MAX;
    loop {
        let now = sent.load(std::sync::atomic::Ordering::Relaxed);
        if now == last && now > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the flood never settled");
        last = now;
        thread::sleep(std::time::Duration::from_millis(300));
    }
    assert!(
        last < MESSAGES,
        "all {MESSAGES} messages were taken without a reader"
    );
    let memory = rss(bridge.child.pid());
    assert!(memory < 64 << 20, "the bridge holds {memory} bytes");
    drop(tcp);
    server.join();
}

#[test]
fn websocat_as_a_tcp_front_reaches_a_tcp_service_through_ws_listen() {
    let (server, answered) = tcp_shouting_server();
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", &format!("tcp:{server}")]);
    let front = unused_addr();
    let websocat = websocat()
        .args([
            "-b",
            &format!("tcp-l:{front}"),
            &format!("ws://{}/", bridge.addr),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn websocat");
    let _websocat = ChildGuard::new(websocat);
    // The first connection that succeeds is the one used: a probe would
    // reach the one-connection service first.
    let deadline = Instant::now() + TIMEOUT;
    let mut tcp = loop {
        if let Ok(tcp) = TcpStream::connect(front) {
            break tcp;
        }
        assert!(Instant::now() < deadline, "websocat does not listen");
        thread::sleep(std::time::Duration::from_millis(20));
    };
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    tcp.write_all(b"through two bridges\n").expect("write");
    assert_eq!(read_n(&mut tcp, 20), b"THROUGH TWO BRIDGES\n");
    assert_eq!(answered.join().expect("server"), "through two bridges\n");
}

#[test]
fn udp_listen_closes_the_pair_of_a_silent_client_with_1000() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let first = ws.next().await.expect("a message").expect("no error");
        assert_eq!(first.payload(), b"hello, then silence");
        let end = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("the close in time");
        assert!(end.is_none(), "a clean close, got {end:?}");
        ws.close_frame().map(|f| f.code)
    });
    let bridge = Bridge::start(&[
        "--udp-timeout",
        "0.2",
        "udp-listen:127.0.0.1:0",
        &server.url("/"),
    ]);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .send_to(b"hello, then silence", bridge.socket_addr())
        .expect("send");
    assert_eq!(server.join(), Some(CloseCode::NORMAL));
}

#[test]
fn a_peer_that_cannot_be_reached_fails_a_single_pair_with_status_1() {
    let nobody = unused_addr();
    let finished = run(&["bridge", "-", &format!("tcp:{nobody}")]);
    assert_eq!(finished.code(), Some(1));
    assert!(
        finished
            .one_stderr_line()
            .contains("cannot connect to tcp:"),
        "{}",
        finished.stderr
    );
}

/// Whether a process is gone (or only a zombie waiting for whoever
/// adopted it).
fn is_gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Err(_) => true,
        Ok(status) => status
            .lines()
            .any(|line| line.starts_with("State:") && line.contains('Z')),
    }
}

/// Waits until `pid` is gone; false after [`TIMEOUT`].
fn wait_until_gone(pid: &str) -> bool {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if is_gone(pid) {
            return true;
        }
        thread::sleep(std::time::Duration::from_millis(20));
    }
    false
}

/// Connects a WebSocket client to `url` and waits until the bridge
/// `bridge_pid` runs a program that itself runs a child; returns the
/// client and that grandchild's PID.
async fn client_with_grandchild(
    url: &str,
    bridge_pid: u32,
) -> (sockeye::WebSocket<sockeye::ClientStream>, String) {
    let ws = sockeye::connect(url).await.expect("connect");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(program) = children(bridge_pid).first() {
            let program: u32 = program.parse().expect("a pid");
            if let Some(grandchild) = children(program).first() {
                return (ws, grandchild.clone());
            }
        }
        assert!(Instant::now() < deadline, "the program did not start");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[test]
fn a_program_that_ignores_the_end_of_its_input_is_killed_with_its_children() {
    let bridge = Bridge::start(&[
        "--linger",
        "0.2",
        "ws-listen:127.0.0.1:0",
        "exec:sleep 300; echo never",
    ]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let sleeper = runtime.block_on(async {
        let (mut ws, sleeper) = client_with_grandchild(&url, bridge.child.pid()).await;
        tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
            .await
            .expect("the close in time")
            .expect("a clean close");
        sleeper
    });
    assert!(wait_until_gone(&sleeper), "the program's child still runs");
    let deadline = Instant::now() + TIMEOUT;
    while !children(bridge.child.pid()).is_empty() {
        assert!(Instant::now() < deadline, "the program is not reaped");
        thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn stopping_the_bridge_stops_its_programs_and_their_children() {
    let bridge = Bridge::start(&["ws-listen:127.0.0.1:0", "exec:sleep 300; echo never"]);
    let url = format!("ws://{}/", bridge.addr);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (ws, sleeper) = runtime.block_on(client_with_grandchild(&url, bridge.child.pid()));
    let Bridge { mut child, .. } = bridge;
    child.signal("TERM");
    let status = child.try_wait_for(TIMEOUT).expect("the bridge exits");
    assert!(status.success(), "{status:?}");
    assert!(wait_until_gone(&sleeper), "the program's child still runs");
    drop(ws);
}

#[test]
fn a_large_stream_comes_back_whole_and_in_order() {
    let (_mirror, url) = websocat_mirror();
    let bridge = Bridge::start(&["tcp-listen:127.0.0.1:0", &url]);
    let mut tcp = tcp_connect(bridge.socket_addr());
    // 1 MiB with no repeating 256-byte pattern alignment: a byte lost,
    // doubled or reordered shows.
    let data: Vec<u8> = (0..1u32 << 20)
        .map(|i| u8::try_from((i * 7 + i / 251) % 256).expect("a byte"))
        .collect();
    let mut writer = tcp.try_clone().expect("clone");
    let sent = data.clone();
    let write = thread::spawn(move || {
        writer.write_all(&sent).expect("write");
        writer.shutdown(Shutdown::Write).expect("shutdown");
    });
    let back = read_to_end(&mut tcp);
    write.join().expect("writer");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "the bytes came back changed");
}

#[test]
fn a_listener_with_stdio_serves_one_client_then_exits() {
    let mut bridge = Bridge::start_with_stdio(&["ws-listen:127.0.0.1:0", "stdio"]);
    let url = format!("ws://{}/", bridge.addr);
    let (mut stdin, stdout) = bridge.stdio.take().expect("piped stdio");
    // Read on a thread, so that every wait for a line is bounded.
    let (lines, stdout_lines) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // A client that fails its handshake does not count as the one.
    let answer = support::raw_exchange(
        bridge.socket_addr(),
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let mut ws = sockeye::connect(&url).await.expect("connect");
        ws.send(Message::text("to stdout\n")).await.expect("send");
        let line = stdout_lines
            .recv_timeout(TIMEOUT)
            .expect("a line on stdout");
        assert_eq!(line, "to stdout");
        stdin.write_all(b"from stdin").expect("write stdin");
        let message = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("a message in time")
            .expect("a message")
            .expect("no error");
        assert_eq!(message, Message::binary(&b"from stdin"[..]));
        tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
            .await
            .expect("the close in time")
            .expect("a clean close");
    });
    let Bridge { mut child, .. } = bridge;
    let status = child
        .try_wait_for(TIMEOUT)
        .expect("the bridge exits after its client");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_wss_endpoint_trusts_the_certificates_of_ca() {
    let dir = TempDir::new("wss");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("cert");
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write cert");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write key");
    let cert = cert.to_str().expect("a UTF-8 path");
    let server = support::Serve::start(&[
        "--tls-cert",
        cert,
        "--tls-key",
        key.to_str().expect("a UTF-8 path"),
    ]);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let bridge = Bridge::start(&["--ca", cert, "tcp-listen:127.0.0.1:0", &url]);
    let mut tcp = tcp_connect(bridge.socket_addr());
    tcp.write_all(b"over tls").expect("write");
    assert_eq!(read_n(&mut tcp, 8), b"over tls");
    // Without --ca the server's certificate is not trusted.
    let finished = run(&["bridge", "-", &url]);
    assert_eq!(finished.code(), Some(1));
    assert!(
        finished.one_stderr_line().contains("cannot connect"),
        "{}",
        finished.stderr
    );
    let finished = run(&["bridge", "--ca", "/nonexistent.pem", "-", &url]);
    assert_eq!(finished.code(), Some(2));
    assert!(
        finished.one_stderr_line().contains("--ca"),
        "{}",
        finished.stderr
    );
}
