//! End-to-end tests of `sockeye connect`, against a `sockeye serve` child or
//! a server written in the test with the `sockeye` library.

mod support;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use sockeye::{Accept, CloseCode, Message, ServerBuilder};
use support::{Finished, OneShot, Running, Serve, TIMEOUT, connect, run, sockeye, unused_addr};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads the client's messages until its Close, answering it. Returns the
/// text messages received.
async fn drain(ws: &mut sockeye::WebSocket<TcpStream>) -> Vec<String> {
    let mut texts = Vec::new();
    while let Some(message) = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("the client went quiet")
    {
        match message {
            Ok(Message::Text(text)) => texts.push(text.to_string()),
            Ok(Message::Binary(_)) => panic!("the client sent a binary message"),
            Err(e) => panic!("server side: {e:?}"),
        }
    }
    texts
}

/// A server that sends `messages`, then closes with `code` and `reason`.
fn server_sending(messages: Vec<Message>, code: CloseCode, reason: &'static str) -> OneShot<()> {
    OneShot::start(move |tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        for message in messages {
            ws.send(message).await.expect("send");
        }
        tokio::time::timeout(TIMEOUT, ws.close(code, reason))
            .await
            .expect("close timed out")
            .expect("close");
    })
}

fn assert_success(finished: &Finished) {
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(
        finished.stderr_lines().is_empty(),
        "nothing on stderr: {finished:?}"
    );
}

/// Whatever ends the session while stdin is still being read, nothing but
/// the outcome reaches stderr: no warning from the cut-short stdin reader.
/// Repeated, as it depends on timing.
#[test]
fn stderr_holds_only_the_outcome() {
    let runs = 40;
    let mut noisy = Vec::new();
    for run in 0..runs {
        // Half clean closes (nothing on stderr), half 4000 (one line).
        let (code, expected) = if run % 2 == 0 {
            (CloseCode::NORMAL, "")
        } else {
            (
                CloseCode::from(4000),
                "sockeye: closed by the server with 4000 \"custom\"\n",
            )
        };
        let server = server_sending(vec![Message::text("x")], code, "custom");
        let finished = connect(&server.url("/"), &[], b"x\n");
        server.join();
        if finished.stderr != expected {
            noisy.push(finished.stderr);
        }
    }
    assert!(
        noisy.is_empty(),
        "{} of {runs} runs: {noisy:?}",
        noisy.len()
    );
}

#[test]
fn stdin_lines_are_echoed_back_as_lines_then_exits_0() {
    let server = Serve::start(&[]);
    let finished = connect(&server.url("/"), &[], b"a\nb\n");
    assert_success(&finished);
    assert_eq!(finished.stdout, "a\nb\n");
}

#[test]
fn empty_lines_and_a_last_line_without_newline_are_sent() {
    let server = Serve::start(&[]);
    let finished = connect(&server.url("/a/b?c=d"), &[], "a\n\nb\r\ngrüße".as_bytes());
    assert_success(&finished);
    assert_eq!(finished.stdout, "a\n\nb\ngrüße\n");
}

#[test]
fn every_reply_is_printed_before_exiting() {
    let server = Serve::start(&[]);
    let mut input = String::new();
    for i in 0..2000 {
        writeln!(input, "line {i}").expect("write to a string");
    }
    let finished = connect(&server.url("/"), &[], input.as_bytes());
    assert_success(&finished);
    assert_eq!(finished.stdout, input);
}

/// A one-connection HTTP proxy that tunnels to `upstream`; it returns the
/// client's request head.
fn connect_proxy(upstream: std::net::SocketAddr) -> OneShot<String> {
    OneShot::start(move |mut tcp| async move {
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(tcp.read_u8().await.expect("read the request"));
        }
        let mut server = TcpStream::connect(upstream)
            .await
            .expect("reach the server");
        tcp.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .expect("answer");
        let _ = tokio::io::copy_bidirectional(&mut tcp, &mut server).await;
        String::from_utf8(head).expect("an ascii head")
    })
}

