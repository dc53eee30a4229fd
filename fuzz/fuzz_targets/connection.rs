//! A client and a server `Connection` driven by an arbitrary script: raw
//! bytes in arbitrary reads, traffic between the two with partial writes,
//! commands, and EOF (after tokio-websockets' `fuzz/fuzz_targets/stream.rs`).
//!
//! Neither side may panic, and a few invariants must hold throughout: an
//! error leaves the connection failed and silent, a failed or closed
//! connection reads nothing more, queued output stays bounded while the
//! peer never reads, and misuse never fails the connection.
#![no_main]

use bytes::{Buf, Bytes};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sockeye_proto::{CloseCode, Config, Connection, Message, Role, State, UsageError};

#[derive(Arbitrary, Debug)]
struct Workload {
    small_limits: bool,
    accept_unmasked: bool,
    lenient_lengths: bool,
    max_fragments: Option<u8>,
    steps: Vec<Step>,
    /// Raw bytes the `Inject` steps take from, in order.
    raw: Vec<u8>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Side {
    Client,
    Server,
}

#[derive(Arbitrary, Debug)]
enum Step {
    /// Feed the next `len` raw bytes to one side, as one read.
    Inject {
        to: Side,
        len: u16,
        owned: bool,
    },
    /// Move up to `max` bytes of one side's output to the other, in reads
    /// of at most `read` bytes.
    Deliver {
        from: Side,
        max: u16,
        read: u8,
    },
    /// Write (and drop) up to `max` bytes of one side's output.
    Discard {
        side: Side,
        max: u16,
    },
    Send {
        side: Side,
        text: bool,
        len: u16,
        fill: u8,
    },
    Ping {
        side: Side,
        len: u8,
    },
    Pong {
        side: Side,
        len: u8,
    },
    Close {
        side: Side,
        code: u16,
        reason_len: u8,
    },
    Eof {
        side: Side,
    },
}

struct Driver {
    client: Connection,
    server: Connection,
    raw: Bytes,
    /// Per side (client, server): it left `Open` and its output has since
    /// been seen empty. From then on it may queue nothing more: no Pong
    /// after our Close (R-CF-03), one Close at most (R-CL-03, R-CL-12).
    silent: [bool; 2],
}

impl Driver {
    fn side(&mut self, side: Side) -> &mut Connection {
        match side {
            Side::Client => &mut self.client,
            Side::Server => &mut self.server,
        }
    }

