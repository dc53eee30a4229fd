//! `ServerHandshake::parse` on arbitrary bytes, then the response or the
//! rejection the server would write: never panics.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use sockeye_proto::Config;
use sockeye_proto::handshake::{ServerHandshake, write_response};

fuzz_target!(|data: &[u8]| {
    let mut out = BytesMut::new();
    match ServerHandshake::parse(data, &Config::default()) {
        Ok(Some((handshake, n))) => {
            assert!(n <= data.len());
            let offered = handshake.protocols().first().cloned();
            for protocol in [None, offered.as_deref()] {
                if let Ok(response) = handshake.response(protocol) {
                    write_response(&response, &mut out);
                }
            }
        }
        Ok(None) => {}
        Err(error) => {
            let response = error.to_response();
            assert_eq!(response.status(), error.status());
            write_response(&response, &mut out);
        }
    }
});
