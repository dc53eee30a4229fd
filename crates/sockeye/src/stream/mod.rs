//! [`WebSocket`]: an open connection as a `Stream` of messages and a `Sink`,
//! driving the engine over a byte stream; [`split`](WebSocket::split) gives
//! its two halves, [`PreparedMessage`] a frame encoded once for many, and
//! [`Incoming`] messages with the peer's Pings and Pongs.

mod incoming;
mod prepared;
mod split;

use std::cell::RefCell;
use std::future::poll_fn;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use sockeye_proto::{CloseCode, CloseFrame, Connection, Event, Message, Role, State};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pub use self::incoming::Incoming;
use self::incoming::Yield;
pub use self::prepared::PreparedMessage;
pub use self::split::{WebSocketReader, WebSocketWriter};
use crate::config::WebSocketConfig;
use crate::error::{Error, Result, Timeout};

/// The size of each thread's shared read buffer.
const READ_BUFFER: usize = 64 << 10;

thread_local! {
    /// One read buffer per thread, shared by every connection polled on it.
    /// A read lands here and the engine copies what it has not consumed;
    /// between reads a connection holds no read buffer at all, so an idle
    /// one costs only its state (DESIGN: idle memory).
    static READ_SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_BUFFER].into_boxed_slice());
}

/// Reads once into this thread's buffer and hands what arrived to `take`;
/// `Ready(Ok(0))` at EOF.
fn poll_read_shared<S: AsyncRead + Unpin>(
    io: &mut S,
    cx: &mut Context<'_>,
    take: impl FnOnce(&[u8]),
) -> Poll<io::Result<usize>> {
    with_read_buffer(|buf| {
        let mut read = ReadBuf::new(buf);
        ready!(Pin::new(io).poll_read(cx, &mut read))?;
        take(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    })
}

/// Runs `read` with this thread's read buffer, or with a small one of its
/// own if the thread's is in use further up the stack (a transport that is
/// itself driven by a WebSocket).
fn with_read_buffer<T>(read: impl FnOnce(&mut [u8]) -> T) -> T {
    let mut read = Some(read);
    let shared = READ_SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => read.take().map(|read| read(&mut buf)),
        Err(_) => None,
    });
    match (shared, read) {
        (Some(result), _) => result,
        (None, Some(read)) => read(&mut [0; 8 << 10]),
        // `read` runs exactly once: if the shared buffer was used it was
        // taken, and only otherwise is it still here.
        (None, None) => unreachable!("the read ran on the shared buffer"),
    }
}
/// The fewest bytes a frame must still need for it to be read straight
/// into the engine's buffer instead of through the thread's.
const DIRECT_READ_MIN: usize = 64 << 10;

/// The most iovecs handed to one vectored write.
const MAX_IOVECS: usize = 64;

/// An open WebSocket connection over a byte stream `S`.
///
/// It is a [`Stream`] of [`Message`]s and a [`Sink`] of them, driving a
/// [`sockeye_proto::Connection`]:
///
/// - Pings are answered and a peer's Close is replied to for you, and after
///   the closing handshake the TCP connection is shut down as RFC 6455
///   §7.1.1 says (the server first; the client waits for it).
/// - A clean close ends the stream (`None`); [`close_frame`](Self::close_frame)
///   then tells the peer's code and reason. A stream that ends without a
///   closing handshake yields [`Error::AbnormalClosure`] once.
/// - A protocol violation by the peer yields [`Error::Protocol`] once, after
///   the Close frame with the right code has been sent and the transport
///   closed.
/// - Messages given to the sink with `feed` are queued and leave in one write
///   at the next flush; the stream also writes what is queued before it reads
///   again, so every reply that one read causes goes out in one syscall.
/// - [`split`](Self::split) gives a reader and a writer for two tasks.
/// - Dropped while open, it sends a Close 1001 (going away) if the
///   transport takes it at once; to wait for the peer's answer, call
///   [`close`](Self::close) first.
/// - Pongs and other replies leave with the next read or flush: a task that
///   works long on each message delays them, so keep reading promptly or
///   split the socket.
///
/// # Cancel safety
///
/// Polling the stream or the sink is cancel safe: dropping a `next()` or
/// `send()` future loses no message. A message accepted by `start_send`
/// (which `feed` and `send` call once the sink is ready) is queued and will
/// be written by a later flush even if that `send` future is dropped.
#[derive(Debug)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "independent facts about the transport, not a state machine"
)]
pub struct WebSocket<S> {
    io: S,
    conn: Connection,
    /// From [`WebSocketConfig`]; the engine keeps the rest.
    settings: Arc<WebSocketConfig>,
    /// What few connections need, or only near their end: on the heap, so
    /// that idle connections stay small.
    cold: Option<Box<ColdState>>,
    /// The peer's stream ended.
    read_closed: bool,
    /// We shut down our writing side.
    write_closed: bool,
    /// The stream yielded its last item.
    ended: bool,
    /// Bytes arrived since the keepalive timer was last set.
    heard: bool,
    /// A message was sent or received since the idle timer last went off.
    active: bool,
    /// What `timer` is counting down.
    countdown: Countdown,
    /// The time limit that ended the connection, if one did.
    timed_out: Option<Timeout>,
    /// The connection's one timer: keepalive while open, then the closing
    /// handshake's deadline. On the heap: the runtime's timer entry is
    /// large, and connections without keepalive never make one before
    /// closing.
    timer: Option<Pin<Box<Sleep>>>,
    /// What dropping does; a function pointer so that `Drop` can use the
    /// stream's I/O traits, which the struct itself does not require.
    on_drop: fn(&mut WebSocket<S>),
}

