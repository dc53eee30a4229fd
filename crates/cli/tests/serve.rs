//! End-to-end tests of `sockeye serve`, driven with the `sockeye` client
//! library and raw TCP.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, Message};
use support::{Serve, TIMEOUT, raw_exchange, refuses_connections, run, sockeye};

/// How long a clean shutdown may take once signalled.
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(5);

async fn connect(url: &str) -> sockeye::WebSocket<sockeye::ClientStream> {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

async fn next(ws: &mut sockeye::WebSocket<sockeye::ClientStream>) -> Option<Message> {
    tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .map(|m| m.expect("receive"))
}

async fn echo(ws: &mut sockeye::WebSocket<sockeye::ClientStream>, message: Message) {
    ws.send(message.clone()).await.expect("send");
    assert_eq!(next(ws).await, Some(message));
}

#[tokio::test]
async fn echoes_text_as_text_and_binary_as_binary_on_any_path() {
    let server = Serve::start(&[]);
    for path in ["/", "/a/b?c=d", "/deeper/still/", "/?only=query", ""] {
        let mut ws = connect(&server.url(path)).await;
        echo(&mut ws, Message::text(format!("hello on {path:?}"))).await;
        echo(&mut ws, Message::binary(vec![0u8, 1, 2, 0x80, 0xff])).await;
        // Empty messages of either kind keep their kind.
        echo(&mut ws, Message::text("")).await;
        echo(&mut ws, Message::binary(Vec::new())).await;
        // Text that is not ASCII survives.
        echo(&mut ws, Message::text("grüße, 🐟")).await;
        tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, "bye"))
            .await
            .expect("close timed out")
            .expect("close");
        let frame = ws.close_frame().expect("the server answered the close");
        assert_eq!(frame.code, CloseCode::NORMAL, "on {path:?}");
    }
}

#[tokio::test]
async fn echoes_many_messages_in_order() {
    let server = Serve::start(&[]);
    let mut ws = connect(&server.url("/many")).await;
    let sent: Vec<Message> = (0..200)
        .map(|i| {
            if i % 3 == 0 {
                Message::binary(vec![u8::try_from(i % 256).unwrap(); i])
            } else {
                Message::text(format!("message {i}"))
            }
        })
        .collect();
    for message in &sent {
        ws.feed(message.clone()).await.expect("feed");
    }
    ws.flush().await.expect("flush");
    for (i, message) in sent.iter().enumerate() {
        assert_eq!(next(&mut ws).await.as_ref(), Some(message), "message {i}");
    }
}

#[tokio::test]
async fn echoes_one_mebibyte_messages() {
    let server = Serve::start(&[]);
    let mut ws = connect(&server.url("/big")).await;
    let binary: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    echo(&mut ws, Message::binary(binary)).await;
    let text: String = "0123456789abcdef".repeat((1 << 20) / 16);
    assert_eq!(text.len(), 1 << 20);
    echo(&mut ws, Message::text(text)).await;
}

#[tokio::test]
async fn messages_over_max_message_size_are_refused_with_1009() {
    let server = Serve::start(&["--max-message-size", "1024"]);
    let mut ws = connect(&server.url("/")).await;
    echo(&mut ws, Message::binary(vec![7u8; 1024])).await;
    ws.send(Message::binary(vec![7u8; 1025]))
        .await
        .expect("send");
    // The server fails the connection; the stream ends with its Close.
    match tokio::time::timeout(TIMEOUT, ws.next()).await {
        Ok(None) => {}
        Ok(Some(Ok(message))) => panic!("unexpected echo of {} bytes", message.len()),
        Ok(Some(Err(e))) => panic!("expected a clean close, got {e:?}"),
        Err(elapsed) => panic!("no close in time: {elapsed}"),
    }
    let frame = ws.close_frame().expect("close frame");
    assert_eq!(frame.code, CloseCode::MESSAGE_TOO_BIG);
}

/// The status line of an HTTP answer, e.g. `HTTP/1.1 400 Bad Request`.
fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or("")
}

