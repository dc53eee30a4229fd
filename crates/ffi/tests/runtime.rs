//! The batteries-included layer through its C exports: a context with a
//! listener and clients in the same process, over loopback.

use std::ffi::{CStr, CString, c_char};
use std::io::{Read, Write};
use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use sockeye_ffi::*;
use sockeye_result::*;

/// An event copied out of the context.
#[derive(Clone, Debug)]
struct Ev {
    kind: u32,
    conn: u64,
    listener: u64,
    data: Vec<u8>,
    close_code: u16,
    error: i32,
}

/// A context freed at the end of the test.
struct Ctx(*mut sockeye_ctx);

impl Ctx {
    fn new(threads: u32) -> Ctx {
        let mut ctx = null_mut();
        // SAFETY: `ctx` is a writable pointer slot.
        assert_eq!(
            unsafe { sockeye_ctx_new(threads, &raw mut ctx) },
            SOCKEYE_OK
        );
        Ctx(ctx)
    }

    fn poll(&self, timeout_ms: i32) -> Option<Ev> {
        let mut ev = std::mem::MaybeUninit::<sockeye_event>::uninit();
        // SAFETY: a live context and a writable event.
        match unsafe { sockeye_event_poll(self.0, ev.as_mut_ptr(), timeout_ms) } {
            SOCKEYE_OK => {
                // SAFETY: written on SOCKEYE_OK; `data` holds `len` bytes
                // until the next poll.
                let ev = unsafe { ev.assume_init() };
                let data = unsafe { std::slice::from_raw_parts(ev.data, ev.len) }.to_vec();
                Some(Ev {
                    kind: ev.r#type,
                    conn: ev.conn,
                    listener: ev.listener,
                    data,
                    close_code: ev.close_code,
                    error: ev.error,
                })
            }
            SOCKEYE_ERR_AGAIN => None,
            other => panic!("poll: {other:?}"),
        }
    }

    /// Polls until `want` matches an event, echoing every message that
    /// arrives on an accepted connection when `echo` is set; the events
    /// seen on the way.
    fn until(&self, echo: bool, mut want: impl FnMut(&Ev) -> bool) -> Vec<Ev> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            let Some(ev) = self.poll(50) else { continue };
            if echo
                && ev.listener != 0
                && matches!(ev.kind, SOCKEYE_EVENT_TEXT | SOCKEYE_EVENT_BINARY)
            {
                let kind = if ev.kind == SOCKEYE_EVENT_TEXT {
                    SOCKEYE_TEXT
                } else {
                    SOCKEYE_BINARY
                };
                assert_eq!(self.send(ev.conn, kind, &ev.data), SOCKEYE_OK);
            }
            let done = want(&ev);
            seen.push(ev);
            if done {
                return seen;
            }
        }
        panic!("timed out; saw {seen:?}");
    }

    fn listen(&self, config: *const sockeye_config) -> (u64, u16) {
        let mut id = 0;
        let mut port = 0;
        // SAFETY: a live context, a literal, NULL or a live config, and
        // writable outputs.
        unsafe {
            assert_eq!(
                sockeye_ctx_listen(self.0, c"127.0.0.1:0".as_ptr(), config, &raw mut id),
                SOCKEYE_OK
            );
            assert_eq!(
                sockeye_ctx_listener_port(self.0, id, &raw mut port),
                SOCKEYE_OK
            );
        }
        assert!(id > 0 && port > 0);
        (id, port)
    }

    fn connect(&self, url: &str, config: *const sockeye_config) -> u64 {
        let url = CString::new(url).unwrap();
        let mut id = 0;
        // SAFETY: a live context, a string, NULL or a live config, a
        // writable output.
        let result = unsafe { sockeye_ctx_connect(self.0, url.as_ptr(), config, &raw mut id) };
        assert_eq!(result, SOCKEYE_OK);
        id
    }

    fn send(&self, conn: u64, kind: u32, data: &[u8]) -> sockeye_result {
        // SAFETY: a live context; `data` is readable for its length.
        unsafe { sockeye_send(self.0, conn, kind, data.as_ptr(), data.len(), null_mut()) }
    }

    fn close(&self, conn: u64, code: u16, reason: &CStr) -> sockeye_result {
        // SAFETY: a live context and a string.
        unsafe { sockeye_close(self.0, conn, code, reason.as_ptr()) }
    }

    fn last_error(&self) -> String {
        let mut buf = [0 as c_char; 256];
        let mut len = 0;
        // SAFETY: a live context, a 256-byte buffer, a writable length.
        let result =
            unsafe { sockeye_ctx_last_error(self.0, buf.as_mut_ptr(), buf.len(), &raw mut len) };
        assert_eq!(result, SOCKEYE_OK);
        // SAFETY: the buffer is NUL-terminated.
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    }

    /// Connects a client and waits for both OPEN events: (client, server).
    fn pair(&self, port: u16, config: *const sockeye_config) -> (u64, u64, Ev, Ev) {
        let client = self.connect(&format!("ws://127.0.0.1:{port}/x"), config);
        let mut client_open = None;
        let mut server_open = None;
        self.until(false, |ev| {
            assert_eq!(ev.kind, SOCKEYE_EVENT_OPEN, "{ev:?}");
            if ev.conn == client {
                client_open = Some(ev.clone());
            } else {
                server_open = Some(ev.clone());
            }
            client_open.is_some() && server_open.is_some()
        });
        let server_open = server_open.unwrap();
        (client, server_open.conn, client_open.unwrap(), server_open)
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context is live and no other call runs on it.
        let result = unsafe { sockeye_ctx_free(self.0) };
        if !std::thread::panicking() {
            assert_eq!(result, SOCKEYE_OK);
        }
    }
}

