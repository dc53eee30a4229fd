//! Socket.IO protocol v4 (socket.io-client 2.x) on Engine.IO v3 sessions
//! with `allow_eio3`, driven by raw WebSocket frames: the server connects
//! `/` by itself, a CONNECT's namespace query becomes the auth, the
//! CONNECT answer has no payload, refusals carry a string or the
//! middleware's data, socket ids are Node's for v3 clients, and events,
//! acks and binary attachments work as in v5 (`docs/socket.io-protocol/v4.md`).

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use sockeye_io::{Args, ConnectRefusal, SocketIo, SocketIoConfig};
use tokio::net::TcpListener;

/// How long any one wait may last.
const LIMIT: Duration = Duration::from_secs(10);

/// A server with v3 allowed: `/` and `/admin` tell the client its id and
/// auth and acknowledge `echo` with its arguments; `/plain` refuses with a
/// message only, `/coded` with data too. Returns the address.
async fn server() -> String {
    let mut config = SocketIoConfig::default();
    config.engine.allow_eio3 = true;
    config.engine.ping_interval = Duration::from_secs(60);
    config.engine.ping_timeout = Duration::from_secs(60);
    let io = SocketIo::with_config(config);
    for name in ["/", "/admin"] {
        io.ns(name, |socket| async move {
            let _ = socket.emit("id", socket.id().to_string());
            let _ = socket.emit("auth", socket.auth().clone());
            socket.on_args("echo", |_, args: Args| async move { args });
        });
    }
    io.of("/plain")
        .with(|_| async { Err(ConnectRefusal::new("not authorized")) });
    io.of("/coded").with(|_| async {
        Err(ConnectRefusal::new("not authorized")
            .with_data(&serde_json::json!({ "code": 403 }))
            .expect("json serializes"))
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { io.serve(listener).await });
    addr
}

/// Opens a WebSocket session with `EIO=eio`; returns it and its sid.
async fn open(addr: &str, eio: u8) -> (WebSocket<ClientStream>, String) {
    let url = format!("ws://{addr}/socket.io/?EIO={eio}&transport=websocket");
    let mut ws = sockeye::connect(&url).await.expect("websocket handshake");
    let open = text(&mut ws).await;
    let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("open json");
    let sid = json["sid"].as_str().expect("sid").to_owned();
    (ws, sid)
}

/// The next message, bounded in time.
async fn message(ws: &mut WebSocket<ClientStream>) -> Message {
    match tokio::time::timeout(LIMIT, ws.next())
        .await
        .expect("in time")
    {
        Some(Ok(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// The next message, as text.
async fn text(ws: &mut WebSocket<ClientStream>) -> String {
    match message(ws).await {
        Message::Text(text) => text.as_str().to_owned(),
        other @ Message::Binary(_) => panic!("expected text, got {other:?}"),
    }
}

/// v4 "Connection to the default namespace": the server sends `40` (no
/// payload) unasked; the socket's id is the Engine.IO session id and its
/// auth is empty.
#[tokio::test]
async fn server_connects_v2_client_to_main_namespace_unasked() {
    let addr = server().await;
    let (mut ws, sid) = open(&addr, 3).await;
    assert_eq!(text(&mut ws).await, "40");
    assert_eq!(text(&mut ws).await, format!(r#"42["id","{sid}"]"#));
    assert_eq!(text(&mut ws).await, r#"42["auth",{}]"#);
}

/// Protocol v5 stays for `EIO=4` clients on the same server: nothing is
/// connected unasked, and the CONNECT answer carries a `sid` that is not
/// the session's.
#[tokio::test]
async fn server_keeps_v5_for_eio4_clients() {
    let addr = server().await;
    let (mut ws, engine_sid) = open(&addr, 4).await;
    ws.send(Message::text("40")).await.unwrap();
    let answer = text(&mut ws).await;
    let json: serde_json::Value = serde_json::from_str(&answer[2..]).expect("connect json");
    let sid = json["sid"].as_str().expect("sid");
    assert_ne!(sid, engine_sid);
}

/// v4 "Connection to a non-default namespace": the query in the CONNECT's
/// namespace becomes the auth (strings, percent-decoded), the answer is
/// `40/admin,`, and the id is `/admin#<session id>`.
#[tokio::test]
async fn server_takes_namespace_query_as_auth() {
    let addr = server().await;
    let (mut ws, sid) = open(&addr, 3).await;
    assert_eq!(text(&mut ws).await, "40");
    let _ = (text(&mut ws).await, text(&mut ws).await);
    ws.send(Message::text("40/admin?token=abc&name=a%20b,"))
        .await
        .unwrap();
    assert_eq!(text(&mut ws).await, "40/admin,");
    assert_eq!(
        text(&mut ws).await,
        format!(r#"42/admin,["id","/admin#{sid}"]"#)
    );
    assert_eq!(
        text(&mut ws).await,
        r#"42/admin,["auth",{"token":"abc","name":"a b"}]"#
    );
}

/// v4 ERROR: a middleware's refusal is its message as a string, or its
/// data when it gave some; an unknown namespace is `"Invalid namespace"`.
#[tokio::test]
async fn server_refuses_with_string_or_data() {
    let addr = server().await;
    let (mut ws, _) = open(&addr, 3).await;
    assert_eq!(text(&mut ws).await, "40");
    let _ = (text(&mut ws).await, text(&mut ws).await);
    for (connect, refusal) in [
        ("40/plain,", r#"44/plain,"not authorized""#),
        ("40/coded?x=1,", r#"44/coded,{"code":403}"#),
        ("40/nowhere,", r#"44/nowhere,"Invalid namespace""#),
    ] {
        ws.send(Message::text(connect)).await.unwrap();
        assert_eq!(text(&mut ws).await, refusal, "{connect}");
    }
}

/// v4 EVENT, ACK, `BINARY_EVENT` and `BINARY_ACK` as in v5; the binary
/// attachments travel in v3 binary frames, after the type byte `4`.
#[tokio::test]
async fn server_acknowledges_events_and_binary_attachments() {
    let addr = server().await;
    let (mut ws, _) = open(&addr, 3).await;
    assert_eq!(text(&mut ws).await, "40");
    let _ = (text(&mut ws).await, text(&mut ws).await);
    ws.send(Message::text(r#"421["echo","x",1]"#))
        .await
        .unwrap();
    assert_eq!(text(&mut ws).await, r#"431["x",1]"#);
    ws.send(Message::text(
        r#"451-2["echo",{"_placeholder":true,"num":0}]"#,
    ))
    .await
    .unwrap();
    ws.send(Message::Binary(Bytes::from_static(&[4, 1, 2, 3])))
        .await
        .unwrap();
    assert_eq!(
        text(&mut ws).await,
        r#"461-2[{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(
        message(&mut ws).await,
        Message::Binary(Bytes::from_static(&[4, 1, 2, 3]))
    );
}
