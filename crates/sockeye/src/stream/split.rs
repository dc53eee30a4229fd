//! [`WebSocket::split`]: a reader and a writer for two tasks.

use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use sockeye_proto::{CloseCode, Message};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Incoming, PreparedMessage, WebSocket, WriteWakers};
use crate::error::{Error, Result};

#[derive(Debug)]
struct Shared<S> {
    ws: Mutex<WebSocket<S>>,
    wakers: Arc<WriteWakers>,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, WebSocket<S>> {
        // A panic while polling leaves the connection consistent: every
        // engine method either completes or returns an error.
        self.ws.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pub(crate) fn split<S>(mut ws: WebSocket<S>) -> (WebSocketReader<S>, WebSocketWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let wakers = Arc::new(WriteWakers::default());
    ws.set_write_wakers(Arc::clone(&wakers));
    let shared = Arc::new(Shared {
        ws: Mutex::new(ws),
        wakers,
    });
    (
        WebSocketReader {
            shared: Arc::clone(&shared),
        },
        WebSocketWriter { shared },
    )
}

/// The reading half of a [`WebSocket`]: a [`Stream`] of messages.
///
/// It answers pings and the peer's Close by itself, writing the replies on
/// the shared transport, so the writer needs no help from user code. Keep
/// reading until the stream ends to complete the closing handshake.
///
/// # Cancel safety
///
/// As for [`WebSocket`]: polling the stream is cancel safe.
#[derive(Debug)]
pub struct WebSocketReader<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a [`WebSocket`]: a [`Sink`] of messages.
///
/// Clone it to send from several tasks: the clones share the connection's
/// queue, whose size ([`WebSocketConfig::write_buffer_size`]) makes sending
/// wait when the peer reads slowly.
///
/// [`WebSocketConfig::write_buffer_size`]: crate::WebSocketConfig::write_buffer_size
///
/// # Cancel safety
///
/// As for [`WebSocket`]: a message accepted by `start_send` stays queued if
/// the future driving the sink is dropped.
#[derive(Debug)]
pub struct WebSocketWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for WebSocketWriter<S> {
    fn clone(&self) -> Self {
        WebSocketWriter {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S> WebSocketReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// Gives both back if they come from different sockets, or if clones of
    /// the writer are still alive.
    pub fn reunite(
        self,
        writer: WebSocketWriter<S>,
    ) -> std::result::Result<WebSocket<S>, (Self, WebSocketWriter<S>)> {
        // Both must come from one socket, and no clone of the writer may
        // remain elsewhere.
        if !Arc::ptr_eq(&self.shared, &writer.shared) || Arc::strong_count(&self.shared) != 2 {
            return Err((self, writer));
        }
        drop(writer);
        let shared = Arc::into_inner(self.shared).unwrap_or_else(|| {
            unreachable!("both halves were given back, so no other owner remains")
        });
        let mut ws = shared
            .ws
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        ws.clear_write_wakers();
        Ok(ws)
    }

    /// The peer's Close frame, once received.
    pub fn close_frame(&self) -> Option<sockeye_proto::CloseFrame> {
        self.shared.lock().close_frame().cloned()
    }

    /// As [`WebSocket::round_trip_time`](crate::WebSocket::round_trip_time):
    /// how long the last Ping sent by [`WebSocketWriter::ping`] took to come
    /// back.
    pub fn round_trip_time(&self) -> Option<std::time::Duration> {
        self.shared.lock().round_trip_time()
    }

    /// Receives the next message, Ping or Pong, as
    /// [`WebSocket::recv_incoming`]; `None` once the connection closed
    /// cleanly.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped, nothing is lost.
    pub async fn recv_incoming(&mut self) -> Option<Result<Incoming>> {
        std::future::poll_fn(|cx| self.poll_next_incoming(cx)).await
    }

    /// The poll form of [`recv_incoming`](Self::recv_incoming).
    pub fn poll_next_incoming(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Incoming>>> {
        self.shared.wakers.register(cx.waker());
        self.shared.lock().poll_next_incoming(cx)
    }
}

impl<S> Stream for WebSocketReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.wakers.register(cx.waker());
        self.shared.lock().poll_next_inner(cx)
    }
}

impl<S> WebSocketWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// Sends a message and flushes it.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once closing, [`Error::Io`] if writing fails.
    ///
    /// As [`WebSocket::send`], the message is queued at the first poll and
    /// the future then waits for everything queued to be written.
    ///
    /// # Cancel safety
    ///
    /// Once polled, the message stays queued even if the future is dropped.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<()> {
        self.shared.lock().start_send_inner(message.into())?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Sends a message uncompressed and flushes it; see
    /// [`WebSocket::send_uncompressed`].
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once closing, [`Error::Io`] if writing fails.
    ///
    /// # Cancel safety
    ///
    /// Once polled, the message stays queued even if the future is dropped.
    pub async fn send_uncompressed(&mut self, message: impl Into<Message>) -> Result<()> {
        self.shared.lock().start_send_uncompressed(message.into())?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Queues a message encoded once for many connections; see
    /// [`WebSocket::feed_prepared`]. It leaves with the next flush or read.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once closing; [`Error::Usage`] on a client.
    pub fn feed_prepared(&self, message: &PreparedMessage) -> Result<()> {
        self.shared.lock().feed_prepared(message)
    }

    /// Queues a Ping.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] above 125 bytes, [`Error::Closed`] once closing.
    pub fn ping(&self, payload: impl Into<bytes::Bytes>) -> Result<()> {
        self.shared.lock().ping(payload)
    }

    /// Sends a Close frame with `code` and `reason` and flushes it. The
    /// reader sees the peer's Close and then the end of the stream.
    ///
    /// # Errors
    ///
    /// [`Error::Usage`] for a code that may not be sent or a reason over 123
    /// bytes; [`Error::Io`] if writing fails.
    ///
    /// # Cancel safety
    ///
    /// The Close stays queued if the future is dropped.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        self.shared.lock().start_close(code, reason)?;
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }

    /// Bytes queued and not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.shared.lock().buffered_amount()
    }
}

impl<S> Sink<Message> for WebSocketWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.shared.wakers.register(cx.waker());
        self.shared.lock().poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<()> {
        self.shared.lock().start_send_inner(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.shared.wakers.register(cx.waker());
        self.shared.lock().poll_flush_inner(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.shared.wakers.register(cx.waker());
        self.shared.lock().poll_close_inner(cx)
    }
}
