//! UDP endpoints: `udp:HOST:PORT` and `udp-listen:ADDR`. A datagram is
//! one message and a message one datagram.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use tokio::net::UdpSocket;
use tokio::sync::{Semaphore, mpsc};

use super::conn::{Conn, MAX_DATAGRAM, Sink, Source};
use super::endpoint::Endpoint;
use super::{Settings, serve_client};

/// Datagrams of one `udp-listen:` client held while its pair is busy (at
/// most 16 × 64 KiB); more are dropped, as UDP does, so that one slow
/// client never stalls the socket the others share.
const QUEUED_DATAGRAMS: usize = 16;

/// A socket that sends to and receives from `addr` only (`HOST:PORT`, the
/// name resolved here).
pub(crate) async fn connect(addr: &str, settings: Settings) -> Result<Conn, String> {
    let cannot = |e: std::io::Error| format!("cannot use udp:{addr}: {e}");
    let peer = tokio::net::lookup_host(addr)
        .await
        .map_err(cannot)?
        .next()
        .ok_or_else(|| format!("cannot use udp:{addr}: the name has no address"))?;
    let local = if peer.is_ipv4() {
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    } else {
        SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0))
    };
    let socket = UdpSocket::bind(local).await.map_err(cannot)?;
    socket.connect(peer).await.map_err(cannot)?;
    let socket = Arc::new(socket);
    Ok(Conn {
        source: Source::Udp(Arc::clone(&socket), settings.lines),
        sink: Sink::Udp(socket),
        program: None,
    })
}

/// The clients of a `udp-listen:` socket, by source address.
type Sessions = Arc<Mutex<HashMap<SocketAddr, mpsc::Sender<Bytes>>>>;

/// Serves `socket`: the first datagram from a new source address starts a
/// pair with its own connection to `peer`; the pair's messages go back to
/// that address. A pair lasts until the other side closes or the client
/// stays silent for `--udp-timeout`. Never returns.
pub(crate) async fn serve(
    socket: UdpSocket,
    peer: Arc<Endpoint>,
    settings: Settings,
    clients: Arc<Semaphore>,
) {
    let socket = Arc::new(socket);
    let sessions = Sessions::default();
    loop {
        let mut buf = BytesMut::with_capacity(MAX_DATAGRAM);
        let from = match socket.recv_buf_from(&mut buf).await {
            Ok((_, from)) => from,
            Err(e) => {
                tracing::debug!(error = %e, "udp receive");
                continue;
            }
        };
        let datagram = buf.freeze();
        let known = lock(&sessions).get(&from).cloned();
        let queue = if let Some(queue) = known {
            queue
        } else {
            let Ok(permit) = Arc::clone(&clients).try_acquire_owned() else {
                tracing::warn!(%from, "too many clients (--max-clients): datagram dropped");
                continue;
            };
            let (queue, datagrams) = mpsc::channel(QUEUED_DATAGRAMS);
            lock(&sessions).insert(from, queue.clone());
            let conn = Conn {
                source: Source::Datagrams(datagrams, settings.lines, settings.udp_timeout),
                sink: Sink::UdpTo(Arc::clone(&socket), from),
                program: None,
            };
            let peer = Arc::clone(&peer);
            let sessions = Arc::clone(&sessions);
            tokio::spawn(async move {
                // The outcome is logged with the client.
                let _ = serve_client(conn, &peer, settings, &format!("udp:{from}")).await;
                lock(&sessions).remove(&from);
                drop(permit);
            });
            queue
        };
        if let Err(e) = queue.try_send(datagram) {
            tracing::debug!(%from, error = %e, "datagram dropped");
        }
    }
}

/// The sessions, whatever a panicking holder left.
fn lock(
    sessions: &Sessions,
) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, mpsc::Sender<Bytes>>> {
    sessions.lock().unwrap_or_else(PoisonError::into_inner)
}
