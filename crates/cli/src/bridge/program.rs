//! The programs `exec:` endpoints run: each in a process group of its own,
//! so that stopping it also stops what it started (`sh -c` forks the
//! command; a pipeline has several processes), and always reaped.

use std::collections::BTreeSet;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rustix::process::{Pid, Signal};
use tokio::process::Child;

/// The process groups of the programs not yet reaped (each named by its
/// leader, the `sh`): while a leader is unreaped its group ID cannot be
/// reused, so signalling these groups never reaches a stranger.
static GROUPS: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Runs `f` on the registered groups.
fn with_groups<T>(f: impl FnOnce(&mut BTreeSet<u32>) -> T) -> T {
    f(&mut GROUPS.lock().unwrap_or_else(PoisonError::into_inner))
}

/// Sends `signal` to the process group `pgid`. Only called for the group
/// of a child not yet reaped (see [`GROUPS`]), so it names our program.
fn signal_group(pgid: u32, signal: Signal) {
    let group = i32::try_from(pgid).ok().and_then(Pid::from_raw);
    if let Some(group) = group {
        // Gone already (ESRCH) is fine: there is nothing left to stop.
        let _ = rustix::process::kill_process_group(group, signal);
    }
}

/// Asks every running program's group to stop (SIGTERM), when the bridge
/// itself stops.
pub(crate) fn stop_all() {
    with_groups(|groups| {
        for &pgid in groups.iter() {
            signal_group(pgid, Signal::TERM);
        }
    });
}

/// A running program and its process group; dropped unreaped, the whole
/// group is killed.
#[derive(Debug)]
pub(crate) struct Program {
    child: Child,
    pgid: Option<u32>,
}

impl Program {
    /// Waits up to `linger` for the program to exit once its input ended,
    /// then kills its group; it is always reaped, so no zombie stays.
    pub(crate) async fn finish(mut self, linger: Duration) {
        let status = if let Ok(status) = tokio::time::timeout(linger, self.child.wait()).await {
            status
        } else {
            tracing::warn!("the program did not exit after its input ended: killed");
            if let Some(pgid) = self.pgid {
                signal_group(pgid, Signal::KILL);
            }
            let _ = self.child.start_kill();
            self.child.wait().await
        };
        if let Some(pgid) = self.pgid.take() {
            with_groups(|groups| groups.remove(&pgid));
        }
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => tracing::warn!(%status, "the program failed"),
            Err(e) => tracing::warn!(error = %e, "cannot wait for the program"),
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // Not reaped (finish did not run to its end): the group is ours.
            signal_group(pgid, Signal::KILL);
            with_groups(|groups| groups.remove(&pgid));
        }
    }
}

impl Program {
    /// Takes charge of `child`, the leader of its own process group: from
    /// here on, dropping the program stops the group.
    pub(crate) fn new(child: Child) -> Program {
        let pgid = child.id();
        if let Some(pgid) = pgid {
            with_groups(|groups| groups.insert(pgid));
        }
        Program { child, pgid }
    }
}
