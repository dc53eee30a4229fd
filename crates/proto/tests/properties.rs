//! Properties over generated traffic: messages survive a round trip, the way
//! a byte stream is cut into reads never changes what the engine reports
//! (R-FG-07), and no input makes it panic or hold unbounded memory.

mod support;

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use sockeye_proto::{
    CloseCode, CloseFrame, Config, Connection, Error, Event, Message, Role, State,
};
use support::{Pair, RawFrame, alloc, close_body, drain, events, feed_in_place, op, parse_frames};

/// One thing the peer sends.
#[derive(Clone, Debug)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    /// A message in fragments, with Pings between some of them.
    Fragmented {
        text: bool,
        parts: Vec<Vec<u8>>,
        pings: Vec<Option<Vec<u8>>>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// How the stream ends, after the ops.
#[derive(Clone, Debug)]
enum Tail {
    Nothing,
    /// A Close, then bytes that must be ignored.
    Close(u16),
    Violation(Violation),
}

#[derive(Clone, Copy, Debug)]
enum Violation {
    Rsv,
    ReservedOpcode,
    WrongMasking,
    BadUtf8,
    OneByteClose,
    Orphan,
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..=max)
}

/// Splits `data` at the given (unsorted, unclamped) offsets.
fn cut(data: &[u8], mut at: Vec<usize>) -> Vec<Vec<u8>> {
    for a in &mut at {
        *a %= data.len() + 1;
    }
    at.sort_unstable();
    let mut parts = Vec::new();
    let mut start = 0;
    for a in at {
        parts.push(data[start..a].to_vec());
        start = a;
    }
    parts.push(data[start..].to_vec());
    parts
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let fragmented = (
        any::<bool>(),
        "\\PC{0,30}",
        bytes(200),
        vec(any::<usize>(), 0..6),
        vec(option::weighted(0.3, bytes(16)), 6),
    )
        .prop_map(|(text, s, b, at, pings)| {
            // Text is cut anywhere, code points included (R-U8-01).
            let data = if text { s.into_bytes() } else { b };
            Op::Fragmented {
                text,
                parts: cut(&data, at),
                pings,
            }
        });
    prop_oneof![
        3 => "\\PC{0,40}".prop_map(Op::Text),
        3 => bytes(300).prop_map(Op::Binary),
        3 => fragmented,
        1 => bytes(125).prop_map(Op::Ping),
        1 => bytes(125).prop_map(Op::Pong),
    ]
}

fn tail_strategy() -> impl Strategy<Value = Tail> {
    prop_oneof![
        4 => Just(Tail::Nothing),
        1 => prop_oneof![Just(1000u16), Just(1001), Just(3000), Just(4999)].prop_map(Tail::Close),
        1 => prop_oneof![
            Just(Violation::Rsv),
            Just(Violation::ReservedOpcode),
            Just(Violation::WrongMasking),
            Just(Violation::BadUtf8),
            Just(Violation::OneByteClose),
            Just(Violation::Orphan),
        ]
        .prop_map(Tail::Violation),
    ]
}

fn role_strategy() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Server), Just(Role::Client)]
}

/// A frame as the peer of `receiver` sends it: masked with `key` towards a server.
fn frame(receiver: Role, key: [u8; 4], opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
    let f = RawFrame::new(opcode, payload).fin(fin);
    match receiver {
        Role::Server => f.masked(key),
        Role::Client => f,
    }
    .encode()
}

