//! The writer of broadcasts to the stream: pipelined and in order while
//! the broker is there; while it is away, broadcasts wait for it in order
//! (delivered here at once, so that this server's sockets still get them)
//! and go out first once it is back.

use std::collections::VecDeque;
use std::sync::Weak;
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::log::{DELIVERED_HEADER, Entry, Fallback, Log, deliver_fallback};
use crate::stats::Counters;

/// How often the writer looks whether the client connected again while
/// broadcasts wait for the broker: the client's own reconnection backoff
/// decides when it is back, this only notices it within 100 ms.
const RECONNECT_CHECK: Duration = Duration::from_millis(100);

/// One broadcast on its way to the stream.
struct Write {
    /// Its number among this writer's broadcasts: the order they go out
    /// in, and with the node id its `Nats-Msg-Id`, so that the stream
    /// keeps one copy when a write whose acknowledgement was lost is sent
    /// again (`JetStream` de-duplication).
    number: u64,
    subject: String,
    payload: bytes::Bytes,
    /// Where it goes here; `None` once delivered to this server's sockets
    /// (it waited for the broker), and then it is written marked so.
    fallback: Option<Fallback>,
    /// When the writer took it.
    since: Instant,
    /// Whether it waited for the broker.
    waited: bool,
}

/// How a write sent ended.
enum Acked {
    /// The stream took it; `waited` when it had waited for the broker.
    Written { waited: bool },
    /// It was not acknowledged, for this reason: it comes back.
    Failed(Box<Write>, PublishErrorKind),
}

/// A write sent, waiting for the stream's acknowledgement.
type Unacked = std::pin::Pin<Box<dyn Future<Output = Acked> + Send>>;

/// The writer's state between two steps.
struct Writer {
    log: Weak<Log>,
    /// Broadcasts waiting for the broker, in order; at most
    /// [`write_queue`](crate::RecoveryConfig::write_queue).
    waiting: VecDeque<Write>,
    unacked: FuturesUnordered<Unacked>,
    /// The number of the next broadcast taken.
    next: u64,
    /// Whether broadcasts waited since the backlog last drained (one
    /// warning per outage, one note when it drains).
    outage: bool,
    /// How many of the waiting ones were written since the outage began.
    caught_up: u64,
    /// Whether some waiting ones were not delivered here yet (they were
    /// queued while the client was connected).
    undelivered: bool,
}

/// Writes broadcasts to the stream in the order queued, with up to
/// [`max_unacked`](crate::RecoveryConfig::max_unacked) waiting for their
/// acknowledgement.
///
/// While the client is not connected, a broadcast waits in order, and is
/// delivered here at once; once connected again, the waiting ones are
/// written first (marked as delivered here, so that this server does not
/// deliver them twice), then what was queued after them. A write whose
/// acknowledgement did not come (the broker died, did not answer in time,
/// or its stream was not ready yet) waits too, in its place, and is sent
/// again under the same `Nats-Msg-Id`. A broadcast that finds no room
/// among the waiting ones, waits longer than
/// [`max_disconnection_duration`](crate::RecoveryConfig::max_disconnection_duration)
/// or is refused by the stream is not written and counted.
pub(super) async fn write_entries(log: Weak<Log>, mut queued: mpsc::Receiver<Entry>) {
    let mut writer = Writer {
        log,
        waiting: VecDeque::new(),
        unacked: FuturesUnordered::new(),
        next: 0,
        outage: false,
        caught_up: 0,
        undelivered: false,
    };
    loop {
        let Some(log) = writer.log.upgrade() else {
            return;
        };
        let max = log.config.max_unacked.max(1);
        writer.drop_expired(&log);
        writer.note_drained();
        let room = writer.unacked.len() < max;
        if !writer.waiting.is_empty() {
            if !log.connected() {
                writer.deliver_waiting();
            } else if room {
                writer.send_waiting(&log).await;
                continue;
            }
        }
        drop(log);
        let draining = !writer.waiting.is_empty();
        tokio::select! {
            Some(done) = writer.unacked.next(), if !writer.unacked.is_empty() => {
                writer.acked(done);
            }
            entry = queued.recv(), if room || draining => {
                let Some(entry) = entry else { break };
                writer.take(entry).await;
            }
            () = tokio::time::sleep(RECONNECT_CHECK), if draining => {}
        }
    }
    writer.finish().await;
}

impl Writer {
    /// A broadcast from the queue: written at once when nothing waits and
    /// the client is connected, else it waits behind the others.
    async fn take(&mut self, entry: Entry) {
        let write = Write {
            number: self.next,
            subject: entry.subject,
            payload: entry.payload,
            // Delivered here already: queued while the client was away.
            waited: entry.fallback.is_none(),
            fallback: entry.fallback,
            since: Instant::now(),
        };
        self.next += 1;
        let Some(log) = self.log.upgrade() else {
            drop_write(write);
            return;
        };
        if self.waiting.is_empty() && log.connected() {
            match publish(&log, &write).await {
                Ok(ack) => self.unacked.push(acked(ack, write)),
                Err(()) => self.wait(&log, write),
            }
        } else {
            self.wait(&log, write);
        }
    }

    /// Sends the first waiting broadcast; when it cannot be sent, it stays
    /// first and the writer waits a moment.
    async fn send_waiting(&mut self, log: &Log) {
        let Some(write) = self.waiting.pop_front() else {
            return;
        };
        if let Ok(ack) = publish(log, &write).await {
            self.unacked.push(acked(ack, write));
        } else {
            self.waiting.push_front(write);
            tokio::time::sleep(RECONNECT_CHECK).await;
        }
    }

