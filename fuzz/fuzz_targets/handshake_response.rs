//! `ClientHandshake::parse_response` on arbitrary bytes, then the client's
//! checks of what it parsed: never panics.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sockeye_proto::Config;
use sockeye_proto::handshake::ClientHandshake;

/// One client offering subprotocols and an extension, so the checks of
/// `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` run. Its key is
/// drawn once, keeping each run deterministic.
fn client() -> &'static ClientHandshake {
    static CLIENT: OnceLock<ClientHandshake> = OnceLock::new();
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
        ClientHandshake::new(request).expect("a valid handshake")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((response, n))) = ClientHandshake::parse_response(data, &Config::default()) {
        assert!(n <= data.len());
        let _ = client().check_response(&response);
    }
});
