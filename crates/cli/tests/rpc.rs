//! End-to-end tests of `sockeye rpc` and `sockeye connect --jsonrpc`
//! against a sockeye-rpc server running in the test, on loopback.

mod support;

use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use sockeye_rpc::{CallError, Config, ErrorObject, Methods};
use support::{Finished, Running, TIMEOUT, sockeye, unused_addr};
use tokio::sync::mpsc;

/// A sockeye-rpc server on its own runtime, serving [`methods`] on every
/// connection, with the notifications it received.
struct Server {
    url: String,
    notes: std::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    runtime: tokio::runtime::Runtime,
}

impl Server {
    fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("test runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let url = format!("ws://{}/", listener.local_addr().expect("address"));
        let (tx, notes) = mpsc::unbounded_channel();
        let methods = methods(tx);
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let methods = methods.clone();
                tokio::spawn(async move {
                    if let Ok(ws) = sockeye::accept(tcp).await {
                        let peer = sockeye_rpc::spawn(ws, methods, (), Config::default());
                        peer.closed().await;
                    }
                });
            }
        });
        Server {
            url,
            notes: std::sync::Mutex::new(notes),
            runtime,
        }
    }

    /// The next notification the server received, within [`TIMEOUT`].
    fn next_note(&self) -> Option<String> {
        let mut notes = self.notes.lock().expect("notes");
        self.runtime
            .block_on(async { tokio::time::timeout(TIMEOUT, notes.recv()).await })
            .ok()
            .flatten()
    }
}

/// `subtract`, `fail` (an error with data), `sleep` (milliseconds),
/// `big` (a number no 64-bit type holds), `callback` (calls the client
/// back and answers with the error code it got), and the notification
/// `log`.
fn methods(notes: mpsc::UnboundedSender<String>) -> Methods<()> {
    let mut methods = Methods::new();
    methods
        .sync_method("subtract", |_, (a, b): (i64, i64)| {
            Ok::<_, ErrorObject>(a - b)
        })
        .method("fail", |_, ()| async {
            Err::<(), _>(
                ErrorObject::new(42, "no luck")
                    .with_data(&json!({"why": "asked to"}))
                    .expect("data"),
            )
        })
        .method("sleep", |_, (ms,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, ErrorObject>(ms)
        })
        .raw_method("big", |_, _| async {
            Ok(RawValue::from_string("123456789012345678901234567890".to_owned()).expect("raw"))
        })
        .method("callback", |cx, ()| async move {
            match cx.peer().call_raw("whoami", &()).await {
                Err(CallError::Error(error)) => Ok(error.code),
                other => Err(ErrorObject::new(1, format!("unexpected: {other:?}"))),
            }
        })
        .notification("log", move |_, (text,): (String,)| {
            let _ = notes.send(text);
            async {}
        });
    methods
}

/// Runs `sockeye rpc ARGS...` with no input.
fn rpc(args: &[&str]) -> Finished {
    let mut command = sockeye();
    command.arg("rpc").args(args);
    let mut running = Running::spawn(command);
    running.close_stdin();
    running.finish()
}

#[test]
fn rpc_prints_the_result_and_exits_0() {
    let server = Server::start();
    let done = rpc(&[&server.url, "subtract", "[42, 23]"]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, "19\n");
    assert!(done.stderr.is_empty(), "{done:?}");
}

#[test]
fn rpc_prints_numbers_as_the_server_wrote_them() {
    let server = Server::start();
    let done = rpc(&[&server.url, "big"]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, "123456789012345678901234567890\n");
}

#[test]
fn rpc_prints_pretty_json_when_asked() {
    let server = Server::start();
    let done = rpc(&["--pretty", &server.url, "sleep", "[1]"]);
    assert_eq!(done.stdout, "1\n");
    let done = rpc(&["--pretty", &server.url, "fail"]);
    assert_eq!(
        done.stdout,
        "{\n  \"code\": 42,\n  \"message\": \"no luck\",\n  \"data\": {\n    \"why\": \"asked to\"\n  }\n}\n"
    );
}

