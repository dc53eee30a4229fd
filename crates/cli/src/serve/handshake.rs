//! A connection from its accept to its WebSocket: the opening handshake
//! over HTTP/1.1, the WebSocket streams of an HTTP/2 connection, or the
//! answer to one turned away by a limit; then the task of the mode its
//! route chose.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sockeye::reactor::ReactorHandle;
use sockeye::{ServerBuilder, WebSocket};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::access::Access;
use super::console::add_headers;
use super::echo_reactor::EchoData;
use super::routes::{Opened, Site};
use super::transport::{Sorted, Transport};
use crate::describe;
use crate::limits::{ConnectionSlot, HandshakeSlot};
use crate::listen::try_again_later;

/// A connection's id in the log.
pub(super) fn next_id() -> u64 {
    static NEXT_ID: AtomicU64 = AtomicU64::new(0);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// A connection let in under the limits: what the task of its opening
/// handshake hands on to the connection's.
pub(super) struct Admitted {
    /// The connection's place under the limits, kept until it ends.
    pub(super) slot: ConnectionSlot,
    /// Its place among the handshakes in progress, released once open.
    pub(super) handshake: HandshakeSlot,
    /// Cancelled when the server shuts down.
    pub(super) closing: CancellationToken,
    /// The client's address, for the access log.
    pub(super) peer: SocketAddr,
    /// The routes: which mode serves which path.
    pub(super) site: Arc<Site>,
    /// The thread's connection tasks, which the open connection's joins.
    pub(super) connections: TaskTracker,
    /// The thread's reactor, which serves echo connections over plain
    /// TCP; `None` if it could not be made.
    pub(super) echo: Option<ReactorHandle<EchoData>>,
}

/// The opening handshake over HTTP/1.1, in a task of its own: its state
/// is large and short-lived, and the echo or fan-out task it hands the
/// open connection to keeps nothing else.
pub(super) async fn accept_http1<S: Transport>(
    server: Arc<ServerBuilder>,
    stream: S,
    id: u64,
    admitted: Admitted,
) {
    stream.no_delay();
    let Some((ws, opened, path)) =
        opening_handshake(&server, &admitted.site, stream, id, &admitted.closing).await
    else {
        return;
    };
    drop(admitted.handshake);
    tracing::debug!(id, "connection open");
    let access = Access::start(admitted.peer, path.as_deref());
    let Admitted {
        slot,
        closing,
        connections,
        echo,
        ..
    } = admitted;
    let ws = match (&opened, echo) {
        (Opened::Echo, Some(echo)) => match S::sort(ws) {
            Sorted::PlainTcp(ws) => {
                let data = EchoData { id, slot, access };
                if let Err(e) = echo.add(ws, data) {
                    tracing::debug!(id, error = %describe(&e), "connection dropped: the server is stopping");
                }
                return;
            }
            Sorted::Other(ws) => ws,
        },
        _ => ws,
    };
    connections.spawn(opened.run(ws, id, Some(slot), closing, access));
}

/// The WebSocket opening handshake over HTTP/1.1, with the mode its
/// route chose and its path; `None`, after logging why, for a plain HTTP request
/// (answered by the server), a path no route matches (404), a failure,
/// or a shutdown.
async fn opening_handshake<S: Transport>(
    server: &ServerBuilder,
    site: &Site,
    stream: S,
    id: u64,
    closing: &CancellationToken,
) -> Option<(WebSocket<S>, Opened, Option<String>)> {
    // Chosen before the 101 leaves: a broadcast connection is subscribed
    // by then, so it hears everything said once it is open.
    let addresses = stream.addresses();
    let mut opened = None;
    let mut path = None;
    let handshake = server.accept_with(stream, |request| {
        let (opened, path) = (&mut opened, &mut path);
        async move {
            let (accept, mode) = site.accept(&request, addresses, id).await?;
            *opened = Some(mode);
            *path = Some(request.path().to_owned());
            Ok(accept)
        }
    });
    // A shutdown does not wait for handshakes: a client stuck in one would
    // hold it up until the handshake timeout.
    let accepted = tokio::select! {
        accepted = handshake => accepted,
        () = closing.cancelled() => {
            tracing::debug!(id, "handshake cut short by the shutdown");
            return None;
        }
    };
    match accepted {
        Ok(ws) => opened.map(|opened| (ws, opened, path)),
        Err(sockeye::Error::Handshake(failure))
            if matches!(*failure, sockeye::HandshakeFailure::PlainHttp(_)) =>
        {
            tracing::debug!(id, answer = %failure, "plain http request");
            None
        }
        Err(e) => {
            tracing::debug!(id, error = %describe(&e), "handshake failed");
            None
        }
    }
}

/// An HTTP/2 connection (ALPN `h2`): each of its WebSocket streams (RFC
/// 8441) is answered as an HTTP/1.1 handshake is (route, origin,
/// `--header`, a program's request and `--max-forks`), then gets its
/// mode's task; plain requests, the dev console.
pub(super) async fn serve_http2(
    server: &ServerBuilder,
    tls: sockeye::tokio_rustls::server::TlsStream<TcpStream>,
    id: u64,
    admitted: Admitted,
) {
    let Admitted {
        slot,
        handshake,
        closing,
        peer,
        site,
        connections,
        ..
    } = admitted;
    drop(handshake);
    // Every stream comes from the connection's peer, to our address.
    let addresses = tls.addresses();
    tracing::debug!(id, "http/2 connection open");
    let accept = |request: sockeye::UpgradeRequest| {
        let site = Arc::clone(&site);
        let stream = next_id();
        async move {
            let (accept, opened) = site.accept(&request, addresses, stream).await?;
            Ok((accept, (opened, request.path().to_owned(), stream)))
        }
    };
    let on_open = |ws, (opened, path, stream): (Opened, String, u64)| {
        tracing::debug!(
            id = stream,
            http2_connection = id,
            "connection open over http/2"
        );
        let access = Access::start(peer, Some(&path));
        connections.track_future(opened.run(ws, stream, None, closing.clone(), access))
    };
    // On shutdown: no new streams (GOAWAY); those open close with 1001.
    let stop = closing.clone().cancelled_owned();
    let outcome = sockeye::http2::serve_connection_with(server, tls, stop, accept, on_open).await;
    match outcome {
        Ok(()) => tracing::debug!(id, "http/2 connection closed"),
        Err(e) => tracing::debug!(id, error = %describe(&e), "http/2 connection failed"),
    }
    drop(slot);
}

/// Answers a connection turned away by a limit, with `status`, a hint
/// to retry later and the `--header` headers, once its request is read.
pub(super) async fn answer_refusal<S: Transport>(
    server: Arc<ServerBuilder>,
    site: Arc<Site>,
    tcp: S,
    id: u64,
    handshake: HandshakeSlot,
    closing: CancellationToken,
    status: http::StatusCode,
) {
    let mut refusal = try_again_later(status);
    add_headers(&mut refusal, &site.headers);
    tokio::select! {
        refused = server.accept_with(tcp, |_| async { Err(refusal) }) => {
            if let Err(e) = refused {
                tracing::trace!(id, error = %describe(&e), "refused");
            }
        }
        () = closing.cancelled() => {}
    }
    drop(handshake);
}
