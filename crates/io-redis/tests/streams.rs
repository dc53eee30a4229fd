//! The Redis Streams adapter on a `redis-server` of the test's own:
//! broadcasts reach every server in the stream's order, with the entry id
//! as their offset, and a client whose server died (its runtime dropped
//! mid-run, so it never saw the connection end) recovers on another server
//! with every packet it missed, in order. Skipped, saying so, when
//! `redis-server` is not installed and `SOCKEYE_REQUIRE_REDIS` is unset.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use sockeye_io::{RecoveryConfig, SocketIo, SocketIoConfig};
use sockeye_io_redis::streams::{RedisStreamsAdapters, RedisStreamsConfig};
use support::{Broker, LIMIT, hears_within, quick_config, send, text};
use tokio::net::TcpListener;

fn config() -> RedisStreamsConfig {
    config_for(Duration::from_secs(60))
}

fn config_for(kept: Duration) -> RedisStreamsConfig {
    RedisStreamsConfig {
        link: quick_config(),
        block: Duration::from_millis(200),
        max_disconnection_duration: kept,
        ..RedisStreamsConfig::default()
    }
}

fn recovery() -> SocketIoConfig {
    let mut config = SocketIoConfig::default();
    config.recovery = Some(RecoveryConfig::default());
    config
}

/// A server on the current runtime: it and its WebSocket URL.
async fn server(broker: &Broker) -> (SocketIo, String) {
    let adapters = RedisStreamsAdapters::new(&broker.url(), config()).expect("adapters");
    let io = SocketIo::with_adapter(recovery(), move |nsp| adapters.make(nsp));
    io.of("/");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        listener.local_addr().expect("address")
    );
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    (io, url)
}

/// A server on a runtime of its own, on its own thread; it dies (every
/// task dropped, no disconnect seen, its broker connections cut) when the
/// returned sender is dropped.
fn doomed_server(broker_url: String) -> (String, mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    doomed_server_with(broker_url, config())
}

fn doomed_server_with(
    broker_url: String,
    config: RedisStreamsConfig,
) -> (String, mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (url_tx, url_rx) = mpsc::channel();
    let (kill_tx, kill_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let adapters = RedisStreamsAdapters::new(&broker_url, config).expect("adapters");
            let io = SocketIo::with_adapter(recovery(), move |nsp| adapters.make(nsp));
            io.of("/");
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let url = format!(
                "ws://{}/socket.io/?EIO=4&transport=websocket",
                listener.local_addr().expect("address")
            );
            tokio::spawn(async move { io.serve(listener).await });
            url_tx.send(url).expect("url");
        });
        let _ = kill_rx.recv();
        runtime.shutdown_background();
    });
    (url_rx.recv().expect("url"), kill_tx, thread)
}

/// `42["n",k,"offset"]` as `(k, offset)`.
fn numbered(message: &str) -> (u64, String) {
    let body: serde_json::Value =
        serde_json::from_str(message.strip_prefix("42").expect("an EVENT")).expect("json");
    assert_eq!(body[0], "n", "{message}");
    (
        body[1].as_u64().expect("a number"),
        body[2].as_str().expect("an offset").to_owned(),
    )
}

