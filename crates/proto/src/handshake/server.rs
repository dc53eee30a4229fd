//! The server side: parsing and checking a client's request (RFC 6455
//! §4.2.1), building the 101 answer (§4.2.2) and writing any response.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use bytes::BytesMut;
use http::header::{
    CONNECTION, CONTENT_LENGTH, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS,
    SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderValue, Method, Request, Response, StatusCode, Uri, Version};

use super::headers::{
    ascii_value, header_has_token, parse_extensions, parse_protocols, single, write_header,
    write_headers,
};
use super::{
    ExtensionOffer, HandshakeError, accept_key, bounded, check_http_version, header_map,
    incomplete, is_origin_form, parse_error, start_line, with_header_slots,
};

/// Decodes `Sec-WebSocket-Key`, tolerating set bits after the last full byte:
/// the RFC 6455 §4.1 example key `AQIDBAUGBwgJCgsMDQ4PEC==` has them (R-SH-04).
const KEY_DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// A client's opening handshake, parsed and found valid (RFC 6455 §4.2.1).
///
/// Get one from [`parse`](ServerHandshake::parse) (raw bytes) or
/// [`from_request`](ServerHandshake::from_request) (a request another HTTP
/// stack has parsed). Look at the request (path, `Origin`, cookies, the
/// offered [`protocols`](ServerHandshake::protocols) and
/// [`extensions`](ServerHandshake::extensions)), then either accept with
/// [`response`](ServerHandshake::response) or refuse with any response of
/// your own (403 for an unwanted `Origin`, R-SH-06; 404 for an unknown
/// resource, R-SH-07; 401 to ask for credentials, R-SH-14), written with
/// [`write_response`].
///
/// # Examples
///
/// ```
/// use sockeye_proto::Config;
/// use sockeye_proto::handshake::ServerHandshake;
///
/// let request = b"GET /chat HTTP/1.1\r\n\
///     Host: server.example.com\r\n\
///     Upgrade: websocket\r\n\
///     Connection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\n\r\n";
/// let (handshake, n) = ServerHandshake::parse(request, &Config::default())?.unwrap();
/// assert_eq!(n, request.len());
/// assert_eq!(handshake.request().uri().path(), "/chat");
/// let response = handshake.response(None)?;
/// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// # Ok::<(), sockeye_proto::handshake::HandshakeError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ServerHandshake {
    request: Request<()>,
    /// Empty for an extended CONNECT (RFC 8441), which has no key.
    key: String,
    /// An HTTP/2 extended CONNECT (RFC 8441) rather than an HTTP/1.1 GET.
    extended_connect: bool,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
}

