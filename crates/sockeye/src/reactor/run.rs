//! The reactor itself: the connections of one task, the epoll instance
//! their sockets are registered with, and the loop that serves them.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use mio::{Events, Interest, Token};
use sockeye_proto::{CloseCode, Connection};
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::clock::{Clock, Timeouts};
use super::entry::{Entry, Next, Turn};
use super::handler::Handler;
use super::slab::Slab;
use crate::config::WebSocketConfig;
use crate::error::{Error, Result};
use crate::stream::WebSocket;

/// Events taken from the epoll instance at once.
const EVENTS: usize = 1024;

/// Batches of events handled in one poll of the reactor's task before it
/// lets the runtime's other tasks run.
const BATCHES_PER_POLL: usize = 4;

/// The size of the reactor's read buffer, shared by its connections.
const READ_BUFFER: usize = 64 << 10;

/// A connection on its way into a reactor.
#[derive(Debug)]
struct Intake<D> {
    tcp: std::net::TcpStream,
    engine: Connection,
    protocol: Option<Box<str>>,
    data: D,
}

/// Adds connections to a [`Reactor`] from any task or thread; cheap to
/// clone.
#[derive(Debug)]
pub struct ReactorHandle<D> {
    intake: mpsc::UnboundedSender<Intake<D>>,
}

impl<D> Clone for ReactorHandle<D> {
    fn clone(&self) -> Self {
        ReactorHandle {
            intake: self.intake.clone(),
        }
    }
}

impl<D> ReactorHandle<D> {
    /// Hands an open WebSocket over TCP to the reactor, with the
    /// application's data for it. Its socket leaves the runtime's I/O
    /// driver for the reactor's; the reactor serves it from its next turn.
    ///
    /// Call it from a task of a tokio runtime (the socket is taken off
    /// that runtime's driver).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] if the reactor stopped; the connection is then
    /// dropped (a `WebSocket` dropped while open sends a Close 1001 if it
    /// can). [`Error::Io`] if the socket cannot leave the runtime.
    pub fn add(&self, ws: WebSocket<TcpStream>, data: D) -> Result<()> {
        if self.intake.is_closed() {
            return Err(Error::Closed);
        }
        let (tcp, engine, protocol) = ws.into_engine();
        let tcp = tcp.into_std().map_err(Error::Io)?;
        self.intake
            .send(Intake {
                tcp,
                engine,
                protocol,
                data,
            })
            .map_err(|_| Error::Closed)
    }

    /// Whether the reactor stopped taking connections.
    pub fn is_closed(&self) -> bool {
        self.intake.is_closed()
    }
}

/// Serves many WebSocket connections from one task, through callbacks,
/// with no task, future or runtime registration per connection.
///
/// Each connection costs its entry in the reactor's table (the engine's
/// state, the application's [`Handler::Data`], a few timestamps; about
/// 300 bytes) while idle; its socket is registered with the reactor's own
/// epoll instance, which the runtime watches as one file descriptor. A
/// turn reads every ready socket into one shared buffer, hands the
/// messages to the [`Handler`] and writes each connection's replies in one
/// system call.
///
/// Keepalive, the idle timeout and the close timeout come from the
/// [`WebSocketConfig`] given to [`new`](Self::new) and are checked every
/// quarter of the shortest of them (between 10 ms and 1 s), so they run
/// out up to that much late.
///
/// Unix only; plain TCP only (TLS and HTTP/2 connections stay tasks).
///
/// ```
/// use sockeye::reactor::{Conn, Ended, Handler, Reactor};
/// use sockeye::{Message, WebSocketConfig};
///
/// /// Echoes every message, counting them.
/// struct Echo;
///
/// impl Handler for Echo {
///     type Data = u64;
///
///     fn on_message(&mut self, conn: &mut Conn<'_, u64>, message: Message) {
///         *conn.data() += 1;
///         let _ = conn.send(message);
///     }
///
///     fn on_end(&mut self, count: u64, ended: Ended) {
///         println!("{count} messages; ended: {:?}", ended.into_result());
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let (reactor, handle) = Reactor::new(Echo, &WebSocketConfig::default())?;
/// let server = tokio::spawn(async move {
///     loop {
///         let (tcp, _) = listener.accept().await?;
///         let handle = handle.clone();
///         tokio::spawn(async move {
///             if let Ok(ws) = sockeye::accept(tcp).await {
///                 let _ = handle.add(ws, 0);
///             }
///         });
///     }
///     # #[allow(unreachable_code)]
///     Ok::<_, std::io::Error>(())
/// });
/// // Runs until the future given resolves and the connections closed.
/// reactor.run(async {}).await;
/// # server.abort();
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Reactor<H: Handler> {
    poll: AsyncFd<mio::Poll>,
    events: Events,
    intake: mpsc::UnboundedReceiver<Intake<H::Data>>,
    /// The intake's senders are all gone.
    intake_closed: bool,
    core: Core<H>,
    /// When every connection's timers are next looked at.
    sweep: Pin<Box<Sleep>>,
    /// Closing every connection: the shutdown future resolved.
    stopping: bool,
}

