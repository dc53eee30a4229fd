//! The sockeye-rpc side of the JSON-RPC interoperability checks
//! (`scripts/rpc-interop`), in two modes:
//!
//! ```text
//! interop-peer serve 127.0.0.1:0 [--dump FILE]
//! interop-peer call ws://HOST:PORT/ [--dump FILE] [--no-batch]
//! ```
//!
//! `serve` prints `listening on ws://ADDR/` as its first line and serves
//! on every connection:
//!
//! - `subtract`: `[a, b]` or `{"minuend": a, "subtrahend": b}`, gives
//!   `a - b`;
//! - `echo`: gives its params back (`null` when there are none);
//! - `sum`: an array of numbers, gives their sum (an integer when they
//!   all are);
//! - `sleep`: `[ms]`, waits that long and gives `ms`;
//! - `fail`: always answers with the application error 42, `"no luck"`,
//!   data `{"why": "asked to"}`;
//! - `note` (a notification): records its params; `notes` gives what was
//!   recorded on this connection, in order;
//! - `subscribe_ticks` `[count]` / `tick` / `unsubscribe_ticks`: a
//!   subscription whose items are `0, 1, …, count - 1`;
//! - `ask_client`: `{"method": M, "params": P}` (or `[M, P]`; default
//!   `client_add` with `[2, 3]`) calls `M` on the client and gives what
//!   it answered; an error the client answers is answered as it came;
//! - `notify_client`: the same params, sends `M` to the client as a
//!   notification and gives `true`.
//!
//! `call` connects to a server of another JSON-RPC library that serves
//! the same methods (less the subscription), plus `strays` (the frames it
//! got that answer nothing it sent) and `cancelled` (the methods of the
//! calls a `$/cancelRequest` named), answers that server's calls (`client_add` `[a, b]`,
//! `client_fail`, the `client_note` notification), runs its checks, and
//! prints one line per check, `ok NAME` or `FAILED NAME: WHY`. It exits
//! with 0 only when every check passed. `--no-batch` leaves out the batch
//! checks, for servers that take no batches.
//!
//! `--dump FILE` appends every text message this side sends to `FILE`,
//! one JSON text a line, for the schema check.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_sink::Sink;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sockeye::{CloseCode, Message};
use sockeye_rpc::{Batch, CallError, Config, Cx, ErrorObject, Methods, Peer, Transport, spawn};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How long one check of `call` may take, and a call may wait for its
/// answer.
const CHECK_LIMIT: Duration = Duration::from_secs(10);

/// An open WebSocket that writes every text message it sends to a file,
/// one a line.
struct Dumped<T> {
    inner: T,
    file: Option<Arc<Mutex<File>>>,
}

