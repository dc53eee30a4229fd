//! An open pair, the client's connection and the backend's, relayed
//! message by message until one side ends; the other side is then closed
//! with the same code and reason.
//!
//! # Flow
//!
//! Each message is handed whole to the other side: text stays text,
//! binary stays binary, and fragments are joined (each side has its own
//! framing, compression and masking). Pings are answered by each side's
//! connection on its own, hop by hop, and never relayed.
//!
//! A side is read only while the other has room: once the bytes queued for
//! the client reach `--write-buffer-size`, the backend is not read until
//! the client has taken them, so TCP's flow control slows the backend down
//! (and the reverse). Each direction holds at most that buffer and one
//! message.
//!
//! # Close codes
//!
//! A Close from one side is answered by the proxy (with the same code and
//! reason, as any endpoint does) and sent on to the other side as it came,
//! a Close without a code included (1005 on the receiving side, as it would
//! be without the proxy). What is not a Close becomes one the other side
//! can receive:
//!
//! | the side that ended | the other side gets |
//! |---|---|
//! | sent Close (code, reason) | the same code and reason |
//! | sent Close without a code | a Close without a code |
//! | vanished without a Close (1006), failed keepalive, broken TCP or TLS | 1011, "client connection lost" or "backend connection lost" |
//! | broke the protocol (it was sent 1002, 1007, 1009...) | 1011, "client broke the protocol" or "backend broke the protocol" |
//! | went quiet past `--idle-timeout` (both sides) | 1001, "idle timeout" |
//! | the proxy shuts down (both sides) | 1001, "proxy shutting down" |

use std::fmt;
use std::future::poll_fn;
use std::pin::pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, CloseFrame, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use crate::describe;

/// One side of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Backend,
}

impl Side {
    /// "client" or "backend", as logged.
    fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Backend => "backend",
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How a side's stream ended: its Close (`None` if it ended without
/// one, which the library reports as an error instead), or the error.
type Outcome = Result<Option<CloseFrame>, sockeye::Error>;

/// Messages and their payload bytes handed over one way.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    pub(super) messages: u64,
    pub(super) bytes: u64,
}

/// How a relayed pair went, for the access log.
#[derive(Debug, Default)]
pub(super) struct Summary {
    /// From the client to the backend.
    pub(super) up: Tally,
    /// From the backend to the client.
    pub(super) down: Tally,
    /// The side that ended first; `None` on shutdown.
    pub(super) ended_by: Option<&'static str>,
    /// The code the other side was closed with.
    pub(super) code: Option<CloseCode>,
}

/// What one step of a direction did.
enum Step {
    /// A message was handed over.
    Moved,
    /// Nothing to do until woken.
    Waiting,
    /// The source's stream ended.
    Ended(Outcome),
}

/// Relays between `client` and `backend` until one side ends or the proxy
/// shuts down, then closes the other side (or both) and waits for the
/// closing handshakes, each within `close_timeout` twice over.
pub(super) async fn relay<C, B>(
    mut client: WebSocket<C>,
    mut backend: WebSocket<B>,
    id: u64,
    close_timeout: Duration,
    closing: &CancellationToken,
) -> Summary
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut summary = Summary::default();
    let first = relay_until_one_ends(&mut client, &mut backend, closing, &mut summary).await;
    let limit = close_timeout * 2;
    let Some((side, outcome)) = first else {
        tracing::debug!(id, "closing both sides on shutdown");
        let reason = "proxy shutting down";
        let _ = client.start_close(CloseCode::GOING_AWAY, reason);
        let _ = backend.start_close(CloseCode::GOING_AWAY, reason);
        let _ = tokio::join!(
            tokio::time::timeout(limit, drain(&mut client)),
            tokio::time::timeout(limit, drain(&mut backend)),
        );
        summary.code = Some(CloseCode::GOING_AWAY);
        return summary;
    };
    let (code, reason) = close_for(side, &outcome);
    summary.ended_by = Some(side.name());
    summary.code = Some(code);
    match &outcome {
        Ok(frame) => tracing::debug!(
            id,
            %side,
            code = ?frame.as_ref().map(|f| f.code),
            "closed; closing the other side with {code}"
        ),
        Err(e) => tracing::debug!(
            id,
            %side,
            error = %describe(e),
            "failed; closing the other side with {code}"
        ),
    }
    let other = match side {
        Side::Client => close_other(&mut backend, code, &reason, limit).await,
        Side::Backend => close_other(&mut client, code, &reason, limit).await,
    };
    match other {
        Some(Ok(frame)) => tracing::debug!(
            id,
            code = ?frame.map(|f| f.code),
            "connection closed"
        ),
        Some(Err(e)) => {
            tracing::debug!(id, error = %describe(&e), "connection closed, the other side failing");
        }
        None => tracing::debug!(id, "connection closed, the other side not answering"),
    }
    summary
}

