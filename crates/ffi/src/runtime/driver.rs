//! The task that runs one open connection: it takes what other threads
//! queued for it, writes it, reads, and pushes what arrived as events.
//!
//! One wake-up of the task does, in order: empty the outbox into the
//! engine (every queued message and close), then read and write through
//! [`WebSocket`]'s stream, which writes everything queued before it reads
//! again, so every send since the last wake-up leaves in one write.
//!
//! After each event it pushes, the task parses no more input until the C
//! side has handled that event (it came back to poll for the next one;
//! see `queue.rs`), so that what the C side sends in answer is queued
//! before the frames that follow are looked at. Meanwhile it still writes
//! what is sent. Reading also stops while the event queue is at its bound.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{Sink, Stream};
use sockeye::{Error, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use super::conns::{Command, Conn};
use super::event::{Event, SOCKEYE_EVENT_CLOSE, SOCKEYE_EVENT_ERROR, SOCKEYE_EVENT_OPEN};
use super::shared::Shared;
use crate::result::sockeye_result;

/// Steps one wake-up takes at most before it lets other tasks run:
/// fairness among connections.
const BUDGET: usize = 64;

/// Output held while input is still buffered is written anyway once it
/// reaches 64 KiB: large answers leave at once, and a sender told
/// `SOCKEYE_ERR_BACKPRESSURE` sees the buffer drain.
const FLUSH_WHILE_READING: usize = 64 << 10;

/// Runs `ws` until it ends: an OPEN event first, a CLOSE or ERROR last.
pub(crate) async fn run<S>(shared: Arc<Shared>, conn: Arc<Conn>, mut ws: WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _live = shared.task_started();
    conn.opened();
    let mut driver = Driver {
        events: vec![Event::with_text(
            SOCKEYE_EVENT_OPEN,
            conn.id,
            conn.listener,
            ws.protocol().unwrap_or(""),
            0,
            sockeye_result::SOCKEYE_OK,
        )],
        shared,
        conn,
        commands: Vec::new(),
        taken: 0,
        accounted: 0,
        unhandled: 0,
        registered: 0,
        answers_due: false,
    };
    let end = poll_fn(|cx| driver.poll(&mut ws, cx)).await;
    let last = last_event(&driver.conn, &ws, end);
    driver.conn.ended();
    driver.events.push(last);
    driver.shared.events.push(&mut driver.events);
}

/// The task's state between wake-ups.
struct Driver {
    shared: Arc<Shared>,
    conn: Arc<Conn>,
    /// Events not pushed yet.
    events: Vec<Event>,
    /// The outbox's commands, emptied into this vector (kept for its
    /// allocation).
    commands: Vec<Command>,
    /// Payload bytes taken from the outbox since the buffered amount was
    /// last corrected.
    taken: usize,
    /// The engine's unwritten output as last counted in the buffered
    /// amount.
    accounted: usize,
    /// The `seq` of the last event pushed, which must be handled before
    /// more input is parsed.
    unhandled: u64,
    /// The `seq` this task is registered to be woken for (it stays
    /// registered until that event is handled).
    registered: u64,
    /// Events were pushed since the outbox was last emptied: once they
    /// are handled, the outbox is emptied again before parsing on.
    answers_due: bool,
}

impl Driver {
    /// One wake-up; `Ready` with how the connection ended.
    fn poll<S>(&mut self, ws: &mut WebSocket<S>, cx: &mut Context<'_>) -> Poll<Option<Error>>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.take_commands(ws, cx);
        for _ in 0..BUDGET {
            let queue = &self.shared.events;
            let unhandled = !queue.handled(self.unhandled)
                && (self.registered == self.unhandled
                    || queue.wait_handled(self.unhandled, cx.waker()));
            if unhandled {
                self.registered = self.unhandled;
            }
            let waiting = unhandled || (queue.is_full() && queue.wait_for_space(cx.waker()));
            if waiting {
                // Parse nothing until the poller says so. Write what is
                // queued now only when no input is left to read: otherwise
                // the next read writes it, with the answers to the input
                // still buffered, in one write. A write error shows at the
                // next read.
                if ws.buffered_input() == 0 || ws.buffered_amount() >= FLUSH_WHILE_READING {
                    let _ = Pin::new(&mut *ws).poll_flush(cx);
                }
                self.settle(ws);
                return Poll::Pending;
            }
            if std::mem::take(&mut self.answers_due) {
                // The C side handled our last event: what it sent in
                // answer goes in before the input that follows.
                self.take_commands(ws, cx);
            }
            match Pin::new(&mut *ws).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    let event = self.message_event(message);
                    self.events.push(event);
                    self.settle(ws);
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(e)),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => {
                    self.settle(ws);
                    return Poll::Pending;
                }
            }
        }
        // Out of budget: let others run, and come back at once.
        self.settle(ws);
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Moves the outbox into the engine.
    fn take_commands<S>(&mut self, ws: &mut WebSocket<S>, cx: &Context<'_>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        self.conn.take_commands(&mut self.commands, cx.waker());
        for command in self.commands.drain(..) {
            match command {
                Command::Send(message) => {
                    self.taken += message.len();
                    // Refused only once the connection is closing: the
                    // message is dropped, as a send then would be.
                    let _ = Pin::new(&mut *ws).start_send(message);
                }
                Command::Close(code, reason) => {
                    let _ = ws.start_close(code, &reason);
                }
            }
        }
    }

    /// Pushes the events not pushed yet and corrects the buffered amount: the
    /// payloads taken from the outbox left it, the engine's output is what
    /// is still unwritten.
    fn settle<S>(&mut self, ws: &WebSocket<S>)
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let seq = self.shared.events.push(&mut self.events);
        if seq != 0 {
            self.unhandled = seq;
            self.answers_due = true;
        }
        let output = ws.buffered_amount();
        let delta = output.wrapping_sub(self.accounted).wrapping_sub(self.taken);
        self.conn.adjust_buffered(delta);
        self.accounted = output;
        self.taken = 0;
    }

    fn message_event(&self, message: Message) -> Event {
        let text = message.is_text();
        Event::message(
            self.conn.id,
            self.conn.listener,
            text,
            message.into_payload(),
        )
    }
}

