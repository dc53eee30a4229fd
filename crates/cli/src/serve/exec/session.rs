//! A connection's program from start to reaping, and how each side's end
//! ends the other.
//!
//! ```text
//!  program exits ──► its stdout read to the end ──► Close 1000 (status 0)
//!                                                  or 1011 (other status, signal)
//!  peer closes, connection fails, or server stops (Close 1001)
//!      ──► stdin closed (EOF) ──grace──► SIGTERM ──grace──► SIGKILL
//! ```
//!
//! Either way the process is always waited for, so none is left a
//! zombie. Signals go to the program's process group (it leads one of
//! its own), so that what a shell script started goes with it; and only
//! before the process is reaped, so never to a process that took its PID
//! since.

use std::future::Future;
use std::pin::Pin;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use sockeye::{CloseCode, WebSocket, WebSocketWriter};
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::super::access::Access;
use super::super::transport::Transport;
use super::pumps::{PeerEnd, Tally, log_stderr, peer_to_program, program_to_peer};
use super::{ExecOptions, Launch};
use crate::describe;
use crate::limits::ConnectionSlot;

/// A Close being sent, waited for alongside the rest.
type Closing = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Runs the program of an open connection until both have ended, then
/// writes its access line, if `access`.
pub(in crate::serve) async fn run<S: Transport>(
    mut ws: WebSocket<S>,
    launch: Launch,
    id: u64,
    slot: Option<ConnectionSlot>,
    closing: CancellationToken,
    access: Option<Box<Access>>,
) {
    let options = &*launch.options;
    let mut command = Command::new(&launch.program.path);
    command
        .args(&launch.program.args)
        .env_clear()
        .envs(launch.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // Only if this task is dropped unfinished (the runtime stopping).
        .kill_on_drop(true);
    let child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            tracing::warn!(
                id,
                program = %launch.program.path.display(),
                error = %describe(&e),
                "cannot start the program"
            );
            let close = ws.close(CloseCode::INTERNAL_ERROR, "cannot start the program");
            let _ = tokio::time::timeout(options.close_timeout, close).await;
            return;
        }
    };
    tracing::debug!(id, pid = child.id(), program = %launch.program.path.display(), "program started");
    let protocol = ws.protocol().map(str::to_owned);
    let (received, sent) = (Tally::default(), Tally::default());
    let ended = supervise(ws, child, id, &closing, options, (&received, &sent)).await;
    log_end(id, &ended);
    if let Some(mut access) = access {
        access.received = received.count();
        access.sent = sent.count();
        match &ended.peer {
            Some(PeerEnd::Closed(code)) => access.write(id, protocol.as_deref(), *code, None),
            Some(PeerEnd::Failed(e)) => {
                let error = describe(e);
                access.write(id, protocol.as_deref(), None, Some(&error));
            }
            None => access.write(id, protocol.as_deref(), None, None),
        }
    }
    // Given back only now: the process has been reaped.
    drop(launch.fork);
    drop(slot);
}

/// How a connection and its program ended.
struct Ended {
    /// `None` only if waiting for the process failed.
    status: Option<ExitStatus>,
    /// How the peer's side ended, if it did.
    peer: Option<PeerEnd>,
}

/// Logs how the connection and its program ended, at debug level.
fn log_end(id: u64, ended: &Ended) {
    let status = ended.status.map(|status| status.to_string());
    match &ended.peer {
        Some(PeerEnd::Closed(code)) => {
            tracing::debug!(id, ?status, ?code, "program and connection ended");
        }
        Some(PeerEnd::Failed(e)) => {
            tracing::debug!(id, ?status, error = %describe(e), "program ended, connection failed");
        }
        None => tracing::debug!(id, ?status, "program ended, connection abandoned"),
    }
}

/// The steps that stop a program that outlives its peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    /// Not asked to stop.
    Running,
    /// Its stdin was closed at this time: SIGTERM after the grace period.
    EndOfInput(Instant),
    /// SIGTERM was sent at this time: SIGKILL after the grace period.
    Terminated(Instant),
    /// SIGKILL was sent: only waiting remains.
    Killed,
}

