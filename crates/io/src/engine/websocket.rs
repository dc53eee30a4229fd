//! The WebSocket transport: a session opened on a WebSocket, and the
//! upgrade of a polling session to one (`docs/engine.io-protocol/v4-current.md`,
//! "Upgrade").
//!
//! Each WebSocket runs a reader and a writer side by side: the reader
//! hands packets to the session's driver, the writer sends what the
//! session queued and closes the connection when the session ends.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, Message, Utf8Bytes, WebSocket, WebSocketReader, WebSocketWriter};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Duration, Instant};

use super::close::CloseReason;
use super::handshake::TransportKind;
use super::packet::{Packet, PacketError};
use super::socket::{EngineSocket, UpgradeState};
use super::v3;

/// How long the writer may go on after the session ended, to send its
/// last packets and the Close frame to a client that reads slowly; past
/// it the connection is dropped. Long enough for a healthy client to take
/// the last of a full queue, short enough that a client that stopped
/// reading does not hold the connection for long.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Runs a session's WebSocket until the session or the connection ends.
pub(crate) async fn run<D, S>(socket: &Arc<EngineSocket<D>>, ws: WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (reader, writer) = ws.split();
    let writing = async {
        tokio::select! {
            () = write_loop(socket, writer) => {}
            () = async {
                until_closed(socket).await;
                tokio::time::sleep(CLOSE_GRACE).await;
            } => {}
        }
    };
    tokio::join!(read_loop(socket, reader), writing);
}

/// Waits until the session ended.
async fn until_closed<D>(socket: &EngineSocket<D>) {
    loop {
        let changed = socket.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if socket.is_closed() {
            return;
        }
        changed.await;
    }
}

/// Takes a polling session over to `ws` if the client probes it and
/// sends `5` within `timeout`; otherwise closes `ws` and the session stays
/// on polling. The session must have been marked
/// [`UpgradeState::Probing`] for this WebSocket.
pub(crate) async fn upgrade<D, S>(
    socket: &Arc<EngineSocket<D>>,
    mut ws: WebSocket<S>,
    timeout: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if probe(socket, &mut ws, timeout).await {
        run(socket, ws).await;
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
pub(crate) async fn refuse<S>(mut ws: WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = ws.close(CloseCode::NORMAL, "").await;
}

/// The probe: `2probe` is answered `3probe`, then `5` completes the
/// upgrade. Anything else, the end of the connection or of the session,
/// or the timeout, fails it.
async fn probe<D, S>(socket: &EngineSocket<D>, ws: &mut WebSocket<S>, timeout: Duration) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
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

/// Reads packets and hands them to the session until either ends.
async fn read_loop<D, S>(socket: &EngineSocket<D>, mut reader: WebSocketReader<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let changed = socket.changed.notified();
        tokio::pin!(changed);
        changed.as_mut().enable();
        if socket.is_closed() {
            return;
        }
        let next = tokio::select! {
            biased;
            () = &mut changed => continue,
            next = reader.next() => next,
        };
        let Some(read) = next else {
            socket.terminate(CloseReason::TransportClose, None, false);
            return;
        };
        let Ok(message) = read else {
            socket.terminate(CloseReason::TransportError, None, false);
            return;
        };
        if !hand_over(socket, message).await {
            return;
        }
    }
}

/// Decodes one message and passes its packet on; false once the session
/// ended.
async fn hand_over<D>(socket: &EngineSocket<D>, message: Message) -> bool {
    match decode(socket, message) {
        Err(_) => {
            socket.terminate(CloseReason::ParseError, None, false);
            false
        }
        Ok(packet @ (Packet::Message(_) | Packet::Pong(_) | Packet::Close)) => {
            if matches!(packet, Packet::Pong(_)) {
                socket.pong_received();
            }
            socket.inbound.send(packet).await.is_ok()
        }
        // A v3 client pings; the writer sends the pong.
        Ok(Packet::Ping(data)) if socket.is_eio3() => {
            socket.client_pinged(data);
            true
        }
        // A v4 client never pings after the upgrade: Node calls it
        // "invalid heartbeat direction" and ends the session.
        Ok(Packet::Ping(_)) => {
            socket.terminate(CloseReason::TransportError, None, false);
            false
        }
        Ok(Packet::Open(_) | Packet::Upgrade | Packet::Noop) => true,
    }
}

/// Decodes a message in the session's protocol version.
fn decode<D>(socket: &EngineSocket<D>, message: Message) -> Result<Packet, PacketError> {
    if socket.is_eio3() {
        v3::from_frame(message)
    } else {
        Packet::from_frame(message)
    }
}

/// Sends what the session queues; when it ends, sends the last packets of
/// a server-side close and closes the connection.
async fn write_loop<D, S>(socket: &EngineSocket<D>, mut writer: WebSocketWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        let changed = socket.changed.notified();
        let queued = socket.queued.notified();
        tokio::pin!(changed, queued);
        changed.as_mut().enable();
        queued.as_mut().enable();
        let (packets, closing) = take_writable(socket);
        if !packets.is_empty()
            && send_all(&mut writer, packets, socket.is_eio3())
                .await
                .is_err()
        {
            socket.terminate(CloseReason::TransportError, None, false);
            return;
        }
        if closing {
            socket.changed.notify_waiters();
            let _ = writer.close(CloseCode::NORMAL, "").await;
            return;
        }
        tokio::select! {
            () = changed => {}
            () = queued => {}
        }
    }
}

/// The packets to write now, and whether the session ended (then they are
/// its last: the queue and the `1` of a server-side close).
fn take_writable<D>(socket: &EngineSocket<D>) -> (Vec<Packet>, bool) {
    let mut state = socket.lock();
    let Some(closing) = state.closing.as_mut() else {
        return (state.take_outbox(), false);
    };
    if !closing.drain {
        return (Vec::new(), true);
    }
    let farewell = closing.farewell.take();
    let mut packets = state.take_outbox();
    packets.extend(farewell);
    (packets, true)
}

/// Writes packets as frames (in their v3 form for a v3 session), then
/// flushes once.
async fn send_all<S>(
    writer: &mut WebSocketWriter<S>,
    packets: Vec<Packet>,
    eio3: bool,
) -> sockeye::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for packet in packets {
        let frame = if eio3 {
            v3::to_frame(&packet)
        } else {
            packet.to_frame()
        };
        writer.feed(frame).await?;
    }
    writer.flush().await
}
