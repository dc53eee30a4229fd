//! Reading the fields of a decoded message, JSON or msgpack alike: both
//! decode to one `rmpv::Value` tree, so one set of readers serves both.

use rmpv::Value;
use sockeye_io::adapter::Room;

use crate::error::{Result, WireError};

/// The entries of a map, or a shape error naming `what`.
///
/// # Errors
///
/// [`WireError`] when the value does not have the shape read.
pub fn map<'a>(value: &'a Value, what: &'static str) -> Result<&'a [(Value, Value)]> {
    match value {
        Value::Map(entries) => Ok(entries),
        _ => Err(WireError::Shape(what)),
    }
}

/// The value of `key` in `entries`; a key given twice keeps its last
/// value, as a JavaScript object does. `null` counts as absent, as
/// `undefined` does for Node (notepack writes `undefined` as `nil`).
pub fn get<'a>(entries: &'a [(Value, Value)], key: &str) -> Option<&'a Value> {
    entries
        .iter()
        .rev()
        .find(|(k, _)| k.as_str() == Some(key))
        .map(|(_, v)| v)
        .filter(|v| !v.is_nil())
}

/// The string at `key`, or a shape error naming it.
///
/// # Errors
///
/// [`WireError`] when the value does not have the shape read.
pub fn string(entries: &[(Value, Value)], key: &'static str) -> Result<String> {
    get(entries, key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(WireError::Shape(key))
}

/// The unsigned integer at `key` (a JSON or msgpack number without a
/// fraction), or a shape error naming it.
///
/// # Errors
///
/// [`WireError`] when the value does not have the shape read.
pub fn uint(entries: &[(Value, Value)], key: &'static str) -> Result<u64> {
    get(entries, key)
        .and_then(as_uint)
        .ok_or(WireError::Shape(key))
}

/// An unsigned integer, including one a JavaScript peer wrote as an
/// integral float.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "checked integral, non-negative and below 2^53 first"
)]
pub fn as_uint(value: &Value) -> Option<u64> {
    match value {
        Value::F64(f) if f.fract() == 0.0 && (0.0..=9_007_199_254_740_992.0).contains(f) => {
            Some(*f as u64)
        }
        other => other.as_u64(),
    }
}

/// Room names: the array at `key`, each a string (or a number, which a
/// JavaScript room may be and which names the same room as its text).
/// Absent means none.
///
/// # Errors
///
/// [`WireError`] when the value does not have the shape read.
pub fn rooms(entries: &[(Value, Value)], key: &'static str) -> Result<Vec<Room>> {
    let Some(value) = get(entries, key) else {
        return Ok(Vec::new());
    };
    let Value::Array(items) = value else {
        return Err(WireError::Shape(key));
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => s.as_str().map(Room::from).ok_or(WireError::Shape(key)),
            Value::Integer(n) => Ok(Room::from(n.to_string())),
            _ => Err(WireError::Shape(key)),
        })
        .collect()
}

/// A map value built from `(key, value)` pairs in order.
pub fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(
        entries
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect(),
    )
}

/// Room names as an array of strings.
pub fn room_array(rooms: &[Room]) -> Value {
    Value::Array(rooms.iter().map(|r| Value::from(&**r)).collect())
}
