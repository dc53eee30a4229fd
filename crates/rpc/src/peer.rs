//! [`Peer`]: this side's handle on a connection, to call the other side,
//! notify it, batch, subscribe, and close.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use sockeye::CloseCode;
use tokio::sync::oneshot;

use crate::call_error::CallError;
use crate::shared::{Answer, Ended, Out, Shared, Waiter};
use crate::subscription::Subscription;
use crate::wire;

/// The other side of a connection, as this side calls it. Cheap to
/// clone; every clone is the same connection. Handlers get one through
/// [`Cx::peer`](crate::Cx::peer), so a method can call the caller back.
///
/// Each direction numbers its own requests: this side's ids are
/// `1, 2, 3, …` and never collide with the peer's, whatever it uses.
#[derive(Clone, Debug)]
pub struct Peer {
    shared: Arc<Shared>,
}

impl Peer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Calls `method` and deserializes its result.
    ///
    /// `params` is anything that serializes to a JSON array (by
    /// position: a tuple, a slice, a `Vec`), an object (by name: a
    /// struct, a map), or to nothing (`()`, `None`), which leaves
    /// `params` out. The call waits at most
    /// [`Config::call_timeout`](crate::Config::call_timeout).
    ///
    /// # Errors
    ///
    /// [`CallError::Error`] when the peer answered with an error, and the
    /// other [`CallError`]s as they say.
    pub async fn call<R: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, CallError> {
        let raw = self.call_raw(method, params).await?;
        serde_json::from_str(raw.get()).map_err(CallError::Decode)
    }

    /// [`call`](Self::call) with its own timeout (`None`: wait as long as
    /// the connection lasts).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_with_timeout<R: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
        timeout: Option<Duration>,
    ) -> Result<R, CallError> {
        let text_and_id = self.request_text(method, params)?;
        let raw = self.send_and_wait(text_and_id, timeout).await?;
        serde_json::from_str(raw.get()).map_err(CallError::Decode)
    }

    /// Calls `method` and gives its result as JSON text.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn call_raw<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<Box<RawValue>, CallError> {
        let text_and_id = self.request_text(method, params)?;
        self.send_and_wait(text_and_id, self.shared.config.call_timeout)
            .await
    }

    /// Sends a notification: no answer comes. Waits while the outgoing
    /// queue is full.
    ///
    /// # Errors
    ///
    /// [`CallError::Disconnected`] when the connection ended; the params
    /// errors of [`call`](Self::call).
    pub async fn notify<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<(), CallError> {
        let text = wire::call(method, params, None)?;
        self.send(text).await
    }

    /// Sends the calls and notifications of `batch` as one message and
    /// waits for every answer; the results come in the order of the
    /// batch's calls (notifications get none).
    ///
    /// # Errors
    ///
    /// [`CallError::Disconnected`] when the connection ended before the
    /// batch was sent; each call's own outcome is in the list. A peer
    /// that refuses batches as the specification says answers with one
    /// error without an id, and each call fails at its timeout; so does
    /// every call of a batch sent to a peer that ignores batches
    /// (vscode-jsonrpc does): send such peers single calls.
    pub async fn batch(
        &self,
        batch: Batch,
    ) -> Result<Vec<Result<Box<RawValue>, CallError>>, CallError> {
        let deadline = Deadline::after(self.shared.config.call_timeout);
        let mut waits = Vec::new();
        let mut texts = Vec::with_capacity(batch.members.len());
        let mut guards = Vec::new();
        for member in &batch.members {
            let id = member.call.then(|| self.shared.next_id());
            texts.push(wire::call(&member.method, &member.params, id)?);
            if let Some(id) = id {
                let (tx, rx) = oneshot::channel();
                if !self.shared.wait_for(id, Waiter::Call(tx)) {
                    return Err(CallError::Disconnected);
                }
                guards.push(Forget::new(&self.shared, id));
                waits.push(rx);
            }
        }
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        deadline.within(self.send(wire::batch(&texts))).await?;
        for guard in &mut guards {
            guard.sent = true;
        }
        let all =
            futures_util::future::join_all(waits.into_iter().map(|rx| deadline.within(answer(rx))));
        let results = all.await;
        for (guard, result) in guards.iter_mut().zip(&results) {
            guard.answered = !matches!(result, Err(CallError::Timeout(_)));
        }
        Ok(results)
    }

    /// Subscribes: calls `subscribe` with `params`, whose result is the
    /// subscription's id; the peer then sends each item as a
    /// `notification` with params `{"subscription": ID, "result": ITEM}`
    /// (the convention of jsonrpsee and Ethereum's nodes). Dropping the
    /// [`Subscription`] calls `unsubscribe` with `[ID]`.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn subscribe<T: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        subscribe: &str,
        params: &P,
        notification: &str,
        unsubscribe: &str,
    ) -> Result<Subscription<T>, CallError> {
        let deadline = Deadline::after(self.shared.config.call_timeout);
        let _slot = deadline.within(self.slot()).await?;
        let id = self.shared.next_id();
        let text = wire::call(subscribe, params, Some(id))?;
        let notification: Arc<str> = notification.into();
        let unsubscribe: Arc<str> = unsubscribe.into();
        let (tx, rx) = oneshot::channel();
        let waiter = Waiter::Subscribe {
            answer: tx,
            notification: Arc::clone(&notification),
            unsubscribe: Arc::clone(&unsubscribe),
        };
        if !self.shared.wait_for(id, waiter) {
            return Err(CallError::Disconnected);
        }
        let mut guard = Forget::new(&self.shared, id);
        // Given up, and accepted by the peer after all: unsubscribed then.
        guard.late = Some(unsubscribe);
        deadline.within(self.send(text)).await?;
        guard.sent = true;
        let subscribed = deadline
            .within(async { rx.await.map_err(|_| CallError::Disconnected) })
            .await;
        guard.answered = !matches!(subscribed, Err(CallError::Timeout(_)));
        let subscribed = subscribed?.map_err(CallError::Error)?;
        Ok(Subscription::new(
            Arc::clone(&self.shared),
            subscribed,
            notification,
        ))
    }

    /// Starts the closing handshake with `code` and `reason`, after
    /// what this side already queued (a notification sent just before
    /// goes out first), and waits for the connection to end.
    pub async fn close(&self, code: CloseCode, reason: &str) -> Ended {
        let _ = self
            .shared
            .out
            .send(Out::Close(code, reason.to_owned()))
            .await;
        self.closed().await
    }

    /// Waits for the connection to end, and says how it did.
    pub async fn closed(&self) -> Ended {
        let mut ended = self.shared.ended.subscribe();
        loop {
            if let Some(how) = ended.borrow_and_update().clone() {
                return how;
            }
            if ended.changed().await.is_err() {
                return Ended {
                    close: None,
                    error: Some("the connection's task is gone".into()),
                };
            }
        }
    }

    /// Whether the connection ended.
    pub fn is_closed(&self) -> bool {
        self.shared.is_ended()
    }

    /// The limits this connection runs with.
    pub fn config(&self) -> &crate::Config {
        &self.shared.config
    }

    // ---- steps ----

    fn request_text<P: Serialize + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<(String, u64), CallError> {
        let id = self.shared.next_id();
        Ok((wire::call(method, params, Some(id))?, id))
    }

    /// A slot for one more call waiting for its answer.
    async fn slot(&self) -> Result<tokio::sync::SemaphorePermit<'_>, CallError> {
        self.shared
            .slots
            .acquire()
            .await
            .map_err(|_| CallError::Disconnected)
    }

    async fn send_and_wait(
        &self,
        (text, id): (String, u64),
        timeout: Option<Duration>,
    ) -> Result<Box<RawValue>, CallError> {
        // The timeout covers the whole call: waiting for a slot, for room
        // in the outgoing queue (a peer that does not read), the answer.
        let deadline = Deadline::after(timeout);
        let _slot = deadline.within(self.slot()).await?;
        let (tx, rx) = oneshot::channel();
        if !self.shared.wait_for(id, Waiter::Call(tx)) {
            return Err(CallError::Disconnected);
        }
        let mut guard = Forget::new(&self.shared, id);
        deadline.within(self.send(text)).await?;
        guard.sent = true;
        let result = deadline.within(answer(rx)).await;
        guard.answered = !matches!(result, Err(CallError::Timeout(_)));
        result
    }

    async fn send(&self, text: String) -> Result<(), CallError> {
        self.shared
            .out
            .send(Out::Text(text))
            .await
            .map_err(|_| CallError::Disconnected)
    }
}

