//! UTF-8 in text messages (RFC 6455 §5.6, §8.1): checked incrementally,
//! failing with 1007 at the first byte that cannot become valid.

mod support;

use sockeye_proto::{CloseCode, Config, Error, Event, Message, Role, State};
use support::{RawFrame, assert_close_sent, conn, failure, feed, frame_to, op};

/// Text with 1-, 2-, 3- and 4-byte code points.
const MIXED: &str = "aé€😀κόσμε z\u{10ffff}";

/// Byte sequences that no continuation can make valid (R-U8-03), each with
/// what it breaks.
const INVALID: &[(&[u8], &str)] = &[
    (b"\x80", "lone continuation byte"),
    (b"\xbf", "lone continuation byte"),
    (b"\xc0\x80", "overlong 2-byte NUL"),
    (b"\xc1\xbf", "overlong 2-byte"),
    (b"\xe0\x80\x80", "overlong 3-byte"),
    (b"\xf0\x80\x80\x80", "overlong 4-byte"),
    (b"\xed\xa0\x80", "UTF-16 surrogate D800"),
    (b"\xed\xbf\xbf", "UTF-16 surrogate DFFF"),
    (b"\xf4\x90\x80\x80", "above U+10FFFF"),
    (b"\xf5\x80\x80\x80", "lead byte F5"),
    (b"\xff", "byte FF"),
    (b"\xfe", "byte FE"),
    (b"\xce\x41", "lead byte then ASCII"),
    (b"\xe2\x82\x41", "3-byte lead cut by ASCII"),
];

fn text_message(text: &str) -> Vec<Event> {
    vec![Event::Message(Message::text(text.to_owned()))]
}

// ---- R-U8-01: fragments may cut code points ----

fn accepts_code_points_split_across_fragments(role: Role) {
    let bytes = MIXED.as_bytes();
    for i in 0..=bytes.len() {
        for j in i..=bytes.len() {
            let wire = [
                RawFrame::new(op::TEXT, &bytes[..i])
                    .fin(false)
                    .to(role)
                    .encode(),
                RawFrame::new(op::CONTINUATION, &bytes[i..j])
                    .fin(false)
                    .to(role)
                    .encode(),
                RawFrame::new(op::CONTINUATION, &bytes[j..])
                    .to(role)
                    .encode(),
            ]
            .concat();
            assert_eq!(
                feed(&mut conn(role), &wire),
                (text_message(MIXED), None),
                "cuts {i}, {j}"
            );
        }
    }
}

#[test]
fn r_u8_01_server_accepts_code_points_split_across_fragments() {
    accepts_code_points_split_across_fragments(Role::Server);
}

#[test]
fn r_u8_01_client_accepts_code_points_split_across_fragments() {
    accepts_code_points_split_across_fragments(Role::Client);
}

fn accepts_text_split_at_every_byte_of_the_stream(role: Role) {
    let bytes = MIXED.as_bytes();
    let wire = [
        frame_to(role, op::TEXT, bytes),
        RawFrame::new(op::TEXT, &bytes[..7])
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, &bytes[7..])
            .to(role)
            .encode(),
    ]
    .concat();
    let expected = [text_message(MIXED), text_message(MIXED)].concat();
    for cut in 0..=wire.len() {
        let mut c = conn(role);
        let (mut seen, err) = feed(&mut c, &wire[..cut]);
        assert_eq!(err, None, "cut {cut}");
        let (rest, err) = feed(&mut c, &wire[cut..]);
        assert_eq!(err, None, "cut {cut}");
        seen.extend(rest);
        assert_eq!(seen, expected, "cut {cut}");
    }
}

#[test]
fn r_u8_01_server_accepts_text_split_at_every_byte_of_the_stream() {
    accepts_text_split_at_every_byte_of_the_stream(Role::Server);
}

#[test]
fn r_u8_01_client_accepts_text_split_at_every_byte_of_the_stream() {
    accepts_text_split_at_every_byte_of_the_stream(Role::Client);
}

// ---- R-U8-02: invalid text fails with 1007 ----

fn fails_1007_on_invalid_text(role: Role) {
    for &(bad, what) in INVALID {
        let payload = [b"valid prefix ", bad, b" suffix"].concat();
        let wire = frame_to(role, op::TEXT, &payload);
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(err, Error::InvalidUtf8, "{what}");
        assert_eq!(err.close_code(), CloseCode::INVALID_PAYLOAD);
        assert_close_sent(&mut c, 1007);
        assert_eq!(c.state(), State::Failed);
    }
}

#[test]
fn r_u8_02_server_fails_1007_on_invalid_text() {
    fails_1007_on_invalid_text(Role::Server);
}

