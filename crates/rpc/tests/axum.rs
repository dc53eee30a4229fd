//! sockeye-rpc over axum: the `axum-server` example's router served by
//! `axum::serve` on loopback, against sockeye-rpc's own client
//! ([`connect`]): calls, the per-connection context taken from the
//! request, the server calling the client during a request and after its
//! reply, and a subscription.

#[path = "../examples/axum-server.rs"]
#[allow(dead_code, reason = "the example's `main` is not run here")]
mod axum_server;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use sockeye::ClientBuilder;
use sockeye_rpc::{
    Config, Cx, ErrorObject, INVALID_PARAMS, METHOD_NOT_FOUND, Methods, Peer, connect,
};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

/// Bounds every test: nothing here may hang.
const LIMIT: Duration = Duration::from_secs(10);

/// Serves the example on an OS-chosen loopback port; gives its address.
async fn server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(axum_server::serve(listener));
    address
}

/// What the client's methods get: where to report each call, and
/// whether `page_upper` may answer yet.
struct Page {
    calls: mpsc::UnboundedSender<String>,
    release: watch::Receiver<bool>,
}

/// A client that serves the page's methods, `page_add` and `page_upper`;
/// each call it gets is reported on the receiver, and `page_upper`
/// answers only once the sender was set to `true`.
async fn client(
    address: &str,
    query: &str,
) -> (Peer, mpsc::UnboundedReceiver<String>, watch::Sender<bool>) {
    let (calls, reported) = mpsc::unbounded_channel();
    let (release_tx, release) = watch::channel(false);
    let mut methods = Methods::<Page>::new();
    methods
        .sync_method("page_add", |cx, (a, b): (i64, i64)| {
            let _ = cx.context().calls.send(format!("page_add {a} {b}"));
            Ok::<_, ErrorObject>(a + b)
        })
        .method(
            "page_upper",
            |cx: Cx<Page>, (text,): (String,)| async move {
                let _ = cx.context().calls.send(format!("page_upper {text}"));
                let _ = cx.context().release.clone().wait_for(|go| *go).await;
                Ok::<_, ErrorObject>(text.to_uppercase())
            },
        );
    let url = format!("ws://{address}/rpc{query}");
    let page = Page { calls, release };
    let peer = connect(&url, methods, page, Config::default())
        .await
        .unwrap();
    (peer, reported, release_tx)
}

#[tokio::test]
async fn client_calls_the_server_methods() {
    tokio::time::timeout(LIMIT, async {
        let (peer, _, _) = client(&server().await, "").await;
        let difference: i64 = peer.call("subtract", &(42, 23)).await.unwrap();
        assert_eq!(difference, 19);
        let error = peer
            .call::<Value, _>("subtract", &("a",))
            .await
            .unwrap_err();
        assert_eq!(error.error_object().unwrap().code, INVALID_PARAMS);
        let error = peer.call::<Value, _>("nope", &()).await.unwrap_err();
        assert_eq!(error.error_object().unwrap().code, METHOD_NOT_FOUND);
        // An overflow is the method's own error, not a panic.
        let error = peer
            .call::<Value, _>("subtract", &(i64::MIN, 1))
            .await
            .unwrap_err();
        assert_eq!(error.error_object().unwrap().code, 1);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_context_is_the_user_of_the_query() {
    tokio::time::timeout(LIMIT, async {
        let address = server().await;
        let (ada, _, _) = client(&address, "?user=Ada%20Lovelace").await;
        let (anonymous, _, _) = client(&address, "").await;
        let (plus, _, _) = client(&address, "?id=7&user=b+c").await;
        // Each connection has its own context.
        let name: String = ada.call("whoami", &()).await.unwrap();
        assert_eq!(name, "Ada Lovelace");
        let name: String = anonymous.call("whoami", &()).await.unwrap();
        assert_eq!(name, "anonymous");
        let name: String = plus.call("whoami", &()).await.unwrap();
        assert_eq!(name, "b c");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_refuses_an_empty_or_long_user_with_400() {
    tokio::time::timeout(LIMIT, async {
        let address = server().await;
        let long = "x".repeat(65);
        for query in ["?user=", &format!("?user={long}")] {
            let url = format!("ws://{address}/rpc{query}");
            let error = ClientBuilder::new(&url).connect().await.unwrap_err();
            let rejected = error.rejection().expect("a refusal");
            assert_eq!(rejected.status(), 400, "{query}");
        }
        // 64 bytes are taken.
        let (peer, _, _) = client(&address, &format!("?user={}", &long[..64])).await;
        let name: String = peer.call("whoami", &()).await.unwrap();
        assert_eq!(name, long[..64]);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_calls_the_client_while_answering_it() {
    tokio::time::timeout(LIMIT, async {
        let (peer, mut calls, _) = client(&server().await, "").await;
        let sum: i64 = peer.call("ping_page", &(20, 22)).await.unwrap();
        assert_eq!(sum, 42);
        assert_eq!(calls.recv().await.unwrap(), "page_add 20 22");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_calls_the_client_back_after_its_reply() {
    tokio::time::timeout(LIMIT, async {
        let (peer, mut calls, release) = client(&server().await, "").await;
        // `page_upper` does not answer until released: a server that waited
        // for the callback's answer before replying would never reply.
        let scheduled: String = peer.call("call_me_later", &("sockeye",)).await.unwrap();
        assert_eq!(scheduled, "scheduled");
        assert_eq!(calls.recv().await.unwrap(), "page_upper sockeye");
        release.send_replace(true);
        // `later_result` gives the client's answer to the callback.
        let answer: String = peer.call("later_result", &()).await.unwrap();
        assert_eq!(answer, "SOCKEYE");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn client_subscribes_reads_and_unsubscribes() {
    tokio::time::timeout(LIMIT, async {
        let (peer, _, _) = client(&server().await, "").await;
        let mut ticks = peer
            .subscribe::<u64, _>("subscribe_ticks", &(3,), "tick", "unsubscribe_ticks")
            .await
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(ticks.next().await.unwrap().unwrap());
        }
        assert_eq!(got, [1, 2, 3]);
        // The subscription stays until unsubscribed.
        let id: Value = serde_json::from_str(ticks.id().get()).unwrap();
        let held: bool = peer
            .call("unsubscribe_ticks", &(id.clone(),))
            .await
            .unwrap();
        assert!(held);
        let held: bool = peer.call("unsubscribe_ticks", &(id,)).await.unwrap();
        assert!(!held);
        let error = peer
            .subscribe::<u64, _>("subscribe_ticks", &(1001,), "tick", "unsubscribe_ticks")
            .await
            .unwrap_err();
        assert_eq!(error.error_object().unwrap().code, INVALID_PARAMS);
    })
    .await
    .unwrap();
}
