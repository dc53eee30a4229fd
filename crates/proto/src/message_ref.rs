//! [`MessageRef`]: a message that may borrow its payload, as the engine
//! hands out a message read in place, and as one is sent without first
//! being copied into a buffer of its own.

use std::fmt;

use bytes::Bytes;

use crate::message::{Message, Utf8Bytes};

/// A whole message whose payload is either borrowed (from the bytes a read
/// put in place, see [`Connection::receive_in_place`](crate::Connection::receive_in_place),
/// or from the caller) or owned.
///
/// Reading one costs no allocation and no reference count; keeping it
/// beyond the callback or loop turn that received it takes
/// [`into_message`](Self::into_message), which copies a borrowed payload.
///
/// ```
/// use sockeye_proto::{Message, MessageRef};
///
/// let m = MessageRef::text("hi");
/// assert_eq!(m.as_text(), Some("hi"));
/// assert_eq!(m.payload(), b"hi");
/// assert_eq!(m.into_message(), Message::text("hi"));
/// ```
#[derive(Clone)]
pub struct MessageRef<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    /// Text, valid UTF-8.
    Text(&'a str),
    /// Binary.
    Binary(&'a [u8]),
    /// A message that owns its payload (reassembled from fragments,
    /// inflated, or given owned).
    Owned(Message),
}

impl<'a> MessageRef<'a> {
    /// A text message borrowing `text`.
    pub fn text(text: &'a str) -> Self {
        MessageRef(Repr::Text(text))
    }

    /// A binary message borrowing `data`.
    pub fn binary(data: &'a [u8]) -> Self {
        MessageRef(Repr::Binary(data))
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        match &self.0 {
            Repr::Text(_) => true,
            Repr::Binary(_) => false,
            Repr::Owned(message) => message.is_text(),
        }
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        !self.is_text()
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match &self.0 {
            Repr::Text(text) => Some(text),
            Repr::Binary(_) => None,
            Repr::Owned(message) => message.as_text(),
        }
    }

    /// The payload bytes, whatever the type.
    pub fn payload(&self) -> &[u8] {
        match &self.0 {
            Repr::Text(text) => text.as_bytes(),
            Repr::Binary(data) => data,
            Repr::Owned(message) => message.payload(),
        }
    }

    /// The payload's length in bytes.
    pub fn len(&self) -> usize {
        self.payload().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the payload is borrowed (and [`into_message`](Self::into_message)
    /// would copy it).
    pub fn is_borrowed(&self) -> bool {
        !matches!(self.0, Repr::Owned(_))
    }

    /// The message with a payload of its own: a borrowed payload is
    /// copied, an owned one moved.
    pub fn into_message(self) -> Message {
        match self.0 {
            Repr::Text(text) => Message::Text(Utf8Bytes::from_validated(Bytes::copy_from_slice(
                text.as_bytes(),
            ))),
            Repr::Binary(data) => Message::Binary(Bytes::copy_from_slice(data)),
            Repr::Owned(message) => message,
        }
    }

    /// The parts the write side needs: whether it is text, and either the
    /// borrowed payload or the owned message.
    pub(crate) fn into_parts(self) -> Result<(bool, &'a [u8]), Message> {
        match self.0 {
            Repr::Text(text) => Ok((true, text.as_bytes())),
            Repr::Binary(data) => Ok((false, data)),
            Repr::Owned(message) => Err(message),
        }
    }
}

impl From<Message> for MessageRef<'_> {
    fn from(message: Message) -> Self {
        MessageRef(Repr::Owned(message))
    }
}

impl<'a> From<&'a Message> for MessageRef<'a> {
    /// Borrows the message's payload.
    fn from(message: &'a Message) -> Self {
        match message.as_text() {
            Some(text) => MessageRef::text(text),
            None => MessageRef::binary(message.payload()),
        }
    }
}

impl<'a> From<&'a str> for MessageRef<'a> {
    fn from(text: &'a str) -> Self {
        MessageRef::text(text)
    }
}

impl<'a> From<&'a [u8]> for MessageRef<'a> {
    fn from(data: &'a [u8]) -> Self {
        MessageRef::binary(data)
    }
}

/// Equal when the type and the payload are: whether either is borrowed
/// does not matter.
impl PartialEq for MessageRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.is_text() == other.is_text() && self.payload() == other.payload()
    }
}

impl Eq for MessageRef<'_> {}

impl fmt::Debug for MessageRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.is_text() { "Text" } else { "Binary" };
        let how = if self.is_borrowed() {
            "borrowed"
        } else {
            "owned"
        };
        f.debug_struct("MessageRef")
            .field("kind", &kind)
            .field("len", &self.len())
            .field("payload", &how)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_reports_its_kind_and_payload() {
        let owned = Message::binary(vec![1, 2, 3]);
        for m in [
            MessageRef::binary(&[1, 2, 3]),
            MessageRef::from(&owned),
            MessageRef::from(owned.clone()),
        ] {
            assert!(m.is_binary());
            assert_eq!(m.as_text(), None);
            assert_eq!(m.payload(), &[1, 2, 3]);
            assert_eq!(m.len(), 3);
            assert_eq!(m.into_message(), owned);
        }
        assert_eq!(MessageRef::text("a"), MessageRef::from(Message::text("a")));
        assert_ne!(MessageRef::text("a"), MessageRef::binary(b"a"));
        let text = MessageRef::from(Message::text("ab"));
        assert!(text.is_text() && !text.is_borrowed());
        assert_eq!(text.as_text(), Some("ab"));
        assert!(MessageRef::text("").is_empty());
    }

    #[test]
    fn an_owned_message_is_moved_not_copied() {
        let owned = Message::binary(vec![9; 64]);
        let at = owned.payload().as_ptr();
        let back = MessageRef::from(owned).into_message();
        assert_eq!(back.payload().as_ptr(), at);
    }
}
