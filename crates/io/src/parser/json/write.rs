//! JSON text straight from a [`Value`] tree, with binary leaves moved out as attachments.

use bytes::Bytes;
use rmpv::Value;

use crate::parser::error::EncodeError;

/// Writes JSON for values into `out`, replacing each [`Value::Binary`] with a placeholder
/// `{"_placeholder":true,"num":N}`, numbered from 0 in document order as `socket.io-parser`
/// numbers them, and appending a copy of its bytes to `attachments` when given (when not,
/// the caller has taken them out already with [`take_binaries`]).
pub(crate) struct JsonWriter<'a> {
    out: &'a mut String,
    attachments: Option<&'a mut Vec<Bytes>>,
    next_num: usize,
}

impl<'a> JsonWriter<'a> {
    pub(crate) fn new(out: &'a mut String, attachments: Option<&'a mut Vec<Bytes>>) -> Self {
        Self {
            out,
            attachments,
            next_num: 0,
        }
    }

    /// Writes one value and everything under it.
    pub(crate) fn value(&mut self, value: &Value) -> Result<(), EncodeError> {
        match value {
            Value::Nil => self.out.push_str("null"),
            Value::Boolean(true) => self.out.push_str("true"),
            Value::Boolean(false) => self.out.push_str("false"),
            Value::Integer(n) => push_integer(self.out, n),
            // JavaScript reads a msgpack float32 as the double it widens to; do the same.
            Value::F32(f) => push_float(self.out, f64::from(*f)),
            Value::F64(f) => push_float(self.out, *f),
            Value::String(s) => push_string(
                self.out,
                &s.as_str().map_or_else(
                    // Invalid UTF-8 can only come from a msgpack peer; JavaScript's decoder
                    // replaces the bad sequences the same way.
                    || String::from_utf8_lossy(s.as_bytes()),
                    std::borrow::Cow::Borrowed,
                ),
            ),
            Value::Binary(bytes) => self.placeholder(bytes),
            Value::Array(items) => self.array(items)?,
            Value::Map(entries) => self.map(entries)?,
            Value::Ext(..) => return Err(EncodeError::ExtensionValue),
        }
        Ok(())
    }

    fn placeholder(&mut self, bytes: &[u8]) {
        self.out.push_str(r#"{"_placeholder":true,"num":"#);
        self.out.push_str(itoa::Buffer::new().format(self.next_num));
        self.out.push('}');
        self.next_num += 1;
        if let Some(attachments) = self.attachments.as_deref_mut() {
            attachments.push(Bytes::copy_from_slice(bytes));
        }
    }

    fn array(&mut self, items: &[Value]) -> Result<(), EncodeError> {
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.value(item)?;
        }
        self.out.push(']');
        Ok(())
    }

    fn map(&mut self, entries: &[(Value, Value)]) -> Result<(), EncodeError> {
        self.out.push('{');
        for (i, (key, value)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            push_key(self.out, key)?;
            self.out.push(':');
            self.value(value)?;
        }
        self.out.push('}');
        Ok(())
    }
}

/// How many [`Value::Binary`] leaves a tree holds: the packet's attachment count.
pub(crate) fn count_binary(value: &Value) -> usize {
    match value {
        Value::Binary(_) => 1,
        Value::Array(items) => items.iter().map(count_binary).sum(),
        Value::Map(entries) => entries.iter().map(|(_, v)| count_binary(v)).sum(),
        _ => 0,
    }
}

/// Moves every [`Value::Binary`] leaf's bytes into `out`, in the order [`JsonWriter`] numbers
/// them, leaving empty binaries in their place. The bytes move without a copy.
pub(crate) fn take_binaries(value: &mut Value, out: &mut Vec<Bytes>) {
    match value {
        Value::Binary(bytes) => out.push(Bytes::from(std::mem::take(bytes))),
        Value::Array(items) => items.iter_mut().for_each(|v| take_binaries(v, out)),
        Value::Map(entries) => entries.iter_mut().for_each(|(_, v)| take_binaries(v, out)),
        _ => {}
    }
}

