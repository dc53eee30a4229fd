//! Smoke runs of `sockeye bench` against a `sockeye serve` child: the
//! tooling runs, ends, and prints a JSON line that makes sense. These are
//! not benchmarks, and nothing here asserts on speed.

mod support;

use futures_util::StreamExt;
use serde_json::Value;
use sockeye::Message;
use support::{Finished, OneShot, Serve, run, unused_addr};

/// The one line of stdout that starts with `{`, parsed.
fn json_line(finished: &Finished) -> Value {
    let lines: Vec<&str> = finished
        .stdout
        .lines()
        .filter(|line| line.starts_with('{'))
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one JSON line; stdout: {:?}",
        finished.stdout
    );
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("bad JSON {:?}: {e}", lines[0]))
}

/// Asserts that a run failed (exit status 1) saying `why` on stderr, and
/// returns its JSON line.
fn failed_saying(finished: &Finished, why: &str) -> Value {
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert!(finished.stderr.contains(why), "{}", finished.stderr);
    json_line(finished)
}

/// `sockeye bench echo` of one connection for half a second, without
/// warm-up, with `extra` arguments.
fn echo_one_connection(url: &str, extra: &[&str]) -> Finished {
    let mut args = vec![
        "bench",
        "echo",
        url,
        "--connections",
        "1",
        "--duration",
        "0.5",
        "--warmup",
        "0",
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn succeeded(finished: &Finished) {
    assert_eq!(
        finished.code(),
        Some(0),
        "stdout: {:?}\nstderr: {:?}",
        finished.stdout,
        finished.stderr
    );
}

fn number(json: &Value, pointer: &str) -> f64 {
    json.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {json}"))
}

fn count(json: &Value, pointer: &str) -> u64 {
    json.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no count at {pointer} in {json}"))
}

#[test]
fn echo_reports_throughput_latency_and_cpu_as_json() {
    let server = Serve::start(&[]);
    let pid = server.child.pid().to_string();
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "echo",
        &url,
        "--duration",
        "1",
        "--warmup",
        "0",
        "--connections",
        "4",
        "--in-flight",
        "4",
        "--server-pid",
        &pid,
    ]);
    succeeded(&finished);
    assert!(finished.stdout.contains("msg/s"), "{}", finished.stdout);
    let json = json_line(&finished);
    assert_eq!(json["scenario"], "echo");
    assert_eq!(json["opened"], 4);
    assert_eq!(json["errors"], 0);
    assert!(number(&json, "/messages") > 0.0, "{json}");
    assert!(number(&json, "/msg_per_s") > 0.0, "{json}");
    assert!(number(&json, "/mb_per_s") > 0.0, "{json}");
    let p50 = number(&json, "/latency_us/p50");
    let p99 = number(&json, "/latency_us/p99");
    let max = number(&json, "/latency_us/max");
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{json}");
    assert!(number(&json, "/cpu/bench") >= 0.0, "{json}");
    assert!(number(&json, "/cpu/server") >= 0.0, "{json}");
    assert!(number(&json, "/cpu/other") >= 0.0, "{json}");
    assert!(number(&json, "/cpu/server_ns_per_msg") >= 0.0, "{json}");
    assert!(number(&json, "/server_rss") > 0.0, "{json}");
    assert!(json["bottleneck"].is_string(), "{json}");
}

#[test]
fn echo_runs_large_binary_messages_with_deflate() {
    let server = Serve::start(&[]);
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "echo",
        &url,
        "--duration",
        "0.5",
        "--warmup",
        "0",
        "--connections",
        "2",
        "--size",
        "70k",
        "--binary",
        "--deflate",
        "--no-context-takeover",
    ]);
    succeeded(&finished);
    let json = json_line(&finished);
    assert_eq!(json["size"], 70 << 10);
    assert_eq!(json["binary"], true);
    assert_eq!(json["deflate_negotiated"], 2);
    assert_eq!(json["no_context_takeover"], true);
    assert!(number(&json, "/messages") > 0.0, "{json}");
    // Without --server-pid the server's side is unknown, not made up.
    assert!(json["cpu"]["server"].is_null(), "{json}");
}

