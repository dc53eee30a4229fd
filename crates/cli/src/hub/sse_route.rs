//! `GET /sse?namespace=/&rooms=a,b`: a Server-Sent Events stream of the
//! rooms' events. With auth on, the token comes as `?token=` (browsers'
//! `EventSource` cannot set headers) or `Authorization: Bearer`, every
//! room must be one it allows, and the stream ends at its `exp` (after a
//! `token-expired` event). `Last-Event-ID` (or `?lastEventId=`) replays
//! what the rooms' histories hold after that id.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream;
use http::{Request, Response, StatusCode};
use http_body_util::StreamBody;
use hyper::body::{Frame, Incoming};
use serde_json::json;
use tokio::time::Instant;

use super::api::{answer, query_param};
use super::sse::{MAX_ROOMS_PER_SUBSCRIBER, Subscription};
use super::state::Hub;

/// How often a quiet stream gets a comment line. 15 s: proxies that close
/// idle responses after 30 s or more keep it open, and a subscriber that
/// went away is noticed (the write fails) within that time.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The body of an SSE response.
pub(crate) type SseBody = StreamBody<stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>;

/// What `GET /sse` answers: the stream, or a JSON error.
pub(crate) enum SseAnswer {
    /// The event stream.
    Stream(Response<SseBody>),
    /// A refusal.
    Refused(Response<Bytes>),
}

fn refuse(status: StatusCode, why: &str) -> SseAnswer {
    SseAnswer::Refused(answer(status, &json!({ "error": why })))
}

/// Answers `GET /sse`.
pub(crate) fn handle(hub: &Hub, request: &Request<Incoming>) -> SseAnswer {
    let ns = query_param(request, "namespace").unwrap_or_else(|| "/".into());
    if !hub.serves(&ns) {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!("no namespace {ns:?} on this hub"),
        );
    }
    let rooms: Vec<String> = query_param(request, "rooms")
        .unwrap_or_default()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect();
    if rooms.is_empty() || rooms.len() > MAX_ROOMS_PER_SUBSCRIBER {
        return refuse(
            StatusCode::BAD_REQUEST,
            "rooms: 1 to 64 room names, comma-separated",
        );
    }
    let mut deadline = None;
    if let Some(verifier) = &hub.auth {
        let token = query_param(request, "token").or_else(|| {
            request
                .headers()
                .get(http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .map(str::to_owned)
        });
        let Some(token) = token else {
            return refuse(StatusCode::UNAUTHORIZED, "no token: send ?token=JWT");
        };
        let claims = match verifier.verify(&token) {
            Ok(claims) => claims,
            Err(why) => return refuse(StatusCode::UNAUTHORIZED, &why),
        };
        if let Some(room) = rooms.iter().find(|r| !claims.allows(r)) {
            return refuse(
                StatusCode::FORBIDDEN,
                &format!("room {room:?} not allowed by the token"),
            );
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        deadline = Some(Instant::now() + Duration::from_secs(claims.exp).saturating_sub(now));
    }
    let last_id = request
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| query_param(request, "lastEventId"))
        .and_then(|v| v.trim().parse::<u64>().ok());
    let subscription = hub.sse.subscribe(&ns, rooms, last_id);
    tracing::debug!(ns, resumed = last_id.is_some(), "sse subscriber");
    let body = StreamBody::new(events(subscription, deadline));
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-cache"),
    );
    // Pages of any origin may subscribe: no cookie is read, the token is
    // the credential.
    headers.insert(
        http::header::ACCESS_CONTROL_ALLOW_ORIGIN,
        http::HeaderValue::from_static("*"),
    );
    SseAnswer::Stream(response)
}

/// Where a stream is.
struct State {
    sub: Subscription,
    replay: Option<Bytes>,
    deadline: Option<Instant>,
    ended: bool,
}

/// The frames of a subscription: the replay, then live events and
/// keep-alive comments, until the subscriber is dropped or the token
/// expires.
fn events(
    mut sub: Subscription,
    deadline: Option<Instant>,
) -> stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>> {
    let mut first = b"retry: 1000\n\n".to_vec();
    first.extend_from_slice(&std::mem::take(&mut sub.replay));
    let state = State {
        sub,
        replay: Some(Bytes::from(first)),
        deadline,
        ended: false,
    };
    Box::pin(stream::unfold(state, |mut state| async move {
        if state.ended {
            return None;
        }
        if let Some(replay) = state.replay.take() {
            return Some((Ok(Frame::data(replay)), state));
        }
        let deadline = state.deadline;
        let next = tokio::select! {
            event = state.sub.rx.recv() => Next::Event(event),
            () = tokio::time::sleep(KEEPALIVE) => Next::Keepalive,
            () = expiry(deadline) => Next::Expired,
        };
        let frame = match next {
            Next::Event(event) => event?,
            Next::Keepalive => Bytes::from_static(b": keepalive\n\n"),
            Next::Expired => {
                state.ended = true;
                Bytes::from_static(b"event: token-expired\ndata: {}\n\n")
            }
        };
        Some((Ok(Frame::data(frame)), state))
    }))
}

/// What woke a stream.
enum Next {
    Event(Option<Bytes>),
    Keepalive,
    Expired,
}

/// Waits until `deadline`, for ever without one.
async fn expiry(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
