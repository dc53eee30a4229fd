//! Reading stream entries out of Redis replies (`XREAD`, `XRANGE`), in
//! RESP2 or RESP3 form, without trusting their shape.

use redis::Value;

/// One entry as read: its id and its fields, names and values.
pub(crate) type RawEntry = (String, Vec<(String, Vec<u8>)>);

/// The entries of an `XRANGE` reply (an array of `[id, [field, value,
/// ...]]`); malformed ones are skipped and counted in the second value.
pub(crate) fn range_entries(reply: Value) -> (Vec<RawEntry>, usize) {
    let mut out = Vec::new();
    let mut bad = 0;
    if let Value::Array(items) = reply {
        for item in items {
            match entry(item) {
                Some(entry) => out.push(entry),
                None => bad += 1,
            }
        }
    }
    (out, bad)
}

/// The entries of an `XREAD` reply for one stream: nil when none came;
/// else `[[name, entries]]` (RESP2) or `{name: entries}` (RESP3).
pub(crate) fn read_entries(reply: Value) -> (Vec<RawEntry>, usize) {
    match reply {
        Value::Array(streams) => streams
            .into_iter()
            .find_map(|stream| match stream {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .map_or((Vec::new(), 0), range_entries),
        Value::Map(streams) => streams
            .into_iter()
            .next()
            .map_or((Vec::new(), 0), |(_, entries)| range_entries(entries)),
        _ => (Vec::new(), 0),
    }
}

fn entry(item: Value) -> Option<RawEntry> {
    let Value::Array(pair) = item else {
        return None;
    };
    let mut pair = pair.into_iter();
    let id = text(pair.next()?)?;
    let fields = match pair.next()? {
        Value::Array(flat) => {
            let mut fields = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(name), Some(value)) = (flat.next(), flat.next()) {
                fields.push((text(name)?, bytes(value)?));
            }
            fields
        }
        Value::Map(pairs) => pairs
            .into_iter()
            .map(|(name, value)| Some((text(name)?, bytes(value)?)))
            .collect::<Option<Vec<_>>>()?,
        _ => return None,
    };
    Some((id, fields))
}

fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) | Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        _ => None,
    }
}

fn text(value: Value) -> Option<String> {
    String::from_utf8(bytes(value)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_resp2_and_resp3_and_skips_garbage() {
        let entries = Value::Array(vec![
            Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("uid"), bulk("a"), bulk("nsp"), bulk("/")]),
            ]),
            Value::Int(3),
        ]);
        let resp2 = Value::Array(vec![Value::Array(vec![bulk("s"), entries.clone()])]);
        let (read, bad) = read_entries(resp2);
        assert_eq!(bad, 1);
        assert_eq!(read[0].0, "1-0");
        assert_eq!(read[0].1[1], ("nsp".to_owned(), b"/".to_vec()));
        let resp3 = Value::Map(vec![(bulk("s"), entries)]);
        assert_eq!(read_entries(resp3).0, read);
        assert!(read_entries(Value::Nil).0.is_empty());
    }
}
