//! End-to-end tests of `sockeye serve --exec` and `--dir`: a program per
//! connection, driven with the `sockeye` client library and wscat.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use sockeye::{ClientBuilder, CloseCode, Message};
use support::{Running, Serve, TIMEOUT, peer_tool, raw_exchange, run, sockeye};

type Ws = sockeye::WebSocket<sockeye::ClientStream>;

async fn connect(url: &str) -> Ws {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

/// The next message, or `None` once the server has closed.
async fn next(ws: &mut Ws) -> Option<Message> {
    tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .map(|m| m.expect("receive"))
}

async fn next_text(ws: &mut Ws) -> String {
    let message = next(ws).await.expect("a message, not the end");
    message.as_text().expect("a text message").to_owned()
}

/// Reads until the server closes; the messages before, and its Close.
async fn until_closed(ws: &mut Ws) -> (Vec<Message>, CloseCode, String) {
    let mut messages = Vec::new();
    while let Some(message) = next(ws).await {
        messages.push(message);
    }
    let frame = ws.close_frame().expect("the server sent a Close");
    (messages, frame.code, frame.reason.to_string())
}

/// A directory of its own for one test's scripts and files.
fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("exec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write the script");
    let status = Command::new("chmod")
        .arg("755")
        .arg(path)
        .status()
        .expect("chmod");
    assert!(status.success());
}

#[tokio::test]
async fn cat_gets_each_text_message_as_a_line_and_its_lines_come_back() {
    let server = Serve::start(&["--exec", "cat"]);
    let mut ws = connect(&server.url("/")).await;
    for text in ["hello", "", "grüße, 🐟", "a longer line with spaces"] {
        ws.send(Message::text(text)).await.expect("send");
        assert_eq!(next_text(&mut ws).await, text);
    }
    // A message holding a newline comes back as two lines.
    ws.send(Message::text("one\ntwo")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, "one");
    assert_eq!(next_text(&mut ws).await, "two");
    // Many at once, in order.
    for i in 0..300 {
        ws.feed(Message::text(format!("line {i}")))
            .await
            .expect("feed");
    }
    ws.flush().await.expect("flush");
    for i in 0..300 {
        assert_eq!(next_text(&mut ws).await, format!("line {i}"));
    }
    // The peer closing ends cat's input: it exits 0.
    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, "bye"))
        .await
        .expect("close timed out")
        .expect("close");
    assert_eq!(ws.close_frame().expect("answered").code, CloseCode::NORMAL);
}