/// Sends `code` and `reason` to a side and reads it to its end; `None`
/// past `limit`.
async fn close_other<S>(
    ws: &mut WebSocket<S>,
    code: CloseCode,
    reason: &str,
    limit: Duration,
) -> Option<Outcome>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Fails only once that side closed too: nothing more to send then.
    let _ = ws.start_close(code, reason);
    tokio::time::timeout(limit, drain(ws)).await.ok()
}

/// The code and reason the other side is closed with when `side` ended
/// with `outcome` (see the module's table).
fn close_for(side: Side, outcome: &Outcome) -> (CloseCode, String) {
    match outcome {
        Ok(Some(frame)) => (frame.code, frame.reason.to_string()),
        Ok(None) => (CloseCode::NO_STATUS_RECEIVED, String::new()),
        Err(sockeye::Error::Timeout(sockeye::Timeout::Idle)) => {
            (CloseCode::GOING_AWAY, "idle timeout".to_owned())
        }
        Err(e) if e.is_protocol() => (
            CloseCode::INTERNAL_ERROR,
            format!("{side} broke the protocol"),
        ),
        Err(_) => (CloseCode::INTERNAL_ERROR, format!("{side} connection lost")),
    }
}

/// The most messages one direction moves before the other is read: enough
/// to fill a write with small messages, few enough that a flooding side
/// does not hold up the other for long.
const BATCH: usize = 64;

/// Hands messages both ways until a side's stream ends (`Some` with that
/// side and how) or the proxy shuts down (`None`).
async fn relay_until_one_ends<C, B>(
    client: &mut WebSocket<C>,
    backend: &mut WebSocket<B>,
    closing: &CancellationToken,
    summary: &mut Summary,
) -> Option<(Side, Outcome)>
where
    C: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let mut stopped = pin!(closing.cancelled());
    // A message was queued on the backend (up) or the client (down): wait
    // for room there before reading the other side again.
    let (mut up, mut down) = (false, false);
    poll_fn(|cx| {
        if stopped.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        // Each direction moves what it can (up to BATCH messages) before
        // the other side is read: reading a side first writes what is
        // queued on it, so messages moved in one pass leave in one write
        // instead of one write each.
        loop {
            let mut moved = false;
            for _ in 0..BATCH {
                match step(client, backend, &mut up, &mut summary.up, cx) {
                    Step::Moved => moved = true,
                    Step::Waiting => break,
                    Step::Ended(outcome) => return Poll::Ready(Some((Side::Client, outcome))),
                }
            }
            for _ in 0..BATCH {
                match step(backend, client, &mut down, &mut summary.down, cx) {
                    Step::Moved => moved = true,
                    Step::Waiting => break,
                    Step::Ended(outcome) => return Poll::Ready(Some((Side::Backend, outcome))),
                }
            }
            if !moved {
                break;
            }
        }
        // What is queued leaves as each side takes it, whatever the reads
        // wait for; an error here comes out of that side's stream next.
        let _ = client.poll_flush_unpin(cx);
        let _ = backend.poll_flush_unpin(cx);
        Poll::Pending
    })
    .await
}

/// One direction, from `src` to `dst`: once the last message handed over
/// has room (`queued`), read the next one from `src`, count it in `tally`
/// and queue it on `dst`.
fn step<S, D>(
    src: &mut WebSocket<S>,
    dst: &mut WebSocket<D>,
    queued: &mut bool,
    tally: &mut Tally,
    cx: &mut Context<'_>,
) -> Step
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: AsyncRead + AsyncWrite + Unpin,
{
    if *queued {
        match dst.poll_ready_unpin(cx) {
            Poll::Ready(Ok(())) => *queued = false,
            // `dst` is closing: its own stream tells how it ends, in the
            // other direction's step.
            Poll::Ready(Err(_)) | Poll::Pending => return Step::Waiting,
        }
    }
    match src.poll_next_unpin(cx) {
        Poll::Pending => Step::Waiting,
        Poll::Ready(Some(Ok(message))) => {
            tally.messages += 1;
            tally.bytes += message.len() as u64;
            // Refused only once `dst` is closing: the message is dropped,
            // as its reader is leaving.
            if dst.start_send_unpin(message).is_ok() {
                *queued = true;
            }
            Step::Moved
        }
        Poll::Ready(Some(Err(e))) => Step::Ended(Err(e)),
        Poll::Ready(None) => Step::Ended(Ok(src.close_frame().cloned())),
    }
}

/// Reads a closing side to its end, dropping the messages that crossed
/// our Close.
async fn drain<S>(ws: &mut WebSocket<S>) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e),
            None => return Ok(ws.close_frame().cloned()),
        }
    }
}
