//! Header field grammar shared by both sides: token lists, subprotocol
//! lists and `Sec-WebSocket-Extensions` (RFC 6455 §4.3, §9.1; RFC 9110 §5.6).

use std::fmt;

use bytes::BytesMut;
use http::header::AsHeaderName;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::HandshakeError;

/// One extension from a `Sec-WebSocket-Extensions` header field, with its
/// parameters (RFC 6455 §9.1).
///
/// The same type describes a client's offer and a server's acceptance.
/// A parameter value written as a quoted string is stored unquoted; RFC 6455
/// §9.1 requires it to be a token once unquoted (R-HV-02), so `Display`
/// writes every value bare.
///
/// # Examples
///
/// ```
/// use sockeye_proto::handshake::ExtensionOffer;
///
/// let offer = ExtensionOffer {
///     name: "permessage-deflate".into(),
///     params: vec![("client_max_window_bits".into(), None)],
/// };
/// assert_eq!(offer.to_string(), "permessage-deflate; client_max_window_bits");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// The extension token, such as `permessage-deflate`.
    pub name: String,
    /// The parameters in the order given: name, and value if any.
    pub params: Vec<(String, Option<String>)>,
}

impl fmt::Display for ExtensionOffer {
    /// Writes the offer as one element of a `Sec-WebSocket-Extensions` value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        for (name, value) in &self.params {
            write!(f, "; {name}")?;
            if let Some(value) = value {
                write!(f, "={value}")?;
            }
        }
        Ok(())
    }
}

/// Whether a comma-separated header field lists `token`, compared ASCII
/// case-insensitively.
///
/// Every field named `name` is searched, as if they were joined with commas
/// (RFC 9110 §5.3). Elements are trimmed of spaces and tabs. This is how
/// `Connection: keep-alive, Upgrade` is found to contain `upgrade` (R-SH-03,
/// R-CV-03). Costs one pass over the field values, without allocating.
///
/// # Examples
///
/// ```
/// use http::HeaderMap;
/// use http::header::CONNECTION;
/// use sockeye_proto::handshake::header_has_token;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(CONNECTION, "keep-alive, Upgrade".parse().unwrap());
/// assert!(header_has_token(&headers, CONNECTION, "upgrade"));
/// assert!(!header_has_token(&headers, CONNECTION, "close"));
/// ```
pub fn header_has_token<K: AsHeaderName>(headers: &HeaderMap, name: K, token: &str) -> bool {
    list_elements(headers, name).any(|element| element.eq_ignore_ascii_case(token.as_bytes()))
}

/// The non-empty elements of every comma-separated field named `name`,
/// trimmed of spaces and tabs (RFC 9110 §5.6.1).
pub(crate) fn list_elements<K: AsHeaderName>(
    headers: &HeaderMap,
    name: K,
) -> impl Iterator<Item = &[u8]> {
    headers
        .get_all(name)
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b','))
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Parses `Sec-WebSocket-Extensions` field values into the extensions they
/// list, in order (RFC 6455 §9.1).
///
/// Pass every field of the message, e.g.
/// `headers.get_all(SEC_WEBSOCKET_EXTENSIONS)`: several fields are one
/// comma-joined list (R-HV-04). Follows the §9.1 grammar: `extension-list =
/// 1#extension`, `extension = token *(";" param)`, `param = token ["="
/// (token | quoted-string)]`, where a quoted string must hold a token once
/// unquoted (R-HV-02). Spaces and tabs are allowed around `,` `;` and `=`,
/// and empty list elements are skipped (RFC 9110 §5.6.1). No fields at all
/// give an empty list. Allocates the result, whose size is bounded by the
/// input's.
///
/// # Errors
///
/// [`HandshakeError::InvalidExtensionHeader`] if a field breaks the grammar
/// or lists no extension (R-HV-03).
///
/// # Examples
///
/// ```
/// use http::HeaderValue;
/// use sockeye_proto::handshake::parse_extensions;
///
/// let value = HeaderValue::from_static(r#"permessage-deflate; client_max_window_bits="10", x-foo"#);
/// let offers = parse_extensions([&value]).unwrap();
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params, [("client_max_window_bits".to_string(), Some("10".to_string()))]);
/// assert_eq!(offers[1].name, "x-foo");
/// ```
pub fn parse_extensions<'a, I>(values: I) -> Result<Vec<ExtensionOffer>, HandshakeError>
where
    I: IntoIterator<Item = &'a HeaderValue>,
{
    let mut offers = Vec::new();
    for value in values {
        Cursor::new(value.as_bytes())
            .extension_list(&mut offers)
            .ok_or(HandshakeError::InvalidExtensionHeader)?;
    }
    Ok(offers)
}

