//! End-to-end tests of `sockeye proxy`: wscat (npm) and the `sockeye`
//! client library as clients, `sockeye serve` and one-connection servers
//! as backends.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockeye::{ClientBuilder, CloseCode, CloseFrame, Message};
use support::{
    ChildGuard, Finished, OneShot, Running, Serve, TIMEOUT, listening_addr, peer_tool, run,
    sockeye, unused_addr,
};

/// A `sockeye proxy` child on a free loopback port.
struct Proxy {
    child: ChildGuard,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Proxy {
    /// Starts `sockeye proxy 127.0.0.1:0 --to TO ARGS...` and waits for its
    /// "listening on" line.
    fn start(to: &str, args: &[&str]) -> Self {
        let mut child = sockeye()
            .args(["proxy", "127.0.0.1:0", "--to", to])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockeye proxy");
        let stderr = child.stderr.take().expect("piped stderr");
        let child = ChildGuard::new(child);
        let log = Arc::new(Mutex::new(String::new()));
        let (lines, line) = mpsc::channel();
        let kept = Arc::clone(&log);
        // Reads to the end, so the child never blocks on a full pipe.
        thread::spawn(move || {
            for text in BufReader::new(stderr).lines() {
                let Ok(text) = text else { break };
                let mut kept = kept.lock().expect("log lock");
                kept.push_str(&text);
                kept.push('\n');
                let _ = lines.send(text);
            }
        });
        let deadline = Instant::now() + TIMEOUT;
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match line.recv_timeout(left) {
                Ok(text) => {
                    if let Some(addr) = listening_addr(&text) {
                        break addr;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout | mpsc::RecvTimeoutError::Disconnected) => {
                    panic!(
                        "sockeye proxy did not report its address; log: {:?}",
                        log.lock().expect("log lock")
                    )
                }
            }
        };
        Proxy { child, addr, log }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }

    fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    /// Waits (without blocking a runtime) until the log holds `needle`.
    async fn wait_for_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// The proxy's resident memory, from /proc.
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.pid()))
            .expect("read /proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmRSS line");
        kib * 1024
    }
}

/// Seconds wscat waits for answers after sending, before it closes: ample,
/// as the machine may be busy (no test measures it).
const WSCAT_WAIT: &str = "3";

/// A wscat command with `args`.
fn wscat(args: &[&str]) -> Command {
    let mut command = Command::new(peer_tool("wscat"));
    command.args(args).env("NO_COLOR", "1");
    command
}

/// Runs wscat with `args` to its end. Its stdin stays open: at the end of
/// its input wscat exits at once.
fn run_wscat(args: &[&str]) -> Finished {
    Running::spawn(wscat(args)).finish()
}

/// Runs `future` on a runtime of its own, for tests whose one-connection
/// backend has its own runtime (which cannot start inside another).
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime")
        .block_on(future)
}

/// A client of `url` through the library, with `protocols` offered.
async fn connect(
    url: &str,
    protocols: &[&str],
) -> sockeye::Result<sockeye::WebSocket<sockeye::ClientStream>> {
    let builder = ClientBuilder::new(url).protocols(protocols.iter().copied());
    tokio::time::timeout(TIMEOUT, builder.connect())
        .await
        .expect("connect timed out")
        .map(|(ws, _)| ws)
}

async fn next(ws: &mut sockeye::WebSocket<sockeye::ClientStream>) -> Option<Message> {
    tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .map(|m| m.expect("receive"))
}

/// A backend for one connection that accepts it, lets `then` talk to it,
/// and returns the request it saw with what `then` returned.
fn backend<T, F, Fut>(then: F) -> OneShot<(http::Request<()>, T)>
where
    T: Send + 'static,
    F: FnOnce(sockeye::WebSocket<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    OneShot::start(move |tcp| async move {
        let mut seen = None;
        let server = sockeye::ServerBuilder::new();
        let ws = server
            .accept_with(tcp, |request| {
                let accept = sockeye::Accept::new()
                    .protocol_if(request.protocols().iter().any(|p| p == "chat"), "chat");
                seen = Some(request.request().clone());
                async move { Ok(accept) }
            })
            .await
            .expect("the backend's handshake");
        let request = seen.expect("the request was seen");
        (request, then(ws).await)
    })
}

