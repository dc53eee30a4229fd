//! Client proxies: HTTP `CONNECT` tunnels (RFC 9110 §9.3.6) and SOCKS5
//! (RFC 1928, with the user name and password of RFC 1929), given by URL
//! to [`ClientBuilder::proxy`](crate::ClientBuilder::proxy) or taken from
//! the environment by [`ProxyEnv`].
//!
//! A proxy only carries bytes: sockeye asks it for a tunnel to the
//! server's host and port (R-CH-02), then runs TLS for `wss://` and the
//! opening handshake inside the tunnel, so the proxy sees neither.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};

use base64::Engine as _;
use bytes::BytesMut;
use http::Response;
use percent_encoding::percent_decode_str;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::error::{Error, ProxyError, Result};
use crate::http1::{HeadError, read_body, read_response_head};

/// The kind of proxy, from its URL's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    /// `http://`: an HTTP proxy asked with `CONNECT`.
    Http,
    /// `socks5://`: the proxy resolves the server's name.
    Socks5,
    /// `socks5h://`: the same; the `h` is curl's way of asking for it.
    Socks5h,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Socks5 => "socks5",
            Scheme::Socks5h => "socks5h",
        }
    }
}

/// A proxy that client connections go through: an HTTP proxy that opens
/// tunnels with `CONNECT`, or a SOCKS5 proxy.
///
/// Made from a URL:
///
/// - `http://[user:password@]host[:port]` (port 80 by default): the
///   credentials go in `Proxy-Authorization: Basic`. A URL without a
///   scheme, `host:port`, means `http://`.
/// - `socks5://[user:password@]host[:port]` or `socks5h://…` (port 1080
///   by default): both send the server's host name to the proxy, which
///   resolves it (as Go does; curl resolves names itself for `socks5://`).
///   The user name and password, each 1 to 255 bytes, go through RFC 1929.
///
/// Credentials are percent-decoded (`p%40ss` is `p@ss`). `https://`
/// proxies, reached over TLS, are not supported.
///
/// `Debug` and `Display` show the user name but never the password.
///
/// # Examples
///
/// ```
/// let proxy = sockeye::Proxy::parse("socks5h://alice:s3cret@127.0.0.1:1080")?;
/// assert_eq!(proxy.to_string(), "socks5h://alice@127.0.0.1:1080");
/// assert!(sockeye::Proxy::parse("ftp://proxy").is_err());
/// # Ok::<(), sockeye::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proxy {
    scheme: Scheme,
    /// A name or an IP address; an IPv6 address without brackets.
    host: String,
    port: u16,
    /// The user name and password, percent-decoded.
    credentials: Option<(String, String)>,
}

impl Proxy {
    /// Parses a proxy URL (see [`Proxy`] for the forms).
    ///
    /// # Errors
    ///
    /// [`Error::Proxy`] with [`ProxyError::InvalidUrl`] when the URL is not
    /// one of the supported forms.
    pub fn parse(url: &str) -> Result<Proxy> {
        parse_proxy_url(url).map_err(|why| ProxyError::InvalidUrl(why).into())
    }
}

