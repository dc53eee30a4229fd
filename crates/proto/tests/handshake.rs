//! Opening handshake behaviour (RFC 6455 §4), server and client side by side.
//!
//! Tests named `r_xx_nn_…` check the checklist rule of that ID
//! (`spec/checklist.md` §1.2–1.5 and R-LM-02 for limits).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use base64::Engine as _;
use bytes::BytesMut;
use http::header::{
    CONNECTION, CONTENT_LENGTH, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_EXTENSIONS, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_PROTOCOL, SEC_WEBSOCKET_VERSION, UPGRADE,
};
use http::{HeaderValue, Request, Response, StatusCode, Version};
use proptest::prelude::*;
use sockeye_proto::Config;
use sockeye_proto::handshake::{
    Accepted, ClientHandshake, ExtensionOffer, HandshakeError, ServerHandshake, accept_key,
    generate_key, write_response,
};

// ---------------------------------------------------------------------------
// Allocation counting, per thread since tests run in parallel.

struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    // A `const` initialiser and no destructor: touching it never allocates.
    static ALLOCATED: Cell<usize> = const { Cell::new(0) };
}

fn count(bytes: usize) {
    let _ = ALLOCATED.try_with(|n| n.set(n.get().saturating_add(bytes)));
}

// SAFETY: every method forwards to `System` unchanged; the counter only
// observes sizes.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        // SAFETY: the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Runs `f` and returns its result with the bytes this thread allocated
/// meanwhile.
fn allocated_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATED.with(Cell::get);
    let result = f();
    (result, ALLOCATED.with(Cell::get) - before)
}

// ---------------------------------------------------------------------------
// Fixtures.

/// The client handshake from RFC 6455 §1.2.
const RFC_REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\n\
    Host: server.example.com\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\n\
    Sec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\
    \r\n";

/// The server handshake from RFC 6455 §1.2.
const RFC_RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
    Upgrade: websocket\r\n\
    Connection: Upgrade\r\n\
    Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Sec-WebSocket-Protocol: chat\r\n\
    \r\n";

/// The fields of a minimal valid request.
const FIELDS: [&str; 5] = [
    "Host: server.example.com",
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
];