impl<T: Transport> Stream for Dumped<T> {
    type Item = sockeye::Result<Message>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

impl<T: Transport> Sink<Message> for Dumped<T> {
    type Error = sockeye::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<sockeye::Result<()>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> sockeye::Result<()> {
        if let (Some(file), Message::Text(text)) = (&self.file, &message) {
            let mut line = String::with_capacity(text.len() + 1);
            line.push_str(text.as_str());
            line.push('\n');
            let mut file = file
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(error) = file.write_all(line.as_bytes()) {
                eprintln!("interop-peer: could not write the dump: {error}");
            }
        }
        Pin::new(&mut self.inner).start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<sockeye::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<sockeye::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<T: Transport> Transport for Dumped<T> {
    fn start_close(&mut self, code: CloseCode, reason: &str) {
        self.inner.start_close(code, reason);
    }

    fn close_frame(&self) -> Option<(CloseCode, String)> {
        self.inner.close_frame()
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let code = match Options::parse(&args) {
        Ok(options) => runtime.block_on(options.run()),
        Err(usage) => {
            eprintln!("interop-peer: {usage}");
            eprintln!(
                "usage: interop-peer serve ADDR [--dump FILE]\n       interop-peer call URL [--dump FILE] [--no-batch]"
            );
            2
        }
    };
    std::process::exit(code);
}

/// The command line.
struct Options {
    serve: bool,
    target: String,
    dump: Option<String>,
    batches: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let (mode, target) = match args {
            [mode, target, ..] => (mode.as_str(), target.clone()),
            _ => return Err("a mode and an address are needed".into()),
        };
        let serve = match mode {
            "serve" => true,
            "call" => false,
            other => return Err(format!("unknown mode {other:?}")),
        };
        let mut options = Options {
            serve,
            target,
            dump: None,
            batches: true,
        };
        let mut rest = args[2..].iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--dump" => {
                    options.dump = Some(rest.next().ok_or("--dump needs a file")?.clone());
                }
                "--no-batch" if !serve => options.batches = false,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(options)
    }

    async fn run(self) -> i32 {
        let file = match &self.dump {
            Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
                Ok(file) => Some(Arc::new(Mutex::new(file))),
                Err(error) => {
                    eprintln!("interop-peer: cannot open {path}: {error}");
                    return 2;
                }
            },
            None => None,
        };
        if self.serve {
            serve(&self.target, file).await
        } else {
            call(&self.target, file, self.batches).await
        }
    }
}

fn config() -> Config {
    let mut config = Config::default();
    config.call_timeout = Some(CHECK_LIMIT);
    config
}

// ---- serve

/// What one connection recorded: the params of its `note`s.
type Notes = Mutex<Vec<Value>>;

async fn serve(addr: &str, file: Option<Arc<Mutex<File>>>) -> i32 {
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!("interop-peer: cannot listen on {addr}: {error}");
            return 1;
        }
    };
    let local = listener.local_addr().expect("a bound address");
    println!("listening on ws://{local}/");
    let _ = std::io::stdout().flush();
    let methods = server_methods();
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (methods, file) = (methods.clone(), file.clone());
        tokio::spawn(async move {
            match sockeye::accept(tcp).await {
                Ok(ws) => {
                    let ws = Dumped { inner: ws, file };
                    spawn(ws, methods, Notes::default(), config());
                }
                Err(error) => eprintln!("interop-peer: a handshake failed: {error}"),
            }
        });
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Subtract {
    Positional(i64, i64),
    Named { minuend: i64, subtrahend: i64 },
}

/// The params of `ask_client` and `notify_client`.
#[derive(Deserialize)]
struct Ask {
    method: String,
    #[serde(default)]
    params: Option<Value>,
}

impl Ask {
    /// The method and params to send: `client_add` `[2, 3]` when none
    /// were given.
    fn resolve(ask: Option<Ask>) -> (String, Option<Value>) {
        match ask {
            Some(Ask { method, params }) => (method, params),
            None => ("client_add".into(), Some(json!([2, 3]))),
        }
    }
}

