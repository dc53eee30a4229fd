//! Recovery through `JetStream` on a `nats-server -js` of the test's own:
//! broadcasts reach every server in the stream's order, with the stream
//! sequence as their offset, and a client whose server died (its runtime
//! dropped mid-run, so it never saw the connection end) recovers on
//! another server with every packet it missed, in order. Skipped, saying
//! so, when `nats-server` is not installed and `SOCKEYE_REQUIRE_NATS` is
//! unset.

mod support;

use std::sync::mpsc;
use std::time::Duration;

use sockeye_io::{RecoveryConfig as IoRecovery, SocketIo, SocketIoConfig};
use sockeye_io_nats::{NatsAdapterConfig, NatsAdapters, RecoveryConfig};
use support::{Broker, adapters, hears_within, quick_config, send, text};
use tokio::net::TcpListener;

fn config() -> NatsAdapterConfig {
    config_for(Duration::from_secs(60))
}

fn config_for(kept: Duration) -> NatsAdapterConfig {
    NatsAdapterConfig {
        recovery: Some(RecoveryConfig {
            max_disconnection_duration: kept,
            ..RecoveryConfig::default()
        }),
        ..quick_config()
    }
}

fn recovery() -> SocketIoConfig {
    let mut config = SocketIoConfig::default();
    config.recovery = Some(IoRecovery::default());
    config
}

/// Serves `io` on a loopback port: its WebSocket URL.
async fn serve(io: &SocketIo) -> String {
    io.of("/");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        listener.local_addr().expect("address")
    );
    let serving = io.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    url
}

/// A server on the current runtime: it, its adapters and its URL.
async fn server(broker: &Broker) -> (SocketIo, NatsAdapters, String) {
    let adapters = adapters(broker, config()).await;
    let factory = adapters.clone();
    let io = SocketIo::with_adapter(recovery(), move |nsp| factory.make(nsp));
    let url = serve(&io).await;
    (io, adapters, url)
}

/// A server on a runtime of its own, on its own thread; it dies (every
/// task dropped, no disconnect seen, its broker connection cut) when the
/// returned sender is dropped.
fn doomed_server(
    broker: &Broker,
    config: NatsAdapterConfig,
) -> (String, mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    doomed_server_with(broker, config, |_| {})
}

