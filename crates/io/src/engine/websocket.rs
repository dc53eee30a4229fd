//! The WebSocket transport (`docs/engine.io-protocol/v4-current.md`,
//! "WebSocket" and "Upgrade"): the probe of a polling session's upgrade,
//! and the reading and writing steps the session's driver takes on its
//! WebSocket.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, Message, Utf8Bytes};
use tokio::time::{Duration, Instant};

use super::close::CloseReason;
use super::handler::EngineHandler;
use super::handshake::TransportKind;
use super::inbound::{Delivered, deliver};
use super::packet::{Packet, PacketError, Payload};
use super::prepared::Outgoing;
use super::socket::{EngineSocket, UpgradeState, Ws};
use super::state::EngineState;
use super::v3;

/// How many messages the driver reads and hands on in one turn before it
/// lets the runtime's other tasks run: a client that sends without pause
/// must not starve the others on the same worker.
const READ_BUDGET: usize = 64;

/// The type digit of a `message` packet (Engine.IO v4, "Packet types").
const MESSAGE_DIGIT: &str = "4";

/// How long a session's WebSocket may go on after the session ended, to
/// send its last packets and the Close frame to a client that reads
/// slowly and answer its Close; past
/// it the connection is dropped. Long enough for a healthy client to take
/// the last of a full queue, short enough that a client that stopped
/// reading does not hold the connection for long.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Hands `ws` to a polling session's driver if the client probes it and
/// sends `5` within `timeout`; otherwise closes `ws` and the session stays
/// on polling. The session must have been marked
/// [`UpgradeState::Probing`] for this WebSocket.
pub(crate) async fn upgrade<D>(socket: &Arc<EngineSocket<D>>, mut ws: Ws, timeout: Duration) {
    if probe(socket, &mut ws, timeout).await {
        // The driver takes it over, unless the session ended meanwhile.
        let unwanted = socket.update(|state| {
            if state.closing.is_some() {
                return Some(ws);
            }
            state.handover = Some(Box::new(ws));
            None
        });
        if let Some(ws) = unwanted {
            refuse(ws).await;
        }
    } else {
        socket.update(|state| {
            if state.upgrade != UpgradeState::Done {
                state.upgrade = UpgradeState::None;
            }
        });
        let _ = ws.close(CloseCode::NORMAL, "").await;
    }
}

/// Closes a WebSocket that may not join its session (one is already
/// upgrading or upgraded), as Node does: accepted, then closed.
pub(crate) async fn refuse(mut ws: Ws) {
    let _ = ws.close(CloseCode::NORMAL, "").await;
}

/// The probe: `2probe` is answered `3probe`, then `5` completes the
/// upgrade. Anything else, the end of the connection or of the session,
/// or the timeout, fails it.
async fn probe<D>(socket: &EngineSocket<D>, ws: &mut Ws, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        let changed = socket.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if socket.is_closed() {
            return false;
        }
        let next = tokio::select! {
            () = &mut changed => continue,
            () = tokio::time::sleep_until(deadline) => return false,
            next = ws.next() => next,
        };
        let Some(Ok(message)) = next else {
            return false;
        };
        match decode(socket, message) {
            Ok(Packet::Ping(data)) if data == "probe" => {
                let pong = Packet::Pong(Utf8Bytes::from_static("probe"));
                if ws.send(pong.to_frame()).await.is_err() {
                    return false;
                }
                socket.update(|state| state.upgrade = UpgradeState::Probed);
            }
            Ok(Packet::Upgrade) => {
                return socket.update(|state| {
                    let ready = state.upgrade == UpgradeState::Probed && state.closing.is_none();
                    if ready {
                        state.upgrade = UpgradeState::Done;
                        state.transport = TransportKind::WebSocket;
                    }
                    ready
                });
            }
            _ => return false,
        }
    }
}

