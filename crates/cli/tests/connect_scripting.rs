//! End-to-end tests of `sockeye connect`'s scripting modes (`--jsonl`,
//! `--binary`, `-0`, `--one-message`, `--execute`), its connection options
//! and its exit statuses, against `sockeye serve` or a server written here
//! with the `sockeye` library.

mod support;

use std::io::Write as _;
use std::process::Stdio;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sockeye::{Accept, CloseCode, Message, ServerBuilder};
use support::{ChildGuard, Finished, OneShot, Running, Serve, TIMEOUT, connect, sockeye};
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

/// Every message the client sends, until its Close (answered), with the
/// Close's code.
async fn collect(ws: &mut sockeye::WebSocket<TcpStream>) -> (Vec<Message>, Option<u16>) {
    let mut messages = Vec::new();
    while let Some(message) = tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("the client went quiet")
    {
        messages.push(message.expect("receive"));
    }
    (messages, ws.close_frame().map(|f| f.code.as_u16()))
}

/// A server that records what the client sends until it closes.
fn recorder() -> OneShot<(Vec<Message>, Option<u16>)> {
    OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        collect(&mut ws).await
    })
}

/// The JSON objects of a `--jsonl` stdout.
fn events(finished: &Finished) -> Vec<Value> {
    finished
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}")))
        .collect()
}

#[test]
fn jsonl_prints_open_messages_and_close_as_objects() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = ServerBuilder::new()
            .accept_with(tcp, |_| async { Ok(Accept::new().protocol("chat")) })
            .await
            .expect("accept");
        ws.send(Message::text("héllo")).await.expect("send");
        ws.send(Message::binary(vec![0, 1, 254, 255]))
            .await
            .expect("send");
        ws.close(CloseCode::from(4000), "bye").await.expect("close");
    });
    let finished = connect(
        &server.url("/"),
        // The server drives: with no input the client would close at
        // once, so it waits for the server's close.
        &[
            "--jsonl",
            "--protocol",
            "chat",
            "--no-deflate",
            "--wait",
            "30",
        ],
        b"",
    );
    server.join();
    assert_eq!(finished.code(), Some(3), "{finished:?}");
    let events = events(&finished);
    assert_eq!(events.len(), 4, "{events:?}");
    assert_eq!(events[0]["type"], "open");
    assert_eq!(events[0]["protocol"], "chat");
    assert_eq!(events[0]["extensions"], Value::Null);
    assert_eq!(events[0]["headers"]["upgrade"], "websocket");
    assert_eq!(events[1], json!({"type": "text", "data": "héllo"}));
    assert_eq!(events[2], json!({"type": "binary", "data": "AAH+/w=="}));
    assert_eq!(
        events[3],
        json!({"type": "close", "code": 4000, "reason": "bye", "clean": true})
    );
}

#[test]
fn jsonl_open_names_the_agreed_deflate() {
    let server = Serve::start(&[]);
    let finished = connect(&server.url("/"), &["--jsonl"], b"");
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let events = events(&finished);
    let extensions = events[0]["extensions"].as_str().unwrap_or_default();
    assert!(extensions.starts_with("permessage-deflate"), "{events:?}");
    assert_eq!(events[0]["protocol"], Value::Null);
}

#[test]
fn jsonl_input_sends_text_binary_ping_and_close() {
    let server = recorder();
    let input = concat!(
        r#"{"type":"text","data":"one"}"#,
        "\n\n",
        r#"{"type":"binary","data":"AP8="}"#,
        "\n",
        r#"{"type":"ping","data":"are you there"}"#,
        "\n",
        r#"{"type":"close","code":4001,"reason":"done"}"#,
        "\n",
        r#"{"type":"text","data":"after the close"}"#,
        "\n",
    );
    let finished = connect(&server.url("/"), &["--jsonl"], input.as_bytes());
    let (messages, code) = server.join();
    assert_eq!(
        messages,
        [Message::text("one"), Message::binary(vec![0, 0xff])]
    );
    assert_eq!(code, Some(4001));
    // The server echoed the Close: its 4001 is what the client reports.
    assert_eq!(finished.code(), Some(3), "{finished:?}");
    let last = events(&finished).pop().expect("a close event");
    assert_eq!(
        last,
        json!({"type": "close", "code": 4001, "reason": "done", "clean": true})
    );
}