/// Connects with `auth`; the CONNECT answer's sid and pid.
async fn connect(
    url: &str,
    auth: &str,
) -> (sockeye::WebSocket<sockeye::ClientStream>, String, String) {
    let mut ws = sockeye::connect(url).await.expect("websocket handshake");
    assert!(text(&mut ws).await.starts_with("0{"));
    send(&mut ws, &format!("40{auth}")).await;
    let reply = text(&mut ws).await;
    let body: serde_json::Value =
        serde_json::from_str(reply.strip_prefix("40").expect("a CONNECT")).expect("json");
    (
        ws,
        body["sid"].as_str().expect("sid").to_owned(),
        body["pid"].as_str().expect("pid").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_server_died_recovers_on_another_with_all_it_missed() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_b, url_b) = server(&broker).await;
    let (url_a, kill_a, thread_a) = doomed_server(broker.url());
    let (mut on_b, _, _) = connect(&url_b, "").await;
    let (mut on_a, sid, pid) = connect(&url_a, "").await;
    // The reader of a new server starts at the stream's end: wait until
    // A's has, by sending until a packet arrives.
    let mut first = None;
    for _ in 0..50 {
        io_b.emit("n", 0).unwrap();
        if let Some(message) = hears_within(&mut on_a, Duration::from_millis(100)).await {
            first = Some(message);
            break;
        }
    }
    let mut last = numbered(&first.expect("A hears B's broadcasts")).1;
    // Drain the other probes.
    while let Some(message) = hears_within(&mut on_a, Duration::from_millis(300)).await {
        last = numbered(&message).1;
    }
    for k in 1..=5 {
        io_b.emit("n", k).unwrap();
    }
    let mut seen_b = Vec::new();
    while seen_b.last() != Some(&5) {
        let (k, offset) = numbered(&text(&mut on_b).await);
        assert!(offset.split_once('-').is_some(), "a stream id: {offset}");
        seen_b.push(k);
    }
    for k in 1..=5 {
        let (got, offset) = numbered(&text(&mut on_a).await);
        assert_eq!(got, k);
        last = offset;
    }

    // A dies without a word; B goes on broadcasting meanwhile.
    drop(kill_a);
    thread_a.join().expect("A's thread");
    drop(on_a);
    for k in 6..=40 {
        io_b.emit("n", k).unwrap();
    }
    let (mut back, back_sid, _) =
        connect(&url_b, &format!(r#"{{"pid":"{pid}","offset":"{last}"}}"#)).await;
    assert_eq!(back_sid, sid, "recovered with its id");
    for k in 6..=40 {
        assert_eq!(numbered(&text(&mut back).await).0, k, "in order, none lost");
    }
    io_b.emit("n", 41).unwrap();
    assert_eq!(numbered(&text(&mut back).await).0, 41, "live again, once");
    assert_eq!(
        hears_within(&mut back, Duration::from_millis(300)).await,
        None
    );

    let _ = LIMIT;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_offset_or_session_connects_afresh() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (_io, url) = server(&broker).await;
    let (_ws, sid, pid) = connect(&url, "").await;
    for auth in [
        format!(r#"{{"pid":"{pid}","offset":"not-an-id"}}"#),
        format!(r#"{{"pid":"{pid}","offset":"1-0"}}"#),
        r#"{"pid":"nobody","offset":"1-0"}"#.to_owned(),
    ] {
        let (_, other, _) = connect(&url, &auth).await;
        assert_ne!(other, sid, "{auth}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cut_off_resumes_where_it_was_and_misses_nothing() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_a, url_a) = server(&broker).await;
    let (_io_b, url_b) = server(&broker).await;
    let (mut on_a, _, _) = connect(&url_a, "").await;
    let (mut on_b, _, _) = connect(&url_b, "").await;
    // Both readers follow the stream once a probe reaches both clients.
    let mut probes = 0;
    loop {
        probes += 1;
        assert!(probes < 50, "the readers never followed the stream");
        io_a.emit("n", 0).unwrap();
        let a = hears_within(&mut on_a, Duration::from_millis(100)).await;
        let b = hears_within(&mut on_b, Duration::from_millis(100)).await;
        if a.is_some() && b.is_some() {
            break;
        }
    }
    while hears_within(&mut on_a, Duration::from_millis(300))
        .await
        .is_some()
    {}
    while hears_within(&mut on_b, Duration::from_millis(300))
        .await
        .is_some()
    {}

    // Cut every reading connection (`XREAD`), then broadcast at once:
    // the entries are written, and read when the readers are back.
    let client = redis::Client::open(broker.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut conn)
        .await
        .unwrap();
    let readers: Vec<String> = list
        .lines()
        .filter(|line| line.contains("cmd=xread"))
        .filter_map(|line| line.split(' ').find_map(|f| f.strip_prefix("id=")))
        .map(str::to_owned)
        .collect();
    assert_eq!(readers.len(), 2, "{list}");
    for id in &readers {
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    for k in 1..=20 {
        io_a.emit("n", k).unwrap();
    }
    for ws in [&mut on_a, &mut on_b] {
        for k in 1..=20 {
            assert_eq!(numbered(&text(ws).await).0, k, "in order, none lost");
        }
        assert_eq!(hears_within(ws, Duration::from_millis(300)).await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lives_while_connected_and_expires_after_its_server_died() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let kept = Duration::from_secs(3);
    let (url, kill, thread) = doomed_server_with(broker.url(), config_for(kept));
    let (_ws, _, pid) = connect(&url, "").await;
    let client = redis::Client::open(broker.url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("sio:session:{pid}");
    let ttl = |conn: &mut redis::aio::MultiplexedConnection| {
        let mut conn = conn.clone();
        let key = key.clone();
        async move {
            redis::cmd("PTTL")
                .arg(&key)
                .query_async::<i64>(&mut conn)
                .await
                .unwrap()
        }
    };
    // Written at connect, and renewed past its first lifetime.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(ttl(&mut conn).await > 0, "kept from connect");
    tokio::time::sleep(kept + Duration::from_secs(1)).await;
    assert!(ttl(&mut conn).await > 0, "renewed while connected");
    // Its server dies: nobody renews it, and it expires.
    drop(kill);
    thread.join().expect("the server's thread");
    tokio::time::sleep(kept + Duration::from_millis(500)).await;
    assert_eq!(ttl(&mut conn).await, -2, "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_broker_local_delivery_goes_on_and_what_waited_follows_when_it_is_back() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let adapters = RedisStreamsAdapters::new(&broker.url(), config()).expect("adapters");
    let stats = adapters.clone();
    let io_a = SocketIo::with_adapter(recovery(), move |nsp| adapters.make(nsp));
    io_a.of("/");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url_a = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        listener.local_addr().expect("address")
    );
    let serving = io_a.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    let (_io_b, url_b) = server(&broker).await;
    let (mut a, _, _) = connect(&url_a, "").await;
    let (mut b, _, _) = connect(&url_b, "").await;
    // Through the stream first: both readers follow it once a probe
    // comes back to both.
    let mut probes = 0;
    loop {
        probes += 1;
        assert!(probes < 50, "the readers never followed the stream");
        io_a.emit("n", 0).unwrap();
        let heard_a = hears_within(&mut a, Duration::from_millis(100)).await;
        let heard_b = hears_within(&mut b, Duration::from_millis(100)).await;
        if heard_a.is_some() && heard_b.is_some() {
            break;
        }
    }
    for ws in [&mut a, &mut b] {
        while hears_within(ws, Duration::from_millis(300)).await.is_some() {}
    }

    broker.stop();
    for n in 1..=5 {
        io_a.emit("n", n).unwrap();
    }
    for n in 1..=5 {
        let message = text(&mut a).await;
        assert_eq!(
            message,
            format!(r#"42["n",{n}]"#),
            "delivered here at once, without an offset"
        );
    }
    assert_eq!(hears_within(&mut b, Duration::from_millis(300)).await, None);

    broker.restart();
    // What was sent on the dead connection may be lost, and is counted;
    // what waited for the broker reaches b in order once it is back.
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + support::LIMIT;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "6 never reached b: {seen:?}"
        );
        io_a.emit("n", 6).unwrap();
        let (k, offset) = numbered(&text(&mut b).await);
        assert!(
            offset
                .parse::<sockeye_io_redis::streams::StreamId>()
                .is_ok(),
            "{offset}"
        );
        if k == 6 {
            break;
        }
        seen.push(k);
    }
    let (k, _) = numbered(&text(&mut a).await);
    assert_eq!(k, 6, "nothing twice here");
    let counted = stats.stats();
    let lost = usize::try_from(counted.unpublished).unwrap();
    assert!(
        lost <= 1,
        "only a write in flight when the broker died is lost: {counted:?}"
    );
    assert_eq!(
        seen,
        (1 + lost as u64..=5).collect::<Vec<_>>(),
        "{counted:?}"
    );
    assert_eq!(counted.delayed, 5 - counted.unpublished, "{counted:?}");
}

/// `server`, with a handler for the server-side event `double` (which
/// answers twice its number).
async fn server_that_doubles(broker: &Broker) -> (SocketIo, String) {
    let (io, url) = server(broker).await;
    io.of("/")
        .on_server_side_with_ack("double", |args| async move {
            let n = args
                .into_values()
                .first()
                .and_then(sockeye_io::Value::as_i64)
                .unwrap_or(0);
            sockeye_io::Value::from(n * 2)
        });
    (io, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_that_wait_for_answers_cross_servers_over_pub_sub() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_a, url_a) = server_that_doubles(&broker).await;
    let (io_b, url_b) = server_that_doubles(&broker).await;
    support::await_servers(&io_a, 2).await;
    support::await_servers(&io_b, 2).await;
    let (mut a, _, _) = connect(&url_a, "").await;
    let (mut b, b_id, _) = connect(&url_b, "").await;

    let found = io_a.fetch_sockets().await;
    assert_eq!(found.len(), 2, "both servers' sockets");
    let b_found = found
        .iter()
        .find(|s| s.id().as_str() == b_id)
        .expect("b's socket, from the other server");

    let answer = io_a
        .of("/")
        .server_side_emit_with_ack("double", 21)
        .await
        .expect("server-side emit");
    assert!(answer.complete);
    assert_eq!(answer.replies, [sockeye_io::Value::from(42)]);

    let answers = io_a
        .broadcast()
        .timeout(Duration::from_secs(5))
        .emit_with_ack_everywhere("ask", 1)
        .expect("broadcast with acks");
    let answers = tokio::spawn(answers);
    for (ws, reply) in [(&mut a, "\"a\""), (&mut b, "\"b\"")] {
        let event = text(ws).await;
        let rest = event.strip_prefix("42").expect("an EVENT");
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        send(ws, &format!("43{id}[{reply}]")).await;
    }
    let answers = answers.await.expect("acks");
    assert!(answers.remote.complete);
    assert_eq!(answers.remote.acks, [sockeye_io::Value::from("b")]);

    b_found.disconnect(false);
    assert_eq!(text(&mut b).await, "41");
    assert_eq!(hears_within(&mut a, Duration::from_millis(200)).await, None);
}
