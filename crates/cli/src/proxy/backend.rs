//! The backend: its URL, the opening handshake the proxy sends it for each
//! client, and what the client is answered when the backend cannot be
//! reached or refuses.
//!
//! # Headers
//!
//! Toward the backend, the client's end-to-end headers pass as they came
//! (`Origin`, `Cookie`, `Authorization`, `User-Agent`, `Accept-Language`,
//! custom `X-` headers...), as an HTTP reverse proxy passes them. These do
//! not:
//!
//! - hop-by-hop headers (RFC 9110 §7.6.1): `Connection` and the headers it
//!   names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`,
//!   `Transfer-Encoding`, `Upgrade`, `Proxy-Authorization`,
//!   `Proxy-Authenticate`;
//! - the handshake's own, which the proxy's client writes for its own
//!   connection: `Host` (the backend's, from `--to`), `Content-Length`,
//!   `Sec-WebSocket-Key`, `-Version`, `-Extensions` and `-Accept`; the
//!   client's `Sec-WebSocket-Protocol` offer is passed in its order;
//! - the forwarding headers, which the proxy writes: `X-Forwarded-For` and
//!   `Forwarded` (RFC 7239) get the client's address appended to what the
//!   client sent (so the last entry is the one this proxy vouches for),
//!   and `X-Forwarded-Proto` (`http` or `https`) and `X-Forwarded-Host`
//!   (the client's `Host`) are replaced.
//!
//! Back toward the client, the backend's 101 answer gives its chosen
//! subprotocol and its end-to-end headers (such as `Set-Cookie`); a
//! refusal gives its status, headers and body (see [`answer_to_client`]).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Response, StatusCode};
use sockeye::pki_types::CertificateDer;
use sockeye::rustls::ClientConfig;
use sockeye::{Accept, ClientBuilder, ClientStream, UpgradeRequest, WebSocket, WebSocketConfig};

use super::Args;
use super::front::hop_config;
use crate::describe;

/// Request and response headers that never pass through the proxy: hop by
/// hop, the handshake's own, and those the proxy writes itself.
const NOT_PASSED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
];

/// The backend of `--to`, and how to reach it.
pub(super) struct Backend {
    /// `ws://host[:port]` or `wss://host[:port]`.
    base: String,
    /// The path of --to, without a trailing slash: the client's path is
    /// appended to it.
    path: String,
    /// The query of --to, before the client's.
    query: Option<String>,
    /// Limits, keepalive, closing handshake and write buffer.
    config: WebSocketConfig,
    connect_timeout: Duration,
    handshake_timeout: Duration,
    tls: BackendTls,
}

/// How the backend's certificate is checked, for `wss://`.
enum BackendTls {
    /// Against the default roots.
    Default,
    /// Against the default roots and those of --ca.
    ExtraRoots(Vec<CertificateDer<'static>>),
    /// Not at all (--insecure).
    Unchecked(Arc<ClientConfig>),
}

impl Backend {
    /// The backend the flags describe; the error is the line to print.
    pub(super) fn new(args: &Args) -> Result<Self, String> {
        let (base, path, query) = split_url(&args.to)?;
        let tls = if args.insecure {
            if base.starts_with("wss://") {
                tracing::warn!(
                    "--insecure: the backend's certificate is not checked; \
                     anyone on the path to it can read and change the traffic"
                );
            }
            BackendTls::Unchecked(
                crate::insecure::client_config(None, false)
                    .map_err(|e| format!("cannot set up tls: {e}"))?,
            )
        } else if args.ca.is_empty() {
            BackendTls::Default
        } else {
            let mut roots = Vec::new();
            for path in &args.ca {
                let found = sockeye::tls::certificates_from_pem_file(path)
                    .map_err(|e| format!("cannot use --ca {}: {}", path.display(), describe(&e)))?;
                roots.extend(found);
            }
            BackendTls::ExtraRoots(roots)
        };
        Ok(Backend {
            base,
            path,
            query,
            config: hop_config(args),
            connect_timeout: args.connect_timeout,
            handshake_timeout: args.timeouts.handshake_timeout,
            tls,
        })
    }

