//! Socket.IO v5 on the wire, over an Engine.IO WebSocket: the server the
//! protocol's test suite describes (`/` and `/custom`, the `auth` echo,
//! `message` -> `message-back`, acks echoed), driven by raw frames.
//! Each test names the behaviour of the v5 document it checks.

mod wire;

use std::time::Duration;

use sockeye::Message;
use sockeye_io::{Args, SocketIo, SocketIoConfig};
use tokio::net::TcpListener;
use wire::{binary, ends, json_after, open, send, serve, text};

/// A server set up as the v5 test suite expects, on a loopback port.
async fn reference_server(connect_timeout: Duration) -> (String, SocketIo) {
    let mut config = SocketIoConfig::default();
    config.connect_timeout = connect_timeout;
    config.engine.ping_interval = Duration::from_secs(60);
    config.engine.ping_timeout = Duration::from_secs(60);
    let io = SocketIo::with_config(config);
    io.ns("/", |socket| async move {
        let _ = socket.emit("auth", socket.auth().clone());
        socket.on_args("message", |socket, args: Args| async move {
            let _ = socket.emit("message-back", args);
        });
        socket.on_args("message-with-ack", |_, args: Args| async move { args });
    });
    io.ns("/custom", |socket| async move {
        let _ = socket.emit("auth", socket.auth().clone());
    });
    (serve(&io).await, io)
}

/// Connection to the main namespace: `40` is answered `40{"sid":...}`
/// whose only key is `sid`, then the server's `auth` event with `{}`.
#[tokio::test]
async fn connect_to_main_namespace_answers_sid_only() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40").await;
    let answer = json_after(&text(&mut ws).await, "40");
    let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["sid"]);
    assert_eq!(text(&mut ws).await, r#"42["auth",{}]"#);
}

/// CONNECT with an auth payload: the handshake's auth is what was sent.
#[tokio::test]
async fn connect_with_auth_payload() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, r#"40{"token":"123"}"#).await;
    json_after(&text(&mut ws).await, "40");
    assert_eq!(text(&mut ws).await, r#"42["auth",{"token":"123"}]"#);
}

/// A custom namespace, with and without auth.
#[tokio::test]
async fn connect_to_custom_namespace() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40/custom,").await;
    let answer = json_after(&text(&mut ws).await, "40/custom,");
    assert!(answer["sid"].is_string());
    assert_eq!(text(&mut ws).await, r#"42/custom,["auth",{}]"#);

    let mut ws = open(&url).await;
    send(&mut ws, r#"40/custom,{"token":"abc"}"#).await;
    json_after(&text(&mut ws).await, "40/custom,");
    assert_eq!(text(&mut ws).await, r#"42/custom,["auth",{"token":"abc"}]"#);
}

/// A namespace that does not exist: `CONNECT_ERROR` "Invalid namespace".
#[tokio::test]
async fn unknown_namespace_is_refused() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40/random").await;
    assert_eq!(
        text(&mut ws).await,
        r#"44/random,{"message":"Invalid namespace"}"#
    );
}

/// No CONNECT within the connect timeout: the server closes.
#[tokio::test]
async fn session_without_namespace_is_closed_after_connect_timeout() {
    let (url, _io) = reference_server(Duration::from_millis(300)).await;
    let mut ws = open(&url).await;
    assert!(ends(&mut ws).await);
}

/// Invalid packets close the connection, before and after the handshake.
#[tokio::test]
async fn invalid_packets_close_the_connection() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "4abc").await;
    assert!(ends(&mut ws).await, "4abc before connecting");
    for bad in ["4abc", "42{}", r#"42abc["message"]"#] {
        let mut ws = open(&url).await;
        send(&mut ws, "40").await;
        text(&mut ws).await;
        text(&mut ws).await;
        send(&mut ws, bad).await;
        assert!(ends(&mut ws).await, "{bad} after connecting");
    }
}

/// DISCONNECT leaves the namespace but not the connection: events on
/// another namespace still work.
#[tokio::test]
async fn disconnect_from_one_namespace_keeps_the_session() {
    let (url, io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40").await;
    text(&mut ws).await;
    text(&mut ws).await;
    send(&mut ws, "40/custom,").await;
    text(&mut ws).await;
    text(&mut ws).await;
    send(&mut ws, "41/custom,").await;
    send(&mut ws, r#"42["message",1]"#).await;
    assert_eq!(text(&mut ws).await, r#"42["message-back",1]"#);
    assert_eq!(io.of("/custom").len(), 0);
    assert_eq!(io.of("/").len(), 1);
}

/// Events with every JSON type come back as sent.
#[tokio::test]
async fn events_are_echoed() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40").await;
    text(&mut ws).await;
    text(&mut ws).await;
    send(&mut ws, r#"42["message",1,"2",{"3":[true]},null,1.5,-7]"#).await;
    assert_eq!(
        text(&mut ws).await,
        r#"42["message-back",1,"2",{"3":[true]},null,1.5,-7]"#
    );
}

/// A binary event: its attachments come back with it, in order.
#[tokio::test]
async fn binary_events_are_echoed_with_their_attachments() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40").await;
    text(&mut ws).await;
    text(&mut ws).await;
    send(
        &mut ws,
        r#"452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    )
    .await;
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    ws.send(Message::binary(vec![4, 5, 6])).await.unwrap();
    assert_eq!(
        text(&mut ws).await,
        r#"452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(binary(&mut ws).await, [1, 2, 3][..]);
    assert_eq!(binary(&mut ws).await, [4, 5, 6][..]);
}

/// An event asking for an ack gets the handler's return value as its ack.
#[tokio::test]
async fn acks_answer_with_the_handlers_value() {
    let (url, _io) = reference_server(Duration::from_secs(45)).await;
    let mut ws = open(&url).await;
    send(&mut ws, "40").await;
    text(&mut ws).await;
    text(&mut ws).await;
    send(&mut ws, r#"42456["message-with-ack",1,"2",{"3":[false]}]"#).await;
    assert_eq!(text(&mut ws).await, r#"43456[1,"2",{"3":[false]}]"#);
    send(
        &mut ws,
        r#"452-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    )
    .await;
    ws.send(Message::binary(vec![1])).await.unwrap();
    ws.send(Message::binary(vec![2])).await.unwrap();
    assert_eq!(
        text(&mut ws).await,
        r#"462-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(binary(&mut ws).await, [1][..]);
    assert_eq!(binary(&mut ws).await, [2][..]);
}

/// In axum: `SocketIo::layer` serves `/socket.io/` in front of the app's
/// routes, which keep working.
#[tokio::test]
async fn socketio_mounts_in_axum_as_a_layer() {
    let io = SocketIo::new();
    io.ns("/", |socket| async move {
        socket.on_args("message", |socket, args: Args| async move {
            let _ = socket.emit("message-back", args);
        });
    });
    let app = axum::Router::new()
        .route("/hello", axum::routing::get(|| async { "hi" }))
        .layer(io.layer());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut ws = open(&format!("ws://{addr}/socket.io/?EIO=4&transport=websocket")).await;
    send(&mut ws, "40").await;
    assert!(text(&mut ws).await.starts_with(r#"40{"sid":"#));
    send(&mut ws, r#"42["message","via axum"]"#).await;
    assert_eq!(text(&mut ws).await, r#"42["message-back","via axum"]"#);
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut tcp,
        b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut tcp, &mut answer)
        .await
        .unwrap();
    assert!(answer.ends_with("hi"), "{answer}");
}
