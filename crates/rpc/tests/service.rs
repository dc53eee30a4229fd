//! `#[sockeye_rpc::service]` over a real WebSocket on loopback: a server
//! that implements a trait, the generated client calling it, the server
//! calling the client back through the client's own trait, params by
//! position and by name, notifications, errors, namespaces.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use sockeye_rpc::{
    CallError, Config, Cx, ErrorObject, Methods, Peer, PendingSubscription, connect, spawn,
};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Bounds every wait: nothing here may hang.
const LIMIT: Duration = Duration::from_secs(10);

/// What the server knows of a connection.
#[derive(Clone, Debug)]
pub struct Session {
    user: String,
    lines: mpsc::UnboundedSender<String>,
}

/// An application error with its own wire code.
#[derive(Debug)]
pub enum MathError {
    /// The divisor was zero.
    DivisionByZero,
}

impl From<MathError> for ErrorObject {
    fn from(error: MathError) -> Self {
        match error {
            MathError::DivisionByZero => ErrorObject::new(1, "division by zero"),
        }
    }
}

/// What the server serves.
#[sockeye_rpc::service]
pub trait Calculator {
    /// Adds.
    async fn add(&self, cx: &Cx<Session>, a: i64, b: i64) -> Result<i64, ErrorObject>;
    /// Subtracts, under another name.
    #[rpc(name = "math.sub")]
    async fn subtract(
        &self,
        cx: &Cx<Session>,
        minuend: i64,
        subtrahend: i64,
    ) -> Result<i64, ErrorObject>;
    /// Divides; the client sends params by name.
    #[rpc(named)]
    async fn divide(&self, dividend: f64, divisor: f64) -> Result<f64, MathError>;
    /// Greets the caller by the title the caller itself gives.
    async fn greet(&self, cx: &Cx<Session>) -> Result<String, ErrorObject>;
    /// Rounds, to `places` (none by default).
    async fn round(&self, x: f64, places: Option<u32>) -> Result<f64, ErrorObject>;
    /// A method with a default body.
    async fn version(&self) -> Result<String, ErrorObject> {
        Ok("1.0".to_owned())
    }
    /// How many calls were made.
    async fn calls(&self) -> Result<u64, ErrorObject>;
    /// Takes a line; nothing is answered.
    #[rpc(notification)]
    async fn log(&self, cx: &Cx<Session>, line: String);
    /// `count` numbers from `from` up, then nothing until unsubscribed.
    #[rpc(subscription = "counted", unsubscribe = "unsubscribe_counter", item = u64)]
    async fn subscribe_counter(
        &self,
        cx: &Cx<Session>,
        pending: PendingSubscription,
        from: u64,
        count: u64,
    );
}

/// What the client serves, for the server to call back.
#[sockeye_rpc::service]
pub trait Console {
    /// The title of `name`.
    async fn title_of(&self, name: String) -> Result<String, ErrorObject>;
    /// Shows a line.
    #[rpc(notification, named)]
    async fn print(&self, line: String, #[rpc(rename = "lvl")] level: Option<u8>);
}

#[derive(Default)]
struct Engine {
    calls: AtomicU64,
}

impl Engine {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

/// Counts a call when the producer of a subscription ends.
struct CountOnDrop<'a>(&'a Engine);

impl Drop for CountOnDrop<'_> {
    fn drop(&mut self) {
        self.0.count();
    }
}

impl Calculator for Engine {
    async fn add(&self, cx: &Cx<Session>, a: i64, b: i64) -> Result<i64, ErrorObject> {
        self.count();
        assert_eq!(cx.context().user, "ada");
        a.checked_add(b)
            .ok_or_else(|| ErrorObject::new(2, "overflow"))
    }

    async fn subtract(
        &self,
        _: &Cx<Session>,
        minuend: i64,
        subtrahend: i64,
    ) -> Result<i64, ErrorObject> {
        self.count();
        Ok(minuend - subtrahend)
    }