#[test]
fn jsonl_ping_is_answered_by_a_pong_event() {
    let server = Serve::start(&[]);
    let mut command = sockeye();
    command
        .args(["connect", &server.url("/"), "--jsonl", "--print-ping-rtts"])
        .arg("--no-deflate");
    let mut running = Running::spawn(command);
    let open: Value = serde_json::from_str(&running.next_stdout_line().expect("open")).unwrap();
    assert_eq!(open["type"], "open");
    running.write_stdin(b"{\"type\":\"ping\",\"data\":\"x\"}\n");
    let pong: Value = serde_json::from_str(&running.next_stdout_line().expect("pong")).unwrap();
    assert_eq!(pong["type"], "pong", "{pong}");
    assert_eq!(pong["data"], "x", "{pong}");
    assert!(
        pong["rtt_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{pong}"
    );
    running.close_stdin();
    let finished = running.finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(finished.stderr.contains("ping rtt"), "{finished:?}");
}

/// The server's Pings and unasked Pongs are events too, text payloads as
/// `data` and others as `base64`; the Ping is answered with its payload
/// (R-CF-04), and an unasked Pong carries no round-trip time.
#[test]
fn jsonl_prints_the_servers_pings_and_pongs() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        ws.ping("hello").expect("ping");
        ws.send(Message::text("after the ping"))
            .await
            .expect("send");
        let pong = tokio::time::timeout(TIMEOUT, ws.recv_incoming())
            .await
            .expect("the client answers");
        assert_eq!(
            pong.map(Result::unwrap),
            Some(sockeye::Incoming::Pong("hello".into()))
        );
        // An unasked Pong, FIN and opcode 0xA, two bytes unmasked, goes
        // out raw: the library sends only Pings.
        ws.get_mut()
            .write_all(&[0x8a, 2, 0, 255])
            .await
            .expect("raw pong");
        ws.close(CloseCode::NORMAL, "").await.expect("close");
    });
    // Without --wait the client's close on the empty input could reach
    // the server before the Pong it expects.
    let finished = connect(
        &server.url("/"),
        &["--jsonl", "--no-deflate", "--wait", "30"],
        b"",
    );
    server.join();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let events = events(&finished);
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["open", "ping", "text", "pong", "close"],
        "{events:?}"
    );
    assert_eq!(events[1], json!({"type": "ping", "data": "hello"}));
    assert_eq!(events[3], json!({"type": "pong", "base64": "AP8="}));
}

#[test]
fn bad_jsonl_input_is_a_usage_error_after_a_clean_close() {
    let server = recorder();
    let input = b"{\"type\":\"text\",\"data\":\"fine\"}\n{\"type\":\"shout\"}\n";
    let finished = connect(&server.url("/"), &["--jsonl"], input);
    let (messages, code) = server.join();
    assert_eq!(messages, [Message::text("fine")]);
    assert_eq!(code, Some(1000));
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(
        line.contains("line 2") && line.contains("shout"),
        "{line:?}"
    );
    let events = events(&finished);
    assert!(
        events.iter().any(|e| e["type"] == "error"),
        "no error event: {events:?}"
    );
}

