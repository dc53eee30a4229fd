//! Fragmentation and message assembly (RFC 6455 §5.4, §6.2).

mod support;

use sockeye_proto::{CloseCode, CloseFrame, Config, Connection, Error, Event, Message, Role};
use support::{
    RawFrame, assert_close_sent, close_body, conn, events, failure, feed, op, sent_frames,
};

/// `parts` as one fragmented message of type `opcode`, as the peer of
/// `receiver` would send it.
fn fragmented(receiver: Role, opcode: u8, parts: &[&[u8]]) -> Vec<u8> {
    let last = parts.len() - 1;
    let mut wire = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let code = if i == 0 { opcode } else { op::CONTINUATION };
        wire.extend(
            RawFrame::new(code, part)
                .fin(i == last)
                .to(receiver)
                .encode(),
        );
    }
    wire
}

// ---- R-FG-01: a message is one frame, or FIN=0 opcode, 0..n continuations, FIN=1 ----

fn assembles_fragmented_messages(role: Role) {
    let mut c = conn(role);
    let wire = [
        fragmented(role, op::TEXT, &[b"frag", b"men", b"ted"]),
        fragmented(role, op::BINARY, &[&[1, 2], &[3]]),
        fragmented(role, op::TEXT, &[b"two ", b"parts"]),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Message(Message::text("fragmented")),
            Event::Message(Message::binary(vec![1, 2, 3])),
            Event::Message(Message::text("two parts")),
        ]
    );
}

#[test]
fn r_fg_01_server_assembles_fragmented_messages() {
    assembles_fragmented_messages(Role::Server);
}

#[test]
fn r_fg_01_client_assembles_fragmented_messages() {
    assembles_fragmented_messages(Role::Client);
}

fn reports_nothing_until_the_final_fragment(role: Role) {
    let mut c = conn(role);
    let first = RawFrame::new(op::TEXT, b"not yet")
        .fin(false)
        .to(role)
        .encode();
    let middle = RawFrame::new(op::CONTINUATION, b", ")
        .fin(false)
        .to(role)
        .encode();
    let last = RawFrame::new(op::CONTINUATION, b"now").to(role).encode();
    assert_eq!(feed(&mut c, &first), (vec![], None));
    assert_eq!(feed(&mut c, &middle), (vec![], None));
    assert_eq!(
        feed(&mut c, &last),
        (vec![Event::Message(Message::text("not yet, now"))], None)
    );
}

#[test]
fn r_fg_01_server_reports_nothing_until_the_final_fragment() {
    reports_nothing_until_the_final_fragment(Role::Server);
}

#[test]
fn r_fg_01_client_reports_nothing_until_the_final_fragment() {
    reports_nothing_until_the_final_fragment(Role::Client);
}

// ---- R-FG-02: a continuation with nothing to continue ----

fn fails_on_continuation_without_message(role: Role) {
    for fin in [true, false] {
        let wire = RawFrame::new(op::CONTINUATION, b"orphan")
            .fin(fin)
            .to(role)
            .encode();
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(err, Error::UnexpectedContinuation);
        assert_close_sent(&mut c, 1002);
    }
}

#[test]
fn r_fg_02_server_fails_1002_on_continuation_without_message() {
    fails_on_continuation_without_message(Role::Server);
}

#[test]
fn r_fg_02_client_fails_1002_on_continuation_without_message() {
    fails_on_continuation_without_message(Role::Client);
}

fn fails_on_continuation_after_final_fragment(role: Role) {
    let mut c = conn(role);
    let wire = [
        fragmented(role, op::TEXT, &[b"a", b"b"]),
        RawFrame::new(op::CONTINUATION, b"c").to(role).encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(seen, [Event::Message(Message::text("ab"))]);
    assert_eq!(err, Some(Error::UnexpectedContinuation));
    assert_close_sent(&mut c, 1002);
}

#[test]
fn r_fg_02_server_fails_1002_on_continuation_after_final_fragment() {
    fails_on_continuation_after_final_fragment(Role::Server);
}

#[test]
fn r_fg_02_client_fails_1002_on_continuation_after_final_fragment() {
    fails_on_continuation_after_final_fragment(Role::Client);
}

// ---- R-FG-03: no new data frame inside a fragmented message ----

fn fails_on_new_data_frame_mid_message(role: Role) {
    for first in [op::TEXT, op::BINARY] {
        for second in [op::TEXT, op::BINARY] {
            for fin in [true, false] {
                let wire = [
                    RawFrame::new(first, b"start").fin(false).to(role).encode(),
                    RawFrame::new(second, b"intruder")
                        .fin(fin)
                        .to(role)
                        .encode(),
                ]
                .concat();
                let (mut c, err) = failure(role, Config::default(), &wire);
                assert_eq!(err, Error::ExpectedContinuation);
                assert_close_sent(&mut c, 1002);
            }
        }
    }
}

#[test]
fn r_fg_03_server_fails_1002_on_new_data_frame_mid_message() {
    fails_on_new_data_frame_mid_message(Role::Server);
}

#[test]
fn r_fg_03_client_fails_1002_on_new_data_frame_mid_message() {
    fails_on_new_data_frame_mid_message(Role::Client);
}

// ---- R-FG-04: control frames between fragments ----

fn answers_ping_between_fragments(role: Role) {
    let mut c = conn(role);
    let head = [
        RawFrame::new(op::TEXT, b"Hel").fin(false).to(role).encode(),
        RawFrame::new(op::PING, b"mid").to(role).encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &head);
    assert_eq!((seen, err), (vec![Event::Ping("mid".into())], None));
    // The Pong leaves before the message is complete.
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].opcode, &frames[0].payload[..]),
        (op::PONG, &b"mid"[..])
    );

    let tail = [
        RawFrame::new(op::PONG, b"unsolicited").to(role).encode(),
        RawFrame::new(op::CONTINUATION, b"lo").to(role).encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &tail);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Pong("unsolicited".into()),
            Event::Message(Message::text("Hello")),
        ]
    );
}

