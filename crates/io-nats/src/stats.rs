//! [`NatsStats`]: what went wrong between the adapters and the broker,
//! counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of the faults the adapters of one
/// [`NatsAdapters`](crate::NatsAdapters) met since they were made.
///
/// None of them stops a server: it goes on delivering to its own sockets,
/// and each fault is also logged (`tracing`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatsStats {
    /// Messages (broadcasts, requests, answers, stream writes, sessions)
    /// not published: the broker was away or refused them, or the queue
    /// to it was full; with recovery, a broadcast for the stream that
    /// found no room among those waiting for the broker, or waited longer
    /// than a client can be away. Each such broadcast was still delivered
    /// to this server's sockets.
    pub unpublished: u64,
    /// Broadcasts for the stream (recovery) that waited for the broker and
    /// were written once it was back; the other servers delivered them
    /// then, late but in order.
    pub delayed: u64,
    /// Connections to the broker made again after one was lost.
    pub reconnects: u64,
    /// Messages received that could not be decoded, and were dropped.
    pub malformed: u64,
    /// Messages the client dropped because too many were waiting to be
    /// handled, and restored sockets that missed packets while joining.
    pub overflowed: u64,
    /// Requests not sent because too many were waiting already.
    pub refused_requests: u64,
    /// Requests whose answers were not all in at their timeout.
    pub timed_out_requests: u64,
    /// Other servers' broadcasts with acks delivered here without waiting
    /// for acks, because
    /// [`max_remote_ack_waits`](crate::NatsAdapterConfig::max_remote_ack_waits)
    /// were already waited on.
    pub refused_ack_waits: u64,
}

/// The live counters behind [`NatsStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) unpublished: AtomicU64,
    pub(crate) delayed: AtomicU64,
    pub(crate) reconnects: AtomicU64,
    pub(crate) malformed: AtomicU64,
    pub(crate) overflowed: AtomicU64,
    pub(crate) refused_requests: AtomicU64,
    pub(crate) timed_out_requests: AtomicU64,
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
    pub(crate) fn snapshot(&self) -> NatsStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NatsStats {
            unpublished: get(&self.unpublished),
            delayed: get(&self.delayed),
            reconnects: get(&self.reconnects),
            malformed: get(&self.malformed),
            overflowed: get(&self.overflowed),
            refused_requests: get(&self.refused_requests),
            timed_out_requests: get(&self.timed_out_requests),
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
