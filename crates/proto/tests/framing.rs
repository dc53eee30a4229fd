//! Base framing (RFC 6455 §5.2, §5.7) and masking (§5.1, §5.3).

mod support;

use std::collections::HashSet;

use sockeye_proto::{CloseCode, Config, Connection, Error, Event, Message, Role};
use support::{
    KEY, LenForm, RawFrame, assert_close_sent, conn, drain, events, failure, feed, frame_to, op,
    parse_frames, sent_frames,
};

// ---- R-FR-01: reserved bits ----

fn fails_on_rsv_bits(role: Role) {
    for rsv in 1..8 {
        for opcode in [op::TEXT, op::BINARY, op::PING] {
            let wire = RawFrame::new(opcode, b"hi").rsv(rsv).to(role).encode();
            let (mut c, err) = failure(role, Config::default(), &wire);
            assert_eq!(
                err,
                Error::ReservedBitsSet,
                "rsv {rsv:#05b} opcode {opcode}"
            );
            assert_close_sent(&mut c, 1002);
        }
    }
}

#[test]
fn r_fr_01_server_fails_1002_on_rsv_bits() {
    fails_on_rsv_bits(Role::Server);
}

#[test]
fn r_fr_01_client_fails_1002_on_rsv_bits() {
    fails_on_rsv_bits(Role::Client);
}

fn fails_on_rsv_bit_of_a_continuation(role: Role) {
    let wire = [
        RawFrame::new(op::TEXT, b"a").fin(false).to(role).encode(),
        RawFrame::new(op::CONTINUATION, b"b")
            .rsv(0b100)
            .to(role)
            .encode(),
    ]
    .concat();
    let (mut c, err) = failure(role, Config::default(), &wire);
    assert_eq!(err, Error::ReservedBitsSet);
    assert_close_sent(&mut c, 1002);
}

#[test]
fn r_fr_01_server_fails_1002_on_rsv_bit_of_a_continuation() {
    fails_on_rsv_bit_of_a_continuation(Role::Server);
}

#[test]
fn r_fr_01_client_fails_1002_on_rsv_bit_of_a_continuation() {
    fails_on_rsv_bit_of_a_continuation(Role::Client);
}

// ---- R-FR-02: reserved opcodes ----

fn fails_on_reserved_opcode(role: Role) {
    for opcode in op::RESERVED {
        for fin in [true, false] {
            let wire = RawFrame::new(opcode, b"").fin(fin).to(role).encode();
            let (mut c, err) = failure(role, Config::default(), &wire);
            assert_eq!(err, Error::ReservedOpcode(opcode));
            assert_close_sent(&mut c, 1002);
        }
    }
}

#[test]
fn r_fr_02_server_fails_1002_on_reserved_opcode() {
    fails_on_reserved_opcode(Role::Server);
}

#[test]
fn r_fr_02_client_fails_1002_on_reserved_opcode() {
    fails_on_reserved_opcode(Role::Client);
}

fn fails_on_reserved_opcode_from_first_byte(role: Role) {
    // Only the first two bytes of the frame have arrived.
    let wire = RawFrame::new(0x3, vec![0; 300]).to(role).encode();
    let (mut c, err) = failure(role, Config::default(), &wire[..2]);
    assert_eq!(err, Error::ReservedOpcode(3));
    assert_close_sent(&mut c, 1002);
}

#[test]
fn r_fr_02_server_fails_on_reserved_opcode_before_the_payload() {
    fails_on_reserved_opcode_from_first_byte(Role::Server);
}

#[test]
fn r_fr_02_client_fails_on_reserved_opcode_before_the_payload() {
    fails_on_reserved_opcode_from_first_byte(Role::Client);
}

// ---- R-FR-03: the 64-bit length's top bit ----

fn fails_on_length_msb(role: Role) {
    for len in [1u64 << 63, u64::MAX, (1 << 63) | 5] {
        // The header alone: no payload follows.
        let header = RawFrame::new(op::BINARY, b"")
            .declared_len(len)
            .len_form(LenForm::U64)
            .to(role)
            .header();
        let (mut c, err) = failure(role, Config::default(), &header);
        assert_eq!(err, Error::InvalidPayloadLength, "length {len:#x}");
        assert_close_sent(&mut c, 1002);
    }
}