#[test]
fn rpc_error_answer_prints_the_error_object_and_exits_3() {
    let server = Server::start();
    let done = rpc(&[&server.url, "fail"]);
    assert_eq!(done.code(), Some(3), "{done:?}");
    let error: Value = serde_json::from_str(&done.stdout).expect("JSON on stdout");
    assert_eq!(
        error,
        json!({"code": 42, "message": "no luck", "data": {"why": "asked to"}})
    );
    assert!(
        done.one_stderr_line().contains("error 42: no luck"),
        "{done:?}"
    );
}

#[test]
fn rpc_unknown_method_exits_3_with_32601() {
    let server = Server::start();
    let done = rpc(&[&server.url, "nope", "{}"]);
    assert_eq!(done.code(), Some(3), "{done:?}");
    let error: Value = serde_json::from_str(&done.stdout).expect("JSON on stdout");
    assert_eq!(error["code"], json!(-32601));
}

#[test]
fn rpc_params_that_are_not_an_array_or_object_are_a_usage_error() {
    // No server: the arguments are refused before connecting.
    let url = format!("ws://{}/", unused_addr());
    for (params, needle) in [
        ("42", "a number"),
        ("\"x\"", "a string"),
        ("[1,", "not JSON"),
    ] {
        let done = rpc(&[&url, "subtract", params]);
        assert_eq!(done.code(), Some(2), "{params}: {done:?}");
        let line = done.one_stderr_line();
        assert!(
            line.contains("PARAMS_JSON") && line.contains(needle),
            "{line}"
        );
        assert!(done.stdout.is_empty());
    }
}

#[test]
fn rpc_connection_refused_exits_1() {
    let url = format!("ws://{}/", unused_addr());
    let done = rpc(&[&url, "subtract", "[1, 2]"]);
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert!(
        done.one_stderr_line().contains("cannot connect"),
        "{done:?}"
    );
}