#[tokio::test]
async fn bad_handshakes_get_an_http_error_and_the_server_keeps_serving() {
    let server = Serve::start(&["--no-console"]);

    // A plain HTTP request, no upgrade: 426, which names the protocol to
    // upgrade to.
    let answer = raw_exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 426"),
        "plain GET answered {answer:?}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("upgrade: websocket"),
        "426 without the protocol to upgrade to: {answer:?}"
    );

    // A WebSocket request with an unsupported version: 426 with the one we
    // speak.
    let answer = raw_exchange(
        server.addr,
        b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 8\r\n\r\n",
    );
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 426"),
        "version 8 answered {answer:?}"
    );
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "426 without the supported version: {answer:?}"
    );

    // A request without a key.
    let answer = raw_exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 400"),
        "missing key answered {answer:?}"
    );

    // Not HTTP at all.
    let answer = raw_exchange(server.addr, b"hello there\r\n\r\n");
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 400"),
        "garbage answered {answer:?}"
    );

    let mut ws = connect(&server.url("/")).await;
    echo(&mut ws, Message::text("still serving")).await;
}

/// Opens a connection and checks it echoes, so the server is past its
/// start-up (signal handlers installed) and has the connection open.
async fn open_connection(server: &Serve) -> sockeye::WebSocket<sockeye::ClientStream> {
    let mut ws = connect(&server.url("/")).await;
    echo(&mut ws, Message::text("before shutdown")).await;
    ws
}

async fn signal_closes_connections_with_1001_and_exits_0(signal: &str) {
    let mut server = Serve::start(&[]);
    let mut first = open_connection(&server).await;
    let mut second = connect(&server.url("/other")).await;
    echo(&mut second, Message::binary(vec![1u8, 2, 3])).await;

    server.child.signal(signal);
    for ws in [&mut first, &mut second] {
        assert_eq!(
            next(ws).await,
            None,
            "the stream ends with the server's Close"
        );
        let frame = ws.close_frame().expect("a Close frame from the server");
        assert_eq!(frame.code, CloseCode::GOING_AWAY);
    }

    let status = server
        .child
        .try_wait_for_async(SHUTDOWN_LIMIT)
        .await
        .unwrap_or_else(|| panic!("no exit within {SHUTDOWN_LIMIT:?} of SIG{signal}"));
    assert_eq!(status.code(), Some(0), "exit status after SIG{signal}");
    assert!(
        refuses_connections(server.addr),
        "the port still accepts after shutdown"
    );
    assert!(
        server.log().contains("shutting down"),
        "no shutdown log line: {:?}",
        server.log()
    );
}

#[tokio::test]
async fn sigterm_closes_open_connections_with_1001_and_exits_0() {
    signal_closes_connections_with_1001_and_exits_0("TERM").await;
}

#[tokio::test]
async fn sigint_closes_open_connections_with_1001_and_exits_0() {
    signal_closes_connections_with_1001_and_exits_0("INT").await;
}

#[tokio::test]
async fn sigterm_without_connections_exits_0_at_once() {
    let mut server = Serve::start(&[]);
    let mut ws = open_connection(&server).await;
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    drop(ws);

    let started = Instant::now();
    server.child.signal("TERM");
    let status = server
        .child
        .try_wait_for_async(SHUTDOWN_LIMIT)
        .await
        .expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "an idle server took {:?} to stop",
        started.elapsed()
    );
    assert!(refuses_connections(server.addr));
}

/// Completes a WebSocket handshake by hand and returns the socket, which
/// then never answers anything.
fn raw_websocket(addr: std::net::SocketAddr) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(TIMEOUT)).expect("read timeout");
    tcp.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
    )
    .expect("write request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("read response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(
        head.starts_with("HTTP/1.1 101"),
        "handshake answered {head:?}"
    );
    tcp
}