/// Writes a map key. JSON keys are strings; a scalar key is written as the string
/// JavaScript's `String(key)` gives it (`1` → `"1"`, `true` → `"true"`, nil → `"null"`), which
/// is also what a JavaScript peer sees when msgpack decodes such a key into an object.
fn push_key(out: &mut String, key: &Value) -> Result<(), EncodeError> {
    match key {
        Value::String(_) => JsonWriter::new(out, None).value(key),
        Value::Nil | Value::Boolean(_) | Value::Integer(_) | Value::F32(_) | Value::F64(_) => {
            let mut text = String::new();
            JsonWriter::new(&mut text, None).value(key)?;
            push_string(out, &text);
            Ok(())
        }
        Value::Binary(_) | Value::Array(_) | Value::Map(_) | Value::Ext(..) => {
            Err(EncodeError::UnsupportedKey)
        }
    }
}

fn push_integer(out: &mut String, n: &rmpv::Integer) {
    let mut buf = itoa::Buffer::new();
    if let Some(u) = n.as_u64() {
        out.push_str(buf.format(u));
    } else if let Some(i) = n.as_i64() {
        out.push_str(buf.format(i));
    }
}

/// Writes a float in the shortest form that reads back to the same double. Non-finite
/// numbers become `null`, as `JSON.stringify` writes them.
///
/// The digits are the ones JavaScript prints; the notation differs in places (`1e-5` where
/// JavaScript writes `0.00001`, `2.0` where it writes `2`), which every JSON reader takes as
/// the same number. Keeping the fraction on integral floats lets them decode as floats again.
fn push_float(out: &mut String, f: f64) {
    use std::fmt::Write as _;
    if f.is_finite() {
        // `{:?}` keeps a fraction or an exponent on every float (`1.0`, `1e21`), so the
        // value reads back as a float, and both forms are valid JSON numbers.
        let _ = write!(out, "{f:?}");
    } else {
        out.push_str("null");
    }
}

/// Writes a JSON string literal, escaping what RFC 8259 requires (quote, backslash and
/// control characters) and nothing else, like `JSON.stringify`. The runs between escapes
/// are found eight bytes at a time and copied whole.
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut start = 0;
    while let Some(offset) = first_to_escape(&bytes[start..]) {
        let at = start + offset;
        out.push_str(&s[start..at]);
        push_escape(out, bytes[at]);
        start = at + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Eight copies of a byte, one in each byte of a word.
const fn splat(byte: u8) -> u64 {
    0x0101_0101_0101_0101 * byte as u64
}

/// Whether any byte of `word` is zero (exact for the answer, not the place).
const fn has_zero_byte(word: u64) -> bool {
    word.wrapping_sub(splat(1)) & !word & splat(0x80) != 0
}

/// Whether any byte of `word` is below 0x20 (exact for the answer).
const fn has_control_byte(word: u64) -> bool {
    word.wrapping_sub(splat(0x20)) & !word & splat(0x80) != 0
}

/// Whether JSON needs `byte` escaped.
const fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Where the first byte of `bytes` that JSON needs escaped is: a word at a
/// time while none is in it, then byte by byte.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut skipped = 0;
    for chunk in words.by_ref() {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        if has_control_byte(word)
            || has_zero_byte(word ^ splat(b'"'))
            || has_zero_byte(word ^ splat(b'\\'))
        {
            break;
        }
        skipped += 8;
    }
    bytes[skipped..]
        .iter()
        .position(|&byte| needs_escape(byte))
        .map(|at| skipped + at)
}

/// Writes the escape of a byte JSON needs escaped.
fn push_escape(out: &mut String, byte: u8) {
    let short = match byte {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0c => "\\f",
        _ => return push_unicode_escape(out, byte),
    };
    out.push_str(short);
}

