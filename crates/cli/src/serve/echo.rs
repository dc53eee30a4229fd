//! The echo mode: each message goes back to its sender, in a hand-written
//! future small enough for an idle connection to cost little.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use futures_util::{SinkExt, StreamExt};
use sockeye::{CloseCode, WebSocket};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::access::Access;
use super::ending::{how_it_ended, log_end};
use super::transport::Transport;
use crate::describe;
use crate::limits::ConnectionSlot;

pin_project_lite::pin_project! {
    /// Echoes until the peer closes or the server shuts down.
    ///
    /// Written out by hand rather than as an `async` block, which would
    /// keep extra copies of its captures and results in the task: this
    /// holds the connection, the shutdown signal and two flags, so that an
    /// idle connection's task fits in 512 bytes (see the test below).
    pub(super) struct Echo<S> {
        ws: WebSocket<S>,
        // None for a stream of an HTTP/2 connection, which holds the slot.
        slot: Option<ConnectionSlot>,
        #[pin]
        stopped: WaitForCancellationFutureOwned,
        id: u64,
        // A message was queued: wait for room before reading more
        // (backpressure from a peer that does not read).
        queued: bool,
        // The server is shutting down: our Close went out, the stream
        // runs the closing handshake to its end.
        closing: bool,
        // `stopped` was polled once, so it will wake the task.
        listening: bool,
        // The access log's record, boxed: one pointer in the task.
        access: Option<Box<Access>>,
    }
}

/// Set when the server starts shutting down, before the connections are
/// told: checking it costs a load, where polling a cancellation future for
/// each message takes a lock (a tenth of the echo server's time).
pub(super) static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// The echo task of an open connection.
pub(super) fn echo<S>(
    ws: WebSocket<S>,
    id: u64,
    slot: Option<ConnectionSlot>,
    closing: CancellationToken,
    access: Option<Box<Access>>,
) -> Echo<S> {
    Echo {
        ws,
        slot,
        stopped: closing.cancelled_owned(),
        id,
        queued: false,
        closing: false,
        listening: false,
        access,
    }
}

impl<S: Transport> Future for Echo<S> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let id = *this.id;
        loop {
            if *this.closing {
                let access = this.access.as_deref();
                return match ready!(this.ws.poll_next_unpin(cx)) {
                    // Messages that crossed our Close are dropped.
                    Some(Ok(_)) => continue,
                    None => log_end(
                        id,
                        how_it_ended(this.ws, None).as_ref(),
                        access,
                        this.ws.protocol(),
                    ),
                    Some(Err(e)) => {
                        tracing::debug!(id, error = %describe(&e), "close on shutdown failed");
                        log_end(id, Err(&e), access, this.ws.protocol())
                    }
                };
            }
            let check = !*this.listening || SHUTTING_DOWN.load(Ordering::Acquire);
            *this.listening = true;
            if check && this.stopped.as_mut().poll(cx).is_ready() {
                if let Err(e) = this
                    .ws
                    .start_close(CloseCode::GOING_AWAY, "server shutting down")
                {
                    tracing::debug!(id, error = %describe(&e), "close on shutdown failed");
                    return log_end(id, Err(&e), this.access.as_deref(), this.ws.protocol());
                }
                *this.closing = true;
                continue;
            }
            if *this.queued {
                if let Err(e) = ready!(this.ws.poll_ready_unpin(cx)) {
                    return log_end(id, Err(&e), this.access.as_deref(), this.ws.protocol());
                }
                *this.queued = false;
            }
            match ready!(this.ws.poll_next_unpin(cx)) {
                // Queued now, written with the replies to the same read.
                Some(Ok(message)) => {
                    if let Some(access) = this.access {
                        access.received.add(message.len());
                        access.sent.add(message.len());
                    }
                    if let Err(e) = this.ws.start_send_unpin(message) {
                        return log_end(id, Err(&e), this.access.as_deref(), this.ws.protocol());
                    }
                    *this.queued = true;
                }
                other => {
                    let end = how_it_ended(this.ws, other);
                    return log_end(id, end.as_ref(), this.access.as_deref(), this.ws.protocol());
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use tokio::net::{TcpListener, TcpStream};
    use tokio_util::task::TaskTracker;

    use super::*;
    use crate::limits::limits;

    /// An open server-side connection that nothing is sent on, with its
    /// place under the limits, for measuring the task that serves it (the
    /// listener keeps the peer's end open).
    pub(in crate::serve) async fn idle_connection()
    -> (WebSocket<TcpStream>, ConnectionSlot, TcpListener) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let ws = WebSocket::from_raw(
            tcp,
            sockeye::proto::Role::Server,
            sockeye::WebSocketConfig::default(),
            bytes::BytesMut::new(),
        );
        let slot = limits()
            .admit(std::net::Ipv4Addr::LOCALHOST.into())
            .unwrap()
            .0;
        (ws, slot, listener)
    }

    /// An idle connection costs its task (its future plus about 120 bytes
    /// of the runtime's, rounded up to 128-byte steps) and its socket's
    /// registration. At 400 bytes or less the task takes 512 bytes: the
    /// difference between about 850 and 980 bytes per idle connection
    /// (BENCHMARKS.md).
    #[tokio::test]
    async fn an_idle_echo_task_fits_in_512_bytes() {
        let (ws, slot, _listener) = idle_connection().await;
        let task = TaskTracker::new().track_future(echo(
            ws,
            0,
            Some(slot),
            CancellationToken::new(),
            None,
        ));
        let size = std::mem::size_of_val(&task);
        assert!(size <= 400, "the echo task's future is {size} bytes");
    }
}
