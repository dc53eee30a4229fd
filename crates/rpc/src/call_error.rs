//! [`CallError`] and [`SubscriptionError`]: how a call or subscription of
//! this side's can fail.

use std::time::Duration;

use crate::error::ErrorObject;

/// Why a call got no result.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    /// The peer answered with an error.
    #[error("the peer answered with an error: {0}")]
    Error(ErrorObject),
    /// No answer came within the call's timeout; the peer was told the
    /// call was given up (see [`Config::cancel_notification`](crate::Config::cancel_notification)).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The connection ended before the answer came (or before the call
    /// was made).
    #[error("the connection ended")]
    Disconnected,
    /// The params did not serialize to a JSON array or object (or to
    /// nothing): the specification allows no other `params`.
    #[error("params must be a JSON array or object")]
    Params,
    /// The params could not be serialized.
    #[error("the params could not be serialized: {0}")]
    Encode(serde_json::Error),
    /// The result did not deserialize to the type asked for.
    #[error("the result did not deserialize: {0}")]
    Decode(serde_json::Error),
}

impl CallError {
    /// The peer's error object, when the peer answered with one.
    pub fn error_object(&self) -> Option<&ErrorObject> {
        match self {
            CallError::Error(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a subscription's stream yields an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SubscriptionError {
    /// The application read too slowly: the subscription's buffer
    /// ([`Config::subscription_buffer`](crate::Config::subscription_buffer))
    /// filled, so it was ended and unsubscribed. The last item.
    #[error("the subscription's buffer filled: it was ended")]
    Lagged,
    /// The connection ended. The last item, unless the client
    /// reconnects and subscribes again, when
    /// [`SubscriptionError::Resubscribed`] follows.
    #[error("the connection ended")]
    Disconnected,
    /// The connection was lost and the subscription made again on a new
    /// one: items sent in between were missed. Items follow.
    #[error("subscribed again after a reconnection; items may have been missed")]
    Resubscribed,
    /// An item did not deserialize to the type asked for; it is skipped.
    #[error("an item did not deserialize: {0}")]
    Decode(serde_json::Error),
}
