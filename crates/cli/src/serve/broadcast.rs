//! The broadcast mode (`--broadcast`, a broadcast route): each message
//! goes, encoded once, to every other connection of its room.

use std::future::poll_fn;
use std::ops::ControlFlow;

use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, PreparedMessage, WebSocket};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

use super::access::Access;
use super::ending::{how_it_ended, log_end};
use super::transport::Transport;
use crate::describe;
use crate::limits::ConnectionSlot;

/// The fan-out of a broadcast route: every message, encoded once, with the
/// id of the connection it came from.
#[derive(Clone, Debug)]
pub(super) struct Hub {
    pub(super) sender: broadcast::Sender<Said>,
}

/// A message said in a room: by whom, encoded once, and its payload's
/// length (for the access log).
#[derive(Clone, Debug)]
pub(super) struct Said {
    from: u64,
    message: PreparedMessage,
    len: usize,
}

impl Said {
    /// `message`, said by the connection `from`.
    pub(super) fn new(from: u64, message: &sockeye::Message) -> Self {
        Said {
            from,
            message: PreparedMessage::new(message),
            len: message.len(),
        }
    }
}

impl Hub {
    /// A hub nobody listens to yet.
    pub(super) fn new() -> Self {
        Hub {
            sender: broadcast::channel(HUB_BACKLOG).0,
        }
    }
}

/// Queued bytes above which a connection stops taking broadcast messages
/// for one write.
const FAN_OUT_BATCH: usize = 64 << 10;

/// How many broadcast messages a connection may fall behind before it
/// skips the oldest (and is told so in the log).
const HUB_BACKLOG: usize = 1024;

/// Sends every message to every other connection until the peer closes
/// or the server shuts down.
pub(super) async fn fan_out<S: Transport>(
    mut ws: WebSocket<S>,
    id: u64,
    slot: Option<ConnectionSlot>,
    closing: CancellationToken,
    hub: Hub,
    mut inbox: broadcast::Receiver<Said>,
    mut access: Option<Box<Access>>,
) {
    let _slot = slot;
    let stopped = closing.cancelled_owned();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            message = ws.next() => match message {
                // Encoded once here, queued by reference everywhere.
                Some(Ok(message)) => {
                    if let Some(access) = &mut access {
                        access.received.add(message.len());
                    }
                    let _ = hub.sender.send(Said::new(id, &message));
                }
                other => {
                    let _ = log_end(id, how_it_ended(&ws, other).as_ref(), access.as_deref(), ws.protocol());
                    return;
                }
            },
            received = inbox.recv() => {
                let queued = queue_waiting(&mut ws, id, &mut inbox, received, access.as_deref_mut());
                if queued.is_break() {
                    let _ = log_end(id, Ok(&None), access.as_deref(), ws.protocol());
                    return;
                }
                // A peer that does not read stops us taking more: it falls
                // behind in the channel, which drops its oldest messages,
                // instead of growing its queue here.
                if let Err(e) = poll_fn(|cx| ws.poll_ready_unpin(cx)).await {
                    let _ = log_end(id, Err(&e), access.as_deref(), ws.protocol());
                    return;
                }
            }
            () = &mut stopped => {
                Box::pin(close_going_away(&mut ws, id)).await;
                let _ = log_end(id, Ok(&ws.close_frame().map(|f| f.code)), access.as_deref(), ws.protocol());
                return;
            }
        }
    }
}

/// Queues `received` and the broadcast messages already waiting after it,
/// up to [`FAN_OUT_BATCH`] bytes, so that they leave in one write; skips
/// the connection's own. `Break` when the connection or the hub is gone.
fn queue_waiting<S: Transport>(
    ws: &mut WebSocket<S>,
    id: u64,
    inbox: &mut broadcast::Receiver<Said>,
    mut received: Result<Said, RecvError>,
    mut access: Option<&mut Access>,
) -> ControlFlow<()> {
    loop {
        match received {
            Ok(said) => {
                if said.from != id {
                    if ws.feed_prepared(&said.message).is_err() {
                        return ControlFlow::Break(());
                    }
                    if let Some(access) = access.as_deref_mut() {
                        access.sent.add(said.len);
                    }
                }
            }
            Err(RecvError::Lagged(skipped)) => {
                tracing::info!(id, skipped, "slow reader skipped broadcast messages");
            }
            Err(RecvError::Closed) => return ControlFlow::Break(()),
        }
        if ws.buffered_amount() >= FAN_OUT_BATCH {
            return ControlFlow::Continue(());
        }
        received = match inbox.try_recv() {
            Ok(next) => Ok(next),
            Err(TryRecvError::Empty) => return ControlFlow::Continue(()),
            Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(TryRecvError::Closed) => Err(RecvError::Closed),
        };
    }
}

/// Closes with 1001 Going Away, waiting for the peer's answer as long as
/// the close timeout allows.
async fn close_going_away<S: Transport>(ws: &mut WebSocket<S>, id: u64) {
    if let Err(e) = ws
        .close(CloseCode::GOING_AWAY, "server shutting down")
        .await
    {
        tracing::debug!(id, error = %describe(&e), "close on shutdown failed");
    }
}
