//! msgpack as `notepack.io` 3.0 writes it, the adapter's default codec
//! (notes §3b: "Broadcast payload").
//!
//! notepack writes every integral, finite number as the smallest msgpack
//! integer that holds it and every other number as a float 64; strings,
//! binaries, arrays and maps take their smallest length form (`str 8`
//! included). rmp's writers choose the same forms, so only numbers need
//! care: a JavaScript number is a double, and `2.0` goes out as `0x02`.

use std::convert::Infallible;

use rmp::encode::{ByteBuf, ValueWriteError};
use rmpv::Value;

use crate::error::{Result, WireError};

/// The deepest nesting of arrays and maps a decoded message may have:
/// sockeye-io's own parser limit, so that a broadcast another server sends
/// is refused here exactly when a client's would be.
pub const MAX_DEPTH: usize = sockeye_io::parser::MAX_DEPTH;

/// Appends `value` to `buf` as notepack writes the JavaScript value it
/// stands for.
///
/// Values JavaScript has no form for are written as they are: an `Ext`
/// (notepack writes only timestamps), an integer beyond 2^53.
pub(crate) fn write_value(buf: &mut ByteBuf, value: &Value) {
    match value {
        Value::Nil => ok(rmp::encode::write_nil(buf)),
        Value::Boolean(b) => ok(rmp::encode::write_bool(buf, *b)),
        Value::Integer(n) => {
            if let Some(u) = n.as_u64() {
                ok(rmp::encode::write_uint(buf, u));
            } else if let Some(i) = n.as_i64() {
                ok(rmp::encode::write_sint(buf, i));
            }
        }
        Value::F32(f) => write_number(buf, f64::from(*f)),
        Value::F64(f) => write_number(buf, *f),
        Value::String(s) => write_bytes_str(buf, s.as_bytes()),
        Value::Binary(b) => {
            ok(rmp::encode::write_bin_len(buf, len32(b.len())));
            ok(rmp::encode::RmpWrite::write_bytes(buf, b));
        }
        Value::Array(items) => {
            ok(rmp::encode::write_array_len(buf, len32(items.len())));
            for item in items {
                write_value(buf, item);
            }
        }
        Value::Map(entries) => {
            ok(rmp::encode::write_map_len(buf, len32(entries.len())));
            for (key, value) in entries {
                write_value(buf, key);
                write_value(buf, value);
            }
        }
        Value::Ext(ty, data) => {
            ok(rmp::encode::write_ext_meta(buf, len32(data.len()), *ty));
            ok(rmp::encode::RmpWrite::write_bytes(buf, data));
        }
    }
}

/// A JavaScript number as notepack writes it: a float 64 unless it is
/// finite and integral; then the smallest integer form up to 32 bits, and
/// beyond that a 64-bit integer made of two 32-bit halves, each taken
/// modulo 2^32 as JavaScript's bit operators take them. That is exact up
/// to 2^64 and wraps above it (notepack writes `1e300` as `uint 64` 0);
/// the same bytes come out here, so both sides read the same number.
/// `-0` is `>= 0` in JavaScript, so it goes out as `0`.
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "each cast is of an integral value checked to fit its type"
)]
fn write_number(buf: &mut ByteBuf, f: f64) {
    const TWO_32: f64 = 4_294_967_296.0;
    if !f.is_finite() || f.fract() != 0.0 {
        ok(rmp::encode::write_f64(buf, f));
    } else if (0.0..TWO_32).contains(&f) {
        ok(rmp::encode::write_uint(buf, f as u64));
    } else if (-TWO_32 / 2.0..0.0).contains(&f) {
        ok(rmp::encode::write_sint(buf, f as i64));
    } else {
        // notepack: `hi = (value / 2^32) >> 0` for uint 64,
        // `hi = Math.floor(value / 2^32)` for int 64; `lo = value >>> 0`.
        let (marker, hi) = if f >= 0.0 {
            (0xcf, uint32((f / TWO_32).trunc()))
        } else {
            (0xd3, uint32((f / TWO_32).floor()))
        };
        let mut bytes = [marker, 0, 0, 0, 0, 0, 0, 0, 0];
        bytes[1..5].copy_from_slice(&hi.to_be_bytes());
        bytes[5..].copy_from_slice(&uint32(f).to_be_bytes());
        ok(rmp::encode::RmpWrite::write_bytes(buf, &bytes));
    }
}

