//! Size limits (RFC 6455 §10.4): lengths are judged from the header, before
//! anything is reserved, and what arrived before a violation is delivered.

mod support;

use sockeye_proto::{CloseCode, Config, Connection, Error, Event, Message, Role, State};
use support::{
    LenForm, RawFrame, alloc::peak_during, assert_close_sent, conn, drain, events, failure, feed,
    frame_to, op, parse_frames,
};

/// The most heap a connection may touch to refuse (or wait for) a frame
/// whose header claims a huge payload: a few small buffers, never the payload.
const HEADER_ONLY_HEAP: u64 = 4 << 10;

fn limited(max_frame_size: usize, max_message_size: usize) -> Config {
    Config {
        max_frame_size,
        max_message_size,
        ..Config::default()
    }
}

// ---- R-LM-01: huge declared lengths ----

fn fails_1009_from_a_huge_header_alone(role: Role) {
    for len in [(1u64 << 63) - 1, 1 << 62, 1 << 32, (16 << 20) + 1] {
        for opcode in [op::TEXT, op::BINARY] {
            let header = RawFrame::new(opcode, b"")
                .declared_len(len)
                .to(role)
                .header();
            // 10 bytes from a server, 14 with the mask from a client.
            assert_eq!(header.len(), if role == Role::Client { 10 } else { 14 });
            let mut c = conn(role);
            let ((seen, err), heap) = peak_during(|| feed(&mut c, &header));
            assert_eq!(seen, []);
            assert_eq!(
                err,
                Some(Error::FrameTooBig {
                    size: len,
                    limit: 16 << 20
                })
            );
            assert!(heap < HEADER_ONLY_HEAP, "{heap} bytes allocated for {len}");
            assert_close_sent(&mut c, 1009);
        }
    }
}

#[test]
fn r_lm_01_server_fails_1009_from_a_huge_header_alone() {
    fails_1009_from_a_huge_header_alone(Role::Server);
}

#[test]
fn r_lm_01_client_fails_1009_from_a_huge_header_alone() {
    fails_1009_from_a_huge_header_alone(Role::Client);
}

fn reserves_nothing_for_a_huge_frame_without_limits(role: Role) {
    let unlimited = limited(usize::MAX, usize::MAX);
    let mut c = Connection::new(role, unlimited);
    let len = (1u64 << 63) - 1;
    let header = RawFrame::new(op::BINARY, b"")
        .declared_len(len)
        .to(role)
        .header();
    let ((seen, err), heap) = peak_during(|| feed(&mut c, &header));
    assert_eq!((seen, err), (vec![], None));
    assert!(heap < HEADER_ONLY_HEAP, "{heap} bytes allocated");
    assert_eq!(c.read_hint() as u64, len);
    // A little payload costs a little memory.
    let ((seen, err), heap) = peak_during(|| feed(&mut c, &[0u8; 1000]));
    assert_eq!((seen, err), (vec![], None));
    assert!(heap < HEADER_ONLY_HEAP + 2000, "{heap} bytes allocated");
    assert_eq!(c.read_hint() as u64, len - 1000);
}

#[test]
fn r_lm_01_server_reserves_nothing_for_a_huge_frame_without_limits() {
    reserves_nothing_for_a_huge_frame_without_limits(Role::Server);
}

#[test]
fn r_lm_01_client_reserves_nothing_for_a_huge_frame_without_limits() {
    reserves_nothing_for_a_huge_frame_without_limits(Role::Client);
}

/// `read_buffer` lets a transport read a large frame without a copy, but
/// its room follows what arrived (16 times, at least 64 KiB), never the
/// length a header announces.
fn read_buffer_room_follows_received_data(role: Role) {
    let unlimited = limited(usize::MAX, usize::MAX);
    let mut c = Connection::new(role, unlimited);
    let len = (1u64 << 63) - 1;
    let header = RawFrame::new(op::BINARY, b"")
        .declared_len(len)
        .to(role)
        .header();
    let (seen, err) = feed(&mut c, &header);
    assert_eq!((seen, err), (vec![], None));
    let (spare, heap) = peak_during(|| {
        let buf = c.read_buffer().expect("reading");
        buf.capacity() - buf.len()
    });
    assert!(spare >= 64 << 10, "room for a 64 KiB read: {spare}");
    assert!(heap <= 80 << 10, "{heap} bytes for an announced frame");
    // After 64 KiB arrived, room for at most 16 times as much.
    let buf = c.read_buffer().expect("reading");
    buf.extend_from_slice(&vec![0; 64 << 10]);
    let (buffered, spare) = {
        let buf = c.read_buffer().expect("reading");
        (buf.len(), buf.capacity() - buf.len())
    };
    assert!(buffered >= 64 << 10);
    assert!(
        spare <= 16 * buffered + (64 << 10),
        "{spare} spare for {buffered}"
    );
    assert!(spare >= 64 << 10);
    // The bytes appended count as received.
    assert_eq!(c.read_hint() as u64, len - (64 << 10));
}

