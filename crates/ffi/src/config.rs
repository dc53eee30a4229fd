//! [`sockeye_config`]: the limits, timeouts and switches both layers read.
//!
//! One opaque handle with a setter per field; every field starts at a
//! documented default, the same as sockeye's Rust defaults. A config is
//! copied into whatever is made from it, so it can be changed or freed
//! afterwards without touching that connection, server or client.

use std::ffi::c_char;
use std::time::Duration;

use sockeye::WebSocketConfig;
use sockeye_proto::DeflateConfig;

use crate::boundary::{self, guard};
use crate::registry;
use crate::result::sockeye_result;

/// Settings for connections, servers and clients. Made by
/// [`sockeye_config_new`], freed by [`sockeye_config_free`].
///
/// Not safe to change from two threads at once; reading it (passing it to
/// a `_new`, `_listen` or `_connect`) from several threads is safe while no
/// one changes it.
#[allow(non_camel_case_types)]
#[derive(Clone, Debug)]
pub struct sockeye_config {
    /// The tokio layer's settings, which hold the engine's.
    pub(crate) websocket: WebSocketConfig,
    /// Subprotocols: a server picks the first of these the client offers; a
    /// client offers them in this order.
    pub(crate) subprotocols: Vec<String>,
    /// Send-buffer size above which a send is refused with
    /// `SOCKEYE_ERR_BACKPRESSURE`.
    pub(crate) max_buffered: usize,
    /// How long an opening handshake may take.
    pub(crate) handshake_timeout: Duration,
    /// Extra roots a `wss://` client trusts, from
    /// [`sockeye_config_set_ca_file`].
    pub(crate) ca_roots: Vec<sockeye::pki_types::CertificateDer<'static>>,
}

/// The default for [`sockeye_config_set_max_buffered`]: 16 MiB, the
/// engine's default message limit, so one largest message always fits an
/// empty buffer while a peer that stops reading cannot make a sender queue
/// without bound.
pub(crate) const DEFAULT_MAX_BUFFERED: usize = 16 << 20;

/// The default for [`sockeye_config_set_handshake_timeout_ms`]: 10 s, as
/// sockeye's servers and clients; long enough for a slow mobile link,
/// short enough that half-open handshakes do not pile up.
pub(crate) const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for sockeye_config {
    fn default() -> Self {
        sockeye_config {
            websocket: WebSocketConfig::default(),
            subprotocols: Vec::new(),
            max_buffered: DEFAULT_MAX_BUFFERED,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            ca_roots: Vec::new(),
        }
    }
}

impl sockeye_config {
    /// The settings a NULL config pointer stands for, where a function
    /// allows NULL.
    pub(crate) fn or_default(config: Option<&sockeye_config>) -> sockeye_config {
        config.cloned().unwrap_or_default()
    }
}

/// Makes a config with every default and writes it to `*out`.
///
/// Defaults: max message size 16 MiB, max frame size 16 MiB,
/// permessage-deflate off, no subprotocols, send buffer limit 16 MiB,
/// handshake timeout 10 s, close timeout 10 s, keepalive ping after 20 s of
/// silence (0 turns it off), keepalive timeout 20 s, no idle timeout.
/// Free it with `sockeye_config_free`.
///
/// # Safety
/// `out` is NULL or points to writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_new(out: *mut *mut sockeye_config) -> sockeye_result {
    guard(|| {
        if out.is_null() {
            return Err(sockeye_result::SOCKEYE_ERR_NULL);
        }
        let config = registry::create(sockeye_config::default());
        // SAFETY: `out` is not NULL; the caller gives a writable pointer slot.
        unsafe { boundary::write_out(out, config) }
    })
}

/// Frees a config made by `sockeye_config_new`. What was made from it is
/// not affected. A second free of the same pointer returns
/// `SOCKEYE_ERR_BAD_HANDLE` and touches nothing (certain within the next
/// 256 frees of any handle, whose memory the library holds back; best
/// effort after); NULL returns `SOCKEYE_ERR_NULL`.
///
/// # Safety
/// `config` is any pointer: it is looked up among the live configs before
/// it is touched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_free(config: *mut sockeye_config) -> sockeye_result {
    guard(|| registry::free(config))
}

/// Runs `change` on the config behind `config`.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
unsafe fn set(
    config: *mut sockeye_config,
    change: impl FnOnce(&mut sockeye_config) -> Result<(), sockeye_result>,
) -> sockeye_result {
    guard(|| {
        // SAFETY: the caller passes NULL or a live config it does not use
        // elsewhere during the call (the header's rule for setters).
        let config = unsafe { boundary::exclusive(config)? };
        change(config)
    })
}

