//! The opening handshake (RFC 6455 §4): building and checking requests and responses.
//!
//! Sans-I/O like the rest of the crate: the types here turn bytes into
//! [`http`] messages and back, and check them against RFC 6455, while the
//! caller reads and writes the socket.
//!
//! - A client builds a [`ClientHandshake`] from an [`http::Request`], writes
//!   [`ClientHandshake::write_request`], feeds what it reads to
//!   [`ClientHandshake::parse_response`] until a whole head has arrived, then
//!   calls [`ClientHandshake::check_response`].
//! - A server feeds what it reads to [`ServerHandshake::parse`] until it gets
//!   a validated request, then writes [`ServerHandshake::response`] (or any
//!   rejection of its own) with [`write_response`]. When parsing fails it
//!   writes [`HandshakeError::to_response`] and closes the connection.
//!
//! Both parsers report how many bytes the head took: whatever follows belongs
//! to the WebSocket connection (R-CV-09, R-SH-12). Both are bounded by
//! [`Config::max_handshake_size`](crate::Config::max_handshake_size) and
//! [`Config::max_headers`](crate::Config::max_headers), and allocate nothing
//! until a whole head has arrived (as long as `max_headers` is at most 64).
//!
//! # Examples
//!
//! A client and a server agreeing on a subprotocol, in memory:
//!
//! ```
//! use bytes::BytesMut;
//! use sockeye_proto::Config;
//! use sockeye_proto::handshake::{ClientHandshake, ServerHandshake, write_response};
//!
//! let config = Config::default();
//! let request = http::Request::get("/chat")
//!     .header("host", "example.com")
//!     .header("sec-websocket-protocol", "v2.chat, v1.chat")
//!     .body(())?;
//! let client = ClientHandshake::new(request)?;
//! let mut wire = BytesMut::new();
//! client.write_request(&mut wire);
//!
//! let (server, n) = ServerHandshake::parse(&wire, &config)?.expect("a whole request");
//! assert_eq!(n, wire.len());
//! assert_eq!(server.protocols(), ["v2.chat", "v1.chat"]);
//! let response = server.response(Some("v1.chat"))?;
//! let mut wire = BytesMut::new();
//! write_response(&response, &mut wire);
//!
//! let (response, _) = ClientHandshake::parse_response(&wire, &config)?.expect("a whole response");
//! let accepted = client.check_response(&response)?;
//! assert_eq!(accepted.protocol.as_deref(), Some("v1.chat"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
mod headers;
mod server;

use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, Uri, Version};
use rand::Rng as _;
use sha1::{Digest as _, Sha1};

pub use client::{Accepted, ClientHandshake};
pub use error::HandshakeError;
pub use headers::{ExtensionOffer, header_has_token, parse_extensions};
pub use server::{ResponseBody, ServerHandshake, write_response};

/// The GUID RFC 6455 §1.3 appends to `Sec-WebSocket-Key` before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`:
/// base64(SHA-1(key ++ [`GUID`])) (RFC 6455 §4.2.2 step 5.4, R-SH-10).
///
/// `key` is the header value as received, not its base64 decoding. Costs
/// one SHA-1 of about 60 bytes and a 28-byte allocation.
///
/// # Examples
///
/// The example from RFC 6455 §1.3 (R-CV-04):
///
/// ```
/// use sockeye_proto::handshake::accept_key;
///
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let digest = Sha1::new()
        .chain_update(key)
        .chain_update(GUID.as_bytes())
        .finalize();
    STANDARD.encode(digest)
}

/// A fresh `Sec-WebSocket-Key`: the base64 encoding of 16 random bytes
/// (RFC 6455 §4.1, R-CH-08).
///
/// Draws from the thread-local generator ([`rand::rng`]), so every call gives
/// a new key. The key is a nonce, not a secret (RFC 6455 §10.8, R-LM-06).
///
/// # Examples
///
/// ```
/// use sockeye_proto::handshake::generate_key;
///
/// let key = generate_key();
/// assert_eq!(key.len(), 24);
/// assert_ne!(key, generate_key());
/// ```
pub fn generate_key() -> String {
    let nonce: [u8; 16] = rand::rng().random();
    STANDARD.encode(nonce)
}

/// How many `httparse` header slots live on the stack; larger
/// [`Config::max_headers`](crate::Config::max_headers) values use the heap.
const STACK_HEADER_SLOTS: usize = 64;