#[tokio::test]
async fn an_unresponsive_client_delays_shutdown_only_for_the_grace_period() {
    let mut server = Serve::start(&[]);
    // Make sure the accept loop (and with it the signal handler) is running.
    let mut ws = open_connection(&server).await;
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    let mut silent = raw_websocket(server.addr);

    let started = Instant::now();
    server.child.signal("TERM");

    // The server sends an unmasked Close 1001 even to a silent client.
    let mut header = [0u8; 4];
    silent
        .read_exact(&mut header)
        .expect("read the Close frame");
    assert_eq!(header[0], 0x88, "FIN + Close opcode");
    assert!(
        header[1] >= 2 && header[1] & 0x80 == 0,
        "unmasked, with a code"
    );
    assert_eq!(u16::from_be_bytes([header[2], header[3]]), 1001);

    // While it waits for the silent client, it accepts nobody new.
    assert!(
        refuses_connections(server.addr),
        "new connections are accepted during shutdown"
    );

    // The grace period is 5 s; anything well past it is a hang.
    let status = server
        .child
        .try_wait_for_async(Duration::from_secs(9))
        .await
        .unwrap_or_else(|| {
            panic!(
                "still running {:?} after SIGTERM with a silent client",
                started.elapsed()
            )
        });
    assert_eq!(status.code(), Some(0));
}

#[test]
fn address_in_use_fails_with_one_line_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("local address").to_string();
    let finished = run(&["serve", &addr]);
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(
        line.contains("cannot listen on") && line.contains(&addr),
        "unclear error: {line:?}"
    );
}

#[test]
fn invalid_address_is_a_usage_error() {
    let finished = run(&["serve", "not-an-address"]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(finished.stderr.contains("not-an-address"), "{finished:?}");
}

#[test]
fn help_shows_the_default_address() {
    let finished = run(&["serve", "--help"]);
    assert_eq!(finished.code(), Some(0));
    assert!(
        finished.stdout.contains("127.0.0.1:9001"),
        "{:?}",
        finished.stdout
    );
}

#[tokio::test]
async fn connections_are_logged_at_debug_level() {
    let mut command = sockeye();
    command.env("RUST_LOG", "debug");
    let server = Serve::start_with(command, &[]);
    let mut ws = open_connection(&server).await;
    ws.close(CloseCode::NORMAL, "").await.expect("close");
    assert!(
        server.wait_for_log("connection open").await,
        "log: {:?}",
        server.log()
    );
    assert!(
        server.wait_for_log("connection closed").await,
        "log: {:?}",
        server.log()
    );
}

#[tokio::test]
async fn log_has_no_colour_codes_when_stderr_is_not_a_terminal() {
    let mut command = support::sockeye();
    command.env_remove("NO_COLOR");
    let server = Serve::start_with(command, &[]);
    assert!(!server.log().contains('\u{1b}'), "log: {:?}", server.log());
}

#[tokio::test]
async fn broadcast_sends_each_message_to_every_other_client() {
    let server = Serve::start(&["--broadcast", "--threads", "2"]);
    let url = server.url("/");
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&url).await);
    }
    // Each client says something once everyone is connected; the others
    // all hear it, the sender does not.
    for (i, ws) in clients.iter_mut().enumerate() {
        ws.send(Message::text(format!("from {i}")))
            .await
            .expect("send");
    }
    for (i, ws) in clients.iter_mut().enumerate() {
        let mut heard = Vec::new();
        for _ in 0..2 {
            let message = next(ws).await.expect("a broadcast message");
            heard.push(message.as_text().expect("text").to_owned());
        }
        heard.sort();
        let expected: Vec<String> = (0..3)
            .filter(|&j| j != i)
            .map(|j| format!("from {j}"))
            .collect();
        assert_eq!(heard, expected, "client {i}");
    }
    for ws in &mut clients {
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    }
}

