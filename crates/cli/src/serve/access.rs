//! The access log: one line per WebSocket connection when it ends, at
//! info level: its peer, path, subprotocol, duration, messages and bytes
//! each way, and close code. With `--log-format json`, the whole log is
//! JSON (set up in `main.rs`), this line included.

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Instant;

use sockeye::CloseCode;

/// How the log is written (`--log-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Lines for people; the access line's duration as `1.234s`.
    #[default]
    Text,
    /// A JSON object per line; the access line's duration as
    /// `duration_secs`, a number.
    Json,
}

/// The format of this process's access lines, set once from the flags.
static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format of the access lines, before the first connection.
pub(super) fn set_log_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or_default()
}

/// Messages and their payload bytes, one way.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Count {
    messages: u64,
    bytes: u64,
}

impl Count {
    /// `messages` messages of `bytes` payload bytes in all.
    pub(super) fn new(messages: u64, bytes: u64) -> Self {
        Count { messages, bytes }
    }

    /// Counts a message of `len` payload bytes.
    pub(super) fn add(&mut self, len: usize) {
        self.messages += 1;
        self.bytes += len as u64;
    }
}

/// When this process started, which records count their opening from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

thread_local! {
    /// The last path a record of this thread was made for: connections
    /// to the same path share its text.
    static LAST_PATH: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
}

/// The path's text, shared with the thread's last record if the same.
fn shared_path(path: &str) -> Arc<str> {
    LAST_PATH.with(|last| {
        let mut last = last.borrow_mut();
        match &*last {
            Some(shared) if **shared == *path => Arc::clone(shared),
            _ => {
                let shared: Arc<str> = Arc::from(path);
                *last = Some(Arc::clone(&shared));
                shared
            }
        }
    })
}

/// One connection's record, from its opening to its end: 80 bytes (the
/// path's text is shared by connections to the same path). Boxed, so that
/// a connection holds one pointer; made only when its line would be
/// written, so a log filter that leaves it out
/// (`RUST_LOG=info,sockeye::serve::access=warn`) saves that memory on each
/// idle connection.
#[derive(Debug)]
pub(super) struct Access {
    /// From the peer.
    pub(super) received: Count,
    /// To the peer.
    pub(super) sent: Count,
    /// `None` over HTTP/2, whose streams do not tell.
    path: Option<Arc<str>>,
    /// Microseconds from [`EPOCH`] to the opening.
    opened: u64,
    /// The peer's address and port (an IPv6 scope is not kept).
    ip: IpAddr,
    port: u16,
}

impl Access {
    /// A record for a connection just opened, unless access lines would
    /// not be written (info level off for them).
    pub(super) fn start(peer: SocketAddr, path: Option<&str>) -> Option<Box<Access>> {
        if !tracing::enabled!(tracing::Level::INFO) {
            return None;
        }
        let opened = u64::try_from(EPOCH.elapsed().as_micros()).unwrap_or(u64::MAX);
        Some(Box::new(Access {
            received: Count::default(),
            sent: Count::default(),
            path: path.map(shared_path),
            opened,
            ip: peer.ip(),
            port: peer.port(),
        }))
    }

    /// The peer's address.
    fn peer(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }

    /// Seconds since the opening.
    #[expect(
        clippy::cast_precision_loss,
        reason = "microseconds as f64 are exact for 285 years"
    )]
    fn duration(&self) -> f64 {
        let now = u64::try_from(EPOCH.elapsed().as_micros()).unwrap_or(u64::MAX);
        now.saturating_sub(self.opened) as f64 / 1e6
    }

    /// Writes the access line of a connection with the subprotocol
    /// `protocol` that ended with `code` (the peer's close code; none if it
    /// failed or vanished) or `error`.
    pub(super) fn write(
        &self,
        id: u64,
        protocol: Option<&str>,
        code: Option<CloseCode>,
        error: Option<&str>,
    ) {
        let duration = self.duration();
        let path = self.path.as_deref().unwrap_or("");
        let code = code.map(u16::from);
        match format() {
            LogFormat::Text => tracing::info!(
                id,
                peer = %self.peer(),
                path = %path,
                protocol = %protocol.unwrap_or(""),
                duration = format_args!("{duration:.3}s"),
                messages_in = self.received.messages,
                bytes_in = self.received.bytes,
                messages_out = self.sent.messages,
                bytes_out = self.sent.bytes,
                close_code = code,
                error,
                "access"
            ),
            LogFormat::Json => tracing::info!(
                event = "access",
                id,
                peer = %self.peer(),
                path = self.path.as_deref(),
                protocol,
                duration_secs = duration,
                messages_in = self.received.messages,
                bytes_in = self.received.bytes,
                messages_out = self.sent.messages,
                bytes_out = self.sent.bytes,
                close_code = code,
                error,
                "access"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_takes_80_bytes() {
        assert!(std::mem::size_of::<Access>() <= 80);
    }

    #[test]
    fn records_of_one_path_share_its_text() {
        let peer = SocketAddr::from(([127, 0, 0, 1], 9));
        let (a, b, c) = (
            shared_path("/chat"),
            shared_path("/chat"),
            shared_path("/other"),
        );
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(&*c, "/other");
        let record = Access {
            received: Count::default(),
            sent: Count::default(),
            path: Some(a),
            opened: 0,
            ip: peer.ip(),
            port: peer.port(),
        };
        assert_eq!(record.peer(), peer);
        assert!(record.duration() >= 0.0);
    }
}
