//! Shared pieces of the Engine.IO behaviour tests: an echo handler that
//! records what it saw, a server on a loopback port, a raw HTTP/1.1
//! client, and a deadline for every test.

#![allow(dead_code, unreachable_pub)]

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sockeye_io::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, EngineSocket, Payload, serve,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How long any test may run before it fails.
pub const TEST_LIMIT: Duration = Duration::from_secs(10);

/// Runs `test` and fails if it takes longer than [`TEST_LIMIT`].
pub async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(TEST_LIMIT, test)
        .await
        .expect("test ran past its time limit");
}

/// What the echo handler saw, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seen {
    /// `on_open` for a session.
    Open(String),
    /// `on_message` with its payload.
    Message(String, Payload),
    /// `on_close` with its reason.
    Close(String, CloseReason),
}

/// The message that makes the handler panic, to test that a failing
/// handler loses its session and nothing else.
pub const PANIC_MESSAGE: &str = "panic now";

/// Echoes every message and records every callback; panics on
/// [`PANIC_MESSAGE`].
#[derive(Debug, Default)]
pub struct Echo {
    /// The callbacks so far.
    pub seen: Mutex<Vec<Seen>>,
    /// Woken at each callback.
    pub changed: Notify,
}

impl Echo {
    /// Records one callback.
    fn record(&self, seen: Seen) {
        self.seen.lock().unwrap().push(seen);
        self.changed.notify_waiters();
    }

    /// Waits until a callback matching `wanted` was recorded, and returns it.
    pub async fn wait_for(&self, wanted: impl Fn(&Seen) -> bool) -> Seen {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(seen) = self.seen.lock().unwrap().iter().find(|s| wanted(s)) {
                return seen.clone();
            }
            changed.await;
        }
    }

    /// The close reason recorded for session `sid`, waiting for it.
    pub async fn close_reason(&self, sid: &str) -> CloseReason {
        match self
            .wait_for(|s| matches!(s, Seen::Close(id, _) if id == sid))
            .await
        {
            Seen::Close(_, reason) => reason,
            _ => unreachable!("wait_for returned a close"),
        }
    }

    /// The callbacks recorded for session `sid`.
    pub fn seen_by(&self, sid: &str) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| match s {
                Seen::Open(id) | Seen::Message(id, _) | Seen::Close(id, _) => id == sid,
            })
            .cloned()
            .collect()
    }
}

/// The handler given to the engine: shares its [`Echo`] with the test.
#[derive(Clone, Debug, Default)]
pub struct EchoHandler(pub Arc<Echo>);

impl EngineHandler for EchoHandler {
    type Data = ();

    fn on_open(&self, socket: &Arc<EngineSocket<()>>) {
        self.0.record(Seen::Open(socket.id().to_owned()));
    }

    fn on_message(&self, socket: &Arc<EngineSocket<()>>, payload: Payload) {
        self.0
            .record(Seen::Message(socket.id().to_owned(), payload.clone()));
        assert!(
            payload != Payload::from(PANIC_MESSAGE),
            "the handler panics as asked"
        );
        let _ = socket.send(payload);
    }

    fn on_close(&self, socket: &Arc<EngineSocket<()>>, reason: CloseReason) {
        self.0.record(Seen::Close(socket.id().to_owned(), reason));
    }
}

/// A running echo server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The engine, to look at sessions.
    pub engine: Engine<EchoHandler>,
    /// What the handler saw.
    pub echo: Arc<Echo>,
    /// The accept loop, stopped on drop.
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// The target of an Engine.IO request with `query` (after `?`).
    pub fn target(&self, query: &str) -> String {
        let path = &self.engine.config().path;
        format!("{path}?{query}")
    }

    /// A `ws://` URL on this server with `query`.
    pub fn ws_url(&self, query: &str) -> String {
        format!("ws://{}/engine.io/?{query}", self.addr)
    }

    /// Opens a polling session; returns its sid.
    pub async fn open_polling(&self) -> String {
        let response = get(self.addr, &self.target("EIO=4&transport=polling")).await;
        assert_eq!(response.status, 200, "handshake: {response:?}");
        sid_of(&response.text()[1..])
    }

    /// A GET on session `sid`.
    pub async fn poll(&self, sid: &str) -> RawResponse {
        get(
            self.addr,
            &self.target(&format!("EIO=4&transport=polling&sid={sid}")),
        )
        .await
    }

    /// A POST of `body` on session `sid`.
    pub async fn push(&self, sid: &str, body: &[u8]) -> RawResponse {
        request(
            self.addr,
            "POST",
            &self.target(&format!("EIO=4&transport=polling&sid={sid}")),
            &[],
            body,
        )
        .await
    }
}

/// The sid in a handshake's JSON.
pub fn sid_of(json: &str) -> String {
    let value: serde_json::Value = serde_json::from_str(json).expect("handshake json");
    value["sid"].as_str().expect("sid").to_owned()
}

/// Starts an echo server with `config` on a loopback port.
pub async fn start(config: EngineConfig) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let echo = Arc::new(Echo::default());
    let engine = Engine::new(config, EchoHandler(Arc::clone(&echo)));
    let serving = engine.clone();
    let task = tokio::spawn(async move {
        let _ = serve(listener, serving).await;
    });
    Server {
        addr,
        engine,
        echo,
        task,
    }
}

/// The settings of most tests: a heartbeat too slow to interfere.
pub fn quiet_config() -> EngineConfig {
    EngineConfig {
        ping_interval: Duration::from_secs(60),
        ping_timeout: Duration::from_secs(60),
        ..EngineConfig::default()
    }
}

/// An HTTP answer as read off the wire.
#[derive(Clone, Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }

    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A GET of `target`.
pub async fn get(addr: SocketAddr, target: &str) -> RawResponse {
    request(addr, "GET", target, &[], b"").await
}

/// Writes one HTTP/1.1 request (`Connection: close`) and reads the answer
/// to the end of the connection.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut tcp = send_request(addr, method, target, headers, body).await;
    let mut raw = Vec::new();
    tcp.read_to_end(&mut raw).await.unwrap();
    parse_response(&raw)
}

/// Connects and writes one request, leaving the answer unread.
pub async fn send_request(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(body).await.unwrap();
    tcp
}

/// Parses a whole HTTP/1.1 answer with a `content-length` (or none).
fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of the head");
    let head = std::str::from_utf8(&raw[..split]).expect("ascii head");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    RawResponse {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}