#[tokio::test]
async fn the_dev_console_is_served_at_the_root_over_plain_http() {
    let server = Serve::start(&[]);

    let answer = raw_exchange(
        server.addr,
        b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 200"),
        "{answer:?}"
    );
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let head = head.to_ascii_lowercase();
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains(&format!("content-length: {}", body.len())),
        "{head}"
    );
    assert!(body.contains("id=\"connect\""), "not the console page");
    assert!(body.contains("new WebSocket("), "not the console page");

    // HEAD: the same head, no body.
    let answer = raw_exchange(
        server.addr,
        b"HEAD / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: "),
        "{head}"
    );
    assert_eq!(body, "", "HEAD answered with a body");

    // Elsewhere 404, other methods 405.
    let answer = raw_exchange(
        server.addr,
        b"GET /favicon.ico HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    );
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 404"),
        "{answer:?}"
    );
    let answer = raw_exchange(
        server.addr,
        b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\nhi",
    );
    assert!(
        status_line(&answer).starts_with("HTTP/1.1 405"),
        "{answer:?}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("allow: get, head"),
        "{answer:?}"
    );

    // The same port still speaks WebSocket, at `/` too.
    let mut ws = connect(&server.url("/")).await;
    ws.send(Message::text("after the page"))
        .await
        .expect("send");
    let echo = tokio::time::timeout(TIMEOUT, ws.recv())
        .await
        .expect("echo in time");
    assert_eq!(
        echo.expect("a message").expect("no error"),
        Message::text("after the page")
    );
}

#[tokio::test]
async fn serve_agrees_to_the_clients_first_choice_among_its_protocols() {
    let server = Serve::start(&["--protocol", "superchat", "--protocol", "chat"]);
    let url = server.url("/");

    // R-SH-08: one of those offered, here in the client's order.
    let (ws, _) = sockeye::ClientBuilder::new(url.as_str())
        .protocols(["nope", "chat", "superchat"])
        .connect()
        .await
        .expect("connect");
    assert_eq!(ws.protocol(), Some("chat"));

    // None in common: no protocol, and the client decides.
    let (ws, _) = sockeye::ClientBuilder::new(url.as_str())
        .protocols(["nope"])
        .connect()
        .await
        .expect("connect");
    assert_eq!(ws.protocol(), None);
}

/// A throwaway certificate for `localhost` in PEM files under a fresh
/// directory; the DER certificate, to trust it.
fn tls_files(dir: &std::path::Path) -> sockeye::pki_types::CertificateDer<'static> {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
    made.cert.der().clone()
}

