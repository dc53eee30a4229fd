//! The settings the flags of `sockeye serve` turn into.

use sockeye::ServerBuilder;

use super::Args;
use super::console::{add_headers, answer_plain_http};
use crate::connection_args::{connection_config, server_deflate};

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
    let origins = args.origins.allowed_origins();
    if !origins.is_empty() {
        builder = builder.allowed_origins(origins);
    }
    if !args.no_console {
        let headers = args.headers.clone();
        builder = builder.http_fallback(move |request| {
            let mut answer = answer_plain_http(request);
            add_headers(&mut answer, &headers);
            answer
        });
    }
    let mut config = connection_config(&args.limits, &args.timeouts);
    config.idle_timeout = args.timeouts.idle();
    builder
        .config(config)
        .deflate(server_deflate(args.no_deflate))
        .handshake_timeout(args.timeouts.handshake_timeout)
}
