//! Listeners: binding on the caller's thread (so a bind error comes back
//! from the call), the accept loop, and each accepted connection's TLS
//! and opening handshakes up to its OPEN event.

use std::ffi::c_char;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use sockeye::ServerBuilder;
use sockeye::tokio_rustls::TlsAcceptor;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::conns::Conn;
use super::context::sockeye_ctx;
use super::driver;
use super::failure::{Failure, fail};
use super::shared::{Listener, Shared};
use super::tls;
use crate::boundary::{self, guard};
use crate::config::sockeye_config;
use crate::result::sockeye_result;

/// How long the accept loop pauses after a failed `accept` (out of file
/// descriptors, most often) before trying again: a failing accept would
/// otherwise spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

/// What every connection of one listener shares.
struct Settings {
    server: ServerBuilder,
    handshake_timeout: Duration,
    max_buffered: usize,
    tls: Option<TlsAcceptor>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("server", &self.server)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_buffered", &self.max_buffered)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// Binds `addr` and starts accepting; the listener's id and port.
fn start(
    shared: &Arc<Shared>,
    addr: &str,
    config: sockeye_config,
    tls: Option<TlsAcceptor>,
) -> Result<(u64, u16), Failure> {
    let addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| fail(sockeye_result::SOCKEYE_ERR_INVALID, format!("{addr}: {e}")))?
        .collect();
    let bound = std::net::TcpListener::bind(&addrs[..])
        .map_err(|e| fail(sockeye_result::SOCKEYE_ERR_IO, format!("bind {addr}: {e}")))?;
    let io = |e: std::io::Error| fail(sockeye_result::SOCKEYE_ERR_IO, format!("{addr}: {e}"));
    bound.set_nonblocking(true).map_err(io)?;
    let port = bound.local_addr().map_err(io)?.port();
    let listener = {
        let _runtime = shared.handle.enter();
        TcpListener::from_std(bound).map_err(io)?
    };
    let settings = Arc::new(Settings {
        server: ServerBuilder::new()
            .config(config.websocket)
            .handshake_timeout(config.handshake_timeout)
            .protocols(config.subprotocols),
        handshake_timeout: config.handshake_timeout,
        max_buffered: config.max_buffered,
        tls,
    });
    let id = shared.next_id();
    let task = shared
        .handle
        .spawn(accept_loop(Arc::clone(shared), id, listener, settings));
    shared.listeners().insert(id, Listener { port, task });
    Ok((id, port))
}

async fn accept_loop(shared: Arc<Shared>, id: u64, listener: TcpListener, settings: Arc<Settings>) {
    loop {
        // While the event queue is at its bound (the host is not polling),
        // take no new connection either: each would add an event and a
        // task. The kernel's backlog holds them meanwhile.
        std::future::poll_fn(|cx| {
            let events = &shared.events;
            if events.is_full() && events.wait_for_space(cx.waker()) {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        match listener.accept().await {
            Ok((tcp, _)) => {
                let _ = tcp.set_nodelay(true);
                tokio::spawn(handshake(
                    Arc::clone(&shared),
                    id,
                    tcp,
                    Arc::clone(&settings),
                ));
            }
            Err(_) => tokio::time::sleep(ACCEPT_RETRY).await,
        }
    }
}

/// TLS (for `wss`) and the opening handshake; a connection that fails
/// them never gets an id and makes no event.
async fn handshake(shared: Arc<Shared>, listener: u64, tcp: TcpStream, settings: Arc<Settings>) {
    match &settings.tls {
        None => {
            if let Ok(ws) = settings.server.accept(tcp).await {
                open(shared, listener, &settings, ws).await;
            }
        }
        Some(acceptor) => {
            let Ok(Ok(stream)) =
                tokio::time::timeout(settings.handshake_timeout, acceptor.accept(tcp)).await
            else {
                return;
            };
            if let Ok(ws) = settings.server.accept(stream).await {
                open(shared, listener, &settings, ws).await;
            }
        }
    }
}

async fn open<S>(shared: Arc<Shared>, listener: u64, settings: &Settings, ws: sockeye::WebSocket<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conn = Arc::new(Conn::new(
        shared.next_id(),
        listener,
        settings.max_buffered,
        false,
        Arc::clone(&shared.wakeups),
    ));
    shared.conns.insert(Arc::clone(&conn));
    driver::run(shared, conn, ws).await;
}

/// The common part of the two listen exports.
///
/// # Safety
/// As `sockeye_ctx_listen`'s contract.
unsafe fn listen(
    ctx: *mut sockeye_ctx,
    addr: *const c_char,
    config: *const sockeye_config,
    listener_id: *mut u64,
    tls: impl FnOnce() -> Result<Option<TlsAcceptor>, Failure>,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        if listener_id.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let shared = &ctx.shared;
        let (id, _) = shared.report((|| {
            // SAFETY: `addr` is NULL or a NUL-terminated string.
            let addr = unsafe { boundary::string(addr)? };
            // SAFETY: `config` is NULL or a live config no one changes now.
            let config = sockeye_config::or_default(unsafe { config.as_ref() });
            let tls = tls()?;
            start(shared, addr, config, tls)
        })())?;
        // SAFETY: `listener_id` is not NULL and writable.
        unsafe { boundary::write_out(listener_id, id) }
    })
}

/// Listens for WebSocket connections (`ws://`) on `addr`, such as
/// `"127.0.0.1:9001"` (port 0 picks a free port: see
/// `sockeye_ctx_listener_port`), and writes the listener's id to
/// `*listener_id`.
///
/// The socket is bound before the call returns: a bind failure returns
/// `SOCKEYE_ERR_IO` with the OS's reason in `sockeye_ctx_last_error`; an
/// address that does not parse gives `SOCKEYE_ERR_INVALID`. Every path is
/// accepted. Each connection that completes its opening handshake arrives
/// as a `SOCKEYE_EVENT_OPEN` event carrying this listener's id; those that
/// fail it make no event.
///
/// `config` (NULL for the defaults) is copied: limits, permessage-deflate
/// (accepted when a client offers it and the config turns it on),
/// subprotocols (the first of the config's list that the client offers is
/// picked), `max_buffered`, and the handshake timeout.
///
/// # Safety
/// `ctx` is NULL or a live context; `addr` is NULL or a NUL-terminated
/// string; `config` is NULL or a live config that no thread changes during
/// the call; `listener_id` is NULL or points to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_listen(
    ctx: *mut sockeye_ctx,
    addr: *const c_char,
    config: *const sockeye_config,
    listener_id: *mut u64,
) -> sockeye_result {
    // SAFETY: the arguments are as this function's own contract says.
    unsafe { listen(ctx, addr, config, listener_id, || Ok(None)) }
}

