//! The closing handshake (RFC 6455 §5.5.1, §7) and close codes (§7.4).

mod support;

use sockeye_proto::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Message, Role, State, UsageError,
};
use support::{
    Pair, RawFrame, assert_close_sent, assert_nothing_sent, close_body, conn, events, failure,
    feed, frame_to, op, peer_of, sent_frames,
};

fn close_event(code: u16, reason: &'static str) -> Event {
    Event::Close(CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    })
}

// ---- R-CL-01: the Close body ----

fn fails_on_one_byte_close_body(role: Role) {
    let wire = frame_to(role, op::CLOSE, [0x03]);
    let (mut c, err) = failure(role, Config::default(), &wire);
    assert_eq!(err, Error::InvalidCloseFrame);
    assert_close_sent(&mut c, 1002);
    assert_eq!(c.close_received(), None);
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));
}

#[test]
fn r_cl_01_server_fails_1002_on_one_byte_close_body() {
    fails_on_one_byte_close_body(Role::Server);
}

#[test]
fn r_cl_01_client_fails_1002_on_one_byte_close_body() {
    fails_on_one_byte_close_body(Role::Client);
}

fn reports_close_code_and_reason(role: Role) {
    let mut c = conn(role);
    let reason = "r".repeat(123);
    let wire = frame_to(role, op::CLOSE, close_body(3000, &reason));
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    let expected = CloseFrame::new(CloseCode::from(3000), reason).unwrap();
    assert_eq!(seen, [Event::Close(expected.clone())]);
    assert_eq!(c.close_received(), Some(&expected));
    assert_eq!(c.close_code(), Some(CloseCode::from(3000)));
}

#[test]
fn r_cl_01_server_reports_close_code_and_reason() {
    reports_close_code_and_reason(Role::Server);
}

#[test]
fn r_cl_01_client_reports_close_code_and_reason() {
    reports_close_code_and_reason(Role::Client);
}

// ---- R-CL-03: nothing after our Close ----

fn refuses_to_send_after_close(role: Role) {
    let mut c = conn(role);
    c.close(CloseCode::NORMAL, "done").unwrap();
    assert_eq!(c.state(), State::CloseSent);
    assert_eq!(c.send(Message::text("late")), Err(UsageError::Closed));
    assert_eq!(
        c.send(Message::binary(vec![0; 4096])),
        Err(UsageError::Closed)
    );
    assert_eq!(c.send_ping(""), Err(UsageError::Closed));
    assert_eq!(c.send_pong(""), Err(UsageError::Closed));
    assert_eq!(
        c.send_raw(bytes::Bytes::from_static(b"\x81\x00")),
        Err(UsageError::Closed)
    );
    assert_eq!(c.close(CloseCode::GOING_AWAY, ""), Err(UsageError::Closed));
    // Misuse does not fail the connection.
    assert_eq!(c.state(), State::CloseSent);
    let close = assert_close_sent(&mut c, 1000);
    assert_eq!(close.close_reason(), "done");
    assert_eq!(sent_frames(&mut c), []);
}

#[test]
fn r_cl_03_server_refuses_to_send_after_close() {
    refuses_to_send_after_close(Role::Server);
}

#[test]
fn r_cl_03_client_refuses_to_send_after_close() {
    refuses_to_send_after_close(Role::Client);
}

fn refuses_to_send_after_peer_close(role: Role) {
    let mut c = conn(role);
    let (_, err) = feed(&mut c, &frame_to(role, op::CLOSE, close_body(1000, "")));
    assert_eq!(err, None);
    assert_eq!(c.send(Message::text("late")), Err(UsageError::Closed));
    assert_eq!(c.send_ping(""), Err(UsageError::Closed));
    assert_eq!(c.close(CloseCode::NORMAL, ""), Err(UsageError::Closed));
    assert_close_sent(&mut c, 1000);
}

#[test]
fn r_cl_03_server_refuses_to_send_after_peer_close() {
    refuses_to_send_after_peer_close(Role::Server);
}

#[test]
fn r_cl_03_client_refuses_to_send_after_peer_close() {
    refuses_to_send_after_peer_close(Role::Client);
}

