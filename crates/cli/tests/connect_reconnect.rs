//! `sockeye connect --reconnect`: connecting again after a lost
//! connection, with what stdin gave meanwhile, and not retrying what
//! cannot succeed.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use sockeye::{Message, ServerBuilder};
use support::{ChildGuard, OneShot, Running, TIMEOUT, connect, sockeye, unused_addr};

/// The next JSON event printed.
fn next_event(running: &Running) -> Value {
    let line = running.next_stdout_line().expect("an event");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line:?}: {e}"))
}

#[test]
fn reconnects_after_a_drop_and_sends_what_came_meanwhile() {
    // Two connections in turn on one listener (no port to hand over): the
    // first echoes one message and drops TCP without a Close; the second
    // records until the client closes.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("ws://{}/", listener.local_addr().expect("address"));
    let server = two_connections(listener);
    let mut command = sockeye();
    command.args(["connect", &url, "--jsonl", "--reconnect"]);
    let mut running = Running::spawn(command);
    assert_eq!(next_event(&running)["type"], "open");
    running.write_stdin(b"{\"type\":\"text\",\"data\":\"a\"}\n");
    assert_eq!(next_event(&running)["data"], "a");
    let mut event = next_event(&running);
    while event["type"] != "close" {
        event = next_event(&running);
    }
    assert_eq!(event["clean"], false, "{event}");
    running.write_stdin(b"{\"type\":\"text\",\"data\":\"b\"}\n");
    assert_eq!(next_event(&running)["type"], "open");
    assert_eq!(next_event(&running)["data"], "b");
    running.close_stdin();
    let finished = running.finish();
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert!(
        finished.stderr.contains("reconnecting in") && finished.stderr.contains("(attempt 1)"),
        "{finished:?}"
    );
    let (messages, code) = server.join().expect("server");
    assert_eq!(messages, [Message::text("b")]);
    assert_eq!(code, Some(1000));
}

/// A server on `listener` for two connections in turn: the first echoes
/// one message and drops TCP without a Close; the second echoes until the
/// client closes. Returns what the second got and its Close's code.
fn two_connections(
    listener: std::net::TcpListener,
) -> std::thread::JoinHandle<(Vec<Message>, Option<u16>)> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let accept = || async {
                tokio::time::timeout(TIMEOUT, listener.accept())
                    .await
                    .expect("no connection in time")
                    .expect("accept")
                    .0
            };
            let mut ws = sockeye::accept(accept().await).await.expect("accept");
            let first = ws.next().await.expect("a message").expect("receive");
            ws.send(first).await.expect("echo");
            tokio::io::AsyncWriteExt::shutdown(ws.get_mut())
                .await
                .expect("shutdown");
            drop(ws);
            let mut ws = sockeye::accept(accept().await).await.expect("accept");
            let mut got = Vec::new();
            while let Some(message) = tokio::time::timeout(TIMEOUT, ws.next())
                .await
                .expect("the client went quiet")
            {
                let message = message.expect("receive");
                got.push(message.clone());
                ws.send(message).await.expect("echo");
            }
            (got, ws.close_frame().map(|f| f.code.as_u16()))
        })
    })
}

#[test]
fn a_4xx_refusal_is_not_retried() {
    let server = OneShot::start(|tcp| async move {
        let refused = ServerBuilder::new()
            .accept_with(tcp, |_| async {
                Err(http::Response::builder()
                    .status(http::StatusCode::FORBIDDEN)
                    .body(bytes::Bytes::new())
                    .expect("response"))
            })
            .await;
        assert!(refused.is_err());
    });
    let finished = connect(&server.url("/"), &["--reconnect"], b"");
    server.join();
    assert_eq!(finished.code(), Some(4), "{finished:?}");
    assert!(finished.one_stderr_line().contains("403"), "{finished:?}");
}

#[test]
fn keeps_trying_while_nothing_listens_until_ctrl_c() {
    let dir = std::env::temp_dir().join(format!("sockeye-reconnect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("stderr");
    let child = sockeye()
        .args([
            "connect",
            &format!("ws://{}/", unused_addr()),
            "--reconnect",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn sockeye");
    let mut child = ChildGuard::new(child);
    let deadline = Instant::now() + TIMEOUT;
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("(attempt 3)")
    {
        assert!(
            Instant::now() < deadline,
            "no third attempt: {:?}",
            std::fs::read_to_string(&log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.signal("INT");
    let status = child.try_wait_for(TIMEOUT).expect("sockeye exits");
    assert_eq!(status.code(), Some(130));
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("refused"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_tls_failure_is_not_retried() {
    // A plain WebSocket server: the TLS handshake fails at once.
    let server = OneShot::start(|tcp| async move {
        let _ = sockeye::accept(tcp).await;
    });
    let url = format!("wss://127.0.0.1:{}/", server.addr.port());
    let finished = connect(&url, &["--reconnect"], b"");
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert!(!finished.stderr.contains("reconnecting"), "{finished:?}");
    drop(server);
}