#[test]
fn r_fr_03_server_fails_1002_on_64_bit_length_with_msb_set() {
    fails_on_length_msb(Role::Server);
}

#[test]
fn r_fr_03_client_fails_1002_on_64_bit_length_with_msb_set() {
    fails_on_length_msb(Role::Client);
}

// ---- R-FR-04: minimal length encoding ----

fn non_minimal_frames(role: Role) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut frames = Vec::new();
    for (len, form) in [
        (0, LenForm::U16),
        (5, LenForm::U16),
        (125, LenForm::U16),
        (0, LenForm::U64),
        (5, LenForm::U64),
        (200, LenForm::U64),
        (0xffff, LenForm::U64),
    ] {
        let payload: Vec<u8> = (0..len)
            .map(|i: u32| u8::try_from(i % 251).unwrap())
            .collect();
        let wire = RawFrame::new(op::BINARY, &payload)
            .len_form(form)
            .to(role)
            .encode();
        frames.push((wire, payload));
    }
    frames
}

fn fails_on_non_minimal_length(role: Role) {
    for (wire, _) in non_minimal_frames(role) {
        let (mut c, err) = failure(role, Config::default(), &wire);
        assert_eq!(
            err,
            Error::NonMinimalLength,
            "{:02x?}",
            &wire[..10.min(wire.len())]
        );
        assert_close_sent(&mut c, 1002);
    }
}

#[test]
fn r_fr_04_server_fails_1002_on_non_minimal_length() {
    fails_on_non_minimal_length(Role::Server);
}

#[test]
fn r_fr_04_client_fails_1002_on_non_minimal_length() {
    fails_on_non_minimal_length(Role::Client);
}

fn accepts_non_minimal_length_when_lenient(role: Role) {
    let lenient = Config {
        strict_length_encoding: false,
        ..Config::default()
    };
    for (wire, payload) in non_minimal_frames(role) {
        let mut c = Connection::new(role, lenient.clone());
        let (seen, err) = feed(&mut c, &wire);
        assert_eq!(err, None);
        assert_eq!(seen, vec![Event::Message(Message::binary(payload))]);
    }
}

#[test]
fn r_fr_04_server_accepts_non_minimal_length_when_not_strict() {
    accepts_non_minimal_length_when_lenient(Role::Server);
}

#[test]
fn r_fr_04_client_accepts_non_minimal_length_when_not_strict() {
    accepts_non_minimal_length_when_lenient(Role::Client);
}

// ---- R-FR-05: length boundaries ----

fn accepts_minimal_length_at_each_boundary(role: Role) {
    let mut c = conn(role);
    for len in [0usize, 125, 126, 0xffff, 0x1_0000] {
        let payload = vec![0xa5; len];
        let (seen, err) = feed(&mut c, &frame_to(role, op::BINARY, &payload));
        assert_eq!(err, None, "length {len}");
        assert_eq!(seen, vec![Event::Message(Message::binary(payload))]);
    }
}

#[test]
fn r_fr_05_server_accepts_minimal_length_at_each_boundary() {
    accepts_minimal_length_at_each_boundary(Role::Server);
}

#[test]
fn r_fr_05_client_accepts_minimal_length_at_each_boundary() {
    accepts_minimal_length_at_each_boundary(Role::Client);
}

fn encodes_minimal_length_at_each_boundary(role: Role) {
    let mut c = conn(role);
    for (len, ext) in [
        (0usize, 0usize),
        (125, 0),
        (126, 2),
        (0xffff, 2),
        (0x1_0000, 8),
    ] {
        c.send(Message::binary(vec![7; len])).unwrap();
        let frames = sent_frames(&mut c);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].ext_len_bytes, ext, "length {len}");
        assert_eq!(frames[0].payload, vec![7; len]);
    }
}

#[test]
fn r_fr_05_server_encodes_minimal_length_at_each_boundary() {
    encodes_minimal_length_at_each_boundary(Role::Server);
}

#[test]
fn r_fr_05_client_encodes_minimal_length_at_each_boundary() {
    encodes_minimal_length_at_each_boundary(Role::Client);
}

