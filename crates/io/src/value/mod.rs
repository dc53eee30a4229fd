//! Event arguments as dynamic values, and the conversions to and from the caller's types.
//!
//! Socket.IO event arguments are whatever JavaScript sends: numbers, strings, nulls, arrays,
//! objects, and binary data anywhere among them. They are held as [`Value`]
//! (`rmpv::Value`), which both parsers produce and consume; [`to_value`] and [`from_value`]
//! convert with serde, shaping values the way `serde_json` does so that JavaScript sees the
//! objects it expects:
//!
//! | Rust | [`Value`] | JSON |
//! |---|---|---|
//! | struct, map | `Map` with string keys | object |
//! | `Vec`, tuple, slice | `Array` | array |
//! | `bytes::Bytes`, `serde_bytes` | `Binary` | attachment (placeholder) |
//! | unit variant | `String` (its name) | `"Name"` |
//! | other variants | `Map` of one entry, the name → content | `{"Name": ...}` |
//! | `None`, `()` | `Nil` | `null` |
//! | integers | `Integer` | integer |
//! | `f32`, `f64` | `F32`, `F64` | number with a fraction |
//!
//! Decoding JSON from a peer (the JSON parser does it), numbers map as follows: an integer
//! that fits `i64` or `u64` stays an `Integer`; a number with a fraction or an exponent
//! (`1.5`, `1e3`) is an `F64`, rounded correctly as `JSON.parse` does; `-0` is `F64(-0.0)`
//! (JavaScript never sends it: `JSON.stringify(-0)` is `"0"`); an integer between 2^53 and
//! `u64::MAX` stays exact, where JavaScript would round it; one beyond `u64` (JavaScript
//! writes integers up to 1e21 in full) becomes the nearest `F64`, as JavaScript holds it.
//! `from_value` converts an `Integer` into any integer type it fits and into floats; an
//! `F64` only into floats.
//!
//! # Examples
//!
//! ```
//! use bytes::Bytes;
//! use serde::{Deserialize, Serialize};
//! use sockeye_io::{Value, from_value, to_value};
//!
//! #[derive(Debug, PartialEq, Serialize, Deserialize)]
//! struct Upload {
//!     name: String,
//!     body: Bytes,
//! }
//!
//! let upload = Upload { name: "a.txt".into(), body: Bytes::from_static(b"hi") };
//! let value = to_value(&upload).unwrap();
//! assert_eq!(value["body"], Value::Binary(b"hi".to_vec()));
//! assert_eq!(from_value::<Upload>(value).unwrap(), upload);
//! ```

mod de;
mod error;
mod ser;

pub use error::ValueError;
pub use rmpv::Value;

/// Converts a serializable value into a [`Value`] tree, shaped as the module docs say.
///
/// # Errors
///
/// [`ValueError`] when the value's `Serialize` fails, or for a 128-bit integer that fits
/// neither `i64` nor `u64`.
pub fn to_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Value, ValueError> {
    value.serialize(ser::Serializer)
}

