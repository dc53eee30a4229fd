//! The connections by id, and what other threads hand a connection's task:
//! messages and a close, through its outbox.
//!
//! A send from any thread takes the outbox's lock, counts the bytes and
//! appends; it wakes the task only if no wake-up is pending since the task
//! last emptied the outbox. The task empties the whole outbox under one
//! lock per wake-up, so a burst of sends costs one wake-up and one lock on
//! the task's side.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::task::Waker;

use sockeye::{CloseCode, Message};

use super::wakeups::Wakeups;
use crate::result::sockeye_result;

/// What a connection's task is told to do.
#[derive(Debug)]
pub(crate) enum Command {
    Send(Message),
    Close(CloseCode, String),
}

/// Where a connection stands, as senders see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A client whose opening handshake is under way.
    Connecting,
    Open,
    /// `sockeye_close` was called: nothing more may be sent.
    Closing,
    /// The task ended; the id lives until the poller sees the last event.
    Ended,
}

#[derive(Debug)]
struct Outbox {
    phase: Phase,
    commands: Vec<Command>,
    waker: Option<Waker>,
    /// A wake-up was sent since the task last emptied the outbox.
    notified: bool,
}

/// One connection as the C side addresses it.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) id: u64,
    /// The listener that accepted it; 0 for clients.
    pub(crate) listener: u64,
    outbox: Mutex<Outbox>,
    /// Bytes queued in the outbox plus the engine's unwritten output.
    buffered: AtomicUsize,
    /// The limit above which sends are refused.
    max_buffered: usize,
    /// Where wake-ups of the task go.
    wakeups: Arc<Wakeups>,
}

impl Conn {
    /// A connection in the opening handshake (`connecting`) or open.
    pub(crate) fn new(
        id: u64,
        listener: u64,
        max_buffered: usize,
        connecting: bool,
        wakeups: Arc<Wakeups>,
    ) -> Conn {
        Conn {
            id,
            listener,
            outbox: Mutex::new(Outbox {
                phase: if connecting {
                    Phase::Connecting
                } else {
                    Phase::Open
                },
                commands: Vec::new(),
                waker: None,
                notified: false,
            }),
            buffered: AtomicUsize::new(0),
            max_buffered,
            wakeups,
        }
    }

    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // Each change to the outbox is complete at every step.
        self.outbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `message` for the task and gives the buffered amount after
    /// it. Refused with `SOCKEYE_ERR_BACKPRESSURE` when the buffered amount
    /// is at or over the limit already, `SOCKEYE_ERR_STATE` before the
    /// connection is open, `SOCKEYE_ERR_CLOSED` once it is closing.
    pub(crate) fn send(&self, message: Message) -> Result<usize, sockeye_result> {
        let len = message.len();
        let mut outbox = self.outbox();
        match outbox.phase {
            Phase::Open => {}
            Phase::Connecting => return Err(sockeye_result::SOCKEYE_ERR_STATE),
            Phase::Closing | Phase::Ended => return Err(sockeye_result::SOCKEYE_ERR_CLOSED),
        }
        let before = self.buffered.load(Ordering::Acquire);
        if before >= self.max_buffered {
            return Err(sockeye_result::SOCKEYE_ERR_BACKPRESSURE);
        }
        // Counted before the task can take it, so that the task's
        // subtraction never comes first.
        self.buffered.fetch_add(len, Ordering::AcqRel);
        outbox.commands.push(Command::Send(message));
        let waker = Self::wake_once(&mut outbox);
        drop(outbox);
        self.wakeups.wake(waker);
        Ok(before + len)
    }

    /// Queues a Close for the task; nothing more may be sent. A second
    /// call does nothing. `SOCKEYE_ERR_CLOSED` once the task has ended.
    pub(crate) fn close(&self, code: CloseCode, reason: String) -> Result<(), sockeye_result> {
        let mut outbox = self.outbox();
        match outbox.phase {
            Phase::Connecting | Phase::Open => {}
            Phase::Closing => return Ok(()),
            Phase::Ended => return Err(sockeye_result::SOCKEYE_ERR_CLOSED),
        }
        outbox.phase = Phase::Closing;
        outbox.commands.push(Command::Close(code, reason));
        let waker = Self::wake_once(&mut outbox);
        drop(outbox);
        self.wakeups.wake(waker);
        Ok(())
    }

