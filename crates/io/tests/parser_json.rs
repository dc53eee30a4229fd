//! The default parser against exact wire strings: every example packet of the Socket.IO v5
//! protocol document ("Exchange protocol", "Packet encoding", "Sample session") and the
//! strings the official v5 test suite sends and expects, both ways.

use bytes::Bytes;
use rmpv::Value;
use sockeye_io::parser::json::{Decoder, encode};
use sockeye_io::parser::{Frame, Packet, PacketKind, ParseError};

fn s(text: &str) -> Value {
    Value::from(text)
}

fn map(entries: &[(&str, Value)]) -> Value {
    Value::Map(
        entries
            .iter()
            .map(|(k, v)| (Value::from(*k), v.clone()))
            .collect(),
    )
}

fn bin(bytes: &[u8]) -> Value {
    Value::Binary(bytes.to_vec())
}

fn with_id(mut packet: Packet, id: u64) -> Packet {
    packet.id = Some(id);
    packet
}

/// Decodes a text frame and its attachments with a fresh decoder.
fn decode(head: &str, attachments: &[&[u8]]) -> Packet {
    let mut decoder = Decoder::default();
    let mut out = decoder.text(head).unwrap();
    for (i, a) in attachments.iter().enumerate() {
        assert!(out.is_none(), "packet yielded before attachment {i}");
        out = decoder.binary(Bytes::copy_from_slice(a)).unwrap();
    }
    let packet = out.expect("packet complete after its attachments");
    assert_eq!(decoder.awaiting(), 0);
    packet
}

/// The packet encodes to exactly these frames, and the frames decode to the packet.
fn both_ways(packet: &Packet, head: &str, attachments: &[&[u8]]) {
    let encoded = encode(packet).unwrap();
    assert_eq!(
        encoded.head,
        Frame::Text(head.to_owned()),
        "encoding {packet:?}"
    );
    let expected: Vec<Bytes> = attachments
        .iter()
        .map(|a| Bytes::copy_from_slice(a))
        .collect();
    assert_eq!(encoded.attachments, expected);
    assert_eq!(&decode(head, attachments), packet, "decoding {head}");
}

const PH0: &str = r#"{"_placeholder":true,"num":0}"#;
const PH1: &str = r#"{"_placeholder":true,"num":1}"#;

/// Protocol document, "Packet encoding / Connection to a namespace".
#[test]
fn doc_connect_examples() {
    both_ways(&Packet::connect("/", None), "0", &[]);
    both_ways(
        &Packet::connect_sid("/admin", "oSO0OpakMV_3jnilAAAA"),
        r#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#,
        &[],
    );
    both_ways(
        &Packet::connect_error("/", "Not authorized", None),
        r#"4{"message":"Not authorized"}"#,
        &[],
    );
    // "Exchange protocol": a CONNECT with an additional payload.
    both_ways(
        &Packet::connect("/admin", Some(map(&[("token", s("123"))]))),
        r#"0/admin,{"token":"123"}"#,
        &[],
    );
}