/// Runs `sockeye connect URL ARGS...` with `input` on stdin from a file
/// and stdout to a file, for exact bytes; returns the exit code, stdout
/// and stderr.
fn connect_raw(url: &str, args: &[&str], input: &[u8]) -> (Option<i32>, Vec<u8>, String) {
    let dir = std::env::temp_dir().join(format!(
        "sockeye-connect-raw-{}-{}",
        std::process::id(),
        std::thread::current()
            .name()
            .unwrap_or("t")
            .replace("::", "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (stdin, stdout, stderr) = (dir.join("in"), dir.join("out"), dir.join("err"));
    std::fs::write(&stdin, input).unwrap();
    let child = sockeye()
        .arg("connect")
        .arg(url)
        .args(args)
        .stdin(std::fs::File::open(&stdin).unwrap())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .expect("spawn sockeye");
    let mut child = ChildGuard::new(child);
    let status = child
        .try_wait_for(TIMEOUT)
        .expect("sockeye did not exit in time");
    let out = std::fs::read(&stdout).unwrap();
    let err = std::fs::read_to_string(&stderr).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (status.code(), out, err)
}

#[test]
fn binary_stdin_comes_back_byte_for_byte() {
    let server = Serve::start(&[]);
    let input: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(7) + i / 251).to_le_bytes()[0])
        .collect();
    for args in [&["--binary"][..], &["-b", "--chunk-size", "1000"][..]] {
        let (code, stdout, stderr) = connect_raw(&server.url("/"), args, &input);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(stdout == input, "{args:?}: {} bytes back", stdout.len());
    }
}

#[test]
fn binary_messages_printed_as_hex_or_base64_end_with_a_newline() {
    let server = Serve::start(&[]);
    for (format, want) in [("hex", &b"010203\n"[..]), ("base64", &b"AQID\n"[..])] {
        let args = ["-b", "--binary-format", format];
        let (code, stdout, stderr) = connect_raw(&server.url("/"), &args, &[1, 2, 3]);
        assert_eq!(code, Some(0), "{format}: {stderr}");
        assert_eq!(stdout, want, "{format}");
    }
}

#[test]
fn binary_chunks_are_at_most_the_chunk_size() {
    let server = recorder();
    let input = vec![b'x'; 2500];
    let finished = connect(
        &server.url("/"),
        &["--binary", "--chunk-size", "1000"],
        &input,
    );
    let (messages, _) = server.join();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(messages.iter().all(|m| m.is_binary() && m.len() <= 1000));
    let total: usize = messages.iter().map(Message::len).sum();
    assert_eq!(total, 2500);
}

#[test]
fn binary_lines_are_one_binary_message_each() {
    let server = recorder();
    let finished = connect(
        &server.url("/"),
        &["--binary", "--lines"],
        b"one\ntwo\r\n\nlast",
    );
    let (messages, _) = server.join();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(
        messages,
        [
            Message::binary(&b"one"[..]),
            Message::binary(&b"two\r"[..]),
            Message::binary(&b""[..]),
            Message::binary(&b"last"[..]),
        ]
    );
}

#[test]
fn nul_separated_messages_keep_their_newlines_both_ways() {
    let server = Serve::start(&[]);
    let finished = connect(&server.url("/"), &["-0"], b"a\nb\0c\0");
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "a\nb\0c\0");
}

#[test]
fn one_message_sends_all_of_stdin_at_once() {
    let server = recorder();
    let finished = connect(&server.url("/"), &["--one-message"], b"line 1\nline 2\n");
    let (messages, code) = server.join();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(messages, [Message::text("line 1\nline 2\n")]);
    assert_eq!(code, Some(1000));
}

#[test]
fn stdin_over_the_message_limit_is_a_usage_error() {
    let server = recorder();
    let finished = connect(
        &server.url("/"),
        &["--one-message", "--max-message-size", "10"],
        b"eleven bytes",
    );
    let (messages, _) = server.join();
    assert!(messages.is_empty());
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(
        finished.one_stderr_line().contains("--max-message-size"),
        "{finished:?}"
    );
}

#[test]
fn text_stdin_that_is_not_utf8_is_a_usage_error() {
    let server = recorder();
    let finished = connect(&server.url("/"), &[], b"ok\n\xff\xfe\n");
    let (messages, _) = server.join();
    assert_eq!(messages, [Message::text("ok")]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(
        finished.one_stderr_line().contains("--binary"),
        "{finished:?}"
    );
}

#[test]
fn execute_sends_its_messages_then_closes_without_reading_stdin() {
    let server = Serve::start(&[]);
    let mut command = sockeye();
    command.args(["connect", &server.url("/"), "-x", "one", "--execute", "two"]);
    // Stdin stays open: -x must not wait for it.
    let running = Running::spawn(command);
    let finished = running.finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "one\ntwo\n");
}

#[test]
fn execute_with_max_messages_waits_for_that_many() {
    // The server answers each message twice, the second time late.
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let first = ws.next().await.expect("a message").expect("receive");
        ws.send(first.clone()).await.expect("send");
        tokio::time::sleep(Duration::from_millis(300)).await;
        ws.send(Message::text("late")).await.expect("send");
        collect(&mut ws).await
    });
    let finished = connect(&server.url("/"), &["-x", "hi", "-n", "2"], b"");
    let (after, code) = server.join();
    assert!(after.is_empty(), "{after:?}");
    assert_eq!(code, Some(1000));
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "hi\nlate\n");
}

#[test]
fn max_messages_closes_while_stdin_is_still_open() {
    let server = Serve::start(&[]);
    let mut command = sockeye();
    command.args(["connect", &server.url("/"), "-n", "1"]);
    let mut running = Running::spawn(command);
    running.write_stdin(b"only this\n");
    let finished = running.finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "only this\n");
}

