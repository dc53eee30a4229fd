//! Round trips: any request, notification or response written by this
//! crate reads back as the same message; any text at all is read without
//! a panic.

use proptest::prelude::*;
use serde_json::value::{RawValue, to_raw_value};
use sockeye_rpc::{
    ErrorObject, Id, Incoming, Message, Notification, Parsed, Request, Response, parse,
};

fn id() -> impl Strategy<Value = Id> {
    prop_oneof![
        Just(Id::Null),
        any::<i64>().prop_map(|n| Id::Number(n.to_string())),
        any::<String>().prop_map(Id::String),
    ]
}

fn params() -> impl Strategy<Value = Option<Box<RawValue>>> {
    prop_oneof![
        Just(None),
        proptest::collection::vec(any::<i32>(), 0..5).prop_map(|v| Some(to_raw_value(&v).unwrap())),
        proptest::collection::btree_map(any::<String>(), any::<bool>(), 0..4)
            .prop_map(|m| Some(to_raw_value(&m).unwrap())),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (id(), any::<String>(), params())
            .prop_map(|(id, method, params)| Message::Request(Request { id, method, params })),
        (any::<String>(), params())
            .prop_map(|(method, params)| Message::Notification(Notification { method, params })),
        (id(), any::<i64>()).prop_map(|(id, n)| Message::Response(Response {
            id,
            outcome: Ok(to_raw_value(&n).unwrap()),
        })),
        (id(), any::<i64>(), any::<String>()).prop_map(|(id, code, text)| Message::Response(
            Response::error(id, ErrorObject::new(code, text))
        )),
    ]
}

proptest! {
    #[test]
    fn what_is_written_reads_back_the_same(message in message()) {
        let text = message.to_json();
        let Ok(Incoming::One(Parsed::Message(back))) = parse(&text) else {
            panic!("not read back: {text}");
        };
        prop_assert_eq!(back.to_json(), text);
    }

    #[test]
    fn any_text_is_read_without_a_panic(text in any::<String>()) {
        let _ = parse(&text);
    }

    #[test]
    fn any_json_value_is_read_without_a_panic(text in "[\\[\\]{}\",:0-9a-z ]{0,64}") {
        let _ = parse(&text);
    }
}
