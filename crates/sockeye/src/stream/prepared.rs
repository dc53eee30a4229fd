//! [`PreparedMessage`]: a server frame encoded once for many connections.

use bytes::Bytes;
use sockeye_proto::Message;

/// A message encoded once as a server frame, to send to many connections
/// with [`WebSocket::feed_prepared`](crate::WebSocket::feed_prepared) without encoding or copying it again.
///
/// Cloning is O(1).
///
/// # Examples
///
/// ```
/// use sockeye::{Message, PreparedMessage};
///
/// let news = PreparedMessage::new(&Message::text("Hello"));
/// assert_eq!(news.wire_len(), 7);
/// ```
#[derive(Clone, Debug)]
pub struct PreparedMessage {
    pub(super) frame: Bytes,
}

impl PreparedMessage {
    /// Encodes `message` as one unmasked frame.
    pub fn new(message: &Message) -> Self {
        PreparedMessage {
            frame: sockeye_proto::encode_server_frame(message),
        }
    }

    /// The encoded frame's length, header included.
    pub fn wire_len(&self) -> usize {
        self.frame.len()
    }
}
