//! The browser's `WebSocket` interface, for people who know it.
//!
//! [`WebSocket`] mirrors the browser interface as the WHATWG standard
//! defines it: a constructor that checks the URL and the subprotocols and
//! then connects in the background,
//! `ready_state()`, `buffered_amount()`, `protocol()`, `extensions()`,
//! `url()`, `binary_type`, `send()` and `close(code, reason)` with the
//! standard's validation, and the events `open`, `message`, `error` and
//! `close` in the standard's order, taken with [`WebSocket::next_event`]
//! (or as a [`Stream`]), or handed to callbacks by [`WebSocket::run`].
//!
//! ```
//! use futures_util::StreamExt;
//! use sockeye::web::{Event, MessageData, WebSocket};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let port = listener.local_addr()?.port();
//! # tokio::spawn(async move {
//! #     let (tcp, _) = listener.accept().await.unwrap();
//! #     let mut ws = sockeye::accept(tcp).await.unwrap();
//! #     while let Some(Ok(message)) = ws.next().await {
//! #         ws.send(message).await.unwrap();
//! #     }
//! # });
//! // An echo server listens on `port`. As in a browser, `http:` means `ws:`.
//! let ws = WebSocket::new(&format!("http://127.0.0.1:{port}/echo"), &[])?;
//! assert_eq!(ws.url(), format!("ws://127.0.0.1:{port}/echo"));
//!
//! while let Some(event) = ws.next_event().await {
//!     match event {
//!         Event::Open => ws.send("hello")?,
//!         Event::Message(message) => {
//!             assert_eq!(message.data, MessageData::Text("hello".into()));
//!             ws.close(Some(1000), Some("done"))?;
//!         }
//!         Event::Error => println!("the connection failed"),
//!         Event::Close(close) => {
//!             // The code and reason of the server's answering Close.
//!             assert!(close.was_clean);
//!             assert_eq!(close.code, 1000);
//!         }
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # How it maps onto Rust
//!
//! - **One background task per socket.** [`WebSocket::new`] spawns it on the
//!   current tokio runtime. It connects, then owns the connection: it writes
//!   what [`send`](WebSocket::send) queued, reads messages into the event
//!   queue, answers pings (the pings and pongs themselves are never shown,
//!   W-PP-01) and runs the closing handshake. The handle only talks to it
//!   through two queues, so every method of the handle takes `&self` and
//!   none blocks: share the handle with an [`Arc`] to send from other tasks.
//! - **Your event loop is the page's.** The standard changes `readyState`
//!   (and sets `protocol` and `extensions`) in the same queued task that
//!   fires the event. Here that happens when you take the event:
//!   `ready_state()` becomes [`Open`](ReadyState::Open) when
//!   [`next_event`](WebSocket::next_event) returns [`Event::Open`], and
//!   [`Closed`](ReadyState::Closed) when it returns [`Event::Error`] or
//!   [`Event::Close`]. So nothing races with your code (W-RS-02), a message
//!   still queued when you call `close()` is dropped rather than delivered
//!   (W-RS-01), and `ready_state()` is already `Closed` when you see the
//!   error event (W-EV-04). Keep taking events: a socket whose events are
//!   never taken stays `Connecting` in its handle.
//! - **Unbounded queues, as in a browser.** Sending never waits; what is
//!   queued and not yet written shows in
//!   [`buffered_amount`](WebSocket::buffered_amount), and
//!   [`wait_buffered_below`](WebSocket::wait_buffered_below) is the way to
//!   wait for it to drain. Received messages wait in the event queue until
//!   taken.
//! - **Failures look alike** (W-EV-07): any failure to connect (refused,
//!   DNS, a non-WebSocket server, a bad handshake, a certificate that
//!   cannot be verified) or a connection lost gives [`Event::Error`] and then a
//!   [`CloseEvent`] with code 1006. The detail stays available to Rust code
//!   through [`WebSocket::take_failure`], outside the mirror.
//! - **Dropping the handle** closes the socket in the background: a
//!   connection not yet open is abandoned; an open one sends what was
//!   queued, then a Close frame without a status code, as a browser does
//!   for a socket collected while open (W-GC-02), and its closing handshake
//!   runs to its end without you.
//!
//! # Deviations from the standard
//!
//! - There is no page, so no base URL: a relative URL is a
//!   [`DomError::InvalidUrl`] (W-CTOR-01), and no `Origin` header is sent
//!   unless configured with [`WebSocket::with_client`].
//! - `wss:` trusts the roots of the crate's TLS features (see
//!   [`tls`](crate::tls)), not a browser's store; more roots or a whole
//!   rustls configuration go through [`WebSocket::with_client`]. Built
//!   without the `tls` feature, a `wss:` socket fails as one that cannot
//!   connect: an error event, then a close event with code 1006.
//! - Non-ASCII host names get an approximation of IDNA (lower-cased, then
//!   Punycode); see the `url` parser's notes in the source.
//! - No port is blocked (the Fetch "bad port" list, W-CTOR-07).
//! - `bufferedAmount` goes down when the background task has written a
//!   message to the socket, at any time, not only between two tasks of an
//!   event loop (W-BA-04); see [`WebSocket::buffered_amount`].

