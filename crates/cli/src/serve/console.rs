//! The answers to plain HTTP requests: the dev console page at `/`, 404
//! elsewhere, 405 for methods other than GET and HEAD; and the headers
//! `--header` adds to every response.

/// The dev console: a page to open sockets, send and watch events from a
/// browser, embedded in the binary.
const CONSOLE_PAGE: &str = include_str!("../console/index.html");

/// Answers plain HTTP requests: the dev console at `/`, 404 elsewhere.
pub(super) fn answer_plain_http(request: &http::Request<()>) -> http::Response<bytes::Bytes> {
    use http::{Method, StatusCode, header};
    let response = http::Response::builder()
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    let response = if request.method() != Method::GET && request.method() != Method::HEAD {
        response
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(header::ALLOW, "GET, HEAD")
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(bytes::Bytes::from_static(b"method not allowed\n"))
    } else if request.uri().path() == "/" {
        response
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
            .header(header::X_FRAME_OPTIONS, "DENY")
            .body(bytes::Bytes::from_static(CONSOLE_PAGE.as_bytes()))
    } else {
        response
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(bytes::Bytes::from_static(
                b"not found: the dev console is at /\n",
            ))
    };
    response.unwrap_or_default()
}

/// A header `--header` adds to every response.
pub(crate) type ExtraHeader = (http::HeaderName, http::HeaderValue);

/// Parses `NAME:VALUE` (spaces around VALUE dropped).
pub(super) fn parse_header(text: &str) -> Result<ExtraHeader, String> {
    let Some((name, value)) = text.split_once(':') else {
        return Err(format!(
            "expected NAME:VALUE (such as X-Served-By:sockeye), got {text:?}"
        ));
    };
    let name = http::HeaderName::from_bytes(name.trim().as_bytes())
        .map_err(|_| format!("not a header name: {name:?}"))?;
    let value = http::HeaderValue::from_str(value.trim())
        .map_err(|_| format!("not a header value: {value:?}"))?;
    Ok((name, value))
}

/// Sets the `--header` headers on a response, replacing those of the
/// same name.
pub(super) fn add_headers<B>(response: &mut http::Response<B>, headers: &[ExtraHeader]) {
    for (name, value) in headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_parse_as_name_colon_value() {
        let (name, value) = parse_header("X-Served-By: sockeye 1").unwrap();
        assert_eq!(name, "x-served-by");
        assert_eq!(value, "sockeye 1");
        assert!(parse_header("no colon").unwrap_err().contains("NAME:VALUE"));
        assert!(
            parse_header("bad name:x")
                .unwrap_err()
                .contains("header name")
        );
        assert!(
            parse_header("X-A:line\nbreak")
                .unwrap_err()
                .contains("value")
        );
    }
}