#[test]
fn wait_ends_early_once_max_messages_arrived() {
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let first = ws.next().await.expect("a message").expect("receive");
        tokio::time::sleep(Duration::from_millis(200)).await;
        ws.send(first).await.expect("send");
        collect(&mut ws).await
    });
    // A wait far longer than the test's limit: -n must end it.
    let finished = connect(
        &server.url("/"),
        &["-x", "later", "--wait", "600", "-n", "1"],
        b"",
    );
    let (after, code) = server.join();
    assert!(after.is_empty());
    assert_eq!(code, Some(1000));
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "later\n");
}

#[test]
fn wait_then_closes_by_itself() {
    let server = Serve::start(&[]);
    let finished = connect(&server.url("/"), &["-x", "hi", "--wait", "0.2"], b"");
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "hi\n");
}

#[test]
fn ctrl_c_closes_with_1001_and_exits_130() {
    let (got_first, first) = std::sync::mpsc::channel();
    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let message = ws.next().await.expect("a message").expect("receive");
        got_first.send(()).expect("tell the test");
        let (mut rest, code) = collect(&mut ws).await;
        rest.insert(0, message);
        (rest, code)
    });
    let mut child = sockeye()
        .args(["connect", &server.url("/")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sockeye");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let mut child = ChildGuard::new(child);
    stdin.write_all(b"first\n").expect("write stdin");
    first.recv_timeout(TIMEOUT).expect("the message arrived");
    child.signal("INT");
    let status = child.try_wait_for(TIMEOUT).expect("sockeye did not exit");
    let (messages, code) = server.join();
    assert_eq!(messages, [Message::text("first")]);
    assert_eq!(code, Some(1001));
    assert_eq!(status.code(), Some(130));
    drop(stdin);
}

#[test]
fn no_pong_within_the_ping_timeout_exits_1() {
    // A server that accepts, then never reads: no Pong ever comes.
    let server = OneShot::start(|tcp| async move {
        let ws = sockeye::accept(tcp).await.expect("accept");
        tokio::time::sleep(TIMEOUT / 2).await;
        drop(ws);
    });
    let mut command = sockeye();
    command.args([
        "connect",
        &server.url("/"),
        "--ping-interval",
        "0.1",
        "--ping-timeout",
        "0.3",
    ]);
    let running = Running::spawn(command);
    let finished = running.finish();
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert!(finished.stderr.contains("no pong"), "{finished:?}");
    drop(server);
}

#[test]
fn ping_interval_times_each_pong() {
    let server = Serve::start(&[]);
    let mut command = sockeye();
    command.args([
        "connect",
        &server.url("/"),
        "--jsonl",
        "--ping-interval",
        "0.05",
        "--print-ping-rtts",
    ]);
    let mut running = Running::spawn(command);
    let mut pongs = 0;
    while pongs < 2 {
        let line = running.next_stdout_line().expect("an event");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["type"] == "pong" {
            pongs += 1;
        }
    }
    running.close_stdin();
    let finished = running.finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(finished.stderr.contains("ping rtt"), "{finished:?}");
}

#[test]
fn connect_timeout_bounds_a_tls_handshake_that_never_ends() {
    // Accepts TCP, then says nothing: the TLS handshake waits for ever.
    let server = OneShot::start(|tcp| async move {
        tokio::time::sleep(TIMEOUT / 2).await;
        drop(tcp);
    });
    let url = format!("wss://127.0.0.1:{}/", server.addr.port());
    let finished = connect(&url, &["--connect-timeout", "0.3"], b"");
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(
        line.contains("timed out") && line.contains(&url),
        "{line:?}"
    );
    drop(server);
}

#[test]
fn bad_durations_and_sizes_are_usage_errors() {
    for args in [
        &["--connect-timeout", "soon"][..],
        &["--wait", "-1"][..],
        &["--chunk-size", "0"][..],
        &["-n", "0"][..],
        &["--ping-timeout", "1"][..],
        &["--lines"][..],
        &["--jsonl", "--binary"][..],
    ] {
        let mut command = sockeye();
        command.args(["connect", "ws://127.0.0.1:9/"]).args(args);
        let finished = Running::spawn(command).finish();
        assert_eq!(finished.code(), Some(2), "{args:?}: {finished:?}");
    }
}