mod driver;
mod queue;
mod url;

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use futures_core::Stream;
use sockeye_proto::{Message, Utf8Bytes};

use crate::client::ClientBuilder;
use driver::{Command, Item};
use queue::Queue;

/// The longest close reason, in UTF-8 bytes (W-CLOSE-02).
const MAX_REASON_BYTES: usize = 123;

/// What the standard throws as a `DOMException`, as one error enum.
///
/// Each variant names the exception it stands for; [`name`](Self::name)
/// gives that name. A method that returns one of these has done nothing
/// else (no state changed, nothing sent).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomError {
    /// `SyntaxError`: the URL cannot be parsed, or is relative
    /// (W-CTOR-01).
    #[error("invalid url: {0}")]
    InvalidUrl(&'static str),
    /// `SyntaxError`: the scheme is not `ws`, `wss`, `http` or `https`
    /// (W-CTOR-03).
    #[error("the url scheme {0:?} is not ws, wss, http or https")]
    UnsupportedScheme(String),
    /// `SyntaxError`: the URL has a fragment, even an empty one
    /// (W-CTOR-04).
    #[error("a websocket url may not have a fragment")]
    Fragment,
    /// `SyntaxError`: a subprotocol is not an HTTP token (W-CTOR-05).
    #[error("the subprotocol {0:?} is not a token")]
    InvalidProtocol(String),
    /// `SyntaxError`: a subprotocol is listed twice, compared without
    /// regard to ASCII case (W-CTOR-06).
    #[error("the subprotocol {0:?} is listed twice")]
    DuplicateProtocol(String),
    /// `SyntaxError`: the close reason is longer than 123 bytes of UTF-8
    /// (W-CLOSE-02); the length is given.
    #[error("the close reason is {0} bytes long, more than 123")]
    ReasonTooLong(usize),
    /// `InvalidAccessError`: the close code is neither 1000 nor in
    /// 3000–4999 (W-CLOSE-01).
    #[error("the close code {0} is neither 1000 nor in 3000-4999")]
    InvalidCloseCode(u16),
    /// `InvalidStateError`: [`send`](WebSocket::send) before the connection
    /// is open (W-SEND-01).
    #[error("the websocket is still connecting")]
    StillConnecting,
}

impl DomError {
    /// The name of the `DOMException` this stands for: `"SyntaxError"`,
    /// `"InvalidAccessError"` or `"InvalidStateError"`.
    pub fn name(&self) -> &'static str {
        match self {
            DomError::InvalidUrl(_)
            | DomError::UnsupportedScheme(_)
            | DomError::Fragment
            | DomError::InvalidProtocol(_)
            | DomError::DuplicateProtocol(_)
            | DomError::ReasonTooLong(_) => "SyntaxError",
            DomError::InvalidCloseCode(_) => "InvalidAccessError",
            DomError::StillConnecting => "InvalidStateError",
        }
    }
}

/// Where a [`WebSocket`] stands: the standard's `readyState`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum ReadyState {
    /// `CONNECTING` (0): the connection is not yet open.
    Connecting = 0,
    /// `OPEN` (1): the connection is open and messages can be sent.
    Open = 1,
    /// `CLOSING` (2): the closing handshake has started.
    Closing = 2,
    /// `CLOSED` (3): the connection is closed or could not be opened.
    Closed = 3,
}

