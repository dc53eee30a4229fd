//! `--adapter URL`: which broker joins the hubs of a cluster.

use sockeye_io_redis::{Mode, RedisAdapterConfig, RedisAdapters, SubscriptionMode};

/// The adapters of `--adapter URL`: `redis://HOST:PORT` (classic pub/sub)
/// or `redis://HOST:PORT?sharded=true` (sharded pub/sub, Redis 7), as
/// `@socket.io/redis-adapter`'s `createAdapter` and `createShardedAdapter`.
/// Other schemes are refused, naming those that exist.
pub(crate) fn redis_adapters(url: &str) -> Result<RedisAdapters, String> {
    let (scheme, _) = url.split_once("://").unwrap_or((url, ""));
    if scheme != "redis" && scheme != "rediss" {
        return Err(format!(
            "--adapter {url}: the {scheme}:// adapter does not exist in this hub; \
             use redis://HOST:PORT (pub/sub) or redis://HOST:PORT?sharded=true (sharded pub/sub)"
        ));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut sharded = false;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair {
            "sharded=true" => sharded = true,
            "sharded=false" => sharded = false,
            other if other.starts_with("sharded=") => {
                return Err(format!("--adapter {url}: sharded must be true or false"));
            }
            other => rest.push(other),
        }
    }
    let url = if rest.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let config = RedisAdapterConfig {
        mode: if sharded {
            Mode::Sharded(SubscriptionMode::default())
        } else {
            Mode::Classic
        },
        ..RedisAdapterConfig::default()
    };
    RedisAdapters::new(&url, config)
        .map_err(|e| format!("--adapter {url}: {}", crate::describe(&e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_schemes_are_refused_naming_redis() {
        for url in ["redis-streams://127.0.0.1:6379", "nats://127.0.0.1:4222"] {
            let error = redis_adapters(url).unwrap_err();
            assert!(
                error.contains("does not exist") && error.contains("redis://HOST:PORT"),
                "{error}"
            );
        }
        assert!(redis_adapters("redis://127.0.0.1:1?sharded=maybe").is_err());
    }

    #[tokio::test]
    async fn redis_urls_make_adapters_in_both_modes() {
        assert!(redis_adapters("redis://127.0.0.1:1").is_ok());
        assert!(redis_adapters("redis://127.0.0.1:1?sharded=true").is_ok());
    }
}
