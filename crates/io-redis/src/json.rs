//! JSON as `JSON.stringify` writes it, for the adapter's JSON requests and
//! responses (notes §3b: "Request encoding", "Responses").
//!
//! Values are `rmpv::Value` trees, as in sockeye-io. What JavaScript would
//! hold differently is written as `JSON.stringify` writes that: a binary
//! value is a Node `Buffer` (`{"type":"Buffer","data":[...]}`), a number
//! follows `Number.prototype.toString` (`1`, not `1.0`; `1e+21`), a
//! non-finite number and an `Ext` are `null`. Map keys keep their order.
//!
//! `serde_json` writes the strings (its escapes are `JSON.stringify`'s) and
//! reads everything; the rest is written here because `serde_json`'s own
//! output differs from Node's: it writes `2.0` and `1e21` where Node
//! writes `2` and `1e+21`, and its `Value` sorts object keys unless a
//! crate feature, which would change sockeye-io too, is turned on.

use std::fmt::Write as _;

use rmpv::Value;

use crate::error::{Result, WireError};

/// Appends `value` to `out` as `JSON.stringify` writes the JavaScript
/// value it stands for.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Nil | Value::Ext(..) => out.push_str("null"),
        Value::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        Value::F32(f) => write_number(out, f64::from(*f)),
        Value::F64(f) => write_number(out, *f),
        Value::String(s) => write_str(out, &String::from_utf8_lossy(s.as_bytes())),
        Value::Binary(b) => {
            out.push_str(r#"{"type":"Buffer","data":["#);
            for (i, byte) in b.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{byte}");
            }
            out.push_str("]}");
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_key(out, key);
                out.push(':');
                write_value(out, value);
            }
            out.push('}');
        }
    }
}

/// A map key: JavaScript object keys are strings, so a number becomes its
/// text and anything else its JSON text.
fn write_key(out: &mut String, key: &Value) {
    match key {
        Value::String(s) => write_str(out, &String::from_utf8_lossy(s.as_bytes())),
        other => {
            let mut text = String::new();
            write_value(&mut text, other);
            write_str(out, &text);
        }
    }
}

/// A string with `JSON.stringify`'s escapes, which are `serde_json`'s: `"`,
/// `\` and control characters, the latter as `\b`, `\f`, `\n`, `\r`, `\t`
/// or lower-case `\u00xx`; nothing else.
pub(crate) fn write_str(out: &mut String, s: &str) {
    // Serializing a string into a String cannot fail.
    if let Ok(text) = serde_json::to_string(s) {
        out.push_str(&text);
    }
}

/// A number as `Number.prototype.toString` writes it: positional between
/// 1e-6 and 1e21, exponential (`1e+21`, `1.5e-7`) outside, `null` when not
/// finite, `0` for `-0`. Rust's shortest round-trip digits are the same
/// digits JavaScript picks.
fn write_number(out: &mut String, f: f64) {
    if !f.is_finite() {
        out.push_str("null");
    } else if f == 0.0 {
        out.push('0');
    } else if (1e-6..1e21).contains(&f.abs()) {
        let _ = write!(out, "{f}");
    } else {
        let text = format!("{f:e}");
        match text.split_once('e') {
            Some((mantissa, exp)) if !exp.starts_with('-') => {
                let _ = write!(out, "{mantissa}e+{exp}");
            }
            _ => out.push_str(&text),
        }
    }
}

/// Reads exactly one JSON value into a tree; numbers without a fraction
/// or exponent are integers, others floats.
///
/// `serde_json` refuses nesting deeper than 128 and trailing bytes.
pub(crate) fn read_value(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes).map_err(WireError::Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(value: &Value) -> String {
        let mut out = String::new();
        write_value(&mut out, value);
        out
    }

    #[test]
    fn numbers_as_javascript_writes_them() {
        assert_eq!(text(&Value::F64(1.0)), "1");
        assert_eq!(text(&Value::F64(-0.0)), "0");
        assert_eq!(text(&Value::F64(0.1)), "0.1");
        assert_eq!(text(&Value::F64(1e21)), "1e+21");
        assert_eq!(text(&Value::F64(1e20)), "100000000000000000000");
        assert_eq!(text(&Value::F64(1.5e-7)), "1.5e-7");
        assert_eq!(text(&Value::F64(0.000_001)), "0.000001");
        assert_eq!(text(&Value::F64(f64::INFINITY)), "null");
        assert_eq!(text(&Value::from(-5)), "-5");
    }

    #[test]
    fn binary_is_a_node_buffer() {
        assert_eq!(
            text(&Value::Binary(vec![1, 255])),
            r#"{"type":"Buffer","data":[1,255]}"#
        );
    }

    #[test]
    fn strings_escape_as_json_stringify_does() {
        assert_eq!(
            text(&Value::from("a\"\\\n\u{1f}/é")),
            r#""a\"\\\n\u001f/é""#
        );
    }

    #[test]
    fn reads_one_value_only() {
        assert!(read_value(b"{} x").is_err());
        assert_eq!(
            read_value(b"[1,2.5]").unwrap(),
            Value::Array(vec![Value::from(1), Value::F64(2.5)])
        );
    }
}
