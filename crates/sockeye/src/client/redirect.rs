//! Which redirects a client follows, and where they lead (RFC 9110 §15.4).

use http::header;

use crate::error::{Error, HandshakeFailure, Rejected, Result};
use crate::url::{Target, parse_url};

/// The redirects [`ClientBuilder::follow_redirects`](crate::ClientBuilder::follow_redirects)
/// follows: those that name another URL for the same request.
const REDIRECTS: [http::StatusCode; 5] = [
    http::StatusCode::MOVED_PERMANENTLY,
    http::StatusCode::FOUND,
    http::StatusCode::SEE_OTHER,
    http::StatusCode::TEMPORARY_REDIRECT,
    http::StatusCode::PERMANENT_REDIRECT,
];

/// The next URL and its target, when `failure` (the answer to a handshake
/// with `url`, whose target is `current`) is a redirect to follow and
/// `followed` redirects so far leave room under `max`. Any other failure is
/// returned as it is; a redirect that may not be followed fails with the
/// reason.
pub(crate) fn next_hop(
    url: &str,
    current: &Target,
    failure: HandshakeFailure,
    followed: usize,
    max: usize,
) -> Result<(String, Target)> {
    let response = match failure {
        HandshakeFailure::Rejected(response) if REDIRECTS.contains(&response.status()) => response,
        other => return Err(Error::Handshake(Box::new(other))),
    };
    let refuse = |failure: fn(Rejected) -> HandshakeFailure, response: Rejected| {
        Err(Error::Handshake(Box::new(failure(response))))
    };
    if followed >= max {
        return refuse(HandshakeFailure::TooManyRedirects, response);
    }
    let Some((url, next)) = redirect_location(url, &response) else {
        return refuse(HandshakeFailure::InvalidRedirect, response);
    };
    if current.tls && !next.tls {
        return refuse(HandshakeFailure::InsecureRedirect, response);
    }
    // Not the whole URL: its query may hold a token.
    tracing::debug!(status = %response.status(), host = %next.host, "following a redirect");
    Ok((url, next))
}

/// Where a redirect points, as a WebSocket URL and its target: the
/// `Location` resolved against `current` (RFC 9110 §10.2.2), `http`
/// becoming `ws` and `https` `wss`, without credentials or fragment. `None`
/// when there is no usable location.
fn redirect_location(current: &str, response: &Rejected) -> Option<(String, Target)> {
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let mut next = url::Url::parse(current).ok()?.join(location.trim()).ok()?;
    let scheme = match next.scheme() {
        "ws" | "http" => "ws",
        "wss" | "https" => "wss",
        _ => return None,
    };
    next.set_scheme(scheme).ok()?;
    // Only the caller gives credentials: a server cannot add its own.
    next.set_username("").ok()?;
    next.set_password(None).ok()?;
    next.set_fragment(None);
    let next = String::from(next);
    let target = parse_url(&next).ok()?;
    Some((next, target))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn redirect(current: &str, location: &str) -> Option<String> {
        let response = http::Response::builder()
            .status(302)
            .header(header::LOCATION, location)
            .body(Bytes::new())
            .unwrap();
        redirect_location(current, &response).map(|(url, _)| url)
    }

    #[test]
    fn redirect_locations() {
        let here = "ws://example.com:8080/a/b?q=1";
        let cases = [
            ("c", Some("ws://example.com:8080/a/c")),
            ("/x?y", Some("ws://example.com:8080/x?y")),
            ("//other/", Some("ws://other/")),
            ("http://h:80/p", Some("ws://h/p")),
            ("https://h:443/p", Some("wss://h/p")),
            ("HTTPS://h:8443", Some("wss://h:8443/")),
            ("wss://u:p@h/#top", Some("wss://h/")),
            ("ftp://h/", None),
            ("http://", None),
        ];
        for (location, expected) in cases {
            // Without tls, a wss:// URL is not one the client can use.
            let usable = expected.filter(|url| cfg!(feature = "tls") || url.starts_with("ws:"));
            assert_eq!(redirect(here, location).as_deref(), usable, "{location}");
        }
    }
}