#[test]
fn goes_through_the_proxy_the_environment_names_or_the_one_given() {
    let server = Serve::start(&[]);
    // A host that does not resolve: only the proxy can reach it.
    let url = format!("ws://target.invalid:{}/", server.addr.port());
    let connect_line = format!("CONNECT target.invalid:{} HTTP/1.1\r\n", server.addr.port());

    let proxy = connect_proxy(server.addr);
    let mut command = sockeye();
    command
        .env("HTTP_PROXY", format!("http://{}", proxy.addr))
        .args(["connect", &url]);
    let mut running = Running::spawn(command);
    running.write_stdin(b"via the environment\n");
    assert_eq!(
        running.next_stdout_line().as_deref(),
        Some("via the environment\n")
    );
    running.close_stdin();
    assert_success(&running.finish());
    assert!(proxy.join().starts_with(&connect_line));

    // --proxy replaces the environment's proxy, here one that is not there.
    let proxy = connect_proxy(server.addr);
    let mut command = sockeye();
    command
        .env("http_proxy", format!("http://{}", unused_addr()))
        .args([
            "connect",
            &url,
            "--proxy",
            &format!("socks5h://{}", unused_addr()),
        ]);
    let finished = Running::spawn(command).finish();
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert!(
        finished
            .stderr
            .contains("proxy failed: connection to the proxy failed"),
        "{finished:?}"
    );
    let finished = connect(
        &url,
        &["--proxy", &format!("http://{}", proxy.addr)],
        b"given\n",
    );
    assert_success(&finished);
    assert_eq!(finished.stdout, "given\n");
    assert!(proxy.join().starts_with(&connect_line));
}

#[test]
fn each_line_is_sent_as_soon_as_it_is_read() {
    let server = Serve::start(&[]);
    let mut command = sockeye();
    command.arg("connect").arg(server.url("/"));
    let mut running = Running::spawn(command);
    running.write_stdin(b"one\n");
    assert_eq!(running.next_stdout_line().as_deref(), Some("one\n"));
    running.write_stdin(b"two\n");
    assert_eq!(running.next_stdout_line().as_deref(), Some("two\n"));
    running.close_stdin();
    let finished = running.finish();
    assert_success(&finished);
    assert_eq!(finished.stdout, "one\ntwo\n");
}

#[test]
fn keeps_printing_after_the_end_of_stdin_until_the_peer_closes() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let first = ws.next().await.expect("a message").expect("receive");
        assert_eq!(first, Message::text("go"));
        // The client's Close is on its way; keep talking before reading it.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for i in 1..=3 {
            ws.send(Message::text(format!("late {i}")))
                .await
                .expect("send");
        }
        drain(&mut ws).await
    });
    let finished = connect(&server.url("/"), &[], b"go\n");
    assert!(server.join().is_empty(), "nothing after the Close");
    assert_success(&finished);
    assert_eq!(finished.stdout, "late 1\nlate 2\nlate 3\n");
}

const BYTES: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

#[test]
fn binary_messages_are_printed_as_hex_by_default() {
    let server = server_sending(
        vec![
            Message::binary(BYTES.to_vec()),
            Message::text("text stays text"),
            Message::binary(Vec::new()),
        ],
        CloseCode::NORMAL,
        "",
    );
    let finished = connect(&server.url("/"), &[], b"");
    server.join();
    assert_success(&finished);
    assert_eq!(finished.stdout, "00017f80feff\ntext stays text\n\n");
}

#[test]
fn binary_messages_are_printed_as_hex_on_request() {
    let server = server_sending(vec![Message::binary(BYTES.to_vec())], CloseCode::NORMAL, "");
    let finished = connect(&server.url("/"), &["--binary-format", "hex"], b"");
    server.join();
    assert_success(&finished);
    assert_eq!(finished.stdout, "00017f80feff\n");
}

