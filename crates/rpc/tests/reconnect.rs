//! `Client`: connecting again after the connection is lost, pending
//! calls failing at once, calls waiting for the new connection,
//! subscriptions made again, and closing by drop.

use std::time::Duration;

use futures_util::StreamExt;
use sockeye::CloseCode;
use sockeye_rpc::{
    Backoff, CallError, ClientOptions, Config, ErrorObject, Methods, Peer, SubscriptionError, spawn,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const LIMIT: Duration = Duration::from_secs(10);

fn methods() -> Methods<()> {
    let mut methods = Methods::new();
    methods
        .sync_method("add", |_, (a, b): (i64, i64)| Ok::<_, ErrorObject>(a + b))
        .method("sleep", |_, (ms,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, ErrorObject>(ms)
        })
        .subscription(
            "subscribe_count",
            "count",
            "unsubscribe_count",
            |_, (): (), pending| async move {
                let Ok(sink) = pending.accept().await else {
                    return;
                };
                for i in 0u64.. {
                    if sink.send(&i).await.is_err() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            },
        );
    methods
}

/// Serves `methods()` on `listener`; the server side's peers as they come.
fn serve(listener: TcpListener) -> mpsc::UnboundedReceiver<Peer> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            if let Ok(ws) = sockeye::accept(tcp).await {
                let _ = tx.send(spawn(ws, methods(), (), Config::default()));
            }
        }
    });
    rx
}

fn quick() -> Backoff {
    let mut backoff = Backoff::default();
    backoff.initial = Duration::from_millis(10);
    backoff.max = Duration::from_millis(50);
    backoff
}

#[tokio::test]
async fn pending_calls_fail_and_later_calls_use_the_new_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let mut peers = serve(listener);
    let client = ClientOptions::new(&url)
        .backoff(quick())
        .connect()
        .await
        .unwrap();
    assert_eq!(client.call::<i64, _>("add", &(1, 2)).await.unwrap(), 3);
    let first = peers.recv().await.unwrap();
    let pending = {
        let client = client.clone();
        tokio::spawn(async move { client.call::<u64, _>("sleep", &(60_000,)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.close(CloseCode::GOING_AWAY, "restart").await;
    let outcome = tokio::time::timeout(LIMIT, pending).await.unwrap().unwrap();
    assert!(
        matches!(outcome, Err(CallError::Disconnected)),
        "{outcome:?}"
    );
    // The next call waits for the new connection.
    let sum = tokio::time::timeout(LIMIT, client.call::<i64, _>("add", &(2, 2)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(sum, 4);
    assert_eq!(client.reconnects(), 1);
    let second = tokio::time::timeout(LIMIT, peers.recv())
        .await
        .unwrap()
        .unwrap();
    drop(client);
    let ended = tokio::time::timeout(LIMIT, second.closed()).await.unwrap();
    assert_eq!(ended.close.map(|c| c.0), Some(CloseCode::NORMAL));
}

#[tokio::test]
async fn a_server_that_comes_back_on_its_port_is_reconnected_to() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let url = format!("ws://{addr}/");
    // The first server: one connection, then it is gone with its port.
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = sockeye::accept(tcp).await.unwrap();
        let peer = spawn(ws, methods(), (), Config::default());
        tokio::time::sleep(Duration::from_millis(50)).await;
        peer.close(CloseCode::GOING_AWAY, "").await;
    });
    let client = ClientOptions::new(&url)
        .backoff(quick())
        .connect()
        .await
        .unwrap();
    let mut counts = client
        .subscribe::<u64, _>("subscribe_count", &(), "count", "unsubscribe_count")
        .await
        .unwrap();
    assert_eq!(counts.next().await.unwrap().unwrap(), 0);
    server.await.unwrap();
    // Gone for a while: attempts fail, then it is back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _peers = serve(TcpListener::bind(addr).await.unwrap());
    let mut resubscribed = false;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let item = tokio::time::timeout_at(deadline, counts.next())
            .await
            .unwrap()
            .unwrap();
        match item {
            Err(SubscriptionError::Resubscribed) => resubscribed = true,
            Ok(0) if resubscribed => break,
            Ok(_) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(client.call::<i64, _>("add", &(20, 22)).await.unwrap(), 42);
    assert!(client.reconnects() >= 1);
}

#[tokio::test]
async fn a_closed_client_fails_calls_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let _peers = serve(listener);
    let client = ClientOptions::new(&url).connect().await.unwrap();
    client.close().await;
    let outcome = tokio::time::timeout(LIMIT, client.call::<i64, _>("add", &(1, 1)))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Err(CallError::Disconnected)),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn the_first_connection_failing_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    drop(listener);
    assert!(ClientOptions::new(&url).connect().await.is_err());
}