/// Encodes `ops` and `tail` as the peer of `receiver` would, and returns the
/// bytes with the events and error the receiver must report.
fn script(
    receiver: Role,
    key: [u8; 4],
    ops: &[Op],
    tail: &Tail,
) -> (Vec<u8>, Vec<Event>, Option<Error>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for o in ops {
        match o {
            Op::Text(s) => {
                wire.extend(frame(receiver, key, op::TEXT, true, s.as_bytes()));
                expected.push(Event::Message(Message::text(s.clone())));
            }
            Op::Binary(b) => {
                wire.extend(frame(receiver, key, op::BINARY, true, b));
                expected.push(Event::Message(Message::binary(b.clone())));
            }
            Op::Fragmented { text, parts, pings } => {
                let last = parts.len() - 1;
                for (i, part) in parts.iter().enumerate() {
                    let opcode = match (i, text) {
                        (0, true) => op::TEXT,
                        (0, false) => op::BINARY,
                        _ => op::CONTINUATION,
                    };
                    wire.extend(frame(receiver, key, opcode, i == last, part));
                    if i < last
                        && let Some(Some(p)) = pings.get(i)
                    {
                        wire.extend(frame(receiver, key, op::PING, true, p));
                        expected.push(Event::Ping(Bytes::from(p.clone())));
                    }
                }
                let data = parts.concat();
                expected.push(Event::Message(if *text {
                    Message::text(String::from_utf8(data).expect("generated text"))
                } else {
                    Message::binary(data)
                }));
            }
            Op::Ping(p) => {
                wire.extend(frame(receiver, key, op::PING, true, p));
                expected.push(Event::Ping(Bytes::from(p.clone())));
            }
            Op::Pong(p) => {
                wire.extend(frame(receiver, key, op::PONG, true, p));
                expected.push(Event::Pong(Bytes::from(p.clone())));
            }
        }
    }
    let error = match *tail {
        Tail::Nothing => None,
        Tail::Close(code) => {
            wire.extend(frame(
                receiver,
                key,
                op::CLOSE,
                true,
                &close_body(code, "bye"),
            ));
            expected.push(Event::Close(
                CloseFrame::new(CloseCode::from(code), "bye").unwrap(),
            ));
            // Ignored: nothing is read after a Close.
            wire.extend([0xff; 20]);
            None
        }
        Tail::Violation(v) => {
            let (bytes, error) = violation(receiver, key, v);
            wire.extend(bytes);
            // Ignored: nothing is read after a failure.
            wire.extend(frame(receiver, key, op::TEXT, true, b"after"));
            Some(error)
        }
    };
    (wire, expected, error)
}

/// A frame that breaks the protocol in the way `v` names, and the error it causes.
fn violation(receiver: Role, key: [u8; 4], v: Violation) -> (Vec<u8>, Error) {
    match v {
        Violation::Rsv => (
            RawFrame::new(op::BINARY, b"x")
                .rsv(0b100)
                .to(receiver)
                .encode(),
            Error::ReservedBitsSet,
        ),
        Violation::ReservedOpcode => (
            RawFrame::new(0x3, b"x").to(receiver).encode(),
            Error::ReservedOpcode(0x3),
        ),
        Violation::WrongMasking => match receiver {
            Role::Server => (
                RawFrame::new(op::TEXT, b"x").encode(),
                Error::UnmaskedFrameFromClient,
            ),
            Role::Client => (
                RawFrame::new(op::TEXT, b"x").masked(key).encode(),
                Error::MaskedFrameFromServer,
            ),
        },
        Violation::BadUtf8 => (
            frame(receiver, key, op::TEXT, true, b"ok\xc0\xaf"),
            Error::InvalidUtf8,
        ),
        Violation::OneByteClose => (
            frame(receiver, key, op::CLOSE, true, b"\x03"),
            Error::InvalidCloseFrame,
        ),
        Violation::Orphan => (
            frame(receiver, key, op::CONTINUATION, true, b"orphan"),
            Error::UnexpectedContinuation,
        ),
    }
}

/// What a connection reported and wrote when fed `wire` in reads of the
/// given sizes (cycled), its events pulled after every read.
#[derive(Debug, PartialEq)]
struct Run {
    events: Vec<Event>,
    error: Option<Error>,
    /// The frames it wrote, unmasked, as (opcode, fin, payload).
    sent: Vec<(u8, bool, Vec<u8>)>,
    state: State,
}

/// How a run feeds each read to the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Feed {
    /// `receive`, then `next_event`.
    Copy,
    /// `receive_in_place`, taking every event from it.
    InPlace,
    /// `receive_in_place`, dropped after its first event; the engine's own
    /// `next_event` takes the rest.
    InPlaceStoppingEarly,
}

