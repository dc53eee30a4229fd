//! `--static DIR`: each connection is served by hyper, which reads every
//! request on it. Plain HTTP requests get the files of DIR (tower-http's
//! `ServeDir`: content types, `index.html`, ranges, conditional
//! requests, nothing outside DIR), or the dev console at `/` when DIR has
//! no index; WebSocket requests go to their route, as without `--static`.
//!
//! HTTP/2 connections (RFC 8441) are served by hyper too with
//! `--static`, so that files come over them as well.
//!
//! The library's `http_fallback`, which answers the other connections'
//! plain requests, takes a whole body at once and closes the connection
//! after it: fine for the console page, not for files of any size, ranges
//! or a browser's keep-alive. Hence hyper, through `sockeye::hyper`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use sockeye::ServerBuilder;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::services::ServeDir;

use super::access::Access;
use super::console::{add_headers, answer_plain_http};
use super::handshake::Admitted;
use super::limits::{ConnectionSlot, HandshakeSlot};
use super::routes::Site;
use super::transport::Transport;
use crate::describe;

/// The smallest read buffer hyper takes (it panics below it).
const HYPER_MIN_BUF: usize = 8 << 10;

/// What connections served by hyper answer plain requests with, shared
/// by every connection.
#[derive(Clone, Debug)]
pub(super) struct Files {
    /// `--static`; without it, the console or 404.
    dir: Option<ServeDir>,
    /// The dev console at `/` when DIR has no index (not with
    /// `--no-console`).
    console: bool,
    /// The largest request head and the most header fields, as for the
    /// WebSocket handshake (`--max-handshake-size`, `--max-headers`).
    max_head: usize,
    max_headers: usize,
}

impl Files {
    /// The files of `dir`, which must be a directory that can be read. The
    /// error is the line to print.
    pub(super) fn new(
        dir: &std::path::Path,
        console: bool,
        max_head: usize,
        max_headers: usize,
    ) -> Result<Self, String> {
        match std::fs::read_dir(dir) {
            Ok(_) => Ok(Files {
                dir: Some(ServeDir::new(dir).append_index_html_on_directories(true)),
                console,
                max_head,
                max_headers,
            }),
            Err(e) => Err(format!(
                "cannot serve --static {}: {}",
                dir.display(),
                describe(&e)
            )),
        }
    }
}

/// The body of any answer: a file, a page, or nothing.
type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole body.
fn whole(bytes: Bytes) -> Body {
    http_body_util::Full::new(bytes)
        .map_err(|never: Infallible| match never {})
        .boxed_unsync()
}

/// One connection's side of the service: what its requests are answered
/// with, and its places under the limits.
struct Connection {
    server: Arc<ServerBuilder>,
    files: Files,
    site: Arc<Site>,
    id: u64,
    peer: std::net::SocketAddr,
    /// The peer's address and ours, for a program's environment.
    addresses: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    closing: CancellationToken,
    connections: TaskTracker,
    /// Taken by the WebSocket an HTTP/1.1 connection becomes, if it does;
    /// an HTTP/2 connection keeps it, as it carries its sockets.
    slot: Mutex<Option<ConnectionSlot>>,
    http2: bool,
    /// Given back once the first request is read.
    handshake: Mutex<Option<HandshakeSlot>>,
}

/// Serves a connection with hyper: HTTP/1.1 requests, the last of which
/// may become a WebSocket, or with `http2` the streams of an HTTP/2
/// connection, any of which may be a WebSocket; until the client closes
/// it, the server shuts down, or (HTTP/1.1) it goes quiet for the
/// handshake timeout.
pub(super) async fn serve_with_files<S: Transport>(
    server: Arc<ServerBuilder>,
    files: Files,
    http2: bool,
    handshake_timeout: Duration,
    stream: S,
    id: u64,
    admitted: Admitted,
) {
    stream.no_delay();
    let addresses = stream.addresses();
    let Admitted {
        slot,
        handshake,
        closing,
        peer,
        site,
        connections,
    } = admitted;
    let (max_head, max_headers) = (files.max_head, files.max_headers);
    let connection = Arc::new(Connection {
        server,
        files,
        site,
        id,
        peer,
        addresses,
        closing: closing.clone(),
        connections,
        slot: Mutex::new(Some(slot)),
        http2,
        handshake: Mutex::new(Some(handshake)),
    });
    let waiting = Arc::clone(&connection);
    let service = hyper::service::service_fn(move |request| {
        let connection = Arc::clone(&connection);
        async move { Ok::<_, Infallible>(connection.answer(request).await) }
    });
    let io = TokioIo::new(stream);
    let outcome = if http2 {
        let mut http = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        http.timer(TokioTimer::new())
            .enable_connect_protocol() // RFC 8441
            .max_concurrent_streams(sockeye::http2::MAX_STREAMS)
            .max_header_list_size(u32::try_from(max_head).unwrap_or(u32::MAX));
        let serving = http.serve_connection(io, service);
        tokio::pin!(serving);
        tokio::select! {
            outcome = serving.as_mut() => outcome,
            () = silent_for(&waiting, handshake_timeout) => {
                tracing::debug!(id, "http/2 connection without a request, dropped");
                return;
            }
            () = closing.cancelled() => {
                // GOAWAY: no new streams; those open close with 1001.
                serving.as_mut().graceful_shutdown();
                match tokio::time::timeout(handshake_timeout, serving).await {
                    Ok(outcome) => outcome,
                    Err(_) => return,
                }
            }
        }
    } else {
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(handshake_timeout)
            .max_buf_size(max_head.max(HYPER_MIN_BUF))
            .max_headers(max_headers);
        let serving = http.serve_connection(io, service).with_upgrades();
        tokio::pin!(serving);
        tokio::select! {
            outcome = serving.as_mut() => outcome,
            () = closing.cancelled() => {
                // No new requests; the one in progress may finish, within
                // the handshake timeout.
                serving.as_mut().graceful_shutdown();
                match tokio::time::timeout(handshake_timeout, serving).await {
                    Ok(outcome) => outcome,
                    Err(_) => return,
                }
            }
        }
    };
    if let Err(e) = outcome {
        tracing::debug!(id, error = %describe(&e), "http connection failed");
    }
}

