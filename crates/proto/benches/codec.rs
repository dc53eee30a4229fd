//! The frame codec's hot paths: parsing headers, unmasking, checking UTF-8,
//! encoding frames, and whole messages through a server `Connection`.
//!
//! Run: `cargo bench -p sockeye-proto --bench codec` (add `-- --quick` for a
//! fast check). Throughput is in payload bytes.
#![allow(
    missing_docs,
    reason = "criterion_group! and criterion_main! generate undocumented items"
)]

use std::hint::black_box;

use bytes::Buf;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sockeye_proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, apply_mask};
use sockeye_proto::{Config, Connection, Event, EventRef, Message, Role};

const SIZES: [(usize, &str); 4] = [
    (16, "16B"),
    (1 << 10, "1KiB"),
    (64 << 10, "64KiB"),
    (1 << 20, "1MiB"),
];

/// A client frame carrying `payload`: header, masking key, masked payload.
fn client_frame(payload: &[u8], opcode: OpCode) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        masking_key: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut head = [0; MAX_HEADER_LEN];
    let n = header.encode(&mut head);
    let mut frame = head[..n].to_vec();
    let start = frame.len();
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[start..], key, 0);
    frame
}

fn text(len: usize) -> String {
    "{\"id\":42,\"name\":\"sockeye\",\"tags\":[\"é\",\"ü\",\"ß\"]}"
        .chars()
        .cycle()
        .take(len)
        .collect()
}

fn header_parse(c: &mut Criterion) {
    let frame = client_frame(&vec![0; 70_000], OpCode::Binary);
    c.bench_function("header/decode_64bit_masked", |b| {
        b.iter(|| FrameHeader::decode(black_box(&frame[..14]), true));
    });
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::Text,
        masking_key: None,
        payload_len: 300,
    };
    c.bench_function("header/encode_16bit", |b| {
        let mut dst = [0; MAX_HEADER_LEN];
        b.iter(|| black_box(&header).encode(&mut dst));
    });
}

fn unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for (size, name) in SIZES {
        let mut data = vec![0xa5u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| apply_mask(black_box(&mut data), [1, 2, 3, 4], 1));
        });
    }
    group.finish();
}

/// Whole messages received: `receive_text` checks UTF-8, `receive_binary`
/// carries the same bytes without that check, so the difference between
/// the two is the cost of validating UTF-8.
fn receive(c: &mut Criterion) {
    for (opcode, group_name) in [
        (OpCode::Text, "receive_text"),
        (OpCode::Binary, "receive_binary"),
    ] {
        let mut group = c.benchmark_group(group_name);
        for (size, name) in SIZES {
            let frame = client_frame(text(size).as_bytes(), opcode);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::from_parameter(name), |b| {
                let mut server = Connection::new(Role::Server, Config::default());
                b.iter(|| {
                    server.receive(black_box(&frame));
                    match server.next_event() {
                        Ok(Some(Event::Message(m))) => black_box(m),
                        other => panic!("unexpected {other:?}"),
                    }
                });
            });
        }
        group.finish();
    }
}

fn send(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_binary");
    for (size, name) in SIZES {
        let payload = bytes::Bytes::from(vec![7u8; size]);
        group.throughput(Throughput::Bytes(size as u64));
        for role in [Role::Server, Role::Client] {
            let id = format!("{role:?}/{name}");
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                let mut conn = Connection::new(role, Config::default());
                b.iter(|| {
                    conn.send(Message::Binary(payload.clone())).expect("open");
                    let out = conn.output();
                    let n = out.remaining();
                    out.advance(n);
                });
            });
        }
    }
    group.finish();
}

fn echo_many_small(c: &mut Criterion) {
    // One read holding 16 small messages, answered in one write: the shape
    // of a pipelined echo load.
    let frame = client_frame(b"0123456789abcdef", OpCode::Binary);
    let burst: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 16)
        .collect();
    let mut group = c.benchmark_group("echo_burst");
    group.throughput(Throughput::Elements(16));
    group.bench_function("16x16B", |b| {
        let mut server = Connection::new(Role::Server, Config::default());
        b.iter(|| {
            server.receive(black_box(&burst));
            while let Ok(Some(Event::Message(m))) = server.next_event() {
                server.send(m).expect("open");
            }
            let out = server.output();
            let n = out.remaining();
            out.advance(n);
        });
    });
    // The same read taken in place: each message lent from the read, its
    // echo copied next to its header; in binary, then in text (UTF-8
    // checked).
    for (opcode, name) in [
        (OpCode::Binary, "16x16B in place"),
        (OpCode::Text, "16x16B text in place"),
    ] {
        let frame = client_frame(b"0123456789abcdef", opcode);
        let burst = frame.repeat(16);
        group.bench_function(name, |b| {
            let mut server = Connection::new(Role::Server, Config::default());
            let mut read = burst.clone();
            b.iter(|| {
                read.copy_from_slice(black_box(&burst));
                let mut input = server.receive_in_place(&mut read);
                while let Ok(Some(EventRef::Message(m))) = input.next_event() {
                    input.connection().send_ref(m).expect("open");
                }
                drop(input);
                let out = server.output();
                let n = out.remaining();
                out.advance(n);
            });
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    header_parse,
    unmask,
    receive,
    send,
    echo_many_small
);
criterion_main!(benches);
