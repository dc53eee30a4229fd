//! Restoring a session: taken out of the bucket, what it missed read from
//! the stream after the client's offset, and the hand-over to the live
//! reader.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{DeliverPolicy, pull};
use async_nats::jetstream::kv::Operation;
use futures_util::StreamExt;
use sockeye_io::Sid;
use sockeye_io::adapter::{ClusterFuture, LocalSide, Restored, Room, Session};
use sockeye_io::engine::Payload;
use sockeye_io_redis::streams::StoredSession;

use super::log::lock;
use super::session;
use super::state::{MAX_PENDING, PENDING_FOR, Pending, Sequenced, broadcast_of, reaches};
use crate::envelope::Envelope;

/// How long the restore waits for the reader to start, and for each
/// message it reads; the namespace bounds the whole by its restore
/// timeout anyway.
const WAIT: Duration = Duration::from_secs(2);

/// The session with private id `pid` and the packets it missed after
/// `offset`, in order: `None` when the session or the offset's message is
/// gone, when more than the configured number of messages follow, or when
/// the broker fails. The session is taken out of the bucket.
pub(crate) fn restore(ns: Arc<Sequenced>, pid: &str, offset: &str) -> ClusterFuture<Restored> {
    let (pid, offset) = (pid.to_owned(), offset.to_owned());
    Box::pin(async move { restore_now(&ns, &pid, &offset).await })
}

async fn restore_now(ns: &Sequenced, pid: &str, offset: &str) -> Restored {
    let local = ns.core.local()?;
    let from: u64 = offset.parse().ok()?;
    let stored = take_session(ns, pid).await?;
    // Messages leave the stream oldest first: while the offset's is there,
    // every later one is too.
    ns.log.stream.get_raw_message(from).await.ok()?;
    let mut missed = Missed {
        ns,
        local: &*local,
        rooms: stored.rooms.clone(),
        packets: Vec::new(),
        offset: from,
        last: from,
        read: 0,
        messages: None,
    };
    let sid = Sid::from(stored.sid.as_str());
    missed.catch_up(&sid).await?;
    let session = Session {
        sid,
        pid: Sid::from(stored.pid.as_str()),
        rooms: stored.rooms,
        data: http::Extensions::new(),
    };
    Some((session, missed.packets))
}

/// Reads the session and deletes it, unless another server took it first.
async fn take_session(ns: &Sequenced, pid: &str) -> Option<StoredSession> {
    let key = session::key(pid)?;
    let entry = ns.log.kv.entry(key).await.ok()??;
    if entry.operation != Operation::Put {
        return None;
    }
    ns.log
        .kv
        .delete_expect_revision(key, Some(entry.revision))
        .await
        .ok()?;
    StoredSession::decode(&entry.value).ok()
}

/// What a restore has read so far.
struct Missed<'a> {
    ns: &'a Sequenced,
    local: &'a dyn LocalSide,
    rooms: Vec<Room>,
    packets: Vec<Vec<Payload>>,
    /// The client's offset.
    offset: u64,
    /// The sequence of the last message read (the offset at first).
    last: u64,
    /// How many messages were read.
    read: usize,
    /// The namespace's messages after the offset, opened when needed.
    messages: Option<pull::Ordered>,
}

impl Missed<'_> {
    /// Reads until every message of the namespace the reader handed out is
    /// read, then, under the reader's lock, has it hold for this socket
    /// what it reads next, until the socket joins.
    async fn catch_up(&mut self, sid: &Sid) -> Option<()> {
        let started = Instant::now();
        loop {
            let at = *lock(&self.ns.log.reader);
            // A reader not yet past the offset would hand the socket, once
            // joined, packets the client already has: wait for it.
            if at.is_none_or(|at| at < self.offset) {
                if started.elapsed() > WAIT {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            if self.ns.last.load(Ordering::Relaxed) > self.last {
                self.next().await?;
                continue;
            }
            let _reader = lock(&self.ns.log.reader);
            if self.ns.last.load(Ordering::Relaxed) > self.last {
                continue;
            }
            let mut pending = lock(&self.ns.pending);
            pending.retain(|_, held| held.since.elapsed() < PENDING_FOR);
            if pending.len() >= MAX_PENDING {
                tracing::warn!(nsp = %self.ns.core.nsp, "nats adapter: too many restores at once; connecting afresh");
                return None;
            }
            pending.insert(
                sid.clone(),
                Pending {
                    rooms: self.rooms.clone(),
                    after: self.last,
                    packets: Vec::new(),
                    since: Instant::now(),
                    overflowed: false,
                },
            );
            return Some(());
        }
    }

    /// Reads the next message of the namespace after the last one.
    async fn next(&mut self) -> Option<()> {
        if self.messages.is_none() {
            let consumer = self
                .ns
                .log
                .stream
                .create_consumer(pull::OrderedConfig {
                    filter_subject: self.ns.subject.clone(),
                    deliver_policy: DeliverPolicy::ByStartSequence {
                        start_sequence: self.last + 1,
                    },
                    ..pull::OrderedConfig::default()
                })
                .await
                .ok()?;
            self.messages = Some(consumer.messages().await.ok()?);
        }
        let messages = self.messages.as_mut()?;
        let message = tokio::time::timeout(WAIT, messages.next())
            .await
            .ok()??
            .ok()?;
        let seq = message.info().ok()?.stream_sequence;
        self.read += 1;
        if self.read > self.ns.log.config.restore_max_entries {
            tracing::info!(nsp = %self.ns.core.nsp, "nats adapter: too much missed to restore a session");
            return None;
        }
        if seq <= self.last {
            return Some(());
        }
        self.last = seq;
        let Ok(envelope) = Envelope::decode(&message.payload) else {
            return Some(());
        };
        if envelope.nsp != *self.ns.core.nsp {
            return Some(());
        }
        if let Ok(Some((packet, opts))) = broadcast_of(&envelope, seq, self.ns.log.config.offsets)
            && !opts.flags.volatile
            && packet.id.is_none()
            && reaches(&opts, &self.rooms)
        {
            self.packets.push(self.local.encode(&packet)?);
        }
        Some(())
    }
}
