//! What a context's exports and its runtime's tasks share: the event
//! queue, the connections and listeners by id, the error messages, the
//! runtime's handle, and the count of running connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

use super::conns::Conns;
use super::failure::{Failure, LastErrors};
use super::queue::EventQueue;
use super::wakeups::Wakeups;
use crate::result::sockeye_result;

/// A listening socket's accept loop.
#[derive(Debug)]
pub(crate) struct Listener {
    pub(crate) port: u16,
    pub(crate) task: JoinHandle<()>,
}

/// The state of one context.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) events: EventQueue,
    pub(crate) conns: Conns,
    pub(crate) listeners: Mutex<HashMap<u64, Listener>>,
    pub(crate) errors: LastErrors,
    pub(crate) handle: Handle,
    /// Wake-ups of tasks from outside the runtime.
    pub(crate) wakeups: Arc<Wakeups>,
    /// Connection and listener ids share one sequence, from 1: an id is
    /// never reused by the same context.
    next_id: AtomicU64,
    /// Connection tasks running now.
    live: Mutex<usize>,
    live_changed: Condvar,
}

impl Shared {
    pub(crate) fn new(events: EventQueue, handle: Handle, wakeups: Arc<Wakeups>) -> Shared {
        Shared {
            events,
            conns: Conns::default(),
            listeners: Mutex::default(),
            errors: LastErrors::default(),
            handle,
            wakeups,
            next_id: AtomicU64::new(1),
            live: Mutex::new(0),
            live_changed: Condvar::new(),
        }
    }

    /// A fresh id.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// An export's result: a failure's message is kept for the calling
    /// thread, its code returned.
    pub(crate) fn report<T>(&self, result: Result<T, Failure>) -> Result<T, sockeye_result> {
        result.map_err(|failure| self.errors.record(failure))
    }

    pub(crate) fn listeners(&self) -> MutexGuard<'_, HashMap<u64, Listener>> {
        self.listeners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a connection task as running until the guard drops.
    pub(crate) fn task_started(self: &Arc<Self>) -> LiveTask {
        *self.live.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        LiveTask(Arc::clone(self))
    }

    /// Waits until no connection task runs, or `grace` passed.
    pub(crate) fn wait_for_tasks(&self, grace: Duration) {
        let deadline = Instant::now() + grace;
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        while *live > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            live = self
                .live_changed
                .wait_timeout(live, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Shared {
    /// [`wait_for_tasks`](Self::wait_for_tasks) inside the runtime of a
    /// context of no threads, which must run for the tasks to end.
    pub(crate) async fn wait_for_tasks_inline(&self, grace: Duration) {
        let deadline = tokio::time::Instant::now() + grace;
        while *self.live.lock().unwrap_or_else(PoisonError::into_inner) > 0
            && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// A running connection task; see [`Shared::task_started`].
#[derive(Debug)]
pub(crate) struct LiveTask(Arc<Shared>);

impl Drop for LiveTask {
    fn drop(&mut self) {
        let mut live = self.0.live.lock().unwrap_or_else(PoisonError::into_inner);
        *live -= 1;
        self.0.live_changed.notify_all();
    }
}
