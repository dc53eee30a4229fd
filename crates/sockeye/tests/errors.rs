//! The error type (ask 13 of `notes/user-asks.md`): small, easy to match
//! through its helpers, convertible to `io::Error`; and the public types
//! and futures are `Send`/`Sync` where tasks need them to be.

mod support;

use std::error::Error as _;
use std::io;

use futures_util::StreamExt;
use http::StatusCode;
use sockeye::proto::UsageError;
use sockeye::{
    Accept, ClientBuilder, CloseCode, CloseFrame, Error, HandshakeFailure, Message, Rejected,
    ServerBuilder, Timeout, UpgradeRequest, WebSocket, WebSocketConfig, WebSocketReader,
    WebSocketWriter,
};
use support::{bounded, frame, op, raw_client_duplex, raw_server_duplex};
use tokio::net::TcpStream;

// ---- size (TR 0.28 shrank its error to 32 bytes after clippy complaints) ----

const _: () = assert!(std::mem::size_of::<Error>() <= 32);

#[test]
fn error_is_at_most_32_bytes() {
    let size = std::mem::size_of::<Error>();
    assert!(size <= 32, "{size} bytes");
    // `Result<(), Error>` costs nothing more.
    assert_eq!(std::mem::size_of::<sockeye::Result<()>>(), size);
}

// ---- Send, Sync and 'static, checked at compile time ----

fn send_sync<T: Send + Sync + 'static>() {}
fn send<T: Send>(_: &T) {}

#[test]
fn public_types_are_send_and_sync() {
    send_sync::<Error>();
    send_sync::<Timeout>();
    send_sync::<HandshakeFailure>();
    send_sync::<Rejected>();
    send_sync::<WebSocket<TcpStream>>();
    send_sync::<WebSocketReader<TcpStream>>();
    send_sync::<WebSocketWriter<TcpStream>>();
    send_sync::<WebSocket<tokio::io::DuplexStream>>();
    send_sync::<ClientBuilder>();
    send_sync::<ServerBuilder>();
    send_sync::<UpgradeRequest>();
    send_sync::<Accept>();
    send_sync::<WebSocketConfig>();
    send_sync::<Message>();
    send_sync::<CloseFrame>();
}

/// Type-checked, never run: the futures of the API can be spawned.
#[allow(dead_code, reason = "compile-time check only")]
fn futures_are_send(
    ws: &mut WebSocket<TcpStream>,
    reader: &mut WebSocketReader<TcpStream>,
    writer: &mut WebSocketWriter<TcpStream>,
    tcp: TcpStream,
) {
    send(&sockeye::connect("ws://h/"));
    send(&ClientBuilder::new("ws://h/").connect());
    send(&sockeye::accept(tcp));
    send(&ws.send(Message::text("x")));
    send(&ws.recv());
    send(&ws.next());
    send(&ws.close(CloseCode::NORMAL, ""));
    send(&reader.next());
    send(&writer.send(Message::text("x")));
    send(&writer.close(CloseCode::NORMAL, ""));
}

#[allow(dead_code, reason = "compile-time check only")]
fn accept_with_future_is_send(server: &ServerBuilder, tcp: TcpStream) {
    send(&server.accept_with(tcp, |request| async move {
        tokio::task::yield_now().await;
        Ok(Accept::new().protocol_if(request.protocols().is_empty(), "x"))
    }));
}

// ---- the helpers, variant by variant ----

