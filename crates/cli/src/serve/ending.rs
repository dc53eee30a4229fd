//! How a served connection ended, read from its stream and logged (with
//! its access line): shared by the echo and broadcast modes.

use std::task::Poll;

use sockeye::{CloseCode, WebSocket};

use super::access::Access;
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

/// Logs how a connection ended, at debug level, and its access line
/// with the subprotocol agreed; returns the `Ready` that ends its task.
pub(super) fn log_end(
    id: u64,
    end: Result<&Option<CloseCode>, &sockeye::Error>,
    access: Option<&Access>,
    protocol: Option<&str>,
) -> Poll<()> {
    match end {
        Ok(code) => {
            tracing::debug!(id, ?code, "connection closed");
            if let Some(access) = access {
                access.write(id, protocol, *code, None);
            }
        }
        Err(e) => {
            let error = describe(e);
            tracing::debug!(id, error, "connection failed");
            if let Some(access) = access {
                access.write(id, protocol, None, Some(&error));
            }
        }
    }
    Poll::Ready(())
}
