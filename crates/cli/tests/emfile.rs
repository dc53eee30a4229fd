//! Out of file descriptors: `sockeye serve` keeps running when `accept`
//! fails with EMFILE, backs off, logs it once, and serves again once
//! descriptors are free.

use std::io::Read as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sockeye::ClientBuilder;

/// The server's descriptor limit: a few for the runtime and the listener,
/// about forty for connections.
const FD_LIMIT: usize = 48;

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("local address").port()
}

/// Opens one connection, or `None` if the server does not answer in time.
async fn try_connect(url: &str) -> Option<sockeye::WebSocket<sockeye::ClientStream>> {
    ClientBuilder::new(url)
        .handshake_timeout(Duration::from_millis(500))
        .connect()
        .await
        .ok()
        .map(|(ws, _)| ws)
}

#[tokio::test]
async fn accept_survives_running_out_of_descriptors_and_logs_once() {
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let bin = env!("CARGO_BIN_EXE_sockeye");
    // `ulimit` in a shell that then becomes the server: no unsafe
    // pre-exec hook needed.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {FD_LIMIT} && exec '{bin}' serve 127.0.0.1:{port} --no-deflate"
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockeye serve");
    let mut server = Server(child);

    let started = Instant::now();
    let mut open = Vec::new();
    while open.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the server did not start"
        );
        if let Some(ws) = try_connect(&url).await {
            open.push(ws);
        } else {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // More connections than descriptors: the first ones open, then the
    // server's accept fails and the rest get no answer.
    let mut unanswered = 0;
    for _ in 0..FD_LIMIT + 10 {
        match try_connect(&url).await {
            Some(ws) => open.push(ws),
            None => unanswered += 1,
        }
        if unanswered >= 3 {
            break;
        }
    }
    assert!(unanswered >= 3, "the limit was never reached");
    assert!(open.len() > 10, "only {} connections opened", open.len());
    let held = open.len();

    // Free the descriptors: the server accepts again (it retries with a
    // pause of at most a second).
    for mut ws in open.drain(..) {
        let _ = ws.close(sockeye::CloseCode::NORMAL, "").await;
    }
    let freed = Instant::now();
    let again = loop {
        if let Some(ws) = try_connect(&url).await {
            break ws;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(15),
            "the server did not accept again after {held} connections closed"
        );
    };
    drop(again);

    let _ = server.0.kill();
    let _ = server.0.wait();
    let mut log = String::new();
    server
        .0
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut log)
        .expect("read the log");
    let failures = log.matches("accept failed").count();
    assert_eq!(failures, 1, "logged once per episode: {log}");
    assert!(log.contains("accepting connections again"), "{log}");
}
