//! The settings the flags of `sockeye serve` turn into.

use sockeye::proto::DeflateConfig;
use sockeye::{ServerBuilder, WebSocketConfig};

use super::Args;
use super::console::answer_plain_http;

/// How many accept threads `--threads` asks for: 0 means one per CPU.
pub(super) fn thread_count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    }
}

/// The WebSocket server the flags describe: subprotocols, origins, the dev
/// console, limits, compression and timers.
pub(super) fn server_builder(args: &Args) -> ServerBuilder {
    let mut builder = ServerBuilder::new().protocols(args.protocols.iter().cloned());
    if !args.allowed_origins.is_empty() {
        builder = builder.allowed_origins(&args.allowed_origins);
    }
    if !args.no_console {
        builder = builder.http_fallback(answer_plain_http);
    }
    builder
        .config(connection_config(args))
        .deflate(deflate_config(args))
        .handshake_timeout(args.handshake_timeout)
        .keepalive(
            (!args.keepalive.is_zero()).then_some(args.keepalive),
            args.keepalive_timeout,
        )
        .idle_timeout((!args.idle_timeout.is_zero()).then_some(args.idle_timeout))
        .write_buffer_size(args.write_buffer_size)
}

/// The settings of each connection, from the flags.
fn connection_config(args: &Args) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.proto.max_message_size = args.max_message_size;
    config.proto.max_frame_size = args.max_frame_size;
    config.proto.max_fragments = (args.max_fragments > 0).then_some(args.max_fragments);
    config.proto.max_handshake_size = args.max_handshake_size;
    config.proto.max_headers = args.max_headers;
    config.close_timeout = args.close_timeout;
    config
}

/// The permessage-deflate offer accepted, unless `--no-deflate`.
fn deflate_config(args: &Args) -> Option<DeflateConfig> {
    (!args.no_deflate).then(|| DeflateConfig {
        // One compressor per thread instead of ~300 KiB of zlib state
        // per connection (BENCHMARKS.md).
        server_no_context_takeover: true,
        ..DeflateConfig::default()
    })
}
