//! Waking connection tasks from threads outside the runtime, in batches.
//!
//! A send from a C thread, or the poller marking an event handled, has to
//! wake a connection's task. Waking a task from outside the runtime costs
//! a system call per wake-up on a single-threaded runtime (it writes the
//! runtime's eventfd each time). Instead, such wake-ups are collected
//! here, and one task on the runtime, the dispatcher, is woken for the
//! whole batch and wakes each task from inside the runtime, where a
//! wake-up only appends to the run queue. A burst of sends then costs one
//! cross-thread wake-up.

use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};

#[derive(Debug, Default)]
struct State {
    /// Tasks to wake.
    pending: Vec<Waker>,
    /// The dispatcher, once it has run.
    dispatcher: Option<Waker>,
    /// The dispatcher was woken and has not run since.
    notified: bool,
}

/// The wake-ups waiting for the dispatcher.
#[derive(Debug, Default)]
pub(crate) struct Wakeups(Mutex<State>);

impl Wakeups {
    fn state(&self) -> MutexGuard<'_, State> {
        // Each change is complete at every step.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Wakes `wakers`' tasks soon, from the runtime.
    pub(crate) fn wake(&self, wakers: impl IntoIterator<Item = Waker>) {
        let dispatcher = {
            let mut state = self.state();
            let before = state.pending.len();
            state.pending.extend(wakers);
            if state.pending.len() == before || state.notified {
                return;
            }
            state.notified = true;
            state.dispatcher.take()
        };
        if let Some(dispatcher) = dispatcher {
            dispatcher.wake();
        }
    }

    /// The wake-ups not dispatched yet, taken.
    #[cfg(test)]
    pub(crate) fn take_pending(&self) -> Vec<Waker> {
        std::mem::take(&mut self.state().pending)
    }

    /// The dispatcher: runs on the runtime until the runtime stops.
    pub(crate) async fn dispatch(self: Arc<Self>) {
        let mut batch = Vec::new();
        poll_fn::<(), _>(|cx| {
            {
                let mut state = self.state();
                state.notified = false;
                match &state.dispatcher {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => state.dispatcher = Some(cx.waker().clone()),
                }
                std::mem::swap(&mut state.pending, &mut batch);
            }
            batch.drain(..).for_each(Waker::wake);
            Poll::Pending
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn the_dispatcher_wakes_every_task_once_per_batch() {
        let wakeups = Arc::new(Wakeups::default());
        let tasks = Arc::new(Count(AtomicUsize::new(0)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let dispatcher = tokio::spawn(Arc::clone(&wakeups).dispatch());
            tokio::task::yield_now().await;
            wakeups.wake((0..3).map(|_| Waker::from(Arc::clone(&tasks))));
            wakeups.wake(std::iter::empty());
            for _ in 0..3 {
                tokio::task::yield_now().await;
            }
            assert_eq!(tasks.0.load(Ordering::SeqCst), 3);
            dispatcher.abort();
        });
    }
}