/// [`set`] for a value that must not be zero: zero gives
/// `SOCKEYE_ERR_INVALID` and changes nothing.
///
/// # Safety
/// As for [`set`].
unsafe fn set_nonzero<V: Copy + Default + PartialEq>(
    config: *mut sockeye_config,
    value: V,
    apply: impl FnOnce(&mut sockeye_config, V),
) -> sockeye_result {
    // SAFETY: `config` is as the caller's contract says.
    unsafe {
        set(config, |c| {
            if value == V::default() {
                return Err(sockeye_result::SOCKEYE_ERR_INVALID);
            }
            apply(c, value);
            Ok(())
        })
    }
}

/// Milliseconds as a duration; 0 means "off" where the setter says so.
fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The largest message accepted, all fragments together, in bytes
/// (default 16 MiB). A larger one closes the connection with 1009 as soon
/// as a frame header announces it. Must be at least 1.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_max_message_size(
    config: *mut sockeye_config,
    bytes: usize,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe { set_nonzero(config, bytes, |c, v| c.websocket.proto.max_message_size = v) }
}

/// The largest frame accepted, in bytes (default 16 MiB). Must be at
/// least 1.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_max_frame_size(
    config: *mut sockeye_config,
    bytes: usize,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe { set_nonzero(config, bytes, |c, v| c.websocket.proto.max_frame_size = v) }
}

/// Turns permessage-deflate (RFC 7692) on or off (default off): a client
/// offers it, a server accepts a client's offer. Costs CPU and about
/// 300 KiB of zlib state per connection that uses it.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_deflate(
    config: *mut sockeye_config,
    on: bool,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe {
        set(config, |c| {
            c.websocket.proto.deflate = on.then(DeflateConfig::default);
            Ok(())
        })
    }
}

/// Turns permessage-deflate on without context takeover in either
/// direction, or both (RFC 7692 §7.1.1): each message is then compressed
/// from an empty window, which costs some ratio but lets the receiving end
/// keep no window between messages.
///
/// A client with `client_no_context_takeover` promises it in its offer
/// (some servers accept a client's offer only with that promise) and with
/// `server_no_context_takeover` asks it of the server. A server with
/// `client_no_context_takeover` requires it of every client and with
/// `server_no_context_takeover` always resets its own window. Both false
/// is the same as `sockeye_config_set_deflate(config, true)`.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_deflate_no_context_takeover(
    config: *mut sockeye_config,
    client_no_context_takeover: bool,
    server_no_context_takeover: bool,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe {
        set(config, |c| {
            c.websocket.proto.deflate = Some(DeflateConfig {
                client_no_context_takeover,
                server_no_context_takeover,
                ..DeflateConfig::default()
            });
            Ok(())
        })
    }
}

/// Adds a subprotocol (a token such as `"chat"`). A client offers its list
/// in order; a server picks the first of its own list that the client
/// offered, or none. The string is copied.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call, and `name` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_add_subprotocol(
    config: *mut sockeye_config,
    name: *const c_char,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe {
        set(config, |c| {
            // `name` is NULL or a NUL-terminated string, by the contract.
            let name = boundary::string(name)?;
            let token = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b));
            if !token {
                return Err(sockeye_result::SOCKEYE_ERR_INVALID);
            }
            c.subprotocols.push(name.to_owned());
            Ok(())
        })
    }
}

/// Bytes a connection may hold queued for sending before a send is refused
/// with `SOCKEYE_ERR_BACKPRESSURE` (default 16 MiB). The message that
/// crosses the limit is still taken. Must be at least 1.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_max_buffered(
    config: *mut sockeye_config,
    bytes: usize,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe { set_nonzero(config, bytes, |c, v| c.max_buffered = v) }
}

/// How long the opening handshake may take, in milliseconds (default
/// 10,000). Must be at least 1.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_handshake_timeout_ms(
    config: *mut sockeye_config,
    ms: u64,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe { set_nonzero(config, ms, |c, v| c.handshake_timeout = millis(v)) }
}

/// How long the closing handshake may take, in milliseconds (default
/// 10,000); then the connection is cut. Must be at least 1.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_close_timeout_ms(
    config: *mut sockeye_config,
    ms: u64,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe { set_nonzero(config, ms, |c, v| c.websocket.close_timeout = millis(v)) }
}

/// Keepalive: a Ping after this many milliseconds with nothing received,
/// and the connection closed with 1011 if nothing arrives within the
/// keepalive timeout after it. 0 turns keepalive off. Default: 20,000 and
/// 20,000.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_keepalive_ms(
    config: *mut sockeye_config,
    interval_ms: u64,
    timeout_ms: u64,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe {
        set(config, |c| {
            if interval_ms != 0 && timeout_ms == 0 {
                return Err(sockeye_result::SOCKEYE_ERR_INVALID);
            }
            c.websocket.keepalive_interval = (interval_ms != 0).then(|| millis(interval_ms));
            if timeout_ms != 0 {
                c.websocket.keepalive_timeout = millis(timeout_ms);
            }
            Ok(())
        })
    }
}

