//! [`Connection`]: the future that runs one connection. It reads
//! messages and dispatches them (requests to handlers, which run
//! concurrently; notifications to theirs, one at a time in order;
//! answers to this side's waiting calls; subscription items to their
//! streams), and writes the answers and whatever the [`Peer`] handles
//! queued, batching writes.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::task::{Context, Poll};

use futures_util::future::{AbortHandle, Abortable, Aborted, BoxFuture};
use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use sockeye::{CloseCode, Message};
use tokio::sync::mpsc;

use crate::answer::Batches;
use crate::error::{ErrorObject, REQUEST_CANCELLED, SERVER_ERROR_MAX};
use crate::id::Id;
use crate::methods::{Cx, Entry, Methods, Started, SubscribeFn};
use crate::parse::{Item, Items, Parsed, parse_borrowed};
use crate::peer::{CancelParams, Peer};
use crate::shared::{
    Delivery, Ended, Out, Outgoing, Serving, Shared, Subscribed, SubscriptionState, Waiter,
};
use crate::sink::PendingSubscription;
use crate::transport::Transport;
use crate::wire;

/// Messages read in one go before the connection's other work gets a
/// turn.
const READS_PER_TURN: usize = 64;
/// Turns taken before yielding to the runtime's other tasks.
const TURNS_PER_POLL: usize = 16;

/// One connection, run as a future: it ends when the connection does,
/// saying how. [`spawn`](crate::spawn) runs it on a task of its own;
/// [`connection`](crate::connection) hands it over for the caller to run.
#[must_use = "a connection does nothing unless polled"]
pub struct Connection<T, C> {
    ws: T,
    shared: Arc<Shared>,
    peer: Peer,
    methods: Methods<C>,
    context: Arc<C>,
    out: Outgoing,
    /// The peer's requests being handled.
    running: FuturesUnordered<Running>,
    /// The peer's requests taken and not yet answered on the wire.
    in_flight: usize,
    /// Answers to write, each with the requests it ends.
    answers: VecDeque<(String, usize)>,
    /// The peer's notifications, handled front first, each with the
    /// bytes of the message it came in (when it is the last of it).
    notifications: VecDeque<(BoxFuture<'static, ()>, usize)>,
    /// Requests (alone, or in a batch) that came after notifications
    /// still being handled: they start once those are done, so that a
    /// request sees the effect of every notification sent before it.
    deferred: VecDeque<(Deferred, usize)>,
    /// The bytes of the messages held in `notifications` and
    /// `deferred`: reading pauses while they reach
    /// [`Config::max_message_size`](crate::Config::max_message_size), so
    /// that a peer cannot make a slow notification handler hold more.
    held_bytes: usize,
    /// The producers of the peer's subscriptions.
    producers: FuturesUnordered<Producer>,
    /// The running requests the peer may cancel, by id.
    cancels: HashMap<Id, AbortHandle>,
    /// Whether written messages wait for a flush.
    unflushed: bool,
    /// Whether writing failed: the reading side will see the end.
    write_failed: bool,
}

impl<T, C> std::fmt::Debug for Connection<T, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("in_flight", &self.in_flight)
            .field("answers", &self.answers.len())
            .field("notifications", &self.notifications.len())
            .field("producers", &self.producers.len())
            .finish_non_exhaustive()
    }
}

/// A request being handled; its answer, or `None` when it was
/// cancelled.
struct Running {
    id: Option<Id>,
    slots: usize,
    answer: Abortable<BoxFuture<'static, String>>,
}

impl Future for Running {
    type Output = (Option<Id>, usize, Result<String, Aborted>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        Pin::new(&mut this.answer)
            .poll(cx)
            .map(|answer| (this.id.take(), this.slots, answer))
    }
}

/// A message held back until the notifications before it are handled.
enum Deferred {
    One(Parsed),
    Batch(Vec<Parsed>),
}

/// A subscription's producer; its id when it ends.
struct Producer {
    id: u64,
    run: Abortable<BoxFuture<'static, ()>>,
}

impl Future for Producer {
    type Output = u64;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let id = self.id;
        Pin::new(&mut self.run).poll(cx).map(|_| id)
    }
}

/// The params of a subscription's item.
#[derive(Deserialize)]
struct ItemParams<'a> {
    #[serde(borrow)]
    subscription: &'a RawValue,
    #[serde(borrow)]
    result: &'a RawValue,
}