    /// Checks that a silent side stays silent, and marks sides silent.
    fn check_silence(&mut self) {
        for (i, side) in [Side::Client, Side::Server].into_iter().enumerate() {
            let conn = self.side(side);
            let open = conn.state() == State::Open;
            let queued = conn.output().len();
            if self.silent[i] {
                assert_eq!(queued, 0, "{side:?} queued bytes after its Close");
            } else if !open && queued == 0 {
                self.silent[i] = true;
            }
        }
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Inject { to, len, owned } => {
                let n = usize::from(len).min(self.raw.len());
                let read = self.raw.split_to(n);
                let conn = self.side(to);
                if owned {
                    conn.receive_buf(bytes::BytesMut::from(&read[..]));
                } else {
                    conn.receive(&read);
                }
                pump(conn);
            }
            Step::Deliver { from, max, read } => {
                let (src, dst) = match from {
                    Side::Client => (&mut self.client, &mut self.server),
                    Side::Server => (&mut self.server, &mut self.client),
                };
                let out = src.output();
                let n = usize::from(max).min(out.remaining());
                let bytes = out.copy_to_bytes(n);
                for piece in bytes.chunks(usize::from(read).max(1)) {
                    dst.receive(piece);
                    pump(dst);
                }
            }
            Step::Discard { side, max } => {
                let out = self.side(side).output();
                let n = usize::from(max).min(out.remaining());
                out.advance(n);
            }
            Step::Send {
                side,
                text,
                len,
                fill,
            } => {
                let len = usize::from(len);
                let message = if text {
                    let c = char::from(b' ' + fill % 95);
                    Message::text(c.to_string().repeat(len))
                } else {
                    Message::binary(vec![fill; len])
                };
                let conn = self.side(side);
                let open = conn.state() == State::Open;
                match conn.send(message) {
                    Ok(()) => assert!(open),
                    Err(UsageError::Closed) => assert!(!open),
                    Err(other) => panic!("unexpected {other:?}"),
                }
            }
            Step::Ping { side, len } => {
                let conn = self.side(side);
                let payload = vec![0xa5; usize::from(len)];
                let result = conn.send_ping(payload);
                check_control(conn, len, result);
            }
            Step::Pong { side, len } => {
                let conn = self.side(side);
                let payload = vec![0x5a; usize::from(len)];
                let result = conn.send_pong(payload);
                check_control(conn, len, result);
            }
            Step::Close {
                side,
                code,
                reason_len,
            } => {
                let conn = self.side(side);
                let before = conn.state();
                let reason = "r".repeat(usize::from(reason_len));
                match conn.close(CloseCode::from(code), &reason) {
                    Ok(()) => {
                        assert_eq!(before, State::Open);
                        assert_eq!(conn.state(), State::CloseSent);
                    }
                    Err(_) => assert_eq!(conn.state(), before, "misuse changed the state"),
                }
            }
            Step::Eof { side } => {
                let conn = self.side(side);
                let before = conn.state();
                conn.receive_eof();
                // What was fed before the EOF is still read; then the
                // connection has ended, cleanly only if a Close was in it.
                pump(conn);
                match before {
                    State::Open | State::CloseSent => {
                        assert!(matches!(conn.state(), State::Failed | State::Closed));
                    }
                    other => assert_eq!(conn.state(), other),
                }
                assert_eq!(conn.next_event(), Ok(None));
            }
        }
    }
}

fn check_control(conn: &Connection, len: u8, result: Result<(), UsageError>) {
    match result {
        Ok(()) => assert!(len <= 125 && conn.state() == State::Open),
        Err(UsageError::ControlPayloadTooLong(n)) => assert_eq!(n, usize::from(len)),
        Err(UsageError::Closed) => assert_ne!(conn.state(), State::Open),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// Reads events until the connection needs more bytes or fails.
fn pump(conn: &mut Connection) {
    let reading = matches!(conn.state(), State::Open | State::CloseSent);
    let queued = conn.output().len();
    let mut events = 0usize;
    loop {
        match conn.next_event() {
            Ok(Some(_)) => {
                assert!(reading, "an event after the connection ended");
                events += 1;
            }
            Ok(None) => break,
            Err(error) => {
                assert!(reading, "an error after the connection ended");
                assert_eq!(conn.state(), State::Failed);
                assert_eq!(conn.next_event(), Ok(None));
                let _ = error.close_code();
                break;
            }
        }
    }
    // Replies are bounded: a Pong per Ping (held back past 64 KiB of
    // output), one Close. Nothing else is queued by input.
    let added = conn.output().len().saturating_sub(queued);
    assert!(
        added <= events * (14 + 125) + 14 + 125,
        "{added} bytes queued for {events} events"
    );
}

fuzz_target!(|workload: Workload| {
    let mut config = Config {
        accept_unmasked_frames: workload.accept_unmasked,
        strict_length_encoding: !workload.lenient_lengths,
        max_fragments: workload.max_fragments.map(usize::from),
        ..Config::default()
    };
    if workload.small_limits {
        config.max_frame_size = 512;
        config.max_message_size = 2048;
    }
    let mut driver = Driver {
        client: Connection::new(Role::Client, config.clone()),
        server: Connection::new(Role::Server, config),
        raw: Bytes::from(workload.raw),
        silent: [false; 2],
    };
    for step in workload.steps.into_iter().take(256) {
        driver.step(step);
        driver.check_silence();
    }
});