// ---- R-CL-04: reply to a Close, echoing its code ----

fn echoes_close_code(role: Role) {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
        4000, 4999,
    ] {
        let mut c = conn(role);
        let wire = frame_to(role, op::CLOSE, close_body(code, "peer's reason"));
        let (seen, err) = feed(&mut c, &wire);
        assert_eq!(err, None, "code {code}");
        assert_eq!(seen, [close_event(code, "peer's reason")]);
        assert_eq!(c.state(), State::Closed);
        assert_eq!(c.close_code(), Some(CloseCode::from(code)));
        let echo = assert_close_sent(&mut c, code);
        // The reply repeats the reason too (decisions.md item 7).
        assert_eq!(echo.close_reason(), "peer's reason");
    }
}

#[test]
fn r_cl_04_server_echoes_close_code() {
    echoes_close_code(Role::Server);
}

#[test]
fn r_cl_04_client_echoes_close_code() {
    echoes_close_code(Role::Client);
}

fn delivers_messages_before_the_close(role: Role) {
    let mut c = conn(role);
    let wire = [
        frame_to(role, op::TEXT, b"last words"),
        frame_to(role, op::CLOSE, close_body(1000, "")),
        frame_to(role, op::TEXT, b"after close"),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Message(Message::text("last words")),
            close_event(1000, "")
        ]
    );
    // Nothing after the Close is read.
    assert_eq!(events(&mut c), (vec![], None));
    assert_close_sent(&mut c, 1000);
}

#[test]
fn r_cl_04_server_delivers_messages_before_the_close() {
    delivers_messages_before_the_close(Role::Server);
}

#[test]
fn r_cl_04_client_delivers_messages_before_the_close() {
    delivers_messages_before_the_close(Role::Client);
}

// ---- R-CL-07: simultaneous close ----

#[test]
fn r_cl_07_both_close_at_once_and_each_reports_the_code_it_received() {
    let mut pair = Pair::new();
    pair.client.close(CloseCode::NORMAL, "client").unwrap();
    pair.server.close(CloseCode::GOING_AWAY, "server").unwrap();
    // Both Close frames are on the wire before either arrives.
    let to_server = support::drain(&mut pair.client);
    let to_client = support::drain(&mut pair.server);
    let (seen, err) = feed(&mut pair.server, &to_server);
    assert_eq!((seen, err), (vec![close_event(1000, "client")], None));
    let (seen, err) = feed(&mut pair.client, &to_client);
    assert_eq!((seen, err), (vec![close_event(1001, "server")], None));

    for c in [&mut pair.client, &mut pair.server] {
        assert_eq!(c.state(), State::Closed);
        // Each sent exactly one Close: no reply to the peer's.
        assert_nothing_sent(c);
    }
    // §7.1.5: the close code is the one received.
    assert_eq!(pair.client.close_code(), Some(CloseCode::GOING_AWAY));
    assert_eq!(pair.server.close_code(), Some(CloseCode::NORMAL));
}

// ---- R-CL-08: state transitions ----

#[test]
fn r_cl_08_client_moves_open_close_sent_closed() {
    let mut pair = Pair::new().chunked(1);
    assert_eq!(pair.client.state(), State::Open);
    pair.client.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(pair.client.state(), State::CloseSent);
    assert_eq!(pair.client.close_code(), None);
    pair.deliver_to_server();
    assert_eq!(pair.server.state(), State::Closed);
    assert_eq!(pair.server_events(), [close_event(1000, "bye")]);
    assert_eq!(pair.client.state(), State::CloseSent);
    pair.deliver_to_client();
    assert_eq!(pair.client.state(), State::Closed);
    assert_eq!(pair.client_events(), [close_event(1000, "bye")]);
    assert_eq!(pair.client.close_code(), Some(CloseCode::NORMAL));
    assert!(pair.client_log.error.is_none() && pair.server_log.error.is_none());
}

#[test]
fn r_cl_08_server_moves_open_close_sent_closed() {
    let mut pair = Pair::new().chunked(1);
    pair.server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    assert_eq!(pair.server.state(), State::CloseSent);
    pair.drive();
    assert_eq!(pair.client_events(), [close_event(1001, "restart")]);
    assert_eq!(pair.server_events(), [close_event(1001, "restart")]);
    assert_eq!(pair.server.state(), State::Closed);
    assert_eq!(pair.client.state(), State::Closed);
}

