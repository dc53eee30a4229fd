//! `sockeye::web`: the browser's WebSocket interface, against real sockeye
//! servers (and hand-written ones) over loopback. Test names start with the
//! checklist ID they check (`spec/checklist.md` §4); the WPT case they port
//! is named in the doc comment.
//!
//! Rules of §4 with no test here, because they cannot arise outside a
//! browser or in Rust's types:
//! - W-CTOR-09 (extra arguments), W-RS-03 (writes to getters), W-SEND-07's
//!   `null`, W-BT-02 (an invalid `binaryType` string): the types rule them
//!   out; `BinaryType` is an enum and the getters have no setters.
//! - W-SEND-05 (lone surrogates): `send` takes `&str`/`String`, always valid
//!   UTF-8.
//! - W-EV-02, W-EV-03 (DOM event classes, listener order): events are one
//!   Rust enum, taken in order by one consumer; `Handlers` has one callback
//!   per kind.
//! - W-EST-05 (HSTS): there is no HSTS store outside a browser.
//! - W-SEND-04 (data that cannot be buffered): the handle's queue has no cap
//!   of its own; applications bound it with `buffered_amount` and
//!   `wait_buffered_below`, as the standard advises.
//! - W-GC-03 (the document goes away): a runtime shut down drops the
//!   background task with its socket; nothing more can be sent.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
use sockeye::web::{
    BinaryType, CloseEvent, DomError, Event, Handlers, MessageData, ReadyState, WebSocket,
};
use sockeye::{Accept, CloseCode, CloseFrame, Message, ServerBuilder};
use support::{RawPeer, bounded, frame, op};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

type ServerSocket = sockeye::WebSocket<TcpStream>;

/// A loopback listener and its `ws://` URL (without a path).
async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("local address"));
    (listener, url)
}

/// Serves one connection with `server`, choosing the subprotocol with
/// `pick`, then runs `behave` on it.
async fn serve<F, Fut, T>(
    server: ServerBuilder,
    pick: fn(&[String]) -> Option<String>,
    behave: F,
) -> (String, JoinHandle<T>)
where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let (listener, url) = listen().await;
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let ws = server
            .accept_with(tcp, |request| {
                let chosen = pick(request.protocols());
                async move {
                    Ok(match chosen {
                        Some(protocol) => Accept::new().protocol(protocol),
                        None => Accept::new(),
                    })
                }
            })
            .await
            .expect("the server accepts");
        behave(ws).await
    });
    (url, task)
}

/// WPT's `echo` handler picks `echo` when offered.
fn echo_protocol(offered: &[String]) -> Option<String> {
    offered.iter().find(|p| *p == "echo").cloned()
}

fn no_protocol(_: &[String]) -> Option<String> {
    None
}

/// WPT's `echo`: echoes every message; on "Goodbye" closes with 1000 and
/// that reason. Returns the client's Close frame, if the close was clean.
async fn echo<S>(mut ws: sockeye::WebSocket<S>) -> Option<CloseFrame>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = ws.next().await {
        let message = message.ok()?;
        if message.as_text() == Some("Goodbye") {
            ws.close(CloseCode::NORMAL, "Goodbye").await.ok()?;
            return ws.close_frame().cloned();
        }
        ws.send(message).await.ok()?;
    }
    ws.close_frame().cloned()
}

/// An echo server for one connection; its URL with `path`.
async fn echo_server(path: &str) -> (String, JoinHandle<Option<CloseFrame>>) {
    let (url, task) = serve(ServerBuilder::new(), echo_protocol, echo).await;
    (format!("{url}{path}"), task)
}

/// The next event, which must come in time.
async fn next(ws: &WebSocket) -> Event {
    bounded(ws.next_event())
        .await
        .expect("an event before the end")
}

async fn expect_open(ws: &WebSocket) {
    assert_eq!(next(ws).await, Event::Open);
    assert_eq!(ws.ready_state(), ReadyState::Open);
}

async fn expect_close(ws: &WebSocket) -> CloseEvent {
    match next(ws).await {
        Event::Close(close) => {
            assert_eq!(ws.ready_state(), ReadyState::Closed);
            assert_eq!(
                bounded(ws.next_event()).await,
                None,
                "close is the last event"
            );
            close
        }
        other => panic!("expected close, got {other:?}"),
    }
}

/// W-EV-04: error first (already CLOSED, events/015), then a close event
/// with 1006 that is not clean (W-EV-07).
async fn expect_failure(ws: &WebSocket) {
    assert_eq!(next(ws).await, Event::Error);
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    let close = expect_close(ws).await;
    assert_eq!(
        close,
        CloseEvent {
            was_clean: false,
            code: 1006,
            reason: String::new()
        }
    );
}

async fn expect_text(ws: &WebSocket, text: &str) {
    match next(ws).await {
        Event::Message(message) => assert_eq!(message.data.as_text(), Some(text)),
        other => panic!("expected {text:?}, got {other:?}"),
    }
}

// ---- constructor (W-CTOR-*) ----

/// `Create-invalid-urls`, `Create-url-with-space`, `Create-non-absolute-url`
/// (no base URL in Rust: relative input is refused).
#[tokio::test]
async fn w_ctor_01_unparsable_urls_are_syntax_errors() {
    for url in [
        "ws://foo bar.com/",
        "wss://foo bar.com/",
        "test",
        "?",
        "null",
        "123",
        "ws://",
        "ws://[::1",
    ] {
        let error = WebSocket::new(url, &[]).expect_err(url);
        assert!(matches!(error, DomError::InvalidUrl(_)), "{url}: {error:?}");
        assert_eq!(error.name(), "SyntaxError");
    }
}