impl ReadyState {
    /// The standard's number for this state, 0 to 3.
    pub const fn as_u16(self) -> u16 {
        self as u16
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => ReadyState::Connecting,
            1 => ReadyState::Open,
            2 => ReadyState::Closing,
            _ => ReadyState::Closed,
        }
    }
}

impl From<ReadyState> for u16 {
    fn from(state: ReadyState) -> u16 {
        state.as_u16()
    }
}

/// How binary messages are delivered: the standard's `binaryType`.
///
/// The standard's `Blob` is an immutable, cheaply shared chunk of bytes,
/// here [`Bytes`]; its `ArrayBuffer` is a buffer the receiver owns and may
/// change, here `Vec<u8>`. Either costs no copy when the message arrives
/// whole.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum BinaryType {
    /// `"blob"`, the default: [`MessageData::Blob`] with [`Bytes`].
    #[default]
    Blob,
    /// `"arraybuffer"`: [`MessageData::ArrayBuffer`] with a `Vec<u8>`.
    ArrayBuffer,
}

/// Something that happened to a [`WebSocket`], in the standard's order.
///
/// A socket gives [`Open`](Event::Open) at most once, then any number of
/// [`Message`](Event::Message)s, then, if it failed, one
/// [`Error`](Event::Error), and always exactly one [`Close`](Event::Close),
/// last (W-EV-04). A socket that never opened gives `Error` then `Close`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// `open`: the connection is open; `protocol()` and `extensions()` are
    /// set.
    Open,
    /// `message`: a message arrived.
    Message(MessageEvent),
    /// `error`: the connection failed or was lost. Carries no detail, as
    /// in the standard (W-EV-07); see [`WebSocket::take_failure`].
    Error,
    /// `close`: the connection is closed; always the last event.
    Close(CloseEvent),
}

/// The data of a `message` event (W-EV-05).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageEvent {
    /// The message.
    pub data: MessageData,
    /// The serialised origin of the socket's URL, such as
    /// `ws://example.com:8080` (default ports left out).
    pub origin: String,
    /// Always empty for WebSocket messages.
    pub last_event_id: String,
}

/// A received message, by type and, for binary ones, by
/// [`BinaryType`] at the time the event is taken (W-BT-01).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageData {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message with [`BinaryType::Blob`].
    Blob(Bytes),
    /// A binary message with [`BinaryType::ArrayBuffer`].
    ArrayBuffer(Vec<u8>),
}

impl MessageData {
    /// The text of a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            MessageData::Text(text) => Some(text.as_str()),
            MessageData::Blob(_) | MessageData::ArrayBuffer(_) => None,
        }
    }

    /// The bytes of the message, text or binary.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            MessageData::Text(text) => text.as_bytes(),
            MessageData::Blob(bytes) => bytes,
            MessageData::ArrayBuffer(bytes) => bytes,
        }
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        !matches!(self, MessageData::Text(_))
    }
}

/// The data of a `close` event (W-EV-06).
///
/// [`Default`] gives the standard's `CloseEvent` defaults: not clean, code
/// 0, empty reason.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CloseEvent {
    /// Whether the closing handshake completed: both Close frames were
    /// exchanged before the TCP connection closed.
    pub was_clean: bool,
    /// The code of the server's Close frame; 1005 if it had none; 1006 if
    /// no Close frame arrived (the connection failed or was lost).
    pub code: u16,
    /// The reason in the server's Close frame, or empty.
    pub reason: String,
}

/// Callbacks for [`WebSocket::run`], in the manner of `onopen`,
/// `onmessage`, `onerror` and `onclose`. Each is optional.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), sockeye::web::DomError> {
/// use sockeye::web::{Handlers, WebSocket};
///
/// let ws = WebSocket::new("ws://127.0.0.1:9001/", &["chat"])?;
/// ws.run(
///     Handlers::new()
///         .on_open(|ws| {
///             let _ = ws.send("hello");
///         })
///         .on_message(|_, message| println!("{:?}", message.data))
///         .on_close(|_, close| println!("closed with {}", close.code)),
/// )
/// .await;
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
#[expect(
    clippy::type_complexity,
    reason = "each is a plain boxed callback; aliases would only hide that"
)]
pub struct Handlers<'a> {
    open: Option<Box<dyn FnMut(&WebSocket) + Send + 'a>>,
    message: Option<Box<dyn FnMut(&WebSocket, MessageEvent) + Send + 'a>>,
    error: Option<Box<dyn FnMut(&WebSocket) + Send + 'a>>,
    close: Option<Box<dyn FnMut(&WebSocket, CloseEvent) + Send + 'a>>,
}