/// [`Proxy::parse`], with the reason for a refusal as it is.
pub(crate) fn parse_proxy_url(url: &str) -> std::result::Result<Proxy, &'static str> {
    let url = url.trim();
    let with_scheme;
    let url = if url.contains("://") {
        url
    } else {
        with_scheme = format!("http://{url}");
        &with_scheme
    };
    let parsed = url::Url::parse(url).map_err(|_| "not a valid url")?;
    let (scheme, default_port) = match parsed.scheme() {
        "http" => (Scheme::Http, 80),
        "socks5" => (Scheme::Socks5, 1080),
        "socks5h" => (Scheme::Socks5h, 1080),
        "https" => {
            return Err(
                "https:// proxies (tls to the proxy) are not supported; use http:// or socks5://",
            );
        }
        "socks4" | "socks4a" => return Err("socks4 proxies are not supported; use socks5://"),
        _ => return Err("the scheme must be http, socks5 or socks5h"),
    };
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) if !name.is_empty() => name.to_ascii_lowercase(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err("the proxy url has no host"),
    };
    let credentials = if parsed.username().is_empty() && parsed.password().is_none() {
        None
    } else {
        let decode = |text: &str| {
            percent_decode_str(text)
                .decode_utf8()
                .map(String::from)
                .map_err(|_| "the proxy's user name or password is not utf-8")
        };
        Some((
            decode(parsed.username())?,
            decode(parsed.password().unwrap_or(""))?,
        ))
    };
    if scheme != Scheme::Http
        && let Some((user, password)) = &credentials
        && !((1..=255).contains(&user.len()) && (1..=255).contains(&password.len()))
    {
        return Err("a socks5 user name and password must each have 1 to 255 bytes (RFC 1929)");
    }
    Ok(Proxy {
        scheme,
        host,
        port: parsed.port().unwrap_or(default_port),
        credentials,
    })
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme.as_str())?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}@")?;
        }
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password stays out of logs.
        f.debug_tuple("Proxy").field(&self.to_string()).finish()
    }
}

/// The environment variable names, lowercase first: curl and Python read
/// the lowercase form first, and curl reads only `http_proxy` in lowercase.
const HTTP_PROXY: [&str; 2] = ["http_proxy", "HTTP_PROXY"];
const HTTPS_PROXY: [&str; 2] = ["https_proxy", "HTTPS_PROXY"];
const ALL_PROXY: [&str; 2] = ["all_proxy", "ALL_PROXY"];
const NO_PROXY: [&str; 2] = ["no_proxy", "NO_PROXY"];

/// The proxies that the environment names, the way curl, Python and Go
/// read it.
///
/// - `wss://` connections use `HTTPS_PROXY`, `ws://` connections
///   `HTTP_PROXY`, and both fall back to `ALL_PROXY`. Each is read in
///   lowercase first (`https_proxy`), then in uppercase; an empty value is
///   unset. A value is a [`Proxy`] URL, and one without a scheme is
///   `http://`.
/// - Under CGI (`REQUEST_METHOD` not empty), `HTTP_PROXY` in uppercase is
///   ignored: a request's `Proxy:` header arrives in it there
///   ("httpoxy"). The lowercase `http_proxy` still applies.
/// - `NO_PROXY` lists hosts reached directly, separated by commas or
///   spaces, case-insensitively: `*` for every host; a name, which also
///   covers its subdomains (`example.com` and `.example.com` both match
///   `example.com` and `ws.example.com`, not `badexample.com`); an IP
///   address (`127.0.0.1`, `::1`) or a network (`10.0.0.0/8`,
///   `fd00::/8`). Each may end in a port (`example.com:8080`,
///   `[::1]:9001`) to apply to that port only. Entries it cannot read are
///   skipped. Names are compared as written: `localhost` does not match
///   `127.0.0.1`.
///
/// The variables are read once, when the `ProxyEnv` is made.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
///
/// let vars = HashMap::from([
///     ("HTTP_PROXY", "http://proxy.internal:3128"),
///     ("NO_PROXY", "localhost,.corp.example"),
/// ]);
/// let env = sockeye::ProxyEnv::from_lookup(|name| vars.get(name).map(|v| v.to_string()));
/// let proxy = env.proxy_for("ws://example.com/")?.expect("a proxy");
/// assert_eq!(proxy.to_string(), "http://proxy.internal:3128");
/// assert!(env.proxy_for("ws://ws.corp.example/")?.is_none());
/// assert!(env.proxy_for("ws://localhost:9001/")?.is_none());
/// # Ok::<(), sockeye::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct ProxyEnv {
    /// For `ws://`: `HTTP_PROXY`, else `ALL_PROXY`.
    ws: Option<EnvProxy>,
    /// For `wss://`: `HTTPS_PROXY`, else `ALL_PROXY`.
    wss: Option<EnvProxy>,
    no_proxy: NoProxy,
}

/// A proxy URL read from the environment, parsed.
#[derive(Clone, Debug)]
struct EnvProxy {
    variable: &'static str,
    proxy: std::result::Result<Proxy, &'static str>,
}