    async fn divide(&self, dividend: f64, divisor: f64) -> Result<f64, MathError> {
        self.count();
        if divisor == 0.0 {
            return Err(MathError::DivisionByZero);
        }
        // Hold the call across a wait, as a real handler would.
        tokio::task::yield_now().await;
        Ok(dividend / divisor)
    }

    async fn greet(&self, cx: &Cx<Session>) -> Result<String, ErrorObject> {
        self.count();
        let console = ConsoleClient::new(cx.peer().clone());
        let user = &cx.context().user;
        let title = console.title_of(user.clone()).await.map_err(|e| {
            ErrorObject::internal_error()
                .with_data(&e.to_string())
                .unwrap()
        })?;
        console
            .print(format!("greeted {user}"), Some(2))
            .await
            .map_err(|_| ErrorObject::internal_error())?;
        Ok(format!("hello, {title} {user}"))
    }

    async fn round(&self, x: f64, places: Option<u32>) -> Result<f64, ErrorObject> {
        self.count();
        let scale = 10f64.powi(i32::try_from(places.unwrap_or(0)).unwrap());
        Ok((x * scale).round() / scale)
    }

    async fn calls(&self) -> Result<u64, ErrorObject> {
        Ok(self.calls.load(Ordering::SeqCst))
    }

    async fn log(&self, cx: &Cx<Session>, line: String) {
        let _ = cx.context().lines.send(line);
    }

    async fn subscribe_counter(
        &self,
        _: &Cx<Session>,
        pending: PendingSubscription,
        from: u64,
        count: u64,
    ) {
        let _counted = CountOnDrop(self);
        if count == 0 {
            pending
                .reject(
                    ErrorObject::invalid_params()
                        .with_data(&"count is 0")
                        .unwrap(),
                )
                .await;
            return;
        }
        let Ok(sink) = pending.accept().await else {
            return;
        };
        for n in from..from + count {
            if sink.send(&n).await.is_err() {
                return;
            }
        }
        // Ended by the unsubscription, which drops this future.
        std::future::pending::<()>().await;
    }
}

struct Terminal {
    printed: mpsc::UnboundedSender<(String, Option<u8>)>,
}

impl Console for Terminal {
    async fn title_of(&self, name: String) -> Result<String, ErrorObject> {
        Ok(if name == "ada" { "Countess" } else { "Mx" }.to_owned())
    }

    async fn print(&self, line: String, level: Option<u8>) {
        let _ = self.printed.send((line, level));
    }
}

/// Starts a server on loopback that serves `methods` with `context` on
/// every connection; gives its URL and the server side's peers.
async fn server<C: Clone + Send + Sync + 'static>(
    methods: Methods<C>,
    context: C,
) -> (String, mpsc::UnboundedReceiver<Peer>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(ws) = sockeye::accept(tcp).await else {
                continue;
            };
            let _ = tx.send(spawn(
                ws,
                methods.clone(),
                context.clone(),
                Config::default(),
            ));
        }
    });
    (url, rx)
}

/// A server of `Engine` for the user "ada", and its received log lines.
async fn calculator_server() -> (String, mpsc::UnboundedReceiver<String>) {
    let (lines_tx, lines) = mpsc::unbounded_channel();
    let session = Session {
        user: "ada".to_owned(),
        lines: lines_tx,
    };
    let (url, _) = server(Engine::default().into_methods(), session).await;
    (url, lines)
}

async fn within<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f).await.expect("timed out")
}

