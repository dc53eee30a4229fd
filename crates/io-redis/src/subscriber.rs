//! The subscription of one namespace: its channels, listened to on a
//! connection of their own, subscribed again with backoff whenever it is
//! lost.

use std::sync::{Arc, Weak};

use futures_util::StreamExt;
use redis::aio::PubSub;
use redis::{Client, ErrorKind, RedisError, RedisResult};

use crate::backoff::Backoff;
use crate::channels::Channels;
use crate::config::RedisAdapterConfig;
use crate::stats::Counters;

/// What receives the messages of a subscription.
pub(crate) trait Listener: Send + Sync + 'static {
    /// A message arrived on `channel`.
    fn on_message(&self, channel: &str, payload: &[u8]);
}

/// Listens on `channels` as Node's adapter does (`PSUBSCRIBE` to the
/// broadcast pattern; `SUBSCRIBE` to the request channel and both response
/// channels) and hands each message to `listener`, until the listener is
/// gone. A lost connection is made again after the backoff's wait; what
/// was published meanwhile is lost to this server, as pub/sub goes. A
/// connection quiet for [`keepalive`](RedisAdapterConfig::keepalive) is
/// pinged, so that one cut without a word is noticed too.
pub(crate) async fn run<L: Listener>(
    client: Client,
    channels: Channels,
    listener: Weak<L>,
    config: Arc<RedisAdapterConfig>,
    counters: Arc<Counters>,
) {
    let mut backoff = Backoff::new(config.reconnect_min, config.reconnect_max);
    let mut again = false;
    loop {
        match subscribe(&client, &channels, &config).await {
            Ok(pubsub) => {
                if again {
                    Counters::bump(&counters.reconnects);
                    tracing::info!(channel = %channels.request(), "redis adapter: subscribed again");
                }
                backoff.reset();
                let (mut sink, mut messages) = pubsub.split();
                let mut keepalive = tokio::time::interval(config.keepalive);
                keepalive.reset();
                loop {
                    tokio::select! {
                        message = messages.next() => {
                            let Some(message) = message else { break };
                            let Some(listener) = listener.upgrade() else {
                                return;
                            };
                            listener.on_message(message.get_channel_name(), message.get_payload_bytes());
                            keepalive.reset();
                        }
                        _ = keepalive.tick() => {
                            let ping = sink.ping::<redis::Value>();
                            if !matches!(tokio::time::timeout(config.command_timeout, ping).await, Ok(Ok(_))) {
                                tracing::warn!(channel = %channels.request(), "redis adapter: the broker did not answer a ping");
                                break;
                            }
                        }
                    }
                }
                tracing::warn!(channel = %channels.request(), "redis adapter: the subscription was lost");
            }
            Err(error) => {
                tracing::warn!(%error, channel = %channels.request(), "redis adapter: cannot subscribe");
            }
        }
        again = true;
        if listener.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// A connection subscribed to the namespace's channels, within the
/// command timeout.
async fn subscribe(
    client: &Client,
    channels: &Channels,
    config: &RedisAdapterConfig,
) -> RedisResult<PubSub> {
    let subscribed = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.psubscribe(channels.pattern()).await?;
        pubsub
            .subscribe(&[
                channels.request(),
                channels.response(),
                channels.own_response(),
            ])
            .await?;
        Ok(pubsub)
    };
    tokio::time::timeout(config.command_timeout, subscribed)
        .await
        .map_err(|_| RedisError::from((ErrorKind::IoError, "subscribing timed out")))?
}
