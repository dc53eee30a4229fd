//! WebSocket URLs (RFC 6455 §3): `ws://` and `wss://` parsed into the
//! [`Target`] a client connects to.

use http::Uri;

use crate::error::{Error, Result};

/// Where to connect, from a `ws://` URL (RFC 6455 §3).
#[derive(Debug)]
pub(crate) struct Target {
    /// `host:port` for the TCP connection.
    pub(crate) address: String,
    /// The host alone, for TLS's server name, a proxy and `NO_PROXY`; an
    /// IPv6 address in brackets.
    pub(crate) host: String,
    /// The port, given or default.
    pub(crate) port: u16,
    /// `wss://`.
    pub(crate) tls: bool,
    /// The `Host` header: the port only when not the default (R-CH-06).
    pub(crate) host_header: String,
    /// The resource name: path (or `/`) and query (R-URI-03).
    pub(crate) resource: String,
}

impl Target {
    /// Whether both have the same scheme, host and port (the origin of
    /// RFC 6454 §4).
    pub(crate) fn same_origin(&self, other: &Target) -> bool {
        self.tls == other.tls
            && self.port == other.port
            && self.host.eq_ignore_ascii_case(&other.host)
    }
}

/// Parses a `ws://` or `wss://` URL, refusing what RFC 6455 §3 does not
/// allow before any I/O (R-URI-01..05).
pub(crate) fn parse_url(url: &str) -> Result<Target> {
    // R-URI-04: no fragment, not even an empty one.
    if url.contains('#') {
        return Err(Error::InvalidUrl("a websocket url may not have a fragment"));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| Error::InvalidUrl("not a valid url"))?;
    // R-URI-01: the scheme is case-insensitive.
    let scheme = uri
        .scheme_str()
        .ok_or(Error::InvalidUrl("missing scheme"))?;
    let default_port = if scheme.eq_ignore_ascii_case("ws") {
        80
    } else if scheme.eq_ignore_ascii_case("wss") {
        if !cfg!(feature = "tls") {
            return Err(Error::InvalidUrl(
                "wss:// needs tls: build sockeye with its `tls` feature",
            ));
        }
        443
    } else {
        return Err(Error::InvalidUrl("the scheme must be ws or wss"));
    };
    let authority = uri.authority().ok_or(Error::InvalidUrl("missing host"))?;
    if authority.as_str().contains('@') {
        return Err(Error::InvalidUrl(
            "credentials in the url are not supported; use basic_auth",
        ));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(Error::InvalidUrl("missing host"));
    }
    // R-URI-02
    let port = authority.port_u16().unwrap_or(default_port);
    let host_header = if port == default_port {
        host.to_owned()
    } else {
        format!("{host}:{port}")
    };
    // R-URI-03
    let path = match uri.path() {
        "" => "/",
        path => path,
    };
    let resource = match uri.query() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    };
    Ok(Target {
        address: format!("{host}:{port}"),
        host: host.to_owned(),
        port,
        tls: default_port == 443,
        host_header,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r_uri_03_resource_name() {
        assert_eq!(parse_url("ws://h").unwrap().resource, "/");
        assert_eq!(parse_url("ws://h/a?b=c").unwrap().resource, "/a?b=c");
        assert_eq!(parse_url("ws://h?x=1").unwrap().resource, "/?x=1");
    }

    #[test]
    fn r_uri_02_default_port_and_host_header() {
        let t = parse_url("ws://example.com/").unwrap();
        assert_eq!(
            (t.address.as_str(), t.host_header.as_str()),
            ("example.com:80", "example.com")
        );
        let t = parse_url("WS://example.com:8080/").unwrap();
        assert_eq!(
            (t.address.as_str(), t.host_header.as_str()),
            ("example.com:8080", "example.com:8080")
        );
        let t = parse_url("ws://[::1]:9001/").unwrap();
        assert_eq!(t.address, "[::1]:9001");
    }

    #[test]
    fn r_uri_04_fragments_are_refused_before_io() {
        assert!(matches!(parse_url("ws://h/#x"), Err(Error::InvalidUrl(_))));
        assert!(matches!(parse_url("ws://h/#"), Err(Error::InvalidUrl(_))));
    }

    #[test]
    fn origins() {
        let origin = |url| parse_url(url).unwrap();
        assert!(origin("ws://h/a").same_origin(&origin("ws://H:80/b")));
        #[cfg(feature = "tls")]
        assert!(!origin("ws://h/").same_origin(&origin("wss://h/")));
        assert!(!origin("ws://h/").same_origin(&origin("ws://h:81/")));
        assert!(!origin("ws://h/").same_origin(&origin("ws://g/")));
    }

    #[test]
    fn r_uri_01_only_ws_schemes() {
        assert!(matches!(parse_url("http://h/"), Err(Error::InvalidUrl(_))));
        assert!(matches!(parse_url("h/"), Err(Error::InvalidUrl(_))));
    }
}
