//! The client side: building the opening request (RFC 6455 §4.1) and
//! checking the server's response.

use bytes::BytesMut;
use http::header::{
    CONNECTION, HOST, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};

use super::headers::{
    ascii_value, header_has_token, list_elements, parse_extensions, parse_protocols, single,
    token_str, write_headers,
};
use super::{
    ExtensionOffer, HandshakeError, accept_key, bounded, check_http_version, generate_key,
    header_map, incomplete, is_origin_form, parse_error, start_line, with_header_slots,
};

/// What the server agreed to in a valid 101 response (R-CV-08).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The subprotocol in use (*Subprotocol In Use*), one of those offered,
    /// or `None` if the server chose none.
    pub protocol: Option<String>,
    /// The extensions in use (*Extensions In Use*), in the server's order,
    /// which is the order to apply them (R-EX-03). Each was offered by name;
    /// whether its parameters are acceptable is for the extension to judge.
    pub extensions: Vec<ExtensionOffer>,
}

/// A client's opening handshake: the request to send, and the key that the
/// response must answer (RFC 6455 §4.1).
///
/// Create one per connection attempt with [`new`](ClientHandshake::new),
/// send [`write_request`](ClientHandshake::write_request), then wait for the
/// response before sending anything else (R-CH-13): feed the bytes read to
/// [`parse_response`](ClientHandshake::parse_response) until it returns a
/// head, and check that head with
/// [`check_response`](ClientHandshake::check_response).
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use sockeye_proto::handshake::ClientHandshake;
///
/// let request = http::Request::get("/chat")
///     .header("host", "server.example.com")
///     .header("origin", "http://example.com")
///     .body(())?;
/// let handshake = ClientHandshake::new(request)?;
/// let mut dst = BytesMut::new();
/// handshake.write_request(&mut dst);
/// assert!(dst.starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ClientHandshake {
    request: Request<()>,
    key: String,
    accept: String,
    protocols: Vec<String>,
    extensions: Vec<ExtensionOffer>,
}

