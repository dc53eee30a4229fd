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
    };
}

pub(crate) use connection_setters;
