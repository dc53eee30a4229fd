//! What a connection's [`Peer`](crate::Peer) handles and the task that
//! drives it share: the queue of messages to send, this side's calls
//! waiting for answers, the subscriptions in both directions, and how the
//! connection ended.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::future::AbortHandle;
use serde_json::value::RawValue;
use sockeye::CloseCode;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};

use crate::config::Config;
use crate::error::ErrorObject;

/// The receiving ends of what a connection sends: `control` first.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub(crate) control: mpsc::UnboundedReceiver<Out>,
    pub(crate) queue: mpsc::Receiver<Out>,
}

/// How a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// The Close code and reason of the closing handshake, when it was
    /// one (this side's, or the peer's when it closed first).
    pub close: Option<(CloseCode, String)>,
    /// What went wrong, when the connection did not close cleanly.
    pub error: Option<String>,
}

/// What the connection is asked to send.
#[derive(Debug)]
pub(crate) enum Out {
    /// A message's text.
    Text(String),
    /// Start the closing handshake.
    Close(CloseCode, String),
}

/// The answer a call of this side's gets.
pub(crate) type Answer = Result<Box<RawValue>, ErrorObject>;

/// Who waits for the answer to a request of this side's.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// A call.
    Call(oneshot::Sender<Answer>),
    /// A subscribe call: on success the connection opens the
    /// subscription's channel before it reads on, so no item is lost.
    Subscribe {
        answer: oneshot::Sender<Result<Subscribed, ErrorObject>>,
        notification: Arc<str>,
        unsubscribe: Arc<str>,
    },
    /// Nobody (an unsubscription made on drop).
    Ignore,
    /// Nobody any more: a subscribe call given up. Should the peer
    /// accept it after all, it is unsubscribed with this method.
    Unsubscribe(Arc<str>),
}

/// A subscription of this side's, once the peer accepted it.
#[derive(Debug)]
pub(crate) struct Subscribed {
    /// The subscription id the peer gave, as JSON text.
    pub(crate) id: Box<RawValue>,
    pub(crate) items: mpsc::Receiver<Box<RawValue>>,
    pub(crate) state: Arc<SubscriptionState>,
}

/// A subscription's end, seen from both its channel's ends.
#[derive(Debug, Default)]
pub(crate) struct SubscriptionState {
    /// Its buffer filled: ended and unsubscribed.
    pub(crate) lagged: AtomicBool,
}

/// A subscription of this side's, where the connection delivers items.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// The method its items come as.
    pub(crate) notification: Arc<str>,
    /// The method that ends it.
    pub(crate) unsubscribe: Arc<str>,
    pub(crate) items: mpsc::Sender<Box<RawValue>>,
    pub(crate) state: Arc<SubscriptionState>,
}

/// The mutable part, under one lock held only briefly.
#[derive(Debug, Default)]
pub(crate) struct Table {
    /// This side's requests waiting for answers, by id.
    pub(crate) pending: HashMap<u64, Waiter>,
    /// This side's subscriptions, by the JSON text of their ids (and,
    /// for ids two of them share, by their notification methods).
    pub(crate) deliveries: HashMap<String, Vec<Delivery>>,
    /// How many of them use each notification method: a notification
    /// of any other method is not looked for among them.
    pub(crate) notifications: HashMap<Arc<str>, usize>,
    /// The peer's subscriptions on this side, by id: dropping the handle
    /// stops the producer; the flag closes its sink.
    pub(crate) serving: HashMap<u64, Serving>,
    /// The connection ended: nothing is waited for any more.
    pub(crate) ended: bool,
}

/// A subscription the peer holds on this side.
#[derive(Debug)]
pub(crate) struct Serving {
    /// Stops its producer.
    pub(crate) abort: AbortHandle,
    /// Tells its sink (and the sink's clones) it is closed.
    pub(crate) closed: Arc<AtomicBool>,
}

impl Serving {
    /// Ends it: the producer is dropped, the sink refuses items.
    pub(crate) fn stop(&self) {
        self.closed.store(true, Ordering::Release);
        self.abort.abort();
    }
}

