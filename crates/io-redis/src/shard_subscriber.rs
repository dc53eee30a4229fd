//! The sharded subscription of one namespace (`SSUBSCRIBE`, Redis 7): its
//! fixed channels and one per room it holds, on a RESP3 connection of its
//! own, subscribed again with backoff whenever it is lost.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ErrorKind, PushInfo, PushKind, RedisError, RedisResult,
};
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::config::RedisAdapterConfig;
use crate::stats::Counters;
use crate::subscriber::Listener;

/// How many messages received may wait for the namespace's task; one more
/// is dropped and counted as lost: the broker cannot make a slow server
/// hold its messages without end.
const RECEIVED_QUEUE: usize = 4096;

/// A change to the room channels, from the adapter.
#[derive(Debug)]
pub(crate) enum RoomChange {
    /// Listen to this channel too.
    Subscribe(String),
    /// Stop listening to this channel.
    Unsubscribe(String),
}

/// The channels a sharded subscription holds: the namespace's fixed ones
/// and, in the dynamic modes, one per room it holds (the adapter keeps the
/// set; a new connection subscribes to all of it).
#[derive(Debug)]
pub(crate) struct ShardChannels {
    pub(crate) fixed: Vec<String>,
    pub(crate) rooms: Mutex<HashSet<String>>,
}

/// Listens on `channels` and hands each message to `listener`, until the
/// listener is gone; room changes come through `changes`. `client` must
/// speak RESP3 (its URL ends in `?protocol=resp3`), which sharded
/// subscriptions on a shared connection need.
pub(crate) async fn run<L: Listener>(
    client: Client,
    channels: Arc<ShardChannels>,
    mut changes: mpsc::Receiver<RoomChange>,
    listener: Weak<L>,
    config: Arc<RedisAdapterConfig>,
    counters: Arc<Counters>,
) {
    let mut backoff = Backoff::new(config.reconnect_min, config.reconnect_max);
    let mut again = false;
    loop {
        let (tx, mut received) = mpsc::channel::<PushInfo>(RECEIVED_QUEUE);
        let lost = Arc::clone(&counters);
        let push = move |info: PushInfo| {
            if tx.try_send(info).is_err() {
                Counters::bump(&lost.overflowed);
            }
            Ok::<(), ()>(())
        };
        match connect(&client, &channels, &config, push).await {
            Ok(mut conn) => {
                if again {
                    Counters::bump(&counters.reconnects);
                    tracing::info!(channel = %channels.fixed[0], "redis adapter: subscribed again (sharded)");
                }
                backoff.reset();
                let mut keepalive = tokio::time::interval(config.keepalive);
                keepalive.reset();
                loop {
                    tokio::select! {
                        info = received.recv() => {
                            let Some(info) = info else { break };
                            match info.kind {
                                PushKind::SMessage | PushKind::Message => {
                                    let Some(listener) = listener.upgrade() else { return };
                                    if let [redis::Value::BulkString(channel), redis::Value::BulkString(payload)] = info.data.as_slice() {
                                        if let Ok(channel) = std::str::from_utf8(channel) {
                                            listener.on_message(channel, payload);
                                        }
                                    }
                                    keepalive.reset();
                                }
                                PushKind::Disconnection => break,
                                _ => {}
                            }
                        }
                        change = changes.recv() => {
                            let Some(change) = change else { return };
                            let (command, channel) = match change {
                                RoomChange::Subscribe(channel) => ("SSUBSCRIBE", channel),
                                RoomChange::Unsubscribe(channel) => ("SUNSUBSCRIBE", channel),
                            };
                            if !matches!(command_within(&mut conn, &config, command, &channel).await, Ok(())) {
                                break;
                            }
                        }
                        _ = keepalive.tick() => {
                            let ping_cmd = redis::cmd("PING");
                            let ping = ping_cmd.query_async::<redis::Value>(&mut conn);
                            if !matches!(tokio::time::timeout(config.command_timeout, ping).await, Ok(Ok(_))) {
                                tracing::warn!(channel = %channels.fixed[0], "redis adapter: the broker did not answer a ping");
                                break;
                            }
                        }
                    }
                }
                tracing::warn!(channel = %channels.fixed[0], "redis adapter: the sharded subscription was lost");
            }
            Err(error) => {
                tracing::warn!(%error, channel = %channels.fixed[0], "redis adapter: cannot subscribe (sharded)");
            }
        }
        again = true;
        if listener.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// A RESP3 connection whose pushes go to `push`, subscribed to every
/// channel of `channels`.
async fn connect(
    client: &Client,
    channels: &ShardChannels,
    config: &RedisAdapterConfig,
    push: impl Fn(PushInfo) -> Result<(), ()> + Send + Sync + 'static,
) -> RedisResult<MultiplexedConnection> {
    let settings = AsyncConnectionConfig::new()
        .set_connection_timeout(config.command_timeout)
        .set_response_timeout(config.command_timeout)
        .set_push_sender(push);
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&settings)
        .await?;
    let rooms: Vec<String> = channels
        .rooms
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .cloned()
        .collect();
    // One channel per command: in a Redis Cluster, the channels of one
    // SSUBSCRIBE must share a slot.
    for channel in channels.fixed.iter().chain(&rooms) {
        command_within(&mut conn, config, "SSUBSCRIBE", channel).await?;
    }
    Ok(conn)
}

/// `command channel` on `conn`, within the command timeout.
async fn command_within(
    conn: &mut MultiplexedConnection,
    config: &RedisAdapterConfig,
    command: &str,
    channel: &str,
) -> RedisResult<()> {
    let mut cmd = redis::cmd(command);
    cmd.arg(channel);
    let sent = cmd.exec_async(conn);
    tokio::time::timeout(config.command_timeout, sent)
        .await
        .map_err(|_| RedisError::from((ErrorKind::IoError, "a subscription command timed out")))?
}
