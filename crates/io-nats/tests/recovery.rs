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

/// How long the first message after the broker came back may take: the
/// client reconnects with backoff, `JetStream` needs a moment to load its
/// streams, and the reader tries again with backoff up to 5 s.
const BACK_WITHIN: Duration = Duration::from_secs(30);

/// Two servers on `broker`, each with a client following the stream:
/// server A, its adapters, A's client and B's client (B is kept alive by
/// its task).
async fn two_servers(
    broker: &Broker,
    config: NatsAdapterConfig,
) -> (
    SocketIo,
    NatsAdapters,
    sockeye::WebSocket<sockeye::ClientStream>,
    sockeye::WebSocket<sockeye::ClientStream>,
) {
    let a = adapters(broker, config.clone()).await;
    let factory = a.clone();
    let io = SocketIo::with_adapter(recovery(), move |nsp| factory.make(nsp));
    let url = serve(&io).await;
    let b = adapters(broker, config).await;
    let io_b = SocketIo::with_adapter(recovery(), move |nsp| b.make(nsp));
    let url_b = serve(&io_b).await;
    let (mut ws, _, _) = connect(&url, "").await;
    let (mut ws_b, _, _) = connect(&url_b, "").await;
    follow(&io, &mut [&mut ws, &mut ws_b]).await;
    (io, a, ws, ws_b)
}

/// Stops `broker` and gives the clients a moment to see their
/// connections end (the socket closes at once; the client notices on its
/// next read).
async fn stop(broker: &mut Broker) {
    broker.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// The numbers (and offsets) of the next `n` events `ws` hears, the first
/// within [`BACK_WITHIN`].
async fn numbers_after_outage(
    ws: &mut sockeye::WebSocket<sockeye::ClientStream>,
    n: usize,
) -> Vec<(u64, u64)> {
    let mut heard = Vec::new();
    let first = hears_within(ws, BACK_WITHIN)
        .await
        .expect("what waited arrives once the broker is back");
    heard.push(first);
    while heard.len() < n {
        heard.push(text(ws).await);
    }
    heard
        .iter()
        .map(|message| {
            let (k, offset) = numbered(message);
            (k, offset.parse().expect("a stream sequence"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_broker_local_delivery_goes_on_and_what_waited_follows_when_it_is_back() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let (io, adapters, mut ws, mut ws_b) = two_servers(&broker, config()).await;
    let before = adapters.stats();

    stop(&mut broker).await;
    for k in 1..=5 {
        io.emit("n", k).unwrap();
    }
    for k in 1..=5 {
        let message = text(&mut ws).await;
        assert_eq!(
            message,
            format!(r#"42["n",{k}]"#),
            "here at once, no offset"
        );
    }
    assert_eq!(
        hears_within(&mut ws_b, Duration::from_millis(500)).await,
        None
    );

    broker.restart();
    let heard = numbers_after_outage(&mut ws_b, 5).await;
    let numbers: Vec<u64> = heard.iter().map(|(k, _)| *k).collect();
    assert_eq!(numbers, vec![1, 2, 3, 4, 5], "all, in order: {heard:?}");
    assert!(
        heard.windows(2).all(|w| w[0].1 < w[1].1),
        "offsets grow: {heard:?}"
    );

    // A read them back too and did not deliver them again: the next event
    // A's client hears is one sent now, with its offset after theirs.
    io.emit("n", 6).unwrap();
    let (k, offset) = numbered(&text(&mut ws).await);
    assert_eq!(k, 6);
    assert!(offset.parse::<u64>().expect("an offset") > heard[4].1);
    assert_eq!(numbered(&text(&mut ws_b).await).0, 6);

    let after = adapters.stats();
    assert_eq!(after.delayed - before.delayed, 5, "{after:?}");
    assert!(after.reconnects > before.reconnects, "{after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_past_the_waiting_room_are_delivered_here_and_counted() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let mut config = config();
    if let Some(recovery) = config.recovery.as_mut() {
        recovery.write_queue = 2;
    }
    let (io, adapters, mut ws, mut ws_b) = two_servers(&broker, config).await;
    let before = adapters.stats();

    stop(&mut broker).await;
    for k in 1..=5 {
        io.emit("n", k).unwrap();
    }
    for k in 1..=5 {
        assert_eq!(text(&mut ws).await, format!(r#"42["n",{k}]"#));
    }

    broker.restart();
    // What was kept (two waiting, and up to two more if the writer took
    // them from its queue before it filled) reaches B in order, then what
    // is sent now; the rest was dropped.
    let first = numbers_after_outage(&mut ws_b, 1).await;
    io.emit("n", 6).unwrap();
    let mut heard: Vec<u64> = vec![first[0].0];
    while heard.last() != Some(&6) {
        heard.push(numbered(&text(&mut ws_b).await).0);
    }
    let kept = heard.len() - 1;
    assert!((2..=4).contains(&kept), "{heard:?}");
    assert_eq!(
        heard[..kept],
        (1..=5).take(kept).collect::<Vec<u64>>()[..],
        "{heard:?}"
    );
    assert_eq!(numbered(&text(&mut ws).await).0, 6, "nothing twice here");

    let after = adapters.stats();
    assert_eq!(after.delayed - before.delayed, kept as u64, "{after:?}");
    // The dropped ones, besides heartbeats the outage kept from going out.
    assert!(
        after.unpublished - before.unpublished >= 5 - kept as u64,
        "{after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_keeps_one_copy_of_a_write_sent_twice() {
    let Some(broker) = Broker::start() else {
        return;
    };
    // The adapters make the stream as it is in use.
    let _adapters = adapters(&broker, config()).await;
    let client = async_nats::connect(broker.url()).await.expect("connect");
    let js = async_nats::jetstream::new(client);
    let mut acks = Vec::new();
    for _ in 0..2 {
        let message = async_nats::jetstream::message::PublishMessage::build()
            .message_id("test:1")
            .payload("a write sent again after its acknowledgement was lost".into());
        let ack = js
            .send_publish("socket.io.test.log", message)
            .await
            .expect("sent")
            .await
            .expect("acknowledged");
        acks.push(ack);
    }
    assert!(!acks[0].duplicate);
    assert!(acks[1].duplicate, "{acks:?}");
    assert_eq!(acks[0].sequence, acks[1].sequence);
}