#[test]
fn read_buffer_room_follows_received_data_server() {
    read_buffer_room_follows_received_data(Role::Server);
}

#[test]
fn read_buffer_room_follows_received_data_client() {
    read_buffer_room_follows_received_data(Role::Client);
}

#[test]
fn read_buffer_is_none_once_input_is_dropped() {
    let mut c = conn(Role::Server);
    c.receive_eof();
    assert!(c.read_buffer().is_none());
}

// ---- Config::max_frame_size ----

fn fails_1009_over_max_frame_size(role: Role) {
    let config = limited(100, 1000);
    let mut c = Connection::new(role, config.clone());
    let (seen, err) = feed(&mut c, &frame_to(role, op::BINARY, [1; 100]));
    assert_eq!((seen.len(), err), (1, None));

    for len in [101u64, 1000, 70_000] {
        let header = RawFrame::new(op::BINARY, b"")
            .declared_len(len)
            .to(role)
            .header();
        let (mut c, err) = failure(role, config.clone(), &header);
        assert_eq!(
            err,
            Error::FrameTooBig {
                size: len,
                limit: 100
            }
        );
        assert_close_sent(&mut c, 1009);
    }
}

#[test]
fn r_lm_01_server_fails_1009_over_max_frame_size() {
    fails_1009_over_max_frame_size(Role::Server);
}

#[test]
fn r_lm_01_client_fails_1009_over_max_frame_size() {
    fails_1009_over_max_frame_size(Role::Client);
}

fn applies_frame_limit_to_each_fragment(role: Role) {
    // Fragments of at most 100 bytes make a 1000-byte message.
    let config = limited(100, 1000);
    let mut wire = Vec::new();
    for i in 0..10 {
        let opcode = if i == 0 { op::BINARY } else { op::CONTINUATION };
        wire.extend(
            RawFrame::new(opcode, [i; 100])
                .fin(i == 9)
                .to(role)
                .encode(),
        );
    }
    let mut c = Connection::new(role, config.clone());
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(seen.len(), 1);

    let wire = [
        RawFrame::new(op::BINARY, [0; 100])
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, b"")
            .declared_len(101)
            .to(role)
            .header(),
    ]
    .concat();
    let (mut c, err) = failure(role, config, &wire);
    assert_eq!(
        err,
        Error::FrameTooBig {
            size: 101,
            limit: 100
        }
    );
    assert_close_sent(&mut c, 1009);
}

#[test]
fn r_lm_01_server_applies_frame_limit_to_each_fragment() {
    applies_frame_limit_to_each_fragment(Role::Server);
}

#[test]
fn r_lm_01_client_applies_frame_limit_to_each_fragment() {
    applies_frame_limit_to_each_fragment(Role::Client);
}

// ---- Config::max_message_size ----

