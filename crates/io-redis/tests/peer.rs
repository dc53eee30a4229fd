//! A sockeye-io server on a `redis-server` of the test's own, facing a
//! peer that speaks the adapter's messages directly on the broker (as
//! Node's adapter publishes them): what it answers, and what it does with
//! messages that are not well formed. Skipped, saying so, when
//! `redis-server` is not installed and `SOCKEYE_REQUIRE_REDIS` is unset.

mod support;

use futures_util::StreamExt;
use redis::AsyncCommands;
use sockeye_io::parser::{Packet, PacketKind};
use sockeye_io_redis::{Broadcast, Flags, Opts, Request, Response};
use support::{Broker, LIMIT, await_servers, connect, quick_config, send, server, text};

#[tokio::test]
async fn a_broadcast_with_acks_from_another_server_is_counted_then_acked() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let (io, adapters, url) = server(&broker, quick_config(), |_| {}).await;
    await_servers(&io, 1).await;
    let (mut ws, _) = connect(&url).await;

    let client = redis::Client::open(broker.url()).unwrap();
    let mut sub = client.get_async_pubsub().await.unwrap();
    sub.subscribe("socket.io-response#/#").await.unwrap();
    let mut responses = sub.on_message();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();

    // Garbage on every channel first: dropped and counted, nothing breaks.
    for channel in [
        "socket.io-request#/#",
        "socket.io#/#",
        "socket.io-response#/#",
    ] {
        let _: i64 = conn.publish(channel, &b"\xc1\xff{"[..]).await.unwrap();
    }

    // A broadcast of a DISCONNECT: dropped (and counted), the client stays.
    let disconnect = Packet {
        kind: PacketKind::Disconnect,
        nsp: "/".into(),
        id: None,
        data: None,
    };
    let bytes = Broadcast::encode("peer01", &disconnect, &Opts::default());
    let _: i64 = conn.publish("socket.io#/#", bytes).await.unwrap();

    let request = Request::Broadcast {
        uid: "peer01".into(),
        request_id: "req001".into(),
        packet: Packet::event("/", "ack-me", vec!["q".into()]),
        opts: Opts {
            flags: Flags {
                timeout: Some(2000),
                ..Flags::default()
            },
            ..Opts::default()
        },
    };
    let _: i64 = conn
        .publish("socket.io-request#/#", request.encode())
        .await
        .unwrap();
    // The client gets it with an ack id, and acknowledges.
    let event = text(&mut ws).await;
    let rest = event.strip_prefix("42").expect("an EVENT");
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(&rest[digits.len()..], r#"["ack-me","q"]"#);
    send(&mut ws, &format!(r#"43{digits}["yes"]"#)).await;

    // The garbage published on the response channel comes back to this
    // peer too: skip what does not decode.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let message = tokio::time::timeout(LIMIT, responses.next())
            .await
            .expect("a response in time")
            .expect("the subscription lives");
        if let Ok(Some(response)) = Response::decode(message.get_payload_bytes(), |_| None) {
            seen.push(response);
        }
    }
    assert_eq!(
        seen,
        [
            Response::BroadcastClientCount {
                request_id: "req001".into(),
                client_count: 1
            },
            Response::BroadcastAck {
                request_id: "req001".into(),
                packet: "yes".into()
            },
        ]
    );
    assert_eq!(adapters.stats().malformed, 4);
}
