//! permessage-deflate on the receiving side (RFC 7692 §7.2.2): a peer
//! sends a mix of messages its own engine compressed and arbitrary bytes
//! marked compressed (RSV1), cut into frames and read in chunks of any
//! size, under any agreement.
//!
//! The receiver may never panic. While only real messages have arrived it
//! must deliver each one intact, or fail with 1009 exactly when it is over
//! the size limit (PMD-06, PMD-21..27). Once arbitrary bytes have been
//! inflated its window is unknown, so from then on only the bounds are
//! checked: no message over the limit, and a failure is 1002, 1007 or 1009,
//! leaves the connection failed, and silences it.
#![no_main]

use std::fmt::Write as _;

use bytes::Buf;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};
use sockeye_proto::handshake::parse_extensions;
use sockeye_proto::{Config, Connection, DeflateConfig, Event, Message, Role, State};

#[derive(Arbitrary, Debug)]
struct Workload {
    /// The receiver is the server: frames to it are masked.
    to_server: bool,
    server_no_context_takeover: bool,
    client_no_context_takeover: bool,
    /// Window sizes, 8 + (n % 8) bits.
    server_bits: u8,
    client_bits: u8,
    /// The sender's compression level, n % 10.
    level: u8,
    /// The receiver's `max_message_size` (at least 1): small, so that a
    /// bomb costs little.
    limit: u16,
    /// The sender's `max_send_frame_size`; 0 for none.
    frame: u16,
    /// The largest read the receiver is given; 0 for everything at once.
    read: u16,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// A message the peer's engine sends, compressed unless asked not to.
    Send {
        text: bool,
        data: Vec<u8>,
        uncompressed: bool,
    },
    /// Arbitrary bytes as a compressed message, in these fragments.
    Raw { text: bool, fragments: Vec<Vec<u8>> },
    /// A Ping between messages.
    Ping(u8),
}

/// One frame as the peer writes it: masked towards a server.
fn frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8], masked: bool) -> Vec<u8> {
    let masking_key = masked.then_some([0x37, 0xfa, 0x21, 0x3d]);
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        masking_key,
        payload_len: payload.len() as u64,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut out = head[..n].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = masking_key {
        apply_mask(&mut out[start..], key, 0);
    }
    out
}

/// Feeds `wire` to `conn` in reads of at most `read` bytes and returns the
/// events, and the error that failed it, if any.
fn feed(
    conn: &mut Connection,
    wire: &[u8],
    read: usize,
) -> (Vec<Event>, Option<sockeye_proto::Error>) {
    let mut events = Vec::new();
    for piece in wire.chunks(read.min(wire.len()).max(1)) {
        conn.receive(piece);
        loop {
            match conn.next_event() {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(e) => return (events, Some(e)),
            }
        }
    }
    (events, None)
}

fuzz_target!(|w: Workload| {
    let bits = |n: u8| 8 + n % 8;
    let mut response = String::from("permessage-deflate");
    if w.server_no_context_takeover {
        response.push_str("; server_no_context_takeover");
    }
    if w.client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    let _ = write!(
        response,
        "; server_max_window_bits={}; client_max_window_bits={}",
        bits(w.server_bits),
        bits(w.client_bits)
    );
    let header = http::HeaderValue::from_str(&response).expect("a header value");
    let parsed = parse_extensions([&header]).expect("well-formed");
    let agreed = DeflateConfig::default()
        .accept_response(&parsed[0])
        .expect("a response the default offer allows");

    let (receiver_role, sender_role) = if w.to_server {
        (Role::Server, Role::Client)
    } else {
        (Role::Client, Role::Server)
    };
    let limit = usize::from(w.limit).max(1);
    let mut receiver = Connection::new(
        receiver_role,
        Config {
            max_message_size: limit,
            deflate: Some(DeflateConfig::default()),
            ..Config::default()
        },
    )
    .with_deflate(agreed);
    let mut sender = Connection::new(
        sender_role,
        Config {
            max_send_frame_size: (w.frame > 0).then_some(usize::from(w.frame)),
            deflate: Some(DeflateConfig {
                level: u32::from(w.level % 10),
                ..DeflateConfig::default()
            }),
            ..Config::default()
        },
    )
    .with_deflate(agreed);
    let read = if w.read == 0 {
        usize::MAX
    } else {
        usize::from(w.read)
    };
    let masked = w.to_server;
    // Whether arbitrary bytes have been inflated: the window is unknown.
    let mut tainted = false;

    for step in w.steps {
        let (wire, expected) = match step {
            Step::Send {
                text,
                data,
                uncompressed,
            } => {
                let message = if text {
                    Message::text(String::from_utf8_lossy(&data).into_owned())
                } else {
                    Message::binary(data)
                };
                let sent = if uncompressed {
                    sender.send_uncompressed(message.clone())
                } else {
                    sender.send(message.clone())
                };
                sent.expect("the sender is open");
                let out = sender.output();
                let wire = out.copy_to_bytes(out.remaining()).to_vec();
                (wire, Some(Event::Message(message)))
            }
            Step::Raw { text, fragments } => {
                let opcode = if text { OpCode::Text } else { OpCode::Binary };
                let pieces: Vec<&[u8]> = if fragments.is_empty() {
                    vec![&[]]
                } else {
                    fragments.iter().map(Vec::as_slice).collect()
                };
                let last = pieces.len() - 1;
                let mut wire = Vec::new();
                for (i, piece) in pieces.iter().enumerate() {
                    let (rsv, op) = if i == 0 {
                        (0b100, opcode)
                    } else {
                        (0, OpCode::Continuation)
                    };
                    wire.extend(frame(i == last, rsv, op, piece, masked));
                }
                tainted = true;
                (wire, None)
            }
            Step::Ping(len) => {
                let payload = vec![0x5a; usize::from(len % 126)];
                let wire = frame(true, 0, OpCode::Ping, &payload, masked);
                (wire, Some(Event::Ping(payload.into())))
            }
        };
        let (events, error) = feed(&mut receiver, &wire, read);
        for event in &events {
            if let Event::Message(m) = event {
                assert!(m.len() <= limit, "a message of {} over {limit}", m.len());
            }
        }
        if let Some(error) = error {
            let code = error.close_code().as_u16();
            assert!([1002, 1007, 1009].contains(&code), "{error:?}");
            assert_eq!(receiver.state(), State::Failed);
            assert_eq!(receiver.next_event(), Ok(None));
            if !tainted {
                // Only a message over the limit may fail a clean stream.
                let Some(Event::Message(message)) = expected else {
                    panic!("{error:?} without a message over the limit");
                };
                assert!(
                    message.len() > limit,
                    "{error:?} on {} bytes",
                    message.len()
                );
                assert_eq!(code, 1009, "{error:?}");
            }
            return;
        }
        if !tainted && let Some(event) = expected {
            assert_eq!(events, [event]);
        }
    }
});