/// Reads what the client sent and hands each packet on, until nothing
/// more is there (`Pending`, the task woken when more comes) or the
/// session ended (`Ready`). After [`READ_BUDGET`] messages it yields,
/// waking the task to go on.
pub(crate) fn poll_read<H: EngineHandler>(
    ws: &mut Ws,
    cx: &mut Context<'_>,
    engine: &EngineState<H>,
    socket: &Arc<EngineSocket<H::Data>>,
) -> Poll<()> {
    for _ in 0..READ_BUDGET {
        let message = match ws.poll_next_unpin(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Ok(message))) => message,
            Poll::Ready(None) => {
                socket.terminate(CloseReason::TransportClose, None, false);
                return Poll::Ready(());
            }
            Poll::Ready(Some(Err(_))) => {
                socket.terminate(CloseReason::TransportError, None, false);
                return Poll::Ready(());
            }
        };
        let Ok(packet) = decode(socket, message) else {
            socket.terminate(CloseReason::ParseError, None, false);
            return Poll::Ready(());
        };
        if deliver(engine, socket, packet, TransportKind::WebSocket) != Delivered::Taken {
            return Poll::Ready(());
        }
    }
    cx.waker().wake_by_ref();
    Poll::Pending
}

/// Decodes a message in the session's protocol version.
fn decode<D>(socket: &EngineSocket<D>, message: Message) -> Result<Packet, PacketError> {
    if socket.is_eio3() {
        v3::from_frame(message)
    } else {
        Packet::from_frame(message)
    }
}

/// Writes what the session queued into `ws` and flushes; `Ok(true)` when
/// `ws` could not take it all now (it wakes the task when it can; the rest
/// stays queued, under the session's bound) or is closing (the reading
/// side then ends the session), `Err` when the connection failed.
/// `flushing` says the last call left bytes unwritten.
pub(crate) fn poll_write<D>(
    ws: &mut Ws,
    cx: &mut Context<'_>,
    socket: &EngineSocket<D>,
    flushing: bool,
) -> Result<bool, ()> {
    let eio3 = socket.is_eio3();
    // `poll_ready` flushes when the connection's write buffer is full and
    // is pending while it stays so: then nothing more is taken. It is
    // asked first, so that one look at the queue both finds it empty (the
    // common case once a reply went out) and takes what is there.
    let blocked = match ws.poll_ready_unpin(cx) {
        Poll::Ready(Ok(())) => {
            let mut state = socket.lock();
            if !flushing && state.outbox.is_empty() {
                return Ok(false);
            }
            while let Some(entry) = state.pop_outbox() {
                let sent = match entry {
                    Outgoing::Prepared(prepared) if !eio3 => ws.feed_prepared(prepared.frame()),
                    // The type digit and the text go straight into the
                    // connection's write buffer, not joined first.
                    Outgoing::Packet(Packet::Message(Payload::Text(text))) if !eio3 => {
                        ws.feed_text_parts(&[MESSAGE_DIGIT, text.as_str()])
                    }
                    entry => ws.start_send_unpin(frame(&entry.into_packet(), eio3)),
                };
                sent.map_err(drop)?;
            }
            false
        }
        // The client's Close came: what is queued stays unsent, and the
        // reading side ends the session as the client closing it.
        Poll::Ready(Err(sockeye::Error::Closed)) => return Ok(true),
        Poll::Ready(Err(_)) => return Err(()),
        Poll::Pending => true,
    };
    match ws.poll_flush_unpin(cx) {
        Poll::Ready(Err(_)) => Err(()),
        Poll::Ready(Ok(())) => Ok(blocked),
        Poll::Pending => Ok(true),
    }
}

/// A packet as a WebSocket message, in its v3 form for a v3 session.
fn frame(packet: &Packet, eio3: bool) -> Message {
    if eio3 {
        v3::to_frame(packet)
    } else {
        packet.to_frame()
    }
}

/// Ends the WebSocket of a session that ended: sends the packets still
/// queued and the farewell if the session drains, then the Close frame,
/// and waits for the client's, for at most [`CLOSE_GRACE`].
pub(crate) async fn close<D>(ws: &mut Ws, socket: &EngineSocket<D>) {
    let packets = last_packets(socket);
    let eio3 = socket.is_eio3();
    let closing = async {
        for packet in &packets {
            ws.feed(frame(packet, eio3)).await?;
        }
        ws.close(CloseCode::NORMAL, "").await
    };
    let _ = tokio::time::timeout(CLOSE_GRACE, closing).await;
}

/// The last packets of a session that ended: the queue and the farewell
/// of a server-side close, nothing otherwise.
fn last_packets<D>(socket: &EngineSocket<D>) -> Vec<Packet> {
    let mut state = socket.lock();
    let Some(closing) = state.closing.as_mut() else {
        return Vec::new();
    };
    if !closing.drain {
        return Vec::new();
    }
    let farewell = closing.farewell.take();
    let mut packets = state.take_outbox();
    packets.extend(farewell);
    packets
}