fn receives_messages_after_sending_close(role: Role) {
    let mut c = conn(role);
    c.close(CloseCode::NORMAL, "").unwrap();
    let wire = [
        frame_to(role, op::TEXT, b"in flight"),
        RawFrame::new(op::BINARY, b"frag")
            .fin(false)
            .to(role)
            .encode(),
        frame_to(role, op::PONG, b""),
        RawFrame::new(op::CONTINUATION, b"ment").to(role).encode(),
        frame_to(role, op::CLOSE, close_body(1000, "")),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Message(Message::text("in flight")),
            Event::Pong("".into()),
            Event::Message(Message::binary(&b"fragment"[..])),
            close_event(1000, ""),
        ]
    );
    assert_eq!(c.state(), State::Closed);
    assert_close_sent(&mut c, 1000);
}

#[test]
fn r_cl_08_server_receives_messages_after_sending_close() {
    receives_messages_after_sending_close(Role::Server);
}

#[test]
fn r_cl_08_client_receives_messages_after_sending_close() {
    receives_messages_after_sending_close(Role::Client);
}

// ---- R-CL-10: the connection close code ----

fn reports_1005_for_empty_close_body(role: Role) {
    let mut c = conn(role);
    let (seen, err) = feed(&mut c, &frame_to(role, op::CLOSE, b""));
    assert_eq!((seen, err), (vec![close_event(1005, "")], None));
    assert_eq!(c.close_code(), Some(CloseCode::NO_STATUS_RECEIVED));
    // The reply carries no code either: 1005 may not be sent.
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].opcode, frames[0].payload.len()), (op::CLOSE, 0));
}

#[test]
fn r_cl_10_server_reports_1005_for_empty_close_body() {
    reports_1005_for_empty_close_body(Role::Server);
}

#[test]
fn r_cl_10_client_reports_1005_for_empty_close_body() {
    reports_1005_for_empty_close_body(Role::Client);
}

fn reports_1006_on_eof(role: Role) {
    // EOF while open: no Close is sent, the code is 1006.
    let mut c = conn(role);
    c.receive_eof();
    assert_eq!(c.state(), State::Failed);
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));
    assert_eq!(c.close_received(), None);
    assert_nothing_sent(&mut c);
    assert_eq!(c.send(Message::text("x")), Err(UsageError::Closed));

    // EOF after our Close, before the peer's (WPT passive-close-abort).
    let mut c = conn(role);
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_close_sent(&mut c, 1000);
    c.receive_eof();
    assert_eq!(c.state(), State::Failed);
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));

    // EOF in the middle of a frame.
    let mut c = conn(role);
    let wire = frame_to(role, op::TEXT, b"cut short");
    assert_eq!(feed(&mut c, &wire[..wire.len() - 1]), (vec![], None));
    c.receive_eof();
    assert_eq!(events(&mut c), (vec![], None));
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));
    assert_nothing_sent(&mut c);
}

#[test]
fn r_cl_10_server_reports_1006_on_eof() {
    reports_1006_on_eof(Role::Server);
}

#[test]
fn r_cl_10_client_reports_1006_on_eof() {
    reports_1006_on_eof(Role::Client);
}

fn keeps_peer_code_on_eof_after_handshake(role: Role) {
    let mut c = conn(role);
    let (_, err) = feed(&mut c, &frame_to(role, op::CLOSE, close_body(4001, "")));
    assert_eq!(err, None);
    c.receive_eof();
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_code(), Some(CloseCode::from(4001)));
}

#[test]
fn r_cl_10_server_keeps_peer_code_on_eof_after_handshake() {
    keeps_peer_code_on_eof_after_handshake(Role::Server);
}

#[test]
fn r_cl_10_client_keeps_peer_code_on_eof_after_handshake() {
    keeps_peer_code_on_eof_after_handshake(Role::Client);
}