/// Reads `ws` to its end: the messages, then the Close received.
async fn read_to_end(
    mut ws: sockeye::WebSocket<tokio::net::TcpStream>,
) -> (Vec<Message>, Option<CloseFrame>) {
    let mut messages = Vec::new();
    loop {
        match tokio::time::timeout(TIMEOUT, ws.next()).await {
            Ok(Some(Ok(message))) => messages.push(message),
            Ok(None) => return (messages, ws.close_frame().cloned()),
            Ok(Some(Err(e))) => panic!("the backend's connection failed: {e:?}"),
            Err(elapsed) => panic!("the backend's connection did not end in time: {elapsed}"),
        }
    }
}

#[test]
fn wscat_reaches_sockeye_serve_through_the_proxy() {
    let server = Serve::start(&[]);
    let proxy = Proxy::start(&server.url("/"), &[]);
    let finished = run_wscat(&[
        "-c",
        &proxy.url("/echo"),
        "-x",
        "hello through the proxy",
        "-x",
        "grüße, 🐟",
        "-w",
        WSCAT_WAIT,
    ]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(
        finished.stdout, "hello through the proxy\ngrüße, 🐟\n",
        "{finished:?}"
    );
}

#[tokio::test]
async fn text_stays_text_and_binary_stays_binary() {
    let server = Serve::start(&[]);
    let proxy = Proxy::start(&server.url(""), &[]);
    let mut ws = connect(&proxy.url("/any/path?q=1"), &[])
        .await
        .expect("connect through the proxy");
    let big: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    for message in [
        Message::text("text"),
        Message::binary(vec![0u8, 1, 0x80, 0xff]),
        Message::text(""),
        Message::binary(Vec::new()),
        Message::binary(big),
        Message::text("0123456789abcdef".repeat(1 << 16)),
    ] {
        ws.send(message.clone()).await.expect("send");
        assert_eq!(next(&mut ws).await, Some(message));
    }
    ws.close(CloseCode::NORMAL, "done").await.expect("close");
    assert_eq!(
        ws.close_frame().map(|f| f.code),
        Some(CloseCode::NORMAL),
        "the close was answered"
    );
    // One access line for the pair, without the query.
    let counts = "up_messages=6 up_bytes=2097160 down_messages=6 down_bytes=2097160";
    assert!(proxy.wait_for_log(counts).await, "{}", proxy.log());
    let line = proxy
        .log()
        .lines()
        .find(|line| line.contains(counts))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(line.contains("path=\"/any/path\""), "{line}");
    assert!(line.contains("ended_by=\"client\" code=1000"), "{line}");
}

#[tokio::test]
async fn the_subprotocol_the_backend_chose_reaches_the_client() {
    let server = Serve::start(&["--protocol", "chat.v2", "--protocol", "chat.v1"]);
    let proxy = Proxy::start(&server.url("/"), &[]);
    // The client's order is kept: the backend picks its first choice that
    // it supports.
    let ws = connect(&proxy.url("/"), &["chat.v9", "chat.v1", "chat.v2"])
        .await
        .expect("connect");
    assert_eq!(ws.protocol(), Some("chat.v1"));
    let ws = connect(&proxy.url("/"), &["chat.v2"])
        .await
        .expect("connect");
    assert_eq!(ws.protocol(), Some("chat.v2"));
    // None agreed: none passed on.
    let ws = connect(&proxy.url("/"), &["other"]).await.expect("connect");
    assert_eq!(ws.protocol(), None);
    let ws = connect(&proxy.url("/"), &[]).await.expect("connect");
    assert_eq!(ws.protocol(), None);
}

#[test]
fn wscat_gets_the_subprotocol_it_offered_through_the_proxy() {
    let server = Serve::start(&["--protocol", "chat"]);
    let proxy = Proxy::start(&server.url("/"), &[]);
    // wscat fails the connection if the answer names a protocol it did not
    // offer, or none when it offered one: an echo means the protocol came
    // back.
    let finished = run_wscat(&[
        "-c",
        &proxy.url("/"),
        "-s",
        "chat",
        "-x",
        "with chat",
        "-w",
        WSCAT_WAIT,
    ]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "with chat\n", "{finished:?}");
}

#[test]
fn the_backend_gets_the_forwarding_headers_and_the_clients_own() {
    let backend = backend(read_to_end);
    let proxy = Proxy::start(&backend.url("/app/"), &[]);
    let finished = run_wscat(&[
        "-c",
        &proxy.url("/room/7?user=ann"),
        "-o",
        "https://app.example",
        "-H",
        "Authorization: Bearer t0k3n",
        "-H",
        "Cookie: session=abc",
        "-H",
        "User-Agent: wscat-under-test",
        "-H",
        "X-Request-Id: 42",
        "-H",
        "X-Forwarded-For: 203.0.113.9",
        "-s",
        "chat",
        "-x",
        "hi",
        "-w",
        WSCAT_WAIT,
    ]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let backend_host = backend.addr.to_string();
    let (request, (messages, _)) = backend.join();
    assert_eq!(messages, [Message::text("hi")]);
    assert_eq!(
        request
            .uri()
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str),
        Some("/app/room/7?user=ann")
    );
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("text header").to_owned())
    };
    let proxy_host = proxy.addr.to_string();
    assert_eq!(
        header("x-forwarded-for").as_deref(),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(
        header("forwarded"),
        Some(format!("for=127.0.0.1;host=\"{proxy_host}\";proto=http"))
    );
    assert_eq!(header("x-forwarded-proto").as_deref(), Some("http"));
    assert_eq!(header("x-forwarded-host"), Some(proxy_host));
    assert_eq!(header("host"), Some(backend_host));
    assert_eq!(header("origin").as_deref(), Some("https://app.example"));
    assert_eq!(header("authorization").as_deref(), Some("Bearer t0k3n"));
    assert_eq!(header("cookie").as_deref(), Some("session=abc"));
    assert_eq!(header("user-agent").as_deref(), Some("wscat-under-test"));
    assert_eq!(header("x-request-id").as_deref(), Some("42"));
    assert_eq!(header("sec-websocket-protocol").as_deref(), Some("chat"));
}