/// What the one timer of a [`WebSocket`] (`timer`) is counting down:
/// keepalive while open, then the closing handshake's deadline. The idle
/// timeout has a timer of its own, in [`ColdState`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Countdown {
    /// Nothing yet.
    Off,
    /// An interval of keepalive: a Ping goes out if nothing arrives in it.
    KeepaliveInterval,
    /// A keepalive Ping went out: the peer has until the keepalive timeout
    /// to show any sign of life.
    PongDue,
    /// The closing handshake's deadline.
    CloseDeadline,
}

/// The parts of a [`WebSocket`] that most connections never use, or use
/// only while closing: boxed behind one pointer, made on first use, so
/// that an idle connection does not carry them.
#[derive(Debug, Default)]
struct ColdState {
    protocol: Option<Box<str>>,
    /// The violation that failed the connection, reported once the close
    /// frame went out.
    failure: Option<sockeye_proto::Error>,
    /// Set once split: writes wake both halves' tasks.
    write_wakers: Option<Arc<WriteWakers>>,
    /// With an idle timeout: goes off every quarter of it.
    idle_timer: Option<Pin<Box<Sleep>>>,
    /// Quarters of the idle timeout in a row without a message.
    quiet_quarters: u8,
    /// The payload of the last Ping sent by [`WebSocket::ping`], and when,
    /// until its Pong comes back.
    ping: Option<(Bytes, Instant)>,
    /// The time the last such Ping took to come back as a Pong.
    round_trip: Option<Duration>,
}

/// The tasks of a split reader and its writers, all woken when the
/// transport becomes writable. Any half may write (the reader writes pongs
/// and close replies), but a transport keeps one write waker, so each write
/// registers this set instead of its own task alone. The set holds each
/// task that polled since the last wake-up once.
#[derive(Debug, Default)]
pub(crate) struct WriteWakers {
    tasks: Mutex<Vec<Waker>>,
}

impl WriteWakers {
    pub(crate) fn register(&self, waker: &Waker) {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !tasks.iter().any(|w| w.will_wake(waker)) {
            tasks.push(waker.clone());
        }
    }
}

impl Wake for WriteWakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let tasks = std::mem::take(
            &mut *self
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for waker in tasks {
            waker.wake();
        }
    }
}