#[test]
fn idle_reports_server_memory_per_connection() {
    let server = Serve::start(&[]);
    let pid = server.child.pid().to_string();
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "idle",
        &url,
        "--connections",
        "50",
        "--hold",
        "0",
        "--deflate",
        "--send-one",
        "--server-pid",
        &pid,
    ]);
    succeeded(&finished);
    let json = json_line(&finished);
    assert_eq!(json["scenario"], "idle");
    assert_eq!(json["opened"], 50);
    assert_eq!(json["deflate_negotiated"], 50);
    assert_eq!(json["errors"], 0);
    assert!(number(&json, "/server_rss_before") > 0.0, "{json}");
    assert!(number(&json, "/server_rss_after") > 0.0, "{json}");
    assert!(json["server_rss_per_conn"].is_number(), "{json}");
}

#[test]
fn echo_fails_when_no_server_listens() {
    let url = format!("ws://{}/", unused_addr());
    let finished = run(&["bench", "echo", &url, "--duration", "0.2", "--warmup", "0"]);
    assert_eq!(finished.code(), Some(1), "{finished:?}");
    assert!(
        finished.stderr.contains("could be opened"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stdout.contains('{'), "{}", finished.stdout);
}

#[test]
fn echo_fails_when_the_server_answers_with_other_bytes() {
    // A server that changes the last byte of what it echoes.
    let server = OneShot::start(|tcp| async move {
        let Ok(mut ws) = sockeye::accept(tcp).await else {
            return;
        };
        while let Some(Ok(message)) = ws.next().await {
            let mut bytes = message.payload().to_vec();
            if let Some(last) = bytes.last_mut() {
                *last ^= 1;
            }
            if ws.send(Message::binary(bytes)).await.is_err() {
                break;
            }
        }
    });
    let url = server.url("/");
    let finished = echo_one_connection(&url, &["--binary"]);
    let json = failed_saying(&finished, "different bytes");
    assert_eq!(json["errors"], 1);
    assert_eq!(json["messages"], 0);
    server.join();
}

/// A server that echoes a few messages, then closes cleanly in the
/// middle of the run: the connection counts as failed, as it would over
/// a task (the reactor's path reports it the same way).
#[test]
fn echo_fails_when_the_server_closes_during_the_run() {
    let server = OneShot::start(|tcp| async move {
        let Ok(mut ws) = sockeye::accept(tcp).await else {
            return;
        };
        for _ in 0..5 {
            let Some(Ok(message)) = ws.next().await else {
                return;
            };
            if ws.send(message).await.is_err() {
                return;
            }
        }
        let _ = ws.close(sockeye::CloseCode::NORMAL, "enough").await;
    });
    let url = server.url("/");
    let finished = echo_one_connection(&url, &[]);
    let json = failed_saying(&finished, "the server closed the connection during the run");
    assert_eq!(json["errors"], 1);
    assert_eq!(json["opened"], 1);
    server.join();
}

/// `ws://` connections run in a reactor thread per worker, `wss://` ones
/// as tasks: both runs report the same fields, and both work.
#[test]
fn echo_reports_alike_over_ws_and_wss() {
    let dir = std::env::temp_dir().join(format!("sockeye-bench-tls-{}", std::process::id()));
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let cert = cert.to_str().unwrap();
    let plain = Serve::start(&[]);
    let tls = Serve::start(&["--tls-cert", cert, "--tls-key", key.to_str().unwrap()]);
    let urls = [
        plain.url("/"),
        format!("wss://localhost:{}/", tls.addr.port()),
    ];
    let mut fields = Vec::new();
    for url in &urls {
        let finished = run(&[
            "bench",
            "echo",
            url,
            "--ca",
            cert,
            "--duration",
            "0.3",
            "--warmup",
            "0",
            "--connections",
            "3",
            "--threads",
            "2",
            "--in-flight",
            "2",
        ]);
        succeeded(&finished);
        let json = json_line(&finished);
        assert_eq!(json["opened"], 3, "{json}");
        assert_eq!(json["errors"], 0, "{json}");
        assert!(number(&json, "/messages") > 0.0, "{json}");
        assert!(number(&json, "/latency_us/p50") > 0.0, "{json}");
        for label in ["echo:", "  throughput", "  latency", "  cpu"] {
            assert!(
                finished.stdout.lines().any(|line| line.starts_with(label)),
                "no {label:?} line: {}",
                finished.stdout
            );
        }
        let keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        fields.push(keys);
    }
    assert_eq!(fields[0], fields[1]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bench_refuses_a_server_pid_it_cannot_read() {
    let finished = run(&["bench", "idle", "--server-pid", "0", "--connections", "1"]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(finished.stderr.contains("/proc/0"), "{}", finished.stderr);
}

#[test]
fn fanout_reports_deliveries_latency_and_cpu_as_json() {
    let server = Serve::start(&["--broadcast"]);
    let pid = server.child.pid().to_string();
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "fanout",
        &url,
        "--receivers",
        "20",
        "--in-flight",
        "8",
        "-d",
        "1",
        "-w",
        "0",
        "--server-pid",
        &pid,
    ]);
    succeeded(&finished);
    assert!(
        finished.stdout.contains("deliveries"),
        "{}",
        finished.stdout
    );
    let json = json_line(&finished);
    assert_eq!(json["scenario"], "fanout");
    assert_eq!(json["receivers"], 20);
    assert_eq!(json["opened"], 20);
    assert_eq!(json["binary"], true);
    assert_eq!(json["size"], 16);
    assert_eq!(json["errors"], 0);
    assert_eq!(json["skipped"], 0);
    assert!(json["aborted"].is_null(), "{json}");
    let published = number(&json, "/published");
    let deliveries = number(&json, "/deliveries");
    assert!(published > 0.0 && deliveries > 0.0, "{json}");
    // Up to the in-flight messages at either edge of the window are
    // published on one side of it and delivered on the other.
    assert!(
        (deliveries - published * 20.0).abs() <= 8.0 * 20.0,
        "{json}"
    );
    // Over the whole run, every receiver got every message.
    assert_eq!(
        count(&json, "/deliveries_total"),
        count(&json, "/published_total") * 20,
        "{json}"
    );
    assert!(number(&json, "/deliveries_per_s") > 0.0, "{json}");
    assert!(number(&json, "/msg_per_s") > 0.0, "{json}");
    let p50 = number(&json, "/latency_us/p50");
    let p99 = number(&json, "/latency_us/p99");
    let p999 = number(&json, "/latency_us/p999");
    let max = number(&json, "/latency_us/max");
    assert!(
        0.0 < p50 && p50 <= p99 && p99 <= p999 && p999 <= max,
        "{json}"
    );
    assert!(number(&json, "/cpu/bench") >= 0.0, "{json}");
    assert!(number(&json, "/cpu/server") >= 0.0, "{json}");
    assert!(number(&json, "/cpu/other") >= 0.0, "{json}");
    assert!(
        number(&json, "/cpu/server_ns_per_delivery") >= 0.0,
        "{json}"
    );
    assert!(json["bottleneck"].is_string(), "{json}");
}

#[test]
fn fanout_publishes_text_at_a_fixed_rate() {
    let server = Serve::start(&["--broadcast"]);
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "fanout",
        &url,
        "--receivers",
        "5",
        "--rate",
        "200",
        "--text",
        "--size",
        "64",
        "-d",
        "0.5",
        "-w",
        "0",
    ]);
    succeeded(&finished);
    let json = json_line(&finished);
    assert_eq!(json["binary"], false);
    assert_eq!(json["rate"], 200);
    assert!(json["in_flight"].is_null(), "{json}");
    assert_eq!(json["skipped"], 0);
    let published = count(&json, "/published_total");
    // 200 a second for half a second: 100, fewer if the publisher was held
    // up at the very end (it catches up with the rate otherwise).
    assert!((50..=100).contains(&published), "{json}");
    assert_eq!(count(&json, "/deliveries_total"), published * 5, "{json}");
}

