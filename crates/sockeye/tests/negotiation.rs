//! The opening handshake's negotiation, one table run over every way in to
//! sockeye's server side: `ServerBuilder::accept`, `accept_with` (with a
//! callback making the default choice), `sockeye::http2::serve_connection`
//! and `serve_connection_with` (its callback making the default choice),
//! hyper over HTTP/1.1 and HTTP/2, and axum over HTTP/1.1 and HTTP/2.
//!
//! Each case is a request (method, header fields), the server's settings
//! (subprotocols, permessage-deflate, allowed origins) and the outcome: the
//! status, the subprotocol chosen, the permessage-deflate parameters agreed
//! and the fields that must (not) come with the answer. Over HTTP/2 a case
//! translates as RFC 8441 says: the method is an extended CONNECT, `Upgrade`,
//! `Connection` and `Sec-WebSocket-Key` are not sent (H2-07), success is 200
//! (H2-09), and a bad version is 400, as a 426 needs `Upgrade`. Where the
//! outcome over HTTP/2 differs, the case says so and why. After a success a
//! message goes both ways on the open socket, and the server's own view of
//! what was agreed is checked too.
#![cfg(all(feature = "axum", feature = "http2"))]

mod h2_peer;
mod support;

use std::fmt::{Debug, Write as _};
use std::net::SocketAddr;

use axum::routing::any;
use futures_util::StreamExt;
use h2_peer::{H2Client, connect_request};
use sockeye::proto::handshake::parse_extensions;
use sockeye::proto::{DeflateConfig, PerMessageDeflate};
use sockeye::{CloseCode, Message, ServerBuilder};
use support::servers::{self, Reports, client_socket};
use support::{RawPeer, SAMPLE_ACCEPT, SAMPLE_KEY, bounded};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

// ---- the table ----

/// The request line's method and version.
#[derive(Clone, Copy, Debug)]
enum Method {
    /// `GET … HTTP/1.1`; over HTTP/2 an extended CONNECT with `:protocol`
    /// `websocket` (H2-06).
    Get,
    /// `POST … HTTP/1.1`; over HTTP/2 a POST, not an extended CONNECT.
    Post,
    /// `GET … HTTP/1.0`; over HTTP/2 the version is the connection's, so the
    /// request is the extended CONNECT.
    Http10,
}

/// The `Sec-WebSocket-Key` fields (never sent over HTTP/2, H2-07).
#[derive(Clone, Copy, Debug)]
enum Key {
    /// The key of RFC 6455 §1.3, answered with [`SAMPLE_ACCEPT`].
    Sample,
    Missing,
    /// One field with this value.
    Value(&'static str),
    /// The sample key and a second, different one.
    Twice,
}

/// A client's request. Each list is a list of header fields, in order.
#[derive(Clone, Copy, Debug)]
struct Request {
    method: Method,
    upgrade: Option<&'static str>,
    connection: Option<&'static str>,
    key: Key,
    versions: &'static [&'static str],
    protocols: &'static [&'static str],
    extensions: &'static [&'static str],
    origin: Option<&'static str>,
}

/// A valid request offering nothing.
const REQUEST: Request = Request {
    method: Method::Get,
    upgrade: Some("websocket"),
    connection: Some("Upgrade"),
    key: Key::Sample,
    versions: &["13"],
    protocols: &[],
    extensions: &[],
    origin: None,
};

/// The server's settings.
#[derive(Clone, Copy, Debug)]
struct Settings {
    protocols: &'static [&'static str],
    deflate: bool,
    origins: &'static [&'static str],
}

/// The defaults: no subprotocol, no permessage-deflate, any origin.
const DEFAULTS: Settings = Settings {
    protocols: &[],
    deflate: false,
    origins: &[],
};

/// Only two origins allowed (R-SH-06).
const GUARDED: Settings = Settings {
    origins: &["https://good.example", "http://localhost:8080"],
    ..DEFAULTS
};

