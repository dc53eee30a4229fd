//! Which browsers' pages a listening subcommand (`serve`, `proxy`) lets
//! in: `--allow-origin` (websocketd's `--origin`) and `--same-origin`.

/// `--allow-origin` and `--same-origin`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct OriginArgs {
    /// Accept browsers' requests only from this origin (repeatable, or
    /// comma-separated), such as `https://example.com`; a host alone,
    /// `example.com` or `example.com:8080` (websocketd's form), allows it
    /// over http and https. Others get 403. Default: any origin.
    #[arg(
        long = "allow-origin",
        visible_alias = "origin",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    allowed_origins: Vec<String>,
    /// Accept browsers' requests only from pages of this server: the
    /// `Origin` must name the host and port the request was sent to
    /// (`Host`, or the HTTP/2 authority); others get 403.
    #[arg(long = "same-origin", visible_alias = "sameorigin")]
    pub(crate) same_origin: bool,
}

impl OriginArgs {
    /// The origins of `--allow-origin`, for
    /// `ServerBuilder::allowed_origins`: a host alone (`example.com`,
    /// `example.com:8080`) allows it over http and https. Empty: any.
    pub(crate) fn allowed_origins(&self) -> Vec<String> {
        let mut allowed = Vec::with_capacity(self.allowed_origins.len() * 2);
        for origin in &self.allowed_origins {
            let origin = origin.trim().trim_end_matches('/');
            if origin.contains("://") {
                allowed.push(origin.to_owned());
            } else {
                allowed.push(format!("http://{origin}"));
                allowed.push(format!("https://{origin}"));
            }
        }
        allowed
    }
}

/// Whether the request's `Origin`, if any, names the host and port of its
/// `Host` (or its HTTP/2 authority): the page comes from this server.
/// Requests without `Origin` come from programs other than browsers, and
/// go through.
pub(crate) fn same_origin(request: &sockeye::UpgradeRequest) -> bool {
    let Some(origin) = request.origin() else {
        return true;
    };
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| request.uri().authority().map(http::uri::Authority::as_str));
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    match (origin_host, host) {
        (Some(origin_host), Some(host)) => origin_host.eq_ignore_ascii_case(host),
        _ => false,
    }
}

/// The 403 answer to a page of another site under `--same-origin`.
pub(crate) fn origin_refused() -> http::Response<bytes::Bytes> {
    let mut response = http::Response::new(bytes::Bytes::from_static(b"origin not allowed\n"));
    *response.status_mut() = http::StatusCode::FORBIDDEN;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> OriginArgs {
        OriginArgs {
            allowed_origins: list.iter().map(|s| (*s).to_owned()).collect(),
            same_origin: false,
        }
    }

    /// `--allow-origin` in websocketd's form: a host alone stands for both
    /// schemes; a full origin stays as it is, without a final slash.
    #[test]
    fn a_host_alone_allows_http_and_https() {
        assert_eq!(
            origins(&["example.com:8080", "https://a.example/"]).allowed_origins(),
            [
                "http://example.com:8080",
                "https://example.com:8080",
                "https://a.example"
            ]
        );
        assert!(origins(&[]).allowed_origins().is_empty());
    }
}