fn server_methods() -> Methods<Notes> {
    let mut methods = Methods::<Notes>::new();
    methods
        .sync_method("subtract", |_, params: Subtract| {
            Ok::<_, ErrorObject>(match params {
                Subtract::Positional(a, b) => a - b,
                Subtract::Named {
                    minuend,
                    subtrahend,
                } => minuend - subtrahend,
            })
        })
        .raw_method("echo", |_, params: Option<Box<RawValue>>| async move {
            Ok(params.unwrap_or_else(|| RawValue::from_string("null".into()).expect("null")))
        })
        .sync_method("sum", |_, numbers: Vec<serde_json::Number>| {
            Ok::<_, ErrorObject>(sum(&numbers))
        })
        .method("sleep", |_, (ms,): (u64,)| async move {
            tokio::time::sleep(Duration::from_millis(ms.min(5_000))).await;
            Ok::<_, ErrorObject>(ms)
        })
        .method("fail", |_, _: Option<Value>| async {
            Err::<(), _>(
                ErrorObject::new(42, "no luck")
                    .with_data(&json!({"why": "asked to"}))
                    .expect("JSON data"),
            )
        })
        .notification("note", |cx: Cx<Notes>, params: Value| async move {
            cx.context()
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(params);
        })
        .sync_method("notes", |cx: Cx<Notes>, _: Option<Value>| {
            Ok::<_, ErrorObject>(
                cx.context()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            )
        })
        .method("ask_client", |cx: Cx<Notes>, ask: Option<Ask>| async move {
            let (method, params) = Ask::resolve(ask);
            cx.peer()
                .call_raw(&method, &params)
                .await
                .map_err(|error| match error {
                    CallError::Error(object) => object,
                    other => ErrorObject::internal_error()
                        .with_data(&other.to_string())
                        .unwrap_or_else(|_| ErrorObject::internal_error()),
                })
        })
        .method(
            "notify_client",
            |cx: Cx<Notes>, ask: Option<Ask>| async move {
                let (method, params) = Ask::resolve(ask);
                cx.peer().notify(&method, &params).await.map_err(|error| {
                    ErrorObject::internal_error()
                        .with_data(&error.to_string())
                        .unwrap_or_else(|_| ErrorObject::internal_error())
                })?;
                Ok(true)
            },
        )
        .subscription(
            "subscribe_ticks",
            "tick",
            "unsubscribe_ticks",
            |_, (count,): (u64,), pending| async move {
                if count == 0 || count > 1_000 {
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
                // Held until the client unsubscribes or leaves.
                std::future::pending::<()>().await;
            },
        );
    methods
}

/// The sum of `numbers`: an integer when every one is and the sum fits,
/// else a float.
fn sum(numbers: &[serde_json::Number]) -> Value {
    let integers: Option<i64> = numbers
        .iter()
        .try_fold(0i64, |total, n| total.checked_add(n.as_i64()?));
    match integers {
        Some(total) => json!(total),
        None => json!(
            numbers
                .iter()
                .filter_map(serde_json::Number::as_f64)
                .sum::<f64>()
        ),
    }
}

// ---- call

/// What the client's `client_note` handler forwards to the checks.
type Inbox = mpsc::UnboundedSender<Value>;

fn client_methods() -> Methods<Inbox> {
    let mut methods = Methods::<Inbox>::new();
    methods
        .sync_method("client_add", |_, (a, b): (i64, i64)| {
            Ok::<_, ErrorObject>(a + b)
        })
        .method("client_fail", |_, _: Option<Value>| async {
            Err::<(), _>(
                ErrorObject::new(43, "the client says no")
                    .with_data(&json!(["client", 43]))
                    .expect("JSON data"),
            )
        })
        .notification("client_note", |cx: Cx<Inbox>, params: Value| async move {
            let _ = cx.context().send(params);
        });
    methods
}

/// The checks' tally.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, name: &str, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.passed += 1;
                println!("ok {name}");
            }
            Err(why) => {
                self.failed += 1;
                println!("FAILED {name}: {why}");
            }
        }
    }
}

/// Runs a check: its outcome within `CHECK_LIMIT`, recorded in the tally.
macro_rules! check {
    ($tally:expr, $name:expr, $body:expr) => {{
        let outcome = match tokio::time::timeout(CHECK_LIMIT, $body).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no outcome within {CHECK_LIMIT:?}")),
        };
        $tally.record($name, outcome);
    }};
}

async fn call(url: &str, file: Option<Arc<Mutex<File>>>, batches: bool) -> i32 {
    let (inbox, mut notes) = mpsc::unbounded_channel();
    let ws = match sockeye::ClientBuilder::new(url).connect().await {
        Ok((ws, _)) => ws,
        Err(error) => {
            println!("FAILED connect: {error}");
            return 1;
        }
    };
    let peer = spawn(
        Dumped { inner: ws, file },
        client_methods(),
        inbox,
        config(),
    );
    let mut tally = Tally::default();

    call_checks(&peer, &mut tally).await;
    callback_checks(&peer, &mut notes, &mut tally).await;
    if batches {
        batch_checks(&peer, &mut tally).await;
    }
    check!(tally, "a call given up is cancelled on the server", async {
        match peer
            .call_with_timeout::<Value, _>("sleep", &json!([600]), Some(Duration::from_millis(100)))
            .await
        {
            Err(CallError::Timeout(_)) => {}
            other => return Err(format!("{other:?} where a timeout was expected")),
        }
        expect_result(&peer, "cancelled", &(), &json!(["sleep"])).await?;
        // The late answer (or the peer's -32800) is dropped; calls go on.
        tokio::time::sleep(Duration::from_millis(700)).await;
        expect_result(&peer, "subtract", &json!([1, 1]), &json!(0)).await
    });
    check!(
        tally,
        "the server saw no stray frames (answers to notifications, unknown ids)",
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            expect_result(&peer, "strays", &(), &json!([])).await
        }
    );
    let _ = tokio::time::timeout(
        Duration::from_secs(2),
        peer.close(CloseCode::NORMAL, "done"),
    )
    .await;
    println!(
        "interop-peer call: {} passed, {} failed",
        tally.passed, tally.failed
    );
    i32::from(tally.failed > 0 || tally.passed == 0)
}