impl Settings {
    fn builder(self) -> ServerBuilder {
        let mut server = ServerBuilder::new().protocols(self.protocols.iter().copied());
        if self.deflate {
            server = server.deflate(Some(DeflateConfig::default()));
        }
        if !self.origins.is_empty() {
            server = server.allowed_origins(self.origins.iter().copied());
        }
        server
    }
}

/// What the server answers.
#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// 101 over HTTP/1.1, 200 over HTTP/2, with these
    /// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` values (none
    /// when `None`), and an open socket.
    Accepted {
        protocol: Option<&'static str>,
        extensions: Option<&'static str>,
    },
    /// An error status, with `Sec-WebSocket-Version: 13` when `lists_13`
    /// (R-SH-05), and over HTTP/1.1 `Upgrade: websocket` with a 426.
    Refused { status: u16, lists_13: bool },
}

/// Accepted, nothing chosen.
const OPEN: Outcome = Outcome::Accepted {
    protocol: None,
    extensions: None,
};

const fn refused(status: u16) -> Outcome {
    Outcome::Refused {
        status,
        lists_13: false,
    }
}

/// R-SH-05: 426, naming version 13 (and `websocket` in `Upgrade`).
const UPGRADE_REQUIRED: Outcome = Outcome::Refused {
    status: 426,
    lists_13: true,
};

