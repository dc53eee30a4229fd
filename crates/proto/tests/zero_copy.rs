//! An unfragmented message leaves the engine as a slice of the buffer handed
//! to `receive_buf`: unmasked in place, never copied (STYLE "Buffers").

mod support;

use bytes::BytesMut;
use sockeye_proto::{Event, Message, Role};
use support::{RawFrame, conn, events, frame_to, op};

/// Whether `inner` lies within `outer` in memory.
fn within(inner: &[u8], outer: std::ops::Range<usize>) -> bool {
    let start = inner.as_ptr() as usize;
    outer.contains(&start) && start + inner.len() <= outer.end
}

fn range_of(buf: &BytesMut) -> std::ops::Range<usize> {
    let start = buf.as_ptr() as usize;
    start..start + buf.len()
}

fn message(event: &Event) -> &Message {
    match event {
        Event::Message(m) => m,
        other => panic!("not a message: {other:?}"),
    }
}

fn hands_out_payload_without_copy(role: Role) {
    for (opcode, len) in [
        (op::BINARY, 0usize),
        (op::BINARY, 5),
        (op::TEXT, 1000),
        (op::BINARY, 70_000),
    ] {
        let payload: Vec<u8> = (0..len)
            .map(|i| b"abcdefghijklmnopqrstuvwxyz"[i % 26])
            .collect();
        let buf = BytesMut::from(&frame_to(role, opcode, &payload)[..]);
        let range = range_of(&buf);
        let mut c = conn(role);
        c.receive_buf(buf);
        let (seen, err) = events(&mut c);
        assert_eq!(err, None);
        assert_eq!(seen.len(), 1);
        let m = message(&seen[0]);
        assert_eq!(m.payload(), &payload[..]);
        if len > 0 {
            assert!(within(m.payload(), range), "{len}-byte payload was copied");
        }
    }
}

#[test]
fn server_hands_out_unfragmented_payload_without_copy() {
    hands_out_payload_without_copy(Role::Server);
}

#[test]
fn client_hands_out_unfragmented_payload_without_copy() {
    hands_out_payload_without_copy(Role::Client);
}

/// One read of four frames: text, a Ping, 3000 bytes of binary, text.
fn mixed_read(role: Role) -> Vec<u8> {
    [
        frame_to(role, op::TEXT, "first"),
        frame_to(role, op::PING, "p"),
        frame_to(role, op::BINARY, vec![7; 3000]),
        frame_to(role, op::TEXT, "last"),
    ]
    .concat()
}

fn hands_out_every_message_of_a_read_without_copy(role: Role) {
    let wire = mixed_read(role);
    let buf = BytesMut::from(&wire[..]);
    let range = range_of(&buf);
    let mut c = conn(role);
    c.receive_buf(buf);
    let (seen, err) = events(&mut c);
    assert_eq!(err, None);
    assert_eq!(seen.len(), 4);
    for event in [&seen[0], &seen[2], &seen[3]] {
        assert!(within(message(event).payload(), range.clone()));
    }
    let Event::Ping(p) = &seen[1] else {
        panic!("not a ping: {:?}", seen[1]);
    };
    assert!(within(p, range));
}

#[test]
fn server_hands_out_every_message_of_a_read_without_copy() {
    hands_out_every_message_of_a_read_without_copy(Role::Server);
}

#[test]
fn client_hands_out_every_message_of_a_read_without_copy() {
    hands_out_every_message_of_a_read_without_copy(Role::Client);
}

fn joins_reads_split_from_one_buffer_without_copy(role: Role) {
    // A transport reads into one BytesMut and splits off each read: the
    // pieces are adjacent, so the engine rejoins them in place.
    let payload = vec![0x42; 10_000];
    let wire = frame_to(role, op::BINARY, &payload);
    for cut in [1, 3, 100, 5000, wire.len() - 1] {
        let mut read_buf = BytesMut::from(&wire[..]);
        let range = range_of(&read_buf);
        let first = read_buf.split_to(cut);
        let mut c = conn(role);
        c.receive_buf(first);
        assert_eq!(events(&mut c), (vec![], None), "cut {cut}");
        c.receive_buf(read_buf);
        let (seen, err) = events(&mut c);
        assert_eq!(err, None);
        let m = message(&seen[0]);
        assert_eq!(m.payload(), &payload[..]);
        assert!(within(m.payload(), range), "payload copied with cut {cut}");
    }
}

#[test]
fn server_joins_reads_split_from_one_buffer_without_copy() {
    joins_reads_split_from_one_buffer_without_copy(Role::Server);
}

#[test]
fn client_joins_reads_split_from_one_buffer_without_copy() {
    joins_reads_split_from_one_buffer_without_copy(Role::Client);
}

