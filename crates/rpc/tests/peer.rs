//! Two peers over a real WebSocket on loopback: calls both ways,
//! callbacks from inside handlers, notifications in order,
//! subscriptions, batches, timeouts with cancellation, limits, and what
//! happens to pending calls when the connection ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sockeye::{CloseCode, Message};
use sockeye_rpc::{
    Batch, CallError, Config, Cx, ErrorObject, Methods, Peer, SubscriptionError, connect, spawn,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Bounds every test: nothing here may hang.
const LIMIT: Duration = Duration::from_secs(10);

/// How long a raw client waits for one more reply before it takes that
/// none is coming: long enough for a loaded machine.
const QUIET: Duration = Duration::from_secs(1);

/// Starts a server that serves `methods` on every connection, with
/// `config`; gives its `ws://` URL and the server side's peers as they
/// connect.
async fn server<C: Clone + Send + Sync + 'static>(
    methods: Methods<C>,
    context: C,
    config: Config,
) -> (String, mpsc::UnboundedReceiver<Peer>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(ws) = sockeye::accept(tcp).await else {
                continue;
            };
            let peer = spawn(ws, methods.clone(), context.clone(), config.clone());
            let _ = tx.send(peer);
        }
    });
    (url, rx)
}

fn calculator() -> Methods<()> {
    let mut methods = Methods::new();
    methods
        .sync_method("subtract", |_, (a, b): (i64, i64)| {
            Ok::<_, ErrorObject>(a - b)
        })
        .method("sleep", |_, (ms,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok::<_, ErrorObject>(ms)
        })
        .method("fail", |_, ()| async {
            Err::<(), _>(
                ErrorObject::new(42, "no luck")
                    .with_data(&json!({"why": "asked to"}))
                    .unwrap(),
            )
        });
    methods
}

#[derive(serde::Deserialize)]
struct Named {
    minuend: i64,
    subtrahend: i64,
}