/// `Create-http-urls`.
#[tokio::test]
async fn w_ctor_02_http_urls_become_ws() {
    // Nothing listens on port 9 here; the sockets are dropped at once.
    let ws = WebSocket::new("http://127.0.0.1:9/", &[]).unwrap();
    assert_eq!(ws.url(), "ws://127.0.0.1:9/");
    let ws = WebSocket::new("https://127.0.0.1:9/", &[]).unwrap();
    assert_eq!(ws.url(), "wss://127.0.0.1:9/");
}

/// `Create-http-urls` end to end: an `http:` URL reaches a WebSocket server.
#[tokio::test]
async fn w_ctor_02_http_url_connects() {
    let (url, _server) = echo_server("/x").await;
    let url = url.replacen("ws:", "http:", 1);
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    assert!(ws.url().starts_with("ws://127.0.0.1:"));
}

/// `Create-invalid-urls`: ftp, mailto, about:blank.
#[tokio::test]
async fn w_ctor_03_other_schemes_are_syntax_errors() {
    for url in [
        "ftp://h/",
        "mailto:nobody@example.com",
        "about:blank",
        "file:///tmp",
    ] {
        let error = WebSocket::new(url, &[]).expect_err(url);
        assert!(
            matches!(error, DomError::UnsupportedScheme(_)),
            "{url}: {error:?}"
        );
        assert_eq!(error.name(), "SyntaxError");
    }
}

/// `Create-invalid-urls`: fragments, even empty ones.
#[tokio::test]
async fn w_ctor_04_fragments_are_syntax_errors() {
    for url in ["ws://h/#", "ws://h/#test", "http://h/?q#f", "ws://h#"] {
        assert_eq!(
            WebSocket::new(url, &[]).unwrap_err(),
            DomError::Fragment,
            "{url}"
        );
    }
}

/// `constructor/004`, `/007`, `Create-protocol-with-space`,
/// `Create-asciiSep-protocol-string`, `Create-nonAscii-protocol-string`,
/// `constructor/021`.
#[tokio::test]
async fn w_ctor_05_invalid_protocol_tokens_are_syntax_errors() {
    for protocol in [
        "",
        "\u{1}",
        "\u{1f}",
        "\u{0}",
        "\u{7f}",
        "é",
        "a b",
        " ",
        "/echo",
        "foobar, foobar",
    ] {
        let error = WebSocket::new("ws://h/", &["chat", protocol]).expect_err(protocol);
        assert_eq!(error, DomError::InvalidProtocol(protocol.to_owned()));
        assert_eq!(error.name(), "SyntaxError");
    }
}

/// `Create-protocols-repeated`, `Create-protocols-repeated-case-insensitive`.
#[tokio::test]
async fn w_ctor_06_duplicate_protocols_are_syntax_errors() {
    assert_eq!(
        WebSocket::new("ws://h/", &["echo", "echo"]).unwrap_err(),
        DomError::DuplicateProtocol("echo".into())
    );
    assert_eq!(
        WebSocket::new("ws://h/", &["echo", "eCho"]).unwrap_err(),
        DomError::DuplicateProtocol("eCho".into())
    );
}

/// The constructor does no I/O and never reports network errors: a refused
/// connection comes as error, then close 1006 (W-EV-07).
#[tokio::test]
async fn w_ctor_07_connection_refused_is_error_then_close() {
    let (listener, url) = listen().await;
    drop(listener);
    let ws = WebSocket::new(&url, &[]).expect("the constructor does no i/o");
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    expect_failure(&ws).await;
    assert!(ws.take_failure().is_some_and(|e| e.is_io()));
}

/// W-URL-01, `url/001`, `url/resolve`, `constructor/019`, `constructor/008`.
#[tokio::test]
async fn w_ctor_08_url_is_serialised() {
    let cases = [
        ("ws://127.0.0.1:9", "ws://127.0.0.1:9/"),
        ("ws://127.0.0.1:9/?a b", "ws://127.0.0.1:9/?a%20b"),
        ("ws://127.0.0.1:9/?€", "ws://127.0.0.1:9/?%E2%82%AC"),
        ("WS://LOCALHOST:9/", "ws://localhost:9/"),
        ("ws://localhost:80/", "ws://localhost/"),
        ("ws://localhost:443/", "ws://localhost:443/"),
        ("wss://localhost:80/", "wss://localhost:80/"),
        (" ws://127.0.0.1:9/?a\u{0}b\u{1}", "ws://127.0.0.1:9/?a%00b"),
    ];
    for (input, url) in cases {
        assert_eq!(WebSocket::new(input, &[]).unwrap().url(), url, "{input}");
    }
}

/// `basic-auth`: credentials in the URL are sent as basic authentication.
#[tokio::test]
async fn w_ctor_10_credentials_become_basic_auth() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        ServerBuilder::new()
            .accept_with(tcp, |request| {
                let auth = request
                    .headers()
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                async move {
                    if auth.as_deref() == Some("Basic Zm9vOmJhcg==") {
                        Ok(Accept::new())
                    } else {
                        Err(http::Response::builder()
                            .status(401)
                            .body(Bytes::new())
                            .unwrap())
                    }
                }
            })
            .await
            .ok()
    });
    let url = url.replacen("ws://", "ws://foo:bar@", 1) + "/basic_auth";
    let ws = WebSocket::new(&url, &[]).unwrap();
    assert!(ws.url().starts_with("ws://foo:bar@127.0.0.1:"));
    expect_open(&ws).await;
    drop(ws);
    assert!(server.await.unwrap().is_some(), "the server accepted");
}