/// Pumps between the connection and the program, and ends each when the
/// other ends (see the module doc).
async fn supervise<S: Transport>(
    ws: WebSocket<S>,
    mut child: Child,
    id: u64,
    shutdown: &CancellationToken,
    options: &ExecOptions,
    (received, sent): (&Tally, &Tally),
) -> Ended {
    let (reader, writer) = ws.split();
    let inbound = peer_to_program(reader, child.stdin.take(), options.binary, id, received);
    let outbound = program_to_peer(
        child.stdout.take(),
        writer.clone(),
        options.binary,
        options.max_message_size,
        sent,
    );
    let errors = log_stderr(child.stderr.take(), id);
    tokio::pin!(inbound, outbound, errors);
    let grace = options.grace;
    let mut ended = Ended {
        status: None,
        peer: None,
    };
    let (mut out_done, mut errors_done, mut shutting_down) = (false, false, false);
    let mut stop = Stop::Running;
    let mut close: Option<Closing> = None;
    let mut close_sent = false;
    // Once the program has exited: until when its stdout may still be
    // read (a process it started may hold it open), and until when the
    // peer's Close is awaited.
    let mut exited_at: Option<Instant> = None;
    loop {
        let stop_at = match stop {
            Stop::EndOfInput(at) | Stop::Terminated(at) => Some(at + grace),
            Stop::Running | Stop::Killed => None,
        };
        let far = Instant::now() + Duration::from_secs(3600);
        let drain_until = exited_at.map(|at| at + grace);
        let give_up_at = exited_at.map(|at| at + grace + options.close_timeout * 2);
        tokio::select! {
            waited = child.wait(), if ended.status.is_none() && exited_at.is_none() => {
                exited_at = Some(Instant::now());
                match waited {
                    Ok(status) => ended.status = Some(status),
                    Err(e) => {
                        tracing::warn!(id, error = %describe(&e), "waiting for the program failed");
                    }
                }
            }
            peer = &mut inbound, if ended.peer.is_none() => {
                ended.peer = Some(peer);
                if stop == Stop::Running {
                    stop = Stop::EndOfInput(Instant::now());
                }
            }
            () = &mut outbound, if !out_done => out_done = true,
            () = &mut errors, if !errors_done => errors_done = true,
            () = sleep_until(stop_at.unwrap_or(far)), if stop_at.is_some() && exited_at.is_none() => {
                stop = escalate(&child, stop, id);
            }
            () = sleep_until(drain_until.unwrap_or(far)), if drain_until.is_some() && !out_done => {
                tracing::debug!(id, "the program's stdout is still open after it exited: no longer read");
                out_done = true;
            }
            () = shutdown.cancelled(), if !shutting_down => {
                shutting_down = true;
                if !close_sent {
                    close = Some(send_close(writer.clone(), CloseCode::GOING_AWAY, "server shutting down".to_owned()));
                    close_sent = true;
                }
                if stop == Stop::Running {
                    stop = Stop::EndOfInput(Instant::now());
                }
            }
            () = async { if let Some(close) = close.as_mut() { close.await } }, if close.is_some() => {
                close = None;
            }
            () = sleep_until(give_up_at.unwrap_or(far)), if give_up_at.is_some() => {
                tracing::debug!(id, "the peer did not finish closing in time");
                break;
            }
        }
        if exited_at.is_some() {
            if ended.peer.is_some() {
                break;
            }
            if out_done && !close_sent {
                let (code, reason) = close_code(ended.status);
                close = Some(send_close(writer.clone(), code, reason));
                close_sent = true;
            }
        }
    }
    // The last lines it wrote to stderr, unless something it started
    // keeps the pipe open.
    if !errors_done {
        let _ = tokio::time::timeout(grace, &mut errors).await;
    }
    ended
}

/// Sends the next signal to a program that outlived its grace period.
fn escalate(child: &Child, stop: Stop, id: u64) -> Stop {
    let (signal, next) = match stop {
        Stop::EndOfInput(_) => (
            rustix::process::Signal::TERM,
            Stop::Terminated(Instant::now()),
        ),
        Stop::Terminated(_) => (rustix::process::Signal::KILL, Stop::Killed),
        Stop::Running | Stop::Killed => return stop,
    };
    // `id()` is `None` once the process has been reaped: its PID may then
    // be another's, so no signal goes out.
    let group = child
        .id()
        .and_then(|pid| i32::try_from(pid).ok())
        .and_then(rustix::process::Pid::from_raw);
    if let Some(group) = group {
        tracing::debug!(
            id,
            ?signal,
            "the program outlived its grace period: signalled"
        );
        if let Err(e) = rustix::process::kill_process_group(group, signal) {
            tracing::debug!(id, error = %describe(&e), "signalling the program failed");
        }
    }
    next
}

/// The Close that tells how the program ended: 1000 for status 0, 1011
/// with the status or the signal otherwise.
fn close_code(status: Option<ExitStatus>) -> (CloseCode, String) {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(status) if status.success() => (CloseCode::NORMAL, String::new()),
        Some(status) => match (status.code(), status.signal()) {
            (Some(code), _) => (
                CloseCode::INTERNAL_ERROR,
                format!("program exited with status {code}"),
            ),
            (None, Some(signal)) => (
                CloseCode::INTERNAL_ERROR,
                format!("program killed by signal {signal}"),
            ),
            (None, None) => (CloseCode::INTERNAL_ERROR, "program failed".to_owned()),
        },
        None => (CloseCode::INTERNAL_ERROR, "program lost".to_owned()),
    }
}

/// Sends a Close to the peer, waiting for it to be written (the reader
/// then sees the peer's answer).
fn send_close<S: Transport>(
    mut writer: WebSocketWriter<S>,
    code: CloseCode,
    reason: String,
) -> Closing {
    Box::pin(async move {
        if let Err(e) = writer.close(code, &reason).await {
            tracing::trace!(error = %describe(&e), "sending the close failed");
        }
    })
}