/// The shared state of one connection.
#[derive(Debug)]
pub(crate) struct Shared {
    /// What calls, notifications and subscription items queue to send:
    /// bounded ([`Config::outgoing_queue`]), senders wait.
    pub(crate) out: mpsc::Sender<Out>,
    /// What this side must send whatever the queue holds, and cannot
    /// wait to: answers to subscribe calls, unsubscriptions and
    /// cancellations made by drops. At most one per call or subscription
    /// of this side's or the peer's, so bounded by those limits; written
    /// before `out`'s messages.
    pub(crate) control: mpsc::UnboundedSender<Out>,
    table: Mutex<Table>,
    next_id: AtomicU64,
    next_subscription: AtomicU64,
    /// Slots for this side's calls ([`Config::max_calls`]).
    pub(crate) slots: Semaphore,
    pub(crate) config: Config,
    pub(crate) ended: watch::Sender<Option<Ended>>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> (Arc<Shared>, Outgoing) {
        let (out, rx) = mpsc::channel(config.outgoing_queue.max(1));
        let (control, control_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            out,
            control,
            table: Mutex::new(Table::default()),
            next_id: AtomicU64::new(1),
            next_subscription: AtomicU64::new(1),
            slots: Semaphore::new(config.max_calls.max(1)),
            config,
            ended: watch::Sender::new(None),
        });
        (
            shared,
            Outgoing {
                control: control_rx,
                queue: rx,
            },
        )
    }

    /// The table, even if a thread panicked holding it (nothing in it is
    /// left half-changed by a panic).
    pub(crate) fn table(&self) -> MutexGuard<'_, Table> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A fresh id for a request of this side's.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh id for a subscription the peer makes here.
    pub(crate) fn next_subscription(&self) -> u64 {
        self.next_subscription.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers who waits for the answer to request `id`; `false` once
    /// the connection ended.
    pub(crate) fn wait_for(&self, id: u64, waiter: Waiter) -> bool {
        let mut table = self.table();
        if table.ended {
            return false;
        }
        table.pending.insert(id, waiter);
        true
    }

    /// Forgets request `id` (given up); whether it was still waiting.
    pub(crate) fn forget(&self, id: u64) -> bool {
        self.table().pending.remove(&id).is_some()
    }

    /// Puts `waiter` in the place of whoever waits for request `id`;
    /// whether it was still waiting.
    pub(crate) fn replace_waiter(&self, id: u64, waiter: Waiter) -> bool {
        match self.table().pending.get_mut(&id) {
            Some(slot) => {
                *slot = waiter;
                true
            }
            None => false,
        }
    }

    /// Sends a message that cannot wait (see [`Shared::control`]).
    pub(crate) fn send_now(&self, text: String) {
        let _ = self.control.send(Out::Text(text));
    }

    /// Marks the connection ended: every waiting call fails at once (its
    /// sender is dropped), every subscription's stream ends, every
    /// producer for the peer stops.
    pub(crate) fn end(&self, ended: Ended) {
        let table = {
            let mut table = self.table();
            let old = std::mem::take(&mut *table);
            table.ended = true;
            old
        };
        for serving in table.serving.values() {
            serving.stop();
        }
        drop(table);
        self.ended.send_replace(Some(ended));
    }

    /// Starts delivering the items of subscription `id` (JSON text).
    pub(crate) fn add_delivery(&self, id: &str, delivery: Delivery) -> bool {
        let mut table = self.table();
        if table.ended {
            return false;
        }
        *table
            .notifications
            .entry(Arc::clone(&delivery.notification))
            .or_default() += 1;
        table
            .deliveries
            .entry(id.to_owned())
            .or_default()
            .push(delivery);
        true
    }

    /// Stops delivering the items of subscription `id` that come as
    /// `notification`; the delivery, if it was there.
    pub(crate) fn remove_delivery(&self, id: &str, notification: &str) -> Option<Delivery> {
        let mut table = self.table();
        let list = table.deliveries.get_mut(id)?;
        let at = list.iter().position(|d| &*d.notification == notification)?;
        let delivery = list.swap_remove(at);
        if list.is_empty() {
            table.deliveries.remove(id);
        }
        if let Some(count) = table.notifications.get_mut(notification) {
            *count -= 1;
            if *count == 0 {
                table.notifications.remove(notification);
            }
        }
        Some(delivery)
    }

    /// Sends an unsubscription for subscription `id` (JSON text) without
    /// waiting for its answer.
    pub(crate) fn unsubscribe_quietly(&self, unsubscribe: &str, id: &RawValue) {
        let request = self.next_id();
        if let Ok(text) = crate::wire::call(unsubscribe, &[id], Some(request)) {
            if self.wait_for(request, Waiter::Ignore) {
                self.send_now(text);
            }
        }
    }

    /// Whether the connection ended.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended.borrow().is_some()
    }
}
