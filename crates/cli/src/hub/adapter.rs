//! `--adapter URL`: which broker joins the hubs of a cluster.

use std::sync::Arc;
use std::time::Duration;

use sockeye_io::adapter::Adapter;
use sockeye_io_nats::{NatsAdapterConfig, NatsAdapters, RecoveryConfig as NatsRecovery};
use sockeye_io_redis::streams::{RedisStreamsAdapters, RedisStreamsConfig};
use sockeye_io_redis::{Mode, RedisAdapterConfig, RedisAdapters, SubscriptionMode};

/// The adapters of `--adapter URL`, one kind per scheme.
#[derive(Clone, Debug)]
pub(crate) enum Cluster {
    /// `redis://HOST:PORT`: Redis pub/sub (`?sharded=true`: sharded
    /// pub/sub, Redis 7), as `@socket.io/redis-adapter`'s `createAdapter`
    /// and `createShardedAdapter`.
    Redis(RedisAdapters),
    /// `redis-streams://HOST:PORT`: a Redis stream, as
    /// `@socket.io/redis-streams-adapter`, whose sessions let a client
    /// recover through any hub (`?sharded=true`: its requests over
    /// sharded pub/sub).
    RedisStreams(RedisStreamsAdapters),
    /// `nats://HOST:PORT`: NATS subjects, and with the hub's recovery on,
    /// a `JetStream` stream and bucket (the server must run with `-js`),
    /// so that a client recovers through any hub.
    Nats(NatsAdapters),
}

/// `(name, help, value)` of one of the adapter's counters, for `/metrics`.
pub(crate) type Counter = (&'static str, &'static str, u64);

/// The schemes `--adapter` takes, for messages.
const SCHEMES: &str = "redis://HOST:PORT (pub/sub), redis://HOST:PORT?sharded=true (sharded \
                       pub/sub), redis-streams://HOST:PORT (a stream, with recovery across hubs) \
                       or nats://HOST:PORT (NATS, with recovery across hubs through JetStream)";

impl Cluster {
    /// The adapters `url` names; `recovery` is the hub's recovery window
    /// (the time a session is kept in the broker). Other schemes are
    /// refused, naming those that exist. A NATS broker must be reachable
    /// now.
    pub(crate) async fn from_url(url: &str, recovery: Option<Duration>) -> Result<Self, String> {
        let (scheme, _) = url.split_once("://").unwrap_or((url, ""));
        if scheme == "nats" {
            return nats(url, recovery).await;
        }
        let (redis_url, sharded) = broker_url(url)?;
        let fail =
            |e: sockeye_io_redis::SetupError| format!("--adapter {url}: {}", crate::describe(&e));
        match scheme {
            "redis" | "rediss" => {
                let config = RedisAdapterConfig {
                    mode: if sharded {
                        Mode::Sharded(SubscriptionMode::default())
                    } else {
                        Mode::Classic
                    },
                    ..RedisAdapterConfig::default()
                };
                RedisAdapters::new(&redis_url, config)
                    .map(Self::Redis)
                    .map_err(fail)
            }
            "redis-streams" => {
                let defaults = RedisStreamsConfig::default();
                let config = RedisStreamsConfig {
                    max_disconnection_duration: recovery
                        .unwrap_or(defaults.max_disconnection_duration),
                    // Offsets are for clients that recover; without
                    // recovery they would be an extra argument.
                    offsets: recovery.is_some(),
                    use_sharded_pub_sub: sharded,
                    ..defaults
                };
                RedisStreamsAdapters::new(&redis_url, config)
                    .map(Self::RedisStreams)
                    .map_err(fail)
            }
            _ => Err(format!(
                "--adapter {url}: the {scheme}:// adapter does not exist in this hub; use {SCHEMES}"
            )),
        }
    }

    /// The adapter of namespace `nsp`, for `SocketIo::with_adapter`.
    pub(crate) fn make(&self, nsp: &str) -> Arc<dyn Adapter> {
        match self {
            Self::Redis(adapters) => adapters.make(nsp),
            Self::RedisStreams(adapters) => adapters.make(nsp),
            Self::Nats(adapters) => adapters.make(nsp),
        }
    }

