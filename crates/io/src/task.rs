//! [`run`]: runs a handler's future in place, spawning it only if it must
//! wait.

use std::future::Future;
use std::task::{Context, Waker};

/// Runs `future` at once, in the caller's task, as far as it goes without
/// waiting; only a future that must wait is spawned. Most handlers finish
/// in their first poll, so an event costs no task; and the effects of
/// every handler that does not wait (joining rooms, registering event
/// handlers, emitting) happen in the order the packets arrived.
pub(crate) fn run(future: impl Future<Output = ()> + Send + 'static) {
    let mut future = Box::pin(future);
    // A waker that does nothing is enough for this first poll: a future
    // left pending is spawned, and the runtime polls a new task at once,
    // registering its real waker then.
    let mut cx = Context::from_waker(Waker::noop());
    if future.as_mut().poll(&mut cx).is_pending() {
        tokio::spawn(future);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_future_that_does_not_wait_runs_in_place_and_one_that_does_is_spawned() {
        let done = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&done);
        run(async move {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 1, "ran before run returned");

        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let counter = Arc::clone(&done);
        run(async move {
            let _ = rx.await;
            counter.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.load(Ordering::SeqCst), 1, "still waiting");
        tx.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), async {
            while done.load(Ordering::SeqCst) < 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the spawned rest ran");
    }
}
