//! The frames an encoded packet is sent as.

use bytes::Bytes;

/// One Engine.IO message: Socket.IO packets travel as text or binary messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text message (the JSON parser's packet header and payload).
    Text(String),
    /// A binary message (a JSON attachment, or a whole msgpack packet).
    Binary(Bytes),
}

/// An encoded packet: the frames to send, in order.
///
/// The JSON parser gives a text `head` and one binary attachment per [`Value::Binary`]
/// (`rmpv::Value`) in the packet, numbered in document order; the msgpack parser gives a
/// binary `head` and no attachments.
///
/// [`Value::Binary`]: rmpv::Value::Binary
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    /// The packet itself.
    pub head: Frame,
    /// The binary attachments that follow the head, in order.
    pub attachments: Vec<Bytes>,
}

impl Encoded {
    /// How many frames the packet takes: the head and its attachments.
    #[must_use]
    pub fn len(&self) -> usize {
        1 + self.attachments.len()
    }

    /// Always `false`: an encoded packet has at least its head.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The frames in the order they must be sent.
    pub fn into_frames(self) -> impl Iterator<Item = Frame> {
        std::iter::once(self.head).chain(self.attachments.into_iter().map(Frame::Binary))
    }
}
