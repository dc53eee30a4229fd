//! The settings the flags of `sockeye serve` turn into.

use sockeye::proto::DeflateConfig;
use sockeye::{ServerBuilder, WebSocketConfig};

use super::Args;
use super::console::{add_headers, answer_plain_http};

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
        builder = builder.allowed_origins(allowed_origins(&args.allowed_origins));
    }
    if !args.no_console {
        let headers = args.headers.clone();
        builder = builder.http_fallback(move |request| {
            let mut answer = answer_plain_http(request);
            add_headers(&mut answer, &headers);
            answer
        });
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

/// The origins of `--allow-origin`: a host alone (`example.com`,
/// `example.com:8080`, websocketd's form) allows it over http and https.
fn allowed_origins(origins: &[String]) -> Vec<String> {
    let mut allowed = Vec::with_capacity(origins.len() * 2);
    for origin in origins {
        let origin = origin.trim().trim_end_matches('/');
        if origin.contains("://") {
            allowed.push(origin.to_owned());
        } else {
            allowed.push(format!("http://{origin}"));
            allowed.push(format!("https://{origin}"));
        }
    }
    allowed
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
