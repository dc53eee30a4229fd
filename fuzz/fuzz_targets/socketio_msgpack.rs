//! The Socket.IO msgpack parser's `decode` on arbitrary bytes (one binary frame).
//!
//! It may not panic, and a packet that decodes must encode to bytes that decode to a packet
//! encoding to the same bytes (compared as bytes, since a msgpack float may be NaN).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockeye_io::parser::{Frame, msgpack};

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = msgpack::decode(data) else {
        return;
    };
    let Frame::Binary(first) = msgpack::encode(&packet).expect("a decoded packet encodes").head
    else {
        unreachable!("msgpack heads are binary")
    };
    let again = msgpack::decode(&first).expect("decodes its own encoding");
    let Frame::Binary(second) = msgpack::encode(&again).expect("encodes").head else {
        unreachable!("msgpack heads are binary")
    };
    assert_eq!(first, second);
});