#[test]
fn a_close_from_the_client_reaches_the_backend_with_its_code_and_reason() {
    let backend = backend(|mut ws| async move {
        ws.send(Message::text("ready")).await.expect("send");
        read_to_end(ws).await
    });
    let proxy = Proxy::start(&backend.url("/"), &[]);
    let mut client = Running::spawn(wscat(&["-c", &proxy.url("/"), "--slash"]));
    // wscat reads commands only once open: wait for the backend's word.
    assert_eq!(client.next_stdout_line().as_deref(), Some("ready\n"));
    client.write_stdin(b"/close 4001 client leaving\n");
    let (_, (messages, close)) = backend.join();
    assert!(messages.is_empty(), "{messages:?}");
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::from(4001));
    assert_eq!(close.reason.as_str(), "client leaving");
    let finished = client.finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
}

#[test]
fn a_close_without_a_code_passes_without_one() {
    let backend = backend(read_to_end);
    let proxy = Proxy::start(&backend.url("/"), &[]);
    // wscat closes with no code after its wait.
    let finished = run_wscat(&["-c", &proxy.url("/"), "-x", "bye", "-w", "0.5"]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let (_, (messages, close)) = backend.join();
    assert_eq!(messages, [Message::text("bye")]);
    assert_eq!(close.map(|f| f.code), Some(CloseCode::NO_STATUS_RECEIVED));
}

#[test]
fn a_close_from_the_backend_reaches_the_client_with_its_code_and_reason() {
    let backend = backend(|mut ws| async move {
        ws.send(Message::binary(vec![1u8, 2, 3]))
            .await
            .expect("send");
        ws.close(CloseCode::from(4002), "backend leaving")
            .await
            .expect("close");
        ws.close_frame().cloned()
    });
    let proxy = Proxy::start(&backend.url("/"), &[]);
    let close = block_on(async {
        let mut ws = connect(&proxy.url("/"), &[]).await.expect("connect");
        // What the backend sent before its Close arrives before it.
        assert_eq!(next(&mut ws).await, Some(Message::binary(vec![1u8, 2, 3])));
        assert_eq!(next(&mut ws).await, None);
        ws.close_frame().cloned()
    });
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::from(4002));
    assert_eq!(close.reason.as_str(), "backend leaving");
    // The proxy answered the backend's Close with the same.
    let (_, answer) = backend.join();
    assert_eq!(answer.map(|f| f.code), Some(CloseCode::from(4002)));
}