/// As `sockeye_ctx_listen`, for `wss://`: TLS with the certificate chain
/// (PEM, leaf first) in the file `cert_pem_path` and the private key (PEM:
/// PKCS #8, PKCS #1 or SEC1) in `key_pem_path`.
///
/// Both files are read before the call returns: `SOCKEYE_ERR_IO` when one
/// cannot be read or holds no certificate or key, `SOCKEYE_ERR_TLS` when
/// the key does not suit the certificate; the details are in
/// `sockeye_ctx_last_error`. Clients that fail the TLS handshake (within
/// the handshake timeout) make no event.
///
/// # Safety
/// As `sockeye_ctx_listen`; `cert_pem_path` and `key_pem_path` are NULL or
/// NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_listen_tls(
    ctx: *mut sockeye_ctx,
    addr: *const c_char,
    cert_pem_path: *const c_char,
    key_pem_path: *const c_char,
    config: *const sockeye_config,
    listener_id: *mut u64,
) -> sockeye_result {
    // SAFETY: the arguments are as this function's own contract says.
    unsafe {
        listen(ctx, addr, config, listener_id, || {
            // SAFETY: both paths are NULL or NUL-terminated strings.
            let cert = boundary::string(cert_pem_path)?;
            // SAFETY: as above.
            let key = boundary::string(key_pem_path)?;
            tls::acceptor(cert, key).map(Some)
        })
    }
}

/// Writes the port that listener `listener_id` is bound to into `*port`:
/// the one the OS picked when the address asked for port 0.
/// `SOCKEYE_ERR_NOT_FOUND` for an unknown id.
///
/// # Safety
/// `ctx` is NULL or a live context; `port` is NULL or points to a writable
/// `uint16_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_listener_port(
    ctx: *mut sockeye_ctx,
    listener_id: u64,
    port: *mut u16,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        if port.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let found = ctx.shared.listeners().get(&listener_id).map(|l| l.port);
        let found = ctx
            .shared
            .report(found.ok_or_else(|| sockeye_result::SOCKEYE_ERR_NOT_FOUND.into()))?;
        // SAFETY: `port` is not NULL and writable.
        unsafe { boundary::write_out(port, found) }
    })
}

/// Stops listener `listener_id`: no more connections are accepted and its
/// socket is closed (shortly after the call returns, on the runtime's
/// thread). Connections it accepted stay open. `SOCKEYE_ERR_NOT_FOUND`
/// for an unknown id.
///
/// # Safety
/// `ctx` is NULL or a live context.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_unlisten(
    ctx: *mut sockeye_ctx,
    listener_id: u64,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        let removed = ctx.shared.listeners().remove(&listener_id);
        let listener = ctx
            .shared
            .report(removed.ok_or_else(|| sockeye_result::SOCKEYE_ERR_NOT_FOUND.into()))?;
        listener.task.abort();
        Ok(())
    })
}
