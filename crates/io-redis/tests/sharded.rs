//! Two sockeye-io servers on one `redis-server` in sharded mode
//! (`SSUBSCRIBE`/`SPUBLISH`, Node's `createShardedAdapter` messages):
//! broadcasts to all and to one room (on the room's own channel),
//! `fetch_sockets()`, remote operations, server-side events and
//! broadcasts with acks cross servers, and a broker restart is lived
//! through. Skipped, saying so, when `redis-server` is not installed and
//! `SOCKEYE_REQUIRE_REDIS` is unset.

mod support;

use std::time::{Duration, Instant};

use sockeye_io::Value;
use sockeye_io_redis::{Mode, RedisAdapterConfig, SubscriptionMode};
use support::{
    Broker, LIMIT, await_servers, connect, hears_within, quick_config, send, server, text,
};

fn sharded() -> RedisAdapterConfig {
    RedisAdapterConfig {
        mode: Mode::Sharded(SubscriptionMode::Dynamic),
        ..quick_config()
    }
}

/// How long a test waits to be sure a message does not come.
const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn sharded_servers_share_broadcasts_rooms_sockets_and_acks() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io_a, adapters_a, url_a) = server(&broker, sharded(), |_| {}).await;
    let (io_b, adapters_b, url_b) = server(&broker, sharded(), |io| {
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
    let (mut a, _) = connect(&url_a).await;
    let (mut b, b_id) = connect(&url_b).await;

    io_a.emit("hello", 1).unwrap();
    assert_eq!(text(&mut a).await, r#"42["hello",1]"#);
    assert_eq!(text(&mut b).await, r#"42["hello",1]"#);
    assert_eq!(hears_within(&mut a, QUIET).await, None);

    // To b alone, by its own room: on that room's channel, which b's
    // server holds.
    let only_b = sockeye_io::Sid::from(b_id.as_str());
    io_a.to(&only_b).emit("direct", 3).unwrap();
    assert_eq!(text(&mut b).await, r#"42["direct",3]"#);
    assert_eq!(hears_within(&mut a, QUIET).await, None);

    // b joins a room on its server, asked from a: the room gets a channel
    // of its own on b's server, where a's broadcast to it goes.
    let found = io_a.fetch_sockets().await;
    assert_eq!(found.len(), 2);
    let b_found = found.iter().find(|s| s.id().as_str() == b_id).unwrap();
    b_found.join("room1");
    let deadline = Instant::now() + LIMIT;
    loop {
        io_a.to("room1").emit("to-room", 2).unwrap();
        if let Some(heard) = hears_within(&mut b, Duration::from_millis(200)).await {
            assert_eq!(heard, r#"42["to-room",2]"#);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "b never heard the room's broadcast"
        );
    }
    assert_eq!(hears_within(&mut a, QUIET).await, None);
    while hears_within(&mut b, QUIET).await.is_some() {}
    assert!(
        io_b.of("/")
            .all_rooms()
            .await
            .contains(&sockeye_io::adapter::Room::from("room1"))
    );

    let answer = io_a
        .of("/")
        .server_side_emit_with_ack("double", 21)
        .await
        .unwrap();
    assert!(answer.complete);
    assert_eq!(answer.replies, [Value::from(42)]);

    let answers = io_a
        .broadcast()
        .timeout(Duration::from_secs(5))
        .emit_with_ack_everywhere("ask", 1)
        .unwrap();
    let answers = tokio::spawn(answers);
    for (ws, reply) in [(&mut a, "\"a\""), (&mut b, "\"b\"")] {
        let event = text(ws).await;
        let rest = event.strip_prefix("42").expect("an EVENT");
        let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
        send(ws, &format!("43{id}[{reply}]")).await;
    }
    let answers = answers.await.unwrap();
    assert!(answers.remote.complete);
    assert_eq!(answers.remote.acks, [Value::from("b")]);

    b_found.disconnect(false);
    assert_eq!(text(&mut b).await, "41");
    assert_eq!(adapters_a.stats().malformed, 0);
    assert_eq!(adapters_b.stats().malformed, 0);
}

#[tokio::test]
async fn sharded_servers_live_through_a_broker_restart() {
    let Some(mut broker) = Broker::start() else {
        return;
    };
    let (io_a, _, url_a) = server(&broker, sharded(), |_| {}).await;
    let (io_b, adapters_b, url_b) = server(&broker, sharded(), |_| {}).await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut a, _) = connect(&url_a).await;
    let (mut b, _) = connect(&url_b).await;

    broker.restart();
    io_a.emit("alone", 1).unwrap();
    assert_eq!(text(&mut a).await, r#"42["alone",1]"#);
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let deadline = Instant::now() + LIMIT;
    loop {
        io_a.emit("back", 2).unwrap();
        assert!(text(&mut a).await.starts_with("42["));
        if let Some(heard) = hears_within(&mut b, Duration::from_millis(200)).await {
            assert_eq!(heard, r#"42["back",2]"#);
            break;
        }
        assert!(Instant::now() < deadline, "b never heard from a again");
    }
    assert!(adapters_b.stats().reconnects > 0);
}
