//! The server's limits on connections: how many at once, how many in their
//! opening handshake, how many from one address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The default of `--max-connections`: about 100 MB of the server's memory
/// at 1 KB each, plus the kernel's socket buffers.
pub(super) const DEFAULT_MAX_CONNECTIONS: usize = 100_000;

/// The default of `--max-handshakes`: each may buffer a request head of up
/// to 16 KiB, so at most 16 MiB for handshakes.
pub(super) const DEFAULT_MAX_HANDSHAKES: usize = 1024;

/// The server's limits on connections, shared by its threads.
#[derive(Debug, Default)]
pub(super) struct Limits {
    max_connections: usize,
    max_handshakes: usize,
    /// 0: none.
    max_per_ip: usize,
    /// Connections from accept to end, refused ones included while they
    /// are answered.
    open: AtomicUsize,
    handshakes: AtomicUsize,
    /// Connections per address, kept only with a per-address limit.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// The limits of this process's server (one per process: `sockeye serve`).
static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the limits of this process's server from its flags (`max_per_ip`
/// 0: none), before the first connection; later calls change nothing.
pub(super) fn set_limits(max_connections: usize, max_handshakes: usize, max_per_ip: usize) {
    let _ = LIMITS.set(Limits {
        max_connections,
        max_handshakes,
        max_per_ip,
        ..Limits::default()
    });
}

/// The limits in force: those set from the flags, or the defaults.
pub(super) fn limits() -> &'static Limits {
    LIMITS.get_or_init(|| Limits {
        max_connections: DEFAULT_MAX_CONNECTIONS,
        max_handshakes: DEFAULT_MAX_HANDSHAKES,
        ..Limits::default()
    })
}

/// Why a connection is turned away.
#[derive(Debug)]
pub(super) enum Refusal {
    /// Answered with this status (503 or 429), counted as a handshake
    /// while it is.
    Answer(HandshakeSlot, http::StatusCode),
    /// Closed at once: too many handshakes already.
    Drop,
}

impl Limits {
    /// Lets a connection from `ip` in, or says why not.
    pub(super) fn admit(
        &'static self,
        ip: IpAddr,
    ) -> Result<(ConnectionSlot, HandshakeSlot), Refusal> {
        let handshake = HandshakeSlot::take(self).ok_or(Refusal::Drop)?;
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Answer(
                handshake,
                http::StatusCode::SERVICE_UNAVAILABLE,
            ));
        }
        let mut slot = ConnectionSlot { ip: None };
        if self.max_per_ip > 0 {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= self.max_per_ip {
                drop(per_ip);
                // Not counted by address: dropping it releases the rest.
                drop(slot);
                return Err(Refusal::Answer(
                    handshake,
                    http::StatusCode::TOO_MANY_REQUESTS,
                ));
            }
            *count += 1;
            slot.ip = Some(ip);
        }
        Ok((slot, handshake))
    }
}

/// A connection's place under the limits, given back when dropped.
#[derive(Debug)]
pub(super) struct ConnectionSlot {
    /// Set when counted by address.
    ip: Option<IpAddr>,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let limits = limits();
        limits.open.fetch_sub(1, Ordering::AcqRel);
        if let Some(ip) = self.ip {
            let mut per_ip = limits.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(count) = per_ip.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }
}

/// A place among the handshakes in progress, given back when dropped.
#[derive(Debug)]
pub(super) struct HandshakeSlot(());

impl HandshakeSlot {
    fn take(limits: &Limits) -> Option<Self> {
        if limits.handshakes.fetch_add(1, Ordering::AcqRel) >= limits.max_handshakes {
            limits.handshakes.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(HandshakeSlot(()))
    }
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        limits().handshakes.fetch_sub(1, Ordering::AcqRel);
    }
}
