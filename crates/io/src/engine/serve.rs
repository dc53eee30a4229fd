//! A ready-made accept loop: hyper-util's server for HTTP/1.1 and h2c,
//! with upgrades, extended CONNECT and `TCP_NODELAY`.

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tower_service::Service;

use super::response::EngineBody;

/// How long to wait after a failed `accept` (out of file descriptors,
/// most often) before the next: long enough not to spin, short enough
/// that service resumes at once when descriptors free up.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// Serves `service` (an [`Engine`](super::Engine), or a router that
/// mounts one beside other services) on every connection `listener`
/// accepts, until the task is dropped.
///
/// HTTP/1.1 and cleartext HTTP/2 on the same port; WebSocket upgrades over
/// HTTP/1.1 and extended CONNECT (RFC 8441) over HTTP/2; `TCP_NODELAY` on.
/// Each request carries its peer's [`std::net::SocketAddr`] as an
/// extension (see [`Handshake::remote_addr`](super::Handshake::remote_addr)).
///
/// # Errors
///
/// None so far: failed accepts are retried. The `Result` leaves room for
/// a shutdown that reports.
///
/// # Cancel safety
///
/// Dropping the future stops accepting; connections already accepted go
/// on, on their own tasks.
pub async fn serve<S>(listener: TcpListener, service: S) -> std::io::Result<()>
where
    S: Service<Request<Incoming>, Response = Response<EngineBody>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http2().enable_connect_protocol();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let service = service.clone();
        let http = http.clone();
        tokio::spawn(async move {
            let per_request = hyper::service::service_fn(move |mut request: Request<Incoming>| {
                request.extensions_mut().insert(peer);
                let mut service = service.clone();
                async move {
                    std::future::poll_fn(|cx| service.poll_ready(cx)).await?;
                    service.call(request).await
                }
            });
            let _ = http
                .serve_connection_with_upgrades(TokioIo::new(tcp), per_request)
                .await;
        });
    }
}