// ---- R-FR-07: the examples of RFC 6455 §5.7 ----

const HELLO_UNMASKED: [u8; 7] = [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const HELLO_MASKED: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];
const PING_UNMASKED: [u8; 7] = [0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f];
const PONG_MASKED: [u8; 11] = [
    0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn r_fr_07_client_decodes_unmasked_hello() {
    let (seen, err) = feed(&mut conn(Role::Client), &HELLO_UNMASKED);
    assert_eq!(
        (seen, err),
        (vec![Event::Message(Message::text("Hello"))], None)
    );
}

#[test]
fn r_fr_07_server_decodes_masked_hello() {
    let (seen, err) = feed(&mut conn(Role::Server), &HELLO_MASKED);
    assert_eq!(
        (seen, err),
        (vec![Event::Message(Message::text("Hello"))], None)
    );
}

#[test]
fn r_fr_07_client_decodes_fragmented_hello() {
    let mut c = conn(Role::Client);
    let (seen, err) = feed(&mut c, &[0x01, 0x03, 0x48, 0x65, 0x6c]);
    assert_eq!((seen, err), (vec![], None));
    let (seen, err) = feed(&mut c, &[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(
        (seen, err),
        (vec![Event::Message(Message::text("Hello"))], None)
    );
}

#[test]
fn r_fr_07_server_sends_unmasked_hello() {
    let mut s = conn(Role::Server);
    s.send(Message::text("Hello")).unwrap();
    assert_eq!(drain(&mut s), HELLO_UNMASKED);
}

#[test]
fn r_fr_07_client_sends_masked_hello() {
    let mut c = conn(Role::Client);
    c.send(Message::text("Hello")).unwrap();
    let wire = drain(&mut c);
    assert_eq!(wire.len(), HELLO_MASKED.len());
    assert_eq!(wire[..2], HELLO_MASKED[..2]);
    // The key is random; the payload is "Hello" masked with it.
    let mut payload = wire[6..].to_vec();
    support::xor_mask(&mut payload, wire[2..6].try_into().unwrap());
    assert_eq!(payload, b"Hello");
}

#[test]
fn r_fr_07_client_answers_unmasked_ping_with_masked_pong() {
    let mut c = conn(Role::Client);
    let (seen, err) = feed(&mut c, &PING_UNMASKED);
    assert_eq!((seen, err), (vec![Event::Ping("Hello".into())], None));
    let wire = drain(&mut c);
    assert_eq!(wire[..2], PONG_MASKED[..2]);
    let frames = parse_frames(&wire, true);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, b"Hello");
}

#[test]
fn r_fr_07_server_decodes_masked_pong() {
    let (seen, err) = feed(&mut conn(Role::Server), &PONG_MASKED);
    assert_eq!((seen, err), (vec![Event::Pong("Hello".into())], None));
}

#[test]
fn r_fr_07_server_answers_masked_ping_with_unmasked_pong() {
    let mut s = conn(Role::Server);
    let ping = RawFrame::new(op::PING, b"Hello").masked(KEY).encode();
    let (seen, err) = feed(&mut s, &ping);
    assert_eq!((seen, err), (vec![Event::Ping("Hello".into())], None));
    assert_eq!(drain(&mut s), [0x8a, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
}

// ---- R-MK-01..04: who masks ----

/// Makes `c` send one frame of every kind, automatic replies included.
fn send_every_kind(c: &mut Connection) {
    let role = c.role();
    c.send(Message::text("text")).unwrap();
    c.send(Message::binary(vec![0u8; 2000])).unwrap();
    c.send_ping("ping").unwrap();
    c.send_pong("pong").unwrap();
    let (_, err) = feed(c, &frame_to(role, op::PING, b"auto"));
    assert_eq!(err, None);
    c.close(CloseCode::NORMAL, "bye").unwrap();
}

#[test]
fn r_mk_01_client_masks_every_frame() {
    let mut c = conn(Role::Client);
    send_every_kind(&mut c);
    let frames = parse_frames(&drain(&mut c), true);
    let opcodes: Vec<u8> = frames.iter().map(|f| f.opcode).collect();
    assert_eq!(
        opcodes,
        [
            op::TEXT,
            op::BINARY,
            op::PING,
            op::PONG,
            op::PONG,
            op::CLOSE
        ]
    );
    assert_eq!(frames[1].payload, vec![0u8; 2000]);
    assert_eq!(frames[4].payload, b"auto");
}

#[test]
fn r_mk_01_client_masks_its_close_echo() {
    let mut c = conn(Role::Client);
    let (_, err) = feed(
        &mut c,
        &frame_to(Role::Client, op::CLOSE, support::close_body(1001, "")),
    );
    assert_eq!(err, None);
    let frames = parse_frames(&drain(&mut c), true);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].close_code(), Some(1001));
}

#[test]
fn r_mk_01_client_masks_its_failure_close() {
    let mut c = conn(Role::Client);
    let (_, err) = feed(&mut c, &RawFrame::new(op::TEXT, b"x").rsv(1).encode());
    assert_eq!(err, Some(Error::ReservedBitsSet));
    let frames = parse_frames(&drain(&mut c), true);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].close_code(), Some(1002));
}

