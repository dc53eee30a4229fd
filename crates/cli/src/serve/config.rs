//! The settings the flags of `sockeye serve` turn into.

use sockeye::WebSocketConfig;

use super::Args;

/// The settings of each connection, from the flags.
pub(super) fn connection_config(args: &Args) -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    config.proto.max_message_size = args.max_message_size;
    config.proto.max_frame_size = args.max_frame_size;
    config.proto.max_fragments = (args.max_fragments > 0).then_some(args.max_fragments);
    config.proto.max_handshake_size = args.max_handshake_size;
    config.proto.max_headers = args.max_headers;
    config.close_timeout = args.close_timeout;
    config
}