impl<S> WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps a stream on which the opening handshake already completed.
    ///
    /// Use this after an HTTP upgrade done elsewhere (hyper, axum). `role`
    /// says whether this end is the client (it masks its frames) or the
    /// server. Bytes read past the handshake go in `leftover`.
    pub fn from_raw(io: S, role: Role, config: WebSocketConfig, leftover: BytesMut) -> Self {
        Self::from_parts(io, role, crate::config::split(config), leftover)
    }

    /// As [`from_raw`](Self::from_raw), with settings that may be shared
    /// among connections: the engine's, and the rest.
    pub(crate) fn from_parts(
        io: S,
        role: Role,
        (proto, settings): (Arc<sockeye_proto::Config>, Arc<WebSocketConfig>),
        leftover: BytesMut,
    ) -> Self {
        let mut conn = Connection::new(role, proto);
        if !leftover.is_empty() {
            conn.receive_buf(leftover);
        }
        WebSocket {
            io,
            conn,
            settings,
            cold: None,
            read_closed: false,
            write_closed: false,
            ended: false,
            heard: false,
            active: false,
            countdown: Countdown::Off,
            timed_out: None,
            timer: None,
            on_drop: Self::close_on_drop,
        }
    }

    /// Takes the connection apart for a driver of its own (the
    /// [`reactor`](crate::reactor)): the transport, the engine with what
    /// it has buffered and queued, and the subprotocol. Timers stop and
    /// nothing is sent.
    #[cfg_attr(not(unix), expect(dead_code, reason = "the reactor is Unix only"))]
    pub(crate) fn into_engine(self) -> (S, Connection, Option<Box<str>>) {
        let mut this = std::mem::ManuallyDrop::new(self);
        let protocol = this.cold.as_mut().and_then(|cold| cold.protocol.take());
        // SAFETY: `this` is never dropped (ManuallyDrop) and not used after
        // this block. `io` and `conn` are moved out by reading each once;
        // every other field that owns memory (`settings`, `cold`, `timer`)
        // is dropped in place once; the rest are plain values. So nothing
        // is dropped twice, used after a move, or leaked.
        unsafe {
            let io = std::ptr::read(&raw const this.io);
            let conn = std::ptr::read(&raw const this.conn);
            std::ptr::drop_in_place(&raw mut this.settings);
            std::ptr::drop_in_place(&raw mut this.cold);
            std::ptr::drop_in_place(&raw mut this.timer);
            (io, conn, protocol)
        }
    }

    /// Records the subprotocol agreed in the opening handshake, if any.
    pub(crate) fn with_protocol(mut self, protocol: Option<String>) -> Self {
        if let Some(protocol) = protocol {
            self.cold().protocol = Some(protocol.into_boxed_str());
        }
        self
    }

    /// The cold state, made on first use.
    fn cold(&mut self) -> &mut ColdState {
        self.cold.get_or_insert_default()
    }

    fn failed(&self) -> bool {
        self.cold
            .as_ref()
            .is_some_and(|cold| cold.failure.is_some())
    }

    /// Turns on permessage-deflate with parameters agreed in a handshake
    /// done elsewhere (see [`from_raw`](Self::from_raw)).
    #[must_use]
    pub fn with_deflate(mut self, agreed: Option<sockeye_proto::PerMessageDeflate>) -> Self {
        if let Some(agreed) = agreed {
            self.conn.set_deflate(agreed);
        }
        self
    }

    /// The permessage-deflate parameters in force, if negotiated.
    pub fn deflate(&self) -> Option<&sockeye_proto::PerMessageDeflate> {
        self.conn.deflate()
    }

    /// The subprotocol agreed in the opening handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.cold.as_ref()?.protocol.as_deref()
    }

    /// Whether this end is the client or the server.
    pub fn role(&self) -> Role {
        self.conn.role()
    }

    /// Where the closing handshake stands.
    pub fn state(&self) -> State {
        self.conn.state()
    }

    /// The peer's Close frame, once received: its code (1005 if it had none)
    /// and reason.
    pub fn close_frame(&self) -> Option<&CloseFrame> {
        self.conn.close_received()
    }

    /// Bytes queued and not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.conn.output_len()
    }

    /// Bytes read from the transport and not yet returned as messages
    /// (whole frames waiting, and the start of one still arriving).
    ///
    /// Reading ([`next`](futures_util::StreamExt::next)) writes everything
    /// queued before it reads the transport again; a caller that waits
    /// between messages for someone else can skip its own flush while this
    /// is non-zero and still send the replies to one read in one write.
    pub fn buffered_input(&self) -> usize {
        self.conn.buffered_input()
    }

    /// The underlying byte stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The underlying byte stream, mutably. Writing to it directly corrupts
    /// the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// Queues a Ping; it leaves at the next flush or read.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] above 125 bytes, [`Error::Closed`] once closing.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<()> {
        let payload = payload.into();
        self.conn.send_ping(payload.clone())?;
        self.cold().ping = Some((payload, Instant::now()));
        Ok(())
    }

    /// How long the last Ping sent with [`ping`](Self::ping) took to come
    /// back as a Pong with its payload: the connection's latency, measured
    /// from when the Ping was queued to when its Pong was read. `None`
    /// until one has come back. Keepalive Pings are not timed.
    pub fn round_trip_time(&self) -> Option<Duration> {
        self.cold.as_ref().and_then(|cold| cold.round_trip)
    }

    /// Sends a message and flushes it.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once closing, [`Error::Io`] if writing fails.
    ///
    /// The message is queued at the first poll, even past
    /// [`write_buffer_size`](WebSocketConfig::write_buffer_size); the future
    /// then waits until everything queued is written. So one sender can have
    /// at most one message beyond the limit.
    ///
    /// # Cancel safety
    ///
    /// Once this future has been polled the message is queued: dropping it
    /// does not unqueue the message, which a later flush writes.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        self.start_send_inner(message.into())?;
        poll_fn(|cx| self.poll_flush_inner(cx)).await
    }

    /// Sends a message and flushes it, never compressed even with
    /// permessage-deflate in force: for payloads that mix secrets with data
    /// an attacker controls (RFC 7692 §8).
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send): once polled, the message is queued.
    pub async fn send_uncompressed(&mut self, message: impl Into<Message>) -> Result<()> {
        self.start_send_uncompressed(message.into())?;
        poll_fn(|cx| self.poll_flush_inner(cx)).await
    }

    pub(crate) fn start_send_uncompressed(&mut self, message: Message) -> Result<()> {
        self.active = true;
        Ok(self.conn.send_uncompressed(message)?)
    }

    /// Queues a message encoded once for many connections (a broadcast); it
    /// leaves with the next flush or read. Only a server can send one: the
    /// frame is unmasked.
    ///
    /// The same bytes are queued by reference on every connection, so a
    /// large message is neither encoded nor copied per receiver. Prepared
    /// messages are never compressed.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once closing; [`Error::Usage`] on a client.
    pub fn feed_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        if self.conn.role() == Role::Client {
            return Err(Error::Usage(
                sockeye_proto::UsageError::PreparedFrameFromClient,
            ));
        }
        self.active = true;
        Ok(self.conn.send_raw(message.frame.clone())?)
    }

    /// Queues a text message given in parts, as `start_send` queues the
    /// parts joined; it leaves with the next flush or read. For a protocol
    /// that prefixes every message (a type digit, a channel): a short
    /// message is copied part by part into the write buffer, with no joined
    /// copy made first. As with `start_send`, call `poll_ready` first.
    ///
    /// # Errors
    ///
    /// As `start_send`: the connection is closing or closed.
    pub fn feed_text_parts(&mut self, parts: &[&str]) -> Result<()> {
        self.active = true;
        Ok(self.conn.send_text_parts(parts)?)
    }

    /// Receives the next message; `None` once the connection closed cleanly.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped, no message is lost.
    pub async fn recv(&mut self) -> Option<Result<Message>> {
        poll_fn(|cx| self.poll_next_inner(cx)).await
    }

    /// Receives the next message, Ping or Pong; `None` once the connection
    /// closed cleanly. For callers that want to see control frames: they
    /// are still answered and timed for you (see [`Incoming`]), and the
    /// [`Stream`] of messages skips them.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Self::recv).
    pub async fn recv_incoming(&mut self) -> Option<Result<Incoming>> {
        poll_fn(|cx| self.poll_next_incoming(cx)).await
    }

    /// Polls for the next message, Ping or Pong: the poll form of
    /// [`recv_incoming`](Self::recv_incoming), for hand-written futures
    /// and streams.
    pub fn poll_next_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Incoming>>> {
        self.poll_yield(cx)
    }

    /// Starts the closing handshake with `code` and `reason`, then waits for
    /// it to finish: messages that still arrive are dropped, the transport
    /// is closed, and at most [`close_timeout`](WebSocketConfig::close_timeout)
    /// passes.
    ///
    /// Use [`CloseCode::NORMAL`] when done. If the peer closed first, this
    /// only finishes the shutdown. To keep reading until the peer's Close,
    /// call [`start_close`](Self::start_close) and read the stream instead.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for a code that may not be sent or a reason over
    /// 123 bytes; [`Error::Timeout`] when the peer did not answer in time;
    /// [`Error::AbnormalClosure`] when it left without answering.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in the sense that the Close frame stays queued: a
    /// dropped `close` future leaves the connection closing.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.start_close(code, reason)?;
        loop {
            match poll_fn(|cx| self.poll_next_inner(cx)).await {
                Some(Ok(_)) => {}
                None => return Ok(()),
                Some(Err(e)) => return Err(e),
            }
        }
    }

    /// Queues a Close frame without waiting: the closing handshake goes on
    /// as the stream is read (it ends once the peer's Close arrives) or the
    /// sink flushed. Does nothing if a Close was already sent or received.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for a code that may not be sent or a reason over 123 bytes.
    pub fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        match self.conn.close(code, reason) {
            Ok(()) | Err(sockeye_proto::UsageError::Closed) => Ok(()),
            Err(e) => Err(Error::Usage(e)),
        }
    }

    /// Dropped while open: queue a Close 1001 (going away), or 1011
    /// (internal error) when dropped by a panic unwinding the task that
    /// held it, and write what is queued if the transport takes it at once.
    /// Nothing waits, so the peer's reply is not read: dropping the handle
    /// closes, as the type's documentation promises.
    fn close_on_drop(&mut self) {
        if self.ended || self.write_closed {
            return;
        }
        if self.conn.state() == State::Open {
            let code = if std::thread::panicking() {
                CloseCode::INTERNAL_ERROR
            } else {
                CloseCode::GOING_AWAY
            };
            let _ = self.conn.close(code, "");
        }
        let _ = self.poll_write_out_with(&mut Context::from_waker(Waker::noop()));
    }

    /// Splits into a reader and a writer that can live on different tasks.
    ///
    /// Both share this connection behind a lock held only while polling.
    /// The reader answers pings and closes by itself; the writer sends.
    pub fn split(self) -> (WebSocketReader<S>, WebSocketWriter<S>) {
        split::split(self)
    }

    // ---- the driving logic ----

    /// Writes what is queued. `Ready(Ok)` once all of it is written and flushed.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_write_context(cx, Self::poll_write_out_with)
    }

    /// Runs a write-side poll with the waker writes must register: once
    /// split, the one that wakes both halves' tasks.
    fn with_write_context<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: impl FnOnce(&mut Self, &mut Context<'_>) -> T,
    ) -> T {
        match self
            .cold
            .as_ref()
            .and_then(|cold| cold.write_wakers.clone())
        {
            Some(wakers) => {
                let shared = Waker::from(wakers);
                poll(self, &mut Context::from_waker(&shared))
            }
            None => poll(self, cx),
        }
    }

    fn poll_write_out_with(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            if self.write_closed {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            }
            let out = self.conn.output();
            // One contiguous chunk (small frames coalesce into one) goes
            // with a plain write, which costs the kernel less than a
            // vectored one.
            let n = if self.io.is_write_vectored() && out.chunk().len() < out.remaining() {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let count = out.chunks_vectored(&mut slices);
                ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]))?
            } else {
                ready!(Pin::new(&mut self.io).poll_write(cx, out.chunk()))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.output().advance(n);
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Reads once into the engine. `Ready(Ok)` after some bytes or EOF.
    fn poll_read_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let conn = &mut self.conn;
        let n = if conn.read_hint() >= DIRECT_READ_MIN
            && let Some(buf) = conn.read_buffer()
        {
            // The rest of a large frame goes straight into the engine's
            // buffer: no copy.
            ready!(tokio_util::io::poll_read_buf(
                Pin::new(&mut self.io),
                cx,
                buf
            ))?
        } else {
            ready!(poll_read_shared(&mut self.io, cx, |bytes| conn.receive(bytes)))?
        };
        self.heard = true;
        if n == 0 {
            self.read_closed = true;
            self.conn.receive_eof();
        }
        Poll::Ready(Ok(()))
    }

    /// Sets the timer to go off `after` from now, counting down `countdown`.
    fn set_timer(&mut self, countdown: Countdown, after: Duration) {
        let deadline = Instant::now() + after;
        match &mut self.timer {
            Some(timer) => timer.as_mut().reset(deadline),
            None => self.timer = Some(Box::pin(tokio::time::sleep_until(deadline))),
        }
        self.countdown = countdown;
    }

    /// Whether the timer went off; registers the task to hear when it does.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> bool {
        self.timer
            .as_mut()
            .is_some_and(|timer| timer.as_mut().poll(cx).is_ready())
    }

    /// Whether the closing-handshake deadline has passed; starts it if needed.
    fn poll_close_deadline(&mut self, cx: &mut Context<'_>) -> bool {
        if self.countdown != Countdown::CloseDeadline {
            self.set_timer(Countdown::CloseDeadline, self.settings.close_timeout);
        }
        if self.poll_timer(cx) {
            self.timed_out.get_or_insert(Timeout::Close);
            true
        } else {
            false
        }
    }

    /// The idle timeout while open: `true` once four quarters of it in a
    /// row passed without a message sent or received (so the connection
    /// closes between one and one and a quarter timeouts after the last).
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(limit) = self.settings.idle_timeout else {
            return false;
        };
        let quarter = limit / 4;
        let active = std::mem::take(&mut self.active);
        let cold = self.cold.get_or_insert_default();
        if active {
            cold.quiet_quarters = 0;
        }
        let timer = cold
            .idle_timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(quarter)));
        while timer.as_mut().poll(cx).is_ready() {
            cold.quiet_quarters = cold.quiet_quarters.saturating_add(1);
            if cold.quiet_quarters >= 4 {
                return true;
            }
            timer.as_mut().reset(Instant::now() + quarter);
        }
        false
    }

    /// Keepalive while open: after an interval in which nothing arrived, a
    /// Ping; if nothing arrives within the timeout after it, `true`: the
    /// peer is gone. Any byte counts as a sign of life, not only the Pong.
    fn poll_keepalive(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(interval) = self.settings.keepalive_interval else {
            return false;
        };
        loop {
            match self.countdown {
                Countdown::Off => {
                    self.heard = false;
                    self.set_timer(Countdown::KeepaliveInterval, interval);
                }
                Countdown::KeepaliveInterval | Countdown::PongDue => {
                    if !self.poll_timer(cx) {
                        return false;
                    }
                    if std::mem::take(&mut self.heard) {
                        self.set_timer(Countdown::KeepaliveInterval, interval);
                    } else if self.countdown == Countdown::KeepaliveInterval {
                        // Written with whatever else is queued, before the
                        // next read.
                        if self.conn.send_ping(Bytes::new()).is_err() {
                            return false;
                        }
                        self.set_timer(Countdown::PongDue, self.settings.keepalive_timeout);
                    } else {
                        return true;
                    }
                }
                Countdown::CloseDeadline => return false,
            }
        }
    }

    /// Finishes the transport once the engine is closed or failed: write
    /// what is queued, then the server (or a failing end) shuts down its
    /// side first and waits for the peer's EOF, while a client in a clean
    /// close waits for the server's EOF first (§7.1.1, R-CL-05, R-CL-06).
    /// Errors here change nothing: the connection is over either way.
    fn poll_close_transport(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let shut_first = self.conn.role() == Role::Server || self.conn.state() == State::Failed;
        loop {
            if self.poll_close_deadline(cx) {
                // Out of time: close our side without waiting any more
                // (R-CL-06 lets a client close TCP after a timeout).
                if !self.write_closed {
                    let _ = self.poll_shutdown_io(cx);
                    self.write_closed = true;
                }
                return Poll::Ready(());
            }
            if !self.write_closed {
                match self.poll_write_out(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => self.write_closed = true,
                    Poll::Pending => return Poll::Pending,
                }
            }
            if !self.write_closed && (shut_first || self.read_closed) {
                // Errors mean the peer is gone already.
                let _ = ready!(self.poll_shutdown_io(cx));
                self.write_closed = true;
            }
            if self.read_closed {
                if self.write_closed {
                    return Poll::Ready(());
                }
                continue;
            }
            // Discard what still arrives until the peer's EOF.
            match ready!(poll_read_shared(&mut self.io, cx, |_| {})) {
                Ok(0) | Err(_) => self.read_closed = true,
                Ok(_) => {}
            }
        }
    }

    fn poll_shutdown_io(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.with_write_context(cx, |this, cx| Pin::new(&mut this.io).poll_shutdown(cx))
    }

    pub(crate) fn set_write_wakers(&mut self, wakers: Arc<WriteWakers>) {
        self.cold().write_wakers = Some(wakers);
    }

    pub(crate) fn clear_write_wakers(&mut self) {
        if let Some(cold) = &mut self.cold {
            cold.write_wakers = None;
        }
    }

    /// The stream's logic: take the engine's next event; with none left,
    /// run the timers, write what is queued and read (while open), or
    /// finish the transport and give the last item (once closed). Each
    /// step says whether to go round again or what to yield.
    pub(crate) fn poll_next_inner(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message>>> {
        self.poll_yield(cx)
    }

    /// The stream's loop, yielding messages alone or control frames too
    /// (see [`Yield`]).
    #[inline]
    fn poll_yield<T: Yield>(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        loop {
            if self.ended {
                return Poll::Ready(None);
            }
            let step = match self.take_event() {
                Step::Next => match self.conn.state() {
                    State::Open | State::CloseSent => ready!(self.poll_open(cx)),
                    State::Closed | State::Failed => Step::Yield(ready!(self.poll_finish(cx))),
                },
                step => step,
            };
            if let Step::Yield(item) = step {
                return Poll::Ready(item);
            }
        }
    }

    /// The engine's next event: a message is yielded, a Pong times the
    /// last [`ping`](Self::ping), Pings and Pongs are yielded if `T` takes
    /// them, a violation is kept for the end.
    #[inline]
    fn take_event<T: Yield>(&mut self) -> Step<T> {
        match self.conn.next_event() {
            Ok(Some(Event::Message(message))) => {
                self.active = true;
                Step::Yield(Some(Ok(T::message(message))))
            }
            Ok(Some(Event::Pong(payload))) => {
                self.time_pong(&payload);
                T::pong(payload).map_or(Step::Again, |pong| Step::Yield(Some(Ok(pong))))
            }
            Ok(Some(Event::Ping(payload))) => {
                T::ping(payload).map_or(Step::Again, |ping| Step::Yield(Some(Ok(ping))))
            }
            Ok(Some(Event::Close(_))) => Step::Again,
            Ok(None) => Step::Next,
            Err(e) => {
                tracing::debug!(error = %e, code = %e.close_code(), "failing the connection");
                self.cold().failure = Some(e);
                Step::Again
            }
        }
    }

    /// Ends the round trip of the last [`ping`](Self::ping) if `payload`
    /// is its Pong.
    #[inline]
    fn time_pong(&mut self, payload: &Bytes) {
        if let Some(cold) = &mut self.cold
            && cold.ping.as_ref().is_some_and(|(sent, _)| sent == payload)
            && let Some((_, at)) = cold.ping.take()
        {
            cold.round_trip = Some(at.elapsed());
        }
    }

    /// While open or closing: the timers, then writing, then reading.
    #[inline]
    fn poll_open<T>(&mut self, cx: &mut Context<'_>) -> Poll<Step<T>> {
        if self.poll_deadlines(cx) {
            return Poll::Ready(Step::Again);
        }
        match self.write_before_read(cx) {
            Step::Next => self.poll_read_step(cx),
            step => Poll::Ready(step),
        }
    }

    /// The closing handshake's deadline once our Close is sent; the idle
    /// timeout and keepalive while open. `true` when one ran out and
    /// changed the connection's state.
    #[inline]
    fn poll_deadlines(&mut self, cx: &mut Context<'_>) -> bool {
        match self.conn.state() {
            State::CloseSent => self.close_deadline_passed(cx),
            State::Open => self.idle_timed_out(cx) || self.keepalive_timed_out(cx),
            State::Closed | State::Failed => false,
        }
    }

    /// The peer never answered our Close: the connection ends.
    #[inline]
    fn close_deadline_passed(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.poll_close_deadline(cx) {
            return false;
        }
        self.conn.receive_eof();
        true
    }

    /// No message either way for the idle timeout: Close 1001.
    #[inline]
    fn idle_timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.poll_idle(cx) {
            return false;
        }
        self.close_for(Timeout::Idle, CloseCode::GOING_AWAY, "idle timeout");
        true
    }

    /// Nothing from the peer after a keepalive Ping: Close 1011, and no
    /// waiting for an answer from a peer that gave none (the Close goes
    /// out, then TCP is shut).
    #[inline]
    fn keepalive_timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.poll_keepalive(cx) {
            return false;
        }
        self.close_for(
            Timeout::Keepalive,
            CloseCode::INTERNAL_ERROR,
            "keepalive timeout",
        );
        self.read_closed = true;
        self.conn.receive_eof();
        true
    }

    /// Starts the closing handshake with `code` and `reason` because
    /// `limit` ran out, which the stream's last item then reports.
    fn close_for(&mut self, limit: Timeout, code: CloseCode, reason: &str) {
        tracing::debug!(%limit, "a time limit ran out: closing");
        let _ = self.conn.close(code, reason);
        self.timed_out = Some(limit);
    }

    /// Writes what is queued before reading again, so the replies to one
    /// read leave together. A write error ends the connection; it is the
    /// stream's error unless the peer is gone or the connection was ending
    /// anyway.
    #[inline]
    fn write_before_read<T>(&mut self, cx: &mut Context<'_>) -> Step<T> {
        let Poll::Ready(Err(e)) = self.poll_write_out(cx) else {
            return Step::Next;
        };
        self.write_closed = true;
        self.conn.receive_eof();
        if !is_peer_gone(&e) && self.conn.close_received().is_none() && !self.failed() {
            self.ended = true;
            return Step::Yield(Some(Err(Error::Io(e))));
        }
        Step::Again
    }

    /// Reads once into the engine, even while output waits: both peers
    /// may be sending large messages at once, and what a peer can make us
    /// queue without our caller is bounded by the engine (replies) and by
    /// `poll_ready` (messages).
    #[inline]
    fn poll_read_step<T>(&mut self, cx: &mut Context<'_>) -> Poll<Step<T>> {
        if let Err(e) = ready!(self.poll_read_more(cx)) {
            self.read_closed = true;
            self.conn.receive_eof();
            // A reset is the peer leaving without a closing handshake:
            // reported as such once the transport is finished.
            if !is_peer_gone(&e) && !self.failed() {
                self.ended = true;
                return Poll::Ready(Step::Yield(Some(Err(Error::Io(e)))));
            }
        }
        Poll::Ready(Step::Again)
    }

    /// Once closed or failed: finishes the transport, then the stream's
    /// last item.
    fn poll_finish<T>(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T>>> {
        ready!(self.poll_close_transport(cx));
        self.ended = true;
        if let Some(e) = self.cold.as_mut().and_then(|cold| cold.failure.take()) {
            return Poll::Ready(Some(Err(Error::Protocol(e))));
        }
        // Both Close frames were exchanged: a clean close, even if the
        // peer was then slow to close TCP; unless it was ours for being
        // idle, which the caller hears of.
        if self.conn.state() == State::Closed {
            if self.timed_out == Some(Timeout::Idle) {
                return Poll::Ready(Some(Err(Error::Timeout(Timeout::Idle))));
            }
            return Poll::Ready(None);
        }
        if let Some(limit) = self.timed_out {
            return Poll::Ready(Some(Err(Error::Timeout(limit))));
        }
        Poll::Ready(Some(Err(Error::AbnormalClosure)))
    }

    pub(crate) fn poll_ready_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.conn.state() != State::Open {
            return Poll::Ready(Err(Error::Closed));
        }
        if self.conn.output_len() >= self.settings.write_buffer_size {
            ready!(self.poll_write_out(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send_inner(&mut self, message: Message) -> Result<()> {
        self.active = true;
        Ok(self.conn.send(message)?)
    }

    pub(crate) fn poll_flush_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Poll::Ready(ready!(self.poll_write_out(cx)).map_err(Error::Io))
    }

    /// Queues a Close 1000 if none was sent, and flushes. The stream goes on
    /// until the peer's Close.
    pub(crate) fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.conn.state() == State::Open {
            self.conn.close(CloseCode::NORMAL, "")?;
        }
        match ready!(self.poll_write_out(cx)) {
            Ok(()) => Poll::Ready(Ok(())),
            // The peer went away: the connection is over, as asked.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
                ) =>
            {
                Poll::Ready(Ok(()))
            }
            Err(e) => Poll::Ready(Err(Error::Io(e))),
        }
    }
}