#[test]
fn r_fg_04_server_answers_ping_between_fragments() {
    answers_ping_between_fragments(Role::Server);
}

#[test]
fn r_fg_04_client_answers_ping_between_fragments() {
    answers_ping_between_fragments(Role::Client);
}

fn closes_on_close_between_fragments(role: Role) {
    let mut c = conn(role);
    let wire = [
        RawFrame::new(op::BINARY, b"half")
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CLOSE, close_body(1001, "away"))
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, b" a message")
            .to(role)
            .encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    let close = CloseFrame::new(CloseCode::GOING_AWAY, "away").unwrap();
    assert_eq!(seen, [Event::Close(close)]);
    assert_close_sent(&mut c, 1001);
}

#[test]
fn r_fg_04_server_closes_on_close_between_fragments() {
    closes_on_close_between_fragments(Role::Server);
}

#[test]
fn r_fg_04_client_closes_on_close_between_fragments() {
    closes_on_close_between_fragments(Role::Client);
}

fn keeps_text_state_across_control_frames(role: Role) {
    // "é" (c3 a9) cut by a Ping between its two bytes.
    let mut c = conn(role);
    let wire = [
        RawFrame::new(op::TEXT, b"caf\xc3")
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::PING, b"").to(role).encode(),
        RawFrame::new(op::CONTINUATION, b"\xa9").to(role).encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Ping("".into()),
            Event::Message(Message::text("café"))
        ]
    );
}

#[test]
fn r_fg_04_server_keeps_text_state_across_control_frames() {
    keeps_text_state_across_control_frames(Role::Server);
}

#[test]
fn r_fg_04_client_keeps_text_state_across_control_frames() {
    keeps_text_state_across_control_frames(Role::Client);
}

// ---- R-FG-05: any fragment size, zero included ----

fn accepts_zero_length_fragments(role: Role) {
    let mut c = conn(role);
    let wire = [
        fragmented(role, op::TEXT, &[b"", b"", b"zero", b"", b"s", b""]),
        fragmented(role, op::BINARY, &[b"", b""]),
        fragmented(role, op::TEXT, &[b""]),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Message(Message::text("zeros")),
            Event::Message(Message::binary(vec![])),
            Event::Message(Message::text("")),
        ]
    );
}

#[test]
fn r_fg_05_server_accepts_zero_length_fragments() {
    accepts_zero_length_fragments(Role::Server);
}

#[test]
fn r_fg_05_client_accepts_zero_length_fragments() {
    accepts_zero_length_fragments(Role::Client);
}

/// Autobahn 9.3.1 / 9.4.1 style: 4 MiB in 64-byte fragments, default config.
fn accepts_4_mib_in_64_byte_fragments(role: Role, opcode: u8) {
    const SIZE: usize = 4 << 20;
    let payload: Vec<u8> = (0..SIZE).map(|i| b"0123456789abcdef"[i % 16]).collect();
    let parts: Vec<&[u8]> = payload.chunks(64).collect();
    assert_eq!(parts.len(), 65_536);
    let wire = fragmented(role, opcode, &parts);
    let mut c = conn(role);
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(seen.len(), 1);
    let Event::Message(message) = &seen[0] else {
        panic!("not a message: {:?}", seen[0]);
    };
    assert_eq!(message.is_text(), opcode == op::TEXT);
    assert!(message.payload() == payload, "payload differs");
}

#[test]
fn r_fg_05_server_accepts_4_mib_text_in_64_byte_fragments() {
    accepts_4_mib_in_64_byte_fragments(Role::Server, op::TEXT);
}

#[test]
fn r_fg_05_client_accepts_4_mib_binary_in_64_byte_fragments() {
    accepts_4_mib_in_64_byte_fragments(Role::Client, op::BINARY);
}

