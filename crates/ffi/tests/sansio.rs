//! The sans-I/O layer driven through its C functions: a client and a
//! server handle talking through byte buffers, hand-made bytes from a
//! misbehaving peer, bad arguments and a fake clock.

#![allow(unsafe_code, clippy::missing_safety_doc)]

use std::ffi::{CStr, CString, c_char};
use std::ptr;

use sockeye_ffi::*;
use sockeye_result::*;

/// A live connection handle, freed when dropped.
struct Conn(*mut sockeye_conn);

/// An event with its data copied out.
#[derive(Debug, PartialEq, Eq)]
struct Ev {
    kind: u32,
    data: Vec<u8>,
    code: u16,
}

impl Conn {
    fn server(config: *const sockeye_config) -> Conn {
        let mut out = ptr::null_mut();
        // SAFETY: `config` is NULL or live; `out` is a local.
        assert_eq!(
            unsafe { sockeye_conn_new_server(config, &raw mut out) },
            SOCKEYE_OK
        );
        Conn(out)
    }

    fn client(config: *const sockeye_config) -> Conn {
        let mut out = ptr::null_mut();
        // SAFETY: `config` is NULL or live; the strings are literals.
        let code = unsafe {
            sockeye_conn_new_client(
                config,
                c"example.com".as_ptr(),
                c"/chat?room=1".as_ptr(),
                &raw mut out,
            )
        };
        assert_eq!(code, SOCKEYE_OK);
        Conn(out)
    }

    fn feed(&self, data: &[u8]) {
        // SAFETY: a live handle and a slice.
        assert_eq!(
            unsafe { sockeye_conn_feed(self.0, data.as_ptr(), data.len()) },
            SOCKEYE_OK
        );
    }

    fn take(&self) -> Vec<u8> {
        let mut all = Vec::new();
        let mut buf = [0u8; 100];
        loop {
            let mut n = 0;
            // SAFETY: a live handle, a local buffer and count.
            let code = unsafe {
                sockeye_conn_take_output(self.0, buf.as_mut_ptr(), buf.len(), &raw mut n)
            };
            assert_eq!(code, SOCKEYE_OK);
            if n == 0 {
                return all;
            }
            all.extend_from_slice(&buf[..n]);
        }
    }

    fn event(&self) -> Result<Ev, sockeye_result> {
        let mut ev = sockeye_conn_event {
            r#type: 0,
            data: ptr::null(),
            len: 0,
            close_code: 0,
        };
        // SAFETY: a live handle and a local event.
        let code = unsafe { sockeye_conn_next_event(self.0, &raw mut ev) };
        if code != SOCKEYE_OK {
            return Err(code);
        }
        assert!(!ev.data.is_null());
        // SAFETY: the event's data is `len` bytes, valid until the next call.
        let data = unsafe { std::slice::from_raw_parts(ev.data, ev.len) }.to_vec();
        Ok(Ev {
            kind: ev.r#type,
            data,
            code: ev.close_code,
        })
    }

    fn events(&self) -> Vec<Ev> {
        let mut all = Vec::new();
        while let Ok(ev) = self.event() {
            all.push(ev);
        }
        all
    }

    fn send(&self, kind: u32, data: &[u8]) -> sockeye_result {
        // SAFETY: a live handle and a slice.
        unsafe { sockeye_conn_send(self.0, kind, data.as_ptr(), data.len()) }
    }

    fn close(&self, code: u16, reason: &CStr) -> sockeye_result {
        // SAFETY: a live handle and a C string.
        unsafe { sockeye_conn_close(self.0, code, reason.as_ptr()) }
    }

    fn state(&self) -> u32 {
        // SAFETY: a live handle.
        unsafe { sockeye_conn_state(self.0) }
    }

    fn should_close(&self) -> bool {
        // SAFETY: a live handle.
        unsafe { sockeye_conn_should_close_transport(self.0) }
    }

    fn error(&self) -> String {
        // SAFETY: a live handle; the string is copied at once.
        unsafe { CStr::from_ptr(sockeye_conn_last_error(self.0)) }
            .to_string_lossy()
            .into_owned()
    }

    fn output_len_now(&self) -> usize {
        // SAFETY: a live handle.
        unsafe { sockeye_conn_output_len(self.0) }
    }

    fn deadline(&self, now: u64) -> Option<u64> {
        let mut at = 0;
        // SAFETY: a live handle and a local.
        match unsafe { sockeye_conn_next_deadline(self.0, now, &raw mut at) } {
            SOCKEYE_OK => Some(at),
            SOCKEYE_ERR_AGAIN => None,
            other => panic!("next_deadline: {other:?}"),
        }
    }

    fn timeout(&self, now: u64) {
        // SAFETY: a live handle.
        assert_eq!(unsafe { sockeye_conn_on_timeout(self.0, now) }, SOCKEYE_OK);
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: a handle made by `_new`, freed once here.
        assert_eq!(unsafe { sockeye_conn_free(self.0) }, SOCKEYE_OK);
    }
}

