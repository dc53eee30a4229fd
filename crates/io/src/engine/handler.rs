//! What the layer above (Socket.IO, or an application) gives the engine.

use std::sync::Arc;

use super::close::CloseReason;
use super::packet::Payload;
use super::socket::EngineSocket;

/// The callbacks of an Engine.IO server.
///
/// # Ordering
///
/// For one session: `on_open` comes first; `on_message` calls never
/// overlap and come in the order the client sent the messages, whichever
/// transport carried them (during an upgrade too: a session's calls are
/// made under a lock of its own, and the client sends on the WebSocket
/// only once its last POST was answered); `on_close` comes once, last,
/// and no `on_message` follows it. Different sessions run concurrently.
///
/// The callbacks run on the engine's tasks (a WebSocket session's own
/// task, or the task answering a POST) and must not block: hand slow work
/// to a task of its own. Sending from inside a callback is fine
/// ([`EngineSocket::send`] never waits); so is closing the session.
pub trait EngineHandler: Send + Sync + 'static {
    /// The layer above's state per session, created with `Default`.
    type Data: Default + Send + Sync + 'static;

    /// A session opened; what is sent here goes out right after the
    /// handshake.
    fn on_open(&self, socket: &Arc<EngineSocket<Self::Data>>);

    /// The client sent a message.
    fn on_message(&self, socket: &Arc<EngineSocket<Self::Data>>, payload: Payload);

    /// The session ended, for `reason`.
    fn on_close(&self, socket: &Arc<EngineSocket<Self::Data>>, reason: CloseReason);
}
