//! The environment of a connection's program: CGI-style variables
//! (RFC 3875 §4.1) describing the request, as websocketd sets them, and
//! nothing of the server's own environment but `PATH`, `LD_LIBRARY_PATH`
//! and what `--passenv` names.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::unix::ffi::OsStringExt;

use sockeye::UpgradeRequest;

/// The `PATH` given to programs when the server has none.
const FALLBACK_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// An environment: names and values, in the order set (a later one wins).
pub(super) type Environment = Vec<(OsString, OsString)>;

/// The variables of the server's environment that every program gets,
/// as websocketd passes them by default: `PATH` (a program without one
/// finds nothing) and `LD_LIBRARY_PATH` (nor its shared libraries).
const ALWAYS_PASSED: [&str; 2] = ["PATH", "LD_LIBRARY_PATH"];

/// The variables of the server's environment that every program gets,
/// read once at start: [`ALWAYS_PASSED`] and those `--passenv` names,
/// when set (`PATH` always is).
pub(super) fn passed_on(names: &[String]) -> Environment {
    let mut passed = vec![(
        OsString::from("PATH"),
        std::env::var_os("PATH").unwrap_or_else(|| FALLBACK_PATH.into()),
    )];
    let names = ALWAYS_PASSED
        .into_iter()
        .chain(names.iter().map(|name| name.trim()));
    for name in names {
        if name.is_empty() || name == "PATH" || passed.iter().any(|(set, _)| set == name) {
            continue;
        }
        if let Some(value) = std::env::var_os(name) {
            passed.push((name.into(), value));
        }
    }
    passed
}

/// What a connection's environment is made of, besides the request.
#[derive(Debug)]
pub(super) struct Connection<'a> {
    /// The peer's address and ours; `None` where there is no socket.
    pub(super) addresses: Option<(SocketAddr, SocketAddr)>,
    /// Served over TLS.
    pub(super) tls: bool,
    /// The connection's id in the log.
    pub(super) id: u64,
    /// The path up to the program (`--dir`), or `/`.
    pub(super) script_name: &'a str,
    /// The rest of the path.
    pub(super) path_info: &'a str,
    /// The subprotocol agreed, if any.
    pub(super) protocol: Option<&'a str>,
}

/// The program's environment: `passed` (from [`passed_on`]), then the
/// request's variables.
///
/// Request header `Name-Here` becomes `HTTP_NAME_HERE` (any character
/// other than a letter or digit becomes `_`), its values joined with
/// `, `. The `Proxy` header is left out: as `HTTP_PROXY` it would tell
/// many programs which proxy to use ("httpoxy").
pub(super) fn cgi(
    request: &UpgradeRequest,
    passed: &[(OsString, OsString)],
    at: &Connection<'_>,
) -> Environment {
    let mut env: Environment = passed.to_vec();
    let mut set = |name: &str, value: OsString| env.push((name.into(), value));
    let uri = request.uri();
    set(
        "SERVER_SOFTWARE",
        concat!("sockeye/", env!("CARGO_PKG_VERSION")).into(),
    );
    set("GATEWAY_INTERFACE", "CGI/1.1".into());
    // Set empty, as websocketd does: they mean nothing here (no request
    // body; authentication is the program's business).
    for unused in [
        "AUTH_TYPE",
        "CONTENT_LENGTH",
        "CONTENT_TYPE",
        "REMOTE_IDENT",
        "REMOTE_USER",
    ] {
        set(unused, OsString::new());
    }
    if let Some((peer, local)) = at.addresses {
        set("REMOTE_ADDR", peer.ip().to_string().into());
        // No reverse lookup: RFC 3875 §4.1.9 says to use the address.
        set("REMOTE_HOST", peer.ip().to_string().into());
        set("REMOTE_PORT", peer.port().to_string().into());
        set("SERVER_PORT", local.port().to_string().into());
        set(
            "SERVER_NAME",
            server_name(request)
                .unwrap_or_else(|| local.ip().to_string())
                .into(),
        );
    } else if let Some(name) = server_name(request) {
        set("SERVER_NAME", name.into());
    }
    set("SERVER_PROTOCOL", format!("{:?}", request.version()).into());
    set("REQUEST_METHOD", request.method().as_str().into());
    set(
        "REQUEST_URI",
        uri.path_and_query()
            .map_or(uri.path(), |p| p.as_str())
            .into(),
    );
    set("SCRIPT_NAME", at.script_name.into());
    set("PATH_INFO", at.path_info.into());
    // The request's path, as websocketd gives it.
    set("PATH_TRANSLATED", uri.path().into());
    set("QUERY_STRING", uri.query().unwrap_or_default().into());
    set("UNIQUE_ID", at.id.to_string().into());
    set(
        "SEC_WEBSOCKET_PROTOCOL",
        at.protocol.unwrap_or_default().into(),
    );
    if at.tls {
        set("HTTPS", "on".into());
    }
    for name in request.headers().keys() {
        if name == "proxy" {
            continue;
        }
        let mut value = Vec::new();
        for (index, part) in request.headers().get_all(name).iter().enumerate() {
            if index > 0 {
                value.extend_from_slice(b", ");
            }
            value.extend_from_slice(part.as_bytes());
        }
        env.push((
            header_variable(name.as_str()).into(),
            OsString::from_vec(value),
        ));
    }
    env
}

/// `HTTP_` and the header's name, uppercased, anything but a letter or a
/// digit turned into `_`.
fn header_variable(name: &str) -> String {
    let mut variable = String::with_capacity(5 + name.len());
    variable.push_str("HTTP_");
    variable.extend(name.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    variable
}

/// The host the client asked for (the `Host` header or the target's
/// authority), without its port.
fn server_name(request: &UpgradeRequest) -> Option<String> {
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .or_else(|| request.uri().host())?;
    let host = match host.strip_prefix('[') {
        // An IPv6 literal: `[::1]:9001`.
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    (!host.is_empty()).then(|| host.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_become_cgi_variables() {
        assert_eq!(header_variable("user-agent"), "HTTP_USER_AGENT");
        assert_eq!(header_variable("x-a.b"), "HTTP_X_A_B");
        assert_eq!(
            header_variable("sec-websocket-protocol"),
            "HTTP_SEC_WEBSOCKET_PROTOCOL"
        );
    }
}