fn fails_1009_over_max_message_size_across_fragments(role: Role) {
    let config = limited(1000, 100);
    // 60 + 40 bytes: exactly the limit.
    let wire = [
        RawFrame::new(op::TEXT, [b'a'; 60])
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, [b'b'; 40])
            .to(role)
            .encode(),
    ]
    .concat();
    let mut c = Connection::new(role, config.clone());
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!((seen.len(), err), (1, None));

    // 60 + 41 bytes: refused from the second header alone.
    let wire = [
        RawFrame::new(op::TEXT, [b'a'; 60])
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, b"")
            .declared_len(41)
            .to(role)
            .header(),
    ]
    .concat();
    let (mut c, err) = failure(role, config.clone(), &wire);
    assert_eq!(
        err,
        Error::MessageTooBig {
            size: 101,
            limit: 100
        }
    );
    assert_close_sent(&mut c, 1009);

    // Many small fragments add up.
    let mut wire = RawFrame::new(op::BINARY, [0; 10])
        .fin(false)
        .to(role)
        .encode();
    for _ in 0..9 {
        wire.extend(
            RawFrame::new(op::CONTINUATION, [0; 10])
                .fin(false)
                .to(role)
                .encode(),
        );
    }
    wire.extend(
        RawFrame::new(op::CONTINUATION, [0; 1])
            .fin(false)
            .to(role)
            .encode(),
    );
    let (mut c, err) = failure(role, config, &wire);
    assert_eq!(
        err,
        Error::MessageTooBig {
            size: 101,
            limit: 100
        }
    );
    assert_close_sent(&mut c, 1009);
}

#[test]
fn r_lm_01_server_fails_1009_over_max_message_size_across_fragments() {
    fails_1009_over_max_message_size_across_fragments(Role::Server);
}

#[test]
fn r_lm_01_client_fails_1009_over_max_message_size_across_fragments() {
    fails_1009_over_max_message_size_across_fragments(Role::Client);
}

fn fails_1009_on_single_frame_over_max_message_size(role: Role) {
    let config = limited(1000, 100);
    let header = RawFrame::new(op::BINARY, b"")
        .declared_len(101)
        .to(role)
        .header();
    let (mut c, err) = failure(role, config, &header);
    assert_eq!(
        err,
        Error::MessageTooBig {
            size: 101,
            limit: 100
        }
    );
    assert_close_sent(&mut c, 1009);
}

#[test]
fn r_lm_01_server_fails_1009_on_single_frame_over_max_message_size() {
    fails_1009_on_single_frame_over_max_message_size(Role::Server);
}

#[test]
fn r_lm_01_client_fails_1009_on_single_frame_over_max_message_size() {
    fails_1009_on_single_frame_over_max_message_size(Role::Client);
}

