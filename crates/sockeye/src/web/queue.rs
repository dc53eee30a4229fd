//! A small unbounded queue with one waiting consumer, between the
//! [`WebSocket`](super::WebSocket) handle and its background task.
//!
//! Written here rather than taken from `tokio::sync` because this crate
//! builds tokio without its `sync` feature. Unbounded on purpose: the
//! browser API has no backpressure either, and its growth is visible
//! (`bufferedAmount` for commands, the event count for events).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

/// A FIFO whose consumer waits with a waker; closing it refuses new items
/// while what is queued can still be taken.
#[derive(Debug)]
pub(crate) struct Queue<T> {
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    items: VecDeque<T>,
    waker: Option<Waker>,
    closed: bool,
}

impl<T> Queue<T> {
    pub(crate) fn new() -> Self {
        Queue {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                waker: None,
                closed: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Every critical section leaves the queue consistent.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an item; gives it back if the queue is closed.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        let waker = {
            let mut inner = self.lock();
            if inner.closed {
                return Err(item);
            }
            inner.items.push_back(item);
            inner.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Refuses further items and wakes the consumer; `clear` also drops
    /// what is queued.
    pub(crate) fn close(&self, clear: bool) {
        let (waker, dropped) = {
            let mut inner = self.lock();
            inner.closed = true;
            let dropped = if clear {
                std::mem::take(&mut inner.items)
            } else {
                VecDeque::new()
            };
            (inner.waker.take(), dropped)
        };
        // Dropped outside the lock: an item's destructor may touch queues.
        drop(dropped);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next item; `Ready(None)` once closed and empty.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut inner = self.lock();
        if let Some(item) = inner.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        if inner.closed {
            return Poll::Ready(None);
        }
        match &mut inner.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next item if one is queued now.
    pub(crate) fn try_pop(&self) -> Option<T> {
        self.lock().items.pop_front()
    }
}
