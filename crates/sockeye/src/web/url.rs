//! The constructor's URL (WHATWG WebSocket standard, "new WebSocket(url)"):
//! parsed by the URL Standard's rules (the `url` crate), `http`/`https`
//! mapped to `ws`/`wss`, other schemes refused, and a fragment reported so
//! the constructor can refuse it.

use super::DomError;

/// A parsed WebSocket URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    url: url::Url,
    /// The URL had a fragment, even an empty one (W-CTOR-04).
    pub(crate) fragment: bool,
    pub(crate) username: String,
    pub(crate) password: String,
}

impl Parsed {
    /// The origin, as a `MessageEvent` carries it (W-EV-05).
    pub(crate) fn origin(&self) -> String {
        self.url.origin().ascii_serialization()
    }

    /// The URL to connect to: credentials and fragment left out (the
    /// credentials go in an `Authorization` header).
    pub(crate) fn without_credentials(&self) -> String {
        let mut url = self.url.clone();
        // Always possible for ws/wss URLs, which have a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        url.into()
    }

    /// The URL serialised, as `url()` returns it (W-URL-01).
    pub(crate) fn serialize(&self) -> String {
        let mut url = self.url.clone();
        url.set_fragment(None);
        url.into()
    }
}

/// Parses `input` as the constructor does (W-CTOR-01 to W-CTOR-04).
pub(crate) fn parse(input: &str) -> Result<Parsed, DomError> {
    let mut url = url::Url::parse(input).map_err(|e| DomError::InvalidUrl(describe(e)))?;
    let scheme = match url.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        other => return Err(DomError::UnsupportedScheme(other.to_owned())),
    };
    if url.scheme() != scheme && url.set_scheme(scheme).is_err() {
        return Err(DomError::InvalidUrl("the scheme cannot be changed"));
    }
    if url.host().is_none() {
        return Err(DomError::InvalidUrl("the url has no host"));
    }
    Ok(Parsed {
        fragment: url.fragment().is_some(),
        username: url.username().to_owned(),
        password: url.password().unwrap_or_default().to_owned(),
        url,
    })
}

/// What was wrong with the URL, in words.
fn describe(error: url::ParseError) -> &'static str {
    use url::ParseError as E;
    match error {
        E::EmptyHost => "the url has no host",
        E::IdnaError => "the host is not a valid international domain name",
        E::InvalidPort => "an invalid port",
        E::InvalidIpv4Address => "an invalid ipv4 address",
        E::InvalidIpv6Address => "an invalid ipv6 address",
        E::InvalidDomainCharacter => "the host has a character not allowed",
        E::RelativeUrlWithoutBase => "a relative url",
        _ => "the url cannot be parsed",
    }
}

