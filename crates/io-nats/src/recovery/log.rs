//! [`Log`]: the stream that orders every broadcast of the cluster and the
//! bucket that keeps sessions, made (or found) at start, and the bounded
//! queues of writes to them.

use std::sync::{Arc, Mutex, PoisonError, Weak};

use async_nats::connection::State;
use async_nats::jetstream::{self, kv, stream};
use bytes::Bytes;
use sockeye_io::adapter::BroadcastOptions;
use sockeye_io::parser::Packet;
use tokio::sync::mpsc;

use crate::config::RecoveryConfig;
use crate::core::Core;
use crate::error::SetupError;
use crate::stats::Counters;
use crate::subject::Subjects;

/// Where a sequenced broadcast goes at once, without an offset, when it
/// cannot be written: this server's sockets still get it.
pub(crate) type Fallback = (Weak<Core>, Packet, BroadcastOptions);

/// The header marking a stream message that the server which wrote it
/// delivered to its own sockets already (it waited for the broker), so
/// that this server does not deliver it again when it reads it back.
/// Other servers, and restores, pay it no heed.
pub(crate) const DELIVERED_HEADER: &str = "Sockeye-Delivered";

/// A broadcast to write to the stream.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) subject: String,
    pub(crate) payload: Bytes,
    /// Where it goes here when it is not read back from the stream;
    /// `None` once delivered here (the broker was away when it was
    /// queued).
    pub(crate) fallback: Option<Fallback>,
}

/// A change to a session in the bucket.
#[derive(Debug)]
pub(crate) enum SessionWrite {
    /// Stores (or renews) a session.
    Put { key: String, value: Bytes },
    /// Forgets one.
    Delete { key: String },
}

/// The receiving ends of the write queues, for the writer tasks.
#[derive(Debug)]
pub(crate) struct Queues {
    pub(crate) entries: mpsc::Receiver<Entry>,
    pub(crate) sessions: mpsc::Receiver<SessionWrite>,
}