#[tokio::test]
async fn the_program_sees_the_request_and_only_the_variables_passed_on() {
    let mut command = sockeye();
    command
        .env("SOCKEYE_TEST_PASSED", "passed on")
        .env("SOCKEYE_TEST_SECRET", "kept back");
    let server = Serve::start_with(
        command,
        &[
            "--exec",
            "env",
            "--passenv",
            "SOCKEYE_TEST_PASSED,SOCKEYE_TEST_UNSET",
            "--protocol",
            "chat",
        ],
    );
    let url = server.url("/some/path?x=1&y=two");
    let (mut ws, _) = tokio::time::timeout(
        TIMEOUT,
        ClientBuilder::new(&url)
            .header("X-Custom-Thing", "custom value")
            // As HTTP_PROXY it would pick the program's proxy (httpoxy).
            .header("Proxy", "http://attacker.example")
            .protocols(["superchat", "chat"])
            .connect(),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    assert_eq!(ws.protocol(), Some("chat"));
    let (messages, code, _) = until_closed(&mut ws).await;
    assert_eq!(code, CloseCode::NORMAL, "env exits 0");
    let env: Vec<String> = messages
        .iter()
        .map(|m| m.as_text().expect("text").to_owned())
        .collect();
    let get = |name: &str| {
        env.iter()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    let port = server.addr.port().to_string();
    for (name, value) in [
        ("REMOTE_ADDR", "127.0.0.1"),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", port.as_str()),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("REQUEST_URI", "/some/path?x=1&y=two"),
        ("PATH_INFO", "/some/path"),
        ("QUERY_STRING", "x=1&y=two"),
        ("SEC_WEBSOCKET_PROTOCOL", "chat"),
        ("HTTP_X_CUSTOM_THING", "custom value"),
        ("HTTP_SEC_WEBSOCKET_PROTOCOL", "superchat, chat"),
        ("HTTP_UPGRADE", "websocket"),
        ("SOCKEYE_TEST_PASSED", "passed on"),
    ] {
        assert_eq!(get(name).as_deref(), Some(value), "{name} in {env:#?}");
    }
    let remote_port: u16 = get("REMOTE_PORT")
        .and_then(|p| p.parse().ok())
        .expect("REMOTE_PORT is a port");
    assert_ne!(remote_port, 0);
    assert!(get("PATH").is_some(), "PATH is always passed on");
    assert!(get("HTTP_HOST").is_some());
    for absent in [
        "SOCKEYE_TEST_SECRET",
        "SOCKEYE_TEST_UNSET",
        "HOME",
        "NO_COLOR",
        "HTTP_PROXY",
    ] {
        assert_eq!(get(absent), None, "{absent} must not reach the program");
    }
}

#[tokio::test]
async fn the_exit_status_picks_the_close_code() {
    for (command, code, reason) in [
        ("sh -c 'echo bye; exit 0'", CloseCode::NORMAL, ""),
        (
            "sh -c 'echo bye; exit 3'",
            CloseCode::INTERNAL_ERROR,
            "program exited with status 3",
        ),
        (
            "sh -c 'echo bye; kill -9 $$'",
            CloseCode::INTERNAL_ERROR,
            "program killed by signal 9",
        ),
    ] {
        let server = Serve::start(&["--exec", command]);
        let mut ws = connect(&server.url("/")).await;
        let (messages, got_code, got_reason) = until_closed(&mut ws).await;
        assert_eq!(messages, [Message::text("bye")], "{command}");
        assert_eq!((got_code, got_reason.as_str()), (code, reason), "{command}");
    }
}

/// Whether process `pid` still exists (a zombie counts: it is not reaped).
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_peer_closing_gives_the_program_eof_then_sigterm_then_sigkill() {
    let dir = scratch("stubborn");
    let log = dir.join("log");
    let program = dir.join("stubborn.sh");
    // Reads to EOF, then ignores SIGTERM (noting it) and never exits.
    script(
        &program,
        &format!(
            "trap 'echo term >> {log}' TERM\n\
             echo \"pid $$\"\n\
             while read -r line; do echo \"got $line\"; done\n\
             echo eof >> {log}\n\
             while :; do sleep 1; done",
            log = log.display()
        ),
    );
    let server = Serve::start(&["--exec", program.to_str().unwrap(), "--exec-grace", "0.3"]);
    let mut ws = connect(&server.url("/")).await;
    let pid: u32 = next_text(&mut ws)
        .await
        .strip_prefix("pid ")
        .and_then(|pid| pid.parse().ok())
        .expect("the program's pid");
    ws.send(Message::text("x")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, "got x");
    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, ""))
        .await
        .expect("close timed out")
        .expect("close");
    // Gone, and reaped: not even a zombie is left.
    wait_until("the program is gone", || !process_exists(pid)).await;
    let noted = std::fs::read_to_string(&log).expect("the program's notes");
    assert_eq!(
        noted.lines().collect::<Vec<_>>(),
        ["eof", "term"],
        "EOF, then SIGTERM, then SIGKILL"
    );
}

