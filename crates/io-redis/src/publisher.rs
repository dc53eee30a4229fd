//! [`Publisher`]: the bounded queue of messages to publish, and the task
//! that publishes them in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Whether the last message offered found the queue full: a full
    /// queue is logged once, not once per message.
    full: AtomicBool,
}

impl Publisher {
    /// A publisher on `link` with room for `capacity` waiting messages,
    /// publishing with `command` (`PUBLISH`, or `SPUBLISH` for sharded
    /// pub/sub); its task runs on `runtime` until the publisher is dropped.
    pub(crate) fn new(
        link: Arc<Link>,
        command: &'static str,
        capacity: usize,
        counters: Arc<Counters>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let (queue, rx) = mpsc::channel(capacity.max(1));
        runtime.spawn(run(link, command, rx, Arc::clone(&counters)));
        Self {
            queue,
            counters,
            full: AtomicBool::new(false),
        }
    }

    /// Queues `bytes` for `channel`.
    pub(crate) fn publish(&self, channel: String, bytes: Vec<u8>) {
        match self.queue.try_send((channel, bytes)) {
            Ok(()) => {
                if self.full.swap(false, Ordering::Relaxed) {
                    tracing::info!("redis adapter: the publish queue takes messages again");
                }
            }
            Err(e) => {
                Counters::bump(&self.counters.unpublished);
                if !self.full.swap(true, Ordering::Relaxed) {
                    let (channel, _) = e.into_inner();
                    tracing::warn!(%channel,
                        "redis adapter: the publish queue is full; messages are dropped (counted) until it drains");
                }
            }
        }
    }
}

/// Publishes what is queued, up to [`BATCH`] messages per pipeline, until
/// every sender is gone.
async fn run(
    link: Arc<Link>,
    command: &'static str,
    mut rx: mpsc::Receiver<Message>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    // Messages dropped since the last one published: an outage is logged
    // when it starts and when it ends, with its count, not per message.
    let mut dropped: u64 = 0;
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let sent = match link.connection().await {
            Some(mut conn) => {
                let mut pipe = redis::pipe();
                for (channel, bytes) in &batch {
                    pipe.cmd(command)
                        .arg(channel)
                        .arg(bytes.as_slice())
                        .ignore();
                }
                let sent: redis::RedisResult<()> = pipe.query_async(&mut conn).await;
                if let Err(e) = &sent {
                    link.lost(e).await;
                }
                sent.is_ok()
            }
            None => false,
        };
        let n = batch.len() as u64;
        batch.clear();
        if sent {
            if dropped > 0 {
                tracing::info!(
                    dropped,
                    "redis adapter: publishing again after dropping messages"
                );
                dropped = 0;
            }
        } else {
            counters.unpublished.fetch_add(n, Ordering::Relaxed);
            if dropped == 0 {
                tracing::warn!(
                    "redis adapter: the broker cannot be reached; messages are dropped (counted) until it can"
                );
            }
            dropped = dropped.saturating_add(n);
        }
    }
}
