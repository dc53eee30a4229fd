//! The subscription of one namespace: its channels (and in sharded
//! dynamic modes, one per room it holds) on a RESP3 connection of its own,
//! whose messages wait in a bounded queue, subscribed again with backoff
//! whenever it is lost.

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

/// What receives the messages of a subscription.
pub(crate) trait Listener: Send + Sync + 'static {
    /// A message arrived on `channel`.
    fn on_message(&self, channel: &str, payload: &[u8]);
}

/// How many messages received may wait for the namespace's task; one more
/// is dropped and counted as lost: the broker cannot make a slow server
/// hold its messages without end.
const RECEIVED_QUEUE: usize = 4096;

/// A change to the room channels (sharded), from the adapter.
#[derive(Debug)]
pub(crate) enum RoomChange {
    /// Listen to this channel too.
    Subscribe(String),
    /// Stop listening to this channel.
    Unsubscribe(String),
}

/// The channels a subscription holds: the namespace's fixed ones, each
/// with its command (`SUBSCRIBE`, `PSUBSCRIBE` or `SSUBSCRIBE`), and in
/// the sharded dynamic modes one per room it holds (`SSUBSCRIBE`; the
/// adapter keeps the set, and a new connection subscribes to all of it).
#[derive(Debug)]
pub(crate) struct Channels {
    pub(crate) fixed: Vec<(&'static str, String)>,
    pub(crate) rooms: Mutex<HashSet<String>>,
}

/// Listens on `channels` and hands each message to `listener`, until the
/// listener is gone; room changes come through `changes`, if any. `client`
/// must speak RESP3, whose pushes carry the messages. A lost connection
/// is made again after the backoff's wait; what was published meanwhile
/// is lost to this server, as pub/sub goes. A connection quiet for
/// [`keepalive`](RedisAdapterConfig::keepalive) is pinged, so that one
/// cut without a word is noticed too.
pub(crate) async fn run<L: Listener>(
    client: Client,
    channels: Arc<Channels>,
    mut changes: Option<mpsc::Receiver<RoomChange>>,
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
                    tracing::info!(channel = %name(&channels), "redis adapter: subscribed again");
                }
                backoff.reset();
                let mut keepalive = tokio::time::interval(config.keepalive);
                keepalive.reset();
                loop {
                    tokio::select! {
                        info = received.recv() => {
                            let Some(info) = info else { break };
                            let message = match (&info.kind, info.data.as_slice()) {
                                (PushKind::Message | PushKind::SMessage, [channel, payload])
                                | (PushKind::PMessage, [_, channel, payload]) => (channel, payload),
                                (PushKind::Disconnection, _) => break,
                                _ => continue,
                            };
                            let Some(listener) = listener.upgrade() else { return };
                            if let (redis::Value::BulkString(channel), redis::Value::BulkString(payload)) = message {
                                if let Ok(channel) = std::str::from_utf8(channel) {
                                    listener.on_message(channel, payload);
                                }
                            }
                            keepalive.reset();
                        }
                        change = next_change(&mut changes) => {
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
                                tracing::warn!(channel = %name(&channels), "redis adapter: the broker did not answer a ping");
                                break;
                            }
                        }
                    }
                }
                tracing::warn!(channel = %name(&channels), "redis adapter: the subscription was lost");
            }
            Err(error) => {
                tracing::warn!(%error, channel = %name(&channels), "redis adapter: cannot subscribe");
            }
        }
        again = true;
        if listener.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// The next room change; never, without a source of them.
async fn next_change(changes: &mut Option<mpsc::Receiver<RoomChange>>) -> Option<RoomChange> {
    match changes {
        Some(changes) => changes.recv().await,
        None => std::future::pending().await,
    }
}

/// The subscription's first channel, to name it in logs.
fn name(channels: &Channels) -> &str {
    channels
        .fixed
        .first()
        .map_or("", |(_, channel)| channel.as_str())
}

/// A RESP3 connection whose pushes go to `push`, subscribed to every
/// channel of `channels`.
async fn connect(
    client: &Client,
    channels: &Channels,
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
    let room_commands = rooms.iter().map(|room| ("SSUBSCRIBE", room));
    for (command, channel) in channels
        .fixed
        .iter()
        .map(|(command, channel)| (*command, channel))
        .chain(room_commands)
    {
        command_within(&mut conn, config, command, channel).await?;
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