#[test]
fn binary_messages_are_printed_as_base64_on_request() {
    let server = server_sending(
        vec![
            Message::binary(BYTES.to_vec()),
            Message::binary(b"hello".to_vec()),
        ],
        CloseCode::NORMAL,
        "",
    );
    let finished = connect(&server.url("/"), &["--binary-format", "base64"], b"");
    server.join();
    assert_success(&finished);
    assert_eq!(finished.stdout, "AAF/gP7/\naGVsbG8=\n");
}

#[test]
fn a_close_with_1001_exits_0() {
    let server = server_sending(
        vec![Message::text("bye")],
        CloseCode::GOING_AWAY,
        "restarting",
    );
    let finished = connect(&server.url("/"), &[], b"");
    server.join();
    assert_success(&finished);
    assert_eq!(finished.stdout, "bye\n");
}

#[test]
fn a_close_without_a_status_code_exits_0() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        // An empty Close frame, which the library does not send itself.
        let tcp = ws.get_mut();
        tcp.write_all(&[0x88, 0x00]).await.expect("write Close");
        tcp.shutdown().await.expect("shutdown");
        let mut rest = Vec::new();
        tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut rest))
            .await
            .expect("the client did not close")
            .expect("read");
        rest
    });
    let finished = connect(&server.url("/"), &[], b"");
    let from_client = server.join();
    assert_eq!(from_client.first(), Some(&0x88), "the client sent a Close");
    assert_success(&finished);
}

#[test]
fn a_close_with_another_code_exits_3_with_one_line() {
    for (code, reason) in [
        (CloseCode::POLICY_VIOLATION, "go away"),
        (CloseCode::INTERNAL_ERROR, ""),
        (CloseCode::from(4000), "custom"),
    ] {
        let server = server_sending(vec![Message::text("before")], code, reason);
        let finished = connect(&server.url("/"), &[], b"");
        server.join();
        assert_eq!(finished.code(), Some(3), "close {code}: {finished:?}");
        assert_eq!(finished.stdout, "before\n");
        let line = finished.one_stderr_line();
        assert!(
            line.contains(&code.to_string()) && line.contains(reason),
            "close {code}: unclear error {line:?}"
        );
    }
}

#[test]
fn connection_refused_exits_1_naming_the_url() {
    let url = format!("ws://{}/", unused_addr());
    let finished = connect(&url, &[], b"hello\n");
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert_eq!(finished.stdout, "");
    let line = finished.one_stderr_line();
    assert!(line.contains(&url), "the url is not named: {line:?}");
    assert!(
        line.to_ascii_lowercase().contains("refused"),
        "the cause is not named: {line:?}"
    );
}

#[test]
fn tcp_dropped_without_a_close_exits_1() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let first = ws.next().await.expect("a message").expect("receive");
        ws.send(first).await.expect("send");
        // Gone without a closing handshake: the TCP stream ends under the
        // socket (dropping the socket itself would send Close 1001).
        tokio::io::AsyncWriteExt::shutdown(ws.get_mut())
            .await
            .expect("shutdown");
        drop(ws);
    });
    let finished = connect(&server.url("/"), &[], b"hello\n");
    server.join();
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(line.starts_with("sockeye: "), "{line:?}");
}

#[test]
fn tcp_dropped_during_the_handshake_exits_1() {
    let server = OneShot::start(|mut tcp| async move {
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf).await;
        // Not a WebSocket server: hang up.
    });
    let url = server.url("/");
    let finished = connect(&url, &[], b"hello\n");
    server.join();
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(line.contains(&url), "{line:?}");
}

