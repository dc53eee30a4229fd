//! JSON-RPC over axum, both ways: a browser page calls the server and the
//! server calls the page.
//!
//! ```text
//! cargo run -p sockeye-rpc --example axum-server -- [ADDR]
//! ```
//!
//! Listens on `ADDR` (default `127.0.0.1:0`, a port the OS picks), prints
//! `listening on http://ADDR/` first, and serves two routes:
//!
//! - `/rpc?user=NAME`: a WebSocket running JSON-RPC 2.0, whose context is
//!   the visitor named in the query (`anonymous` without one);
//! - `/`: a page (`axum-server.html`, next to this file) that opens
//!   `/rpc` with the browser's own `WebSocket`, runs a small JSON-RPC
//!   client and server written in the page, and shows what it got; it
//!   reports its results in `window.rpcResults` and sets its title to
//!   `done` (or `failed: REASON`) when it is through.
//!
//! The server's methods:
//!
//! - `subtract [a, b]`: `a - b`;
//! - `whoami`: the visitor's name, from the connection's context;
//! - `subscribe_ticks [n]` (`tick` notifications, `unsubscribe_ticks`):
//!   the items `1, 2, …, n`, at most [`MAX_TICKS`], then nothing until
//!   the visitor unsubscribes;
//! - `ping_page [a, b]`: calls the page's `page_add [a, b]` before it
//!   answers, and answers with what the page said;
//! - `call_me_later [text]`: answers `"scheduled"` at once, then
//!   [`LATER`] afterwards calls the page's `page_upper [text]` and records
//!   its answer;
//! - `later_result`: the answer recorded by the last `call_me_later`,
//!   waiting for it at most [`LATER_WAIT`].

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use sockeye::axum::WebSocketUpgrade;
use sockeye_rpc::{Config, Cx, ErrorObject, Methods, PendingSubscription, connection};
use tokio::net::TcpListener;
use tokio::sync::watch;

/// The page served at `/`.
const PAGE: &str = include_str!("axum-server.html");

/// The longest visitor name taken, in bytes: a name is shown and echoed,
/// never stored for long, and no one's is longer.
const MAX_USER: usize = 64;

/// The most items one `subscribe_ticks` sends: enough to show a stream,
/// few enough that one request cannot keep the connection busy.
const MAX_TICKS: u64 = 1000;

/// How long after answering `call_me_later` the server calls the page:
/// long enough that the answer has left first.
const LATER: Duration = Duration::from_millis(100);

/// How long `later_result` waits for the page's answer before it gives
/// up: far more than a page takes, short enough not to hang a client.
const LATER_WAIT: Duration = Duration::from_secs(10);

/// How long the server waits for the page to answer one of its calls: a
/// page answers at once, unless it is gone.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let listener = TcpListener::bind(&address).await?;
    println!("listening on http://{}/", listener.local_addr()?);
    serve(listener).await
}

/// Serves the page and `/rpc` on `listener` until the server fails.
pub(crate) async fn serve(listener: TcpListener) -> std::io::Result<()> {
    // Small messages should leave at once, not wait for the peer's delayed
    // ACK (Nagle's algorithm).
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router()).await
}

/// The routes: the page and the JSON-RPC socket.
pub(crate) fn router() -> Router {
    let methods = methods();
    Router::new().route("/", get(page)).route(
        "/rpc",
        // `any`: a WebSocket request is a GET over HTTP/1.1 and a CONNECT
        // over HTTP/2.
        any(move |ws: WebSocketUpgrade| std::future::ready(rpc(ws, methods.clone()))),
    )
}

/// A connection's context: who the visitor is, and what the page answered
/// to the server's later call.
#[derive(Debug)]
pub(crate) struct Visitor {
    /// The name from the `user` query parameter.
    pub(crate) user: String,
    /// The page's answer to `page_upper`, once it came.
    later: watch::Sender<Option<Result<String, String>>>,
}

/// Opens a visitor's JSON-RPC connection, named by the request's `user`
/// query parameter.
fn rpc(ws: WebSocketUpgrade, methods: Methods<Visitor>) -> Response {
    let query = ws.request().request().uri().query().unwrap_or("");
    let user = match user_of(query) {
        Ok(user) => user,
        Err(reason) => return (StatusCode::BAD_REQUEST, reason).into_response(),
    };
    let mut config = Config::default();
    config.call_timeout = Some(CALL_TIMEOUT);
    ws.max_message_size(config.max_message_size)
        .on_upgrade(move |socket| async move {
            let visitor = Visitor {
                user,
                later: watch::Sender::new(None),
            };
            // The upgrade's own task runs the connection to its end.
            let (_, connection) = connection(socket, methods, visitor, config);
            connection.await;
        })
}

