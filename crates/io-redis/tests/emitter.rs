//! [`RedisEmitter`] on a `redis-server` of the test's own, publishing into
//! two sockeye-io servers: events to all, to a room and except a room,
//! room joins and leaves, disconnects and server-side events reach the
//! sockets and handlers of both servers. Skipped, saying so, when
//! `redis-server` is not installed and `SOCKEYE_REQUIRE_REDIS` is unset.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sockeye_io_redis::{EmitterError, RedisEmitter};
use support::{Broker, LIMIT, await_servers, connect, hears_within, quick_config, server, text};

/// How long a test waits to be sure a message does not come.
const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn an_emitter_reaches_the_sockets_and_handlers_of_every_server() {
    let Some(broker) = Broker::start() else {
        return;
    };
    let heard: Arc<Mutex<Vec<String>>> = Arc::default();
    let (io_a, _, url_a) = server(&broker, quick_config(), |_| {}).await;
    let sink = Arc::clone(&heard);
    let (io_b, _, url_b) = server(&broker, quick_config(), move |io| {
        io.on_server_side("note", move |args| {
            let text: String = args.get(0).unwrap_or_default();
            sink.lock().unwrap().push(text);
        });
    })
    .await;
    await_servers(&io_a, 2).await;
    await_servers(&io_b, 2).await;
    let (mut a, a_id) = connect(&url_a).await;
    let (mut b, _) = connect(&url_b).await;
    io_a.of("/").sockets().iter().for_each(|s| s.join("red"));

    let emitter = RedisEmitter::with_config(&broker.url(), &quick_config()).expect("emitter");
    emitter.emit("hello", 1).await.expect("emit");
    assert_eq!(text(&mut a).await, r#"42["hello",1]"#);
    assert_eq!(text(&mut b).await, r#"42["hello",1]"#);

    emitter.to("red").emit("room", "red").await.expect("emit");
    assert_eq!(text(&mut a).await, r#"42["room","red"]"#);
    emitter
        .except("red")
        .emit("rest", [1, 2])
        .await
        .expect("emit");
    assert_eq!(text(&mut b).await, r#"42["rest",[1,2]]"#);
    assert_eq!(hears_within(&mut a, QUIET).await, None);
    assert_eq!(hears_within(&mut b, QUIET).await, None);

    // b's socket joins "blue" on its server, asked by the emitter.
    emitter
        .except("red")
        .sockets_join(&["blue"])
        .await
        .expect("join");
    let deadline = Instant::now() + LIMIT;
    while !io_b.of("/").sockets()[0]
        .rooms()
        .iter()
        .any(|r| &**r == "blue")
    {
        assert!(Instant::now() < deadline, "b's socket never joined blue");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    emitter.to("blue").emit("blue", ()).await.expect("emit");
    assert_eq!(text(&mut b).await, r#"42["blue"]"#);
    emitter
        .to("blue")
        .sockets_leave(&["blue"])
        .await
        .expect("leave");
    emitter
        .server_side_emit("note", "from afar")
        .await
        .expect("server-side emit");
    let deadline = Instant::now() + LIMIT;
    while heard.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "the handler never heard the note"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(*heard.lock().unwrap(), ["from afar"]);

    emitter
        .to(sockeye_io::adapter::Room::from(a_id.as_str()))
        .disconnect_sockets(false)
        .await
        .expect("disconnect");
    assert_eq!(text(&mut a).await, "41");
    assert_eq!(hears_within(&mut b, QUIET).await, None);
}

#[tokio::test]
async fn without_a_broker_the_emitter_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let emitter = RedisEmitter::with_config(&format!("redis://127.0.0.1:{port}"), &quick_config())
        .expect("emitter");
    assert!(matches!(
        emitter.emit("hello", 1).await,
        Err(EmitterError::Unreachable)
    ));
}
