//! Both parsers against the reference implementations' own output: the frames
//! `socket.io-parser` 4.x and `socket.io-msgpack-parser` 3.x (`notepack.io`) produce for the
//! same packets (JavaScript object keys in the order `type`, `nsp`, `data`, `id`), compared
//! byte for byte both ways. Numbers cover every msgpack integer width; strings cover the
//! characters `JSON.stringify` escapes and those it leaves alone.

use bytes::Bytes;
use rmpv::Value;
use sockeye_io::parser::{Encoded, Frame, Packet, Parser, json, msgpack};

/// A frame as the reference encoders wrote it: text, or binary as hex.
enum Wire {
    T(&'static str),
    B(&'static str),
}
use Wire::{B, T};

/// (name, JSON parser frames, msgpack parser frame as hex).
const VECTORS: &[(&str, &[Wire], &str)] = &[
    ("connect", &[T("0")], "82a47479706500a36e7370a12f"),
    (
        "connect_sid",
        &[T("0/admin,{\"sid\":\"oSO0OpakMV_3jnilAAAA\"}")],
        "83a47479706500a36e7370a62f61646d696ea46461746181a3736964b46f534f304f70616b4d565f336a6e696c41414141",
    ),
    (
        "connect_error",
        &[T("4{\"message\":\"Not authorized\"}")],
        "83a47479706504a36e7370a12fa46461746181a76d657373616765ae4e6f7420617574686f72697a6564",
    ),
    (
        "event",
        &[T("2[\"foo\"]")],
        "83a47479706502a36e7370a12fa46461746191a3666f6f",
    ),
    (
        "event_admin",
        &[T("2/admin,[\"bar\"]")],
        "83a47479706502a36e7370a62f61646d696ea46461746191a3626172",
    ),
    (
        "event_binary",
        &[
            T("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]"),
            B("01020304"),
        ],
        "83a47479706502a36e7370a12fa46461746192a362617ac40401020304",
    ),
    (
        "event_binary_two",
        &[
            T(
                "52-/admin,[\"baz\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]",
            ),
            B("0102"),
            B("0304"),
        ],
        "83a47479706502a36e7370a62f61646d696ea46461746193a362617ac4020102c4020304",
    ),
    (
        "event_id",
        &[T("212[\"foo\"]")],
        "84a47479706502a36e7370a12fa46461746191a3666f6fa269640c",
    ),
    (
        "ack_admin",
        &[T("3/admin,13[\"bar\"]")],
        "84a47479706503a36e7370a62f61646d696ea46461746191a3626172a269640d",
    ),
    (
        "ack_binary",
        &[
            T("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]"),
            B("01020304"),
        ],
        "84a47479706503a36e7370a12fa46461746192a3626172c40401020304a269640f",
    ),
    (
        "disconnect_admin",
        &[T("1/admin,")],
        "82a47479706501a36e7370a62f61646d696e",
    ),
    (
        "numbers",
        &[T(
            "2[\"n\",0,-1,-33,127,128,255,256,65535,65536,4294967295,4294967296,-2147483649,1.5,-0.25,9007199254740991]",
        )],
        "83a47479706502a36e7370a12fa464617461dc0010a16e00ffd0df7fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000d3ffffffff7fffffffcb3ff8000000000000cbbfd0000000000000cf001fffffffffffff",
    ),
    (
        "strings",
        &[T(
            "2[\"s\",\"\",\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\u{7f}/é😀\u{2028}\",\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\"]",
        )],
        "83a47479706502a36e7370a12fa46461746195a173a0b76122625c630a0d09080c011f7f2fc3a9f09f9880e280a8d92878787878787878787878787878787878787878787878787878787878787878787878787878787878da012c797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979797979",
    ),
    (
        "nested",
        &[
            T(
                "62-/n,0[{\"a\":[null,true,false,{\"b\":{\"_placeholder\":true,\"num\":0}}],\"c\":{}},[{\"_placeholder\":true,\"num\":1}]]",
            ),
            B(""),
            B("09"),
        ],
        "84a47479706503a36e7370a22f6ea4646174619282a16194c0c3c281a162c400a1638091c40109a2696400",
    ),
];

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

fn s(text: &str) -> Value {
    Value::from(text)
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (s(k), v)).collect())
}

fn bin(bytes: &[u8]) -> Value {
    Value::Binary(bytes.to_vec())
}