/// A user name or password from the URL, percent-decoded.
pub(crate) fn decode_component(input: &str) -> String {
    percent_encoding::percent_decode_str(input)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(input: &str) -> String {
        parse(input).unwrap().serialize()
    }

    #[test]
    fn w_ctor_02_http_schemes_map_to_ws() {
        assert_eq!(url("http://h/"), "ws://h/");
        assert_eq!(url("https://h/"), "wss://h/");
        assert_eq!(url("HTTP://h:80/"), "ws://h/");
        assert_eq!(url("https://h:443/x"), "wss://h/x");
    }

    #[test]
    fn w_ctor_03_other_schemes_are_refused() {
        for input in [
            "ftp://h/",
            "mailto:a@b",
            "about:blank",
            "file:///x",
            "data:,x",
        ] {
            assert!(
                matches!(parse(input), Err(DomError::UnsupportedScheme(_))),
                "{input}"
            );
        }
    }

    #[test]
    fn w_ctor_01_unparsable_and_relative_urls_are_refused() {
        for input in [
            "ws://foo bar.com/",
            "wss://foo bar.com/",
            "test",
            "?",
            "null",
            "123",
            "/path",
            "ws://",
            "ws://[::1/",
            "ws://h:99999/",
            "ws://h:8o/",
            "ws://256.0.0.1/",
            "ws://1.2.3.4.5/",
            "ws://a%20b/",
            "ws://user@/",
        ] {
            assert!(
                matches!(parse(input), Err(DomError::InvalidUrl(_))),
                "{input}: {:?}",
                parse(input)
            );
        }
    }

    #[test]
    fn w_ctor_04_fragments_are_reported() {
        assert!(parse("ws://h/#").unwrap().fragment);
        assert!(parse("ws://h/#x").unwrap().fragment);
        assert!(parse("ws://h/?a#b").unwrap().fragment);
        assert!(parse("ws://h#").unwrap().fragment);
        assert!(!parse("ws://h/?a").unwrap().fragment);
    }

    #[test]
    fn w_ctor_08_serialisation() {
        // url/001
        assert_eq!(url("ws://h:1234"), "ws://h:1234/");
        // url/resolve
        assert_eq!(url("ws://h/?a b"), "ws://h/?a%20b");
        // windows-1252 test: always UTF-8
        assert_eq!(url("ws://h/?€"), "ws://h/?%E2%82%AC");
        // constructor/019, /020
        assert_eq!(url("WS://EXAMPLE.com/Path"), "ws://example.com/Path");
        // constructor/018
        assert_eq!(url(" \u{1}ws://h/?a\0b\u{1f} "), "ws://h/?a%00b");
        // default ports dropped; other ports kept (constructor/008)
        assert_eq!(url("ws://h:80/"), "ws://h/");
        assert_eq!(url("wss://h:443/"), "wss://h/");
        assert_eq!(url("ws://h:443/"), "ws://h:443/");
        assert_eq!(url("wss://h:80/"), "wss://h:80/");
        assert_eq!(url("ws://h:0080/"), "ws://h/");
        assert_eq!(url("ws://h:/"), "ws://h/");
    }

    #[test]
    fn constructor_017_slash_forms() {
        assert_eq!(url("ws:h/x"), "ws://h/x");
        assert_eq!(url("ws:/h/x"), "ws://h/x");
        assert_eq!(url("ws:///h/x"), "ws://h/x");
        assert_eq!(url("ws:\\\\h\\x"), "ws://h/x");
    }

    #[test]
    fn paths_and_queries() {
        assert_eq!(url("ws://h"), "ws://h/");
        assert_eq!(url("ws://h?x=1"), "ws://h/?x=1");
        assert_eq!(url("ws://h/?"), "ws://h/?");
        assert_eq!(url("ws://h/a/./b/../c"), "ws://h/a/c");
        assert_eq!(url("ws://h/a/.."), "ws://h/");
        assert_eq!(url("ws://h/a/%2E%2e/b"), "ws://h/b");
        assert_eq!(url("ws://h/a/"), "ws://h/a/");
        assert_eq!(url("ws://h/a b/\"{}`"), "ws://h/a%20b/%22%7B%7D%60");
        assert_eq!(url("ws://h/é"), "ws://h/%C3%A9");
        assert_eq!(url("ws://h/%zz"), "ws://h/%zz");
        assert_eq!(url("ws://h/?'\"<>"), "ws://h/?%27%22%3C%3E");
        assert_eq!(url("ws://h/p\tq\nr"), "ws://h/pqr");
    }

    #[test]
    fn hosts() {
        assert_eq!(url("ws://127.0.0.1:9/"), "ws://127.0.0.1:9/");
        assert_eq!(url("ws://0x7f.1/"), "ws://127.0.0.1/");
        assert_eq!(url("ws://2130706433/"), "ws://127.0.0.1/");
        assert_eq!(url("ws://0177.0.0.1/"), "ws://127.0.0.1/");
        assert_eq!(url("ws://127.1./"), "ws://127.0.0.1/");
        assert_eq!(url("ws://[::1]:9001/"), "ws://[::1]:9001/");
        assert_eq!(url("ws://[0:0:0:0:0:0:0:1]/"), "ws://[::1]/");
        assert_eq!(url("ws://[1:0:0:2:0:0:0:3]/"), "ws://[1:0:0:2::3]/");
        assert_eq!(url("ws://[::ffff:1.2.3.4]/"), "ws://[::ffff:102:304]/");
        assert_eq!(url("ws://[ABCD::]/"), "ws://[abcd::]/");
        assert_eq!(url("ws://%41.com/"), "ws://a.com/");
        assert_eq!(url("ws://bücher.example/"), "ws://xn--bcher-kva.example/");
        assert_eq!(url("ws://MÜNCHEN.de/"), "ws://xn--mnchen-3ya.de/");
    }

    #[test]
    fn w_ctor_10_credentials_are_kept_in_the_url() {
        let parsed = parse("ws://foo:bar@h/x").unwrap();
        assert_eq!(
            (parsed.username.as_str(), parsed.password.as_str()),
            ("foo", "bar")
        );
        assert_eq!(parsed.serialize(), "ws://foo:bar@h/x");
        assert_eq!(parsed.without_credentials(), "ws://h/x");
        assert_eq!(url("ws://a@b@h/"), "ws://a%40b@h/");
        assert_eq!(decode_component("a%40b"), "a@b");
    }

    #[test]
    fn w_ev_05_origin() {
        assert_eq!(parse("ws://H:80/x?y").unwrap().origin(), "ws://h");
        assert_eq!(parse("https://h:8443/").unwrap().origin(), "wss://h:8443");
    }
}
