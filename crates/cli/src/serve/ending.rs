//! How a served connection ended, read from its stream and logged: shared
//! by the echo and broadcast modes.

use std::task::Poll;

use sockeye::{CloseCode, WebSocket};

use super::transport::Transport;
use crate::describe;

/// How the stream ended: `Err` if it failed, `Ok` with the close frame's
/// code after a clean close.
pub(super) fn how_it_ended<S: Transport>(
    ws: &WebSocket<S>,
    last: Option<sockeye::Result<sockeye::Message>>,
) -> Result<Option<CloseCode>, sockeye::Error> {
    match last {
        Some(Err(e)) => Err(e),
        _ => Ok(ws.close_frame().map(|frame| frame.code)),
    }
}

/// Logs how a connection ended, at debug level, and returns the
/// `Ready` that ends its task.
pub(super) fn log_end(id: u64, end: Result<&Option<CloseCode>, &sockeye::Error>) -> Poll<()> {
    match end {
        Ok(code) => tracing::debug!(id, ?code, "connection closed"),
        Err(e) => tracing::debug!(id, error = %describe(e), "connection failed"),
    }
    Poll::Ready(())
}