#[tokio::test]
async fn client_calls_the_served_trait() {
    let (url, _) = calculator_server().await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::new(peer);
    assert_eq!(within(calculator.add(2, 3)).await.unwrap(), 5);
    assert_eq!(within(calculator.subtract(42, 23)).await.unwrap(), 19);
    assert!((within(calculator.divide(1.0, 4.0)).await.unwrap() - 0.25).abs() < f64::EPSILON);
    assert_eq!(within(calculator.version()).await.unwrap(), "1.0");
    assert!((within(calculator.round(2.345, Some(1))).await.unwrap() - 2.3).abs() < 1e-9);
    assert!((within(calculator.round(2.5, None)).await.unwrap() - 3.0).abs() < f64::EPSILON);
    assert_eq!(within(calculator.calls()).await.unwrap(), 5);
}

#[tokio::test]
async fn server_answers_errors_the_method_returns() {
    let (url, _) = calculator_server().await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::from(peer);
    let error = within(calculator.divide(1.0, 0.0)).await.unwrap_err();
    let object = error.error_object().unwrap();
    assert_eq!(
        (object.code, object.message.as_str()),
        (1, "division by zero")
    );
    let error = within(calculator.add(i64::MAX, 1)).await.unwrap_err();
    assert_eq!(error.error_object().unwrap().code, 2);
}

/// The served side takes params by position and by name alike, fills a
/// trailing `Option` left out, and answers -32602 to params that do not
/// fit.
#[tokio::test]
async fn server_takes_params_by_position_and_by_name() {
    let (url, _) = calculator_server().await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let by_position: i64 = within(peer.call("math.sub", &(42, 23))).await.unwrap();
    let by_name: i64 = within(peer.call("math.sub", &json!({"subtrahend": 23, "minuend": 42})))
        .await
        .unwrap();
    assert_eq!((by_position, by_name), (19, 19));
    let divided: f64 = within(peer.call("divide", &(9.0, 3.0))).await.unwrap();
    assert!((divided - 3.0).abs() < f64::EPSILON);
    let rounded: f64 = within(peer.call("round", &json!([1.26]))).await.unwrap();
    assert!((rounded - 1.0).abs() < f64::EPSILON);
    let rounded: f64 = within(peer.call("round", &json!({"x": 1.26, "places": 1})))
        .await
        .unwrap();
    assert!((rounded - 1.3).abs() < 1e-9);
    let version: String = within(peer.call("version", &())).await.unwrap();
    assert_eq!(version, "1.0");
    let version: String = within(peer.call("version", &json!([]))).await.unwrap();
    assert_eq!(version, "1.0");
    for params in [
        json!(["a", 1]),
        json!([1]),
        json!({"a": 1}),
        json!([1, 2, 3]),
    ] {
        let error = within(peer.call::<Value, _>("add", &params))
            .await
            .unwrap_err();
        assert_eq!(
            error.error_object().map(|e| e.code),
            Some(sockeye_rpc::INVALID_PARAMS),
            "{params}"
        );
    }
    let error = within(peer.call::<Value, _>("subtract", &(1, 2)))
        .await
        .unwrap_err();
    assert_eq!(
        error.error_object().map(|e| e.code),
        Some(sockeye_rpc::METHOD_NOT_FOUND)
    );
}

