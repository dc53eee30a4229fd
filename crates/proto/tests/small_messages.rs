//! Small messages, the common case of request and reply: a message given
//! in parts leaves as the same frames as the parts joined, and a steady
//! exchange of small messages allocates only each received message's own
//! buffer, and none at all when read in place (STYLE "Buffers").

mod support;

use bytes::Buf;
use sockeye_proto::{Config, Connection, Event, EventRef, Message, MessageRef, Role};
use support::alloc::allocations_during;
use support::{drain, frame_to, op, parse_frames};

/// Splits `text` into up to three parts at character boundaries.
fn parts_of(text: &str) -> Vec<&str> {
    let cut = |at: usize| {
        (at..=text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap()
    };
    let (a, b) = (cut(text.len() / 3), cut(2 * text.len() / 3));
    vec![&text[..a], &text[a..b], &text[b..]]
}

fn text_of(len: usize) -> String {
    "añb€"
        .chars()
        .cycle()
        .scan(0, |n, c| {
            *n += c.len_utf8();
            (*n <= len).then_some(c)
        })
        .collect()
}

fn parts_leave_as_the_joined_message(role: Role, config: &Config) {
    for len in [0, 1, 5, 125, 126, 1000, 1023, 1024, 1025, 70_000] {
        let text = text_of(len);
        let mut joined = Connection::new(role, config.clone());
        joined.send(Message::text(text.clone())).unwrap();
        let mut parted = Connection::new(role, config.clone());
        parted.send_text_parts(&parts_of(&text)).unwrap();
        let masked = role == Role::Client;
        let expected = parse_frames(&drain(&mut joined), masked);
        let seen = parse_frames(&drain(&mut parted), masked);
        let strip = |frames: Vec<support::SentFrame>| {
            frames
                .into_iter()
                .map(|f| (f.fin, f.rsv, f.opcode, f.payload))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(seen),
            strip(expected),
            "{role:?}, {} bytes",
            text.len()
        );
    }
}

#[test]
fn server_sends_parts_as_the_joined_message() {
    parts_leave_as_the_joined_message(Role::Server, &Config::default());
}

#[test]
fn client_sends_parts_as_the_joined_message_masked() {
    parts_leave_as_the_joined_message(Role::Client, &Config::default());
}

/// R-FG-01: a message over the frame size is fragmented as `send` does.
#[test]
fn parts_over_the_frame_size_are_fragmented_as_send_does() {
    let config = Config {
        max_send_frame_size: Some(100),
        ..Config::default()
    };
    parts_leave_as_the_joined_message(Role::Server, &config);
    parts_leave_as_the_joined_message(Role::Client, &config);
}

#[test]
fn parts_after_our_close_are_refused() {
    let mut c = Connection::new(Role::Server, Config::default());
    c.close(sockeye_proto::CloseCode::NORMAL, "").unwrap();
    assert!(c.send_text_parts(&["4", "x"]).is_err());
}

/// One request read and one reply written, as a server does.
fn exchange(server: &mut Connection, request: &[u8]) {
    server.receive(request);
    match server.next_event() {
        Ok(Some(Event::Message(message))) => assert_eq!(message.payload().len(), 40),
        other => panic!("expected the request, got {other:?}"),
    }
    assert!(matches!(server.next_event(), Ok(None)));
    server
        .send_text_parts(&["4", "3[\"a reply of a few bytes\"]"])
        .unwrap();
    let out = server.output();
    let written = out.remaining();
    out.advance(written);
}

#[test]
fn a_steady_exchange_allocates_only_each_requests_buffer() {
    let role = Role::Server;
    let request = frame_to(role, op::TEXT, [b'x'; 40]);
    let mut server = Connection::new(role, Config::default());
    // The first exchange leaves this thread a spare write buffer.
    exchange(&mut server, &request);
    for _ in 0..10 {
        let ((), allocations) = allocations_during(|| exchange(&mut server, &request));
        assert_eq!(allocations, 1, "one buffer for the request, none to write");
    }
}

/// One request read in place and echoed, as a reactor does.
fn echo_in_place(server: &mut Connection, request: &[u8], read: &mut Vec<u8>) {
    read.clear();
    read.extend_from_slice(request);
    let mut input = server.receive_in_place(read);
    match input.next_event() {
        Ok(Some(EventRef::Message(message))) => {
            assert!(message.is_borrowed());
            input.connection().send_ref(message).unwrap();
        }
        other => panic!("expected the request, got {other:?}"),
    }
    assert!(matches!(input.next_event(), Ok(None)));
    drop(input);
    let out = server.output();
    let written = out.remaining();
    assert_eq!(written, 42);
    out.advance(written);
}

#[test]
fn a_steady_echo_read_in_place_allocates_nothing() {
    let role = Role::Server;
    let request = frame_to(role, op::TEXT, [b'x'; 40]);
    let mut server = Connection::new(role, Config::default());
    let mut read = Vec::with_capacity(request.len());
    // The first echo leaves this thread a spare write buffer.
    echo_in_place(&mut server, &request, &mut read);
    for _ in 0..10 {
        let ((), allocations) =
            allocations_during(|| echo_in_place(&mut server, &request, &mut read));
        assert_eq!(allocations, 0, "the request is read where it lies");
    }
}

/// A message sent by reference leaves as the same frames as `send` sends,
/// whatever its size, type, role and frame limit (R-FG-01).
#[test]
fn a_borrowed_message_leaves_as_send_sends_it() {
    let strip = |frames: Vec<support::SentFrame>| {
        frames
            .into_iter()
            .map(|f| (f.fin, f.rsv, f.opcode, f.payload))
            .collect::<Vec<_>>()
    };
    for role in [Role::Server, Role::Client] {
        for frames in [None, Some(100)] {
            let config = Config {
                max_send_frame_size: frames,
                ..Config::default()
            };
            for len in [0, 5, 1023, 1024, 70_000] {
                let text = text_of(len);
                for message in [Message::text(text.clone()), Message::binary(text.clone())] {
                    let mut owned = Connection::new(role, config.clone());
                    owned.send(message.clone()).unwrap();
                    let mut borrowed = Connection::new(role, config.clone());
                    borrowed.send_ref(MessageRef::from(&message)).unwrap();
                    let masked = role == Role::Client;
                    assert_eq!(
                        strip(parse_frames(&drain(&mut borrowed), masked)),
                        strip(parse_frames(&drain(&mut owned), masked)),
                        "{role:?}, {len} bytes, frames {frames:?}"
                    );
                }
            }
        }
    }
}
