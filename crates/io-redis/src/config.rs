//! [`RedisAdapterConfig`]: the adapter's settings and limits, each with
//! its default and the reason for it.

use std::time::Duration;

use crate::channels::DEFAULT_KEY;

/// How the Redis adapter talks to the broker and to the other servers.
///
/// The defaults are those of Node's `@socket.io/redis-adapter` where it
/// has one (`key`, `requestsTimeout`, `publishOnSpecificResponseChannel`),
/// so that a sockeye-io server joins a Node cluster left at its defaults.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sockeye_io_redis::RedisAdapterConfig;
///
/// let config = RedisAdapterConfig {
///     request_timeout: Duration::from_secs(2),
///     ..RedisAdapterConfig::default()
/// };
/// assert_eq!(config.key, "socket.io");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisAdapterConfig {
    /// The prefix of every channel name (Node's `key`). Default
    /// `"socket.io"`, Node's: servers meet only on the same key.
    pub key: String,
    /// How long a request to the other servers (fetching sockets, the
    /// rooms, a server-side emit's replies) waits for their answers; what
    /// arrived by then is used. Default 5 s, Node's `requestsTimeout`.
    pub request_timeout: Duration,
    /// How many requests of one namespace may wait for answers at once; one
    /// more is not sent, and answers as if this server were alone. Default
    /// 256: each holds the answers received so far until they are all in
    /// or the request times out, so a stalled cluster or broker must not
    /// let a busy server pile them up without end; 256 in flight for 5 s
    /// each is about 50 per second, far above what an application asks of
    /// a cluster.
    pub max_in_flight: usize,
    /// How many messages may wait to be published; one more is dropped and
    /// counted ([`AdapterStats::unpublished`](crate::AdapterStats)).
    /// Default 4096: a burst of broadcasts rides out a short stall of the
    /// broker (a few hundred KiB at most for typical events) without
    /// holding memory in proportion to an outage.
    pub publish_queue: usize,
    /// The first wait before connecting again after the broker was lost or
    /// refused a connection; each failure doubles it up to
    /// [`reconnect_max`](Self::reconnect_max). Default 100 ms: a broker
    /// that restarts is back within a few tries.
    pub reconnect_min: Duration,
    /// The longest wait between two connection attempts. Default 5 s: a
    /// broker down for long is not hammered, and a server is back in the
    /// cluster at most that long after the broker is.
    pub reconnect_max: Duration,
    /// How long connecting to the broker, or one command on it, may take.
    /// Default 2 s: on a healthy network a connection or a command takes
    /// milliseconds; longer means the broker is gone.
    pub command_timeout: Duration,
    /// How long a subscription may stay quiet before this server pings the
    /// broker on it; no answer within the command timeout counts as a lost
    /// connection. Default 15 s: a connection cut without a word (a network
    /// partition, a paused broker) is noticed within about 17 s, for one
    /// small command per quiet namespace every 15 s.
    pub keepalive: Duration,
    /// How long this server waits for its clients' acknowledgements of
    /// another server's broadcast with acks: the sender's timeout (its
    /// `flags.timeout`, the request timeout when it gives none), at most
    /// this. Default 2 min: a sender, or a broker, cannot hold this
    /// server's ack waits longer, while any timeout an application really
    /// gives a broadcast fits.
    pub max_ack_wait: Duration,
    /// How many of the other servers' broadcasts with acks this server
    /// waits on at once (over every namespace); past that, one is
    /// delivered here without an ack id and answered with a count of 0
    /// sockets, so that its sender does not wait on this server, and
    /// counted ([`AdapterStats::refused_ack_waits`](crate::AdapterStats)).
    /// Default 1024: each wait holds a task and the packet for up to
    /// [`max_ack_wait`](Self::max_ack_wait), and a thousand at once is
    /// far more than applications that wait for acks send, while a flood
    /// from a faulty server cannot hold this one's memory without end.
    pub max_remote_ack_waits: usize,
    /// Which of Node's adapters to speak. Default
    /// [`Mode::Classic`], Node's `createAdapter`: every server of a
    /// cluster must speak the same one.
    pub mode: Mode,
    /// Answer a request on the asking server's own response channel
    /// instead of the shared one (Node's
    /// `publishOnSpecificResponseChannel`). Default `false`, Node's. Both
    /// are always listened to, so servers may differ on it.
    pub publish_on_specific_response_channel: bool,
}

/// Which of Node's Redis adapters the servers of a cluster speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mode {
    /// Classic pub/sub (`createAdapter`): `PUBLISH`, `PSUBSCRIBE` and
    /// `SUBSCRIBE`, the request and response channels.
    #[default]
    Classic,
    /// Sharded pub/sub (`createShardedAdapter`, Redis 7): `SPUBLISH` and
    /// `SSUBSCRIBE`, `socket.io-adapter`'s cluster messages.
    Sharded(SubscriptionMode),
}

/// How many channels a namespace listens to in sharded mode (Node's
/// `subscriptionMode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubscriptionMode {
    /// The namespace's channel and this server's own: broadcasts to one
    /// room reach every server.
    Static,
    /// Also one channel per room held here whose name does not look like
    /// a Node socket id (20 characters): a broadcast to one room reaches
    /// only the servers that hold it. Node's default. sockeye-io's socket
    /// ids (22 characters) get one too, since Node's servers send to them
    /// on their own channels.
    #[default]
    Dynamic,
    /// Also one channel per socket's own room.
    DynamicPrivate,
}

impl Default for RedisAdapterConfig {
    fn default() -> Self {
        Self {
            key: DEFAULT_KEY.to_owned(),
            request_timeout: Duration::from_secs(5),
            max_in_flight: 256,
            publish_queue: 4096,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            command_timeout: Duration::from_secs(2),
            keepalive: Duration::from_secs(15),
            max_ack_wait: Duration::from_secs(120),
            max_remote_ack_waits: 1024,
            mode: Mode::Classic,
            publish_on_specific_response_channel: false,
        }
    }
}
