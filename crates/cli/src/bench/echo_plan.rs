//! What every connection of `sockeye bench echo` does, whichever way it is
//! driven (a task of its own, or a reactor's callbacks): the plan, how long
//! the last echoes may take, and the words for each way a connection fails,
//! so that both ways report alike.

use std::time::{Duration, Instant};

use sockeye::Message;

use super::check_echo;
use super::report::{Local, Phases};
use crate::describe;

/// How long after the end of the measured window the last echoes may take.
pub(super) const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// What every connection sends and how.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) message: Message,
    pub(super) in_flight: usize,
}

/// An echo came back at `now` for the message sent at `sent`: checks it
/// against `message`, counts it, and records its latency if `now` is in
/// the measured window. Returns whether another message is due (the run
/// is not over yet).
///
/// # Errors
///
/// The echo is not the message's (see `check_echo`).
pub(super) fn take_echo(
    message: &Message,
    phases: &Phases,
    local: &Local,
    (sent, now): (Instant, Instant),
    is_text: bool,
    payload: &[u8],
) -> Result<bool, String> {
    check_echo(message, is_text, payload)?;
    local.arrived_lazily();
    if now >= phases.stop_at {
        return Ok(false);
    }
    if phases.measures(now) {
        let nanos = u64::try_from(now.duration_since(sent).as_nanos()).unwrap_or(u64::MAX);
        local.record(nanos);
    }
    Ok(true)
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
