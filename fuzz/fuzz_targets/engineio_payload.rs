//! The Engine.IO decoders of what a client sends: a v4 polling body, a v3
//! polling body (text or binary payload format), and a WebSocket frame.
//!
//! Input: a mode byte (bits 0-1: v4 body, v3 text body, v3 binary body,
//! WebSocket frame; bit 2: the frame is binary), then the bytes.
//!
//! Nothing may panic, and whatever decodes re-encodes into a body or
//! frame that decodes to the same packets.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sockeye_io::engine::{
    Packet, decode_v3_payload, encode_v3_payload, join_payload, split_payload,
};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let body = Bytes::copy_from_slice(rest);
    match mode & 3 {
        0 => {
            if let Ok(packets) = split_payload(&body) {
                let again = join_payload(&packets);
                assert_eq!(split_payload(&again).as_ref(), Ok(&packets));
            }
        }
        1 | 2 => {
            if let Ok(packets) = decode_v3_payload(&body, mode & 3 == 2) {
                for binary in [false, true] {
                    let (again, kind) = encode_v3_payload(&packets, binary);
                    let as_binary = kind == "application/octet-stream";
                    assert_eq!(decode_v3_payload(&again, as_binary).as_ref(), Ok(&packets));
                }
            }
        }
        _ => {
            let frame = if mode & 4 == 0 {
                match std::str::from_utf8(rest) {
                    Ok(text) => sockeye::Message::text(text.to_owned()),
                    Err(_) => return,
                }
            } else {
                sockeye::Message::binary(body)
            };
            if let Ok(packet) = Packet::from_frame(frame) {
                assert_eq!(Packet::from_frame(packet.to_frame()).as_ref(), Ok(&packet));
            }
        }
    }
});