/// The stream, the bucket and what is written to them.
#[derive(Debug)]
pub(crate) struct Log {
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) stream: stream::Stream,
    pub(crate) kv: kv::Store,
    pub(crate) config: Arc<RecoveryConfig>,
    pub(crate) prefix: String,
    /// This server's node id.
    pub(crate) uid: String,
    pub(crate) counters: Arc<Counters>,
    entries: mpsc::Sender<Entry>,
    sessions: mpsc::Sender<SessionWrite>,
    /// The sequence of the last stream message the reader handed out, held
    /// while it hands one out: a restore takes it to know where live
    /// delivery takes over. `None` until the reader starts.
    pub(crate) reader: Mutex<Option<u64>>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Log {
    /// Finds or makes the stream (`prefix.*.log`, bounded by count and
    /// age) and the bucket (entries living `max_disconnection_duration`).
    pub(crate) async fn open(
        client: async_nats::Client,
        prefix: &str,
        uid: String,
        config: RecoveryConfig,
        counters: Arc<Counters>,
    ) -> Result<(Log, Queues), SetupError> {
        let js = jetstream::new(client.clone());
        let stream = js
            .get_or_create_stream(stream::Config {
                name: config.stream_name.clone(),
                subjects: vec![Subjects::log_wildcard(prefix)],
                max_messages: config.max_msgs,
                max_age: config.max_age,
                storage: stream::StorageType::File,
                discard: stream::DiscardPolicy::Old,
                duplicate_window: duplicate_window(&config),
                ..stream::Config::default()
            })
            .await
            .map_err(|e| SetupError::JetStream {
                what: "stream",
                source: e.into(),
            })?;
        let kv = open_bucket(&js, &config).await?;
        let (entries, entries_rx) = mpsc::channel(config.write_queue.max(1));
        let (sessions, sessions_rx) = mpsc::channel(config.write_queue.max(1));
        let log = Log {
            client,
            js,
            stream,
            kv,
            config: Arc::new(config),
            prefix: prefix.to_owned(),
            uid,
            counters,
            entries,
            sessions,
            reader: Mutex::new(None),
        };
        let queues = Queues {
            entries: entries_rx,
            sessions: sessions_rx,
        };
        Ok((log, queues))
    }

    /// Whether the client is connected just now: a write while it is not
    /// fails at once, rather than waiting for a timeout.
    pub(crate) fn connected(&self) -> bool {
        self.client.connection_state() == State::Connected
    }

    /// Queues a broadcast for the stream. While the client is not
    /// connected it is delivered here at once, without an offset, and
    /// waits for the broker already delivered (so that this server's
    /// sockets get the broadcasts of an outage in the order sent); when the
    /// queue is full it is delivered here at once (if it was not) and
    /// counted.
    pub(crate) fn write(&self, mut entry: Entry) {
        let away = !self.connected();
        if away && let Some(fallback) = entry.fallback.take() {
            deliver_fallback(fallback);
        }
        if let Err(
            mpsc::error::TrySendError::Full(entry) | mpsc::error::TrySendError::Closed(entry),
        ) = self.entries.try_send(entry)
        {
            Counters::bump(&self.counters.unpublished);
            if away {
                tracing::debug!(
                    "nats adapter: stream write queue full; a broadcast is not written"
                );
            } else {
                tracing::warn!(
                    "nats adapter: stream write queue full; a broadcast goes out without an offset"
                );
            }
            if let Some(fallback) = entry.fallback {
                deliver_fallback(fallback);
            }
        }
    }

    /// Queues a change to a session, waiting for room in the queue: for
    /// the renewal of every session, which may be more than the queue
    /// holds at once.
    pub(crate) async fn write_session_waiting(&self, write: SessionWrite) {
        if self.sessions.send(write).await.is_err() {
            Counters::bump(&self.counters.unpublished);
        }
    }

    /// Queues a change to a session; when the queue is full it is dropped
    /// and counted.
    pub(crate) fn write_session(&self, write: SessionWrite) {
        if self.sessions.try_send(write).is_err() {
            Counters::bump(&self.counters.unpublished);
            tracing::warn!("nats adapter: session write queue full; a session is not written");
        }
    }
}

/// How long the stream remembers a write's `Nats-Msg-Id`: as long as a
/// broadcast may wait for the broker, so that one sent again after its
/// acknowledgement was lost is kept once; never past `max_age`, which the
/// server refuses (and past which the first copy is gone anyway).
fn duplicate_window(config: &RecoveryConfig) -> std::time::Duration {
    config
        .max_disconnection_duration
        .min(config.max_age)
        .max(std::time::Duration::from_secs(1))
}

/// Finds or makes the sessions' bucket. Its stream is made here as the
/// key-value convention lays it out (`KV_<bucket>` on `$KV.<bucket>.>`,
/// one value per key, rollups allowed, deletes kept as markers), because
/// the client's own bucket creation first asks for account details in a
/// shape nats-server 2.9 does not answer with.
async fn open_bucket(
    js: &jetstream::Context,
    config: &RecoveryConfig,
) -> Result<kv::Store, SetupError> {
    let failed = |e: async_nats::Error| SetupError::JetStream {
        what: "bucket",
        source: e,
    };
    js.get_or_create_stream(stream::Config {
        name: format!("KV_{}", config.bucket),
        subjects: vec![format!("$KV.{}.>", config.bucket)],
        max_messages_per_subject: 1,
        max_age: config.max_disconnection_duration,
        storage: stream::StorageType::File,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        num_replicas: 1,
        ..stream::Config::default()
    })
    .await
    .map_err(|e| failed(e.into()))?;
    js.get_key_value(&config.bucket)
        .await
        .map_err(|e| failed(e.into()))
}

/// Delivers a broadcast that could not be written to this server's
/// sockets, without an offset.
pub(crate) fn deliver_fallback((core, packet, opts): Fallback) {
    if let Some(local) = core.upgrade().and_then(|core| core.local()) {
        local.broadcast(&packet, &opts);
    }
}
