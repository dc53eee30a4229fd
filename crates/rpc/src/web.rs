//! [`WebTransport`]: a connection on sockeye's browser-shaped
//! [`web::WebSocket`], so that code written the way a page is can call
//! and serve JSON-RPC.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use sockeye::web::{self, Event, MessageData, ReadyState};
use sockeye::{CloseCode, Message};

use crate::transport::Transport;

/// A [`web::WebSocket`] as a [`Transport`]: its `message` events are the
/// messages in, [`send`](web::WebSocket::send) takes the messages out,
/// and its `close` event ends the stream.
///
/// Built with [`open`](Self::open) once the socket is open, then given
/// to [`spawn`](crate::spawn) or [`connection`](crate::connection) like
/// any WebSocket.
///
/// # Differences from a sockeye WebSocket
///
/// - The browser interface sends only the close codes 1000 and
///   3000–4999. A close with another code (the connection's own 1009 for
///   a message too big, or one given to [`Peer::close`](crate::Peer::close))
///   sends a Close frame without a code, which the peer reads as 1005 (no
///   status received).
/// - `send` never waits in the browser interface; here writing waits
///   while more than [`max_buffered`](Self::max_buffered) bytes are
///   queued, and a flush does not wait for the bytes to leave.
/// - An error event ends the stream with the failure's detail
///   ([`web::WebSocket::take_failure`]), and the close event without an
///   error; [`close_frame`](Transport::close_frame) is the close event's
///   code and reason unless it was 1006 (no Close frame came).
///
/// # Examples
///
/// ```no_run
/// use sockeye_rpc::{Config, Methods, WebTransport, spawn};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::default();
/// let ws = sockeye::web::WebSocket::with_client("ws://127.0.0.1:9001/rpc", &[], |client| {
///     client.max_message_size(config.max_message_size)
/// })?;
/// let peer = spawn(WebTransport::open(ws).await?, Methods::<()>::new(), (), config);
/// let difference: i64 = peer.call("subtract", &(42, 23)).await?;
/// assert_eq!(difference, 19);
/// # Ok(())
/// # }
/// ```
pub struct WebTransport {
    ws: web::WebSocket,
    max_buffered: u64,
    /// The close event's code and reason, once it came with a Close frame.
    close: Option<(CloseCode, String)>,
    /// The failure an error event announced, given out with the close
    /// event that follows it.
    failure: Option<sockeye::Error>,
    /// Whether the close event was taken: the stream is over.
    ended: bool,
}

impl fmt::Debug for WebTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebTransport")
            .field("ws", &self.ws)
            .field("max_buffered", &self.max_buffered)
            .field("close", &self.close)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl WebTransport {
    /// The default of [`max_buffered`](Self::max_buffered): 1 MiB. Enough
    /// queued to keep the socket writing while the connection makes more;
    /// a peer that reads slowly then holds this side's writes back,
    /// instead of the browser-style socket's send queue (which has no
    /// bound, as in a browser) growing without end.
    pub const DEFAULT_MAX_BUFFERED: u64 = 1 << 20;

    /// Waits for `ws` to open and makes a transport of it. A socket whose
    /// open event was already taken is taken as it is; take no other
    /// events before, or their messages are lost to the connection.
    ///
    /// # Errors
    ///
    /// Why the socket failed ([`web::WebSocket::take_failure`]), or
    /// [`sockeye::Error::AbnormalClosure`] when it closed before it
    /// opened without saying why.
    pub async fn open(ws: web::WebSocket) -> sockeye::Result<Self> {
        if ws.ready_state() == ReadyState::Connecting {
            loop {
                match ws.next_event().await {
                    Some(Event::Open) => break,
                    // Nothing else comes before `open` but the failure.
                    Some(Event::Message(_) | Event::Error) => {}
                    Some(Event::Close(_)) | None => {
                        return Err(ws.take_failure().unwrap_or(sockeye::Error::AbnormalClosure));
                    }
                }
            }
        }
        Ok(Self {
            ws,
            max_buffered: Self::DEFAULT_MAX_BUFFERED,
            close: None,
            failure: None,
            ended: false,
        })
    }

    /// Sets how many bytes may wait in the socket's send queue before
    /// writing waits; default
    /// [`DEFAULT_MAX_BUFFERED`](Self::DEFAULT_MAX_BUFFERED) (1 MiB). A
    /// message is queued whenever less than this is, so one larger than
    /// the limit still goes; 0 is taken as 1, one message at a time.
    #[must_use]
    pub fn max_buffered(mut self, bytes: u64) -> Self {
        self.max_buffered = bytes.max(1);
        self
    }

    /// The socket: its state, protocol, extensions, buffered amount.
    pub fn socket(&self) -> &web::WebSocket {
        &self.ws
    }

    /// Whether the socket can still take a message.
    fn check_open(&self) -> sockeye::Result<()> {
        if self.ws.ready_state() == ReadyState::Open {
            Ok(())
        } else {
            Err(sockeye::Error::Closed)
        }
    }
}

impl Stream for WebTransport {
    type Item = sockeye::Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while !this.ended {
            let Some(event) = std::task::ready!(Pin::new(&mut this.ws).poll_next(cx)) else {
                this.ended = true;
                break;
            };
            match event {
                Event::Open => {}
                Event::Message(message) => {
                    return Poll::Ready(Some(Ok(match message.data {
                        MessageData::Text(text) => Message::text(text),
                        MessageData::Blob(bytes) => Message::binary(bytes),
                        MessageData::ArrayBuffer(bytes) => Message::binary(bytes),
                    })));
                }
                Event::Error => {
                    this.failure = Some(
                        this.ws
                            .take_failure()
                            .unwrap_or(sockeye::Error::AbnormalClosure),
                    );
                }
                Event::Close(close) => {
                    this.ended = true;
                    // 1006: no Close frame came (RFC 6455 §7.1.5).
                    if close.code != 1006 {
                        this.close = Some((CloseCode::from(close.code), close.reason));
                    }
                    if let Some(failure) = this.failure.take() {
                        return Poll::Ready(Some(Err(failure)));
                    }
                }
            }
        }
        Poll::Ready(None)
    }
}

impl Sink<Message> for WebTransport {
    type Error = sockeye::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<sockeye::Result<()>> {
        self.check_open()?;
        if self.ws.buffered_amount() < self.max_buffered {
            return Poll::Ready(Ok(()));
        }
        // Cancel safe: it only registers the waker, so a fresh one each
        // time loses nothing.
        let drained = pin!(self.ws.wait_buffered_below(self.max_buffered));
        std::task::ready!(drained.poll(cx));
        Poll::Ready(self.check_open())
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> sockeye::Result<()> {
        self.check_open()?;
        self.ws.send(message).map_err(|_| sockeye::Error::Closed)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<sockeye::Result<()>> {
        // The socket's task writes what was sent by itself.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<sockeye::Result<()>> {
        let _ = self.ws.close(Some(1000), None);
        Poll::Ready(Ok(()))
    }
}

impl Transport for WebTransport {
    fn start_close(&mut self, code: CloseCode, reason: &str) {
        let code = code.as_u16();
        if code == 1000 || (3000..=4999).contains(&code) {
            // A reason over 123 bytes is cut to fit rather than refused.
            let mut end = reason.len().min(123);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            let _ = self.ws.close(Some(code), Some(&reason[..end]));
        } else {
            // The browser interface refuses other codes, and a reason
            // without a code would be sent as 1000 (normal closure).
            let _ = self.ws.close(None, None);
        }
    }

    fn close_frame(&self) -> Option<(CloseCode, String)> {
        self.close.clone()
    }
}
