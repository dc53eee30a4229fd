//! [`Caller`]: what calls the other side, a [`Peer`] or a reconnecting
//! [`Client`]: the clients the `service` attribute makes call through
//! either.

use std::future::Future;

use futures_core::Stream;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::call_error::{CallError, SubscriptionError};
use crate::peer::Peer;
use crate::reconnect::{Client, ClientSubscription};
use crate::subscription::Subscription;

/// Calls, notifications and subscriptions to the other side: a [`Peer`]
/// (one connection) or a [`Client`] (one that comes back).
pub trait Caller: Clone + Send + Sync + 'static {
    /// The stream of one subscription's items.
    type Subscription<T: DeserializeOwned + 'static>: Stream<Item = Result<T, SubscriptionError>>
        + Send
        + Unpin;

    /// As [`Peer::call`].
    fn call<R: DeserializeOwned, P: Serialize + Sync + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> impl Future<Output = Result<R, CallError>> + Send;

    /// As [`Peer::notify`].
    fn notify<P: Serialize + Sync + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> impl Future<Output = Result<(), CallError>> + Send;

    /// As [`Peer::subscribe`].
    fn subscribe<T: DeserializeOwned + 'static, P: Serialize + Sync + ?Sized>(
        &self,
        subscribe: &str,
        params: &P,
        notification: &str,
        unsubscribe: &str,
    ) -> impl Future<Output = Result<Self::Subscription<T>, CallError>> + Send;
}

impl Caller for Peer {
    type Subscription<T: DeserializeOwned + 'static> = Subscription<T>;

    fn call<R: DeserializeOwned, P: Serialize + Sync + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> impl Future<Output = Result<R, CallError>> + Send {
        Peer::call(self, method, params)
    }

    fn notify<P: Serialize + Sync + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> impl Future<Output = Result<(), CallError>> + Send {
        Peer::notify(self, method, params)
    }

    fn subscribe<T: DeserializeOwned + 'static, P: Serialize + Sync + ?Sized>(
        &self,
        subscribe: &str,
        params: &P,
        notification: &str,
        unsubscribe: &str,
    ) -> impl Future<Output = Result<Subscription<T>, CallError>> + Send {
        Peer::subscribe(self, subscribe, params, notification, unsubscribe)
    }
}

impl Caller for Client {
    type Subscription<T: DeserializeOwned + 'static> = ClientSubscription<T>;

    fn call<R: DeserializeOwned, P: Serialize + Sync + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> impl Future<Output = Result<R, CallError>> + Send {
        Client::call(self, method, params)
    }

    fn notify<P: Serialize + Sync + ?Sized>(
        &self,
        method: &str,
        params: &P,
    ) -> impl Future<Output = Result<(), CallError>> + Send {
        Client::notify(self, method, params)
    }

    fn subscribe<T: DeserializeOwned + 'static, P: Serialize + Sync + ?Sized>(
        &self,
        subscribe: &str,
        params: &P,
        notification: &str,
        unsubscribe: &str,
    ) -> impl Future<Output = Result<ClientSubscription<T>, CallError>> + Send {
        Client::subscribe(self, subscribe, params, notification, unsubscribe)
    }
}