/// A config freed at the end of the test.
struct Config(*mut sockeye_config);

impl Config {
    fn new() -> Config {
        let mut config = null_mut();
        // SAFETY: a writable pointer slot.
        assert_eq!(unsafe { sockeye_config_new(&raw mut config) }, SOCKEYE_OK);
        Config(config)
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        // SAFETY: a live config, used by this thread only.
        unsafe { sockeye_config_free(self.0) };
    }
}

#[test]
fn server_echoes_text_and_binary_to_a_client() {
    server_echoes_text_and_binary_to_a_client_on(1);
}

/// The same, on a context of no threads (0) that runs inside the poll.
#[test]
fn server_echoes_text_and_binary_to_a_client_inline() {
    server_echoes_text_and_binary_to_a_client_on(0);
}

fn server_echoes_text_and_binary_to_a_client_on(threads: u32) {
    let ctx = Ctx::new(threads);
    let (listener, port) = ctx.listen(null());
    let (client, server, client_open, server_open) = ctx.pair(port, null());
    assert_eq!(client_open.listener, 0);
    assert_eq!(server_open.listener, listener);
    assert_eq!(client_open.data, b"");
    assert_ne!(client, server);

    assert_eq!(ctx.send(client, SOCKEYE_TEXT, b"hello"), SOCKEYE_OK);
    assert_eq!(
        ctx.send(client, SOCKEYE_BINARY, &[0, 1, 2, 255]),
        SOCKEYE_OK
    );
    assert_eq!(ctx.send(client, SOCKEYE_TEXT, b""), SOCKEYE_OK);
    let mut echoes = Vec::new();
    ctx.until(true, |ev| {
        if ev.conn == client {
            echoes.push((ev.kind, ev.data.clone()));
        }
        echoes.len() == 3
    });
    assert_eq!(
        echoes,
        [
            (SOCKEYE_EVENT_TEXT, b"hello".to_vec()),
            (SOCKEYE_EVENT_BINARY, vec![0, 1, 2, 255]),
            (SOCKEYE_EVENT_TEXT, Vec::new()),
        ]
    );
}

