//! End-to-end tests of `sockeye serve`'s access log: a line per
//! WebSocket connection when it ends, as text or JSON.

mod support;

use futures_util::StreamExt;
use sockeye::{CloseCode, Message};
use support::{Serve, TIMEOUT, run, sockeye};

type Client = sockeye::WebSocket<sockeye::ClientStream>;

async fn connect(url: &str) -> Client {
    tokio::time::timeout(TIMEOUT, sockeye::connect(url))
        .await
        .expect("connect timed out")
        .unwrap_or_else(|e| panic!("connect to {url}: {e:?}"))
}

async fn next(ws: &mut Client) -> Message {
    tokio::time::timeout(TIMEOUT, ws.next())
        .await
        .expect("no message in time")
        .expect("a message")
        .expect("no error")
}

/// Sends two messages (5 and 3 bytes), reads their echoes and closes with
/// 1000.
async fn two_echoes_then_close(url: &str) {
    let mut ws = connect(url).await;
    ws.send(Message::text("hello")).await.expect("send");
    ws.send(Message::binary(vec![1u8, 2, 3]))
        .await
        .expect("send");
    assert_eq!(next(&mut ws).await, Message::text("hello"));
    assert_eq!(next(&mut ws).await, Message::binary(vec![1u8, 2, 3]));
    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, "done"))
        .await
        .expect("close timed out")
        .expect("close");
}

/// The log line holding `needle`, once there.
async fn log_line(server: &Serve, needle: &str) -> String {
    assert!(
        server.wait_for_log(needle).await,
        "no {needle:?} in the log: {:?}",
        server.log()
    );
    server
        .log()
        .lines()
        .find(|line| line.contains(needle))
        .expect("the line")
        .to_owned()
}

#[tokio::test]
async fn each_connection_gets_an_access_line_at_info_level() {
    let server = Serve::start(&["--route", "/chat=echo"]);
    two_echoes_then_close(&server.url("/chat/room?x=1")).await;
    let line = log_line(&server, "access").await;
    for field in [
        " INFO ",
        "peer=127.0.0.1:",
        "path=/chat/room",
        "messages_in=2",
        "bytes_in=8",
        "messages_out=2",
        "bytes_out=8",
        "close_code=1000",
        "duration=",
    ] {
        assert!(line.contains(field), "{field:?} missing from {line:?}");
    }
}

#[tokio::test]
async fn json_access_lines_are_one_object_per_line() {
    let server = Serve::start(&["--log-format", "json", "--protocol", "chat"]);
    let url = server.url("/json");
    let (mut ws, _) = tokio::time::timeout(
        TIMEOUT,
        sockeye::ClientBuilder::new(url)
            .protocols(["chat"])
            .connect(),
    )
    .await
    .expect("connect timed out")
    .expect("connect");
    ws.send(Message::text("hi")).await.expect("send");
    assert_eq!(next(&mut ws).await, Message::text("hi"));
    ws.close(CloseCode::GOING_AWAY, "").await.expect("close");

    let line = log_line(&server, "\"event\":\"access\"").await;
    let record: serde_json::Value = serde_json::from_str(&line).expect("a JSON object");
    assert_eq!(record["path"], "/json", "{record}");
    assert_eq!(record["protocol"], "chat", "{record}");
    assert_eq!(record["messages_in"], 1, "{record}");
    assert_eq!(record["bytes_in"], 2, "{record}");
    assert_eq!(record["messages_out"], 1, "{record}");
    assert_eq!(record["bytes_out"], 2, "{record}");
    assert_eq!(record["close_code"], 1001, "{record}");
    assert!(
        record["peer"]
            .as_str()
            .is_some_and(|peer| peer.starts_with("127.0.0.1:")),
        "{record}"
    );
    assert!(record["duration_secs"].is_f64(), "{record}");
    assert_eq!(record["level"], "INFO", "{record}");
}

#[tokio::test]
async fn with_json_every_line_of_the_log_is_a_json_object() {
    let mut server = Serve::start(&["--log-format", "json", "--route", "/a=echo"]);
    two_echoes_then_close(&server.url("/a")).await;
    let _ = log_line(&server, "\"event\":\"access\"").await;
    server.child.signal("TERM");
    let status = server.child.try_wait_for_async(TIMEOUT).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    let log = server.log();
    let records: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    let messages: Vec<&str> = records
        .iter()
        .map(|record| record["message"].as_str().expect("a message"))
        .collect();
    for (expected, level) in [
        ("listening on ws://", "INFO"),
        ("route", "INFO"),
        ("access", "INFO"),
        ("shutting down", "INFO"),
    ] {
        let record = records
            .iter()
            .find(|record| {
                record["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with(expected))
            })
            .unwrap_or_else(|| panic!("no {expected:?} in {messages:?}"));
        assert_eq!(record["level"], level, "{record}");
        assert!(record["timestamp"].is_string(), "{record}");
    }
    let route = records
        .iter()
        .find(|record| record["message"] == "route" && record["path"] == "/a")
        .unwrap_or_else(|| panic!("no route line for /a in {log}"));
    assert_eq!(route["mode"], "echo", "{route}");
}

#[tokio::test]
async fn broadcast_connections_count_what_they_heard() {
    let server = Serve::start(&["--broadcast"]);
    let mut speaker = connect(&server.url("/room")).await;
    let mut listener = connect(&server.url("/room")).await;
    speaker.send(Message::text("four")).await.expect("send");
    assert_eq!(next(&mut listener).await, Message::text("four"));
    listener.close(CloseCode::NORMAL, "").await.expect("close");
    let line = log_line(&server, "messages_out=1").await;
    assert!(line.contains("messages_in=0"), "{line:?}");
    assert!(line.contains("bytes_out=4"), "{line:?}");
    speaker.close(CloseCode::NORMAL, "").await.expect("close");
    let line = log_line(&server, "messages_in=1").await;
    assert!(line.contains("bytes_in=4"), "{line:?}");
    assert!(line.contains("messages_out=0"), "{line:?}");
}

#[tokio::test]
async fn no_access_lines_when_their_target_is_filtered_out() {
    let mut command = sockeye();
    command.env("RUST_LOG", "info,sockeye::serve::access=warn");
    let mut server = Serve::start_with(command, &["--log-format", "text"]);
    two_echoes_then_close(&server.url("/")).await;
    // The process ends, so its log is complete.
    server.child.signal("TERM");
    let status = server.child.try_wait_for_async(TIMEOUT).await;
    assert_eq!(status.and_then(|s| s.code()), Some(0));
    assert!(!server.log().contains("access"), "{:?}", server.log());
}

#[test]
fn an_unknown_log_format_is_a_usage_error() {
    let finished = run(&["serve", "127.0.0.1:0", "--log-format", "xml"]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
}

#[tokio::test]
async fn a_program_connection_gets_its_access_line() {
    let server = Serve::start(&["--exec", "cat"]);
    let mut ws = connect(&server.url("/prog?q=1")).await;
    for text in ["hello", "hi"] {
        ws.send(Message::text(text)).await.expect("send");
        assert_eq!(next(&mut ws).await, Message::text(text));
    }
    tokio::time::timeout(TIMEOUT, ws.close(CloseCode::NORMAL, "done"))
        .await
        .expect("close timed out")
        .expect("close");
    let line = log_line(&server, "path=/prog").await;
    for field in [
        " INFO ",
        "access",
        "messages_in=2",
        "bytes_in=7",
        "messages_out=2",
        "bytes_out=7",
        "close_code=1000",
    ] {
        assert!(line.contains(field), "{field:?} missing from {line:?}");
    }
}
