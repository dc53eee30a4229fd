//! Messages as the application sees them, and [`Utf8Bytes`], text that is
//! valid UTF-8 by construction.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::str::Utf8Error;

use bytes::Bytes;

/// Immutable, reference-counted UTF-8 text: a [`Bytes`] known to hold valid UTF-8.
///
/// Built only from a `&str`, a `String`, or bytes that passed validation, so
/// [`as_str`](Utf8Bytes::as_str) never checks again. Cloning is O(1).
///
/// # Examples
///
/// ```
/// use sockeye_proto::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text.len(), 6);
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Empty text.
    pub const fn new() -> Self {
        Utf8Bytes(Bytes::new())
    }

    /// Text from a static string, without allocating.
    pub const fn from_static(s: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps bytes already known to be UTF-8 (validated by the caller).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(std::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// The text as a `&str`. O(1): validity was established at construction.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either starts from a `str` or validated the
        // bytes (`TryFrom<Bytes>`, `from_validated` after the engine's UTF-8
        // check), and the bytes are immutable afterwards.
        unsafe { std::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes. O(1).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Converts into the underlying [`Bytes`]. O(1).
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The text from byte `start` on, in place: O(1), with no copy and no
    /// second handle on the bytes (so no allocation even where cloning a
    /// [`Bytes`] would make one). `Err` gives the text back unchanged when
    /// `start` is past its end or inside a character.
    ///
    /// ```
    /// use sockeye_proto::Utf8Bytes;
    ///
    /// let text = Utf8Bytes::from("4héllo".to_owned());
    /// assert_eq!(text.into_tail(1).unwrap(), "héllo");
    /// let text = Utf8Bytes::from("é".to_owned());
    /// assert!(text.into_tail(1).is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// The text itself, when `start` is no character boundary.
    pub fn into_tail(mut self, start: usize) -> Result<Utf8Bytes, Utf8Bytes> {
        if !self.as_str().is_char_boundary(start) {
            return Err(self);
        }
        bytes::Buf::advance(&mut self.0, start);
        Ok(self)
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<str> for Utf8Bytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Utf8Bytes::from_static(s)
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Utf8Bytes(Bytes::from(s))
    }
}

impl From<&String> for Utf8Bytes {
    fn from(s: &String) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = Utf8Error;
    /// Validates the bytes; O(n).
    fn try_from(bytes: Bytes) -> Result<Self, Utf8Error> {
        std::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    type Error = Utf8Error;
    fn try_from(bytes: Vec<u8>) -> Result<Self, Utf8Error> {
        Utf8Bytes::try_from(Bytes::from(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// A complete WebSocket data message (RFC 6455 §6): text or binary.
///
/// Control frames are not messages: pings, pongs and closes are reported as
/// their own [`Event`](crate::Event)s and sent with their own commands.
///
/// # Examples
///
/// ```
/// use sockeye_proto::Message;
///
/// let m = Message::text("hi");
/// assert!(m.is_text());
/// assert_eq!(m.as_text(), Some("hi"));
/// assert_eq!(&m.into_payload()[..], b"hi");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message; its payload is valid UTF-8.
    Text(Utf8Bytes),
    /// A binary message; its payload is opaque.
    Binary(Bytes),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// Whether this is a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// The text, if this is a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t.as_str()),
            Message::Binary(_) => None,
        }
    }

    /// The payload bytes, whatever the type.
    pub fn payload(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) => b,
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

    /// Converts into the payload bytes. O(1).
    pub fn into_payload(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) => b,
        }
    }
}

impl From<&'static str> for Message {
    fn from(s: &'static str) -> Self {
        Message::text(s)
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::text(s)
    }
}

impl From<Utf8Bytes> for Message {
    fn from(s: Utf8Bytes) -> Self {
        Message::Text(s)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_bytes_rejects_invalid_text() {
        assert!(Utf8Bytes::try_from(Bytes::from_static(b"\xed\xa0\x80")).is_err());
        assert!(Utf8Bytes::try_from(vec![0xce, 0xba]).is_ok());
    }

    #[test]
    fn message_payload_of_each_kind() {
        assert_eq!(Message::text("ab").payload(), b"ab");
        assert_eq!(Message::binary(vec![1, 2]).payload(), &[1, 2]);
        assert!(Message::binary(Bytes::new()).is_empty());
    }
}
