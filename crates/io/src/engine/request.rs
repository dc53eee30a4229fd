//! The Engine.IO query parameters of a request: `EIO`, `transport`, `sid`.

use std::borrow::Cow;

/// The query of an Engine.IO request, percent-decoded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EngineQuery {
    /// Every pair, in order.
    pub(crate) pairs: Vec<(String, String)>,
}

impl EngineQuery {
    /// Parses a query string (`a=1&b=%20`); `+` is a space, as in forms.
    pub(crate) fn parse(query: Option<&str>) -> Self {
        let pairs = query_pairs(query.unwrap_or(""))
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        EngineQuery { pairs }
    }

    /// The first value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The pairs of a query string, percent-decoded; a key without `=` has
/// an empty value.
pub(crate) fn query_pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
}

/// Decodes `%XX` escapes and `+`; a broken escape stays as written, and
/// bytes that do not form UTF-8 become U+FFFD. Borrows when there is
/// nothing to decode.
pub(crate) fn percent_decode(input: &str) -> Cow<'_, str> {
    if !input.bytes().any(|byte| byte == b'%' || byte == b'+') {
        return Cow::Borrowed(input);
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(index + 1..index + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    index += 3;
                    continue;
                }
                out.push(b'%');
            }
            byte => out.push(byte),
        }
        index += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Query parsing: pairs decode, the first value wins, bad escapes stay.
    #[test]
    fn parses_engine_query() {
        let query = EngineQuery::parse(Some(
            "EIO=4&transport=polling&t=a%20b+c&sid=x&sid=y&bad=%zz",
        ));
        assert_eq!(query.get("EIO"), Some("4"));
        assert_eq!(query.get("transport"), Some("polling"));
        assert_eq!(query.get("t"), Some("a b c"));
        assert_eq!(query.get("sid"), Some("x"));
        assert_eq!(query.get("bad"), Some("%zz"));
        assert_eq!(EngineQuery::parse(None).get("EIO"), None);
    }
}