/// JavaScript's `ToUint32` of an integral, finite number: its value
/// modulo 2^32 (`rem_euclid` on doubles is exact).
#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "rem_euclid leaves an integer in [0, 2^32)"
)]
fn uint32(f: f64) -> u32 {
    f.rem_euclid(4_294_967_296.0) as u32
}

/// Appends a string's bytes with its smallest `str` header.
pub(crate) fn write_str(buf: &mut ByteBuf, s: &str) {
    write_bytes_str(buf, s.as_bytes());
}

fn write_bytes_str(buf: &mut ByteBuf, bytes: &[u8]) {
    ok(rmp::encode::write_str_len(buf, len32(bytes.len())));
    ok(rmp::encode::RmpWrite::write_bytes(buf, bytes));
}

/// A length as msgpack's 32-bit form. Messages are bounded far below
/// 4 GiB by Redis (512 MB per value), so a longer one is a caller's bug;
/// it is clamped rather than panicking, and the peer refuses the result.
fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

/// Reads exactly one msgpack value, nested at most [`MAX_DEPTH`] deep.
///
/// rmpv never reserves for a declared array or map length and reserves at
/// most 64 KiB ahead for a string or binary, so a huge declared length
/// with nothing behind it fails without allocating it. Each input byte
/// yields at most one `Value` (a few dozen bytes) of decoded tree.
pub(crate) fn read_value(bytes: &[u8]) -> Result<Value> {
    let mut rest = bytes;
    // rmpv counts a container and its elements as two levels each.
    let value = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH * 2 + 2)
        .map_err(WireError::Msgpack)?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes);
    }
    Ok(value)
}

/// Writing to a [`ByteBuf`] cannot fail: its error types are uninhabited.
fn ok<T, E: Uninhabited>(result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => e.absurd(),
    }
}

/// An error type with no values.
trait Uninhabited {
    fn absurd(self) -> !;
}

impl Uninhabited for Infallible {
    fn absurd(self) -> ! {
        match self {}
    }
}

impl Uninhabited for ValueWriteError<Infallible> {
    fn absurd(self) -> ! {
        match self {
            ValueWriteError::InvalidMarkerWrite(e) | ValueWriteError::InvalidDataWrite(e) => {
                match e {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(value: &Value) -> Vec<u8> {
        let mut buf = ByteBuf::new();
        write_value(&mut buf, value);
        buf.into_vec()
    }

    /// Numbers take notepack's forms: integral doubles are integers.
    #[test]
    fn numbers_as_notepack_writes_them() {
        assert_eq!(bytes(&Value::F64(2.0)), [0x02]);
        assert_eq!(bytes(&Value::F64(-0.0)), [0x00]);
        assert_eq!(bytes(&Value::F64(-33.0)), [0xd0, 0xdf]);
        assert_eq!(bytes(&Value::from(300)), [0xcd, 0x01, 0x2c]);
        assert_eq!(bytes(&Value::from(-1)), [0xff]);
        assert_eq!(bytes(&Value::F64(1.5))[0], 0xcb);
        assert_eq!(bytes(&Value::F64(f64::NAN))[0], 0xcb);
        assert_eq!(bytes(&Value::F64(1e300)), [0xcf, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            bytes(&Value::F64(-1_099_511_627_776.0)),
            bytes(&Value::from(-1_099_511_627_776_i64))
        );
        assert_eq!(
            bytes(&Value::F64(4_294_967_296.0)),
            bytes(&Value::from(1_u64 << 32))
        );
        assert_eq!(bytes(&Value::from("a".repeat(40)))[..2], [0xd9, 40]);
    }

    #[test]
    fn refuses_trailing_and_truncated_input() {
        assert!(matches!(
            read_value(&[0xc0, 0xc0]),
            Err(WireError::TrailingBytes)
        ));
        assert!(matches!(
            read_value(&[0x92, 0x01]),
            Err(WireError::Msgpack(_))
        ));
        // map 32, array 32, str 32 and bin 32 of 2^32 - 1, then nothing.
        for marker in [0xdf, 0xdd, 0xdb, 0xc6] {
            assert!(read_value(&[marker, 0xff, 0xff, 0xff, 0xff]).is_err());
        }
        assert!(read_value(&[]).is_err());
    }
}