fn keeps_the_first_close_received(role: Role) {
    let mut c = conn(role);
    let wire = [
        frame_to(role, op::CLOSE, close_body(1001, "first")),
        frame_to(role, op::CLOSE, close_body(1000, "second")),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!((seen, err), (vec![close_event(1001, "first")], None));
    c.receive(&frame_to(role, op::CLOSE, close_body(1000, "third")));
    assert_eq!(events(&mut c), (vec![], None));
    assert_eq!(c.close_code(), Some(CloseCode::GOING_AWAY));
    assert_close_sent(&mut c, 1001);
}

#[test]
fn r_cl_10_server_keeps_the_first_close_received() {
    keeps_the_first_close_received(Role::Server);
}

#[test]
fn r_cl_10_client_keeps_the_first_close_received() {
    keeps_the_first_close_received(Role::Client);
}

// ---- R-CL-12: after a failure, nothing more ----

fn processes_nothing_after_failure(role: Role) {
    let mut c = conn(role);
    let wire = [
        frame_to(role, op::TEXT, b"before"),
        RawFrame::new(op::BINARY, b"bad")
            .rsv(0b010)
            .to(role)
            .encode(),
        frame_to(role, op::TEXT, b"after"),
        frame_to(role, op::PING, b"after"),
        frame_to(role, op::CLOSE, close_body(1000, "")),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(seen, [Event::Message(Message::text("before"))]);
    assert_eq!(err, Some(Error::ReservedBitsSet));
    assert_eq!(c.state(), State::Failed);
    // More input is dropped, even a valid Close (§7.1.7).
    assert_eq!(events(&mut c), (vec![], None));
    c.receive(&frame_to(role, op::CLOSE, close_body(1000, "")));
    assert_eq!(events(&mut c), (vec![], None));
    assert_eq!(c.close_received(), None);
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));
    // One Close, with the failure's code, and no Pong.
    let close = assert_close_sent(&mut c, 1002);
    assert!(close.close_reason().len() <= 123);
    assert_eq!(sent_frames(&mut c), []);
    // The application can send nothing more.
    assert_eq!(c.send(Message::text("x")), Err(UsageError::Closed));
    assert_eq!(c.close(CloseCode::NORMAL, ""), Err(UsageError::Closed));
    c.receive_eof();
    assert_eq!(c.state(), State::Failed);
    assert_nothing_sent(&mut c);
}

#[test]
fn r_cl_12_server_processes_nothing_after_failure() {
    processes_nothing_after_failure(Role::Server);
}

#[test]
fn r_cl_12_client_processes_nothing_after_failure() {
    processes_nothing_after_failure(Role::Client);
}

fn sends_no_second_close_on_failure_after_close(role: Role) {
    let mut c = conn(role);
    c.close(CloseCode::NORMAL, "").unwrap();
    let (seen, err) = feed(&mut c, &frame_to(role, op::TEXT, b"\xff"));
    assert_eq!((seen, err), (vec![], Some(Error::InvalidUtf8)));
    assert_eq!(c.state(), State::Failed);
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));
    // Only our first Close went out.
    assert_close_sent(&mut c, 1000);
}

#[test]
fn r_cl_12_server_sends_no_second_close_on_failure_after_close() {
    sends_no_second_close_on_failure_after_close(Role::Server);
}

#[test]
fn r_cl_12_client_sends_no_second_close_on_failure_after_close() {
    sends_no_second_close_on_failure_after_close(Role::Client);
}

#[test]
fn r_cl_12_pair_client_sees_the_close_code_of_a_server_failure() {
    let mut pair = Pair::new();
    pair.client
        .send_raw(
            RawFrame::new(op::TEXT, b"x")
                .rsv(0b001)
                .masked(support::KEY)
                .encode()
                .into(),
        )
        .unwrap();
    pair.drive();
    assert_eq!(pair.server_log.error, Some(Error::ReservedBitsSet));
    assert_eq!(pair.server.state(), State::Failed);
    // The client reads the 1002 and replies; the failed server reads nothing.
    assert_eq!(pair.client_events(), [close_event(1002, "protocol error")]);
    assert_eq!(pair.client.state(), State::Closed);
    assert_eq!(pair.client.close_code(), Some(CloseCode::PROTOCOL_ERROR));
    assert_eq!(pair.server_events(), []);
}