/// A config handle, freed when dropped.
struct Config(*mut sockeye_config);

impl Config {
    fn new() -> Config {
        let mut out = ptr::null_mut();
        // SAFETY: `out` is a local.
        assert_eq!(unsafe { sockeye_config_new(&raw mut out) }, SOCKEYE_OK);
        Config(out)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: made by `sockeye_config_new`, freed once here.
        assert_eq!(unsafe { sockeye_config_free(self.0) }, SOCKEYE_OK);
    }
}

fn ev(kind: u32, data: &[u8]) -> Ev {
    Ev {
        kind,
        data: data.to_vec(),
        code: 0,
    }
}

/// Moves bytes both ways until neither side has anything to write.
fn pump(client: &Conn, server: &Conn) {
    loop {
        let to_server = client.take();
        let to_client = server.take();
        if to_server.is_empty() && to_client.is_empty() {
            return;
        }
        server.feed(&to_server);
        client.feed(&to_client);
    }
}

/// A client and a server with the handshake done and the OPEN events taken.
fn open_pair(
    client_config: *const sockeye_config,
    server_config: *const sockeye_config,
) -> (Conn, Conn) {
    let client = Conn::client(client_config);
    let server = Conn::server(server_config);
    assert_eq!(client.state(), SOCKEYE_CONN_HANDSHAKE);
    pump(&client, &server);
    assert_eq!(server.event().map(|e| e.kind), Ok(SOCKEYE_CONN_EVENT_OPEN));
    assert_eq!(client.event().map(|e| e.kind), Ok(SOCKEYE_CONN_EVENT_OPEN));
    assert_eq!(client.state(), SOCKEYE_CONN_OPEN);
    assert_eq!(server.state(), SOCKEYE_CONN_OPEN);
    (client, server)
}

/// The request path, a header and the subprotocol as the server saw them.
fn server_view(server: &Conn, header: &CStr) -> (String, Option<String>, String) {
    let mut path: *const c_char = ptr::null();
    let mut value: *const c_char = ptr::null();
    let mut protocol: *const c_char = ptr::null();
    // SAFETY: a live handle and locals; strings copied at once.
    unsafe {
        assert_eq!(
            sockeye_conn_request_path(server.0, &raw mut path),
            SOCKEYE_OK
        );
        let found = sockeye_conn_request_header(server.0, header.as_ptr(), &raw mut value);
        assert_eq!(
            sockeye_conn_subprotocol(server.0, &raw mut protocol),
            SOCKEYE_OK
        );
        (
            CStr::from_ptr(path).to_string_lossy().into_owned(),
            (found == SOCKEYE_OK).then(|| CStr::from_ptr(value).to_string_lossy().into_owned()),
            CStr::from_ptr(protocol).to_string_lossy().into_owned(),
        )
    }
}

#[test]
fn client_and_server_exchange_text_binary_ping_and_close() {
    let (client, server) = open_pair(ptr::null(), ptr::null());
    let (path, host, protocol) = server_view(&server, c"HOST");
    assert_eq!(path, "/chat?room=1");
    assert_eq!(host.as_deref(), Some("example.com"));
    assert_eq!(protocol, "");

    assert_eq!(client.send(SOCKEYE_TEXT, b"hello"), SOCKEYE_OK);
    assert_eq!(client.send(SOCKEYE_BINARY, &[0, 1, 255]), SOCKEYE_OK);
    assert_eq!(client.send(SOCKEYE_TEXT, b""), SOCKEYE_OK);
    let big = vec![7u8; 100_000];
    assert_eq!(client.send(SOCKEYE_BINARY, &big), SOCKEYE_OK);
    // SAFETY: a live handle and a slice.
    assert_eq!(
        unsafe { sockeye_conn_ping(client.0, b"p".as_ptr(), 1) },
        SOCKEYE_OK
    );
    pump(&client, &server);
    assert_eq!(
        server.events(),
        [
            ev(SOCKEYE_CONN_EVENT_TEXT, b"hello"),
            ev(SOCKEYE_CONN_EVENT_BINARY, &[0, 1, 255]),
            ev(SOCKEYE_CONN_EVENT_TEXT, b""),
            ev(SOCKEYE_CONN_EVENT_BINARY, &big),
            ev(SOCKEYE_CONN_EVENT_PING, b"p"),
        ]
    );
    pump(&client, &server);
    assert_eq!(client.events(), [ev(SOCKEYE_CONN_EVENT_PONG, b"p")]);

    // The server closes; the client answers; both end.
    assert_eq!(server.close(1000, c"bye"), SOCKEYE_OK);
    assert_eq!(server.state(), SOCKEYE_CONN_CLOSING);
    assert_eq!(server.send(SOCKEYE_TEXT, b"late"), SOCKEYE_ERR_CLOSED);
    pump(&client, &server);
    assert_eq!(
        client.events(),
        [Ev {
            kind: SOCKEYE_CONN_EVENT_CLOSE,
            data: b"bye".to_vec(),
            code: 1000
        }]
    );
    assert_eq!(client.send(SOCKEYE_TEXT, b"late"), SOCKEYE_ERR_CLOSED);
    pump(&client, &server);
    assert_eq!(server.events()[0].code, 1000);
    assert_eq!(client.state(), SOCKEYE_CONN_CLOSED);
    assert_eq!(server.state(), SOCKEYE_CONN_CLOSED);
    assert!(client.should_close());
    assert!(server.should_close());
}

