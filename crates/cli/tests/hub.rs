//! End-to-end tests of `sockeye hub`: the built binary on a free loopback
//! port, Socket.IO clients over WebSocket (the protocol spoken by hand, as
//! socket.io-client 4 does), the HTTP API, Server-Sent Events and
//! `/metrics`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;
use sockeye::{ClientStream, Message, WebSocket};
use support::{ChildGuard, listening_addr, sockeye};

/// How long any one wait may last.
const LIMIT: Duration = Duration::from_secs(10);
const SECRET: &str = "test-secret";
const KEY: &str = "api-key";

/// A `sockeye hub` child on a free loopback port.
struct Hub {
    _child: ChildGuard,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Hub {
    fn start(args: &[&str]) -> Hub {
        let mut child = sockeye()
            .arg("hub")
            .arg("127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sockeye hub");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let child = ChildGuard::new(child);
        let log = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            let mut buf = [0; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let deadline = Instant::now() + LIMIT;
        let addr = loop {
            let text = log.lock().unwrap().clone();
            if let Some(addr) = text.lines().find_map(listening_addr) {
                break addr;
            }
            assert!(Instant::now() < deadline, "hub did not start: {text}");
            thread::sleep(Duration::from_millis(10));
        };
        Hub {
            _child: child,
            addr,
            log,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// An HTTP request; the status and the body.
    fn http(&self, method: &str, path: &str, key: Option<&str>, body: &str) -> (u16, String) {
        let mut tcp = TcpStream::connect(self.addr).expect("connect");
        tcp.set_read_timeout(Some(LIMIT)).unwrap();
        let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
        write!(
            tcp,
            "{method} {path} HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).expect("read answer");
        let status = answer[9..12].parse().expect("status");
        let body = answer
            .split_once("\r\n\r\n")
            .map_or("", |(_, b)| b)
            .to_owned();
        (status, body)
    }

    fn emit(&self, body: &serde_json::Value) -> (u16, String) {
        self.http("POST", "/api/emit", Some(KEY), &body.to_string())
    }

    /// A Socket.IO client on `/` connected with `auth`; the CONNECT's
    /// answer.
    async fn client(&self, auth: Option<&str>) -> (Client, String) {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", self.addr);
        let ws = sockeye::connect(&url).await.expect("websocket handshake");
        let mut client = Client { ws };
        assert!(client.text().await.starts_with("0{"));
        let connect = match auth {
            Some(token) => format!("40{}", json!({ "token": token })),
            None => "40".to_owned(),
        };
        client.send(&connect).await;
        let answer = client.text().await;
        (client, answer)
    }
}

struct Client {
    ws: WebSocket<ClientStream>,
}

impl Client {
    async fn next(&mut self, limit: Duration) -> Option<String> {
        loop {
            match tokio::time::timeout(limit, self.ws.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(Message::Text(text)))) if text.as_str() == "2" => self.send("3").await,
                Ok(Some(Ok(Message::Text(text)))) => return Some(text.as_str().to_owned()),
                Ok(other) => return Some(format!("{other:?}")),
            }
        }
    }

    async fn text(&mut self) -> String {
        self.next(LIMIT).await.expect("a message in time")
    }

    async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text.to_owned()))
            .await
            .expect("send");
    }