#[test]
fn fanout_refuses_a_size_below_the_header() {
    let finished = run(&["bench", "fanout", "--text", "--size", "16"]);
    assert_eq!(finished.code(), Some(2), "{finished:?}");
    assert!(
        finished.stderr.contains("at least 32"),
        "{}",
        finished.stderr
    );
}

#[test]
fn fanout_against_an_echo_server_fails_clearly() {
    // Without --broadcast the server echoes the publisher's messages back
    // and nobody else gets any. The bench says so at once instead of
    // running its whole duration (which would outlast the test's timeout).
    let server = Serve::start(&[]);
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "fanout",
        &url,
        "--receivers",
        "5",
        "-d",
        "30",
        "-w",
        "0",
    ]);
    let json = failed_saying(&finished, "--broadcast");
    assert_eq!(json["deliveries_total"], 0);
    assert!(json["aborted"].is_string(), "{json}");
}

#[test]
fn fanout_gives_up_when_nothing_is_delivered() {
    // A server that completes every handshake and reads every message but
    // never sends one.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("test runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let url = format!("ws://{}/", listener.local_addr().expect("local address"));
    runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                if let Ok(mut ws) = sockeye::accept(tcp).await {
                    while let Some(Ok(_)) = ws.next().await {}
                }
            });
        }
    });
    let finished = run(&[
        "bench",
        "fanout",
        &url,
        "--receivers",
        "3",
        "-d",
        "30",
        "-w",
        "0",
    ]);
    let json = failed_saying(
        &finished,
        "no message was delivered in 5 s: is the server running with --broadcast?",
    );
    assert_eq!(json["deliveries_total"], 0);
    assert!(number(&json, "/published_total") > 0.0, "{json}");
}

