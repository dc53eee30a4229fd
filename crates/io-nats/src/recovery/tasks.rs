//! The recovery tasks: the writers (broadcasts to the stream, in
//! `writer.rs`; sessions to the bucket, in order), the reader (an ordered
//! consumer of the stream, resuming after the last message read) and the
//! renewal of connected sockets' sessions.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::hub::Hub;
use super::log::{DELIVERED_HEADER, Log, SessionWrite, lock};
use super::writer::write_entries;
use crate::envelope::Envelope;
use crate::stats::Counters;
use crate::subject::Subjects;

/// How often the reader looks whether the client connected again, to
/// follow the stream on the new connection at once (the consumer would
/// notice only after two missed heartbeats, seconds later).
const RECONNECT_CHECK: Duration = Duration::from_millis(200);

/// The first wait before the reader tries again to follow the stream
/// after the broker failed; it doubles up to [`READER_RETRY_MAX`], as the
/// client's reconnections do.
const READER_RETRY_MIN: Duration = Duration::from_millis(100);

/// The longest wait between the reader's attempts: a stream back after an
/// outage is followed again within seconds.
const READER_RETRY_MAX: Duration = Duration::from_secs(5);

/// Starts the tasks of `hub` on `runtime`; they end when the hub is gone.
pub(crate) fn start(hub: &Arc<Hub>, queues: super::log::Queues, runtime: &tokio::runtime::Handle) {
    runtime.spawn(write_entries(Arc::downgrade(&hub.log), queues.entries));
    runtime.spawn(write_sessions(Arc::downgrade(&hub.log), queues.sessions));
    runtime.spawn(read(Arc::downgrade(hub)));
    runtime.spawn(renew(Arc::downgrade(hub)));
}

/// Writes session changes to the bucket in the order queued; one that
/// fails is counted.
async fn write_sessions(log: Weak<Log>, mut queued: mpsc::Receiver<SessionWrite>) {
    while let Some(write) = queued.recv().await {
        let Some(log) = log.upgrade() else { return };
        let done = if log.connected() {
            match write {
                SessionWrite::Put { key, value } => log
                    .kv
                    .put(key, value)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string()),
                SessionWrite::Delete { key } => log.kv.delete(key).await.map_err(|e| e.to_string()),
            }
        } else {
            Err("not connected".to_owned())
        };
        if let Err(error) = done {
            Counters::bump(&log.counters.unpublished);
            tracing::debug!(%error, "nats adapter: a session is not written");
        }
    }
}

/// Follows the stream from its end when first started, then from the last
/// message read, also across a lost broker: what was written meanwhile is
/// read once the broker is back (as long as the stream still holds it).
async fn read(hub: Weak<Hub>) {
    let mut last: Option<u64> = None;
    let mut wait = READER_RETRY_MIN;
    loop {
        let Some(log) = hub.upgrade().map(|hub| Arc::clone(&hub.log)) else {
            return;
        };
        let Some((messages, start)) = open_reader(&log, last).await else {
            drop(log);
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(READER_RETRY_MAX);
            continue;
        };
        wait = READER_RETRY_MIN;
        if last.is_none() {
            last = Some(start);
            *lock(&log.reader) = Some(start);
        }
        let counters = Arc::clone(&log.counters);
        drop(log);
        if !follow(&hub, messages, &counters, &mut last).await {
            return;
        }
    }
}

/// An ordered consumer of every namespace's messages after `last`, or
/// after the stream's end when there is no `last` yet: it, and the
/// sequence it starts after. `None` when the broker fails.
async fn open_reader(log: &Log, last: Option<u64>) -> Option<(pull::Ordered, u64)> {
    let start = match last {
        Some(last) => last,
        None => log.stream.get_info().await.ok()?.state.last_sequence,
    };
    let consumer = log
        .stream
        .create_consumer(pull::OrderedConfig {
            filter_subject: Subjects::log_wildcard(&log.prefix),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: start + 1,
            },
            ..pull::OrderedConfig::default()
        })
        .await
        .ok()?;
    Some((consumer.messages().await.ok()?, start))
}

/// Hands out each message `messages` brings, under the reader's lock,
/// until the consumer fails or the client connected again (`true`: open
/// another), or the hub is gone (`false`).
async fn follow(
    hub: &Weak<Hub>,
    mut messages: pull::Ordered,
    counters: &Counters,
    last: &mut Option<u64>,
) -> bool {
    let connection = counters.reconnects.load(Ordering::Relaxed);
    let mut check = tokio::time::interval(RECONNECT_CHECK);
    loop {
        let message = tokio::select! {
            message = messages.next() => message,
            _ = check.tick() => {
                if hub.strong_count() == 0 {
                    return false;
                }
                if counters.reconnects.load(Ordering::Relaxed) == connection {
                    continue;
                }
                // The consumer lived on the connection that was lost:
                // rather than wait for its missed heartbeats, make a new
                // one after the last message read.
                return true;
            }
        };
        let Some(Ok(message)) = message else {
            tracing::debug!("nats adapter: the stream reader starts again");
            return true;
        };
        let Some(hub) = hub.upgrade() else {
            return false;
        };
        let Ok(seq) = message.info().map(|info| info.stream_sequence) else {
            continue;
        };
        if last.is_some_and(|last| seq <= last) {
            continue;
        }
        let delivered = message
            .headers
            .as_ref()
            .is_some_and(|headers| headers.get(DELIVERED_HEADER).is_some());
        let mut reader = lock(&hub.log.reader);
        dispatch(&hub, seq, &message.payload, delivered);
        *reader = Some(seq);
        drop(reader);
        *last = Some(seq);
    }
}

/// Hands a stream message to its namespace; `delivered` when it is marked
/// as delivered by the server that wrote it (which counts only when that
/// server is this one).
fn dispatch(hub: &Hub, seq: u64, payload: &[u8], delivered: bool) {
    let envelope = match Envelope::decode(payload) {
        Ok(envelope) => envelope,
        Err(error) => {
            Counters::bump(&hub.log.counters.malformed);
            tracing::debug!(%error, "nats adapter: a malformed stream message is dropped");
            return;
        }
    };
    if let Some(ns) = hub.namespace(&envelope.nsp) {
        let delivered_here = delivered && envelope.uid == hub.log.uid;
        ns.on_entry(seq, &envelope, delivered_here);
    }
}

/// Writes the sessions of connected sockets again every third of their
/// life in the bucket, so that they outlive their server by that life at
/// most.
async fn renew(hub: Weak<Hub>) {
    loop {
        let Some(strong) = hub.upgrade() else { return };
        let every = (strong.log.config.max_disconnection_duration / 3).max(Duration::from_secs(1));
        drop(strong);
        tokio::time::sleep(every).await;
        let Some(strong) = hub.upgrade() else { return };
        let log = Arc::clone(&strong.log);
        let namespaces = strong.namespaces();
        drop(strong);
        for ns in namespaces {
            for (sid, pid) in ns.tracked_sessions() {
                if let Some(write) = ns.renewal(&sid, &pid) {
                    log.write_session_waiting(write).await;
                }
            }
        }
    }
}