impl ServerHandshake {
    /// Parses and checks a request head at the start of `buf`.
    ///
    /// Returns `Ok(None)` while the head is incomplete: read more bytes,
    /// append them and call again with the whole buffer. Returns
    /// `Ok(Some((handshake, n)))` once a valid head has arrived; it took the
    /// first `n` bytes, and anything after them is WebSocket data. Each call
    /// parses from the start, in time linear in `buf.len()` up to
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size).
    /// Nothing is allocated until the head is complete (unless
    /// [`Config::max_headers`](crate::Config::max_headers) is over 64, which
    /// puts the header slots on the heap), and then only in proportion to the
    /// head.
    ///
    /// The request target may be in origin-form (`/chat?room=1`) or be an
    /// absolute `http`/`https` URI (RFC 6455 §4.1); it is kept as received.
    ///
    /// # Errors
    ///
    /// Answer the error with [`HandshakeError::to_response`] and close the
    /// connection:
    ///
    /// - 431 [`HeadTooLarge`](HandshakeError::HeadTooLarge) when `buf` holds
    ///   `max_handshake_size` bytes or more and no complete head within them,
    ///   431 [`TooManyHeaders`](HandshakeError::TooManyHeaders) past
    ///   `max_headers` fields (R-LM-02);
    /// - 505 [`HttpVersionNotSupported`](HandshakeError::HttpVersionNotSupported)
    ///   for an HTTP version other than 1.x;
    /// - 400 for malformed HTTP, HTTP/1.0, a method other than `GET` (R-SH-02)
    ///   and for the header checks of [`from_request`](ServerHandshake::from_request);
    /// - 426 for a missing `websocket` upgrade token or a WebSocket version
    ///   other than 13.
    pub fn parse(
        buf: &[u8],
        config: &crate::Config,
    ) -> Result<Option<(ServerHandshake, usize)>, HandshakeError> {
        match ServerHandshake::parse_request(buf, config)? {
            Some((request, n)) => Ok(Some((ServerHandshake::from_request(request)?, n))),
            None => Ok(None),
        }
    }

    /// Parses an HTTP/1.1 request head at the start of `buf`, with the
    /// limits and syntax checks of [`parse`](ServerHandshake::parse) but none
    /// of the WebSocket ones: any method, no header required.
    ///
    /// For servers that answer plain HTTP requests (a page, a health check)
    /// on their WebSocket port: look at the request, then either answer it
    /// or pass it to [`from_request`](ServerHandshake::from_request).
    /// Returns `Ok(None)` while the head is incomplete, and
    /// `Ok(Some((request, n)))` once it took the first `n` bytes of `buf`.
    ///
    /// # Errors
    ///
    /// 431 for a head over the limits, 505 for an HTTP version other than
    /// 1.x, 400 for malformed HTTP, HTTP/1.0 or a bad request target.
    pub fn parse_request(
        buf: &[u8],
        config: &crate::Config,
    ) -> Result<Option<(Request<()>, usize)>, HandshakeError> {
        let head = bounded(buf, config);
        with_header_slots(config.max_headers, |slots| {
            let mut parsed = httparse::Request::new(slots);
            let n = match parsed.parse(head) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return incomplete(buf, config),
                Err(error) => {
                    let version = start_line(head)
                        .rsplit(|&b| b == b' ')
                        .next()
                        .unwrap_or(&[]);
                    return Err(parse_error(error, config, version));
                }
            };
            Ok(Some((build_request(&parsed)?, n)))
        })
    }

    /// Checks a request that another HTTP stack has already parsed, such as
    /// hyper's (drop its body first: `Request::from_parts(parts, ())`).
    ///
    /// Runs every check of RFC 6455 §4.2.1 on it. Costs one pass over the
    /// headers, and allocates the key and the offered subprotocols and
    /// extensions.
    ///
    /// # Errors
    ///
    /// - 400 [`OldHttpVersion`](HandshakeError::OldHttpVersion),
    ///   [`MethodNotGet`](HandshakeError::MethodNotGet) (R-SH-02);
    ///   505 [`HttpVersionNotSupported`](HandshakeError::HttpVersionNotSupported)
    ///   for HTTP/2 and later, where RFC 8441 applies instead;
    /// - 400 [`InvalidRequestTarget`](HandshakeError::InvalidRequestTarget)
    ///   for a target that is neither origin-form nor an `http`/`https` URI;
    /// - 400 [`MissingHost`](HandshakeError::MissingHost) (R-SH-03);
    /// - 426 [`MissingUpgrade`](HandshakeError::MissingUpgrade) unless
    ///   `Upgrade` lists `websocket`, case-insensitively (R-SH-03);
    /// - 400 [`MissingConnectionUpgrade`](HandshakeError::MissingConnectionUpgrade)
    ///   unless `Connection` lists `Upgrade`, case-insensitively (R-SH-03);
    /// - 426 [`MissingVersion`](HandshakeError::MissingVersion) or
    ///   [`UnsupportedVersion`](HandshakeError::UnsupportedVersion) unless
    ///   `Sec-WebSocket-Version` is 13 (R-SH-05);
    /// - 400 [`MissingKey`](HandshakeError::MissingKey) or
    ///   [`InvalidKey`](HandshakeError::InvalidKey) unless
    ///   `Sec-WebSocket-Key` is base64 of 16 bytes (R-SH-04);
    /// - 400 [`DuplicateHeader`](HandshakeError::DuplicateHeader) for a
    ///   repeated `Host`, `Sec-WebSocket-Key` or `Sec-WebSocket-Version`
    ///   (R-SH-13);
    /// - 400 [`InvalidProtocolHeader`](HandshakeError::InvalidProtocolHeader)
    ///   or [`InvalidExtensionHeader`](HandshakeError::InvalidExtensionHeader)
    ///   for malformed `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions`
    ///   (R-HV-01, R-HV-03).
    ///
    /// The version is checked before the key, so that a client of an older
    /// draft, which sends no such key, learns from the 426 which version to
    /// speak.
    pub fn from_request(request: Request<()>) -> Result<ServerHandshake, HandshakeError> {
        check_http_version(request.version())?; // R-SH-02
        if request.method() != Method::GET {
            return Err(HandshakeError::MethodNotGet); // R-SH-02
        }
        if !is_acceptable_target(request.uri()) {
            return Err(HandshakeError::InvalidRequestTarget); // R-SH-01
        }
        let headers = request.headers();
        single(headers, HOST)?.ok_or(HandshakeError::MissingHost)?; // R-SH-03
        if !header_has_token(headers, UPGRADE, "websocket") {
            return Err(HandshakeError::MissingUpgrade); // R-SH-03
        }
        if !header_has_token(headers, CONNECTION, "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade); // R-SH-03
        }
        // R-SH-13: a repeated version is refused before its value is read.
        let version =
            single(headers, SEC_WEBSOCKET_VERSION)?.ok_or(HandshakeError::MissingVersion)?;
        if version.as_bytes().trim_ascii() != b"13" {
            return Err(HandshakeError::UnsupportedVersion); // R-SH-05
        }
        let key = single(headers, SEC_WEBSOCKET_KEY)?.ok_or(HandshakeError::MissingKey)?; // R-SH-13
        let key = valid_key(key.as_bytes()).ok_or(HandshakeError::InvalidKey)?; // R-SH-04
        let protocols = parse_protocols(headers.get_all(SEC_WEBSOCKET_PROTOCOL))?; // R-HV-01, R-HV-05
        let extensions = parse_extensions(headers.get_all(SEC_WEBSOCKET_EXTENSIONS))?; // R-HV-03, R-HV-04
        Ok(ServerHandshake {
            key: key.to_owned(),
            extended_connect: false,
            protocols,
            extensions,
            request,
        })
    }

    /// Checks an HTTP/2 extended CONNECT request (RFC 8441 §5, H2-06..08)
    /// that an HTTP/2 library has parsed, its `:protocol` already found to
    /// be `websocket` (the library keeps pseudo-headers to itself): method
    /// `CONNECT`, `Sec-WebSocket-Version: 13`, and the subprotocol and
    /// extension offers as in [`from_request`](ServerHandshake::from_request).
    /// There is no key; [`response`](ServerHandshake::response) then gives a
    /// 200.
    ///
    /// # Errors
    ///
    /// [`MethodNotGet`](HandshakeError::MethodNotGet) for a method other than
    /// `CONNECT` (answered 400), the version errors (426), and the
    /// subprotocol and extension header errors (400).
    pub fn from_extended_connect(request: Request<()>) -> Result<ServerHandshake, HandshakeError> {
        if request.method() != Method::CONNECT {
            return Err(HandshakeError::MethodNotGet);
        }
        let headers = request.headers();
        let version =
            single(headers, SEC_WEBSOCKET_VERSION)?.ok_or(HandshakeError::MissingVersion)?;
        if version.as_bytes().trim_ascii() != b"13" {
            return Err(HandshakeError::UnsupportedVersion); // H2-08, R-SH-05
        }
        let protocols = parse_protocols(headers.get_all(SEC_WEBSOCKET_PROTOCOL))?; // H2-08
        let extensions = parse_extensions(headers.get_all(SEC_WEBSOCKET_EXTENSIONS))?; // H2-08
        Ok(ServerHandshake {
            key: String::new(),
            extended_connect: true,
            protocols,
            extensions,
            request,
        })
    }

    /// Whether this is an HTTP/2 extended CONNECT (RFC 8441).
    pub fn is_extended_connect(&self) -> bool {
        self.extended_connect
    }

    /// The request: method, target, version and every header field, in the
    /// order received. O(1).
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The `Sec-WebSocket-Key` as received, without surrounding whitespace.
    /// O(1).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols the client offers, in its order of preference;
    /// several `Sec-WebSocket-Protocol` fields are read as one list (R-HV-05).
    /// Empty if it offers none. O(1).
    pub fn protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extensions the client offers, in order, parsed per RFC 6455 §9.1;
    /// several `Sec-WebSocket-Extensions` fields are read as one list
    /// (R-HV-04). Empty if it offers none. O(1).
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// The 101 response that accepts this handshake (RFC 6455 §4.2.2 step 5,
    /// R-SH-10), or the 200 that accepts an extended CONNECT (RFC 8441 §5).
    ///
    /// It carries `Upgrade: websocket`, `Connection: Upgrade`,
    /// `Sec-WebSocket-Accept` computed from the key as received, and
    /// `Sec-WebSocket-Protocol: protocol` when `protocol` is `Some` (once,
    /// R-SH-08). Pass `None` when the client offered no subprotocol or none is
    /// acceptable. To accept extensions, add one `Sec-WebSocket-Extensions`
    /// field to the response naming only offered ones (R-SH-09, R-HV-04); the
    /// [`ExtensionOffer`] `Display` writes one element. Other fields
    /// (`Set-Cookie`, ...) may be added too. Write it with
    /// [`write_response`]; the connection is open once it has been sent
    /// (R-SH-12).
    ///
    /// # Errors
    ///
    /// [`HandshakeError::ProtocolNotOffered`] if `protocol` is not one of
    /// [`protocols`](ServerHandshake::protocols), compared case-sensitively;
    /// a server must never choose one the client did not offer (R-SH-08).
    pub fn response(&self, protocol: Option<&str>) -> Result<Response<()>, HandshakeError> {
        let mut response = Response::new(());
        if self.extended_connect {
            // H2-07, H2-09: a 200, with no Upgrade, Connection or Accept.
            *response.status_mut() = StatusCode::OK;
        } else {
            *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            let headers = response.headers_mut();
            headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            // The accept value is base64, hence visible ASCII.
            let accept = accept_key(self.key.as_bytes());
            headers.insert(SEC_WEBSOCKET_ACCEPT, ascii_value(&accept)); // R-SH-10
        }
        let headers = response.headers_mut();
        if let Some(protocol) = protocol {
            let offered = self
                .protocols
                .iter()
                .find(|offered| *offered == protocol)
                .ok_or(HandshakeError::ProtocolNotOffered)?; // R-SH-08
            // Offered protocols were checked to be tokens.
            headers.insert(SEC_WEBSOCKET_PROTOCOL, ascii_value(offered));
        }
        Ok(response)
    }
}