/// The answer to one call; a dropped sender is the connection's end.
async fn answer(rx: oneshot::Receiver<Answer>) -> Result<Box<RawValue>, CallError> {
    rx.await
        .map_err(|_| CallError::Disconnected)?
        .map_err(CallError::Error)
}

/// When a call gives up: its timeout, counted from when it was made.
#[derive(Clone, Copy)]
struct Deadline(Option<(tokio::time::Instant, Duration)>);

impl Deadline {
    fn after(timeout: Option<Duration>) -> Self {
        Self(timeout.map(|limit| (tokio::time::Instant::now() + limit, limit)))
    }

    /// `step`, unless the deadline passes first. A step that is ready at
    /// once costs no timer.
    async fn within<T>(
        self,
        step: impl Future<Output = Result<T, CallError>>,
    ) -> Result<T, CallError> {
        match self.0 {
            Some((at, limit)) => tokio::time::timeout_at(at, step)
                .await
                .map_err(|_| CallError::Timeout(limit))?,
            None => step.await,
        }
    }
}

/// Forgets a call that was given up (timed out, or its future dropped)
/// and, once it was sent, tells the peer with the cancellation
/// notification.
struct Forget<'a> {
    shared: &'a Shared,
    id: u64,
    sent: bool,
    answered: bool,
    /// For a subscribe call: the method that ends the subscription,
    /// should the peer accept it after this side gave up.
    late: Option<Arc<str>>,
}

