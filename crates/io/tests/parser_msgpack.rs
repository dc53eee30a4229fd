//! The msgpack parser (`socket.io-msgpack-parser`) against exact bytes: the protocol
//! document's example packets as the maps `notepack.io` writes, and packets laid out the way
//! the JavaScript client emits them (keys `type`, `data`, `options`, `id`, `nsp`).

use bytes::Bytes;
use rmpv::Value;
use sockeye_io::parser::msgpack::{Decoder, decode, encode};
use sockeye_io::parser::{Frame, Packet, PacketKind, ParseError};

/// A msgpack fixstr (strings under 32 bytes).
fn fixstr(s: &str) -> Vec<u8> {
    let mut out = vec![0xa0 | u8::try_from(s.len()).unwrap()];
    out.extend_from_slice(s.as_bytes());
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn with_id(mut packet: Packet, id: u64) -> Packet {
    packet.id = Some(id);
    packet
}

/// The packet encodes to exactly these bytes, and they decode to the packet.
fn both_ways(packet: &Packet, bytes: &[u8]) {
    let encoded = encode(packet).unwrap();
    assert_eq!(encoded.head, Frame::Binary(Bytes::copy_from_slice(bytes)));
    assert!(encoded.attachments.is_empty());
    assert_eq!(&decode(bytes).unwrap(), packet);
    let mut decoder = Decoder::new();
    assert_eq!(
        decoder
            .binary(Bytes::copy_from_slice(bytes))
            .unwrap()
            .as_ref(),
        Some(packet)
    );
}

fn head(fields: u8, ty: u8, nsp: &str) -> Vec<u8> {
    cat(&[
        &[0x80 | fields],
        &fixstr("type"),
        &[ty],
        &fixstr("nsp"),
        &fixstr(nsp),
    ])
}

/// Protocol document: CONNECT, CONNECT with a sid, `CONNECT_ERROR`.
#[test]
fn doc_connect_examples() {
    both_ways(&Packet::connect("/", None), &head(2, 0, "/"));
    both_ways(
        &Packet::connect_sid("/admin", "oSO0OpakMV_3jnilAAAA"),
        &cat(&[
            &head(3, 0, "/admin"),
            &fixstr("data"),
            &[0x81],
            &fixstr("sid"),
            &fixstr("oSO0OpakMV_3jnilAAAA"),
        ]),
    );
    both_ways(
        &Packet::connect_error("/", "Not authorized", None),
        &cat(&[
            &head(3, 4, "/"),
            &fixstr("data"),
            &[0x81],
            &fixstr("message"),
            &fixstr("Not authorized"),
        ]),
    );
}

/// Protocol document: EVENT on `/` and `/admin`, with binary data carried natively.
#[test]
fn doc_event_examples() {
    both_ways(
        &Packet::event("/", "foo", vec![]),
        &cat(&[&head(3, 2, "/"), &fixstr("data"), &[0x91], &fixstr("foo")]),
    );
    both_ways(
        &Packet::event("/admin", "bar", vec![]),
        &cat(&[
            &head(3, 2, "/admin"),
            &fixstr("data"),
            &[0x91],
            &fixstr("bar"),
        ]),
    );
    both_ways(
        &Packet::event("/", "baz", vec![Value::Binary(vec![1, 2, 3, 4])]),
        &cat(&[
            &head(3, 2, "/"),
            &fixstr("data"),
            &[0x92],
            &fixstr("baz"),
            &[0xc4, 4, 1, 2, 3, 4],
        ]),
    );
}

/// Protocol document: EVENT with an id and its ACK, `BINARY_ACK` as an ACK holding binary.
#[test]
fn doc_ack_examples() {
    both_ways(
        &with_id(Packet::event("/", "foo", vec![]), 12),
        &cat(&[
            &head(4, 2, "/"),
            &fixstr("data"),
            &[0x91],
            &fixstr("foo"),
            &fixstr("id"),
            &[12],
        ]),
    );
    both_ways(
        &Packet::ack("/admin", 13, vec![Value::from("bar")]),
        &cat(&[
            &head(4, 3, "/admin"),
            &fixstr("data"),
            &[0x91],
            &fixstr("bar"),
            &fixstr("id"),
            &[13],
        ]),
    );
    both_ways(
        &Packet::ack(
            "/",
            15,
            vec![Value::from("bar"), Value::Binary(vec![1, 2, 3, 4])],
        ),
        &cat(&[
            &head(4, 3, "/"),
            &fixstr("data"),
            &[0x92],
            &fixstr("bar"),
            &[0xc4, 4, 1, 2, 3, 4],
            &fixstr("id"),
            &[15],
        ]),
    );
}

/// Protocol document: DISCONNECT.
#[test]
fn doc_disconnect_examples() {
    both_ways(&Packet::disconnect("/"), &head(2, 1, "/"));
    both_ways(&Packet::disconnect("/admin"), &head(2, 1, "/admin"));
}

/// A packet as the JavaScript client emits it: its own key order, an `options` key, an id
/// over 255 (uint16) and a float written as float64, as notepack.io writes numbers.
#[test]
fn javascript_client_layout_decodes() {
    let bytes = cat(&[
        &[0x85],
        &fixstr("type"),
        &[2],
        &fixstr("data"),
        &[0x95],
        &fixstr("message"),
        &[1],
        &fixstr("2"),
        &[0x81],
        &fixstr("3"),
        &[0x91, 0xc3],
        &[0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
        &fixstr("options"),
        &[0x81],
        &fixstr("compress"),
        &[0xc3],
        &fixstr("id"),
        &[0xcd, 0x01, 0xc8],
        &fixstr("nsp"),
        &fixstr("/"),
    ]);
    let packet = decode(&bytes).unwrap();
    let expected = with_id(
        Packet::event(
            "/",
            "message",
            vec![
                Value::from(1),
                Value::from("2"),
                Value::Map(vec![(
                    Value::from("3"),
                    Value::Array(vec![Value::Boolean(true)]),
                )]),
                Value::F64(1.5),
            ],
        ),
        456,
    );
    assert_eq!(packet, expected);
}

/// The checks of socket.io-msgpack-parser (`checkPacket`), plus the protocol's EVENT rule.
#[test]
fn invalid_packets_are_errors() {
    // DISCONNECT with data.
    let bytes = cat(&[&head(3, 1, "/"), &fixstr("data"), &[0x90]]);
    assert!(matches!(
        decode(&bytes),
        Err(ParseError::InvalidPayload {
            kind: PacketKind::Disconnect
        })
    ));
    // EVENT whose data is not an array.
    let bytes = cat(&[&head(3, 2, "/"), &fixstr("data"), &[0x80]]);
    assert!(matches!(
        decode(&bytes),
        Err(ParseError::InvalidPayload { .. })
    ));
    // CONNECT whose data is null.
    let bytes = cat(&[&head(3, 0, "/"), &fixstr("data"), &[0xc0]]);
    assert!(matches!(
        decode(&bytes),
        Err(ParseError::InvalidPayload { .. })
    ));
    // A text frame.
    assert!(matches!(
        Decoder::new().text("0"),
        Err(ParseError::UnexpectedText)
    ));
}