#[tokio::test]
async fn serve_speaks_wss_with_a_pem_certificate() {
    let dir = std::env::temp_dir().join(format!("sockeye-serve-tls-{}", std::process::id()));
    let cert = tls_files(&dir);
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    let server = Serve::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(
        server.log().contains("listening on wss://"),
        "{}",
        server.log()
    );
    let url = format!("wss://localhost:{}/", server.addr.port());
    let (mut ws, _) = tokio::time::timeout(
        TIMEOUT,
        sockeye::ClientBuilder::new(url.as_str())
            .add_root_certificate(cert)
            .connect(),
    )
    .await
    .expect("connect in time")
    .expect("connect over tls");
    assert!(ws.get_ref().is_tls());
    let big = Message::binary(vec![7u8; 1 << 20]);
    for message in [Message::text("over tls"), big] {
        ws.send(message.clone()).await.unwrap();
        let echo = tokio::time::timeout(TIMEOUT, ws.next()).await.unwrap();
        assert!(echo.unwrap().unwrap() == message);
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();

    // Plain WebSocket on a TLS port fails, and the server goes on.
    let plain = sockeye::connect(&server.url("/")).await;
    assert!(plain.is_err(), "plain ws on a tls port");
    // A client that trusts another certificate refuses this one.
    let untrusted = sockeye::ClientBuilder::new(url.as_str())
        .add_root_certificate(tls_files(&dir.join("other")))
        .connect()
        .await;
    assert!(
        matches!(untrusted, Err(sockeye::Error::Tls(_))),
        "{:?}",
        untrusted.map(drop)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_refuses_unreadable_tls_files_with_one_line() {
    let finished = run(&[
        "serve",
        "127.0.0.1:0",
        "--tls-cert",
        "/nonexistent/cert.pem",
        "--tls-key",
        "/nonexistent/key.pem",
    ]);
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(line.contains("/nonexistent/cert.pem"), "{line:?}");
    // One without the other is a usage error.
    let finished = run(&["serve", "127.0.0.1:0", "--tls-cert", "cert.pem"]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
}

/// RFC 8441: with TLS, `serve` offers HTTP/2 by ALPN and takes WebSocket
/// streams over it; `--no-http2` keeps to HTTP/1.1.
#[tokio::test]
async fn serve_takes_websockets_over_http2_with_tls() {
    let dir = std::env::temp_dir().join(format!("sockeye-serve-h2-{}", std::process::id()));
    let cert = tls_files(&dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let tls_args = [
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ];
    for http2 in [true, false] {
        let mut args = tls_args.to_vec();
        if !http2 {
            args.push("--no-http2");
        }
        let server = Serve::start(&args);
        let url = format!("wss://localhost:{}/", server.addr.port());
        // Two sockets: over HTTP/2 they are two streams of one connection
        // each (one per client here).
        for _ in 0..2 {
            let (mut ws, response) = tokio::time::timeout(
                TIMEOUT,
                sockeye::ClientBuilder::new(url.as_str())
                    .add_root_certificate(cert.clone())
                    .http2(true)
                    .connect(),
            )
            .await
            .expect("connect in time")
            .expect("connect");
            assert_eq!(ws.get_ref().is_http2(), http2);
            assert_eq!(response.status(), if http2 { 200 } else { 101 });
            for message in [
                Message::text("over tls"),
                Message::binary(vec![9u8; 1 << 20]),
            ] {
                ws.send(message.clone()).await.unwrap();
                let echo = tokio::time::timeout(TIMEOUT, ws.next()).await.unwrap();
                assert!(echo.unwrap().unwrap() == message);
            }
            ws.close(CloseCode::NORMAL, "done").await.unwrap();
            assert_eq!(ws.close_frame().unwrap().reason, "done");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// SIGTERM with a WebSocket open over HTTP/2: the socket is closed with
/// 1001, the HTTP/2 connection is shut down (GOAWAY) rather than waited on,
/// and the server exits promptly.
#[tokio::test]
async fn sigterm_closes_http2_sockets_with_1001_and_exits_promptly() {
    let dir = std::env::temp_dir().join(format!("sockeye-serve-h2-term-{}", std::process::id()));
    let cert = tls_files(&dir);
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    let mut server = Serve::start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    let url = format!("wss://localhost:{}/", server.addr.port());
    let (mut ws, _) = sockeye::ClientBuilder::new(url.as_str())
        .add_root_certificate(cert)
        .http2(true)
        .connect()
        .await
        .expect("connect");
    assert!(ws.get_ref().is_http2());
    ws.send(Message::text("before")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("before"));

    let started = Instant::now();
    server.child.signal("TERM");
    let end = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("a close in time");
    assert!(end.is_none(), "expected a clean close, got {end:?}");
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::GOING_AWAY);
    let status = server
        .child
        .try_wait_for_async(SHUTDOWN_LIMIT)
        .await
        .expect("no exit after SIGTERM");
    assert_eq!(status.code(), Some(0));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?} to stop with an http/2 connection open",
        started.elapsed()
    );
    drop(ws);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn serve_help_ends_with_examples_of_every_mode() {
    let finished = run(&["serve", "--help"]);
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let Some((_, examples)) = finished.stdout.split_once("Examples:") else {
        panic!("no examples in {:?}", finished.stdout);
    };
    for example in [
        "sockeye serve\n",
        "--broadcast",
        "--route /chat=broadcast",
        "=exec:",
        "--static ./site",
        "--tls-self-signed --exec",
        "--dir ./cgi",
    ] {
        assert!(examples.contains(example), "{example:?} in {examples}");
    }
}
