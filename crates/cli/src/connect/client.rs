//! The flags of `sockeye connect` turned into a [`ClientBuilder`].

use http::{HeaderName, HeaderValue};
use sockeye::ClientBuilder;

use super::Args;
use super::exit::Outcome;
use crate::describe;

/// The client the options describe, or the usage error that stops it.
pub(super) fn builder(args: &Args) -> Result<ClientBuilder, Outcome> {
    let mut builder = ClientBuilder::new(args.url.as_str())
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
fn with_tls(mut builder: ClientBuilder, args: &Args) -> sockeye::Result<ClientBuilder> {
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