impl ProxyEnv {
    /// Reads the process environment (see [`ProxyEnv`] for the variables).
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup`, which returns a variable's
    /// value or `None` when it is unset: a map in tests, or a
    /// configuration file's values.
    pub fn from_lookup<F>(mut lookup: F) -> Self
    where
        F: FnMut(&str) -> Option<String>,
    {
        let cgi = lookup("REQUEST_METHOD").is_some_and(|value| !value.is_empty());
        let http_names: &[&'static str] = if cgi { &HTTP_PROXY[..1] } else { &HTTP_PROXY };
        let all = first_set(&mut lookup, &ALL_PROXY);
        let ws = first_set(&mut lookup, http_names).or_else(|| all.clone());
        let wss = first_set(&mut lookup, &HTTPS_PROXY).or(all);
        let parse = |(variable, value): (&'static str, String)| EnvProxy {
            variable,
            proxy: parse_proxy_url(&value),
        };
        ProxyEnv {
            ws: ws.map(parse),
            wss: wss.map(parse),
            no_proxy: first_set(&mut lookup, &NO_PROXY)
                .map(|(_, value)| NoProxy::parse(&value))
                .unwrap_or_default(),
        }
    }

    /// The proxy for a connection to `url` (`ws://` or `wss://`), or `None`
    /// when it goes directly: no variable applies, or `NO_PROXY` names the
    /// host.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] when `url` is not a WebSocket URL;
    /// [`Error::Proxy`] with [`ProxyError::InvalidEnv`] when the variable
    /// that applies holds an invalid proxy URL.
    pub fn proxy_for(&self, url: &str) -> Result<Option<&Proxy>> {
        let target = crate::url::parse_url(url)?;
        self.for_target(target.tls, &target.host, target.port)
    }

    /// [`proxy_for`](Self::proxy_for) a parsed URL.
    pub(crate) fn for_target(&self, tls: bool, host: &str, port: u16) -> Result<Option<&Proxy>> {
        let entry = if tls { &self.wss } else { &self.ws };
        let Some(entry) = entry else {
            return Ok(None);
        };
        if self.no_proxy.matches(host, port) {
            return Ok(None);
        }
        match &entry.proxy {
            Ok(proxy) => Ok(Some(proxy)),
            Err(why) => Err(ProxyError::InvalidEnv {
                variable: entry.variable,
                why,
            }
            .into()),
        }
    }
}

