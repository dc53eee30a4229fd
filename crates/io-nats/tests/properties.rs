//! Round trips of the wire format: any namespace survives its subject
//! token, and any message its msgpack encoding; no input makes a decoder
//! panic.

use proptest::prelude::*;
use rmpv::Value;
use sockeye_io_nats::{Envelope, Kind, decode_token, encode_token};

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        ".*".prop_map(Value::from),
        proptest::collection::vec(any::<u8>(), 0..16).prop_map(Value::Binary),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((".*".prop_map(Value::from), inner), 0..4)
                .prop_map(Value::Map),
        ]
    })
}

proptest! {
    #[test]
    fn a_namespace_survives_its_token(nsp in ".*") {
        let token = encode_token(&nsp);
        prop_assert!(!token.is_empty());
        prop_assert!(!token.contains(['.', '*', '>']));
        prop_assert!(!token.chars().any(char::is_whitespace));
        prop_assert_eq!(decode_token(&token), Some(nsp));
    }

    #[test]
    fn decoding_any_token_never_panics(token in ".*") {
        if let Some(nsp) = decode_token(&token) {
            prop_assert_eq!(encode_token(&nsp), token);
        }
    }

    #[test]
    fn a_message_survives_msgpack(code in 1u64..=13, data in value(), uid in "[a-zA-Z0-9_-]{1,12}", nsp in "/.*") {
        let envelope = Envelope { kind: Kind::from_code(code).unwrap(), data, uid, nsp };
        prop_assert_eq!(Envelope::decode(&envelope.encode()).unwrap(), envelope);
    }

    #[test]
    fn decoding_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Envelope::decode(&bytes);
    }
}
