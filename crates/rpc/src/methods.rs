//! [`Methods`]: the methods, notifications and subscriptions one side
//! serves, registered by name at run time, and [`Cx`], what each handler
//! gets besides its params.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::ErrorObject;
use crate::id::Id;
use crate::peer::Peer;
use crate::sink::PendingSubscription;
use crate::wire;

/// What a handler gets besides its params: the connection's context and
/// the peer, to call it back.
#[derive(Debug)]
pub struct Cx<C> {
    peer: Peer,
    context: Arc<C>,
}

impl<C> Clone for Cx<C> {
    fn clone(&self) -> Self {
        Self {
            peer: self.peer.clone(),
            context: Arc::clone(&self.context),
        }
    }
}

impl<C> Cx<C> {
    pub(crate) fn new(peer: Peer, context: Arc<C>) -> Self {
        Self { peer, context }
    }

    /// The peer that made the call: a handler can call it back.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The connection's context, given when it was opened (who the peer
    /// is, what it may do, its state).
    pub fn context(&self) -> &C {
        &self.context
    }

    /// The context as a shared pointer, to keep beyond the handler.
    pub fn context_arc(&self) -> Arc<C> {
        Arc::clone(&self.context)
    }
}

/// How a request's answer comes: at once, or when a future ends.
pub(crate) enum Started {
    Now(String),
    Later(BoxFuture<'static, String>),
}

type CallFn<C> = dyn Fn(Cx<C>, Option<&RawValue>, Id) -> Started + Send + Sync;
type NotifyFn<C> = dyn Fn(Cx<C>, Option<&RawValue>) -> Option<BoxFuture<'static, ()>> + Send + Sync;
pub(crate) type SubscribeFn<C> = dyn Fn(Cx<C>, Option<&RawValue>, PendingSubscription) -> Result<BoxFuture<'static, ()>, ErrorObject>
    + Send
    + Sync;

/// What a name is registered as.
pub(crate) enum Entry<C> {
    Call(Arc<CallFn<C>>),
    Notify(Arc<NotifyFn<C>>),
    Subscribe {
        notification: Arc<str>,
        start: Arc<SubscribeFn<C>>,
    },
    Unsubscribe,
}

impl<C> Clone for Entry<C> {
    fn clone(&self) -> Self {
        match self {
            Entry::Call(f) => Entry::Call(Arc::clone(f)),
            Entry::Notify(f) => Entry::Notify(Arc::clone(f)),
            Entry::Subscribe {
                notification,
                start,
            } => Entry::Subscribe {
                notification: Arc::clone(notification),
                start: Arc::clone(start),
            },
            Entry::Unsubscribe => Entry::Unsubscribe,
        }
    }
}

/// The methods, notifications and subscriptions one side serves, by name,
/// each handler getting a [`Cx<C>`](Cx) and its params deserialized.
///
/// Params deserialize with serde: a tuple or a struct takes positional
/// params (an array), a struct or a map takes named ones (an object);
/// params left out are read as `null` (so `()` and `Option` take them),
/// then as `[]`. Params that do not deserialize are answered with -32602
/// (Invalid params), the reason in its `data`.
///
/// Cheap to clone: every connection holds the set as it was when the
/// connection opened.
///
/// ```
/// use sockeye_rpc::{ErrorObject, Methods};
///
/// let mut methods = Methods::<()>::new();
/// methods
///     .sync_method("add", |_, (a, b): (i64, i64)| Ok::<_, ErrorObject>(a + b))
///     .method("echo", |_, params: serde_json::Value| async move { Ok::<_, ErrorObject>(params) });
/// assert!(methods.contains("add"));
/// ```
pub struct Methods<C = ()> {
    table: Arc<HashMap<Box<str>, Entry<C>>>,
}

impl<C> Clone for Methods<C> {
    fn clone(&self) -> Self {
        Self {
            table: Arc::clone(&self.table),
        }
    }
}

impl<C> Default for Methods<C> {
    fn default() -> Self {
        Self {
            table: Arc::default(),
        }
    }
}

impl<C> std::fmt::Debug for Methods<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.names().collect();
        names.sort_unstable();
        f.debug_struct("Methods").field("names", &names).finish()
    }
}