fn run(role: Role, wire: &[u8], sizes: &[usize]) -> Run {
    run_fed(role, wire, sizes, Feed::Copy)
}

fn run_fed(role: Role, wire: &[u8], sizes: &[usize], feed: Feed) -> Run {
    let mut c = Connection::new(role, Config::default());
    let mut seen = Vec::new();
    let mut error = None;
    let mut rest = wire;
    let mut sizes = sizes.iter().cycle();
    while !rest.is_empty() {
        let n = (*sizes.next().expect("a read size")).clamp(1, rest.len());
        let (read, tail) = rest.split_at(n);
        rest = tail;
        let (got, err) = match feed {
            Feed::Copy => {
                c.receive(read);
                events(&mut c)
            }
            Feed::InPlace | Feed::InPlaceStoppingEarly => {
                feed_in_place(&mut c, read, feed == Feed::InPlace)
            }
        };
        seen.extend(got);
        if let Some(e) = err {
            assert!(error.is_none(), "two errors");
            error = Some(e);
        }
    }
    let sent = parse_frames(&drain(&mut c), role == Role::Client)
        .into_iter()
        .map(|f| (f.opcode, f.fin, f.payload))
        .collect();
    Run {
        events: seen,
        error,
        sent,
        state: c.state(),
    }
}