/// Parses `Sec-WebSocket-Protocol` field values of a request into the
/// subprotocols offered, in order (R-HV-01, R-HV-05).
///
/// Each field must list at least one token; empty elements are skipped
/// (RFC 9110 §5.6.1). Every name must be unique (R-CH-11), compared exactly,
/// since subprotocol names are case-sensitive (R-CV-06).
pub(crate) fn parse_protocols<'a, I>(values: I) -> Result<Vec<String>, HandshakeError>
where
    I: IntoIterator<Item = &'a HeaderValue>,
{
    let mut protocols: Vec<String> = Vec::new();
    for value in values {
        let mut listed = false;
        for element in value.as_bytes().split(|&b| b == b',') {
            let element = trim_ows(element);
            if element.is_empty() {
                continue;
            }
            let protocol = token_str(element).ok_or(HandshakeError::InvalidProtocolHeader)?;
            if protocols.iter().any(|p| p == protocol) {
                return Err(HandshakeError::InvalidProtocolHeader);
            }
            protocols.push(protocol.to_owned());
            listed = true;
        }
        if !listed {
            return Err(HandshakeError::InvalidProtocolHeader);
        }
    }
    Ok(protocols)
}

/// The one value of a header field that may appear at most once.
pub(crate) fn single(
    headers: &HeaderMap,
    name: HeaderName,
) -> Result<Option<&HeaderValue>, HandshakeError> {
    let mut values = headers.get_all(&name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(HandshakeError::DuplicateHeader(name));
    }
    Ok(first)
}

/// Whether `b` is a `tchar` (RFC 9110 §5.6.2), the same set as RFC 2616's
/// token characters: visible ASCII except the separators.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `bytes` as a `&str` if it is a non-empty token.
pub(crate) fn token_str(bytes: &[u8]) -> Option<&str> {
    if bytes.is_empty() || !bytes.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    // Tokens are ASCII, so this never fails.
    std::str::from_utf8(bytes).ok()
}

/// `bytes` without leading and trailing spaces and tabs (OWS).
pub(crate) fn trim_ows(bytes: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = bytes.iter().position(|b| !is_ows(b)).unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &bytes[start..end]
}

