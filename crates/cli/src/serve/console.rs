//! The answers to plain HTTP requests: the dev console page at `/`, 404
//! elsewhere, 405 for methods other than GET and HEAD.

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
                b"not found: the dev console is at /, WebSocket clients may use any path\n",
            ))
    };
    response.unwrap_or_default()
}
