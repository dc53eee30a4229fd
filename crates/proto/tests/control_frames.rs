//! Control frames (RFC 6455 §5.5): size, fragmentation, Ping and Pong.

mod support;

use bytes::Bytes;
use sockeye_proto::{CloseCode, Config, Error, Event, Message, Role, State, UsageError};
use support::{
    Pair, RawFrame, assert_close_sent, assert_nothing_sent, close_body, conn, drain, failure, feed,
    frame_to, op, sent_frames,
};

// ---- R-CF-01: at most 125 bytes ----

fn fails_on_control_payload_over_125(role: Role) {
    for opcode in [op::PING, op::PONG, op::CLOSE] {
        for len in [126usize, 1000, 70_000] {
            let wire = RawFrame::new(opcode, vec![b'x'; len]).to(role).encode();
            let (mut c, err) = failure(role, Config::default(), &wire);
            assert_eq!(
                err,
                Error::ControlFrameTooLong(len as u64),
                "opcode {opcode}"
            );
            assert_close_sent(&mut c, 1002);
        }
    }
}

#[test]
fn r_cf_01_server_fails_1002_on_control_payload_over_125() {
    fails_on_control_payload_over_125(Role::Server);
}

#[test]
fn r_cf_01_client_fails_1002_on_control_payload_over_125() {
    fails_on_control_payload_over_125(Role::Client);
}

fn fails_on_long_control_frame_from_its_header(role: Role) {
    let header = RawFrame::new(op::PING, b"")
        .declared_len(126)
        .to(role)
        .header();
    let (mut c, err) = failure(role, Config::default(), &header);
    assert_eq!(err, Error::ControlFrameTooLong(126));
    assert_close_sent(&mut c, 1002);
}

#[test]
fn r_cf_01_server_fails_on_long_control_frame_from_its_header() {
    fails_on_long_control_frame_from_its_header(Role::Server);
}

#[test]
fn r_cf_01_client_fails_on_long_control_frame_from_its_header() {
    fails_on_long_control_frame_from_its_header(Role::Client);
}

fn accepts_125_byte_control_frames(role: Role) {
    let mut c = conn(role);
    let payload = vec![0xee; 125];
    let wire = [
        frame_to(role, op::PING, &payload),
        frame_to(role, op::PONG, &payload),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    let p = Bytes::from(payload.clone());
    assert_eq!(seen, [Event::Ping(p.clone()), Event::Pong(p)]);
    assert_eq!(err, None);
    assert_eq!(sent_frames(&mut c).len(), 1);
}

#[test]
fn r_cf_01_server_accepts_125_byte_control_frames() {
    accepts_125_byte_control_frames(Role::Server);
}

#[test]
fn r_cf_01_client_accepts_125_byte_control_frames() {
    accepts_125_byte_control_frames(Role::Client);
}

fn refuses_to_send_control_payload_over_125(role: Role) {
    let mut c = conn(role);
    assert_eq!(
        c.send_ping(vec![0; 126]),
        Err(UsageError::ControlPayloadTooLong(126))
    );
    assert_eq!(
        c.send_pong(vec![0; 200]),
        Err(UsageError::ControlPayloadTooLong(200))
    );
    // Misuse is not a protocol failure: the connection carries on.
    assert_eq!(c.state(), State::Open);
    assert_nothing_sent(&mut c);
    c.send_ping(vec![0; 125]).unwrap();
    c.send_pong(vec![0; 125]).unwrap();
    assert_eq!(sent_frames(&mut c).len(), 2);
}

#[test]
fn r_cf_01_server_refuses_to_send_control_payload_over_125() {
    refuses_to_send_control_payload_over_125(Role::Server);
}

#[test]
fn r_cf_01_client_refuses_to_send_control_payload_over_125() {
    refuses_to_send_control_payload_over_125(Role::Client);
}

// ---- R-CF-02: control frames are never fragmented ----

fn fails_on_fragmented_control_frame(role: Role) {
    for opcode in [op::PING, op::PONG, op::CLOSE] {
        let wire = RawFrame::new(opcode, b"").fin(false).to(role).encode();
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(err, Error::FragmentedControlFrame, "opcode {opcode}");
        assert_close_sent(&mut c, 1002);
    }
}

#[test]
fn r_cf_02_server_fails_1002_on_fragmented_control_frame() {
    fails_on_fragmented_control_frame(Role::Server);
}

#[test]
fn r_cf_02_client_fails_1002_on_fragmented_control_frame() {
    fails_on_fragmented_control_frame(Role::Client);
}

fn fails_on_fragmented_ping_mid_message(role: Role) {
    let wire = [
        RawFrame::new(op::TEXT, b"a").fin(false).to(role).encode(),
        RawFrame::new(op::PING, b"p").fin(false).to(role).encode(),
    ]
    .concat();
    let (mut c, err) = failure(role, Config::default(), &wire);
    assert_eq!(err, Error::FragmentedControlFrame);
    assert_close_sent(&mut c, 1002);
}

#[test]
fn r_cf_02_server_fails_1002_on_fragmented_ping_mid_message() {
    fails_on_fragmented_ping_mid_message(Role::Server);
}

#[test]
fn r_cf_02_client_fails_1002_on_fragmented_ping_mid_message() {
    fails_on_fragmented_ping_mid_message(Role::Client);
}

// ---- R-CF-03, R-CF-04: Ping gets a Pong with the same payload ----

fn answers_each_ping_with_identical_pong(role: Role) {
    let payloads: Vec<Vec<u8>> = vec![
        vec![],
        b"Hello".to_vec(),
        (0..=255u8).take(125).collect(),
        vec![0xff, 0x00, 0xc0, 0xed, 0xa0, 0x80],
    ];
    let mut c = conn(role);
    let wire: Vec<u8> = payloads
        .iter()
        .flat_map(|p| frame_to(role, op::PING, p))
        .collect();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    let pings: Vec<Event> = payloads
        .iter()
        .map(|p| Event::Ping(Bytes::from(p.clone())))
        .collect();
    assert_eq!(seen, pings);
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), payloads.len());
    for (frame, payload) in frames.iter().zip(&payloads) {
        assert_eq!(frame.opcode, op::PONG);
        assert!(frame.fin);
        assert_eq!(&frame.payload, payload);
    }
}