/// A head from a start line and fields.
fn head(start: &str, fields: &[&str]) -> Vec<u8> {
    let mut out = format!("{start}\r\n");
    for field in fields {
        out.push_str(field);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

/// A valid request with `changes` applied: a field `Name: value` replaces the
/// minimal request's field of that name, or is added; `Name:` with `-` as
/// value (`Name: -`) removes it.
fn request(changes: &[&str]) -> Vec<u8> {
    let name = |field: &str| field.split(':').next().unwrap_or("").to_ascii_lowercase();
    let mut fields: Vec<&str> = FIELDS.to_vec();
    for change in changes {
        fields.retain(|field| name(field) != name(change));
    }
    fields.extend(changes.iter().filter(|c| !c.ends_with(": -")));
    head("GET /chat HTTP/1.1", &fields)
}

fn parse(bytes: &[u8]) -> Result<Option<(ServerHandshake, usize)>, HandshakeError> {
    ServerHandshake::parse(bytes, &Config::default())
}

fn accepted(bytes: &[u8]) -> ServerHandshake {
    let (handshake, n) = parse(bytes).unwrap().expect("a complete head");
    assert_eq!(n, bytes.len());
    handshake
}

/// Asserts that the server refuses `bytes` with `status`, and returns the error.
fn rejected(bytes: &[u8], status: StatusCode) -> HandshakeError {
    let error = parse(bytes).expect_err("a rejection");
    assert_eq!(error.status(), status, "{error}");
    error
}

fn write(response: &Response<impl sockeye_proto::handshake::ResponseBody>) -> Vec<u8> {
    let mut dst = BytesMut::new();
    write_response(response, &mut dst);
    dst.to_vec()
}

fn client(fields: &[(&str, &str)]) -> Result<ClientHandshake, HandshakeError> {
    let mut builder = Request::get("/chat").header("host", "server.example.com");
    for (name, value) in fields {
        builder = builder.header(*name, *value);
    }
    ClientHandshake::new(builder.body(()).unwrap())
}

/// The fields of a valid 101 for `client`.
fn good_response_fields(client: &ClientHandshake) -> Vec<String> {
    vec![
        "Upgrade: websocket".into(),
        "Connection: Upgrade".into(),
        format!(
            "Sec-WebSocket-Accept: {}",
            accept_key(client.key().as_bytes())
        ),
    ]
}

/// Parses a 101 with `fields` and checks it against `client`.
fn check(client: &ClientHandshake, fields: &[String]) -> Result<Accepted, HandshakeError> {
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let bytes = head("HTTP/1.1 101 Switching Protocols", &fields);
    let (response, n) = ClientHandshake::parse_response(&bytes, &Config::default())
        .unwrap()
        .expect("a complete head");
    assert_eq!(n, bytes.len());
    client.check_response(&response)
}

fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
    ExtensionOffer {
        name: name.into(),
        params: params
            .iter()
            .map(|(n, v)| ((*n).to_owned(), v.map(str::to_owned)))
            .collect(),
    }
}

// ---------------------------------------------------------------------------
// The RFC examples.

#[test]
fn r_cv_04_accept_key_matches_rfc_vector() {
    assert_eq!(
        accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
}

#[test]
fn r_sh_10_rfc_sample_request_gets_rfc_sample_response() {
    let handshake = accepted(RFC_REQUEST);
    assert_eq!(handshake.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(handshake.protocols(), ["chat", "superchat"]);
    assert!(handshake.extensions().is_empty());
    let request = handshake.request();
    assert_eq!(request.method(), http::Method::GET);
    assert_eq!(request.uri(), "/chat");
    assert_eq!(request.version(), Version::HTTP_11);
    assert_eq!(request.headers()["origin"], "http://example.com");
    assert_eq!(request.headers().len(), 7);

    let response = handshake.response(Some("chat")).unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        String::from_utf8(write(&response)).unwrap(),
        String::from_utf8(RFC_RESPONSE.to_vec()).unwrap()
    );
}

#[test]
fn r_sh_10_rfc_sample_response_is_one_accept() {
    let (response, n) = ClientHandshake::parse_response(RFC_RESPONSE, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, RFC_RESPONSE.len());
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(
        response
            .headers()
            .get_all(SEC_WEBSOCKET_ACCEPT)
            .iter()
            .count(),
        1
    );
}

// ---------------------------------------------------------------------------
// Server: what a request must be (RFC 6455 §4.2.1).

#[test]
fn r_sh_01_malformed_head_gets_400() {
    for bytes in [
        &b"GET /chat\r\n\r\n"[..],
        b"GET  /chat HTTP/1.1\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nHost server.example.com\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nHost : server.example.com\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nHo(st: x\r\n\r\n",
        b"GET /chat HTTP/1.1\r\nHost: a\x01b\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        let error = rejected(bytes, StatusCode::BAD_REQUEST);
        assert!(
            matches!(error, HandshakeError::MalformedHead(_)),
            "{error:?} for {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn r_sh_01_target_must_name_a_resource() {
    let mut bytes = request(&[]);
    bytes.splice(4..9, b"*".iter().copied());
    assert_eq!(
        rejected(&bytes, StatusCode::BAD_REQUEST),
        HandshakeError::InvalidRequestTarget
    );
    // Absolute http(s) URIs are allowed (RFC 6455 §4.1) and kept as received.
    let mut bytes = request(&[]);
    bytes.splice(4..9, b"http://server.example.com/chat?x=1".iter().copied());
    let handshake = accepted(&bytes);
    assert_eq!(handshake.request().uri().path(), "/chat");
    assert_eq!(handshake.request().uri().query(), Some("x=1"));
}

#[test]
fn r_sh_02_http_10_gets_400() {
    let bytes = head("GET /chat HTTP/1.0", &FIELDS);
    assert_eq!(
        rejected(&bytes, StatusCode::BAD_REQUEST),
        HandshakeError::OldHttpVersion
    );
}

#[test]
fn r_sh_02_method_other_than_get_gets_400() {
    for start in [
        "POST /chat HTTP/1.1",
        "get /chat HTTP/1.1",
        "CONNECT /chat HTTP/1.1",
    ] {
        assert_eq!(
            rejected(&head(start, &FIELDS), StatusCode::BAD_REQUEST),
            HandshakeError::MethodNotGet
        );
    }
}

#[test]
fn r_sh_02_unsupported_http_version_gets_505() {
    for start in [
        "GET /chat HTTP/2.0",
        "GET /chat HTTP/1.2",
        "GET /chat HTTP/3",
    ] {
        assert_eq!(
            rejected(
                &head(start, &FIELDS),
                StatusCode::HTTP_VERSION_NOT_SUPPORTED
            ),
            HandshakeError::HttpVersionNotSupported
        );
    }
}

#[test]
fn r_sh_03_missing_or_repeated_host_gets_400() {
    assert_eq!(
        rejected(&request(&["Host: -"]), StatusCode::BAD_REQUEST),
        HandshakeError::MissingHost
    );
    let bytes = request(&["Host: a.example", "host: b.example"]);
    assert!(matches!(
        rejected(&bytes, StatusCode::BAD_REQUEST),
        HandshakeError::DuplicateHeader(name) if name == http::header::HOST
    ));
}

#[test]
fn r_sh_03_missing_upgrade_gets_426_with_upgrade_and_version() {
    for change in [
        "Upgrade: -",
        "Upgrade: h2c",
        "Upgrade: websocket/13",
        "Upgrade: web socket",
    ] {
        let error = rejected(&request(&[change]), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(error, HandshakeError::MissingUpgrade, "{change}");
        let response = error.to_response();
        assert_eq!(response.headers()[UPGRADE], "websocket");
        assert_eq!(response.headers()[SEC_WEBSOCKET_VERSION], "13");
    }
}

#[test]
fn r_sh_03_upgrade_token_matches_case_insensitively_in_a_list() {
    for change in [
        "Upgrade: WebSocket",
        "Upgrade: h2c, WEBSOCKET",
        "Upgrade: ,websocket ,",
    ] {
        accepted(&request(&[change]));
    }
}

#[test]
fn r_sh_03_connection_without_upgrade_token_gets_400() {
    for change in [
        "Connection: -",
        "Connection: keep-alive",
        "Connection: Upgraded",
        "Connection: close",
    ] {
        assert_eq!(
            rejected(&request(&[change]), StatusCode::BAD_REQUEST),
            HandshakeError::MissingConnectionUpgrade,
            "{change}"
        );
    }
}

#[test]
fn r_sh_03_connection_keep_alive_upgrade_is_accepted() {
    for change in [
        "Connection: keep-alive, Upgrade",
        "Connection: UPGRADE",
        "connection: close,upgrade",
    ] {
        accepted(&request(&[change]));
    }
}

#[test]
fn r_sh_04_missing_key_gets_400() {
    assert_eq!(
        rejected(&request(&["Sec-WebSocket-Key: -"]), StatusCode::BAD_REQUEST),
        HandshakeError::MissingKey
    );
}

#[test]
fn r_sh_04_key_not_base64_of_16_bytes_gets_400() {
    for key in [
        "",
        "dGhlIHNhbXBsZSBub25jZQ",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZQ===",
        "dGhlIHNhbXBsZSBub25j",
        "dGhlIHNhbXBsZSBub25jZSE=",
        "dGhlIHNhbXBsZSBub25jZSEh",
        "dGhlIHNhbXBsZSBub25jZQ!=",
        "the sample nonce",
    ] {
        let field = format!("Sec-WebSocket-Key: {key}");
        assert_eq!(
            rejected(&request(&[&field]), StatusCode::BAD_REQUEST),
            HandshakeError::InvalidKey,
            "{key:?}"
        );
    }
}

#[test]
fn r_sh_04_rfc_example_key_with_trailing_bits_is_accepted() {
    let handshake = accepted(&request(&["Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEC=="]));
    assert_eq!(handshake.key(), "AQIDBAUGBwgJCgsMDQ4PEC==");
    // R-SH-10: the accept hashes the key as received, not re-encoded.
    let response = handshake.response(None).unwrap();
    assert_eq!(
        response.headers()[SEC_WEBSOCKET_ACCEPT],
        accept_key(b"AQIDBAUGBwgJCgsMDQ4PEC==").as_str()
    );
    assert_ne!(
        accept_key(b"AQIDBAUGBwgJCgsMDQ4PEC=="),
        accept_key(b"AQIDBAUGBwgJCgsMDQ4PEA==")
    );
}

#[test]
fn r_sh_05_version_other_than_13_gets_426_with_version_13() {
    for version in ["8", "14", "0", "13, 8", "013", "thirteen"] {
        let field = format!("Sec-WebSocket-Version: {version}");
        let error = rejected(&request(&[&field]), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(error, HandshakeError::UnsupportedVersion, "{version}");
        assert_eq!(error.to_response().headers()[SEC_WEBSOCKET_VERSION], "13");
    }
}

#[test]
fn r_sh_05_missing_version_gets_426_with_version_13() {
    let error = rejected(
        &request(&["Sec-WebSocket-Version: -"]),
        StatusCode::UPGRADE_REQUIRED,
    );
    assert_eq!(error, HandshakeError::MissingVersion);
    let response = error.to_response();
    assert_eq!(response.headers()[SEC_WEBSOCKET_VERSION], "13");
    assert_eq!(response.headers()[UPGRADE], "websocket");
}

#[test]
fn r_sh_08_response_refuses_a_protocol_not_offered() {
    let handshake = accepted(RFC_REQUEST);
    for protocol in ["Chat", "other", "", "chat, superchat"] {
        assert_eq!(
            handshake.response(Some(protocol)).unwrap_err(),
            HandshakeError::ProtocolNotOffered,
            "{protocol:?}"
        );
    }
    let response = handshake.response(Some("superchat")).unwrap();
    assert_eq!(
        response
            .headers()
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .collect::<Vec<_>>(),
        ["superchat"]
    );
}

#[test]
fn r_sh_08_response_without_protocol_has_no_protocol_field() {
    let handshake = accepted(&request(&[]));
    assert!(handshake.protocols().is_empty());
    assert_eq!(
        handshake.response(Some("chat")).unwrap_err(),
        HandshakeError::ProtocolNotOffered
    );
    let response = handshake.response(None).unwrap();
    assert!(response.headers().get(SEC_WEBSOCKET_PROTOCOL).is_none());
    assert!(response.headers().get(SEC_WEBSOCKET_EXTENSIONS).is_none());
}

#[test]
fn r_sh_10_response_is_101_with_upgrade_connection_and_one_accept() {
    let response = accepted(&request(&[])).response(None).unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.version(), Version::HTTP_11);
    let headers = response.headers();
    assert_eq!(headers[UPGRADE], "websocket");
    assert_eq!(headers[CONNECTION], "Upgrade");
    assert_eq!(headers.get_all(SEC_WEBSOCKET_ACCEPT).iter().count(), 1);
    assert_eq!(
        headers[SEC_WEBSOCKET_ACCEPT],
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    );
    // A 101 has no body, so no Content-Length is added.
    assert!(
        !write(&response)
            .windows(15)
            .any(|w| w == b"Content-Length:")
    );
}

#[test]
fn r_sh_12_bytes_after_the_head_are_left_for_the_websocket() {
    let frame = [0x81, 0x85, 1, 2, 3, 4, 0x49, 0x67, 0x6f, 0x68, 0x6e];
    let bytes = [RFC_REQUEST, &frame].concat();
    let (_, n) = parse(&bytes).unwrap().unwrap();
    assert_eq!(n, RFC_REQUEST.len());
    assert_eq!(&bytes[n..], frame);
}

#[test]
fn r_sh_13_repeated_key_gets_400() {
    let bytes = request(&[
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ]);
    assert_eq!(
        rejected(&bytes, StatusCode::BAD_REQUEST),
        HandshakeError::DuplicateHeader(SEC_WEBSOCKET_KEY)
    );
}

#[test]
fn r_sh_13_repeated_version_gets_400() {
    let bytes = request(&["Sec-WebSocket-Version: 13", "sec-websocket-version: 13"]);
    assert_eq!(
        rejected(&bytes, StatusCode::BAD_REQUEST),
        HandshakeError::DuplicateHeader(SEC_WEBSOCKET_VERSION)
    );
}

#[test]
fn r_sh_15_rejection_is_written_with_length_and_close() {
    let error = rejected(&request(&["Sec-WebSocket-Key: -"]), StatusCode::BAD_REQUEST);
    let bytes = write(&error.to_response());
    let mut headers = [httparse::EMPTY_HEADER; 8];
    let mut parsed = httparse::Response::new(&mut headers);
    let n = parsed.parse(&bytes).unwrap().unwrap();
    assert_eq!(parsed.code, Some(400));
    assert_eq!(parsed.reason, Some("Bad Request"));
    let field = |name: &str| {
        parsed
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    };
    assert_eq!(field("connection"), Some(&b"close"[..]));
    let length: usize = std::str::from_utf8(field("content-length").unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(&bytes[n..], b"missing sec-websocket-key header\n");
    assert_eq!(length, bytes.len() - n);
}

#[test]
fn server_write_response_adds_content_length_to_custom_rejections() {
    let response = Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("www-authenticate", "Basic realm=\"chat\"")
        .body("who are you?")
        .unwrap();
    assert_eq!(
        write(&response),
        b"HTTP/1.1 401 Unauthorized\r\n\
          Www-Authenticate: Basic realm=\"chat\"\r\n\
          Content-Length: 12\r\n\
          \r\n\
          who are you?"
    );
    let empty = Response::builder()
        .status(StatusCode::NOT_FOUND)
        .body(())
        .unwrap();
    assert_eq!(
        write(&empty),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
    );
    let explicit = Response::builder()
        .status(StatusCode::FORBIDDEN)
        .header(CONTENT_LENGTH, "2")
        .body(&b"no"[..])
        .unwrap();
    assert_eq!(
        write(&explicit),
        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"
    );
}

#[test]
fn server_from_request_applies_the_same_checks() {
    let request = |upgrade: &str| {
        Request::get("/chat")
            .header("host", "server.example.com")
            .header("upgrade", upgrade)
            .header("connection", "upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap()
    };
    let handshake = ServerHandshake::from_request(request("websocket")).unwrap();
    assert_eq!(handshake.key(), "dGhlIHNhbXBsZSBub25jZQ==");
    assert_eq!(
        ServerHandshake::from_request(request("h2c")).unwrap_err(),
        HandshakeError::MissingUpgrade
    );
    let mut http2 = request("websocket");
    *http2.version_mut() = Version::HTTP_2;
    assert_eq!(
        ServerHandshake::from_request(http2).unwrap_err(),
        HandshakeError::HttpVersionNotSupported
    );
}

// ---------------------------------------------------------------------------
// Header field syntax (RFC 6455 §4.3, §9.1, §11.3).

#[test]
fn r_hv_01_malformed_protocol_list_gets_400() {
    for value in [
        "",
        " , ",
        "chat, super chat",
        "chat, chat",
        "a/b",
        "\"chat\"",
        "ch@t",
    ] {
        let field = format!("Sec-WebSocket-Protocol: {value}");
        assert_eq!(
            rejected(&request(&[&field]), StatusCode::BAD_REQUEST),
            HandshakeError::InvalidProtocolHeader,
            "{value:?}"
        );
    }
}

#[test]
fn r_hv_02_extension_offers_are_parsed() {
    let handshake = accepted(&request(&[
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits; \
         server_max_window_bits=\"10\", permessage-deflate , x-webkit-deflate-frame",
    ]));
    assert_eq!(
        handshake.extensions(),
        [
            offer(
                "permessage-deflate",
                &[
                    ("client_max_window_bits", None),
                    ("server_max_window_bits", Some("10")),
                ]
            ),
            offer("permessage-deflate", &[]),
            offer("x-webkit-deflate-frame", &[]),
        ]
    );
}

#[test]
fn r_hv_03_malformed_extensions_get_400() {
    for value in [
        "",
        "permessage-deflate;",
        "permessage-deflate; =10",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_max_window_bits=\"1 0\"",
        "permessage-deflate; server_max_window_bits=\"10",
        "permessage deflate",
        "a; b=c=d",
        "[x]",
    ] {
        let field = format!("Sec-WebSocket-Extensions: {value}");
        assert_eq!(
            rejected(&request(&[&field]), StatusCode::BAD_REQUEST),
            HandshakeError::InvalidExtensionHeader,
            "{value:?}"
        );
    }
}

#[test]
fn r_hv_04_several_extension_fields_are_one_list() {
    let handshake = accepted(&request(&[
        "Sec-WebSocket-Extensions: foo",
        "Sec-WebSocket-Extensions: bar; baz=2",
    ]));
    assert_eq!(
        handshake.extensions(),
        [offer("foo", &[]), offer("bar", &[("baz", Some("2"))])]
    );
}

#[test]
fn r_hv_05_several_protocol_fields_are_one_list() {
    let handshake = accepted(&request(&[
        "Sec-WebSocket-Protocol: chat",
        "sec-websocket-protocol: superchat, v2",
    ]));
    assert_eq!(handshake.protocols(), ["chat", "superchat", "v2"]);
    let bytes = request(&[
        "Sec-WebSocket-Protocol: chat",
        "Sec-WebSocket-Protocol: chat",
    ]);
    assert_eq!(
        rejected(&bytes, StatusCode::BAD_REQUEST),
        HandshakeError::InvalidProtocolHeader
    );
}

// ---------------------------------------------------------------------------
// Limits (R-LM-02).

#[test]
fn r_lm_02_server_waits_for_an_incomplete_head() {
    for end in 0..RFC_REQUEST.len() {
        assert!(parse(&RFC_REQUEST[..end]).unwrap().is_none(), "{end}");
    }
}

#[test]
fn r_lm_02_head_over_limit_gets_431_without_allocating() {
    let config = Config::default();
    let mut bytes = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nX-Filler: ".to_vec();
    bytes.resize(1 << 20, b'a');
    let (result, allocated) = allocated_during(|| ServerHandshake::parse(&bytes, &config));
    let error = result.unwrap_err();
    assert_eq!(error, HandshakeError::HeadTooLarge { limit: 16 << 10 });
    assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(allocated, 0);
    // The counter works: a request that passes does allocate.
    let (result, allocated) = allocated_during(|| parse(RFC_REQUEST));
    assert!(result.unwrap().is_some());
    assert!(allocated > 0);

    // Short of the limit it waits, still without allocating.
    let short = &bytes[..config.max_handshake_size - 1];
    let (result, allocated) = allocated_during(|| ServerHandshake::parse(short, &config));
    assert!(result.unwrap().is_none());
    assert_eq!(allocated, 0);

    // The same holds for a client reading a response.
    let mut bytes = b"HTTP/1.1 101 Switching Protocols\r\nX-Filler: ".to_vec();
    bytes.resize(1 << 20, b'a');
    let (result, allocated) = allocated_during(|| ClientHandshake::parse_response(&bytes, &config));
    assert_eq!(
        result.unwrap_err(),
        HandshakeError::HeadTooLarge { limit: 16 << 10 }
    );
    assert_eq!(allocated, 0);
}

#[test]
fn r_lm_02_head_exactly_at_the_limit_is_accepted() {
    let bytes = [RFC_REQUEST, b"trailing websocket bytes"].concat();
    let config = config_with(RFC_REQUEST.len(), 64);
    assert_eq!(
        ServerHandshake::parse(&bytes, &config).unwrap().unwrap().1,
        RFC_REQUEST.len()
    );
    let config = config_with(RFC_REQUEST.len() - 1, 64);
    let error = ServerHandshake::parse(&bytes, &config).unwrap_err();
    assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
}

#[test]
fn r_lm_02_too_many_header_fields_get_431() {
    let config = config_with(16 << 10, 4);
    let error = ServerHandshake::parse(&request(&[]), &config).unwrap_err();
    assert_eq!(error, HandshakeError::TooManyHeaders { limit: 4 });
    assert_eq!(error.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
    assert_eq!(error.to_response().status(), 431);

    let filler: Vec<String> = (0..60).map(|i| format!("X-Filler-{i}: {i}")).collect();
    let filler: Vec<&str> = filler.iter().map(String::as_str).collect();
    let bytes = request(&filler);
    let (result, allocated) = allocated_during(|| parse(&bytes));
    assert_eq!(
        result.unwrap_err(),
        HandshakeError::TooManyHeaders { limit: 64 }
    );
    assert_eq!(allocated, 0);

    // Above the 64 slots kept on the stack, the limit still holds.
    assert!(
        ServerHandshake::parse(&bytes, &config_with(16 << 10, 100))
            .unwrap()
            .is_some()
    );
    let fields: Vec<&str> = filler.iter().copied().chain(FIELDS).collect();
    let response = head("HTTP/1.1 101 Switching Protocols", &fields);
    assert!(matches!(
        ClientHandshake::parse_response(&response, &Config::default()),
        Err(HandshakeError::TooManyHeaders { limit: 64 })
    ));
}

// ---------------------------------------------------------------------------
// Client: what the request carries (RFC 6455 §4.1).

#[test]
fn r_ch_04_request_must_be_get_over_http_11() {
    let post = Request::post("/chat")
        .header("host", "server.example.com")
        .body(())
        .unwrap();
    assert_eq!(
        ClientHandshake::new(post).unwrap_err(),
        HandshakeError::MethodNotGet
    );
    let old = Request::get("/chat")
        .version(Version::HTTP_10)
        .header("host", "server.example.com")
        .body(())
        .unwrap();
    assert_eq!(
        ClientHandshake::new(old).unwrap_err(),
        HandshakeError::OldHttpVersion
    );
    let mut dst = BytesMut::new();
    client(&[]).unwrap().write_request(&mut dst);
    assert!(dst.starts_with(b"GET /chat HTTP/1.1\r\n"));
}

#[test]
fn r_ch_05_target_must_be_origin_form() {
    for uri in [
        "ws://server.example.com/chat",
        "http://server.example.com/chat",
        "*",
    ] {
        let request = Request::get(uri)
            .header("host", "server.example.com")
            .body(())
            .unwrap();
        assert_eq!(
            ClientHandshake::new(request).unwrap_err(),
            HandshakeError::InvalidRequestTarget,
            "{uri}"
        );
    }
    let request = Request::get("/chat?room=1&x=%20")
        .header("host", "server.example.com")
        .body(())
        .unwrap();
    let mut dst = BytesMut::new();
    ClientHandshake::new(request)
        .unwrap()
        .write_request(&mut dst);
    assert!(dst.starts_with(b"GET /chat?room=1&x=%20 HTTP/1.1\r\n"));
}

#[test]
fn r_ch_06_host_is_required_once() {
    let request = Request::get("/chat").body(()).unwrap();
    assert_eq!(
        ClientHandshake::new(request).unwrap_err(),
        HandshakeError::MissingHost
    );
    assert_eq!(
        client(&[("host", "other.example.com")]).unwrap_err(),
        HandshakeError::DuplicateHeader(http::header::HOST)
    );
    let mut dst = BytesMut::new();
    client(&[]).unwrap().write_request(&mut dst);
    assert!(dst.starts_with(b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"));
}

#[test]
fn r_ch_07_request_has_upgrade_and_connection() {
    let handshake = client(&[]).unwrap();
    let headers = handshake.request().headers();
    assert_eq!(headers[UPGRADE], "websocket");
    assert_eq!(headers[CONNECTION], "Upgrade");
    // A matching field from the caller is fine and not repeated.
    let handshake = client(&[
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, Upgrade"),
    ])
    .unwrap();
    let headers = handshake.request().headers();
    assert_eq!(
        headers.get_all(UPGRADE).iter().collect::<Vec<_>>(),
        ["websocket"]
    );
    assert_eq!(
        headers.get_all(CONNECTION).iter().collect::<Vec<_>>(),
        ["keep-alive, Upgrade"]
    );
}

#[test]
fn r_ch_07_contradicting_upgrade_or_connection_is_refused() {
    assert_eq!(
        client(&[("upgrade", "h2c")]).unwrap_err(),
        HandshakeError::ConflictingHeader(UPGRADE)
    );
    assert_eq!(
        client(&[("upgrade", "websocket, h2c")]).unwrap_err(),
        HandshakeError::ConflictingHeader(UPGRADE)
    );
    assert_eq!(
        client(&[("connection", "close")]).unwrap_err(),
        HandshakeError::ConflictingHeader(CONNECTION)
    );
}

#[test]
fn r_ch_08_keys_are_fresh_16_byte_nonces() {
    let a = client(&[]).unwrap();
    let b = client(&[]).unwrap();
    assert_ne!(a.key(), b.key());
    assert_ne!(generate_key(), generate_key());
    for handshake in [&a, &b] {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(handshake.key())
            .unwrap();
        assert_eq!(decoded.len(), 16);
        assert_eq!(
            handshake.request().headers()[SEC_WEBSOCKET_KEY],
            handshake.key()
        );
    }
}

#[test]
fn r_ch_10_request_has_version_13() {
    let handshake = client(&[]).unwrap();
    assert_eq!(handshake.request().headers()[SEC_WEBSOCKET_VERSION], "13");
    let handshake = client(&[("sec-websocket-version", "13")]).unwrap();
    assert_eq!(
        handshake
            .request()
            .headers()
            .get_all(SEC_WEBSOCKET_VERSION)
            .iter()
            .count(),
        1
    );
    assert_eq!(
        client(&[("sec-websocket-version", "8")]).unwrap_err(),
        HandshakeError::ConflictingHeader(SEC_WEBSOCKET_VERSION)
    );
}

#[test]
fn r_ch_11_protocols_must_be_unique_tokens() {
    for value in [
        "",
        "chat, chat",
        "chat, super chat",
        "a/b",
        "caf\u{e9}",
        "{x}",
    ] {
        let value = HeaderValue::from_bytes(value.as_bytes()).unwrap();
        let request = Request::get("/chat")
            .header("host", "server.example.com")
            .header(SEC_WEBSOCKET_PROTOCOL, value.clone())
            .body(())
            .unwrap();
        assert_eq!(
            ClientHandshake::new(request).unwrap_err(),
            HandshakeError::InvalidProtocolHeader,
            "{value:?}"
        );
    }
    let handshake = client(&[
        ("sec-websocket-protocol", "chat"),
        ("sec-websocket-protocol", "superchat, v2.chat"),
    ])
    .unwrap();
    assert_eq!(
        handshake.request().headers()[SEC_WEBSOCKET_PROTOCOL],
        "chat, superchat, v2.chat"
    );
}

#[test]
fn r_ch_12_extensions_must_follow_the_grammar() {
    assert_eq!(
        client(&[("sec-websocket-extensions", "permessage-deflate; =1")]).unwrap_err(),
        HandshakeError::InvalidExtensionHeader
    );
    let handshake = client(&[(
        "sec-websocket-extensions",
        "permessage-deflate; client_max_window_bits",
    )])
    .unwrap();
    assert_eq!(
        handshake.request().headers()[SEC_WEBSOCKET_EXTENSIONS],
        "permessage-deflate; client_max_window_bits"
    );
}

#[test]
fn r_ch_14_caller_key_accept_or_repeated_version_is_refused() {
    assert_eq!(
        client(&[("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")]).unwrap_err(),
        HandshakeError::ConflictingHeader(SEC_WEBSOCKET_KEY)
    );
    assert_eq!(
        client(&[("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")]).unwrap_err(),
        HandshakeError::ConflictingHeader(SEC_WEBSOCKET_ACCEPT)
    );
    assert_eq!(
        client(&[
            ("sec-websocket-version", "13"),
            ("sec-websocket-version", "13")
        ])
        .unwrap_err(),
        HandshakeError::DuplicateHeader(SEC_WEBSOCKET_VERSION)
    );
}

#[test]
fn client_request_is_accepted_by_the_server() {
    let handshake = client(&[
        ("origin", "http://example.com"),
        ("cookie", "session=1"),
        ("sec-websocket-protocol", "chat, superchat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        ),
    ])
    .unwrap();
    let mut wire = BytesMut::new();
    handshake.write_request(&mut wire);
    let text = String::from_utf8(wire.to_vec()).unwrap();
    assert!(text.contains("\r\nSec-WebSocket-Key: "), "{text}");
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "{text}");

    let server = accepted(&wire);
    assert_eq!(server.key(), handshake.key());
    assert_eq!(server.protocols(), ["chat", "superchat"]);
    assert_eq!(server.request().headers()["cookie"], "session=1");
    let mut response = server.response(Some("superchat")).unwrap();
    response.headers_mut().insert(
        SEC_WEBSOCKET_EXTENSIONS,
        HeaderValue::from_str(&server.extensions()[0].to_string()).unwrap(),
    );
    let wire = write(&response);
    let (response, _) = ClientHandshake::parse_response(&wire, &Config::default())
        .unwrap()
        .unwrap();
    let accepted = handshake.check_response(&response).unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    assert_eq!(
        accepted.extensions,
        [offer(
            "permessage-deflate",
            &[("client_max_window_bits", None)]
        )]
    );
}

// ---------------------------------------------------------------------------
// Client: checking the response (RFC 6455 §4.1).

#[test]
fn r_cv_01_status_other_than_101_is_unexpected() {
    let handshake = client(&[]).unwrap();
    let bytes =
        b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\nContent-Length: 4\r\n\r\nnope";
    let (response, n) = ClientHandshake::parse_response(bytes, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(&bytes[n..], b"nope");
    assert_eq!(
        handshake.check_response(&response).unwrap_err(),
        HandshakeError::UnexpectedStatus(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(response.headers()["www-authenticate"], "Basic");
    for status in [200, 301, 302, 100] {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::from_u16(status).unwrap();
        assert_eq!(
            handshake.check_response(&response).unwrap_err(),
            HandshakeError::UnexpectedStatus(response.status())
        );
    }
}

#[test]
fn r_cv_02_upgrade_must_name_websocket() {
    let handshake = client(&[]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields[0] = "Upgrade: WebSocket".into();
    check(&handshake, &fields).unwrap();
    for upgrade in ["Upgrade: h2c", "Upgrade: websockets"] {
        fields[0] = upgrade.into();
        assert_eq!(
            check(&handshake, &fields).unwrap_err(),
            HandshakeError::MissingUpgrade
        );
    }
    fields.remove(0);
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::MissingUpgrade
    );
}

#[test]
fn r_cv_03_connection_must_list_upgrade() {
    let handshake = client(&[]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields[1] = "Connection: keep-alive, upgrade".into();
    check(&handshake, &fields).unwrap();
    fields[1] = "Connection: keep-alive".into();
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::MissingConnectionUpgrade
    );
    fields.remove(1);
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::MissingConnectionUpgrade
    );
}

#[test]
fn r_cv_04_accept_must_answer_the_key() {
    let handshake = client(&[]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields[2] = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into();
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::AcceptMismatch
    );
    fields[2] = format!("Sec-WebSocket-Accept: {}", handshake.key());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::AcceptMismatch
    );
    fields.remove(2);
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::MissingAccept
    );

    // Surrounding whitespace is trimmed, even where no parser did it.
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    let padded = format!(" \t{} ", accept_key(handshake.key().as_bytes()));
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&padded).unwrap(),
    );
    handshake.check_response(&response).unwrap();
}

#[test]
fn r_cv_05_extension_not_offered_fails() {
    let handshake = client(&[]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields.push("Sec-WebSocket-Extensions: permessage-deflate".into());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::ExtensionNotOffered
    );

    let handshake = client(&[("sec-websocket-extensions", "permessage-deflate")]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields.push("Sec-WebSocket-Extensions: x-other".into());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::ExtensionNotOffered
    );
    fields.pop();
    fields.push("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=\"".into());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::InvalidExtensionHeader
    );
}

#[test]
fn r_cv_06_protocol_not_offered_fails() {
    let handshake = client(&[("sec-websocket-protocol", "FOOBAR")]).unwrap();
    let mut fields = good_response_fields(&handshake);
    // Matching is case-sensitive.
    fields.push("Sec-WebSocket-Protocol: foobar".into());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::ProtocolNotOffered
    );

    // A protocol when none was offered.
    let handshake = client(&[]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields.push("Sec-WebSocket-Protocol: chat".into());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::ProtocolNotOffered
    );

    // The server picks one, not a list, and not an empty value.
    let handshake = client(&[("sec-websocket-protocol", "chat, superchat")]).unwrap();
    for value in ["chat, superchat", ""] {
        let mut fields = good_response_fields(&handshake);
        fields.push(format!("Sec-WebSocket-Protocol: {value}"));
        assert_eq!(
            check(&handshake, &fields).unwrap_err(),
            HandshakeError::InvalidProtocolHeader,
            "{value:?}"
        );
    }
}

#[test]
fn r_cv_07_repeated_accept_or_protocol_fails() {
    let handshake = client(&[("sec-websocket-protocol", "chat")]).unwrap();
    let mut fields = good_response_fields(&handshake);
    fields.push(fields[2].clone());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::DuplicateHeader(SEC_WEBSOCKET_ACCEPT)
    );
    let mut fields = good_response_fields(&handshake);
    fields.push("Sec-WebSocket-Protocol: chat".into());
    fields.push("Sec-WebSocket-Protocol: chat".into());
    assert_eq!(
        check(&handshake, &fields).unwrap_err(),
        HandshakeError::DuplicateHeader(SEC_WEBSOCKET_PROTOCOL)
    );
}

#[test]
fn r_cv_07_101_over_http_10_fails() {
    let handshake = client(&[]).unwrap();
    let fields = good_response_fields(&handshake);
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let bytes = head("HTTP/1.0 101 Switching Protocols", &fields);
    let (response, _) = ClientHandshake::parse_response(&bytes, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(
        handshake.check_response(&response).unwrap_err(),
        HandshakeError::OldHttpVersion
    );
}

#[test]
fn r_cv_08_accepted_reports_protocol_and_extensions() {
    let handshake = client(&[
        ("sec-websocket-protocol", "chat, superchat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits, x-foo",
        ),
    ])
    .unwrap();
    let mut fields = good_response_fields(&handshake);
    fields.push("Sec-WebSocket-Protocol: superchat".into());
    fields.push("Sec-WebSocket-Extensions: x-foo".into());
    fields.push("Sec-WebSocket-Extensions: Permessage-Deflate; server_max_window_bits=10".into());
    fields.push("Set-Cookie: id=1".into());
    let accepted = check(&handshake, &fields).unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    assert_eq!(
        accepted.extensions,
        [
            offer("x-foo", &[]),
            offer(
                "Permessage-Deflate",
                &[("server_max_window_bits", Some("10"))]
            ),
        ]
    );

    // Neither chosen: both empty (the browser layer may insist, R-CV-10).
    let accepted = check(&handshake, &good_response_fields(&handshake)).unwrap();
    assert_eq!(accepted.protocol, None);
    assert!(accepted.extensions.is_empty());
}

#[test]
fn r_cv_09_frames_after_the_101_are_left_in_the_buffer() {
    let handshake = client(&[]).unwrap();
    let fields = good_response_fields(&handshake);
    let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
    let head = head("HTTP/1.1 101 Switching Protocols", &fields);
    // Close(1001, "PASS") sent in the same packet (WPT opening-handshake/005).
    let close = [0x88, 0x06, 0x03, 0xe9, b'P', b'A', b'S', b'S'];
    let bytes = [&head[..], &close].concat();
    let (response, n) = ClientHandshake::parse_response(&bytes, &Config::default())
        .unwrap()
        .unwrap();
    assert_eq!(n, head.len());
    assert_eq!(&bytes[n..], close);
    handshake.check_response(&response).unwrap();
}

#[test]
fn client_waits_for_an_incomplete_response() {
    for end in 0..RFC_RESPONSE.len() {
        assert!(
            ClientHandshake::parse_response(&RFC_RESPONSE[..end], &Config::default())
                .unwrap()
                .is_none(),
            "{end}"
        );
    }
}

#[test]
fn client_refuses_malformed_responses() {
    for bytes in [
        &b"HTTP/1.1 1O1 Switching Protocols\r\n\r\n"[..],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade websocket\r\n\r\n",
        b"HTTP/1.1 099 Too Low\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ] {
        assert!(
            matches!(
                ClientHandshake::parse_response(bytes, &Config::default()),
                Err(HandshakeError::MalformedHead(_))
            ),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    assert_eq!(
        ClientHandshake::parse_response(
            b"HTTP/2.0 101 Switching Protocols\r\n\r\n",
            &Config::default()
        )
        .unwrap_err(),
        HandshakeError::HttpVersionNotSupported
    );
}

// ---------------------------------------------------------------------------
// No input panics.

/// A small configuration, so that the limits are reached too.
fn config_with(max_handshake_size: usize, max_headers: usize) -> Config {
    Config {
        max_handshake_size,
        max_headers,
        ..Config::default()
    }
}

/// Header-shaped text: a few relevant names with arbitrary values.
fn header_lines() -> impl Strategy<Value = Vec<u8>> {
    let name = prop::sample::select(vec![
        "Host",
        "Upgrade",
        "Connection",
        "Sec-WebSocket-Key",
        "Sec-WebSocket-Version",
        "Sec-WebSocket-Protocol",
        "Sec-WebSocket-Extensions",
        "Sec-WebSocket-Accept",
        "X",
    ]);
    let value = prop::collection::vec(
        prop::sample::select(b" \t,;=\"\\abcw13eokgpd+/x\x80\xff".to_vec()),
        0..24,
    );
    prop::collection::vec((name, value), 0..12).prop_map(|fields| {
        let mut out = Vec::new();
        for (name, value) in fields {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(&value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    })
}

proptest! {
    #[test]
    fn server_parse_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        max_size in 0usize..4096,
        max_headers in 0usize..80,
    ) {
        let config = config_with(max_size, max_headers);
        if let Ok(Some((handshake, n))) = ServerHandshake::parse(&bytes, &config) {
            prop_assert!(n <= bytes.len() && n <= max_size);
            let _ = handshake.response(handshake.protocols().first().map(String::as_str));
        }
        let _ = ServerHandshake::parse(&bytes, &Config::default());
    }

    #[test]
    fn client_parse_response_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        max_size in 0usize..4096,
        max_headers in 0usize..80,
    ) {
        let config = config_with(max_size, max_headers);
        if let Ok(Some((response, n))) = ClientHandshake::parse_response(&bytes, &config) {
            prop_assert!(n <= bytes.len() && n <= max_size);
            let _ = client(&[]).unwrap().check_response(&response);
        }
    }

    #[test]
    fn header_shaped_input_never_panics_either_side(
        lines in header_lines(),
        valid_base in any::<bool>(),
    ) {
        // With a valid base, the fuzzed fields reach the later checks
        // (protocols, extensions) instead of failing on a missing Host.
        let base = if valid_base { &request(&[])[..] } else { &b"GET / HTTP/1.1\r\n\r\n"[..] };
        let request = [&base[..base.len() - 2], &lines].concat();
        if let Ok(Some((handshake, n))) = parse(&request) {
            prop_assert_eq!(n, request.len());
            let _ = handshake.response(handshake.protocols().first().map(String::as_str));
        }
        let handshake = client(&[
            ("sec-websocket-protocol", "a, b"),
            ("sec-websocket-extensions", "x; a=1"),
        ])
        .unwrap();
        let mut response = b"HTTP/1.1 101 Switching Protocols\r\n".to_vec();
        if valid_base {
            for field in good_response_fields(&handshake) {
                response.extend_from_slice(field.as_bytes());
                response.extend_from_slice(b"\r\n");
            }
        }
        response.extend_from_slice(&lines);
        if let Ok(Some((response, _))) = ClientHandshake::parse_response(&response, &Config::default()) {
            let _ = handshake.check_response(&response);
        }
    }

    #[test]
    fn any_split_of_the_request_waits_then_completes(split in 0usize..RFC_REQUEST.len()) {
        let mut buf = RFC_REQUEST[..split].to_vec();
        prop_assert!(parse(&buf).unwrap().is_none());
        buf.extend_from_slice(&RFC_REQUEST[split..]);
        let (handshake, n) = parse(&buf).unwrap().unwrap();
        prop_assert_eq!(n, RFC_REQUEST.len());
        prop_assert_eq!(handshake.protocols(), ["chat", "superchat"]);
    }
}

// ---- RFC 8441: the same handshake as an HTTP/2 extended CONNECT ----

fn client_for(extra: &[(&str, &str)]) -> ClientHandshake {
    let mut builder = Request::get("/chat?room=1").header("host", "example.com:8443");
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    ClientHandshake::new(builder.body(()).unwrap()).unwrap()
}

#[test]
fn h2_06_h2_07_extended_connect_request() {
    let client = client_for(&[
        ("sec-websocket-protocol", "chat, superchat"),
        ("origin", "https://example.com"),
        ("cookie", "a=1"),
    ]);
    let request = client.extended_connect_request("https").unwrap();
    assert_eq!(request.method(), http::Method::CONNECT);
    assert_eq!(request.version(), http::Version::HTTP_2);
    assert_eq!(request.uri(), "https://example.com:8443/chat?room=1");
    let headers = request.headers();
    for absent in ["host", "upgrade", "connection", "sec-websocket-key"] {
        assert!(!headers.contains_key(absent), "{absent} sent over http/2");
    }
    assert_eq!(headers["sec-websocket-version"], "13");
    assert_eq!(headers["sec-websocket-protocol"], "chat, superchat");
    assert_eq!(headers["origin"], "https://example.com");
    assert_eq!(headers["cookie"], "a=1");
}

#[test]
fn h2_09_only_a_2xx_accepts_and_offers_still_bind() {
    let client = client_for(&[("sec-websocket-protocol", "chat")]);
    let answer = |status: u16, fields: &[(&str, &str)]| {
        let mut builder = http::Response::builder()
            .status(status)
            .version(http::Version::HTTP_2);
        for (name, value) in fields {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    };
    let accepted = client
        .check_extended_connect_response(&answer(200, &[("sec-websocket-protocol", "chat")]))
        .unwrap();
    assert_eq!(accepted.protocol.as_deref(), Some("chat"));
    assert!(matches!(
        client.check_extended_connect_response(&answer(101, &[])),
        Err(HandshakeError::UnexpectedStatus(_))
    ));
    assert!(matches!(
        client.check_extended_connect_response(&answer(403, &[])),
        Err(HandshakeError::UnexpectedStatus(_))
    ));
    assert!(matches!(
        client
            .check_extended_connect_response(&answer(200, &[("sec-websocket-protocol", "other")])),
        Err(HandshakeError::ProtocolNotOffered)
    ));
}

#[test]
fn h2_08_h2_09_server_checks_extended_connect_and_answers_200() {
    let request = |method: http::Method, version: &str| {
        Request::builder()
            .method(method)
            .uri("https://example.com/chat")
            .version(http::Version::HTTP_2)
            .header("sec-websocket-version", version)
            .header("sec-websocket-protocol", "chat")
            .header("sec-websocket-extensions", "permessage-deflate")
            .body(())
            .unwrap()
    };
    let handshake =
        ServerHandshake::from_extended_connect(request(http::Method::CONNECT, "13")).unwrap();
    assert!(handshake.is_extended_connect());
    assert_eq!(handshake.protocols(), ["chat"]);
    assert_eq!(handshake.extensions().len(), 1);
    let response = handshake.response(Some("chat")).unwrap();
    assert_eq!(response.status(), 200);
    for absent in ["upgrade", "connection", "sec-websocket-accept"] {
        assert!(
            !response.headers().contains_key(absent),
            "{absent} in a 200"
        );
    }
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert!(matches!(
        ServerHandshake::from_extended_connect(request(http::Method::CONNECT, "8")),
        Err(HandshakeError::UnsupportedVersion)
    ));
    assert!(matches!(
        ServerHandshake::from_extended_connect(request(http::Method::GET, "13")),
        Err(HandshakeError::MethodNotGet)
    ));
}
