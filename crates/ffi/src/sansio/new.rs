//! Making and freeing connections, and the error message of a handle.

use std::cell::RefCell;
use std::ffi::{CString, c_char};

use bytes::BytesMut;
use sockeye_proto::Role;

use super::conn::{Phase, c_string, sockeye_conn};
use super::handshake::client_request;
use crate::boundary::{self, guard, guard_value};
use crate::config::sockeye_config;
use crate::registry;
use crate::result::sockeye_result;

thread_local! {
    /// Why the last `sockeye_conn_new_*` on this thread failed.
    static NEW_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// Records why making a connection failed, for `sockeye_conn_last_error(NULL)`.
fn new_failed(code: sockeye_result, message: &str) -> sockeye_result {
    NEW_ERROR.with(|slot| *slot.borrow_mut() = c_string(message));
    code
}

/// Makes a server connection that waits for the client's HTTP request and
/// writes it to `*out`.
///
/// Feed it what the client sends. Once the whole request has arrived it
/// answers by itself: `101 Switching Protocols` with the first of the
/// config's subprotocols the client offered and permessage-deflate when the
/// config turns it on and the client offered it; then
/// `sockeye_conn_next_event` gives a `SOCKEYE_CONN_EVENT_OPEN`. A request
/// that breaks RFC 6455 gets the matching HTTP error (400, 426, 431 or
/// 505) instead, and `sockeye_conn_next_event` returns
/// `SOCKEYE_ERR_HANDSHAKE`: write the answer out, then close the socket.
///
/// `config` may be NULL for the defaults; it is copied, so it may be
/// changed or freed afterwards. Free the connection with
/// `sockeye_conn_free`.
///
/// # Safety
/// `config` is NULL or a live config no other thread changes during the
/// call; `out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_new_server(
    config: *const sockeye_config,
    out: *mut *mut sockeye_conn,
) -> sockeye_result {
    guard(|| {
        if out.is_null() {
            return Err(new_failed(sockeye_result::SOCKEYE_ERR_NULL, "out is NULL"));
        }
        // SAFETY: `config` is NULL or a live config, by the contract.
        let config = unsafe { config.as_ref() };
        let conn = sockeye_conn::new(
            Role::Server,
            config,
            Phase::ServerHandshake(BytesMut::new()),
        );
        // SAFETY: `out` is not NULL and writable, by the contract.
        unsafe { boundary::write_out(out, registry::create(conn)) }
    })
}

/// Makes a client connection and writes it to `*out`. Its HTTP request is
/// queued as output at once: write it to the socket, then feed what the
/// server answers.
///
/// `host` is the `Host` header, such as `"example.com"` or
/// `"example.com:8080"` (leave out the port when it is 80); `path` is the
/// request target, such as `"/chat?room=1"`. The request offers the
/// config's subprotocols and, when the config turns it on,
/// permessage-deflate. When the answer is a valid 101,
/// `sockeye_conn_next_event` gives `SOCKEYE_CONN_EVENT_OPEN`; otherwise it
/// returns `SOCKEYE_ERR_HANDSHAKE` and `sockeye_conn_last_error` says why
/// (the status the server answered, or what is wrong with the answer).
///
/// `config` may be NULL for the defaults; it is copied. Strings are
/// copied. Returns `SOCKEYE_ERR_INVALID` for a host or path that cannot
/// be sent (the reason is in `sockeye_conn_last_error(NULL)`). Free the
/// connection with `sockeye_conn_free`.
///
/// # Safety
/// `config` is NULL or a live config no other thread changes during the
/// call; `host` and `path` are NULL or NUL-terminated strings; `out` is
/// NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_new_client(
    config: *const sockeye_config,
    host: *const c_char,
    path: *const c_char,
    out: *mut *mut sockeye_conn,
) -> sockeye_result {
    guard(|| {
        if out.is_null() {
            return Err(new_failed(sockeye_result::SOCKEYE_ERR_NULL, "out is NULL"));
        }
        // SAFETY: NULL or NUL-terminated strings, by the contract.
        let (host, path) = unsafe { (boundary::string(host), boundary::string(path)) };
        let (host, path) = match (host, path) {
            (Ok(host), Ok(path)) => (host, path),
            (Err(code), _) | (_, Err(code)) => {
                return Err(new_failed(code, "host or path is NULL or not UTF-8"));
            }
        };
        // SAFETY: `config` is NULL or a live config, by the contract.
        let config = unsafe { config.as_ref() };
        let conn = client(config, host, path)?;
        // SAFETY: `out` is not NULL and writable, by the contract.
        unsafe { boundary::write_out(out, registry::create(conn)) }
    })
}

/// A client connection for `host` and `path` with its request queued.
fn client(
    config: Option<&sockeye_config>,
    host: &str,
    path: &str,
) -> Result<sockeye_conn, sockeye_result> {
    let mut conn = sockeye_conn::new(Role::Client, config, Phase::Refused);
    let handshake = client_request(&conn, host, path)
        .map_err(|message| new_failed(sockeye_result::SOCKEYE_ERR_INVALID, &message))?;
    handshake.write_request(&mut conn.pre);
    conn.phase = Phase::ClientHandshake(Box::new(handshake), BytesMut::new());
    Ok(conn)
}

