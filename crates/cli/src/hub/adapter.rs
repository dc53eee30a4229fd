//! `--adapter URL`: which broker joins the hubs of a cluster.

use std::sync::Arc;
use std::time::Duration;

use sockeye_io::adapter::Adapter;
use sockeye_io_redis::streams::{RedisStreamsAdapters, RedisStreamsConfig};
use sockeye_io_redis::{AdapterStats, Mode, RedisAdapterConfig, RedisAdapters, SubscriptionMode};

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
}

/// The schemes `--adapter` takes, for messages.
const SCHEMES: &str = "redis://HOST:PORT (pub/sub), redis://HOST:PORT?sharded=true (sharded \
                       pub/sub) or redis-streams://HOST:PORT (a stream, with recovery across hubs)";

impl Cluster {
    /// The adapters `url` names; `recovery` is the hub's recovery window
    /// (the time a Streams session is kept). Other schemes are refused,
    /// naming those that exist.
    pub(crate) fn from_url(url: &str, recovery: Option<Duration>) -> Result<Self, String> {
        let (scheme, _) = url.split_once("://").unwrap_or((url, ""));
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
        }
    }

    /// The broker faults counted so far.
    pub(crate) fn stats(&self) -> AdapterStats {
        match self {
            Self::Redis(adapters) => adapters.stats(),
            Self::RedisStreams(adapters) => adapters.stats(),
        }
    }

    /// One round trip to the broker, timed; `None` when it cannot be
    /// reached.
    pub(crate) async fn round_trip(&self) -> Option<Duration> {
        match self {
            Self::Redis(adapters) => adapters.round_trip().await,
            Self::RedisStreams(adapters) => adapters.round_trip().await,
        }
    }
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

    #[test]
    fn other_schemes_are_refused_naming_those_that_exist() {
        let error = Cluster::from_url("kafka://127.0.0.1:9092", None).unwrap_err();
        assert!(
            error.contains("does not exist")
                && error.contains("redis://HOST:PORT")
                && error.contains("redis-streams://"),
            "{error}"
        );
        assert!(Cluster::from_url("redis://127.0.0.1:1?sharded=maybe", None).is_err());
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
            Cluster::from_url("redis://127.0.0.1:1", window),
            Ok(Cluster::Redis(_))
        ));
        assert!(matches!(
            Cluster::from_url("redis://127.0.0.1:1?sharded=true", window),
            Ok(Cluster::Redis(_))
        ));
        assert!(matches!(
            Cluster::from_url("redis-streams://127.0.0.1:1", window),
            Ok(Cluster::RedisStreams(_))
        ));
    }
}