/// Converts a [`Value`] tree into a deserializable type.
///
/// # Errors
///
/// [`ValueError`] when the tree does not have the shape `T` expects (a missing field, a
/// string where a number is expected, ...).
pub fn from_value<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ValueError> {
    T::deserialize(de::Deserializer::new(value))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bytes::Bytes;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Chunk {
        seq: u32,
        body: Bytes,
        tags: Vec<String>,
        note: Option<String>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    enum Shape {
        Dot,
        Circle(f64),
        Rect { w: u8, h: u8 },
        Pair(i8, i8),
    }

    fn json(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    /// Data model: a struct with a `Bytes` field becomes a map holding `Binary`, and back.
    #[test]
    fn struct_with_bytes_round_trips() {
        let chunk = Chunk {
            seq: 7,
            body: Bytes::from_static(&[0, 1, 255]),
            tags: vec!["a".into()],
            note: None,
        };
        let value = to_value(&chunk).unwrap();
        assert_eq!(
            value,
            Value::Map(vec![
                (Value::from("seq"), Value::from(7)),
                (Value::from("body"), Value::Binary(vec![0, 1, 255])),
                (Value::from("tags"), Value::Array(vec![Value::from("a")])),
                (Value::from("note"), Value::Nil),
            ])
        );
        assert_eq!(from_value::<Chunk>(value).unwrap(), chunk);
    }

    /// Data model: a `Vec<T>` becomes an array of maps, and back.
    #[test]
    fn vec_of_structs_round_trips() {
        let chunks = vec![
            Chunk {
                seq: 1,
                body: Bytes::new(),
                tags: vec![],
                note: Some("x".into()),
            };
            3
        ];
        let value = to_value(&chunks).unwrap();
        assert!(matches!(&value, Value::Array(items) if items.len() == 3));
        assert_eq!(from_value::<Vec<Chunk>>(value).unwrap(), chunks);
    }

    /// Enums are tagged by name, as JSON peers expect (`"Dot"`, `{"Circle": 1.5}`).
    #[test]
    fn enums_are_tagged_by_name() {
        let shapes = vec![
            Shape::Dot,
            Shape::Circle(1.5),
            Shape::Rect { w: 1, h: 2 },
            Shape::Pair(-1, 1),
        ];
        let value = to_value(&shapes).unwrap();
        assert_eq!(value[0], Value::from("Dot"));
        assert_eq!(value[1]["Circle"], Value::F64(1.5));
        assert_eq!(value[2]["Rect"]["h"], Value::from(2));
        assert_eq!(from_value::<Vec<Shape>>(value).unwrap(), shapes);
    }

    /// JSON numbers as JavaScript sends them: integers stay integers, 1.5 is a float.
    #[test]
    fn json_numbers_map_like_javascript() {
        let value = json("[1, -1, 1.5, 0, -0, 9007199254740993, 1e3]");
        assert_eq!(value[0], Value::from(1));
        assert_eq!(value[1], Value::from(-1));
        assert_eq!(value[2], Value::F64(1.5));
        assert_eq!(value[3], Value::from(0));
        assert!(matches!(value[4], Value::F64(z) if z == 0.0 && z.is_sign_negative()));
        // Past 2^53 an integer stays exact here, where JavaScript would round it.
        assert_eq!(value[5], Value::from(9_007_199_254_740_993_u64));
        assert_eq!(value[6], Value::F64(1000.0));
        let (a, b, c): (i64, f64, f64) = from_value(json("[-1, 1.5, 2]")).unwrap();
        assert_eq!((a, b, c), (-1, 1.5, 2.0));
        assert!(from_value::<i64>(json("1.5")).is_err());
    }

    /// Integers beyond 64 bits become the nearest double, as JavaScript holds them.
    #[test]
    fn json_integers_beyond_64_bits_become_floats() {
        let value = json("123456789012345678901234");
        assert_eq!(value, Value::F64(1.234_567_890_123_456_8e23));
    }

    /// Strings, null and nested objects map to the matching values.
    #[test]
    fn json_strings_nulls_and_objects() {
        let value = json(r#"{"a":null,"b":"é\n","c":{"d":[true]}}"#);
        let map: BTreeMap<String, serde_json::Value> = from_value(value.clone()).unwrap();
        assert_eq!(map["a"], serde_json::Value::Null);
        assert_eq!(map["b"], serde_json::json!("é\n"));
        assert_eq!(map["c"], serde_json::json!({"d": [true]}));
        assert_eq!(value["c"]["d"][0], Value::Boolean(true));
    }

    /// A shape mismatch is an error, not a panic.
    #[test]
    fn shape_mismatch_is_an_error() {
        assert!(from_value::<Chunk>(json(r#"{"seq":"x"}"#)).is_err());
        assert!(from_value::<(u8,)>(json("[1,2]")).is_err());
        assert!(from_value::<Shape>(json(r#"{"Dot":null,"Circle":1}"#)).is_err());
        assert!(to_value(&u128::MAX).is_err());
        assert!(from_value::<u8>(Value::Ext(1, vec![])).is_err());
    }
}