// ---- R-SC-01: codes we may not send ----

fn refuses_to_send_reserved_codes(role: Role) {
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
    ] {
        let mut c = conn(role);
        assert_eq!(
            c.close(CloseCode::from(code), "reason"),
            Err(UsageError::InvalidCloseCode(code))
        );
        assert_eq!(c.state(), State::Open);
        assert_nothing_sent(&mut c);
    }
}

#[test]
fn r_sc_01_server_refuses_to_send_reserved_codes() {
    refuses_to_send_reserved_codes(Role::Server);
}

#[test]
fn r_sc_01_client_refuses_to_send_reserved_codes() {
    refuses_to_send_reserved_codes(Role::Client);
}

fn sends_empty_close_for_1005(role: Role) {
    let mut c = conn(role);
    c.close(CloseCode::NO_STATUS_RECEIVED, "").unwrap();
    assert_eq!(c.state(), State::CloseSent);
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!((frames[0].opcode, frames[0].payload.len()), (op::CLOSE, 0));
}

#[test]
fn r_sc_01_server_sends_empty_close_for_1005() {
    sends_empty_close_for_1005(Role::Server);
}

#[test]
fn r_sc_01_client_sends_empty_close_for_1005() {
    sends_empty_close_for_1005(Role::Client);
}

// ---- R-SC-02: codes the peer may not send ----

fn fails_on_invalid_received_close_code(role: Role) {
    for code in [
        0u16, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let wire = frame_to(role, op::CLOSE, close_body(code, ""));
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(err, Error::InvalidCloseCode(code));
        assert_close_sent(&mut c, 1002);
        assert_eq!(c.close_received(), None);
    }
}

#[test]
fn r_sc_02_server_fails_1002_on_invalid_received_close_code() {
    fails_on_invalid_received_close_code(Role::Server);
}

#[test]
fn r_sc_02_client_fails_1002_on_invalid_received_close_code() {
    fails_on_invalid_received_close_code(Role::Client);
}

// ---- R-SC-03: the reason is UTF-8 ----

fn fails_1007_on_invalid_close_reason(role: Role) {
    for reason in [&b"\xff"[..], b"ok\xed\xa0\x80", b"cut \xe2\x82"] {
        let mut body = 1000u16.to_be_bytes().to_vec();
        body.extend_from_slice(reason);
        let (mut c, err) = failure(role, Config::default(), &frame_to(role, op::CLOSE, body));
        assert_eq!(err, Error::InvalidUtf8);
        assert_close_sent(&mut c, 1007);
        assert_eq!(c.close_received(), None);
    }
}

#[test]
fn r_sc_03_server_fails_1007_on_invalid_close_reason() {
    fails_1007_on_invalid_close_reason(Role::Server);
}

#[test]
fn r_sc_03_client_fails_1007_on_invalid_close_reason() {
    fails_1007_on_invalid_close_reason(Role::Client);
}

// ---- Close reasons are at most 123 bytes ----

fn refuses_close_reason_over_123_bytes(role: Role) {
    let mut c = conn(role);
    assert_eq!(
        c.close(CloseCode::NORMAL, &"x".repeat(124)),
        Err(UsageError::CloseReasonTooLong(124))
    );
    // 62 two-byte characters: 124 bytes.
    assert_eq!(
        c.close(CloseCode::NORMAL, &"é".repeat(62)),
        Err(UsageError::CloseReasonTooLong(124))
    );
    assert_eq!(c.state(), State::Open);
    assert_nothing_sent(&mut c);
    c.close(CloseCode::NORMAL, &"x".repeat(123)).unwrap();
    let close = assert_close_sent(&mut c, 1000);
    assert_eq!(close.payload.len(), 125);
}

#[test]
fn server_refuses_close_reason_over_123_bytes() {
    refuses_close_reason_over_123_bytes(Role::Server);
}

#[test]
fn client_refuses_close_reason_over_123_bytes() {
    refuses_close_reason_over_123_bytes(Role::Client);
}