#[test]
fn deflate_round_trips_a_large_message_on_several_threads() {
    let ctx = Ctx::new(2);
    let config = Config::new();
    // SAFETY: a live config.
    assert_eq!(
        unsafe { sockeye_config_set_deflate(config.0, true) },
        SOCKEYE_OK
    );
    let (_, port) = ctx.listen(config.0);
    let (client, _, _, _) = ctx.pair(port, config.0);
    let big: Vec<u8> = b"compressible text "
        .iter()
        .copied()
        .cycle()
        .take(200_000)
        .collect();
    assert_eq!(ctx.send(client, SOCKEYE_TEXT, &big), SOCKEYE_OK);
    let seen = ctx.until(true, |ev| {
        ev.conn == client && ev.kind == SOCKEYE_EVENT_TEXT
    });
    assert_eq!(seen.last().unwrap().data, big);
}

#[test]
fn the_server_picks_a_subprotocol_both_sides_see() {
    let ctx = Ctx::new(1);
    let server_config = Config::new();
    let client_config = Config::new();
    // SAFETY: live configs and string literals.
    unsafe {
        assert_eq!(
            sockeye_config_add_subprotocol(server_config.0, c"chat".as_ptr()),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_config_add_subprotocol(client_config.0, c"v2".as_ptr()),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_config_add_subprotocol(client_config.0, c"chat".as_ptr()),
            SOCKEYE_OK
        );
    }
    let (_, port) = ctx.listen(server_config.0);
    let (_, _, client_open, server_open) = ctx.pair(port, client_config.0);
    assert_eq!(client_open.data, b"chat");
    assert_eq!(server_open.data, b"chat");
}

#[test]
fn close_codes_and_reasons_travel_both_ways_and_ids_are_then_forgotten() {
    close_codes_and_reasons_travel_both_ways_and_ids_are_then_forgotten_on(1);
}

/// The same, on a context of no threads (0) that runs inside the poll.
#[test]
fn close_codes_and_reasons_travel_both_ways_and_ids_are_then_forgotten_inline() {
    close_codes_and_reasons_travel_both_ways_and_ids_are_then_forgotten_on(0);
}

fn close_codes_and_reasons_travel_both_ways_and_ids_are_then_forgotten_on(threads: u32) {
    let ctx = Ctx::new(threads);
    let (_, port) = ctx.listen(null());

    // The client closes.
    let (client, server, _, _) = ctx.pair(port, null());
    assert_eq!(ctx.close(client, 4001, c"bye"), SOCKEYE_OK);
    assert_eq!(ctx.close(client, 4001, c"bye"), SOCKEYE_OK);
    assert_eq!(ctx.send(client, SOCKEYE_TEXT, b"late"), SOCKEYE_ERR_CLOSED);
    let mut closes = Vec::new();
    ctx.until(false, |ev| {
        assert_eq!(ev.kind, SOCKEYE_EVENT_CLOSE, "{ev:?}");
        closes.push(ev.clone());
        closes.len() == 2
    });
    for ev in &closes {
        assert_eq!((ev.close_code, ev.data.as_slice()), (4001, &b"bye"[..]));
    }
    for id in [client, server] {
        assert_eq!(ctx.send(id, SOCKEYE_TEXT, b"x"), SOCKEYE_ERR_NOT_FOUND);
        assert_eq!(ctx.close(id, 1000, c""), SOCKEYE_ERR_NOT_FOUND);
        let mut amount = 0;
        // SAFETY: a live context and a writable output.
        assert_eq!(
            unsafe { sockeye_buffered_amount(ctx.0, id, &raw mut amount) },
            SOCKEYE_ERR_NOT_FOUND
        );
    }
    assert!(ctx.last_error().starts_with("SOCKEYE_ERR_NOT_FOUND"));

    // The server closes.
    let (client, server, _, _) = ctx.pair(port, null());
    assert_eq!(ctx.close(server, 1001, c"restart"), SOCKEYE_OK);
    let mut ends = 0;
    ctx.until(false, |ev| {
        assert_eq!(
            (ev.kind, ev.close_code),
            (SOCKEYE_EVENT_CLOSE, 1001),
            "{ev:?}"
        );
        assert_eq!(ev.data, b"restart");
        assert!(ev.conn == client || ev.conn == server);
        ends += 1;
        ends == 2
    });

    // Codes that may not be sent, and reasons too long.
    let (client, _, _, _) = ctx.pair(port, null());
    for code in [0, 999, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(ctx.close(client, code, c""), SOCKEYE_ERR_INVALID, "{code}");
    }
    let long = CString::new("x".repeat(124)).unwrap();
    assert_eq!(ctx.close(client, 1000, &long), SOCKEYE_ERR_INVALID);
    // SAFETY: a live context; a NULL reason is allowed.
    assert_eq!(
        unsafe { sockeye_close(ctx.0, client, 1000, null()) },
        SOCKEYE_OK
    );
    ctx.until(false, |ev| {
        ev.conn == client && ev.kind == SOCKEYE_EVENT_CLOSE
    });
}