/// The first of `names` set to something other than blanks, with its value.
fn first_set<F>(lookup: &mut F, names: &[&'static str]) -> Option<(&'static str, String)>
where
    F: FnMut(&str) -> Option<String>,
{
    names.iter().find_map(|&name| {
        lookup(name)
            .filter(|value| !value.trim().is_empty())
            .map(|value| (name, value))
    })
}

/// `NO_PROXY`: the hosts reached without a proxy.
#[derive(Clone, Debug, Default)]
struct NoProxy {
    /// `*`.
    everything: bool,
    rules: Vec<NoProxyRule>,
}

/// One `NO_PROXY` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct NoProxyRule {
    pattern: Pattern,
    /// Only this port, when given.
    port: Option<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pattern {
    /// A name and its subdomains, lowercase, without leading or trailing
    /// dots.
    Domain(String),
    /// An address or a network: the addresses sharing `prefix` bits with
    /// `ip`.
    Network { ip: IpAddr, prefix: u8 },
}

impl NoProxy {
    fn parse(value: &str) -> NoProxy {
        let mut no_proxy = NoProxy::default();
        for entry in value.split(|c: char| c == ',' || c.is_ascii_whitespace()) {
            let entry = entry.trim().to_ascii_lowercase();
            if entry.is_empty() {
                continue;
            }
            if entry == "*" {
                no_proxy.everything = true;
            } else if let Some(rule) = NoProxyRule::parse(&entry) {
                no_proxy.rules.push(rule);
            }
        }
        no_proxy
    }

    /// Whether `host` (as in the URL, an IPv6 address bracketed or not) and
    /// `port` are reached directly.
    fn matches(&self, host: &str, port: u16) -> bool {
        if self.everything {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.rules.iter().any(|rule| {
            rule.port.is_none_or(|only| only == port)
                && match (&rule.pattern, ip) {
                    (
                        Pattern::Network {
                            ip: network,
                            prefix,
                        },
                        Some(ip),
                    ) => in_network(ip, *network, *prefix),
                    (Pattern::Domain(name), None) => {
                        host == *name
                            || host
                                .strip_suffix(name.as_str())
                                .is_some_and(|head| head.ends_with('.'))
                    }
                    _ => false,
                }
        })
    }
}

impl NoProxyRule {
    /// Parses one lowercase, trimmed entry; `None` when unreadable.
    fn parse(entry: &str) -> Option<NoProxyRule> {
        let any_port = |pattern| {
            Some(NoProxyRule {
                pattern,
                port: None,
            })
        };
        if let Some((ip, prefix)) = entry.split_once('/') {
            let ip = unbracket(ip).parse::<IpAddr>().ok()?;
            let prefix = prefix.parse::<u8>().ok()?;
            if prefix > full_prefix(ip) {
                return None;
            }
            return any_port(Pattern::Network { ip, prefix });
        }
        if let Ok(ip) = unbracket(entry).parse::<IpAddr>() {
            let prefix = full_prefix(ip);
            return any_port(Pattern::Network { ip, prefix });
        }
        if let Ok(address) = entry.parse::<SocketAddr>() {
            let ip = address.ip();
            return Some(NoProxyRule {
                pattern: Pattern::Network {
                    ip,
                    prefix: full_prefix(ip),
                },
                port: Some(address.port()),
            });
        }
        let (name, port) = match entry.rsplit_once(':') {
            Some((name, port)) => (name, Some(port.parse::<u16>().ok()?)),
            None => (entry, None),
        };
        let name = name
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches('.');
        if name.is_empty() || name.contains(['*', ':', '/', '[', ']']) {
            return None;
        }
        Some(NoProxyRule {
            pattern: Pattern::Domain(name.to_owned()),
            port,
        })
    }
}

fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'))
        .unwrap_or(host)
}

/// The prefix length of a single address.
fn full_prefix(ip: IpAddr) -> u8 {
    if ip.is_ipv4() { 32 } else { 128 }
}

/// Whether `ip` shares its first `prefix` bits with `network`.
fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(network)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            (ip.to_bits() ^ network.to_bits()) & mask == 0
        }
        (IpAddr::V6(ip), IpAddr::V6(network)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            (ip.to_bits() ^ network.to_bits()) & mask == 0
        }
        _ => false,
    }
}

/// How a client picks its proxy, set on
/// [`ClientBuilder`](crate::ClientBuilder).
#[derive(Debug, Default)]
pub(crate) enum ProxyChoice {
    /// No proxy: the default.
    #[default]
    Direct,
    /// [`ClientBuilder::proxy`](crate::ClientBuilder::proxy): this one for
    /// every connection, or why its URL was refused.
    Given(std::result::Result<Proxy, &'static str>),
    /// [`ClientBuilder::proxy_env`](crate::ClientBuilder::proxy_env):
    /// by the connection's scheme and host.
    Env(ProxyEnv),
}

impl ProxyChoice {
    /// The proxy for a connection to `host` and `port`, `wss://` if `tls`.
    pub(crate) fn for_target(&self, tls: bool, host: &str, port: u16) -> Result<Option<&Proxy>> {
        match self {
            ProxyChoice::Direct => Ok(None),
            ProxyChoice::Given(Ok(proxy)) => Ok(Some(proxy)),
            ProxyChoice::Given(Err(why)) => Err(ProxyError::InvalidUrl(why).into()),
            ProxyChoice::Env(env) => env.for_target(tls, host, port),
        }
    }
}

/// Opens a tunnel through `proxy` to `host` (a name or an IP address,
/// an IPv6 address bracketed or not) and `port`: TCP to the proxy, then
/// its handshake. What comes out carries the server's bytes.
pub(crate) async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
    config: &sockeye_proto::Config,
) -> Result<TcpStream> {
    let host = unbracket(host);
    let mut tcp = TcpStream::connect((proxy.host.as_str(), proxy.port))
        .await
        .map_err(ProxyError::Io)?;
    // Writes are batched by the connection; Nagle would only add delay.
    tcp.set_nodelay(true).map_err(ProxyError::Io)?;
    match proxy.scheme {
        Scheme::Http => {
            http_connect(&mut tcp, proxy, host, port, config).await?;
            Ok(tcp)
        }
        Scheme::Socks5 | Scheme::Socks5h => socks5_connect(tcp, proxy, host, port).await,
    }
}

