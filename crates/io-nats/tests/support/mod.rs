//! What the cluster tests share: a `nats-server` with `JetStream` of their
//! own on a loopback port, sockeye-io servers on it, and a Socket.IO
//! client by hand over a WebSocket.

// Each test file uses its own part of this module.
#![allow(dead_code, unreachable_pub)]

use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use sockeye_io::{SocketIo, SocketIoConfig};
use sockeye_io_nats::{NatsAdapterConfig, NatsAdapters};
use tokio::net::TcpListener;

/// How long any one wait may last.
pub const LIMIT: Duration = Duration::from_secs(10);

/// The variable that makes a missing `nats-server` a failure rather than
/// a skip (`scripts/test` sets it).
pub const REQUIRE: &str = "SOCKEYE_REQUIRE_NATS";

/// A `nats-server -js` this test started on a loopback port of its own,
/// its storage in a directory of its own; stopped (by its PID) and the
/// directory removed when dropped.
#[derive(Debug)]
pub struct Broker {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

impl Broker {
    /// Starts one; `None` (with a message saying so) when `nats-server` is
    /// not installed and [`REQUIRE`] is unset.
    ///
    /// # Panics
    ///
    /// When it cannot be started, or is missing while [`REQUIRE`] is set.
    pub fn start() -> Option<Broker> {
        if Command::new("nats-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os(REQUIRE).is_none(),
                "nats-server is not installed, and {REQUIRE} is set"
            );
            eprintln!("SKIPPED: nats-server is not installed (apt-get install nats-server)");
            return None;
        }
        let port = free_port();
        let dir =
            std::env::temp_dir().join(format!("sockeye-nats-test-{}-{port}", std::process::id()));
        let mut broker = Broker {
            child: None,
            port,
            dir,
        };
        broker.run();
        Some(broker)
    }

    /// Starts the server process on this broker's port and waits until it
    /// accepts connections.
    fn run(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nats-server");
        self.child = Some(child);
        let deadline = Instant::now() + LIMIT;
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server process (the port and the storage stay this
    /// broker's).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again after [`stop`](Self::stop), on the same port and
    /// storage.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port nothing listens on just now.
fn free_port() -> u16 {
    let listener = StdListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// A test config: short timeouts and heartbeats, so that a test of a
/// fault ends soon.
pub fn quick_config() -> NatsAdapterConfig {
    NatsAdapterConfig {
        request_timeout: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(300),
        heartbeat_timeout: Duration::from_secs(1),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        ..NatsAdapterConfig::default()
    }
}

/// Adapters on `broker`; `JetStream` may need a moment after the port
/// opens, so setting up is tried again for a while.
pub async fn adapters(broker: &Broker, config: NatsAdapterConfig) -> NatsAdapters {
    let deadline = Instant::now() + LIMIT;
    loop {
        match NatsAdapters::new(&broker.url(), config.clone()).await {
            Ok(adapters) => return adapters,
            Err(e) => {
                assert!(Instant::now() < deadline, "adapters: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// A sockeye-io server on `broker`, with `/` made, serving on a loopback
/// port: the server, its adapters, and its WebSocket URL.
pub async fn server(
    broker: &Broker,
    config: NatsAdapterConfig,
    io_config: SocketIoConfig,
    setup: impl FnOnce(&SocketIo),
) -> (SocketIo, NatsAdapters, String) {
    let adapters = adapters(broker, config).await;
    let factory = adapters.clone();
    let io = SocketIo::with_adapter(io_config, move |nsp| factory.make(nsp));
    setup(&io);
    io.of("/");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        listener.local_addr().expect("address")
    );
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (io, adapters, url)
}

/// Waits until `io` counts `n` servers on `/` (each heard from).
pub async fn await_servers(io: &SocketIo, n: usize) {
    let ns = io.of("/");
    let deadline = Instant::now() + LIMIT;
    while ns.server_count().await != n {
        assert!(Instant::now() < deadline, "the servers never counted {n}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client connected to `/` with the CONNECT payload `connect` (`"40"`
/// plain), with the CONNECT answer's JSON.
pub async fn connect_with(
    url: &str,
    connect: &str,
) -> (WebSocket<ClientStream>, serde_json::Value) {
    let mut ws = sockeye::connect(url).await.expect("websocket handshake");
    let open = text(&mut ws).await;
    assert!(open.starts_with("0{"), "{open}");
    send(&mut ws, connect).await;
    let reply = text(&mut ws).await;
    let body: serde_json::Value =
        serde_json::from_str(reply.strip_prefix("40").expect("a CONNECT")).expect("json");
    (ws, body)
}

/// A client connected to `/`, with its socket id.
pub async fn connect(url: &str) -> (WebSocket<ClientStream>, String) {
    let (ws, body) = connect_with(url, "40").await;
    let sid = body["sid"].as_str().expect("sid").to_owned();
    (ws, sid)
}

/// The next message that is not a ping, as text.
pub async fn text(ws: &mut WebSocket<ClientStream>) -> String {
    loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {}
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Whether a text message other than a ping arrives within `wait`.
pub async fn hears_within(ws: &mut WebSocket<ClientStream>, wait: Duration) -> Option<String> {
    tokio::time::timeout(wait, async {
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) if text.as_str() == "2" => {}
                Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
                Some(Ok(_)) => {}
                other => panic!("the connection ended: {other:?}"),
            }
        }
    })
    .await
    .ok()
}

/// Sends a text frame.
pub async fn send(ws: &mut WebSocket<ClientStream>, text: &str) {
    ws.send(Message::text(text.to_owned())).await.expect("send");
}