/// sockeye-io's bench server, the one `benches/socketio/run.sh` measures,
/// served in this process on its own thread.
#[path = "../../io/examples/socketio-bench-server.rs"]
#[expect(dead_code, reason = "the example's own main is not run here")]
mod socketio_bench_server;

/// A sockeye-io bench server on a loopback port; stops when dropped.
struct SocketIoServer {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SocketIoServer {
    fn start() -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a loopback port");
                addr_tx
                    .send(listener.local_addr().expect("an address"))
                    .expect("the test waits");
                let io = sockeye_io::SocketIo::new();
                socketio_bench_server::bench_namespace(&io);
                tokio::select! {
                    _ = io.serve(listener) => {}
                    _ = stopped => {}
                }
            });
        });
        let addr = addr_rx
            .recv_timeout(support::TIMEOUT)
            .expect("the server starts");
        SocketIoServer {
            url: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        }
    }
}

impl Drop for SocketIoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Socket.IO round trips: `echo` events with acknowledgement ids are sent
/// and their acknowledgements, which must carry the argument back, are
/// counted and timed.
#[test]
fn socketio_counts_acknowledged_round_trips() {
    let server = SocketIoServer::start();
    let finished = run(&[
        "bench",
        "socketio",
        &server.url,
        "--clients",
        "4",
        "--in-flight",
        "4",
        "--duration",
        "1",
        "--warmup",
        "0",
    ]);
    succeeded(&finished);
    assert!(
        finished.stdout.contains("round trips/s"),
        "{}",
        finished.stdout
    );
    let json = json_line(&finished);
    assert_eq!(json["scenario"], "socketio-echo");
    assert_eq!(json["opened"], 4);
    assert_eq!(json["errors"], 0);
    assert!(count(&json, "/events") > 0, "{json}");
    assert!(number(&json, "/events_per_s") > 0.0, "{json}");
    let p50 = number(&json, "/latency_us/p50");
    assert!(
        p50 > 0.0 && p50 <= number(&json, "/latency_us/p99"),
        "{json}"
    );
}

/// Socket.IO broadcast: clients join the room, the publisher's `blast`
/// events make the server emit to it, and deliveries are counted on the
/// clients.
#[test]
fn socketio_counts_broadcast_deliveries() {
    let server = SocketIoServer::start();
    let finished = run(&[
        "bench",
        "socketio",
        &server.url,
        "--broadcast",
        "--clients",
        "5",
        "--count",
        "3",
        "--duration",
        "1",
        "--warmup",
        "0",
    ]);
    succeeded(&finished);
    let json = json_line(&finished);
    assert_eq!(json["scenario"], "socketio-broadcast");
    assert_eq!(json["opened"], 5);
    assert_eq!(json["errors"], 0);
    assert!(count(&json, "/events") > 0, "{json}");
}

/// Socket.IO idle clients: all complete both handshakes and are held; the
/// server's memory is read before and after, here that of this process.
#[test]
fn socketio_idle_reports_memory_per_client() {
    let server = SocketIoServer::start();
    let pid = std::process::id().to_string();
    let finished = run(&[
        "bench",
        "socketio",
        &server.url,
        "--idle",
        "--clients",
        "20",
        "--hold",
        "0.2",
        "--server-pid",
        &pid,
    ]);
    succeeded(&finished);
    let json = json_line(&finished);
    assert_eq!(json["scenario"], "socketio-idle");
    assert_eq!(json["opened"], 20);
    assert!(json["bytes_per_client"].is_number(), "{json}");
}

/// A plain WebSocket server is not a Socket.IO server: the bench says the
/// Engine.IO handshake failed instead of counting echoes as round trips.
#[test]
fn socketio_against_a_plain_websocket_server_fails_clearly() {
    let server = Serve::start(&[]);
    let url = server.url("/");
    let finished = run(&[
        "bench",
        "socketio",
        &url,
        "--clients",
        "2",
        "--duration",
        "1",
        "--warmup",
        "0",
    ]);
    assert_ne!(finished.code(), Some(0), "{}", finished.stdout);
    assert!(
        finished.stderr.contains("Engine.IO") || finished.stderr.contains("Socket.IO"),
        "{}",
        finished.stderr
    );
}
