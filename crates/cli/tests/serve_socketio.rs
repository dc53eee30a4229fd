//! End-to-end tests of `sockeye serve --socketio`: Socket.IO clients at
//! `/socket.io/` (WebSocket and long-polling) beside the WebSocket echo.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use sockeye::{ClientStream, Message, WebSocket};
use support::{Serve, raw_exchange};

/// How long any one wait may last.
const LIMIT: Duration = Duration::from_secs(10);

async fn text(ws: &mut WebSocket<ClientStream>) -> String {
    loop {
        match tokio::time::timeout(LIMIT, ws.next())
            .await
            .expect("in time")
        {
            Some(Ok(Message::Text(text))) if text.as_str() == "2" => {}
            Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

async fn send(ws: &mut WebSocket<ClientStream>, text: &str) {
    ws.send(Message::text(text.to_owned())).await.expect("send");
}

/// Over a WebSocket: any namespace connects, `message` comes back as
/// `message-back` (and is acknowledged), other events asking for an
/// acknowledgement get their arguments back; the plain echo still works.
#[tokio::test]
async fn socketio_clients_get_the_echo_namespace() {
    let server = Serve::start(&["--socketio"]);
    let url = server.url("/socket.io/?EIO=4&transport=websocket");
    let mut ws = sockeye::connect(&url).await.expect("websocket handshake");
    assert!(text(&mut ws).await.starts_with("0{"));
    send(&mut ws, "40").await;
    assert!(text(&mut ws).await.starts_with(r#"40{"sid":"#));
    send(&mut ws, r#"42["message",1,{"a":[true]}]"#).await;
    assert_eq!(text(&mut ws).await, r#"42["message-back",1,{"a":[true]}]"#);
    send(&mut ws, r#"427["anything","x",null]"#).await;
    assert_eq!(text(&mut ws).await, r#"437["x",null]"#);
    send(&mut ws, "40/elsewhere,").await;
    assert!(text(&mut ws).await.starts_with(r#"40/elsewhere,{"sid":"#));

    let mut plain = sockeye::connect(&server.url("/")).await.expect("echo");
    plain.send(Message::text("still echoed")).await.unwrap();
    assert_eq!(
        plain.next().await.unwrap().unwrap(),
        Message::text("still echoed")
    );
}

/// Over long-polling: the handshake is answered with an open packet.
#[test]
fn socketio_polling_handshake_is_answered() {
    let server = Serve::start(&["--socketio"]);
    let answer = raw_exchange(
        server.addr,
        b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"0{"sid":""#), "{answer}");
}

/// With --allow-origin, a browser of another origin is refused (403) and
/// one of the allowed origin gets the CORS header.
#[test]
fn socketio_honours_the_origin_allow_list() {
    let server = Serve::start(&["--socketio", "--allow-origin", "https://ok.example"]);
    let request = |origin: &str| {
        let head = format!(
            "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\nOrigin: {origin}\r\nConnection: close\r\n\r\n"
        );
        raw_exchange(server.addr, head.as_bytes())
    };
    let refused = request("https://evil.example");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    let allowed = request("https://ok.example");
    assert!(allowed.starts_with("HTTP/1.1 200"), "{allowed}");
    assert!(
        allowed
            .to_ascii_lowercase()
            .contains("access-control-allow-origin: https://ok.example"),
        "{allowed}"
    );
}