#[tokio::test]
async fn max_forks_answers_503_beyond_the_limit_and_frees_the_place_on_exit() {
    let server = Serve::start(&["--exec", "cat", "--max-forks", "1"]);
    let mut first = connect(&server.url("/")).await;
    first.send(Message::text("one")).await.expect("send");
    assert_eq!(next_text(&mut first).await, "one");
    let upgrade = format!(
        "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    let answer = raw_exchange(server.addr, upgrade.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer:?}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer:?}"
    );
    first.close(CloseCode::NORMAL, "").await.expect("close");
    // The place comes back once cat has exited and been reaped.
    let deadline = Instant::now() + TIMEOUT;
    let mut second = loop {
        match sockeye::connect(&server.url("/")).await {
            Ok(ws) => break ws,
            Err(e) => {
                assert!(Instant::now() < deadline, "still refused: {e:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    second.send(Message::text("two")).await.expect("send");
    assert_eq!(next_text(&mut second).await, "two");
}

#[tokio::test]
async fn the_programs_stderr_is_logged_with_the_connection_id() {
    let server = Serve::start(&["--exec", "sh -c 'echo something-went-wrong >&2; cat'"]);
    let mut ws = connect(&server.url("/")).await;
    ws.send(Message::text("still served")).await.expect("send");
    assert_eq!(next_text(&mut ws).await, "still served");
    assert!(
        server.wait_for_log("something-went-wrong").await,
        "{}",
        server.log()
    );
    let line = server
        .log()
        .lines()
        .find(|line| line.contains("something-went-wrong"))
        .map(str::to_owned)
        .unwrap();
    assert!(line.contains("id="), "{line}");
    // What a program writes to stderr just before it exits is logged too.
    let server = Serve::start(&["--exec", "sh -c 'echo last-words >&2'"]);
    let mut ws = connect(&server.url("/")).await;
    let (_, code, _) = until_closed(&mut ws).await;
    assert_eq!(code, CloseCode::NORMAL);
    assert!(server.wait_for_log("last-words").await, "{}", server.log());
}

#[tokio::test]
async fn exec_binary_passes_raw_bytes_both_ways() {
    let server = Serve::start(&["--exec", "cat", "--exec-binary"]);
    let mut ws = connect(&server.url("/")).await;
    let sent: Vec<u8> = (0..=255u8)
        .chain(b"\n\r\n\0 no newline added".iter().copied())
        .collect();
    ws.send(Message::binary(sent.clone())).await.expect("send");
    // Text goes to the program as its bytes too, with no newline.
    ws.send(Message::text("txt")).await.expect("send");
    let mut expected = sent;
    expected.extend_from_slice(b"txt");
    let mut got = Vec::new();
    while got.len() < expected.len() {
        let message = next(&mut ws).await.expect("more bytes");
        assert!(message.as_text().is_none(), "binary messages only");
        got.extend_from_slice(message.payload());
    }
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_line_that_is_not_utf8_comes_as_binary_and_an_overlong_one_in_parts() {
    let server = Serve::start(&[
        "--exec",
        r"printf 'ok\n\377\376\nabcdefghij\n'",
        "--max-message-size",
        "4",
    ]);
    let mut ws = connect(&server.url("/")).await;
    let (messages, code, _) = until_closed(&mut ws).await;
    assert_eq!(code, CloseCode::NORMAL);
    assert_eq!(
        messages,
        [
            Message::text("ok"),
            Message::binary(vec![0xff, 0xfe]),
            Message::text("abcd"),
            Message::text("efgh"),
            Message::text("ij"),
        ]
    );
}

#[tokio::test]
async fn dir_runs_the_program_the_path_names_and_nothing_else() {
    let dir = scratch("dir");
    std::fs::create_dir(dir.join("sub")).unwrap();
    script(
        &dir.join("hello.sh"),
        "echo \"hello $SCRIPT_NAME $PATH_INFO\"",
    );
    script(
        &dir.join("sub/deeper.sh"),
        "echo \"deeper $SCRIPT_NAME $PATH_INFO\"",
    );
    script(&dir.join(".hidden.sh"), "echo hidden");
    std::fs::write(dir.join("plain.txt"), "not a program").unwrap();
    // A link out of the directory is never followed.
    let outside = scratch("dir-outside");
    script(&outside.join("escape.sh"), "echo escaped");
    std::os::unix::fs::symlink(outside.join("escape.sh"), dir.join("escape.sh")).unwrap();
    let server = Serve::start(&["--dir", dir.to_str().unwrap()]);
    for (path, expected) in [
        ("/hello.sh", "hello /hello.sh "),
        ("/hello.sh/a/b", "hello /hello.sh /a/b"),
        ("/sub/deeper.sh", "deeper /sub/deeper.sh "),
    ] {
        let mut ws = connect(&server.url(path)).await;
        let (messages, code, _) = until_closed(&mut ws).await;
        assert_eq!(messages, [Message::text(expected)], "{path}");
        assert_eq!(code, CloseCode::NORMAL, "{path}");
    }
    for path in [
        "/",
        "/missing.sh",
        "/plain.txt",
        "/.hidden.sh",
        "/sub",
        "/sub/",
        "/../dir-outside/escape.sh",
        "/sub/../hello.sh",
        "/escape.sh",
    ] {
        let upgrade = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            server.addr
        );
        let answer = raw_exchange(server.addr, upgrade.as_bytes());
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer:?}");
    }
}

#[test]
fn a_missing_program_or_bad_flags_are_usage_errors() {
    let missing = run(&["serve", "127.0.0.1:0", "--exec", "no-such-program-anywhere"]);
    assert_eq!(missing.code(), Some(2));
    assert!(
        missing.stderr.contains("no-such-program-anywhere"),
        "{}",
        missing.stderr
    );
    let quotes = run(&["serve", "127.0.0.1:0", "--exec", "cat 'unbalanced"]);
    assert_eq!(quotes.code(), Some(2));
    let both = run(&["serve", "127.0.0.1:0", "--exec", "cat", "--broadcast"]);
    assert_eq!(both.code(), Some(2));
    let no_dir = run(&["serve", "127.0.0.1:0", "--dir", "/no/such/directory/here"]);
    assert_eq!(no_dir.code(), Some(2));
}

#[test]
fn wscat_talks_to_a_program() {
    let server = Serve::start(&["--exec", "sh -c 'echo welcome; cat'"]);
    let mut command = Command::new(peer_tool("wscat"));
    command
        .arg("--no-color")
        .arg("-c")
        .arg(server.url("/"))
        .arg("-x")
        .arg("ping from wscat")
        .arg("-w")
        .arg("2");
    let running = Running::spawn(command);
    let finished = running.finish();
    assert!(finished.stdout.contains("welcome"), "{finished:?}");
    assert!(finished.stdout.contains("ping from wscat"), "{finished:?}");
}

#[tokio::test]
async fn over_wss_the_program_is_told_https_over_http2_and_http1() {
    let dir = scratch("wss");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let server = Serve::start(&[
        "--exec",
        "env",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let url = format!("wss://localhost:{}/tls?q=1", server.addr.port());
    for http2 in [true, false] {
        let (mut ws, response) = tokio::time::timeout(
            TIMEOUT,
            ClientBuilder::new(url.as_str())
                .add_root_certificate(made.cert.der().clone())
                .http2(http2)
                .connect(),
        )
        .await
        .expect("connect in time")
        .expect("connect over tls");
        assert_eq!(ws.get_ref().is_http2(), http2);
        assert_eq!(response.status(), if http2 { 200 } else { 101 });
        let (messages, code, _) = until_closed(&mut ws).await;
        assert_eq!(code, CloseCode::NORMAL);
        let env: Vec<&str> = messages.iter().filter_map(Message::as_text).collect();
        let version = if http2 { "HTTP/2.0" } else { "HTTP/1.1" };
        let port = format!("SERVER_PORT={}", server.addr.port());
        let protocol = format!("SERVER_PROTOCOL={version}");
        for expected in [
            "HTTPS=on",
            "SERVER_NAME=localhost",
            "QUERY_STRING=q=1",
            "PATH_INFO=/tls",
            "REMOTE_ADDR=127.0.0.1",
            &port,
            &protocol,
        ] {
            assert!(env.contains(&expected), "{expected} in {env:#?}");
        }
    }
}

/// The environment a program prints with `env` for a request to `url`,
/// as `NAME=value` lines.
async fn env_seen_at(url: &str) -> Vec<String> {
    let mut ws = connect(url).await;
    let mut lines = Vec::new();
    // websocketd ends the connection without a Close once `env` exits.
    while let Ok(Some(Ok(message))) = tokio::time::timeout(TIMEOUT, ws.next()).await {
        lines.extend(message.as_text().map(str::to_owned));
    }
    lines
}

#[tokio::test]
async fn the_environment_has_every_variable_websocketd_sets_with_the_same_values() {
    let sockeye_server = Serve::start(&["--exec", "env"]);
    let addr = support::unused_addr();
    let mut websocketd = Command::new(peer_tool("websocketd"));
    websocketd
        .arg(format!("--port={}", addr.port()))
        .arg("--address=127.0.0.1")
        .arg("--loglevel=error")
        .arg("env");
    let websocketd = Running::spawn(websocketd);
    let path = "/some/path?x=1&y=two";
    let ours = env_seen_at(&sockeye_server.url(path)).await;
    let deadline = Instant::now() + TIMEOUT;
    let theirs = loop {
        match sockeye::connect(&format!("ws://{addr}{path}")).await {
            Ok(ws) => {
                drop(ws);
                break env_seen_at(&format!("ws://{addr}{path}")).await;
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "websocketd does not answer: {e:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    drop(websocketd);
    let value = |env: &[String], name: &str| {
        env.iter()
            .find_map(|line| line.strip_prefix(&format!("{name}=")))
            .map(str::to_owned)
    };
    for line in &theirs {
        let name = line.split('=').next().unwrap();
        assert!(value(&ours, name).is_some(), "{name} is missing: {ours:#?}");
    }
    for same in [
        "AUTH_TYPE",
        "CONTENT_LENGTH",
        "PATH_INFO",
        "PATH_TRANSLATED",
        "QUERY_STRING",
        "REMOTE_ADDR",
        "REMOTE_HOST",
        "REQUEST_METHOD",
        "REQUEST_URI",
        "SCRIPT_NAME",
        "SERVER_NAME",
        "SERVER_PROTOCOL",
        "HTTP_UPGRADE",
        "HTTP_CONNECTION",
        "HTTP_SEC_WEBSOCKET_VERSION",
    ] {
        assert_eq!(value(&ours, same), value(&theirs, same), "{same}");
    }
}