#[test]
fn r_mk_02_server_fails_1002_on_unmasked_frame() {
    for opcode in [op::TEXT, op::BINARY, op::PING, op::PONG, op::CLOSE] {
        let body = if opcode == op::CLOSE {
            support::close_body(1000, "")
        } else {
            b"x".to_vec()
        };
        let wire = RawFrame::new(opcode, body).encode();
        let (mut s, err) = failure(Role::Server, Config::default(), &wire);
        assert_eq!(err, Error::UnmaskedFrameFromClient, "opcode {opcode}");
        assert_close_sent(&mut s, 1002);
        assert_eq!(s.close_received(), None);
    }
}

#[test]
fn r_mk_02_server_fails_on_unmasked_frame_from_its_header() {
    // Two bytes announcing an unmasked 100-byte frame: no need to wait.
    let (mut s, err) = failure(Role::Server, Config::default(), &[0x82, 100]);
    assert_eq!(err, Error::UnmaskedFrameFromClient);
    assert_close_sent(&mut s, 1002);
}

#[test]
fn r_mk_02_server_accepts_unmasked_frames_when_configured() {
    let config = Config {
        accept_unmasked_frames: true,
        ..Config::default()
    };
    let mut s = Connection::new(Role::Server, config);
    let wire = [
        RawFrame::new(op::TEXT, b"plain").encode(),
        RawFrame::new(op::TEXT, b"masked").masked(KEY).encode(),
        RawFrame::new(op::PING, b"p").encode(),
    ]
    .concat();
    let (seen, err) = feed(&mut s, &wire);
    assert_eq!(err, None);
    assert_eq!(
        seen,
        [
            Event::Message(Message::text("plain")),
            Event::Message(Message::text("masked")),
            Event::Ping("p".into()),
        ]
    );
    // Its own frames stay unmasked.
    let frames = sent_frames(&mut s);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].payload, b"p");
}

#[test]
fn r_mk_03_server_never_masks() {
    let mut s = conn(Role::Server);
    send_every_kind(&mut s);
    let frames = parse_frames(&drain(&mut s), false);
    let opcodes: Vec<u8> = frames.iter().map(|f| f.opcode).collect();
    assert_eq!(
        opcodes,
        [
            op::TEXT,
            op::BINARY,
            op::PING,
            op::PONG,
            op::PONG,
            op::CLOSE
        ]
    );
}

#[test]
fn r_mk_04_client_fails_1002_on_masked_frame() {
    for opcode in [op::TEXT, op::BINARY, op::PING, op::PONG, op::CLOSE] {
        let body = if opcode == op::CLOSE {
            support::close_body(1000, "")
        } else {
            b"x".to_vec()
        };
        let wire = RawFrame::new(opcode, body).masked(KEY).encode();
        let (mut c, err) = failure(Role::Client, Config::default(), &wire);
        assert_eq!(err, Error::MaskedFrameFromServer, "opcode {opcode}");
        assert_close_sent(&mut c, 1002);
    }
}

