//! [`Subjects`]: the NATS subjects of one namespace, and the reversible
//! encoding of a namespace into one subject token ([`encode_token`]).
//!
//! A NATS subject is tokens joined by `.`; a token may not be empty nor
//! hold `.`, `*`, `>` or white space, while a Socket.IO namespace starts
//! with `/` and may hold any of them. So a namespace travels as one token
//! in which ASCII letters, digits, `-` and `_` stand for themselves and
//! every other byte of its UTF-8 is written `~` and two uppercase hex
//! digits: `/` is `~2F`, `/chat` is `~2Fchat`, `/a.b` is `~2Fa~2Eb`. The
//! empty namespace, which no client can name, is the token `~`.

use std::fmt::Write as _;

/// The subject prefix unless configured: servers meet only under the same
/// one, as Node's adapters meet on the same key.
pub const DEFAULT_PREFIX: &str = "socket.io";

/// `nsp` as one NATS subject token: ASCII letters, digits, `-` and `_` as
/// they are, every other byte of its UTF-8 as `~` and two uppercase hex
/// digits; the empty namespace as `~` (see [the crate docs](crate#subjects)).
///
/// # Examples
///
/// ```
/// use sockeye_io_nats::{decode_token, encode_token};
///
/// assert_eq!(encode_token("/"), "~2F");
/// assert_eq!(encode_token("/chat.room *>"), "~2Fchat~2Eroom~20~2A~3E");
/// assert_eq!(decode_token("~2Fchat").as_deref(), Some("/chat"));
/// ```
pub fn encode_token(nsp: &str) -> String {
    if nsp.is_empty() {
        return "~".to_owned();
    }
    let mut token = String::with_capacity(nsp.len() + 8);
    for byte in nsp.bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            token.push(char::from(byte));
        } else {
            let _ = write!(token, "~{byte:02X}");
        }
    }
    token
}

/// The namespace a token made by [`encode_token`] stands for; `None` for a
/// token it cannot have made.
pub fn decode_token(token: &str) -> Option<String> {
    if token == "~" {
        return Some(String::new());
    }
    if token.is_empty() {
        return None;
    }
    let bytes = token.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte == b'~' {
            let hex = token.get(i + 1..i + 3)?;
            if !hex
                .bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            {
                return None;
            }
            let decoded = u8::from_str_radix(hex, 16).ok()?;
            if decoded.is_ascii_alphanumeric() || decoded == b'-' || decoded == b'_' {
                // encode_token writes these as themselves.
                return None;
            }
            out.push(decoded);
            i += 3;
        } else if byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_' {
            out.push(byte);
            i += 1;
        } else {
            return None;
        }
    }
    String::from_utf8(out).ok()
}

/// Whether `prefix` is a usable subject prefix: dot-separated tokens, none
/// empty, none holding a wildcard or white space.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|token| {
            !token.is_empty()
                && !token
                    .chars()
                    .any(|c| c == '*' || c == '>' || c.is_whitespace())
        })
}

/// The subjects of one namespace under a prefix `p`, its token `t`:
///
/// - `p.t.all`: broadcasts, cluster requests and heartbeats, heard by
///   every server;
/// - `p.t.resp.<uid>`: the answers to the requests of server `uid`;
/// - `p.t.log`: with recovery, the broadcasts written to the `JetStream`
///   stream, which holds `p.*.log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subjects {
    base: String,
}

impl Subjects {
    /// The subjects of namespace `nsp` under `prefix`.
    pub fn new(prefix: &str, nsp: &str) -> Self {
        Self {
            base: format!("{prefix}.{}", encode_token(nsp)),
        }
    }

    /// `p.t.all`.
    pub fn all(&self) -> String {
        format!("{}.all", self.base)
    }

    /// `p.t.resp.<uid>`.
    pub fn response(&self, uid: &str) -> String {
        format!("{}.resp.{uid}", self.base)
    }

    /// `p.t.log`.
    pub fn log(&self) -> String {
        format!("{}.log", self.base)
    }

    /// `p.*.log`: what the stream of prefix `p` holds.
    pub fn log_wildcard(prefix: &str) -> String {
        format!("{prefix}.*.log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_of_a_namespace() {
        let s = Subjects::new(DEFAULT_PREFIX, "/");
        assert_eq!(s.all(), "socket.io.~2F.all");
        assert_eq!(s.response("abc"), "socket.io.~2F.resp.abc");
        assert_eq!(s.log(), "socket.io.~2F.log");
        assert_eq!(Subjects::log_wildcard("x.y"), "x.y.*.log");
    }

    #[test]
    fn tokens_hold_no_subject_syntax() {
        for nsp in ["/", "/a.b", "/*", "/>", "/a b", "/é", "", "/~2F"] {
            let token = encode_token(nsp);
            assert!(!token.is_empty());
            assert!(
                !token.contains(['.', '*', '>', ' ', '/']),
                "{nsp:?} -> {token}"
            );
            assert_eq!(decode_token(&token).as_deref(), Some(nsp));
        }
    }

    #[test]
    fn tokens_it_cannot_have_made_are_refused() {
        for bad in ["", "a.b", "~", "~2", "~2f", "~41", "~zz", "/", "~FF"] {
            if bad == "~" {
                continue;
            }
            assert_eq!(decode_token(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("socket.io"));
        assert!(valid_prefix("app"));
        for bad in ["", "a..b", ".a", "a.", "a.*", "a.>", "a b"] {
            assert!(!valid_prefix(bad), "{bad:?}");
        }
    }
}