/// A header value made from text the caller has proven to be visible ASCII
/// and spaces (tokens, base64).
pub(crate) fn ascii_value(text: &str) -> HeaderValue {
    debug_assert!(text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
    // Visible ASCII and spaces always make a valid header value, so the
    // fallback is never taken; it only avoids a panic path.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Writes header fields as `Name: value` lines, names in the customary
/// capitalisation.
///
/// `http` stores names in lowercase. Field names are case-insensitive (RFC
/// 9110 §5.1), but some deployed peers compare them case-sensitively, so we
/// write `Sec-WebSocket-Accept` as RFC 6455 spells it.
pub(crate) fn write_headers(headers: &HeaderMap, dst: &mut BytesMut) {
    for (name, value) in headers {
        write_header(name.as_str(), value, dst);
    }
}

/// Writes one `Name: value` line; see [`write_headers`].
pub(crate) fn write_header(name: &str, value: &HeaderValue, dst: &mut BytesMut) {
    dst.reserve(name.len() + value.len() + 4);
    for (i, word) in name.split('-').enumerate() {
        if i > 0 {
            dst.extend_from_slice(b"-");
        }
        if word == "websocket" {
            dst.extend_from_slice(b"WebSocket");
        } else if let Some(first) = word.as_bytes().first() {
            dst.extend_from_slice(&[first.to_ascii_uppercase()]);
            dst.extend_from_slice(&word.as_bytes()[1..]);
        }
    }
    dst.extend_from_slice(b": ");
    dst.extend_from_slice(value.as_bytes());
    dst.extend_from_slice(b"\r\n");
}

/// A position in one header field value, for the §9.1 grammar.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let found = self.peek() == Some(b);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        token_str(&self.bytes[start..self.pos]).map(str::to_owned)
    }

    /// A quoted-string whose content, once unquoted, is a token (R-HV-02).
    /// Anything else inside the quotes cannot yield a token, so it fails.
    fn quoted_token(&mut self) -> Option<String> {
        if !self.eat(b'"') {
            return None;
        }
        let mut value = String::new();
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => {
                    self.pos += 1;
                    let escaped = self.peek().filter(|&b| is_tchar(b))?;
                    value.push(char::from(escaped));
                }
                b if is_tchar(b) => value.push(char::from(b)),
                _ => return None,
            }
            self.pos += 1;
        }
        self.pos += 1;
        (!value.is_empty()).then_some(value)
    }

    /// `1#extension`, appended to `out`. `None` on any grammar error.
    fn extension_list(mut self, out: &mut Vec<ExtensionOffer>) -> Option<()> {
        let before = out.len();
        loop {
            self.skip_ows();
            if self.eat(b',') {
                continue;
            }
            if self.peek().is_none() {
                break;
            }
            let name = self.token()?;
            let mut params = Vec::new();
            loop {
                self.skip_ows();
                if !self.eat(b';') {
                    break;
                }
                self.skip_ows();
                let param = self.token()?;
                self.skip_ows();
                let value = if self.eat(b'=') {
                    self.skip_ows();
                    if self.peek() == Some(b'"') {
                        Some(self.quoted_token()?)
                    } else {
                        Some(self.token()?)
                    }
                } else {
                    None
                };
                params.push((param, value));
            }
            out.push(ExtensionOffer { name, params });
            match self.peek() {
                None => break,
                Some(b',') => self.pos += 1,
                Some(_) => return None,
            }
        }
        (out.len() > before).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<Vec<ExtensionOffer>, HandshakeError> {
        parse_extensions([&HeaderValue::from_str(value).unwrap()])
    }

    fn offer(name: &str, params: &[(&str, Option<&str>)]) -> ExtensionOffer {
        ExtensionOffer {
            name: name.into(),
            params: params
                .iter()
                .map(|(n, v)| ((*n).to_owned(), v.map(str::to_owned)))
                .collect(),
        }
    }

    #[test]
    fn extensions_with_params_and_whitespace() {
        assert_eq!(
            parse(" permessage-deflate ;client_max_window_bits ; server_max_window_bits = 10 ,x ,")
                .unwrap(),
            [
                offer(
                    "permessage-deflate",
                    &[
                        ("client_max_window_bits", None),
                        ("server_max_window_bits", Some("10"))
                    ]
                ),
                offer("x", &[]),
            ]
        );
    }

    #[test]
    fn quoted_values_are_unquoted() {
        assert_eq!(
            parse(r#"a; b="1"; c="x\-y""#).unwrap(),
            [offer("a", &[("b", Some("1")), ("c", Some("x-y"))])]
        );
    }

    #[test]
    fn malformed_extensions_are_refused() {
        for bad in [
            "",
            " , ",
            "a;",
            "a; =1",
            "a; b=",
            "a; b=\"\"",
            "a; b=\"x y\"",
            "a; b=\"1",
            "a; b=\"a,b\"",
            "a b",
            "a; b=1 2",
            ";a",
            "a/b",
            "a; b=\"\\ \"",
        ] {
            assert_eq!(
                parse(bad),
                Err(HandshakeError::InvalidExtensionHeader),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn display_round_trips() {
        let offers = parse("permessage-deflate; client_max_window_bits=\"15\"; x, y").unwrap();
        let text: Vec<String> = offers.iter().map(ToString::to_string).collect();
        assert_eq!(
            text.join(", "),
            "permessage-deflate; client_max_window_bits=15; x, y"
        );
        assert_eq!(parse(&text.join(", ")).unwrap(), offers);
    }

    #[test]
    fn protocols_skip_empty_elements_and_refuse_duplicates() {
        let values = [
            HeaderValue::from_static("chat, , superchat"),
            HeaderValue::from_static("Chat"),
        ];
        assert_eq!(
            parse_protocols(&values).unwrap(),
            ["chat", "superchat", "Chat"]
        );
        for bad in ["", " , ", "chat, chat", "a b", "a/b", "\"a\""] {
            assert_eq!(
                parse_protocols([&HeaderValue::from_str(bad).unwrap()]),
                Err(HandshakeError::InvalidProtocolHeader),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn token_lists_match_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.append(http::header::UPGRADE, HeaderValue::from_static("h2c"));
        headers.append(
            http::header::UPGRADE,
            HeaderValue::from_static(" WebSocket\t"),
        );
        assert!(header_has_token(
            &headers,
            http::header::UPGRADE,
            "websocket"
        ));
        assert!(!header_has_token(
            &headers,
            http::header::UPGRADE,
            "websocket/13"
        ));
    }

    #[test]
    fn header_names_are_capitalised() {
        let mut dst = BytesMut::new();
        let value = HeaderValue::from_static("v");
        for name in ["sec-websocket-accept", "www-authenticate", "x--y", "host"] {
            write_header(name, &value, &mut dst);
        }
        assert_eq!(
            &dst[..],
            b"Sec-WebSocket-Accept: v\r\nWww-Authenticate: v\r\nX--Y: v\r\nHost: v\r\n"
        );
    }

    #[test]
    fn trim_ows_handles_blank_input() {
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b"\ta b "), b"a b");
    }
}
