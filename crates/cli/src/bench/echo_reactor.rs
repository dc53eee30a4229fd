//! `sockeye bench echo` over plain TCP: a worker's connections driven by
//! one reactor thread ([`ReactorThread`]) through callbacks, rather than
//! a task each, so that each echo takes the load generator the same path
//! (one epoll loop, no task wake-up) as it takes a reactor server.
//! Connections over TLS or HTTP/2 stay tasks.
//!
//! Each connection keeps the plan's messages in flight as the task does:
//! they are sent when it joins the reactor, one more for each echo until
//! the end of the measured window, and the connection closes with 1000
//! once the last echo came. Replies to one read leave in one write (the
//! reactor writes after each read), as `feed` batches them in a task.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use sockeye::reactor::{AddClientError, Conn, Ended, Handler, ReactorHandle, ReactorThread};
use sockeye::{ClientStream, CloseCode, Message, MessageRef, WebSocket, WebSocketConfig};
use tokio::sync::mpsc;

use super::echo_plan::{
    DRAIN_LIMIT, Plan, closed_during_the_run, connection_failed, echoes_missing, take_echo,
};
use super::report::{Local, Phases, WorkerReport};
use super::{CLOSE_LIMIT, Counter, Tally};
use crate::describe;

/// A worker's reactor thread, started when its first plain TCP
/// connection is handed over.
#[derive(Debug)]
pub(super) struct EchoReactor {
    index: usize,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
    arrived: Arc<Counter>,
    state: State,
}

/// Whether the thread runs.
#[derive(Debug)]
enum State {
    /// No plain TCP connection came yet.
    Idle,
    Running(Running),
    /// The thread could not be started: connections stay tasks.
    Unavailable,
}

/// A running reactor thread and what the worker needs to wait for it.
#[derive(Debug)]
struct Running {
    thread: ReactorThread<Echoes>,
    handle: ReactorHandle<Flight>,
    /// One item for each connection that ended.
    ended: mpsc::UnboundedReceiver<()>,
    /// Connections handed over.
    added: usize,
    /// Set once the worker stops waiting for echoes.
    gave_up: Arc<AtomicBool>,
    stop_at: Instant,
}

impl EchoReactor {
    /// Worker `index`'s reactor, not started yet. `arrived` counts every
    /// echo, for the progress line.
    pub(super) fn new(
        index: usize,
        plan: Arc<Plan>,
        tally: Arc<Tally>,
        arrived: Arc<Counter>,
    ) -> Self {
        EchoReactor {
            index,
            plan,
            tally,
            arrived,
            state: State::Idle,
        }
    }

    /// Hands an open connection to the reactor thread, starting it if
    /// need be, once the run started (`phases`). The round trips begin at
    /// once. Returns the connection if the reactor cannot serve it (TLS,
    /// HTTP/2, or no thread): drive it from a task.
    #[expect(
        clippy::result_large_err,
        reason = "the connection comes back by value, once per connection"
    )]
    pub(super) fn add(
        &mut self,
        ws: WebSocket<ClientStream>,
        phases: Phases,
    ) -> Result<(), WebSocket<ClientStream>> {
        if !matches!(ws.get_ref(), ClientStream::Plain(_)) {
            return Err(ws);
        }
        if matches!(self.state, State::Idle) {
            self.state = match self.start(phases) {
                Ok(running) => State::Running(running),
                Err(e) => {
                    eprintln!(
                        "sockeye: warning: cannot start a reactor thread ({}); worker {} \
                         drives its connections from tasks",
                        describe(&e),
                        self.index
                    );
                    State::Unavailable
                }
            };
        }
        let State::Running(running) = &mut self.state else {
            return Err(ws);
        };
        match running.handle.add_client(ws, Flight::default()) {
            Ok(()) => {
                running.added += 1;
                Ok(())
            }
            Err(AddClientError::Failed(e)) => {
                self.tally.failed(connection_failed(&e));
                Ok(())
            }
            Err(e) => match e.into_inner() {
                Some((ws, _)) => Err(ws),
                None => Ok(()),
            },
        }
    }

    fn start(&self, phases: Phases) -> std::io::Result<Running> {
        let (ended_tx, ended) = mpsc::unbounded_channel();
        let gave_up = Arc::new(AtomicBool::new(false));
        let echoes = Echoes {
            message: self.plan.message.clone(),
            in_flight: self.plan.in_flight,
            phases,
            local: Local::new(Arc::clone(&self.arrived)),
            tally: Arc::clone(&self.tally),
            gave_up: Arc::clone(&gave_up),
            ended: ended_tx,
        };
        // The client's own close limit, as the task's `close` has it.
        let config = WebSocketConfig {
            close_timeout: CLOSE_LIMIT,
            ..WebSocketConfig::default()
        };
        let name = format!("bench-{}-reactor", self.index);
        let (thread, handle) = ReactorThread::spawn(echoes, &config, name)?;
        Ok(Running {
            thread,
            handle,
            ended,
            added: 0,
            gave_up,
            stop_at: phases.stop_at,
        })
    }

    /// Waits until every connection handed over ended, or until
    /// [`DRAIN_LIMIT`] after the end of the run (those still waiting for
    /// echoes then count as failed), stops the thread and returns what it
    /// measured; `None` if it never started.
    pub(super) async fn finish(self) -> Option<WorkerReport> {
        let State::Running(mut running) = self.state else {
            return None;
        };
        let deadline = running.stop_at + DRAIN_LIMIT;
        let mut ended = 0;
        while ended < running.added {
            match tokio::time::timeout_at(deadline.into(), running.ended.recv()).await {
                Ok(Some(())) => ended += 1,
                // The thread is gone: joining it says why.
                Ok(None) => break,
                Err(_) => {
                    running.gave_up.store(true, Ordering::Release);
                    break;
                }
            }
        }
        // Closes what is left (within the close limit) and ends.
        running.thread.stop();
        let thread = running.thread;
        if let Ok(Ok(echoes)) = tokio::task::spawn_blocking(move || thread.join()).await {
            Some(echoes.local.report())
        } else {
            self.tally
                .failed(format!("worker {}'s reactor thread stopped", self.index));
            None
        }
    }
}