    /// The broker faults counted so far, named for `/metrics`.
    pub(crate) fn counters(&self) -> Vec<Counter> {
        let (unpublished, reconnects, malformed, overflowed, refused, timed_out, delayed) =
            match self {
                Self::Redis(adapters) => redis_counts(&adapters.stats()),
                Self::RedisStreams(adapters) => redis_counts(&adapters.stats()),
                Self::Nats(adapters) => {
                    let s = adapters.stats();
                    (
                        s.unpublished,
                        s.reconnects,
                        s.malformed,
                        s.overflowed,
                        s.refused_requests,
                        s.timed_out_requests,
                        None,
                    )
                }
            };
        let mut counters = vec![
            (
                "broker_unpublished_total",
                "Messages that could not be published to the broker (lost across servers).",
                unpublished,
            ),
            (
                "broker_reconnects_total",
                "Connections to the broker made again after a loss.",
                reconnects,
            ),
            (
                "broker_malformed_total",
                "Messages from the broker that could not be read.",
                malformed,
            ),
            (
                "broker_overflowed_total",
                "Messages from the broker dropped for a full queue.",
                overflowed,
            ),
            (
                "broker_refused_requests_total",
                "Cluster requests not sent for too many in flight.",
                refused,
            ),
            (
                "broker_timed_out_requests_total",
                "Cluster requests that timed out.",
                timed_out,
            ),
        ];
        if let Some(delayed) = delayed {
            counters.push((
                "broker_delayed_total",
                "Writes that waited for the broker and went out when it was back.",
                delayed,
            ));
        }
        counters
    }

    /// One round trip to the broker, timed; `None` when it cannot be
    /// reached.
    pub(crate) async fn round_trip(&self) -> Option<Duration> {
        match self {
            Self::Redis(adapters) => adapters.round_trip().await,
            Self::RedisStreams(adapters) => adapters.round_trip().await,
            Self::Nats(adapters) => adapters.round_trip().await,
        }
    }
}

/// The Redis adapters' counts, in the order [`Cluster::counters`] names
/// them.
fn redis_counts(s: &sockeye_io_redis::AdapterStats) -> (u64, u64, u64, u64, u64, u64, Option<u64>) {
    (
        s.unpublished,
        s.reconnects,
        s.malformed,
        s.overflowed,
        s.refused_requests,
        s.timed_out_requests,
        Some(s.delayed),
    )
}

/// The NATS adapters at `url`, with recovery through `JetStream` when the
/// hub has it on.
async fn nats(url: &str, recovery: Option<Duration>) -> Result<Cluster, String> {
    let config = NatsAdapterConfig {
        recovery: recovery.map(|window| NatsRecovery {
            max_disconnection_duration: window,
            ..NatsRecovery::default()
        }),
        ..NatsAdapterConfig::default()
    };
    NatsAdapters::new(url, config)
        .await
        .map(Cluster::Nats)
        .map_err(|e| format!("--adapter {url}: {}", crate::describe(&e)))
}

/// The Redis client's URL of `url` (its scheme made `redis`, or `rediss`
/// kept) and whether `?sharded=true` asks for sharded pub/sub; the other
/// query parameters go to the client.
fn broker_url(url: &str) -> Result<(String, bool), String> {
    let (scheme, rest) = url.split_once("://").unwrap_or((url, ""));
    let scheme = if scheme == "rediss" {
        "rediss"
    } else {
        "redis"
    };
    let (base, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mut sharded = false;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair {
            "sharded=true" => sharded = true,
            "sharded=false" => sharded = false,
            other if other.starts_with("sharded=") => {
                return Err(format!("--adapter {url}: sharded must be true or false"));
            }
            other => kept.push(other),
        }
    }
    let url = if kept.is_empty() {
        format!("{scheme}://{base}")
    } else {
        format!("{scheme}://{base}?{}", kept.join("&"))
    };
    Ok((url, sharded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn other_schemes_are_refused_naming_those_that_exist() {
        let error = Cluster::from_url("kafka://127.0.0.1:9092", None)
            .await
            .unwrap_err();
        assert!(
            error.contains("does not exist")
                && error.contains("redis://HOST:PORT")
                && error.contains("redis-streams://")
                && error.contains("nats://"),
            "{error}"
        );
        assert!(
            Cluster::from_url("redis://127.0.0.1:1?sharded=maybe", None)
                .await
                .is_err()
        );
        let unreachable = Cluster::from_url("nats://127.0.0.1:1", None)
            .await
            .unwrap_err();
        assert!(unreachable.contains("cannot connect"), "{unreachable}");
    }

    #[test]
    fn the_client_gets_a_redis_url_without_the_hubs_own_parameters() {
        assert_eq!(
            broker_url("redis-streams://h:1/2?sharded=true&protocol=resp3").unwrap(),
            ("redis://h:1/2?protocol=resp3".to_owned(), true)
        );
        assert_eq!(
            broker_url("rediss://h:1").unwrap(),
            ("rediss://h:1".to_owned(), false)
        );
    }

    #[tokio::test]
    async fn each_scheme_makes_its_adapters() {
        let window = Some(Duration::from_secs(120));
        assert!(matches!(
            Cluster::from_url("redis://127.0.0.1:1", window).await,
            Ok(Cluster::Redis(_))
        ));
        assert!(matches!(
            Cluster::from_url("redis://127.0.0.1:1?sharded=true", window).await,
            Ok(Cluster::Redis(_))
        ));
        assert!(matches!(
            Cluster::from_url("redis-streams://127.0.0.1:1", window).await,
            Ok(Cluster::RedisStreams(_))
        ));
    }
}