impl<T: Transport, C: Send + Sync + 'static> Connection<T, C> {
    pub(crate) fn new(
        ws: T,
        methods: Methods<C>,
        context: C,
        shared: Arc<Shared>,
        out: Outgoing,
    ) -> Self {
        Self {
            ws,
            peer: Peer::new(Arc::clone(&shared)),
            shared,
            methods,
            context: Arc::new(context),
            out,
            running: FuturesUnordered::new(),
            in_flight: 0,
            answers: VecDeque::new(),
            notifications: VecDeque::new(),
            deferred: VecDeque::new(),
            held_bytes: 0,
            producers: FuturesUnordered::new(),
            cancels: HashMap::new(),
            unflushed: false,
            write_failed: false,
        }
    }

    /// A handle on this connection's peer.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    fn cx(&self) -> Cx<C> {
        Cx::new(self.peer.clone(), Arc::clone(&self.context))
    }

    // ---- reading ----

    /// Reads what has arrived, up to a turn's worth: how many messages,
    /// or how the connection ended when it did.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Result<usize, Ended> {
        let config = &self.shared.config;
        let (room_for_answers, backlog) = (
            config.max_in_flight.max(1),
            config.notification_backlog.max(1),
        );
        let mut read = 0;
        while read < READS_PER_TURN {
            // Answers pile up only while the peer does not read them;
            // once writing failed they are dropped, and reading goes on
            // to the end.
            if (!self.write_failed && self.answers.len() >= room_for_answers)
                || self.notifications.len() >= backlog
                || self.deferred.len() >= room_for_answers
                || self.held_bytes >= self.shared.config.max_message_size
            {
                break;
            }
            match Pin::new(&mut self.ws).poll_next(cx) {
                Poll::Ready(Some(Ok(message))) => {
                    self.on_message(message, cx);
                    read += 1;
                }
                Poll::Ready(Some(Err(error))) => {
                    return Err(Ended {
                        close: self.ws.close_frame(),
                        error: Some(error.to_string()),
                    });
                }
                Poll::Ready(None) => {
                    return Err(Ended {
                        close: self.ws.close_frame(),
                        error: None,
                    });
                }
                Poll::Pending => break,
            }
        }
        Ok(read)
    }

    fn on_message(&mut self, message: Message, cx: &mut Context<'_>) {
        if message.len() > self.shared.config.max_message_size {
            self.ws
                .start_close(CloseCode::MESSAGE_TOO_BIG, "message too big");
            return;
        }
        let payload = message.into_payload();
        let Ok(text) = std::str::from_utf8(&payload) else {
            // A binary message that is not UTF-8 cannot be JSON.
            self.answer(wire::error(&Id::Null, &ErrorObject::parse_error()), 0);
            return;
        };
        let bytes = text.len();
        let queued = self.notifications.len();
        match parse_borrowed(text) {
            Err(error) => self.answer(wire::error(&Id::Null, &error), 0),
            Ok(Items::One(item)) if self.must_wait(std::slice::from_ref(&item)) => {
                self.hold(Deferred::One(item.into_owned()), bytes);
            }
            Ok(Items::Batch(items)) if self.must_wait(&items) => {
                let items = items.into_iter().map(Item::into_owned).collect();
                self.hold(Deferred::Batch(items), bytes);
            }
            Ok(Items::One(item)) => self.on_one(item, cx),
            Ok(Items::Batch(items)) => self.on_batch(items, cx),
        }
        self.charge_notifications(queued, bytes);
    }

    /// Holds a message back until the notifications before it are handled.
    fn hold(&mut self, deferred: Deferred, bytes: usize) {
        self.held_bytes += bytes;
        self.deferred.push_back((deferred, bytes));
    }

    /// Counts a message's bytes against the last notification it queued,
    /// if it queued any (there were `queued` before it).
    fn charge_notifications(&mut self, queued: usize, bytes: usize) {
        if self.notifications.len() > queued {
            if let Some((_, charged)) = self.notifications.back_mut() {
                *charged += bytes;
                self.held_bytes += bytes;
            }
        }
    }

    /// Whether a message holding `items` waits for the notifications
    /// before it: when it holds a request and any are still being
    /// handled, or held back before it.
    ///
    /// While messages are held back, a notification for a handler is
    /// held back too, so that it cannot overtake them.
    fn must_wait(&self, items: &[Item<'_>]) -> bool {
        let behind = !self.notifications.is_empty() || !self.deferred.is_empty();
        items.iter().any(|item| match item {
            Item::Request { .. } => behind,
            Item::Notification { method, .. } => {
                !self.deferred.is_empty()
                    && matches!(self.methods.get(method), Some(Entry::Notify(_)))
            }
            _ => false,
        })
    }

    fn on_one(&mut self, item: Item<'_>, cx: &mut Context<'_>) {
        if let Some((started, slots)) = self.on_item(item, true, cx) {
            self.start(started, slots);
        }
    }

    /// Starts the held-back messages once no notification is being
    /// handled; whether any started.
    fn start_deferred(&mut self, cx: &mut Context<'_>) -> bool {
        let mut started = false;
        while self.notifications.is_empty() {
            let Some((deferred, bytes)) = self.deferred.pop_front() else {
                break;
            };
            started = true;
            self.held_bytes -= bytes;
            let queued = self.notifications.len();
            match deferred {
                Deferred::One(parsed) => self.on_one(parsed.as_item(), cx),
                Deferred::Batch(members) => {
                    self.on_batch(members.iter().map(Parsed::as_item).collect(), cx);
                }
            }
            self.charge_notifications(queued, bytes);
        }
        started
    }

    /// Takes one message; what answers it (and how many requests that
    /// answer ends), if anything does.
    fn on_item(
        &mut self,
        item: Item<'_>,
        alone: bool,
        cx: &mut Context<'_>,
    ) -> Option<(Started, usize)> {
        match item {
            Item::Invalid { id } => Some((
                Started::Now(wire::error(&id, &ErrorObject::invalid_request())),
                0,
            )),
            Item::Request { id, method, params } => self.on_request(id, &method, params, alone, cx),
            Item::Notification { method, params } => {
                self.on_notification(&method, params);
                None
            }
            Item::Response { id, outcome } => {
                self.on_response(&id, outcome);
                None
            }
            Item::BadResponse { id } => {
                // Meant as an answer (it has `result` or `error`), so not
                // answered: the call it names fails.
                let error = ErrorObject::new(
                    crate::error::INTERNAL_ERROR,
                    "the peer's answer was not a valid response",
                );
                self.on_response(&id, Err(error));
                None
            }
        }
    }

    /// Starts handling a request: what answers it, unless it runs here
    /// until it can be cancelled, or is a subscription its handler
    /// answers.
    fn on_request(
        &mut self,
        id: Id,
        method: &str,
        params: Option<&RawValue>,
        alone: bool,
        cx: &mut Context<'_>,
    ) -> Option<(Started, usize)> {
        let now = |text| Some((Started::Now(text), 0));
        match self.methods.get(method) {
            Some(Entry::Call(call)) => {
                if self.in_flight >= self.shared.config.max_in_flight {
                    return now(wire::error(&id, &busy("too many requests in flight")));
                }
                let call = Arc::clone(call);
                self.in_flight += 1;
                let cancel_id =
                    (alone && self.shared.config.cancel_notification.is_some()).then(|| id.clone());
                // A handler that does not wait (most) is answered at once,
                // with no bookkeeping for it.
                let started = match call(self.cx(), params, id) {
                    Started::Later(mut answer) => match answer.as_mut().poll(cx) {
                        Poll::Ready(text) => Started::Now(text),
                        Poll::Pending => Started::Later(answer),
                    },
                    now @ Started::Now(_) => now,
                };
                match started {
                    Started::Later(answer) if cancel_id.is_some() => {
                        let (answer, handle) = futures_util::future::abortable(answer);
                        let id = cancel_id.unwrap_or(Id::Null);
                        // A second request of an id still running cannot
                        // be told apart: only the first is cancellable.
                        let id = match self.cancels.entry(id) {
                            std::collections::hash_map::Entry::Vacant(entry) => {
                                let id = entry.key().clone();
                                entry.insert(handle);
                                Some(id)
                            }
                            std::collections::hash_map::Entry::Occupied(_) => None,
                        };
                        self.running.push(Running {
                            id,
                            slots: 1,
                            answer,
                        });
                        None
                    }
                    started => Some((started, 1)),
                }
            }
            Some(Entry::Subscribe {
                notification,
                start,
            }) => {
                if !alone {
                    // Its answer would have to be in the batch's array,
                    // and its items could not go out before that array.
                    return now(wire::error(
                        &id,
                        &busy("subscriptions are not taken inside a batch"),
                    ));
                }
                let (notification, start) = (Arc::clone(notification), Arc::clone(start));
                self.on_subscribe(&id, params, notification, &*start)
                    .and_then(now)
            }
            Some(Entry::Unsubscribe) => now(self.on_unsubscribe(&id, params)),
            Some(Entry::Notify(_)) | None => {
                now(wire::error(&id, &ErrorObject::method_not_found()))
            }
        }
    }

    /// Starts a subscription the peer asked for; an answer only when it
    /// was refused here (otherwise its handler answers).
    fn on_subscribe(
        &mut self,
        id: &Id,
        params: Option<&RawValue>,
        notification: Arc<str>,
        start: &SubscribeFn<C>,
    ) -> Option<String> {
        if self.producers.len() >= self.shared.config.max_subscriptions {
            return Some(wire::error(id, &busy("too many subscriptions")));
        }
        let subscription = self.shared.next_subscription();
        let closed = Arc::new(AtomicBool::new(false));
        let pending = PendingSubscription::new(
            Arc::clone(&self.shared),
            id.clone(),
            subscription,
            notification,
            Arc::clone(&closed),
        );
        // Params that do not deserialize are answered here, once: the
        // handler never sees `pending`.
        let run = match start(self.cx(), params, pending) {
            Ok(run) => run,
            Err(error) => return Some(wire::error(id, &error)),
        };
        let (run, abort) = futures_util::future::abortable(run);
        self.shared
            .table()
            .serving
            .insert(subscription, Serving { abort, closed });
        self.producers.push(Producer {
            id: subscription,
            run,
        });
        None
    }

    /// Ends the peer's subscription named by the params (`[ID]`, or an
    /// object whose one member is the id): `true`, or `false` when there
    /// was none.
    fn on_unsubscribe(&mut self, id: &Id, params: Option<&RawValue>) -> String {
        let subscription = params.and_then(|raw| {
            serde_json::from_str::<(u64,)>(raw.get())
                .map(|(n,)| n)
                .or_else(|_| {
                    serde_json::from_str::<HashMap<String, u64>>(raw.get())
                        .map_err(|_| ())
                        .and_then(|map| map.into_values().next().ok_or(()))
                })
                .ok()
        });
        let Some(subscription) = subscription else {
            return wire::error(id, &ErrorObject::invalid_params());
        };
        let serving = self.shared.table().serving.remove(&subscription);
        if let Some(serving) = &serving {
            serving.stop();
        }
        wire::result(id, &serving.is_some())
    }

    fn on_notification(&mut self, method: &str, params: Option<&RawValue>) {
        if self.shared.config.cancel_notification.as_deref() == Some(method) {
            self.on_cancel(params);
            return;
        }
        if self.on_subscription_item(method, params) {
            return;
        }
        if let Some(Entry::Notify(notify)) = self.methods.get(method) {
            let notify = Arc::clone(notify);
            if let Some(run) = notify(self.cx(), params) {
                self.notifications.push_back((run, 0));
            }
        } else {
            tracing::debug!(method, "a notification nobody handles");
        }
    }

    /// Cancels the request the params name, if it still runs.
    fn on_cancel(&mut self, params: Option<&RawValue>) {
        let id = params
            .and_then(|raw| serde_json::from_str::<CancelParams<&RawValue>>(raw.get()).ok())
            .and_then(|params| Id::from_raw(params.id));
        if let Some(handle) = id.and_then(|id| self.cancels.remove(&id)) {
            handle.abort();
        }
    }

    /// Delivers an item of one of this side's subscriptions; whether the
    /// notification was one.
    fn on_subscription_item(&mut self, method: &str, params: Option<&RawValue>) -> bool {
        // One lock per item: the method is checked first, so that other
        // notifications' params are not read as items.
        let table = self.shared.table();
        if !table.notifications.contains_key(method) {
            return false;
        }
        let Some(params) =
            params.and_then(|raw| serde_json::from_str::<ItemParams<'_>>(raw.get()).ok())
        else {
            return false;
        };
        let id = params.subscription.get();
        let Some(delivery) = table
            .deliveries
            .get(id)
            .and_then(|list| list.iter().find(|d| &*d.notification == method))
        else {
            return false;
        };
        let sent = delivery.items.try_send(params.result.to_owned());
        drop(table);
        match sent {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                // The application does not keep up: end the subscription.
                if let Some(delivery) = self.shared.remove_delivery(id, method) {
                    delivery
                        .state
                        .lagged
                        .store(true, std::sync::atomic::Ordering::Release);
                    self.shared
                        .unsubscribe_quietly(&delivery.unsubscribe, params.subscription);
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                // Its stream was dropped before it was registered there.
                if let Some(delivery) = self.shared.remove_delivery(id, method) {
                    self.shared
                        .unsubscribe_quietly(&delivery.unsubscribe, params.subscription);
                }
            }
        }
        true
    }

    fn on_response(&mut self, id: &Id, outcome: Result<&RawValue, ErrorObject>) {
        let waiter = id
            .as_u64()
            .and_then(|n| self.shared.table().pending.remove(&n));
        match waiter {
            Some(Waiter::Call(answer)) => {
                let _ = answer.send(outcome.map(RawValue::to_owned));
            }
            Some(Waiter::Subscribe {
                answer,
                notification,
                unsubscribe,
            }) => self.on_subscribed(outcome, answer, notification, &unsubscribe),
            Some(Waiter::Ignore) => {}
            Some(Waiter::Unsubscribe(unsubscribe)) => {
                // A subscription given up before its answer came.
                if let Ok(subscription) = outcome {
                    self.shared.unsubscribe_quietly(&unsubscribe, subscription);
                }
            }
            None => match outcome {
                Err(error) if *id == Id::Null => {
                    tracing::warn!(%error, "the peer could not read a message of ours");
                }
                _ => tracing::debug!(?id, "an answer to no call of ours"),
            },
        }
    }

    /// Opens the channel of a subscription the peer accepted, before any
    /// of its items can be read.
    fn on_subscribed(
        &mut self,
        outcome: Result<&RawValue, ErrorObject>,
        answer: tokio::sync::oneshot::Sender<Result<Subscribed, ErrorObject>>,
        notification: Arc<str>,
        unsubscribe: &Arc<str>,
    ) {
        let id = match outcome {
            Ok(id) => id,
            Err(error) => {
                let _ = answer.send(Err(error));
                return;
            }
        };
        let (items, receiver) = mpsc::channel(self.shared.config.subscription_buffer.max(1));
        let state = Arc::new(SubscriptionState::default());
        let delivery = Delivery {
            notification,
            unsubscribe: Arc::clone(unsubscribe),
            items,
            state: Arc::clone(&state),
        };
        let key = id.get().trim();
        let notification = Arc::clone(&delivery.notification);
        self.shared.add_delivery(key, delivery);
        let subscribed = Subscribed {
            id: id.to_owned(),
            items: receiver,
            state,
        };
        if answer.send(Ok(subscribed)).is_err() {
            // The caller gave up meanwhile.
            self.shared.remove_delivery(key, &notification);
            self.shared.unsubscribe_quietly(unsubscribe, id);
        }
    }

    fn on_batch(&mut self, items: Vec<Item<'_>>, cx: &mut Context<'_>) {
        let allowed = match self.shared.config.batches {
            Batches::Upto(max) => items.len() <= max,
            Batches::Refused => false,
        };
        if !allowed {
            self.answer(wire::error(&Id::Null, &ErrorObject::invalid_request()), 0);
            return;
        }
        let mut done = Vec::new();
        let mut later = Vec::new();
        let mut slots = 0;
        for item in items {
            if let Some((started, n)) = self.on_item(item, false, cx) {
                slots += n;
                match started {
                    Started::Now(text) => done.push(text),
                    Started::Later(answer) => later.push(answer),
                }
            }
        }
        if later.is_empty() {
            if done.is_empty() {
                self.in_flight -= slots;
            } else {
                self.answer(wire::batch(&done), slots);
            }
            return;
        }
        let answer = async move {
            done.extend(futures_util::future::join_all(later).await);
            wire::batch(&done)
        };
        let (answer, _) = futures_util::future::abortable(answer.boxed());
        self.running.push(Running {
            id: None,
            slots,
            answer,
        });
    }

    /// Queues or runs what answers one request.
    fn start(&mut self, started: Started, slots: usize) {
        match started {
            Started::Now(text) => self.answer(text, slots),
            Started::Later(answer) => {
                let (answer, _) = futures_util::future::abortable(answer);
                self.running.push(Running {
                    id: None,
                    slots,
                    answer,
                });
            }
        }
    }

    fn answer(&mut self, text: String, slots: usize) {
        if self.write_failed {
            self.in_flight -= slots;
            return;
        }
        self.answers.push_back((text, slots));
    }

    /// Writing failed (the connection is closing or gone): what waits to
    /// be written never will be.
    fn writing_failed(&mut self) {
        self.write_failed = true;
        for (_, slots) in self.answers.drain(..) {
            self.in_flight -= slots;
        }
    }

    // ---- the handlers' progress ----

    /// Collects the answers of handlers that finished; whether any did.
    fn poll_running(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some((id, slots, answer))) = self.running.poll_next_unpin(cx) {
            progress = true;
            if let Some(id) = &id {
                self.cancels.remove(id);
            }
            let text = answer.unwrap_or_else(|Aborted| {
                let error = ErrorObject::new(REQUEST_CANCELLED, "Request cancelled");
                wire::error(&id.unwrap_or(Id::Null), &error)
            });
            self.answer(text, slots);
        }
        progress
    }

    /// Runs the notification handlers, one at a time, in order.
    fn poll_notifications(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progress = false;
        while let Some((front, _)) = self.notifications.front_mut() {
            if front.as_mut().poll(cx).is_pending() {
                break;
            }
            if let Some((_, bytes)) = self.notifications.pop_front() {
                self.held_bytes -= bytes;
            }
            progress = true;
        }
        progress
    }

    /// Runs the subscriptions' producers, forgetting those that ended.
    fn poll_producers(&mut self, cx: &mut Context<'_>) {
        while let Poll::Ready(Some(id)) = self.producers.poll_next_unpin(cx) {
            if let Some(serving) = self.shared.table().serving.remove(&id) {
                serving.stop();
            }
        }
    }

    // ---- writing ----

    /// Writes answers and queued messages while the transport takes
    /// them, then flushes; whether anything was written.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> bool {
        if self.write_failed {
            return false;
        }
        let mut wrote = false;
        loop {
            if self.answers.is_empty() {
                // What cannot wait first: a subscription's answer then
                // leaves before its items.
                let next = match self.out.control.poll_recv(cx) {
                    Poll::Ready(Some(out)) => Some(out),
                    Poll::Ready(None) | Poll::Pending => match self.out.queue.poll_recv(cx) {
                        Poll::Ready(out) => out,
                        Poll::Pending => None,
                    },
                };
                match next {
                    Some(Out::Text(text)) => self.answers.push_back((text, 0)),
                    Some(Out::Close(code, reason)) => {
                        self.ws.start_close(code, &reason);
                        wrote = true;
                        self.unflushed = true;
                        continue;
                    }
                    None => break,
                }
            }
            match Pin::new(&mut self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => {
                    self.writing_failed();
                    return wrote;
                }
                Poll::Pending => break,
            }
            let Some((text, slots)) = self.answers.pop_front() else {
                break;
            };
            self.in_flight -= slots;
            if Pin::new(&mut self.ws)
                .start_send(Message::text(text))
                .is_err()
            {
                self.writing_failed();
                return wrote;
            }
            wrote = true;
            self.unflushed = true;
        }
        if self.unflushed {
            match Pin::new(&mut self.ws).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => self.writing_failed(),
                Poll::Pending => {}
            }
        }
        wrote
    }
}