/// Makes a client connection for a `ws://` URL, such as
/// `"ws://127.0.0.1:9001/runCase?case=1"`, as `sockeye_conn_new_client`
/// does with the URL's host, port and path. Only parses the URL: connect
/// the socket yourself (no name lookup is done here).
///
/// Returns `SOCKEYE_ERR_INVALID` for a URL that does not parse or is not
/// `ws://`; `wss://` is refused too, since this layer does not do TLS (the
/// reason is in `sockeye_conn_last_error(NULL)`).
///
/// # Safety
/// As `sockeye_conn_new_client`; `url` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_new_client_url(
    config: *const sockeye_config,
    url: *const c_char,
    out: *mut *mut sockeye_conn,
) -> sockeye_result {
    guard(|| {
        if out.is_null() {
            return Err(new_failed(sockeye_result::SOCKEYE_ERR_NULL, "out is NULL"));
        }
        // SAFETY: NULL or a NUL-terminated string, by the contract.
        let url = unsafe { boundary::string(url) }
            .map_err(|code| new_failed(code, "url is NULL or not UTF-8"))?;
        let (host, path) = split_url(url)
            .map_err(|message| new_failed(sockeye_result::SOCKEYE_ERR_INVALID, &message))?;
        // SAFETY: `config` is NULL or a live config, by the contract.
        let config = unsafe { config.as_ref() };
        let conn = client(config, &host, &path)?;
        // SAFETY: `out` is not NULL and writable, by the contract.
        unsafe { boundary::write_out(out, registry::create(conn)) }
    })
}

/// The `Host` header and request target of a `ws://` URL.
fn split_url(url: &str) -> Result<(String, String), String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("invalid URL {url:?}"))?;
    match uri.scheme_str() {
        Some("ws") => {}
        Some("wss") => {
            return Err(format!(
                "{url:?} is wss://: the sans-I/O layer does no TLS; run TLS yourself and use \
                 sockeye_conn_new_client, or use the sockeye_ctx_* layer"
            ));
        }
        _ => return Err(format!("{url:?} is not a ws:// URL")),
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("{url:?} has no host"))?;
    if authority.as_str().contains('@') {
        return Err(format!("{url:?} has user information, which is not sent"));
    }
    if authority.host().is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    // RFC 6455 §3: the default port of ws:// is 80, left out of Host.
    let host = match authority.port_u16() {
        Some(80) => authority.host().to_owned(),
        _ => authority.as_str().to_owned(),
    };
    let path = uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let path = if path.is_empty() { "/" } else { path };
    Ok((host, path.to_owned()))
}

/// Frees a connection. Pointers it gave out (event data, output, strings)
/// die with it. A second free of the same pointer, or a pointer this
/// library did not make, returns `SOCKEYE_ERR_BAD_HANDLE` and touches
/// nothing (certain within the next 256 frees of any handle, whose memory
/// the library holds back; best effort after); NULL returns
/// `SOCKEYE_ERR_NULL`.
///
/// # Safety
/// `conn` is any pointer: it is looked up among the live connections
/// before it is touched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_free(conn: *mut sockeye_conn) -> sockeye_result {
    guard(|| registry::free(conn))
}

/// A message saying why the last failing call on `conn` failed, or `""`
/// when none has. With NULL: why the last `sockeye_conn_new_*` on this
/// thread failed.
///
/// Never NULL. The string belongs to the connection (or, for NULL, to the
/// thread) and stays valid until the next call on it; copy it to keep it.
///
/// # Safety
/// `conn` is NULL or a live connection no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_conn_last_error(conn: *const sockeye_conn) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        // SAFETY: NULL or a live connection, by the contract.
        match unsafe { conn.as_ref() } {
            Some(conn) => conn.last_error().as_ptr(),
            // The thread's string lives until this thread's next failed
            // `_new`, which the contract tells the caller to expect.
            None => NEW_ERROR.with(|slot| slot.borrow().as_ptr()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_host_and_target() {
        assert_eq!(
            split_url("ws://127.0.0.1:9001/runCase?case=3&agent=x"),
            Ok((
                "127.0.0.1:9001".to_owned(),
                "/runCase?case=3&agent=x".to_owned()
            ))
        );
        assert_eq!(
            split_url("ws://example.com"),
            Ok(("example.com".to_owned(), "/".to_owned()))
        );
        assert_eq!(
            split_url("ws://example.com:80/a"),
            Ok(("example.com".to_owned(), "/a".to_owned()))
        );
        assert!(split_url("wss://example.com/").unwrap_err().contains("TLS"));
        assert!(split_url("http://example.com/").is_err());
        assert!(split_url("ws://u:p@example.com/").is_err());
        assert!(split_url("not a url").is_err());
    }
}