/// The client sends params by position, by name for `#[rpc(named)]`,
/// and none for a method without params; a `None` named param is left
/// out.
#[tokio::test]
async fn client_sends_params_by_position_or_by_name() {
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(String, Option<String>)>();
    let mut methods = Methods::<()>::new();
    for name in ["add", "divide", "version", "round"] {
        let seen_tx = seen_tx.clone();
        methods.raw_method(name, move |_, params| {
            let _ = seen_tx.send((name.to_owned(), params.map(|p| p.get().to_owned())));
            let result = if name == "version" {
                json!("1")
            } else {
                json!(1)
            };
            async move { Ok(serde_json::value::to_raw_value(&result).unwrap()) }
        });
    }
    let seen_print = seen_tx.clone();
    let mut notifications = Methods::<()>::new();
    notifications.notification("print", move |_, params: Value| {
        let _ = seen_print.send(("print".to_owned(), Some(params.to_string())));
        async {}
    });
    methods.merge(&notifications);
    let (url, _) = server(methods, ()).await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::new(peer.clone());
    within(calculator.add(1, 2)).await.unwrap();
    within(calculator.divide(1.5, 2.0)).await.unwrap();
    within(calculator.version()).await.unwrap();
    within(calculator.round(1.0, None)).await.unwrap();
    let console = ConsoleClient::new(peer);
    within(console.print("x".to_owned(), None)).await.unwrap();
    within(console.print("y".to_owned(), Some(3)))
        .await
        .unwrap();
    let mut got = Vec::new();
    for _ in 0..6 {
        got.push(within(seen.recv()).await.unwrap());
    }
    let expected = [
        ("add", Some("[1,2]")),
        ("divide", Some(r#"{"dividend":1.5,"divisor":2.0}"#)),
        ("version", None),
        ("round", Some("[1.0,null]")),
        ("print", Some(r#"{"line":"x"}"#)),
        ("print", Some(r#"{"line":"y","lvl":3}"#)),
    ];
    let got: Vec<(&str, Option<&str>)> = got
        .iter()
        .map(|(name, params)| (name.as_str(), params.as_deref()))
        .collect();
    assert_eq!(got, expected);
}

/// SPEC R15 through the traits: a server method calls the client back
/// through a client of the client's trait made from `cx.peer()`, which
/// answers a call and takes a notification.
#[tokio::test]
async fn server_calls_the_client_back_through_its_trait() {
    let (url, _) = calculator_server().await;
    let (printed_tx, mut printed) = mpsc::unbounded_channel();
    let terminal = Terminal {
        printed: printed_tx,
    };
    let peer = connect(&url, terminal.into_methods(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::new(peer);
    assert_eq!(
        within(calculator.greet()).await.unwrap(),
        "hello, Countess ada"
    );
    assert_eq!(
        within(printed.recv()).await.unwrap(),
        ("greeted ada".to_owned(), Some(2))
    );
}

/// The server's side can call the client through the client's trait,
/// unprompted.
#[tokio::test]
async fn server_calls_the_client_unprompted() {
    let (url, mut peers) = server(Engine::default().into_methods(), session()).await;
    let (printed_tx, _printed) = mpsc::unbounded_channel();
    let _client = connect(
        &url,
        Terminal {
            printed: printed_tx,
        }
        .into_methods(),
        (),
        Config::default(),
    )
    .await
    .unwrap();
    let console = ConsoleClient::new(within(peers.recv()).await.unwrap());
    assert_eq!(
        within(console.title_of("grace".to_owned())).await.unwrap(),
        "Mx"
    );
}

fn session() -> Session {
    let (lines, _) = mpsc::unbounded_channel();
    Session {
        user: "ada".to_owned(),
        lines,
    }
}

#[tokio::test]
async fn notifications_reach_the_server_in_order() {
    let (url, mut lines) = calculator_server().await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::new(peer);
    for n in 0..50 {
        within(calculator.log(format!("line {n}"))).await.unwrap();
    }
    for n in 0..50 {
        assert_eq!(within(lines.recv()).await.unwrap(), format!("line {n}"));
    }
}

#[tokio::test]
async fn client_subscribes_and_gets_the_items_in_order() {
    let (url, _) = calculator_server().await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::new(peer.clone());
    let mut numbers = within(calculator.subscribe_counter(10, 50)).await.unwrap();
    for n in 10..60 {
        assert_eq!(within(numbers.next()).await.unwrap().unwrap(), n);
    }
    drop(numbers);
    // Dropping the subscription unsubscribes, which ends the producer.
    within(async {
        while calculator.calls().await.unwrap() != 1 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let refused = within(calculator.subscribe_counter(0, 0))
        .await
        .unwrap_err();
    let error = refused.error_object().unwrap();
    assert_eq!(error.code, sockeye_rpc::INVALID_PARAMS);
    assert_eq!(error.data.as_ref().unwrap().get(), r#""count is 0""#);
    // The served side takes the unsubscription: an id it does not hold
    // is answered `false`.
    let unsubscribed: bool = within(peer.call("unsubscribe_counter", &(12_345,)))
        .await
        .unwrap();
    assert!(!unsubscribed);
    assert_eq!(within(calculator.calls()).await.unwrap(), 2);
}

/// The same typed client over a `Client` that comes back: calls and a
/// subscription go on across a lost connection.
#[tokio::test]
async fn typed_clients_call_through_a_reconnecting_client() {
    let (url, mut peers) = calculator_server_with_peers().await;
    let client = sockeye_rpc::ClientOptions::new(&url)
        .connect()
        .await
        .unwrap();
    let calculator: CalculatorClient<sockeye_rpc::Client> = client.clone().into();
    assert_eq!(within(calculator.add(2, 3)).await.unwrap(), 5);
    let mut numbers = within(calculator.subscribe_counter(10, 1000))
        .await
        .unwrap();
    assert_eq!(within(numbers.next()).await.unwrap().unwrap(), 10);
    let first = within(peers.recv()).await.unwrap();
    first.close(sockeye::CloseCode::GOING_AWAY, "restart").await;
    assert_eq!(within(calculator.add(20, 22)).await.unwrap(), 42);
    assert_eq!(client.reconnects(), 1);
    let mut again = false;
    within(async {
        loop {
            match numbers.next().await.unwrap() {
                Err(sockeye_rpc::SubscriptionError::Resubscribed) => again = true,
                Ok(10) if again => break,
                Ok(_) => {}
                Err(other) => panic!("{other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn client_calls_fail_once_the_connection_ended() {
    let (url, mut peers) = calculator_server_with_peers().await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let calculator = CalculatorClient::new(peer);
    assert_eq!(within(calculator.add(1, 1)).await.unwrap(), 2);
    let server_side = within(peers.recv()).await.unwrap();
    within(server_side.close(sockeye::CloseCode::NORMAL, "bye")).await;
    within(calculator.peer().closed()).await;
    assert!(matches!(
        within(calculator.add(1, 1)).await,
        Err(CallError::Disconnected)
    ));
    assert!(matches!(
        within(calculator.log("late".to_owned())).await,
        Err(CallError::Disconnected)
    ));
}

async fn calculator_server_with_peers() -> (String, mpsc::UnboundedReceiver<Peer>) {
    server(Engine::default().into_methods(), session()).await
}

/// A namespace with its separator; methods without `Cx` serve any
/// context.
#[sockeye_rpc::service(namespace = "store", namespace_separator = "/")]
trait Store {
    /// Stores a value.
    async fn put(&self, key: String, value: Value) -> Result<(), ErrorObject>;
    /// A value, or null.
    async fn get(&self, key: String) -> Result<Option<Value>, ErrorObject>;
}

#[derive(Default)]
struct MemoryStore {
    values: std::sync::Mutex<std::collections::HashMap<String, Value>>,
}

impl Store for MemoryStore {
    async fn put(&self, key: String, value: Value) -> Result<(), ErrorObject> {
        self.values.lock().unwrap().insert(key, value);
        Ok(())
    }

    async fn get(&self, key: String) -> Result<Option<Value>, ErrorObject> {
        Ok(self.values.lock().unwrap().get(&key).cloned())
    }
}

#[tokio::test]
async fn namespaced_services_merge_into_one_set() {
    let store = Arc::new(MemoryStore::default());
    let mut methods: Methods<Session> = Engine::default().into_methods();
    methods.merge(&StoreForwarder(Arc::clone(&store)).into_methods());
    let mut names: Vec<&str> = methods.names().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "add",
            "calls",
            "divide",
            "greet",
            "log",
            "math.sub",
            "round",
            "store/get",
            "store/put",
            "subscribe_counter",
            "unsubscribe_counter",
            "version"
        ]
    );
    let (url, _) = server(methods, session()).await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let client = StoreClient::new(peer.clone());
    within(client.put("k".to_owned(), json!({"v": 1})))
        .await
        .unwrap();
    assert_eq!(
        within(client.get("k".to_owned())).await.unwrap(),
        Some(json!({"v": 1}))
    );
    assert_eq!(within(client.get("nope".to_owned())).await.unwrap(), None);
    assert_eq!(store.values.lock().unwrap().len(), 1);
    assert_eq!(
        within(CalculatorClient::new(peer).add(1, 2)).await.unwrap(),
        3
    );
}

/// A `Store` that keeps its values elsewhere.
struct StoreForwarder(Arc<MemoryStore>);

impl Store for StoreForwarder {
    async fn put(&self, key: String, value: Value) -> Result<(), ErrorObject> {
        self.0.put(key, value).await
    }

    async fn get(&self, key: String) -> Result<Option<Value>, ErrorObject> {
        self.0.get(key).await
    }
}

/// The generated client and futures can go to other tasks.
#[test]
fn clients_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<CalculatorClient>();
    send_sync::<ConsoleClient>();
    send_sync::<StoreClient>();
}

/// Params named like the generated code's own names, a raw identifier,
/// a type named like the generated structs: all served by their names.
#[sockeye_rpc::service]
trait Awkward {
    /// Sums everything.
    #[rpc(named)]
    #[expect(clippy::too_many_arguments, reason = "the names are the point")]
    async fn sum(
        &self,
        context: &Cx<()>,
        this: i64,
        cx: i64,
        params: i64,
        methods: i64,
        pending: i64,
        peer: i64,
        r#type: C,
    ) -> Result<i64, ErrorObject>;
}

/// A param type whose name could collide with the generated code's.
/// Its name is the generic of `into_methods`, once used.
#[derive(serde::Serialize, serde::Deserialize)]
struct C(i64);

struct Summer;

impl Awkward for Summer {
    async fn sum(
        &self,
        _: &Cx<()>,
        this: i64,
        cx: i64,
        params: i64,
        methods: i64,
        pending: i64,
        peer: i64,
        r#type: C,
    ) -> Result<i64, ErrorObject> {
        Ok(this + cx + params + methods + pending + peer + r#type.0)
    }
}

#[tokio::test]
async fn params_may_have_any_name() {
    let (url, _) = server(Awkward::into_methods(Summer), ()).await;
    let peer = connect(&url, Methods::new(), (), Config::default())
        .await
        .unwrap();
    let client = AwkwardClient::new(peer.clone());
    assert_eq!(
        within(client.sum(1, 2, 3, 4, 5, 6, C(7))).await.unwrap(),
        28
    );
    let by_name: i64 = within(peer.call(
        "sum",
        &json!({"this": 1, "cx": 1, "params": 1, "methods": 1, "pending": 1, "peer": 1, "type": 1}),
    ))
    .await
    .unwrap();
    assert_eq!(by_name, 7);
}

/// A trait whose methods take no `Cx`, and a param of a type named
/// like the generic of `into_methods`.
#[sockeye_rpc::service]
trait Echo {
    /// Gives back its param.
    async fn echo(&self, c: C) -> Result<C, ErrorObject>;
}

impl Echo for Summer {
    async fn echo(&self, c: C) -> Result<C, ErrorObject> {
        Ok(c)
    }
}

#[tokio::test]
async fn a_trait_without_cx_serves_any_context() {
    let (url, _) = server(Echo::into_methods(Summer), "any context").await;
    let peer = connect(&url, Echo::into_methods(Summer), 1u8, Config::default())
        .await
        .unwrap();
    let echoed = within(EchoClient::new(peer).echo(C(5))).await.unwrap();
    assert_eq!(echoed.0, 5);
}