#[test]
fn a_protocol_violation_by_the_server_exits_1() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        // A masked frame, which a server must never send.
        let tcp = ws.get_mut();
        tcp.write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .await
            .expect("write");
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(TIMEOUT, tcp.read_to_end(&mut rest)).await;
        rest
    });
    let finished = connect(&server.url("/"), &[], b"");
    let from_client = server.join();
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert_eq!(finished.stdout, "");
    let line = finished.one_stderr_line();
    assert!(line.contains("protocol"), "{line:?}");
    // The client sent a Close: 1002 for the violation, or its own 1000 for
    // the end of stdin if that went out first.
    assert!(
        matches!(client_close_code(&from_client), Some(1000 | 1002)),
        "no Close from the client: {from_client:?}"
    );
}

/// The code of a masked Close frame at the start of `bytes`, as a client
/// sends it.
fn client_close_code(bytes: &[u8]) -> Option<u16> {
    let [0x88, len, m0, m1, _, _, p0, p1, ..] = *bytes else {
        return None;
    };
    (len & 0x80 != 0 && len & 0x7f >= 2).then(|| u16::from_be_bytes([p0 ^ m0, p1 ^ m1]))
}

#[test]
fn a_refused_handshake_exits_4_with_the_status() {
    let server = OneShot::start(|tcp| async move {
        let refused = ServerBuilder::new()
            .accept_with(tcp, |_| async {
                Err(http::Response::builder()
                    .status(http::StatusCode::UNAUTHORIZED)
                    .body(bytes::Bytes::from_static(b"token required"))
                    .expect("response"))
            })
            .await;
        assert!(refused.is_err());
    });
    let url = server.url("/private");
    let finished = connect(&url, &[], b"hello\n");
    server.join();
    assert_eq!(finished.code(), Some(4), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(line.contains(&url) && line.contains("401"), "{line:?}");
}

/// What the server saw of the opening handshake.
#[derive(Debug, Default)]
struct Seen {
    headers: http::HeaderMap,
    protocols: Vec<String>,
    path_and_query: String,
}

/// A server that records the request, accepts `protocol` if offered, and
/// echoes until the client closes. Returns what it saw and the agreed
/// subprotocol.
fn recording_server(protocol: Option<&'static str>) -> OneShot<(Seen, Option<String>)> {
    OneShot::start(move |tcp| async move {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let record = Arc::clone(&seen);
        let mut ws = ServerBuilder::new()
            .accept_with(tcp, move |request| {
                let mut seen = record.lock().expect("lock");
                seen.headers = request.headers().clone();
                seen.protocols = request.protocols().to_vec();
                seen.path_and_query = request
                    .uri()
                    .path_and_query()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                let offered = protocol.filter(|p| request.protocols().iter().any(|o| o == p));
                let accept = match offered {
                    Some(p) => Accept::new().protocol(p),
                    None => Accept::new(),
                };
                async move { Ok(accept) }
            })
            .await
            .expect("accept");
        let agreed = ws.protocol().map(ToOwned::to_owned);
        drain_and_echo(&mut ws).await;
        let seen = std::mem::take(&mut *seen.lock().expect("lock"));
        (seen, agreed)
    })
}

/// Echoes text until the client closes; returns what it echoed.
async fn drain_and_echo(ws: &mut sockeye::WebSocket<TcpStream>) -> Vec<String> {
    let mut texts = Vec::new();
    while let Some(message) = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("the client went quiet")
    {
        let message = message.expect("receive");
        if let Some(text) = message.as_text() {
            texts.push(text.to_owned());
        }
        ws.send(message).await.expect("echo");
    }
    texts
}

#[test]
fn extra_headers_reach_the_server() {
    let server = recording_server(None);
    let finished = connect(
        &server.url("/with/headers?x=1"),
        &[
            "-H",
            "X-Token: abc",
            "--header",
            "X-Other:   spaced value  ",
            "-H",
            "X-Token: second",
        ],
        b"ping\n",
    );
    let (seen, _) = server.join();
    assert_success(&finished);
    assert_eq!(finished.stdout, "ping\n");
    let tokens: Vec<&str> = seen
        .headers
        .get_all("x-token")
        .iter()
        .map(|v| v.to_str().expect("ascii"))
        .collect();
    assert_eq!(tokens, ["abc", "second"]);
    assert_eq!(
        seen.headers
            .get("x-other")
            .map(|v| v.to_str().expect("ascii")),
        Some("spaced value")
    );
    assert_eq!(seen.path_and_query, "/with/headers?x=1");
}

#[test]
fn protocols_are_offered_in_order() {
    let server = recording_server(Some("superchat"));
    let finished = connect(
        &server.url("/"),
        &["--protocol", "chat", "--protocol", "superchat"],
        b"hi\n",
    );
    let (seen, agreed) = server.join();
    assert_success(&finished);
    assert_eq!(finished.stdout, "hi\n");
    assert_eq!(seen.protocols, ["chat", "superchat"]);
    assert_eq!(agreed.as_deref(), Some("superchat"));
}

#[test]
fn no_protocol_header_without_protocol_option() {
    let server = recording_server(Some("chat"));
    let finished = connect(&server.url("/"), &[], b"");
    let (seen, agreed) = server.join();
    assert_success(&finished);
    assert!(seen.headers.get("sec-websocket-protocol").is_none());
    assert_eq!(agreed, None);
}

#[test]
fn invalid_urls_are_usage_errors_with_a_clear_message() {
    for (url, why) in [
        ("http://127.0.0.1:9/", "ws"),
        ("127.0.0.1:9", "scheme"),
        ("ws://127.0.0.1:9/#fragment", "fragment"),
        ("ws://", "url"),
    ] {
        let finished = connect(url, &[], b"hello\n");
        assert_eq!(finished.code(), Some(2), "{url}: {finished:?}");
        assert_eq!(finished.stdout, "");
        let line = finished.one_stderr_line();
        assert!(
            line.contains("invalid url") && line.contains(why) && line.contains(url),
            "{url}: unclear error {line:?}"
        );
    }
}

#[test]
fn a_malformed_header_option_is_a_usage_error() {
    let url = format!("ws://{}/", unused_addr());
    let finished = connect(&url, &["-H", "no colon here"], b"");
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(line.contains("no colon here"), "{line:?}");
}

#[test]
fn an_invalid_header_name_or_value_is_a_usage_error_naming_it() {
    let url = format!("ws://{}/", unused_addr());
    for header in ["Bad Name: x", "X-Bad: del\u{7f}char", ": no name"] {
        let finished = connect(&url, &["-H", header], b"");
        assert_eq!(finished.code(), Some(2), "{header:?}: {finished:?}");
        let line = finished.one_stderr_line();
        let shown = format!("{header:?}");
        assert!(
            line.contains("header") && line.contains(&shown) && !line.contains("invalid url"),
            "{header:?}: unclear error {line:?}"
        );
    }
}

#[test]
fn an_unknown_binary_format_is_a_usage_error() {
    let finished = run(&["connect", "ws://127.0.0.1:9/", "--binary-format", "octal"]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(
        finished.stderr.contains("hex") && finished.stderr.contains("base64"),
        "the valid formats are not listed: {:?}",
        finished.stderr
    );
}

#[test]
fn help_lists_the_options() {
    let finished = run(&["connect", "--help"]);
    assert_eq!(finished.code(), Some(0));
    for needle in [
        "--binary",
        "hex",
        "base64",
        "--header",
        "--protocol",
        "Exit status",
        "130",
    ] {
        assert!(
            finished.stdout.contains(needle),
            "{needle} missing from {:?}",
            finished.stdout
        );
    }
}

/// Starts `sockeye connect URL` and keeps its stdin open.
fn connect_with_open_stdin(url: &str) -> Running {
    let mut command = sockeye();
    command.arg("connect").arg(url);
    Running::spawn(command)
}

/// The peer's Close ends the session even though stdin has not ended (an
/// interactive user who is not typing).
#[test]
fn exits_3_when_the_server_closes_with_1008_while_stdin_is_open() {
    let server = server_sending(
        vec![Message::text("bye")],
        CloseCode::POLICY_VIOLATION,
        "no",
    );
    let running = connect_with_open_stdin(&server.url("/"));
    server.join();
    let finished = running.finish_within(Duration::from_secs(3));
    assert_eq!(finished.code(), Some(3), "{finished:?}");
    assert_eq!(finished.stdout, "bye\n");
}

#[test]
fn exits_0_when_serve_shuts_down_while_stdin_is_open() {
    let server = Serve::start(&[]);
    let mut running = connect_with_open_stdin(&server.url("/"));
    running.write_stdin(b"hello\n");
    assert_eq!(running.next_stdout_line().as_deref(), Some("hello\n"));
    server.child.signal("TERM");
    let finished = running.finish_within(Duration::from_secs(3));
    assert_eq!(finished.code(), Some(0), "{finished:?}");
}

/// `--ca` trusts a server's own certificate for `wss://`, over HTTP/1.1
/// and, with `--http2`, over HTTP/2; without it the connection fails with
/// a TLS error and exit status 1.
#[test]
fn wss_with_ca_over_http1_and_http2() {
    let dir = std::env::temp_dir().join(format!("sockeye-connect-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = Serve::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let url = format!("wss://localhost:{}/", server.addr.port());
    for extra in [&[][..], &["--http2"][..]] {
        let mut args = vec!["--ca", cert.to_str().unwrap()];
        args.extend_from_slice(extra);
        let finished = connect(&url, &args, "über tls\n".as_bytes());
        assert_success(&finished);
        assert_eq!(finished.stdout, "über tls\n");
    }
    let finished = connect(&url, &[], b"hello\n");
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert!(finished.one_stderr_line().contains("tls"), "{finished:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn origin_auth_and_user_agent_reach_the_server() {
    let server = recording_server(None);
    let finished = connect(
        &server.url("/"),
        &[
            "--origin",
            "https://app.example",
            "--auth",
            "alice:open:sesame",
            "--user-agent",
            "sockeye-test/1.0",
        ],
        b"hi\n",
    );
    let (seen, _) = server.join();
    assert_success(&finished);
    let header = |name: &str| {
        seen.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
    };
    assert_eq!(header("origin").as_deref(), Some("https://app.example"));
    assert_eq!(header("user-agent").as_deref(), Some("sockeye-test/1.0"));
    // base64("alice:open:sesame"): the password keeps its colons.
    assert_eq!(
        header("authorization").as_deref(),
        Some("Basic YWxpY2U6b3BlbjpzZXNhbWU=")
    );
}

#[test]
fn auth_without_a_colon_is_a_usage_error() {
    let url = format!("ws://{}/", unused_addr());
    let finished = connect(&url, &["--auth", "alice"], b"");
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(
        finished.one_stderr_line().contains("--auth"),
        "{finished:?}"
    );
}

/// `--insecure` reaches a `wss://` server whose certificate nobody trusts,
/// with a warning; without it the connection fails.
#[test]
fn insecure_skips_verification_with_a_warning() {
    let dir = std::env::temp_dir().join(format!("sockeye-connect-k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = Serve::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    // Another name than the certificate's, too.
    let url = format!("wss://127.0.0.1:{}/", server.addr.port());
    for extra in [&["-k"][..], &["--insecure", "--http2"][..]] {
        let finished = connect(&url, extra, b"unverified\n");
        assert_eq!(finished.code(), Some(0), "{extra:?}: {finished:?}");
        assert_eq!(finished.stdout, "unverified\n");
        let warning = finished.one_stderr_line();
        assert!(warning.contains("not verified"), "{warning:?}");
    }
    let finished = connect(&url, &[], b"hello\n");
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
