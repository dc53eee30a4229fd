//! A chat room in axum: every text message sent to `/chat` goes to everyone
//! in the room, over HTTP/1.1 or HTTP/2 (RFC 8441).
//!
//! ```text
//! cargo run -p sockeye --features axum --example axum-chat -- [ADDR]
//! ```
//!
//! Listens on `ADDR` (default `127.0.0.1:9003`) and prints the address;
//! open `http://ADDR/` in a browser for a page to chat from, or connect any
//! WebSocket client to `ws://ADDR/chat`. Each member gets a name
//! (`guest-1`, `guest-2`, ...); the room hears `NAME: TEXT` for each message
//! and a line when someone joins or leaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::response::{Html, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use futures_util::{SinkExt, StreamExt};
use sockeye::axum::{WebSocket, WebSocketUpgrade};
use sockeye::{Message, PreparedMessage};
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// Messages the room keeps for members slow to take them; past that a
/// member misses the oldest.
const BACKLOG: usize = 256;

/// The largest message a member may send.
const MAX_MESSAGE: usize = 64 << 10;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9003".to_owned());
    let listener = TcpListener::bind(&address).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    serve(listener).await
}

/// Serves the room on `listener` until the server fails.
pub(crate) async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let room = Arc::new(Room {
        said: broadcast::channel(BACKLOG).0,
        members: AtomicU64::new(0),
    });
    let app = Router::new()
        .route("/", get(page))
        // `any`: a WebSocket request is a GET over HTTP/1.1 and a CONNECT
        // over HTTP/2.
        .route("/chat", any(chat))
        .with_state(room);
    // Small messages should leave at once, not wait for the peer's delayed
    // ACK (Nagle's algorithm).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}

/// The room: what is said in it, and a count for naming members.
struct Room {
    /// Each message once encoded, shared by every member's connection.
    said: broadcast::Sender<PreparedMessage>,
    members: AtomicU64,
}

impl Room {
    /// Tells everyone in the room.
    fn say(&self, text: String) {
        // No one to hear it is not an error.
        let _ = self.said.send(PreparedMessage::new(&Message::text(text)));
    }
}

/// Opens a member's socket.
async fn chat(ws: WebSocketUpgrade, State(room): State<Arc<Room>>) -> Response {
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| join(socket, room))
}

/// Runs one member: what they say goes to the room, what the room hears
/// goes to them.
async fn join(mut socket: WebSocket, room: Arc<Room>) {
    let name = format!("guest-{}", room.members.fetch_add(1, Ordering::Relaxed) + 1);
    let mut heard = room.said.subscribe();
    room.say(format!("{name} joined"));
    loop {
        tokio::select! {
            // Reading is cancel safe: no message is lost when the other
            // branch wins.
            message = socket.next() => match message {
                Some(Ok(Message::Text(text))) => room.say(format!("{name}: {}", text.as_str())),
                Some(Ok(Message::Binary(_))) => {}
                // Closed by the member, or broken.
                Some(Err(_)) | None => break,
            },
            said = heard.recv() => match said {
                Ok(said) => {
                    if socket.feed_prepared(&said).is_err() || socket.flush().await.is_err() {
                        break;
                    }
                }
                // Too slow to keep up: the oldest messages are gone.
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    room.say(format!("{name} left"));
}

/// A page to chat from.
async fn page() -> Html<&'static str> {
    Html(PAGE)
}

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sockeye chat</title>
<pre id="log"></pre>
<form id="form"><input id="text" autocomplete="off" autofocus> <button>Send</button></form>
<script>
  const log = document.getElementById("log");
  const text = document.getElementById("text");
  const ws = new WebSocket(new URL("/chat", location.href.replace(/^http/, "ws")));
  ws.onmessage = (event) => { log.textContent += event.data + "\n"; };
  ws.onclose = () => { log.textContent += "(disconnected)\n"; };
  document.getElementById("form").onsubmit = (event) => {
    event.preventDefault();
    if (text.value) { ws.send(text.value); text.value = ""; }
  };
</script>
"#;