#[test]
fn helpers_classify_each_variant() {
    let io_error = Error::Io(io::Error::from(io::ErrorKind::ConnectionReset));
    assert!(io_error.is_io());
    assert!(!io_error.is_closed());
    assert_eq!(io_error.close_code(), None);

    let protocol = Error::Protocol(sockeye::proto::Error::InvalidUtf8);
    assert!(protocol.is_protocol());
    assert_eq!(protocol.close_code(), Some(CloseCode::INVALID_PAYLOAD));
    let too_big = Error::Protocol(sockeye::proto::Error::MessageTooBig { size: 9, limit: 8 });
    assert_eq!(too_big.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
    let unmasked = Error::from(sockeye::proto::Error::UnmaskedFrameFromClient);
    assert_eq!(unmasked.close_code(), Some(CloseCode::PROTOCOL_ERROR));

    let timeout = Error::Timeout(Timeout::Handshake);
    assert!(timeout.is_timeout());
    assert!(!timeout.is_closed());
    assert_eq!(timeout.close_code(), None);

    let abnormal = Error::AbnormalClosure;
    assert!(abnormal.is_closed());
    assert_eq!(abnormal.close_code(), Some(CloseCode::ABNORMAL));

    let closed = Error::Closed;
    assert!(closed.is_closed());
    assert_eq!(closed.close_code(), None);

    let refused = Error::Handshake(Box::new(HandshakeFailure::Refused(StatusCode::FORBIDDEN)));
    assert!(refused.is_handshake());
    assert!(refused.rejection().is_none(), "a server-side refusal");

    let usage = Error::from(UsageError::ControlPayloadTooLong(126));
    assert!(matches!(usage, Error::Usage(_)), "{usage:?}");
    // A closed connection is reported the same whichever layer noticed.
    assert!(matches!(Error::from(UsageError::Closed), Error::Closed));
}

#[test]
fn handshake_rejection_is_reachable_through_the_helper() {
    let response: Rejected = http::Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("www-authenticate", "Bearer")
        .body(bytes::Bytes::from_static(b"no"))
        .unwrap();
    let err = Error::Handshake(Box::new(HandshakeFailure::Rejected(response)));
    let rejection = err.rejection().unwrap();
    assert_eq!(rejection.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(rejection.headers()["www-authenticate"], "Bearer");
    assert_eq!(&rejection.body()[..], b"no");
    assert!(err.to_string().contains("handshake"), "{err}");
    assert!(
        err.source().unwrap().to_string().contains("401"),
        "{:?}",
        err.source()
    );
}

#[test]
fn display_names_what_timed_out() {
    assert_eq!(
        Error::Timeout(Timeout::Connect).to_string(),
        "connect timed out"
    );
    assert_eq!(
        Error::Timeout(Timeout::Handshake).to_string(),
        "opening handshake timed out"
    );
    assert_eq!(
        Error::Timeout(Timeout::Close).to_string(),
        "closing handshake timed out"
    );
}

#[test]
fn protocol_error_keeps_its_cause_as_source() {
    let err = Error::Protocol(sockeye::proto::Error::ReservedOpcode(3));
    let source = err.source().expect("the violation");
    let cause = source
        .downcast_ref::<sockeye::proto::Error>()
        .expect("a sockeye_proto::Error");
    assert_eq!(*cause, sockeye::proto::Error::ReservedOpcode(3));
}

// ---- into io::Error ----

#[test]
fn converts_into_io_error_with_a_fitting_kind() {
    let cases: Vec<(Error, io::ErrorKind)> = vec![
        (
            Error::Io(io::Error::from(io::ErrorKind::BrokenPipe)),
            io::ErrorKind::BrokenPipe,
        ),
        (Error::Timeout(Timeout::Close), io::ErrorKind::TimedOut),
        (Error::AbnormalClosure, io::ErrorKind::UnexpectedEof),
        (Error::Closed, io::ErrorKind::NotConnected),
        (
            Error::from(UsageError::InvalidCloseCode(1006)),
            io::ErrorKind::InvalidInput,
        ),
        (Error::InvalidUrl("x"), io::ErrorKind::InvalidInput),
        (Error::InvalidHeader("x"), io::ErrorKind::InvalidInput),
        (
            Error::Protocol(sockeye::proto::Error::InvalidUtf8),
            io::ErrorKind::InvalidData,
        ),
        (
            Error::Handshake(Box::new(HandshakeFailure::Refused(StatusCode::NOT_FOUND))),
            io::ErrorKind::InvalidData,
        ),
    ];
    for (err, kind) in cases {
        let text = format!("{err:?}");
        let io: io::Error = err.into();
        assert_eq!(io.kind(), kind, "{text}");
    }
}

#[test]
fn io_error_gives_the_original_back() {
    let original = io::Error::other("disk on fire");
    let io: io::Error = Error::Io(original).into();
    assert_eq!(io.to_string(), "disk on fire");
    assert!(io.get_ref().is_some());

    let io: io::Error = Error::Protocol(sockeye::proto::Error::InvalidUtf8).into();
    let inner = io.into_inner().expect("the sockeye error inside");
    let err = inner.downcast::<Error>().expect("a sockeye::Error");
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
}

// ---- the errors a connection actually yields ----

#[tokio::test]
async fn server_protocol_error_from_the_wire_matches_its_helpers() {
    bounded(async {
        let (mut raw, mut ws) = raw_client_duplex(ServerBuilder::new()).await;
        raw.write(&frame(true, op::TEXT, b"unmasked", None)).await;
        raw.shutdown().await;
        let err = ws.next().await.unwrap().unwrap_err();
        assert!(err.is_protocol() && !err.is_closed(), "{err:?}");
        assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        let io: io::Error = err.into();
        assert_eq!(io.kind(), io::ErrorKind::InvalidData);
    })
    .await;
}

#[tokio::test]
async fn client_send_after_close_is_closed() {
    bounded(async {
        let (_raw, mut ws) = raw_server_duplex(ClientBuilder::new("ws://h/")).await;
        ws.start_close(CloseCode::NORMAL, "").unwrap();
        let err = ws.send(Message::text("late")).await.unwrap_err();
        assert!(err.is_closed(), "{err:?}");
        assert_eq!(err.close_code(), None);
    })
    .await;
}

#[test]
fn connection_state_stays_small() {
    // An idle connection costs its state and little else (no buffers): a
    // guard against growth, at today's sizes. The design's budget for an
    // idle connection, task included, is 1 KiB.
    let socket = std::mem::size_of::<sockeye::WebSocket<tokio::net::TcpStream>>();
    let engine = std::mem::size_of::<sockeye::proto::Connection>();
    eprintln!("WebSocket<TcpStream>: {socket} B, Connection: {engine} B");
    assert!(socket <= 320, "WebSocket<TcpStream> is {socket} bytes");
    assert!(engine <= 224, "Connection is {engine} bytes");
}