    /// A write sent ended: counted when it had waited, sent again later
    /// when it may have been lost with the broker.
    fn acked(&mut self, done: Acked) {
        match done {
            Acked::Written { waited: true } => {
                self.caught_up += 1;
                if let Some(log) = self.log.upgrade() {
                    Counters::bump(&log.counters.delayed);
                }
            }
            Acked::Written { waited: false } => {}
            Acked::Failed(write, kind) => self.not_acked(*write, kind),
        }
        self.note_drained();
    }

    /// A write the stream did not acknowledge: it waits again when the
    /// broker may have been away, else it is counted and dropped.
    fn not_acked(&mut self, write: Write, kind: PublishErrorKind) {
        let Some(log) = self.log.upgrade() else {
            drop_write(write);
            return;
        };
        match kind {
            PublishErrorKind::TimedOut
            | PublishErrorKind::BrokenPipe
            | PublishErrorKind::StreamNotFound
            | PublishErrorKind::MaxAckPending => self.wait(&log, write),
            _ => {
                Counters::bump(&log.counters.unpublished);
                tracing::warn!(
                    reason = %kind,
                    "nats adapter: the stream refused a broadcast; it is not written (counted in stats)"
                );
                drop_write(write);
            }
        }
    }

    /// Puts `write` among the waiting ones, in its place by number, after
    /// delivering it here unless the client is connected (it then goes out
    /// soon, behind the others, and comes back with its offset); without
    /// room it is counted and dropped.
    fn wait(&mut self, log: &Log, mut write: Write) {
        if !log.connected()
            && let Some(fallback) = write.fallback.take()
        {
            deliver_fallback(fallback);
        }
        if !self.outage {
            self.outage = true;
            self.caught_up = 0;
            tracing::warn!(
                "nats adapter: the broker cannot take broadcasts; they go out here at once and wait for it to reach the other servers"
            );
        }
        if self.waiting.len() >= log.config.write_queue.max(1) {
            Counters::bump(&log.counters.unpublished);
            tracing::debug!(
                "nats adapter: too many broadcasts wait for the broker; one is dropped"
            );
            drop_write(write);
            return;
        }
        self.undelivered |= write.fallback.is_some();
        write.waited = true;
        let at = self.waiting.partition_point(|w| w.number < write.number);
        self.waiting.insert(at, write);
    }

    /// The client is not connected: the waiting broadcasts not delivered
    /// here yet are, so that this server's sockets do not wait for the
    /// broker.
    fn deliver_waiting(&mut self) {
        if !self.undelivered {
            return;
        }
        self.undelivered = false;
        for write in &mut self.waiting {
            if let Some(fallback) = write.fallback.take() {
                deliver_fallback(fallback);
            }
        }
    }

    /// Drops, counting them, the broadcasts that waited longer than a
    /// client can be away and still recover.
    fn drop_expired(&mut self, log: &Log) {
        let window = log.config.max_disconnection_duration;
        while self
            .waiting
            .front()
            .is_some_and(|w| w.since.elapsed() >= window)
        {
            if let Some(write) = self.waiting.pop_front() {
                drop_write(write);
            }
            Counters::bump(&log.counters.unpublished);
            tracing::debug!("nats adapter: a broadcast waited too long for the broker; dropped");
        }
    }

    /// Notes, once per outage, that nothing waits any more.
    fn note_drained(&mut self) {
        if self.outage && self.waiting.is_empty() && self.unacked.is_empty() {
            self.outage = false;
            tracing::info!(
                written = self.caught_up,
                "nats adapter: the broadcasts that waited for the broker are written"
            );
        }
    }

    /// The queue closed (the adapters are gone): the waiting broadcasts
    /// go nowhere else, but here if they have not; the writes sent are
    /// waited for.
    async fn finish(mut self) {
        for write in self.waiting.drain(..) {
            drop_write(write);
        }
        while let Some(done) = self.unacked.next().await {
            if let Acked::Failed(write, _) = done {
                drop_write(*write);
            }
        }
    }
}

/// Sends `write` to the stream: `Err` when it could not be sent at all.
async fn publish(log: &Log, write: &Write) -> Result<PublishAckFuture, ()> {
    let mut headers = HeaderMap::new();
    headers.insert(
        async_nats::header::NATS_MESSAGE_ID,
        format!("{}:{}", log.uid, write.number).as_str(),
    );
    if write.fallback.is_none() {
        headers.insert(DELIVERED_HEADER, "1");
    }
    let message = PublishMessage::build()
        .payload(write.payload.clone())
        .headers(headers);
    log.js
        .send_publish(write.subject.clone(), message)
        .await
        .map_err(drop)
}

/// Waits for a write's acknowledgement.
fn acked(ack: PublishAckFuture, write: Write) -> Unacked {
    Box::pin(async move {
        match ack.await {
            Ok(_) => Acked::Written {
                waited: write.waited,
            },
            Err(error) => Acked::Failed(Box::new(write), error.kind()),
        }
    })
}

/// Lets a broadcast that will not be written go out here, if it has not.
fn drop_write(write: Write) {
    if let Some(fallback) = write.fallback {
        deliver_fallback(fallback);
    }
}
