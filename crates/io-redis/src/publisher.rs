//! [`Publisher`]: the bounded queue of messages to publish, and the task
//! that publishes them in order.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::link::Link;
use crate::stats::Counters;

/// How many queued messages go to the broker in one pipeline: enough to
/// spare a round trip per message under load, few enough that one
/// pipeline stays small.
const BATCH: usize = 64;

/// One message to publish: its channel and its bytes.
type Message = (String, Vec<u8>);

/// Publishes messages in the order given, from any thread, without
/// waiting: [`publish`](Self::publish) queues, a task sends.
///
/// What cannot be published (the queue is full, or the broker cannot be
/// reached or refuses) is dropped, counted in
/// [`AdapterStats::unpublished`](crate::AdapterStats) and logged: a
/// broadcast still reached this server's own sockets.
#[derive(Debug)]
pub(crate) struct Publisher {
    queue: mpsc::Sender<Message>,
    counters: Arc<Counters>,
}

impl Publisher {
    /// A publisher on `link` with room for `capacity` waiting messages; its
    /// task runs on `runtime` until the publisher is dropped.
    pub(crate) fn new(
        link: Arc<Link>,
        capacity: usize,
        counters: Arc<Counters>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        runtime.spawn(run(link, rx, Arc::clone(&counters)));
        Self { queue, counters }
    }

    /// Queues `bytes` for `channel`.
    pub(crate) fn publish(&self, channel: String, bytes: Vec<u8>) {
        if let Err(e) = self.queue.try_send((channel, bytes)) {
            Counters::bump(&self.counters.unpublished);
            let (channel, _) = e.into_inner();
            tracing::warn!(%channel, "redis adapter: the publish queue is full; a message is dropped");
        }
    }
}

/// Publishes what is queued, up to [`BATCH`] messages per pipeline, until
/// every sender is gone.
async fn run(link: Arc<Link>, mut rx: mpsc::Receiver<Message>, counters: Arc<Counters>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let Some(mut conn) = link.connection().await else {
            drop_batch(&counters, &mut batch);
            continue;
        };
        let mut pipe = redis::pipe();
        for (channel, bytes) in &batch {
            pipe.publish(channel, bytes.as_slice()).ignore();
        }
        let sent: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
        match sent {
            Ok(()) => batch.clear(),
            Err(e) => {
                link.lost(&e).await;
                drop_batch(&counters, &mut batch);
            }
        }
    }
}

/// Counts and forgets messages that could not be published.
fn drop_batch(counters: &Counters, batch: &mut Vec<Message>) {
    let n = batch.len() as u64;
    counters
        .unpublished
        .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    tracing::warn!(
        messages = n,
        "redis adapter: the broker cannot be reached; messages dropped"
    );
    batch.clear();
}