    /// Emits `event` with `arg` asking for ack `id`; the ack's argument.
    async fn call(&mut self, id: u32, event: &str, arg: &serde_json::Value) -> serde_json::Value {
        self.send(&format!("42{id}{}", json!([event, arg]))).await;
        let prefix = format!("43{id}");
        loop {
            let text = self.text().await;
            if let Some(rest) = text.strip_prefix(&prefix) {
                let args: Vec<serde_json::Value> = serde_json::from_str(rest).unwrap();
                return args[0].clone();
            }
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(secret: &str, sub: &str, exp: u64, rooms: &[&str]) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        &json!({ "sub": sub, "exp": exp, "rooms": rooms }),
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn ok() -> serde_json::Value {
    json!({ "ok": true })
}

/// Open hub: clients join rooms; the API's emits reach the room's
/// members alone, `except` leaves some out; the API wants its key and
/// good JSON; a client publishes an allowed event to its room.
#[tokio::test]
async fn api_emits_reach_the_rooms_clients() {
    // Without recovery, events carry no offset as their last argument.
    let hub = Hub::start(&["--api-key", KEY, "--publish", "chat", "--recovery", "0"]);
    assert!(hub.log().contains("no auth configured"), "{}", hub.log());
    let (mut news, answer) = hub.client(None).await;
    assert!(answer.starts_with(r#"40{"sid":"#), "{answer}");
    let (mut other, _) = hub.client(None).await;
    let (mut muted, _) = hub.client(None).await;
    assert_eq!(news.call(1, "join", &json!("news")).await, ok());
    assert_eq!(muted.call(1, "join", &json!("news")).await, ok());
    assert_eq!(muted.call(2, "join", &json!("muted")).await, ok());

    let (status, body) = hub.emit(&json!({ "rooms": ["news"], "except": ["muted"], "event": "update", "args": [1, {"a": "b"}] }));
    assert_eq!((status, body.as_str()), (200, r#"{"ok":true}"#));
    assert_eq!(news.text().await, r#"42["update",1,{"a":"b"}]"#);
    assert_eq!(other.next(Duration::from_millis(300)).await, None);
    assert_eq!(muted.next(Duration::from_millis(100)).await, None);

    let (status, _) = hub.http("POST", "/api/emit", None, "{}");
    assert_eq!(status, 401);
    let (status, _) = hub.http("POST", "/api/emit", Some("wrong"), "{}");
    assert_eq!(status, 401);
    let (status, body) = hub.http("POST", "/api/emit", Some(KEY), "{not json");
    assert_eq!(status, 400);
    assert!(body.contains("invalid JSON"), "{body}");
    let (status, _) = hub.emit(&json!({ "namespace": "/nope", "event": "x" }));
    assert_eq!(status, 400);
    let big = "x".repeat(1_100_000);
    let (status, _) = hub.http("POST", "/api/emit", Some(KEY), &big);
    assert_eq!(status, 413);

    let (status, body) = hub.http("GET", "/api/rooms", Some(KEY), "");
    assert_eq!(status, 200);
    let rooms: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rooms, json!({ "rooms": ["muted", "news"] }));
    let (status, body) = hub.http("GET", "/api/sockets?room=news", Some(KEY), "");
    assert_eq!(status, 200);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["sockets"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A client publishes to its room: the others there get it.
    let published = news
        .call(
            3,
            "publish",
            &json!({ "room": "news", "event": "chat", "args": ["hi"] }),
        )
        .await;
    assert_eq!(published, ok());
    assert_eq!(muted.text().await, r#"42["chat","hi"]"#);
    let refused = news
        .call(
            4,
            "publish",
            &json!({ "room": "news", "event": "secret", "args": [] }),
        )
        .await;
    assert_eq!(refused["ok"], json!(false));

    // Disconnect by room, through the API.
    let (status, _) = hub.http("POST", "/api/disconnect", Some(KEY), r#"{"room":"muted"}"#);
    assert_eq!(status, 200);
    assert_eq!(muted.text().await, "41");

    let (_, metrics) = hub.http("GET", "/metrics", None, "");
    assert!(
        metrics.contains("sockeye_hub_api_calls_total "),
        "{metrics}"
    );
    assert!(metrics.contains("sockeye_hub_connections 2"), "{metrics}");
    assert!(metrics.contains("sockeye_hub_rooms 1\n"), "{metrics}");
}

/// JWT: no token, a bad signature and an expired token are refused with
/// the reason; a valid token's rooms are the ones the client may join; at
/// `exp` the socket is disconnected, unless refreshed with a token of the
/// same subject.
#[tokio::test]
async fn jwt_refused_expired_and_refreshed() {
    let hub = Hub::start(&["--api-key", KEY, "--jwt-secret", SECRET]);
    assert!(!hub.log().contains("no auth configured"));
    let (_, answer) = hub.client(None).await;
    assert!(
        answer.starts_with("44{") && answer.contains("no token"),
        "{answer}"
    );
    let forged = token("other", "ann", now() + 60, &["*"]);
    let (_, answer) = hub.client(Some(&forged)).await;
    assert!(answer.contains("invalid token signature"), "{answer}");
    let old = token(SECRET, "ann", now() - 10, &["*"]);
    let (_, answer) = hub.client(Some(&old)).await;
    assert!(answer.contains("token expired"), "{answer}");

    let (mut short, answer) = hub
        .client(Some(&token(SECRET, "ann", now() + 2, &["user:ann:*"])))
        .await;
    assert!(answer.starts_with(r#"40{"sid":"#), "{answer}");
    assert_eq!(short.call(1, "join", &json!("user:ann:inbox")).await, ok());
    assert_eq!(
        short.call(2, "join", &json!("user:bob:inbox")).await["ok"],
        json!(false)
    );

    let (mut kept, _) = hub
        .client(Some(&token(SECRET, "bob", now() + 2, &["lobby"])))
        .await;
    let other_subject = kept
        .call(
            1,
            "refresh",
            &json!(token(SECRET, "eve", now() + 60, &["*"])),
        )
        .await;
    assert_eq!(other_subject["ok"], json!(false));
    assert_eq!(
        kept.call(
            2,
            "refresh",
            &json!(token(SECRET, "bob", now() + 60, &["lobby"]))
        )
        .await,
        ok()
    );

    // The short one is told and disconnected at exp; the refreshed one stays.
    let deadline = Duration::from_secs(5);
    // With recovery on (the default), each event ends with its offset.
    let told = short.next(deadline).await.unwrap();
    assert!(told.starts_with(r#"42["token-expired","#), "{told}");
    assert_eq!(short.next(deadline).await.as_deref(), Some("41"));
    assert_eq!(kept.next(Duration::from_millis(500)).await, None);
    assert_eq!(kept.call(3, "join", &json!("lobby")).await, ok());
    hub.emit(&json!({ "rooms": ["lobby"], "event": "still", "args": [] }));
    let still = kept.text().await;
    assert!(still.starts_with(r#"42["still","#), "{still}");
}

/// Reads `tcp` until `needle` has come (or fails after [`LIMIT`]).
fn read_until(tcp: &mut TcpStream, seen: &mut String, needle: &str) {
    let deadline = Instant::now() + LIMIT;
    let mut buf = [0; 4096];
    while !seen.contains(needle) {
        assert!(Instant::now() < deadline, "{needle:?} not seen in {seen:?}");
        match tcp.read(&mut buf) {
            Ok(0) => panic!("closed before {needle:?}: {seen:?}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn sse(addr: SocketAddr, query: &str, last_id: Option<&str>) -> (TcpStream, String) {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let resume = last_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    write!(
        tcp,
        "GET /sse?{query} HTTP/1.1\r\nHost: hub\r\nAccept: text/event-stream\r\n{resume}\r\n"
    )
    .unwrap();
    let mut seen = String::new();
    read_until(&mut tcp, &mut seen, "retry: 1000");
    (tcp, seen)
}

/// SSE: a subscriber gets its rooms' events with ids; coming back with
/// `Last-Event-ID` it gets what it missed; with auth on, it needs a token
/// that allows its rooms.
#[test]
fn sse_subscribers_get_room_events_and_resume() {
    let hub = Hub::start(&["--api-key", KEY, "--jwt-secret", SECRET]);
    let good = token(SECRET, "ann", now() + 60, &["news"]);
    let (status, body) = hub.http("GET", "/sse?rooms=news", None, "");
    assert_eq!(status, 401, "{body}");
    let (status, _) = hub.http(
        "GET",
        &format!("/sse?rooms=news,other&token={good}"),
        None,
        "",
    );
    assert_eq!(status, 403);

    let (mut tcp, mut seen) = sse(hub.addr, &format!("rooms=news&token={good}"), None);
    assert!(seen.contains("text/event-stream"), "{seen}");
    hub.emit(&json!({ "rooms": ["news"], "event": "update", "args": [1] }));
    hub.emit(&json!({ "rooms": ["elsewhere"], "event": "update", "args": [99] }));
    read_until(&mut tcp, &mut seen, "data: [1]\n\n");
    assert!(
        seen.contains("id: 1\nevent: update\ndata: [1]\n\n"),
        "{seen}"
    );
    // A disconnect of the room ends the stream.
    let (status, body) = hub.http("POST", "/api/disconnect", Some(KEY), r#"{"room":"news"}"#);
    assert_eq!(
        (status, body.as_str()),
        (200, r#"{"ok":true,"sse_closed":1}"#)
    );
    read_until(&mut tcp, &mut seen, "0\r\n\r\n");
    drop(tcp);

    hub.emit(&json!({ "rooms": ["news"], "event": "update", "args": [2] }));
    hub.emit(&json!({ "rooms": ["news"], "event": "update", "args": [3] }));
    let (mut tcp, mut seen) = sse(hub.addr, &format!("rooms=news&token={good}"), Some("1"));
    read_until(&mut tcp, &mut seen, "data: [3]\n\n");
    assert!(
        seen.contains("id: 3\nevent: update\ndata: [2]\n\nid: 4\nevent: update\ndata: [3]\n\n"),
        "{seen}"
    );
    assert!(
        !seen.contains("data: [1]") && !seen.contains("data: [99]"),
        "{seen}"
    );

    let (_, metrics) = hub.http("GET", "/metrics", None, "");
    assert!(
        metrics.contains("sockeye_hub_sse_subscribers 1"),
        "{metrics}"
    );
}

/// Adapters other than Redis are refused, naming what exists.
#[test]
fn unknown_adapters_are_refused() {
    for url in ["kafka://127.0.0.1:9092", "memcached://127.0.0.1:11211"] {
        let finished = support::run(&["hub", "127.0.0.1:0", "--adapter", url]);
        assert_eq!(finished.code(), Some(2));
        let line = finished.one_stderr_line();
        assert!(
            line.contains("does not exist") && line.contains("redis://HOST:PORT"),
            "{line}"
        );
    }
}

/// A `redis-server` of the test's own on a free loopback port, without
/// persistence; killed by its PID when dropped. `None` when it is not
/// installed and `SOCKEYE_REQUIRE_REDIS` is unset.
struct Broker {
    _child: ChildGuard,
    port: u16,
}

impl Broker {
    fn start() -> Option<Broker> {
        let port = support::unused_addr().port();
        let mut command = std::process::Command::new("redis-server");
        command
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .args(["--port", &port.to_string()]);
        let child = spawn_broker(command, "SOCKEYE_REQUIRE_REDIS", port)?;
        Some(Broker {
            _child: child,
            port,
        })
    }
}

/// `command`, a broker listening on the loopback port `port`, started
/// and waited for until it accepts connections; `None`, saying so, when
/// its program is not installed and the environment variable `require`
/// is unset.
fn spawn_broker(
    mut command: std::process::Command,
    require: &str,
    port: u16,
) -> Option<ChildGuard> {
    let program = command.get_program().to_string_lossy().into_owned();
    let installed = std::process::Command::new(&program)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if !installed {
        assert!(
            std::env::var_os(require).is_none(),
            "{program} is not installed, and {require} is set"
        );
        eprintln!("SKIPPED: {program} is not installed");
        return None;
    }
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {program}: {e}"));
    let child = ChildGuard::new(child);
    let deadline = Instant::now() + LIMIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{program} did not start");
        thread::sleep(Duration::from_millis(20));
    }
    Some(child)
}

/// Two hubs on one Redis, classic then sharded: an API call to one
/// reaches the other's Socket.IO clients and SSE subscribers, and lists
/// the other's sockets.
#[tokio::test]
async fn two_hubs_on_redis_are_one_cluster() {
    let Some(broker) = Broker::start() else {
        return;
    };
    for query in ["", "?sharded=true"] {
        let url = format!("redis://127.0.0.1:{}{query}", broker.port);
        let a = Hub::start(&["--api-key", KEY, "--adapter", &url, "--recovery", "0"]);
        let b = Hub::start(&["--api-key", KEY, "--adapter", &url, "--recovery", "0"]);
        let (mut client, _) = b.client(None).await;
        assert_eq!(client.call(1, "join", &json!("news")).await, ok());
        let (mut events, mut seen) = sse(b.addr, "rooms=news", None);

        // A sees B's socket once the two have met on the broker.
        let deadline = Instant::now() + LIMIT;
        loop {
            let (status, body) = a.http("GET", "/api/sockets?room=news", Some(KEY), "");
            assert_eq!(status, 200);
            if body.contains("\"news\"") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{url}: A never saw B's socket: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Broadcasts to a room travel as soon as B listens to it: until
        // then (sharded mode subscribes per room), an emit may be lost.
        let mut n = 0;
        let got = loop {
            n += 1;
            a.emit(&json!({ "rooms": ["news"], "event": "update", "args": [n] }));
            if let Some(text) = client.next(Duration::from_millis(200)).await {
                break text;
            }
            assert!(n < 25, "{url}: no emit from A reached B's client");
        };
        assert_eq!(got, format!(r#"42["update",{n}]"#), "{url}");
        read_until(&mut events, &mut seen, &format!("data: [{n}]\n\n"));
        let (_, metrics) = a.http("GET", "/metrics", None, "");
        assert!(
            metrics.contains("sockeye_hub_broker_unpublished_total 0"),
            "{metrics}"
        );
    }
}

/// Two hubs on a Redis stream: a client of a hub that dies (SIGKILL)
/// comes back through the other with its socket and what it missed, and
/// the other's `/metrics` counts the recovery, a miss, and the broker's
/// round trip.
#[tokio::test]
async fn a_client_of_a_dead_hub_recovers_through_another_on_redis_streams() {
    let Some(broker) = Broker::start() else {
        return;
    };
    recovers_through_another_hub(&format!("redis-streams://127.0.0.1:{}", broker.port)).await;
}

/// The same on NATS with `JetStream`.
#[tokio::test]
async fn a_client_of_a_dead_hub_recovers_through_another_on_nats() {
    let Some(broker) = NatsBroker::start() else {
        return;
    };
    recovers_through_another_hub(&format!("nats://127.0.0.1:{}", broker.port)).await;
}

/// A `nats-server -js` of the test's own on a free loopback port, its
/// store in a temporary directory; killed by its PID when dropped. `None`
/// when it is not installed and `SOCKEYE_REQUIRE_NATS` is unset.
struct NatsBroker {
    _child: ChildGuard,
    port: u16,
    dir: std::path::PathBuf,
}

impl NatsBroker {
    fn start() -> Option<NatsBroker> {
        let port = support::unused_addr().port();
        let dir =
            std::env::temp_dir().join(format!("sockeye-hub-nats-{}-{port}", std::process::id()));
        let mut command = std::process::Command::new("nats-server");
        command
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(&dir);
        let child = spawn_broker(command, "SOCKEYE_REQUIRE_NATS", port)?;
        Some(NatsBroker {
            _child: child,
            port,
            dir,
        })
    }
}

impl Drop for NatsBroker {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Two hubs on the broker at `url`, with recovery: a client of one that
/// dies comes back through the other; the other's `/metrics` counts it,
/// a miss, and a round trip to the broker.
async fn recovers_through_another_hub(url: &str) {
    let url = url.to_owned();
    let a = Hub::start(&["--api-key", KEY, "--adapter", &url]);
    let b = Hub::start(&["--api-key", KEY, "--adapter", &url]);
    let (mut client, answer) = a.client(None).await;
    let open: serde_json::Value = serde_json::from_str(&answer[2..]).unwrap();
    let (sid, pid) = (open["sid"].clone(), open["pid"].clone());
    assert_eq!(client.call(1, "join", &json!("news")).await, ok());

    // B sees A's socket once the two have met on the broker (a request
    // over pub/sub).
    let deadline = Instant::now() + LIMIT;
    loop {
        let (status, body) = b.http("GET", "/api/sockets?room=news", Some(KEY), "");
        assert_eq!(status, 200);
        if body.contains(sid.as_str().unwrap()) {
            break;
        }
        assert!(Instant::now() < deadline, "B never saw A's socket: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.emit(&json!({ "rooms": ["news"], "event": "update", "args": [1] }));
    let first: Vec<serde_json::Value> = serde_json::from_str(&client.text().await[2..]).unwrap();
    assert_eq!(first[..2], [json!("update"), json!(1)]);
    let offset = first.last().unwrap().clone();
    assert!(
        offset.as_str().is_some_and(|o| !o.is_empty()),
        "an offset: {offset}"
    );

    drop(a);
    drop(client);
    b.emit(&json!({ "rooms": ["news"], "event": "update", "args": [2] }));
    let reconnect = format!("ws://{}/socket.io/?EIO=4&transport=websocket", b.addr);
    let mut back = Client {
        ws: sockeye::connect(&reconnect).await.unwrap(),
    };
    assert!(back.text().await.starts_with("0{"));
    back.send(&format!("40{}", json!({ "pid": pid, "offset": offset })))
        .await;
    let answer = back.text().await;
    let reopened: serde_json::Value = serde_json::from_str(&answer[2..]).unwrap();
    assert_eq!(reopened["sid"], sid, "{answer}");
    let missed = back.text().await;
    assert!(missed.starts_with(r#"42["update",2,"#), "{missed}");

    // A client that does not ask to recover is no miss; one naming a
    // session nobody knows connects afresh and is one.
    let (_fresh, answer) = b.client(None).await;
    assert!(answer.starts_with("40"), "{answer}");
    let mut stranger = Client {
        ws: sockeye::connect(&reconnect).await.unwrap(),
    };
    assert!(stranger.text().await.starts_with("0{"));
    stranger
        .send(&format!(
            "40{}",
            json!({ "pid": "unknown-session", "offset": "1-0" })
        ))
        .await;
    let answer = stranger.text().await;
    assert!(!answer.contains(sid.as_str().unwrap()), "{answer}");
    let (_, metrics) = b.http("GET", "/metrics", None, "");
    for line in [
        "sockeye_hub_recovered_total 1\n",
        "sockeye_hub_recovery_misses_total 1\n",
        "sockeye_hub_broker_up 1\n",
        "sockeye_hub_broker_round_trip_seconds 0.",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
}

/// `--jwt-public-key`: RS256 with an RSA key, `EdDSA` with an Ed25519 key;
/// a token of the other algorithm is refused.
#[tokio::test]
async fn public_keys_check_rs256_and_eddsa_tokens() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/hub/");
    let rsa =
        EncodingKey::from_rsa_pem(&std::fs::read(format!("{fixtures}rsa-private.pem")).unwrap())
            .unwrap();
    let ed =
        EncodingKey::from_ed_pem(&std::fs::read(format!("{fixtures}ed25519-private.pem")).unwrap())
            .unwrap();
    let claims = json!({ "sub": "ann", "exp": now() + 60, "rooms": ["a"] });
    let rs256 =
        jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::RS256), &claims, &rsa).unwrap();
    let eddsa =
        jsonwebtoken::encode(&Header::new(jsonwebtoken::Algorithm::EdDSA), &claims, &ed).unwrap();
    for (public, good, other) in [
        ("rsa-public.pem", &rs256, &eddsa),
        ("ed25519-public.pem", &eddsa, &rs256),
    ] {
        let key = format!("{fixtures}{public}");
        let hub = Hub::start(&["--jwt-public-key", &key]);
        let (mut client, answer) = hub.client(Some(good)).await;
        assert!(answer.starts_with(r#"40{"sid":"#), "{public}: {answer}");
        assert_eq!(client.call(1, "join", &json!("a")).await, ok());
        let (_, answer) = hub.client(Some(other)).await;
        assert!(
            answer.starts_with("44{") && answer.contains("algorithm"),
            "{public}: {answer}"
        );
    }
}

/// `--config`: namespaces and publishable events from the file, a flag
/// over the file's value.
#[tokio::test]
async fn the_config_file_sets_namespaces_and_events() {
    let dir = std::env::temp_dir().join(format!("sockeye-hub-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("hub.toml");
    std::fs::write(
        &path,
        "api_key = \"from-file\"\nrecovery_secs = 0\n[[namespace]]\nname = \"/chat\"\npublish = [\"say\"]\npublish_rooms = [\"ro*\"]\n",
    )
    .unwrap();
    let hub = Hub::start(&["--config", path.to_str().unwrap(), "--api-key", KEY]);
    let (status, _) = hub.http("GET", "/api/rooms?namespace=/chat", Some(KEY), "");
    assert_eq!(status, 200);
    let (status, _) = hub.http("GET", "/api/rooms?namespace=/chat", Some("from-file"), "");
    assert_eq!(status, 401);
    let (status, _) = hub.http("GET", "/api/rooms?namespace=/", Some(KEY), "");
    assert_eq!(status, 400);

    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", hub.addr);
    let mut a = Client {
        ws: sockeye::connect(&url).await.unwrap(),
    };
    let mut b = Client {
        ws: sockeye::connect(&url).await.unwrap(),
    };
    for client in [&mut a, &mut b] {
        assert!(client.text().await.starts_with("0{"));
        client.send("40/chat,").await;
        assert!(client.text().await.starts_with(r#"40/chat,{"sid":"#));
        client.send(r#"42/chat,1["join","room"]"#).await;
        assert_eq!(client.text().await, r#"43/chat,1[{"ok":true}]"#);
    }
    a.send(r#"42/chat,2["publish",{"room":"room","event":"say","args":["hi"]}]"#)
        .await;
    assert_eq!(a.text().await, r#"43/chat,2[{"ok":true}]"#);
    assert_eq!(b.text().await, r#"42/chat,["say","hi"]"#);
    // A room outside `publish_rooms`, though the client may join it.
    a.send(r#"42/chat,3["publish",{"room":"elsewhere","event":"say","args":[]}]"#)
        .await;
    let refused = a.text().await;
    assert!(
        refused.starts_with(r#"43/chat,3[{"error":"room not open"#),
        "{refused}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--max-connections`: a connection over the limit is closed at once;
/// once one ends, another is served.
#[test]
fn connections_over_the_limit_are_closed() {
    let hub = Hub::start(&["--max-connections", "1"]);
    let held = TcpStream::connect(hub.addr).unwrap();
    // The held one is being served before the next comes.
    thread::sleep(Duration::from_millis(200));
    let mut over = TcpStream::connect(hub.addr).unwrap();
    over.set_read_timeout(Some(LIMIT)).unwrap();
    let mut buf = [0; 16];
    assert_eq!(over.read(&mut buf).unwrap_or(0), 0, "not closed");
    drop(held);
    let deadline = Instant::now() + LIMIT;
    loop {
        let mut tcp = TcpStream::connect(hub.addr).unwrap();
        tcp.set_read_timeout(Some(LIMIT)).unwrap();
        write!(
            tcp,
            "GET /metrics HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        let _ = tcp.read_to_string(&mut answer);
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        thread::sleep(Duration::from_millis(50));
    }
    assert!(
        hub.log().contains("--max-connections reached"),
        "{}",
        hub.log()
    );
}

/// Connection state recovery with auth on: a client whose connection
/// dropped comes back with its token, its session id and offset, and
/// gets its socket (id, rooms) and the event sent meanwhile (its token is
/// checked again: a refused attempt would use the session up, as in
/// Node).
#[tokio::test]
async fn a_dropped_client_recovers_its_socket_and_missed_events() {
    let hub = Hub::start(&["--api-key", KEY, "--jwt-secret", SECRET]);
    let token = token(SECRET, "ann", now() + 60, &["news"]);
    let (mut client, answer) = hub.client(Some(&token)).await;
    let open: serde_json::Value = serde_json::from_str(&answer[2..]).unwrap();
    let (sid, pid) = (open["sid"].clone(), open["pid"].clone());
    assert!(pid.is_string(), "{answer}");
    assert_eq!(client.call(1, "join", &json!("news")).await, ok());
    hub.emit(&json!({ "rooms": ["news"], "event": "update", "args": [1] }));
    let first: Vec<serde_json::Value> = serde_json::from_str(&client.text().await[2..]).unwrap();
    let offset = first.last().unwrap().clone();
    // The connection drops without a word.
    drop(client);
    tokio::time::sleep(Duration::from_millis(300)).await;
    hub.emit(&json!({ "rooms": ["news"], "event": "update", "args": [2] }));

    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", hub.addr);
    let mut back = Client {
        ws: sockeye::connect(&url).await.unwrap(),
    };
    assert!(back.text().await.starts_with("0{"));
    back.send(&format!(
        "40{}",
        json!({ "token": token, "pid": pid, "offset": offset })
    ))
    .await;
    let answer = back.text().await;
    let reopened: serde_json::Value = serde_json::from_str(&answer[2..]).unwrap();
    assert_eq!(reopened["sid"], sid, "{answer}");
    let missed = back.text().await;
    assert!(missed.starts_with(r#"42["update",2,"#), "{missed}");
    hub.emit(&json!({ "rooms": ["news"], "event": "update", "args": [3] }));
    assert!(back.text().await.starts_with(r#"42["update",3,"#));
    let (_, metrics) = hub.http("GET", "/metrics", None, "");
    assert!(
        metrics.contains("sockeye_hub_recovered_total 1"),
        "{metrics}"
    );
}

/// `--tls-self-signed`: Socket.IO over `wss://` on the same port (the
/// Engine.IO open packet comes back through `sockeye connect -k`).
#[test]
fn tls_serves_socketio_over_wss() {
    let hub = Hub::start(&["--tls-self-signed"]);
    assert!(hub.log().contains("listening on wss://"), "{}", hub.log());
    let url = format!(
        "wss://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket",
        hub.addr.port()
    );
    let mut command = sockeye();
    command.args(["connect", "-k", &url]);
    let mut running = support::Running::spawn(command);
    let line = running.next_stdout_line().expect("the open packet");
    assert!(line.starts_with(r#"0{"sid":"#), "{line}");
    running.close_stdin();
    running.finish();
}