/// Runs `f` with exactly `max_headers` empty header slots for `httparse`,
/// so that a head with more fields fails with `TooManyHeaders` instead of
/// growing anything.
fn with_header_slots<'b, R>(
    max_headers: usize,
    f: impl for<'h> FnOnce(&'h mut [httparse::Header<'b>]) -> R,
) -> R {
    if max_headers <= STACK_HEADER_SLOTS {
        let mut slots = [httparse::EMPTY_HEADER; STACK_HEADER_SLOTS];
        f(&mut slots[..max_headers])
    } else {
        let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
        f(&mut slots)
    }
}

/// The part of `buf` a head may occupy: a head that does not end within
/// the first `max_handshake_size` bytes is too large, whatever follows.
fn bounded<'b>(buf: &'b [u8], config: &crate::Config) -> &'b [u8] {
    &buf[..buf.len().min(config.max_handshake_size)]
}

/// The answer for a head that has not ended yet: wait for more bytes, or
/// give up once the limit is reached (R-LM-02).
fn incomplete<T>(buf: &[u8], config: &crate::Config) -> Result<Option<T>, HandshakeError> {
    if buf.len() >= config.max_handshake_size {
        Err(HandshakeError::HeadTooLarge {
            limit: config.max_handshake_size,
        })
    } else {
        Ok(None)
    }
}

/// Maps an `httparse` failure. `version` is the start line's version field,
/// used to tell an HTTP version we do not speak (505) from garbage (400).
fn parse_error(error: httparse::Error, config: &crate::Config, version: &[u8]) -> HandshakeError {
    let reason = match error {
        httparse::Error::TooManyHeaders => {
            return HandshakeError::TooManyHeaders {
                limit: config.max_headers,
            };
        }
        httparse::Error::Version => {
            if version.len() > 5 && version.starts_with(b"HTTP/") && version[5].is_ascii_digit() {
                return HandshakeError::HttpVersionNotSupported;
            }
            "invalid http version"
        }
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status",
        httparse::Error::Token => "invalid method",
    };
    HandshakeError::MalformedHead(reason)
}

/// The first line of a head, after the empty lines a recipient ignores
/// (RFC 9112 §2.2), without its line ending.
fn start_line(head: &[u8]) -> &[u8] {
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    let line = &head[start..];
    let end = line.iter().position(|&b| b == b'\n').unwrap_or(line.len());
    line[..end].strip_suffix(b"\r").unwrap_or(&line[..end])
}

/// Copies `httparse` header fields into a [`HeaderMap`], keeping repeats.
fn header_map(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, HandshakeError> {
    let mut map = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| HandshakeError::MalformedHead("invalid header name"))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| HandshakeError::MalformedHead("invalid header value"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// Checks that a message is HTTP/1.1, the only version that can carry this
/// handshake (R-SH-02, R-CH-04).
fn check_http_version(version: Version) -> Result<(), HandshakeError> {
    match version.cmp(&Version::HTTP_11) {
        Ordering::Equal => Ok(()),
        Ordering::Less => Err(HandshakeError::OldHttpVersion),
        Ordering::Greater => Err(HandshakeError::HttpVersionNotSupported),
    }
}

/// Whether `uri` is in origin-form, `/path?query` (RFC 9112 §3.2.1).
fn is_origin_form(uri: &Uri) -> bool {
    uri.scheme().is_none() && uri.authority().is_none() && uri.path().starts_with('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_line_skips_leading_empty_lines() {
        assert_eq!(
            start_line(b"\r\n\r\nGET / HTTP/2\r\nHost: x"),
            b"GET / HTTP/2"
        );
        assert_eq!(start_line(b"HTTP/1.1 101"), b"HTTP/1.1 101");
        assert_eq!(start_line(b""), b"");
    }

    #[test]
    fn version_errors_split_unsupported_from_garbage() {
        let config = crate::Config::default();
        assert_eq!(
            parse_error(httparse::Error::Version, &config, b"HTTP/2.0"),
            HandshakeError::HttpVersionNotSupported
        );
        assert_eq!(
            parse_error(httparse::Error::Version, &config, b"HTTX/1.1"),
            HandshakeError::MalformedHead("invalid http version")
        );
    }

    #[test]
    fn header_slots_match_the_limit() {
        assert_eq!(with_header_slots(3, |slots| slots.len()), 3);
        assert_eq!(with_header_slots(100, |slots| slots.len()), 100);
    }

    #[test]
    fn http_versions() {
        assert_eq!(check_http_version(Version::HTTP_11), Ok(()));
        assert_eq!(
            check_http_version(Version::HTTP_10),
            Err(HandshakeError::OldHttpVersion)
        );
        assert_eq!(
            check_http_version(Version::HTTP_2),
            Err(HandshakeError::HttpVersionNotSupported)
        );
    }
}