/// As [`doomed_server`], `setup` called on the server before it serves.
fn doomed_server_with(
    broker: &Broker,
    config: NatsAdapterConfig,
    setup: fn(&SocketIo),
) -> (String, mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let broker_url = broker.url();
    let (url_tx, url_rx) = mpsc::channel();
    let (kill_tx, kill_rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let adapters = NatsAdapters::new(&broker_url, config)
                .await
                .expect("adapters");
            let io = SocketIo::with_adapter(recovery(), move |nsp| adapters.make(nsp));
            setup(&io);
            url_tx.send(serve(&io).await).expect("url");
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

/// Emits probes from `io` until every client in `clients` heard one, then
/// drains the rest: the last offset each heard.
async fn follow(
    io: &SocketIo,
    clients: &mut [&mut sockeye::WebSocket<sockeye::ClientStream>],
) -> Vec<String> {
    let mut last = vec![None; clients.len()];
    for _ in 0..50 {
        io.emit("n", 0).unwrap();
        for (ws, last) in clients.iter_mut().zip(&mut last) {
            if let Some(message) = hears_within(ws, Duration::from_millis(100)).await {
                *last = Some(numbered(&message).1);
            }
        }
        if last.iter().all(Option::is_some) {
            break;
        }
    }
    let mut last: Vec<String> = last
        .into_iter()
        .map(|l| l.expect("every reader follows the stream"))
        .collect();
    for (ws, last) in clients.iter_mut().zip(&mut last) {
        while let Some(message) = hears_within(ws, Duration::from_millis(300)).await {
            *last = numbered(&message).1;
        }
    }
    last
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_server_died_recovers_on_another_with_all_it_missed() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_b, _, url_b) = server(&broker).await;
    let (url_a, kill_a, thread_a) = doomed_server(&broker, config());
    let (mut on_b, _, _) = connect(&url_b, "").await;
    let (mut on_a, sid, pid) = connect(&url_a, "").await;
    let mut last = follow(&io_b, &mut [&mut on_a, &mut on_b]).await[0].clone();
    for k in 1..=5 {
        io_b.emit("n", k).unwrap();
    }
    let mut offsets = Vec::new();
    for k in 1..=5 {
        let (got, offset) = numbered(&text(&mut on_b).await);
        assert_eq!(
            got, k,
            "the emitting server's clients get the stream's order too"
        );
        offsets.push(offset.parse::<u64>().expect("a stream sequence"));
    }
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recovered_client_gets_only_what_its_rooms_were_sent() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_b, _, url_b) = server(&broker).await;
    let (url_a, kill_a, thread_a) = doomed_server_with(&broker, config(), |io| {
        io.ns("/", |socket| async move {
            socket.join("red");
        });
    });
    let (mut on_b, _, _) = connect(&url_b, "").await;
    let (mut on_a, sid, pid) = connect(&url_a, "").await;
    let last = follow(&io_b, &mut [&mut on_a, &mut on_b]).await[0].clone();
    // The join after connect is in the stored session by the time A dies.
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(kill_a);
    thread_a.join().expect("A's thread");
    drop(on_a);
    for k in 1..=20 {
        let room = if k % 2 == 0 { "red" } else { "blue" };
        io_b.to(room).emit("n", k).unwrap();
    }
    io_b.except("red").emit("n", 21).unwrap();
    io_b.emit("n", 22).unwrap();
    let (mut back, back_sid, _) =
        connect(&url_b, &format!(r#"{{"pid":"{pid}","offset":"{last}"}}"#)).await;
    assert_eq!(back_sid, sid);
    let mut got = Vec::new();
    while got.last() != Some(&22) {
        got.push(numbered(&text(&mut back).await).0);
    }
    let expected: Vec<u64> = (2..=20).step_by(2).chain([22]).collect();
    assert_eq!(got, expected);
    // Back in its room: a broadcast to it arrives live.
    io_b.to("red").emit("n", 23).unwrap();
    assert_eq!(numbered(&text(&mut back).await).0, 23);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_offset_or_session_connects_afresh() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io, _, url) = server(&broker).await;
    let (mut ws, sid, pid) = connect(&url, "").await;
    follow(&io, &mut [&mut ws]).await;
    for auth in [
        format!(r#"{{"pid":"{pid}","offset":"not-a-sequence"}}"#),
        format!(r#"{{"pid":"{pid}","offset":"999999"}}"#),
        r#"{"pid":"nobody","offset":"1"}"#.to_owned(),
        r#"{"pid":"no.such*key","offset":"1"}"#.to_owned(),
    ] {
        let (_, other, _) = connect(&url, &auth).await;
        assert_ne!(other, sid, "{auth}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_lives_while_connected_and_expires_after_its_server_died() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let kept = Duration::from_secs(3);
    let (url, kill, thread) = doomed_server(&broker, config_for(kept));
    let (_ws, _, pid) = connect(&url, "").await;
    let client = async_nats::connect(broker.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let kv = js.get_key_value("socket-io-sessions").await.unwrap();
    let kept_now = || {
        let (kv, pid) = (kv.clone(), pid.clone());
        async move { kv.get(pid).await.unwrap().is_some() }
    };
    // Written at connect, and written again past its first lifetime.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(kept_now().await, "kept from connect");
    tokio::time::sleep(kept + Duration::from_secs(1)).await;
    assert!(kept_now().await, "renewed while connected");
    // Its server dies: nobody renews it, and it expires.
    drop(kill);
    thread.join().expect("the server's thread");
    tokio::time::sleep(kept + Duration::from_secs(1)).await;
    assert!(!kept_now().await, "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_broker_local_delivery_goes_on_and_the_stream_comes_back() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let (io, adapters, url) = server(&broker).await;
    let (_io_b, _, url_b) = server(&broker).await;
    let (mut ws, _, _) = connect(&url, "").await;
    let (mut ws_b, _, _) = connect(&url_b, "").await;
    follow(&io, &mut [&mut ws, &mut ws_b]).await;

    broker.stop();
    io.emit("n", 1).unwrap();
    let message = text(&mut ws).await;
    assert_eq!(message, r#"42["n",1]"#, "delivered here, without an offset");
    assert!(adapters.stats().unpublished >= 1, "{:?}", adapters.stats());

    broker.restart();
    let mut tries = 0;
    let back = loop {
        tries += 1;
        assert!(tries < 100, "never back through the stream");
        io.emit("n", 2).unwrap();
        let message = text(&mut ws).await;
        if message != r#"42["n",2]"# {
            break message;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (k, offset) = numbered(&back);
    assert_eq!(k, 2);
    assert!(offset.parse::<u64>().is_ok(), "{offset}");
    // The other server's reader resumed as well: it hears the stream again.
    for k in 3..=12 {
        io.emit("n", k).unwrap();
    }
    let mut heard = Vec::new();
    while heard.last() != Some(&12) {
        let (k, _) = numbered(&text(&mut ws_b).await);
        heard.push(k);
    }
    let tail: Vec<u64> = heard.iter().copied().skip_while(|k| *k != 3).collect();
    assert_eq!(
        tail,
        (3..=12).collect::<Vec<_>>(),
        "in order, none lost: {heard:?}"
    );
    assert!(adapters.stats().reconnects >= 1);
}