/// A response body [`write_response`] can write: bytes in memory, or `()`
/// for none.
///
/// Implemented for `()` (the body of [`ServerHandshake::response`]), byte
/// and string slices, byte arrays, `Vec<u8>`, `String`, `Box<[u8]>`,
/// `Cow<[u8]>`, [`Bytes`](bytes::Bytes), [`BytesMut`], and references to any
/// of them.
/// `()` cannot simply be given `AsRef<[u8]>`, so this trait stands in for
/// that bound.
pub trait ResponseBody {
    /// The body's bytes. Should be O(1).
    fn as_body_bytes(&self) -> &[u8];
}

impl ResponseBody for () {
    fn as_body_bytes(&self) -> &[u8] {
        &[]
    }
}

impl<T: ResponseBody + ?Sized> ResponseBody for &T {
    fn as_body_bytes(&self) -> &[u8] {
        (**self).as_body_bytes()
    }
}

impl<const N: usize> ResponseBody for [u8; N] {
    fn as_body_bytes(&self) -> &[u8] {
        self
    }
}

/// Implements [`ResponseBody`] through `AsRef<[u8]>`.
macro_rules! body_as_ref {
    ($($ty:ty),* $(,)?) => {
        $(impl ResponseBody for $ty {
            fn as_body_bytes(&self) -> &[u8] {
                AsRef::<[u8]>::as_ref(self)
            }
        })*
    };
}

