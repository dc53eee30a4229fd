//! [`Reactor`]: a reactor served by a task of a tokio runtime, which
//! watches its epoll instance as one file descriptor.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};
use std::time::Duration;

use mio::Events;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::core::{Core, EVENTS, Intake};
use super::handle::ReactorHandle;
use super::handler::Handler;
use crate::config::WebSocketConfig;

/// Batches of events handled in one poll of the reactor's task before it
/// lets the runtime's other tasks run.
const BATCHES_PER_POLL: usize = 4;

/// Serves many WebSocket connections from one task, through callbacks,
/// with no task, future or runtime registration per connection. (A
/// [`ReactorThread`](super::thread::ReactorThread) does the same on a
/// thread of its own.)
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
/// use sockeye::{MessageRef, WebSocketConfig};
///
/// /// Echoes every message, counting them.
/// struct Echo;
///
/// impl Handler for Echo {
///     type Data = u64;
///
///     fn on_message(&mut self, conn: &mut Conn<'_, u64>, message: MessageRef<'_>) {
///         *conn.data() += 1;
///         let _ = conn.send_ref(message);
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
        let core = Core::new(poll.registry().try_clone()?, handler, config);
        // SAFETY: a `mio::Poll` owns its epoll file descriptor from its
        // creation until it is dropped, and `as_raw_fd` always returns that
        // one: it stays open and the same for the `AsyncFd`'s lifetime.
        let poll = unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE) }
            .map_err(|e| e.into_parts().1)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let reactor = Reactor {
            poll,
            events: Events::with_capacity(EVENTS),
            intake: rx,
            intake_closed: false,
            sweep: Box::pin(tokio::time::sleep(core.tick())),
            core,
            stopping: false,
        };
        let handle = ReactorHandle {
            intake: tx,
            waker: None,
        };
        Ok((reactor, handle))
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
            let now = self.core.now();
            // No waker here: the intake's channel wakes the task.
            let _ = self.core.serve_events(&self.events, now);
        }
        // The budget ran out: let the runtime's other tasks run first.
        cx.waker().wake_by_ref();
        Ok(())
    }

    /// Looks at every connection's timers when the tick comes.
    fn poll_sweep(&mut self, cx: &mut Context<'_>) {
        while self.sweep.as_mut().poll(cx).is_ready() {
            self.core.sweep();
            let next = Instant::now() + self.core.tick();
            self.sweep.as_mut().reset(next);
        }
    }
}