#[test]
fn r_cf_03_server_answers_each_ping_with_identical_pong() {
    answers_each_ping_with_identical_pong(Role::Server);
}

#[test]
fn r_cf_03_client_answers_each_ping_with_identical_pong() {
    answers_each_ping_with_identical_pong(Role::Client);
}

#[test]
fn r_cf_04_pair_pongs_carry_the_ping_payload_both_ways() {
    let mut pair = Pair::new().chunked(3);
    pair.client.send_ping("from client").unwrap();
    pair.server.send_ping(&b"from server"[..]).unwrap();
    pair.drive();
    assert_eq!(
        pair.server_events(),
        [
            Event::Ping("from client".into()),
            Event::Pong("from server".into())
        ]
    );
    assert_eq!(
        pair.client_events(),
        [
            Event::Ping("from server".into()),
            Event::Pong("from client".into())
        ]
    );
}

fn sends_no_pong_after_own_close(role: Role) {
    let mut c = conn(role);
    c.close(CloseCode::NORMAL, "").unwrap();
    let (seen, err) = feed(&mut c, &frame_to(role, op::PING, b"late"));
    assert_eq!((seen, err), (vec![Event::Ping("late".into())], None));
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].close_code(), Some(1000));
}

#[test]
fn r_cf_03_server_sends_no_pong_after_own_close() {
    sends_no_pong_after_own_close(Role::Server);
}

#[test]
fn r_cf_03_client_sends_no_pong_after_own_close() {
    sends_no_pong_after_own_close(Role::Client);
}

fn ignores_ping_after_peer_close(role: Role) {
    let mut c = conn(role);
    let wire = [
        frame_to(role, op::CLOSE, close_body(1000, "")),
        frame_to(role, op::PING, b"after close"),
    ]
    .concat();
    let (seen, err) = feed(&mut c, &wire);
    assert_eq!(err, None);
    assert_eq!(seen.len(), 1);
    assert!(matches!(seen[0], Event::Close(_)));
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0].opcode, op::CLOSE);
}

#[test]
fn r_cf_03_server_ignores_ping_after_peer_close() {
    ignores_ping_after_peer_close(Role::Server);
}

#[test]
fn r_cf_03_client_ignores_ping_after_peer_close() {
    ignores_ping_after_peer_close(Role::Client);
}

// ---- R-CF-05: unsolicited Pong ----

fn ignores_unsolicited_pong(role: Role) {
    let mut c = conn(role);
    let (seen, err) = feed(&mut c, &frame_to(role, op::PONG, b"heartbeat"));
    assert_eq!((seen, err), (vec![Event::Pong("heartbeat".into())], None));
    assert_eq!(c.state(), State::Open);
    assert_nothing_sent(&mut c);
}

#[test]
fn r_cf_05_server_ignores_unsolicited_pong() {
    ignores_unsolicited_pong(Role::Server);
}

#[test]
fn r_cf_05_client_ignores_unsolicited_pong() {
    ignores_unsolicited_pong(Role::Client);
}

