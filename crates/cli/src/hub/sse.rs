//! Subscribe-only clients over Server-Sent Events: each subscriber
//! listens to rooms of one namespace, and each room keeps a bounded
//! history from which a subscriber that comes back with `Last-Event-ID`
//! gets what it missed.
//!
//! Event ids are this hub's own sequence: a subscriber resumes on the hub
//! it was connected to (behind a load balancer, with sticky sessions, as
//! Socket.IO's polling needs anyway).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::metrics::{self, Metrics};

/// How many events each room keeps for resuming. 1,000: a subscriber
/// that lost its connection for a few seconds on a busy room (hundreds of
/// events a second) still gets everything; each entry is one event's
/// frame, so a room's history is bounded by 1,000 payloads.
pub(crate) const HISTORY_PER_ROOM: usize = 1_000;
/// How long an event stays in a room's history. 5 min: longer than any
/// browser's reconnection delay (`EventSource` retries after about 3 s),
/// short enough that a quiet room's history does not outlive its use.
pub(crate) const HISTORY_WINDOW: Duration = Duration::from_secs(300);
/// How many rooms keep a history at once. 10,000: with the per-room
/// bound, it caps the memory histories take; a room past it is still
/// delivered live, without resume.
pub(crate) const MAX_HISTORY_ROOMS: usize = 10_000;
/// How many events may wait for one subscriber; one more and it is
/// dropped (it reconnects and resumes from the history). 256: a reader
/// that keeps up never has more than a few queued; one that does not must
/// not make the hub hold events for it without end.
pub(crate) const SUBSCRIBER_QUEUE: usize = 256;
/// How many rooms one subscriber may listen to. 64: enough for any page,
/// bounding the work one `GET /sse` costs.
pub(crate) const MAX_ROOMS_PER_SUBSCRIBER: usize = 64;

/// One event of a room's history.
#[derive(Debug)]
struct Entry {
    id: u64,
    at: Instant,
    frame: Bytes,
}

/// One subscriber.
#[derive(Debug)]
struct Subscriber {
    ns: String,
    rooms: Vec<String>,
    tx: mpsc::Sender<Bytes>,
}

#[derive(Debug, Default)]
struct Inner {
    history: HashMap<(String, String), VecDeque<Entry>>,
    subscribers: HashMap<u64, Subscriber>,
    next_subscriber: u64,
}

/// The SSE side of the hub.
#[derive(Debug)]
pub(crate) struct SseHub {
    inner: Mutex<Inner>,
    seq: AtomicU64,
    metrics: Arc<Metrics>,
}

/// A subscription: what to send first (the missed events), then the live
/// ones; it unsubscribes when dropped.
#[derive(Debug)]
pub(crate) struct Subscription {
    /// The replayed events, oldest first.
    pub(crate) replay: Bytes,
    /// The live events.
    pub(crate) rx: mpsc::Receiver<Bytes>,
    /// Removes the subscriber when dropped.
    #[expect(dead_code, reason = "held for its Drop alone")]
    guard: Unsubscribe,
}

/// Removes a subscriber from its hub when dropped.
#[derive(Debug)]
pub(crate) struct Unsubscribe {
    hub: Arc<SseHub>,
    id: u64,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if self.hub.lock().subscribers.remove(&self.id).is_some() {
            metrics::drop_one(&self.hub.metrics.sse_subscribers);
        }
    }
}