/// Where a connection stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Stage {
    /// Echoes are due.
    #[default]
    Running,
    /// The last echo came; the closing handshake runs.
    Closing,
    /// It failed, and was counted.
    Failed,
}

/// One connection's state in the reactor.
#[derive(Debug, Default)]
struct Flight {
    /// When each outstanding message was sent, oldest first: the server
    /// echoes in order, so the front is the one the next echo answers.
    sent_at: VecDeque<Instant>,
    stage: Stage,
}

/// The reactor's handler: the round trips of every connection of a
/// worker, and what they measured.
#[derive(Debug)]
struct Echoes {
    message: Message,
    in_flight: usize,
    phases: Phases,
    /// Latencies and counts; on the reactor's thread, handed back when it
    /// is joined.
    local: Local,
    tally: Arc<Tally>,
    gave_up: Arc<AtomicBool>,
    ended: mpsc::UnboundedSender<()>,
}

impl Echoes {
    /// Queues one more message; it leaves with the reactor's next write.
    fn send(&self, conn: &mut Conn<'_, Flight>) -> Result<(), String> {
        conn.send_ref(MessageRef::from(&self.message))
            .map_err(|e| connection_failed(&e))
    }

    /// Counts the connection as failed and closes it: it is not used
    /// again (as a task drops its connection).
    fn fail(&self, conn: &mut Conn<'_, Flight>, why: String) {
        self.tally.failed(why);
        conn.data().stage = Stage::Failed;
        let _ = conn.close(CloseCode::GOING_AWAY, "");
    }

    /// An echo came back: checks it, times it, and sends the next message
    /// until the end of the run, or closes once the last one came.
    ///
    /// Times are the reactor turn's: one clock read for all the echoes of
    /// one read.
    fn echo(&mut self, conn: &mut Conn<'_, Flight>, is_text: bool, payload: &[u8]) {
        let now = conn.now();
        if conn.data().stage != Stage::Running {
            return;
        }
        let Some(sent) = conn.data().sent_at.pop_front() else {
            return;
        };
        let times = (sent, now);
        match take_echo(
            &self.message,
            &self.phases,
            &self.local,
            times,
            is_text,
            payload,
        ) {
            Err(why) => self.fail(conn, why),
            Ok(true) => {
                conn.data().sent_at.push_back(now);
                if let Err(why) = self.send(conn) {
                    self.fail(conn, why);
                }
            }
            Ok(false) if conn.data().sent_at.is_empty() => {
                conn.data().stage = Stage::Closing;
                if let Err(e) = conn.close(CloseCode::NORMAL, "") {
                    tracing::debug!(error = %describe(&e), "cannot start the closing handshake");
                }
            }
            // Echoes of messages sent before the end are still due.
            Ok(false) => {}
        }
    }
}

impl Handler for Echoes {
    type Data = Flight;

    fn on_open(&mut self, conn: &mut Conn<'_, Flight>) {
        let now = conn.now();
        for _ in 0..self.in_flight {
            conn.data().sent_at.push_back(now);
            if let Err(why) = self.send(conn) {
                self.fail(conn, why);
                return;
            }
        }
    }

    fn on_message(&mut self, conn: &mut Conn<'_, Flight>, message: MessageRef<'_>) {
        self.echo(conn, message.is_text(), message.payload());
    }

    fn on_end(&mut self, flight: Flight, ended: Ended) {
        match flight.stage {
            Stage::Failed => {}
            Stage::Closing => {
                if let Some(e) = ended.error() {
                    tracing::debug!(error = %describe(e), "closing handshake failed");
                }
            }
            Stage::Running => {
                let why = if self.gave_up.load(Ordering::Acquire) {
                    echoes_missing()
                } else {
                    match ended.error() {
                        Some(e) => connection_failed(e),
                        None => closed_during_the_run(),
                    }
                };
                self.tally.failed(why);
            }
        }
        let _ = self.ended.send(());
    }
}
