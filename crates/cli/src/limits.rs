//! The limits on connections at once of the listening subcommands
//! (`serve`, `proxy`): their flags, and the counters that let a connection
//! in or turn it away (503 past `--max-connections`, 429 past
//! `--max-per-ip`), with the places among the handshakes in progress
//! those answers take.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The default of `serve --max-connections`: about 100 MB of the server's
/// memory at 1 KB each, plus the kernel's socket buffers.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 100_000;

/// The default number of opening handshakes in progress at once (`serve
/// --max-handshakes`; the refusals being answered, for `proxy`): each may
/// buffer a request head of up to 16 KiB (`--max-handshake-size`), so at
/// most 16 MiB for handshakes, whatever a flood of clients does.
pub(crate) const DEFAULT_MAX_HANDSHAKES: usize = 1024;

/// `--max-connections` and `--max-per-ip`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ConnectionLimits {
    /// Connections open at once, handshakes included; more are answered
    /// 503 Service Unavailable.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub(crate) max_connections: usize,
    /// Connections from one IP address at once; more are answered 429 Too
    /// Many Requests. 0: no limit (clients behind one proxy or NAT share
    /// an address).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub(crate) max_per_ip: usize,
}

/// The limits on connections, shared by every thread and task.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    max_connections: usize,
    max_handshakes: usize,
    /// 0: none.
    max_per_ip: usize,
    /// Connections let in, from accept to end.
    open: AtomicUsize,
    /// Places taken among the handshakes in progress.
    handshakes: AtomicUsize,
    /// Connections per address, kept only with a per-address limit.
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

/// The limits of this process (one listening subcommand per process). A
/// slot keeps no pointer to them, which keeps an idle connection small.
static LIMITS: OnceLock<Limits> = OnceLock::new();

/// Sets the limits of this process from its flags, before the first
/// connection; later calls change nothing.
pub(crate) fn set_limits(connections: &ConnectionLimits, max_handshakes: usize) {
    let _ = LIMITS.set(Limits {
        max_connections: connections.max_connections,
        max_handshakes,
        max_per_ip: connections.max_per_ip,
        ..Limits::default()
    });
}

/// The limits in force: those set from the flags, or the defaults.
pub(crate) fn limits() -> &'static Limits {
    LIMITS.get_or_init(|| Limits {
        max_connections: DEFAULT_MAX_CONNECTIONS,
        max_handshakes: DEFAULT_MAX_HANDSHAKES,
        ..Limits::default()
    })
}

/// Why a connection is turned away.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Answered with this status (503 or 429), holding a place among the
    /// handshakes while it is.
    Answer(HandshakeSlot, http::StatusCode),
    /// Closed at once: too many handshakes in progress already.
    Drop,
}

impl Limits {
    /// Lets a connection from `ip` in, with a place among the handshakes
    /// in progress for its own, or says why not (`serve`: every opening
    /// handshake counts).
    pub(crate) fn admit(
        &'static self,
        ip: IpAddr,
    ) -> Result<(ConnectionSlot, HandshakeSlot), Refusal> {
        let handshake = self.handshake().ok_or(Refusal::Drop)?;
        match self.open(ip) {
            Ok(slot) => Ok((slot, handshake)),
            Err(status) => Err(Refusal::Answer(handshake, status)),
        }
    }

    /// Lets a connection from `ip` in, or turns it away with a place among
    /// the handshakes for the answer (`proxy`: only refusals count there).
    pub(crate) fn admit_or_refuse(&'static self, ip: IpAddr) -> Result<ConnectionSlot, Refusal> {
        self.open(ip).map_err(|status| match self.handshake() {
            Some(handshake) => Refusal::Answer(handshake, status),
            None => Refusal::Drop,
        })
    }

    /// Counts a connection from `ip` as open, or says which status turns
    /// it away: 503 past the total, 429 past the address's share.
    fn open(&'static self, ip: IpAddr) -> Result<ConnectionSlot, http::StatusCode> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(http::StatusCode::SERVICE_UNAVAILABLE);
        }
        let mut slot = ConnectionSlot { ip: None };
        if self.max_per_ip > 0 {
            let mut per_ip = self.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let count = per_ip.entry(ip).or_insert(0);
            if *count >= self.max_per_ip {
                drop(per_ip);
                // Not counted by address: dropping it releases the rest.
                drop(slot);
                return Err(http::StatusCode::TOO_MANY_REQUESTS);
            }
            *count += 1;
            slot.ip = Some(ip);
        }
        Ok(slot)
    }

    /// A place among the handshakes in progress, if one is free.
    fn handshake(&'static self) -> Option<HandshakeSlot> {
        if self.handshakes.fetch_add(1, Ordering::AcqRel) >= self.max_handshakes {
            self.handshakes.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(HandshakeSlot(()))
    }
}

/// A connection's place under the limits, given back when dropped.
#[derive(Debug)]
pub(crate) struct ConnectionSlot {
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
pub(crate) struct HandshakeSlot(());

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        limits().handshakes.fetch_sub(1, Ordering::AcqRel);
    }
}