#[test]
fn rpc_without_an_answer_in_time_exits_5() {
    let server = Server::start();
    let started = std::time::Instant::now();
    let done = rpc(&["--timeout", "0.3", &server.url, "sleep", "[5000]"]);
    assert_eq!(done.code(), Some(5), "{done:?}");
    assert!(
        done.one_stderr_line().contains("no answer within"),
        "{done:?}"
    );
    assert!(done.stdout.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn rpc_notify_sends_and_exits_0() {
    let server = Server::start();
    let done = rpc(&["--notify", &server.url, "log", r#"["hello"]"#]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(done.stdout.is_empty(), "{done:?}");
    assert_eq!(server.next_note().as_deref(), Some("hello"));
}

#[test]
fn rpc_answers_calls_from_the_server_with_32601() {
    let server = Server::start();
    let done = rpc(&[&server.url, "callback"]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, "-32601\n");
}

#[test]
fn rpc_batch_prints_the_answers_in_order() {
    let server = Server::start();
    let file = std::env::temp_dir().join(format!("sockeye-rpc-batch-{}.json", std::process::id()));
    std::fs::write(
        &file,
        r#"[{"method":"sleep","params":[50]},{"method":"log","params":["b"],"notify":true},
            {"method":"subtract","params":[5,3]},{"method":"fail"}]"#,
    )
    .expect("write the batch");
    let done = rpc(&["--batch", file.to_str().expect("path"), &server.url]);
    std::fs::remove_file(&file).ok();
    assert_eq!(done.code(), Some(3), "{done:?}");
    let answers: Value = serde_json::from_str(&done.stdout).expect("JSON on stdout");
    assert_eq!(
        answers,
        json!([
            {"result": 50},
            {"result": 2},
            {"error": {"code": 42, "message": "no luck", "data": {"why": "asked to"}}}
        ])
    );
    assert_eq!(server.next_note().as_deref(), Some("b"));
}

/// While the call waits, the server's Pings get their Pongs and the
/// server's own call gets -32601 with its id, both seen on the wire.
#[test]
fn rpc_answers_pings_and_calls_while_waiting() {
    use futures_util::SinkExt as _;
    use sockeye::{Incoming, Message};
    use support::OneShot;

    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let next_text = async |ws: &mut sockeye::WebSocket<_>| loop {
            match ws.recv_incoming().await {
                Some(Ok(Incoming::Message(Message::Text(text)))) => {
                    break serde_json::from_str::<Value>(text.as_str()).expect("JSON");
                }
                Some(Ok(_)) => {}
                other => panic!("the client went away: {other:?}"),
            }
        };
        let request = next_text(&mut ws).await;
        assert_eq!(request["method"], json!("slow"));
        ws.ping("are you there").expect("ping");
        ws.flush().await.expect("flush");
        let Some(Ok(Incoming::Pong(pong))) = ws.recv_incoming().await else {
            panic!("the client did not answer the ping first");
        };
        assert_eq!(&pong[..], b"are you there");
        ws.send(Message::text(
            r#"{"jsonrpc":"2.0","method":"whoami","params":[],"id":"s1"}"#,
        ))
        .await
        .expect("send");
        let answer = next_text(&mut ws).await;
        assert_eq!(answer["id"], json!("s1"));
        assert_eq!(answer["error"]["code"], json!(-32601));
        let reply = json!({"jsonrpc": "2.0", "result": "ok", "id": request["id"]});
        ws.send(Message::text(reply.to_string()))
            .await
            .expect("send");
        while let Some(Ok(_)) = ws.recv_incoming().await {}
    });
    let done = rpc(&[&server.url("/"), "slow", "[]"]);
    server.join();
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert_eq!(done.stdout, "\"ok\"\n");
}

/// Runs `sockeye connect --jsonrpc ARGS... URL` with `lines` on stdin.
fn connect_jsonrpc(url: &str, args: &[&str], lines: &[&str]) -> Finished {
    let mut input = lines.join("\n");
    input.push('\n');
    support::connect(url, &[&["--jsonrpc"], args].concat(), input.as_bytes())
}

/// What a session sends: a request with a string id, a `METHOD PARAMS`
/// line, a batch, a notification, text that is not JSON, and a call
/// during which the server calls back. Six messages come back.
const SESSION: [&str; 6] = [
    r#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":"a"}"#,
    "subtract [5, 3]",
    r#"[{"jsonrpc":"2.0","method":"subtract","params":[1,1],"id":"b1"},{"jsonrpc":"2.0","method":"log","params":["x"]},{"jsonrpc":"2.0","method":"nope","id":"b2"}]"#,
    r#"{"jsonrpc":"2.0","method":"log","params":["y"]}"#,
    "{oops",
    r#"{"jsonrpc":"2.0","method":"callback","id":"c"}"#,
];

#[test]
fn connect_jsonrpc_jsonl_classifies_both_directions() {
    let server = Server::start();
    let done = connect_jsonrpc(&server.url, &["--jsonl", "-n", "5"], &SESSION);
    assert_eq!(done.code(), Some(0), "{done:?}");
    let events: Vec<Value> = done
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("a JSON line"))
        .filter(|event| event["type"] == "rpc")
        .collect();
    let find = |direction: &str, kind: &str, id: Value| -> Value {
        events
            .iter()
            .find(|e| e["direction"] == direction && e["kind"] == kind && e["id"] == id)
            .unwrap_or_else(|| panic!("no {direction} {kind} {id} in {events:#?}"))
            .clone()
    };
    let sent = find("out", "request", json!("a"));
    assert_eq!(
        (&sent["method"], &sent["params"]),
        (&json!("subtract"), &json!([42, 23]))
    );
    let answer = find("in", "result", json!("a"));
    assert_eq!(
        (&answer["method"], &answer["result"]),
        (&json!("subtract"), &json!(19))
    );
    assert!(
        answer["rtt_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{answer}"
    );
    // The shorthand line became a request with id 1, matched as well.
    let sent = find("out", "request", json!(1));
    assert_eq!(sent["params"], json!([5, 3]));
    assert_eq!(find("in", "result", json!(1))["method"], json!("subtract"));
    // The batch, member by member, both ways.
    let member = find("out", "request", json!("b2"));
    assert_eq!(member["batch"], json!({"index": 2, "size": 3}));
    let notes: Vec<&Value> = events
        .iter()
        .filter(|e| e["direction"] == "out" && e["kind"] == "notification")
        .collect();
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert_eq!(notes[0]["batch"], json!({"index": 1, "size": 3}));
    assert_eq!(notes[1]["params"], json!(["y"]));
    let answer = find("in", "result", json!("b1"));
    assert_eq!(
        (&answer["method"], &answer["result"]),
        (&json!("subtract"), &json!(0))
    );
    assert_eq!(answer["batch"]["size"], json!(2));
    let answer = find("in", "error", json!("b2"));
    assert_eq!(answer["method"], json!("nope"));
    assert_eq!(answer["error"]["code"], json!(-32601));
    // Not JSON: flagged going out, and the server's parse error has no
    // request to match.
    let invalid = events
        .iter()
        .find(|e| e["kind"] == "invalid")
        .expect("an invalid event");
    assert_eq!(
        (&invalid["direction"], &invalid["data"]),
        (&json!("out"), &json!("{oops"))
    );
    let answer = find("in", "error", Value::Null);
    assert_eq!(answer["error"]["code"], json!(-32700));
    assert!(answer.get("method").is_none(), "{answer}");
    // The server's call back, a request coming in.
    assert_eq!(find("in", "request", json!(1))["method"], json!("whoami"));
    assert_eq!(server.next_note().as_deref(), Some("x"));
    assert_eq!(server.next_note().as_deref(), Some("y"));
}

#[test]
fn connect_jsonrpc_prints_a_line_per_message() {
    let server = Server::start();
    let done = connect_jsonrpc(&server.url, &["-n", "2"], &SESSION[..2]);
    assert_eq!(done.code(), Some(0), "{done:?}");
    let lines: Vec<&str> = done.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines.contains(&r#"> call #"a" subtract [42,23]"#),
        "{lines:?}"
    );
    assert!(lines.contains(&"> call #1 subtract [5,3]"), "{lines:?}");
    for start in [r#"< result #"a" subtract 19 ("#, "< result #1 subtract 2 ("] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(start) && l.ends_with(" ms)")),
            "{start} in {lines:?}"
        );
    }
}

