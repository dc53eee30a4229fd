//! The driver of a session: its one task. It runs the heartbeat, and once
//! the session is on a WebSocket it runs that too: it reads the client's
//! packets and hands them to the handler on the spot, and writes what the
//! session queued. When the session ends it calls `on_close`, says
//! goodbye and unregisters the session.
//!
//! A session opened on a WebSocket is driven by the task that accepted
//! it; one opened on polling gets a task of its own at the handshake,
//! which takes the WebSocket over when an upgrade completes.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use tokio::time::{Duration, Instant, Sleep};

use super::close::CloseReason;
use super::handler::EngineHandler;
use super::heartbeat::Heartbeat;
use super::socket::{EngineSocket, Ws};
use super::state::EngineState;
use super::websocket;

/// Runs a session until it ends, then calls `on_close`, says goodbye on
/// its transport and unregisters it.
///
/// `on_close` is called once, here, after the last `on_message`.
pub(crate) async fn drive<H: EngineHandler>(
    engine: Arc<EngineState<H>>,
    socket: Arc<EngineSocket<H::Data>>,
    ws: Option<Box<Ws>>,
) {
    let _unregister = Unregister {
        engine: &engine,
        socket: &socket,
    };
    let mut running = Running::new(&engine, &socket, ws);
    let (reason, drain) = poll_fn(|cx| running.poll(cx)).await;
    let ws = running.ws.take();
    drop(running);
    let ws = ws.or_else(|| socket.lock().handover.take());
    socket.dispatch_last(|| engine.handler.on_close(&socket, reason));
    if ws.is_some() || !drain {
        // Only a polling client still comes for the last packets by id.
        engine.sessions.remove(socket.id());
    }
    // On the heap: only a closing session needs this future's memory.
    let window = engine.config.ping_interval + engine.config.ping_timeout;
    Box::pin(say_goodbye(&socket, ws, drain, window)).await;
}

/// The last packets of a session that ended: over its WebSocket, or to the
/// next poll.
async fn say_goodbye<D>(
    socket: &EngineSocket<D>,
    ws: Option<Box<Ws>>,
    drain: bool,
    window: Duration,
) {
    match ws {
        Some(mut ws) => websocket::close(&mut ws, socket).await,
        // A live client polls at least once per heartbeat period: past
        // it, the farewell would never be fetched.
        None if drain => wait_for_farewell(socket, window).await,
        None => {}
    }
}

/// A running session: what its driver holds between wake-ups.
struct Running<'a, H: EngineHandler> {
    /// The engine, for the handler.
    engine: &'a EngineState<H>,
    /// The session.
    socket: &'a Arc<EngineSocket<H::Data>>,
    /// The session's WebSocket, once it has one. On the heap, so that the
    /// futures that hold it before and after it runs stay small.
    ws: Option<Box<Ws>>,
    /// Whether the WebSocket could not take more bytes when last written
    /// to: it wakes the driver when it can.
    write_blocked: bool,
    /// The heartbeat's state.
    heartbeat: Heartbeat,
    /// The heartbeat's timer. On the heap: the runtime's timer entry is
    /// large, and a boxed future is `Unpin`.
    timer: Pin<Box<Sleep>>,
}

impl<'a, H: EngineHandler> Running<'a, H> {
    /// A session that starts running now.
    fn new(
        engine: &'a EngineState<H>,
        socket: &'a Arc<EngineSocket<H::Data>>,
        ws: Option<Box<Ws>>,
    ) -> Self {
        let config = &engine.config;
        let heartbeat = Heartbeat::new(config.ping_interval, config.ping_timeout, socket.is_eio3());
        let timer = Box::pin(tokio::time::sleep_until(heartbeat.deadline));
        Running {
            engine,
            socket,
            ws,
            write_blocked: false,
            heartbeat,
            timer,
        }
    }

