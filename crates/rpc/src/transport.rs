//! [`Transport`]: what a connection runs on. Any open sockeye
//! [`WebSocket`]: a client's, a server's, one from the axum or hyper
//! integration, one over HTTP/2.

use futures_core::Stream;
use futures_sink::Sink;
use sockeye::{CloseCode, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

/// An open WebSocket as a connection uses it: a stream of messages in, a
/// sink of messages out, and the closing handshake.
pub trait Transport:
    Stream<Item = sockeye::Result<Message>>
    + Sink<Message, Error = sockeye::Error>
    + Unpin
    + Send
    + 'static
{
    /// Starts the closing handshake without waiting; reading goes on
    /// until the peer's Close.
    fn start_close(&mut self, code: CloseCode, reason: &str);
    /// The peer's Close code and reason, once it arrived.
    fn close_frame(&self) -> Option<(CloseCode, String)>;
}

impl<S> Transport for WebSocket<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn start_close(&mut self, code: CloseCode, reason: &str) {
        // A reason over 123 bytes is cut to fit rather than refused.
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let _ = WebSocket::start_close(self, code, &reason[..end]);
    }

    fn close_frame(&self) -> Option<(CloseCode, String)> {
        WebSocket::close_frame(self).map(|frame| (frame.code, frame.reason.to_string()))
    }
}