impl fmt::Debug for Handlers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handlers")
            .field("on_open", &self.open.is_some())
            .field("on_message", &self.message.is_some())
            .field("on_error", &self.error.is_some())
            .field("on_close", &self.close.is_some())
            .finish()
    }
}

impl<'a> Handlers<'a> {
    /// No callbacks.
    pub fn new() -> Self {
        Handlers::default()
    }

    /// Called with the `open` event.
    #[must_use]
    pub fn on_open(mut self, f: impl FnMut(&WebSocket) + Send + 'a) -> Self {
        self.open = Some(Box::new(f));
        self
    }

    /// Called with each `message` event.
    #[must_use]
    pub fn on_message(mut self, f: impl FnMut(&WebSocket, MessageEvent) + Send + 'a) -> Self {
        self.message = Some(Box::new(f));
        self
    }

    /// Called with the `error` event.
    #[must_use]
    pub fn on_error(mut self, f: impl FnMut(&WebSocket) + Send + 'a) -> Self {
        self.error = Some(Box::new(f));
        self
    }

    /// Called with the `close` event, the last one.
    #[must_use]
    pub fn on_close(mut self, f: impl FnMut(&WebSocket, CloseEvent) + Send + 'a) -> Self {
        self.close = Some(Box::new(f));
        self
    }
}

/// The state the handle and the background task share.
#[derive(Debug)]
struct Shared {
    /// The serialised URL (W-URL-01).
    url: String,
    /// The serialised origin of the URL, for message events.
    origin: String,
    /// A [`ReadyState`] as its number.
    ready_state: AtomicU8,
    /// 0: blob, 1: arraybuffer.
    binary_type: AtomicU8,
    /// Application bytes given to `send` and not yet written (W-BA-02).
    buffered: AtomicU64,
    /// `protocol` and `extensions`, set when the open event is taken.
    negotiated: Mutex<Negotiated>,
    /// `close()` was called while open, or every handle was dropped: the
    /// closing handshake is ours, and losing the connection during it is
    /// not reported as an error.
    close_started: AtomicBool,
    /// The background task has finished: nothing more will be written.
    driver_done: AtomicBool,
    /// From the handle to the task.
    commands: Queue<Command>,
    /// From the task to the handle.
    events: Queue<Item>,
    /// Where delivery of the events stands.
    delivery: Mutex<Delivery>,
    /// Tasks waiting in `wait_buffered_below`.
    drain_wakers: Mutex<Vec<Waker>>,
    /// Why the connection failed, for [`WebSocket::take_failure`].
    failure: Mutex<Option<crate::Error>>,
}

#[derive(Debug, Default)]
struct Negotiated {
    protocol: String,
    extensions: String,
}

#[derive(Debug, Default)]
struct Delivery {
    /// The close event that follows an error event just taken.
    pending_close: Option<CloseEvent>,
    /// The close event was taken: no more events.
    finished: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn state(&self) -> ReadyState {
        ReadyState::from_u8(self.ready_state.load(Ordering::Acquire))
    }

    fn set_state(&self, state: ReadyState) {
        self.ready_state.store(state as u8, Ordering::Release);
    }