/// Resolves if the connection has sent no request after `limit`: a
/// silent HTTP/2 client is dropped as hyper drops a silent HTTP/1.1 one.
async fn silent_for(connection: &Connection, limit: Duration) {
    tokio::time::sleep(limit).await;
    if connection
        .handshake
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .is_none()
    {
        std::future::pending::<()>().await;
    }
}

impl Connection {
    /// The answer to one request, with the `--header` headers (those of
    /// a WebSocket's opening are in it already).
    async fn answer(&self, mut request: http::Request<Incoming>) -> http::Response<Body> {
        drop(
            self.handshake
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let mut answer = if sockeye::hyper::is_upgrade_request(&request) {
            self.upgrade(&mut request).await
        } else {
            self.plain(request).await
        };
        add_headers(&mut answer, &self.site.headers);
        answer
    }

    /// A WebSocket request: checked, routed, and once answered 101 handed
    /// to its mode's task.
    async fn upgrade(&self, request: &mut http::Request<Incoming>) -> http::Response<Body> {
        let pending = match self.server.check_upgrade(request) {
            Ok(pending) => pending,
            Err(refused) => {
                tracing::debug!(id = self.id, error = %describe(&refused), "handshake failed");
                return refused.into_response::<Bytes>().map(whole);
            }
        };
        let chosen = self
            .site
            .accept(pending.request(), self.addresses, self.id)
            .await;
        let (accept, opened) = match chosen {
            Ok(chosen) => chosen,
            Err(refusal) => return refusal.map(whole),
        };
        let path = pending.request().path().to_owned();
        let (response, upgrade) = match pending.accept(accept) {
            Ok(accepted) => accepted,
            Err(refused) => return refused.into_response::<Bytes>().map(whole),
        };
        let slot = if self.http2 {
            None
        } else {
            self.slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        };
        let (id, peer, closing) = (self.id, self.peer, self.closing.clone());
        self.connections.spawn(async move {
            let ws = match upgrade.await {
                Ok(ws) => ws,
                Err(e) => {
                    tracing::debug!(id, error = %describe(&e), "upgrade failed");
                    return;
                }
            };
            tracing::debug!(id, "connection open");
            let access = Access::start(peer, Some(&path));
            opened.run(ws, id, slot, closing, access).await;
        });
        response.map(|body| body.map_err(|never| match never {}).boxed_unsync())
    }

    /// A plain request: a file of DIR, else the console's answer.
    async fn plain(&self, request: http::Request<Incoming>) -> http::Response<Body> {
        let mut head = http::Request::new(());
        *head.method_mut() = request.method().clone();
        *head.uri_mut() = request.uri().clone();
        *head.version_mut() = request.version();
        let Some(mut dir) = self.files.dir.clone() else {
            return if self.files.console {
                answer_plain_http(&head).map(whole)
            } else {
                let mut answer = http::Response::new(whole(Bytes::from_static(b"not found\n")));
                *answer.status_mut() = http::StatusCode::NOT_FOUND;
                answer
            };
        };
        let answer = match dir.try_call(request).await {
            Ok(answer) => answer.map(BodyExt::boxed_unsync),
            Err(e) => {
                tracing::debug!(id = self.id, error = %describe(&e), "file not served");
                let mut answer =
                    http::Response::new(whole(Bytes::from_static(b"internal server error\n")));
                *answer.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                return answer;
            }
        };
        if answer.status() == http::StatusCode::NOT_FOUND && self.files.console {
            return answer_plain_http(&head).map(whole);
        }
        answer
    }
}