/// The connection's last event, from how its stream ended.
fn last_event<S>(conn: &Conn, ws: &WebSocket<S>, end: Option<Error>) -> Event
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let close = |code: u16, reason: &str| {
        Event::with_text(
            SOCKEYE_EVENT_CLOSE,
            conn.id,
            conn.listener,
            reason,
            code,
            sockeye_result::SOCKEYE_OK,
        )
    };
    let error = match end {
        None => {
            return match ws.close_frame() {
                Some(frame) => close(frame.code.as_u16(), frame.reason.as_str()),
                None => close(1005, ""),
            };
        }
        Some(Error::AbnormalClosure) => return close(1006, ""),
        Some(e) => e,
    };
    let (code, close_code) = classify(&error);
    Event::with_text(
        SOCKEYE_EVENT_ERROR,
        conn.id,
        conn.listener,
        &describe(&error),
        close_code,
        code,
    )
}

/// The result code of a connection's failure, and the close code sent for
/// it (0 when none was).
pub(crate) fn classify(error: &Error) -> (sockeye_result, u16) {
    match error {
        Error::Protocol(e) => {
            let code = match e {
                sockeye::proto::Error::MessageTooBig { .. }
                | sockeye::proto::Error::FrameTooBig { .. } => {
                    sockeye_result::SOCKEYE_ERR_TOO_LARGE
                }
                _ => sockeye_result::SOCKEYE_ERR_PROTOCOL,
            };
            (code, e.close_code().as_u16())
        }
        Error::Handshake(_) => (sockeye_result::SOCKEYE_ERR_HANDSHAKE, 0),
        Error::Timeout(sockeye::Timeout::Keepalive) => (sockeye_result::SOCKEYE_ERR_TIMEOUT, 1011),
        Error::Timeout(sockeye::Timeout::Idle) => (sockeye_result::SOCKEYE_ERR_TIMEOUT, 1001),
        Error::Timeout(_) => (sockeye_result::SOCKEYE_ERR_TIMEOUT, 0),
        Error::InvalidUrl(_) | Error::InvalidHeader(_) | Error::Usage(_) => {
            (sockeye_result::SOCKEYE_ERR_INVALID, 0)
        }
        Error::Tls(_) => (sockeye_result::SOCKEYE_ERR_TLS, 0),
        _ => (sockeye_result::SOCKEYE_ERR_IO, 0),
    }
}

/// An error and its causes on one line: "i/o error: connection refused".
pub(crate) fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