#[test]
fn a_backend_that_vanishes_closes_the_client_with_1011() {
    let backend = OneShot::start(|mut tcp| async move {
        let ws = sockeye::accept(&mut tcp).await.expect("accept");
        // Gone without a Close: no frame is written when it is forgotten,
        // and the TCP connection then ends.
        std::mem::forget(ws);
        drop(tcp);
    });
    let proxy = Proxy::start(&backend.url("/"), &[]);
    let close = block_on(async {
        let mut ws = connect(&proxy.url("/"), &[]).await.expect("connect");
        assert_eq!(next(&mut ws).await, None);
        ws.close_frame().cloned()
    });
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(close.reason.as_str(), "backend connection lost");
    backend.join();
}

#[tokio::test]
async fn a_refused_backend_handshake_gives_its_status_to_the_client() {
    let server = Serve::start(&["--allow-origin", "https://good.example"]);
    let proxy = Proxy::start(&server.url("/"), &[]);
    let refused = ClientBuilder::new(proxy.url("/"))
        .origin("https://evil.example")
        .connect()
        .await
        .expect_err("the backend refuses this origin");
    let answer = refused.rejection().expect("an http answer");
    assert_eq!(answer.status(), http::StatusCode::FORBIDDEN, "{refused:?}");
    // The allowed origin goes through.
    let ws = ClientBuilder::new(proxy.url("/"))
        .origin("https://good.example")
        .connect()
        .await;
    assert!(ws.is_ok(), "{ws:?}");
}

#[test]
fn wscat_sees_the_backends_refusal() {
    let server = Serve::start(&["--allow-origin", "https://good.example"]);
    let proxy = Proxy::start(&server.url("/"), &[]);
    let finished = run_wscat(&["-c", &proxy.url("/"), "-o", "https://evil.example"]);
    assert_ne!(finished.code(), Some(0), "{finished:?}");
    assert!(
        finished.stderr.contains("Unexpected server response: 403"),
        "{finished:?}"
    );
}

#[test]
fn an_unreachable_backend_is_answered_502() {
    let proxy = Proxy::start(&format!("ws://{}/", unused_addr()), &[]);
    let finished = run_wscat(&["-c", &proxy.url("/"), "-x", "anyone?"]);
    assert_ne!(finished.code(), Some(0), "{finished:?}");
    assert!(
        finished.stderr.contains("Unexpected server response: 502"),
        "{finished:?}"
    );
    assert!(
        proxy.log().contains("cannot open the backend's connection"),
        "{}",
        proxy.log()
    );
}

#[test]
fn wss_in_front_and_to_the_backend() {
    let server = Serve::start(&["--tls-self-signed"]);
    let backend = format!("wss://localhost:{}/", server.addr.port());
    // Without -k the self-signed backend is not trusted: 502.
    let checked = Proxy::start(&backend, &["--tls-self-signed"]);
    let url = format!("wss://127.0.0.1:{}/", checked.addr.port());
    let finished = run_wscat(&["-n", "-c", &url, "-x", "hi", "-w", WSCAT_WAIT]);
    assert!(
        finished.stderr.contains("Unexpected server response: 502"),
        "{finished:?}"
    );
    let proxy = Proxy::start(&backend, &["--tls-self-signed", "-k"]);
    let url = format!("wss://127.0.0.1:{}/", proxy.addr.port());
    let finished = run_wscat(&["-n", "-c", &url, "-x", "over tls twice", "-w", WSCAT_WAIT]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "over tls twice\n", "{finished:?}");
}

#[test]
fn a_url_that_is_not_a_websocket_one_is_a_usage_error() {
    for to in ["http://127.0.0.1:1/", "127.0.0.1:1", "ws://"] {
        let finished = run(&["proxy", "127.0.0.1:0", "--to", to]);
        assert_eq!(finished.code(), Some(2), "{to:?}: {finished:?}");
        assert!(
            finished.one_stderr_line().contains("--to"),
            "{to:?}: {finished:?}"
        );
    }
}

