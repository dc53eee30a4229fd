//! The hub's one port: accepting connections (TLS when configured, up to
//! the connection limit) and routing each request: `/socket.io/` to the
//! Socket.IO server, `/api/` to the HTTP API, `/sse` to the event
//! streams, `/metrics` to Prometheus.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sockeye::rustls::ServerConfig;
use sockeye::tokio_rustls::TlsAcceptor;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::sse_route::{self, SseAnswer};
use super::state::Hub;
use super::{api, metrics};
use crate::listen::{AcceptBackoff, tls_handshake};

/// How long a client has to finish its TLS handshake. 10 s: a slow
/// mobile link needs a few round trips; a client that sends nothing must
/// not hold a connection slot longer.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's headers. 30 s: it bounds
/// the slots held by clients that open a connection and say nothing.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Every answer's body.
type Body = UnsyncBoxBody<Bytes, Infallible>;

fn full(response: Response<Bytes>) -> Response<Body> {
    response.map(|b| Full::new(b).boxed_unsync())
}

/// Routes one request.
async fn route(hub: Hub, request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path();
    if hub.io.service().serves_path(path) {
        let response = hub.io.service().handle(request).await;
        return Ok(response.map(BodyExt::boxed_unsync));
    }
    if path.starts_with("/api/") {
        return Ok(full(api::handle(&hub, request).await));
    }
    let response = match (request.method(), path) {
        (&Method::GET, "/sse") => match sse_route::handle(&hub, &request) {
            SseAnswer::Stream(response) => return Ok(response.map(BodyExt::boxed_unsync)),
            SseAnswer::Refused(response) => response,
        },
        (&Method::GET, "/metrics") => {
            let text = hub.metrics.render(&hub.extra_metrics().await);
            let mut response = Response::new(Bytes::from(text));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        _ => api::answer(
            StatusCode::NOT_FOUND,
            &serde_json::json!({ "error": "not found" }),
        ),
    };
    Ok(full(response))
}

/// `config` for HTTP/1.1 alone: the hub serves its port with hyper's
/// HTTP/1.1 server, upgrades included.
pub(crate) fn http1_only(config: &Arc<ServerConfig>) -> TlsAcceptor {
    let mut config = ServerConfig::clone(config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsAcceptor::from(Arc::new(config))
}

/// Serves `listener` until `closing` is cancelled.
pub(crate) async fn serve(
    hub: Hub,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    closing: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(hub.settings.max_connections));
    let mut backoff = AcceptBackoff::default();
    let mut next_id: u64 = 0;
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => { backoff.accepted(); pair }
                Err(e) => { backoff.failed(&e).await; continue; }
            },
            () = closing.cancelled() => return,
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "connection refused: --max-connections reached");
            metrics::bump(&hub.metrics.refused);
            drop(tcp);
            continue;
        };
        next_id += 1;
        let (hub, tls, closing, id) = (hub.clone(), tls.clone(), closing.clone(), next_id);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = tcp.set_nodelay(true);
            match tls {
                Some(tls) => {
                    if let Some(stream) =
                        tls_handshake(&tls, tcp, id, TLS_HANDSHAKE_TIMEOUT, &closing).await
                    {
                        connection(hub, TokioIo::new(stream), closing).await;
                    }
                }
                None => connection(hub, TokioIo::new(tcp), closing).await,
            }
        });
    }
}

/// Serves one connection's requests, upgrades included.
async fn connection<I>(hub: Hub, io: I, closing: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |request| route(hub.clone(), request));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .serve_connection(io, service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
        }
        () = closing.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
        }
    }
}