    fn change_state(&self, from: ReadyState, to: ReadyState) -> bool {
        self.ready_state
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// `bytes` of application data were written to the socket.
    fn transmitted(&self, bytes: u64) {
        if bytes > 0 {
            self.buffered.fetch_sub(bytes, Ordering::AcqRel);
            self.wake_drain_waiters();
        }
    }

    fn wake_drain_waiters(&self) {
        let wakers = std::mem::take(&mut *lock(&self.drain_wakers));
        for waker in wakers {
            waker.wake();
        }
    }

    fn binary_type(&self) -> BinaryType {
        match self.binary_type.load(Ordering::Relaxed) {
            0 => BinaryType::Blob,
            _ => BinaryType::ArrayBuffer,
        }
    }

    /// Takes the next event: the queued task that changes the state and
    /// fires the event, run when the caller asks.
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        let mut delivery = lock(&self.delivery);
        if let Some(close) = delivery.pending_close.take() {
            delivery.finished = true;
            return Poll::Ready(Some(Event::Close(close)));
        }
        if delivery.finished {
            return Poll::Ready(None);
        }
        loop {
            let Some(item) = ready!(self.events.poll_pop(cx)) else {
                // The task ended without a word: only if it was torn down
                // with its runtime. The connection is lost all the same.
                self.set_state(ReadyState::Closed);
                delivery.finished = true;
                self.wake_drain_waiters();
                return Poll::Ready(Some(Event::Close(CloseEvent {
                    was_clean: false,
                    code: 1006,
                    reason: String::new(),
                })));
            };
            match item {
                Item::Open {
                    protocol,
                    extensions,
                } => {
                    // W-RS-02: the state, protocol and extensions change in
                    // the task that fires `open`. Skipped if `close()` came
                    // first: the connection is being failed.
                    let mut negotiated = lock(&self.negotiated);
                    if self.change_state(ReadyState::Connecting, ReadyState::Open) {
                        *negotiated = Negotiated {
                            protocol,
                            extensions,
                        };
                        return Poll::Ready(Some(Event::Open));
                    }
                }
                // No event: the state changes in order with the messages
                // that came before the server's Close frame.
                Item::Closing => {
                    self.change_state(ReadyState::Open, ReadyState::Closing);
                }
                Item::Message(message) => {
                    // W-RS-01: only while open; after `close()` messages
                    // are dropped.
                    if self.state() != ReadyState::Open {
                        continue;
                    }
                    let data = match message {
                        Message::Text(text) => MessageData::Text(text),
                        // W-BT-01: by the binary type at dispatch time.
                        Message::Binary(bytes) => match self.binary_type() {
                            BinaryType::Blob => MessageData::Blob(bytes),
                            BinaryType::ArrayBuffer => MessageData::ArrayBuffer(bytes.into()),
                        },
                    };
                    return Poll::Ready(Some(Event::Message(MessageEvent {
                        data,
                        origin: self.origin.clone(),
                        last_event_id: String::new(),
                    })));
                }
                Item::Closed { error, close } => {
                    // One task: CLOSED, then `error` if failed, then `close`
                    // (W-EV-04; events/015: CLOSED inside onerror).
                    self.set_state(ReadyState::Closed);
                    self.wake_drain_waiters();
                    if error {
                        delivery.pending_close = Some(close);
                        return Poll::Ready(Some(Event::Error));
                    }
                    delivery.finished = true;
                    return Poll::Ready(Some(Event::Close(close)));
                }
            }
        }
    }
}

/// A WebSocket client with the browser's interface; see the
/// [module docs](self).
///
/// All methods take `&self`; put the socket in an [`Arc`] to use it from
/// several tasks. Events are meant for one consumer.
pub struct WebSocket {
    shared: Arc<Shared>,
}