    /// Does what is ready: reads and hands on the client's packets, runs
    /// the heartbeat, writes what is queued. Ready with the reason (and
    /// whether to drain the queue) once the session ended.
    ///
    /// Its own sends (the handler's answers, the heartbeat's pings) must
    /// not wake the task again: while it works, `driving` says so to
    /// whoever would wake it, and it clears the flag before a last look at
    /// what may have come meanwhile. The waker stays registered, so a turn
    /// clones none.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(CloseReason, bool)> {
        let driving = &self.socket.driving;
        driving.store(true, Ordering::SeqCst);
        loop {
            if let Some(ws) = self.ws.as_mut() {
                // An end of the reading ended the session: the look below
                // sees it.
                let _ = websocket::poll_read(ws, cx, self.engine, self.socket);
            }
            let ticked = self.tick(cx);
            if let Some(ws) = self.ws.as_mut() {
                match websocket::poll_write(ws, cx, self.socket, self.write_blocked) {
                    Ok(blocked) => self.write_blocked = blocked,
                    Err(()) => {
                        self.socket
                            .terminate(CloseReason::TransportError, None, false);
                    }
                }
            }
            self.socket.driver.register(cx.waker());
            driving.store(false, Ordering::SeqCst);
            match self.look() {
                Look::Ended(reason, drain) => return Poll::Ready((reason, drain)),
                // A timer reset must be polled again to wake the task.
                Look::Again => driving.store(true, Ordering::SeqCst),
                Look::Idle if ticked => driving.store(true, Ordering::SeqCst),
                Look::Idle => return Poll::Pending,
            }
        }
    }

    /// Runs the heartbeat when its time came; true if it did (its timer
    /// then counts to the next deadline, which moved on unless the session
    /// ended).
    fn tick(&mut self, cx: &mut Context<'_>) -> bool {
        if self.timer.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.heartbeat.on_deadline(self.socket);
        self.timer.as_mut().reset(self.heartbeat.deadline);
        true
    }

    /// Looks at the shared state for what the others changed: the end of
    /// the session, a pong another transport read, a WebSocket handed
    /// over, packets queued.
    fn look(&mut self) -> Look {
        let mut state = self.socket.lock();
        if let Some(closing) = state.closing.as_ref() {
            return Look::Ended(closing.reason, closing.drain);
        }
        let mut again = false;
        if self.heartbeat.awaiting_pong && state.pong_due.is_none() {
            self.heartbeat.on_pong();
            self.timer.as_mut().reset(self.heartbeat.deadline);
            again = true;
        }
        if self.ws.is_none()
            && let Some(ws) = state.handover.take()
        {
            self.ws = Some(ws);
            self.write_blocked = false;
            again = true;
        }
        if self.ws.is_some() && !self.write_blocked && !state.outbox.is_empty() {
            again = true;
        }
        if again { Look::Again } else { Look::Idle }
    }
}

/// What a look at the shared state found.
enum Look {
    /// The session ended, for this reason; whether to drain the queue.
    Ended(CloseReason, bool),
    /// There is work to do now.
    Again,
    /// Nothing until the next wake-up.
    Idle,
}

/// Ends and unregisters a session when its driver stops, however it stops:
/// a handler that panics loses its session, not the server's memory.
struct Unregister<'a, H: EngineHandler> {
    /// The engine holding the session.
    engine: &'a EngineState<H>,
    /// The session.
    socket: &'a EngineSocket<H::Data>,
}

impl<H: EngineHandler> Drop for Unregister<'_, H> {
    fn drop(&mut self) {
        self.socket
            .terminate(CloseReason::TransportError, None, false);
        self.engine.sessions.remove(self.socket.id());
    }
}

/// Waits until a poll took the closing session's last packets, or `limit`
/// passed.
async fn wait_for_farewell<D>(socket: &EngineSocket<D>, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let changed = socket.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let pending = socket
            .lock()
            .closing
            .as_ref()
            .is_some_and(|closing| closing.farewell.is_some());
        if !pending {
            return;
        }
        tokio::select! {
            () = changed => {}
            () = tokio::time::sleep_until(deadline) => return,
        }
    }
}
