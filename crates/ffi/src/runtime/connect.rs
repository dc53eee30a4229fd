//! Clients: [`sockeye_ctx_connect`] gives the id at once; the connection
//! and its opening handshake run on the runtime, and end in an OPEN or an
//! ERROR event.

use std::ffi::c_char;
use std::sync::Arc;

use sockeye::ClientBuilder;

use super::conns::Conn;
use super::context::sockeye_ctx;
use super::driver::{self, classify, describe};
use super::event::{Event, SOCKEYE_EVENT_ERROR};
use super::failure::{Failure, fail};
use super::shared::Shared;
use crate::boundary::{self, guard};
use crate::config::sockeye_config;
use crate::result::sockeye_result;

/// Refuses, before any I/O, what is not a `ws://` or `wss://` URL with a
/// host.
fn check_url(url: &str) -> Result<(), Failure> {
    let invalid = |why: &str| fail(sockeye_result::SOCKEYE_ERR_INVALID, format!("{url}: {why}"));
    let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
    match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("ws") || s.eq_ignore_ascii_case("wss") => {}
        _ => return Err(invalid("not a ws:// or wss:// URL")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(invalid("no host"));
    }
    Ok(())
}

/// Starts the connection; its id.
fn start(shared: &Arc<Shared>, url: &str, config: sockeye_config) -> Result<u64, Failure> {
    check_url(url)?;
    let mut websocket = config.websocket;
    if let Some(deflate) = &mut websocket.proto.deflate {
        // The offer promises to reset the window between messages: the
        // server then needs no inflate window per client, and servers
        // that insist on it (as some do) accept the offer.
        deflate.client_no_context_takeover = true;
    }
    let mut client = ClientBuilder::new(url)
        .config(websocket)
        .protocols(config.subprotocols)
        .handshake_timeout(config.handshake_timeout);
    for root in config.ca_roots {
        client = client.add_root_certificate(root);
    }
    let conn = Arc::new(Conn::new(
        shared.next_id(),
        0,
        config.max_buffered,
        true,
        Arc::clone(&shared.wakeups),
    ));
    let id = conn.id;
    shared.conns.insert(Arc::clone(&conn));
    let shared = Arc::clone(shared);
    shared.handle.clone().spawn(async move {
        match client.connect().await {
            Ok((ws, _)) => driver::run(shared, conn, ws).await,
            Err(e) => {
                let (code, close_code) = classify(&e);
                conn.ended();
                shared.events.push(&mut vec![Event::with_text(
                    SOCKEYE_EVENT_ERROR,
                    conn.id,
                    0,
                    &describe(&e),
                    close_code,
                    code,
                )]);
            }
        }
    });
    Ok(id)
}

/// Connects to `url` (`ws://host[:port]/path` or `wss://...`) and writes
/// the new connection's id to `*conn_id` at once; the TCP connect, TLS and
/// the opening handshake go on in the runtime and end in a
/// `SOCKEYE_EVENT_OPEN` event, or a `SOCKEYE_EVENT_ERROR` one
/// (`SOCKEYE_ERR_IO` for a refused connect, `SOCKEYE_ERR_HANDSHAKE`,
/// `SOCKEYE_ERR_TLS`, `SOCKEYE_ERR_TIMEOUT`) after which the id is
/// forgotten.
///
/// Sending before the OPEN event gives `SOCKEYE_ERR_STATE`;
/// `sockeye_close` may be called at once (the close follows the
/// handshake). A URL that does not parse, or whose scheme is not `ws` or
/// `wss`, gives `SOCKEYE_ERR_INVALID` and no id.
///
/// `config` (NULL for the defaults) is copied: limits, permessage-deflate
/// (offered when on, with `client_no_context_takeover`: this end resets
/// its compression window after each message, which spares the server a
/// window per client), subprotocols (offered in order), `max_buffered`,
/// the handshake timeout, and the roots set with
/// `sockeye_config_set_ca_file` for `wss` (besides the usual public
/// roots).
///
/// # Safety
/// `ctx` is NULL or a live context; `url` is NULL or a NUL-terminated
/// string; `config` is NULL or a live config that no thread changes during
/// the call; `conn_id` is NULL or points to a writable `uint64_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_ctx_connect(
    ctx: *mut sockeye_ctx,
    url: *const c_char,
    config: *const sockeye_config,
    conn_id: *mut u64,
) -> sockeye_result {
    guard(|| {
        // SAFETY: `ctx` is NULL or a live context, by the contract.
        let ctx = unsafe { boundary::shared(ctx.cast_const())? };
        if conn_id.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let shared = &ctx.shared;
        let id = shared.report((|| {
            // SAFETY: `url` is NULL or a NUL-terminated string.
            let url = unsafe { boundary::string(url)? };
            // SAFETY: `config` is NULL or a live config no one changes now.
            let config = sockeye_config::or_default(unsafe { config.as_ref() });
            start(shared, url, config)
        })())?;
        // SAFETY: `conn_id` is not NULL and writable.
        unsafe { boundary::write_out(conn_id, id) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ws_and_wss_urls_with_a_host_pass() {
        assert!(check_url("ws://127.0.0.1:9001/x").is_ok());
        assert!(check_url("WSS://example.com").is_ok());
        for bad in ["http://example.com", "ws://", "not a url", "", "ws:///path"] {
            let failure = check_url(bad).unwrap_err();
            assert_eq!(failure.code, sockeye_result::SOCKEYE_ERR_INVALID, "{bad}");
        }
    }
}