#[test]
fn r_u8_02_client_fails_1007_on_invalid_text() {
    fails_1007_on_invalid_text(Role::Client);
}

fn validates_each_text_message_from_its_start(role: Role) {
    // A binary message ending in a lead byte, then text starting with the
    // continuation bytes: nothing carries over between messages.
    let wire = [
        frame_to(role, op::BINARY, b"euro: \xe2"),
        frame_to(role, op::TEXT, b"\x82\xac"),
    ]
    .concat();
    let mut c = conn(role);
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(seen, [Event::Message(Message::binary(&b"euro: \xe2"[..]))]);
    assert_eq!(err, Some(Error::InvalidUtf8));
    assert_close_sent(&mut c, 1007);
}

#[test]
fn r_u8_02_server_validates_each_text_message_from_its_start() {
    validates_each_text_message_from_its_start(Role::Server);
}

#[test]
fn r_u8_02_client_validates_each_text_message_from_its_start() {
    validates_each_text_message_from_its_start(Role::Client);
}

// ---- R-U8-03: fail fast, before FIN and before a frame is complete ----

fn fails_before_the_final_fragment(role: Role) {
    for &(bad, what) in INVALID {
        // Only the first, non-final fragment has arrived.
        let first = RawFrame::new(op::TEXT, [b"ok ", bad].concat())
            .fin(false)
            .to(role)
            .encode();
        let (mut c, err) = failure(role, Config::default(), &first);
        assert_eq!(err, Error::InvalidUtf8, "{what} in the first fragment");
        assert_close_sent(&mut c, 1007);

        // The bad bytes open a middle fragment.
        let wire = [
            RawFrame::new(op::TEXT, b"ok").fin(false).to(role).encode(),
            RawFrame::new(op::CONTINUATION, bad)
                .fin(false)
                .to(role)
                .encode(),
        ]
        .concat();
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(err, Error::InvalidUtf8, "{what} in a middle fragment");
        assert_close_sent(&mut c, 1007);
    }
}

#[test]
fn r_u8_03_server_fails_1007_before_the_final_fragment() {
    fails_before_the_final_fragment(Role::Server);
}

#[test]
fn r_u8_03_client_fails_1007_before_the_final_fragment() {
    fails_before_the_final_fragment(Role::Client);
}

fn fails_before_the_frame_is_complete(role: Role) {
    for &(bad, what) in INVALID {
        let mut payload = [b"first bytes ", bad].concat();
        let arrived = payload.len();
        payload.resize(4096, b'x');
        let wire = RawFrame::new(op::TEXT, &payload).to(role).encode();
        let header_len = wire.len() - payload.len();
        // The header and the start of the payload, up to the bad bytes: the
        // other ~4 KiB never arrive.
        let (mut c, err) = failure(role, Config::default(), &wire[..header_len + arrived]);
        assert_eq!(err, Error::InvalidUtf8, "{what}");
        assert_close_sent(&mut c, 1007);
    }
}

#[test]
fn r_u8_03_server_fails_1007_before_the_frame_is_complete() {
    fails_before_the_frame_is_complete(Role::Server);
}

#[test]
fn r_u8_03_client_fails_1007_before_the_frame_is_complete() {
    fails_before_the_frame_is_complete(Role::Client);
}

fn fails_at_the_byte_that_breaks_the_text(role: Role) {
    // "ab", then a 4-byte lead, then ASCII: the 6th payload byte is the
    // first that cannot continue the sequence. Fed a byte at a time, the
    // engine fails on that byte and not before.
    let payload = b"ab\xf0\x9f\x98(rest of a long message)";
    let wire = RawFrame::new(op::TEXT, payload).to(role).encode();
    let header_len = wire.len() - payload.len();
    let mut c = conn(role);
    for (i, b) in wire.iter().enumerate() {
        let (seen, err) = feed(&mut c, std::slice::from_ref(b));
        assert!(seen.is_empty());
        if i < header_len + 5 {
            assert_eq!(err, None, "failed early, at byte {i}");
        } else {
            assert_eq!(err, Some(Error::InvalidUtf8), "did not fail at byte {i}");
            break;
        }
    }
    assert_close_sent(&mut c, 1007);
}

#[test]
fn r_u8_03_server_fails_at_the_byte_that_breaks_the_text() {
    fails_at_the_byte_that_breaks_the_text(Role::Server);
}

#[test]
fn r_u8_03_client_fails_at_the_byte_that_breaks_the_text() {
    fails_at_the_byte_that_breaks_the_text(Role::Client);
}