/// W-EST-01: the request target is the serialised path and query, as
/// the URL parser percent-encoded them.
#[tokio::test]
async fn w_est_01_resource_name_from_the_parsed_url() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut target = String::new();
        let ws = ServerBuilder::new()
            .accept_with(tcp, |request| {
                target = request.uri().to_string();
                async { Ok(Accept::new()) }
            })
            .await
            .unwrap();
        drop(ws);
        target
    });
    let ws = WebSocket::new(&format!("{url}/a b/../é?x={{y}}|z^`'\"#"), &[]);
    assert_eq!(ws.unwrap_err(), DomError::Fragment);
    let ws = WebSocket::new(&format!("{url}/a b/./é/?x={{y}}|z^`'\" €"), &[]).unwrap();
    expect_open(&ws).await;
    assert_eq!(
        bounded(server).await.unwrap(),
        "/a%20b/%C3%A9/?x={y}|z^`%27%22%20%E2%82%AC"
    );
}

// ---- establishing the connection, readyState (W-RS-*, W-PROT-*, W-EXT-*) ----

/// W-CLOSE-05, `readyState/001`, `/006`, `/007`, `/008`,
/// `Close-readyState-Closing`, `Close-readyState-Closed`: CONNECTING, OPEN
/// when the open event is taken, CLOSING synchronously in `close()`, CLOSED
/// with the close event.
#[tokio::test]
async fn w_rs_ready_state_transitions() {
    let (url, server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    assert_eq!(ws.ready_state().as_u16(), WebSocket::CONNECTING);
    expect_open(&ws).await;
    assert_eq!(ws.ready_state().as_u16(), WebSocket::OPEN);
    ws.close(None, None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    assert_eq!(ws.ready_state().as_u16(), WebSocket::CLOSING);
    let close = expect_close(&ws).await;
    assert_eq!(ws.ready_state().as_u16(), WebSocket::CLOSED);
    // `Close-1005-verify-code`, `closing-handshake/003`: no code → 1005.
    assert_eq!(
        close,
        CloseEvent {
            was_clean: true,
            code: 1005,
            reason: String::new()
        }
    );
    let received = server.await.unwrap().expect("a clean close");
    assert_eq!(received.code, CloseCode::NO_STATUS_RECEIVED);
}

/// `constants/001-004`.
#[test]
fn w_rs_constants() {
    assert_eq!(
        [
            WebSocket::CONNECTING,
            WebSocket::OPEN,
            WebSocket::CLOSING,
            WebSocket::CLOSED
        ],
        [0, 1, 2, 3]
    );
    let states = [
        ReadyState::Connecting,
        ReadyState::Open,
        ReadyState::Closing,
        ReadyState::Closed,
    ];
    assert_eq!(states.map(u16::from), [0, 1, 2, 3]);
}

/// W-RS-01: messages that arrive but are not yet taken when `close()` is
/// called are dropped. The server sends three messages and then its Close;
/// once it has the client's reply, the three are in the client's queue.
#[tokio::test]
async fn w_rs_01_no_message_events_after_close() {
    let (url, server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        for i in 0..3 {
            ws.send(Message::text(format!("m{i}"))).await.unwrap();
        }
        ws.close(CloseCode::from(4000), "bye").await.unwrap();
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    bounded(server).await.unwrap();
    ws.close(Some(1000), None).unwrap();
    let close = expect_close(&ws).await;
    // The server's Close came first: its code is the one reported.
    assert_eq!(
        (close.was_clean, close.code, close.reason.as_str()),
        (true, 4000, "bye")
    );
}

/// `Create-valid-url-protocol-empty`, `protocol-initial`,
/// W-RS-02, `Create-valid-url-protocol-setCorrectly`: "" before open, then
/// the server's choice, set in the step that gives the open event.
#[tokio::test]
async fn w_prot_01_protocol_is_set_at_open() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &["echo"]).unwrap();
    assert_eq!(ws.protocol(), "");
    expect_open(&ws).await;
    assert_eq!(ws.protocol(), "echo");
}

/// `constructor/022`: with several offered, the one the server picked.
#[tokio::test]
async fn w_prot_01_protocol_from_an_array() {
    let (url, _server) = serve(
        ServerBuilder::new(),
        |offered| offered.first().cloned(),
        echo,
    )
    .await;
    let ws = WebSocket::new(&url, &["foo", "bar", "baz"]).unwrap();
    expect_open(&ws).await;
    assert_eq!(ws.protocol(), "foo");
}

/// `constructor/012` (W-EST-04): a subprotocol was offered and the server
/// chose none: the connection fails and never opens.
#[tokio::test]
async fn w_est_04_no_protocol_chosen_fails() {
    let (url, _server) = serve(ServerBuilder::new(), no_protocol, echo).await;
    let ws = WebSocket::new(&url, &["echo"]).unwrap();
    expect_failure(&ws).await;
    assert_eq!(ws.protocol(), "");
}

/// `constructor/010`: the server chose a subprotocol not offered.
#[tokio::test]
async fn w_est_04_protocol_not_offered_fails() {
    let (listener, url) = listen().await;
    let _server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.server_handshake_with("Sec-WebSocket-Protocol: foobar\r\n", &[])
            .await;
        raw.read_to_end().await
    });
    let ws = WebSocket::new(&url, &["echo"]).unwrap();
    expect_failure(&ws).await;
}

/// `opening-handshake/001`: garbage instead of a 101.
#[tokio::test]
async fn w_ev_08_garbage_handshake_fails() {
    let (listener, url) = listen().await;
    let _server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.read_head().await;
        raw.write(b"FOO BAR BAZ\r\n\r\n").await;
        raw.read_to_end().await
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_failure(&ws).await;
    assert!(ws.take_failure().is_some());
}