#[test]
fn many_threads_send_at_once_and_each_threads_order_is_kept() {
    many_threads_send_at_once_and_each_threads_order_is_kept_on(2);
}

/// The same, on a context of no threads (0) that runs inside the poll.
#[test]
fn many_threads_send_at_once_and_each_threads_order_is_kept_inline() {
    many_threads_send_at_once_and_each_threads_order_is_kept_on(0);
}

fn many_threads_send_at_once_and_each_threads_order_is_kept_on(threads: u32) {
    const THREADS: usize = 8;
    const EACH: usize = 300;
    let ctx = Ctx::new(threads);
    let (_, port) = ctx.listen(null());
    let (client_a, server_a, _, _) = ctx.pair(port, null());
    let (client_b, server_b, _, _) = ctx.pair(port, null());
    let raw = ctx.0 as usize;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let ctx = raw as *mut sockeye_ctx;
                let conn = if t % 2 == 0 { server_a } else { server_b };
                for n in 0..EACH {
                    let text = format!("{t}:{n}");
                    // SAFETY: the context stays live until the scope ends.
                    let result = unsafe {
                        sockeye_send(
                            ctx,
                            conn,
                            SOCKEYE_TEXT,
                            text.as_ptr(),
                            text.len(),
                            null_mut(),
                        )
                    };
                    assert_eq!(result, SOCKEYE_OK);
                }
            });
        }
        let mut next = [0usize; THREADS];
        let mut got = 0;
        ctx.until(false, |ev| {
            assert_eq!(ev.kind, SOCKEYE_EVENT_TEXT);
            let text = std::str::from_utf8(&ev.data).unwrap();
            let (t, n) = text.split_once(':').unwrap();
            let (t, n): (usize, usize) = (t.parse().unwrap(), n.parse().unwrap());
            assert_eq!(ev.conn, if t % 2 == 0 { client_a } else { client_b });
            assert_eq!(n, next[t], "thread {t}'s messages out of order");
            next[t] += 1;
            got += 1;
            got == THREADS * EACH
        });
    });
}

/// A peer that completes the opening handshake and then reads nothing.
fn silent_server() -> (u16, std::thread::JoinHandle<std::net::TcpStream>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).unwrap();
            request.push(byte[0]);
        }
        let request = String::from_utf8(request).unwrap();
        let key = request
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| value.trim().to_owned())
            })
            .unwrap();
        let accept = sockeye::proto::handshake::accept_key(key.as_bytes());
        write!(
            tcp,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .unwrap();
        tcp
    });
    (port, thread)
}

#[test]
fn a_peer_that_stops_reading_gets_backpressure_not_unbounded_memory() {
    a_peer_that_stops_reading_gets_backpressure_not_unbounded_memory_on(1);
}

/// The same, on a context of no threads (0) that runs inside the poll.
#[test]
fn a_peer_that_stops_reading_gets_backpressure_not_unbounded_memory_inline() {
    a_peer_that_stops_reading_gets_backpressure_not_unbounded_memory_on(0);
}