impl ClientHandshake {
    /// Completes `request` into an opening handshake with a fresh key.
    ///
    /// `request` must be a `GET` with an HTTP/1.1 version (the default), a
    /// target in origin-form (`/path?query`) and a `Host` field
    /// (`host[:port]`, the port left out when it is the default, R-CH-06).
    /// It may carry any other fields: `Origin`, `Authorization`, `Cookie`,
    /// `Sec-WebSocket-Protocol` listing the subprotocols to offer,
    /// `Sec-WebSocket-Extensions` listing the extensions to offer.
    ///
    /// This adds `Upgrade: websocket`, `Connection: Upgrade` (unless a
    /// `Connection` field with the `Upgrade` token is already there), a fresh
    /// `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13` (R-CH-07, R-CH-08,
    /// R-CH-10). The offered subprotocols are sent as one field. `Host` goes
    /// first, then the handshake fields, then the caller's in their order.
    /// Costs one copy of the header map and a SHA-1.
    ///
    /// # Errors
    ///
    /// - [`MethodNotGet`](HandshakeError::MethodNotGet),
    ///   [`OldHttpVersion`](HandshakeError::OldHttpVersion) or
    ///   [`HttpVersionNotSupported`](HandshakeError::HttpVersionNotSupported)
    ///   unless it is a `GET` over HTTP/1.1 (R-CH-04);
    /// - [`InvalidRequestTarget`](HandshakeError::InvalidRequestTarget)
    ///   unless the target is in origin-form (R-CH-05);
    /// - [`MissingHost`](HandshakeError::MissingHost) (R-CH-06), or
    ///   [`DuplicateHeader`](HandshakeError::DuplicateHeader) for two `Host`
    ///   or `Sec-WebSocket-Version` fields (R-CH-14);
    /// - [`ConflictingHeader`](HandshakeError::ConflictingHeader) for a
    ///   `Sec-WebSocket-Key` or `Sec-WebSocket-Accept` field, a
    ///   `Sec-WebSocket-Version` other than 13, an `Upgrade` naming anything
    ///   but `websocket`, or a `Connection` without `Upgrade`;
    /// - [`InvalidProtocolHeader`](HandshakeError::InvalidProtocolHeader)
    ///   unless the subprotocols are unique tokens (R-CH-11);
    /// - [`InvalidExtensionHeader`](HandshakeError::InvalidExtensionHeader)
    ///   unless the extensions follow RFC 6455 §9.1 (R-CH-12).
    pub fn new(request: Request<()>) -> Result<ClientHandshake, HandshakeError> {
        let (mut parts, ()) = request.into_parts();
        if parts.method != Method::GET {
            return Err(HandshakeError::MethodNotGet); // R-CH-04
        }
        check_http_version(parts.version)?; // R-CH-04
        if !is_origin_form(&parts.uri) {
            return Err(HandshakeError::InvalidRequestTarget); // R-CH-05
        }
        let user = std::mem::take(&mut parts.headers);
        let host = single(&user, HOST)?.ok_or(HandshakeError::MissingHost)?; // R-CH-06
        for own in [SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_ACCEPT] {
            if user.contains_key(&own) {
                return Err(HandshakeError::ConflictingHeader(own)); // R-CH-14
            }
        }
        if let Some(version) = single(&user, SEC_WEBSOCKET_VERSION)? {
            if version.as_bytes().trim_ascii() != b"13" {
                return Err(HandshakeError::ConflictingHeader(SEC_WEBSOCKET_VERSION));
            }
        }
        if list_elements(&user, UPGRADE).any(|element| !element.eq_ignore_ascii_case(b"websocket"))
        {
            return Err(HandshakeError::ConflictingHeader(UPGRADE));
        }
        let has_connection = user.contains_key(CONNECTION);
        if has_connection && !header_has_token(&user, CONNECTION, "upgrade") {
            return Err(HandshakeError::ConflictingHeader(CONNECTION));
        }
        let protocols = parse_protocols(user.get_all(SEC_WEBSOCKET_PROTOCOL))?; // R-CH-11
        let extensions = parse_extensions(user.get_all(SEC_WEBSOCKET_EXTENSIONS))?; // R-CH-12

        let key = generate_key(); // R-CH-08
        let headers = &mut parts.headers;
        headers.reserve(user.len() + 5);
        headers.insert(HOST, host.clone()); // R-CH-06
        headers.insert(UPGRADE, HeaderValue::from_static("websocket")); // R-CH-07
        if has_connection {
            for value in &user.get_all(CONNECTION) {
                headers.append(CONNECTION, value.clone());
            }
        } else {
            headers.insert(CONNECTION, HeaderValue::from_static("Upgrade")); // R-CH-07
        }
        // Base64 is visible ASCII.
        headers.insert(SEC_WEBSOCKET_KEY, ascii_value(&key)); // R-CH-08, R-CH-14
        headers.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13")); // R-CH-10
        if !protocols.is_empty() {
            // Tokens joined by ", " are visible ASCII and spaces.
            headers.insert(SEC_WEBSOCKET_PROTOCOL, ascii_value(&protocols.join(", ")));
        }
        for (name, value) in &user {
            let replaced = [
                HOST,
                UPGRADE,
                CONNECTION,
                SEC_WEBSOCKET_VERSION,
                SEC_WEBSOCKET_PROTOCOL,
            ];
            if !replaced.contains(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        Ok(ClientHandshake {
            request: Request::from_parts(parts, ()),
            accept: accept_key(key.as_bytes()),
            key,
            protocols,
            extensions,
        })
    }

    /// The `Sec-WebSocket-Key` sent, as base64. O(1).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The request as it will be sent, handshake fields included. O(1).
    pub fn request(&self) -> &Request<()> {
        &self.request
    }

    /// Writes the request head: `GET <target> HTTP/1.1`, the header fields
    /// with the customary capitalisation (`Sec-WebSocket-Key`), and the empty
    /// line. It has no body. Costs one copy of the head into `dst`, which
    /// grows as needed.
    pub fn write_request(&self, dst: &mut BytesMut) {
        let target = self
            .request
            .uri()
            .path_and_query()
            .map_or("/", |target| target.as_str());
        dst.reserve(4 + target.len() + 11);
        dst.extend_from_slice(b"GET ");
        dst.extend_from_slice(target.as_bytes());
        dst.extend_from_slice(b" HTTP/1.1\r\n");
        write_headers(self.request.headers(), dst);
        dst.extend_from_slice(b"\r\n");
    }

    /// Parses a response head at the start of `buf`.
    ///
    /// Returns `Ok(None)` while the head is incomplete: read more bytes,
    /// append them and call again with the whole buffer. Returns
    /// `Ok(Some((response, n)))` once a head has arrived; it took the first
    /// `n` bytes. After a 101 the rest of `buf` is WebSocket data: frames
    /// the server sent right behind its response (R-CV-09). After any other
    /// status it is the body, which this does not read. Each call parses from
    /// the start, in time linear in `buf.len()` up to
    /// [`Config::max_handshake_size`](crate::Config::max_handshake_size);
    /// nothing is allocated before the head is complete.
    ///
    /// This only parses; [`check_response`](ClientHandshake::check_response)
    /// judges the result.
    ///
    /// # Errors
    ///
    /// [`HeadTooLarge`](HandshakeError::HeadTooLarge) once `buf` holds
    /// `max_handshake_size` bytes without a complete head;
    /// [`TooManyHeaders`](HandshakeError::TooManyHeaders) past
    /// [`Config::max_headers`](crate::Config::max_headers) fields;
    /// [`HttpVersionNotSupported`](HandshakeError::HttpVersionNotSupported)
    /// for a version other than HTTP/1.x;
    /// [`MalformedHead`](HandshakeError::MalformedHead) for anything else
    /// that is not an HTTP/1.x response head.
    pub fn parse_response(
        buf: &[u8],
        config: &crate::Config,
    ) -> Result<Option<(Response<()>, usize)>, HandshakeError> {
        let head = bounded(buf, config);
        with_header_slots(config.max_headers, |slots| {
            let mut parsed = httparse::Response::new(slots);
            let n = match parsed.parse(head) {
                Ok(httparse::Status::Complete(n)) => n,
                Ok(httparse::Status::Partial) => return incomplete(buf, config),
                Err(error) => {
                    let version = start_line(head).split(|&b| b == b' ').next().unwrap_or(&[]);
                    return Err(parse_error(error, config, version));
                }
            };
            // httparse fills both once it reports a complete head.
            let (Some(version), Some(code)) = (parsed.version, parsed.code) else {
                return Err(HandshakeError::MalformedHead("incomplete status line"));
            };
            let status = StatusCode::from_u16(code)
                .map_err(|_| HandshakeError::MalformedHead("invalid status"))?;
            let mut response = Response::new(());
            *response.status_mut() = status;
            *response.version_mut() = if version == 0 {
                Version::HTTP_10
            } else {
                Version::HTTP_11
            };
            *response.headers_mut() = header_map(parsed.headers)?;
            Ok(Some((response, n)))
        })
    }

    /// Checks the server's response against this request (RFC 6455 §4.1).
    ///
    /// On success the connection is open, with the subprotocol and
    /// extensions in [`Accepted`] (R-CV-08). Header names are matched
    /// case-insensitively. Costs a pass over the headers; allocates only what
    /// it returns. The response may come from
    /// [`parse_response`](ClientHandshake::parse_response) or from another
    /// HTTP stack.
    ///
    /// # Errors
    ///
    /// Any error means the connection must fail, with no Close frame:
    ///
    /// - [`UnexpectedStatus`](HandshakeError::UnexpectedStatus) for any
    ///   status but 101 (R-CV-01); the response, which the caller still
    ///   holds, may say why (401, a redirect);
    /// - [`OldHttpVersion`](HandshakeError::OldHttpVersion) for a 101 in
    ///   HTTP/1.0 (R-CV-07);
    /// - [`MissingUpgrade`](HandshakeError::MissingUpgrade) unless `Upgrade`
    ///   names `websocket`, case-insensitively (R-CV-02);
    /// - [`MissingConnectionUpgrade`](HandshakeError::MissingConnectionUpgrade)
    ///   unless `Connection` lists the `Upgrade` token (R-CV-03);
    /// - [`MissingAccept`](HandshakeError::MissingAccept) or
    ///   [`AcceptMismatch`](HandshakeError::AcceptMismatch) unless
    ///   `Sec-WebSocket-Accept`, trimmed of whitespace, answers our key
    ///   (R-CV-04);
    /// - [`DuplicateHeader`](HandshakeError::DuplicateHeader) for two
    ///   `Sec-WebSocket-Accept` or `Sec-WebSocket-Protocol` fields (R-CV-07);
    /// - [`InvalidProtocolHeader`](HandshakeError::InvalidProtocolHeader)
    ///   unless `Sec-WebSocket-Protocol` is one token, and
    ///   [`ProtocolNotOffered`](HandshakeError::ProtocolNotOffered) unless
    ///   that token is one we offered, compared case-sensitively (R-CV-06);
    /// - [`InvalidExtensionHeader`](HandshakeError::InvalidExtensionHeader)
    ///   for a malformed `Sec-WebSocket-Extensions` (R-HV-03), and
    ///   [`ExtensionNotOffered`](HandshakeError::ExtensionNotOffered) for an
    ///   extension we did not offer, names compared case-insensitively
    ///   (R-CV-05).
    ///
    /// A response without `Sec-WebSocket-Protocol` is accepted even when
    /// subprotocols were offered, as RFC 6455 allows; the browser API is
    /// stricter (R-CV-10) and checks that itself.
    pub fn check_response(&self, response: &Response<()>) -> Result<Accepted, HandshakeError> {
        let status = response.status();
        if status != StatusCode::SWITCHING_PROTOCOLS {
            return Err(HandshakeError::UnexpectedStatus(status)); // R-CV-01
        }
        check_http_version(response.version())?; // R-CV-07
        let headers: &HeaderMap = response.headers();
        if !header_has_token(headers, UPGRADE, "websocket") {
            return Err(HandshakeError::MissingUpgrade); // R-CV-02
        }
        if !header_has_token(headers, CONNECTION, "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade); // R-CV-03
        }
        let accept = single(headers, SEC_WEBSOCKET_ACCEPT)? // R-CV-07
            .ok_or(HandshakeError::MissingAccept)?; // R-CV-04
        if accept.as_bytes().trim_ascii() != self.accept.as_bytes() {
            return Err(HandshakeError::AcceptMismatch); // R-CV-04
        }
        self.negotiated(headers)
    }

    /// The request for the same connection over HTTP/2, by extended CONNECT
    /// (RFC 8441 §5, H2-06..08): method `CONNECT`, version HTTP/2, the
    /// target as an absolute URI with `scheme` (`https` for `wss`, `http`
    /// for `ws`) and the `Host` as its authority; the same headers, but for
    /// `Host`, `Upgrade`, `Connection` and `Sec-WebSocket-Key`, which HTTP/2
    /// does not use. The `:protocol` pseudo-header (`websocket`) is for the
    /// HTTP/2 library to add.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::InvalidRequestTarget`] if the host and target do
    /// not make a URI.
    pub fn extended_connect_request(&self, scheme: &str) -> Result<Request<()>, HandshakeError> {
        let headers = self.request.headers();
        let authority = headers
            .get(HOST)
            .and_then(|host| host.to_str().ok())
            .ok_or(HandshakeError::MissingHost)?;
        let target = self
            .request
            .uri()
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        let uri = http::Uri::builder()
            .scheme(scheme)
            .authority(authority)
            .path_and_query(target)
            .build()
            .map_err(|_| HandshakeError::InvalidRequestTarget)?;
        let mut request = Request::new(());
        *request.method_mut() = Method::CONNECT;
        *request.uri_mut() = uri;
        *request.version_mut() = http::Version::HTTP_2;
        for (name, value) in headers {
            if name != HOST && name != UPGRADE && name != CONNECTION && name != SEC_WEBSOCKET_KEY {
                request.headers_mut().append(name, value.clone());
            }
        }
        Ok(request)
    }

    /// Checks the answer to [`extended_connect_request`](Self::extended_connect_request)
    /// (RFC 8441 §5, H2-09): a 2xx status, then the subprotocol and the
    /// extensions as [`check_response`](Self::check_response) does. There is
    /// no `Upgrade`, `Connection` or `Sec-WebSocket-Accept` to check.
    ///
    /// # Errors
    ///
    /// [`HandshakeError::UnexpectedStatus`] for any status but 2xx, and the
    /// subprotocol and extension errors of `check_response`.
    pub fn check_extended_connect_response(
        &self,
        response: &Response<()>,
    ) -> Result<Accepted, HandshakeError> {
        let status = response.status();
        if !status.is_success() {
            return Err(HandshakeError::UnexpectedStatus(status)); // H2-09
        }
        self.negotiated(response.headers())
    }

    /// The subprotocol and extensions a successful answer agreed to.
    fn negotiated(&self, headers: &HeaderMap) -> Result<Accepted, HandshakeError> {
        let protocol = match single(headers, SEC_WEBSOCKET_PROTOCOL)? {
            // R-CV-07
            None => None,
            Some(value) => {
                let chosen = token_str(value.as_bytes().trim_ascii())
                    .ok_or(HandshakeError::InvalidProtocolHeader)?; // R-HV-01
                if !self.protocols.iter().any(|offered| offered == chosen) {
                    return Err(HandshakeError::ProtocolNotOffered); // R-CV-06
                }
                Some(chosen.to_owned())
            }
        };
        let extensions = parse_extensions(headers.get_all(SEC_WEBSOCKET_EXTENSIONS))?; // R-HV-03, R-HV-04
        for accepted in &extensions {
            let offered = self
                .extensions
                .iter()
                .any(|offer| offer.name.eq_ignore_ascii_case(&accepted.name));
            if !offered {
                return Err(HandshakeError::ExtensionNotOffered); // R-CV-05
            }
        }
        Ok(Accepted {
            protocol,
            extensions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(extra: &[(&str, &str)]) -> Result<ClientHandshake, HandshakeError> {
        let mut builder = Request::get("/").header("host", "h");
        for (name, value) in extra {
            builder = builder.header(*name, *value);
        }
        ClientHandshake::new(builder.body(()).unwrap())
    }

    #[test]
    fn caller_headers_follow_the_handshake_fields() {
        let client = handshake(&[
            ("cookie", "a=1"),
            ("sec-websocket-protocol", "a"),
            ("sec-websocket-protocol", "b"),
            ("cookie", "b=2"),
        ])
        .unwrap();
        let names: Vec<&str> = client
            .request()
            .headers()
            .keys()
            .map(http::HeaderName::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "host",
                "upgrade",
                "connection",
                "sec-websocket-key",
                "sec-websocket-version",
                "sec-websocket-protocol",
                "cookie"
            ]
        );
        assert_eq!(client.request().headers()["sec-websocket-protocol"], "a, b");
        assert_eq!(
            client.request().headers().get_all("cookie").iter().count(),
            2
        );
    }

    #[test]
    fn caller_connection_field_is_kept() {
        let client = handshake(&[("connection", "keep-alive, Upgrade")]).unwrap();
        let values: Vec<_> = client
            .request()
            .headers()
            .get_all(CONNECTION)
            .iter()
            .collect();
        assert_eq!(values, ["keep-alive, Upgrade"]);
    }

    #[test]
    fn accept_is_precomputed_from_the_key() {
        let client = handshake(&[]).unwrap();
        assert_eq!(client.accept, accept_key(client.key().as_bytes()));
    }
}
