//! The Socket.IO default parser's `Decoder` fed an arbitrary sequence of text and binary
//! frames, as one connection would receive them.
//!
//! Input: a flags byte (bit 0: small limits), then records of a kind byte (bit 0 set: a
//! binary frame, else text), a little-endian `u16` length and that many bytes (fewer at the
//! end of the input); text that is not UTF-8 is taken lossily.
//!
//! No frame may panic, and every packet that comes out re-encodes, and that encoding decodes
//! to a packet that encodes to the very same frames (the encoding is stable).
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sockeye_io::parser::{DecoderLimits, Encoded, Frame, Packet, json, msgpack};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let limits = if flags & 1 == 0 {
        DecoderLimits::default()
    } else {
        DecoderLimits {
            max_attachments: 2,
            max_attachment_bytes: 64,
        }
    };
    let mut decoder = json::Decoder::new(limits);
    while let Some((binary, frame, tail)) = next_record(rest) {
        rest = tail;
        let out = if binary {
            decoder.binary(Bytes::copy_from_slice(frame))
        } else {
            decoder.text(&String::from_utf8_lossy(frame))
        };
        if let Ok(Some(packet)) = out {
            check_stable(&packet);
        }
        assert!(decoder.awaiting() <= limits.max_attachments);
    }
});

fn next_record(input: &[u8]) -> Option<(bool, &[u8], &[u8])> {
    let (&kind, rest) = input.split_first()?;
    let len = match rest {
        [a, b, ..] => usize::from(u16::from_le_bytes([*a, *b])),
        _ => return None,
    };
    let body = &rest[2..];
    let len = len.min(body.len());
    Some((kind & 1 == 1, &body[..len], &body[len..]))
}

/// A decoded packet encodes (JSON and msgpack), and both encodings are fixed points.
fn check_stable(packet: &Packet) {
    let encoded = json::encode(packet).expect("a decoded packet re-encodes");
    let again = decode_json(&encoded);
    assert_eq!(json::encode(&again).expect("re-encodes"), encoded);
    let Frame::Binary(bytes) = msgpack::encode(packet).expect("msgpack encodes").head else {
        unreachable!("msgpack heads are binary")
    };
    let again = msgpack::decode(&bytes).expect("msgpack decodes its own encoding");
    assert_eq!(&again, packet);
}

fn decode_json(encoded: &Encoded) -> Packet {
    let mut decoder = json::Decoder::new(DecoderLimits {
        max_attachments: usize::MAX,
        max_attachment_bytes: usize::MAX,
    });
    let Frame::Text(head) = &encoded.head else {
        unreachable!("JSON heads are text")
    };
    let mut out = decoder.text(head).expect("decodes its own encoding");
    for a in &encoded.attachments {
        out = decoder.binary(a.clone()).expect("decodes its own attachments");
    }
    out.expect("complete after its attachments")
}