/// The outcome over HTTP/2.
#[derive(Clone, Copy, Debug)]
enum OverH2 {
    /// As over HTTP/1.1 (with 200 for 101).
    Same,
    /// Another outcome, for the reason given.
    Differs(Outcome, &'static str),
}

/// R-SH-05 over HTTP/2 (H2-08): 400 naming version 13, as a 426 needs
/// `Upgrade`, which HTTP/2 does not have.
const H2_BAD_VERSION: OverH2 = OverH2::Differs(
    Outcome::Refused {
        status: 400,
        lists_13: true,
    },
    "R-SH-05, H2-08: a 426 needs Upgrade, which HTTP/2 does not have",
);

/// Why a case's fields do not reach an HTTP/2 server.
const HTTP1_ONLY: &str = "H2-07: Upgrade, Connection and the key are not sent over HTTP/2";

#[derive(Debug)]
struct Case {
    name: &'static str,
    request: Request,
    settings: Settings,
    http1: Outcome,
    http2: OverH2,
}

const CASES: &[Case] = &[
    Case {
        name: "R-SH-10: a plain request is accepted, nothing chosen (R-SH-08)",
        request: REQUEST,
        settings: DEFAULTS,
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-03: Upgrade and Connection are token lists in any case",
        request: Request {
            upgrade: Some("WebSocket"),
            connection: Some("keep-alive, upgrade"),
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: OPEN,
        http2: OverH2::Differs(OPEN, HTTP1_ONLY),
    },
    Case {
        name: "R-SH-03: no Upgrade is 426 naming websocket, version 13 (R-SH-05)",
        request: Request {
            upgrade: None,
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: UPGRADE_REQUIRED,
        http2: OverH2::Differs(OPEN, HTTP1_ONLY),
    },
    Case {
        name: "R-SH-03: a GET without any WebSocket field is 426",
        request: Request {
            upgrade: None,
            connection: None,
            key: Key::Missing,
            versions: &[],
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: UPGRADE_REQUIRED,
        http2: OverH2::Differs(
            Outcome::Refused {
                status: 400,
                lists_13: true,
            },
            "R-SH-05, H2-08: a CONNECT without a version",
        ),
    },
    Case {
        name: "R-SH-03: no Connection is 400",
        request: Request {
            connection: None,
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Differs(OPEN, HTTP1_ONLY),
    },
    Case {
        name: "R-SH-02: POST is 400",
        request: Request {
            method: Method::Post,
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-02: HTTP/1.0 is 400",
        request: Request {
            method: Method::Http10,
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Differs(OPEN, "the version is the connection's over HTTP/2"),
    },
    Case {
        name: "R-SH-04: no key is 400",
        request: Request {
            key: Key::Missing,
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Differs(OPEN, HTTP1_ONLY),
    },
    Case {
        name: "R-SH-04: a key of 15 bytes is 400",
        request: Request {
            key: Key::Value("AQEBAQEBAQEBAQEBAQEB"),
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Differs(OPEN, HTTP1_ONLY),
    },
    Case {
        name: "R-SH-13: two keys are 400",
        request: Request {
            key: Key::Twice,
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Differs(OPEN, HTTP1_ONLY),
    },
    Case {
        name: "R-SH-05: version 8 is 426 listing 13",
        request: Request {
            versions: &["8"],
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: UPGRADE_REQUIRED,
        http2: H2_BAD_VERSION,
    },
    Case {
        name: "R-SH-05: no version is 426 listing 13",
        request: Request {
            versions: &[],
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: UPGRADE_REQUIRED,
        http2: H2_BAD_VERSION,
    },
    Case {
        name: "R-SH-13: two version fields are 400",
        request: Request {
            versions: &["13", "13"],
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: refused(400),
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-08: the client's first choice among the server's",
        request: Request {
            protocols: &["chat.v3, chat.v2, chat.v1"],
            ..REQUEST
        },
        settings: Settings {
            protocols: &["chat.v1", "chat.v2"],
            ..DEFAULTS
        },
        http1: Outcome::Accepted {
            protocol: Some("chat.v2"),
            extensions: None,
        },
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-08: offers in two fields are one list",
        request: Request {
            protocols: &["a", "b, c"],
            ..REQUEST
        },
        settings: Settings {
            protocols: &["c", "b"],
            ..DEFAULTS
        },
        http1: Outcome::Accepted {
            protocol: Some("b"),
            extensions: None,
        },
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-08: none in common, no Sec-WebSocket-Protocol",
        request: Request {
            protocols: &["nope"],
            ..REQUEST
        },
        settings: Settings {
            protocols: &["chat"],
            ..DEFAULTS
        },
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-08: nothing offered, nothing chosen",
        request: REQUEST,
        settings: Settings {
            protocols: &["chat"],
            ..DEFAULTS
        },
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "PMD-02: declined when the server has deflate off",
        request: Request {
            extensions: &["permessage-deflate; client_max_window_bits"],
            ..REQUEST
        },
        settings: DEFAULTS,
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "PMD-16: the browser's offer is accepted",
        request: Request {
            extensions: &["permessage-deflate; client_max_window_bits"],
            ..REQUEST
        },
        settings: Settings {
            deflate: true,
            ..DEFAULTS
        },
        http1: Outcome::Accepted {
            protocol: None,
            extensions: Some("permessage-deflate"),
        },
        http2: OverH2::Same,
    },
    Case {
        name: "PMD-01, PMD-15: the first acceptable offer (8 bits is not)",
        request: Request {
            extensions: &["x-foo, permessage-deflate; server_max_window_bits=8, \
                           permessage-deflate; client_max_window_bits=10, permessage-deflate"],
            ..REQUEST
        },
        settings: Settings {
            deflate: true,
            ..DEFAULTS
        },
        http1: Outcome::Accepted {
            protocol: None,
            extensions: Some("permessage-deflate; client_max_window_bits=10"),
        },
        http2: OverH2::Same,
    },
    Case {
        name: "PMD-01, PMD-10: offers in two fields are one list (R-HV-04)",
        request: Request {
            extensions: &[
                "permessage-deflate; foo",
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            ],
            ..REQUEST
        },
        settings: Settings {
            deflate: true,
            ..DEFAULTS
        },
        http1: Outcome::Accepted {
            protocol: None,
            extensions: Some(
                "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            ),
        },
        http2: OverH2::Same,
    },
    Case {
        name: "PMD-10: an offer with a repeated parameter is declined, not refused",
        request: Request {
            extensions: &["permessage-deflate; server_no_context_takeover; \
                           server_no_context_takeover"],
            ..REQUEST
        },
        settings: Settings {
            deflate: true,
            ..DEFAULTS
        },
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "R-HV-03: a malformed Sec-WebSocket-Extensions is 400",
        request: Request {
            extensions: &["permessage-deflate; server_max_window_bits="],
            ..REQUEST
        },
        settings: Settings {
            deflate: true,
            ..DEFAULTS
        },
        http1: refused(400),
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-08, PMD-01: subprotocol and deflate together (H2-08)",
        request: Request {
            protocols: &["other, chat"],
            extensions: &["permessage-deflate; client_max_window_bits"],
            ..REQUEST
        },
        settings: Settings {
            protocols: &["chat"],
            deflate: true,
            ..DEFAULTS
        },
        http1: Outcome::Accepted {
            protocol: Some("chat"),
            extensions: Some("permessage-deflate"),
        },
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-06: an origin not allowed is 403, nothing negotiated",
        request: Request {
            origin: Some("https://evil.example"),
            protocols: &["chat"],
            extensions: &["permessage-deflate"],
            ..REQUEST
        },
        settings: Settings {
            protocols: &["chat"],
            deflate: true,
            ..GUARDED
        },
        http1: refused(403),
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-06: allowed origins compare without regard to case",
        request: Request {
            origin: Some("HTTPS://Good.Example"),
            ..REQUEST
        },
        settings: GUARDED,
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-06: any allowed origin is let through",
        request: Request {
            origin: Some("http://localhost:8080"),
            ..REQUEST
        },
        settings: GUARDED,
        http1: OPEN,
        http2: OverH2::Same,
    },
    Case {
        name: "R-SH-06: no Origin (not a browser) is let through",
        request: REQUEST,
        settings: GUARDED,
        http1: OPEN,
        http2: OverH2::Same,
    },
];

// ---- the entry points ----

/// A way in to sockeye's server side, and the HTTP version spoken to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entry {
    Accept,
    AcceptWith,
    Http2ServeConnection,
    Http2ServeConnectionWith,
    HyperHttp1,
    HyperHttp2,
    AxumHttp1,
    AxumHttp2,
}

impl Entry {
    fn is_http2(self) -> bool {
        matches!(
            self,
            Entry::Http2ServeConnection
                | Entry::Http2ServeConnectionWith
                | Entry::HyperHttp2
                | Entry::AxumHttp2
        )
    }

    /// Starts this entry point's echo server with `settings`.
    async fn serve(self, settings: Settings) -> (SocketAddr, Reports) {
        let server = settings.builder();
        match self {
            Entry::Accept => servers::accept_server(server).await,
            Entry::AcceptWith => {
                let protocols = settings.protocols.iter().map(|p| (*p).to_owned());
                servers::accept_with_server(server, protocols.collect()).await
            }
            Entry::Http2ServeConnection => servers::http2_server(server).await,
            Entry::Http2ServeConnectionWith => {
                let protocols = settings.protocols.iter().map(|p| (*p).to_owned());
                http2_with_server(server, protocols.collect()).await
            }
            Entry::HyperHttp1 | Entry::HyperHttp2 => servers::hyper_server(server).await,
            Entry::AxumHttp1 | Entry::AxumHttp2 => {
                let router = axum::Router::new().route("/", any(servers::axum_echo));
                servers::axum_server(router, server).await
            }
        }
    }
}

/// `sockeye::http2::serve_connection_with` on every connection (cleartext
/// HTTP/2), with a callback that makes the default choice: the client's
/// first subprotocol among `protocols`.
async fn http2_with_server(server: ServerBuilder, protocols: Vec<String>) -> (SocketAddr, Reports) {
    let (report, reports) = tokio::sync::mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("nodelay");
            let (server, report, protocols) = (server.clone(), report.clone(), protocols.clone());
            tokio::spawn(async move {
                let accept = |request: sockeye::UpgradeRequest| {
                    let accept = match request.select_protocol(&protocols) {
                        Some(protocol) => sockeye::Accept::new().protocol(protocol),
                        None => sockeye::Accept::new(),
                    };
                    async move { Ok((accept, ())) }
                };
                let on_open = |ws, ()| servers::echo_and_report(ws, report.clone());
                let stop = std::future::pending();
                let _ = sockeye::http2::serve_connection_with(&server, tcp, stop, accept, on_open)
                    .await;
            });
        }
    });
    (address, reports)
}

// ---- checking ----

/// The differences found in one case, reported together.
struct Check {
    case: &'static str,
    entry: Entry,
    /// Why the outcome differs over HTTP/2, if it does.
    why: Option<&'static str>,
    failures: Vec<String>,
}

impl Check {
    #[expect(
        clippy::needless_pass_by_value,
        reason = "called with values made for the comparison"
    )]
    fn eq<T: PartialEq + Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.failures
                .push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }

    fn finish(self) -> Vec<String> {
        self.failures
            .into_iter()
            .map(|failure| match self.why {
                Some(why) => format!("{:?} / {} ({why}): {failure}", self.entry, self.case),
                None => format!("{:?} / {}: {failure}", self.entry, self.case),
            })
            .collect()
    }
}

/// The values of a field, in order (several fields, or none).
fn all<'a>(values: impl Iterator<Item = &'a str>) -> Vec<String> {
    values.map(str::to_owned).collect()
}

/// An expected field: one value, or none.
fn field(value: Option<&str>) -> Vec<String> {
    value.map(str::to_owned).into_iter().collect()
}

/// The HTTP/1.1 request head for `request`.
fn http1_head(request: &Request) -> String {
    let (method, version) = match request.method {
        Method::Get => ("GET", "HTTP/1.1"),
        Method::Post => ("POST", "HTTP/1.1"),
        Method::Http10 => ("GET", "HTTP/1.0"),
    };
    let mut head = format!("{method} / {version}\r\nHost: localhost\r\n");
    let mut add = |name: &str, value: &str| {
        let _ = write!(head, "{name}: {value}\r\n");
    };
    if let Some(upgrade) = request.upgrade {
        add("Upgrade", upgrade);
    }
    if let Some(connection) = request.connection {
        add("Connection", connection);
    }
    match request.key {
        Key::Sample => add("Sec-WebSocket-Key", SAMPLE_KEY),
        Key::Missing => {}
        Key::Value(key) => add("Sec-WebSocket-Key", key),
        Key::Twice => {
            add("Sec-WebSocket-Key", SAMPLE_KEY);
            add("Sec-WebSocket-Key", "AQIDBAUGBwgJCgsMDQ4PEA==");
        }
    }
    add_common(request, &mut add);
    head.push_str("\r\n");
    head
}

/// The fields that HTTP/1.1 and HTTP/2 requests share (H2-08).
fn add_common(request: &Request, add: &mut impl FnMut(&str, &str)) {
    for version in request.versions {
        add("Sec-WebSocket-Version", version);
    }
    for protocols in request.protocols {
        add("Sec-WebSocket-Protocol", protocols);
    }
    for extensions in request.extensions {
        add("Sec-WebSocket-Extensions", extensions);
    }
    if let Some(origin) = request.origin {
        add("Origin", origin);
    }
}

/// The agreed parameters as the client reads them from the answer: the
/// response's own (PMD-14).
fn agreed(extensions: &[String]) -> Option<PerMessageDeflate> {
    let values: Vec<http::HeaderValue> = extensions
        .iter()
        .map(|value| value.parse().expect("a header value"))
        .collect();
    let answer = parse_extensions(&values).expect("a valid extension answer");
    let element = answer.first()?;
    Some(
        DeflateConfig::default()
            .accept_response(element)
            .expect("an answer the client accepts"),
    )
}

/// Runs one case over one entry point; returns what differs.
async fn run(case: &'static Case, entry: Entry) -> Vec<String> {
    let (outcome, why) = match (entry.is_http2(), case.http2) {
        (false, _) | (true, OverH2::Same) => (case.http1, None),
        (true, OverH2::Differs(outcome, why)) => (outcome, Some(why)),
    };
    let mut check = Check {
        case: case.name,
        entry,
        why,
        failures: Vec::new(),
    };
    let (address, mut reports) = entry.serve(case.settings).await;
    if entry.is_http2() {
        run_http2(&mut check, case, address, outcome, &mut reports).await;
    } else {
        run_http1(&mut check, case, address, outcome, &mut reports).await;
    }
    check.finish()
}

async fn run_http1(
    check: &mut Check,
    case: &Case,
    address: SocketAddr,
    outcome: Outcome,
    reports: &mut Reports,
) {
    let tcp = TcpStream::connect(address).await.expect("connect");
    let mut raw = RawPeer::client(tcp);
    raw.write(http1_head(&case.request).as_bytes()).await;
    let head = raw.read_head().await;
    let extensions = all(head.get_all("sec-websocket-extensions").into_iter());
    check_common(check, &head.headers, outcome, 101, head.status());
    match outcome {
        Outcome::Accepted { .. } => {
            check.eq(
                "the status line",
                head.start.as_str(),
                "HTTP/1.1 101 Switching Protocols",
            );
            // R-SH-10: from the key as received, once.
            check.eq(
                "Sec-WebSocket-Accept",
                all(head.get_all("sec-websocket-accept").into_iter()),
                field(Some(SAMPLE_ACCEPT)),
            );
            check.eq(
                "Upgrade",
                head.get("upgrade").map(str::to_ascii_lowercase),
                Some("websocket".to_owned()),
            );
            check.eq(
                "Connection",
                head.get("connection").map(str::to_ascii_lowercase),
                Some("upgrade".to_owned()),
            );
            if check.failures.is_empty() {
                let buffered = raw.buffered().to_vec();
                let ws = client_socket(raw.into_inner(), &buffered, agreed(&extensions));
                round_trip(check, ws, outcome, reports).await;
            }
        }
        Outcome::Refused { status, .. } => {
            let upgrade = (status == 426).then_some("websocket");
            check.eq("Upgrade", head.get("upgrade"), upgrade);
            // R-SH-15: the connection closes after the answer's body.
            check.eq("Connection", head.get("connection"), Some("close"));
            let length = head.get("content-length").map(str::parse::<usize>);
            let body = raw.read_to_end().await;
            check.eq("the body's length", length, Some(Ok(body.len())));
        }
    }
}

async fn run_http2(
    check: &mut Check,
    case: &Case,
    address: SocketAddr,
    outcome: Outcome,
    reports: &mut Reports,
) {
    let mut h2 = H2Client::connect(address).await;
    check.eq(
        "SETTINGS_ENABLE_CONNECT_PROTOCOL (H2-01)",
        h2.extended_connect_enabled(),
        true,
    );
    let (mut request, protocol) = match case.request.method {
        Method::Get | Method::Http10 => (connect_request(address, "/"), Some("websocket")),
        Method::Post => {
            let post = http::Request::post(format!("http://{address}/")).body(());
            (post.expect("a request"), None)
        }
    };
    add_common(&case.request, &mut |name, value| {
        request.headers_mut().append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
            value.parse().expect("a value"),
        );
    });
    let (head, stream) = h2.open(request, protocol).await;
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|(name, value)| {
            let value = value.to_str().expect("an ASCII value");
            (name.as_str().to_owned(), value.to_owned())
        })
        .collect();
    check_common(check, &headers, outcome, 200, head.status.as_u16());
    // H2-07: none of HTTP/1.1's upgrade fields, and no accept value.
    for name in ["sec-websocket-accept", "upgrade", "connection"] {
        check.eq(name, head.headers.contains_key(name), false);
    }
    if matches!(outcome, Outcome::Accepted { .. }) && check.failures.is_empty() {
        let extensions = all(head
            .headers
            .get_all("sec-websocket-extensions")
            .iter()
            .map(|value| value.to_str().expect("an ASCII value")));
        let ws = client_socket(stream, &[], agreed(&extensions));
        round_trip(check, ws, outcome, reports).await;
    }
}

/// The checks that do not depend on the HTTP version: the status, and the
/// negotiation's fields.
fn check_common(
    check: &mut Check,
    headers: &[(String, String)],
    outcome: Outcome,
    success: u16,
    status: u16,
) {
    let values = |name: &str| {
        all(headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str()))
    };
    match outcome {
        Outcome::Accepted {
            protocol,
            extensions,
        } => {
            check.eq("the status", status, success);
            // R-SH-08: one of the offers, at most once; none if none.
            check.eq(
                "Sec-WebSocket-Protocol",
                values("sec-websocket-protocol"),
                field(protocol),
            );
            // R-SH-09, PMD-02: only what was offered, once.
            check.eq(
                "Sec-WebSocket-Extensions",
                values("sec-websocket-extensions"),
                field(extensions),
            );
            check.eq(
                "Sec-WebSocket-Version",
                values("sec-websocket-version"),
                vec![],
            );
        }
        Outcome::Refused {
            status: want,
            lists_13,
        } => {
            check.eq("the status", status, want);
            check.eq(
                "Sec-WebSocket-Protocol",
                values("sec-websocket-protocol"),
                vec![],
            );
            check.eq(
                "Sec-WebSocket-Extensions",
                values("sec-websocket-extensions"),
                vec![],
            );
            check.eq(
                "Sec-WebSocket-Version",
                values("sec-websocket-version"),
                field(lists_13.then_some("13")),
            );
        }
    }
}

/// After a success: a message each way over the open socket (compressed
/// when deflate was agreed), a clean close, and the server's own view of
/// what was agreed.
async fn round_trip<S>(
    check: &mut Check,
    mut ws: sockeye::WebSocket<S>,
    outcome: Outcome,
    reports: &mut Reports,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Outcome::Accepted {
        protocol,
        extensions,
    } = outcome
    else {
        unreachable!("a round trip after a refusal");
    };
    let message = Message::text("negotiated ".repeat(100));
    ws.send(message.clone()).await.expect("sent");
    let echo = ws.next().await.expect("an echo").expect("a message");
    check.eq("the echo", echo, message);
    ws.close(CloseCode::NORMAL, "")
        .await
        .expect("a clean close");
    let served = reports.recv().await.expect("the server's report");
    check.eq(
        "the server's protocol",
        served.protocol.as_deref(),
        protocol,
    );
    check.eq(
        "the server's deflate",
        served.deflate.as_deref(),
        extensions,
    );
    check.eq("the server's close", served.close, Some(CloseCode::NORMAL));
}

/// Runs every case over `entry` and fails listing every difference.
async fn run_table(entry: Entry) {
    let mut failures = Vec::new();
    for case in CASES {
        failures.extend(bounded(run(case, entry)).await);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// One test per entry point, each running the whole table.
macro_rules! tables {
    ($($name:ident: $entry:ident,)*) => {$(
        #[tokio::test]
        async fn $name() {
            run_table(Entry::$entry).await;
        }
    )*};
}

tables! {
    negotiation_over_accept: Accept,
    negotiation_over_accept_with_the_default_choice: AcceptWith,
    negotiation_over_http2_serve_connection: Http2ServeConnection,
    negotiation_over_http2_serve_connection_with_the_default_choice: Http2ServeConnectionWith,
    negotiation_over_hyper_http1: HyperHttp1,
    negotiation_over_hyper_http2: HyperHttp2,
    negotiation_over_axum_http1: AxumHttp1,
    negotiation_over_axum_http2: AxumHttp2,
}

/// The table itself: every case names the checklist rule it checks.
#[test]
fn every_case_names_its_rule() {
    for case in CASES {
        let named = ["R-SH-", "R-HV-", "H2-", "PMD-"]
            .iter()
            .any(|prefix| case.name.contains(prefix));
        assert!(named, "{}", case.name);
    }
}