/// Calls by position and by name, errors, notifications, calls in flight.
async fn call_checks(peer: &Peer, tally: &mut Tally) {
    check!(
        tally,
        "subtract by position",
        expect_result(peer, "subtract", &json!([42, 23]), &json!(19))
    );
    check!(
        tally,
        "subtract by name",
        expect_result(
            peer,
            "subtract",
            &json!({"subtrahend": 23, "minuend": 42}),
            &json!(19)
        )
    );
    let nested = json!({"text": "héllo € 中文 𝄞", "list": [1, -2.5, true, null, {"deep": []}], "big": 9_007_199_254_740_991_i64});
    check!(
        tally,
        "echo of a nested value",
        expect_result(peer, "echo", &nested, &nested)
    );
    check!(
        tally,
        "application error with data",
        expect_error(
            peer,
            "fail",
            42,
            Some("no luck"),
            Some(&json!({"why": "asked to"}))
        )
    );
    check!(
        tally,
        "unknown method is -32601",
        expect_error(peer, "no_such_method", -32601, None, None)
    );
    check!(
        tally,
        "notifications handled in order, not answered",
        async {
            peer.notify("note", &json!(["first"]))
                .await
                .map_err(|e| e.to_string())?;
            peer.notify("note", &json!({"n": 2}))
                .await
                .map_err(|e| e.to_string())?;
            expect_result(peer, "notes", &(), &json!([["first"], {"n": 2}])).await
        }
    );
    check!(tally, "calls in flight at once, matched by id", async {
        let (slow_params, fast_params) = (json!([200]), json!([10, 3]));
        let slow = peer.call::<Value, _>("sleep", &slow_params);
        let fast = peer.call::<Value, _>("subtract", &fast_params);
        let (slow, fast) = tokio::join!(slow, fast);
        same(&slow.map_err(|e| e.to_string())?, &json!(200))?;
        same(&fast.map_err(|e| e.to_string())?, &json!(7))
    });
}

/// The server calling this side back, inside a call of its own.
async fn callback_checks(
    peer: &Peer,
    notes: &mut mpsc::UnboundedReceiver<Value>,
    tally: &mut Tally,
) {
    check!(
        tally,
        "server calls the client back",
        expect_result(
            peer,
            "ask_client",
            &json!({"method": "client_add", "params": [2, 3]}),
            &json!(5)
        )
    );
    check!(
        tally,
        "the client's error reaches the server",
        expect_error(
            peer,
            "ask_client",
            43,
            Some("the client says no"),
            Some(&json!(["client", 43]))
        )
    );
    check!(tally, "server notifies the client", async {
        expect_result(
            peer,
            "notify_client",
            &json!({"method": "client_note", "params": ["hi", 1]}),
            &json!(true),
        )
        .await?;
        match tokio::time::timeout(Duration::from_secs(5), notes.recv()).await {
            Ok(Some(params)) => same(&params, &json!(["hi", 1])),
            _ => Err("no client_note arrived".into()),
        }
    });
}

