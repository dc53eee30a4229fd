//! Binary attachments: finding the placeholders of a `BINARY_EVENT` or `BINARY_ACK` and putting
//! the received bytes in their place.

use bytes::Bytes;
use rmpv::Value;

use crate::parser::error::ParseError;

/// Checks every placeholder of `data` against the packet's attachment count and counts how
/// often each attachment is referenced (`uses[num]`).
///
/// A placeholder is a map with `"_placeholder": true`; its `"num"` must be the index of an
/// attachment (`socket.io-parser` refuses the packet otherwise).
pub(crate) fn count_placeholders(data: &Value, uses: &mut [u32]) -> Result<(), ParseError> {
    match data {
        Value::Map(entries) => match placeholder_num(entries, uses.len())? {
            Some(num) => uses[num] = uses[num].saturating_add(1),
            None => {
                for (_, value) in entries {
                    count_placeholders(value, uses)?;
                }
            }
        },
        Value::Array(items) => {
            for item in items {
                count_placeholders(item, uses)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces every placeholder with its attachment as [`Value::Binary`].
///
/// `uses` comes from [`count_placeholders`] on the same tree: the last reference to an
/// attachment takes its buffer (without a copy when nothing else shares it), earlier ones
/// copy it.
pub(crate) fn fill_placeholders(data: &mut Value, buffers: &mut [Bytes], uses: &mut [u32]) {
    match data {
        Value::Map(entries) => match placeholder_num(entries, buffers.len()) {
            Ok(Some(num)) => {
                uses[num] = uses[num].saturating_sub(1);
                let bytes = if uses[num] == 0 {
                    Vec::from(std::mem::take(&mut buffers[num]))
                } else {
                    buffers[num].to_vec()
                };
                *data = Value::Binary(bytes);
            }
            // The tree was checked by `count_placeholders`; an error cannot happen here.
            Ok(None) | Err(_) => {
                for (_, value) in entries {
                    fill_placeholders(value, buffers, uses);
                }
            }
        },
        Value::Array(items) => {
            for item in items {
                fill_placeholders(item, buffers, uses);
            }
        }
        _ => {}
    }
}

/// `Some(num)` when the map is a placeholder for attachment `num`.
fn placeholder_num(entries: &[(Value, Value)], count: usize) -> Result<Option<usize>, ParseError> {
    let is_placeholder = entries
        .iter()
        .any(|(k, v)| k.as_str() == Some("_placeholder") && *v == Value::Boolean(true));
    if !is_placeholder {
        return Ok(None);
    }
    let num = entries
        .iter()
        .find(|(k, _)| k.as_str() == Some("num"))
        .and_then(|(_, v)| v.as_u64())
        .and_then(|n| usize::try_from(n).ok())
        .filter(|&n| n < count);
    match num {
        Some(n) => Ok(Some(n)),
        None => Err(ParseError::PlaceholderOutOfRange { count }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Value {
        serde_json::from_str(json).unwrap()
    }

    /// Placeholders are replaced by their attachment, wherever they are.
    #[test]
    fn placeholders_are_filled_in_place() {
        let mut data =
            parse(r#"["a",{"_placeholder":true,"num":1},{"x":[{"_placeholder":true,"num":0}]}]"#);
        let mut uses = vec![0; 2];
        count_placeholders(&data, &mut uses).unwrap();
        assert_eq!(uses, vec![1, 1]);
        let mut buffers = vec![Bytes::from_static(b"A"), Bytes::from_static(b"B")];
        fill_placeholders(&mut data, &mut buffers, &mut uses);
        assert_eq!(data[1], Value::Binary(b"B".to_vec()));
        assert_eq!(data[2]["x"][0], Value::Binary(b"A".to_vec()));
    }

    /// An attachment referenced twice is given to both places.
    #[test]
    fn attachment_referenced_twice_fills_both() {
        let mut data = parse(r#"[{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#);
        let mut uses = vec![0; 1];
        count_placeholders(&data, &mut uses).unwrap();
        let mut buffers = vec![Bytes::from_static(b"A")];
        fill_placeholders(&mut data, &mut buffers, &mut uses);
        assert_eq!(data[0], Value::Binary(b"A".to_vec()));
        assert_eq!(data[1], Value::Binary(b"A".to_vec()));
    }

    /// A placeholder num outside the attachments, negative, fractional or missing is refused.
    #[test]
    fn placeholder_out_of_range_is_refused() {
        for json in [
            r#"[{"_placeholder":true,"num":2}]"#,
            r#"[{"_placeholder":true,"num":-1}]"#,
            r#"[{"_placeholder":true,"num":0.5}]"#,
            r#"[{"_placeholder":true}]"#,
            r#"[{"_placeholder":true,"num":"0"}]"#,
        ] {
            let mut uses = vec![0; 2];
            assert!(matches!(
                count_placeholders(&parse(json), &mut uses),
                Err(ParseError::PlaceholderOutOfRange { count: 2 })
            ));
        }
    }

    /// A map whose `_placeholder` is not `true` is ordinary data.
    #[test]
    fn non_placeholder_maps_are_data() {
        let data = parse(r#"[{"_placeholder":false,"num":9},{"_placeholder":"true"}]"#);
        let mut uses = vec![0; 1];
        count_placeholders(&data, &mut uses).unwrap();
        assert_eq!(uses, vec![0]);
    }
}
