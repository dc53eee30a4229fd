//! A connection on sockeye's browser-shaped `web::WebSocket`
//! ([`WebTransport`]) against a server on a sockeye WebSocket, over
//! loopback: calls both ways, a subscription, the closing handshake from
//! either side, and a socket that never opens.

use std::time::Duration;

use futures_util::StreamExt;
use sockeye::CloseCode;
use sockeye::web::WebSocket;
use sockeye_rpc::{Config, Cx, ErrorObject, Methods, Peer, WebTransport, spawn};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Bounds every test: nothing here may hang.
const LIMIT: Duration = Duration::from_secs(10);

/// A server whose `greet` calls the client's `title_of` before it
/// answers, with a `count` subscription; gives its URL and its side's
/// peers as they connect.
async fn server() -> (String, mpsc::UnboundedReceiver<Peer>) {
    let mut methods = Methods::<()>::new();
    methods
        .sync_method("subtract", |_, (a, b): (i64, i64)| {
            Ok::<_, ErrorObject>(a - b)
        })
        .method("greet", |cx: Cx<()>, (name,): (String,)| async move {
            let title: String = cx
                .peer()
                .call("title_of", &(name.clone(),))
                .await
                .map_err(|_| ErrorObject::internal_error())?;
            Ok(format!("hello, {title} {name}"))
        })
        .subscription(
            "count",
            "counted",
            "uncount",
            |_, (n,): (u64,), pending| async move {
                if let Ok(sink) = pending.accept().await {
                    for i in 1..=n {
                        if sink.send(&i).await.is_err() {
                            return;
                        }
                    }
                    std::future::pending::<()>().await;
                }
            },
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(ws) = sockeye::accept(tcp).await else {
                continue;
            };
            let _ = tx.send(spawn(ws, methods.clone(), (), Config::default()));
        }
    });
    (url, rx)
}

/// A client on a `web::WebSocket`, serving `title_of`.
async fn client(url: &str) -> Peer {
    client_with(url, WebTransport::DEFAULT_MAX_BUFFERED).await
}

/// [`client`] whose writes wait while `max_buffered` bytes are queued.
async fn client_with(url: &str, max_buffered: u64) -> Peer {
    let config = Config::default();
    let ws = WebSocket::with_client(url, &[], |client| {
        client.max_message_size(config.max_message_size)
    })
    .unwrap();
    let transport = WebTransport::open(ws)
        .await
        .unwrap()
        .max_buffered(max_buffered);
    let mut methods = Methods::<()>::new();
    methods.sync_method("title_of", |_, (name,): (String,)| {
        Ok::<_, ErrorObject>(if name == "Ada" { "Countess" } else { "Mx" })
    });
    spawn(transport, methods, (), config)
}

#[tokio::test]
async fn web_client_calls_and_is_called_back() {
    tokio::time::timeout(LIMIT, async {
        let (url, _) = server().await;
        let peer = client(&url).await;
        let difference: i64 = peer.call("subtract", &(42, 23)).await.unwrap();
        assert_eq!(difference, 19);
        let greeting: String = peer.call("greet", &("Ada",)).await.unwrap();
        assert_eq!(greeting, "hello, Countess Ada");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_client_is_called_by_the_server() {
    tokio::time::timeout(LIMIT, async {
        let (url, mut peers) = server().await;
        let _client = client(&url).await;
        let server_side = peers.recv().await.unwrap();
        let title: String = server_side.call("title_of", &("Ada",)).await.unwrap();
        assert_eq!(title, "Countess");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_client_sends_one_message_at_a_time_with_the_least_buffer() {
    tokio::time::timeout(LIMIT, async {
        let (url, _) = server().await;
        let peer = client_with(&url, 0).await;
        // Each write waits for the one before to leave.
        let calls = (0..50).map(|i| {
            let peer = peer.clone();
            async move { peer.call::<i64, _>("subtract", &(i, 1)).await.unwrap() }
        });
        let results = futures_util::future::join_all(calls).await;
        assert_eq!(results, (0..50).map(|i| i - 1).collect::<Vec<_>>());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_client_subscribes() {
    tokio::time::timeout(LIMIT, async {
        let (url, _) = server().await;
        let peer = client(&url).await;
        let mut counted = peer
            .subscribe::<u64, _>("count", &(3,), "counted", "uncount")
            .await
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(counted.next().await.unwrap().unwrap());
        }
        assert_eq!(got, [1, 2, 3]);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_client_closes_with_its_code() {
    tokio::time::timeout(LIMIT, async {
        let (url, mut peers) = server().await;
        let peer = client(&url).await;
        let server_side = peers.recv().await.unwrap();
        let ended = peer.close(CloseCode::from(4000), "bye").await;
        // The server's echo of the Close.
        assert_eq!(ended.close, Some((CloseCode::from(4000), "bye".to_owned())));
        assert_eq!(ended.error, None);
        let ended = server_side.closed().await;
        assert_eq!(ended.close, Some((CloseCode::from(4000), "bye".to_owned())));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_client_without_a_code_the_browser_allows_closes_without_one() {
    tokio::time::timeout(LIMIT, async {
        let (url, mut peers) = server().await;
        let peer = client(&url).await;
        let server_side = peers.recv().await.unwrap();
        // 1001 is not one of the codes a page may send.
        peer.close(CloseCode::from(1001), "going").await;
        let ended = server_side.closed().await;
        assert_eq!(
            ended.close.map(|(code, _)| code),
            Some(CloseCode::from(1005))
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_client_sees_the_server_close() {
    tokio::time::timeout(LIMIT, async {
        let (url, mut peers) = server().await;
        let peer = client(&url).await;
        let server_side = peers.recv().await.unwrap();
        server_side.close(CloseCode::from(1001), "going away").await;
        let ended = peer.closed().await;
        assert_eq!(
            ended.close,
            Some((CloseCode::from(1001), "going away".to_owned()))
        );
        assert_eq!(ended.error, None);
        assert!(peer.is_closed());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn web_socket_that_never_opens_is_an_error() {
    tokio::time::timeout(LIMIT, async {
        // A port nothing listens on: bound, then let go.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        drop(listener);
        let ws = WebSocket::new(&url, &[]).unwrap();
        let error = WebTransport::open(ws).await.unwrap_err();
        assert!(error.is_io(), "{error:?}");
    })
    .await
    .unwrap();
}