impl fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("url", &self.shared.url)
            .field("ready_state", &self.ready_state())
            .field("buffered_amount", &self.buffered_amount())
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// `CONNECTING`, as a number.
    pub const CONNECTING: u16 = 0;
    /// `OPEN`, as a number.
    pub const OPEN: u16 = 1;
    /// `CLOSING`, as a number.
    pub const CLOSING: u16 = 2;
    /// `CLOSED`, as a number.
    pub const CLOSED: u16 = 3;

    /// Checks `url` and `protocols`, then starts connecting in the
    /// background: `new WebSocket(url, protocols)`.
    ///
    /// The URL is parsed as the URL Standard says (with no base URL);
    /// `http:` becomes `ws:` and `https:` becomes `wss:`. Each subprotocol
    /// must be an HTTP token, and none may be listed twice (compared
    /// without regard to ASCII case, as the web platform tests expect).
    /// Nothing is sent or resolved before this returns; every network
    /// failure comes later as events (W-CTOR-07).
    ///
    /// The client offers permessage-deflate and sends no `Origin`; use
    /// [`with_client`](Self::with_client) to change such settings.
    ///
    /// # Errors
    ///
    /// A `SyntaxError` ([`DomError::InvalidUrl`],
    /// [`UnsupportedScheme`](DomError::UnsupportedScheme),
    /// [`Fragment`](DomError::Fragment),
    /// [`InvalidProtocol`](DomError::InvalidProtocol),
    /// [`DuplicateProtocol`](DomError::DuplicateProtocol)), and then no
    /// connection is attempted.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`tokio::spawn`] does.
    pub fn new(url: &str, protocols: &[&str]) -> Result<WebSocket, DomError> {
        Self::with_client(url, protocols, |client| client)
    }

    /// As [`new`](Self::new), with the client's settings adjusted by
    /// `configure` before it connects: an `Origin` header, timeouts, limits,
    /// no deflate offer.
    ///
    /// `configure` gets a [`ClientBuilder`] for the URL, with the
    /// credentials from the URL as basic authentication and the
    /// subprotocols already offered; offering more subprotocols there
    /// bypasses the constructor's checks.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as [`tokio::spawn`] does.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), sockeye::web::DomError> {
    /// use sockeye::web::WebSocket;
    ///
    /// let ws = WebSocket::with_client("ws://127.0.0.1:9001/", &[], |client| {
    ///     client.origin("https://example.com").deflate(None)
    /// })?;
    /// # drop(ws);
    /// # Ok(())
    /// # }
    /// ```
    pub fn with_client(
        url: &str,
        protocols: &[&str],
        configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<WebSocket, DomError> {
        let parsed = url::parse(url)?;
        if parsed.fragment {
            return Err(DomError::Fragment); // W-CTOR-04
        }
        check_protocols(protocols)?;

        let mut client =
            ClientBuilder::new(parsed.without_credentials()).protocols(protocols.iter().copied());
        if !parsed.username.is_empty() || !parsed.password.is_empty() {
            // W-CTOR-10: credentials in the URL are sent up front.
            client = client.basic_auth(
                &url::decode_component(&parsed.username),
                &url::decode_component(&parsed.password),
            );
        }
        let client = configure(client);

        let shared = Arc::new(Shared {
            url: parsed.serialize(),
            origin: parsed.origin(),
            ready_state: AtomicU8::new(0),
            binary_type: AtomicU8::new(0),
            buffered: AtomicU64::new(0),
            negotiated: Mutex::new(Negotiated::default()),
            close_started: AtomicBool::new(false),
            driver_done: AtomicBool::new(false),
            commands: Queue::new(),
            events: Queue::new(),
            delivery: Mutex::new(Delivery::default()),
            drain_wakers: Mutex::new(Vec::new()),
            failure: Mutex::new(None),
        });
        tokio::spawn(driver::run(
            Arc::clone(&shared),
            client,
            !protocols.is_empty(),
        ));
        Ok(WebSocket { shared })
    }

    /// The URL, serialised after parsing (W-URL-01): `http:` mapped to
    /// `ws:`, the host lower-cased, default ports left out, a `/` path at
    /// least, special characters percent-encoded.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// Where the connection stands (see the [module docs](self) for when
    /// it changes).
    pub fn ready_state(&self) -> ReadyState {
        self.shared.state()
    }

    /// The subprotocol the server chose; empty before the open event and
    /// when it chose none (W-PROT-01).
    pub fn protocol(&self) -> String {
        lock(&self.shared.negotiated).protocol.clone()
    }

    /// The server's `Sec-WebSocket-Extensions` as it sent it, such as
    /// `permessage-deflate`; empty before the open event and when none was
    /// agreed (W-EXT-01).
    pub fn extensions(&self) -> String {
        lock(&self.shared.negotiated).extensions.clone()
    }

    /// How binary messages are delivered. Default: [`BinaryType::Blob`].
    pub fn binary_type(&self) -> BinaryType {
        self.shared.binary_type()
    }

    /// Sets how binary messages are delivered, from the next event taken
    /// on, messages already received included (W-BT-01).
    pub fn set_binary_type(&self, binary_type: BinaryType) {
        let value = match binary_type {
            BinaryType::Blob => 0,
            BinaryType::ArrayBuffer => 1,
        };
        self.shared.binary_type.store(value, Ordering::Relaxed);
    }

    /// Application bytes queued by [`send`](Self::send) and not yet written
    /// to the socket: the standard's `bufferedAmount`.
    ///
    /// It counts the message payloads (text as UTF-8), not frame headers,
    /// compression or the kernel's buffers (W-BA-02). It grows at once in
    /// `send`, also once the socket is closing or closed, when the data is
    /// thrown away (W-SEND-03). It shrinks only when the background task
    /// has handed a message's last byte to the operating system, one
    /// message (or a batch written in one go) at a time, and never once
    /// the connection is closed: data that could not be sent stays counted.
    pub fn buffered_amount(&self) -> u64 {
        self.shared.buffered.load(Ordering::Acquire)
    }

    /// Waits until [`buffered_amount`](Self::buffered_amount) is below
    /// `limit`, or until the connection is over and it can no longer go
    /// down. An extension to the standard (W-BA-05), for sending a lot
    /// without queueing all of it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn wait_buffered_below(&self, limit: u64) {
        poll_fn(|cx| {
            let done = || {
                self.buffered_amount() < limit
                    || self.shared.driver_done.load(Ordering::Acquire)
                    || self.ready_state() == ReadyState::Closed
            };
            if done() {
                return Poll::Ready(());
            }
            lock(&self.shared.drain_wakers).push(cx.waker().clone());
            // Checked again: the task may have written in between.
            if done() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }

    /// Sends a text or binary message: `send(data)`.
    ///
    /// `data` is anything that makes a [`Message`]: a `String`, a
    /// `&'static str` or a [`Utf8Bytes`] for text (the standard's
    /// `USVString`), a `Vec<u8>` or [`Bytes`] for binary (its `Blob` and
    /// buffers; send a slice's bytes with `Bytes::copy_from_slice`).
    ///
    /// While open the message is queued for the background task, and
    /// [`buffered_amount`](Self::buffered_amount) grows by its length until
    /// it is written. Once closing or closed it grows all the same, but the
    /// message is thrown away, without an error (W-SEND-03).
    ///
    /// # Errors
    ///
    /// [`DomError::StillConnecting`] (`InvalidStateError`) before the open
    /// event (W-SEND-01).
    pub fn send(&self, data: impl Into<Message>) -> Result<(), DomError> {
        let message = data.into();
        if self.ready_state() == ReadyState::Connecting {
            return Err(DomError::StillConnecting);
        }
        let len = message.len() as u64;
        self.shared.buffered.fetch_add(len, Ordering::AcqRel);
        if self.ready_state() == ReadyState::Open {
            // Refused only once the task has ended: the data is lost, as
            // it would be on a connection that is gone.
            let _ = self.shared.commands.push(Command::Send(message, len));
        }
        Ok(())
    }

    /// Starts closing the connection: `close(code, reason)`.
    ///
    /// With no code and no reason, the Close frame has no body and the
    /// server's echo gives code 1005. A reason without a code uses 1000.
    /// While connecting, the connection is failed instead: an error event,
    /// then a close event with 1006 (W-CLOSE-04). When already closing or
    /// closed it does nothing (W-CLOSE-03). The state is
    /// [`Closing`](ReadyState::Closing) when this returns; the events come
    /// later (W-EV-01).
    ///
    /// # Errors
    ///
    /// Checked before anything else, and then nothing happens:
    /// [`DomError::InvalidCloseCode`] (`InvalidAccessError`) for a code
    /// other than 1000 or 3000–4999 (W-CLOSE-01);
    /// [`DomError::ReasonTooLong`] (`SyntaxError`) for a reason over 123
    /// bytes of UTF-8 (W-CLOSE-02).
    pub fn close(&self, code: Option<u16>, reason: Option<&str>) -> Result<(), DomError> {
        if let Some(code) = code
            && code != 1000
            && !(3000..=4999).contains(&code)
        {
            return Err(DomError::InvalidCloseCode(code));
        }
        let reason = reason.unwrap_or("");
        if reason.len() > MAX_REASON_BYTES {
            return Err(DomError::ReasonTooLong(reason.len()));
        }
        let shared = &self.shared;
        if shared.change_state(ReadyState::Connecting, ReadyState::Closing) {
            // W-CLOSE-04: fail the connection.
            let _ = shared.commands.push(Command::Fail);
        } else if shared.change_state(ReadyState::Open, ReadyState::Closing) {
            // A reason without a code closes with 1000 (checklist §6, 3).
            let code = code.or((!reason.is_empty()).then_some(1000));
            shared.close_started.store(true, Ordering::Release);
            let _ = shared.commands.push(Command::Close {
                code,
                reason: reason.to_owned(),
            });
        }
        Ok(())
    }

    /// The next event, or `None` after the close event.
    ///
    /// Taking an event runs the state change that goes with it (see the
    /// [module docs](self)).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an event is taken only when this returns it.
    pub async fn next_event(&self) -> Option<Event> {
        poll_fn(|cx| self.shared.poll_event(cx)).await
    }

    /// Takes events until the close event, handing each to its callback.
    ///
    /// The callbacks get the socket, so they can send or close (a `close`
    /// inside `on_close` does nothing, W-CLOSE-03).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in the sense of [`next_event`](Self::next_event): an
    /// event is lost only if its callback did not run.
    pub async fn run(&self, mut handlers: Handlers<'_>) {
        while let Some(event) = self.next_event().await {
            match event {
                Event::Open => {
                    if let Some(f) = &mut handlers.open {
                        f(self);
                    }
                }
                Event::Message(message) => {
                    if let Some(f) = &mut handlers.message {
                        f(self, message);
                    }
                }
                Event::Error => {
                    if let Some(f) = &mut handlers.error {
                        f(self);
                    }
                }
                Event::Close(close) => {
                    if let Some(f) = &mut handlers.close {
                        f(self, close);
                    }
                }
            }
        }
    }

    /// Why the connection failed, once, if it did: the detail the error
    /// event leaves out (W-EV-07), for logs and diagnostics. Not part of
    /// the browser's interface.
    pub fn take_failure(&self) -> Option<crate::Error> {
        lock(&self.shared.failure).take()
    }
}

impl Stream for WebSocket {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.shared.poll_event(cx)
    }
}