    /// The backend's URL for a client that asked for `uri`: its path and
    /// query appended to those of --to.
    fn url_for(&self, uri: &http::Uri) -> String {
        let mut url = format!("{}{}{}", self.base, self.path, uri.path());
        let query = match (self.query.as_deref(), uri.query()) {
            (Some(ours), Some(theirs)) => Some(format!("{ours}&{theirs}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        };
        if let Some(query) = query {
            url.push('?');
            url.push_str(&query);
        }
        url
    }

    /// Opens the backend's connection for the client's `request` from
    /// `peer` (over TLS if `secure`): the open connection and how to accept
    /// the client (the subprotocol the backend chose, its headers), or the
    /// answer to refuse the client with.
    pub(super) async fn open(
        &self,
        request: &UpgradeRequest,
        peer: SocketAddr,
        secure: bool,
        id: u64,
    ) -> Result<(WebSocket<ClientStream>, Accept), Response<Bytes>> {
        let url = self.url_for(request.uri());
        // Logged without the query, which may carry a token.
        let logged = url.split_once('?').map_or(url.as_str(), |(path, _)| path);
        let mut builder = ClientBuilder::new(url.as_str())
            .config(self.config.clone())
            // Compression on the backend's side would cost zlib state per
            // connection for a peer that is usually near.
            .deflate(None)
            .connect_timeout(self.connect_timeout)
            .handshake_timeout(self.handshake_timeout)
            .protocols(request.protocols().iter().cloned());
        builder = match &self.tls {
            BackendTls::Default => builder,
            BackendTls::ExtraRoots(roots) => roots.iter().fold(builder, |builder, root| {
                builder.add_root_certificate(root.clone())
            }),
            BackendTls::Unchecked(config) => builder.tls_config(Arc::clone(config)),
        };
        for (name, value) in forwarded_headers(request.headers(), peer.ip(), secure) {
            builder = builder.header(name, value);
        }
        match builder.connect().await {
            Ok((ws, response)) => {
                tracing::debug!(id, url = logged, protocol = ws.protocol(), "backend open");
                let mut accept = Accept::new();
                if let Some(protocol) = ws.protocol() {
                    accept = accept.protocol(protocol);
                }
                for (name, value) in passed(response.headers()) {
                    accept = accept.header(name.clone(), value.clone());
                }
                Ok((ws, accept))
            }
            Err(e) => Err(answer_to_client(&e, logged, id)),
        }
    }
}

/// The URL of --to split into its scheme and authority, its path without
/// a trailing slash, and its query; the error is the line to print.
fn split_url(to: &str) -> Result<(String, String, Option<String>), String> {
    let uri: http::Uri = to
        .parse()
        .map_err(|e| format!("invalid --to URL {to:?}: {e}"))?;
    let scheme = uri
        .scheme_str()
        .map(str::to_ascii_lowercase)
        .filter(|scheme| scheme == "ws" || scheme == "wss")
        .ok_or_else(|| format!("--to must be a ws:// or wss:// URL, not {to:?}"))?;
    let authority = uri
        .authority()
        .filter(|authority| !authority.host().is_empty())
        .ok_or_else(|| format!("--to has no host: {to:?}"))?;
    if authority.as_str().contains('@') {
        return Err(format!("--to may not hold credentials: {to:?}"));
    }
    let path = uri.path().trim_end_matches('/').to_owned();
    Ok((
        format!("{scheme}://{authority}"),
        path,
        uri.query().map(str::to_owned),
    ))
}

/// The headers of `headers` that pass through the proxy: not hop by hop,
/// nor named by `Connection`, nor the handshake's own, nor the forwarding
/// headers the proxy writes.
fn passed(headers: &HeaderMap) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
    let named_by_connection: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .collect();
    headers.iter().filter(move |(name, _)| {
        let name = name.as_str();
        !NOT_PASSED.contains(&name) && !named_by_connection.iter().any(|named| named == name)
    })
}

/// The headers of the backend's request: the client's that pass, then
/// `X-Forwarded-For` and `Forwarded` with the client's address appended,
/// and `X-Forwarded-Proto` and `X-Forwarded-Host`.
fn forwarded_headers(
    headers: &HeaderMap,
    client: IpAddr,
    secure: bool,
) -> Vec<(HeaderName, HeaderValue)> {
    let client = client.to_canonical();
    let proto = if secure { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok());
    let mut out: Vec<(HeaderName, HeaderValue)> = passed(headers)
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let mut forwarded_for = joined(headers, "x-forwarded-for");
    forwarded_for.push(client.to_string());
    let mut forwarded = joined(headers, "forwarded");
    forwarded.push(forwarded_element(client, host, proto));
    let mut add = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::try_from(value) {
            out.push((HeaderName::from_static(name), value));
        }
    };
    add("x-forwarded-for", forwarded_for.join(", "));
    add("forwarded", forwarded.join(", "));
    add("x-forwarded-proto", proto.to_owned());
    if let Some(host) = host {
        add("x-forwarded-host", host.to_owned());
    }
    out
}

/// The values of every `name` header, as text (those that are not are
/// left out).
fn joined(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .collect()
}

/// One element of `Forwarded` (RFC 7239 §4): who the client is, the host
/// it asked for and the protocol it spoke. An IPv6 address is bracketed
/// and quoted (§6), the host quoted (it holds a `:`).
fn forwarded_element(client: IpAddr, host: Option<&str>, proto: &str) -> String {
    let mut element = match client {
        IpAddr::V4(ip) => format!("for={ip}"),
        IpAddr::V6(ip) => format!("for=\"[{ip}]\""),
    };
    if let Some(host) = host {
        element.push_str(";host=\"");
        for c in host.chars() {
            if c == '"' || c == '\\' {
                element.push('\\');
            }
            element.push(c);
        }
        element.push('"');
    }
    element.push_str(";proto=");
    element.push_str(proto);
    element
}

/// The answer to the client when the backend's handshake failed. A 4xx
/// refusal (401 with its `WWW-Authenticate`, 403, 404...) and 503 pass as
/// the backend sent them, headers and body; any other answer (a redirect,
/// which points into the backend's namespace, or a 5xx) becomes 502 Bad
/// Gateway; a backend that cannot be reached or answers wrongly gives 502,
/// one too slow 504 Gateway Timeout.
fn answer_to_client(error: &sockeye::Error, url: &str, id: u64) -> Response<Bytes> {
    if let Some(rejected) = error.rejection() {
        let status = rejected.status();
        tracing::debug!(id, %url, %status, "the backend refused");
        if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE {
            let mut response = Response::new(rejected.body().clone());
            *response.status_mut() = status;
            for (name, value) in passed(rejected.headers()) {
                response.headers_mut().append(name.clone(), value.clone());
            }
            return response;
        }
        return gateway_error(StatusCode::BAD_GATEWAY);
    }
    tracing::warn!(id, %url, error = %describe(error), "cannot open the backend's connection");
    if error.is_timeout() {
        gateway_error(StatusCode::GATEWAY_TIMEOUT)
    } else {
        gateway_error(StatusCode::BAD_GATEWAY)
    }
}

/// A plain-text answer with `status` (502 or 504).
fn gateway_error(status: StatusCode) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(format!(
        "{}: the backend could not be reached\n",
        status.canonical_reason().unwrap_or("gateway error")
    )));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clients_path_and_query_are_appended_to_those_of_the_backend() {
        let backend = |to: &str| {
            let (base, path, query) = split_url(to).unwrap();
            move |asked: &str| {
                let b = Backend {
                    base: base.clone(),
                    path: path.clone(),
                    query: query.clone(),
                    config: WebSocketConfig::default(),
                    connect_timeout: Duration::ZERO,
                    handshake_timeout: Duration::ZERO,
                    tls: BackendTls::Default,
                };
                b.url_for(&asked.parse().unwrap())
            }
        };
        let root = backend("ws://b:9001");
        assert_eq!(root("/"), "ws://b:9001/");
        assert_eq!(root("/chat?room=1"), "ws://b:9001/chat?room=1");
        let app = backend("WSS://b/app/?key=k");
        assert_eq!(app("/"), "wss://b/app/?key=k");
        assert_eq!(app("/chat?room=1"), "wss://b/app/chat?key=k&room=1");
    }