#[test]
fn pair_close_from_either_side_completes_cleanly() {
    for initiator in [Role::Client, Role::Server] {
        let mut pair = Pair::new().chunked(2);
        let (closer, other): (&mut Connection, Role) = match initiator {
            Role::Client => (&mut pair.client, peer_of(initiator)),
            Role::Server => (&mut pair.server, peer_of(initiator)),
        };
        closer.send(Message::text("goodbye")).unwrap();
        closer.close(CloseCode::from(4321), "done here").unwrap();
        pair.drive();
        let (closer_events, other_events) = match initiator {
            Role::Client => (pair.client_events(), pair.server_events()),
            Role::Server => (pair.server_events(), pair.client_events()),
        };
        assert_eq!(
            other_events,
            [
                Event::Message(Message::text("goodbye")),
                close_event(4321, "done here")
            ],
            "{other:?}"
        );
        assert_eq!(closer_events, [close_event(4321, "done here")]);
        assert_eq!(pair.client.state(), State::Closed);
        assert_eq!(pair.server.state(), State::Closed);
        assert_eq!(pair.client.close_code(), Some(CloseCode::from(4321)));
        assert_eq!(pair.server.close_code(), Some(CloseCode::from(4321)));
    }
}

fn reads_input_fed_before_eof(role: Role) {
    // A peer that writes its last message and its Close, then closes TCP at
    // once: a driver that reads both the bytes and the EOF before it asks
    // for events must still see a clean close.
    let mut c = conn(role);
    let wire = [
        frame_to(role, op::TEXT, b"last"),
        frame_to(role, op::CLOSE, close_body(1000, "")),
    ]
    .concat();
    c.receive(&wire);
    c.receive_eof();
    let (seen, err) = events(&mut c);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [Event::Message(Message::text("last")), close_event(1000, "")]
    );
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_code(), Some(CloseCode::NORMAL));
}

#[test]
fn r_cl_10_server_reads_input_fed_before_eof() {
    reads_input_fed_before_eof(Role::Server);
}

#[test]
fn r_cl_10_client_reads_input_fed_before_eof() {
    reads_input_fed_before_eof(Role::Client);
}

fn ends_cleanly_on_eof_after_buffered_close_reply(role: Role) {
    // We closed; the peer's reply and its EOF arrive before we read.
    let mut c = conn(role);
    c.close(CloseCode::GOING_AWAY, "").unwrap();
    c.receive(&frame_to(role, op::CLOSE, close_body(1001, "")));
    c.receive_eof();
    assert_eq!(events(&mut c), (vec![close_event(1001, "")], None));
    assert_eq!(c.state(), State::Closed);
    assert_eq!(c.close_code(), Some(CloseCode::GOING_AWAY));
    assert_close_sent(&mut c, 1001);
}

#[test]
fn r_cl_10_server_ends_cleanly_on_eof_after_buffered_close_reply() {
    ends_cleanly_on_eof_after_buffered_close_reply(Role::Server);
}

#[test]
fn r_cl_10_client_ends_cleanly_on_eof_after_buffered_close_reply() {
    ends_cleanly_on_eof_after_buffered_close_reply(Role::Client);
}

fn fails_1006_on_eof_inside_a_fragmented_message(role: Role) {
    let mut c = conn(role);
    c.receive(
        &RawFrame::new(op::TEXT, b"half")
            .fin(false)
            .to(role)
            .encode(),
    );
    c.receive(&frame_to(role, op::PING, b"p"));
    c.receive_eof();
    // The Ping before the EOF is still read and answered.
    assert_eq!(events(&mut c), (vec![Event::Ping("p".into())], None));
    assert_eq!(c.state(), State::Failed);
    assert_eq!(c.close_code(), Some(CloseCode::ABNORMAL));
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].opcode, op::PONG);
}

#[test]
fn r_cl_10_server_fails_1006_on_eof_inside_a_fragmented_message() {
    fails_1006_on_eof_inside_a_fragmented_message(Role::Server);
}

#[test]
fn r_cl_10_client_fails_1006_on_eof_inside_a_fragmented_message() {
    fails_1006_on_eof_inside_a_fragmented_message(Role::Client);
}
