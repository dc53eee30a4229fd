//! `sockeye connect` against Debian's `websocketd`, a server nobody here
//! wrote: a program per connection, each message a line on its stdin, each
//! line of its stdout a message.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{ChildGuard, Running, TIMEOUT, connect, peer_tool, sockeye, unused_addr};

/// A `websocketd` child serving `program` on a free loopback port,
/// killed by its PID when dropped.
struct Websocketd {
    _child: ChildGuard,
    addr: SocketAddr,
}

impl Websocketd {
    /// Starts `websocketd OPTIONS... PROGRAM...` and waits until it listens.
    fn start(options: &[&str], program: &[&str]) -> Self {
        let addr = unused_addr();
        let child = Command::new(peer_tool("websocketd"))
            .arg(format!("--port={}", addr.port()))
            .arg("--address=127.0.0.1")
            .arg("--loglevel=error")
            .args(options)
            .args(program)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn websocketd");
        let mut child = ChildGuard::new(child);
        let deadline = Instant::now() + TIMEOUT;
        while TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
            assert!(
                child.try_wait_for(Duration::ZERO).is_none(),
                "websocketd exited (port {} taken?)",
                addr.port()
            );
            assert!(Instant::now() < deadline, "websocketd did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Websocketd {
            _child: child,
            addr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("ws://{}{path}", self.addr)
    }
}

/// `sh -c SCRIPT` as websocketd's program.
fn sh(script: &str) -> Vec<&str> {
    vec!["/bin/sh", "-c", script]
}

#[test]
fn lines_go_through_websocketd_cat_and_back() {
    let server = Websocketd::start(&[], &["cat"]);
    // websocketd stops the program at the client's Close: wait for the
    // three echoes before closing.
    let finished = connect(
        &server.url("/"),
        &["-n", "3"],
        "one\ntwo\nthré\n".as_bytes(),
    );
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "one\ntwo\nthré\n");
}

#[test]
fn execute_waits_for_max_messages_from_websocketd() {
    let server = Websocketd::start(&[], &["cat"]);
    let finished = connect(
        &server.url("/"),
        &["-x", "alpha", "-x", "beta", "-n", "2"],
        b"",
    );
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "alpha\nbeta\n");
}

/// websocketd drops the TCP connection, without a Close frame, when its
/// program exits: that is a connection that failed, as the status says.
#[test]
fn a_program_that_exits_drops_the_connection_and_exits_1() {
    let server = Websocketd::start(&[], &sh("echo first; echo second"));
    // Stdin stays open: the server alone ends the session.
    let mut command = sockeye();
    command.args(["connect", &server.url("/"), "--jsonl"]);
    let finished = Running::spawn(command).finish();
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    let events: Vec<Value> = finished
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let texts: Vec<&str> = events.iter().filter_map(|e| e["data"].as_str()).collect();
    assert_eq!(texts, ["first", "second"], "{events:?}");
    let last = events.last().expect("events");
    assert_eq!(
        (&last["type"], &last["code"], &last["clean"]),
        (&json!("close"), &json!(1006), &json!(false)),
        "{events:?}"
    );
    assert!(
        finished
            .one_stderr_line()
            .contains("without a closing handshake"),
        "{finished:?}"
    );
}

#[test]
fn jsonl_shows_websocketd_open_and_messages() {
    let server = Websocketd::start(
        &[],
        &sh("echo hello; read line; echo \"got $line\"; exec cat"),
    );
    let finished = connect(
        &server.url("/"),
        &["--jsonl", "-n", "2"],
        b"{\"type\":\"text\",\"data\":\"x\"}\n",
    );
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    let events: Vec<Value> = finished
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["open", "text", "text", "close"], "{events:?}");
    assert_eq!(events[0]["headers"]["upgrade"], "websocket");
    assert_eq!(events[1]["data"], "hello");
    assert_eq!(events[2]["data"], "got x");
    assert_eq!(events[3]["clean"], true);
}

#[test]
fn origin_and_user_agent_reach_the_program() {
    let server = Websocketd::start(
        &["--origin=allowed.example"],
        &sh("echo \"$HTTP_ORIGIN|$HTTP_USER_AGENT\"; exec cat"),
    );
    let finished = connect(
        &server.url("/"),
        &[
            "--origin",
            "http://allowed.example",
            "--user-agent",
            "sockeye-test/1",
            "-n",
            "1",
        ],
        b"",
    );
    assert_eq!(finished.code(), Some(0), "{finished:?}");
    assert_eq!(finished.stdout, "http://allowed.example|sockeye-test/1\n");
}

#[test]
fn a_forbidden_origin_is_refused_with_exit_4_and_the_status() {
    let server = Websocketd::start(&["--origin=allowed.example"], &["cat"]);
    let url = server.url("/");
    let finished = connect(&url, &["--origin", "http://evil.example"], b"hi\n");
    assert_eq!(finished.code(), Some(4), "{finished:?}");
    let line = finished.one_stderr_line();
    assert!(line.contains("403") && line.contains(&url), "{line:?}");
}

#[test]
fn binary_mode_round_trips_bytes_through_websocketd() {
    let server = Websocketd::start(&["--binary"], &["cat"]);
    let input: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let dir = std::env::temp_dir().join(format!("sockeye-wsd-binary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (stdin, stdout) = (dir.join("in"), dir.join("out"));
    std::fs::write(&stdin, &input).unwrap();
    // websocketd cannot tell when the echo is complete: read until
    // everything came back, then close.
    let child = sockeye()
        .args(["connect", &server.url("/"), "-b", "--wait", "30"])
        .stdin(std::fs::File::open(&stdin).unwrap())
        .stdout(std::fs::File::create(&stdout).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sockeye");
    let mut child = ChildGuard::new(child);
    let deadline = Instant::now() + TIMEOUT;
    while std::fs::metadata(&stdout).map_or(0, |m| m.len()) < input.len() as u64 {
        assert!(Instant::now() < deadline, "the echo did not come back");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.signal("INT");
    let status = child.try_wait_for(TIMEOUT).expect("sockeye exits");
    assert_eq!(status.code(), Some(130));
    assert!(std::fs::read(&stdout).unwrap() == input, "bytes differ");
    std::fs::remove_dir_all(&dir).unwrap();
}