body_as_ref!(
    [u8],
    str,
    Vec<u8>,
    String,
    Box<[u8]>,
    std::borrow::Cow<'_, [u8]>,
    bytes::Bytes,
    BytesMut,
);

/// Writes a response head and its body, ready to send.
///
/// Writes the status line (`HTTP/1.1`, or `HTTP/1.0` if the response says
/// so), every header field as `Name: value` with the customary
/// capitalisation (`Sec-WebSocket-Accept`), an empty line, then the body as
/// is. Serves the 101 from [`ServerHandshake::response`] as well as any
/// rejection, such as [`HandshakeError::to_response`].
///
/// Adds `Content-Length` when the response has neither it nor
/// `Transfer-Encoding` and its status allows a body (not 1xx, 204 or 304),
/// even for an empty body: without it an HTTP/1.1 client would read until
/// the connection closes (RFC 9112 §6.3). A 101 gets none; any body it has
/// is written after its head and becomes WebSocket data. Costs one copy of
/// the head and body into `dst`, which grows as needed.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use sockeye_proto::handshake::write_response;
///
/// let response = http::Response::builder().status(403).body("forbidden origin")?;
/// let mut dst = BytesMut::new();
/// write_response(&response, &mut dst);
/// assert_eq!(&dst[..], b"HTTP/1.1 403 Forbidden\r\nContent-Length: 16\r\n\r\nforbidden origin");
/// # Ok::<(), http::Error>(())
/// ```
pub fn write_response<B: ResponseBody>(response: &Response<B>, dst: &mut BytesMut) {
    let status = response.status();
    let body = response.body().as_body_bytes();
    let version: &[u8] = if response.version() == Version::HTTP_10 {
        b"HTTP/1.0 "
    } else {
        b"HTTP/1.1 "
    };
    let reason = status.canonical_reason().unwrap_or("");
    dst.reserve(version.len() + 3 + 1 + reason.len() + 2);
    dst.extend_from_slice(version);
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.extend_from_slice(b" ");
    dst.extend_from_slice(reason.as_bytes());
    dst.extend_from_slice(b"\r\n");
    let headers = response.headers();
    write_headers(headers, dst);
    let may_have_body = !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED);
    if may_have_body
        && !headers.contains_key(CONTENT_LENGTH)
        && !headers.contains_key(TRANSFER_ENCODING)
    {
        write_header(CONTENT_LENGTH.as_str(), &HeaderValue::from(body.len()), dst);
    }
    dst.reserve(2 + body.len());
    dst.extend_from_slice(b"\r\n");
    dst.extend_from_slice(body);
}