#[test]
fn client_closes_first_and_a_close_without_code_reads_1005() {
    let (client, server) = open_pair(ptr::null(), ptr::null());
    // SAFETY: a live handle; NULL reason.
    assert_eq!(
        unsafe { sockeye_conn_close(client.0, 0, ptr::null()) },
        SOCKEYE_OK
    );
    assert_eq!(client.close(1000, c""), SOCKEYE_ERR_CLOSED);
    pump(&client, &server);
    assert_eq!(
        server.events(),
        [Ev {
            kind: SOCKEYE_CONN_EVENT_CLOSE,
            data: vec![],
            code: 1005
        }]
    );
    pump(&client, &server);
    assert_eq!(client.events()[0].code, 1005);
    assert!(server.should_close() && client.should_close());
}

#[test]
fn deflate_and_subprotocol_are_agreed() {
    let client_config = Config::new();
    let server_config = Config::new();
    // SAFETY: live configs and literals.
    unsafe {
        for config in [client_config.0, server_config.0] {
            assert_eq!(sockeye_config_set_deflate(config, true), SOCKEYE_OK);
        }
        assert_eq!(
            sockeye_config_add_subprotocol(client_config.0, c"v2".as_ptr()),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_config_add_subprotocol(client_config.0, c"v1".as_ptr()),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_config_add_subprotocol(server_config.0, c"v1".as_ptr()),
            SOCKEYE_OK
        );
    }
    let client = Conn::client(client_config.0);
    let server = Conn::server(server_config.0);
    // The configs are copies: freeing them changes nothing.
    drop(client_config);
    drop(server_config);
    pump(&client, &server);
    assert_eq!(server.event(), Ok(ev(SOCKEYE_CONN_EVENT_OPEN, b"v1")));
    assert_eq!(client.event(), Ok(ev(SOCKEYE_CONN_EVENT_OPEN, b"v1")));
    let (_, extensions, protocol) = server_view(&server, c"sec-websocket-extensions");
    assert!(extensions.unwrap().contains("permessage-deflate"));
    assert_eq!(protocol, "v1");

    let text = "compress me ".repeat(1000);
    assert_eq!(client.send(SOCKEYE_TEXT, text.as_bytes()), SOCKEYE_OK);
    let wire = client.take();
    assert!(
        wire.len() < text.len() / 10,
        "{} bytes on the wire",
        wire.len()
    );
    server.feed(&wire);
    assert_eq!(
        server.events(),
        [ev(SOCKEYE_CONN_EVENT_TEXT, text.as_bytes())]
    );
    assert_eq!(server.send(SOCKEYE_TEXT, text.as_bytes()), SOCKEYE_OK);
    pump(&client, &server);
    assert_eq!(
        client.events(),
        [ev(SOCKEYE_CONN_EVENT_TEXT, text.as_bytes())]
    );
}

#[test]
fn handshake_split_byte_by_byte_still_opens_and_keeps_the_frames_behind_it() {
    let client = Conn::client(ptr::null());
    let server = Conn::server(ptr::null());
    let request = client.take();
    for byte in &request {
        server.feed(std::slice::from_ref(byte));
    }
    assert_eq!(server.event().map(|e| e.kind), Ok(SOCKEYE_CONN_EVENT_OPEN));
    let mut answer = server.take();
    // A frame right behind the 101, in the same read (R-CV-09).
    answer.extend_from_slice(b"\x81\x02hi");
    client.feed(&answer);
    assert_eq!(
        client.events(),
        [
            ev(SOCKEYE_CONN_EVENT_OPEN, b""),
            ev(SOCKEYE_CONN_EVENT_TEXT, b"hi")
        ]
    );
}