/// The visitor's name in a query string: its `user` parameter,
/// percent-decoded, or `anonymous`.
///
/// # Errors
///
/// A name that is empty or longer than [`MAX_USER`] bytes.
pub(crate) fn user_of(query: &str) -> Result<String, &'static str> {
    let user = form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "user")
        .map(|(_, value)| value.into_owned());
    match user {
        None => Ok("anonymous".to_owned()),
        Some(user) if user.is_empty() => Err("the user parameter is empty"),
        Some(user) if user.len() > MAX_USER => Err("the user parameter is over 64 bytes"),
        Some(user) => Ok(user),
    }
}

/// The server's methods.
pub(crate) fn methods() -> Methods<Visitor> {
    let mut methods = Methods::new();
    methods
        .sync_method("subtract", |_, (a, b): (i64, i64)| {
            a.checked_sub(b)
                .ok_or_else(|| ErrorObject::new(1, "the difference overflows"))
        })
        .sync_method("whoami", |cx: Cx<Visitor>, ()| {
            Ok::<_, ErrorObject>(cx.context().user.clone())
        })
        .subscription("subscribe_ticks", "tick", "unsubscribe_ticks", ticks)
        .method(
            "ping_page",
            |cx: Cx<Visitor>, (a, b): (i64, i64)| async move {
                // The page is called while its own request waits for this
                // answer: both directions in flight on one socket.
                cx.peer()
                    .call::<i64, _>("page_add", &(a, b))
                    .await
                    .map_err(|e| failed("page_add", &e))
            },
        )
        .sync_method("call_me_later", |cx: Cx<Visitor>, (text,): (String,)| {
            let (peer, visitor) = (cx.peer().clone(), cx.context_arc());
            // `later_result` waits for this call's answer, not an earlier one.
            visitor.later.send_replace(None);
            tokio::spawn(async move {
                tokio::time::sleep(LATER).await;
                let answer = peer
                    .call::<String, _>("page_upper", &(text,))
                    .await
                    .map_err(|e| e.to_string());
                visitor.later.send_replace(Some(answer));
            });
            Ok::<_, ErrorObject>("scheduled")
        })
        .method("later_result", |cx: Cx<Visitor>, ()| async move {
            let mut later = cx.context().later.subscribe();
            let waited = tokio::time::timeout(LATER_WAIT, later.wait_for(Option::is_some)).await;
            let answer = match waited {
                Ok(Ok(answer)) => answer.clone(),
                _ => None,
            };
            match answer {
                Some(Ok(text)) => Ok(text),
                Some(Err(reason)) => Err(with_reason(
                    ErrorObject::new(2, "the page's answer to page_upper was an error"),
                    &reason,
                )),
                None => Err(ErrorObject::new(3, "no answer from the page yet")),
            }
        });
    methods
}

/// `subscribe_ticks [n]`: sends `1, 2, …, n`.
async fn ticks(_: Cx<Visitor>, (n,): (u64,), pending: PendingSubscription) {
    if n > MAX_TICKS {
        let error = ErrorObject::invalid_params();
        pending
            .reject(with_reason(error, "at most 1000 ticks"))
            .await;
        return;
    }
    let Ok(sink) = pending.accept().await else {
        return;
    };
    for tick in 1..=n {
        if sink.send(&tick).await.is_err() {
            return;
        }
    }
    // Held until the visitor unsubscribes (or leaves), which drops this
    // future: a subscription whose future ended is gone, and unsubscribing
    // from it would answer `false`.
    std::future::pending::<()>().await;
}

/// The error answered when a call to the page failed.
fn failed(method: &str, error: &sockeye_rpc::CallError) -> ErrorObject {
    match error.error_object() {
        // The page's own error goes back as it was.
        Some(error) => error.clone(),
        None => with_reason(
            ErrorObject::internal_error(),
            &format!("calling the page's {method}: {error}"),
        ),
    }
}

/// `error` with `reason` as its data.
fn with_reason(error: ErrorObject, reason: &str) -> ErrorObject {
    error.clone().with_data(&reason).unwrap_or(error)
}

/// The page.
async fn page() -> Html<&'static str> {
    Html(PAGE)
}
