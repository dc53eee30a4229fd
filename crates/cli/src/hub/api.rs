//! The HTTP API, for backends: `Authorization: Bearer KEY` on every call
//! (401 otherwise), JSON in and out, a 400 with `{"error": why}` for bad
//! input, bodies bounded by the payload limit (413 past it).
//!
//! - `POST /api/emit` `{"namespace": "/", "rooms": [], "except": [],
//!   "event": "name", "args": [..]}`: to the rooms' clients (the whole
//!   namespace for none) on every hub, and their SSE subscribers;
//! - `POST /api/disconnect` `{"namespace": "/", "id": SID}` or
//!   `{"namespace": "/", "room": R}`: those sockets, on every hub, and
//!   for a room, this hub's SSE subscribers to it (their browsers
//!   reconnect and resume from the room's history);
//! - `GET /api/rooms?namespace=/`: the rooms of the namespace's sockets on
//!   every hub (sockets' own rooms left out);
//! - `GET /api/sockets?namespace=/&room=R`: the sockets, with their rooms,
//!   on every hub.

use std::collections::BTreeSet;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::metrics;
use super::state::{Delivery, Hub};

/// How long an event's name may be, in bytes. 256: names are words, and
/// this keeps them from being payloads.
const MAX_EVENT_NAME: usize = 256;

/// The body of `POST /api/emit`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Emit {
    #[serde(default = "root")]
    namespace: String,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    except: Vec<String>,
    event: String,
    #[serde(default)]
    args: Vec<Json>,
}

/// The body of `POST /api/disconnect`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Disconnect {
    #[serde(default = "root")]
    namespace: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    room: Option<String>,
}

fn root() -> String {
    "/".into()
}

/// A JSON answer.
pub(crate) fn answer(status: StatusCode, body: &Json) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn error(status: StatusCode, why: &str) -> Response<Bytes> {
    answer(status, &json!({ "error": why }))
}

/// Whether `request` carries `Authorization: Bearer KEY`.
fn authorized(request: &Request<Incoming>, key: &str) -> bool {
    request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.as_bytes(), key.as_bytes()))
}

/// Compares without stopping at the first difference, so that the time
/// taken does not tell how much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The value of `name` in the query string.
pub(crate) fn query_param(request: &Request<Incoming>, name: &str) -> Option<String> {
    let query = request.uri().query()?;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value))
    })
}

/// `%XX` and `+` decoded; malformed escapes kept as they are.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Answers one API request.
pub(crate) async fn handle(hub: &Hub, request: Request<Incoming>) -> Response<Bytes> {
    let Some(key) = &hub.settings.api_key else {
        return error(
            StatusCode::NOT_FOUND,
            "no API: the hub was started without --api-key",
        );
    };
    if !authorized(&request, key) {
        metrics::bump(&hub.metrics.api_errors);
        let mut response = error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        return response;
    }
    let response = route(hub, request).await;
    if response.status().is_success() {
        metrics::bump(&hub.metrics.api_calls);
    } else {
        metrics::bump(&hub.metrics.api_errors);
    }
    response
}

async fn route(hub: &Hub, request: Request<Incoming>) -> Response<Bytes> {
    let path = request.uri().path().to_owned();
    match (request.method().clone(), path.as_str()) {
        (Method::POST, "/api/emit") => match body::<Emit>(hub, request).await {
            Ok(emit) => emit_to(hub, &emit),
            Err(response) => response,
        },
        (Method::POST, "/api/disconnect") => match body::<Disconnect>(hub, request).await {
            Ok(d) => disconnect(hub, &d),
            Err(response) => response,
        },
        (Method::GET, "/api/rooms") => {
            let ns = query_param(&request, "namespace").unwrap_or_else(root);
            rooms(hub, &ns).await
        }
        (Method::GET, "/api/sockets") => {
            let ns = query_param(&request, "namespace").unwrap_or_else(root);
            let room = query_param(&request, "room");
            sockets(hub, &ns, room).await
        }
        (_, "/api/emit" | "/api/disconnect" | "/api/rooms" | "/api/sockets") => {
            error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => error(StatusCode::NOT_FOUND, "no such API call"),
    }
}

/// The request's body as a `T`, within the payload limit.
async fn body<T: serde::de::DeserializeOwned>(
    hub: &Hub,
    request: Request<Incoming>,
) -> Result<T, Response<Bytes>> {
    let limited = Limited::new(request.into_body(), hub.settings.max_payload);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body over the payload limit",
            ));
        }
        Err(_) => return Err(error(StatusCode::BAD_REQUEST, "body not read")),
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("invalid JSON body: {e}")))
}

