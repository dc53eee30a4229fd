//! Connection state recovery (Socket.IO 4.6's feature), on the wire: a
//! client whose connection was lost comes back with its private id and
//! the last offset it saw, and gets back its id, rooms and data and the
//! events sent meanwhile, in order; one that left on purpose, or comes
//! back with an unknown offset, connects afresh.

mod wire;

use std::time::Duration;

use serde_json::{Value as Json, json};
use sockeye::{ClientStream, WebSocket};
use sockeye_io::{RecoveryConfig, SocketIo, SocketIoConfig};
use wire::{LIMIT, json_after, open, send, serve, text};

/// A server with recovery on: `/` greets with `hello`, `join` joins a room
/// and acknowledges, `note` stores a string as the socket's data, `whoami`
/// acknowledges with the socket's rooms, data and whether it recovered.
async fn server() -> (String, SocketIo) {
    let mut config = SocketIoConfig::default();
    config.recovery = Some(RecoveryConfig::default());
    let io = SocketIo::with_config(config);
    io.ns("/", |socket| async move {
        let _ = socket.emit("hello", ());
        socket.on("join", |socket, room: String| async move {
            socket.join(room);
        });
        socket.on("note", |socket, note: String| async move {
            socket.set_data(note);
        });
        socket.on("whoami", |socket, (): ()| async move {
            let mut rooms: Vec<String> = socket.rooms().iter().map(ToString::to_string).collect();
            rooms.sort();
            json!({
                "rooms": rooms,
                "note": socket.data::<String>(),
                "recovered": socket.recovered(),
            })
        });
    });
    (serve(&io).await, io)
}

/// Connects to `/` with `auth`; the CONNECT answer, then the `hello`
/// event's arguments.
async fn connect(ws: &mut WebSocket<ClientStream>, auth: &Json) -> (Json, Json) {
    send(ws, &format!("40{auth}")).await;
    let answer = json_after(&text(ws).await, "40");
    let hello = json_after(&text(ws).await, "42");
    (answer, hello)
}

/// The offset an event carries: its last argument.
fn offset(event: &Json) -> String {
    event
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// A lost connection comes back as it was, the events sent meanwhile
/// after it, in order; a second recovery with the same offset fails.
#[tokio::test]
async fn a_lost_socket_comes_back_with_its_state_and_the_events_it_missed() {
    let (url, io) = server().await;
    let mut ws = open(&url).await;
    let (answer, hello) = connect(&mut ws, &json!({})).await;
    let (sid, pid) = (answer["sid"].clone(), answer["pid"].clone());
    assert!(sid.is_string() && pid.is_string(), "{answer}");
    assert_eq!(answer.as_object().unwrap().len(), 2);
    assert_eq!(hello[0], "hello");
    let seen = offset(&hello);
    send(&mut ws, r#"42["join","red"]"#).await;
    send(&mut ws, r#"42["note","kept"]"#).await;
    send(&mut ws, r#"421["whoami"]"#).await;
    assert_eq!(json_after(&text(&mut ws).await, "431")[0]["note"], "kept");

    drop(ws); // the connection is lost, not closed by the client
    let sid_text = sid.as_str().unwrap().to_owned();
    tokio::time::timeout(LIMIT, async {
        while !io.of("/").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server saw the loss");
    io.to("red").emit("tick", 1).unwrap();
    io.to("blue").emit("tick", 99).unwrap();
    io.to(sid_text.as_str()).emit("tick", 2).unwrap();
    io.emit("tick", 3).unwrap();

    let mut ws = open(&url).await;
    send(
        &mut ws,
        &format!("40{}", json!({"pid": pid, "offset": seen})),
    )
    .await;
    let answer = json_after(&text(&mut ws).await, "40");
    assert_eq!((&answer["sid"], &answer["pid"]), (&sid, &pid));
    let mut ticks = Vec::new();
    for _ in 0..3 {
        let event = json_after(&text(&mut ws).await, "42");
        if event[0] == "tick" {
            ticks.push(event[1].as_i64().unwrap());
        }
    }
    assert_eq!(ticks, [1, 2, 3]);
    assert_eq!(json_after(&text(&mut ws).await, "42")[0], "hello");
    send(&mut ws, r#"421["whoami"]"#).await;
    let me = json_after(&text(&mut ws).await, "431");
    assert_eq!(me[0]["recovered"], true);
    assert_eq!(me[0]["note"], "kept");
    let mut rooms = vec!["red".to_owned(), sid_text];
    rooms.sort();
    assert_eq!(me[0]["rooms"], json!(rooms));

    let mut again = open(&url).await;
    let (answer, _) = connect(&mut again, &json!({"pid": pid, "offset": seen})).await;
    assert_ne!(answer["sid"], sid, "a session is restored once");
}

/// A client that left on purpose (DISCONNECT) is not kept.
#[tokio::test]
async fn a_socket_that_left_on_purpose_is_not_kept() {
    let (url, io) = server().await;
    let mut ws = open(&url).await;
    let (answer, hello) = connect(&mut ws, &json!({})).await;
    send(&mut ws, "41").await;
    tokio::time::timeout(LIMIT, async {
        while !io.of("/").is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the server saw the disconnect");
    let mut ws = open(&url).await;
    let (again, _) = connect(
        &mut ws,
        &json!({"pid": answer["pid"], "offset": offset(&hello)}),
    )
    .await;
    assert_ne!(again["sid"], answer["sid"]);
}

/// Without recovery the CONNECT answer has the `sid` alone and events
/// carry no offset.
#[tokio::test]
async fn without_recovery_nothing_is_numbered() {
    let io = SocketIo::new();
    io.ns("/", |socket| async move {
        let _ = socket.emit("hello", ());
    });
    let mut ws = open(&serve(&io).await).await;
    let (answer, hello) = connect(&mut ws, &json!({})).await;
    assert_eq!(answer.as_object().unwrap().len(), 1);
    assert_eq!(hello, json!(["hello"]));
}
