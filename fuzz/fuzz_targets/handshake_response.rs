//! `ClientHandshake::parse_response` on arbitrary bytes, then the client's
//! checks of what it parsed: never panics, and accepts only what it offered.
#![no_main]

use std::sync::OnceLock;

use http::HeaderValue;
use http::header::SEC_WEBSOCKET_ACCEPT;
use libfuzzer_sys::fuzz_target;
use sockeye_proto::Config;
use sockeye_proto::handshake::{ClientHandshake, accept_key};

/// The accept value of RFC 6455 §1.3. The client's key is random, so the
/// fuzzer cannot know its accept value; a `Sec-WebSocket-Accept` field
/// holding this one stands for it, so that the checks after the accept
/// check (protocol, extensions) run too.
const PLACEHOLDER_ACCEPT: &[u8] = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One client offering subprotocols and an extension, so the checks of
/// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` run, and the
/// accept value that matches its key.
fn client() -> &'static (ClientHandshake, HeaderValue) {
    static CLIENT: OnceLock<(ClientHandshake, HeaderValue)> = OnceLock::new();
    CLIENT.get_or_init(|| {
        let request = http::Request::get("/chat")
            .header("host", "example.com")
            .header("sec-websocket-protocol", "v1.chat, v2.chat")
            .header(
                "sec-websocket-extensions",
                "permessage-deflate; client_max_window_bits",
            )
            .body(())
            .expect("a valid request");
        let client = ClientHandshake::new(request).expect("a valid handshake");
        let accept = HeaderValue::from_str(&accept_key(client.key().as_bytes()))
            .expect("base64 is a header value");
        (client, accept)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(Some((mut response, n))) = ClientHandshake::parse_response(data, &Config::default())
    else {
        return;
    };
    assert!(n <= data.len());
    let (client, accept) = client();
    for (name, value) in response.headers_mut().iter_mut() {
        if name == SEC_WEBSOCKET_ACCEPT && value.as_bytes().trim_ascii() == PLACEHOLDER_ACCEPT {
            *value = accept.clone();
        }
    }
    if let Ok(accepted) = client.check_response(&response) {
        assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
        if let Some(protocol) = &accepted.protocol {
            assert!(
                ["v1.chat", "v2.chat"].contains(&protocol.as_str()),
                "{protocol:?}"
            );
        }
        for extension in &accepted.extensions {
            assert!(extension.name.eq_ignore_ascii_case("permessage-deflate"));
        }
    }
});
