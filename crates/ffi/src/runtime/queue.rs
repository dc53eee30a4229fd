//! The event queue between the runtime's threads and the one thread that
//! polls, with its bound and its wake-ups.
//!
//! Built for batches, both ways:
//! - a connection's task collects the events of one wake-up and pushes
//!   them under one lock ([`EventQueue::push`]);
//! - the poller takes the whole queue under one lock into a batch of its
//!   own and hands events out of it with no lock per event
//!   ([`EventQueue::poll`]);
//! - the poller is woken (condition variable, wake fd) only on the step
//!   from empty to not empty, and the condition variable only while it
//!   sleeps.
//!
//! # Handled events
//!
//! An event is handled once the poller comes back for the next one: by
//! then the C side has done what the event called for (an echo, a
//! reply). [`EventQueue::handled`] tells a connection's task whether its
//! last event is, and [`EventQueue::wait_handled`] wakes it when it is.
//! A task reads no further input until then, so what the C side sends in
//! answer to a message is queued before the engine looks at the frames
//! after it, as if the C code ran inside the read loop: a reply to a
//! message still goes out when the next frame breaks the protocol and
//! fails the connection (the strict ordering that the Autobahn test
//! suite checks).
//!
//! # The bound
//!
//! [`QUEUE_LIMIT`] bytes (payloads plus [`EVENT_OVERHEAD`] per event).
//! A connection's task checks it before each read from its socket: over
//! it, the task stops reading (the peer's TCP window then fills and the
//! peer stops sending) until the poller takes the queue. So when the C
//! side stops polling, what the context holds is at most the limit, plus
//! what one read brings per connection (at most 64 KiB of frames, or the
//! rest of one message of up to `max_message_size`), plus the batch the
//! poller took last (itself under the same bound).