#[test]
fn server_unmasks_in_place_without_touching_other_frames() {
    // Unmasking in place must stay inside the frame's own payload.
    let wire = [
        RawFrame::new(op::BINARY, [0u8; 37])
            .masked([1, 2, 3, 4])
            .encode(),
        RawFrame::new(op::BINARY, [0u8; 37])
            .masked([5, 6, 7, 8])
            .encode(),
    ]
    .concat();
    let mut c = conn(Role::Server);
    c.receive_buf(BytesMut::from(&wire[..]));
    let (seen, err) = events(&mut c);
    assert_eq!(err, None);
    for event in &seen {
        assert_eq!(message(event).payload(), &[0u8; 37][..]);
    }
}

/// The chunks `conn` would hand to a vectored write.
fn io_slices(conn: &mut sockeye_proto::Connection) -> Vec<(usize, usize)> {
    use bytes::Buf;
    let out = conn.output();
    let mut slices = [std::io::IoSlice::new(&[]); 16];
    let n = out.chunks_vectored(&mut slices);
    slices[..n]
        .iter()
        .map(|s| (s.as_ptr() as usize, s.len()))
        .collect()
}

#[test]
fn server_queues_a_large_payload_without_copy() {
    let payload = bytes::Bytes::from(vec![9u8; 8192]);
    let mut s = conn(Role::Server);
    s.send(Message::binary(payload.clone())).unwrap();
    let slices = io_slices(&mut s);
    assert!(
        slices.contains(&(payload.as_ptr() as usize, payload.len())),
        "payload not queued by reference: {slices:?}"
    );
}

#[test]
fn server_queues_a_broadcast_frame_without_copy() {
    let frame = sockeye_proto::encode_server_frame(&Message::binary(vec![3u8; 4096]));
    let mut receivers = [conn(Role::Server), conn(Role::Server)];
    for s in &mut receivers {
        s.send_raw(frame.clone()).unwrap();
        let slices = io_slices(s);
        assert_eq!(slices, [(frame.as_ptr() as usize, frame.len())]);
    }
    // And a client reads it as the message it was.
    let mut c = conn(Role::Client);
    c.receive(&frame);
    let (seen, err) = events(&mut c);
    assert_eq!(err, None);
    assert_eq!(message(&seen[0]).payload(), &[3u8; 4096][..]);
}

#[test]
fn client_masks_an_unshared_payload_in_place() {
    let payload = bytes::Bytes::from(vec![0u8; 8192]);
    let ptr = payload.as_ptr() as usize;
    let mut c = conn(Role::Client);
    c.send(Message::binary(payload)).unwrap();
    let slices = io_slices(&mut c);
    assert!(
        slices.contains(&(ptr, 8192)),
        "unshared payload copied: {slices:?}"
    );
}

#[test]
fn r_mk_07_client_never_changes_a_shared_payload() {
    let payload = bytes::Bytes::from(vec![0u8; 8192]);
    let kept = payload.clone();
    let mut c = conn(Role::Client);
    c.send(Message::binary(payload)).unwrap();
    let frames = support::sent_frames(&mut c);
    assert_eq!(frames[0].payload, vec![0u8; 8192]);
    assert!(
        kept.iter().all(|&b| b == 0),
        "the caller's bytes were masked"
    );
}

/// Read in place, every whole message of a read is a view of the read
/// itself, unmasked there; a frame the read cut goes through the engine.
fn reads_whole_messages_in_place(role: Role) {
    let wire = mixed_read(role);
    let cut = frame_to(role, op::BINARY, vec![8; 50]);
    let mut read = [&wire[..], &cut[..20]].concat();
    let range = {
        let start = read.as_ptr() as usize;
        start..start + read.len()
    };
    let mut c = conn(role);
    let mut input = c.receive_in_place(&mut read);
    let mut payloads = Vec::new();
    while let Some(event) = input.next_event().unwrap() {
        if let sockeye_proto::EventRef::Message(m) = event {
            assert!(m.is_borrowed() && within(m.payload(), range.clone()));
            payloads.push(m.payload().to_vec());
        }
    }
    drop(input);
    assert_eq!(payloads, [&b"first"[..], &[7; 3000], b"last"]);
    c.receive(&cut[20..]);
    let (seen, err) = events(&mut c);
    assert_eq!(err, None);
    assert_eq!(message(&seen[0]).payload(), &[8; 50][..]);
}

#[test]
fn server_reads_whole_messages_in_place() {
    reads_whole_messages_in_place(Role::Server);
}

#[test]
fn client_reads_whole_messages_in_place() {
    reads_whole_messages_in_place(Role::Client);
}