fn message_strategy() -> impl Strategy<Value = Message> {
    prop_oneof![
        4 => "\\PC{0,100}".prop_map(Message::text),
        4 => bytes(3000).prop_map(Message::binary),
        1 => (65_530usize..65_540, any::<u8>()).prop_map(|(n, b)| Message::binary(vec![b; n])),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Messages sent either way arrive whole, in order, and of the same type.
    #[test]
    fn messages_round_trip_both_ways(
        to_server in vec(message_strategy(), 0..12),
        to_client in vec(message_strategy(), 0..12),
        pings in vec(bytes(125), 0..3),
        chunk in prop_oneof![Just(usize::MAX), 1usize..200],
    ) {
        let mut pair = Pair::new().chunked(chunk);
        for m in &to_server {
            pair.client.send(m.clone()).unwrap();
        }
        for m in &to_client {
            pair.server.send(m.clone()).unwrap();
        }
        for p in &pings {
            pair.client.send_ping(p.clone()).unwrap();
        }
        pair.drive();
        let mut expected: Vec<Event> = to_server.into_iter().map(Event::Message).collect();
        expected.extend(pings.iter().map(|p| Event::Ping(Bytes::from(p.clone()))));
        prop_assert_eq!(pair.server_events(), expected);
        let client_events = pair.client_events();
        let (messages, pongs) = client_events.split_at(to_client.len().min(client_events.len()));
        let expected: Vec<Event> = to_client.into_iter().map(Event::Message).collect();
        prop_assert_eq!(messages, &expected[..]);
        // Pongs answer the pings in order; while the server's queue is over
        // 64 KiB they are coalesced into one for the latest (R-CF-04).
        let pongs: Vec<&Bytes> = pongs
            .iter()
            .map(|e| match e {
                Event::Pong(p) => p,
                other => panic!("not a pong: {other:?}"),
            })
            .collect();
        prop_assert_eq!(pongs.is_empty(), pings.is_empty());
        let mut rest = pings.iter();
        for pong in &pongs {
            prop_assert!(rest.any(|p| p[..] == pong[..]), "pongs out of order");
        }
        if let (Some(last), Some(pong)) = (pings.last(), pongs.last()) {
            prop_assert_eq!(&last[..], &pong[..]);
        }
        prop_assert!(pair.client_log.error.is_none());
        prop_assert!(pair.server_log.error.is_none());
    }

    /// However a stream is cut into reads, the same events, error, output
    /// and state come out (R-FG-07), and they are the ones the script meant.
    #[test]
    fn any_chunking_gives_the_same_events(
        role in role_strategy(),
        key in any::<[u8; 4]>(),
        ops in vec(op_strategy(), 0..12),
        tail in tail_strategy(),
        sizes in vec(1usize..64, 1..8),
    ) {
        let (wire, expected, error) = script(role, key, &ops, &tail);
        let whole = run(role, &wire, &[usize::MAX]);
        prop_assert_eq!(&whole.events, &expected);
        prop_assert_eq!(&whole.error, &error);
        let chunked = run(role, &wire, &sizes);
        prop_assert_eq!(&chunked, &whole);
        let bytewise = run(role, &wire, &[1]);
        prop_assert_eq!(&bytewise, &whole);
        // Read in place, whole or in the same reads, stopping early or not.
        for feed in [Feed::InPlace, Feed::InPlaceStoppingEarly] {
            prop_assert_eq!(&run_fed(role, &wire, &[usize::MAX], feed), &whole);
            prop_assert_eq!(&run_fed(role, &wire, &sizes, feed), &whole);
        }
    }

    /// Arbitrary bytes in arbitrary reads never make either side panic; an
    /// error leaves it failed and silent.
    #[test]
    fn arbitrary_bytes_never_panic(
        role in role_strategy(),
        data in bytes(4096),
        sizes in vec(1usize..300, 1..8),
        accept_unmasked in any::<bool>(),
        strict in any::<bool>(),
    ) {
        let config = Config {
            max_frame_size: 1 << 10,
            max_message_size: 4 << 10,
            max_fragments: Some(16),
            accept_unmasked_frames: accept_unmasked,
            strict_length_encoding: strict,
            ..Config::default()
        };
        let mut c = Connection::new(role, config);
        let mut rest = &data[..];
        let mut sizes = sizes.iter().cycle();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap()).min(rest.len());
            c.receive(&rest[..n]);
            rest = &rest[n..];
            let (_, err) = events(&mut c);
            prop_assert!(c.read_hint() <= 1 << 10);
            if err.is_some() {
                prop_assert_eq!(c.state(), State::Failed);
                prop_assert_eq!(c.next_event(), Ok(None));
            }
            let out = drain(&mut c);
            let frames = parse_frames(&out, role == Role::Client);
            prop_assert!(frames.iter().all(|f| f.opcode == op::PONG || f.opcode == op::CLOSE));
        }
        c.receive_eof();
        prop_assert_eq!(c.next_event(), Ok(None));
        prop_assert!(matches!(c.state(), State::Failed | State::Closed));
    }

    /// Near-valid traffic (generated frames with a few bytes corrupted) read
    /// in small pieces: the engine holds memory in proportion to its limits
    /// and one read, never to the whole stream.
    #[test]
    fn memory_stays_bounded_on_corrupted_traffic(
        role in role_strategy(),
        key in any::<[u8; 4]>(),
        ops in vec(op_strategy(), 0..60),
        flips in vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        sizes in vec(1usize..512, 1..8),
    ) {
        const MAX_FRAME: usize = 256;
        const MAX_MESSAGE: usize = 1024;
        let (mut wire, _, _) = script(role, key, &ops, &Tail::Nothing);
        if !wire.is_empty() {
            for (at, byte) in &flips {
                let i = at.index(wire.len());
                wire[i] ^= byte;
            }
        }
        let config = Config {
            max_frame_size: MAX_FRAME,
            max_message_size: MAX_MESSAGE,
            ..Config::default()
        };
        let base = alloc::live();
        let mut c = Connection::new(role, config);
        let mut rest = &wire[..];
        let mut sizes = sizes.iter().cycle();
        // A read, a partial frame and a message in progress, each possibly
        // with twice its size in capacity, and the engine's small state.
        let bound = i64::try_from(2 * (512 + 14 + MAX_FRAME) + 2 * MAX_MESSAGE + 4096).unwrap();
        while !rest.is_empty() {
            let n = (*sizes.next().unwrap()).min(rest.len());
            c.receive(&rest[..n]);
            rest = &rest[n..];
            drop(events(&mut c));
            drop(drain(&mut c));
            let held = alloc::live() - base;
            prop_assert!(held <= bound, "{} bytes held, bound {}", held, bound);
        }
    }
}