impl SseHub {
    /// An empty hub counting into `metrics`.
    pub(crate) fn new(metrics: Arc<Metrics>) -> SseHub {
        SseHub {
            inner: Mutex::new(Inner::default()),
            seq: AtomicU64::new(0),
            metrics,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Delivers `event` with `data` (its arguments as a JSON array) to the
    /// subscribers of namespace `ns` in `rooms` (all of the namespace's
    /// when empty) and in none of `except`, and keeps it in those rooms'
    /// histories.
    pub(crate) fn publish(
        &self,
        ns: &str,
        rooms: &[String],
        except: &[String],
        event: &str,
        data: &str,
    ) {
        let id = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        // A name that would end the field early is sent as the default
        // event instead.
        let event = if event.contains(['\r', '\n']) {
            "message"
        } else {
            event
        };
        let frame = Bytes::from(format!("id: {id}\nevent: {event}\ndata: {data}\n\n"));
        let now = Instant::now();
        let mut inner = self.lock();
        for room in rooms {
            if except.contains(room) {
                continue;
            }
            let key = (ns.to_owned(), room.clone());
            let full = inner.history.len() >= MAX_HISTORY_ROOMS;
            if full && !inner.history.contains_key(&key) {
                // Make room from the stale rooms first.
                inner.history.retain(|_, h| {
                    h.back()
                        .is_some_and(|e| now.duration_since(e.at) < HISTORY_WINDOW)
                });
                if inner.history.len() >= MAX_HISTORY_ROOMS {
                    continue;
                }
            }
            let history = inner.history.entry(key).or_default();
            while history.len() >= HISTORY_PER_ROOM
                || history
                    .front()
                    .is_some_and(|e| now.duration_since(e.at) >= HISTORY_WINDOW)
            {
                history.pop_front();
            }
            history.push_back(Entry {
                id,
                at: now,
                frame: frame.clone(),
            });
        }
        let mut dropped = Vec::new();
        for (key, sub) in &inner.subscribers {
            let listens = sub.ns == ns
                && (rooms.is_empty() || sub.rooms.iter().any(|r| rooms.contains(r)))
                && !sub.rooms.iter().any(|r| except.contains(r));
            if !listens {
                continue;
            }
            match sub.tx.try_send(frame.clone()) {
                Ok(()) => metrics::bump(&self.metrics.sse_events),
                Err(mpsc::error::TrySendError::Full(_)) => dropped.push(*key),
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        for key in dropped {
            if inner.subscribers.remove(&key).is_some() {
                metrics::drop_one(&self.metrics.sse_subscribers);
                metrics::bump(&self.metrics.sse_dropped);
            }
        }
    }

    /// Ends the streams of the subscribers of `ns` listening to `room`
    /// (browsers reconnect, resuming from the history); how many.
    pub(crate) fn close_room(&self, ns: &str, room: &str) -> usize {
        let mut inner = self.lock();
        let before = inner.subscribers.len();
        inner
            .subscribers
            .retain(|_, sub| !(sub.ns == ns && sub.rooms.iter().any(|r| r == room)));
        let closed = before - inner.subscribers.len();
        drop(inner);
        for _ in 0..closed {
            metrics::drop_one(&self.metrics.sse_subscribers);
        }
        closed
    }

    /// Subscribes to `rooms` of `ns`, replaying the events after
    /// `last_id` that the rooms' histories still hold.
    pub(crate) fn subscribe(
        self: &Arc<Self>,
        ns: &str,
        rooms: Vec<String>,
        last_id: Option<u64>,
    ) -> Subscription {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let now = Instant::now();
        let mut inner = self.lock();
        let mut replay: Vec<(u64, Bytes)> = Vec::new();
        if let Some(last) = last_id {
            for room in &rooms {
                if let Some(history) = inner.history.get(&(ns.to_owned(), room.clone())) {
                    replay.extend(
                        history
                            .iter()
                            .filter(|e| e.id > last && now.duration_since(e.at) < HISTORY_WINDOW)
                            .map(|e| (e.id, e.frame.clone())),
                    );
                }
            }
        }
        replay.sort_unstable_by_key(|(id, _)| *id);
        replay.dedup_by_key(|(id, _)| *id);
        let mut bytes = Vec::with_capacity(replay.iter().map(|(_, f)| f.len()).sum());
        for (_, frame) in &replay {
            bytes.extend_from_slice(frame);
        }
        let id = inner.next_subscriber;
        inner.next_subscriber += 1;
        inner.subscribers.insert(
            id,
            Subscriber {
                ns: ns.to_owned(),
                rooms,
                tx,
            },
        );
        drop(inner);
        metrics::bump(&self.metrics.sse_subscribers);
        metrics::add(&self.metrics.sse_events, replay.len());
        Subscription {
            replay: Bytes::from(bytes),
            rx,
            guard: Unsubscribe {
                hub: Arc::clone(self),
                id,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> Arc<SseHub> {
        Arc::new(SseHub::new(Arc::new(Metrics::default())))
    }

    #[tokio::test]
    async fn subscribers_get_their_rooms_and_resume_after_the_last_id() {
        let hub = hub();
        let mut sub = hub.subscribe("/", vec!["a".into()], None);
        hub.publish("/", &["a".into()], &[], "news", "[1]");
        hub.publish("/", &["b".into()], &[], "news", "[2]");
        hub.publish("/", &["a".into()], &[], "news", "[3]");
        let first = sub.rx.recv().await.unwrap();
        assert_eq!(&first[..], b"id: 1\nevent: news\ndata: [1]\n\n");
        assert_eq!(
            &sub.rx.recv().await.unwrap()[..],
            b"id: 3\nevent: news\ndata: [3]\n\n"
        );
        drop(sub);
        let again = hub.subscribe("/", vec!["a".into(), "b".into()], Some(1));
        assert_eq!(
            &again.replay[..],
            b"id: 2\nevent: news\ndata: [2]\n\nid: 3\nevent: news\ndata: [3]\n\n"
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_does_not_read_is_dropped() {
        let hub = hub();
        let mut sub = hub.subscribe("/", vec!["a".into()], None);
        for _ in 0..=SUBSCRIBER_QUEUE {
            hub.publish("/", &["a".into()], &[], "e", "[]");
        }
        let mut got = 0;
        while sub.rx.recv().await.is_some() {
            got += 1;
        }
        assert_eq!(got, SUBSCRIBER_QUEUE);
        assert_eq!(hub.metrics.sse_dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_room_history_is_bounded() {
        let hub = hub();
        for _ in 0..HISTORY_PER_ROOM + 10 {
            hub.publish("/", &["a".into()], &[], "e", "[]");
        }
        let sub = hub.subscribe("/", vec!["a".into()], Some(0));
        let frames = sub.replay.windows(4).filter(|w| w == b"id: ").count();
        assert_eq!(frames, HISTORY_PER_ROOM);
    }
}