/// `wss:` to a server that does not speak TLS: error, then close 1006.
#[tokio::test]
async fn wss_to_a_plain_server_is_error_then_close_1006() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url.replacen("ws:", "wss:", 1), &[]).unwrap();
    assert!(ws.url().starts_with("wss://"));
    expect_failure(&ws).await;
    assert!(ws.take_failure().is_some());
}

/// `wss:` with a root added through `with_client`: open, echo, clean close.
#[cfg(feature = "tls")]
#[tokio::test]
async fn wss_opens_with_a_trusted_certificate() {
    use sockeye::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let acceptor = sockeye::tokio_rustls::TlsAcceptor::from(
        sockeye::tls::server_config(vec![cert.clone()], key).unwrap(),
    );
    let (listener, url) = listen().await;
    let port = url.rsplit(':').next().unwrap().to_owned();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let tls = acceptor.accept(tcp).await.unwrap();
        echo(ServerBuilder::new().accept(tls).await.unwrap()).await
    });
    let ws = WebSocket::with_client(&format!("wss://localhost:{port}/"), &[], |client| {
        client.add_root_certificate(cert)
    })
    .unwrap();
    expect_open(&ws).await;
    ws.send("over tls").unwrap();
    expect_text(&ws, "over tls").await;
    ws.close(Some(1000), None).unwrap();
    assert!(expect_close(&ws).await.was_clean);
}

/// `extensions/001`, `Create-extensions-empty`, and the value the server
/// sent when permessage-deflate is agreed.
#[tokio::test]
async fn w_ext_01_extensions() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    assert_eq!(ws.extensions(), "");
    expect_open(&ws).await;
    assert_eq!(ws.extensions(), "", "the server agreed no extension");

    let server = ServerBuilder::new().deflate(Some(sockeye::proto::DeflateConfig::default()));
    let (url, _server) = serve(server, no_protocol, echo).await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    assert_eq!(ws.extensions(), "");
    expect_open(&ws).await;
    assert!(
        ws.extensions().starts_with("permessage-deflate"),
        "{:?}",
        ws.extensions()
    );
    // Compressed both ways, and still the same text.
    let text = "compressible ".repeat(100);
    ws.send(text.clone()).unwrap();
    expect_text(&ws, &text).await;
}

// ---- send (W-SEND-*) and bufferedAmount (W-BA-*) ----

/// `Send-before-open`, `send/003`, `send/004`.
#[tokio::test]
async fn w_send_01_send_before_open_is_invalid_state() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    let error = ws.send("x").unwrap_err();
    assert_eq!(error, DomError::StillConnecting);
    assert_eq!(error.name(), "InvalidStateError");
    let error = ws.send(vec![1u8, 2, 3]).unwrap_err();
    assert_eq!(error, DomError::StillConnecting);
    assert_eq!(ws.buffered_amount(), 0, "nothing happened");
    expect_open(&ws).await;
}

/// `Send-data`, `Send-unicode-data`, `Send-0byte-data`, `Send-65K-data`,
/// `send/009`, `send/011`, `Send-binary-*`, `binary/001`, `/002`, `/004`,
/// `/005`: text and binary round trips, sizes exact, in order, and
/// `bufferedAmount` back to 0 once written.
#[tokio::test]
async fn w_send_02_and_06_round_trips() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    let texts = [
        String::new(),
        "Message to send".to_owned(),
        "¥¥¥¥¥¥ 匶 𐑾 a\u{301}".to_owned(),
        "x".repeat(65_000),
        "y".repeat(65_536),
    ];
    for text in &texts {
        ws.send(text.clone()).unwrap();
    }
    for text in &texts {
        expect_text(&ws, text).await;
    }
    // W-BT-01: blob by default.
    assert_eq!(ws.binary_type(), BinaryType::Blob);
    for size in [0, 10, 65_000, 100_000] {
        let data: Vec<u8> = (0..size)
            .map(|i: u32| u8::try_from(i % 251).unwrap())
            .collect();
        ws.send(data.clone()).unwrap();
        match next(&ws).await {
            Event::Message(message) => {
                assert_eq!(message.data, MessageData::Blob(Bytes::from(data)));
            }
            other => panic!("{other:?}"),
        }
    }
    bounded(ws.wait_buffered_below(1)).await;
    assert_eq!(ws.buffered_amount(), 0);
}

/// W-BT-01, W-BT-03: `arraybuffer` delivers owned vectors of the exact
/// size, chosen when the event is taken, not when the message arrived.
#[tokio::test]
async fn w_bt_01_binary_type_applies_at_dispatch() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    ws.send(vec![7u8; 10]).unwrap();
    ws.send(vec![8u8; 100_000]).unwrap();
    ws.send("marker").unwrap();
    // Both binary echoes are received before the text one, while the type
    // is still blob.
    bounded(ws.wait_buffered_below(1)).await;
    ws.set_binary_type(BinaryType::ArrayBuffer);
    assert_eq!(ws.binary_type(), BinaryType::ArrayBuffer);
    for (byte, size) in [(7u8, 10), (8, 100_000)] {
        match next(&ws).await {
            Event::Message(message) => {
                assert_eq!(message.data, MessageData::ArrayBuffer(vec![byte; size]));
            }
            other => panic!("{other:?}"),
        }
    }
    expect_text(&ws, "marker").await;
}