fn with_id(mut packet: Packet, id: u64) -> Packet {
    packet.id = Some(id);
    packet
}

/// The packet each vector encodes, built on our side.
fn packet(name: &str) -> Packet {
    match name {
        "connect" => Packet::connect("/", None),
        "connect_sid" => Packet::connect_sid("/admin", "oSO0OpakMV_3jnilAAAA"),
        "connect_error" => Packet::connect_error("/", "Not authorized", None),
        "event" => Packet::event("/", "foo", vec![]),
        "event_admin" => Packet::event("/admin", "bar", vec![]),
        "event_binary" => Packet::event("/", "baz", vec![bin(&[1, 2, 3, 4])]),
        "event_binary_two" => Packet::event("/admin", "baz", vec![bin(&[1, 2]), bin(&[3, 4])]),
        "event_id" => with_id(Packet::event("/", "foo", vec![]), 12),
        "ack_admin" => Packet::ack("/admin", 13, vec![s("bar")]),
        "ack_binary" => Packet::ack("/", 15, vec![s("bar"), bin(&[1, 2, 3, 4])]),
        "disconnect_admin" => Packet::disconnect("/admin"),
        "numbers" => Packet::event(
            "/",
            "n",
            vec![
                Value::from(0),
                Value::from(-1),
                Value::from(-33),
                Value::from(127),
                Value::from(128),
                Value::from(255),
                Value::from(256),
                Value::from(65535),
                Value::from(65536),
                Value::from(4_294_967_295_u64),
                Value::from(4_294_967_296_u64),
                Value::from(-2_147_483_649_i64),
                Value::F64(1.5),
                Value::F64(-0.25),
                Value::from(9_007_199_254_740_991_u64),
            ],
        ),
        "strings" => Packet::event(
            "/",
            "s",
            vec![
                s(""),
                s("a\"b\\c\n\r\t\u{8}\u{c}\u{1}\u{1f}\u{7f}/é😀\u{2028}"),
                s(&"x".repeat(40)),
                s(&"y".repeat(300)),
            ],
        ),
        "nested" => Packet::ack(
            "/n",
            0,
            vec![
                map(vec![
                    (
                        "a",
                        Value::Array(vec![
                            Value::Nil,
                            Value::Boolean(true),
                            Value::Boolean(false),
                            map(vec![("b", bin(&[]))]),
                        ]),
                    ),
                    ("c", map(vec![])),
                ]),
                Value::Array(vec![bin(&[9])]),
            ],
        ),
        other => unreachable!("no packet for vector {other}"),
    }
}

fn reference_frames(wire: &[Wire]) -> Encoded {
    let mut frames = wire.iter().map(|w| match w {
        T(text) => Frame::Text((*text).to_owned()),
        B(hex) => Frame::Binary(Bytes::from(unhex(hex))),
    });
    let head = frames.next().expect("a head frame");
    let attachments = frames
        .map(|f| match f {
            Frame::Binary(b) => b,
            Frame::Text(_) => unreachable!("attachments are binary"),
        })
        .collect();
    Encoded { head, attachments }
}

fn decode(parser: Parser, encoded: Encoded) -> Packet {
    let mut decoder = parser.decoder();
    let mut out = None;
    for frame in encoded.into_frames() {
        out = match frame {
            Frame::Text(t) => decoder.text(&t),
            Frame::Binary(b) => decoder.binary(b),
        }
        .unwrap();
    }
    out.unwrap()
}

/// JSON parser: our encoding is `socket.io-parser`'s, and we decode its frames to the packet.
#[test]
fn json_matches_socket_io_parser() {
    for (name, wire, _) in VECTORS {
        let expected = packet(name);
        let reference = reference_frames(wire);
        assert_eq!(json::encode(&expected).unwrap(), reference, "{name}");
        assert_eq!(decode(Parser::Json, reference), expected, "{name}");
    }
}

/// msgpack parser: our encoding is `socket.io-msgpack-parser`'s, and we decode its bytes.
#[test]
fn msgpack_matches_socket_io_msgpack_parser() {
    for (name, _, hex) in VECTORS {
        let expected = packet(name);
        let reference = unhex(hex);
        let ours = msgpack::encode(&expected).unwrap();
        assert_eq!(
            ours.head,
            Frame::Binary(Bytes::from(reference.clone())),
            "{name}"
        );
        assert_eq!(msgpack::decode(&reference).unwrap(), expected, "{name}");
    }
}