#[tokio::test]
async fn calls_by_position_and_by_name() {
    let mut methods = calculator();
    methods.sync_method("subtract_named", |_, p: Named| {
        Ok::<_, ErrorObject>(p.minuend - p.subtrahend)
    });
    let (url, _) = server(methods, (), Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let result: i64 = client.call("subtract", &(42, 23)).await.unwrap();
    assert_eq!(result, 19);
    let result: i64 = client
        .call("subtract_named", &json!({"subtrahend": 23, "minuend": 42}))
        .await
        .unwrap();
    assert_eq!(result, 19);
    // Positional params into a struct work as well.
    let result: i64 = client.call("subtract_named", &(42, 23)).await.unwrap();
    assert_eq!(result, 19);
    let error = client.call::<Value, _>("nope", &()).await.unwrap_err();
    assert_eq!(
        error.error_object().unwrap().code,
        sockeye_rpc::METHOD_NOT_FOUND
    );
    let error = client
        .call::<Value, _>("subtract", &("a",))
        .await
        .unwrap_err();
    assert_eq!(
        error.error_object().unwrap().code,
        sockeye_rpc::INVALID_PARAMS
    );
    let error = client.call::<Value, _>("fail", &()).await.unwrap_err();
    let error = error.error_object().unwrap();
    assert_eq!((error.code, error.message.as_str()), (42, "no luck"));
    assert_eq!(error.data.as_ref().unwrap().get(), r#"{"why":"asked to"}"#);
    assert!(matches!(
        client.call::<Value, _>("subtract", &5).await,
        Err(CallError::Params)
    ));
}

/// SPEC R15: either side calls the other on one connection; a server
/// method calls the client back before it answers.
#[tokio::test]
async fn a_server_method_calls_the_client_back() {
    let mut methods = Methods::<()>::new();
    methods.method("greet", |cx: Cx<()>, (name,): (String,)| async move {
        let title: String = cx
            .peer()
            .call("title_of", &(name.clone(),))
            .await
            .map_err(|e| {
                ErrorObject::internal_error()
                    .with_data(&e.to_string())
                    .unwrap()
            })?;
        Ok(format!("hello, {title} {name}"))
    });
    let (url, _) = server(methods, (), Config::default()).await;
    let mut client_methods = Methods::new();
    client_methods.sync_method("title_of", |_, (name,): (String,)| {
        Ok::<_, ErrorObject>(if name == "Ada" { "Countess" } else { "Mx" })
    });
    let client = connect(&url, client_methods, (), Config::default())
        .await
        .unwrap();
    let greeting: String = tokio::time::timeout(LIMIT, client.call("greet", &("Ada",)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(greeting, "hello, Countess Ada");
}

/// Many calls in flight in both directions at once, each direction
/// numbering its own ids.
#[tokio::test]
async fn calls_in_flight_both_ways_at_once() {
    let (url, mut peers) = server(calculator(), (), Config::default()).await;
    let client = connect(&url, calculator(), (), Config::default())
        .await
        .unwrap();
    let server_side = peers.recv().await.unwrap();
    let mut calls = Vec::new();
    for i in 0..200i64 {
        let (client, server_side) = (client.clone(), server_side.clone());
        calls.push(tokio::spawn(async move {
            let a: i64 = client.call("subtract", &(i, 1)).await.unwrap();
            let b: i64 = server_side.call("subtract", &(1, i)).await.unwrap();
            let c: u64 = client.call("sleep", &(1,)).await.unwrap();
            (a, b, c)
        }));
    }
    for (i, call) in calls.into_iter().enumerate() {
        let i = i64::try_from(i).unwrap();
        assert_eq!(
            tokio::time::timeout(LIMIT, call).await.unwrap().unwrap(),
            (i - 1, 1 - i, 1)
        );
    }
}

/// Notifications run one at a time in the order they came, even when an
/// early one takes longer.
/// A request sees the effect of every notification sent before it, even
/// when that notification's handler takes a while and calls back.
#[tokio::test]
async fn a_request_waits_for_the_notifications_before_it() {
    type Notes = Arc<std::sync::Mutex<Vec<u64>>>;
    let mut methods = Methods::<Notes>::new();
    methods
        .notification("note", |cx: Cx<Notes>, (n,): (u64,)| async move {
            if n % 3 == 0 {
                // A callback in the middle: its answer must still be read.
                let _: i64 = cx.peer().call("client_subtract", &(1, 1)).await.unwrap();
            }
            cx.context().lock().unwrap().push(n);
        })
        .sync_method("notes", |cx: Cx<Notes>, ()| {
            Ok::<_, ErrorObject>(cx.context().lock().unwrap().clone())
        });
    let (url, _) = server(methods, Notes::default(), Config::default()).await;
    let client = connect(&url, calculator_as_client(), (), Config::default())
        .await
        .unwrap();
    for n in 0..50u64 {
        client.notify("note", &(n,)).await.unwrap();
        let notes: Vec<u64> = tokio::time::timeout(LIMIT, client.call("notes", &()))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            notes.last(),
            Some(&n),
            "note {n} not seen by the request after it"
        );
    }
}

fn calculator_as_client() -> Methods<()> {
    let mut methods = Methods::new();
    methods.sync_method("client_subtract", |_, (a, b): (i64, i64)| {
        Ok::<_, ErrorObject>(a - b)
    });
    methods
}

/// Behind a slow notification handler, the connection holds about
/// `max_message_size` bytes of what follows, then stops reading: the
/// rest waits in TCP, and all of it is handled once the handler is done.
#[tokio::test]
async fn a_slow_notification_handler_holds_a_bounded_backlog() {
    use std::sync::atomic::AtomicUsize;
    type Gate = (
        Arc<AtomicUsize>,
        Arc<tokio::sync::Semaphore>,
        mpsc::UnboundedSender<u64>,
    );
    let mut config = Config::default();
    config.max_message_size = 1000;
    let queued = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (done_tx, mut done) = mpsc::unbounded_channel();
    let mut methods = Methods::<Gate>::new();
    methods.notification("slow", |cx: Cx<Gate>, (n, _pad): (u64, String)| {
        let (queued, gate, done) = cx.context().clone();
        queued.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                let _ = gate.acquire().await;
            }
            let _ = done.send(n);
        }
    });
    let context = (Arc::clone(&queued), Arc::clone(&gate), done_tx);
    let (url, _) = server(methods, context, config).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let pad = "x".repeat(300);
    for n in 0..200u64 {
        client.notify("slow", &(n, &pad)).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held = queued.load(Ordering::SeqCst);
    assert!(
        (1..=6).contains(&held),
        "{held} notifications queued behind the slow one"
    );
    gate.add_permits(1);
    for n in 0..200u64 {
        assert_eq!(
            tokio::time::timeout(LIMIT, done.recv()).await.unwrap(),
            Some(n)
        );
    }
}

/// What was queued before a close goes out before it.
#[tokio::test]
async fn a_notification_sent_before_close_arrives() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut methods = Methods::<mpsc::UnboundedSender<u64>>::new();
    methods.notification(
        "note",
        |cx: Cx<mpsc::UnboundedSender<u64>>, (n,): (u64,)| async move {
            let _ = cx.context().send(n);
        },
    );
    let (url, _) = server(methods, seen_tx, Config::default()).await;
    for n in 0..20u64 {
        let client = connect(&url, Methods::new(), (), Config::default())
            .await
            .unwrap();
        client.notify("note", &(n,)).await.unwrap();
        client.close(CloseCode::NORMAL, "").await;
        let got = tokio::time::timeout(LIMIT, seen.recv()).await.unwrap();
        assert_eq!(got, Some(n));
    }
}

#[tokio::test]
async fn notifications_are_handled_in_order() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let mut methods = Methods::<mpsc::UnboundedSender<u64>>::new();
    methods.notification(
        "note",
        |cx: Cx<mpsc::UnboundedSender<u64>>, (n,): (u64,)| async move {
            if n % 7 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let _ = cx.context().send(n);
        },
    );
    let (url, _) = server(methods, seen_tx, Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    for n in 0..100u64 {
        client.notify("note", &(n,)).await.unwrap();
    }
    for n in 0..100u64 {
        let got = tokio::time::timeout(LIMIT, seen.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got, n);
    }
}

/// Sets its flag when dropped: tells a test that a handler's future was
/// dropped (cancelled, unsubscribed).
struct Flag(Arc<AtomicBool>);

impl Drop for Flag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Waits until `flag` is set, at most `LIMIT`.
async fn wait_for(flag: &AtomicBool, what: &str) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    while !flag.load(Ordering::SeqCst) {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn ticker(dropped: Arc<AtomicBool>) -> Methods<()> {
    let mut methods = Methods::new();
    methods.subscription(
        "subscribe_ticks",
        "tick",
        "unsubscribe_ticks",
        move |_, (count,): (u64,), pending| {
            let dropped = Arc::clone(&dropped);
            async move {
                let _flag = Flag(dropped);
                if count == 0 {
                    pending.reject(ErrorObject::invalid_params()).await;
                    return;
                }
                let Ok(sink) = pending.accept().await else {
                    return;
                };
                for i in 0..count {
                    if sink.send(&i).await.is_err() {
                        return;
                    }
                }
                std::future::pending::<()>().await;
            }
        },
    );
    methods
}

#[tokio::test]
async fn subscriptions_deliver_in_order_and_end_on_drop() {
    let dropped = Arc::new(AtomicBool::new(false));
    let (url, _) = server(ticker(Arc::clone(&dropped)), (), Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let mut ticks = client
        .subscribe::<u64, _>("subscribe_ticks", &(100,), "tick", "unsubscribe_ticks")
        .await
        .unwrap();
    for i in 0..100 {
        let got = tokio::time::timeout(LIMIT, ticks.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(got, i);
    }
    assert!(!dropped.load(Ordering::SeqCst));
    drop(ticks);
    wait_for(&dropped, "the producer was not stopped").await;
    let refused = client
        .subscribe::<u64, _>("subscribe_ticks", &(0,), "tick", "unsubscribe_ticks")
        .await
        .unwrap_err();
    assert_eq!(
        refused.error_object().unwrap().code,
        sockeye_rpc::INVALID_PARAMS
    );
}

/// A subscriber that does not read loses its subscription, not the
/// connection's memory.
#[tokio::test]
async fn a_slow_subscriber_is_ended_with_lagged() {
    let dropped = Arc::new(AtomicBool::new(false));
    let (url, _) = server(ticker(Arc::clone(&dropped)), (), Config::default()).await;
    let mut config = Config::default();
    config.subscription_buffer = 8;
    let client = connect(&url, Methods::new(), (), config).await.unwrap();
    let mut ticks = client
        .subscribe::<u64, _>("subscribe_ticks", &(1000,), "tick", "unsubscribe_ticks")
        .await
        .unwrap();
    wait_for(&dropped, "the producer was not stopped").await;
    for i in 0..8 {
        assert_eq!(ticks.next().await.unwrap().unwrap(), i);
    }
    assert!(matches!(
        ticks.next().await,
        Some(Err(SubscriptionError::Lagged))
    ));
    assert!(ticks.next().await.is_none());
    // The connection is fine.
    assert!(
        client
            .call::<u64, _>("subscribe_ticks", &(0,))
            .await
            .is_err()
    );
}

/// A subscribe call whose params do not deserialize gets one answer,
/// -32602, and nothing else.
#[tokio::test]
async fn a_subscription_with_bad_params_is_answered_once() {
    let dropped = Arc::new(AtomicBool::new(false));
    let (url, _) = server(ticker(dropped), (), Config::default()).await;
    let mut ws = sockeye::connect(&url).await.unwrap();
    ws.send_text(r#"{"jsonrpc":"2.0","method":"subscribe_ticks","params":["many"],"id":1}"#)
        .await;
    ws.send_text(r#"{"jsonrpc":"2.0","method":"unsubscribe_ticks","params":[99],"id":2}"#)
        .await;
    let mut replies = Vec::new();
    while let Ok(Some(reply)) = tokio::time::timeout(QUIET, ws.recv()).await {
        let reply: Value = serde_json::from_str(reply.unwrap().as_text().unwrap()).unwrap();
        replies.push(reply);
    }
    assert_eq!(replies.len(), 2, "{replies:?}");
    assert_eq!(replies[0]["id"], 1);
    assert_eq!(replies[0]["error"]["code"], sockeye_rpc::INVALID_PARAMS);
    assert_eq!(
        replies[1],
        json!({"jsonrpc": "2.0", "result": false, "id": 2})
    );
}

/// Reads every text reply until none comes for `QUIET`.
async fn replies<S>(ws: &mut sockeye::WebSocket<S>) -> Vec<Value>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut replies = Vec::new();
    while let Ok(Some(reply)) = tokio::time::timeout(QUIET, ws.recv()).await {
        replies.push(serde_json::from_str(reply.unwrap().as_text().unwrap()).unwrap());
    }
    replies
}

/// A message meant as an answer (it has `result` or `error`) but not a
/// valid one is not answered: the peer could take the answer for one of
/// its own calls of that id.
#[tokio::test]
async fn a_malformed_response_is_not_answered() {
    let (url, _) = server(calculator(), (), Config::default()).await;
    let mut ws = sockeye::connect(&url).await.unwrap();
    ws.send_text(r#"{"jsonrpc":"2.0","result":1,"error":{"code":1,"message":"x"},"id":1}"#)
        .await;
    ws.send_text(r#"{"jsonrpc":"2.0","error":{"code":1.5,"message":"x"},"id":2}"#)
        .await;
    ws.send_text(r#"{"jsonrpc":"2.0","id":3}"#).await;
    let replies = replies(&mut ws).await;
    // Only the last, which is not a response either, is an invalid request.
    assert_eq!(
        replies,
        [json!({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":3})]
    );
}

/// A subscribe inside a batch is refused in its place in the array.
#[tokio::test]
async fn a_subscription_inside_a_batch_is_refused_in_place() {
    let (url, _) = server(ticker(Arc::default()), (), Config::default()).await;
    let mut ws = sockeye::connect(&url).await.unwrap();
    ws.send_text(concat!(
        r#"[{"jsonrpc":"2.0","method":"subscribe_ticks","params":[3],"id":1},"#,
        r#"{"jsonrpc":"2.0","method":"unsubscribe_ticks","params":[7],"id":2}]"#
    ))
    .await;
    let replies = replies(&mut ws).await;
    assert_eq!(replies.len(), 1, "{replies:?}");
    let answers = replies[0].as_array().unwrap();
    assert_eq!(answers.len(), 2);
    assert_eq!(answers[0]["id"], 1);
    assert_eq!(answers[0]["error"]["code"], -32000);
    assert_eq!(answers[1], json!({"jsonrpc":"2.0","result":false,"id":2}));
}

/// A sink kept elsewhere refuses items once the peer unsubscribed.
#[tokio::test]
async fn a_sink_refuses_items_after_unsubscribe() {
    let (sinks_tx, mut sinks) = mpsc::unbounded_channel();
    let mut methods = Methods::<mpsc::UnboundedSender<sockeye_rpc::SubscriptionSink>>::new();
    methods.subscription(
        "sub",
        "item",
        "unsub",
        |cx: Cx<_>, (): (), pending| async move {
            let Ok(sink) = pending.accept().await else {
                return;
            };
            let _ = cx.context().send(sink);
        },
    );
    let (url, _) = server(methods, sinks_tx, Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let subscription = client
        .subscribe::<u64, _>("sub", &(), "item", "unsub")
        .await
        .unwrap();
    let sink = tokio::time::timeout(LIMIT, sinks.recv())
        .await
        .unwrap()
        .unwrap();
    // The producer ended, taking the subscription with it.
    assert!(sink.is_closed());
    assert!(matches!(
        sink.send(&1).await,
        Err(sockeye_rpc::SinkError::Closed)
    ));
    drop(subscription);
}

/// A connection whose future is dropped ends: its calls fail at once.
#[tokio::test]
async fn a_dropped_connection_fails_its_calls() {
    let (url, _) = server(calculator(), (), Config::default()).await;
    let ws = sockeye::connect(&url).await.unwrap();
    let (peer, connection) =
        sockeye_rpc::connection(ws, Methods::<()>::new(), (), Config::default());
    let running = tokio::spawn(connection);
    let call = {
        let peer = peer.clone();
        tokio::spawn(async move { peer.call::<u64, _>("sleep", &(60_000,)).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    running.abort();
    let outcome = tokio::time::timeout(LIMIT, call).await.unwrap().unwrap();
    assert!(
        matches!(outcome, Err(CallError::Disconnected)),
        "{outcome:?}"
    );
    let ended = tokio::time::timeout(LIMIT, peer.closed()).await.unwrap();
    assert!(ended.error.is_some());
}

/// A notification that comes after a held-back request does not overtake
/// it: the request sees the notifications before it, and only those.
#[tokio::test]
async fn a_request_does_not_see_notifications_after_it() {
    type Notes = Arc<std::sync::Mutex<Vec<u64>>>;
    let mut methods = Methods::<Notes>::new();
    methods
        .notification("note", |cx: Cx<Notes>, (n,): (u64,)| async move {
            if n == 1 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            cx.context().lock().unwrap().push(n);
        })
        .sync_method("notes", |cx: Cx<Notes>, ()| {
            Ok::<_, ErrorObject>(cx.context().lock().unwrap().clone())
        });
    let (url, _) = server(methods, Notes::default(), Config::default()).await;
    let mut ws = sockeye::connect(&url).await.unwrap();
    ws.send_text(r#"{"jsonrpc":"2.0","method":"note","params":[1]}"#)
        .await;
    ws.send_text(r#"{"jsonrpc":"2.0","method":"notes","id":1}"#)
        .await;
    ws.send_text(r#"{"jsonrpc":"2.0","method":"note","params":[2]}"#)
        .await;
    ws.send_text(r#"{"jsonrpc":"2.0","method":"notes","id":2}"#)
        .await;
    let replies = replies(&mut ws).await;
    assert_eq!(
        replies,
        [
            json!({"jsonrpc":"2.0","result":[1],"id":1}),
            json!({"jsonrpc":"2.0","result":[1,2],"id":2})
        ]
    );
}

#[tokio::test]
async fn batches_answer_each_call_in_place() {
    let (url, _) = server(calculator(), (), Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let mut batch = Batch::new();
    batch
        .call("subtract", &(10, 1))
        .unwrap()
        .notify("nobody", &())
        .unwrap()
        .call("sleep", &(20,))
        .unwrap()
        .call("nope", &())
        .unwrap()
        .call("subtract", &(1, 10))
        .unwrap();
    let results = client.batch(batch).await.unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().get(), "9");
    assert_eq!(results[1].as_ref().unwrap().get(), "20");
    assert_eq!(
        results[2]
            .as_ref()
            .unwrap_err()
            .error_object()
            .unwrap()
            .code,
        sockeye_rpc::METHOD_NOT_FOUND
    );
    assert_eq!(results[3].as_ref().unwrap().get(), "-9");
}

/// A call that times out fails with a typed error, and the callee is told:
/// its handler is dropped.
#[tokio::test]
async fn a_timed_out_call_is_cancelled_at_the_callee() {
    let dropped = Arc::new(AtomicBool::new(false));
    let mut methods = Methods::<()>::new();
    let flag = Arc::clone(&dropped);
    methods.method("forever", move |_, ()| {
        let flag = Arc::clone(&flag);
        async move {
            let _flag = Flag(flag);
            std::future::pending::<()>().await;
            Ok::<(), ErrorObject>(())
        }
    });
    let (url, _) = server(methods, (), Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let outcome = client
        .call_with_timeout::<Value, _>("forever", &(), Some(Duration::from_millis(50)))
        .await;
    assert!(matches!(outcome, Err(CallError::Timeout(_))), "{outcome:?}");
    wait_for(&dropped, "the handler was not cancelled").await;
}

/// When the connection ends, every pending call fails at once.
#[tokio::test]
async fn pending_calls_fail_when_the_connection_ends() {
    let (url, mut peers) = server(calculator(), (), Config::default()).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let server_side = peers.recv().await.unwrap();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let client = client.clone();
        calls.push(tokio::spawn(async move {
            client.call::<u64, _>("sleep", &(60_000,)).await
        }));
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ended = server_side.close(CloseCode::GOING_AWAY, "bye").await;
    assert_eq!(ended.close.map(|c| c.0), Some(CloseCode::GOING_AWAY));
    for call in calls {
        let outcome = tokio::time::timeout(LIMIT, call).await.unwrap().unwrap();
        assert!(
            matches!(outcome, Err(CallError::Disconnected)),
            "{outcome:?}"
        );
    }
    assert!(matches!(
        client.call::<u64, _>("subtract", &(1, 1)).await,
        Err(CallError::Disconnected)
    ));
    assert!(client.is_closed());
}

/// Requests past `max_in_flight` are answered -32000 at once, and the
/// others still run.
#[tokio::test]
async fn requests_past_the_limit_are_refused_with_32000() {
    let mut config = Config::default();
    config.max_in_flight = 4;
    let (url, _) = server(calculator(), (), config).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let mut calls = Vec::new();
    for _ in 0..10 {
        let client = client.clone();
        calls.push(tokio::spawn(async move {
            client.call::<u64, _>("sleep", &(200,)).await
        }));
    }
    let mut refused = 0;
    for call in calls {
        match tokio::time::timeout(LIMIT, call).await.unwrap().unwrap() {
            Ok(200) => {}
            Err(e) if e.error_object().map(|e| e.code) == Some(-32000) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 6);
}

/// The raw wire: what the specification's examples get, over a real
/// connection, with a plain WebSocket client.
#[tokio::test]
async fn the_wire_answers_as_the_specification_says() {
    let (url, _) = server(calculator(), (), Config::default()).await;
    let mut ws = sockeye::connect(&url).await.unwrap();
    let mut exchange = async |text: &str| -> Option<Value> {
        ws.send_text(text).await;
        let reply = tokio::time::timeout(QUIET, ws.recv()).await.ok()??;
        Some(serde_json::from_str(reply.unwrap().as_text().unwrap()).unwrap())
    };
    assert_eq!(
        exchange(r#"{"jsonrpc":"2.0","method":"subtract","params":[42,23],"id":-1.5}"#).await,
        Some(json!({"jsonrpc":"2.0","result":19,"id":-1.5}))
    );
    assert_eq!(
        exchange(r#"{"jsonrpc":"2.0","method":"subtract","params":[1,2]}"#).await,
        None
    );
    assert_eq!(
        exchange(r#"{"jsonrpc":"2.0","method":"foobar,"params":"bar","baz]"#).await,
        Some(json!({"jsonrpc":"2.0","error":{"code":-32700,"message":"Parse error"},"id":null}))
    );
    assert_eq!(
        exchange("[]").await,
        Some(
            json!({"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null})
        )
    );
    assert_eq!(
        exchange("[1,2]").await,
        Some(json!([
            {"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null},
            {"jsonrpc":"2.0","error":{"code":-32600,"message":"Invalid Request"},"id":null}
        ]))
    );
    assert_eq!(
        exchange(r#"[{"jsonrpc":"2.0","method":"subtract","params":[1,2]}]"#).await,
        None
    );
    assert_eq!(
        exchange(r#"{"jsonrpc":"2.0","method":"rpc.discover","id":"x"}"#).await,
        Some(
            json!({"jsonrpc":"2.0","error":{"code":-32601,"message":"Method not found"},"id":"x"})
        )
    );
}

/// A message over the limit closes the connection with 1009.
#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let mut config = Config::default();
    config.max_message_size = 100;
    let (url, _) = server(calculator(), (), config).await;
    let mut ws = sockeye::connect(&url).await.unwrap();
    let big = format!(
        r#"{{"jsonrpc":"2.0","method":"subtract","params":["{}"],"id":1}}"#,
        "x".repeat(200)
    );
    ws.send_text(&big).await;
    let end = tokio::time::timeout(LIMIT, ws.recv()).await.unwrap();
    assert!(end.is_none(), "{end:?}");
    assert_eq!(ws.close_frame().unwrap().code, CloseCode::MESSAGE_TOO_BIG);
}

/// Batches refused answer one Invalid Request.
#[tokio::test]
async fn refused_batches_get_one_invalid_request() {
    let mut config = Config::default();
    config.batches = sockeye_rpc::Batches::Refused;
    let (url, _) = server(calculator(), (), config).await;
    let client = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let mut ws = sockeye::connect(&url).await.unwrap();
    ws.send_text(r#"[{"jsonrpc":"2.0","method":"subtract","params":[1,2],"id":1}]"#)
        .await;
    let reply = tokio::time::timeout(LIMIT, ws.recv())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let reply: Value = serde_json::from_str(reply.as_text().unwrap()).unwrap();
    assert_eq!(reply["error"]["code"], -32600);
    assert_eq!(reply["id"], Value::Null);
    drop(client);
}

/// Sends text on a plain WebSocket.
trait SendText {
    async fn send_text(&mut self, text: &str);
}

impl<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> SendText for sockeye::WebSocket<S> {
    async fn send_text(&mut self, text: &str) {
        self.send(Message::text(text.to_owned())).await.unwrap();
    }
}