/// W-BA-01, W-BA-02, W-BA-03, W-BA-05, `bufferedAmount-initial`, `-getting`, `-unicode`,
/// `-arraybuffer`, `-large`, `Send-0byte-data`: starts at 0, grows in
/// `send` by the UTF-8 or byte length, and goes back to 0.
#[tokio::test]
async fn w_ba_buffered_amount_counts_application_bytes() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    assert_eq!(ws.buffered_amount(), 0);
    expect_open(&ws).await;
    assert_eq!(ws.buffered_amount(), 0);
    // Nothing is written between two sends here: the task runs only when
    // this task waits (current-thread runtime).
    let mut expected = 0;
    for (text, grows) in [("x", 1), ("å", 2), ("匶", 3), ("𐑾", 4), ("", 0)] {
        ws.send(text).unwrap();
        expected += grows;
        assert_eq!(ws.buffered_amount(), expected, "after {text:?}");
    }
    assert_eq!(expected, 10);
    ws.send("¥¥¥¥¥¥").unwrap();
    assert_eq!(ws.buffered_amount(), 22);
    ws.send(vec![0u8; 10]).unwrap();
    assert_eq!(ws.buffered_amount(), 32);
    ws.send("a".repeat(65_000)).unwrap();
    assert_eq!(ws.buffered_amount(), 65_032);
    bounded(ws.wait_buffered_below(1)).await;
    assert_eq!(ws.buffered_amount(), 0);
}

/// W-BA-04, `send-many-64K-messages-with-backpressure`: against a server
/// that does not read, `bufferedAmount` stays up (the data is queued, not
/// lost) and only comes down once the server reads; every byte arrives.
#[tokio::test]
async fn w_ba_04_buffered_amount_rises_then_returns_to_zero() {
    const MESSAGES: usize = 64;
    const SIZE: usize = 256 << 10;
    let (go, wait) = tokio::sync::oneshot::channel::<()>();
    let (url, server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        let _ = wait.await;
        let mut received = 0;
        while let Some(Ok(message)) = ws.next().await {
            received += message.len();
            if received == MESSAGES * SIZE {
                ws.close(CloseCode::NORMAL, "got all").await.unwrap();
                break;
            }
        }
        received
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    let total = (MESSAGES * SIZE) as u64;
    for _ in 0..MESSAGES {
        ws.send(vec![0x5a; SIZE]).unwrap();
    }
    assert_eq!(ws.buffered_amount(), total);
    // 16 MiB cannot all fit in the loopback socket's buffers: the task
    // stops writing, and the amount stops falling above zero.
    let mut last = total;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = ws.buffered_amount();
        assert!(now <= last, "it never grows without a send");
        if now == last {
            break;
        }
        last = now;
    }
    assert!(last > 0, "a stalled peer leaves data buffered");
    go.send(()).unwrap();
    bounded(ws.wait_buffered_below(1)).await;
    assert_eq!(ws.buffered_amount(), 0);
    let close = expect_close(&ws).await;
    assert_eq!((close.code, close.reason.as_str()), (1000, "got all"));
    assert_eq!(bounded(server).await.unwrap(), MESSAGES * SIZE);
}

/// W-SEND-03, `send/007`, `send/008`: after `close()`, `send` succeeds,
/// sends nothing, and still adds to `bufferedAmount`, which then never
/// falls; no error event follows.
#[tokio::test]
async fn w_send_03_send_after_close_only_grows_buffered_amount() {
    let (url, server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    ws.close(Some(1000), None).unwrap();
    ws.send("twelve bytes").unwrap();
    assert_eq!(ws.buffered_amount(), 12);
    let close = expect_close(&ws).await;
    assert!(close.was_clean, "no error event: {close:?}");
    ws.send(vec![0u8; 8]).unwrap();
    assert_eq!(ws.buffered_amount(), 20);
    ws.wait_buffered_below(1).await; // returns: it can no longer fall
    assert_eq!(ws.buffered_amount(), 20);
    // The server got the Close and no message.
    assert_eq!(
        server.await.unwrap().map(|frame| frame.code),
        Some(CloseCode::NORMAL)
    );
}

// ---- close (W-CLOSE-*) ----

/// `Close-1005`, `Close-2999-reason`, `close-invalid`, `Close-onlyReason`
/// (their codes), `stream/close` (1001): `InvalidAccessError`, checked before
/// the state, with no effect.
#[tokio::test]
async fn w_close_01_invalid_codes_are_invalid_access() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    for code in [0, 500, 999, 1001, 1005, 2999, 5000, 65_535] {
        let error = ws.close(Some(code), None).unwrap_err();
        assert_eq!(error, DomError::InvalidCloseCode(code));
        assert_eq!(error.name(), "InvalidAccessError");
        assert_eq!(ws.ready_state(), ReadyState::Connecting);
    }
    expect_open(&ws).await;
    assert_eq!(
        ws.close(Some(1001), None),
        Err(DomError::InvalidCloseCode(1001))
    );
    assert_eq!(ws.ready_state(), ReadyState::Open, "no side effect");
    ws.send("still open").unwrap();
    expect_text(&ws, "still open").await;
}

/// W-CLOSE-09, `Close-1000`, `Close-3000-reason`, `Close-4999-reason`,
/// `Close-1000-verify-code`, `Close-3000-verify-code`: accepted codes close
/// cleanly, and the server's echo of the code comes back.
#[tokio::test]
async fn w_close_01_valid_codes_close_cleanly() {
    for code in [1000, 3000, 4999] {
        let (url, server) = echo_server("/").await;
        let ws = WebSocket::new(&url, &[]).unwrap();
        expect_open(&ws).await;
        ws.close(Some(code), Some("Clean Close")).unwrap();
        assert_eq!(ws.ready_state(), ReadyState::Closing);
        let close = expect_close(&ws).await;
        assert!(close.was_clean, "{code}: {close:?}");
        assert_eq!(close.code, code);
        let received = server.await.unwrap().expect("a Close frame");
        assert_eq!(received.code.as_u16(), code);
        assert_eq!(received.reason, "Clean Close");
    }
}