/// The connections and what serving them takes: all of the reactor but
/// its epoll instance and its intake.
#[derive(Debug)]
struct Core<H: Handler> {
    registry: mio::Registry,
    conns: Slab<Entry<H::Data>>,
    handler: H,
    clock: Clock,
    timeouts: Timeouts,
    write_limit: usize,
    scratch: Box<[u8]>,
    /// Connections whose read budget ran out, to read again.
    again: Vec<usize>,
    /// Connections a sweep found ended or wanting a read.
    settled: Vec<(usize, Next)>,
}

impl<H: Handler> Reactor<H> {
    /// A reactor for `handler`'s connections, with the time limits and
    /// the write buffer size of `config`, and the handle that adds
    /// connections to it.
    ///
    /// Call it inside a tokio runtime with I/O and time enabled.
    ///
    /// # Errors
    ///
    /// The epoll instance could not be made or registered.
    pub fn new(handler: H, config: &WebSocketConfig) -> io::Result<(Self, ReactorHandle<H::Data>)> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        // SAFETY: a `mio::Poll` owns its epoll file descriptor from its
        // creation until it is dropped, and `as_raw_fd` always returns that
        // one: it stays open and the same for the `AsyncFd`'s lifetime.
        let poll = unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let timeouts = Timeouts::new(config);
        let reactor = Reactor {
            poll,
            events: Events::with_capacity(EVENTS),
            intake: rx,
            intake_closed: false,
            core: Core {
                registry,
                conns: Slab::new(),
                handler,
                clock: Clock::new(),
                timeouts,
                write_limit: config.write_buffer_size,
                scratch: vec![0; READ_BUFFER].into_boxed_slice(),
                again: Vec::new(),
                settled: Vec::new(),
            },
            sweep: Box::pin(tokio::time::sleep(timeouts.tick())),
            stopping: false,
        };
        Ok((reactor, ReactorHandle { intake: tx }))
    }

    /// The connections being served.
    pub fn len(&self) -> usize {
        self.core.conns.len()
    }

    /// Whether no connection is being served.
    pub fn is_empty(&self) -> bool {
        self.core.conns.is_empty()
    }

    /// The handler.
    pub fn handler(&mut self) -> &mut H {
        &mut self.core.handler
    }

    /// Serves connections until `shutdown` resolves, then closes each
    /// with 1001 ("server shutting down") and returns once their closing
    /// handshakes ended (within the close timeout). Returns as well when
    /// every handle is dropped and no connection is left.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        poll_fn(|cx| self.poll_run(cx, shutdown.as_mut())).await;
    }

    /// One poll of the loop: the shutdown signal, new connections, ready
    /// sockets, connections with more to read, timers.
    fn poll_run(
        &mut self,
        cx: &mut Context<'_>,
        shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Poll<()> {
        if !self.stopping && shutdown.poll(cx).is_ready() {
            self.stopping = true;
            self.core.close_all();
        }
        self.take_intake(cx);
        if let Err(e) = self.serve_ready(cx) {
            tracing::error!(error = %e, "the reactor's epoll instance failed; dropping its connections");
            self.core.end_all(&e);
            return Poll::Ready(());
        }
        if self.core.read_again() {
            cx.waker().wake_by_ref();
        }
        self.poll_sweep(cx);
        if self.core.conns.is_empty() && (self.stopping || self.intake_closed) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Registers the connections handed over since the last turn.
    fn take_intake(&mut self, cx: &mut Context<'_>) {
        while !self.intake_closed {
            match self.intake.poll_recv(cx) {
                Poll::Ready(Some(intake)) => self.core.admit(intake, self.stopping),
                Poll::Ready(None) => self.intake_closed = true,
                Poll::Pending => break,
            }
        }
    }

    /// Serves the sockets that are ready, a batch of events at a time.
    fn serve_ready(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        for _ in 0..BATCHES_PER_POLL {
            let Poll::Ready(guard) = self.poll.poll_read_ready_mut(cx) else {
                return Ok(());
            };
            let mut guard = guard?;
            match guard
                .get_inner_mut()
                .poll(&mut self.events, Some(Duration::ZERO))
            {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            // A full batch may have left events behind: look again
            // rather than wait for a wake-up that may not come.
            if self.events.iter().count() < EVENTS {
                guard.clear_ready();
            }
            drop(guard);
            let now = self.core.clock.now();
            for event in &self.events {
                let ended = event.is_read_closed() || event.is_error();
                let readable = event.is_readable() || ended;
                let key = event.token().0;
                self.core
                    .ready(key, readable, event.is_writable(), ended, now);
            }
        }
        // The budget ran out: let the runtime's other tasks run first.
        cx.waker().wake_by_ref();
        Ok(())
    }

    /// Looks at every connection's timers when the tick comes.
    fn poll_sweep(&mut self, cx: &mut Context<'_>) {
        while self.sweep.as_mut().poll(cx).is_ready() {
            self.core.sweep();
            let next = Instant::now() + self.core.timeouts.tick();
            self.sweep.as_mut().reset(next);
        }
    }
}

impl<H: Handler> Core<H> {
    /// Puts one connection in the table and gives the handler its first
    /// look; closes it at once if the reactor is stopping.
    fn admit(&mut self, intake: Intake<H::Data>, stopping: bool) {
        let now = self.clock.now();
        let io = mio::net::TcpStream::from_std(intake.tcp);
        let mut entry = Entry::new(io, intake.engine, intake.data, intake.protocol, now);
        let key = self.conns.vacant_key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.registry.register(&mut entry.io, Token(key), interest) {
            tracing::debug!(error = %e, "cannot register a connection with the reactor");
            entry.fail(Error::Io(e));
            let (data, ended) = entry.finish();
            self.handler.on_end(data, ended);
            return;
        }
        let key = self.conns.insert(entry);
        let Core {
            conns,
            handler,
            scratch,
            ..
        } = self;
        let mut turn = Turn {
            now,
            scratch,
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        let Some(entry) = conns.get_mut(key) else {
            return;
        };
        let mut next = entry.open(handler, &mut turn);
        if stopping && next != Next::End {
            next = entry.close(CloseCode::GOING_AWAY, "server shutting down", &turn);
        }
        self.settle(key, next);
    }

    /// One connection's socket is ready; `ended` when the peer's stream
    /// ended or failed.
    fn ready(&mut self, key: usize, readable: bool, writable: bool, ended: bool, now: u32) {
        let Core {
            conns,
            handler,
            scratch,
            ..
        } = self;
        let Some(entry) = conns.get_mut(key) else {
            // Ended earlier in this batch.
            return;
        };
        let mut turn = Turn {
            now,
            scratch,
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        if ended {
            entry.peer_ended();
        }
        let next = entry.ready(handler, &mut turn, readable, writable);
        self.settle(key, next);
    }

    /// Reads again from the connections whose budget ran out; whether
    /// some still have more.
    fn read_again(&mut self) -> bool {
        if self.again.is_empty() {
            return false;
        }
        let now = self.clock.now();
        for key in std::mem::take(&mut self.again) {
            self.ready(key, true, false, false, now);
        }
        !self.again.is_empty()
    }

    /// Acts on what a step decided.
    fn settle(&mut self, key: usize, next: Next) {
        match next {
            Next::Wait => {}
            Next::ReadAgain => self.again.push(key),
            Next::End => {
                if let Some(mut entry) = self.conns.remove(key) {
                    let _ = self.registry.deregister(&mut entry.io);
                    let (data, ended) = entry.finish();
                    self.handler.on_end(data, ended);
                }
            }
        }
    }

    /// Runs every connection's timers.
    fn sweep(&mut self) {
        let turn = Turn {
            now: self.clock.now(),
            scratch: &mut [],
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        let settled = &mut self.settled;
        self.conns.for_each_mut(|key, entry| {
            let next = entry.tick(&turn);
            if next != Next::Wait {
                settled.push((key, next));
            }
        });
        self.settle_all();
    }

    /// Starts the closing handshake of every connection (1001).
    fn close_all(&mut self) {
        let turn = Turn {
            now: self.clock.now(),
            scratch: &mut [],
            timeouts: self.timeouts,
            write_limit: self.write_limit,
        };
        let settled = &mut self.settled;
        self.conns.for_each_mut(|key, entry| {
            let next = entry.close(CloseCode::GOING_AWAY, "server shutting down", &turn);
            if next != Next::Wait {
                settled.push((key, next));
            }
        });
        self.settle_all();
    }

    fn settle_all(&mut self) {
        let mut settled = std::mem::take(&mut self.settled);
        for (key, next) in settled.drain(..) {
            self.settle(key, next);
        }
        self.settled = settled;
    }

    /// Drops every connection after the reactor itself failed.
    fn end_all(&mut self, cause: &io::Error) {
        for key in self.conns.keys() {
            if let Some(entry) = self.conns.get_mut(key) {
                entry.fail(Error::Io(io::Error::new(cause.kind(), cause.to_string())));
            }
            self.settle(key, Next::End);
        }
    }
}