impl<S> Drop for WebSocket<S> {
    fn drop(&mut self) {
        (self.on_drop)(self);
    }
}

/// What a step of [`WebSocket::poll_yield`] leads to; `T` is what the
/// stream yields.
enum Step<T> {
    /// Go on to the next step.
    Next,
    /// Start the loop again: the engine may have more to say.
    Again,
    /// The stream yields this.
    Yield(Option<Result<T>>),
}

/// Whether an I/O error means the peer's end is gone (reset or closed),
/// which is an abnormal closure rather than a local failure.
fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

impl<S> Stream for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_inner(cx)
    }
}

impl<S> Sink<Message> for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.get_mut().start_send_inner(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_flush_inner(cx)
    }

    /// Sends Close 1000 (if no Close was sent) and flushes. Keep reading the
    /// stream to see the peer's Close; or use [`WebSocket::close`], which
    /// waits for the whole closing handshake.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_close_inner(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `into_engine` moves the transport and the engine out, hands back
    /// the subprotocol, and drops the rest once: the shared settings are
    /// released, and nothing is sent on the transport.
    #[tokio::test]
    async fn into_engine_moves_out_and_releases_the_rest() {
        use tokio::io::AsyncReadExt;

        let (ours, mut theirs) = tokio::io::duplex(1024);
        let proto = Arc::new(sockeye_proto::Config::default());
        let settings = Arc::new(WebSocketConfig::default());
        let mut leftover = BytesMut::new();
        leftover.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
        let ws = WebSocket::from_parts(
            ours,
            Role::Server,
            (Arc::clone(&proto), Arc::clone(&settings)),
            leftover,
        )
        .with_protocol(Some("chat".to_owned()));
        assert_eq!(Arc::strong_count(&settings), 2);
        let (io, mut engine, protocol) = ws.into_engine();
        assert_eq!(Arc::strong_count(&settings), 1);
        assert_eq!(protocol.as_deref(), Some("chat"));
        // The leftover bytes are in the engine: an empty masked text frame.
        assert_eq!(
            engine.next_event().unwrap(),
            Some(Event::Message(Message::text("")))
        );
        // Dropping the transport ends the peer's stream with nothing sent.
        drop(io);
        let mut rest = Vec::new();
        theirs.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty(), "{rest:?}");
    }
}
