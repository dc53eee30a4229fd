//! Two sockeye-io servers on one `redis-server`, each with its own
//! clients: what one server does reaches the other's sockets through the
//! Redis adapter, and a broker that goes away and comes back stops
//! neither. Skipped, saying so, when `redis-server` is not installed and
//! `SOCKEYE_REQUIRE_REDIS` is unset.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockeye_io::Value;
use sockeye_io::adapter::Room;
use sockeye_io_redis::RedisAdapterConfig;
use support::{
    Broker, LIMIT, await_servers, connect, hears_within, quick_config, send, server, text,
};

/// How long a test waits to be sure a message does not come.
const QUIET: Duration = Duration::from_millis(300);

/// The ids of `found`, sorted.
fn ids(found: &[sockeye_io::RemoteSocket]) -> Vec<String> {
    let mut ids: Vec<String> = found.iter().map(|s| s.id().as_str().to_owned()).collect();
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn broadcasts_reach_every_server_once_and_follow_rooms() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_a, _, url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, _, url_b) = server(&broker, quick_config(), |_| {}).await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut a, _a_id) = connect(&url_a).await;
    let (mut b, b_id) = connect(&url_b).await;

    io_a.emit("hello", 1).unwrap();
    assert_eq!(text(&mut a).await, r#"42["hello",1]"#);
    assert_eq!(text(&mut b).await, r#"42["hello",1]"#);
    // A server drops its own broadcast when Redis hands it back.
    assert_eq!(hears_within(&mut a, QUIET).await, None);

    // b joins room1 on its server, asked from the other one.
    let found = io_a.fetch_sockets().await;
    let b_found = found.iter().find(|s| s.id().as_str() == b_id).unwrap();
    b_found.join("room1");
    let deadline = Instant::now() + LIMIT;
    while io_a.to("room1").fetch_sockets().await.is_empty() {
        assert!(Instant::now() < deadline, "b never joined room1");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    io_a.to("room1").emit("to-room", "r").unwrap();
    assert_eq!(text(&mut b).await, r#"42["to-room","r"]"#);
    io_a.except("room1").emit("not-room", "x").unwrap();
    assert_eq!(text(&mut a).await, r#"42["not-room","x"]"#);
    assert_eq!(hears_within(&mut b, QUIET).await, None);
    assert_eq!(hears_within(&mut a, QUIET).await, None);
}

#[tokio::test]
async fn fetch_sockets_describes_the_other_servers_sockets_and_acts_on_them() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_a, _, _url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, _, url_b) = server(&broker, quick_config(), |io| {
        io.ns("/", |socket| async move {
            socket.set_data(Value::Map(vec![(Value::from("user"), Value::from("ann"))]));
        });
    })
    .await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut b, b_id) = connect(&url_b).await;
    // The connection handler sets the data: wait for it.
    let deadline = Instant::now() + LIMIT;
    while io_b.fetch_sockets().await[0].data().is_nil() {
        assert!(Instant::now() < deadline, "the data was never set");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let found = io_a.fetch_sockets().await;
    assert_eq!(ids(&found), std::slice::from_ref(&b_id));
    let remote = &found[0];
    assert_eq!(remote.rooms(), [Room::from(b_id.as_str())]);
    assert_eq!(remote.handshake().path(), "/socket.io/");
    assert_eq!(
        remote.handshake().query_value("transport").as_deref(),
        Some("websocket")
    );
    assert_eq!(
        remote.data(),
        &Value::Map(vec![(Value::from("user"), Value::from("ann"))])
    );

    remote.emit("direct", 7).unwrap();
    assert_eq!(text(&mut b).await, r#"42["direct",7]"#);
    remote.join("news");
    remote.leave("news");
    remote.disconnect(false);
    assert_eq!(text(&mut b).await, "41");
    let deadline = Instant::now() + LIMIT;
    while !io_a.fetch_sockets().await.is_empty() {
        assert!(Instant::now() < deadline, "b is still listed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The connection goes on: b can come back.
    send(&mut b, "40").await;
    assert!(text(&mut b).await.starts_with("40"));
}

#[tokio::test]
async fn server_side_events_all_rooms_and_the_server_count_span_the_cluster() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = Arc::clone(&heard);
    let (io_a, adapters_a, url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, _, url_b) = server(&broker, quick_config(), move |io| {
        io.on_server_side("ping", move |args| {
            log.lock()
                .unwrap()
                .push(format!("{:?}", args.into_values()));
        });
        io.of("/")
            .on_server_side_with_ack("double", |args| async move {
                let n = args
                    .into_values()
                    .first()
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                Value::from(n * 2)
            });
    })
    .await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;

    io_a.server_side_emit("ping", 5).unwrap();
    let deadline = Instant::now() + LIMIT;
    while heard.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the server-side event never came"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(heard.lock().unwrap().as_slice(), ["[Integer(PosInt(5))]"]);

    // With acks: the other server's handler replies; the sender's own
    // handlers are not asked.
    let answer = io_a
        .of("/")
        .server_side_emit_with_ack("double", 21)
        .await
        .unwrap();
    assert!(answer.complete);
    assert_eq!(answer.replies, [Value::from(42)]);
    // A server with no handler for the event does not reply: the request
    // ends at its timeout, with what came.
    let answer = io_a
        .of("/")
        .server_side_emit_with_ack("nobody-listens", 1)
        .await
        .unwrap();
    assert!(!answer.complete && answer.replies.is_empty());
    assert_eq!(adapters_a.stats().timed_out_requests, 1);

    let (_a, a_id) = connect(&url_a).await;
    let (_b, b_id) = connect(&url_b).await;
    let mut rooms = io_a.of("/").all_rooms().await;
    rooms.sort_unstable();
    let mut expected = vec![Room::from(a_id.as_str()), Room::from(b_id.as_str())];
    expected.sort_unstable();
    assert_eq!(rooms, expected);
    assert_eq!(io_a.of("/").server_count().await, 2);
    assert_eq!(adapters_a.stats().timed_out_requests, 1);
}

#[tokio::test]
async fn a_server_goes_on_alone_while_the_broker_restarts() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let (io_a, adapters_a, url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, adapters_b, url_b) = server(&broker, quick_config(), |_| {}).await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut a, _) = connect(&url_a).await;
    let (mut b, _) = connect(&url_b).await;

    broker.stop();
    // Local delivery goes on; what cannot be published is counted.
    io_a.emit("alone", 1).unwrap();
    assert_eq!(text(&mut a).await, r#"42["alone",1]"#);
    let deadline = Instant::now() + LIMIT;
    while adapters_a.stats().unpublished == 0 {
        assert!(Instant::now() < deadline, "nothing counted as unpublished");
        io_a.emit("alone", 2).unwrap();
        assert_eq!(text(&mut a).await, r#"42["alone",2]"#);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Requests answer at once, with this server's sockets only.
    let started = Instant::now();
    assert_eq!(io_a.fetch_sockets().await.len(), 1);
    assert!(started.elapsed() < LIMIT);
    assert_eq!(hears_within(&mut b, QUIET).await, None);

    broker.restart();
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    // The publishing connection comes back after its backoff: keep
    // emitting until one gets through.
    let deadline = Instant::now() + LIMIT;
    loop {
        io_a.emit("back", 3).unwrap();
        assert_eq!(text(&mut a).await, r#"42["back",3]"#);
        if let Some(heard) = hears_within(&mut b, Duration::from_millis(200)).await {
            assert_eq!(heard, r#"42["back",3]"#);
            break;
        }
        assert!(Instant::now() < deadline, "b never heard from a again");
    }
    assert!(adapters_a.stats().reconnects > 0);
    assert!(adapters_b.stats().reconnects > 0);
}

/// Answers the next event `ws` gets, which must ask for an ack, with
/// `reply`.
async fn ack_next(ws: &mut sockeye::WebSocket<sockeye::ClientStream>, reply: &str) {
    let event = text(ws).await;
    answer_ack(ws, &event, reply).await;
}

/// Answers `event`, which `ws` got and which must ask for an ack, with
/// `reply`.
async fn answer_ack(ws: &mut sockeye::WebSocket<sockeye::ClientStream>, event: &str, reply: &str) {
    let rest = event.strip_prefix("42").expect("an EVENT");
    let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert!(!id.is_empty(), "{event} asks for no ack");
    send(ws, &format!("43{id}[{reply}]")).await;
}

#[tokio::test]
async fn a_broadcast_with_acks_gathers_every_servers_clients_answers() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_a, _, url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, _, url_b) = server(&broker, quick_config(), |_| {}).await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut a, _) = connect(&url_a).await;
    let (mut b1, _) = connect(&url_b).await;
    let (mut b2, _) = connect(&url_b).await;

    let answers = io_a
        .broadcast()
        .timeout(Duration::from_secs(5))
        .emit_with_ack_everywhere("ask", 1)
        .unwrap();
    let answers = tokio::spawn(answers);
    ack_next(&mut a, "\"a\"").await;
    ack_next(&mut b1, "\"b1\"").await;
    ack_next(&mut b2, "\"b2\"").await;
    let answers = answers.await.unwrap();
    assert_eq!(answers.local.len(), 1);
    assert_eq!(
        answers.local[0]
            .result
            .as_ref()
            .unwrap()
            .clone()
            .into_values(),
        [Value::from("a")]
    );
    assert!(answers.remote.complete);
    let mut remote: Vec<String> = answers
        .remote
        .acks
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    remote.sort_unstable();
    assert_eq!(remote, ["b1", "b2"]);

    // A client that does not answer: the wait ends at the timeout, not
    // complete, with the answers that came.
    let answers = io_a
        .broadcast()
        .timeout(Duration::from_millis(500))
        .emit_with_ack_everywhere("ask", 2)
        .unwrap();
    let answers = tokio::spawn(answers);
    ack_next(&mut a, "\"a\"").await;
    ack_next(&mut b1, "\"b1\"").await;
    let _ignored = text(&mut b2).await;
    let answers = tokio::time::timeout(LIMIT, answers).await.unwrap().unwrap();
    assert!(!answers.remote.complete);
    assert_eq!(answers.remote.acks, [Value::from("b1")]);
}

/// Another server's broadcasts with acks are waited on up to
/// `max_remote_ack_waits` at once: past that, one is delivered without an
/// ack id and its sender told of no sockets here; a wait that ended makes
/// room again.
#[tokio::test]
async fn other_servers_broadcasts_with_acks_are_waited_on_up_to_the_limit() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let limited = RedisAdapterConfig {
        max_remote_ack_waits: 1,
        ..quick_config()
    };
    let (io_a, _, _url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, adapters_b, url_b) = server(&broker, limited, |_| {}).await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut b, _) = connect(&url_b).await;
    let ask = |n: u32, wait: Duration| {
        let answers = io_a
            .broadcast()
            .timeout(wait)
            .emit_with_ack_everywhere("ask", n)
            .unwrap();
        tokio::spawn(answers)
    };

    // The first is waited on (b does not answer it within 1 s).
    let first = ask(1, Duration::from_secs(1));
    let event = text(&mut b).await;
    assert!(
        event.starts_with("42") && event.ends_with(r#"["ask",1]"#) && event != r#"42["ask",1]"#,
        "with an ack id: {event}"
    );
    // The second finds no room: delivered without an ack id, and its
    // sender hears of no socket there, so it ends complete at once.
    let second = ask(2, Duration::from_secs(5));
    assert_eq!(text(&mut b).await, r#"42["ask",2]"#);
    let second = tokio::time::timeout(Duration::from_secs(2), second)
        .await
        .expect("told of no socket, it does not wait")
        .unwrap();
    assert!(second.remote.complete && second.remote.acks.is_empty());
    assert_eq!(adapters_b.stats().refused_ack_waits, 1);
    let first = first.await.unwrap();
    assert!(!first.remote.complete, "b never answered the first");

    // The first wait is over: the next is waited on again. b frees the
    // first one's place when its own wait ends, which began when the
    // request reached it, a little after a gave up: until then it refuses.
    let deadline = Instant::now() + LIMIT;
    let third = loop {
        let third = ask(3, Duration::from_secs(5));
        let event = text(&mut b).await;
        if event != r#"42["ask",3]"# {
            answer_ack(&mut b, &event, "\"b\"").await;
            break third.await.unwrap();
        }
        let refused = third.await.unwrap();
        assert!(refused.remote.complete && refused.remote.acks.is_empty());
        assert!(Instant::now() < deadline, "b never waited for an ack again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(third.remote.complete);
    assert_eq!(third.remote.acks, [Value::from("b")]);
    assert!(adapters_b.stats().refused_ack_waits >= 1);
}

#[tokio::test]
async fn a_broker_that_stops_answering_is_noticed_and_subscribed_to_again() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let config = RedisAdapterConfig {
        keepalive: Duration::from_millis(200),
        command_timeout: Duration::from_millis(300),
        ..quick_config()
    };
    let (io_a, _, _url_a) = server(&broker, config.clone(), |_| {}).await;
    let (io_b, adapters_b, url_b) = server(&broker, config, |_| {}).await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut b, _) = connect(&url_b).await;

    broker.signal("-STOP");
    tokio::time::sleep(Duration::from_secs(1)).await;
    broker.signal("-CONT");
    let deadline = Instant::now() + LIMIT;
    while adapters_b.stats().reconnects == 0 {
        assert!(
            Instant::now() < deadline,
            "the silent subscription was never made again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    await_servers(&io_b, 2).await;
    let deadline = Instant::now() + LIMIT;
    loop {
        io_a.emit("again", 1).unwrap();
        if let Some(heard) = hears_within(&mut b, Duration::from_millis(200)).await {
            assert_eq!(heard, r#"42["again",1]"#);
            break;
        }
        assert!(Instant::now() < deadline, "b never heard from a again");
    }
}

#[tokio::test]
async fn servers_started_before_the_broker_join_the_cluster_when_it_comes() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    broker.stop();
    let (io_a, _, url_a) = server(&broker, quick_config(), |_| {}).await;
    let (io_b, _, url_b) = server(&broker, quick_config(), |_| {}).await;
    let (mut a, _) = connect(&url_a).await;
    let (mut b, _) = connect(&url_b).await;
    // Alone meanwhile, without waiting on the broker.
    io_a.emit("alone", 1).unwrap();
    assert_eq!(text(&mut a).await, r#"42["alone",1]"#);
    let started = Instant::now();
    assert_eq!(io_a.fetch_sockets().await.len(), 1);
    assert!(started.elapsed() < LIMIT);

    broker.restart();
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let deadline = Instant::now() + LIMIT;
    loop {
        io_a.emit("together", 2).unwrap();
        assert_eq!(text(&mut a).await, r#"42["together",2]"#);
        if let Some(heard) = hears_within(&mut b, Duration::from_millis(200)).await {
            assert_eq!(heard, r#"42["together",2]"#);
            break;
        }
        assert!(Instant::now() < deadline, "b never heard from a");
    }
    assert_eq!(io_a.fetch_sockets().await.len(), 2);
}
