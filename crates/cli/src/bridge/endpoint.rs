//! The spelling of an endpoint on the command line, checked before
//! anything is opened.

use std::fmt;
use std::path::PathBuf;

/// One side of a bridge, as written on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `ws://...` or `wss://...`: a WebSocket client of that URL.
    WsClient(String),
    /// `ws-listen:ADDR`: a WebSocket server, one pair per client.
    WsListen(String),
    /// `tcp:HOST:PORT`: a TCP connection.
    Tcp(String),
    /// `tcp-listen:ADDR`: a TCP server, one pair per client.
    TcpListen(String),
    /// `unix:PATH`: a Unix stream socket connection.
    Unix(PathBuf),
    /// `unix-listen:PATH`: a Unix stream socket server, one pair per client.
    UnixListen(PathBuf),
    /// `udp:HOST:PORT`: datagrams to and from one peer.
    Udp(String),
    /// `udp-listen:ADDR`: a UDP socket, one pair per source address.
    UdpListen(String),
    /// `stdio` or `-`: standard input and output.
    Stdio,
    /// `exec:COMMAND`: a program run by `sh -c`, its stdin and stdout.
    Exec(String),
}

/// The endpoint spellings, for error messages and `--help`.
pub(crate) const SPELLINGS: &str = "ws://URL, wss://URL, ws-listen:ADDR, tcp:HOST:PORT, \
tcp-listen:ADDR, unix:PATH, unix-listen:PATH, udp:HOST:PORT, udp-listen:ADDR, stdio (or -), \
exec:COMMAND";

impl Endpoint {
    /// Whether this endpoint waits for clients (one pair each) rather than
    /// opening one connection.
    pub(crate) fn is_listening(&self) -> bool {
        matches!(
            self,
            Endpoint::WsListen(_)
                | Endpoint::TcpListen(_)
                | Endpoint::UnixListen(_)
                | Endpoint::UdpListen(_)
        )
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::WsClient(url) => f.write_str(url),
            Endpoint::WsListen(addr) => write!(f, "ws-listen:{addr}"),
            Endpoint::Tcp(addr) => write!(f, "tcp:{addr}"),
            Endpoint::TcpListen(addr) => write!(f, "tcp-listen:{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
            Endpoint::UnixListen(path) => write!(f, "unix-listen:{}", path.display()),
            Endpoint::Udp(addr) => write!(f, "udp:{addr}"),
            Endpoint::UdpListen(addr) => write!(f, "udp-listen:{addr}"),
            Endpoint::Stdio => f.write_str("stdio"),
            Endpoint::Exec(command) => write!(f, "exec:{command}"),
        }
    }
}

/// Parses an endpoint (clap's value parser): the error says what was
/// expected, and clap exits with its usage status.
pub(crate) fn parse(text: &str) -> Result<Endpoint, String> {
    if text == "-" || text == "stdio" {
        return Ok(Endpoint::Stdio);
    }
    if text.starts_with("ws://") || text.starts_with("wss://") {
        return url_endpoint(text);
    }
    let Some((kind, rest)) = text.split_once(':') else {
        return Err(format!("unknown endpoint; expected one of {SPELLINGS}"));
    };
    match kind {
        "ws-listen" | "ws-l" => listen_addr(rest).map(Endpoint::WsListen),
        "tcp" => host_port(rest).map(Endpoint::Tcp),
        "tcp-listen" | "tcp-l" => listen_addr(rest).map(Endpoint::TcpListen),
        "udp" => host_port(rest).map(Endpoint::Udp),
        "udp-listen" | "udp-l" => listen_addr(rest).map(Endpoint::UdpListen),
        "unix" => path(rest).map(Endpoint::Unix),
        "unix-listen" | "unix-l" => path(rest).map(Endpoint::UnixListen),
        "exec" if rest.trim().is_empty() => Err("exec: needs a command".to_owned()),
        "exec" => Ok(Endpoint::Exec(rest.to_owned())),
        _ => Err(format!(
            "unknown endpoint type {kind:?}; expected one of {SPELLINGS}"
        )),
    }
}

/// A `ws://` or `wss://` URL with a host.
fn url_endpoint(text: &str) -> Result<Endpoint, String> {
    let rest = text.split_once("://").map_or("", |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    Ok(Endpoint::WsClient(text.to_owned()))
}

/// `HOST:PORT`, with a non-empty host (a name, an IPv4 address or a
/// bracketed IPv6 address) and a port number.
fn host_port(text: &str) -> Result<String, String> {
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err(format!("expected HOST:PORT, got {text:?}"));
    };
    if host.is_empty() || host == "[]" {
        return Err(format!("expected HOST:PORT, got {text:?} (no host)"));
    }
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        return Err(format!(
            "expected HOST:PORT, got {text:?} (an IPv6 address goes in brackets)"
        ));
    }
    port.parse::<u16>()
        .map_err(|_| format!("expected HOST:PORT, got {text:?} (bad port {port:?})"))?;
    Ok(text.to_owned())
}

/// A listening address: `HOST:PORT`, or a bare `PORT` meaning
/// `127.0.0.1:PORT` (loopback unless asked otherwise, as websocat does).
fn listen_addr(text: &str) -> Result<String, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u16>()
            .map_err(|_| format!("bad port {text:?}"))?;
        return Ok(format!("127.0.0.1:{text}"));
    }
    host_port(text)
}

/// A non-empty socket path.
fn path(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("expected a socket path".to_owned());
    }
    Ok(PathBuf::from(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_spelling() {
        let cases = [
            ("-", Endpoint::Stdio),
            ("stdio", Endpoint::Stdio),
            ("ws://h:1/p", Endpoint::WsClient("ws://h:1/p".into())),
            ("wss://h/p", Endpoint::WsClient("wss://h/p".into())),
            (
                "ws-listen:0.0.0.0:80",
                Endpoint::WsListen("0.0.0.0:80".into()),
            ),
            (
                "ws-listen:8080",
                Endpoint::WsListen("127.0.0.1:8080".into()),
            ),
            ("tcp:example.com:22", Endpoint::Tcp("example.com:22".into())),
            ("tcp:[::1]:22", Endpoint::Tcp("[::1]:22".into())),
            (
                "tcp-listen:127.0.0.1:0",
                Endpoint::TcpListen("127.0.0.1:0".into()),
            ),
            ("unix:/tmp/s", Endpoint::Unix("/tmp/s".into())),
            ("unix-listen:s", Endpoint::UnixListen("s".into())),
            ("udp:h:53", Endpoint::Udp("h:53".into())),
            ("udp-listen:[::]:53", Endpoint::UdpListen("[::]:53".into())),
            ("exec:tr a-z A-Z", Endpoint::Exec("tr a-z A-Z".into())),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_bad_spellings_with_a_reason() {
        for text in [
            "",
            "foo",
            "foo:bar",
            "tcp:host",
            "tcp::80",
            "tcp:host:99999",
            "tcp:::1:80",
            "udp:host:port",
            "unix:",
            "exec:",
            "exec:  ",
            "ws://",
            "ws-listen:",
            "tcp-listen:70000",
        ] {
            let error = parse(text).expect_err(text);
            assert!(!error.is_empty(), "{text}");
        }
    }
}
