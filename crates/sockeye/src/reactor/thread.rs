//! [`ReactorThread`]: a reactor on a thread of its own, which blocks in
//! its epoll instance between turns: one system call to wait, whatever
//! number of sockets it then serves.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use mio::Events;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;

use super::clock::elapsed;
use super::core::{Core, EVENTS, Intake, WAKER};
use super::handle::ReactorHandle;
use super::handler::Handler;
use crate::config::WebSocketConfig;

/// A reactor running on a thread of its own.
///
/// Where a [`Reactor`](super::run::Reactor) is a task whose epoll
/// instance the runtime watches (two waits per turn: the runtime's, then
/// the reactor's own), this thread waits in its epoll instance directly,
/// as an event loop in C does: one system call per turn. The runtime's
/// tasks (accepting, opening handshakes) hand connections over with the
/// [`ReactorHandle`], which wakes the thread.
///
/// The handler runs on that thread. [`stop`](Self::stop) closes every
/// connection with 1001 and ends the thread once their closing handshakes
/// ended (within the close timeout); dropping it does the same without
/// waiting.
///
/// ```
/// use sockeye::reactor::{Conn, Ended, Handler, ReactorThread};
/// use sockeye::{MessageRef, WebSocketConfig};
///
/// struct Echo;
///
/// impl Handler for Echo {
///     type Data = ();
///
///     fn on_message(&mut self, conn: &mut Conn<'_, ()>, message: MessageRef<'_>) {
///         let _ = conn.send_ref(message);
///     }
///
///     fn on_end(&mut self, _: (), _: Ended) {}
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let (reactor, handle) =
///     ReactorThread::spawn(Echo, &WebSocketConfig::default(), "echo".to_owned())?;
/// // A tokio task accepts, runs the opening handshake and calls
/// // `handle.add(ws, ())` for each connection.
/// # drop(handle);
/// reactor.stop();
/// let _echo: Echo = reactor.join().expect("the reactor's thread ended well");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct ReactorThread<H> {
    stop: Arc<AtomicBool>,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<H>>,
}

impl<H> ReactorThread<H>
where
    H: Handler + Send,
    H::Data: Send,
{
    /// Starts a reactor for `handler` on a new thread named `name`, with
    /// the time limits and the write buffer size of `config`; returns it
    /// and the handle that adds connections to it.
    ///
    /// # Errors
    ///
    /// The epoll instance, its waker or the thread could not be made.
    pub fn spawn(
        handler: H,
        config: &WebSocketConfig,
        name: String,
    ) -> io::Result<(Self, ReactorHandle<H::Data>)> {
        let poll = mio::Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        let core = Core::new(poll.registry().try_clone()?, handler, config);
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let event_loop = EventLoop {
            poll,
            events: Events::with_capacity(EVENTS),
            intake: rx,
            intake_closed: false,
            core,
            stop: Arc::clone(&stop),
            stopping: false,
        };
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || event_loop.run())?;
        let handle = ReactorHandle {
            intake: tx,
            waker: Some(Arc::clone(&waker)),
        };
        let reactor = ReactorThread {
            stop,
            waker,
            thread: Some(thread),
        };
        Ok((reactor, handle))
    }
}

impl<H> ReactorThread<H> {
    /// Tells the reactor to close every connection with 1001 ("server
    /// shutting down") and to end once their closing handshakes ended;
    /// returns at once. Connections handed over later are closed as they
    /// arrive.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        // Only fails if the thread is gone already.
        let _ = self.waker.wake();
    }

    /// Whether the thread ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// Waits for the thread to end (call [`stop`](Self::stop) first) and
    /// returns the handler.
    ///
    /// # Errors
    ///
    /// The handler panicked: the panic's payload.
    ///
    /// # Panics
    ///
    /// Never: the thread is joined once, here or not at all.
    pub fn join(mut self) -> std::thread::Result<H> {
        self.thread
            .take()
            .expect("joined only once, by value")
            .join()
    }
}

impl<H> Drop for ReactorThread<H> {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop();
        }
    }
}

/// The thread's side: the epoll instance and the connections.
struct EventLoop<H: Handler> {
    poll: mio::Poll,
    events: Events,
    intake: mpsc::UnboundedReceiver<Intake<H::Data>>,
    /// Every handle is gone.
    intake_closed: bool,
    core: Core<H>,
    stop: Arc<AtomicBool>,
    /// Closing every connection, as told.
    stopping: bool,
}

impl<H: Handler> EventLoop<H> {
    /// Turns until told to stop (or every handle is gone) and no
    /// connection is left; returns the handler.
    fn run(mut self) -> H {
        let tick = u32::try_from(self.core.tick().as_millis()).unwrap_or(u32::MAX);
        // One clock read per turn: the events are dated with it, and the
        // timers' turn comes from it.
        let mut now = self.core.now();
        let mut last_sweep = now;
        loop {
            let wait = if self.core.has_more_to_read() {
                Duration::ZERO
            } else {
                let left = tick.saturating_sub(elapsed(now.millis, last_sweep.millis));
                Duration::from_millis(u64::from(left))
            };
            match self.poll.poll(&mut self.events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!(error = %e, "the reactor's epoll instance failed; dropping its connections");
                    self.core.end_all(&e);
                    break;
                }
            }
            now = self.core.now();
            if self.core.serve_events(&self.events, now) {
                self.take_intake();
            }
            self.core.read_again();
            if elapsed(now.millis, last_sweep.millis) >= tick {
                self.core.sweep();
                last_sweep = now;
            }
            if self.core.conns.is_empty() && (self.stopping || self.intake_closed) {
                break;
            }
        }
        self.core.handler
    }

    /// Takes the connections handed over, and the order to stop.
    fn take_intake(&mut self) {
        if !self.stopping && self.stop.load(Ordering::Acquire) {
            self.stopping = true;
            self.core.close_all();
        }
        while !self.intake_closed {
            match self.intake.try_recv() {
                Ok(intake) => self.core.admit(intake, self.stopping),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => self.intake_closed = true,
            }
        }
    }
}
