//! The flags of a client connection (`sockeye connect`, `sockeye rpc`):
//! headers, subprotocols, proxy, TLS, limits, turned into a
//! [`ClientBuilder`].

use std::time::Duration;

use http::{HeaderName, HeaderValue};
use sockeye::ClientBuilder;

use super::exit::Outcome;
use crate::args::parse_seconds;
use crate::describe;

/// How to open the connection: what the request carries, the route to
/// the server, TLS and the size limit.
#[derive(Debug, clap::Args)]
pub(crate) struct ClientArgs {
    /// Extra request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Subprotocol to offer (repeatable, in order of preference).
    #[arg(long = "protocol", value_name = "NAME")]
    pub(crate) protocols: Vec<String>,
    /// Send this `Origin` header.
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) origin: Option<String>,
    /// HTTP basic authentication, `USER:PASSWORD`.
    #[arg(long, value_name = "USER:PASS")]
    pub(crate) auth: Option<String>,
    /// Send this `User-Agent` header. Default: none.
    #[arg(long, value_name = "TEXT")]
    pub(crate) user_agent: Option<String>,
    /// The largest message accepted, and the largest one sent (for
    /// `connect`, the largest one stdin may make), in bytes. Default
    /// 16 MiB: large for a message, small for memory.
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub(crate) max_message_size: usize,
    /// Do not offer permessage-deflate compression.
    #[arg(long)]
    pub(crate) no_deflate: bool,
    /// How long resolving, connecting TCP, the proxy and TLS may take.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds, default_value = "10")]
    pub(crate) connect_timeout: Duration,
    /// Connect through this proxy: `http://[USER:PASSWORD@]HOST[:PORT]`
    /// (HTTP CONNECT), or `socks5://` or `socks5h://` (the proxy resolves
    /// the server's name). Replaces the proxy environment variables.
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Follow up to N redirects (301, 302, 303, 307, 308); never from
    /// wss:// to ws://, and without Authorization or Cookie to another
    /// origin.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) follow_redirects: usize,
    /// For `wss://`: also trust the certificates in this PEM file
    /// (repeatable), such as a private authority's or a self-signed one.
    #[arg(long = "ca", value_name = "FILE")]
    pub(crate) ca: Vec<std::path::PathBuf>,
    /// For `wss://`: present this client certificate chain (PEM, leaf
    /// first) to servers that ask for one. Needs --key.
    #[arg(long, value_name = "FILE", requires = "key")]
    pub(crate) cert: Option<std::path::PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub(crate) key: Option<std::path::PathBuf>,
    /// For `wss://`: accept any certificate, unverified (a warning is
    /// printed). Anyone on the path can then read and change the traffic.
    #[arg(short = 'k', long, conflicts_with = "ca")]
    pub(crate) insecure: bool,
    /// Use HTTP/2 (RFC 8441) when the server allows it; HTTP/1.1 otherwise.
    #[arg(long)]
    pub(crate) http2: bool,
}

/// The client the options describe, or the usage error that stops it.
pub(crate) fn builder(url: &str, args: &ClientArgs) -> Result<ClientBuilder, Outcome> {
    let mut builder = ClientBuilder::new(url)
        .protocols(args.protocols.iter().cloned())
        .max_message_size(args.max_message_size)
        .follow_redirects(args.follow_redirects)
        .connect_timeout(args.connect_timeout)
        .http2(args.http2);
    builder = match &args.proxy {
        Some(proxy) => builder.proxy(proxy),
        None => builder.proxy_from_env(),
    };
    if args.no_deflate {
        builder = builder.deflate(None);
    }
    builder = with_tls(builder, args).map_err(|e| Outcome::Usage(describe(&e)))?;
    for header in &args.headers {
        let (name, value) = parse_header(header)
            .map_err(|why| Outcome::Usage(format!("invalid header {header:?}: {why}")))?;
        builder = builder.header(name, value);
    }
    if let Some(origin) = &args.origin {
        let value = HeaderValue::from_str(origin)
            .map_err(|_| Outcome::Usage(format!("invalid --origin {origin:?}")))?;
        builder = builder.header(http::header::ORIGIN, value);
    }
    if let Some(agent) = &args.user_agent {
        let value = HeaderValue::from_str(agent)
            .map_err(|_| Outcome::Usage(format!("invalid --user-agent {agent:?}")))?;
        builder = builder.header(http::header::USER_AGENT, value);
    }
    if let Some(auth) = &args.auth {
        let (user, password) = auth
            .split_once(':')
            .ok_or_else(|| Outcome::Usage("--auth expects USER:PASSWORD".to_owned()))?;
        if user.contains(['\r', '\n']) || password.contains(['\r', '\n']) {
            return Err(Outcome::Usage(
                "--auth may not hold a line break".to_owned(),
            ));
        }
        builder = builder.basic_auth(user, password);
    }
    Ok(builder)
}

/// The builder with the roots of --ca, the client certificate of --cert
/// and --key, or no verification at all with --insecure.
fn with_tls(mut builder: ClientBuilder, args: &ClientArgs) -> sockeye::Result<ClientBuilder> {
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some((
            sockeye::tls::certificates_from_pem_file(cert)?,
            sockeye::tls::private_key_from_pem_file(key)?,
        )),
        _ => None,
    };
    if args.insecure {
        return Ok(builder.tls_config(crate::insecure::client_config(identity, args.http2)?));
    }
    for path in &args.ca {
        for root in sockeye::tls::certificates_from_pem_file(path)? {
            builder = builder.add_root_certificate(root);
        }
    }
    if let Some((chain, key)) = identity {
        builder = builder.client_certificate(chain, key);
    }
    Ok(builder)
}

/// Splits `Name: value` and checks both halves.
fn parse_header(header: &str) -> Result<(HeaderName, HeaderValue), &'static str> {
    let (name, value) = header.split_once(':').ok_or("expected `Name: value`")?;
    let name =
        HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| "not a valid header name")?;
    let value = HeaderValue::from_str(value.trim()).map_err(|_| "not a valid header value")?;
    Ok((name, value))
}