/// Turns a complete `httparse` request into an [`http::Request`], refusing
/// HTTP/1.0 (R-SH-02) and targets that are not URIs (R-SH-01).
fn build_request(parsed: &httparse::Request<'_, '_>) -> Result<Request<()>, HandshakeError> {
    // httparse fills all three once it reports a complete head.
    let (Some(method), Some(path), Some(version)) = (parsed.method, parsed.path, parsed.version)
    else {
        return Err(HandshakeError::MalformedHead("incomplete request line"));
    };
    if version == 0 {
        return Err(HandshakeError::OldHttpVersion); // R-SH-02
    }
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| HandshakeError::MalformedHead("invalid method"))?;
    let uri = Uri::try_from(path).map_err(|_| HandshakeError::InvalidRequestTarget)?;
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = header_map(parsed.headers)?;
    Ok(request)
}

/// Whether a server accepts `uri` as the target of a handshake: origin-form,
/// or an absolute `http`/`https` URI naming the resource (RFC 6455 §4.1).
fn is_acceptable_target(uri: &Uri) -> bool {
    let absolute = matches!(uri.scheme_str(), Some("http" | "https"))
        && uri.authority().is_some()
        && uri.path().starts_with('/');
    is_origin_form(uri) || absolute
}

/// The key without surrounding whitespace, if it is base64 of exactly 16
/// bytes: 24 characters ending in `==` (R-SH-04).
fn valid_key(value: &[u8]) -> Option<&str> {
    let key = value.trim_ascii();
    // Three spare bytes, so a decoder that sizes its output from the input
    // length never reports "too small" for a 24-character key.
    let mut decoded = [0u8; 18];
    if key.len() != 24 || KEY_DECODER.decode_slice(key, &mut decoded) != Ok(16) {
        return None;
    }
    // Base64 is ASCII, so this never fails.
    std::str::from_utf8(key).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_decode_leniently_to_16_bytes() {
        assert_eq!(
            valid_key(b" dGhlIHNhbXBsZSBub25jZQ== "),
            Some("dGhlIHNhbXBsZSBub25jZQ==")
        );
        // RFC 6455 §4.1: non-canonical trailing bits.
        assert!(valid_key(b"AQIDBAUGBwgJCgsMDQ4PEC==").is_some());
        assert!(valid_key(b"AQIDBAUGBwgJCgsMDQ4PEA==").is_some());
        for bad in [
            &b""[..],
            b"AQIDBAUGBwgJCgsMDQ4PEA",
            b"AQIDBAUGBwgJCgsMDQ4PEA=",
            b"AQIDBAUGBwgJCgsMDQ4PEBES",
            b"AQIDBAUGBwgJCgsMDQ4P",
            b"AQIDBAUGBwgJCgsMDQ4P!A==",
            b"AQIDBAUGBwgJCgsMDQ4PEA=A",
            b"AQIDBAUGBwgJCgsMDQ4PEAAAAA==",
        ] {
            assert_eq!(valid_key(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn targets() {
        for good in ["/", "/chat?x=1", "http://h/chat", "https://h:8443/"] {
            assert!(is_acceptable_target(&good.parse().unwrap()), "{good}");
        }
        for bad in ["*", "h:80", "ws://h/", "ftp://h/"] {
            assert!(!is_acceptable_target(&bad.parse().unwrap()), "{bad}");
        }
    }

    #[test]
    fn responses_without_body_get_no_length_when_forbidden() {
        for status in [101, 204, 304] {
            let response = Response::builder().status(status).body(()).unwrap();
            let mut dst = BytesMut::new();
            write_response(&response, &mut dst);
            assert!(
                !dst.windows(15).any(|w| w == b"Content-Length:"),
                "{status}"
            );
        }
    }

    #[test]
    fn explicit_length_or_chunking_is_kept() {
        let response = Response::builder()
            .status(200)
            .header(TRANSFER_ENCODING, "chunked")
            .body("0\r\n\r\n")
            .unwrap();
        let mut dst = BytesMut::new();
        write_response(&response, &mut dst);
        assert_eq!(
            &dst[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
    }

    #[test]
    fn unknown_status_has_empty_reason() {
        let response = Response::builder().status(599).body("").unwrap();
        let mut dst = BytesMut::new();
        write_response(&response, &mut dst);
        assert!(dst.starts_with(b"HTTP/1.1 599 \r\n"));
    }
}