impl Drop for WebSocket {
    /// Lets the background task close the connection: a connection not yet
    /// open is abandoned, an open one is closed with a Close frame without
    /// a status code after what was queued (W-GC-01, W-GC-02).
    fn drop(&mut self) {
        self.shared.commands.close(false);
        self.shared.events.close(true);
    }
}

/// W-CTOR-05 and W-CTOR-06.
fn check_protocols(protocols: &[&str]) -> Result<(), DomError> {
    for (i, protocol) in protocols.iter().enumerate() {
        if protocol.is_empty() || !protocol.bytes().all(is_token_byte) {
            return Err(DomError::InvalidProtocol((*protocol).to_owned()));
        }
        // W-CTOR-06: WPT expects "echo" and "eCho" to clash.
        if protocols[..i]
            .iter()
            .any(|earlier| earlier.eq_ignore_ascii_case(protocol))
        {
            return Err(DomError::DuplicateProtocol((*protocol).to_owned()));
        }
    }
    Ok(())
}

/// An RFC 7230 `tchar`: visible ASCII except the separators.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn w_ctor_05_tokens() {
        assert!(check_protocols(&["echo", "chat.v2", "a-b_c~!#$%&'*+^`|"]).is_ok());
        for bad in [
            "",
            " ",
            "a b",
            "/echo",
            "foobar, foobar",
            "\u{0}",
            "\u{7f}",
            "é",
            "a\tb",
        ] {
            assert_eq!(
                check_protocols(&[bad]),
                Err(DomError::InvalidProtocol(bad.to_owned())),
                "{bad:?}"
            );
        }
        for c in (0u8..=0x1f).chain(0x7f..=0xff) {
            let bad = char::from(c).to_string();
            assert!(check_protocols(&[bad.as_str()]).is_err(), "{c:#x}");
        }
    }

    #[test]
    fn w_ctor_06_duplicates() {
        assert_eq!(
            check_protocols(&["echo", "echo"]),
            Err(DomError::DuplicateProtocol("echo".into()))
        );
        assert_eq!(
            check_protocols(&["echo", "chat", "eCho"]),
            Err(DomError::DuplicateProtocol("eCho".into()))
        );
    }

    #[test]
    fn dom_error_names() {
        assert_eq!(DomError::Fragment.name(), "SyntaxError");
        assert_eq!(DomError::InvalidCloseCode(1).name(), "InvalidAccessError");
        assert_eq!(DomError::StillConnecting.name(), "InvalidStateError");
    }

    #[test]
    fn public_types_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<WebSocket>();
        check::<Event>();
        check::<DomError>();
    }
}
