//! [`RedisStreamsConfig`]: the Streams adapter's settings and limits.

use std::time::Duration;

use super::entry::{DEFAULT_MAX_LEN, DEFAULT_STREAM_NAME};
use super::session::DEFAULT_SESSION_KEY_PREFIX;
use crate::config::RedisAdapterConfig;

/// Settings of [`RedisStreamsAdapters`](super::RedisStreamsAdapters); each
/// default says why.
#[derive(Clone, Debug)]
pub struct RedisStreamsConfig {
    /// The stream's key (Node's `streamName`). Default `"socket.io"`,
    /// Node's: servers meet only on the same stream.
    pub stream_name: String,
    /// How many entries the stream keeps, roughly (`XADD ... MAXLEN ~`).
    /// Default 10,000, Node's `maxLen`: a few hundred KiB to a few MiB in
    /// the broker for typical events; a client away while more were
    /// added connects afresh.
    pub max_len: usize,
    /// How many entries one `XREAD` or `XRANGE` returns at most. Default
    /// 100, Node's `readCount`: one reply stays small.
    pub read_count: usize,
    /// How long one `XREAD` blocks waiting for entries. Default 1 s: below
    /// the command timeout of [`link`](Self::link), so that a blocked read
    /// is never taken for a lost broker, and short enough that a lost
    /// connection is noticed within about a second.
    pub block: Duration,
    /// What a session's key starts with (Node's `sessionKeyPrefix`).
    /// Default `"sio:session:"`, Node's.
    pub session_key_prefix: String,
    /// How long a session is kept in the broker after its server last
    /// vouched for it. Default 2 min, the recovery default
    /// (`maxDisconnectionDuration`); set it to the server's
    /// [`RecoveryConfig::max_disconnection_duration`](sockeye_io::RecoveryConfig).
    /// A connected socket's session is renewed every third of it.
    pub max_disconnection_duration: Duration,
    /// How many entries past its offset a restore reads at most. Default
    /// 10,000, the stream's length: a client that missed more connects
    /// afresh (`recovered` false) instead of a restore reading without
    /// end while entries keep coming (Node's FIXME), or one that hands
    /// over a history with a hole.
    pub restore_max_entries: usize,
    /// How many writes (entries, sessions) may be queued for the broker,
    /// and how many more may wait for it while it is away; one more is
    /// not written and counted. Default 4096, as the pub/sub adapter's
    /// publishing queue: a burst or a short outage is ridden out without
    /// memory in proportion to a long one. A broadcast that waits (or is
    /// dropped) is still delivered to this server's sockets at once.
    pub write_queue: usize,
    /// Whether a broadcast read from the stream carries its entry id as
    /// its last argument, the offset a client recovers from (as Node
    /// does with connection state recovery on). Default `true`: this
    /// adapter is for servers with recovery on; set `false` on a server
    /// without it, whose clients expect no offset.
    pub offsets: bool,
    /// Whether the requests that wait for answers go over Redis 7's
    /// sharded pub/sub (`SPUBLISH`, `SSUBSCRIBE`, `SHARDNUMSUB`; Node's
    /// `useShardedPubSub`) instead of plain pub/sub. Default `false`,
    /// Node's.
    pub use_sharded_pub_sub: bool,
    /// The connections' settings: reconnection backoff (100 ms doubling
    /// to 5 s) and command timeout (2 s); and for the requests over
    /// pub/sub, the channels' prefix [`key`](RedisAdapterConfig::key)
    /// (Node's `channelPrefix`, `"socket.io"`), the request timeout (5 s),
    /// the requests in flight (256), the publishing queue (4096) and the
    /// longest wait for another server's acks (2 min). Its `mode` is
    /// unused: see [`use_sharded_pub_sub`](Self::use_sharded_pub_sub).
    pub link: RedisAdapterConfig,
}

impl Default for RedisStreamsConfig {
    fn default() -> Self {
        Self {
            stream_name: DEFAULT_STREAM_NAME.to_owned(),
            max_len: DEFAULT_MAX_LEN,
            read_count: 100,
            block: Duration::from_secs(1),
            session_key_prefix: DEFAULT_SESSION_KEY_PREFIX.to_owned(),
            max_disconnection_duration: Duration::from_secs(120),
            restore_max_entries: DEFAULT_MAX_LEN,
            write_queue: 4096,
            offsets: true,
            use_sharded_pub_sub: false,
            link: RedisAdapterConfig::default(),
        }
    }
}