/// The refusal of a namespace the hub does not serve.
fn unknown_namespace(hub: &Hub, ns: &str) -> Option<Response<Bytes>> {
    (!hub.serves(ns)).then(|| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("no namespace {ns:?} on this hub"),
        )
    })
}

fn emit_to(hub: &Hub, emit: &Emit) -> Response<Bytes> {
    if let Some(response) = unknown_namespace(hub, &emit.namespace) {
        return response;
    }
    if emit.event.is_empty()
        || emit.event.len() > MAX_EVENT_NAME
        || emit.event.contains(['\r', '\n'])
    {
        return error(
            StatusCode::BAD_REQUEST,
            "event: 1 to 256 bytes, no line breaks",
        );
    }
    let delivery = Delivery {
        ns: &emit.namespace,
        rooms: &emit.rooms,
        except: &emit.except,
        event: &emit.event,
        args: &emit.args,
    };
    match hub.deliver(&delivery, None) {
        Ok(()) => answer(StatusCode::OK, &json!({ "ok": true })),
        Err(why) => error(StatusCode::BAD_REQUEST, &why),
    }
}

fn disconnect(hub: &Hub, d: &Disconnect) -> Response<Bytes> {
    if let Some(response) = unknown_namespace(hub, &d.namespace) {
        return response;
    }
    let target = match (&d.id, &d.room) {
        (Some(id), None) => id.clone(),
        (None, Some(room)) => room.clone(),
        _ => return error(StatusCode::BAD_REQUEST, "give either id or room"),
    };
    hub.io.of(&d.namespace).to(target.clone()).disconnect();
    let sse = if d.room.is_some() {
        hub.sse.close_room(&d.namespace, &target)
    } else {
        0
    };
    answer(StatusCode::OK, &json!({ "ok": true, "sse_closed": sse }))
}

async fn rooms(hub: &Hub, ns: &str) -> Response<Bytes> {
    if let Some(response) = unknown_namespace(hub, ns) {
        return response;
    }
    let sockets = hub.io.of(ns).fetch_sockets().await;
    let mut rooms = BTreeSet::new();
    for socket in &sockets {
        for room in socket.rooms() {
            if &**room != socket.id().as_str() {
                rooms.insert(room.to_string());
            }
        }
    }
    answer(StatusCode::OK, &json!({ "rooms": rooms }))
}

async fn sockets(hub: &Hub, ns: &str, room: Option<String>) -> Response<Bytes> {
    if let Some(response) = unknown_namespace(hub, ns) {
        return response;
    }
    let namespace = hub.io.of(ns);
    let sockets = match room {
        Some(room) => namespace.to(room).fetch_sockets().await,
        None => namespace.fetch_sockets().await,
    };
    let list: Vec<Json> = sockets
        .iter()
        .map(|s| {
            json!({
                "id": s.id().as_str(),
                "rooms": s.rooms().iter().map(ToString::to_string).collect::<Vec<_>>(),
            })
        })
        .collect();
    answer(StatusCode::OK, &json!({ "sockets": list }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_decoded() {
        assert_eq!(percent_decode("a%2Cb+c"), "a,b c");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%2F"), "/");
    }

    #[test]
    fn keys_compare_whole() {
        assert!(constant_time_eq(b"key", b"key"));
        assert!(!constant_time_eq(b"key", b"kez"));
        assert!(!constant_time_eq(b"key", b"keys"));
    }
}