fn a_peer_that_stops_reading_gets_backpressure_not_unbounded_memory_on(threads: u32) {
    let ctx = Ctx::new(threads);
    let config = Config::new();
    // SAFETY: a live config.
    assert_eq!(
        unsafe { sockeye_config_set_max_buffered(config.0, 256 << 10) },
        SOCKEYE_OK
    );
    let (port, peer) = silent_server();
    let client = ctx.connect(&format!("ws://127.0.0.1:{port}/"), config.0);
    ctx.until(false, |ev| ev.kind == SOCKEYE_EVENT_OPEN);
    let _tcp = peer.join().unwrap();
    let chunk = vec![7u8; 64 << 10];
    let mut refused = false;
    for _ in 0..2000 {
        let mut amount = 0;
        // SAFETY: a live context, a readable chunk, a writable output.
        match unsafe {
            sockeye_send(
                ctx.0,
                client,
                SOCKEYE_BINARY,
                chunk.as_ptr(),
                chunk.len(),
                &raw mut amount,
            )
        } {
            SOCKEYE_OK => assert!(amount <= (256 << 10) + chunk.len(), "{amount}"),
            SOCKEYE_ERR_BACKPRESSURE => {
                refused = true;
                break;
            }
            other => panic!("{other:?}"),
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(refused, "never refused: the send buffer grew without bound");
    let mut amount = 0;
    // SAFETY: a live context and a writable output.
    assert_eq!(
        unsafe { sockeye_buffered_amount(ctx.0, client, &raw mut amount) },
        SOCKEYE_OK
    );
    assert!(amount >= 256 << 10, "{amount}");
    assert!(ctx.last_error().starts_with("SOCKEYE_ERR_BACKPRESSURE"));
}

#[test]
fn a_message_over_the_limit_closes_the_sender_with_1009() {
    let ctx = Ctx::new(1);
    let config = Config::new();
    // SAFETY: a live config.
    assert_eq!(
        unsafe { sockeye_config_set_max_message_size(config.0, 1024) },
        SOCKEYE_OK
    );
    let (_, port) = ctx.listen(config.0);
    let (client, server, _, _) = ctx.pair(port, null());
    assert_eq!(ctx.send(client, SOCKEYE_BINARY, &[1; 2048]), SOCKEYE_OK);
    let mut client_end = None;
    let mut server_end = None;
    ctx.until(false, |ev| {
        if ev.conn == client {
            client_end = Some(ev.clone());
        } else if ev.conn == server {
            server_end = Some(ev.clone());
        }
        client_end.is_some() && server_end.is_some()
    });
    let (client_end, server_end) = (client_end.unwrap(), server_end.unwrap());
    assert_eq!(
        (client_end.kind, client_end.close_code),
        (SOCKEYE_EVENT_CLOSE, 1009)
    );
    assert_eq!(server_end.kind, SOCKEYE_EVENT_ERROR);
    assert_eq!(server_end.error, SOCKEYE_ERR_TOO_LARGE as i32);
    assert_eq!(server_end.close_code, 1009);
}

#[test]
fn bad_input_is_refused_with_a_code() {
    let ctx = Ctx::new(1);
    let (_, port) = ctx.listen(null());
    let (client, _, _, _) = ctx.pair(port, null());
    assert_eq!(
        ctx.send(client, SOCKEYE_TEXT, b"\xff\xfe"),
        SOCKEYE_ERR_INVALID
    );
    assert!(ctx.last_error().contains("UTF-8"), "{}", ctx.last_error());
    assert_eq!(ctx.send(client, 0, b"x"), SOCKEYE_ERR_INVALID);
    assert_eq!(ctx.send(client, 9, b"x"), SOCKEYE_ERR_INVALID);
    assert_eq!(ctx.send(999_999, SOCKEYE_TEXT, b"x"), SOCKEYE_ERR_NOT_FOUND);

    let mut id = 0;
    for url in [c"http://127.0.0.1/", c"not a url", c"ws://"] {
        // SAFETY: a live context, a literal, a writable output.
        let result = unsafe { sockeye_ctx_connect(ctx.0, url.as_ptr(), null(), &raw mut id) };
        assert_eq!(result, SOCKEYE_ERR_INVALID, "{url:?}");
    }
    assert_eq!(id, 0, "outputs are written only on success");
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            sockeye_ctx_listen(ctx.0, c"no port".as_ptr(), null(), &raw mut id),
            SOCKEYE_ERR_INVALID
        );
        assert_eq!(sockeye_ctx_unlisten(ctx.0, 424_242), SOCKEYE_ERR_NOT_FOUND);
        let mut port = 0u16;
        assert_eq!(
            sockeye_ctx_listener_port(ctx.0, 424_242, &raw mut port),
            SOCKEYE_ERR_NOT_FOUND
        );
        let mut ev = std::mem::MaybeUninit::<sockeye_event>::uninit();
        assert_eq!(
            sockeye_event_poll(ctx.0, ev.as_mut_ptr(), -2),
            SOCKEYE_ERR_INVALID
        );
        let mut other = null_mut();
        assert_eq!(sockeye_ctx_new(257, &raw mut other), SOCKEYE_ERR_INVALID);
        assert!(other.is_null());
    }
}