// ---- R-CF-06: Ping at any time while open ----

fn pings_between_messages_and_not_after_close(role: Role) {
    let mut c = conn(role);
    c.send_ping("first").unwrap();
    c.send(Message::text("m")).unwrap();
    c.send_ping("").unwrap();
    let opcodes: Vec<u8> = sent_frames(&mut c).iter().map(|f| f.opcode).collect();
    assert_eq!(opcodes, [op::PING, op::TEXT, op::PING]);
    c.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(c.send_ping("late"), Err(UsageError::Closed));
    assert_eq!(c.send_pong("late"), Err(UsageError::Closed));
    assert_close_sent(&mut c, 1000);
}

#[test]
fn r_cf_06_server_pings_while_open_and_not_after_close() {
    pings_between_messages_and_not_after_close(Role::Server);
}

#[test]
fn r_cf_06_client_pings_while_open_and_not_after_close() {
    pings_between_messages_and_not_after_close(Role::Client);
}

// ---- A Ping flood against a peer that never reads ----

/// Queued output may not grow past this: 64 KiB of Pongs and one more.
const FLOOD_BOUND: usize = (64 << 10) + 2 + 4 + 125;

fn flood(role: Role, pings: u32) -> (sockeye_proto::Connection, Vec<Vec<u8>>) {
    let mut c = conn(role);
    let mut payloads = Vec::new();
    for i in 0..pings {
        let mut payload = i.to_be_bytes().to_vec();
        payload.resize(125, b'.');
        let (seen, err) = feed(&mut c, &frame_to(role, op::PING, &payload));
        assert_eq!(err, None);
        assert_eq!(seen.len(), 1);
        let queued = c.output().len();
        assert!(
            queued <= FLOOD_BOUND,
            "{queued} bytes queued after {i} pings"
        );
        payloads.push(payload);
    }
    (c, payloads)
}

fn bounds_output_under_ping_flood(role: Role) {
    let (mut c, payloads) = flood(role, 10_000);
    // Pongs queued while there was room answer the first pings in order;
    // the one held back answers the latest (R-CF-04 allows skipping).
    let mut pongs = sent_frames(&mut c);
    pongs.extend(sent_frames(&mut c));
    assert!(sent_frames(&mut c).is_empty());
    assert!(
        pongs.len() > 400 && pongs.len() < 1000,
        "{} pongs",
        pongs.len()
    );
    assert!(pongs.iter().all(|f| f.opcode == op::PONG));
    let (last, first) = pongs.split_last().unwrap();
    for (pong, ping) in first.iter().zip(&payloads) {
        assert_eq!(&pong.payload, ping);
    }
    assert_eq!(&last.payload, payloads.last().unwrap());
    assert_eq!(c.state(), State::Open);
}

#[test]
fn server_bounds_output_under_ping_flood() {
    bounds_output_under_ping_flood(Role::Server);
}

#[test]
fn client_bounds_output_under_ping_flood() {
    bounds_output_under_ping_flood(Role::Client);
}

fn answers_held_back_ping_once_drained(role: Role) {
    let (mut c, payloads) = flood(role, 1000);
    assert!(c.wants_write());
    drain(&mut c);
    // Room again: the held-back Pong goes out.
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!(&frames[0].payload, payloads.last().unwrap());
    assert!(!c.wants_write());
    // And later pings are answered at once.
    let (_, err) = feed(&mut c, &frame_to(role, op::PING, b"calm"));
    assert_eq!(err, None);
    let frames = sent_frames(&mut c);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, b"calm");
}

#[test]
fn server_answers_held_back_ping_once_drained() {
    answers_held_back_ping_once_drained(Role::Server);
}

#[test]
fn client_answers_held_back_ping_once_drained() {
    answers_held_back_ping_once_drained(Role::Client);
}

fn sends_no_held_back_pong_after_own_close(role: Role) {
    let (mut c, _) = flood(role, 1000);
    c.close(CloseCode::GOING_AWAY, "").unwrap();
    let mut frames = sent_frames(&mut c);
    frames.extend(sent_frames(&mut c));
    let last = frames.last().unwrap();
    assert_eq!(
        last.opcode,
        op::CLOSE,
        "a {:#x} frame follows our Close",
        last.opcode
    );
}

#[test]
fn r_cf_03_server_sends_no_held_back_pong_after_own_close() {
    sends_no_held_back_pong_after_own_close(Role::Server);
}

#[test]
fn r_cf_03_client_sends_no_held_back_pong_after_own_close() {
    sends_no_held_back_pong_after_own_close(Role::Client);
}