fn allows_only_empty_messages_with_zero_limit(role: Role) {
    let config = limited(0, 0);
    let mut c = Connection::new(role, config.clone());
    let wire = [
        frame_to(role, op::TEXT, b""),
        RawFrame::new(op::BINARY, b"").fin(false).to(role).encode(),
        RawFrame::new(op::CONTINUATION, b"").to(role).encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!((seen.len(), err), (2, None));
    let (_, err) = failure(role, config, &frame_to(role, op::TEXT, b"x"));
    assert_eq!(err.close_code(), CloseCode::MESSAGE_TOO_BIG);
}

#[test]
fn server_allows_only_empty_messages_with_zero_limit() {
    allows_only_empty_messages_with_zero_limit(Role::Server);
}

#[test]
fn client_allows_only_empty_messages_with_zero_limit() {
    allows_only_empty_messages_with_zero_limit(Role::Client);
}

fn holds_at_most_one_frame_while_assembling(role: Role) {
    // A 1 MiB message in 1 KiB fragments, fed one fragment at a time: the
    // engine's heap grows with the message, not with anything more.
    const FRAGMENT: usize = 1024;
    const COUNT: usize = 1024;
    let mut c = conn(role);
    let frames: Vec<Vec<u8>> = (0..COUNT)
        .map(|i| {
            let opcode = if i == 0 { op::BINARY } else { op::CONTINUATION };
            RawFrame::new(opcode, vec![0x5a; FRAGMENT])
                .fin(i == COUNT - 1)
                .to(role)
                .encode()
        })
        .collect();
    let mut message = None;
    let ((), heap) = peak_during(|| {
        for frame in &frames {
            let (seen, err) = feed(&mut c, frame);
            assert_eq!(err, None);
            if let Some(Event::Message(m)) = seen.into_iter().next() {
                message = Some(m);
            }
        }
    });
    assert_eq!(message.map(|m| m.len()), Some(FRAGMENT * COUNT));
    // Growth by doubling can hold up to twice the message, plus one frame.
    assert!(heap < 3 * (FRAGMENT * COUNT) as u64, "{heap} bytes at peak");
}

#[test]
fn server_holds_at_most_the_message_while_assembling() {
    holds_at_most_one_frame_while_assembling(Role::Server);
}

#[test]
fn client_holds_at_most_the_message_while_assembling() {
    holds_at_most_one_frame_while_assembling(Role::Client);
}

// ---- Messages before a violation are delivered first ----

/// Autobahn's "echo then fail" cases: a good message and a bad frame in one
/// read. The first `next_event` returns the message, so the application can
/// echo it; the second returns the error, and the Close follows the echo.
fn echoes_then_fails(role: Role, bad: &[u8], expected: &Error, code: u16) {
    let config = limited(1 << 20, 1 << 20);
    let mut c = Connection::new(role, config);
    let wire = [frame_to(role, op::TEXT, b"good"), bad.to_vec()].concat();
    c.receive(&wire);
    let first = c.next_event();
    assert_eq!(first, Ok(Some(Event::Message(Message::text("good")))));
    c.send(Message::text("good")).unwrap();
    assert_eq!(c.next_event().as_ref(), Err(expected));
    assert_eq!(c.next_event(), Ok(None));
    assert_eq!(c.state(), State::Failed);
    let frames = parse_frames(&drain(&mut c), role == Role::Client);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(
        (frames[0].opcode, &frames[0].payload[..]),
        (op::TEXT, &b"good"[..])
    );
    assert_eq!(frames[1].close_code(), Some(code));
}

fn echoes_then_fails_on_each_violation(role: Role) {
    let cases: Vec<(Vec<u8>, Error, u16)> = vec![
        // 3.x: reserved bits.
        (
            RawFrame::new(op::TEXT, b"rsv").rsv(0b001).to(role).encode(),
            Error::ReservedBitsSet,
            1002,
        ),
        // 4.x: reserved opcodes.
        (
            RawFrame::new(0xb, b"").to(role).encode(),
            Error::ReservedOpcode(0xb),
            1002,
        ),
        // 9.x: too big, from the header.
        (
            RawFrame::new(op::BINARY, b"")
                .declared_len(2 << 20)
                .to(role)
                .header(),
            Error::FrameTooBig {
                size: 2 << 20,
                limit: 1 << 20,
            },
            1009,
        ),
        // 6.x: invalid text in the next message.
        (
            frame_to(role, op::TEXT, b"\xce\xba\xff"),
            Error::InvalidUtf8,
            1007,
        ),
        // A non-minimal length.
        (
            RawFrame::new(op::BINARY, b"x")
                .len_form(LenForm::U64)
                .to(role)
                .encode(),
            Error::NonMinimalLength,
            1002,
        ),
    ];
    for (bad, expected, code) in cases {
        echoes_then_fails(role, &bad, &expected, code);
    }
}

#[test]
fn r_lm_01_server_echoes_then_fails_on_each_violation() {
    echoes_then_fails_on_each_violation(Role::Server);
}

#[test]
fn r_lm_01_client_echoes_then_fails_on_each_violation() {
    echoes_then_fails_on_each_violation(Role::Client);
}

fn delivers_fragmented_message_then_fails_on_orphan_continuation(role: Role) {
    // Autobahn 5.15: two fragments, a continuation with nothing to continue,
    // then a text message, all in one read.
    let wire = [
        RawFrame::new(op::TEXT, b"fragment1")
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, b"fragment2")
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, b"fragment3")
            .fin(false)
            .to(role)
            .encode(),
        frame_to(role, op::TEXT, b"fragment4"),
    ]
    .concat();
    let mut c = conn(role);
    c.receive(&wire);
    assert_eq!(
        c.next_event(),
        Ok(Some(Event::Message(Message::text("fragment1fragment2"))))
    );
    assert_eq!(c.next_event(), Err(Error::UnexpectedContinuation));
    assert_eq!(events(&mut c), (vec![], None));
    assert_close_sent(&mut c, 1002);
}

#[test]
fn r_fg_02_server_delivers_fragmented_message_then_fails_on_orphan_continuation() {
    delivers_fragmented_message_then_fails_on_orphan_continuation(Role::Server);
}

#[test]
fn r_fg_02_client_delivers_fragmented_message_then_fails_on_orphan_continuation() {
    delivers_fragmented_message_then_fails_on_orphan_continuation(Role::Client);
}
