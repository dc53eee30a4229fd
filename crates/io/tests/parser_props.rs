//! Properties of both parsers: any packet survives encode → decode unchanged (value trees
//! with binary anywhere, any namespace, any ack id), and no input makes a decoder panic.

use bytes::Bytes;
use proptest::prelude::*;
use rmpv::Value;
use sockeye_io::parser::{
    DecoderLimits, Encoded, Frame, MAX_DEPTH, Packet, PacketKind, Parser, RESERVED_EVENTS, json,
    msgpack,
};

/// Which values a parser carries unchanged: JSON has one number type (an `F32` comes back
/// as an `F64`), string keys only and no extension values; msgpack carries them all.
#[derive(Clone, Copy, Debug)]
enum Wire {
    Json,
    Msgpack,
}

fn leaf(wire: Wire) -> BoxedStrategy<Value> {
    let common = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::F64),
        any::<String>().prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..24).prop_map(Value::Binary),
    ];
    match wire {
        Wire::Json => common.boxed(),
        Wire::Msgpack => prop_oneof![
            common,
            any::<f32>().prop_map(Value::F32),
            (any::<i8>(), proptest::collection::vec(any::<u8>(), 0..8))
                .prop_map(|(t, d)| Value::Ext(t, d)),
        ]
        .boxed(),
    }
}

/// Map keys: any string but `_placeholder`, which the JSON parser reads as an attachment
/// placeholder when it holds `true` (the reference parser does the same).
fn key(wire: Wire) -> BoxedStrategy<Value> {
    let string = any::<String>()
        .prop_map(|k| if k == "_placeholder" { "x".into() } else { k })
        .prop_map(Value::from);
    match wire {
        Wire::Json => string.boxed(),
        Wire::Msgpack => prop_oneof![string, any::<i64>().prop_map(Value::from)].boxed(),
    }
}

fn value(wire: Wire) -> BoxedStrategy<Value> {
    leaf(wire)
        .prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((key(wire), inner), 0..6).prop_map(Value::Map),
            ]
        })
        .boxed()
}

fn without_binary(wire: Wire) -> BoxedStrategy<Value> {
    value(wire).prop_map(strip_binary).boxed()
}

