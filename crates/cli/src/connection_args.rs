//! The flags of each WebSocket connection that the listening subcommands
//! (`serve`, `proxy`) share: what a peer may send and make us hold
//! (`PeerLimits`), and the timers (`Timeouts`), turned into a
//! `WebSocketConfig`; and the compression offer `--no-deflate` turns off.

use std::time::Duration;

use sockeye::WebSocketConfig;
use sockeye::proto::DeflateConfig;

use crate::args::parse_seconds;

/// What one peer may send, and make us hold for it.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PeerLimits {
    /// The largest message accepted, in bytes; a larger one closes the
    /// connection with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub(crate) max_message_size: usize,
    /// The largest frame accepted, in bytes; a frame of a compressed
    /// message may be longer by deflate's worst-case expansion (18.25 MiB
    /// for the defaults), so a message of the largest size always passes.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub(crate) max_frame_size: usize,
    /// The most frames one message may come in; 0: no limit (fragments
    /// cost no memory beyond the message, which --max-message-size caps).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) max_fragments: usize,
    /// The largest opening-handshake head (request line and headers) a
    /// client may send, in bytes; larger ones are answered 431.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 10)]
    pub(crate) max_handshake_size: usize,
    /// The most header fields in a client's opening handshake; more are
    /// answered 431.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub(crate) max_headers: usize,
    /// Bytes queued for one peer above which nothing more is read for it
    /// until it reads (a broadcast skips its oldest messages instead): a
    /// peer that does not read cannot grow our memory.
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 10)]
    pub(crate) write_buffer_size: usize,
}

/// The timers of a connection, from its opening handshake to its close.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Timeouts {
    /// Seconds a client has to send its opening handshake and read the
    /// answer: slow or silent clients (slowloris) are dropped after it.
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds)]
    pub(crate) handshake_timeout: Duration,
    /// Seconds a peer has to answer our Close (on shutdown, for one),
    /// after which its TCP connection is closed.
    #[arg(long, value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    pub(crate) close_timeout: Duration,
    /// Seconds of silence from a peer after which it is sent a Ping; 0
    /// turns keepalive off.
    #[arg(long, value_name = "SECS", default_value = "20", value_parser = parse_seconds)]
    pub(crate) keepalive: Duration,
    /// Seconds a peer has to show a sign of life after a keepalive Ping
    /// before it is closed with 1011.
    #[arg(long, value_name = "SECS", default_value = "20", value_parser = parse_seconds)]
    pub(crate) keepalive_timeout: Duration,
    /// Seconds without a message either way after which a connection is
    /// closed with 1001; 0: never.
    #[arg(long, value_name = "SECS", default_value = "0", value_parser = parse_seconds)]
    pub(crate) idle_timeout: Duration,
}

impl Timeouts {
    /// `--idle-timeout`, `None` for 0 (never).
    pub(crate) fn idle(&self) -> Option<Duration> {
        (!self.idle_timeout.is_zero()).then_some(self.idle_timeout)
    }
}

/// The settings of each connection: the peer's limits, the closing
/// handshake, keepalive and the write buffer. The idle timeout is left
/// to the caller (`Timeouts::idle`): `proxy` gives it to one side only.
pub(crate) fn connection_config(limits: &PeerLimits, timeouts: &Timeouts) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.proto.max_message_size = limits.max_message_size;
    config.proto.max_frame_size = limits.max_frame_size;
    config.proto.max_fragments = (limits.max_fragments > 0).then_some(limits.max_fragments);
    config.proto.max_handshake_size = limits.max_handshake_size;
    config.proto.max_headers = limits.max_headers;
    config.write_buffer_size = limits.write_buffer_size;
    config.close_timeout = timeouts.close_timeout;
    config.keepalive_interval = (!timeouts.keepalive.is_zero()).then_some(timeouts.keepalive);
    config.keepalive_timeout = timeouts.keepalive_timeout;
    config
}

/// The permessage-deflate offer a server accepts, unless `--no-deflate`.
pub(crate) fn server_deflate(no_deflate: bool) -> Option<DeflateConfig> {
    (!no_deflate).then(|| DeflateConfig {
        // One compressor per thread instead of ~300 KiB of zlib state
        // per connection (BENCHMARKS.md).
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    })
}