/// Asks an HTTP proxy for a tunnel (RFC 9110 §9.3.6): `CONNECT host:port`,
/// and any 2xx answer opens it.
async fn http_connect(
    tcp: &mut TcpStream,
    proxy: &Proxy,
    host: &str,
    port: u16,
    config: &sockeye_proto::Config,
) -> Result<()> {
    use std::fmt::Write as _;

    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    // The request target is the authority form, and Host repeats it.
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some((user, password)) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let _ = write!(request, "Proxy-Authorization: Basic {token}\r\n");
    }
    request.push_str("\r\n");
    tcp.write_all(request.as_bytes())
        .await
        .map_err(ProxyError::Io)?;

    let (response, buf) = match read_response_head(tcp, BytesMut::with_capacity(1024), config).await
    {
        Ok(head) => head,
        Err(HeadError::Invalid(_)) => {
            return Err(ProxyError::InvalidResponse("not an http response").into());
        }
        Err(HeadError::Io(e)) => return Err(ProxyError::Io(e).into()),
        Err(HeadError::Eof) => {
            return Err(ProxyError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the proxy closed the connection before answering",
            ))
            .into());
        }
    };
    if response.status().is_success() {
        // TLS and the opening handshake both start with the client, so a
        // proxy has nothing to relay yet; RFC 9110 §9.3.6 also says a 2xx
        // answer to CONNECT has no body.
        if !buf.is_empty() {
            return Err(ProxyError::InvalidResponse("data before the tunnel was used").into());
        }
        return Ok(());
    }
    let body = read_body(tcp, &response, buf).await;
    let (parts, ()) = response.into_parts();
    Err(ProxyError::Rejected(Response::from_parts(parts, body)).into())
}

/// Asks a SOCKS5 proxy for a connection (RFC 1928 §4 `CONNECT`): a host
/// name goes as a name (address type 3) for the proxy to resolve, an IP
/// address as one (types 1 and 4). With credentials the proxy may choose
/// RFC 1929 user name and password; without, only "no authentication" is
/// offered.
async fn socks5_connect(tcp: TcpStream, proxy: &Proxy, host: &str, port: u16) -> Result<TcpStream> {
    use tokio_socks::tcp::Socks5Stream;

    let target = (host, port);
    let stream = match &proxy.credentials {
        Some((user, password)) => {
            Socks5Stream::connect_with_password_and_socket(tcp, target, user, password).await
        }
        None => Socks5Stream::connect_with_socket(tcp, target).await,
    };
    stream.map(Socks5Stream::into_inner).map_err(socks_error)
}