/// Closes a connection (1001) after this many milliseconds without a
/// message either way; 0 (the default) means never.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_idle_timeout_ms(
    config: *mut sockeye_config,
    ms: u64,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe {
        set(config, |c| {
            c.websocket.idle_timeout = (ms != 0).then(|| millis(ms));
            Ok(())
        })
    }
}

/// Trusts the certificates in the PEM file at `path` as roots for
/// `wss://` connections made with this config (`sockeye_ctx_connect`),
/// besides the usual public roots: a private certificate authority, or a
/// self-signed server certificate. Replaces the roots of an earlier call.
///
/// The file is read now: `SOCKEYE_ERR_IO` when it cannot be read or holds
/// no certificate, and the config is unchanged.
///
/// # Safety
/// `config` is NULL or a live config that no other thread uses during the
/// call, and `path` is NULL or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sockeye_config_set_ca_file(
    config: *mut sockeye_config,
    path: *const c_char,
) -> sockeye_result {
    // SAFETY: `config` is as this function's own contract says.
    unsafe {
        set(config, |c| {
            // `path` is NULL or a NUL-terminated string, by the contract.
            let path = boundary::string(path)?;
            let roots = sockeye::tls::certificates_from_pem_file(path)
                .map_err(|_| sockeye_result::SOCKEYE_ERR_IO)?;
            c.ca_roots = roots;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockeye_result::*;

    /// The deflate settings of a live config.
    unsafe fn c_deflate(config: *mut sockeye_config) -> Option<DeflateConfig> {
        // SAFETY: a live config used by this thread only.
        unsafe { (*config).websocket.proto.deflate.clone() }
    }

    #[test]
    fn setters_change_their_field_and_refuse_out_of_range_values() {
        let mut config = std::ptr::null_mut();
        // SAFETY: every pointer passed is NULL, a live config, or a string
        // literal; the config is used by this thread only.
        unsafe {
            assert_eq!(sockeye_config_new(&raw mut config), SOCKEYE_OK);
            assert_eq!(
                sockeye_config_set_max_message_size(config, 1024),
                SOCKEYE_OK
            );
            assert_eq!(
                sockeye_config_set_max_message_size(config, 0),
                SOCKEYE_ERR_INVALID
            );
            assert_eq!(
                sockeye_config_set_deflate_no_context_takeover(config, true, false),
                SOCKEYE_OK
            );
            assert!(
                c_deflate(config)
                    .is_some_and(|d| d.client_no_context_takeover && !d.server_no_context_takeover)
            );
            assert_eq!(sockeye_config_set_deflate(config, true), SOCKEYE_OK);
            assert_eq!(
                sockeye_config_add_subprotocol(config, c"chat".as_ptr()),
                SOCKEYE_OK
            );
            assert_eq!(
                sockeye_config_add_subprotocol(config, c"a b".as_ptr()),
                SOCKEYE_ERR_INVALID
            );
            assert_eq!(
                sockeye_config_add_subprotocol(config, std::ptr::null()),
                SOCKEYE_ERR_NULL
            );
            assert_eq!(sockeye_config_set_keepalive_ms(config, 0, 0), SOCKEYE_OK);
            let c = &*config;
            assert_eq!(c.websocket.proto.max_message_size, 1024);
            assert!(c.websocket.proto.deflate.is_some());
            assert_eq!(c.subprotocols, ["chat"]);
            assert_eq!(c.websocket.keepalive_interval, None);
            assert_eq!(sockeye_config_free(config), SOCKEYE_OK);
            assert_eq!(sockeye_config_free(config), SOCKEYE_ERR_BAD_HANDLE);
            assert_eq!(
                sockeye_config_set_deflate(std::ptr::null_mut(), true),
                SOCKEYE_ERR_NULL
            );
            assert_eq!(sockeye_config_new(std::ptr::null_mut()), SOCKEYE_ERR_NULL);
        }
    }

    #[test]
    fn a_ca_file_must_hold_a_certificate() {
        let mut config = std::ptr::null_mut();
        // SAFETY: every pointer passed is NULL, a live config, or a string
        // literal; the config is used by this thread only.
        unsafe {
            assert_eq!(sockeye_config_new(&raw mut config), SOCKEYE_OK);
            assert_eq!(
                sockeye_config_set_ca_file(config, c"/nonexistent.pem".as_ptr()),
                SOCKEYE_ERR_IO
            );
            assert_eq!(
                sockeye_config_set_ca_file(config, std::ptr::null()),
                SOCKEYE_ERR_NULL
            );
            assert!((*config).ca_roots.is_empty());
            assert_eq!(sockeye_config_free(config), SOCKEYE_OK);
        }
    }
}
