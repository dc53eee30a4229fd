//! What every connection of `sockeye bench echo` does, whichever way it is
//! driven (a task of its own, or a reactor's callbacks): the plan, how long
//! the last echoes may take, and the words for each way a connection fails,
//! so that both ways report alike.

use std::time::Duration;

use sockeye::Message;

use crate::describe;

/// How long after the end of the measured window the last echoes may take.
pub(super) const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What every connection sends and how.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) message: Message,
    pub(super) in_flight: usize,
}

/// A connection failed: an I/O error, a protocol violation, the stream cut.
pub(super) fn connection_failed(e: &sockeye::Error) -> String {
    format!("connection failed: {}", describe(e))
}

/// The server closed cleanly while echoes were still due.
pub(super) fn closed_during_the_run() -> String {
    "the server closed the connection during the run".to_owned()
}

/// Echoes were still due [`DRAIN_LIMIT`] after the end.
pub(super) fn echoes_missing() -> String {
    format!(
        "echoes still missing {} s after the end",
        DRAIN_LIMIT.as_secs()
    )
}