/// A SOCKS client failure, told in our words.
fn socks_error(e: tokio_socks::Error) -> Error {
    use tokio_socks::Error as Socks;

    let why = match e {
        Socks::Io(e) => return ProxyError::Io(e).into(),
        Socks::NoAcceptableAuthMethods => "it accepts none of the authentication methods offered",
        Socks::AuthorizationRequired => "it requires a user name and password",
        Socks::PasswordAuthFailure(_) => "it refused the user name and password",
        Socks::GeneralSocksServerFailure => "general failure (reply 1)",
        Socks::ConnectionNotAllowedByRuleset => "connection not allowed by its rules (reply 2)",
        Socks::NetworkUnreachable => "network unreachable (reply 3)",
        Socks::HostUnreachable => "host unreachable (reply 4)",
        Socks::ConnectionRefused => "connection refused (reply 5)",
        Socks::TtlExpired => "ttl expired (reply 6)",
        Socks::CommandNotSupported => "command not supported (reply 7)",
        Socks::AddressTypeNotSupported => "address type not supported (reply 8)",
        Socks::InvalidTargetAddress(_) => "the server's host name is too long for socks5",
        Socks::InvalidAuthValues(_) => "the user name or password is too long for socks5",
        _ => "an answer that is not socks5, or a reply this client does not know",
    };
    ProxyError::Socks(why).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_proxy(value: &str) -> NoProxy {
        NoProxy::parse(value)
    }

    #[test]
    fn proxy_urls() {
        let proxy = parse_proxy_url("proxy.example:3128").unwrap();
        assert_eq!(proxy.to_string(), "http://proxy.example:3128");
        let proxy = parse_proxy_url("HTTP://Proxy.Example/").unwrap();
        assert_eq!(proxy.to_string(), "http://proxy.example:80");
        let proxy = parse_proxy_url("socks5://[::1]").unwrap();
        assert_eq!((proxy.host.as_str(), proxy.port), ("::1", 1080));
        let proxy = parse_proxy_url("socks5h://u%40x:p%3Aw@h:1").unwrap();
        assert_eq!(
            proxy.credentials,
            Some(("u@x".to_owned(), "p:w".to_owned()))
        );
        assert!(!format!("{proxy:?}").contains("p:w"));
        assert!(parse_proxy_url("https://h").is_err());
        assert!(parse_proxy_url("socks4://h").is_err());
        assert!(
            parse_proxy_url("socks5://user@h").is_err(),
            "empty password"
        );
        assert!(parse_proxy_url("http://").is_err());
    }

    #[test]
    fn no_proxy_names_cover_subdomains() {
        let rules = no_proxy("example.com, .corp.example  *.wild.example");
        assert!(rules.matches("example.com", 80));
        assert!(rules.matches("WS.Example.com", 443));
        assert!(rules.matches("example.com.", 443));
        assert!(!rules.matches("badexample.com", 80));
        assert!(rules.matches("corp.example", 80));
        assert!(rules.matches("a.b.corp.example", 80));
        assert!(rules.matches("x.wild.example", 80));
        assert!(!rules.matches("example.org", 80));
    }

    #[test]
    fn no_proxy_addresses_networks_and_ports() {
        let rules = no_proxy(
            "127.0.0.1,10.0.0.0/8,::1,[fd00::]/8,example.com:8080,[::2]:9001,192.0.2.1:81",
        );
        assert!(rules.matches("127.0.0.1", 1));
        assert!(!rules.matches("127.0.0.2", 1));
        assert!(rules.matches("10.200.3.4", 1));
        assert!(!rules.matches("11.0.0.1", 1));
        assert!(rules.matches("[::1]", 1));
        assert!(rules.matches("[fd12::5]", 1));
        assert!(rules.matches("example.com", 8080));
        assert!(!rules.matches("example.com", 80));
        assert!(rules.matches("[::2]", 9001));
        assert!(!rules.matches("[::2]", 9002));
        assert!(rules.matches("192.0.2.1", 81));
        assert!(!rules.matches("192.0.2.1", 80));
        assert!(!rules.matches("localhost", 1), "names are not resolved");
    }

    #[test]
    fn no_proxy_star_and_junk() {
        assert!(no_proxy("*").matches("anything", 1));
        assert!(no_proxy("a.example, *").matches("anything", 1));
        let junk = no_proxy("10.0.0.0/99,host:notaport,,[::1,*.");
        assert!(junk.rules.is_empty(), "{junk:?}");
        assert!(!no_proxy("").matches("example.com", 80));
    }

    #[test]
    fn networks() {
        let any4 = "0.0.0.0".parse().unwrap();
        assert!(in_network("203.0.113.9".parse().unwrap(), any4, 0));
        assert!(!in_network("::1".parse().unwrap(), any4, 0));
        let net = "2001:db8::".parse().unwrap();
        assert!(in_network("2001:db8::1".parse().unwrap(), net, 32));
        assert!(!in_network("2001:db9::1".parse().unwrap(), net, 32));
    }
}