/// Protocol document, "Packet encoding / Sending and receiving data".
#[test]
fn doc_event_examples() {
    both_ways(&Packet::event("/", "foo", vec![]), r#"2["foo"]"#, &[]);
    both_ways(
        &Packet::event("/admin", "bar", vec![]),
        r#"2/admin,["bar"]"#,
        &[],
    );
    both_ways(
        &Packet::event("/", "baz", vec![bin(&[1, 2, 3, 4])]),
        &format!(r#"51-["baz",{PH0}]"#),
        &[&[1, 2, 3, 4]],
    );
    both_ways(
        &Packet::event("/admin", "baz", vec![bin(&[1, 2]), bin(&[3, 4])]),
        &format!(r#"52-/admin,["baz",{PH0},{PH1}]"#),
        &[&[1, 2], &[3, 4]],
    );
}

/// Protocol document, "Packet encoding / Acknowledgement" and the "Exchange protocol"
/// acknowledgement examples.
#[test]
fn doc_ack_examples() {
    both_ways(
        &with_id(Packet::event("/", "foo", vec![]), 12),
        r#"212["foo"]"#,
        &[],
    );
    both_ways(&Packet::ack("/", 12, vec![]), "312[]", &[]);
    both_ways(
        &with_id(Packet::event("/admin", "foo", vec![]), 13),
        r#"2/admin,13["foo"]"#,
        &[],
    );
    both_ways(
        &Packet::ack("/admin", 13, vec![s("bar")]),
        r#"3/admin,13["bar"]"#,
        &[],
    );
    both_ways(
        &with_id(Packet::event("/", "foo", vec![bin(&[1, 2, 3, 4])]), 14),
        &format!(r#"51-14["foo",{PH0}]"#),
        &[&[1, 2, 3, 4]],
    );
    both_ways(&Packet::ack("/", 14, vec![s("bar")]), r#"314["bar"]"#, &[]);
    both_ways(
        &with_id(Packet::event("/", "foo", vec![]), 15),
        r#"215["foo"]"#,
        &[],
    );
    both_ways(
        &Packet::ack("/", 15, vec![s("bar"), bin(&[1, 2, 3, 4])]),
        &format!(r#"61-15["bar",{PH0}]"#),
        &[&[1, 2, 3, 4]],
    );
}

/// Protocol document, "Packet encoding / Disconnection from a namespace".
#[test]
fn doc_disconnect_examples() {
    both_ways(&Packet::disconnect("/"), "1", &[]);
    both_ways(&Packet::disconnect("/admin"), "1/admin,", &[]);
}

/// Protocol document, "Sample session" (the Socket.IO part of each Eng.IO message).
#[test]
fn doc_sample_session() {
    both_ways(&Packet::connect("/", None), "0", &[]);
    both_ways(
        &Packet::connect_sid("/", "wZX3oN0bSVIhsaknAAAI"),
        r#"0{"sid":"wZX3oN0bSVIhsaknAAAI"}"#,
        &[],
    );
    both_ways(
        &Packet::event("/", "hey", vec![s("Jude")]),
        r#"2["hey","Jude"]"#,
        &[],
    );
    both_ways(&Packet::event("/", "hello", vec![]), r#"2["hello"]"#, &[]);
    both_ways(&Packet::event("/", "world", vec![]), r#"2["world"]"#, &[]);
    both_ways(&Packet::connect("/admin", None), "0/admin,", &[]);
    both_ways(
        &Packet::connect_sid("/admin", "-G5j-67EZFp-q59rADQM"),
        r#"0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}"#,
        &[],
    );
    both_ways(
        &with_id(Packet::event("/admin", "tellme", vec![]), 1),
        r#"2/admin,1["tellme"]"#,
        &[],
    );
    both_ways(
        &Packet::ack("/admin", 1, vec![bin(b"<binary>")]),
        &format!("61-/admin,1[{PH0}]"),
        &[b"<binary>"],
    );
}

/// Official v5 test suite, "connect": what the client sends and the server answers.
#[test]
fn suite_connect_strings() {
    assert_eq!(decode("0", &[]), Packet::connect("/", None));
    assert_eq!(
        decode(r#"0{"token":"123"}"#, &[]),
        Packet::connect("/", Some(map(&[("token", s("123"))])))
    );
    assert_eq!(decode("0/custom,", &[]), Packet::connect("/custom", None));
    assert_eq!(
        decode(r#"0/custom,{"token":"abc"}"#, &[]),
        Packet::connect("/custom", Some(map(&[("token", s("abc"))])))
    );
    // The namespace runs to the end of the frame when no comma follows.
    assert_eq!(decode("0/random", &[]), Packet::connect("/random", None));
    assert_eq!(decode("0/custom", &[]), Packet::connect("/custom", None));
    both_ways(
        &Packet::event("/", "auth", vec![map(&[])]),
        r#"2["auth",{}]"#,
        &[],
    );
    both_ways(
        &Packet::event("/", "auth", vec![map(&[("token", s("123"))])]),
        r#"2["auth",{"token":"123"}]"#,
        &[],
    );
    both_ways(
        &Packet::event("/custom", "auth", vec![map(&[("token", s("abc"))])]),
        r#"2/custom,["auth",{"token":"abc"}]"#,
        &[],
    );
    both_ways(
        &Packet::connect_error("/random", "Invalid namespace", None),
        r#"4/random,{"message":"Invalid namespace"}"#,
        &[],
    );
}

/// Official v5 test suite, "disconnect".
#[test]
fn suite_disconnect_strings() {
    assert_eq!(decode("1", &[]), Packet::disconnect("/"));
    assert_eq!(decode("1/custom", &[]), Packet::disconnect("/custom"));
    both_ways(
        &Packet::event("/", "message", vec![s("message to main namespace")]),
        r#"2["message","message to main namespace"]"#,
        &[],
    );
}

/// Official v5 test suite, "message": plain, binary, ack and binary ack, both directions.
#[test]
fn suite_message_strings() {
    let args = vec![
        Value::from(1),
        s("2"),
        map(&[("3", Value::Array(vec![Value::Boolean(true)]))]),
    ];
    both_ways(
        &Packet::event("/", "message", args.clone()),
        r#"2["message",1,"2",{"3":[true]}]"#,
        &[],
    );
    both_ways(
        &Packet::event("/", "message-back", args),
        r#"2["message-back",1,"2",{"3":[true]}]"#,
        &[],
    );
    let files = vec![bin(&[1, 2, 3]), bin(&[4, 5, 6])];
    both_ways(
        &Packet::event("/", "message", files.clone()),
        &format!(r#"52-["message",{PH0},{PH1}]"#),
        &[&[1, 2, 3], &[4, 5, 6]],
    );
    both_ways(
        &Packet::event("/", "message-back", files.clone()),
        &format!(r#"52-["message-back",{PH0},{PH1}]"#),
        &[&[1, 2, 3], &[4, 5, 6]],
    );
    let args = vec![
        Value::from(1),
        s("2"),
        map(&[("3", Value::Array(vec![Value::Boolean(false)]))]),
    ];
    both_ways(
        &with_id(Packet::event("/", "message-with-ack", args.clone()), 456),
        r#"2456["message-with-ack",1,"2",{"3":[false]}]"#,
        &[],
    );
    both_ways(
        &Packet::ack("/", 456, args),
        r#"3456[1,"2",{"3":[false]}]"#,
        &[],
    );
    both_ways(
        &with_id(Packet::event("/", "message-with-ack", files.clone()), 789),
        &format!(r#"52-789["message-with-ack",{PH0},{PH1}]"#),
        &[&[1, 2, 3], &[4, 5, 6]],
    );
    both_ways(
        &Packet::ack("/", 789, files),
        &format!("62-789[{PH0},{PH1}]"),
        &[&[1, 2, 3], &[4, 5, 6]],
    );
}

/// Official v5 test suite: every "invalid format" frame is an error (the server closes).
#[test]
fn suite_invalid_frames_are_errors() {
    let mut decoder = Decoder::default();
    assert!(matches!(
        decoder.text("abc"),
        Err(ParseError::UnknownPacketType)
    ));
    assert!(matches!(
        decoder.text("2{}"),
        Err(ParseError::InvalidPayload {
            kind: PacketKind::Event
        })
    ));
    assert!(matches!(
        decoder.text(r#"2abc["message-with-ack",1,"2",{"3":[false]}]"#),
        Err(ParseError::InvalidJson(_))
    ));
}

/// Both event-name forms the reference accepts: a string or a number; reserved names fail.
#[test]
fn event_names() {
    let p = decode("2[1,2]", &[]);
    assert_eq!(p.kind, PacketKind::Event);
    assert_eq!(p.event_name(), None);
    let mut decoder = Decoder::default();
    assert!(matches!(
        decoder.text(r#"2["connect"]"#),
        Err(ParseError::ReservedEventName)
    ));
}

/// Errors name what went wrong without quoting the peer's bytes.
#[test]
fn error_messages_are_plain() {
    let mut decoder = Decoder::default();
    let err = decoder.text("9secret").unwrap_err();
    assert_eq!(err.to_string(), "unknown packet type");
    let err = decoder.text("511-[]").unwrap_err();
    assert_eq!(err.to_string(), "too many attachments: 11 (limit 10)");
}
