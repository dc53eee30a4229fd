//! Settings of the tokio layer, around the engine's [`sockeye_proto::Config`].

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use sockeye_proto::Config;

/// Settings for a [`WebSocket`](crate::WebSocket) once it is open.
///
/// A plain struct with documented defaults; builders take one whole or set
/// single fields.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use sockeye::WebSocketConfig;
///
/// let mut config = WebSocketConfig::default();
/// config.proto.max_message_size = 1 << 20;
/// config.close_timeout = Duration::from_secs(2);
/// let server = sockeye::ServerBuilder::new().config(config);
/// # drop(server);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebSocketConfig {
    /// The engine's limits and switches: frame and message size, masking
    /// rules, handshake size. See [`sockeye_proto::Config`] for each default.
    pub proto: sockeye_proto::Config,
    /// Bytes of queued output above which the sink waits for the peer to
    /// read before taking another message. Default: 128 KiB.
    ///
    /// This bounds what a slow or stalled peer can make us hold in memory,
    /// beyond the messages being sent.
    pub write_buffer_size: usize,
    /// How long the closing handshake may take: waiting for the peer's
    /// Close after ours, for the last bytes to leave, and (client) for the
    /// server to close TCP. Default: 10 s.
    ///
    /// When it runs out the connection is cut. The stream then ends with
    /// [`Error::Timeout`](crate::Error::Timeout) if the peer's Close never
    /// came, and with `None` if only the TCP shutdown was slow.
    pub close_timeout: Duration,
    /// Keepalive: after this long with nothing received, a Ping is sent;
    /// `None` turns keepalive off. Default: 20 s.
    ///
    /// Detects peers that vanished without closing (a dead network path,
    /// a sleeping laptop) and keeps proxies and NATs, which commonly drop
    /// connections after 60 s of silence, from timing out. The check runs
    /// once per interval, so a Ping leaves after one to two intervals of
    /// silence. Keepalive runs while the stream is read.
    pub keepalive_interval: Option<Duration>,
    /// Keepalive: how long the peer has to show any sign of life (a Pong or
    /// any other byte) after a keepalive Ping before the connection is
    /// closed with 1011 and the stream ends with
    /// [`Timeout::Keepalive`](crate::Timeout::Keepalive). Default: 20 s,
    /// enough for a slow mobile link or a peer busy for a while.
    pub keepalive_timeout: Duration,
    /// Closes the connection (1001, "idle timeout") after this long
    /// without a message sent or received; Pings and Pongs do not count.
    /// The stream then ends with [`Timeout::Idle`](crate::Timeout::Idle).
    /// Default: `None`, no limit: an idle subscriber waiting for rare
    /// events is a normal client, and keepalive already drops dead ones.
    ///
    /// Checked four times per timeout: the close comes between one and one
    /// and a quarter timeouts after the last message.
    pub idle_timeout: Option<Duration>,
}

impl WebSocketConfig {
    /// The defaults for a client: as [`default`](Self::default), with
    /// permessage-deflate offered.
    pub fn client() -> Self {
        let mut config = WebSocketConfig::default();
        config.proto.deflate = Some(sockeye_proto::DeflateConfig::default());
        config
    }
}

impl Default for WebSocketConfig {
    fn default() -> Self {
        WebSocketConfig {
            proto: sockeye_proto::Config::default(),
            write_buffer_size: 128 << 10,
            close_timeout: Duration::from_secs(10),
            keepalive_interval: Some(Duration::from_secs(20)),
            keepalive_timeout: Duration::from_secs(20),
            idle_timeout: None,
        }
    }
}

/// The builder setters that client and server share: each sets one field of
/// the builder's `config: WebSocketConfig`.
/// The settings a builder's connections share: each holds two pointers
/// rather than a copy.
///
/// Made on first use from the builder's settings; if those change later
/// (a builder cloned and changed), connections get a copy of their own.
#[derive(Debug, Default)]
pub(crate) struct SharedConfig(OnceLock<(Arc<Config>, Arc<WebSocketConfig>)>);

impl SharedConfig {
    /// `config` and its engine part, shared if it is what was shared
    /// before.
    pub(crate) fn get(&self, config: &WebSocketConfig) -> (Arc<Config>, Arc<WebSocketConfig>) {
        let (proto, settings) = self.0.get_or_init(|| split(config.clone()));
        if **settings == *config {
            (Arc::clone(proto), Arc::clone(settings))
        } else {
            split(config.clone())
        }
    }
}

/// `config` and its engine part, each behind its own pointer.
pub(crate) fn split(config: WebSocketConfig) -> (Arc<Config>, Arc<WebSocketConfig>) {
    (Arc::new(config.proto.clone()), Arc::new(config))
}

impl Clone for SharedConfig {
    /// A clone starts afresh: it is likely to be changed.
    fn clone(&self) -> Self {
        SharedConfig::default()
    }
}

macro_rules! connection_setters {
    () => {
        /// Replaces all connection settings.
        #[must_use]
        pub fn config(mut self, config: $crate::WebSocketConfig) -> Self {
            self.config = config;
            self
        }

        /// The largest message accepted. Default: 16 MiB
        /// ([`sockeye_proto::Config::max_message_size`]).
        #[must_use]
        pub fn max_message_size(mut self, bytes: usize) -> Self {
            self.config.proto.max_message_size = bytes;
            self
        }

        /// The largest frame accepted. Default: 16 MiB
        /// ([`sockeye_proto::Config::max_frame_size`]).
        #[must_use]
        pub fn max_frame_size(mut self, bytes: usize) -> Self {
            self.config.proto.max_frame_size = bytes;
            self
        }

        /// How long the closing handshake may take. Default: 10 s
        /// ([`WebSocketConfig::close_timeout`](crate::WebSocketConfig::close_timeout)).
        #[must_use]
        pub fn close_timeout(mut self, timeout: std::time::Duration) -> Self {
            self.config.close_timeout = timeout;
            self
        }

        /// Queued output above which sending waits. Default: 128 KiB
        /// ([`WebSocketConfig::write_buffer_size`](crate::WebSocketConfig::write_buffer_size)).
        #[must_use]
        pub fn write_buffer_size(mut self, bytes: usize) -> Self {
            self.config.write_buffer_size = bytes;
            self
        }

        /// Keepalive: a Ping after `interval` with nothing received, and
        /// the connection closed with 1011 if nothing arrives within
        /// `timeout` of it; `None` turns it off. Default: every 20 s, 20 s
        /// to answer
        /// ([`WebSocketConfig::keepalive_interval`](crate::WebSocketConfig::keepalive_interval)).
        #[must_use]
        pub fn keepalive(
            mut self,
            interval: Option<std::time::Duration>,
            timeout: std::time::Duration,
        ) -> Self {
            self.config.keepalive_interval = interval;
            self.config.keepalive_timeout = timeout;
            self
        }

        /// Closes the connection with 1001 after `timeout` without a
        /// message either way; `None`: never. Default: `None`
        /// ([`WebSocketConfig::idle_timeout`](crate::WebSocketConfig::idle_timeout)).
        #[must_use]
        pub fn idle_timeout(mut self, timeout: Option<std::time::Duration>) -> Self {
            self.config.idle_timeout = timeout;
            self
        }
    };
}

pub(crate) use connection_setters;
