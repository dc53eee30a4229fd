//! What a session remembers of the request that opened it.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use super::request::query_pairs;

/// The transport a session runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// HTTP long-polling: GET to receive, POST to send.
    Polling,
    /// One WebSocket connection.
    WebSocket,
}

impl TransportKind {
    /// The name used in the `transport` query parameter.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Polling => "polling",
            TransportKind::WebSocket => "websocket",
        }
    }
}

/// The handshake request of a session: its target, query, headers and
/// peer, kept for the layer above (Socket.IO exposes them as
/// `socket.handshake`).
///
/// The target and the headers are kept in one allocation of their own
/// (never in the connection's read buffer, which a slice of the request
/// would keep alive) and read from it on demand: a session holds about as
/// many bytes as the client sent.
#[derive(Clone)]
pub struct Handshake {
    /// The target, then each header's name and value, each as a
    /// little-endian `u32` length and its bytes.
    head: Box<[u8]>,
    /// The peer's address, when the server knows it (see
    /// [`serve`](super::serve), which records it).
    pub remote_addr: Option<SocketAddr>,
    /// The Engine.IO protocol version asked for (`EIO`): 4, or 3 when
    /// [`EngineConfig::allow_eio3`](super::EngineConfig::allow_eio3) allows it.
    pub protocol: u8,
    /// When the session opened.
    pub issued: SystemTime,
}

impl Handshake {
    /// The handshake of a request to `target` (path and query) with
    /// `headers`, issued now. A `host` taken from an HTTP/2 request's
    /// `:authority` (which `http` keeps in the URI) belongs in `headers`.
    pub fn new(
        target: &str,
        headers: &HeaderMap,
        remote_addr: Option<SocketAddr>,
        protocol: u8,
    ) -> Self {
        let size = 4
            + target.len()
            + headers
                .iter()
                .map(|(name, value)| 8 + name.as_str().len() + value.len())
                .sum::<usize>();
        let mut head = Vec::with_capacity(size);
        push_field(&mut head, target.as_bytes());
        for (name, value) in headers {
            push_field(&mut head, name.as_str().as_bytes());
            push_field(&mut head, value.as_bytes());
        }
        Handshake {
            head: head.into_boxed_slice(),
            remote_addr,
            protocol,
            issued: SystemTime::now(),
        }
    }

    /// The request target: path and query, as sent.
    pub fn target(&self) -> &str {
        let (target, _) = field(&self.head).unwrap_or_default();
        std::str::from_utf8(target).unwrap_or_default()
    }

    /// The request target as a [`Uri`].
    pub fn uri(&self) -> Uri {
        Uri::try_from(self.target()).unwrap_or_default()
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        let target = self.target();
        target.split_once('?').map_or(target, |(path, _)| path)
    }

    /// The query pairs, percent-decoded, in order.
    pub fn query(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        let query = self.target().split_once('?').map_or("", |(_, query)| query);
        query_pairs(query)
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query_value(&self, key: &str) -> Option<Cow<'_, str>> {
        self.query()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value)
    }

    /// The request headers, in the order received: lower-case names and
    /// their values' bytes.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        HeaderFields(field(&self.head).map_or(&[][..], |(_, rest)| rest))
    }

    /// The first value of header `name` (any case), if it is there and is
    /// UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, value)| std::str::from_utf8(value).ok())
    }

    /// The request headers as a [`HeaderMap`], made on each call.
    pub fn header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in self.headers() {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

impl std::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("target", &self.target())
            .field("headers", &HeadersDebug(self))
            .field("remote_addr", &self.remote_addr)
            .field("protocol", &self.protocol)
            .field("issued", &self.issued)
            .finish_non_exhaustive()
    }
}

/// The headers of a handshake, for `Debug`: names and values (as text
/// where they are UTF-8).
struct HeadersDebug<'a>(&'a Handshake);

impl std::fmt::Debug for HeadersDebug<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.0
                    .headers()
                    .map(|(name, value)| (name, String::from_utf8_lossy(value))),
            )
            .finish()
    }
}

/// Appends one length-prefixed field. Request heads are far below 4 GiB
/// (hyper bounds them), so the length fits.
fn push_field(head: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&bytes[..len as usize]);
}

/// The first field of `head` and what follows it.
fn field(head: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = head.split_first_chunk::<4>()?;
    let len = u32::from_le_bytes(*len) as usize;
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The header fields of a head (what follows the target), as pairs.
struct HeaderFields<'a>(&'a [u8]);

impl<'a> Iterator for HeaderFields<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (name, rest) = field(self.0)?;
        let (value, rest) = field(rest)?;
        self.0 = rest;
        // Header names are ASCII: `http` checked them.
        Some((std::str::from_utf8(name).unwrap_or_default(), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake() -> Handshake {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("example.com"));
        headers.append("x-many", HeaderValue::from_static("one"));
        headers.append("x-many", HeaderValue::from_static("two"));
        headers.insert("x-raw", HeaderValue::from_bytes(b"\xff").unwrap());
        Handshake::new(
            "/socket.io/?EIO=4&transport=polling&t=a%20b+c&sid=x&sid=y&bad=%zz&flag",
            &headers,
            None,
            4,
        )
    }

    /// The target and query come back as sent, decoded, first value first.
    #[test]
    fn keeps_target_and_query() {
        let handshake = handshake();
        assert_eq!(handshake.path(), "/socket.io/");
        assert!(handshake.target().starts_with("/socket.io/?EIO=4&"));
        assert_eq!(handshake.uri().path(), "/socket.io/");
        assert_eq!(handshake.query_value("EIO").as_deref(), Some("4"));
        assert_eq!(handshake.query_value("t").as_deref(), Some("a b c"));
        assert_eq!(handshake.query_value("sid").as_deref(), Some("x"));
        assert_eq!(handshake.query_value("bad").as_deref(), Some("%zz"));
        assert_eq!(handshake.query_value("flag").as_deref(), Some(""));
        assert_eq!(handshake.query_value("none"), None);
        assert_eq!(handshake.query().count(), 7);
    }

    /// Headers: every value in order, looked up in any case, bytes kept.
    #[test]
    fn keeps_headers() {
        let handshake = handshake();
        assert_eq!(handshake.header("Host"), Some("example.com"));
        assert_eq!(handshake.header("x-many"), Some("one"));
        assert_eq!(handshake.header("x-raw"), None);
        let all: Vec<_> = handshake.headers().collect();
        assert_eq!(all.len(), 4);
        assert_eq!(all[2], ("x-many", &b"two"[..]));
        let map = handshake.header_map();
        assert_eq!(map.get_all("x-many").iter().count(), 2);
        assert_eq!(map.get("x-raw").unwrap().as_bytes(), b"\xff");
    }

    /// A handshake without headers or query.
    #[test]
    fn empty_request() {
        let handshake = Handshake::new("/", &HeaderMap::new(), None, 4);
        assert_eq!(handshake.path(), "/");
        assert_eq!(handshake.headers().count(), 0);
        assert_eq!(handshake.query().count(), 0);
    }
}
