//! [`Publisher`]: the bounded queue of messages to publish, and the task
//! that publishes them in order while the broker is there and counts
//! those it cannot.

use std::sync::Arc;

use async_nats::connection::State;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::stats::Counters;

/// The sending side of the queue.
#[derive(Debug)]
pub(crate) struct Publisher {
    queue: mpsc::Sender<(String, Bytes)>,
    counters: Arc<Counters>,
}

impl Publisher {
    /// A queue of `capacity` messages, published by a task on `runtime`
    /// through `client`; the task ends when the publisher is dropped.
    pub(crate) fn start(
        client: async_nats::Client,
        capacity: usize,
        counters: Arc<Counters>,
        runtime: &tokio::runtime::Handle,
    ) -> Self {
        let (queue, queued) = mpsc::channel(capacity.max(1));
        runtime.spawn(run(client, queued, Arc::clone(&counters)));
        Self { queue, counters }
    }

    /// Queues `payload` for `subject`; when the queue is full it is
    /// dropped, counted and logged.
    pub(crate) fn publish(&self, subject: String, payload: Vec<u8>) {
        if self.queue.try_send((subject, payload.into())).is_err() {
            Counters::bump(&self.counters.unpublished);
            tracing::warn!("nats adapter: publishing queue full; a message is dropped");
        }
    }
}

/// Publishes what is queued, in order. While the client is not connected
/// a message is dropped and counted (the first of an outage is logged as
/// a warning), rather than held in memory for an outage of any length.
async fn run(
    client: async_nats::Client,
    mut queued: mpsc::Receiver<(String, Bytes)>,
    counters: Arc<Counters>,
) {
    let mut outage = false;
    while let Some((subject, payload)) = queued.recv().await {
        let sent = if client.connection_state() == State::Connected {
            client
                .publish(subject, payload)
                .await
                .map_err(|e| e.to_string())
        } else {
            Err("not connected to the broker".to_owned())
        };
        match sent {
            Ok(()) => outage = false,
            Err(error) => {
                Counters::bump(&counters.unpublished);
                if outage {
                    tracing::debug!(%error, "nats adapter: a message is not published");
                } else {
                    outage = true;
                    tracing::warn!(%error, "nats adapter: messages are not published (counted in stats)");
                }
            }
        }
    }
}