    /// The waker to call after appending, if the task has not been woken
    /// since it last emptied the outbox.
    fn wake_once(outbox: &mut Outbox) -> Option<Waker> {
        if outbox.notified {
            return None;
        }
        outbox.notified = true;
        outbox.waker.take()
    }

    /// The task's side: moves every queued command into `into` (empty)
    /// and registers `waker` for the next ones.
    pub(crate) fn take_commands(&self, into: &mut Vec<Command>, waker: &Waker) {
        let mut outbox = self.outbox();
        outbox.notified = false;
        match &outbox.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => outbox.waker = Some(waker.clone()),
        }
        std::mem::swap(&mut outbox.commands, into);
    }

    /// The opening handshake finished: sends are allowed (unless a close
    /// came first).
    pub(crate) fn opened(&self) {
        let mut outbox = self.outbox();
        if outbox.phase == Phase::Connecting {
            outbox.phase = Phase::Open;
        }
    }

    /// The task ended: what is still queued is dropped, and sends and
    /// closes are refused with `SOCKEYE_ERR_CLOSED`.
    pub(crate) fn ended(&self) {
        let commands = {
            let mut outbox = self.outbox();
            outbox.phase = Phase::Ended;
            outbox.waker = None;
            std::mem::take(&mut outbox.commands)
        };
        drop(commands);
    }

    /// Bytes queued and not yet written to the socket.
    pub(crate) fn buffered_amount(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    /// The task's side: adds `delta` (wrapping: a negative change is a
    /// large one) to the buffered amount.
    pub(crate) fn adjust_buffered(&self, delta: usize) {
        if delta != 0 {
            self.buffered.fetch_add(delta, Ordering::AcqRel);
        }
    }
}

/// Every connection the C side can address, by id.
#[derive(Debug, Default)]
pub(crate) struct Conns(RwLock<HashMap<u64, Arc<Conn>>>);

impl Conns {
    pub(crate) fn insert(&self, conn: Arc<Conn>) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(conn.id, conn);
    }

    /// The connection with this id; `SOCKEYE_ERR_NOT_FOUND` if none.
    pub(crate) fn get(&self, id: u64) -> Result<Arc<Conn>, sockeye_result> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .cloned()
            .ok_or(sockeye_result::SOCKEYE_ERR_NOT_FOUND)
    }

    pub(crate) fn remove(&self, id: u64) {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Every connection now.
    pub(crate) fn all(&self) -> Vec<Arc<Conn>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_result::*;

    #[test]
    fn sends_are_refused_before_open_over_the_limit_and_after_close() {
        let conn = Conn::new(1, 0, 10, true, Arc::default());
        assert_eq!(
            conn.send(Message::binary(vec![0; 4])),
            Err(SOCKEYE_ERR_STATE)
        );
        conn.opened();
        assert_eq!(conn.send(Message::binary(vec![0; 4])), Ok(4));
        // The message that crosses the limit is taken; the next is not.
        assert_eq!(conn.send(Message::binary(vec![0; 8])), Ok(12));
        assert_eq!(
            conn.send(Message::binary(vec![0; 1])),
            Err(SOCKEYE_ERR_BACKPRESSURE)
        );
        let mut taken = Vec::new();
        conn.take_commands(&mut taken, std::task::Waker::noop());
        assert_eq!(taken.len(), 2);
        conn.adjust_buffered(0usize.wrapping_sub(12));
        assert_eq!(conn.buffered_amount(), 0);
        assert_eq!(conn.close(CloseCode::NORMAL, String::new()), Ok(()));
        assert_eq!(conn.close(CloseCode::NORMAL, String::new()), Ok(()));
        assert_eq!(
            conn.send(Message::binary(vec![0; 1])),
            Err(SOCKEYE_ERR_CLOSED)
        );
        conn.ended();
        assert_eq!(
            conn.close(CloseCode::NORMAL, String::new()),
            Err(SOCKEYE_ERR_CLOSED)
        );
    }

    #[test]
    fn the_table_finds_and_forgets_by_id() {
        let conns = Conns::default();
        conns.insert(Arc::new(Conn::new(5, 2, 10, false, Arc::default())));
        assert_eq!(conns.get(5).unwrap().listener, 2);
        assert_eq!(conns.all().len(), 1);
        conns.remove(5);
        assert_eq!(conns.get(5).err(), Some(SOCKEYE_ERR_NOT_FOUND));
    }
}
