//! The serving side of a subscription the peer makes here:
//! [`PendingSubscription`], accepted or refused, and the
//! [`SubscriptionSink`] its items go into.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use tokio::sync::mpsc::error::TrySendError;

use crate::error::ErrorObject;
use crate::id::Id;
use crate::shared::{Out, Shared};
use crate::wire;

/// Why an item could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// The peer unsubscribed, or the connection ended.
    #[error("the subscription is closed")]
    Closed,
    /// The connection's outgoing queue is full
    /// ([`Config::outgoing_queue`](crate::Config::outgoing_queue)): the
    /// peer reads slower than items are made. Only
    /// [`SubscriptionSink::try_send`] says so; `send` waits instead.
    #[error("the outgoing queue is full")]
    Full,
    /// The item could not be serialized.
    #[error("the item could not be serialized: {0}")]
    Encode(serde_json::Error),
}

/// A subscription the peer asked for, not yet answered. The subscription
/// handler accepts it (the peer gets its id) or rejects it (the peer gets
/// an error); dropped unanswered, the peer gets an Internal error.
#[derive(Debug)]
pub struct PendingSubscription {
    shared: Arc<Shared>,
    request: Id,
    subscription: u64,
    notification: Arc<str>,
    closed: Arc<AtomicBool>,
    answered: bool,
}

impl PendingSubscription {
    pub(crate) fn new(
        shared: Arc<Shared>,
        request: Id,
        subscription: u64,
        notification: Arc<str>,
        closed: Arc<AtomicBool>,
    ) -> Self {
        Self {
            shared,
            request,
            subscription,
            notification,
            closed,
            answered: false,
        }
    }

    /// The id the subscription gets: a number, unique on its connection.
    pub fn subscription_id(&self) -> u64 {
        self.subscription
    }

    /// Drops it without an answer: the caller answers the request.
    pub(crate) fn answered_elsewhere(mut self) {
        self.answered = true;
    }

    /// Accepts: answers the request with the subscription id, and gives
    /// the sink for its items. The answer goes out before any item sent
    /// into the sink.
    ///
    /// # Errors
    ///
    /// [`SinkError::Closed`] when the connection ended first.
    // Async so that an answer may one day wait for room, without a
    // change for callers; today it never waits.
    #[allow(clippy::unused_async)]
    pub async fn accept(mut self) -> Result<SubscriptionSink, SinkError> {
        self.answered = true;
        if self.closed.load(Ordering::Acquire) {
            return Err(SinkError::Closed);
        }
        self.shared
            .send_now(wire::result(&self.request, &self.subscription));
        let mut prefix = Vec::with_capacity(64 + self.notification.len());
        prefix.extend_from_slice(br#"{"jsonrpc":"2.0","method":"#);
        prefix.extend_from_slice(
            serde_json::to_string(&*self.notification)
                .unwrap_or_default()
                .as_bytes(),
        );
        prefix.extend_from_slice(br#","params":{"subscription":"#);
        prefix.extend_from_slice(self.subscription.to_string().as_bytes());
        prefix.extend_from_slice(br#","result":"#);
        Ok(SubscriptionSink {
            shared: Arc::clone(&self.shared),
            subscription: self.subscription,
            closed: Arc::clone(&self.closed),
            prefix: prefix.into(),
        })
    }

    /// Refuses: answers the request with `error`.
    #[allow(clippy::unused_async)]
    pub async fn reject(mut self, error: ErrorObject) {
        self.answered = true;
        self.shared.send_now(wire::error(&self.request, &error));
    }
}

impl Drop for PendingSubscription {
    /// Dropped unanswered (its producer ended or was stopped first): the
    /// peer still gets an answer, an Internal error.
    fn drop(&mut self) {
        if !self.answered {
            let error = ErrorObject::internal_error();
            self.shared.send_now(wire::error(&self.request, &error));
        }
    }
}

/// Where a subscription's items go: each becomes a notification
/// `{"method": NOTIFICATION, "params": {"subscription": ID, "result": ITEM}}`.
///
/// The items share the connection's outgoing queue, so a peer that reads
/// slowly slows the producer: [`send`](Self::send) waits for room, and
/// [`try_send`](Self::try_send) says [`SinkError::Full`] at once, for a
/// producer that would rather skip items than wait. The producer is
/// stopped (its future dropped) when the peer unsubscribes or the
/// connection ends, and from then on the sink and its clones refuse
/// items with [`SinkError::Closed`].
#[derive(Debug, Clone)]
pub struct SubscriptionSink {
    shared: Arc<Shared>,
    subscription: u64,
    closed: Arc<AtomicBool>,
    prefix: Arc<[u8]>,
}

impl SubscriptionSink {
    /// The subscription's id.
    pub fn subscription_id(&self) -> u64 {
        self.subscription
    }

    /// Whether the peer unsubscribed or the connection ended.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Sends an item, waiting while the outgoing queue is full.
    ///
    /// # Errors
    ///
    /// [`SinkError::Closed`] when the connection ended;
    /// [`SinkError::Encode`] when the item does not serialize.
    pub async fn send<T: Serialize + ?Sized>(&self, item: &T) -> Result<(), SinkError> {
        if self.is_closed() {
            return Err(SinkError::Closed);
        }
        let text = self.text(item)?;
        self.shared
            .out
            .send(Out::Text(text))
            .await
            .map_err(|_| SinkError::Closed)
    }

    /// Sends an item if the outgoing queue has room.
    ///
    /// # Errors
    ///
    /// [`SinkError::Full`] when it has none; otherwise as [`send`](Self::send).
    pub fn try_send<T: Serialize + ?Sized>(&self, item: &T) -> Result<(), SinkError> {
        if self.is_closed() {
            return Err(SinkError::Closed);
        }
        let text = self.text(item)?;
        self.shared
            .out
            .try_send(Out::Text(text))
            .map_err(|e| match e {
                TrySendError::Full(_) => SinkError::Full,
                TrySendError::Closed(_) => SinkError::Closed,
            })
    }

    fn text<T: Serialize + ?Sized>(&self, item: &T) -> Result<String, SinkError> {
        let mut buf = Vec::with_capacity(self.prefix.len() + 32);
        buf.extend_from_slice(&self.prefix);
        serde_json::to_writer(&mut buf, item).map_err(SinkError::Encode)?;
        buf.extend_from_slice(b"}}");
        String::from_utf8(buf).map_err(|_| SinkError::Closed)
    }
}
