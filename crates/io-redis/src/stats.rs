//! [`AdapterStats`]: what went wrong between the adapter and the broker,
//! counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of the faults the Redis adapters of one
/// [`RedisAdapters`](crate::RedisAdapters) met since they were made.
///
/// None of them stops a server: it goes on delivering to its own sockets,
/// and each fault is also logged (`tracing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdapterStats {
    /// Messages (broadcasts, requests, responses) that were not published:
    /// the broker could not be reached, refused them, or the queue to it
    /// was full.
    pub unpublished: u64,
    /// Connections to the broker made again after one was lost or could
    /// not be made.
    pub reconnects: u64,
    /// Messages received that could not be decoded, and were dropped.
    pub malformed: u64,
    /// Messages received that were dropped because too many (4096) were
    /// already waiting to be handled.
    pub overflowed: u64,
    /// Requests not sent because [`max_in_flight`] were already waiting.
    ///
    /// [`max_in_flight`]: crate::RedisAdapterConfig::max_in_flight
    pub refused_requests: u64,
    /// Requests whose answers were not all in when the request timed out.
    pub timed_out_requests: u64,
    /// Streams adapter: writes that waited for a broker that was away and
    /// went out once it was back (the other servers then delivered them).
    pub delayed: u64,
    /// Other servers' broadcasts with acks delivered here without waiting
    /// for acks, because [`max_remote_ack_waits`] were already waited on.
    ///
    /// [`max_remote_ack_waits`]: crate::RedisAdapterConfig::max_remote_ack_waits
    pub refused_ack_waits: u64,
}

/// The live counters behind [`AdapterStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) unpublished: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) refused_requests: AtomicU64,
    pub(crate) timed_out_requests: AtomicU64,
    pub(crate) delayed: AtomicU64,
    pub(crate) refused_ack_waits: AtomicU64,
    /// Other servers' broadcasts with acks waited on now.
    pub(crate) ack_waits: AtomicU64,
}

impl Counters {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub(crate) fn snapshot(&self) -> AdapterStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AdapterStats {
            unpublished: get(&self.unpublished),
            reconnects: get(&self.reconnects),
            malformed: get(&self.malformed),
            overflowed: get(&self.overflowed),
            refused_requests: get(&self.refused_requests),
            timed_out_requests: get(&self.timed_out_requests),
            delayed: get(&self.delayed),
            refused_ack_waits: get(&self.refused_ack_waits),
        }
    }

    /// One more wait on another server's broadcast with acks, if fewer
    /// than `max` are waited on; it ends when the guard is dropped.
    pub(crate) fn enter_ack_wait(self: &Arc<Self>, max: usize) -> Option<AckWait> {
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        let entered = self
            .ack_waits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |now| {
                (now < max).then_some(now + 1)
            })
            .is_ok();
        if entered {
            Some(AckWait(Arc::clone(self)))
        } else {
            Self::bump(&self.refused_ack_waits);
            None
        }
    }
}

/// A wait on another server's broadcast with acks, counted while it lives.
#[derive(Debug)]
pub(crate) struct AckWait(Arc<Counters>);

impl Drop for AckWait {
    fn drop(&mut self) {
        self.0.ack_waits.fetch_sub(1, Ordering::Relaxed);
    }
}