#[test]
fn shutting_down_closes_both_sides_with_1001() {
    let backend = backend(|mut ws| async move {
        let first = ws.next().await.expect("a message").expect("receive");
        ws.send(first).await.expect("send");
        read_to_end(ws).await
    });
    let mut proxy = Proxy::start(&backend.url("/"), &[]);
    let close = block_on(async {
        let mut ws = connect(&proxy.url("/"), &[]).await.expect("connect");
        ws.send(Message::text("before")).await.expect("send");
        assert_eq!(next(&mut ws).await, Some(Message::text("before")));
        proxy.child.signal("TERM");
        assert_eq!(next(&mut ws).await, None);
        ws.close_frame().cloned()
    });
    assert_eq!(close.map(|f| f.code), Some(CloseCode::GOING_AWAY));
    let (_, (messages, close)) = backend.join();
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(close.map(|f| f.code), Some(CloseCode::GOING_AWAY));
    let status = proxy.child.try_wait_for(TIMEOUT);
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

/// Bytes a flooding peer would send if nothing held it back.
const FLOOD: u64 = 256 << 20;

/// Waits until the count of bytes `sent` stops growing for two seconds
/// (the sender is held back) or reaches [`FLOOD`]; the count then.
fn wait_until_held_back(sent: &AtomicU64) -> u64 {
    let deadline = Instant::now() + TIMEOUT * 3;
    let (mut last, mut still) = (0, 0);
    while Instant::now() < deadline && still < 10 {
        thread::sleep(Duration::from_millis(200));
        let now = sent.load(Ordering::Relaxed);
        if now >= FLOOD {
            break;
        }
        if now > 0 && now == last {
            still += 1;
        } else {
            still = 0;
        }
        last = now;
    }
    sent.load(Ordering::Relaxed)
}

#[test]
fn a_slow_client_with_a_flooding_backend_keeps_the_proxys_memory_bounded() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let backend = OneShot::start(move |tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let chunk = bytes::Bytes::from(vec![0x5a; 64 << 10]);
        while counter.load(Ordering::Relaxed) < FLOOD {
            if ws.send(Message::binary(chunk.clone())).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    let proxy = Proxy::start(&backend.url("/"), &[]);
    // A client that opens and then never reads.
    let mut client = TcpStream::connect(proxy.addr).expect("connect");
    write!(
        client,
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        proxy.addr
    )
    .expect("send the handshake");
    let sent = wait_until_held_back(&sent);
    let rss = proxy.rss_bytes();
    assert!(sent > 0, "the backend sent nothing");
    assert!(
        sent < FLOOD,
        "the backend sent all {sent} bytes: nothing held it back"
    );
    assert!(
        rss < 64 << 20,
        "the proxy holds {} MiB after the backend sent {} MiB",
        rss >> 20,
        sent >> 20
    );
    drop(client);
}

#[test]
fn a_backends_401_reaches_the_client_with_its_challenge_and_body() {
    let backend = OneShot::start(|tcp| async move {
        let refusal = http::Response::builder()
            .status(http::StatusCode::UNAUTHORIZED)
            .header("www-authenticate", "Bearer realm=\"chat\"")
            .body(bytes::Bytes::from_static(b"token required\n"))
            .expect("a response");
        let refused = sockeye::ServerBuilder::new()
            .accept_with(tcp, |_| async { Err(refusal) })
            .await;
        assert!(refused.is_err(), "the backend refused");
    });
    let proxy = Proxy::start(&backend.url("/"), &[]);
    let refused = block_on(connect(&proxy.url("/"), &[])).expect_err("refused");
    let answer = refused.rejection().expect("an http answer");
    assert_eq!(answer.status(), http::StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer
            .headers()
            .get("www-authenticate")
            .map(http::HeaderValue::as_bytes),
        Some(&b"Bearer realm=\"chat\""[..])
    );
    assert_eq!(&answer.body()[..], b"token required\n");
    backend.join();
}

#[test]
fn origins_not_allowed_in_front_never_reach_the_backend() {
    // The backend takes one connection: the first to reach it.
    let backend = backend(read_to_end);
    let proxy = Proxy::start(
        &backend.url("/"),
        &["--allow-origin", "https://good.example"],
    );
    block_on(async {
        let refused = ClientBuilder::new(proxy.url("/"))
            .origin("https://evil.example")
            .connect()
            .await
            .expect_err("refused in front");
        let status = refused.rejection().map(http::Response::status);
        assert_eq!(status, Some(http::StatusCode::FORBIDDEN), "{refused:?}");
        let (mut ws, _) = ClientBuilder::new(proxy.url("/"))
            .origin("https://good.example")
            .connect()
            .await
            .expect("the allowed origin goes through");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    });
    let (request, _) = backend.join();
    assert_eq!(
        request
            .headers()
            .get("origin")
            .map(http::HeaderValue::as_bytes),
        Some(&b"https://good.example"[..])
    );
}

/// Opens a connection through `url` with the browser's `origin`: the
/// status of the refusal, or `None` once open (then closed).
async fn origin_status(url: &str, origin: &str) -> Option<http::StatusCode> {
    let attempt = ClientBuilder::new(url).origin(origin).connect();
    match tokio::time::timeout(TIMEOUT, attempt)
        .await
        .expect("connect timed out")
    {
        Ok((mut ws, _)) => {
            ws.close(CloseCode::NORMAL, "").await.expect("close");
            None
        }
        Err(e) => {
            let answer = e
                .rejection()
                .unwrap_or_else(|| panic!("no http answer: {e:?}"));
            Some(answer.status())
        }
    }
}

/// `--same-origin` (and websocketd's `--sameorigin`) in front: a page of
/// another site gets 403 from the proxy (the backend checks no origin),
/// a page of the proxy's own host and port goes through, and so does a
/// client that sends no `Origin`.
#[test]
fn pages_of_other_sites_are_refused_in_front_under_same_origin() {
    let server = Serve::start(&[]);
    for flag in ["--same-origin", "--sameorigin"] {
        let proxy = Proxy::start(&server.url("/"), &[flag]);
        let own = format!("http://{}", proxy.addr);
        block_on(async {
            assert_eq!(
                origin_status(&proxy.url("/"), "https://evil.example").await,
                Some(http::StatusCode::FORBIDDEN),
                "{flag}"
            );
            assert_eq!(origin_status(&proxy.url("/"), &own).await, None, "{flag}");
            let mut ws = connect(&proxy.url("/"), &[]).await.expect("no origin");
            ws.close(CloseCode::NORMAL, "").await.expect("close");
        });
    }
}

/// websocketd's `--origin HOST[:PORT],...` in front: a host alone allows
/// its pages over http and https; other sites get 403 from the proxy.
#[test]
fn the_origin_alias_takes_hosts_alone_in_a_list() {
    let server = Serve::start(&[]);
    let proxy = Proxy::start(
        &server.url("/"),
        &["--origin", "good.example:8080,other.example"],
    );
    block_on(async {
        for allowed in [
            "http://good.example:8080",
            "https://good.example:8080",
            "https://other.example",
        ] {
            assert_eq!(
                origin_status(&proxy.url("/"), allowed).await,
                None,
                "{allowed}"
            );
        }
        for refused in ["https://good.example", "https://evil.example"] {
            assert_eq!(
                origin_status(&proxy.url("/"), refused).await,
                Some(http::StatusCode::FORBIDDEN),
                "{refused}"
            );
        }
    });
}

#[test]
fn connections_over_the_limits_are_answered_503_and_429() {
    let server = Serve::start(&[]);
    for (flag, status) in [
        ("--max-connections", http::StatusCode::SERVICE_UNAVAILABLE),
        ("--max-per-ip", http::StatusCode::TOO_MANY_REQUESTS),
    ] {
        let proxy = Proxy::start(&server.url("/"), &[flag, "1"]);
        block_on(async {
            let mut first = connect(&proxy.url("/"), &[]).await.expect("the first");
            let refused = connect(&proxy.url("/"), &[])
                .await
                .expect_err("one too many");
            let answer = refused.rejection().expect("an http answer");
            assert_eq!(answer.status(), status, "{flag}");
            assert_eq!(
                answer
                    .headers()
                    .get("retry-after")
                    .map(http::HeaderValue::as_bytes),
                Some(&b"5"[..])
            );
            // Once the first is gone, its place is free again.
            first.close(CloseCode::NORMAL, "").await.expect("close");
            let deadline = Instant::now() + TIMEOUT;
            loop {
                match connect(&proxy.url("/"), &[]).await {
                    Ok(_) => break,
                    Err(e) if Instant::now() < deadline && e.rejection().is_some() => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("{flag}: the place was not freed: {e:?}"),
                }
            }
        });
    }
}

#[test]
fn a_client_over_the_message_limit_gets_1009_and_the_backend_1011() {
    let backend = backend(read_to_end);
    let proxy = Proxy::start(&backend.url("/"), &["--max-message-size", "1024"]);
    let close = block_on(async {
        let mut ws = connect(&proxy.url("/"), &[]).await.expect("connect");
        ws.send(Message::binary(vec![1u8; 1024]))
            .await
            .expect("send");
        ws.send(Message::binary(vec![2u8; 1025]))
            .await
            .expect("send");
        assert_eq!(next(&mut ws).await, None);
        ws.close_frame().cloned()
    });
    assert_eq!(close.map(|f| f.code), Some(CloseCode::MESSAGE_TOO_BIG));
    let (_, (messages, close)) = backend.join();
    assert_eq!(messages, [Message::binary(vec![1u8; 1024])]);
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::INTERNAL_ERROR);
    assert_eq!(close.reason.as_str(), "client broke the protocol");
}

#[test]
fn a_slow_backend_with_a_flooding_client_keeps_the_proxys_memory_bounded() {
    // A backend that opens and then never reads.
    let backend = OneShot::start(|tcp| async move {
        let ws = sockeye::accept(tcp).await.expect("accept");
        tokio::time::sleep(TIMEOUT * 4).await;
        drop(ws);
    });
    let proxy = Proxy::start(&backend.url("/"), &[]);
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("client runtime");
    let url = proxy.url("/");
    runtime.spawn(async move {
        // Uncompressed: compressed, the flood would sit in the kernel's
        // buffers at a thousandth of its size.
        let (mut ws, _) = ClientBuilder::new(url)
            .deflate(None)
            .connect()
            .await
            .expect("connect");
        let chunk = bytes::Bytes::from(vec![0xa5; 64 << 10]);
        while counter.load(Ordering::Relaxed) < FLOOD {
            if ws.send(Message::binary(chunk.clone())).await.is_err() {
                return;
            }
            counter.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
    });
    let sent = wait_until_held_back(&sent);
    let rss = proxy.rss_bytes();
    assert!(sent > 0, "the client sent nothing");
    assert!(
        sent < FLOOD,
        "the client sent all {sent} bytes: nothing held it back"
    );
    assert!(
        rss < 64 << 20,
        "the proxy holds {} MiB after the client sent {} MiB",
        rss >> 20,
        sent >> 20
    );
    runtime.shutdown_background();
}

#[test]
fn an_idle_pair_is_closed_on_both_sides_with_1001() {
    let backend = backend(read_to_end);
    let proxy = Proxy::start(&backend.url("/"), &["--idle-timeout", "0.2"]);
    let close = block_on(async {
        let mut ws = connect(&proxy.url("/"), &[]).await.expect("connect");
        assert_eq!(next(&mut ws).await, None);
        ws.close_frame().cloned()
    });
    assert_eq!(close.map(|f| f.code), Some(CloseCode::GOING_AWAY));
    let (_, (_, close)) = backend.join();
    let close = close.expect("a close frame");
    assert_eq!(close.code, CloseCode::GOING_AWAY);
    assert_eq!(close.reason.as_str(), "idle timeout");
}

#[test]
fn a_certificate_of_ones_own_in_front_and_trusted_toward_the_backend() {
    let dir = std::env::temp_dir().join(format!("sockeye-proxy-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("make a directory");
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let made = rcgen::generate_simple_self_signed(names).expect("a certificate");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).expect("write the certificate");
    std::fs::write(&key, made.signing_key.serialize_pem()).expect("write the key");
    let (cert, key) = (
        cert.to_str().expect("a path"),
        key.to_str().expect("a path"),
    );
    let server = Serve::start(&["--tls-cert", cert, "--tls-key", key]);
    let backend = format!("wss://localhost:{}/", server.addr.port());
    let proxy = Proxy::start(
        &backend,
        &["--tls-cert", cert, "--tls-key", key, "--ca", cert],
    );
    let url = format!("wss://127.0.0.1:{}/", proxy.addr.port());
    let finished = run_wscat(&["--ca", cert, "-c", &url, "-x", "trusted", "-w", WSCAT_WAIT]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "trusted\n", "{finished:?}");
    std::fs::remove_dir_all(&dir).expect("remove the directory");
}
