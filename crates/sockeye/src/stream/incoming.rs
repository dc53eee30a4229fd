//! [`Incoming`]: what [`WebSocket::recv_incoming`](super::WebSocket::recv_incoming)
//! gives, a message or a control frame; and the choice, made at compile
//! time, of what the stream yields.

use bytes::Bytes;
use sockeye_proto::Message;

/// A message, or a Ping or Pong from the peer: what
/// [`WebSocket::recv_incoming`](super::WebSocket::recv_incoming) and
/// [`WebSocketReader::recv_incoming`](super::WebSocketReader::recv_incoming)
/// give, for callers that want to see control frames (a command-line
/// client printing them, a health check watching the peer's Pings).
///
/// Control frames are still handled for you: a Ping's Pong is already
/// queued when it is given, and a Pong has already timed the last
/// [`ping`](super::WebSocket::ping).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// A whole text or binary message.
    Message(Message),
    /// A Ping and its payload (at most 125 bytes); the Pong is queued and
    /// leaves with the next read or flush (RFC 6455 §5.5.2).
    Ping(Bytes),
    /// A Pong and its payload, whether it answers a Ping of ours or not
    /// (RFC 6455 §5.5.3 allows unsolicited ones).
    Pong(Bytes),
}

impl Incoming {
    /// The message, if this is one.
    pub fn into_message(self) -> Option<Message> {
        match self {
            Incoming::Message(message) => Some(message),
            Incoming::Ping(_) | Incoming::Pong(_) => None,
        }
    }
}

/// What the stream's loop yields: [`Message`] for the `Stream` (control
/// frames are handled and dropped), [`Incoming`] for
/// [`recv_incoming`](super::WebSocket::recv_incoming). Chosen by type, so
/// the message stream pays nothing for the other.
pub(crate) trait Yield: Sized {
    /// A message, as yielded.
    fn message(message: Message) -> Self;
    /// A Ping, if yielded.
    fn ping(payload: Bytes) -> Option<Self>;
    /// A Pong, if yielded.
    fn pong(payload: Bytes) -> Option<Self>;
}

impl Yield for Message {
    #[inline]
    fn message(message: Message) -> Self {
        message
    }

    #[inline]
    fn ping(_: Bytes) -> Option<Self> {
        None
    }

    #[inline]
    fn pong(_: Bytes) -> Option<Self> {
        None
    }
}

impl Yield for Incoming {
    #[inline]
    fn message(message: Message) -> Self {
        Incoming::Message(message)
    }

    #[inline]
    fn ping(payload: Bytes) -> Option<Self> {
        Some(Incoming::Ping(payload))
    }

    #[inline]
    fn pong(payload: Bytes) -> Option<Self> {
        Some(Incoming::Pong(payload))
    }
}