#[test]
fn a_bind_error_names_the_os_reason() {
    let ctx = Ctx::new(1);
    let (_, port) = ctx.listen(null());
    let addr = CString::new(format!("127.0.0.1:{port}")).unwrap();
    let mut id = 0;
    // SAFETY: a live context, a string, a writable output.
    let result = unsafe { sockeye_ctx_listen(ctx.0, addr.as_ptr(), null(), &raw mut id) };
    assert_eq!(result, SOCKEYE_ERR_IO);
    let message = ctx.last_error();
    assert!(message.starts_with("SOCKEYE_ERR_IO"), "{message}");
    assert!(message.to_lowercase().contains("in use"), "{message}");
}

#[test]
fn a_refused_connect_is_an_error_event_and_the_id_is_then_forgotten() {
    let ctx = Ctx::new(1);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conn = ctx.connect(&format!("ws://127.0.0.1:{port}/"), null());
    // Before the ERROR event: still connecting, or failed already.
    let early = ctx.send(conn, SOCKEYE_TEXT, b"early");
    assert!(
        matches!(early, SOCKEYE_ERR_STATE | SOCKEYE_ERR_CLOSED),
        "{early:?}"
    );
    let seen = ctx.until(false, |ev| ev.conn == conn);
    let ev = seen.last().unwrap();
    assert_eq!(ev.kind, SOCKEYE_EVENT_ERROR);
    assert_eq!(ev.error, SOCKEYE_ERR_IO as i32);
    assert!(
        String::from_utf8_lossy(&ev.data)
            .to_lowercase()
            .contains("refused"),
        "{ev:?}"
    );
    assert_eq!(ctx.send(conn, SOCKEYE_TEXT, b"x"), SOCKEYE_ERR_NOT_FOUND);
}