impl<C: Send + Sync + 'static> Methods<C> {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an async method: `f` gets the context and the params,
    /// and its result (or error) is the answer. Handlers run
    /// concurrently, up to [`Config::max_in_flight`](crate::Config::max_in_flight)
    /// at once.
    ///
    /// # Panics
    ///
    /// When `name` starts with `rpc.`: the specification reserves those
    /// names for itself.
    pub fn method<P, R, F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        R: Serialize + Send + 'static,
        F: Fn(Cx<C>, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ErrorObject>> + Send + 'static,
    {
        let call = move |cx: Cx<C>, params: Option<&RawValue>, id: Id| match decode::<P>(params) {
            Ok(params) => {
                let answer = f(cx, params);
                Started::Later(Box::pin(async move { respond(&id, &answer.await) }))
            }
            Err(error) => Started::Now(wire::error(&id, &error)),
        };
        self.insert(name, Entry::Call(Arc::new(call)))
    }

    /// Registers a method answered at once, without a future: for
    /// handlers that do not wait, the cheapest kind. Keep it quick: the
    /// connection waits for it.
    ///
    /// # Panics
    ///
    /// As [`method`](Self::method).
    pub fn sync_method<P, R, F>(&mut self, name: &str, f: F) -> &mut Self
    where
        P: DeserializeOwned,
        R: Serialize,
        F: Fn(Cx<C>, P) -> Result<R, ErrorObject> + Send + Sync + 'static,
    {
        let call = move |cx: Cx<C>, params: Option<&RawValue>, id: Id| {
            Started::Now(match decode::<P>(params) {
                Ok(params) => respond(&id, &f(cx, params)),
                Err(error) => wire::error(&id, &error),
            })
        };
        self.insert(name, Entry::Call(Arc::new(call)))
    }

    /// Registers an async method that takes its params and gives its
    /// result as JSON text, for proxies and methods whose params have no
    /// fixed type.
    ///
    /// # Panics
    ///
    /// As [`method`](Self::method).
    pub fn raw_method<F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        F: Fn(Cx<C>, Option<Box<RawValue>>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Box<RawValue>, ErrorObject>> + Send + 'static,
    {
        let call = move |cx: Cx<C>, params: Option<&RawValue>, id: Id| {
            let answer = f(cx, params.map(RawValue::to_owned));
            Started::Later(Box::pin(async move {
                match answer.await {
                    Ok(result) => wire::raw_result(&id, &result),
                    Err(error) => wire::error(&id, &error),
                }
            }))
        };
        self.insert(name, Entry::Call(Arc::new(call)))
    }

    /// Registers a notification handler. Notifications are handled one
    /// at a time, in the order they arrived, and a request that came
    /// after one starts only once it is handled; one whose params do not
    /// deserialize is dropped (nothing may be answered to a
    /// notification). Answers to this side's calls are still read
    /// meanwhile, so a handler may call the peer and wait.
    ///
    /// # Panics
    ///
    /// As [`method`](Self::method).
    pub fn notification<P, F, Fut>(&mut self, name: &str, f: F) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        F: Fn(Cx<C>, P) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let notify = move |cx: Cx<C>, params: Option<&RawValue>| match decode::<P>(params) {
            Ok(params) => Some(Box::pin(f(cx, params)) as BoxFuture<'static, ()>),
            Err(error) => {
                tracing::debug!(%error, "a notification's params did not deserialize");
                None
            }
        };
        self.insert(name, Entry::Notify(Arc::new(notify)))
    }

    /// Registers a subscription: `subscribe` starts one, whose items go
    /// out as `notification`s with params `{"subscription": ID,
    /// "result": ITEM}`, until the peer calls `unsubscribe` with `[ID]`
    /// (answered `true`, or `false` for an id it does not hold) or the
    /// connection ends, either of which drops `f`'s future. `f` accepts
    /// or rejects the [`PendingSubscription`], then sends items into the
    /// sink it got. When `f`'s future ends by itself, the subscription
    /// ends with it: later items cannot be sent, and `unsubscribe`
    /// answers `false`; keep the future pending to keep it open.
    ///
    /// # Panics
    ///
    /// As [`method`](Self::method), for `subscribe` and `unsubscribe`.
    pub fn subscription<P, F, Fut>(
        &mut self,
        subscribe: &str,
        notification: &str,
        unsubscribe: &str,
        f: F,
    ) -> &mut Self
    where
        P: DeserializeOwned + Send + 'static,
        F: Fn(Cx<C>, P, PendingSubscription) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let start = move |cx: Cx<C>, params: Option<&RawValue>, pending: PendingSubscription| {
            match decode::<P>(params) {
                Ok(params) => Ok(Box::pin(f(cx, params, pending)) as BoxFuture<'static, ()>),
                Err(error) => {
                    // Answered with this error by the connection, not
                    // also with the Internal error of an unanswered one.
                    pending.answered_elsewhere();
                    Err(error)
                }
            }
        };
        self.insert(
            subscribe,
            Entry::Subscribe {
                notification: notification.into(),
                start: Arc::new(start),
            },
        );
        self.insert(unsubscribe, Entry::Unsubscribe)
    }

    /// Adds every registration of `other`; `other`'s win where the names
    /// are the same.
    pub fn merge(&mut self, other: &Methods<C>) -> &mut Self {
        let table = Arc::make_mut(&mut self.table);
        for (name, entry) in other.table.iter() {
            table.insert(name.clone(), entry.clone());
        }
        self
    }

    /// Removes a registration; whether there was one.
    pub fn remove(&mut self, name: &str) -> bool {
        Arc::make_mut(&mut self.table).remove(name).is_some()
    }

    fn insert(&mut self, name: &str, entry: Entry<C>) -> &mut Self {
        assert!(
            !name.starts_with("rpc."),
            "method names that start with \"rpc.\" are reserved by JSON-RPC 2.0: {name:?}"
        );
        Arc::make_mut(&mut self.table).insert(name.into(), entry);
        self
    }
}

impl<C> Methods<C> {
    /// Whether `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.table.contains_key(name)
    }

    /// The registered names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.table.keys().map(|name| &**name)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Entry<C>> {
        self.table.get(name)
    }
}

/// The params as `P`: left out, they are read as `null`, then as `[]`.
///
/// # Errors
///
/// -32602 (Invalid params) with serde's reason as `data`.
pub(crate) fn decode<P: DeserializeOwned>(params: Option<&RawValue>) -> Result<P, ErrorObject> {
    let result = match params {
        Some(raw) => serde_json::from_str(raw.get()),
        None => serde_json::from_str("null").or_else(|_| serde_json::from_str("[]")),
    };
    result.map_err(|e| {
        let error = ErrorObject::invalid_params();
        error.clone().with_data(&e.to_string()).unwrap_or(error)
    })
}

/// The answer for a handler's outcome.
fn respond<R: Serialize>(id: &Id, outcome: &Result<R, ErrorObject>) -> String {
    match outcome {
        Ok(result) => wire::result(id, result),
        Err(error) => wire::error(id, error),
    }
}
