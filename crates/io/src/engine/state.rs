//! What every part of an engine shares: its settings, its handler and its
//! sessions.

use super::config::EngineConfig;
use super::handler::EngineHandler;
use super::rate::HandshakeRate;
use super::sessions::Sessions;

/// The shared part of an [`Engine`](super::Engine), behind an `Arc`.
pub(crate) struct EngineState<H: EngineHandler> {
    /// The settings.
    pub(crate) config: EngineConfig,
    /// The layer above.
    pub(crate) handler: H,
    /// The open sessions.
    pub(crate) sessions: Sessions<H::Data>,
    /// How fast new sessions may open.
    pub(crate) handshakes: HandshakeRate,
    /// The WebSocket settings: `max_payload` as the message size limit.
    pub(crate) websocket: sockeye::ServerBuilder,
}

impl<H: EngineHandler> std::fmt::Debug for EngineState<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineState")
            .field("config", &self.config)
            .field("sessions", &self.sessions.len())
            .finish_non_exhaustive()
    }
}