#[test]
#[expect(clippy::too_many_lines, reason = "one check per export, in one list")]
fn nulls_are_refused_everywhere() {
    let ctx = Ctx::new(1);
    let mut id = 0;
    let mut port = 0u16;
    let mut amount = 0usize;
    let mut len = 0usize;
    let mut buf = [0 as c_char; 8];
    let mut ev = std::mem::MaybeUninit::<sockeye_event>::uninit();
    let addr = c"127.0.0.1:0".as_ptr();
    // SAFETY: every pointer is NULL, live, a literal, or writable.
    unsafe {
        assert_eq!(sockeye_ctx_new(1, null_mut()), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_ctx_free(null_mut()), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_ctx_listen(null_mut(), addr, null(), &raw mut id),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_listen(ctx.0, null(), null(), &raw mut id),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_listen(ctx.0, addr, null(), null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_listen_tls(ctx.0, addr, null(), c"k".as_ptr(), null(), &raw mut id),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_listen_tls(ctx.0, addr, c"c".as_ptr(), null(), null(), &raw mut id),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_listener_port(null_mut(), 1, &raw mut port),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_listener_port(ctx.0, 1, null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_ctx_unlisten(null_mut(), 1), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_ctx_connect(null_mut(), addr, null(), &raw mut id),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_connect(ctx.0, null(), null(), &raw mut id),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_connect(ctx.0, c"ws://127.0.0.1:1/".as_ptr(), null(), null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_event_poll(null_mut(), ev.as_mut_ptr(), 0),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_event_poll(ctx.0, null_mut(), 0), SOCKEYE_ERR_NULL);
        assert_eq!(sockeye_ctx_fd(null()), -1);
        assert_eq!(
            sockeye_send(null_mut(), 1, SOCKEYE_TEXT, null(), 0, null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_send(ctx.0, 1, SOCKEYE_TEXT, null(), 3, null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_buffered_amount(null_mut(), 1, &raw mut amount),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_buffered_amount(ctx.0, 1, null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(sockeye_close(null_mut(), 1, 1000, null()), SOCKEYE_ERR_NULL);
        assert_eq!(
            sockeye_ctx_last_error(null(), buf.as_mut_ptr(), 8, &raw mut len),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_last_error(ctx.0, null_mut(), 8, &raw mut len),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_last_error(ctx.0, buf.as_mut_ptr(), 8, null_mut()),
            SOCKEYE_ERR_NULL
        );
        assert_eq!(
            sockeye_ctx_last_error(ctx.0, buf.as_mut_ptr(), 0, &raw mut len),
            SOCKEYE_ERR_BUFFER_TOO_SMALL
        );
    }
    // A message cut to fit a small buffer stays NUL-terminated.
    assert_eq!(ctx.send(77, SOCKEYE_TEXT, b"x"), SOCKEYE_ERR_NOT_FOUND);
    // SAFETY: a live context, an 8-byte buffer, a writable length.
    unsafe {
        assert_eq!(
            sockeye_ctx_last_error(ctx.0, buf.as_mut_ptr(), 8, &raw mut len),
            SOCKEYE_OK
        );
        assert_eq!(len, 7);
        assert_eq!(CStr::from_ptr(buf.as_ptr()).to_bytes(), b"SOCKEYE");
    }
}

#[test]
fn a_second_free_is_refused() {
    let mut ctx = null_mut();
    // SAFETY: a writable slot; then the context just made, freed once and
    // then passed again, which the registry refuses without touching it.
    unsafe {
        assert_eq!(sockeye_ctx_new(0, &raw mut ctx), SOCKEYE_OK);
        assert_eq!(sockeye_ctx_free(ctx), SOCKEYE_OK);
        assert_eq!(sockeye_ctx_free(ctx), SOCKEYE_ERR_BAD_HANDLE);
    }
}

/// Whether `fd` is readable now.
fn readable(fd: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&raw mut pfd, 1, 0) };
    n == 1 && pfd.revents & libc::POLLIN != 0
}

#[test]
fn the_fd_is_readable_while_events_wait_and_draining_resets_it() {
    let ctx = Ctx::new(1);
    // SAFETY: a live context.
    let fd = unsafe { sockeye_ctx_fd(ctx.0) };
    assert!(fd >= 0);
    assert!(!readable(fd));
    let (_, port) = ctx.listen(null());
    let _client = ctx.connect(&format!("ws://127.0.0.1:{port}/"), null());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !readable(fd) {
        assert!(Instant::now() < deadline, "never readable");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut opens = 0;
    while opens < 2 {
        if let Some(ev) = ctx.poll(0) {
            assert_eq!(ev.kind, SOCKEYE_EVENT_OPEN);
            opens += 1;
        } else {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    assert!(ctx.poll(0).is_none());
    assert!(!readable(fd), "still readable after draining");
}

#[test]
fn wss_with_a_private_root_echoes() {
    let dir = std::env::temp_dir().join(format!("sockeye-ffi-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let cert_c = CString::new(cert_path.to_str().unwrap()).unwrap();
    let key_c = CString::new(key_path.to_str().unwrap()).unwrap();

    let ctx = Ctx::new(1);
    let config = Config::new();
    let mut id = 0;
    let mut port = 0u16;
    // SAFETY: a live context and config, strings, writable outputs.
    unsafe {
        assert_eq!(
            sockeye_config_set_ca_file(config.0, cert_c.as_ptr()),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_ctx_listen_tls(
                ctx.0,
                c"127.0.0.1:0".as_ptr(),
                key_c.as_ptr(),
                key_c.as_ptr(),
                null(),
                &raw mut id
            ),
            SOCKEYE_ERR_IO
        );
        assert_eq!(
            sockeye_ctx_listen_tls(
                ctx.0,
                c"127.0.0.1:0".as_ptr(),
                cert_c.as_ptr(),
                key_c.as_ptr(),
                null(),
                &raw mut id
            ),
            SOCKEYE_OK
        );
        assert_eq!(
            sockeye_ctx_listener_port(ctx.0, id, &raw mut port),
            SOCKEYE_OK
        );
    }
    let client = ctx.connect(&format!("wss://localhost:{port}/"), config.0);
    ctx.until(false, |ev| {
        ev.conn == client && ev.kind == SOCKEYE_EVENT_OPEN
    });
    assert_eq!(ctx.send(client, SOCKEYE_TEXT, b"secret"), SOCKEYE_OK);
    let seen = ctx.until(true, |ev| {
        ev.conn == client && ev.kind == SOCKEYE_EVENT_TEXT
    });
    assert_eq!(seen.last().unwrap().data, b"secret");

    // Without the root, the certificate is refused.
    let refused = ctx.connect(&format!("wss://localhost:{port}/"), null());
    let seen = ctx.until(false, |ev| {
        ev.conn == refused && ev.kind != SOCKEYE_EVENT_OPEN
    });
    assert_eq!(
        seen.last().unwrap().error,
        SOCKEYE_ERR_TLS as i32,
        "{seen:?}"
    );
    // SAFETY: a live context.
    assert_eq!(unsafe { sockeye_ctx_unlisten(ctx.0, id) }, SOCKEYE_OK);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn freeing_closes_open_connections_with_1001() {
    let server = Ctx::new(1);
    let (_, port) = server.listen(null());
    let client_ctx = Ctx::new(1);
    let client = client_ctx.connect(&format!("ws://127.0.0.1:{port}/"), null());
    client_ctx.until(false, |ev| ev.kind == SOCKEYE_EVENT_OPEN);
    server.until(false, |ev| ev.kind == SOCKEYE_EVENT_OPEN);
    // Coming back marks the OPEN handled: the client may read on.
    assert!(client_ctx.poll(0).is_none());
    drop(server);
    let seen = client_ctx.until(false, |ev| {
        ev.conn == client && ev.kind != SOCKEYE_EVENT_OPEN
    });
    let last = seen.last().unwrap();
    assert_eq!((last.kind, last.close_code), (SOCKEYE_EVENT_CLOSE, 1001));
}

#[test]
fn a_context_of_no_threads_has_no_fd_and_serves_inside_the_poll() {
    let ctx = Ctx::new(0);
    // SAFETY: a live context.
    assert_eq!(unsafe { sockeye_ctx_fd(ctx.0) }, -1);
    // Nothing is served between polls, but a poll with timeout 0 still
    // turns the loop: the client below opens across a few of them.
    let (_, port) = ctx.listen(null());
    let _client = ctx.connect(&format!("ws://127.0.0.1:{port}/"), null());
    let mut opened = 0;
    for _ in 0..2000 {
        if let Some(ev) = ctx.poll(0) {
            if ev.kind == SOCKEYE_EVENT_OPEN {
                opened += 1;
            }
        }
        if opened == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(opened, 2, "both ends open through polls of timeout 0");
}