/// `Close-Reason-124Bytes`: the limit is 123 bytes of UTF-8, not
/// characters; checked before the state.
#[tokio::test]
async fn w_close_02_reason_length_in_bytes() {
    let (url, server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    let long = "a".repeat(124);
    assert_eq!(
        ws.close(Some(1000), Some(&long)),
        Err(DomError::ReasonTooLong(124))
    );
    let accented = "é".repeat(62); // 62 characters, 124 bytes
    let error = ws.close(Some(1000), Some(&accented)).unwrap_err();
    assert_eq!(error, DomError::ReasonTooLong(124));
    assert_eq!(error.name(), "SyntaxError");
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    expect_open(&ws).await;
    let fits = "é".repeat(61) + "a"; // 123 bytes
    ws.close(Some(3000), Some(&fits)).unwrap();
    let close = expect_close(&ws).await;
    assert_eq!((close.was_clean, close.code), (true, 3000));
    assert_eq!(server.await.unwrap().unwrap().reason, fits.as_str());
}

/// W-CLOSE-06: a reason with no code closes with 1000 (checklist §6
/// decision 3).
#[tokio::test]
async fn w_close_reason_without_code_uses_1000() {
    let (url, server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    ws.close(None, Some("only a reason")).unwrap();
    assert_eq!(expect_close(&ws).await.code, 1000);
    let received = server.await.unwrap().unwrap();
    assert_eq!(
        (received.code, received.reason.as_str()),
        (CloseCode::NORMAL, "only a reason")
    );
}

/// `close-multiple`, `close-nested`: more calls while closing or closed do
/// nothing, and there is one close event.
#[tokio::test]
async fn w_close_03_repeated_close_is_a_no_op() {
    let (url, server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    ws.close(Some(3001), None).unwrap();
    ws.close(Some(3002), None).unwrap();
    ws.close(None, None).unwrap();
    assert_eq!(expect_close(&ws).await.code, 3001);
    ws.close(Some(1000), None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    assert_eq!(server.await.unwrap().unwrap().code.as_u16(), 3001);
}

/// W-EV-01, `close-connecting`, `close-connecting-async`: `close()` during a
/// handshake that does not finish: CLOSING at once, then error and close
/// (1006, not clean), never open; the events come later, not inside
/// `close()`.
#[tokio::test]
async fn w_close_04_close_while_connecting_fails_the_connection() {
    let (listener, url) = listen().await;
    let _server = tokio::spawn(async move {
        // Accepts TCP and never answers the handshake.
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.read_to_end().await
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    // Close even before the task first runs, and after it connected TCP.
    ws.close(Some(1000), Some("never mind")).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    expect_failure(&ws).await;

    let (listener, url) = listen().await;
    let (accepted, was_accepted) = tokio::sync::oneshot::channel();
    let _server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let _ = accepted.send(());
        let mut raw = RawPeer::server(tcp);
        raw.read_to_end().await
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    bounded(was_accepted).await.unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Connecting);
    ws.close(None, None).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    expect_failure(&ws).await;
}

// ---- events (W-EV-*) ----

/// W-EV-04, W-EV-05, `constructor/013` in miniature: open, the messages in
/// order with the socket's origin, then close; no error.
#[tokio::test]
async fn w_ev_order_open_messages_close() {
    let (url, server) = echo_server("/chat?room=1").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    let origin = url.split("/chat").next().unwrap().to_owned();
    assert_eq!(next(&ws).await, Event::Open);
    for i in 0..5 {
        ws.send(format!("message {i}")).unwrap();
    }
    ws.send("Goodbye").unwrap();
    for i in 0..5 {
        match next(&ws).await {
            Event::Message(message) => {
                assert_eq!(
                    message.data.as_text(),
                    Some(format!("message {i}").as_str())
                );
                assert_eq!(message.origin, origin);
                assert_eq!(message.last_event_id, "");
            }
            other => panic!("{other:?}"),
        }
    }
    // `Close-server-initiated-close`: the server closes after "Goodbye".
    let close = expect_close(&ws).await;
    assert_eq!(
        close,
        CloseEvent {
            was_clean: true,
            code: 1000,
            reason: "Goodbye".into()
        }
    );
    assert!(server.await.unwrap().is_some());
}

/// W-EV-06 with a server that closes with a code and a UTF-8 reason.
#[tokio::test]
async fn w_ev_06_server_close_code_and_reason() {
    let (url, _server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        ws.close(CloseCode::from(4321), "ロボット").await.unwrap();
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    let close = expect_close(&ws).await;
    assert_eq!(
        close,
        CloseEvent {
            was_clean: true,
            code: 4321,
            reason: "ロボット".into()
        }
    );
}

/// R-CL-08 and the state table of section 4: a Close frame from the server
/// puts the handle in CLOSING until the close event is taken, then CLOSED.
#[tokio::test]
async fn w_rs_and_w_close_07_server_close_makes_the_handle_closing() {
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (url, _server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        // A Close frame out, and TCP held open until the test is done
        // looking: the client has answered and waits for the server.
        ws.start_close(CloseCode::from(4001), "server bye").unwrap();
        ws.flush().await.unwrap();
        let _ = released.await;
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    // The state changes as events are taken, as in a browser's event loop,
    // and the Close frame brings no event of its own.
    bounded(async {
        while ws.ready_state() != ReadyState::Closing {
            let taken = tokio::time::timeout(Duration::from_millis(20), ws.next_event()).await;
            assert!(taken.is_err(), "an event before TCP closed: {taken:?}");
        }
    })
    .await;
    // W-CLOSE-07: the peer started closing; `close()` changes nothing and
    // sends nothing more.
    ws.close(Some(1000), Some("ignored")).unwrap();
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    let _ = release.send(());
    let close = expect_close(&ws).await;
    assert_eq!(ws.ready_state(), ReadyState::Closed);
    assert_eq!(
        close,
        CloseEvent {
            was_clean: true,
            code: 4001,
            reason: "server bye".into()
        }
    );
}

/// W-EV-06: a Close frame with no body is reported as 1005, clean.
#[tokio::test]
async fn w_ev_06_server_close_without_code_is_1005() {
    let (url, _server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        ws.close(CloseCode::NO_STATUS_RECEIVED, "").await.unwrap();
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    let close = expect_close(&ws).await;
    assert_eq!(
        close,
        CloseEvent {
            was_clean: true,
            code: 1005,
            reason: String::new()
        }
    );
}

/// W-EV-04, W-EV-07: the server drops TCP without a Close frame: error,
/// then close 1006, not clean.
#[tokio::test]
async fn w_ev_07_tcp_drop_is_error_then_1006() {
    let (listener, url) = listen().await;
    let (sent, was_sent) = tokio::sync::oneshot::channel::<()>();
    let _server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.server_handshake().await;
        raw.send(op::TEXT, b"before the drop").await;
        let _ = was_sent.await;
        drop(raw);
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    expect_text(&ws, "before the drop").await;
    sent.send(()).unwrap();
    expect_failure(&ws).await;
    assert!(
        ws.take_failure()
            .is_some_and(|e| e.is_closed() || e.is_io())
    );
}

/// `events/015`: a reserved opcode from the server fails the connection:
/// error (CLOSED inside it), then close 1006.
#[tokio::test]
async fn w_ev_08_reserved_opcode_is_error_then_1006() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.server_handshake().await;
        raw.write(&frame(true, 0x3, b"", None)).await;
        // The client fails the connection with 1002.
        raw.expect_close(1002).await;
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    expect_failure(&ws).await;
    assert!(ws.take_failure().is_some_and(|e| e.is_protocol()));
    bounded(server).await.unwrap();
}

/// W-GC-01, W-GC-02: dropping an open socket sends what was queued, then
/// a Close frame without a status code, in the background.
#[tokio::test]
async fn w_gc_02_dropping_the_handle_closes_without_a_code_after_queued_data() {
    let (url, server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        let mut received = Vec::new();
        while let Some(message) = ws.next().await {
            received.push(message.expect("a message"));
        }
        (received, ws.close_frame().cloned())
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    for i in 0..100 {
        ws.send(format!("last words {i}")).unwrap();
    }
    drop(ws);
    let (received, close) = bounded(server).await.unwrap();
    assert_eq!(received.len(), 100, "queued messages lost");
    assert_eq!(received[99], Message::text("last words 99"));
    let close = close.expect("a clean close");
    assert_eq!(close.code, CloseCode::NO_STATUS_RECEIVED);
}

/// The callback style: `on_open`, `on_message`, `on_close`, with `close()`
/// inside `on_close` doing nothing (`close-nested`), and the stream style.
#[tokio::test]
async fn handlers_and_stream() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    let messages = AtomicUsize::new(0);
    let mut closed = None;
    ws.run(
        Handlers::new()
            .on_open(|ws| ws.send("ping").unwrap())
            .on_message(|ws, message| {
                assert_eq!(message.data.as_text(), Some("ping"));
                messages.fetch_add(1, Ordering::Relaxed);
                ws.close(Some(1000), None).unwrap();
            })
            .on_error(|_| panic!("no error"))
            .on_close(|ws, close| {
                ws.close(Some(1000), None).unwrap();
                closed = Some(close);
            }),
    )
    .await;
    assert_eq!(messages.load(Ordering::Relaxed), 1);
    assert_eq!(closed.map(|c| (c.was_clean, c.code)), Some((true, 1000)));

    let (url, _server) = echo_server("/").await;
    let mut ws = WebSocket::new(&url, &[]).unwrap();
    assert_eq!(bounded(ws.next()).await, Some(Event::Open));
    ws.send("via the stream").unwrap();
    ws.close(Some(1000), None).unwrap();
    let events: Vec<Event> = bounded(ws.by_ref().collect()).await;
    assert!(matches!(events.as_slice(), [Event::Close(c)] if c.was_clean));
}

/// The handle can be shared: a sender task and the event loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_handle_across_tasks() {
    let (url, _server) = echo_server("/").await;
    let ws = Arc::new(WebSocket::new(&url, &[]).unwrap());
    expect_open(&ws).await;
    let sender = Arc::clone(&ws);
    let sending = tokio::spawn(async move {
        for i in 0..100 {
            sender.send(format!("{i}")).unwrap();
        }
    });
    for i in 0..100 {
        expect_text(&ws, &format!("{i}")).await;
    }
    sending.await.unwrap();
    ws.close(Some(1000), None).unwrap();
    assert!(expect_close(&ws).await.was_clean);
}

/// W-CLOSE-08: `close()` keeps the messages already sent; the Close frame
/// follows them.
#[tokio::test]
async fn w_close_08_close_goes_out_after_queued_messages() {
    let (url, server) = serve(ServerBuilder::new(), no_protocol, |mut ws| async move {
        let mut received = 0;
        while let Some(message) = ws.next().await {
            assert_eq!(
                message.expect("a message"),
                Message::text(format!("queued {received}"))
            );
            received += 1;
        }
        (received, ws.close_frame().cloned())
    })
    .await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    for i in 0..200 {
        ws.send(format!("queued {i}")).unwrap();
    }
    ws.close(Some(1000), Some("done")).unwrap();
    let close = expect_close(&ws).await;
    assert!(close.was_clean, "{close:?}");
    let (received, frame) = bounded(server).await.unwrap();
    assert_eq!(received, 200);
    let frame = frame.expect("the client's Close");
    assert_eq!((frame.code.as_u16(), frame.reason.as_str()), (1000, "done"));
}

/// W-CLOSE-10, `Close-delayed`: the close event waits for the server to
/// finish the closing handshake.
#[tokio::test]
async fn w_close_10_close_event_waits_for_the_server() {
    let (listener, url) = listen().await;
    let (seen, close_seen) = tokio::sync::oneshot::channel();
    let (answer, may_answer) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.server_handshake_with("", &[]).await;
        let close = raw.read_frame().await.expect("the client's Close");
        assert_eq!(close.close_code(), Some(3000));
        seen.send(()).unwrap();
        // The server answers only when the test says so: no clock needed.
        may_answer.await.unwrap();
        raw.write(&frame(true, op::CLOSE, &close.payload, None))
            .await;
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_open(&ws).await;
    ws.close(Some(3000), Some("wait for me")).unwrap();
    bounded(close_seen).await.unwrap();
    // The client's Close went out; the client task has had every chance to
    // run, and still no close event, as the server has not answered.
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    assert_eq!(ws.ready_state(), ReadyState::Closing);
    let early = ws.next_event().now_or_never();
    assert!(
        early.is_none(),
        "an event before the server's Close: {early:?}"
    );
    answer.send(()).unwrap();
    let close = expect_close(&ws).await;
    assert_eq!(
        close,
        CloseEvent {
            was_clean: true,
            code: 3000,
            reason: "wait for me".into()
        }
    );
    bounded(server).await.unwrap();
}

/// W-EST-02, W-EST-03: the request is a GET with the upgrade headers, a
/// fresh 16-byte key, version 13, the offered protocols in order and
/// permessage-deflate with `client_max_window_bits`; no `Referer`, and no
/// `Origin` (no page here).
#[tokio::test]
async fn w_est_02_and_03_request_headers() {
    let (listener, url) = listen().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.read_head().await
    });
    let ws = WebSocket::new(&format!("{url}/path?q=1"), &["chat", "superchat"]).unwrap();
    let head = bounded(server).await.unwrap();
    drop(ws);
    assert_eq!(head.start, "GET /path?q=1 HTTP/1.1");
    assert_eq!(head.get("upgrade"), Some("websocket"));
    assert_eq!(
        head.get("connection")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("upgrade")
    );
    assert_eq!(head.get("sec-websocket-version"), Some("13"));
    let key = head.get("sec-websocket-key").expect("a key");
    let key = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, key).unwrap();
    assert_eq!(key.len(), 16);
    assert_eq!(head.get("sec-websocket-protocol"), Some("chat, superchat"));
    let extensions = head.get("sec-websocket-extensions").expect("an offer");
    assert!(
        extensions.starts_with("permessage-deflate")
            && extensions.contains("client_max_window_bits"),
        "{extensions}"
    );
    assert_eq!(head.get("referer"), None);
    assert_eq!(head.get("origin"), None);
    assert!(head.get("host").is_some());
}

/// W-EST-02: redirect mode "error": a 3xx answer fails the connection.
#[tokio::test]
async fn w_est_02_redirects_fail_the_connection() {
    let (listener, url) = listen().await;
    let (target, _elsewhere) = echo_server("/").await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut raw = RawPeer::server(tcp);
        raw.read_head().await;
        raw.write(
            format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {target}\r\nContent-Length: 0\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
    });
    let ws = WebSocket::new(&url, &[]).unwrap();
    expect_failure(&ws).await;
    bounded(server).await.unwrap();
}

/// W-SEND-06, `bufferedAmount-large`: an 8 MiB message round-trips.
#[tokio::test]
async fn w_send_06_eight_mebibytes_round_trip() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::new(&url, &[]).unwrap();
    ws.set_binary_type(BinaryType::ArrayBuffer);
    expect_open(&ws).await;
    let data: Vec<u8> = (0..8u32 << 20)
        .map(|i| u8::try_from(i % 253).unwrap())
        .collect();
    ws.send(data.clone()).unwrap();
    assert_eq!(ws.buffered_amount(), 8 << 20);
    match next(&ws).await {
        Event::Message(message) => assert!(message.data == MessageData::ArrayBuffer(data)),
        other => panic!("{other:?}"),
    }
}

/// W-PP-01, `keeping-connection-open/001`: pings keep a quiet connection
/// alive and are not events; the connection is not timed out for being
/// idle. Keepalive is made fast here so the test needs no 20 s.
#[tokio::test]
async fn w_pp_01_a_quiet_connection_stays_open() {
    let (url, _server) = echo_server("/").await;
    let ws = WebSocket::with_client(&url, &[], |client| {
        client.keepalive(Some(Duration::from_millis(20)), Duration::from_millis(100))
    })
    .unwrap();
    expect_open(&ws).await;
    // Quiet for many keepalive intervals: no event at all.
    let quiet = tokio::time::timeout(Duration::from_millis(400), ws.next_event()).await;
    assert!(quiet.is_err(), "an event on a quiet connection: {quiet:?}");
    assert_eq!(ws.ready_state(), ReadyState::Open);
    ws.send("still here").unwrap();
    expect_text(&ws, "still here").await;
}