fn push_unicode_escape(out: &mut String, byte: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\u00");
    out.push(char::from(HEX[usize::from(byte >> 4)]));
    out.push(char::from(HEX[usize::from(byte & 0xf)]));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(value: &Value) -> (String, Vec<Bytes>) {
        let mut out = String::new();
        let mut attachments = Vec::new();
        JsonWriter::new(&mut out, Some(&mut attachments))
            .value(value)
            .unwrap();
        (out, attachments)
    }

    /// Escaping matches `JSON.stringify`: quote, backslash, control characters only.
    #[test]
    fn strings_are_escaped_like_json_stringify() {
        let (out, _) = json(&Value::from("a\"b\\c\n\u{1}é/\u{2028}"));
        assert_eq!(out, "\"a\\\"b\\\\c\\n\\u0001é/\u{2028}\"");
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}é/\u{2028}");
    }

    /// Numbers: integers stay integers, floats keep a fraction, non-finite becomes null.
    #[test]
    fn numbers_are_written_as_javascript_reads_them() {
        assert_eq!(json(&Value::from(-12)).0, "-12");
        assert_eq!(json(&Value::from(u64::MAX)).0, "18446744073709551615");
        assert_eq!(json(&Value::F64(1.5)).0, "1.5");
        assert_eq!(json(&Value::F64(2.0)).0, "2.0");
        assert_eq!(json(&Value::F64(1e21)).0, "1e21");
        assert_eq!(json(&Value::F64(f64::NAN)).0, "null");
        assert_eq!(json(&Value::F64(f64::INFINITY)).0, "null");
    }

    /// Binary leaves become placeholders numbered in document order.
    #[test]
    fn binary_becomes_numbered_placeholders() {
        let value = Value::Array(vec![
            Value::Binary(vec![1]),
            Value::Map(vec![(Value::from("k"), Value::Binary(vec![2, 3]))]),
        ]);
        let (out, attachments) = json(&value);
        assert_eq!(
            out,
            r#"[{"_placeholder":true,"num":0},{"k":{"_placeholder":true,"num":1}}]"#
        );
        assert_eq!(
            attachments,
            vec![Bytes::from_static(&[1]), Bytes::from_static(&[2, 3])]
        );
        assert_eq!(count_binary(&value), 2);
    }

    /// Scalar map keys are written as JavaScript's `String(key)`; others are refused.
    #[test]
    fn map_keys_are_stringified_or_refused() {
        let value = Value::Map(vec![
            (Value::from(1), Value::Nil),
            (Value::Boolean(true), Value::Nil),
            (Value::Nil, Value::Nil),
        ]);
        assert_eq!(json(&value).0, r#"{"1":null,"true":null,"null":null}"#);
        let bad = Value::Map(vec![(Value::Array(vec![]), Value::Nil)]);
        let mut out = String::new();
        let mut attachments = Vec::new();
        assert_eq!(
            JsonWriter::new(&mut out, Some(&mut attachments)).value(&bad),
            Err(EncodeError::UnsupportedKey)
        );
    }

    /// A string that is not UTF-8 (possible from a msgpack peer) is written with U+FFFD in
    /// place of the bad bytes, as JavaScript's decoder reads it.
    #[test]
    fn invalid_utf8_strings_are_written_lossily() {
        let mut bytes = Vec::new();
        rmpv::encode::write_value(&mut bytes, &Value::from("ab")).unwrap();
        bytes[2] = 0xff;
        let value = rmpv::decode::read_value(&mut &bytes[..]).unwrap();
        assert_eq!(json(&value).0, "\"a\u{fffd}\"");
    }

    /// msgpack extension values have no JSON form.
    #[test]
    fn extension_values_are_refused() {
        let mut out = String::new();
        let mut attachments = Vec::new();
        assert_eq!(
            JsonWriter::new(&mut out, Some(&mut attachments)).value(&Value::Ext(1, vec![])),
            Err(EncodeError::ExtensionValue)
        );
    }

    proptest::proptest! {
        /// Escaping: every string comes out as `JSON.stringify` (and serde_json, which
        /// escapes the same set the same way) writes it, wherever its escapes fall
        /// among the eight-byte words.
        #[test]
        fn strings_are_escaped_as_json_stringify_does(s in "(\\PC|[\\x00-\\x1f\"\\\\])*") {
            let mut out = String::new();
            push_string(&mut out, &s);
            proptest::prop_assert_eq!(out, serde_json::to_string(&s).unwrap());
        }
    }
}