#[test]
fn r_mk_04_client_fails_on_masked_frame_even_when_accepting_unmasked_ones() {
    let config = Config {
        accept_unmasked_frames: true,
        ..Config::default()
    };
    let wire = RawFrame::new(op::TEXT, b"x").masked(KEY).encode();
    let (mut c, err) = failure(Role::Client, config, &wire);
    assert_eq!(err, Error::MaskedFrameFromServer);
    assert_close_sent(&mut c, 1002);
}

// ---- R-MK-05: fresh masking keys ----

#[test]
fn r_mk_05_client_uses_a_fresh_mask_key_for_every_frame() {
    const FRAMES: usize = 10_000;
    let mut c = conn(Role::Client);
    for i in 0..FRAMES {
        if i % 2 == 0 {
            c.send(Message::binary(vec![0u8; 1])).unwrap();
        } else {
            c.send_ping(vec![0u8; 1]).unwrap();
        }
    }
    let frames = parse_frames(&drain(&mut c), true);
    assert_eq!(frames.len(), FRAMES);
    let keys: Vec<u32> = frames
        .iter()
        .map(|f| u32::from_be_bytes(f.masking_key.unwrap()))
        .collect();

    // 10k draws from 2^32 values collide about once in a hundred runs; more
    // than a handful of repeats means the keys are not random.
    let distinct: HashSet<u32> = keys.iter().copied().collect();
    assert!(
        distinct.len() >= FRAMES - 5,
        "only {} distinct keys",
        distinct.len()
    );
    // No key comes back within a short window (a counter or a small cycle).
    for window in keys.windows(64) {
        let set: HashSet<u32> = window.iter().copied().collect();
        assert_eq!(set.len(), window.len(), "a key repeats within 64 frames");
    }
    // Not a counter in either byte order, nor a constant stride.
    let steps: Vec<u32> = keys.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let steps_le: Vec<u32> = keys
        .windows(2)
        .map(|w| w[1].swap_bytes().wrapping_sub(w[0].swap_bytes()))
        .collect();
    for steps in [&steps, &steps_le] {
        let first = steps[0];
        let same = steps.iter().filter(|&&s| s == first).count();
        assert!(same < 10, "{same} consecutive keys differ by {first}");
        assert!(
            steps.iter().filter(|&&s| s <= 1).count() < 10,
            "sequential keys"
        );
    }
    // Every bit of the key varies.
    let ones = keys.iter().fold(0u32, |acc, k| acc | k);
    let zeros = keys.iter().fold(0u32, |acc, k| acc | !k);
    assert_eq!((ones, zeros), (u32::MAX, u32::MAX));
}

#[test]
fn r_mk_05_client_masks_identical_messages_differently() {
    let mut c = conn(Role::Client);
    for _ in 0..32 {
        c.send(Message::binary(vec![0u8; 16])).unwrap();
    }
    let wire = drain(&mut c);
    // With an all-zero payload the masked bytes are the key itself, repeated.
    let payloads: HashSet<&[u8]> = wire.chunks(2 + 4 + 16).map(|f| &f[6..]).collect();
    assert!(payloads.len() > 30);
}

#[test]
fn server_unmasks_a_frame_cut_at_every_byte() {
    // The masking key itself cut between reads.
    let wire = RawFrame::new(op::TEXT, b"split key").masked(KEY).encode();
    for cut in 1..wire.len() {
        let mut s = conn(Role::Server);
        let (seen, err) = feed(&mut s, &wire[..cut]);
        assert_eq!((seen, err), (vec![], None), "cut {cut}");
        let (seen, err) = feed(&mut s, &wire[cut..]);
        assert_eq!(err, None);
        assert_eq!(
            seen,
            vec![Event::Message(Message::text("split key"))],
            "cut {cut}"
        );
    }
}

#[test]
fn server_reads_a_header_fed_byte_by_byte() {
    let mut s = conn(Role::Server);
    let header = RawFrame::new(op::BINARY, vec![0; 70_000])
        .masked(KEY)
        .header();
    for b in &header {
        let (seen, err) = feed(&mut s, std::slice::from_ref(b));
        assert_eq!((seen, err), (vec![], None));
    }
    assert_eq!(s.read_hint(), 70_000);
    let (_, err) = events(&mut s);
    assert_eq!(err, None);
}