/// A server that has accepted a hand-made request.
fn raw_server(config: *const sockeye_config) -> Conn {
    let server = Conn::server(config);
    server.feed(
        b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    assert_eq!(server.event().map(|e| e.kind), Ok(SOCKEYE_CONN_EVENT_OPEN));
    let answer = server.take();
    assert!(answer.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(
        answer
            .windows(28)
            .any(|w| w == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    server
}

/// The close code of the one Close frame a server wrote.
fn close_code_written(server: &Conn) -> u16 {
    let out = server.take();
    assert_eq!(out[0], 0x88, "a Close frame: {out:?}");
    u16::from_be_bytes([out[2], out[3]])
}

#[test]
fn server_fails_1002_on_an_unmasked_frame() {
    let server = raw_server(ptr::null());
    server.feed(b"\x81\x02hi");
    assert_eq!(server.event(), Err(SOCKEYE_ERR_PROTOCOL));
    assert!(server.error().contains("1002"), "{}", server.error());
    assert_eq!(close_code_written(&server), 1002);
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
    assert!(server.should_close());
    assert_eq!(server.event(), Err(SOCKEYE_ERR_AGAIN));
}

/// A masked client frame with a zero key, so the payload reads as is.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let len = u8::try_from(payload.len()).expect("a short payload");
    assert!(len < 126);
    let mut frame = vec![first, 0x80 | len, 0, 0, 0, 0];
    frame.extend_from_slice(payload);
    frame
}

#[test]
fn server_fails_1007_on_invalid_utf8() {
    let server = raw_server(ptr::null());
    server.feed(&masked(0x81, b"ok\xff"));
    assert_eq!(server.event(), Err(SOCKEYE_ERR_PROTOCOL));
    assert_eq!(close_code_written(&server), 1007);
}

#[test]
fn server_fails_1009_on_a_message_over_the_limit() {
    let config = Config::new();
    // SAFETY: a live config.
    assert_eq!(
        unsafe { sockeye_config_set_max_message_size(config.0, 10) },
        SOCKEYE_OK
    );
    let server = raw_server(config.0);
    server.feed(&masked(0x82, &[1; 11]));
    assert_eq!(server.event(), Err(SOCKEYE_ERR_TOO_LARGE));
    assert_eq!(close_code_written(&server), 1009);
}

#[test]
fn server_answers_a_bad_request_with_400_and_closes() {
    let server = Conn::server(ptr::null());
    server.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(server.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    let answer = server.take();
    assert!(
        answer.starts_with(b"HTTP/1.1 426"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(server.should_close());

    let server = Conn::server(ptr::null());
    server.feed(b"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n");
    assert_eq!(server.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    assert!(server.take().starts_with(b"HTTP/1.1 400"));
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
    assert_eq!(server.send(SOCKEYE_TEXT, b"x"), SOCKEYE_ERR_CLOSED);
}

#[test]
fn server_answers_an_endless_head_with_431_keeping_only_the_limit() {
    let server = Conn::server(ptr::null());
    server.feed(b"GET / HTTP/1.1\r\n");
    let filler = vec![b'a'; 1 << 20];
    server.feed(&filler);
    assert_eq!(server.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    assert!(server.take().starts_with(b"HTTP/1.1 431"));
}

#[test]
fn client_fails_on_a_refusal_and_on_a_wrong_accept() {
    let client = Conn::client(ptr::null());
    let _ = client.take();
    client.feed(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(client.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    assert!(client.error().contains("404"), "{}", client.error());
    assert!(client.should_close());

    let client = Conn::client(ptr::null());
    client.feed(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    assert_eq!(client.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    assert_eq!(client.state(), SOCKEYE_CONN_FAILED);
}

#[test]
fn eof_without_a_close_reads_1006() {
    let (client, server) = open_pair(ptr::null(), ptr::null());
    // SAFETY: a live handle.
    assert_eq!(unsafe { sockeye_conn_feed_eof(server.0) }, SOCKEYE_OK);
    assert_eq!(
        server.events(),
        [Ev {
            kind: SOCKEYE_CONN_EVENT_CLOSE,
            data: vec![],
            code: 1006
        }]
    );
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
    drop(client);

    let server = Conn::server(ptr::null());
    // SAFETY: a live handle.
    assert_eq!(unsafe { sockeye_conn_feed_eof(server.0) }, SOCKEYE_OK);
    assert_eq!(server.event(), Err(SOCKEYE_ERR_HANDSHAKE));
}

#[test]
fn sending_before_open_is_a_state_error() {
    let client = Conn::client(ptr::null());
    assert_eq!(client.send(SOCKEYE_TEXT, b"x"), SOCKEYE_ERR_STATE);
    assert!(client.error().contains("handshake"));
    assert_eq!(client.close(1000, c""), SOCKEYE_ERR_STATE);
    let mut path: *const c_char = ptr::null();
    // SAFETY: a live handle and a local.
    assert_eq!(
        unsafe { sockeye_conn_request_path(client.0, &raw mut path) },
        SOCKEYE_ERR_STATE
    );
}

#[test]
fn bad_arguments_are_refused() {
    let (client, server) = open_pair(ptr::null(), ptr::null());
    assert_eq!(client.send(SOCKEYE_TEXT, b"\xc3\x28"), SOCKEYE_ERR_INVALID);
    assert!(client.error().contains("UTF-8"));
    assert_eq!(client.send(0, b"x"), SOCKEYE_ERR_INVALID);
    assert_eq!(client.send(3, b"x"), SOCKEYE_ERR_INVALID);
    assert_eq!(client.close(1005, c""), SOCKEYE_ERR_INVALID);
    assert_eq!(client.close(999, c""), SOCKEYE_ERR_INVALID);
    assert_eq!(client.close(0, c"why"), SOCKEYE_ERR_INVALID);
    let long = CString::new("r".repeat(124)).unwrap();
    assert_eq!(client.close(1000, &long), SOCKEYE_ERR_INVALID);
    let payload = [0u8; 126];
    let mut n = 0usize;
    let mut data: *const u8 = ptr::null();
    let mut buf = [0u8; 4];
    // SAFETY: live handles; NULLs and locals, as each case says.
    unsafe {
        assert_eq!(
            sockeye_conn_ping(client.0, payload.as_ptr(), 126),
            SOCKEYE_ERR_INVALID
        );
        assert_eq!(sockeye_conn_pong(client.0, ptr::null(), 0), SOCKEYE_OK);
        assert_eq!(
            sockeye_conn_send(client.0, SOCKEYE_TEXT, ptr::null(), 3),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_feed(client.0, ptr::null(), 1),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_conn_feed(client.0, ptr::null(), 0), SOCKEYE_OK);
        assert_eq!(
            sockeye_conn_take_output(client.0, buf.as_mut_ptr(), 4, ptr::null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_take_output(client.0, ptr::null_mut(), 4, &raw mut n),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_take_output(client.0, ptr::null_mut(), 0, &raw mut n),
            SOCKEYE_ERR_BUFFER_TOO_SMALL
        );
        // A small buffer takes a part.
        assert_eq!(
            sockeye_conn_take_output(client.0, buf.as_mut_ptr(), 4, &raw mut n),
            SOCKEYE_OK
        );
        assert_eq!(n, 4);
        assert_eq!(buf[0], 0x8A);
        assert_eq!(sockeye_conn_output_len(client.0), 2);
        assert_eq!(
            sockeye_conn_peek_output(client.0, &raw mut data, ptr::null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_peek_output(client.0, &raw mut data, &raw mut n),
            SOCKEYE_OK
        );
        assert_eq!(n, 2);
        assert_eq!(
            sockeye_conn_consume_output(client.0, 3),
            SOCKEYE_ERR_INVALID
        );
        assert_eq!(sockeye_conn_consume_output(client.0, 2), SOCKEYE_OK);
        assert_eq!(
            sockeye_conn_peek_output(client.0, &raw mut data, &raw mut n),
            SOCKEYE_OK
        );
        assert_eq!(n, 0);
        assert!(!data.is_null());
        assert_eq!(
            sockeye_conn_take_output(client.0, ptr::null_mut(), 0, &raw mut n),
            SOCKEYE_OK
        );
        assert_eq!(n, 0);
        assert_eq!(
            sockeye_conn_next_event(client.0, ptr::null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_next_deadline(client.0, 0, ptr::null_mut()),
            SOCKEYE_ERR_NULL
        );
        let mut value: *const c_char = ptr::null();
        assert_eq!(
            sockeye_conn_request_header(server.0, c"x-none".as_ptr(), &raw mut value),
            SOCKEYE_ERR_NOT_FOUND
        );
        assert_eq!(
            sockeye_conn_request_header(server.0, ptr::null(), &raw mut value),
            SOCKEYE_ERR_NULL
        );
    }
}

#[test]
fn null_handles_are_refused_everywhere() {
    let null = ptr::null_mut::<sockeye_conn>();
    let mut out = ptr::null_mut();
    let mut ev = sockeye_conn_event {
        r#type: 0,
        data: ptr::null(),
        len: 0,
        close_code: 0,
    };
    let mut n = 0usize;
    let mut at = 0u64;
    let mut data: *const u8 = ptr::null();
    let mut text: *const c_char = ptr::null();
    // SAFETY: every handle is NULL, every other pointer a local.
    unsafe {
        assert_eq!(
            sockeye_conn_new_server(ptr::null(), ptr::null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_new_client(ptr::null(), ptr::null(), c"/".as_ptr(), &raw mut out),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_new_client(
                ptr::null(),
                c"h".as_ptr(),
                c"no-slash".as_ptr(),
                &raw mut out
            ),
            SOCKEYE_ERR_INVALID
        );
        assert_eq!(
            sockeye_conn_new_client_url(ptr::null(), c"wss://example.com/".as_ptr(), &raw mut out),
            SOCKEYE_ERR_INVALID
        );
        let why = CStr::from_ptr(sockeye_conn_last_error(null))
            .to_string_lossy()
            .into_owned();
        assert!(why.contains("TLS"), "{why}");
        assert!(out.is_null());
        assert_eq!(sockeye_conn_free(null), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_conn_feed(null, ptr::null(), 0), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_conn_feed_eof(null), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_conn_next_event(null, &raw mut ev), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_conn_send(null, SOCKEYE_TEXT, ptr::null(), 0),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_conn_ping(null, ptr::null(), 0), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_conn_pong(null, ptr::null(), 0), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_conn_close(null, 1000, ptr::null()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_conn_output_len(null), 0);
        assert_eq!(
            sockeye_conn_take_output(null, ptr::null_mut(), 0, &raw mut n),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_peek_output(null, &raw mut data, &raw mut n),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_conn_consume_output(null, 0), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_conn_state(null), SOCKEYE_CONN_FAILED);
        assert!(!sockeye_conn_should_close_transport(null));
        assert_eq!(
            sockeye_conn_next_deadline(null, 0, &raw mut at),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_conn_on_timeout(null, 0), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_conn_request_path(null, &raw mut text),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_request_header(null, c"a".as_ptr(), &raw mut text),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_subprotocol(null, &raw mut text),
            SOCKEYE_ERR_NULL
        );
    }
}

#[test]
fn a_second_free_is_refused() {
    let conn = Conn::server(ptr::null());
    let raw = conn.0;
    drop(conn);
    // SAFETY: the pointer is looked up before it is touched.
    assert_eq!(unsafe { sockeye_conn_free(raw) }, SOCKEYE_ERR_BAD_HANDLE);
}

#[test]
fn url_clients_send_host_and_path() {
    let mut out = ptr::null_mut();
    // SAFETY: literals and a local.
    assert_eq!(
        unsafe {
            sockeye_conn_new_client_url(
                ptr::null(),
                c"ws://127.0.0.1:9001/runCase?case=1".as_ptr(),
                &raw mut out,
            )
        },
        SOCKEYE_OK
    );
    let client = Conn(out);
    let request = String::from_utf8(client.take()).unwrap();
    assert!(
        request.starts_with("GET /runCase?case=1 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"),
        "{request}"
    );
}

/// A config with every timer short, in milliseconds.
fn timed_config() -> Config {
    let config = Config::new();
    // SAFETY: a live config.
    unsafe {
        assert_eq!(
            sockeye_config_set_handshake_timeout_ms(config.0, 1000),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_config_set_close_timeout_ms(config.0, 500),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_config_set_keepalive_ms(config.0, 2000, 700),
            SOCKEYE_OK
        );
    }
    config
}

#[test]
fn handshake_times_out_on_the_fake_clock() {
    let config = timed_config();
    let server = Conn::server(config.0);
    assert_eq!(server.deadline(10_000), Some(11_000));
    server.timeout(10_999);
    assert_eq!(server.state(), SOCKEYE_CONN_HANDSHAKE);
    server.timeout(11_000);
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
    assert_eq!(server.event(), Err(SOCKEYE_ERR_TIMEOUT));
    assert!(server.should_close());
    assert_eq!(server.deadline(11_000), None);
}

#[test]
fn keepalive_pings_then_fails_with_1011() {
    let config = timed_config();
    let (client, server) = open_pair(config.0, config.0);
    assert_eq!(server.deadline(0), Some(2000));
    server.timeout(2000);
    let ping = server.take();
    assert_eq!(ping, b"\x89\x00");
    assert_eq!(server.deadline(2000), Some(2700));
    // The Pong arrives: the ping timer stops and the interval restarts.
    client.feed(&ping);
    let _ = client.events();
    server.feed(&client.take());
    assert_eq!(server.events(), [ev(SOCKEYE_CONN_EVENT_PONG, b"")]);
    assert_eq!(server.deadline(2100), Some(4100));
    server.timeout(4100);
    assert_eq!(server.take(), b"\x89\x00");
    // This time nothing comes back.
    server.timeout(4800);
    assert_eq!(server.event(), Err(SOCKEYE_ERR_TIMEOUT));
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
    assert_eq!(close_code_written(&server), 1011);
    assert!(server.should_close());
}

#[test]
fn idle_timeout_closes_1001_and_the_close_timeout_gives_up() {
    let config = timed_config();
    // SAFETY: a live config.
    unsafe {
        assert_eq!(sockeye_config_set_keepalive_ms(config.0, 0, 0), SOCKEYE_OK);
        assert_eq!(
            sockeye_config_set_idle_timeout_ms(config.0, 3000),
            SOCKEYE_OK
        );
    }
    let (client, server) = open_pair(config.0, config.0);
    assert_eq!(client.deadline(0), Some(3000));
    assert_eq!(client.send(SOCKEYE_TEXT, b"x"), SOCKEYE_OK);
    let _ = client.take();
    assert_eq!(client.deadline(1000), Some(4000));
    client.timeout(4000);
    assert_eq!(client.state(), SOCKEYE_CONN_CLOSING);
    let close = client.take();
    assert_eq!(close[0], 0x88);
    // The server never answers: the close timer runs out.
    assert_eq!(client.deadline(4000), Some(4500));
    assert!(!client.should_close());
    client.timeout(4500);
    assert!(client.should_close());
    assert_eq!(client.state(), SOCKEYE_CONN_FAILED);
    assert_eq!(client.event(), Err(SOCKEYE_ERR_TIMEOUT));
    drop(server);
}

#[test]
fn a_peer_that_stops_reading_meets_backpressure() {
    let config = Config::new();
    // SAFETY: a live config.
    assert_eq!(
        unsafe { sockeye_config_set_max_buffered(config.0, 1000) },
        SOCKEYE_OK
    );
    let (client, _server) = open_pair(config.0, config.0);
    let chunk = [1u8; 600];
    assert_eq!(client.send(SOCKEYE_BINARY, &chunk), SOCKEYE_OK);
    assert_eq!(client.send(SOCKEYE_BINARY, &chunk), SOCKEYE_OK);
    assert_eq!(
        client.send(SOCKEYE_BINARY, &chunk),
        SOCKEYE_ERR_BACKPRESSURE
    );
    let _ = client.take();
    assert_eq!(client.send(SOCKEYE_BINARY, &chunk), SOCKEYE_OK);
}

/// A small deterministic generator (xorshift), so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).expect("small")
    }
}

#[test]
fn any_split_of_the_stream_gives_the_same_events() {
    let config = Config::new();
    // SAFETY: a live config.
    assert_eq!(
        unsafe { sockeye_config_set_deflate(config.0, true) },
        SOCKEYE_OK
    );
    let client = Conn::client(config.0);
    let request = client.take();
    let reference = Conn::server(config.0);
    reference.feed(&request);
    let answer = reference.take();
    client.feed(&answer);
    assert_eq!(client.event().map(|e| e.kind), Ok(SOCKEYE_CONN_EVENT_OPEN));
    let mut sent = Vec::new();
    for i in 0..40usize {
        let text = format!("message {i} ").repeat(i * 13 % 200);
        assert_eq!(client.send(SOCKEYE_TEXT, text.as_bytes()), SOCKEYE_OK);
        sent.push(ev(SOCKEYE_CONN_EVENT_TEXT, text.as_bytes()));
    }
    let mut wire = request;
    wire.extend_from_slice(&client.take());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20 {
        let server = Conn::server(config.0);
        let mut events = Vec::new();
        let mut at = 0;
        while at < wire.len() {
            let n = 1 + rng.below(300.min(wire.len() - at));
            server.feed(&wire[at..at + n]);
            events.extend(server.events());
            at += n;
        }
        assert_eq!(events[0].kind, SOCKEYE_CONN_EVENT_OPEN);
        assert_eq!(events[1..], sent[..]);
    }
}

#[test]
fn random_bytes_never_panic_and_end_in_a_refusal_or_failure() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let handshake = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    for round in 0..200 {
        let server = Conn::server(ptr::null());
        if round % 2 == 0 {
            server.feed(handshake);
        }
        for _ in 0..20 {
            let noise: Vec<u8> = (0..rng.below(64))
                .map(|_| u8::try_from(rng.next() & 0xff).expect("a byte"))
                .collect();
            server.feed(&noise);
            let _ = server.events();
            let _ = server.take();
        }
        // SAFETY: a live handle.
        assert_eq!(unsafe { sockeye_conn_feed_eof(server.0) }, SOCKEYE_OK);
        let _ = server.events();
        let _ = server.take();
        assert!(
            server.should_close(),
            "round {round}: state {}",
            server.state()
        );
    }
}

/// A server told to hold its request, fed a client's request offering
/// `chat` and `v2`, with a frame pipelined behind it.
fn held_request() -> (Conn, Conn) {
    let config = Config::new();
    // SAFETY: a live config and literals.
    unsafe {
        for name in [c"chat", c"v2"] {
            assert_eq!(
                sockeye_config_add_subprotocol(config.0, name.as_ptr()),
                SOCKEYE_OK
            );
        }
    }
    let client = Conn::client(config.0);
    let server = Conn::server(ptr::null());
    // SAFETY: a live handle.
    assert_eq!(unsafe { sockeye_conn_hold_request(server.0) }, SOCKEYE_OK);
    let request = client.take();
    server.feed(&request);
    (client, server)
}

#[test]
fn a_held_request_is_accepted_with_a_subprotocol_of_the_callers_choice() {
    let (client, server) = held_request();
    assert_eq!(
        server.event(),
        Ok(ev(SOCKEYE_CONN_EVENT_REQUEST, b"/chat?room=1"))
    );
    assert_eq!(server.state(), SOCKEYE_CONN_HANDSHAKE);
    assert_eq!(server.output_len_now(), 0);
    let (path, host) = {
        let mut path: *const c_char = ptr::null();
        let mut host: *const c_char = ptr::null();
        // SAFETY: a live handle and locals; strings copied at once.
        unsafe {
            assert_eq!(
                sockeye_conn_request_path(server.0, &raw mut path),
                SOCKEYE_OK
            );
            assert_eq!(
                sockeye_conn_request_header(server.0, c"host".as_ptr(), &raw mut host),
                SOCKEYE_OK
            );
            (
                CStr::from_ptr(path).to_string_lossy().into_owned(),
                CStr::from_ptr(host).to_string_lossy().into_owned(),
            )
        }
    };
    assert_eq!(
        (path.as_str(), host.as_str()),
        ("/chat?room=1", "example.com")
    );
    // SAFETY: a live handle and literals.
    unsafe {
        assert_eq!(
            sockeye_conn_accept(server.0, c"other".as_ptr()),
            SOCKEYE_ERR_INVALID
        );
        assert_eq!(
            sockeye_conn_refuse(server.0, 200, ptr::null()),
            SOCKEYE_ERR_INVALID
        );
        assert_eq!(sockeye_conn_accept(server.0, c"v2".as_ptr()), SOCKEYE_OK);
        assert_eq!(
            sockeye_conn_accept(server.0, ptr::null()),
            SOCKEYE_ERR_STATE
        );
    }
    assert_eq!(server.event(), Ok(ev(SOCKEYE_CONN_EVENT_OPEN, b"v2")));
    pump(&client, &server);
    assert_eq!(client.event(), Ok(ev(SOCKEYE_CONN_EVENT_OPEN, b"v2")));
    assert_eq!(client.send(SOCKEYE_TEXT, b"hi"), SOCKEYE_OK);
    pump(&client, &server);
    assert_eq!(server.events(), [ev(SOCKEYE_CONN_EVENT_TEXT, b"hi")]);
}

#[test]
fn a_held_request_keeps_pipelined_frames_for_the_connection() {
    let client = Conn::client(ptr::null());
    let server = Conn::server(ptr::null());
    // SAFETY: a live handle.
    assert_eq!(unsafe { sockeye_conn_hold_request(server.0) }, SOCKEYE_OK);
    let mut wire = client.take();
    wire.extend_from_slice(&masked(0x81, b"early"));
    server.feed(&wire[..wire.len() - 3]);
    assert_eq!(
        server.event().map(|e| e.kind),
        Ok(SOCKEYE_CONN_EVENT_REQUEST)
    );
    server.feed(&wire[wire.len() - 3..]);
    // SAFETY: a live handle.
    assert_eq!(
        unsafe { sockeye_conn_accept(server.0, ptr::null()) },
        SOCKEYE_OK
    );
    assert_eq!(
        server.events(),
        [
            ev(SOCKEYE_CONN_EVENT_OPEN, b""),
            ev(SOCKEYE_CONN_EVENT_TEXT, b"early")
        ]
    );
}

#[test]
fn a_held_request_is_refused_with_the_callers_status() {
    let (client, server) = held_request();
    assert_eq!(
        server.event().map(|e| e.kind),
        Ok(SOCKEYE_CONN_EVENT_REQUEST)
    );
    // SAFETY: a live handle and a literal.
    assert_eq!(
        unsafe { sockeye_conn_refuse(server.0, 404, c"no such room".as_ptr()) },
        SOCKEYE_OK
    );
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
    assert_eq!(server.event(), Err(SOCKEYE_ERR_AGAIN));
    let answer = server.take();
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 404 Not Found\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nno such room"), "{text}");
    assert!(server.should_close());
    client.feed(&answer);
    assert_eq!(client.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    assert!(client.error().contains("404"));
}

#[test]
fn holding_is_for_servers_before_their_request_and_is_bounded() {
    let client = Conn::client(ptr::null());
    // SAFETY: live handles and NULLs.
    unsafe {
        assert_eq!(sockeye_conn_hold_request(client.0), SOCKEYE_ERR_STATE);
        assert_eq!(sockeye_conn_hold_request(ptr::null_mut()), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_conn_accept(ptr::null_mut(), ptr::null()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_refuse(ptr::null_mut(), 404, ptr::null()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_conn_accept(client.0, ptr::null()),
            SOCKEYE_ERR_STATE
        );
        assert_eq!(
            sockeye_conn_refuse(client.0, 404, ptr::null()),
            SOCKEYE_ERR_STATE
        );
    }
    let (_client, server) = held_request();
    // More than max_handshake_size bytes behind a held request refuse it.
    server.feed(&vec![0u8; 20 << 10]);
    // The refusal replaces the request event that was not taken yet.
    assert_eq!(server.event(), Err(SOCKEYE_ERR_HANDSHAKE));
    assert!(server.take().starts_with(b"HTTP/1.1 400"));
    assert_eq!(server.state(), SOCKEYE_CONN_FAILED);
}
