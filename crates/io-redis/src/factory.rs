//! [`RedisAdapters`]: the adapters of one server's namespaces, sharing one
//! broker, for [`SocketIo::with_adapter`](sockeye_io::SocketIo::with_adapter).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use sockeye_io::adapter::Adapter;

use crate::adapter::{Parts, RedisAdapter};
use crate::config::{Mode, RedisAdapterConfig};
use crate::link::Link;
use crate::publisher::Publisher;
use crate::sharded::{ShardParts, ShardedRedisAdapter};
use crate::stats::{AdapterStats, Counters};

/// Why [`RedisAdapters`] could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The broker's URL is not one the Redis client takes.
    #[error("invalid redis url")]
    Url(#[source] redis::RedisError),
    /// Not called from within a tokio runtime, on which the adapters'
    /// tasks run.
    #[error("no tokio runtime to run the redis adapter on")]
    NoRuntime,
}

/// Makes the [`RedisAdapter`] (or, in sharded mode, the
/// [`ShardedRedisAdapter`]) of each namespace of a server: one connection
/// for publishing and commands, shared, and one subscription per
/// namespace on a RESP3 connection of its own (so that `PUBSUB NUMSUB`
/// counts each server once per namespace, as with Node's adapter).
///
/// Nothing connects until a namespace is made; a broker that is down then
/// is tried again with backoff, and the server meanwhile works alone.
///
/// # Examples
///
/// ```no_run
/// use sockeye_io::{SocketIo, SocketIoConfig};
/// use sockeye_io_redis::{RedisAdapterConfig, RedisAdapters};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let adapters = RedisAdapters::new("redis://127.0.0.1:6379", RedisAdapterConfig::default())?;
/// let factory = adapters.clone();
/// let io = SocketIo::with_adapter(SocketIoConfig::default(), move |nsp| factory.make(nsp));
/// io.emit("hello", "everyone, on every server")?;
/// println!("{:?}", adapters.stats());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RedisAdapters {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// The broker over RESP3, on which subscriptions push their messages.
    resp3: redis::Client,
    link: Arc<Link>,
    publisher: Arc<Publisher>,
    config: Arc<RedisAdapterConfig>,
    counters: Arc<Counters>,
    runtime: tokio::runtime::Handle,
    made: Mutex<HashMap<String, Weak<RedisAdapter>>>,
}

impl RedisAdapters {
    /// Adapters on the broker at `url` (`redis://host:port/db`), with
    /// `config`. Their tasks run on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// [`SetupError::Url`] when `url` is not a Redis URL;
    /// [`SetupError::NoRuntime`] outside a tokio runtime.
    pub fn new(url: &str, config: RedisAdapterConfig) -> Result<Self, SetupError> {
        let client = redis::Client::open(url).map_err(SetupError::Url)?;
        let mut info = client.get_connection_info().clone();
        info.redis.protocol = redis::ProtocolVersion::RESP3;
        let resp3 = redis::Client::open(info).map_err(SetupError::Url)?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| SetupError::NoRuntime)?;
        let config = Arc::new(config);
        let counters = Arc::new(Counters::default());
        let link = Arc::new(Link::new(
            client.clone(),
            Arc::clone(&config),
            Arc::clone(&counters),
        ));
        let publisher = Arc::new(Publisher::new(
            Arc::clone(&link),
            match config.mode {
                Mode::Sharded(_) => "SPUBLISH",
                _ => "PUBLISH",
            },
            config.publish_queue,
            Arc::clone(&counters),
            &runtime,
        ));
        Ok(Self {
            shared: Arc::new(Shared {
                resp3,
                link,
                publisher,
                config,
                counters,
                runtime,
                made: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The adapter of namespace `nsp`: what
    /// [`SocketIo::with_adapter`](sockeye_io::SocketIo::with_adapter)'s
    /// factory returns. It subscribes at once.
    pub fn make(&self, nsp: &str) -> Arc<dyn Adapter> {
        let shared = &self.shared;
        if let Mode::Sharded(mode) = shared.config.mode {
            return Arc::new(ShardedRedisAdapter::new(
                nsp,
                ShardParts {
                    client: shared.resp3.clone(),
                    link: Arc::clone(&shared.link),
                    publisher: Arc::clone(&shared.publisher),
                    config: Arc::clone(&shared.config),
                    mode,
                    sharded: true,
                    msgpack_only: false,
                    counters: Arc::clone(&shared.counters),
                    runtime: shared.runtime.clone(),
                },
            ));
        }
        let adapter = Arc::new(RedisAdapter::new(
            nsp,
            Parts {
                client: shared.resp3.clone(),
                link: Arc::clone(&shared.link),
                publisher: Arc::clone(&shared.publisher),
                config: Arc::clone(&shared.config),
                counters: Arc::clone(&shared.counters),
                runtime: shared.runtime.clone(),
            },
        ));
        let mut made = shared.made.lock().unwrap_or_else(PoisonError::into_inner);
        made.retain(|_, adapter| adapter.strong_count() > 0);
        made.insert(nsp.to_owned(), Arc::downgrade(&adapter));
        adapter
    }

    /// The classic-mode adapter made for namespace `nsp`, while its
    /// namespace lives (its node id, [`RedisAdapter::server_count`]);
    /// `None` in sharded mode.
    pub fn adapter(&self, nsp: &str) -> Option<Arc<RedisAdapter>> {
        let made = self
            .shared
            .made
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        made.get(nsp).and_then(Weak::upgrade)
    }

    /// The faults met so far by every adapter made here.
    pub fn stats(&self) -> AdapterStats {
        self.shared.counters.snapshot()
    }

    /// The time of one `PING` to the broker and back, on the connection
    /// the adapters publish on; `None` when the broker cannot be reached
    /// within [`command_timeout`](RedisAdapterConfig::command_timeout).
    pub async fn round_trip(&self) -> Option<std::time::Duration> {
        self.shared.link.round_trip().await
    }
}