// ---- R-FG-06: order and type ----

fn keeps_order_and_first_opcode(role: Role) {
    let mut c = conn(role);
    let parts: Vec<Vec<u8>> = (0u8..20).map(|i| vec![i; usize::from(i)]).collect();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let (seen, err) = feed(&mut c, &fragmented(role, op::BINARY, &refs));
    assert_eq!(err, None);
    assert_eq!(seen, [Event::Message(Message::binary(parts.concat()))]);
}

#[test]
fn r_fg_06_server_keeps_fragment_order_and_first_opcode() {
    keeps_order_and_first_opcode(Role::Server);
}

#[test]
fn r_fg_06_client_keeps_fragment_order_and_first_opcode() {
    keeps_order_and_first_opcode(Role::Client);
}

// ---- R-FG-07: frame boundaries do not matter ----

fn same_message_whatever_the_framing(role: Role) {
    let text = "the same message, framed in many ways: ünïcödé ✓";
    let bytes = text.as_bytes();
    let expected = vec![Event::Message(Message::text(text))];
    for size in 1..=bytes.len() {
        let parts: Vec<&[u8]> = bytes.chunks(size).collect();
        let wire = fragmented(role, op::TEXT, &parts);
        // Whole, and then one byte per read.
        assert_eq!(
            feed(&mut conn(role), &wire),
            (expected.clone(), None),
            "size {size}"
        );
        let mut c = conn(role);
        let mut seen = Vec::new();
        for b in &wire {
            let (got, err) = feed(&mut c, std::slice::from_ref(b));
            assert_eq!(err, None);
            seen.extend(got);
        }
        assert_eq!(seen, expected, "size {size}, byte per read");
    }
}

#[test]
fn r_fg_07_server_reports_the_same_message_whatever_the_framing() {
    same_message_whatever_the_framing(Role::Server);
}

#[test]
fn r_fg_07_client_reports_the_same_message_whatever_the_framing() {
    same_message_whatever_the_framing(Role::Client);
}

// ---- R-FG-08: FIN ends the message ----

fn starts_a_new_message_after_fin(role: Role) {
    let mut c = conn(role);
    let wire = [
        fragmented(role, op::TEXT, &[b"one", b"!"]),
        fragmented(role, op::BINARY, &[b"two"]),
        fragmented(role, op::BINARY, &[b"thr", b"ee"]),
        fragmented(role, op::TEXT, &[b"four"]),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Message(Message::text("one!")),
            Event::Message(Message::binary(&b"two"[..])),
            Event::Message(Message::binary(&b"three"[..])),
            Event::Message(Message::text("four")),
        ]
    );
}

#[test]
fn r_fg_08_server_starts_a_new_message_after_fin() {
    starts_a_new_message_after_fin(Role::Server);
}

#[test]
fn r_fg_08_client_starts_a_new_message_after_fin() {
    starts_a_new_message_after_fin(Role::Client);
}

// ---- Config::max_fragments ----

fn fails_1009_over_max_fragments(role: Role) {
    let config = Config {
        max_fragments: Some(4),
        ..Config::default()
    };
    let four: [&[u8]; 4] = [b"a", b"b", b"c", b"d"];
    let mut c = Connection::new(role, config.clone());
    let (seen, err) = feed(&mut c, &fragmented(role, op::TEXT, &four));
    assert_eq!(
        (seen, err),
        (vec![Event::Message(Message::text("abcd"))], None)
    );

    // The fifth fragment is refused from its header alone.
    let mut wire = RawFrame::new(op::BINARY, b"a").fin(false).to(role).encode();
    for part in [b"b", b"c", b"d"] {
        wire.extend(
            RawFrame::new(op::CONTINUATION, part)
                .fin(false)
                .to(role)
                .encode(),
        );
    }
    wire.extend(RawFrame::new(op::CONTINUATION, b"e").to(role).header());
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(seen, []);
    assert_eq!(err, Some(Error::TooManyFragments { limit: 4 }));
    assert_close_sent(&mut c, 1009);
}

#[test]
fn server_fails_1009_over_max_fragments() {
    fails_1009_over_max_fragments(Role::Server);
}

#[test]
fn client_fails_1009_over_max_fragments() {
    fails_1009_over_max_fragments(Role::Client);
}

fn counts_fragments_per_message(role: Role) {
    let config = Config {
        max_fragments: Some(2),
        ..Config::default()
    };
    let mut c = Connection::new(role, config);
    let wire: Vec<u8> = (0..10)
        .flat_map(|_| fragmented(role, op::BINARY, &[b"x", b"y"]))
        .collect();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(seen.len(), 10);
    let (_, err) = events(&mut c);
    assert_eq!(err, None);
}

#[test]
fn server_counts_fragments_per_message() {
    counts_fragments_per_message(Role::Server);
}

#[test]
fn client_counts_fragments_per_message() {
    counts_fragments_per_message(Role::Client);
}
