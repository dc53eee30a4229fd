//! [`NatsAdapters`]: the adapters of a server's namespaces, sharing one
//! NATS connection.

use std::sync::Arc;
use std::time::Duration;

use async_nats::Event;
use sockeye_io::adapter::Adapter;
use sockeye_io_redis::uid;

use crate::adapter::NatsAdapter;
use crate::config::NatsAdapterConfig;
use crate::error::SetupError;
use crate::publisher::Publisher;
use crate::recovery::{self, Hub, Log};
use crate::shared::Shared;
use crate::stats::{Counters, NatsStats};
use crate::subject::valid_prefix;

/// How many characters a server's node id has: 12 of uid2's 64, so that
/// two servers of a cluster practically never share one.
const NODE_ID_LEN: usize = 12;

/// Makes the [`NatsAdapter`] of each namespace of a server, all on one
/// connection to the broker, for
/// [`SocketIo::with_adapter`](sockeye_io::SocketIo::with_adapter).
///
/// The client reconnects by itself (100 ms doubling up to 5 s), and keeps
/// the subscriptions; meanwhile each server works alone and what it could
/// not publish is counted ([`stats`](Self::stats)) and logged.
#[derive(Clone, Debug)]
pub struct NatsAdapters {
    shared: Arc<Shared>,
}

impl NatsAdapters {
    /// Adapters on the broker at `url` (`nats://host:port`), with
    /// `config`; with [`recovery`](NatsAdapterConfig::recovery), the
    /// stream and the bucket are found or made. Their tasks run on the
    /// current tokio runtime and end when every clone of this and every
    /// adapter made is dropped.
    ///
    /// # Errors
    ///
    /// [`SetupError`] when the prefix is not a subject prefix, outside a
    /// tokio runtime, when the broker cannot be reached, or when the
    /// stream or bucket cannot be set up.
    pub async fn new(url: &str, config: NatsAdapterConfig) -> Result<Self, SetupError> {
        if !valid_prefix(&config.prefix) {
            return Err(SetupError::Prefix(config.prefix));
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SetupError::NoRuntime)?;
        let counters = Arc::new(Counters::default());
        let client = connect(url, &config, &counters).await?;
        let me = uid(NODE_ID_LEN);
        let (log, queues) = match config.recovery.clone() {
            Some(recovery) => {
                let (log, queues) = Log::open(
                    client.clone(),
                    &config.prefix,
                    me.clone(),
                    recovery,
                    Arc::clone(&counters),
                )
                .await?;
                (Some(Arc::new(Hub::new(log))), Some(queues))
            }
            None => (None, None),
        };
        if let (Some(hub), Some(queues)) = (&log, queues) {
            recovery::start(hub, queues, &runtime);
        }
        let publisher = Publisher::start(
            client.clone(),
            config.publish_queue,
            Arc::clone(&counters),
            &runtime,
        );
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                uid: me,
                config: Arc::new(config),
                counters,
                publisher,
                log,
                runtime,
            }),
        })
    }

    /// The adapter of namespace `nsp`.
    pub fn make(&self, nsp: &str) -> Arc<dyn Adapter> {
        Arc::new(NatsAdapter::new(nsp, &self.shared))
    }

    /// Faults counted so far.
    pub fn stats(&self) -> NatsStats {
        self.shared.counters.snapshot()
    }

    /// This server's node id, the same in every namespace.
    pub fn uid(&self) -> &str {
        &self.shared.uid
    }

    /// One round trip to the broker, timed: a request to a fresh inbox,
    /// which nobody answers and the broker itself turns down at once (no
    /// responders). `None` when the client is not connected or the
    /// broker does not answer within the request timeout.
    pub async fn round_trip(&self) -> Option<Duration> {
        let client = &self.shared.client;
        if client.connection_state() != async_nats::connection::State::Connected {
            return None;
        }
        let start = std::time::Instant::now();
        let asked = client.request(client.new_inbox(), bytes::Bytes::new());
        let answer = tokio::time::timeout(self.shared.config.request_timeout, asked)
            .await
            .ok()?;
        match answer {
            Ok(_) => Some(start.elapsed()),
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                Some(start.elapsed())
            }
            Err(_) => None,
        }
    }
}

/// Connects to the broker: reconnecting without end with backoff, each
/// connection made again counted, each lost one and each message the
/// client dropped for a slow subscription logged and counted.
async fn connect(
    url: &str,
    config: &NatsAdapterConfig,
    counters: &Arc<Counters>,
) -> Result<async_nats::Client, SetupError> {
    let (min, max) = (config.reconnect_min, config.reconnect_max);
    let events = Arc::clone(counters);
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    async_nats::ConnectOptions::new()
        .name("sockeye-io-nats")
        .subscription_capacity(config.receive_queue.max(1))
        .max_reconnects(None)
        .reconnect_delay_callback(move |attempts| backoff(attempts, min, max))
        .event_callback(move |event| {
            let (counters, first) = (Arc::clone(&events), Arc::clone(&first));
            async move {
                match event {
                    Event::Connected => {
                        if !first.swap(false, std::sync::atomic::Ordering::Relaxed) {
                            Counters::bump(&counters.reconnects);
                            tracing::info!("nats adapter: connected to the broker again");
                        }
                    }
                    Event::Disconnected => {
                        tracing::warn!(
                            "nats adapter: the connection to the broker is lost; reconnecting"
                        );
                    }
                    Event::SlowConsumer(_) => {
                        Counters::bump(&counters.overflowed);
                        tracing::warn!(
                            "nats adapter: messages received are dropped (too many waiting)"
                        );
                    }
                    other => tracing::debug!(event = %other, "nats adapter: client event"),
                }
            }
        })
        .connect(url)
        .await
        .map_err(SetupError::Connect)
}

/// The wait before reconnection attempt `attempts`: `min` doubling up to
/// `max`.
fn backoff(attempts: usize, min: Duration, max: Duration) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(16);
    min.saturating_mul(1 << doublings).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_bound() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(5));
        assert_eq!(backoff(0, min, max), min);
        assert_eq!(backoff(1, min, max), min);
        assert_eq!(backoff(2, min, max), min * 2);
        assert_eq!(backoff(4, min, max), min * 8);
        assert_eq!(backoff(100, min, max), max);
    }
}
