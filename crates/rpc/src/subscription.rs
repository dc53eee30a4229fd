//! [`Subscription`]: a stream of the items the peer pushes for one
//! subscription of this side's, ended by dropping it.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;
use tokio::sync::mpsc;

use crate::call_error::SubscriptionError;
use crate::shared::{Shared, Subscribed, SubscriptionState};

/// The items of one subscription, as `T`, in the order the peer sent
/// them. Made by [`Peer::subscribe`](crate::Peer::subscribe).
///
/// It ends after an error item: [`SubscriptionError::Lagged`] when this
/// side read too slowly (see
/// [`Config::subscription_buffer`](crate::Config::subscription_buffer)),
/// [`SubscriptionError::Disconnected`] when the connection ended. An item
/// that does not deserialize yields [`SubscriptionError::Decode`] and the
/// stream goes on. Dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription<T> {
    items: mpsc::Receiver<Box<RawValue>>,
    state: Arc<SubscriptionState>,
    shared: Arc<Shared>,
    notification: Arc<str>,
    id: Box<RawValue>,
    finished: bool,
    item: PhantomData<fn() -> T>,
}

impl<T> Subscription<T> {
    pub(crate) fn new(shared: Arc<Shared>, subscribed: Subscribed, notification: Arc<str>) -> Self {
        Self {
            items: subscribed.items,
            state: subscribed.state,
            shared,
            notification,
            id: subscribed.id,
            finished: false,
            item: PhantomData,
        }
    }

    /// The subscription id the peer gave, as JSON text.
    pub fn id(&self) -> &RawValue {
        &self.id
    }

    /// The next item as JSON text, not deserialized.
    pub async fn next_raw(&mut self) -> Option<Result<Box<RawValue>, SubscriptionError>> {
        std::future::poll_fn(|cx| self.poll_raw(cx)).await
    }

    fn poll_raw(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Box<RawValue>, SubscriptionError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.items.poll_recv(cx) {
            Poll::Ready(Some(item)) => Poll::Ready(Some(Ok(item))),
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(Some(Err(if self.state.lagged.load(Ordering::Acquire) {
                    SubscriptionError::Lagged
                } else {
                    SubscriptionError::Disconnected
                })))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: DeserializeOwned> Stream for Subscription<T> {
    type Item = Result<T, SubscriptionError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.poll_raw(cx).map(|item| {
            item.map(|item| {
                item.and_then(|raw| {
                    serde_json::from_str(raw.get()).map_err(SubscriptionError::Decode)
                })
            })
        })
    }
}

impl<T> Drop for Subscription<T> {
    /// Unsubscribes, unless the subscription already ended; the answer is
    /// not waited for.
    fn drop(&mut self) {
        let Some(delivery) = self
            .shared
            .remove_delivery(self.id.get(), &self.notification)
        else {
            return;
        };
        if !self.shared.is_ended() {
            self.shared
                .unsubscribe_quietly(&delivery.unsubscribe, &self.id);
        }
    }
}
