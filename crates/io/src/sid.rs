//! Socket ids: random, unguessable, URL-safe.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;

/// A Socket.IO socket's id: 16 random bytes in URL-safe base64 (22
/// characters), distinct from the Engine.IO session id as protocol v5
/// requires, and never reused.
///
/// Cheap to clone: it is shared.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(Arc<str>);

impl Sid {
    /// A new random id.
    pub fn random() -> Sid {
        let bytes: [u8; 16] = rand::random();
        Sid(base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(bytes)
            .into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a shared string, for use as a room name.
    pub(crate) fn as_room(&self) -> Arc<str> {
        Arc::clone(&self.0)
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for Sid {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Sid {
    fn from(id: &str) -> Sid {
        Sid(id.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_url_safe_and_distinct() {
        let a = Sid::random();
        let b = Sid::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 22);
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }
}
