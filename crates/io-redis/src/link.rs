//! [`Link`]: the command connection to the broker (publishing, counting
//! servers), made again with backoff whenever it is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::Mutex;

use crate::backoff::Backoff;
use crate::config::RedisAdapterConfig;
use crate::stats::Counters;

/// One multiplexed connection for commands, shared by every namespace's
/// adapter of a [`RedisAdapters`](crate::RedisAdapters).
///
/// It is made when first needed. When it is lost (a command fails), the
/// next use makes a new one, but not before the backoff's wait since the
/// last failed attempt: meanwhile uses fail at once, so that nothing waits
/// on a broker that is down.
#[derive(Debug)]
pub(crate) struct Link {
    client: Client,
    config: Arc<RedisAdapterConfig>,
    counters: Arc<Counters>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    conn: Option<MultiplexedConnection>,
    backoff: Backoff,
    /// When the last attempt failed: no new one before this.
    retry_at: Option<Instant>,
    /// Whether a connection was ever made or tried (a later one is a
    /// reconnection).
    tried: bool,
}

impl Link {
    /// A link to the broker `client` names; it connects when first used.
    pub(crate) fn new(
        client: Client,
        config: Arc<RedisAdapterConfig>,
        counters: Arc<Counters>,
    ) -> Self {
        let backoff = Backoff::new(config.reconnect_min, config.reconnect_max);
        Self {
            client,
            config,
            counters,
            state: Mutex::new(State {
                conn: None,
                backoff,
                retry_at: None,
                tried: false,
            }),
        }
    }

    /// The connection, made now if there is none and the backoff allows;
    /// `None` when the broker cannot be reached.
    pub(crate) async fn connection(&self) -> Option<MultiplexedConnection> {
        let mut state = self.state.lock().await;
        if let Some(conn) = &state.conn {
            return Some(conn.clone());
        }
        if state.retry_at.is_some_and(|at| Instant::now() < at) {
            return None;
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(self.config.command_timeout)
            .set_response_timeout(self.config.command_timeout);
        let again = std::mem::replace(&mut state.tried, true);
        match self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
        {
            Ok(conn) => {
                if again {
                    Counters::bump(&self.counters.reconnects);
                    tracing::info!("redis adapter: connected to the broker again");
                }
                state.backoff.reset();
                state.retry_at = None;
                state.conn = Some(conn.clone());
                Some(conn)
            }
            Err(e) => {
                let wait = state.backoff.next_wait();
                state.retry_at = Some(Instant::now() + wait);
                tracing::warn!(error = %e, ?wait, "redis adapter: cannot connect to the broker");
                None
            }
        }
    }

    /// A command on the connection failed: the next use makes a new one.
    pub(crate) async fn lost(&self, error: &redis::RedisError) {
        tracing::warn!(%error, "redis adapter: a command to the broker failed");
        let mut state = self.state.lock().await;
        state.conn = None;
        let wait = state.backoff.next_wait();
        state.retry_at = Some(Instant::now() + wait);
    }

    /// `PUBSUB NUMSUB channel` (`SHARDNUMSUB` when `sharded`): how many
    /// connections listen to `channel` (how Node's adapters count the
    /// servers of a namespace); `None` when the broker cannot say.
    pub(crate) async fn numsub(&self, channel: &str, sharded: bool) -> Option<usize> {
        let mut conn = self.connection().await?;
        let reply: redis::RedisResult<(String, usize)> = redis::cmd("PUBSUB")
            .arg(if sharded { "SHARDNUMSUB" } else { "NUMSUB" })
            .arg(channel)
            .query_async(&mut conn)
            .await;
        match reply {
            Ok((_, count)) => Some(count),
            Err(e) => {
                self.lost(&e).await;
                None
            }
        }
    }

    /// The time of one `PING` to the broker and back; `None` when the
    /// broker cannot be reached (within the command timeout).
    pub(crate) async fn round_trip(&self) -> Option<Duration> {
        let mut conn = self.connection().await?;
        let start = Instant::now();
        let reply: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut conn).await;
        match reply {
            Ok(_) => Some(start.elapsed()),
            Err(e) => {
                self.lost(&e).await;
                None
            }
        }
    }
}
