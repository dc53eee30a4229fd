//! [`NatsAdapterConfig`] and [`RecoveryConfig`]: settings and limits.

use std::time::Duration;

use crate::subject::DEFAULT_PREFIX;

/// Settings of [`NatsAdapters`](crate::NatsAdapters); each default says
/// why.
#[derive(Clone, Debug)]
pub struct NatsAdapterConfig {
    /// What every subject starts with. Default `"socket.io"`: servers meet
    /// only under the same prefix, as Node's adapters meet on one key.
    pub prefix: String,
    /// How long a request to the other servers (`fetch_sockets()`,
    /// server-side events with replies, all rooms) waits for their
    /// answers. Default 5 s, Node's `requestsTimeout`.
    pub request_timeout: Duration,
    /// How many requests of one namespace may wait for answers at once;
    /// one more is not sent and answers with this server's sockets alone.
    /// Default 256: a burst of requests cannot pile up memory.
    pub max_in_flight: usize,
    /// How many messages may wait to be published; one more is dropped and
    /// counted. Default 4096: a burst rides out a short stall without
    /// memory in proportion to an outage.
    pub publish_queue: usize,
    /// How many messages received may wait to be handled per subscription;
    /// beyond, the client drops them and they are counted
    /// ([`NatsStats::overflowed`](crate::NatsStats::overflowed)). Default
    /// 4096, as the publishing queue.
    pub receive_queue: usize,
    /// How often a server says it is alive. Default 5 s, Node's
    /// `heartbeatInterval`.
    pub heartbeat_interval: Duration,
    /// How long a server not heard from is still counted. Default 10 s,
    /// Node's `heartbeatTimeout`: two heartbeats may be lost.
    pub heartbeat_timeout: Duration,
    /// The longest another server's broadcast with acks is waited on here,
    /// whatever timeout it asks for. Default 2 min: a peer cannot make
    /// this server hold acknowledgements without end.
    pub max_ack_wait: Duration,
    /// How many of the other servers' broadcasts with acks this server
    /// waits on at once; past that, one is delivered here without an ack
    /// id and answered with a count of 0 sockets, so that its sender does
    /// not wait on this server, and counted
    /// ([`NatsStats::refused_ack_waits`](crate::NatsStats)). Default 1024:
    /// each wait holds a task and the packet for up to
    /// [`max_ack_wait`](Self::max_ack_wait), and a thousand at once is far
    /// more than applications that wait for acks send, while a flood from
    /// a faulty server cannot hold this one's memory without end.
    pub max_remote_ack_waits: usize,
    /// The first wait before connecting again to a lost broker; it doubles
    /// up to [`reconnect_max`](Self::reconnect_max). Default 100 ms.
    pub reconnect_min: Duration,
    /// The longest wait between connection attempts. Default 5 s: a broker
    /// back after an outage is found within seconds without hammering it.
    pub reconnect_max: Duration,
    /// Connection state recovery across servers through `JetStream`; `None`
    /// (the default) for pub/sub alone.
    pub recovery: Option<RecoveryConfig>,
}

impl Default for NatsAdapterConfig {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            request_timeout: Duration::from_secs(5),
            max_in_flight: 256,
            publish_queue: 4096,
            receive_queue: 4096,
            heartbeat_interval: Duration::from_secs(5),
            heartbeat_timeout: Duration::from_secs(10),
            max_ack_wait: Duration::from_secs(120),
            max_remote_ack_waits: 1024,
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            recovery: None,
        }
    }
}

/// Settings of recovery through `JetStream`; each default says why.
///
/// Every broadcast goes through one stream (`p.*.log` for prefix `p`),
/// whose sequence orders them across servers and is the offset clients
/// are given; sessions live in a key-value bucket.
#[derive(Clone, Debug)]
pub struct RecoveryConfig {
    /// The stream's name. Default `"socket-io"`: one per cluster prefix
    /// (stream names cannot hold `.`).
    pub stream_name: String,
    /// How many messages the stream keeps; the oldest go first. Default
    /// 10,000, as Node's Redis Streams adapter's `maxLen`: a few MiB for
    /// typical events; a client away while more were sent connects
    /// afresh.
    pub max_msgs: i64,
    /// How long the stream keeps a message. Default 10 min, five times a
    /// session's life: an offset is rarely older than that, and a quiet
    /// stream still empties.
    pub max_age: Duration,
    /// The key-value bucket holding sessions. Default `"socket-io-sessions"`.
    pub bucket: String,
    /// How long a session is kept after its server last vouched for it
    /// (the bucket's `max_age`). Default 2 min, the recovery default
    /// (`maxDisconnectionDuration`); set it to the server's
    /// [`RecoveryConfig::max_disconnection_duration`](sockeye_io::RecoveryConfig).
    /// A connected socket's session is written again every third of it.
    /// It also bounds how long a broadcast waits for a broker that is
    /// away, and sets the stream's duplicate window (at most
    /// [`max_age`](Self::max_age)) when the stream is made.
    pub max_disconnection_duration: Duration,
    /// How many messages past its offset a restore reads at most. Default
    /// 10,000, the stream's length: a client that missed more connects
    /// afresh (`recovered` false) rather than reading without end.
    pub restore_max_entries: usize,
    /// How many writes (broadcasts, sessions) may be queued for the
    /// broker, and how many broadcasts may wait besides while it is away
    /// (each at most
    /// [`max_disconnection_duration`](Self::max_disconnection_duration),
    /// past which no client could recover with it); one more is not
    /// written and counted
    /// ([`NatsStats::unpublished`](crate::NatsStats::unpublished)).
    /// Default 4096, as the publishing queue: a few seconds of a busy
    /// server's broadcasts, held in memory of a bounded size. A broadcast
    /// that waits is delivered here at once, and to the other servers once
    /// the broker is back; one not written is still delivered here.
    pub write_queue: usize,
    /// How many written broadcasts may wait for the stream's
    /// acknowledgement at once. Default 256: writes are pipelined, not
    /// one round trip each, while a stalled broker holds little.
    pub max_unacked: usize,
    /// Whether a broadcast read from the stream carries its sequence as
    /// its last argument (the offset). Default `true`.
    pub offsets: bool,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            stream_name: "socket-io".to_owned(),
            max_msgs: 10_000,
            max_age: Duration::from_secs(600),
            bucket: "socket-io-sessions".to_owned(),
            max_disconnection_duration: Duration::from_secs(120),
            restore_max_entries: 10_000,
            write_queue: 4096,
            max_unacked: 256,
            offsets: true,
        }
    }
}