fn strip_binary(v: Value) -> Value {
    match v {
        Value::Binary(b) => Value::from(b.len()),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_binary).collect()),
        Value::Map(entries) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, strip_binary(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Namespaces the JSON form can delimit: `/` then anything without a comma.
fn namespace() -> impl Strategy<Value = String> {
    prop_oneof![Just("/".to_owned()), "[^,]*".prop_map(|s| format!("/{s}")),]
}

fn event_name() -> impl Strategy<Value = String> {
    any::<String>().prop_filter("not reserved", |n| !RESERVED_EVENTS.contains(&n.as_str()))
}

fn packet(wire: Wire) -> impl Strategy<Value = Packet> {
    let args = proptest::collection::vec(value(wire), 0..5);
    let object =
        proptest::collection::vec((key(wire), without_binary(wire)), 0..4).prop_map(Value::Map);
    prop_oneof![
        (namespace(), proptest::option::of(object.clone()))
            .prop_map(|(nsp, data)| Packet::connect(nsp, data)),
        namespace().prop_map(Packet::disconnect),
        (
            namespace(),
            event_name(),
            args.clone(),
            any::<Option<u64>>()
        )
            .prop_map(|(nsp, name, args, id)| {
                let mut p = Packet::event(nsp, &name, args);
                p.id = id;
                p
            }),
        (namespace(), any::<u64>(), args).prop_map(|(nsp, id, args)| Packet::ack(nsp, id, args)),
        (
            namespace(),
            any::<String>(),
            proptest::option::of(without_binary(wire))
        )
            .prop_map(|(nsp, msg, data)| Packet::connect_error(nsp, &msg, data)),
    ]
}

/// Feeds an encoded packet's frames to a fresh decoder; the last frame yields the packet.
fn decode_all(parser: Parser, encoded: Encoded) -> Packet {
    let mut decoder = parser.decoder_with(DecoderLimits {
        max_attachments: usize::MAX,
        max_attachment_bytes: usize::MAX,
    });
    let mut last = None;
    for frame in encoded.into_frames() {
        assert!(last.is_none(), "packet yielded before its last frame");
        last = match frame {
            Frame::Text(t) => decoder.text(&t),
            Frame::Binary(b) => decoder.binary(b),
        }
        .unwrap();
    }
    last.expect("packet complete after its frames")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// JSON parser: encode → decode gives the packet back, binary anywhere in its data.
    #[test]
    fn json_round_trip(p in packet(Wire::Json)) {
        let encoded = json::encode(&p).unwrap();
        if let Frame::Text(head) = &encoded.head {
            let binary = matches!(head.as_bytes()[0], b'5' | b'6');
            prop_assert_eq!(binary, !encoded.attachments.is_empty());
        }
        let back = decode_all(Parser::Json, encoded);
        prop_assert_eq!(back, p);
    }

    /// The owned encodings equal the borrowed ones, for both parsers.
    #[test]
    fn owned_encoding_matches_borrowed(p in packet(Wire::Json)) {
        for parser in [Parser::Json, Parser::Msgpack] {
            prop_assert_eq!(parser.encode_owned(p.clone()), parser.encode(&p));
        }
    }

    /// msgpack parser: encode → decode gives the packet back, any namespace string included.
    #[test]
    fn msgpack_round_trip(mut p in packet(Wire::Msgpack), nsp in any::<String>()) {
        p.nsp = nsp;
        let back = decode_all(Parser::Msgpack, msgpack::encode(&p).unwrap());
        prop_assert_eq!(back, p);
    }

    /// Both parsers agree: a packet decoded from JSON re-encodes to the same msgpack packet.
    #[test]
    fn parsers_agree(p in packet(Wire::Json)) {
        let via_json = decode_all(Parser::Json, json::encode(&p).unwrap());
        let via_msgpack = decode_all(Parser::Msgpack, msgpack::encode(&via_json).unwrap());
        prop_assert_eq!(via_json, via_msgpack);
    }

    /// The JSON decoder never panics on any sequence of text and binary frames.
    #[test]
    fn json_decoder_never_panics(
        frames in proptest::collection::vec(
            prop_oneof![
                any::<String>().prop_map(Frame::Text),
                "[0-6][0-9]{0,2}-?(/[a-z]{0,3},)?[0-9]{0,3}(\\[.{0,20}\\])?".prop_map(Frame::Text),
                proptest::collection::vec(any::<u8>(), 0..16)
                    .prop_map(|b| Frame::Binary(Bytes::from(b))),
            ],
            0..8,
        )
    ) {
        let mut decoder = Parser::Json.decoder();
        for frame in frames {
            let _ = match frame {
                Frame::Text(t) => decoder.text(&t),
                Frame::Binary(b) => decoder.binary(b),
            };
        }
    }

    /// The msgpack decoder never panics on arbitrary bytes.
    #[test]
    fn msgpack_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = msgpack::decode(&bytes);
    }

    /// Corrupting one byte of a valid encoding gives an error or some packet, never a panic.
    #[test]
    fn corrupted_encodings_never_panic(p in packet(Wire::Json), at in any::<usize>(), byte in any::<u8>()) {
        let Frame::Binary(bytes) = msgpack::encode(&p).unwrap().head else {
            unreachable!("msgpack heads are binary")
        };
        let mut bytes = bytes.to_vec();
        let i = at % bytes.len();
        bytes[i] = byte;
        let _ = msgpack::decode(&bytes);
        let _ = msgpack::decode(&bytes[..i]);
        let Frame::Text(text) = json::encode(&p).unwrap().head else {
            unreachable!("JSON heads are text")
        };
        let cut = (0..=at % (text.len() + 1)).rev().find(|&c| text.is_char_boundary(c)).unwrap_or(0);
        let _ = Parser::Json.decoder().text(&text[..cut]);
    }
}

/// Nesting: both parsers accept a payload nested just under [`MAX_DEPTH`] and refuse a
/// deeper one with an error.
#[test]
fn nesting_limit_is_enforced_by_both_parsers() {
    fn nested(depth: usize) -> Value {
        let mut v = Value::Array(vec![]);
        for _ in 0..depth {
            v = Value::Array(vec![v]);
        }
        v
    }
    let ok = Packet::ack("/", 1, vec![nested(MAX_DEPTH - 10)]);
    for parser in [Parser::Json, Parser::Msgpack] {
        assert_eq!(decode_all(parser, parser.encode(&ok).unwrap()), ok);
    }
    let deep = Packet::ack("/", 1, vec![nested(1_000)]);
    let Frame::Text(text) = json::encode(&deep).unwrap().head else {
        unreachable!("JSON heads are text")
    };
    assert!(Parser::Json.decoder().text(&text).is_err());
    let Frame::Binary(bytes) = msgpack::encode(&deep).unwrap().head else {
        unreachable!("msgpack heads are binary")
    };
    assert!(msgpack::decode(&bytes).is_err());
}

/// A `BINARY_EVENT` with an attachment referenced by no placeholder still needs the frame,
/// and the kind stays EVENT.
#[test]
fn unreferenced_attachment_is_still_awaited() {
    let mut decoder = json::Decoder::default();
    assert!(decoder.text(r#"51-["a"]"#).unwrap().is_none());
    let p = decoder.binary(Bytes::from_static(b"x")).unwrap().unwrap();
    assert_eq!(p.kind, PacketKind::Event);
}