use std::cmp::{Ordering as Order, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::Waker;
use std::time::{Duration, Instant};

use super::event::{Event, sockeye_event};
use super::wake::WakeFd;
use super::wakeups::Wakeups;
use crate::result::sockeye_result;

/// The queue's bound in bytes: 8 MiB. That is 128 reads of 64 KiB, so a
/// hundred busy connections can each queue a full read before any of them
/// pauses, while a poller that stops for good makes the context hold a
/// few MiB, not whatever the peers send.
pub(crate) const QUEUE_LIMIT: usize = 8 << 20;

/// How long a poller that found the queue empty looks again before it
/// sleeps: 50 µs, a few times what the runtime takes to turn a read into
/// events, and short enough that an idle context costs next to nothing.
const SPIN: Duration = Duration::from_micros(50);

/// The queue proper, behind the runtime side's lock.
#[derive(Debug, Default)]
struct Pending {
    events: VecDeque<Event>,
    /// The cost of `events`.
    bytes: usize,
    /// The poller sleeps on the condition variable.
    poller_waiting: bool,
    /// The wake fd has been made readable and not reset since.
    fd_signaled: bool,
    /// Tasks that stopped reading because the queue was full.
    blocked: Vec<Waker>,
    /// The context is being freed: events are dropped.
    discard: bool,
    /// The `seq` of the last event pushed.
    seq: u64,
}

/// The poller's side, used by one thread at a time.
#[derive(Debug, Default)]
struct Poller {
    /// Taken from the queue in one go; handed out one by one.
    batch: VecDeque<Event>,
    /// The event last handed out, whose data the caller may still read.
    current: Option<Event>,
}

/// A task waiting for the event with `seq` to be handled.
#[derive(Debug)]
struct Waiter {
    seq: u64,
    waker: Waker,
}

impl PartialEq for Waiter {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}

impl Eq for Waiter {}

impl PartialOrd for Waiter {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Waiter {
    fn cmp(&self, other: &Self) -> Order {
        self.seq.cmp(&other.seq)
    }
}

/// The queue, its bound and its wake-ups.
#[derive(Debug)]
pub(crate) struct EventQueue {
    pending: Mutex<Pending>,
    /// Mirrors `pending.bytes`, so a task can check the bound without the
    /// lock.
    bytes: AtomicUsize,
    ready: Condvar,
    wake: WakeFd,
    poller: Mutex<Poller>,
    /// The `seq` of the last event handled (see the module's docs).
    handled: AtomicU64,
    /// Tasks waiting for an event of theirs to be handled, the lowest
    /// `seq` first.
    handled_waiters: Mutex<BinaryHeap<Reverse<Waiter>>>,
    /// `handled_waiters` is not empty.
    any_handled_waiter: AtomicBool,
    /// Where the poller's wake-ups of tasks go.
    wakeups: Arc<Wakeups>,
    /// Wakes a poller that drives the runtime itself (a context of no
    /// threads) and awaits events inside it.
    arrived: tokio::sync::Notify,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here leaves its data consistent at each
    // step, so a panic in one does not make the data unusable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl EventQueue {
    /// An empty queue with its wake fd; tasks are woken through
    /// `wakeups`.
    pub(crate) fn new(wakeups: Arc<Wakeups>) -> std::io::Result<EventQueue> {
        Ok(EventQueue {
            pending: Mutex::default(),
            bytes: AtomicUsize::new(0),
            ready: Condvar::new(),
            wake: WakeFd::new()?,
            poller: Mutex::default(),
            handled: AtomicU64::new(0),
            handled_waiters: Mutex::default(),
            any_handled_waiter: AtomicBool::new(false),
            wakeups,
            arrived: tokio::sync::Notify::new(),
        })
    }

    /// The fd that is readable while events wait.
    pub(crate) fn fd(&self) -> i32 {
        self.wake.raw()
    }

    /// Whether the queue is at its bound: a task should not read.
    pub(crate) fn is_full(&self) -> bool {
        self.bytes.load(Ordering::Relaxed) >= QUEUE_LIMIT
    }

    /// With the queue full, registers `waker` to be woken when the poller
    /// takes it, and returns `true`; returns `false` if it is not full
    /// (any more).
    pub(crate) fn wait_for_space(&self, waker: &Waker) -> bool {
        let mut pending = lock(&self.pending);
        if pending.bytes < QUEUE_LIMIT || pending.discard {
            return false;
        }
        if !pending.blocked.iter().any(|w| w.will_wake(waker)) {
            pending.blocked.push(waker.clone());
        }
        true
    }

    /// Appends `events` (leaving the vector empty) and wakes the poller if
    /// the queue was empty. Gives the `seq` of the last event pushed, for
    /// [`handled`](Self::handled); 0 when nothing needs handling.
    pub(crate) fn push(&self, events: &mut Vec<Event>) -> u64 {
        if events.is_empty() {
            return 0;
        }
        let mut pending = lock(&self.pending);
        if pending.discard {
            drop(pending);
            events.clear();
            return 0;
        }
        let mut cost = 0;
        for event in events.iter_mut() {
            pending.seq += 1;
            event.seq = pending.seq;
            cost += event.cost();
        }
        pending.bytes += cost;
        self.bytes.store(pending.bytes, Ordering::Relaxed);
        pending.events.extend(events.drain(..));
        if pending.poller_waiting {
            self.ready.notify_one();
            self.arrived.notify_one();
        }
        if !pending.fd_signaled {
            pending.fd_signaled = true;
            self.wake.signal();
        }
        pending.seq
    }

    /// Whether the event with this `seq` has been handled (see the
    /// module's docs).
    pub(crate) fn handled(&self, seq: u64) -> bool {
        self.handled.load(Ordering::SeqCst) >= seq
    }

    /// Registers `waker` to be woken once the event with this `seq` is
    /// handled, and returns `true`; `false` if it is already. A task
    /// registers once per `seq`: the registration stays until then.
    pub(crate) fn wait_handled(&self, seq: u64, waker: &Waker) -> bool {
        let mut waiters = lock(&self.handled_waiters);
        // Set before `handled` is read again: the poller stores `handled`
        // before it reads the flag, so one of the two sees the other.
        self.any_handled_waiter.store(true, Ordering::SeqCst);
        if self.handled(seq) {
            return false;
        }
        waiters.push(Reverse(Waiter {
            seq,
            waker: waker.clone(),
        }));
        true
    }

    /// Marks every event up to `seq` handled and wakes the tasks that
    /// waited for it.
    fn mark_handled(&self, seq: u64) {
        self.handled.fetch_max(seq, Ordering::SeqCst);
        if !self.any_handled_waiter.load(Ordering::SeqCst) {
            return;
        }
        let mut ready = Vec::new();
        {
            let mut waiters = lock(&self.handled_waiters);
            while waiters.peek().is_some_and(|w| w.0.seq <= seq) {
                if let Some(Reverse(waiter)) = waiters.pop() {
                    ready.push(waiter.waker);
                }
            }
            if waiters.is_empty() {
                self.any_handled_waiter.store(false, Ordering::SeqCst);
            }
        }
        self.wakeups.wake(ready);
    }

    /// From now on drops what is pushed, and lets every blocked task go
    /// on: the context is being freed.
    pub(crate) fn discard(&self) {
        let blocked = {
            let mut pending = lock(&self.pending);
            pending.discard = true;
            pending.events.clear();
            pending.bytes = 0;
            self.bytes.store(0, Ordering::Relaxed);
            std::mem::take(&mut pending.blocked)
        };
        blocked.into_iter().for_each(Waker::wake);
        self.mark_handled(u64::MAX);
    }

    /// The next event, waiting up to `timeout` (`None`: forever) for one.
    /// `on_final` sees each connection's last event before it is handed
    /// out. The event's data stays in the queue until the next call.
    ///
    /// `SOCKEYE_ERR_AGAIN` when none came in time, `SOCKEYE_ERR_STATE` when
    /// another thread is polling.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        on_final: impl FnOnce(&Event),
    ) -> Result<sockeye_event, sockeye_result> {
        self.take(on_final, |batch| self.refill(batch, timeout))
    }

    /// [`poll`](Self::poll) for a context of no threads: the runtime runs
    /// here, on the poller's thread, while the batch is refilled, and not
    /// at all between polls.
    pub(crate) fn poll_inline(
        &self,
        runtime: &tokio::runtime::Runtime,
        timeout: Option<Duration>,
        on_final: impl FnOnce(&Event),
    ) -> Result<sockeye_event, sockeye_result> {
        self.take(on_final, |batch| {
            runtime.block_on(self.refill_inline(batch, timeout));
        })
    }

    /// Runs the runtime of a context of no threads for `timeout` (one turn
    /// for zero) without handing out events: queued sends leave and
    /// arriving events wait in the queue. `SOCKEYE_ERR_STATE` while another
    /// thread polls.
    pub(crate) fn run_inline(
        &self,
        runtime: &tokio::runtime::Runtime,
        timeout: Duration,
    ) -> Result<(), sockeye_result> {
        let _poller = match self.poller.try_lock() {
            Ok(poller) => poller,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(sockeye_result::SOCKEYE_ERR_STATE),
        };
        runtime.block_on(async {
            tokio::task::yield_now().await;
            tokio::time::sleep(timeout).await;
        });
        Ok(())
    }

    /// The next event of the batch, after `refill` when it is empty.
    fn take(
        &self,
        on_final: impl FnOnce(&Event),
        refill: impl FnOnce(&mut VecDeque<Event>),
    ) -> Result<sockeye_event, sockeye_result> {
        let mut poller = match self.poller.try_lock() {
            Ok(poller) => poller,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return Err(sockeye_result::SOCKEYE_ERR_STATE),
        };
        let poller = &mut *poller;
        if let Some(done) = poller.current.take() {
            self.mark_handled(done.seq);
        }
        if poller.batch.is_empty() {
            refill(&mut poller.batch);
        }
        let event = poller
            .batch
            .pop_front()
            .ok_or(sockeye_result::SOCKEYE_ERR_AGAIN)?;
        if event.is_final() {
            on_final(&event);
        }
        let view = event.view();
        poller.current = Some(event);
        Ok(view)
    }

    /// Waits up to [`SPIN`] for an event to be queued, without sleeping:
    /// yielding the core to the runtime's thread if they share one.
    /// Moves every waiting event into `batch` and lets the tasks that
    /// stopped reading at the bound read again.
    fn take_pending(&self, mut pending: MutexGuard<'_, Pending>, batch: &mut VecDeque<Event>) {
        std::mem::swap(&mut pending.events, batch);
        pending.bytes = 0;
        self.bytes.store(0, Ordering::Relaxed);
        let blocked = std::mem::take(&mut pending.blocked);
        drop(pending);
        blocked.into_iter().for_each(Waker::wake);
    }

    /// Refills `batch` inside the runtime: one turn of it first (the
    /// tasks woken by what the poller did since it last came, and the
    /// sockets that are ready), then waits for events until the timeout.
    /// When events come, the tasks ready with them run before the batch
    /// is taken, so a batch holds what one turn produced.
    async fn refill_inline(&self, batch: &mut VecDeque<Event>, timeout: Option<Duration>) {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        tokio::task::yield_now().await;
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            {
                let mut pending = lock(&self.pending);
                if !pending.events.is_empty() {
                    pending.poller_waiting = false;
                    self.take_pending(pending, batch);
                    return;
                }
                if deadline.is_some_and(|d| d <= tokio::time::Instant::now()) {
                    pending.poller_waiting = false;
                    if pending.fd_signaled {
                        pending.fd_signaled = false;
                        self.wake.reset();
                    }
                    return;
                }
                pending.poller_waiting = true;
            }
            match deadline {
                None => arrived.await,
                Some(deadline) => {
                    let _ = tokio::time::timeout_at(deadline, arrived).await;
                }
            }
            tokio::task::yield_now().await;
        }
    }

    fn spin_for_events(&self) {
        let start = Instant::now();
        while self.bytes.load(Ordering::Relaxed) == 0 && start.elapsed() < SPIN {
            std::thread::yield_now();
        }
    }

    /// Moves the whole queue into `batch` (empty), waiting up to `timeout`
    /// for something to arrive; resets the wake fd when nothing did.
    fn refill(&self, batch: &mut VecDeque<Event>, timeout: Option<Duration>) {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut spun = false;
        let mut pending = lock(&self.pending);
        loop {
            if !pending.events.is_empty() {
                self.take_pending(pending, batch);
                return;
            }
            let left = match deadline {
                None => None,
                Some(deadline) => match deadline.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => {
                        if pending.fd_signaled {
                            pending.fd_signaled = false;
                            self.wake.reset();
                        }
                        return;
                    }
                },
            };
            if !spun {
                // Under load the next events are microseconds away:
                // looking for them a little before sleeping saves two
                // context switches per batch.
                spun = true;
                drop(pending);
                self.spin_for_events();
                pending = lock(&self.pending);
                continue;
            }
            pending.poller_waiting = true;
            pending = match left {
                None => self
                    .ready
                    .wait(pending)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(left) => {
                    self.ready
                        .wait_timeout(pending, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
            pending.poller_waiting = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::event::{SOCKEYE_EVENT_CLOSE, SOCKEYE_EVENT_TEXT};
    use bytes::Bytes;

    fn text(conn: u64, payload: &'static [u8]) -> Event {
        Event::message(conn, 0, true, Bytes::from_static(payload))
    }

    #[test]
    fn events_come_out_in_order_and_an_empty_queue_says_again() {
        let queue = EventQueue::new(Arc::default()).unwrap();
        queue.push(&mut vec![text(1, b"a"), text(1, b"b")]);
        let mut finals = 0;
        let a = queue.poll(Some(Duration::ZERO), |_| finals += 1).unwrap();
        assert_eq!((a.r#type, a.conn, a.len), (SOCKEYE_EVENT_TEXT, 1, 1));
        queue.push(&mut vec![Event::with_text(
            SOCKEYE_EVENT_CLOSE,
            1,
            0,
            "",
            1000,
            sockeye_result::SOCKEYE_OK,
        )]);
        let b = queue.poll(Some(Duration::ZERO), |_| finals += 1).unwrap();
        assert_eq!(b.len, 1);
        let close = queue.poll(Some(Duration::ZERO), |_| finals += 1).unwrap();
        assert_eq!(close.close_code, 1000);
        assert_eq!(finals, 1);
        assert_eq!(
            queue.poll(Some(Duration::from_millis(5)), |_| {}).err(),
            Some(sockeye_result::SOCKEYE_ERR_AGAIN)
        );
    }

    #[test]
    fn a_sleeping_poller_is_woken_by_a_push() {
        let queue = Arc::new(EventQueue::new(Arc::default()).unwrap());
        let pusher = Arc::clone(&queue);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            pusher.push(&mut vec![text(2, b"x")]);
        });
        let event = queue.poll(None, |_| {}).unwrap();
        assert_eq!(event.conn, 2);
        thread.join().unwrap();
    }

    /// A waker that raises a flag.
    struct Flag(Arc<std::sync::atomic::AtomicBool>);

    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_bound_blocks_readers_until_the_poller_takes_the_queue() {
        let queue = EventQueue::new(Arc::default()).unwrap();
        assert!(!queue.is_full());
        let big = Bytes::from(vec![0u8; QUEUE_LIMIT]);
        queue.push(&mut vec![Event::message(3, 0, false, big)]);
        assert!(queue.is_full());
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = Waker::from(Arc::new(Flag(Arc::clone(&woken))));
        assert!(queue.wait_for_space(&waker));
        assert!(!woken.load(Ordering::SeqCst));
        queue.poll(Some(Duration::ZERO), |_| {}).unwrap();
        assert!(woken.load(Ordering::SeqCst));
        assert!(!queue.is_full());
        assert!(!queue.wait_for_space(&waker));
    }

    #[test]
    fn an_event_is_handled_when_the_poller_comes_back() {
        let wakeups = Arc::new(Wakeups::default());
        let queue = EventQueue::new(Arc::clone(&wakeups)).unwrap();
        let seq = queue.push(&mut vec![text(4, b"a"), text(4, b"b")]);
        assert_eq!(seq, 2);
        let woken = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let waker = Waker::from(Arc::new(Flag(Arc::clone(&woken))));
        assert!(!queue.handled(1));
        assert!(queue.wait_handled(1, &waker));
        queue.poll(Some(Duration::ZERO), |_| {}).unwrap();
        // Handed out, not yet handled.
        assert!(!queue.handled(1));
        assert!(!woken.load(Ordering::SeqCst));
        queue.poll(Some(Duration::ZERO), |_| {}).unwrap();
        assert!(queue.handled(1) && !queue.handled(2));
        // Woken through the dispatcher.
        wakeups.take_pending().into_iter().for_each(Waker::wake);
        assert!(woken.load(Ordering::SeqCst));
        assert_eq!(
            queue.poll(Some(Duration::ZERO), |_| {}).err(),
            Some(sockeye_result::SOCKEYE_ERR_AGAIN)
        );
        assert!(queue.handled(2));
        assert!(!queue.wait_handled(2, &waker));
        queue.discard();
        assert!(queue.handled(u64::MAX));
    }

    #[test]
    fn a_second_poller_is_refused() {
        let queue = EventQueue::new(Arc::default()).unwrap();
        let _held = queue.poller.lock().unwrap();
        assert_eq!(
            queue.poll(Some(Duration::ZERO), |_| {}).err(),
            Some(sockeye_result::SOCKEYE_ERR_STATE)
        );
    }
}