#[test]
fn connect_jsonrpc_refuses_a_shorthand_line_with_bad_params() {
    let server = Server::start();
    let done = connect_jsonrpc(&server.url, &[], &["subtract 42"]);
    assert_eq!(done.code(), Some(2), "{done:?}");
    assert!(done.stderr.contains("array or object"), "{done:?}");
}

#[test]
fn rpc_connection_closed_before_the_answer_exits_1() {
    use futures_util::StreamExt as _;
    use support::OneShot;

    let server = OneShot::start(|tcp| async move {
        let mut ws = sockeye::accept(tcp).await.expect("accept");
        let request = tokio::time::timeout(TIMEOUT, ws.next())
            .await
            .expect("a request");
        assert!(request.is_some(), "the client sent nothing");
        ws.close(sockeye::CloseCode::from(4000), "going")
            .await
            .expect("close");
    });
    let done = rpc(&[&server.url("/"), "never"]);
    server.join();
    assert_eq!(done.code(), Some(1), "{done:?}");
    let line = done.one_stderr_line();
    assert!(line.contains("before the answer came"), "{line}");
    assert!(done.stdout.is_empty());
}

/// What is sent just before the end is still shown, before the close.
#[test]
fn connect_jsonrpc_shows_a_last_notification_before_the_close() {
    let server = Server::start();
    for _ in 0..5 {
        let note = r#"{"jsonrpc":"2.0","method":"log","params":["z"]}"#;
        let done = connect_jsonrpc(&server.url, &["--jsonl", "-x", note], &[]);
        assert_eq!(done.code(), Some(0), "{done:?}");
        let kinds: Vec<String> = done
            .stdout
            .lines()
            .map(|line| {
                let event: Value = serde_json::from_str(line).expect("a JSON line");
                format!("{} {}", event["type"], event["kind"]).replace('"', "")
            })
            .collect();
        assert_eq!(kinds, ["open null", "rpc notification", "close null"]);
        assert_eq!(server.next_note().as_deref(), Some("z"));
    }
}