/// Batches: results matched by id, a notification in one, a call back inside one.
async fn batch_checks(peer: &Peer, tally: &mut Tally) {
    check!(
        tally,
        "batch: results matched by id, notification unanswered",
        async {
            let mut batch = Batch::new();
            batch
                .call("subtract", &json!([42, 23]))
                .map_err(|e| e.to_string())?
                .notify("note", &json!(["in a batch"]))
                .map_err(|e| e.to_string())?
                .call("echo", &json!({"a": [1, 2]}))
                .map_err(|e| e.to_string())?
                .call("no_such_method", &json!([]))
                .map_err(|e| e.to_string())?
                .call("subtract", &json!({"minuend": 1, "subtrahend": 2}))
                .map_err(|e| e.to_string())?;
            let results = peer.batch(batch).await.map_err(|e| e.to_string())?;
            if results.len() != 4 {
                return Err(format!("{} results for 4 calls", results.len()));
            }
            same(&raw_value(&results[0])?, &json!(19))?;
            same(&raw_value(&results[1])?, &json!({"a": [1, 2]}))?;
            match &results[2] {
                Err(CallError::Error(e)) if e.code == -32601 => {}
                other => return Err(format!("the unknown method in the batch gave {other:?}")),
            }
            same(&raw_value(&results[3])?, &json!(-1))?;
            expect_result(
                peer,
                "notes",
                &(),
                &json!([["first"], {"n": 2}, ["in a batch"]]),
            )
            .await
        }
    );
    check!(tally, "batch with a server-to-client call inside", async {
        let mut batch = Batch::new();
        batch
            .call(
                "ask_client",
                &json!({"method": "client_add", "params": [20, 22]}),
            )
            .map_err(|e| e.to_string())?
            .call("subtract", &json!([5, 8]))
            .map_err(|e| e.to_string())?;
        let results = peer.batch(batch).await.map_err(|e| e.to_string())?;
        if results.len() != 2 {
            return Err(format!("{} results for 2 calls", results.len()));
        }
        same(&raw_value(&results[0])?, &json!(42))?;
        same(&raw_value(&results[1])?, &json!(-3))
    });
    // json-rpc-2.0 answers a batch that gets one response with that response
    // alone, not in an array as the specification has it: matched by id all
    // the same.
    check!(tally, "batch of one call and a notification", async {
        let mut batch = Batch::new();
        batch
            .call("subtract", &json!([100, 1]))
            .map_err(|e| e.to_string())?
            .notify("note", &json!(["alone"]))
            .map_err(|e| e.to_string())?;
        let results = peer.batch(batch).await.map_err(|e| e.to_string())?;
        if results.len() != 1 {
            return Err(format!("{} results for 1 call", results.len()));
        }
        same(&raw_value(&results[0])?, &json!(99))
    });
}

/// Whether `got` equals `want`, as JSON values (so `19` and `19.0`
/// differ, as a strict peer would see them).
fn same(got: &Value, want: &Value) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("got {got}, want {want}"))
    }
}

fn raw_value(result: &Result<Box<RawValue>, CallError>) -> Result<Value, String> {
    match result {
        Ok(raw) => serde_json::from_str(raw.get()).map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    }
}

async fn expect_result<P: serde::Serialize + ?Sized>(
    peer: &Peer,
    method: &str,
    params: &P,
    want: &Value,
) -> Result<(), String> {
    let got: Value = peer.call(method, params).await.map_err(|e| e.to_string())?;
    same(&got, want)
}

async fn expect_error(
    peer: &Peer,
    method: &str,
    code: i64,
    message: Option<&str>,
    data: Option<&Value>,
) -> Result<(), String> {
    let params = match method {
        "ask_client" => json!({"method": "client_fail"}),
        _ => json!([]),
    };
    match peer.call::<Value, _>(method, &params).await {
        Ok(result) => Err(format!("a result ({result}) where an error was expected")),
        Err(CallError::Error(error)) => {
            if error.code != code {
                return Err(format!("code {}, want {code}", error.code));
            }
            if let Some(message) = message {
                if error.message != message {
                    return Err(format!("message {:?}, want {message:?}", error.message));
                }
            }
            if let Some(want) = data {
                let got: Option<Value> = error
                    .data
                    .as_ref()
                    .and_then(|raw| serde_json::from_str(raw.get()).ok());
                same(got.as_ref().unwrap_or(&Value::Null), want)?;
            }
            Ok(())
        }
        Err(other) => Err(other.to_string()),
    }
}
