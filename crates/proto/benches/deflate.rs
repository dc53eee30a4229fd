//! permessage-deflate through the engine: compressing and inflating typical
//! JSON messages of 100 B, 4 KiB and 64 KiB.
//!
//! - `compress/*`: a server `Connection` sends the message and its output is
//!   drained (a server does not mask, so this is compression plus a frame
//!   header).
//! - `inflate/*`: a client `Connection` is fed the compressed frame and
//!   yields the message (inflation, UTF-8 validation, a copy of the frame
//!   into the read buffer).
//!
//! Each runs twice: `reset`, with no context takeover, where each message
//! starts from an empty window (the cost of one message on its own), and
//! `takeover`, a cycle of different messages of the same shape with the
//! window kept, as on a long-lived connection (the cycle is long enough that
//! no message finds its own earlier copy in the window). Throughput counts
//! uncompressed bytes. The compression ratio of each case is printed once,
//! before its measurements.
//!
//! Run: `cargo bench -p sockeye-proto --bench deflate` (add `-- --quick` for
//! a fast check).
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]
#![allow(
    clippy::cast_precision_loss,
    reason = "a printed ratio of byte counts far below 2^52"
)]

use std::fmt::Write as _;
use std::hint::black_box;

use bytes::Buf;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sockeye_proto::handshake::parse_extensions;
use sockeye_proto::{Config, Connection, DeflateConfig, Event, Message, PerMessageDeflate, Role};

const SIZES: [(usize, &str); 3] = [(100, "100B"), (4 << 10, "4KiB"), (64 << 10, "64KiB")];

/// How many different messages the `takeover` cases cycle through: at
/// least 8, and enough that a message's own earlier copy has left the
/// 32 KiB window before it comes round again.
fn cycle(len: usize) -> usize {
    (2 * (32 << 10) / len + 1).max(8)
}

/// A JSON text of exactly `len` bytes, shaped like an API's output: an
/// array of records with ids, names, flags, numbers and timestamps, varied
/// by `seed`. Cut at `len` bytes (still ASCII, so still text).
fn json(len: usize, seed: u32) -> String {
    const NAMES: [&str; 8] = [
        "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi",
    ];
    const STATES: [&str; 4] = ["active", "idle", "away", "offline"];
    let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(7);
    let mut next = move |n: u32| {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (state >> 8) % n
    };
    let mut out = String::from("{\"type\":\"update\",\"items\":[");
    let mut i = 0;
    while out.len() < len {
        if i > 0 {
            out.push(',');
        }
        let name = NAMES[next(8) as usize];
        let _ = write!(
            out,
            "{{\"id\":{},\"user\":\"{name}{}\",\"status\":\"{}\",\"score\":{}.{:02},\
             \"verified\":{},\"updated\":\"2026-11-{:02}T{:02}:{:02}:{:02}Z\",\"tags\":[\"t{}\",\"t{}\"]}}",
            10_000 + next(90_000),
            next(100),
            STATES[next(4) as usize],
            next(1000),
            next(100),
            next(2) == 1,
            1 + next(28),
            next(24),
            next(60),
            next(60),
            next(20),
            next(20),
        );
        i += 1;
    }
    out.truncate(len);
    out
}

/// Negotiates as a handshake would, with the server's window reset per
/// message or kept.
fn agreement(reset: bool) -> PerMessageDeflate {
    let client = DeflateConfig {
        server_no_context_takeover: reset,
        ..DeflateConfig::default()
    };
    let offer = http::HeaderValue::from_str(&client.offer()).expect("a header value");
    let offers = parse_extensions([&offer]).expect("well-formed");
    DeflateConfig::default()
        .negotiate(&offers)
        .expect("accepted")
}

fn connection(role: Role, agreed: PerMessageDeflate) -> Connection {
    let config = Config {
        deflate: Some(DeflateConfig::default()),
        ..Config::default()
    };
    Connection::new(role, config).with_deflate(agreed)
}

/// The messages of one case: the same one when `reset`, else a cycle.
fn messages(len: usize, reset: bool) -> Vec<Message> {
    let count = if reset { 1 } else { cycle(len) };
    (0..count)
        .map(|seed| Message::text(json(len, u32::try_from(seed).expect("few"))))
        .collect()
}

/// Sends `message` from `server` and drops what it wrote; returns how many
/// bytes that was.
fn send(server: &mut Connection, message: &Message) -> usize {
    server.send(message.clone()).expect("open");
    let out = server.output();
    let n = out.remaining();
    out.advance(n);
    n
}

fn bench(c: &mut Criterion) {
    for reset in [true, false] {
        let mode = if reset { "reset" } else { "takeover" };
        let agreed = agreement(reset);
        let mut compress = c.benchmark_group(format!("compress/{mode}"));
        for (len, label) in SIZES {
            let messages = messages(len, reset);
            // Once through the cycle to fill the window, then measured.
            let mut server = connection(Role::Server, agreed);
            for m in &messages {
                send(&mut server, m);
            }
            let wire: usize = messages.iter().map(|m| send(&mut server, m)).sum();
            let raw = len * messages.len();
            println!(
                "deflate {mode} {label}: {raw} B of JSON -> {wire} B of frames, ratio {:.2}",
                raw as f64 / wire as f64
            );
            compress.throughput(Throughput::Bytes(len as u64));
            let mut i = 0;
            compress.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| {
                    i = (i + 1) % messages.len();
                    black_box(send(&mut server, &messages[i]))
                });
            });
        }
        compress.finish();

        let mut inflate = c.benchmark_group(format!("inflate/{mode}"));
        for (len, label) in SIZES {
            let messages = messages(len, reset);
            // The frames one cycle makes, from a fresh compressor. Frame k
            // refers back only to frames before it in the cycle, so the
            // cycle replays validly any number of times.
            let mut server = connection(Role::Server, agreed);
            let frames: Vec<Vec<u8>> = messages
                .iter()
                .map(|m| {
                    server.send(m.clone()).expect("open");
                    let out = server.output();
                    out.copy_to_bytes(out.remaining()).to_vec()
                })
                .collect();
            let mut client = connection(Role::Client, agreed);
            inflate.throughput(Throughput::Bytes(len as u64));
            let mut i = 0;
            inflate.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| {
                    client.receive(&frames[i]);
                    let event = client.next_event().expect("valid");
                    let Some(Event::Message(message)) = event else {
                        panic!("expected a message, got {event:?}");
                    };
                    debug_assert_eq!(message, messages[i]);
                    i = (i + 1) % frames.len();
                    black_box(message)
                });
            });
        }
        inflate.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