    #[test]
    fn only_ws_and_wss_urls_with_a_host_are_backends() {
        for bad in [
            "http://b/",
            "b:9001",
            "ws:///path",
            "ws://user:pw@b/",
            "not a url",
        ] {
            assert!(split_url(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn forwarded_quotes_ipv6_addresses_and_hosts() {
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(
            forwarded_element(v6, Some("a\"b:1"), "https"),
            "for=\"[2001:db8::1]\";host=\"a\\\"b:1\";proto=https"
        );
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        let headers = forwarded_headers(&HeaderMap::new(), mapped, false);
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("x-forwarded-for").as_deref(), Some("192.0.2.7"));
        assert_eq!(
            get("forwarded").as_deref(),
            Some("for=192.0.2.7;proto=http")
        );
        assert_eq!(get("x-forwarded-host"), None);
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_do_not_pass() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "Upgrade, X-Secret"),
            ("upgrade", "websocket"),
            ("x-secret", "1"),
            ("keep-alive", "5"),
            ("sec-websocket-key", "abc"),
            ("cookie", "a=b"),
            ("origin", "https://example.com"),
            ("x-forwarded-for", "203.0.113.9"),
        ] {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        let names: Vec<&str> = passed(&headers).map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["cookie", "origin"]);
    }
}