impl<T, C> Drop for Connection<T, C> {
    /// Dropped before it ended (its task stopped, or its runner dropped
    /// it): the handles learn it ended, and every waiting call fails.
    fn drop(&mut self) {
        if !self.shared.is_ended() {
            self.shared.end(Ended {
                close: None,
                error: Some("the connection was dropped".to_owned()),
            });
        }
    }
}

impl<T: Transport, C: Send + Sync + 'static> Future for Connection<T, C> {
    type Output = Ended;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Ended> {
        let this = &mut *self;
        for _ in 0..TURNS_PER_POLL {
            let mut progress = this.poll_running(cx);
            progress |= this.poll_notifications(cx);
            progress |= this.start_deferred(cx);
            this.poll_producers(cx);
            match this.poll_read(cx) {
                Ok(read) => progress |= read > 0,
                Err(ended) => {
                    this.shared.end(ended.clone());
                    this.running.clear();
                    this.producers.clear();
                    this.notifications.clear();
                    this.deferred.clear();
                    return Poll::Ready(ended);
                }
            }
            progress |= this.poll_write(cx);
            if !progress {
                return Poll::Pending;
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// -32000 with `what`: this side refused to take more.
fn busy(what: &str) -> ErrorObject {
    ErrorObject::new(SERVER_ERROR_MAX, what.to_owned())
}
