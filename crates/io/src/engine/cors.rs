//! CORS answers (the Fetch standard's CORS protocol), as Node's engine.io
//! gives them through the `cors` package.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_HEADERS, CONTENT_LENGTH, HeaderValue,
    ORIGIN, VARY,
};
use http::{HeaderMap, Response, StatusCode};

use super::config::{Cors, CorsOrigins};
use super::response::{EngineBody, empty};

/// The methods a preflight allows: the `cors` package's default list.
const ALLOWED_METHODS: &str = "GET,HEAD,PUT,PATCH,POST,DELETE";

/// Adds the CORS headers for a request from `origin` (its `Origin`
/// header) to an answer's headers.
pub(crate) fn apply(cors: &Cors, origin: Option<&HeaderValue>, answer: &mut HeaderMap) {
    match &cors.origins {
        CorsOrigins::None => return,
        CorsOrigins::Any => match origin {
            // `*` is refused by browsers on requests with credentials.
            Some(origin) if cors.credentials => {
                answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
                answer.append(VARY, HeaderValue::from_static("Origin"));
            }
            _ => {
                answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
        },
        CorsOrigins::List(list) => {
            let allowed = origin.filter(|origin| {
                list.iter()
                    .any(|allowed| allowed.as_bytes() == origin.as_bytes())
            });
            if let Some(origin) = allowed {
                answer.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            }
            answer.append(VARY, HeaderValue::from_static("Origin"));
        }
    }
    if cors.credentials {
        answer.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

/// The answer to a preflight (`OPTIONS`): 204 with the allowed methods and
/// the headers the browser asked for; `None` when CORS is off.
pub(crate) fn preflight(cors: &Cors, request: &HeaderMap) -> Option<Response<EngineBody>> {
    if cors.origins == CorsOrigins::None {
        return None;
    }
    let mut response = empty(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    apply(cors, request.get(ORIGIN), headers);
    headers.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    if let Some(asked) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
        headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        headers.append(
            VARY,
            HeaderValue::from_static("Access-Control-Request-Headers"),
        );
    }
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CORS: a listed origin is echoed, another gets no allow header.
    #[test]
    fn list_echoes_listed_origins_only() {
        let cors = Cors {
            origins: CorsOrigins::List(vec!["https://a.example".into()]),
            credentials: true,
        };
        let mut answer = HeaderMap::new();
        apply(
            &cors,
            Some(&HeaderValue::from_static("https://a.example")),
            &mut answer,
        );
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        let mut answer = HeaderMap::new();
        apply(
            &cors,
            Some(&HeaderValue::from_static("https://b.example")),
            &mut answer,
        );
        assert!(answer.get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
    }

    /// CORS: any origin is `*` without credentials, echoed with them; off
    /// means no headers and no preflight.
    #[test]
    fn any_origin_and_off() {
        let mut cors = Cors {
            origins: CorsOrigins::Any,
            credentials: false,
        };
        let mut answer = HeaderMap::new();
        apply(
            &cors,
            Some(&HeaderValue::from_static("https://a.example")),
            &mut answer,
        );
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        cors.credentials = true;
        let mut answer = HeaderMap::new();
        apply(
            &cors,
            Some(&HeaderValue::from_static("https://a.example")),
            &mut answer,
        );
        assert_eq!(answer[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_static("https://a.example"));
        assert!(preflight(&Cors::default(), &headers).is_none());
    }
}