impl<'a> Forget<'a> {
    fn new(shared: &'a Shared, id: u64) -> Self {
        Self {
            shared,
            id,
            sent: false,
            answered: false,
            late: None,
        }
    }
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        if self.answered {
            return;
        }
        if !self.sent {
            self.shared.forget(self.id);
            return;
        }
        if let Some(unsubscribe) = self.late.take() {
            self.shared
                .replace_waiter(self.id, Waiter::Unsubscribe(unsubscribe));
            return;
        }
        if !self.shared.forget(self.id) {
            return;
        }
        if let Some(method) = &self.shared.config.cancel_notification {
            let params = CancelParams { id: self.id };
            if let Ok(text) = wire::call(method, &params, None) {
                self.shared.send_now(text);
            }
        }
    }
}

/// The params of a cancellation notification.
#[derive(Serialize, serde::Deserialize)]
pub(crate) struct CancelParams<I> {
    pub(crate) id: I,
}

/// Calls and notifications sent as one batch by [`Peer::batch`].
#[derive(Debug, Default)]
pub struct Batch {
    members: Vec<Member>,
}

#[derive(Debug)]
struct Member {
    method: String,
    params: Option<Box<RawValue>>,
    call: bool,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a call; its result comes back in this place among the calls.
    ///
    /// # Errors
    ///
    /// The params errors of [`Peer::call`].
    pub fn call<P: Serialize + ?Sized>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<&mut Self, CallError> {
        self.push(method, params, true)
    }

    /// Adds a notification.
    ///
    /// # Errors
    ///
    /// The params errors of [`Peer::call`].
    pub fn notify<P: Serialize + ?Sized>(
        &mut self,
        method: &str,
        params: &P,
    ) -> Result<&mut Self, CallError> {
        self.push(method, params, false)
    }

    /// How many calls and notifications it holds.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    fn push<P: Serialize + ?Sized>(
        &mut self,
        method: &str,
        params: &P,
        call: bool,
    ) -> Result<&mut Self, CallError> {
        let raw = serde_json::value::to_raw_value(params).map_err(CallError::Encode)?;
        let params = match raw.get().as_bytes().first() {
            Some(b'[' | b'{') => Some(raw),
            Some(b'n') => None,
            _ => return Err(CallError::Params),
        };
        self.members.push(Member {
            method: method.to_owned(),
            params,
            call,
        });
        Ok(self)
    }
}