fn fails_on_code_point_broken_across_fragments(role: Role) {
    let wire = [
        RawFrame::new(op::TEXT, b"\xf0\x90")
            .fin(false)
            .to(role)
            .encode(),
        RawFrame::new(op::CONTINUATION, b"A")
            .fin(false)
            .to(role)
            .encode(),
    ]
    .concat();
    let (mut c, err) = failure(role, Config::default(), &wire);
    assert_eq!(err, Error::InvalidUtf8);
    assert_close_sent(&mut c, 1007);
}

#[test]
fn r_u8_03_server_fails_on_code_point_broken_across_fragments() {
    fails_on_code_point_broken_across_fragments(Role::Server);
}

#[test]
fn r_u8_03_client_fails_on_code_point_broken_across_fragments() {
    fails_on_code_point_broken_across_fragments(Role::Client);
}

fn waits_for_a_code_point_cut_by_a_fragment(role: Role) {
    // A valid prefix at the end of a non-final fragment is not an error yet.
    for prefix in [&b"\xce"[..], b"\xe2\x82", b"\xf0\x9f\x98"] {
        let wire = RawFrame::new(op::TEXT, prefix).fin(false).to(role).encode();
        let mut c = conn(role);
        assert_eq!(feed(&mut c, &wire), (vec![], None), "{prefix:02x?}");
        assert_eq!(c.state(), State::Open);
    }
}

#[test]
fn r_u8_03_server_waits_for_a_code_point_cut_by_a_fragment() {
    waits_for_a_code_point_cut_by_a_fragment(Role::Server);
}

#[test]
fn r_u8_03_client_waits_for_a_code_point_cut_by_a_fragment() {
    waits_for_a_code_point_cut_by_a_fragment(Role::Client);
}

fn fails_1007_on_truncated_code_point_at_fin(role: Role) {
    let cases: Vec<Vec<u8>> = vec![
        frame_to(role, op::TEXT, b"\xce"),
        frame_to(role, op::TEXT, b"abc\xf0\x9f\x98"),
        [
            RawFrame::new(op::TEXT, b"\xf0\x9f")
                .fin(false)
                .to(role)
                .encode(),
            RawFrame::new(op::CONTINUATION, b"\x98").to(role).encode(),
        ]
        .concat(),
        // An empty final fragment leaves the code point unfinished.
        [
            RawFrame::new(op::TEXT, b"euro \xe2\x82")
                .fin(false)
                .to(role)
                .encode(),
            RawFrame::new(op::CONTINUATION, b"").to(role).encode(),
        ]
        .concat(),
    ];
    for wire in cases {
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(err, Error::InvalidUtf8);
        assert_close_sent(&mut c, 1007);
    }
}

#[test]
fn r_u8_03_server_fails_1007_on_truncated_code_point_at_fin() {
    fails_1007_on_truncated_code_point_at_fin(Role::Server);
}

#[test]
fn r_u8_03_client_fails_1007_on_truncated_code_point_at_fin() {
    fails_1007_on_truncated_code_point_at_fin(Role::Client);
}

// ---- R-U8-04: binary is opaque ----

fn never_validates_binary(role: Role) {
    let mut c = conn(role);
    let mut expected = Vec::new();
    let mut wire = Vec::new();
    for &(bad, _) in INVALID {
        wire.extend(frame_to(role, op::BINARY, bad));
        expected.push(Event::Message(Message::binary(bad)));
    }
    // Fragmented, cutting and truncating sequences.
    wire.extend(
        RawFrame::new(op::BINARY, b"\xf0\x9f")
            .fin(false)
            .to(role)
            .encode(),
    );
    wire.extend(
        RawFrame::new(op::CONTINUATION, b"\xff\xce")
            .to(role)
            .encode(),
    );
    expected.push(Event::Message(Message::binary(&b"\xf0\x9f\xff\xce"[..])));
    assert_eq!(feed(&mut c, &wire), (expected, None));
    assert_eq!(c.state(), State::Open);
}

#[test]
fn r_u8_04_server_never_validates_binary() {
    never_validates_binary(Role::Server);
}

#[test]
fn r_u8_04_client_never_validates_binary() {
    never_validates_binary(Role::Client);
}

#[test]
fn r_u8_01_pair_round_trips_text_of_every_code_point_width() {
    let mut pair = support::Pair::new().chunked(1);
    for text in ["", "ascii", "é", "€", "😀", MIXED] {
        pair.client.send(Message::text(text.to_owned())).unwrap();
        pair.server.send(Message::text(text.to_owned())).unwrap();
    }
    pair.drive();
    let expected: Vec<Event> = ["", "ascii", "é", "€", "😀", MIXED]
        .iter()
        .flat_map(|t| text_message(t))
        .collect();
    assert_eq!(pair.server_events(), expected);
    assert_eq!(pair.client_events(), expected);
    assert!(pair.client_log.error.is_none() && pair.server_log.error.is_none());
}
